// virtio-mmio version 2 (virtio 1.2 §4.2.2, spec/virtio.md §5): one register window per device, as in
// QEMU's virt board slots. Register values are guest-controlled: any offset and size is accepted, wrong
// widths or unknown offsets read 0 / are ignored, nothing throws. The status handshake, feature
// negotiation and queues live in the shared TransportCore; this file only maps registers onto it and
// drives the IrqLine at level (InterruptStatus != 0).

import type { MmioDevice } from "../../src/core/bus.ts";
import type { GuestMemory } from "../../src/core/guest-memory.ts";
import type { IrqLine } from "../../src/core/irq.ts";
import { record, uint } from "../../src/machine/state-check.ts";
import {
  TransportCore,
  type TransportCoreState,
  type VirtioInterruptSink,
  type VirtioTransportSnapshot,
} from "./transport-core.ts";
import type { VirtioDevice } from "./virtio-device.ts";

export const VIRTIO_MMIO_MAGIC_VALUE = 0x000;
export const VIRTIO_MMIO_VERSION = 0x004;
export const VIRTIO_MMIO_DEVICE_ID = 0x008;
export const VIRTIO_MMIO_VENDOR_ID = 0x00c;
export const VIRTIO_MMIO_DEVICE_FEATURES = 0x010;
export const VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014;
export const VIRTIO_MMIO_DRIVER_FEATURES = 0x020;
export const VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024;
export const VIRTIO_MMIO_QUEUE_SEL = 0x030;
export const VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034;
export const VIRTIO_MMIO_QUEUE_NUM = 0x038;
export const VIRTIO_MMIO_QUEUE_READY = 0x044;
export const VIRTIO_MMIO_QUEUE_NOTIFY = 0x050;
export const VIRTIO_MMIO_INTERRUPT_STATUS = 0x060;
export const VIRTIO_MMIO_INTERRUPT_ACK = 0x064;
export const VIRTIO_MMIO_STATUS = 0x070;
export const VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080;
export const VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084;
export const VIRTIO_MMIO_QUEUE_AVAIL_LOW = 0x090;
export const VIRTIO_MMIO_QUEUE_AVAIL_HIGH = 0x094;
export const VIRTIO_MMIO_QUEUE_USED_LOW = 0x0a0;
export const VIRTIO_MMIO_QUEUE_USED_HIGH = 0x0a4;
export const VIRTIO_MMIO_SHM_SEL = 0x0ac;
export const VIRTIO_MMIO_SHM_LEN_LOW = 0x0b0;
export const VIRTIO_MMIO_SHM_LEN_HIGH = 0x0b4;
export const VIRTIO_MMIO_SHM_BASE_LOW = 0x0b8;
export const VIRTIO_MMIO_SHM_BASE_HIGH = 0x0bc;
export const VIRTIO_MMIO_QUEUE_RESET = 0x0c0;
export const VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc;
export const VIRTIO_MMIO_CONFIG = 0x100;

/** "virt" read as a little-endian u32. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
export const VIRTIO_MMIO_VERSION_MODERN = 2;
/** QEMU's vendor ID, "QEMU" little-endian; Linux ignores it. */
export const VIRTIO_MMIO_VENDOR_QEMU = 0x554d4551;
/** The board's slot size (QEMU virt: 0x1000 each). */
export const VIRTIO_MMIO_WINDOW_SIZE = 0x1000;

export class VirtioMmioTransport implements MmioDevice {
  readonly core: TransportCore;
  private readonly irq: IrqLine;
  private interruptStatus = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private shmSel = 0;

  constructor(device: VirtioDevice, mem: GuestMemory, irq: IrqLine) {
    this.irq = irq;
    const sink: VirtioInterruptSink = {
      raise: (bits) => {
        this.interruptStatus |= bits & 3;
        this.irq.set(this.interruptStatus !== 0);
      },
      clear: () => {
        this.interruptStatus = 0;
        this.irq.set(false);
      },
    };
    this.core = new TransportCore(device, mem, sink, "mmio");
    irq.set(false);
  }

