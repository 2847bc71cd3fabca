// Builds the page's periodic MachineSnapshot from a running VirtMachine. Cheap by design (it runs at
// ≥ 4 Hz beside the guest): counters are copied, and the only guest-visible state read is the PCI
// config space of virtio functions (two BAR dwords each, through the ECAM, which has no side effects).

import type { VirtMachine } from "../machine/virt.ts";
import {
  VIRT_PCIE_INTX_PINS,
  VIRT_PCIE_IRQ,
  VIRT_VIRTIO_BASE,
  VIRT_VIRTIO_IRQ,
  VIRT_VIRTIO_SIZE,
} from "../machine/virt-dt.ts";
import { VIRT_PCI_FIRST_DEVICE_SLOT, VIRT_PCIE_ECAM_BASE } from "../machine/virt-pci.ts";
import type {
  DeviceLocation,
  DeviceSnapshot,
  DiskFetchSnapshot,
  HartSnapshot,
  MachinePhase,
  MachineSnapshot,
  NetworkSnapshot,
  VirtioTransportKind,
} from "./protocol.ts";

/** The modern virtio-pci BAR (QEMU's layout: BAR 4, 64-bit, 16 KiB). */
const VIRTIO_PCI_BAR = 4;
const VIRTIO_PCI_BAR_SIZE = 0x4000;
const PCI_BASE_ADDRESS_0 = 0x10;

/** Where the board put the i-th MMIO device / the j-th PCI device (virt-virtio.ts, virt-pci.ts order). */
export function mmioLocation(slot: number): DeviceLocation {
  return {
    kind: "mmio",
    base: VIRT_VIRTIO_BASE + VIRT_VIRTIO_SIZE * slot,
    size: VIRT_VIRTIO_SIZE,
    irq: VIRT_VIRTIO_IRQ + slot,
  };
}

export function pciLocation(index: number, readConfig32?: (slot: number, reg: number) => number): DeviceLocation {
  const slot = VIRT_PCI_FIRST_DEVICE_SLOT + index;
  const bars: { bar: number; kind: string; base: number; size: number }[] = [];
  if (readConfig32 !== undefined) {
    const lo = readConfig32(slot, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR) >>> 0;
    const hi = readConfig32(slot, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4) >>> 0;
    const base = hi * 2 ** 32 + ((lo & ~0xf) >>> 0);
    if (base !== 0) bars.push({ bar: VIRTIO_PCI_BAR, kind: "mem64 pref", base, size: VIRTIO_PCI_BAR_SIZE });
  }
  return {
    kind: "pci",
    bdf: `00:${slot.toString(16).padStart(2, "0")}.0`,
    // INTA (pin 1) through the slot swizzle (spec riscv-platform.md §7.3).
    intxIrq: VIRT_PCIE_IRQ + (slot % VIRT_PCIE_INTX_PINS),
    bars,
  };
}

/** Tracks instret between snapshots to turn it into MIPS. */
export class SnapshotTaker {
  private lastMs = performance.now();
  private lastInstret = 0;

  constructor(
    private readonly machine: VirtMachine,
    private readonly transport: VirtioTransportKind,
    private readonly memMiB: number,
    private readonly network: () => NetworkSnapshot | undefined,
    private readonly disks: () => DiskFetchSnapshot[] = () => [],
  ) {
    this.lastInstret = machine.hart.instret;
  }

  take(phase: MachinePhase, sleptNs: number, withDevices = true): MachineSnapshot {
    const now = performance.now();
    return {
      takenMs: now,
      phase,
      memMiB: this.memMiB,
      transport: this.transport,
      hart: this.hart(now, sleptNs),
      devices: withDevices ? this.devices() : undefined,
      network: this.network(),
      disks: this.disks(),
    };
  }

  private hart(now: number, sleptNs: number): HartSnapshot {
    const h = this.machine.hart;
    const dtMs = now - this.lastMs;
    // instret drops when reset() builds a fresh hart.
    const delta = h.instret >= this.lastInstret ? h.instret - this.lastInstret : h.instret;
    const mips = dtMs > 0 ? delta / dtMs / 1000 : 0;
    this.lastMs = now;
    this.lastInstret = h.instret;
    return {
      instret: h.instret,
      mips,
      idle: dtMs > 0 ? Math.min(1, sleptNs / 1e6 / dtMs) : 0,
      pc: `0x${h.getPc().toString(16).padStart(16, "0")}`,
      privilege: h.priv,
      waiting: h.waiting,
    };
  }

  private devices(): DeviceSnapshot[] {
    const bus = this.machine.bus;
    const readConfig32 = (slot: number, reg: number): number =>
      bus.read(VIRT_PCIE_ECAM_BASE + (slot << 15) + reg, 4) ?? 0;
    let mmio = 0;
    let pci = 0;
    return this.machine.virtioSnapshot().map((t) => ({
      ...t,
      location: t.transport === "pci" ? pciLocation(pci++, readConfig32) : mmioLocation(mmio++),
    }));
  }
}
