// What every virtio transport shares, whatever its registers look like: the device status state
// machine, feature negotiation, per-queue setup, activation at DRIVER_OK, kicks, DEVICE_NEEDS_RESET and
// interrupt requests (virtio 1.2 §2.1, §2.2, §3.1; spec/virtio.md §2, §3, §7). The MMIO transport
// (mmio-transport.ts) and the PCI transport (pci-transport*.ts) own one TransportCore each and only
// translate their register layouts into these calls, plus deliver interrupts through a sink.
// Register values come from the guest: every call here accepts any number and never throws.

import type { GuestMemory } from "../../src/core/guest-memory.ts";
import { flag, list, record, SnapshotError, u64, u64Text, uint } from "../../src/machine/state-check.ts";
import {
  featureMask,
  statusNames,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
} from "./features.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioDeviceSnapshot } from "./virtio-device.ts";
import { Virtqueue, type VirtqueueError, type VirtqueueState, type VirtqueueStats } from "./virtqueue.ts";

/** A transport's shared state in a snapshot (issue 15); the register windows save their selectors beside it. */
export interface TransportCoreState {
  status: number;
  driverFeatures: string;
  negotiated: string;
  generation: number;
  resetReason: string | null;
  /** The device was activated (DRIVER_OK) and not stopped since. */
  active: boolean;
  queues: VirtqueueState[];
  /** VirtioDevice.saveState(), or null for a device without state of its own. */
  device: unknown;
}

/**
 * Interrupt-status bits. The same values serve MMIO InterruptStatus (§4.2.2: VIRTIO_MMIO_INT_VRING,
 * VIRTIO_MMIO_INT_CONFIG) and the PCI ISR byte (§4.1.4.5: queue interrupt, device config interrupt).
 */
export const VIRTIO_INT_VRING = 1;
export const VIRTIO_INT_CONFIG = 2;

/** How a transport turns interrupt requests into a wire level. */
export interface VirtioInterruptSink {
  /** OR `bits` (VIRTIO_INT_*) into the transport's interrupt status and assert its line. */
  raise(bits: number): void;
  /** Device reset: clear the interrupt status and drop the line. */
  clear(): void;
}

/** Which of a queue's three guest-physical addresses a register write targets. */
export type QueueAddressField = "desc" | "driver" | "device";

/** Transport-level misbehaviour, counted for the UI. */
export interface TransportStats {
  /** QueueNotify for a queue that does not exist. */
  unknownQueueNotifies: number;
  /** Kicks before DRIVER_OK or on a queue that is not ready (ignored). */
  ignoredNotifies: number;
  /** FEATURES_OK refused (bits not offered, VERSION_1 missing, or vetoed by the device). */
  featuresRefused: number;
  /** Exceptions that escaped a device call (a device bug; turned into DEVICE_NEEDS_RESET). */
  deviceExceptions: number;
  resets: number;
}

export interface VirtioQueueSnapshot extends VirtqueueStats {
  index: number;
  name: string;
  size: number;
  maxSize: number;
  ready: boolean;
  broken: boolean;
  eventIdx: boolean;
  indirect: boolean;
  /** Guest-physical addresses of the descriptor table, driver (avail) and device (used) rings. */
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
}

/** One device's state for the UI (structured-clone safe). */
export interface VirtioTransportSnapshot {
  name: string;
  deviceId: number;
  transport: string;
  status: number;
  statusNames: string[];
  offered: bigint;
  negotiated: bigint;
  configGeneration: number;
  needsResetReason: string | undefined;
  queues: VirtioQueueSnapshot[];
  stats: TransportStats;
  device: VirtioDeviceSnapshot | undefined;
}

/** The context handed to a device at DRIVER_OK; `active` turns false at reset / NEEDS_RESET. */
class Context implements VirtioDeviceContext {
  active = true;
  constructor(
    private readonly core: TransportCore,
    readonly mem: GuestMemory,
    readonly queues: readonly Virtqueue[],
    readonly features: bigint,
  ) {}
  signalUsed(queue: number): void {
    if (this.active) this.core.signalUsed(queue);
  }
  signalConfig(): void {
    if (this.active) this.core.signalConfig();
  }
  needsReset(reason: string): void {
    if (this.active) this.core.needsReset(reason);
  }
}

