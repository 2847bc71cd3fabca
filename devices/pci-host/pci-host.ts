// A generic PCIe host bridge in the shape of QEMU's gpex (hw/pci-host/gpex.c), as the virt board has
// it: an ECAM config window, memory (and I/O) windows through which the BARs Linux assigns become
// reachable, a host-bridge function at 00:00.0, and INTx routed onto four interrupt inputs with the
// standard swizzle (spec riscv-platform.md §6, §7.3). Only bus 0 exists; every other bus reads as
// all-ones (no device), which is what Linux's scan expects of an empty bus.
// ECAM offsets, config values and window accesses all come from the guest: nothing here throws on them.

import type { MmioDevice } from "../../src/core/bus.ts";
import { type IrqLine, SharedIrq } from "../../src/core/irq.ts";
import { type PciBarMapping, PciFunction } from "./pci-function.ts";
import {
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CLASS_BRIDGE_HOST,
  PCI_DEVICE_ID_REDHAT_PCIE_HOST,
  PCI_FUNCTIONS_PER_SLOT,
  PCI_INTERRUPT_INTD,
  PCI_SLOTS_PER_BUS,
  PCI_VENDOR_ID_REDHAT,
  PCIE_ECAM_BUS_SHIFT,
  PCIE_ECAM_DEVFN_SHIFT,
} from "./pci-regs.ts";

/** INTA#…INTD# lines of the host, i.e. the four interrupt inputs the swizzle lands on. */
export const PCI_NUM_PINS = 4;

/** What a master abort reads: all-ones of the access size. */
function allOnes(size: number): number {
  return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
}

/** The interrupt input (0…3 = INTA…INTD at the host) that pin `pin` (1…4) of a device in `slot` lands on. */
export function pciSwizzle(slot: number, pin: number): number {
  return (pin - 1 + slot) % PCI_NUM_PINS;
}

/** The ECAM window: bus << 20 | device << 15 | function << 12 | register. */
export class PciEcam implements MmioDevice {
  constructor(private readonly host: PciHost) {}

  read(offset: number, size: 1 | 2 | 4): number {
    const fn = this.host.functionAt(offset);
    if (fn === undefined) return allOnes(size);
    return fn.readConfig(offset & (PCI_CFG_SPACE_EXP_SIZE - 1), size);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.host.functionAt(offset)?.writeConfig(offset & (PCI_CFG_SPACE_EXP_SIZE - 1), size, value);
  }
}

/**
 * A CPU window onto one PCI address space ("mem" or "io"): an access at window offset o is bus address
 * busBase + o, answered by whichever BAR decodes it. Nothing decoding reads all-ones, writes vanish.
 */
export class PciMmioWindow implements MmioDevice {
  constructor(
    private readonly host: PciHost,
    readonly space: "mem" | "io",
    readonly busBase: number,
    readonly size: number,
  ) {}

  read(offset: number, size: 1 | 2 | 4): number {
    const addr = this.busBase + offset;
    const m = this.host.decode(this.space, addr, size);
    return m === undefined ? allOnes(size) : m.device.read(addr - m.base, size);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    const addr = this.busBase + offset;
    const m = this.host.decode(this.space, addr, size);
    m?.device.write(addr - m.base, size, value);
  }
}

export interface PciHostOptions {
  /** The four interrupt inputs INTA…INTD at the host (on virt: PLIC sources 32…35). */
  intx: readonly IrqLine[];
}

export class PciHost {
  readonly ecam: PciEcam;
  /** 00:00.0, QEMU's gpex-root. */
  readonly root: PciFunction;
  /** Bus 0, indexed by devfn = slot << 3 | function. */
  private readonly bus0: (PciFunction | undefined)[] = new Array(PCI_SLOTS_PER_BUS * PCI_FUNCTIONS_PER_SLOT).fill(
    undefined,
  );
  private readonly pins: SharedIrq[];
  private mappings: PciBarMapping[] | undefined = [];
  private last: PciBarMapping | undefined;

