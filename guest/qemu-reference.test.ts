// Boots the committed guest images under Debian's QEMU — the reference vireo is diffed against — with
// virtio-net on each transport. Same check as `npm run guest:check` (guest/check-qemu.ts).
import { describe, expect, it } from "vitest";
import { BOOT_BANNER, checkQemuBoot, measureQemuPoweroff, VIRTIO_ID_NET } from "./check-qemu.ts";

// `npm test` installs qemu-system-misc first (scripts/test.mjs); a missing QEMU is a failure, not a skip.
describe("guest images under QEMU (qemu-system-riscv64, TCG)", () => {
  it.each(["mmio", "pci"] as const)(
    "boots to the prompt and lists virtio-net on %s",
    async (transport) => {
      const r = await checkQemuBoot(transport);
      expect(r.console).toContain(BOOT_BANNER);
      expect(r.devices.some((d) => d.id === VIRTIO_ID_NET)).toBe(true);
    },
    200_000,
  );

  it("powers off by itself with vireo.poweroff=1", async () => {
    const r = await measureQemuPoweroff();
    expect(r.console).toContain(BOOT_BANNER);
    expect(r.console).toContain("reboot: Power down");
  }, 140_000);
});
