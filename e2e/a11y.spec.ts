// Keyboard and assistive technology (issue 17, item 2): the documented way out of the terminal (Esc then
// Tab) and back, the inspector's tabs after the WAI-ARIA tabs pattern, xterm's screen-reader mode by the
// page's switch, and axe-core finding nothing serious or critical in the running page.

import AxeBuilder from "@axe-core/playwright";
import type { BrowserContext, Page } from "@playwright/test";
import { bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
import { typeLine, waitForTerminal } from "./harness.ts";

let context: BrowserContext;
let page: Page;

test.beforeAll(async ({ browser, url }) => {
  context = await browser.newContext({ viewport: { width: 1280, height: 720 }, colorScheme: "dark" });
  page = await context.newPage();
  await page.goto(url);
  await bootToPrompt(page);
  await quietConsole(page);
  // Without a relay (vite preview) the page notes its fallback uplink; that box is a Tab stop of its own.
  const dismiss = page.getByRole("button", { name: "dismiss messages" });
  if ((await dismiss.count()) > 0) await dismiss.click();
});
test.afterAll(async () => {
  await context.close();
});

const TERMINAL_INPUT = '[data-port="uart"] .xterm-helper-textarea';

/** What has the keyboard: its role/tab, or the terminal it belongs to. */
async function focused(): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (el === null) return "none";
    const port = el.closest("[data-port]")?.getAttribute("data-port");
    if (port != null) return `terminal ${port}`;
    const label = (el as HTMLInputElement).labels?.[0]?.textContent?.trim();
    if (label !== undefined) return `${el.tagName.toLowerCase()} ${label}`;
    return `${el.tagName.toLowerCase()} ${el.getAttribute("role") ?? ""} ${el.getAttribute("data-tab") ?? el.getAttribute("aria-label") ?? el.textContent?.trim().slice(0, 30) ?? ""}`.trim();
  });
}

test("Tab belongs to the shell, Esc then Tab leaves the terminal, Tab and Shift+Tab come back", async () => {
  await page.locator(TERMINAL_INPUT).focus();
  // Tab completes in the shell: "ech" + Tab runs echo.
  await page.keyboard.type("ech");
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("terminal uart");
  await page.keyboard.type(" completed-$((6*7))");
  await page.keyboard.press("Enter");
  await waitForTerminal(page, (t) => /^completed-42\s*$/m.test(t), "completed-42", COMMAND_TIMEOUT_MS);
  // Esc, Tab: out to the inspector's selected tab, the next stop after the terminal.
  await page.keyboard.press("Escape");
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("button tab devices");
  // Shift+Tab returns to the terminal, which still takes typed lines.
  await page.keyboard.press("Shift+Tab");
  expect(await focused()).toBe("terminal uart");
  // Esc, Shift+Tab: out backwards, to the screen-reader switch; Tab returns.
  await page.keyboard.press("Escape");
  await page.keyboard.press("Shift+Tab");
  expect(await focused()).toBe("input screen reader");
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("terminal uart");
  await page.keyboard.type("echo back-$((6*7))");
  await page.keyboard.press("Enter");
  await waitForTerminal(page, (t) => /^back-42\s*$/m.test(t), "back-42", COMMAND_TIMEOUT_MS);
  // An Esc not followed by Tab still reaches the guest, before the key after it or on its own a second later.
  await typeLine(page, "head -n 1 | od -An -tx1");
  await page.waitForTimeout(300);
  await page.keyboard.press("Escape");
  await page.waitForTimeout(1300);
  await page.keyboard.type("x");
  await page.keyboard.press("Escape");
  await page.keyboard.type("y");
  await page.keyboard.press("Enter");
  await waitForTerminal(page, (t) => /^\s*1b 78 1b 79 0a\s*$/m.test(t), "1b 78 1b 79 0a", COMMAND_TIMEOUT_MS);
  // The way out is written beside the terminal and is its input's description.
  const hint = page.locator("#terminal-hint");
  await expect(hint).toContainText("Esc then Tab");
  await expect(page.locator(TERMINAL_INPUT)).toHaveAttribute("aria-describedby", "terminal-hint");
});

