// The virt board's PCIe host: QEMU's gpex at the addresses of hw/riscv/virt.c (spec riscv-platform.md
// §6), INTA…INTD on PLIC sources 32…35 with the slot swizzle (§7.3), and the device-tree description
// of the same windows (§8.2). QEMU always has the host bridge, so the board always maps it.

import { PciHost } from "../../devices/pci-host/pci-host.ts";
import type { Plic } from "../../devices/plic/plic.ts";
import { VirtioPciTransport } from "../../devices/virtio/pci-transport.ts";
import type { VirtioDevice } from "../../devices/virtio/virtio-device.ts";
import type { Bus } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";
import type { IrqLine } from "../core/irq.ts";
import { LoaderError } from "./loader.ts";
import { VIRT_DRAM_BASE, VIRT_PCIE_INTX_PINS, VIRT_PCIE_IRQ, type VirtDtDesc } from "./virt-dt.ts";

export const VIRT_PCIE_PIO_BASE = 0x3000000;
export const VIRT_PCIE_PIO_SIZE = 0x10000;
export const VIRT_PCIE_ECAM_BASE = 0x30000000;
export const VIRT_PCIE_ECAM_SIZE = 0x10000000;
export const VIRT_PCIE_MMIO_BASE = 0x40000000;
export const VIRT_PCIE_MMIO_SIZE = 0x40000000;
/** RV64: a 16 GiB high window, placed at the first 16 GiB boundary past the end of RAM. */
export const VIRT64_HIGH_PCIE_MMIO_SIZE = 0x4_0000_0000;

/** Where QEMU puts the 64-bit window for a given RAM size (0x4_0000_0000 for RAM ≤ 14 GiB). */
export function virtHighPcieMmioBase(ramSize: number): number {
  const end = VIRT_DRAM_BASE + ramSize;
  return Math.ceil(end / VIRT64_HIGH_PCIE_MMIO_SIZE) * VIRT64_HIGH_PCIE_MMIO_SIZE;
}

export interface VirtPci {
  host: PciHost;
  /** The `pci` entry of the board's device-tree description. */
  dt: NonNullable<VirtDtDesc["pci"]>;
}

/**
 * Builds the host bridge, wires its INTx to the PLIC and maps ECAM and the three windows on `bus`.
 * `wrapIrq` lets the machine watch the four PLIC inputs (to wake a sleeping run loop).
 */
export function attachVirtPci(
  bus: Bus,
  plic: Plic,
  ramSize: number,
  wrapIrq: (line: IrqLine) => IrqLine = (l) => l,
): VirtPci {
  const intx = Array.from({ length: VIRT_PCIE_INTX_PINS }, (_, i) => wrapIrq(plic.irq(VIRT_PCIE_IRQ + i)));
  const host = new PciHost({ intx });
  const mmio64Base = virtHighPcieMmioBase(ramSize);
  // The memory windows are identity-mapped (bus address = CPU address); I/O port 0 is at the PIO base.
  bus.map(VIRT_PCIE_PIO_BASE, VIRT_PCIE_PIO_SIZE, host.ioWindow(VIRT_PCIE_PIO_SIZE), "pcie-pio");
  bus.map(VIRT_PCIE_ECAM_BASE, VIRT_PCIE_ECAM_SIZE, host.ecam, "pcie-ecam");
  bus.map(
    VIRT_PCIE_MMIO_BASE,
    VIRT_PCIE_MMIO_SIZE,
    host.memoryWindow(VIRT_PCIE_MMIO_BASE, VIRT_PCIE_MMIO_SIZE),
    "pcie-mmio",
  );
  bus.map(
    mmio64Base,
    VIRT64_HIGH_PCIE_MMIO_SIZE,
    host.memoryWindow(mmio64Base, VIRT64_HIGH_PCIE_MMIO_SIZE),
    "pcie-mmio-high",
  );
  return {
    host,
    dt: {
      ecamBase: VIRT_PCIE_ECAM_BASE,
      ecamSize: VIRT_PCIE_ECAM_SIZE,
      mmio32: { base: VIRT_PCIE_MMIO_BASE, size: VIRT_PCIE_MMIO_SIZE },
      mmio64: { base: mmio64Base, size: VIRT64_HIGH_PCIE_MMIO_SIZE },
      pio: { base: VIRT_PCIE_PIO_BASE, size: VIRT_PCIE_PIO_SIZE },
    },
  };
}

/** The first slot for devices: 00:00.0 is the host bridge. */
export const VIRT_PCI_FIRST_DEVICE_SLOT = 1;

/**
 * Puts each device behind a modern virtio-pci function at slots 1, 2, 3… of bus 0 (QEMU's order for
 * `-device virtio-*-pci` without addr=). Their INTA lands on PLIC 32 + (slot mod 4) through the swizzle.
 */
export function attachVirtioPci(
  host: PciHost,
  mem: GuestMemory,
  devices: readonly VirtioDevice[],
): VirtioPciTransport[] {
  return devices.map((device) => {
    const slot = host.freeSlot(VIRT_PCI_FIRST_DEVICE_SLOT);
    if (slot === undefined) throw new LoaderError(`no free PCI slot for ${device.name}`);
    const t = new VirtioPciTransport(device, mem);
    // A fresh transport over a device that may have lived through an earlier power cycle.
    t.reset();
    host.attach(slot, t);
    return t;
  });
}
