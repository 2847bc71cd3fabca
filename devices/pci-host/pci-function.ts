// A PCI function's type-0 configuration space, modelled the way QEMU's hw/pci/pci.c does it: the
// 256 config bytes plus a per-byte write mask, so read-only fields ignore writes for free and BAR
// sizing falls out of the mask (writing all-ones reads back ~(size − 1) with the type bits).
// Everything here is written by the guest through ECAM: any offset, size and value is accepted and
// nothing throws (DESIGN.md §6). Layout: pci-regs.ts (Linux pci_regs.h).

import type { MmioDevice } from "../../src/core/bus.ts";
import type { IrqLine } from "../../src/core/irq.ts";
import { flag, record, SnapshotError } from "../../src/machine/state-check.ts";

/** A PCI function's config space in a snapshot: the 256 bytes (base64) and its INTx output's level. */
export interface PciFunctionState {
  config: string;
  intx: boolean;
}

import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_5,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CACHE_LINE_SIZE,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MFD,
  PCI_HEADER_TYPE_NORMAL,
  PCI_INTERRUPT_INTD,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_LATENCY_TIMER,
  PCI_NUM_BARS,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  PCI_STD_HEADER_SIZEOF,
  PCI_SUBDEVICE_ID_QEMU,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
  PCI_VENDOR_ID,
} from "./pci-regs.ts";

export interface PciIds {
  vendorId: number;
  deviceId: number;
  /** 24 bits: base class << 16 | subclass << 8 | programming interface. */
  classCode: number;
  revision?: number;
  /** Default: QEMU's 0x1af4 / 0x1100. */
  subsystemVendorId?: number;
  subsystemId?: number;
  /** 0 = no interrupt, 1…4 = INTA#…INTD#. */
  interruptPin?: number;
  multiFunction?: boolean;
}

export type PciBarKind = "mem32" | "mem64" | "io";

export interface PciBarSpec {
  kind: PciBarKind;
  /** A power of two: ≥ 16 bytes for memory, ≥ 4 for I/O. */
  size: number;
  prefetchable?: boolean;
  /** Answers accesses at offsets 0 … size − 1 of the BAR while it decodes. */
  device: MmioDevice;
}

/** A BAR that currently decodes: its bus address in its space, and who answers. */
export interface PciBarMapping {
  readonly space: "mem" | "io";
  readonly base: number;
  readonly size: number;
  readonly device: MmioDevice;
  readonly fn: PciFunction;
  readonly bar: number;
}

const TWO_32 = 4294967296;
/** Bus addresses at or past 2^53 are not exact as JS numbers and lie past every window anyway. */
const MAX_HI_DWORD = 1 << 21;

/** Sizes may exceed 2^32, so no bit tricks. */
function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}

export class PciFunction {
  /** The config bytes as the guest sees them (little-endian). */
  protected readonly config = new Uint8Array(PCI_CFG_SPACE_SIZE);
  /** 1 bits may be changed by the guest; everything else is read-only. */
  protected readonly wmask = new Uint8Array(PCI_CFG_SPACE_SIZE);
  private readonly bars: (PciBarSpec | undefined)[] = new Array(PCI_NUM_BARS).fill(undefined);
  private nextCap = PCI_STD_HEADER_SIZEOF;
  private lastCap = 0;
  private intxLevel = false;
  private intx: IrqLine | undefined;
  /** Set by the host: called whenever what this function decodes may have changed. */
  onDecodeChange: (() => void) | undefined;

