// Issue 17 item 9: the Queues panel fits (a compact default of the live columns, a chooser for the rest) at
// 1280×720 and 1920×1080; the ring view is live while open (≥ 4 Hz, like the counters) and is read afresh after
// a Reset rather than left stale; the queue names that open it look and behave like links.

import type { Page } from "@playwright/test";
import { BOOT_TIMEOUT_MS, bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
import { typeLine, waitForTerminal } from "./harness.ts";

/** The table's width against its scroller's: nothing clipped or scrolled away. */
async function fits(page: Page): Promise<{ table: number; box: number; cols: number }> {
  return page.locator(".queues-panel .table-scroll").evaluate((el) => ({
    table: (el.querySelector("table") as HTMLElement).scrollWidth,
    box: el.clientWidth,
    cols: el.querySelectorAll("thead th").length,
  }));
}

test("the Queues panel fits at 1280×720 and 1920×1080; its ring view is live and reset with the machine; queue names look clickable", async ({
  page,
  url,
}) => {
  await page.goto(url);
  await bootToPrompt(page);
  await quietConsole(page);
  await page.locator('[data-tab="queues"]').click();
  await page.locator("[data-queue]").first().waitFor();

  // The compact default: the queue and its six live columns, all inside the panel.
  for (const size of [
    { width: 1280, height: 720 },
    { width: 1920, height: 1080 },
  ]) {
    await page.setViewportSize(size);
    await page.waitForTimeout(300);
    const f = await fits(page);
    expect(f.cols, `${size.width}: columns`).toBe(7);
    expect(f.table, `${size.width}: table ${f.table} px in ${f.box} px`).toBeLessThanOrEqual(f.box);
  }
  await page.setViewportSize({ width: 1280, height: 720 });

  // The chooser adds a column (and remembers it); taking it away again restores the fit.
  await page.locator(".column-chooser summary").click();
  await page.locator('[data-col-choice="chains"]').check();
  await expect(page.locator('[data-queue] [data-col="chains"]').first()).toBeVisible();
  expect(await page.evaluate(() => localStorage.getItem("vireo.queueColumns"))).toContain("chains");
  await page.locator('[data-col-choice="chains"]').uncheck();
  await expect(page.locator('[data-col="chains"]')).toHaveCount(0);
  await page.locator(".column-chooser summary").click();

  // The queue name is a link-looking button: link colour, underlined, a pointer, a focus ring from the keyboard.
  const opener = page.locator('[data-queue^="virtio-rng"] th button').first();
  const look = await opener.evaluate((el) => {
    const s = getComputedStyle(el);
    const link = getComputedStyle(document.documentElement).getPropertyValue("--link").trim();
    const probe = document.createElement("span");
    probe.style.color = link;
    document.body.append(probe);
    const linkRgb = getComputedStyle(probe).color;
    probe.remove();
    return { cursor: s.cursor, underline: s.textDecorationLine, color: s.color, linkRgb };
  });
  expect(look.cursor).toBe("pointer");
  expect(look.underline).toContain("underline");
  expect(look.color).toBe(look.linkRgb);
  await opener.focus();
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Tab");
  await expect(opener).toBeFocused();
  expect(await opener.evaluate((el) => getComputedStyle(el).outlineStyle)).toBe("solid");

  // Opened from the keyboard, the ring view is live: ≥ 4 pictures a second, and the rings move with the guest.
  await page.keyboard.press("Enter");
  const view = page.locator(".ring-view");
  const idx = view.getByTestId("ring-avail-idx");
  await idx.waitFor({ timeout: 5000 });
  const updates = async () => Number(await view.getAttribute("data-updates"));
  const u0 = await updates();
  const t0 = Date.now();
  await page.waitForTimeout(2000);
  const rate = ((await updates()) - u0) / ((Date.now() - t0) / 1000);
  expect(rate, `ring pictures per second: ${rate}`).toBeGreaterThanOrEqual(4);
  const before = Number(await idx.getAttribute("data-idx"));
  await typeLine(page, "dd if=/dev/hwrng of=/dev/null bs=64 count=40 2>/dev/null; echo rng-$((6*7))");
  await waitForTerminal(page, (t) => /^rng-42\s*$/m.test(t), "rng-42", COMMAND_TIMEOUT_MS);
  await expect.poll(async () => Number(await idx.getAttribute("data-idx")), { timeout: 5000 }).not.toBe(before);
  const moved = Number(await idx.getAttribute("data-idx"));
  // Hold keeps one picture still.
  await view.getByRole("button", { name: "Hold" }).click();
  const held = await updates();
  await page.waitForTimeout(600);
  expect(await updates()).toBe(held);
  await view.getByRole("button", { name: "Live again" }).click();

  // Reset: the old machine's picture goes at once; the new machine's queue is not enabled until its driver
  // starts, and once it is, the view shows the new rings again (not the picture from before the reset).
  await page.getByRole("button", { name: "Reset", exact: true }).click();
  await expect(view.locator(".note")).toHaveText(/restarted|has not enabled this queue/, { timeout: 2000 });
  await expect(idx).toHaveCount(0);
  await expect(view.locator(".note")).toHaveText(/has not enabled this queue/, { timeout: 10_000 });
  await idx.waitFor({ timeout: BOOT_TIMEOUT_MS });
  // A fresh driver's ring: its index starts again from 0, below where the old machine's had got to.
  expect(Number(await idx.getAttribute("data-idx"))).toBeLessThan(moved);
});