  get device(): VirtioDevice {
    return this.core.device;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (offset >= VIRTIO_MMIO_CONFIG) return this.core.readConfig(offset - VIRTIO_MMIO_CONFIG, size);
    // Control registers are 32-bit, aligned (§4.2.2.2); other accesses read 0.
    if (size !== 4 || (offset & 3) !== 0) return 0;
    const core = this.core;
    switch (offset) {
      case VIRTIO_MMIO_MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
      case VIRTIO_MMIO_VERSION:
        return VIRTIO_MMIO_VERSION_MODERN;
      case VIRTIO_MMIO_DEVICE_ID:
        return core.device.deviceId;
      case VIRTIO_MMIO_VENDOR_ID:
        return VIRTIO_MMIO_VENDOR_QEMU;
      case VIRTIO_MMIO_DEVICE_FEATURES:
        return core.deviceFeatureWord(this.deviceFeaturesSel) >>> 0;
      case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return core.queue(this.queueSel)?.maxSize ?? 0;
      case VIRTIO_MMIO_QUEUE_READY:
        return core.queue(this.queueSel)?.ready ? 1 : 0;
      case VIRTIO_MMIO_INTERRUPT_STATUS:
        return this.interruptStatus;
      case VIRTIO_MMIO_STATUS:
        return core.status;
      case VIRTIO_MMIO_SHM_LEN_LOW:
      case VIRTIO_MMIO_SHM_LEN_HIGH:
      case VIRTIO_MMIO_SHM_BASE_LOW:
      case VIRTIO_MMIO_SHM_BASE_HIGH:
        // No shared-memory regions: all ones means "absent" (§4.2.2).
        return 0xffffffff;
      case VIRTIO_MMIO_QUEUE_RESET:
        return 0; // a queue reset completes at once
      case VIRTIO_MMIO_CONFIG_GENERATION:
        return core.configGeneration >>> 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset >= VIRTIO_MMIO_CONFIG) {
      this.core.writeConfig(offset - VIRTIO_MMIO_CONFIG, size, value);
      return;
    }
    if (size !== 4 || (offset & 3) !== 0) return;
    const core = this.core;
    const v = value >>> 0;
    const q = this.queueSel;
    switch (offset) {
      case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = v;
        return;
      case VIRTIO_MMIO_DRIVER_FEATURES:
        core.writeDriverFeatureWord(this.driverFeaturesSel, v);
        return;
      case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = v;
        return;
      case VIRTIO_MMIO_QUEUE_SEL:
        this.queueSel = v;
        return;
      case VIRTIO_MMIO_QUEUE_NUM:
        core.setQueueSize(q, v);
        return;
      case VIRTIO_MMIO_QUEUE_READY:
        core.setQueueReady(q, (v & 1) !== 0);
        return;
      case VIRTIO_MMIO_QUEUE_NOTIFY:
        // Without NOTIFICATION_DATA (never offered) the value is the queue index.
        core.notify(v);
        return;
      case VIRTIO_MMIO_INTERRUPT_ACK:
        this.interruptStatus &= ~v;
        this.irq.set(this.interruptStatus !== 0);
        return;
      case VIRTIO_MMIO_STATUS:
        core.writeStatus(v);
        return;
      case VIRTIO_MMIO_QUEUE_DESC_LOW:
      case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        core.setQueueAddress(q, "desc", offset === VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
        return;
      case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
      case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
        core.setQueueAddress(q, "driver", offset === VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
        return;
      case VIRTIO_MMIO_QUEUE_USED_LOW:
      case VIRTIO_MMIO_QUEUE_USED_HIGH:
        core.setQueueAddress(q, "device", offset === VIRTIO_MMIO_QUEUE_USED_HIGH, v);
        return;
      case VIRTIO_MMIO_SHM_SEL:
        this.shmSel = v;
        return;
      default:
        return;
    }
  }

  /** The board's power cycle: the same as the driver writing status 0. */
  reset(): void {
    this.core.reset();
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = this.shmSel = 0;
  }

  snapshot(): VirtioTransportSnapshot {
    return this.core.snapshot();
  }

  /** For a snapshot: the shared transport state and this window's selectors and interrupt status. */
  saveState(): VirtioMmioState {
    return {
      core: this.core.saveState(),
      interruptStatus: this.interruptStatus,
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      queueSel: this.queueSel,
      shmSel: this.shmSel,
    };
  }

  /** Restores saveState()'s output and drives the interrupt line again; a SnapshotError leaves the device reset. */
  loadState(state: unknown, path: string): void {
    const s = record(state, path);
    const interruptStatus = uint(s.interruptStatus, `${path}.interruptStatus`, 3);
    const sels = ["deviceFeaturesSel", "driverFeaturesSel", "queueSel", "shmSel"].map((k) =>
      uint(s[k], `${path}.${k}`),
    );
    this.core.loadState(s.core, `${path}.core`);
    [this.deviceFeaturesSel, this.driverFeaturesSel, this.queueSel, this.shmSel] = sels;
    // OR: the device may have raised one while restoring (virtio-net's link coming back).
    this.interruptStatus |= interruptStatus;
    this.irq.set(this.interruptStatus !== 0);
  }
}

export interface VirtioMmioState {
  core: TransportCoreState;
  interruptStatus: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  queueSel: number;
  shmSel: number;
}