export class TransportCore {
  readonly device: VirtioDevice;
  readonly mem: GuestMemory;
  readonly queues: readonly Virtqueue[];
  /** "mmio" or "pci", for the UI. */
  readonly transport: string;
  readonly stats: TransportStats = {
    unknownQueueNotifies: 0,
    ignoredNotifies: 0,
    featuresRefused: 0,
    deviceExceptions: 0,
    resets: 0,
  };
  private readonly sink: VirtioInterruptSink;
  private statusValue = 0;
  private driverFeatures = 0n;
  private negotiated = 0n;
  private generation = 0;
  private ctx: Context | undefined;
  private resetReason: string | undefined;

  constructor(device: VirtioDevice, mem: GuestMemory, sink: VirtioInterruptSink, transport: string) {
    if ((device.features & featureMask(VIRTIO_F_VERSION_1)) === 0n) {
      throw new RangeError(`${device.name}: a modern transport needs a device offering VIRTIO_F_VERSION_1`);
    }
    this.device = device;
    this.mem = mem;
    this.sink = sink;
    this.transport = transport;
    this.queues = device.queues.map((q, i) => {
      const vq = new Virtqueue(mem, i, q.maxSize);
      vq.onError = (err) => this.queueError(err);
      return vq;
    });
  }

  get status(): number {
    return this.statusValue;
  }
  /** The feature set fixed at FEATURES_OK (0 before). */
  get features(): bigint {
    return this.negotiated;
  }
  /** Bumped whenever the device signals a config change (MMIO ConfigGeneration; PCI config_generation & 0xff). */
  get configGeneration(): number {
    return this.generation;
  }
  get driverOk(): boolean {
    return (this.statusValue & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 && this.ctx?.active === true;
  }

  /** 32 offered feature bits of word `sel` (0: bits 0–31, 1: bits 32–63, …); 0 past the end. */
  deviceFeatureWord(sel: number): number {
    if (!Number.isInteger(sel) || sel < 0 || sel > 3) return 0;
    return Number((this.device.features >> BigInt(32 * sel)) & 0xffffffffn);
  }

  /** 32 accepted feature bits of word `sel` as the driver wrote them. */
  driverFeatureWord(sel: number): number {
    if (!Number.isInteger(sel) || sel < 0 || sel > 3) return 0;
    return Number((this.driverFeatures >> BigInt(32 * sel)) & 0xffffffffn);
  }

  /** The driver's accepted bits for word `sel`; ignored once FEATURES_OK is set (features are frozen). */
  writeDriverFeatureWord(sel: number, value: number): void {
    if (!Number.isInteger(sel) || sel < 0 || sel > 3) return;
    if ((this.statusValue & VIRTIO_CONFIG_S_FEATURES_OK) !== 0) return;
    const shift = BigInt(32 * sel);
    const mask = 0xffffffffn << shift;
    this.driverFeatures = (this.driverFeatures & ~mask) | (BigInt(value >>> 0) << shift);
  }

  /**
   * A write of the device status (§2.1, §3.1). 0 resets. The device-owned DEVICE_NEEDS_RESET bit is
   * kept. FEATURES_OK is refused (left clear on read-back) unless the driver's set is a subset of the
   * offer, includes VERSION_1 and passes the device's own check. DRIVER_OK activates the device.
   */
  writeStatus(value: number): void {
    const v = value & 0xff;
    if (v === 0) {
      this.reset();
      return;
    }
    const old = this.statusValue;
    let next = (v & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (old & VIRTIO_CONFIG_S_NEEDS_RESET);
    if ((next & VIRTIO_CONFIG_S_FEATURES_OK) !== 0 && (old & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
      if (this.acceptFeatures()) this.negotiated = this.driverFeatures;
      else {
        next &= ~VIRTIO_CONFIG_S_FEATURES_OK;
        this.stats.featuresRefused++;
      }
    }
    // The spec's order: DRIVER_OK only after FEATURES_OK was accepted.
    if ((next & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 && (next & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
      next &= ~VIRTIO_CONFIG_S_DRIVER_OK;
    }
    this.statusValue = next;
    if ((next & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 && (old & VIRTIO_CONFIG_S_DRIVER_OK) === 0) this.activate();
  }

  /** The queue at `index`, or undefined if the device has none there (QueueNumMax / queue_size read 0). */
  queue(index: number): Virtqueue | undefined {
    return Number.isInteger(index) && index >= 0 ? this.queues[index] : undefined;
  }

  /** QueueNum / queue_size: the driver's size; ignored while the queue is enabled. Validated at enable. */
  setQueueSize(index: number, size: number): void {
    const vq = this.queue(index);
    if (vq !== undefined && !vq.ready) vq.size = size >>> 0;
  }

  /** One 32-bit half of a queue address (high = bits 32–63); ignored while the queue is enabled. */
  setQueueAddress(index: number, field: QueueAddressField, high: boolean, value: number): void {
    const vq = this.queue(index);
    if (vq === undefined || vq.ready) return;
    const key = field === "desc" ? "descAddr" : field === "driver" ? "driverAddr" : "deviceAddr";
    const cur = vq[key];
    const lo = cur % 4294967296;
    const hi = Math.floor(cur / 4294967296);
    vq[key] = high ? (value >>> 0) * 4294967296 + lo : hi * 4294967296 + (value >>> 0);
  }

  /** The full 64-bit address of a queue part, for read-back registers (PCI). */
  queueAddress(index: number, field: QueueAddressField): number {
    const vq = this.queue(index);
    if (vq === undefined) return 0;
    return field === "desc" ? vq.descAddr : field === "driver" ? vq.driverAddr : vq.deviceAddr;
  }

  /**
   * QueueReady / queue_enable. Enabling validates the size and the rings; a queue that fails stays
   * disabled (reads back 0) and the device is marked DEVICE_NEEDS_RESET. Writing 0 stops the queue.
   */
  setQueueReady(index: number, ready: boolean): void {
    const vq = this.queue(index);
    if (vq === undefined) return;
    if (!ready) {
      vq.disable();
      return;
    }
    if (vq.ready || (this.statusValue & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0) return;
    const err = vq.enable();
    if (err !== undefined) return; // queueError() has already asked for a reset
    if (this.ctx?.active) {
      // Enabled after DRIVER_OK (per-queue reset): configure it and look at it at once.
      this.configureQueue(vq);
      this.guard(() => this.device.notify(index));
    }
  }

  /** A kick (QueueNotify / a write to the notify area). Ignored before DRIVER_OK or for a queue not ready. */
  notify(index: number): void {
    const vq = this.queue(index);
    if (vq === undefined) {
      this.stats.unknownQueueNotifies++;
      return;
    }
    vq.stats.kicks++;
    if (!this.driverOk || !vq.ready || vq.broken) {
      this.stats.ignoredNotifies++;
      return;
    }
    this.guard(() => this.device.notify(index));
  }

  /** A config-space read; 0 outside the device's config (never throws). */
  readConfig(offset: number, size: 1 | 2 | 4): number {
    if (!this.configInRange(offset, size)) return 0;
    let v = 0;
    this.guard(() => {
      v = this.device.readConfig(offset, size);
    });
    return v >>> 0;
  }

  /** A config-space write; ignored outside the device's config. */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    if (!this.configInRange(offset, size)) return;
    this.guard(() => this.device.writeConfig(offset, size, value));
  }

  /** Device reset (status 0): queues, features, interrupt status and the device's own state. */
  reset(): void {
    if (this.ctx !== undefined) this.ctx.active = false;
    this.ctx = undefined;
    this.statusValue = 0;
    this.driverFeatures = 0n;
    this.negotiated = 0n;
    this.resetReason = undefined;
    for (const vq of this.queues) vq.reset();
    this.stats.resets++;
    this.sink.clear();
    try {
      this.device.reset();
    } catch {
      this.stats.deviceExceptions++;
    }
  }

  /** Used buffers were pushed on `queue`: interrupt if the driver wants one (NO_INTERRUPT / used_event). */
  signalUsed(queue: number): void {
    const vq = this.queue(queue);
    if (vq === undefined || !this.driverOk) return;
    if (vq.shouldInterrupt()) this.sink.raise(VIRTIO_INT_VRING);
  }

  /** The device's config changed: new generation, and a config interrupt once the driver is live. */
  signalConfig(): void {
    this.generation = (this.generation + 1) >>> 0;
    if ((this.statusValue & VIRTIO_CONFIG_S_DRIVER_OK) !== 0) this.sink.raise(VIRTIO_INT_CONFIG);
  }

  /**
   * An unrecoverable guest error (§2.1.2): DEVICE_NEEDS_RESET, every queue stopped, the device's context
   * deactivated, and a config interrupt if the driver is live. Only a reset clears it.
   */
  needsReset(reason: string): void {
    if ((this.statusValue & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0) return;
    this.resetReason = reason;
    this.statusValue |= VIRTIO_CONFIG_S_NEEDS_RESET;
    if (this.ctx !== undefined) this.ctx.active = false;
    for (const vq of this.queues) vq.stop();
    if ((this.statusValue & VIRTIO_CONFIG_S_DRIVER_OK) !== 0) {
      this.generation = (this.generation + 1) >>> 0;
      this.sink.raise(VIRTIO_INT_CONFIG);
    }
  }

  /** Lets the device finish asynchronous work before a save (VirtioDevice.quiesce). */
  async quiesce(): Promise<void> {
    await this.device.quiesce?.();
  }

  saveState(): TransportCoreState {
    return {
      status: this.statusValue,
      driverFeatures: u64Text(this.driverFeatures),
      negotiated: u64Text(this.negotiated),
      generation: this.generation,
      resetReason: this.resetReason ?? null,
      active: this.ctx?.active === true,
      queues: this.queues.map((vq) => vq.saveState()),
      device: this.device.saveState?.() ?? null,
    };
  }

  /**
   * Restores saveState()'s output (guest RAM already restored): status, features, queues, then the device —
   * activated again if it was live, its own state loaded, every ready queue looked at once. Features the
   * device does not offer, a DRIVER_OK without FEATURES_OK or queues that do not fit RAM are refused with a
   * SnapshotError naming the field; a refused state leaves the transport reset, as at power-on.
   */
  loadState(state: unknown, path: string): void {
    try {
      this.loadUnchecked(state, path);
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  private loadUnchecked(state: unknown, path: string): void {
    const s = record(state, path);
    const status = uint(s.status, `${path}.status`, 0xff);
    const driverFeatures = u64(s.driverFeatures, `${path}.driverFeatures`);
    const negotiated = u64(s.negotiated, `${path}.negotiated`);
    const generation = uint(s.generation, `${path}.generation`);
    const reason = s.resetReason;
    if (reason !== null && typeof reason !== "string")
      throw new SnapshotError(`${path}.resetReason: not a string or null`);
    const active = flag(s.active, `${path}.active`);
    if ((status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0) {
      if (negotiated !== driverFeatures) throw new SnapshotError(`${path}.negotiated: not the driver's features`);
      this.driverFeatures = negotiated;
      if (!this.acceptFeatures()) {
        throw new SnapshotError(`${path}.negotiated: features this device does not offer or accept`);
      }
    } else if (negotiated !== 0n) {
      throw new SnapshotError(`${path}.negotiated: set without FEATURES_OK`);
    } else if ((driverFeatures & ~this.device.features) !== 0n) {
      throw new SnapshotError(`${path}.driverFeatures: features this device does not offer`);
    }
    if ((status & VIRTIO_CONFIG_S_DRIVER_OK) !== 0 && (status & VIRTIO_CONFIG_S_FEATURES_OK) === 0) {
      throw new SnapshotError(`${path}.status: DRIVER_OK without FEATURES_OK`);
    }
    const needsReset = (status & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0;
    if (active && ((status & VIRTIO_CONFIG_S_DRIVER_OK) === 0 || needsReset)) {
      throw new SnapshotError(`${path}.active: live without DRIVER_OK, or with DEVICE_NEEDS_RESET`);
    }
    const queues = list(s.queues, `${path}.queues`, this.queues.length, (q) => q);
    if (this.device.loadState === undefined && s.device !== null) {
      throw new SnapshotError(`${path}.device: ${this.device.name} keeps no state of its own`);
    }

    this.reset();
    this.statusValue = status;
    this.driverFeatures = driverFeatures;
    this.negotiated = negotiated;
    this.generation = generation;
    this.resetReason = reason ?? undefined;
    for (const [i, q] of queues.entries()) this.queues[i].loadState(q, `${path}.queues[${i}]`);
    // What follows from the negotiated features comes from them, not from the file.
    for (const vq of this.queues) this.configureQueue(vq);
    if (active) {
      const ctx = new Context(this, this.mem, this.queues, this.negotiated);
      this.ctx = ctx;
      this.device.activate(ctx);
    }
    this.device.loadState?.(s.device, `${path}.device`);
    if (active) {
      for (let i = 0; i < this.queues.length; i++) {
        if (this.ctx?.active && this.queues[i].ready) this.guard(() => this.device.notify(i));
      }
    }
  }

  /** Why DEVICE_NEEDS_RESET was set, if it is. */
  get needsResetReason(): string | undefined {
    return this.resetReason;
  }

  snapshot(): VirtioTransportSnapshot {
    let device: VirtioDeviceSnapshot | undefined;
    try {
      device = this.device.snapshot?.();
    } catch {
      device = undefined;
    }
    return {
      name: this.device.name,
      deviceId: this.device.deviceId,
      transport: this.transport,
      status: this.statusValue,
      statusNames: statusNames(this.statusValue),
      offered: this.device.features,
      negotiated: this.negotiated,
      configGeneration: this.generation,
      needsResetReason: this.resetReason,
      queues: this.queues.map((vq, i) => ({
        ...vq.stats,
        errors: { ...vq.stats.errors },
        index: i,
        name: this.device.queues[i].name ?? `queue${i}`,
        size: vq.size,
        maxSize: vq.maxSize,
        ready: vq.ready,
        broken: vq.broken,
        eventIdx: vq.eventIdx,
        indirect: vq.indirectDesc,
        descAddr: vq.descAddr,
        driverAddr: vq.driverAddr,
        deviceAddr: vq.deviceAddr,
      })),
      stats: { ...this.stats },
      device,
    };
  }

  private acceptFeatures(): boolean {
    const f = this.driverFeatures;
    if ((f & ~this.device.features) !== 0n) return false;
    if ((f & featureMask(VIRTIO_F_VERSION_1)) === 0n) return false;
    if (this.device.validateFeatures === undefined) return true;
    let ok = false;
    this.guard(() => {
      ok = this.device.validateFeatures!(f);
    });
    return ok;
  }

  private configureQueue(vq: Virtqueue): void {
    vq.eventIdx = (this.negotiated & featureMask(VIRTIO_F_RING_EVENT_IDX)) !== 0n;
    vq.indirectDesc = (this.negotiated & featureMask(VIRTIO_F_RING_INDIRECT_DESC)) !== 0n;
  }

  private activate(): void {
    if ((this.statusValue & VIRTIO_CONFIG_S_NEEDS_RESET) !== 0) return;
    for (const vq of this.queues) this.configureQueue(vq);
    const ctx = new Context(this, this.mem, this.queues, this.negotiated);
    this.ctx = ctx;
    this.guard(() => this.device.activate(ctx));
    // Buffers may have been posted before DRIVER_OK with no kick after it: look at every ready queue once.
    for (let i = 0; i < this.queues.length; i++) {
      if (ctx.active && this.queues[i].ready) this.guard(() => this.device.notify(i));
    }
  }

  private queueError(err: VirtqueueError): void {
    if (err.fatal) this.needsReset(err.message);
  }

  private configInRange(offset: number, size: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset + size <= this.device.configSize;
  }

  /** Runs a device callback; an exception (a device bug) becomes DEVICE_NEEDS_RESET instead of reaching the hart. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.stats.deviceExceptions++;
      this.needsReset(`${this.device.name} threw: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** Status bits a driver may have set, for tests and the UI. */
export const VIRTIO_DRIVER_STATUS_BITS =
  VIRTIO_CONFIG_S_ACKNOWLEDGE |
  VIRTIO_CONFIG_S_DRIVER |
  VIRTIO_CONFIG_S_FEATURES_OK |
  VIRTIO_CONFIG_S_DRIVER_OK |
  VIRTIO_CONFIG_S_FAILED;