test("the inspector's tabs: one Tab stop, arrows, Home and End move and select, each names its panel", async () => {
  const tabs = page.getByRole("tablist", { name: "inspector" }).getByRole("tab");
  await expect(tabs).toHaveCount(3);
  await page.locator(TERMINAL_INPUT).focus();
  await page.keyboard.press("Escape");
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("button tab devices");
  // One stop for the row: the tabs not selected are out of the Tab order.
  expect(await tabs.evaluateAll((els) => els.map((e) => e.getAttribute("tabindex")))).toEqual(["0", "-1", "-1"]);
  const panel = page.locator("#inspector-panel");
  await expect(panel).toHaveAttribute("role", "tabpanel");
  for (const [key, want] of [
    ["ArrowRight", "queues"],
    ["ArrowRight", "network"],
    ["ArrowRight", "devices"],
    ["ArrowLeft", "network"],
    ["Home", "devices"],
    ["End", "network"],
  ] as const) {
    await page.keyboard.press(key);
    expect(await focused(), `after ${key}`).toBe(`button tab ${want}`);
    const tab = page.locator(`#inspector-tab-${want}`);
    await expect(tab).toHaveAttribute("aria-selected", "true");
    await expect(tab).toHaveAttribute("tabindex", "0");
    await expect(tab).toHaveAttribute("aria-controls", "inspector-panel");
    await expect(panel).toHaveAttribute("aria-labelledby", `inspector-tab-${want}`);
  }
  await expect(page.locator(".network-panel")).toBeVisible();
  // Tab goes on into the panel.
  await page.keyboard.press("Tab");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("inspector-panel");
  // The console's tabs work the same way, and keep the keyboard (the terminal shown does not take it).
  await page.locator("#console-tab-uart").focus();
  await page.keyboard.press("ArrowRight");
  expect(await focused()).toBe("button tab hvc0");
  await expect(page.locator('[data-port="hvc0"]')).toBeVisible();
  await page.keyboard.press("ArrowLeft");
  await expect(page.locator('[data-port="uart"]')).toBeVisible();
  await page.locator('[data-tab="devices"]').click();
});

test("the screen-reader switch turns on xterm's screen-reader mode: the terminal's rows as text", async () => {
  const toggle = page.getByRole("checkbox", { name: "screen reader" });
  await expect(toggle).not.toBeChecked();
  await expect(page.locator('[data-port="uart"] .xterm-accessibility-tree')).toHaveCount(0);
  await toggle.check();
  const tree = page.locator('[data-port="uart"] .xterm-accessibility-tree');
  await expect(tree).toHaveCount(1);
  await typeLine(page, "echo spoken-$((6*7))");
  await expect(tree).toContainText("spoken-42");
  // Remembered for the next visit.
  expect(await page.evaluate(() => localStorage.getItem("vireo.screenReader"))).toBe("1");
});

test("axe-core finds no moderate, serious or critical violation in the running page (every panel, the menus open)", async () => {
  const states: [string, () => Promise<void>][] = [
    ["devices", () => page.locator('[data-tab="devices"]').click()],
    [
      "queues with a ring view",
      async () => {
        await page.locator('[data-tab="queues"]').click();
        await page.locator('[data-queue^="virtio-rng"] button').first().click();
        await page.locator(".ring-view").waitFor();
      },
    ],
    ["network", () => page.locator('[data-tab="network"]').click()],
    [
      "snapshot and images menus open",
      async () => {
        await page.locator("details.snapshots summary").click();
        await page.locator("details.images summary").click();
      },
    ],
    ["hvc0", () => page.locator('[data-tab="hvc0"]').click()],
  ];
  const found: string[] = [];
  for (const [name, show] of states) {
    await show();
    const r = await new AxeBuilder({ page }).analyze();
    for (const v of r.violations) {
      if (v.impact === "minor") continue;
      found.push(`${name}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
  }
  expect(found).toEqual([]);
});
