import { describe, expect, it } from "vitest";
import { mmioLocation, pciLocation } from "./snapshot.ts";

describe("device locations", () => {
  it("puts MMIO devices in QEMU's virtio slots", () => {
    expect(mmioLocation(0)).toEqual({ kind: "mmio", base: 0x10001000, size: 0x1000, irq: 1 });
    expect(mmioLocation(7)).toEqual({ kind: "mmio", base: 0x10008000, size: 0x1000, irq: 8 });
  });

  it("names PCI functions by bus:dev.fn with the swizzled INTA line", () => {
    const loc = pciLocation(0);
    expect(loc).toEqual({ kind: "pci", bdf: "00:01.0", intxIrq: 33, bars: [] });
    expect(pciLocation(3)).toMatchObject({ bdf: "00:04.0", intxIrq: 32 });
  });

  it("reads the 64-bit BAR 4 once firmware assigned it", () => {
    const config = new Map([
      [0x20, 0x4000000c], // BAR4 low: mem64, prefetchable
      [0x24, 0x4],
    ]);
    const loc = pciLocation(1, (slot, reg) => (slot === 2 ? (config.get(reg) ?? 0) : 0));
    expect(loc).toMatchObject({
      bdf: "00:02.0",
      bars: [{ bar: 4, kind: "mem64 pref", base: 0x4_4000_0000, size: 0x4000 }],
    });
  });

  it("leaves an unassigned BAR out", () => {
    expect(pciLocation(0, () => 0)).toMatchObject({ bars: [] });
  });
});