  constructor(opts: PciHostOptions) {
    if (opts.intx.length !== PCI_NUM_PINS) throw new RangeError(`a PCI host needs ${PCI_NUM_PINS} INTx inputs`);
    this.pins = opts.intx.map((line) => new SharedIrq(line));
    this.ecam = new PciEcam(this);
    this.root = new PciFunction({
      vendorId: PCI_VENDOR_ID_REDHAT,
      deviceId: PCI_DEVICE_ID_REDHAT_PCIE_HOST,
      classCode: PCI_CLASS_BRIDGE_HOST,
    });
    this.attach(0, this.root);
  }

  /** A window onto the memory space (identity-mapped on virt: busBase = the CPU base). */
  memoryWindow(busBase: number, size: number): PciMmioWindow {
    return new PciMmioWindow(this, "mem", busBase, size);
  }

  /** A window onto the I/O space (on virt, I/O bus address 0 sits at CPU 0x3000000). */
  ioWindow(size: number): PciMmioWindow {
    return new PciMmioWindow(this, "io", 0, size);
  }

  /**
   * Puts `fn` at bus 0, `slot`.`func` and wires its INTx pin through the swizzle. Wiring-time only:
   * a taken or impossible address throws.
   */
  attach(slot: number, fn: PciFunction, func = 0): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= PCI_SLOTS_PER_BUS) throw new RangeError(`PCI slot ${slot}`);
    if (!Number.isInteger(func) || func < 0 || func >= PCI_FUNCTIONS_PER_SLOT) {
      throw new RangeError(`PCI function ${func}`);
    }
    const devfn = (slot << 3) | func;
    if (this.bus0[devfn] !== undefined) throw new RangeError(`PCI 00:${slot}.${func} is taken`);
    this.bus0[devfn] = fn;
    const pin = fn.interruptPin;
    if (pin >= 1 && pin <= PCI_INTERRUPT_INTD) fn.connectIntx(this.pins[pciSwizzle(slot, pin)].line());
    fn.onDecodeChange = () => {
      this.mappings = undefined;
      this.last = undefined;
    };
    this.mappings = undefined;
  }

  /** The lowest free slot on bus 0 at or after `from`, or undefined when the bus is full. */
  freeSlot(from = 1): number | undefined {
    for (let s = from; s < PCI_SLOTS_PER_BUS; s++) if (this.bus0[s << 3] === undefined) return s;
    return undefined;
  }

  /** The function an ECAM offset addresses, or undefined (other buses, empty slots). */
  functionAt(ecamOffset: number): PciFunction | undefined {
    if (!Number.isInteger(ecamOffset) || ecamOffset < 0) return undefined;
    if (Math.floor(ecamOffset / 2 ** PCIE_ECAM_BUS_SHIFT) !== 0) return undefined;
    return this.bus0[(ecamOffset >>> PCIE_ECAM_DEVFN_SHIFT) & 0xff];
  }

  /** Every function on bus 0 with its slot and function number. */
  functions(): { slot: number; func: number; fn: PciFunction }[] {
    const out: { slot: number; func: number; fn: PciFunction }[] = [];
    this.bus0.forEach((fn, devfn) => {
      if (fn !== undefined) out.push({ slot: devfn >>> 3, func: devfn & 7, fn });
    });
    return out;
  }

  /** The BAR that decodes [addr, addr + size) in `space`, if one does (overlapping BARs are the guest's bug: one of them answers). */
  decode(space: "mem" | "io", addr: number, size: number): PciBarMapping | undefined {
    const l = this.last;
    if (l !== undefined && l.space === space && addr >= l.base && addr + size <= l.base + l.size) return l;
    if (this.mappings === undefined) this.mappings = this.bus0.flatMap((fn) => fn?.barMappings() ?? []);
    for (const m of this.mappings) {
      if (m.space === space && addr >= m.base && addr + size <= m.base + m.size) {
        this.last = m;
        return m;
      }
    }
    return undefined;
  }
}
