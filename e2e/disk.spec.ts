// Disks from the URL and from a file: `?disk=URL` over HTTP ranges (virtio-blk on PCI by transport.blk),
// a server that ignores ranges refused in words, a picked file attached as the next disk, and a same-origin
// `?disk=/…` from the page's own server (scripts/static-ranges.ts).

import { createHash, randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, expect, test } from "./fixtures.ts";
import { PROMPT_AT_END, ROOT, typeLine, waitForTerminal } from "./harness.ts";
import { diskServer } from "./servers.ts";

test("?disk=URL attaches virtio-blk (on PCI by transport.blk) over HTTP ranges; /dev/vda reads the image, writes stay in memory", async ({
  context,
  page,
  url,
}) => {
  const disk = await diskServer();
  try {
    const plain = await context.newPage();
    await plain.goto(`${url}?disk=${encodeURIComponent(disk.url.replace("disk.img", "plain.img"))}`);
    await plain
      .getByRole("alert")
      .filter({ hasText: /ignores HTTP range requests/ })
      .waitFor({ timeout: 20_000 });
    await plain.close();
    // transport.blk=pci: the disks on PCI, everything else on the board's MMIO.
    await page.goto(`${url}?disk=${encodeURIComponent(disk.url)}&transport.blk=pci`);
    await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
    await page.locator('[data-tab="devices"]').click();
    await page
      .locator('[data-device="virtio-blk0"] .location')
      .filter({ hasText: /virtio-pci 00:01\.0/ })
      .waitFor({ timeout: 5000 });
    // Sector 0, and 256 KiB from an offset that is no multiple of the backend's 64 KiB chunks.
    await typeLine(
      page,
      "echo vda $(dd if=/dev/vda bs=512 count=1 2>/dev/null | md5sum) $(dd if=/dev/vda bs=4096 skip=9 count=64 2>/dev/null | md5sum)",
    );
    const want = `vda ${disk.md5(0, 512)} - ${disk.md5(9 * 4096, 64 * 4096)} -`;
    await waitForTerminal(page, (t) => t.includes(want), want, COMMAND_TIMEOUT_MS);
    await typeLine(
      page,
      "echo overlay-ok | dd of=/dev/vda bs=512 seek=3 conv=sync 2>/dev/null; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=3 count=1 2>/dev/null | head -c 10; echo",
    );
    await waitForTerminal(page, (t) => /\noverlay-ok\s*\n/.test(t), "overlay-ok", COMMAND_TIMEOUT_MS);
    if (disk.partials === 0) throw new Error("the server saw no range requests");
    // A picked file becomes the next disk (/dev/vdb) after a reboot with it.
    const picked = randomBytes(64 * 1024);
    await page.locator("details.images summary").click();
    await page.getByLabel("disk image file").setInputFiles({
      name: "picked.img",
      mimeType: "application/octet-stream",
      buffer: picked,
    });
    await waitForTerminal(page, (t) => !t.includes("overlay-ok") && PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
    await typeLine(page, "echo vdb $(dd if=/dev/vdb bs=512 skip=7 count=9 2>/dev/null | md5sum)");
    const md5 = createHash("md5")
      .update(picked.subarray(7 * 512, 16 * 512))
      .digest("hex");
    await waitForTerminal(page, (t) => t.includes(`vdb ${md5} -`), "vdb md5", COMMAND_TIMEOUT_MS);
  } finally {
    disk.server.closeAllConnections();
    disk.server.close();
  }
});

test("?disk=/same-origin.img: the page's own server (vite preview) answers the disk's range requests", async ({
  context,
  page,
  url,
}) => {
  // An image put beside the built page, as a user puts one in public/; read from the server as it is on disk.
  const name = `e2e-disk-${process.pid}.img`;
  const file = join(ROOT, "dist", name);
  const image = randomBytes(1024 * 1024);
  writeFileSync(file, image);
  const md5 = (at: number, n: number) =>
    createHash("md5")
      .update(image.subarray(at, at + n))
      .digest("hex");
  // The worker's requests for the image: each must be a 206 (the probe is `Range: bytes=0-0`).
  const statuses: number[] = [];
  context.on("response", (r) => {
    if (new URL(r.url()).pathname === `/${name}`) statuses.push(r.status());
  });
  try {
    await page.goto(`${url}?disk=/${name}`);
    await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
    await typeLine(
      page,
      "echo vda $(cat /sys/block/vda/size) $(dd if=/dev/vda bs=512 count=1 2>/dev/null | md5sum) $(dd if=/dev/vda bs=4096 skip=100 count=50 2>/dev/null | md5sum)",
    );
    const want = `vda ${image.length / 512} ${md5(0, 512)} - ${md5(100 * 4096, 50 * 4096)} -`;
    await waitForTerminal(page, (t) => t.includes(want), want, COMMAND_TIMEOUT_MS);
    await expect(page.getByRole("alert").filter({ hasText: name })).toHaveCount(0);
    expect(statuses.length).toBeGreaterThan(0);
    expect(
      statuses.every((s) => s === 206),
      statuses.join(" "),
    ).toBe(true);
  } finally {
    rmSync(file, { force: true });
  }
});
