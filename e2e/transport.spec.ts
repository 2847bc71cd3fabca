// The virtio transports chosen by the URL (every device on PCI, or one of them: the README's transport.net=,
// transport.console= and transport.rng=, seen in the Devices panel and by the guest), and an offload switched
// off in the Network panel's controls, which reboots the machine with it withdrawn.

import { join } from "node:path";
import type { Page } from "@playwright/test";
import { BOOT_TIMEOUT_MS, bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
import { PROMPT_AT_END, ROOT, terminalText, typeLine, waitForTerminal } from "./harness.ts";

const ARTIFACTS = join(ROOT, "test-results/screenshots");

test("the same boot with every virtio device on PCI", async ({ page, url }) => {
  await page.goto(`${url}?transport=pci`);
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
  await page.locator('[data-tab="devices"]').click();
  const location = page.locator('[data-device="virtio-net0"] .location');
  await location.filter({ hasText: /virtio-pci 00:01\.0, INTA → PLIC IRQ 33, BAR4 mem64 pref 0x/ }).waitFor({
    timeout: 5000,
  });
  await page.screenshot({ path: join(ARTIFACTS, "devices-pci.png") });
});

test("per-device transport: ?transport.net=pci puts virtio-net on PCI, the console stays on MMIO", async ({
  page,
  url,
}) => {
  await page.goto(`${url}?transport.net=pci`);
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
  await page.locator('[data-tab="devices"]').click();
  await page
    .locator('[data-device="virtio-net0"] .location')
    .filter({ hasText: /virtio-pci 00:01\.0/ })
    .waitFor({ timeout: 5000 });
  const consoleAt = (await page.locator('[data-device="virtio-console0"] .location').textContent()) ?? "";
  if (consoleAt.includes("virtio-pci")) throw new Error(`virtio-console0 is at ${consoleAt}`);
  await typeLine(page, "while ! ip -4 addr show eth0 | grep -q 10.0.2.15; do sleep 0.2; done; echo pci-net-$((40+2))");
  await waitForTerminal(page, (t) => t.includes("pci-net-42"), "DHCP over the PCI NIC", COMMAND_TIMEOUT_MS);
});

test("HOST_TSO4 switched off in the controls is offered-off and not accepted after the reboot", async ({
  page,
  url,
}) => {
  await page.goto(url);
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
  // A line of this boot's terminal, gone after the reboot.
  await typeLine(page, "echo before-reboot-$((6*7))");
  await waitForTerminal(page, (t) => t.includes("before-reboot-42"), "echo output", COMMAND_TIMEOUT_MS);
  await page.locator('[data-tab="network"]').click();
  await page.locator('[data-offload="HOST_TSO4"]').uncheck();
  await waitForTerminal(
    page,
    (t) => !t.includes("before-reboot-42") && PROMPT_AT_END.test(t),
    "prompt after reboot",
    BOOT_TIMEOUT_MS,
  );
  if (!page.url().includes("offloads=-HOST_TSO4")) throw new Error(`the URL does not carry it: ${page.url()}`);
  await page.locator('[data-tab="devices"]').click();
  const net = page.locator('[data-device="virtio-net0"]');
  // Show every bit, so the withdrawn one has a row to read.
  await net.locator(".toggle input").check();
  await net
    .locator('[data-feature="VIRTIO_NET_F_HOST_TSO4"][data-offered="false"][data-accepted="false"]')
    .waitFor({ timeout: 10_000 });
  // The driver negotiated again (GUEST_TSO4 accepted), and still without HOST_TSO4.
  await net.locator('[data-feature="VIRTIO_NET_F_GUEST_TSO4"][data-accepted="true"]').waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(ARTIFACTS, "devices-no-host-tso4.png") });
});

/**
 * The guest's own view of where each virtio device sits: a line `virtio-id 0xNNNN on pci|mmio` per device under
 * /sys/bus/virtio/devices (a PCI function's path runs through pci0000:00, a virtio-mmio window's does not).
 * Keyed by the virtio device ID: 0x0001 net, 0x0003 console, 0x0004 rng.
 */
async function guestTransports(page: Page): Promise<Map<string, string>> {
  await typeLine(
    page,
    "for d in /sys/bus/virtio/devices/*; do case $(readlink -f $d) in *pci0000*) t=pci;; *) t=mmio;; esac; echo virtio-id $(cat $d/device) on $t; done; echo listed-$((40+2))",
  );
  const text = await waitForTerminal(page, (t) => /^listed-42\s*$/m.test(t), "the device list", COMMAND_TIMEOUT_MS);
  const found = new Map<string, string>();
  for (const m of text.matchAll(/^virtio-id (0x[0-9a-f]{4}) on (pci|mmio)\s*$/gm)) found.set(m[1], m[2]);
  return found;
}

// The README's other two per-device parameters, as it writes them: `transport.console=` and `transport.rng=`
// (here `pci`) move that one device off the machine-wide transport (MMIO by default); the others stay.
const ROLES = [
  { param: "transport.console=pci", device: "virtio-console0", id: "0x0003" },
  { param: "transport.rng=pci", device: "virtio-rng0", id: "0x0004" },
] as const;
for (const { param, device, id } of ROLES) {
  test(`per-device transport: ?${param} puts ${device} on PCI, the other devices stay on MMIO`, async ({
    page,
    url,
  }) => {
    await page.goto(`${url}?${param}`);
    await bootToPrompt(page);
    await quietConsole(page);
    // The Devices panel: this device is a PCI function, the NIC (and the other of console/rng) virtio-mmio windows.
    await page.locator('[data-tab="devices"]').click();
    await expect(page.locator(`[data-device="${device}"] .location`)).toContainText(
      /virtio-pci 00:0\d\.0, INTA → PLIC IRQ \d+, BAR4 mem64 pref 0x/,
      { timeout: 5000 },
    );
    for (const other of ["virtio-net0", "virtio-console0", "virtio-rng0"].filter((d) => d !== device)) {
      await expect(page.locator(`[data-device="${other}"] .location`)).toContainText(/virtio-mmio @ 0x/);
    }
    // The guest agrees: Linux bound this device through virtio-pci and the others through virtio-mmio.
    const where = await guestTransports(page);
    const expected = new Map([
      ["0x0001", "mmio"],
      ["0x0003", "mmio"],
      ["0x0004", "mmio"],
    ]);
    expected.set(id, "pci");
    expect(Object.fromEntries(where)).toEqual(Object.fromEntries(expected));
    if (device === "virtio-console0") {
      // The console on PCI still carries bytes: the guest writes to /dev/hvc0 and the hvc0 tab shows them.
      await typeLine(page, "echo hvc0-over-pci-$((40+2)) >/dev/hvc0");
      await expect
        .poll(() => terminalText(page, "hvc0"), { timeout: COMMAND_TIMEOUT_MS })
        .toContain("hvc0-over-pci-42");
    } else {
      // The kernel's hwrng is the virtio-rng on PCI, and it gives bytes.
      await typeLine(
        page,
        "cat /sys/class/misc/hw_random/rng_current; head -c 16 /dev/hwrng | wc -c; echo rng-$((40+2))",
      );
      const text = await waitForTerminal(page, (t) => /^rng-42\s*$/m.test(t), "hwrng", COMMAND_TIMEOUT_MS);
      expect(text).toMatch(/^virtio_rng\.\d+\s*\n\s*16\s*$/m);
    }
  });
}
