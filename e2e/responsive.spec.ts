// Every size and both themes (issue 17, item 1): at 390×844, 768×1024, 1000×600, 1280×720 and 1920×1080 no
// region and no control overlaps another or leaves the window, nothing scrolls the page sideways, no text
// is under 12 px; at 700 px and less the console takes the whole width and the inspector is a view beside
// it; light and dark themes follow prefers-color-scheme (page and terminal), and axe finds no contrast or
// other serious fault in the light one, nor in the dark one at any of the sizes.

import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import type { BrowserContext, Page } from "@playwright/test";
import { bootToPrompt, expect, test } from "./fixtures.ts";
import { ROOT } from "./harness.ts";

const ARTIFACTS = join(ROOT, "test-results/screenshots");
const SIZES = [
  { width: 390, height: 844 },
  { width: 768, height: 1024 },
  { width: 1000, height: 600 },
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
];

let context: BrowserContext;
let page: Page;

test.beforeAll(async ({ browser, url }) => {
  context = await browser.newContext({ viewport: SIZES[3], colorScheme: "dark" });
  page = await context.newPage();
  await page.goto(url);
  await bootToPrompt(page);
});
test.afterAll(async () => {
  await context.close();
});

interface Box {
  name: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * The boxes of what is shown: the page's regions, every control in the header, the status row's parts and
 * the hart's fields. Zero-sized and display:none elements are left out (they are not on screen).
 */
async function layout(p: Page): Promise<{ regions: Box[]; controls: Box[]; status: Box[]; fields: Box[] }> {
  return p.evaluate(() => {
    const boxes = (selector: string): Box[] =>
      [...document.querySelectorAll(selector)].flatMap((el) => {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) return [];
        const name =
          el.getAttribute("aria-label") ??
          el.getAttribute("data-testid") ??
          (el.className && typeof el.className === "string" ? el.className.split(" ")[0] : "") ??
          el.tagName;
        return [
          {
            name: `${el.tagName.toLowerCase()} ${name || el.textContent?.trim().slice(0, 20)}`,
            x: r.x,
            y: r.y,
            w: r.width,
            h: r.height,
          },
        ];
      });
    return {
      regions: boxes(".top, .status-row, .welcome, .view-switch, .console-pane, .side-pane"),
      controls: boxes(
        ".top h1, .controls > .control-group:not(details) > button, .controls > .control-group:not(details) > label, .controls details:not([open]) > summary",
      ),
      status: boxes(
        ".status-row .boot-progress-bar, .status-row .boot-stages, .status-row .boot-progress-text, .status-row .machine-status > div",
      ),
      fields: boxes(".machine-status > div > dt, .machine-status > div > dd"),
    };
  });
}

function overlaps(a: Box, b: Box): boolean {
  const e = 0.5; // sub-pixel rounding
  return a.x + a.w - e > b.x && b.x + b.w - e > a.x && a.y + a.h - e > b.y && b.y + b.h - e > a.y;
}

function problems(boxes: Box[], width: number, height: number): string[] {
  const out: string[] = [];
  for (const [i, a] of boxes.entries()) {
    if (a.x < -0.5 || a.y < -0.5 || a.x + a.w > width + 0.5 || a.y + a.h > height + 0.5) {
      out.push(`${a.name} leaves the ${width}×${height} window: ${[a.x, a.y, a.w, a.h].map(Math.round).join(",")}`);
    }
    for (const b of boxes.slice(i + 1)) if (overlaps(a, b)) out.push(`${a.name} overlaps ${b.name}`);
  }
  return out;
}

/** axe-core's serious and critical violations in what the page shows now. */
async function axeSerious(p: Page, where: string): Promise<string[]> {
  const r = await new AxeBuilder({ page: p }).analyze();
  return r.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${where}: ${v.impact} ${v.id} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Visible elements with their own text under 12 px. */
async function smallText(p: Page): Promise<string[]> {
  return p.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll("body *")) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && (n.textContent ?? "").trim() !== "");
      if (!own) continue;
      const r = el.getBoundingClientRect();
      const cs = getComputedStyle(el);
      if (r.width === 0 || r.height === 0 || cs.visibility === "hidden" || cs.opacity === "0") continue;
      if (el.closest(".xterm-accessibility, .xterm-helpers")) continue;
      const px = Number.parseFloat(cs.fontSize);
      if (px < 12)
        out.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent?.trim().slice(0, 30)}" ${px}px`);
    }
    return out;
  });
}

