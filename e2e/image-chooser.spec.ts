// The image chooser (issue 18, item 2): it offers busybox (the default, unchanged), Debian (disabled with the
// command that builds it when the server has no Debian image) and custom URLs; `?image=debian` asks the server
// for Debian's kernel and initrd whole and for its disk by ranges; and, when `npm run guest:debian` has built the
// image, picking Debian boots it in the page to its root shell (over a minute: a cold boot of systemd in an emulator).

import { imageBuilt } from "../guest/debian/serial.ts";
import { COMMAND_TIMEOUT_MS, expect, test } from "./fixtures.ts";
import { PROMPT_AT_END, typeLine, waitForTerminal } from "./harness.ts";

const DEBIAN_PROMPT = /^root@debian:~# *$/m;
/** A cold boot of Debian in the page took 75 s here; a 2-core machine shared with other work may take minutes. */
const DEBIAN_BOOT_TIMEOUT_MS = 15 * 60_000;

test("the chooser offers busybox (the default), Debian and custom URLs, and works from the keyboard", async ({
  page,
  url,
}) => {
  await page.goto(url);
  // The chooser is the toolbar's "image:" popover, opened from the keyboard.
  const summary = page.locator("details.images summary");
  await expect(summary).toHaveText("image: busybox…");
  await summary.focus();
  await page.keyboard.press("Enter");
  const select = page.getByRole("combobox", { name: "guest image" });
  await expect(select).toBeVisible();
  await expect(select).toHaveValue("busybox");
  const options = select.locator("option");
  await expect(options).toHaveText([/^busybox \(initramfs, seconds\)$/, /^Debian/, /^custom URLs…$/]);
  const debian = select.locator('option[value="debian"]');
  if (imageBuilt()) {
    await expect(debian).toBeEnabled();
    await expect(debian).toHaveText(/^Debian trixie \(disk, boots in ≈ \d+ (s|min)\)$/);
  } else {
    await expect(debian).toBeDisabled();
    await expect(debian).toHaveText("Debian: npm run guest:debian");
  }
  // The default is busybox as before: its prompt, and nothing of the chooser in the URL.
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "busybox prompt", 90_000);
  expect(new URL(page.url()).search).toBe("");
  // From the keyboard: End on the focused select picks "custom URLs…", which opens the form on the kernel's URL.
  await select.focus();
  await page.keyboard.press("End");
  const kernel = page.getByRole("textbox", { name: "kernel URL" });
  await expect(kernel).toBeFocused();
  await expect(kernel).toHaveValue(new URL("images/Image", url).href);
  // A bad URL is refused in words and boots nothing.
  await kernel.fill("file:///etc/passwd");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("form", { name: "custom image" }).getByRole("alert")).toHaveText(
    /^kernel: an http\(s\) URL/,
  );
  expect(new URL(page.url()).search).toBe("");
});

test("?image=debian asks for Debian's kernel and initrd whole and for its disk by ranges", async ({ page, url }) => {
  const asked: { path: string; range: string | undefined }[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/images/")) asked.push({ path, range: r.headers().range });
  });
  await page.goto(`${url}?image=debian`);
  await expect(page.getByRole("combobox", { name: "guest image", includeHidden: true })).toHaveValue("debian");
  await expect(page.locator("details.images summary")).toHaveText("image: Debian…");
  await expect(page.getByRole("combobox", { name: "guest memory (MiB)" })).toHaveValue("1024");
  await expect
    .poll(() => asked.map((a) => a.path).sort(), { timeout: 30_000 })
    .toEqual(
      expect.arrayContaining([
        "/images/debian/Image",
        "/images/debian/debian.img",
        "/images/debian/initrd.img",
        "/images/debian/manifest.json",
        "/images/fw_dynamic.bin",
      ]),
    );
  // The boot images come whole; the disk's first request is the backend's probe, a range.
  for (const p of ["/images/debian/Image", "/images/debian/initrd.img", "/images/fw_dynamic.bin"]) {
    expect(asked.find((a) => a.path === p)?.range, p).toBeUndefined();
  }
  expect(asked.find((a) => a.path === "/images/debian/debian.img")?.range).toBe("bytes=0-0");
  // Nothing of busybox's kernel or initramfs.
  expect(asked.filter((a) => a.path === "/images/Image" || a.path === "/images/initramfs.cpio")).toEqual([]);
  if (!imageBuilt()) {
    await expect(
      page
        .getByRole("alert")
        .filter({ hasText: /debian/ })
        .first(),
    ).toContainText(/404|not built/);
  }
});

