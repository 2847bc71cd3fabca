// The modern virtio-pci transport (virtio 1.2 §4.1, spec/virtio.md §6): a PCI function with vendor
// 0x1af4, device 0x1040 + virtio ID, revision 1, and vendor-specific capabilities that point into one
// 64-bit prefetchable memory BAR laid out as QEMU's hw/virtio/virtio-pci.c does (BAR 4, 16 KiB, one
// structure per 4 KiB page). There is no MSI controller on the virt board for Linux 6.1, so there is no
// MSI-X capability: Linux's vp_find_vqs() falls back to one shared INTx line, which the ISR byte drives.
// No legacy or transitional interface.
// Everything here is guest-controlled (config writes, BAR accesses of any offset and width): unknown
// offsets read 0, writes of the wrong width or to read-only fields are ignored, nothing throws. The
// status handshake, features and queues are the shared TransportCore's (the MMIO transport uses the
// same one), so any VirtioDevice works here unchanged.

import type { MmioDevice } from "../../src/core/bus.ts";
import type { GuestMemory } from "../../src/core/guest-memory.ts";
import { record, uint } from "../../src/machine/state-check.ts";
import { PciFunction, type PciFunctionState } from "../pci-host/pci-function.ts";
import { PCI_CAP_ID_VNDR, PCI_INTERRUPT_INTA } from "../pci-host/pci-regs.ts";
import {
  TransportCore,
  type TransportCoreState,
  type VirtioInterruptSink,
  type VirtioTransportSnapshot,
} from "./transport-core.ts";
import type { VirtioDevice } from "./virtio-device.ts";
import { VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE, VIRTIO_ID_NET } from "./virtio-ids.ts";

export const PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1af4;
/** Modern device ID = 0x1040 + virtio device ID (§4.1.2.1). */
export const VIRTIO_PCI_MODERN_DEVICE_ID_BASE = 0x1040;
/** Modern-only devices have revision ≥ 1 (§4.1.2.1); QEMU uses 1. */
export const VIRTIO_PCI_MODERN_REVISION = 1;

// cfg_type of struct virtio_pci_cap (§4.1.4; Linux include/uapi/linux/virtio_pci.h).
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;

// Byte offsets inside struct virtio_pci_cap / virtio_pci_notify_cap / virtio_pci_cfg_cap.
export const VIRTIO_PCI_CAP_VNDR = 0;
export const VIRTIO_PCI_CAP_NEXT = 1;
export const VIRTIO_PCI_CAP_LEN = 2;
export const VIRTIO_PCI_CAP_CFG_TYPE = 3;
export const VIRTIO_PCI_CAP_BAR = 4;
export const VIRTIO_PCI_CAP_ID = 5;
export const VIRTIO_PCI_CAP_OFFSET = 8;
export const VIRTIO_PCI_CAP_LENGTH = 12;
export const VIRTIO_PCI_NOTIFY_CAP_MULT = 16;
export const VIRTIO_PCI_CFG_CAP_DATA = 16;
const VIRTIO_PCI_CAP_SIZE = 16;
const VIRTIO_PCI_NOTIFY_CAP_SIZE = 20;
const VIRTIO_PCI_CFG_CAP_SIZE = 20;

