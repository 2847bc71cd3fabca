// The in-page virtio-9p share (?share=memory): the guest's init mounts it at /mnt/host, the Devices panel shows
// the device, and the Files tab moves files in (picker, drop on the console) and out (Download).

import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, quietConsole, test } from "./fixtures.ts";
import { PROMPT_AT_END, ROOT, terminalText, typeLine, waitForTerminal } from "./harness.ts";

const ARTIFACTS = join(ROOT, "test-results/screenshots");

async function bootWithShare(page: Page, url: string, transport: "mmio" | "pci" = "mmio"): Promise<void> {
  await page.goto(`${url}?${transport === "pci" ? "transport=pci&" : ""}share=memory`);
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
  await quietConsole(page);
  // The 9p device sits on the transport asked for: a PCI function, or a virtio-mmio window.
  await page.locator('[data-tab="devices"]').click();
  const at = page.locator('[data-device="virtio-9p0"] .location');
  await at.waitFor({ timeout: 10_000 });
  const where = (await at.textContent()) ?? "";
  if (!(transport === "pci" ? /^virtio-pci \d\d:\d\d\.\d, / : /^virtio-mmio @ 0x/).test(where.trim())) {
    throw new Error(`virtio-9p0 over ${transport} is at ${where}`);
  }
}

test("?share=memory: the guest mounts the in-page 9p share; the devices panel shows 9p", async ({ page, url }) => {
  await bootWithShare(page, url);
  await typeLine(page, "echo in-page-9p > /mnt/host/f && cat /mnt/host/f | tr a-z A-Z");
  await waitForTerminal(page, (t) => t.includes("IN-PAGE-9P"), "a file through the share", COMMAND_TIMEOUT_MS);
  await page.locator('[data-tab="devices"]').click();
  const dev = page.locator('[data-device="virtio-9p0"]');
  await dev.locator('[data-feature="VIRTIO_9P_MOUNT_TAG"][data-accepted="true"]').waitFor({ timeout: 10_000 });
  // The device's facts: its mount tag and a counter per 9P message type. The panel's first picture after
  // the tab opens may predate the command, so read until the counters show it (10 s at most).
  const shows = (t: string) => /mountTag\s*host/.test(t) && /Twrite\s*[1-9]/.test(t) && /Twalk\s*[1-9]/.test(t);
  let text = "";
  for (const until = Date.now() + 10_000; Date.now() < until; await page.waitForTimeout(250)) {
    text = (await dev.textContent()) ?? "";
    if (shows(text)) break;
  }
  if (!shows(text)) throw new Error(`virtio-9p0 shows: ${text.slice(text.indexOf("mountTag"), 600)}`);
  // The picture: the 9p section with its facts unfolded.
  const more = dev.locator("details.device-facts-more summary");
  if ((await more.count()) > 0) await more.click();
  await dev.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, "devices-9p.png") });
});

// Over both transports: the same files in and out with the 9p device on virtio-mmio and on virtio-pci.
for (const transport of ["mmio", "pci"] as const) {
  test(`?share=memory over ${transport}: files uploaded in the page (picker, drop on the console) are read in the guest; a guest file downloads whole`, async ({
    page,
    url,
  }) => {
    await bootWithShare(page, url, transport);
    const up = randomBytes(200_000);
    await page.locator('[data-tab="files"]').click();
    await page.getByLabel("Upload to /mnt/host").setInputFiles({
      name: "uploaded.bin",
      mimeType: "application/octet-stream",
      buffer: up,
    });
    await page.locator('[data-share-file="uploaded.bin"]').waitFor({ timeout: 10_000 });
    const upMd5 = createHash("md5").update(up).digest("hex");
    await typeLine(page, "md5sum /mnt/host/uploaded.bin");
    await waitForTerminal(
      page,
      (t) => t.includes(`${upMd5}  /mnt/host/uploaded.bin`),
      "md5 of the upload",
      COMMAND_TIMEOUT_MS,
    );
    await typeLine(
      page,
      "head -c 150000 /dev/urandom > /mnt/host/guest.bin && echo gmd5-$(md5sum < /mnt/host/guest.bin | cut -c1-32)",
    );
    await waitForTerminal(page, (t) => /gmd5-[0-9a-f]{32}/.test(t), "the guest's file", COMMAND_TIMEOUT_MS);
    const guestMd5 = /gmd5-([0-9a-f]{32})/.exec(await terminalText(page))?.[1];
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.locator('[data-share-file="guest.bin"]').waitFor({ timeout: 10_000 });
    const [dl] = await Promise.all([
      page.waitForEvent("download", { timeout: 10_000 }),
      page.getByRole("button", { name: "Download guest.bin" }).click(),
    ]);
    const got = readFileSync(await dl.path());
    if (got.length !== 150_000 || createHash("md5").update(got).digest("hex") !== guestMd5) {
      throw new Error(
        `downloaded ${got.length} bytes, md5 ${createHash("md5").update(got).digest("hex")}, guest says ${guestMd5}`,
      );
    }
    // A file dropped on the console lands in the share too.
    const dropped = await page.evaluateHandle(() => {
      const d = new DataTransfer();
      d.items.add(new File(["dropped-on-the-console\n"], "dropped.txt"));
      return d;
    });
    await page.locator(".console-pane").dispatchEvent("drop", { dataTransfer: dropped });
    await page.locator('[data-share-file="dropped.txt"]').waitFor({ timeout: 10_000 });
    await typeLine(page, "tr a-z A-Z < /mnt/host/dropped.txt");
    await waitForTerminal(page, (t) => t.includes("DROPPED-ON-THE-CONSOLE"), "the dropped file", COMMAND_TIMEOUT_MS);
    if (transport === "mmio") await page.screenshot({ path: join(ARTIFACTS, "files-9p.png") });
  });
}
