// The default machine as a person meets it: one page (the worker's `shell`) booted to the prompt, a command
// typed into the terminal, the inspector's panels, pause / resume and reset. Writes the README's pictures (1280×720
// and 390×844, each a first visit of its own).

import { join } from "node:path";
import type { Page } from "@playwright/test";
import { BOOT_TIMEOUT_MS, bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
import { PROMPT_AT_END, ROOT, terminalText, typeLine, waitForTerminal } from "./harness.ts";

/** The README's picture, worth committing. */
const SCREENSHOTS = join(ROOT, "e2e/screenshots");
/** One per panel, rewritten every run: test artifacts, not committed. */
const ARTIFACTS = join(ROOT, "test-results/screenshots");

async function instret(page: Page): Promise<string | null> {
  return page.locator(".machine-status .instret").getAttribute("title");
}

test("the page is cross-origin isolated", async ({ shell }) => {
  const isolated = await shell.page.evaluate(() => globalThis.crossOriginIsolated);
  if (isolated !== true) throw new Error(`crossOriginIsolated is ${isolated}`);
});

test("the default image boots to the shell prompt", async ({ shell }) => {
  await shell.ready();
});

test("`uname -m` typed into the terminal prints riscv64", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  // The output's own line, not the echoed command: a kernel message may still split the echo.
  const lines = (t: string) => t.split("\n").filter((l) => l.trim() === "riscv64").length;
  const before = lines(await terminalText(page));
  await typeLine(page, "uname -m");
  await waitForTerminal(page, (t) => lines(t) > before, "riscv64", COMMAND_TIMEOUT_MS);
});

test("the login shell asked xterm.js for the terminal's size: `stty size` matches its rows and cols", async ({
  shell,
}) => {
  await shell.ready();
  const page = shell.page;
  const size = await page.evaluate(() => {
    const box = document.querySelector('[data-port="uart"]') as
      | (Element & { vireoTerminal?: { rows: number; cols: number } })
      | null;
    const term = box?.vireoTerminal;
    return term === undefined ? undefined : `${term.rows}x${term.cols}`;
  });
  if (size === undefined) throw new Error("no xterm.js terminal on the uart port");
  // ttyS0 has no size of its own (stty says 0 0): only /etc/profile's question gives it one.
  await typeLine(page, "echo size-$(stty size | tr ' ' x)");
  const text = await waitForTerminal(page, (t) => /^size-\S*\s*$/m.test(t), "stty size", COMMAND_TIMEOUT_MS);
  const got = /^size-(\S*)\s*$/m.exec(text)?.[1];
  if (got !== size) throw new Error(`the guest's stty size is ${got}, the terminal is ${size} (rows x cols)`);
});

test("after the window is resized, `resize` on ttyS0 (as the README says) gives the guest the terminal's new size", async ({
  shell,
}) => {
  await shell.ready();
  const page = shell.page;
  const xtermSize = () =>
    page.evaluate(() => {
      const box = document.querySelector('[data-port="uart"]') as
        | (Element & { vireoTerminal?: { rows: number; cols: number } })
        | null;
      const term = box?.vireoTerminal;
      return term === undefined ? "" : `${term.rows}x${term.cols}`;
    });
  const guestSize = async (n: number): Promise<string | undefined> => {
    await typeLine(page, `resize; echo size${n}-$(stty size | tr ' ' x)`);
    const re = new RegExp(`^size${n}-(\\S*)\\s*$`, "m");
    const text = await waitForTerminal(page, (t) => re.test(t), `size${n}`, COMMAND_TIMEOUT_MS);
    return re.exec(text)?.[1];
  };
  const before = await xtermSize();
  try {
    await page.setViewportSize({ width: 1000, height: 600 });
    await expect.poll(xtermSize, { timeout: 5000 }).not.toBe(before);
    const after = await xtermSize();
    expect(await guestSize(1)).toBe(after);
  } finally {
    await page.setViewportSize({ width: 1280, height: 720 });
    await expect.poll(xtermSize, { timeout: 5000 }).toBe(before);
  }
  expect(await guestSize(2)).toBe(before);
});

test("the boot progress bar reached the prompt stage", async ({ shell }) => {
  await shell.ready();
  const stage = await shell.page.locator(".boot-progress").getAttribute("data-stage");
  if (stage !== "prompt") throw new Error(`stage is ${stage}`);
});

test("the devices panel lists the virtio devices with their negotiated features", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  await page.locator('[data-tab="devices"]').click();
  const names = await page.locator("[data-device]").evaluateAll((els) => els.map((e) => e.getAttribute("data-device")));
  if (!names.some((n) => n?.startsWith("virtio-console"))) throw new Error(`devices: ${names.join(", ")}`);
  const accepted = page.locator('[data-device^="virtio-console"] [data-feature="VIRTIO_F_VERSION_1"]');
  if ((await accepted.getAttribute("data-accepted")) !== "true") throw new Error("VERSION_1 not accepted");
  await page.screenshot({ path: join(ARTIFACTS, "devices.png") });
});