// struct virtio_pci_common_cfg (§4.1.4.3).
export const VIRTIO_PCI_COMMON_DFSELECT = 0x00;
export const VIRTIO_PCI_COMMON_DF = 0x04;
export const VIRTIO_PCI_COMMON_GFSELECT = 0x08;
export const VIRTIO_PCI_COMMON_GF = 0x0c;
export const VIRTIO_PCI_COMMON_MSIX = 0x10;
export const VIRTIO_PCI_COMMON_NUMQ = 0x12;
export const VIRTIO_PCI_COMMON_STATUS = 0x14;
export const VIRTIO_PCI_COMMON_CFGGENERATION = 0x15;
export const VIRTIO_PCI_COMMON_Q_SELECT = 0x16;
export const VIRTIO_PCI_COMMON_Q_SIZE = 0x18;
export const VIRTIO_PCI_COMMON_Q_MSIX = 0x1a;
export const VIRTIO_PCI_COMMON_Q_ENABLE = 0x1c;
export const VIRTIO_PCI_COMMON_Q_NOFF = 0x1e;
export const VIRTIO_PCI_COMMON_Q_DESCLO = 0x20;
export const VIRTIO_PCI_COMMON_Q_DESCHI = 0x24;
export const VIRTIO_PCI_COMMON_Q_AVAILLO = 0x28;
export const VIRTIO_PCI_COMMON_Q_AVAILHI = 0x2c;
export const VIRTIO_PCI_COMMON_Q_USEDLO = 0x30;
export const VIRTIO_PCI_COMMON_Q_USEDHI = 0x34;
export const VIRTIO_PCI_COMMON_Q_NDATA = 0x38;
export const VIRTIO_PCI_COMMON_Q_RESET = 0x3a;
/** Bytes of the common config we model (through queue_reset). */
export const VIRTIO_PCI_COMMON_CFG_SIZE = 0x3c;
/** "No MSI-X vector": what every vector register reads, since there is no MSI-X. */
export const VIRTIO_MSI_NO_VECTOR = 0xffff;

/** The modern BAR and its layout: QEMU's modern_mem_bar_idx and region offsets. */
export const VIRTIO_PCI_MODERN_BAR = 4;
export const VIRTIO_PCI_MODERN_BAR_SIZE = 0x4000;
export const VIRTIO_PCI_COMMON_OFFSET = 0x0000;
export const VIRTIO_PCI_ISR_OFFSET = 0x1000;
export const VIRTIO_PCI_DEVICE_OFFSET = 0x2000;
export const VIRTIO_PCI_NOTIFY_OFFSET = 0x3000;
const VIRTIO_PCI_REGION_SIZE = 0x1000;
/** Bytes between queue notify addresses; queue q's notify_off is q (QEMU's virtio_pci_queue_mem_mult). */
export const VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER = 4;

// PCI class codes QEMU gives each device (hw/virtio/virtio-*-pci.c; PCI_CLASS_* in pci_ids.h).
const PCI_CLASS_NETWORK_ETHERNET = 0x020000;
const PCI_CLASS_STORAGE_SCSI = 0x010000;
const PCI_CLASS_COMMUNICATION_OTHER = 0x078000;
/** PCI_CLASS_OTHERS (0xff) set as the 16-bit class word: base class 0x00, subclass 0xff. */
const PCI_CLASS_OTHERS = 0x00ff00;

/** The class code a virtio device of type `deviceId` gets on PCI (what QEMU uses). */
export function virtioPciClassCode(deviceId: number): number {
  switch (deviceId) {
    case VIRTIO_ID_NET:
      return PCI_CLASS_NETWORK_ETHERNET;
    case VIRTIO_ID_BLOCK:
      return PCI_CLASS_STORAGE_SCSI;
    case VIRTIO_ID_CONSOLE:
      return PCI_CLASS_COMMUNICATION_OTHER;
    default:
      return PCI_CLASS_OTHERS; // rng and everything else
  }
}

