import { describe, expect, it } from "vitest";
import { PLIC_DEFAULT_SOURCES, Plic } from "../../devices/plic/plic.ts";
import { VirtioPciTransport } from "../../devices/virtio/pci-transport.ts";
import { VirtioRng } from "../../devices/virtio-rng/virtio-rng.ts";
import { Bus } from "../core/bus.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import type { InterruptTarget } from "../core/interrupts.ts";
import {
  attachVirtioPci,
  attachVirtPci,
  VIRT_PCIE_ECAM_BASE,
  VIRT_PCIE_MMIO_BASE,
  VIRT_PCIE_PIO_BASE,
  virtHighPcieMmioBase,
} from "./virt-pci.ts";

const GiB = 1024 ** 3;
const hart: InterruptTarget = { setPending: () => {} };

function board(ramSize = 256 << 20) {
  const bus = new Bus();
  const plic = new Plic([{ target: hart, bit: 9 }], PLIC_DEFAULT_SOURCES);
  const pci = attachVirtPci(bus, plic, ramSize);
  return { bus, plic, pci };
}

describe("virt PCIe host wiring", () => {
  it("places the 64-bit window at the first 16 GiB boundary past RAM, as QEMU does", () => {
    expect(virtHighPcieMmioBase(256 << 20)).toBe(0x4_0000_0000);
    expect(virtHighPcieMmioBase(14 * GiB)).toBe(0x4_0000_0000);
    expect(virtHighPcieMmioBase(15 * GiB)).toBe(0x8_0000_0000);
  });

  it("maps ECAM, the PIO and both memory windows and describes them for the device tree", () => {
    const { bus, pci } = board();
    const names = bus.list().map((r) => [r.name, r.base, r.size]);
    expect(names).toEqual(
      expect.arrayContaining([
        ["pcie-pio", VIRT_PCIE_PIO_BASE, 0x10000],
        ["pcie-ecam", VIRT_PCIE_ECAM_BASE, 0x10000000],
        ["pcie-mmio", VIRT_PCIE_MMIO_BASE, 0x40000000],
        ["pcie-mmio-high", 0x4_0000_0000, 0x4_0000_0000],
      ]),
    );
    expect(pci.dt).toEqual({
      ecamBase: 0x30000000,
      ecamSize: 0x10000000,
      mmio32: { base: 0x40000000, size: 0x40000000 },
      mmio64: { base: 0x4_0000_0000, size: 0x4_0000_0000 },
      pio: { base: 0x3000000, size: 0x10000 },
    });
    // The host bridge answers at 00:00.0; an empty slot and an unassigned window read all-ones.
    expect(bus.read(VIRT_PCIE_ECAM_BASE, 4)).toBe(0x00081b36);
    expect(bus.read(VIRT_PCIE_ECAM_BASE + (1 << 15), 4)! >>> 0).toBe(0xffffffff);
    expect(bus.read(VIRT_PCIE_MMIO_BASE, 4)! >>> 0).toBe(0xffffffff);
  });

  it("attaches virtio devices at slots 1, 2, … with INTA swizzled onto PLIC 33, 34, …", () => {
    const { bus, plic, pci } = board();
    const mem = new GuestMemory(0x80000000, 1 << 20);
    const devices = [new VirtioRng("a"), new VirtioRng("b"), new VirtioRng("c"), new VirtioRng("d")];
    const ts = attachVirtioPci(pci.host, mem, devices);
    expect(ts.every((t) => t instanceof VirtioPciTransport)).toBe(true);
    expect(pci.host.functions().map((f) => f.slot)).toEqual([0, 1, 2, 3, 4]);
    for (const s of [1, 2, 3, 4]) expect(bus.read(VIRT_PCIE_ECAM_BASE + (s << 15), 4)).toBe(0x10441af4);
    // Slot 4's INTA folds back onto source 32.
    ts.forEach((t, i) => {
      t.setIntx(true);
      // Pending word 1 holds sources 32…63.
      expect(plic.read(0x1004, 4) >>> 0, `slot ${i + 1}`).toBe(1 << ((i + 1) % 4));
      t.setIntx(false);
    });
  });
});