test("the queues panel shows live counters and a ring view on demand", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  await page.locator('[data-tab="queues"]').click();
  const rows = await page.locator("[data-queue]").count();
  if (rows === 0) throw new Error("no queue rows");
  await page.locator('[data-queue^="virtio-rng"] button').first().click();
  await page.locator(".ring-view").waitFor({ timeout: 5000 });
  await page.screenshot({ path: join(ARTIFACTS, "queues.png") });
});

test("the hart reports its instruction rate", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  const mips = Number(await page.locator('[data-testid="mips"]').textContent());
  const status = await page.locator(".machine-status").textContent();
  if (!(mips >= 0) || status === null) throw new Error(`MIPS reads ${mips}`);
});

test("virtio-net negotiated GUEST_TSO4, HOST_TSO4, CSUM and MRG_RXBUF", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  await page.locator('[data-tab="devices"]').click();
  for (const f of ["GUEST_TSO4", "HOST_TSO4", "CSUM", "MRG_RXBUF"]) {
    const row = page.locator(`[data-device="virtio-net0"] [data-feature="VIRTIO_NET_F_${f}"]`);
    if ((await row.getAttribute("data-accepted")) !== "true") throw new Error(`${f} not accepted`);
  }
});

test("the guest got 10.0.2.15 from the in-page stack's DHCP", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  await typeLine(page, "ip -4 addr show eth0");
  await waitForTerminal(page, (t) => /inet 10\.0\.2\.15\/24/.test(t), "10.0.2.15", COMMAND_TIMEOUT_MS);
  await page.locator('[data-tab="network"]').click();
  await page.locator(".network-panel dd", { hasText: "10.0.2.15" }).waitFor({ timeout: 5000 });
  await page.screenshot({ path: join(ARTIFACTS, "network.png") });
});

// The README's pictures, as a first visit sees them: the welcome note, the console after a command and (wide)
// the devices panel beside it. A fresh page each: the shared one's note may have been dismissed.
for (const size of [
  { width: 1280, height: 720, file: "boot.png" },
  { width: 390, height: 844, file: "boot-390x844.png" },
]) {
  test(`the README's picture at ${size.width}×${size.height}: first-visit note, prompt, a command's output`, async ({
    browser,
    url,
  }) => {
    const context = await browser.newContext({
      viewport: { width: size.width, height: size.height },
      colorScheme: "dark",
    });
    try {
      const page = await context.newPage();
      await page.goto(url);
      await bootToPrompt(page);
      await quietConsole(page);
      await typeLine(page, "uname -sm; ip -4 addr show eth0 | grep inet");
      await waitForTerminal(page, (t) => /inet 10\.0\.2\.15\/24/.test(t), "10.0.2.15", COMMAND_TIMEOUT_MS);
      const note = page.getByRole("complementary", { name: "welcome" });
      if (!(await note.isVisible())) throw new Error("the first-visit note is not shown");
      const devices = page.locator('[data-tab="devices"]');
      if (size.width > 700) await devices.click();
      const dismiss = page.getByRole("button", { name: "dismiss messages" });
      if ((await dismiss.count()) > 0) await dismiss.click();
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(SCREENSHOTS, size.file) });
    } finally {
      await context.close();
    }
  });
}

test("pause stops the hart and resume starts it again", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  await page.getByRole("button", { name: "Pause" }).click();
  await page.locator('[data-testid="phase"]', { hasText: "paused" }).waitFor({ timeout: 5000 });
  const before = await instret(page);
  await page.waitForTimeout(600);
  const after = await instret(page);
  if (after !== before) throw new Error(`instret moved while paused: ${before} → ${after}`);
  await page.getByRole("button", { name: "Resume" }).click();
  await page.locator('[data-testid="phase"]', { hasText: "running" }).waitFor({ timeout: 5000 });
  await typeLine(page, "echo resumed-$((6*7))");
  await waitForTerminal(page, (t) => t.includes("resumed-42"), "echo output", COMMAND_TIMEOUT_MS);
});

test("reset reboots to a fresh prompt", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  // A line of this boot's terminal, gone after the reset.
  await typeLine(page, "echo before-reset-$((6*7))");
  await waitForTerminal(page, (t) => t.includes("before-reset-42"), "echo output", COMMAND_TIMEOUT_MS);
  await page.getByRole("button", { name: "Reset" }).click();
  shell.rebooted();
  await waitForTerminal(
    page,
    (t) => !t.includes("before-reset-42") && t.includes("vireo: boot complete") && PROMPT_AT_END.test(t),
    "prompt after reset",
    BOOT_TIMEOUT_MS,
  );
});

test("no uncaught errors in the page", async ({ shell }) => {
  if (shell.errors.length > 0) throw new Error(shell.errors.join("; "));
});