/** Width of each common-config field, by offset (64-bit addresses are two 32-bit registers). */
const COMMON_FIELD_WIDTH: ReadonlyMap<number, number> = new Map([
  [VIRTIO_PCI_COMMON_DFSELECT, 4],
  [VIRTIO_PCI_COMMON_DF, 4],
  [VIRTIO_PCI_COMMON_GFSELECT, 4],
  [VIRTIO_PCI_COMMON_GF, 4],
  [VIRTIO_PCI_COMMON_MSIX, 2],
  [VIRTIO_PCI_COMMON_NUMQ, 2],
  [VIRTIO_PCI_COMMON_STATUS, 1],
  [VIRTIO_PCI_COMMON_CFGGENERATION, 1],
  [VIRTIO_PCI_COMMON_Q_SELECT, 2],
  [VIRTIO_PCI_COMMON_Q_SIZE, 2],
  [VIRTIO_PCI_COMMON_Q_MSIX, 2],
  [VIRTIO_PCI_COMMON_Q_ENABLE, 2],
  [VIRTIO_PCI_COMMON_Q_NOFF, 2],
  [VIRTIO_PCI_COMMON_Q_DESCLO, 4],
  [VIRTIO_PCI_COMMON_Q_DESCHI, 4],
  [VIRTIO_PCI_COMMON_Q_AVAILLO, 4],
  [VIRTIO_PCI_COMMON_Q_AVAILHI, 4],
  [VIRTIO_PCI_COMMON_Q_USEDLO, 4],
  [VIRTIO_PCI_COMMON_Q_USEDHI, 4],
  [VIRTIO_PCI_COMMON_Q_NDATA, 2],
  [VIRTIO_PCI_COMMON_Q_RESET, 2],
]);

const TWO_32 = 4294967296;

/** The modern BAR: common config, ISR, device config and notify, one 4 KiB page each. */
class ModernBar implements MmioDevice {
  constructor(private readonly t: VirtioPciTransport) {}
  read(offset: number, size: 1 | 2 | 4): number {
    return this.t.barRead(offset, size);
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.t.barWrite(offset, size, value);
  }
}

export class VirtioPciTransport extends PciFunction {
  readonly core: TransportCore;
  /** Kicks dropped because the driver had not enabled bus mastering (no DMA allowed). */
  kicksWithoutBusMaster = 0;
  private isr = 0;
  private dfselect = 0;
  private gfselect = 0;
  private queueSel = 0;
  /** Offset of the PCI_CFG capability, whose data window reaches into the BAR from config space. */
  private readonly cfgCap: number;

  constructor(device: VirtioDevice, mem: GuestMemory) {
    super({
      vendorId: PCI_VENDOR_ID_REDHAT_QUMRANET,
      deviceId: VIRTIO_PCI_MODERN_DEVICE_ID_BASE + device.deviceId,
      classCode: virtioPciClassCode(device.deviceId),
      revision: VIRTIO_PCI_MODERN_REVISION,
      interruptPin: PCI_INTERRUPT_INTA,
    });
    const sink: VirtioInterruptSink = {
      raise: (bits) => {
        this.isr |= bits & 3;
        this.setIntx(this.isr !== 0);
      },
      clear: () => {
        this.isr = 0;
        this.setIntx(false);
      },
    };
    this.core = new TransportCore(device, mem, sink, "pci");
    this.defineBar(VIRTIO_PCI_MODERN_BAR, {
      kind: "mem64",
      size: VIRTIO_PCI_MODERN_BAR_SIZE,
      prefetchable: true,
      device: new ModernBar(this),
    });
    // The same order as QEMU: common, ISR, device (only if the device has config), notify, PCI_CFG.
    this.addVirtioCap(VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFFSET);
    this.addVirtioCap(VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFFSET);
    if (device.configSize > 0) this.addVirtioCap(VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFFSET);
    const notify = this.addVirtioCap(VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFFSET, VIRTIO_PCI_NOTIFY_CAP_SIZE);
    this.set32(notify + VIRTIO_PCI_NOTIFY_CAP_MULT, VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER);
    // The PCI_CFG window: the driver picks bar/offset/length and moves data through pci_cfg_data.
    this.cfgCap = this.addVirtioCap(VIRTIO_PCI_CAP_PCI_CFG, 0, VIRTIO_PCI_CFG_CAP_SIZE, 0);
    this.setMask(this.cfgCap + VIRTIO_PCI_CAP_BAR, 1, 0xff);
    this.setMask(this.cfgCap + VIRTIO_PCI_CAP_OFFSET, 4, 0xffffffff);
    this.setMask(this.cfgCap + VIRTIO_PCI_CAP_LENGTH, 4, 0xffffffff);
    this.setMask(this.cfgCap + VIRTIO_PCI_CFG_CAP_DATA, 4, 0xffffffff);
  }