// Registered only when the image is built: npm test counts a skipped e2e test as a failure (no test is meant to
// be skipped), and a fresh clone has no Debian image; it says NOT RUN instead, as the Node Debian test does.
const debianTest = imageBuilt() ? test : undefined;
if (debianTest === undefined) {
  console.log("NOT RUN: e2e/image-chooser.spec.ts's Debian boot (the image is not built: npm run guest:debian)");
}
debianTest?.("Debian picked in the chooser boots in the page to its root shell", async ({ page, url }) => {
  test.setTimeout(DEBIAN_BOOT_TIMEOUT_MS + 120_000);
  await page.goto(url);
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "busybox prompt", 90_000);
  await page.locator("details.images summary").click();
  const select = page.getByRole("combobox", { name: "guest image" });
  await expect(select.locator('option[value="debian"]')).toBeEnabled();
  const t0 = Date.now();
  await select.selectOption("debian");
  await expect(page).toHaveURL(/\?image=debian$/);
  // The disk's progress: bytes its range requests fetched, of its 2 GiB, while it boots.
  const disk = page.locator(".machine-status .disk");
  await expect(disk).toHaveAttribute("data-size", String(2 * 1024 ** 3), { timeout: 120_000 });
  await expect
    .poll(async () => Number(await disk.getAttribute("data-fetched")), { timeout: 300_000 })
    .toBeGreaterThan(0);
  const login = await waitForTerminal(page, (t) => / login: /.test(t), "login prompt", DEBIAN_BOOT_TIMEOUT_MS, 1000);
  const loginS = (Date.now() - t0) / 1000;
  await waitForTerminal(page, (t) => DEBIAN_PROMPT.test(t), "root shell", 120_000, 1000);
  const shellS = (Date.now() - t0) / 1000;
  const fetched = Number(await disk.getAttribute("data-fetched"));
  console.log(
    `debian in the page: login prompt ${loginS.toFixed(0)} s, root shell ${shellS.toFixed(0)} s after picking it; ` +
      `disk fetched ${(fetched / 2 ** 20).toFixed(1)} MiB of 2048 MiB (${login.includes("automatic login") ? "autologin" : ""})`,
  );
  expect(fetched).toBeLessThan(2 ** 30);
  await expect(page.getByTestId("phase")).toHaveText("running");
  await typeLine(page, "dmesg -n 1; echo quiet-$((40+2))");
  await waitForTerminal(page, (t) => /^quiet-42\s*$/m.test(t), "quiet-42", COMMAND_TIMEOUT_MS);
  await typeLine(page, "cat /etc/os-release; findmnt -no SOURCE /");
  await waitForTerminal(
    page,
    (t) => /^PRETTY_NAME="Debian GNU\/Linux 13 \(trixie\)"$/m.test(t) && /^\/dev\/vda$/m.test(t),
    "os-release and the root on /dev/vda",
    60_000,
  );
});

// The same image as the README's `?image=debian&transport=pci&mem=2048` (every virtio device on PCI, 2 GiB of
// RAM), and the in-page 9p share (`share=memory`), which Debian's stock kernel mounts with its own 9p modules.
// Registered only when the image is built, like the test above.
debianTest?.(
  "Debian over virtio-pci in the page: root on a PCI disk, the in-page 9p share mounted",
  async ({ page, url }) => {
    test.setTimeout(DEBIAN_BOOT_TIMEOUT_MS + 120_000);
    const t0 = Date.now();
    await page.goto(`${url}?image=debian&transport=pci&mem=2048&share=memory`);
    await expect(page.getByRole("combobox", { name: "guest image", includeHidden: true })).toHaveValue("debian");
    await waitForTerminal(page, (t) => / login: /.test(t), "login prompt", DEBIAN_BOOT_TIMEOUT_MS, 1000);
    await waitForTerminal(page, (t) => DEBIAN_PROMPT.test(t), "root shell", 120_000, 1000);
    console.log(`debian over PCI in the page: root shell ${((Date.now() - t0) / 1000).toFixed(0)} s after navigation`);
    await typeLine(page, "dmesg -n 1; echo quiet-$((40+2))");
    await waitForTerminal(page, (t) => /^quiet-42\s*$/m.test(t), "quiet-42", COMMAND_TIMEOUT_MS);
    // mem=2048: the kernel got 2 GiB (MemTotal is what is left after its own reservations).
    await typeLine(page, "echo memtotal-$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)-mib");
    await waitForTerminal(
      page,
      (t) => {
        const m = /^memtotal-(\d+)-mib\s*$/m.exec(t);
        return m !== null && Number(m[1]) > 1800 && Number(m[1]) <= 2048;
      },
      "MemTotal of about 2 GiB",
      COMMAND_TIMEOUT_MS,
    );
    // The disk and the NIC are PCI functions under the PCIe root, not virtio-mmio platform devices.
    await typeLine(
      page,
      "grep ^VERSION_CODENAME= /etc/os-release; echo pcidevs-$(readlink -f /sys/block/vda/device /sys/class/net/e*/device | grep -c /pci0000:00/)-of-$(ls -d /sys/class/net/e* | wc -l)",
    );
    await waitForTerminal(
      page,
      (t) => /^VERSION_CODENAME=trixie\s*$/m.test(t) && /^pcidevs-2-of-1\s*$/m.test(t),
      "os-release and vda, eth on PCI",
      60_000,
    );
    // The share: mounted by the image itself (its mount-host-share.service; no mount typed), a file written in
    // the guest listed in the Files tab.
    await typeLine(
      page,
      "for i in $(seq 30); do grep -q ' /mnt/host 9p ' /proc/mounts && break; sleep 1; done; echo from-debian > /mnt/host/debian.txt && echo mounted-$(grep -c ' /mnt/host 9p ' /proc/mounts)-$(cat /mnt/host/debian.txt)",
    );
    await waitForTerminal(page, (t) => /^mounted-1-from-debian\s*$/m.test(t), "the 9p share in Debian", 60_000);
    await page.locator('[data-tab="files"]').click();
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.locator('[data-share-file="debian.txt"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-tab="devices"]').click();
    await expect(page.locator('[data-device="virtio-blk0"] .location')).toHaveText(/^virtio-pci \d\d:\d\d\.\d, /);
  },
);