for (const size of SIZES) {
  test(`${size.width}×${size.height}: no overlaps, nothing outside the window, no text under 12 px`, async () => {
    await page.setViewportSize(size);
    await page.waitForTimeout(400); // the terminal refits on its ResizeObserver
    const narrow = size.width <= 700;
    const l = await layout(page);
    const found = [
      ...problems(l.regions, size.width, size.height),
      ...problems(l.controls, size.width, size.height),
      ...problems(l.status, size.width, size.height),
      ...problems(l.fields, size.width, size.height),
    ];
    const scroll = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.scrollHeight,
    ]);
    if (scroll[0] > size.width) found.push(`the page scrolls sideways: ${scroll[0]} px wide`);
    if (scroll[1] > size.height) found.push(`the page scrolls: ${scroll[1]} px high`);
    found.push(...(await smallText(page)));
    await page.screenshot({ path: join(ARTIFACTS, `size-${size.width}x${size.height}.png`) });
    expect(found).toEqual([]);
    // axe at every size (a11y.spec.ts looks at every panel at 1280×720), and in the inspector view when narrow.
    const axe = await axeSerious(page, `${size.width}×${size.height}`);

    const consoleBox = await page.locator(".console-pane").boundingBox();
    const cols = await page.evaluate(
      () =>
        (document.querySelector('[data-port="uart"]') as Element & { vireoTerminal?: { cols: number } }).vireoTerminal
          ?.cols ?? 0,
    );
    if (narrow) {
      // The console alone, the whole width; the inspector is the other view.
      expect(consoleBox?.width).toBeGreaterThanOrEqual(size.width - 1);
      await expect(page.locator(".side-pane")).toBeHidden();
      expect(cols).toBeGreaterThanOrEqual(40);
      await page.getByRole("tab", { name: "Inspector" }).click();
      await expect(page.locator(".console-pane")).toBeHidden();
      const side = await page.locator(".side-pane").boundingBox();
      expect(side?.width).toBeGreaterThanOrEqual(size.width - 1);
      await expect(page.locator('[data-tab="devices"]')).toBeVisible();
      await page.screenshot({ path: join(ARTIFACTS, `size-${size.width}x${size.height}-inspector.png`) });
      const again = await layout(page);
      expect(problems(again.regions, size.width, size.height)).toEqual([]);
      axe.push(...(await axeSerious(page, `${size.width}×${size.height} inspector view`)));
      await page.getByRole("tab", { name: "Console" }).click();
      await expect(page.locator(".console-pane")).toBeVisible();
    } else {
      await expect(page.getByRole("tab", { name: "Inspector" })).toBeHidden();
      await expect(page.locator(".side-pane")).toBeVisible();
      expect(cols).toBeGreaterThanOrEqual(size.width >= 1280 ? 80 : 45);
    }
    expect(axe).toEqual([]);
    // The menus open inside the window.
    for (const menu of ["snapshots", "images"]) {
      await page.locator(`details.${menu} > summary`).click();
      const box = await page.locator(`details.${menu}[open]`).boundingBox();
      expect(box, `${menu} menu`).not.toBeNull();
      if (box !== null)
        expect(
          problems(
            [{ name: `${menu} menu`, x: box.x, y: box.y, w: box.width, h: box.height }],
            size.width,
            size.height,
          ),
        ).toEqual([]);
      await page.locator(`details.${menu} > summary`).click();
    }
  });
}

test("light and dark themes follow prefers-color-scheme, the terminal too; axe finds nothing serious in the light one", async () => {
  await page.setViewportSize(SIZES[3]);
  const colours = () =>
    page.evaluate(() => {
      const term = (
        document.querySelector('[data-port="uart"]') as Element & {
          vireoTerminal?: { options: { theme?: { background?: string } } };
        }
      ).vireoTerminal;
      return {
        page: getComputedStyle(document.documentElement).backgroundColor,
        text: getComputedStyle(document.body).color,
        terminal: term?.options.theme?.background,
      };
    });
  // The terminal follows the system's change while the page is open (a MediaQueryList change event).
  await page.emulateMedia({ colorScheme: "dark" });
  await expect.poll(colours).toEqual({ page: "rgb(13, 17, 23)", text: "rgb(215, 220, 226)", terminal: "#0d1117" });
  await page.emulateMedia({ colorScheme: "light" });
  await expect.poll(colours).toEqual({ page: "rgb(255, 255, 255)", text: "rgb(31, 35, 40)", terminal: "#ffffff" });
  await page.screenshot({ path: join(ARTIFACTS, "light-1280x720.png") });
  const found: string[] = [];
  for (const tab of ["devices", "queues", "network"]) {
    await page.locator(`[data-tab="${tab}"]`).click();
    const r = await new AxeBuilder({ page }).analyze();
    for (const v of r.violations) {
      if (v.impact === "serious" || v.impact === "critical")
        found.push(`${tab}: ${v.id} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
  }
  expect(found).toEqual([]);
  await page.emulateMedia({ colorScheme: "dark" });
});