  get device(): VirtioDevice {
    return this.core.device;
  }

  /** The ISR byte without the read side effect (for tests and the UI). */
  get isrStatus(): number {
    return this.isr;
  }

  /** The board's power cycle: device reset plus the power-on config space. */
  reset(): void {
    this.core.reset();
    this.dfselect = this.gfselect = this.queueSel = 0;
    this.resetConfig();
  }

  snapshot(): VirtioTransportSnapshot {
    return this.core.snapshot();
  }

  /** For a snapshot: the function's config space, the shared transport state, the ISR and the selectors. */
  override saveState(): VirtioPciState {
    return {
      ...super.saveState(),
      core: this.core.saveState(),
      isr: this.isr,
      dfselect: this.dfselect,
      gfselect: this.gfselect,
      queueSel: this.queueSel,
    };
  }

  /** Restores saveState()'s output; a SnapshotError names the field (the device is then left reset). */
  override loadState(state: unknown, path = "pci"): void {
    const s = record(state, path);
    const isr = uint(s.isr, `${path}.isr`, 3);
    const sels = ["dfselect", "gfselect", "queueSel"].map((k) => uint(s[k], `${path}.${k}`));
    super.loadState(s, path);
    this.core.loadState(s.core, `${path}.core`);
    [this.dfselect, this.gfselect, this.queueSel] = sels;
    // OR: the device may have raised one while restoring (virtio-net's link coming back).
    this.isr |= isr;
    this.setIntx(this.isr !== 0);
  }

  /** A read of the modern BAR at `offset` (0 … 16 KiB − 1). */
  barRead(offset: number, size: 1 | 2 | 4): number {
    const region = Math.floor(offset / VIRTIO_PCI_REGION_SIZE) * VIRTIO_PCI_REGION_SIZE;
    const off = offset - region;
    switch (region) {
      case VIRTIO_PCI_COMMON_OFFSET:
        return this.commonRead(off, size);
      case VIRTIO_PCI_ISR_OFFSET: {
        if (off !== 0) return 0;
        // Reading the ISR acknowledges it and drops INTx (§4.1.4.5).
        const v = this.isr;
        this.isr = 0;
        this.setIntx(false);
        return v;
      }
      case VIRTIO_PCI_DEVICE_OFFSET:
        return this.core.readConfig(off, size);
      default:
        return 0; // the notify area reads 0
    }
  }