  constructor(ids: PciIds) {
    this.set16(PCI_VENDOR_ID, ids.vendorId);
    this.set16(PCI_DEVICE_ID, ids.deviceId);
    this.config[PCI_REVISION_ID] = ids.revision ?? 0;
    this.config[PCI_CLASS_PROG] = ids.classCode & 0xff;
    this.set16(PCI_CLASS_PROG + 1, ids.classCode >>> 8);
    this.config[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL | (ids.multiFunction === true ? PCI_HEADER_TYPE_MFD : 0);
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, ids.subsystemVendorId ?? PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
    this.set16(PCI_SUBSYSTEM_ID, ids.subsystemId ?? PCI_SUBDEVICE_ID_QEMU);
    const pin = ids.interruptPin ?? 0;
    if (!Number.isInteger(pin) || pin < 0 || pin > PCI_INTERRUPT_INTD) throw new RangeError(`PCI interrupt pin ${pin}`);
    this.config[PCI_INTERRUPT_PIN] = pin;
    // What the guest may change in the header: QEMU's defaults for a conventional function.
    this.setMask(
      PCI_COMMAND,
      2,
      PCI_COMMAND_IO |
        PCI_COMMAND_MEMORY |
        PCI_COMMAND_MASTER |
        PCI_COMMAND_PARITY |
        PCI_COMMAND_SERR |
        PCI_COMMAND_INTX_DISABLE,
    );
    this.setMask(PCI_CACHE_LINE_SIZE, 1, 0xff);
    this.setMask(PCI_LATENCY_TIMER, 1, 0xff);
    this.setMask(PCI_INTERRUPT_LINE, 1, 0xff);
  }

  get vendorId(): number {
    return this.get16(PCI_VENDOR_ID);
  }
  get deviceId(): number {
    return this.get16(PCI_DEVICE_ID);
  }
  get command(): number {
    return this.get16(PCI_COMMAND);
  }
  get interruptPin(): number {
    return this.config[PCI_INTERRUPT_PIN];
  }
  /** Bus mastering (DMA) allowed by the driver. */
  get busMaster(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }
  /** The level this function drives on its INTx pin, before the command register's INTx disable. */
  get intxAsserted(): boolean {
    return this.intxLevel;
  }

  /** Config read of 1, 2 or 4 bytes at any offset in the 4 KiB ECAM page; past 256 bytes reads 0. */
  readConfig(off: number, size: number): number {
    if (!Number.isInteger(off) || off < 0 || off >= PCI_CFG_SPACE_EXP_SIZE) return 0;
    if (size !== 1 && size !== 2 && size !== 4) return 0;
    if (off < PCI_CFG_SPACE_SIZE) this.configRead(off, size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = off + i;
      v = v * 256 + (o < PCI_CFG_SPACE_SIZE ? this.config[o] : 0);
    }
    return v;
  }

  /** Config write: only the bits of the write mask change; BAR and command effects follow at once. */
  writeConfig(off: number, size: number, value: number): void {
    if (!Number.isInteger(off) || off < 0 || off >= PCI_CFG_SPACE_SIZE) return;
    if (size !== 1 && size !== 2 && size !== 4) return;
    const end = Math.min(off + size, PCI_CFG_SPACE_SIZE);
    const oldCommand = this.command;
    let v = Number.isFinite(value) ? value >>> 0 : 0;
    for (let o = off; o < end; o++, v >>>= 8) {
      const m = this.wmask[o];
      this.config[o] = (this.config[o] & ~m) | (v & m);
    }
    const touches = (lo: number, hi: number) => off < hi && end > lo;
    if (touches(PCI_COMMAND, PCI_COMMAND + 2) && this.command !== oldCommand) {
      this.updateIntx();
      this.onDecodeChange?.();
    } else if (touches(PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_5 + 4)) {
      this.onDecodeChange?.();
    }
    this.configWritten(off, end - off, value >>> 0);
  }

  /**
   * Declares BAR `index` (a 64-bit one also takes index + 1). Wiring-time only: a bad spec is a
   * board bug and throws.
   */
  defineBar(index: number, spec: PciBarSpec): void {
    const wide = spec.kind === "mem64";
    if (!Number.isInteger(index) || index < 0 || index + (wide ? 1 : 0) >= PCI_NUM_BARS) {
      throw new RangeError(`PCI BAR index ${index}`);
    }
    if (this.bars[index] !== undefined || (wide && this.bars[index + 1] !== undefined)) {
      throw new RangeError(`PCI BAR ${index} already defined`);
    }
    const min = spec.kind === "io" ? 4 : 16;
    const max = spec.kind === "mem64" ? 2 ** 40 : spec.kind === "io" ? 256 : 2 ** 31;
    if (!isPowerOfTwo(spec.size) || spec.size < min || spec.size > max) {
      throw new RangeError(`PCI BAR ${index} size ${spec.size}`);
    }
    const reg = PCI_BASE_ADDRESS_0 + 4 * index;
    let type: number;
    if (spec.kind === "io") type = PCI_BASE_ADDRESS_SPACE_IO;
    else type = (wide ? PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (spec.prefetchable ? PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
    this.set32(reg, type);
    // Address bits below the size are hard-wired to 0: this is what makes sizing read back ~(size − 1).
    const loMask = spec.size >= TWO_32 ? 0 : (~(spec.size - 1) & ~(spec.kind === "io" ? 0x3 : 0xf)) >>> 0;
    this.setMask(reg, 4, loMask);
    if (wide) {
      const hiMask = spec.size <= TWO_32 ? 0xffffffff : ~(spec.size / TWO_32 - 1) >>> 0;
      this.set32(reg + 4, 0);
      this.setMask(reg + 4, 4, hiMask);
      this.bars[index + 1] = undefined;
    }
    this.bars[index] = spec;
    this.onDecodeChange?.();
  }

  /**
   * Appends a capability of `length` bytes (ID and next pointer included) to the list at 0x34 and
   * returns its offset. Wiring-time only: throws when the 256-byte space is full.
   */
  addCapability(id: number, length: number): number {
    const off = this.nextCap;
    if (!Number.isInteger(length) || length < 2 || off + length > PCI_CFG_SPACE_SIZE) {
      throw new RangeError(`no room for a ${length}-byte PCI capability`);
    }
    this.config[off + PCI_CAP_LIST_ID] = id;
    this.config[off + PCI_CAP_LIST_NEXT] = 0;
    if (this.lastCap === 0) this.config[PCI_CAPABILITY_LIST] = off;
    else this.config[this.lastCap + PCI_CAP_LIST_NEXT] = off;
    this.lastCap = off;
    this.nextCap = (off + length + 3) & ~3; // Linux masks the low two bits of every pointer
    this.set16(PCI_STATUS, this.get16(PCI_STATUS) | PCI_STATUS_CAP_LIST);
    return off;
  }

  /** The BARs that decode right now (enabled in the command register, with an address). */
  barMappings(): PciBarMapping[] {
    const out: PciBarMapping[] = [];
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const spec = this.bars[i];
      if (spec === undefined) continue;
      const base = this.barAddress(i);
      if (base === undefined) continue;
      out.push({
        space: spec.kind === "io" ? "io" : "mem",
        base,
        size: spec.size,
        device: spec.device,
        fn: this,
        bar: i,
      });
    }
    return out;
  }

  /** The bus address BAR `index` decodes at, or undefined when it does not decode. */
  barAddress(index: number): number | undefined {
    const spec = this.bars[index];
    if (spec === undefined) return undefined;
    const reg = PCI_BASE_ADDRESS_0 + 4 * index;
    let base: number;
    if (spec.kind === "io") {
      if ((this.command & PCI_COMMAND_IO) === 0) return undefined;
      base = (this.get32(reg) & ~0x3) >>> 0;
    } else {
      if ((this.command & PCI_COMMAND_MEMORY) === 0) return undefined;
      const hi = spec.kind === "mem64" ? this.get32(reg + 4) : 0;
      if (hi >= MAX_HI_DWORD) return undefined;
      base = hi * TWO_32 + ((this.get32(reg) & ~0xf) >>> 0);
    }
    // Address 0 is how firmware says "unassigned". Like QEMU's pci_bar_address(), a 32-bit BAR whose
    // last byte reaches 0xffffffff does not decode: that is a sizing pattern left behind, not an address.
    if (base === 0) return undefined;
    if (spec.kind !== "mem64" && base + spec.size >= TWO_32) return undefined;
    return base;
  }

  /** Connects the function's INTx pin (the host does this, after swizzling). */
  connectIntx(line: IrqLine | undefined): void {
    this.intx = line;
    this.updateIntx();
  }

  /** The function's interrupt output (level). Masked by the command register's INTx disable bit. */
  setIntx(level: boolean): void {
    if (level === this.intxLevel) return;
    this.intxLevel = level;
    this.updateIntx();
  }

  /** For a snapshot. (A subclass with more state saves it beside this.) */
  saveState(): PciFunctionState {
    let bytes = "";
    for (const b of this.config) bytes += String.fromCharCode(b);
    return { config: btoa(bytes), intx: this.intxLevel };
  }

  /**
   * Restores saveState()'s output: the bits the guest can write (command, BARs, interrupt line, …) come from it,
   * the read-only ones stay this function's; the BARs decode again (onDecodeChange) and INTx is driven again.
   * Throws a SnapshotError naming the field, changing nothing, on anything else.
   */
  loadState(state: unknown, path = "pci"): void {
    const s = record(state, path);
    let bytes: string;
    try {
      bytes = typeof s.config === "string" ? atob(s.config) : "";
    } catch {
      bytes = "";
    }
    if (bytes.length !== PCI_CFG_SPACE_SIZE) {
      throw new SnapshotError(`${path}.config: not base64 of ${PCI_CFG_SPACE_SIZE} bytes`);
    }
    const intx = flag(s.intx, `${path}.intx`);
    for (let o = 0; o < PCI_CFG_SPACE_SIZE; o++) {
      const m = this.wmask[o];
      this.config[o] = (this.config[o] & ~m) | (bytes.charCodeAt(o) & m);
    }
    this.intxLevel = intx;
    this.updateIntx();
    this.onDecodeChange?.();
  }

  /** Power-on state of everything the guest can write (command, BARs, interrupt line, …). */
  resetConfig(): void {
    for (let o = 0; o < PCI_CFG_SPACE_SIZE; o++) this.config[o] &= ~this.wmask[o];
    this.updateIntx();
    this.onDecodeChange?.();
  }

  /** Hook: runs before a config read of [off, off + size) so a subclass can refresh live bytes. */
  protected configRead(_off: number, _size: number): void {}

  /** Hook: runs after a config write of [off, off + size) has been merged through the write mask. */
  protected configWritten(_off: number, _size: number, _value: number): void {}

  /** Makes the bits of `mask` writable in the `size`-byte field at `off` (little-endian). */
  protected setMask(off: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.wmask[off + i] = (mask >>> (8 * i)) & 0xff;
  }

  protected get16(off: number): number {
    return this.config[off] | (this.config[off + 1] << 8);
  }
  protected get32(off: number): number {
    return (this.get16(off) | (this.get16(off + 2) << 16)) >>> 0;
  }
  protected set16(off: number, v: number): void {
    this.config[off] = v & 0xff;
    this.config[off + 1] = (v >>> 8) & 0xff;
  }
  protected set32(off: number, v: number): void {
    this.set16(off, v & 0xffff);
    this.set16(off + 2, v >>> 16);
  }

  private updateIntx(): void {
    const status = this.get16(PCI_STATUS);
    this.set16(PCI_STATUS, this.intxLevel ? status | PCI_STATUS_INTERRUPT : status & ~PCI_STATUS_INTERRUPT);
    this.intx?.set(this.intxLevel && (this.command & PCI_COMMAND_INTX_DISABLE) === 0);
  }
}
