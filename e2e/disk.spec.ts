// Disks from the URL and from a file: `?disk=URL` over HTTP ranges (virtio-blk on PCI by transport.blk),
// a server that ignores ranges refused in words, a picked file attached as the next disk, and a same-origin
// `?disk=/…` from the page's own server (scripts/static-ranges.ts), a picked file kept across a reload on
// request, and the README's `?transport=pci&mem=512&disk=URL` as written.

import { createHash, randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BOOT_TIMEOUT_MS, bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
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

test("a picked disk file with 'keep the disk after reload' is attached again after a reload; unticked, it is not", async ({
  page,
  url,
}) => {
  const picked = randomBytes(128 * 1024);
  const md5 = createHash("md5")
    .update(picked.subarray(5 * 512, 21 * 512))
    .digest("hex");
  // A marker computed by the shell, so the typed line never matches what is waited for.
  const readVda = async (): Promise<void> => {
    await typeLine(
      page,
      "echo vda-$((40+2)) $(cat /sys/block/vda/size 2>/dev/null || echo none) $(dd if=/dev/vda bs=512 skip=5 count=16 2>/dev/null | md5sum)",
    );
  };
  await page.goto(url);
  await bootToPrompt(page);
  await page.locator("details.images summary").click();
  const keepBox = page.getByRole("checkbox", { name: "keep the disk after reload" });
  // Offered only once a disk is picked.
  await expect(keepBox).toHaveCount(0);
  await page.getByLabel("disk image file").setInputFiles({
    name: "kept.img",
    mimeType: "application/octet-stream",
    buffer: picked,
  });
  await expect(keepBox).not.toBeChecked();
  await keepBox.check();
  await expect.poll(() => page.evaluate(() => localStorage.getItem("vireo.keepDisk"))).toBe("1");
  await page.reload();
  await bootToPrompt(page);
  await quietConsole(page);
  await readVda();
  await waitForTerminal(
    page,
    (t) => t.includes(`vda-42 ${picked.length / 512} ${md5} -`),
    "the kept disk as /dev/vda",
    COMMAND_TIMEOUT_MS,
  );
  await page.locator("details.images summary").click();
  await expect(page.locator("details.images .picked").first()).toContainText(`kept.img, ${picked.length} bytes`);
  await expect(keepBox).toBeChecked();
  // Unticked: forgotten, and the next load boots without it.
  await keepBox.uncheck();
  await expect.poll(() => page.evaluate(() => localStorage.getItem("vireo.keepDisk"))).toBeNull();
  await page.reload();
  await bootToPrompt(page);
  await quietConsole(page);
  await readVda();
  await waitForTerminal(page, (t) => /^vda-42 none /m.test(t), "no /dev/vda", COMMAND_TIMEOUT_MS);
});

test("the README's `?transport=pci&mem=512&disk=URL`: 512 MiB of RAM, every virtio device on PCI, the disk as /dev/vda", async ({
  page,
  url,
}) => {
  const disk = await diskServer();
  try {
    await page.goto(`${url}?transport=pci&mem=512&disk=${encodeURIComponent(disk.url)}`);
    await bootToPrompt(page);
    await quietConsole(page);
    await typeLine(
      page,
      "echo readme-$((40+2)) $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) $(dd if=/dev/vda bs=512 count=8 2>/dev/null | md5sum)",
    );
    const text = await waitForTerminal(
      page,
      (t) => /^readme-42 \d+ [0-9a-f]{32} -/m.test(t),
      "readme-42",
      COMMAND_TIMEOUT_MS,
    );
    const m = /^readme-42 (\d+) ([0-9a-f]{32}) -/m.exec(text);
    // MemTotal is RAM less what the kernel and firmware keep: under 512 MiB, far over the default's share.
    expect(Number(m?.[1])).toBeGreaterThan(440);
    expect(Number(m?.[1])).toBeLessThanOrEqual(512);
    expect(m?.[2]).toBe(disk.md5(0, 8 * 512));
    await page.locator('[data-tab="devices"]').click();
    for (const dev of ["virtio-blk0", "virtio-net0", "virtio-console0"]) {
      await expect(page.locator(`[data-device="${dev}"] .location`)).toContainText("virtio-pci");
    }
  } finally {
    disk.server.closeAllConnections();
    disk.server.close();
  }
});
