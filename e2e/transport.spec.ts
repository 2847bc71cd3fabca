// The virtio transports chosen by the URL (every device on PCI, or one of them), and an offload switched
// off in the Network panel's controls, which reboots the machine with it withdrawn.

import { join } from "node:path";
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, test } from "./fixtures.ts";
import { PROMPT_AT_END, ROOT, typeLine, waitForTerminal } from "./harness.ts";

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