  /** A write of the modern BAR at `offset`. */
  barWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    const region = Math.floor(offset / VIRTIO_PCI_REGION_SIZE) * VIRTIO_PCI_REGION_SIZE;
    const off = offset - region;
    switch (region) {
      case VIRTIO_PCI_COMMON_OFFSET:
        this.commonWrite(off, size, value >>> 0);
        return;
      case VIRTIO_PCI_DEVICE_OFFSET:
        this.core.writeConfig(off, size, value);
        return;
      case VIRTIO_PCI_NOTIFY_OFFSET:
        this.notifyWrite(off);
        return;
      default:
        return; // the ISR is read-only
    }
  }

  protected override configRead(off: number, size: number): void {
    const data = this.cfgCap + VIRTIO_PCI_CFG_CAP_DATA;
    if (off < data + 4 && off + size > data) {
      const v = this.cfgWindow((o, n) => this.barRead(o, n));
      if (v !== undefined) this.set32(data, v);
    }
  }

  protected override configWritten(off: number, size: number): void {
    const data = this.cfgCap + VIRTIO_PCI_CFG_CAP_DATA;
    if (off < data + 4 && off + size > data) {
      const v = this.get32(data);
      this.cfgWindow((o, n) => {
        this.barWrite(o, n, v & (n === 4 ? 0xffffffff : (1 << (8 * n)) - 1));
        return 0;
      });
    }
  }

  /**
   * Runs one access through the PCI_CFG window as the capability describes it, if that is a valid
   * access: our BAR, a length of 1, 2 or 4, a naturally aligned offset inside the BAR (QEMU's rules).
   */
  private cfgWindow(access: (offset: number, size: 1 | 2 | 4) => number): number | undefined {
    const bar = this.config[this.cfgCap + VIRTIO_PCI_CAP_BAR];
    const offset = this.get32(this.cfgCap + VIRTIO_PCI_CAP_OFFSET);
    const len = this.get32(this.cfgCap + VIRTIO_PCI_CAP_LENGTH);
    if (bar !== VIRTIO_PCI_MODERN_BAR || (len !== 1 && len !== 2 && len !== 4)) return undefined;
    if (offset % len !== 0 || offset + len > VIRTIO_PCI_MODERN_BAR_SIZE) return undefined;
    return access(offset, len) >>> 0;
  }

  /** Appends a struct virtio_pci_cap for a region of the modern BAR; returns its config offset. */
  private addVirtioCap(
    cfgType: number,
    offset: number,
    capLen = VIRTIO_PCI_CAP_SIZE,
    length = VIRTIO_PCI_REGION_SIZE,
  ): number {
    const cap = this.addCapability(PCI_CAP_ID_VNDR, capLen);
    this.config[cap + VIRTIO_PCI_CAP_LEN] = capLen;
    this.config[cap + VIRTIO_PCI_CAP_CFG_TYPE] = cfgType;
    this.config[cap + VIRTIO_PCI_CAP_BAR] = cfgType === VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_MODERN_BAR;
    this.set32(cap + VIRTIO_PCI_CAP_OFFSET, offset);
    this.set32(cap + VIRTIO_PCI_CAP_LENGTH, length);
    return cap;
  }

  /** Reads compose the fields byte by byte, so any width at any offset sees what a struct read would. */
  private commonRead(off: number, size: number): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const b = off + i;
      if (b >= VIRTIO_PCI_COMMON_CFG_SIZE) {
        v *= 256;
        continue;
      }
      let start = b;
      while (start >= 0 && !COMMON_FIELD_WIDTH.has(start)) start--;
      const width = start >= 0 ? (COMMON_FIELD_WIDTH.get(start) ?? 0) : 0;
      const byte =
        start >= 0 && b < start + width ? Math.floor(this.commonField(start) / 2 ** (8 * (b - start))) & 0xff : 0;
      v = v * 256 + byte;
    }
    return v;
  }

  private commonField(off: number): number {
    const core = this.core;
    const q = this.queueSel;
    const vq = core.queue(q);
    switch (off) {
      case VIRTIO_PCI_COMMON_DFSELECT:
        return this.dfselect;
      case VIRTIO_PCI_COMMON_DF:
        return core.deviceFeatureWord(this.dfselect) >>> 0;
      case VIRTIO_PCI_COMMON_GFSELECT:
        return this.gfselect;
      case VIRTIO_PCI_COMMON_GF:
        return core.driverFeatureWord(this.gfselect) >>> 0;
      case VIRTIO_PCI_COMMON_MSIX:
      case VIRTIO_PCI_COMMON_Q_MSIX:
        return VIRTIO_MSI_NO_VECTOR;
      case VIRTIO_PCI_COMMON_NUMQ:
        return core.queues.length;
      case VIRTIO_PCI_COMMON_STATUS:
        return core.status;
      case VIRTIO_PCI_COMMON_CFGGENERATION:
        return core.configGeneration & 0xff;
      case VIRTIO_PCI_COMMON_Q_SELECT:
        return q;
      case VIRTIO_PCI_COMMON_Q_SIZE:
        return vq?.size ?? 0;
      case VIRTIO_PCI_COMMON_Q_ENABLE:
        return vq?.ready ? 1 : 0;
      case VIRTIO_PCI_COMMON_Q_NOFF:
        return vq !== undefined ? q : 0;
      case VIRTIO_PCI_COMMON_Q_DESCLO:
      case VIRTIO_PCI_COMMON_Q_DESCHI:
        return this.addressHalf(core.queueAddress(q, "desc"), off === VIRTIO_PCI_COMMON_Q_DESCHI);
      case VIRTIO_PCI_COMMON_Q_AVAILLO:
      case VIRTIO_PCI_COMMON_Q_AVAILHI:
        return this.addressHalf(core.queueAddress(q, "driver"), off === VIRTIO_PCI_COMMON_Q_AVAILHI);
      case VIRTIO_PCI_COMMON_Q_USEDLO:
      case VIRTIO_PCI_COMMON_Q_USEDHI:
        return this.addressHalf(core.queueAddress(q, "device"), off === VIRTIO_PCI_COMMON_Q_USEDHI);
      default:
        return 0; // queue_notify_data (NOTIF_CONFIG_DATA) and queue_reset (RING_RESET) are not offered
    }
  }

  private addressHalf(addr: number, high: boolean): number {
    return high ? Math.floor(addr / TWO_32) >>> 0 : addr >>> 0;
  }

  /** Writes must use the field's own width (§4.1.3.1); anything else is ignored. */
  private commonWrite(off: number, size: number, v: number): void {
    if (COMMON_FIELD_WIDTH.get(off) !== size) return;
    const core = this.core;
    const q = this.queueSel;
    switch (off) {
      case VIRTIO_PCI_COMMON_DFSELECT:
        this.dfselect = v;
        return;
      case VIRTIO_PCI_COMMON_GFSELECT:
        this.gfselect = v;
        return;
      case VIRTIO_PCI_COMMON_GF:
        core.writeDriverFeatureWord(this.gfselect, v);
        return;
      case VIRTIO_PCI_COMMON_STATUS:
        core.writeStatus(v & 0xff);
        if (core.status === 0) this.queueSel = 0;
        return;
      case VIRTIO_PCI_COMMON_Q_SELECT:
        this.queueSel = v & 0xffff;
        return;
      case VIRTIO_PCI_COMMON_Q_SIZE:
        core.setQueueSize(q, v & 0xffff);
        return;
      case VIRTIO_PCI_COMMON_Q_ENABLE:
        // Only 1 is meaningful: a modern driver may not write 0 without RING_RESET (§4.1.4.3.2).
        if ((v & 0xffff) === 1) core.setQueueReady(q, true);
        return;
      case VIRTIO_PCI_COMMON_Q_DESCLO:
      case VIRTIO_PCI_COMMON_Q_DESCHI:
        core.setQueueAddress(q, "desc", off === VIRTIO_PCI_COMMON_Q_DESCHI, v);
        return;
      case VIRTIO_PCI_COMMON_Q_AVAILLO:
      case VIRTIO_PCI_COMMON_Q_AVAILHI:
        core.setQueueAddress(q, "driver", off === VIRTIO_PCI_COMMON_Q_AVAILHI, v);
        return;
      case VIRTIO_PCI_COMMON_Q_USEDLO:
      case VIRTIO_PCI_COMMON_Q_USEDHI:
        core.setQueueAddress(q, "device", off === VIRTIO_PCI_COMMON_Q_USEDHI, v);
        return;
      default:
        // device_feature, num_queues, config_generation, queue_notify_off are read-only; the MSI-X
        // vector registers keep reading NO_VECTOR, which tells a driver that tries them it failed.
        return;
    }
  }

  /**
   * A kick. Like QEMU, the queue is the one whose notify address was written (offset / multiplier);
   * the value (the queue index, or NOTIFICATION_DATA, never offered) is not needed. A function the
   * driver has not made a bus master may not DMA, so its kicks are dropped.
   */
  private notifyWrite(off: number): void {
    if (!this.busMaster) {
      this.kicksWithoutBusMaster++;
      return;
    }
    this.core.notify(Math.floor(off / VIRTIO_PCI_NOTIFY_OFF_MULTIPLIER));
  }
}

export interface VirtioPciState extends PciFunctionState {
  core: TransportCoreState;
  isr: number;
  dfselect: number;
  gfselect: number;
  queueSel: number;
}
