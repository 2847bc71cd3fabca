// The consoles as a person uses them: hvc0's size follows its terminal (VIRTIO_CONSOLE_F_SIZE: at the start
// and at every resize, with SIGWINCH in the guest), the hvc0 tab says what it is, and a paste arrives once
// (Ctrl+Shift+V, and a paste event as the context menu's Paste sends), with the hint beside the terminal.

import type { Page } from "@playwright/test";
import { COMMAND_TIMEOUT_MS, expect, test } from "./fixtures.ts";
import { terminalText, typeLine, waitForTerminal } from "./harness.ts";

/** The hvc0 terminal's rows and cols as xterm.js has them ("rows cols", as `stty size` prints them). */
async function hvcSize(page: Page): Promise<string> {
  return page.evaluate(() => {
    const box = document.querySelector('[data-port="hvc0"]') as
      | (Element & { vireoTerminal?: { rows: number; cols: number } })
      | null;
    const term = box?.vireoTerminal;
    if (term === undefined) throw new Error("no xterm.js terminal on hvc0");
    return `${term.rows} ${term.cols}`;
  });
}

/** Polls the hvc0 terminal until a `hvc0-size=R C` line says `want`. */
async function waitForHvcSize(page: Page, want: string): Promise<void> {
  const deadline = Date.now() + COMMAND_TIMEOUT_MS;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = [...(await terminalText(page, "hvc0")).matchAll(/^hvc0-size=(\d+ \d+)\s*$/gm)].map((m) => m[1]);
    if (seen.includes(want)) return;
    await page.waitForTimeout(250);
  }
  throw new Error(
    `hvc0's stty size never read ${want} (the terminal's size); it read: ${seen.join(", ") || "nothing"}`,
  );
}

test("hvc0's `stty size` is its terminal's, at the start and after the window is resized (SIGWINCH)", async ({
  shell,
}) => {
  await shell.ready();
  const page = shell.page;
  const hvcTab = page.locator('[data-tab="hvc0"]');
  const uartTab = page.locator('[data-tab="uart"]');
  try {
    // Shown once, the hvc0 terminal is fitted to the box; it keeps that size while hidden.
    await hvcTab.click();
    await expect(page.locator('[data-port="hvc0"]')).toBeVisible();
    const hvcText = await terminalText(page, "hvc0");
    if (!hvcText.includes("hvc0 is the virtio console")) throw new Error(`the hvc0 tab has no note: ${hvcText}`);
    const first = await hvcSize(page);
    // A shell on hvc0 as its controlling tty (the note's recipe): it prints its size, and again on SIGWINCH.
    await uartTab.click();
    await typeLine(
      page,
      `setsid -c sh -c 'echo $$ >/tmp/hvc0-sh.pid; trap "echo hvc0-size=\\$(stty size)" WINCH; echo hvc0-size=$(stty size); while :; do sleep 1; done' <>/dev/hvc0 >&0 2>&1 &`,
    );
    await hvcTab.click();
    await waitForHvcSize(page, first);
    // A smaller window: the terminal refits, the page tells the device, the guest's tty follows.
    await page.setViewportSize({ width: 1000, height: 600 });
    await expect.poll(() => hvcSize(page), { timeout: 5000 }).not.toBe(first);
    const second = await hvcSize(page);
    await waitForHvcSize(page, second);
  } finally {
    await page.setViewportSize({ width: 1280, height: 720 });
    await uartTab.click();
    await typeLine(page, "kill $(cat /tmp/hvc0-sh.pid) 2>/dev/null; echo cleaned-$((3*4))");
    await waitForTerminal(page, (t) => /^cleaned-12\s*$/m.test(t), "cleanup", COMMAND_TIMEOUT_MS);
  }
});

/** The output lines of the serial terminal that are exactly `marker` (not the echoed command). */
async function linesEqual(page: Page, marker: string): Promise<number> {
  return (await terminalText(page)).split("\n").filter((l) => l.trim() === marker).length;
}

test("Ctrl+Shift+V pastes the clipboard once; the hint beside the terminal says how to paste", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  await expect(page.locator("#terminal-hint")).toContainText("Ctrl+Shift+V or right-click › Paste");
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  const marker = `pasted-${Date.now()}`;
  await page.evaluate((m) => navigator.clipboard.writeText(m), marker);
  await page.locator('[data-port="uart"] .xterm-helper-textarea').focus();
  await page.keyboard.type("echo ");
  await page.keyboard.press("Control+Shift+V");
  // The paste shows on the command line; a second one (the page reading the clipboard as well as the browser
  // pasting) would follow within moments: give it time to show before Enter.
  await waitForTerminal(page, (t) => t.includes(`echo ${marker}`), "the pasted text", COMMAND_TIMEOUT_MS);
  await page.waitForTimeout(1000);
  await page.keyboard.press("Enter");
  await expect.poll(() => linesEqual(page, marker), { timeout: COMMAND_TIMEOUT_MS }).toBe(1);
  // Twice would have echoed `echo <marker><marker>`.
  expect(await terminalText(page)).not.toContain(marker + marker);
});

test("a paste event (what the context menu's Paste sends) pastes once", async ({ shell }) => {
  await shell.ready();
  const page = shell.page;
  const marker = `menu-paste-${Date.now()}`;
  const textarea = page.locator('[data-port="uart"] .xterm-helper-textarea');
  await textarea.focus();
  await page.keyboard.type("echo ");
  await textarea.evaluate((el, m) => {
    const data = new DataTransfer();
    data.setData("text/plain", m);
    el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, marker);
  await waitForTerminal(page, (t) => t.includes(`echo ${marker}`), "the pasted text", COMMAND_TIMEOUT_MS);
  await page.waitForTimeout(500);
  await page.keyboard.press("Enter");
  await expect.poll(() => linesEqual(page, marker), { timeout: COMMAND_TIMEOUT_MS }).toBe(1);
  expect(await terminalText(page)).not.toContain(marker + marker);
});
