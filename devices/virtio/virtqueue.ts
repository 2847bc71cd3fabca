// The split virtqueue (virtio 1.2 §2.7, spec/virtio.md §4) over GuestMemory, device side.
// THIS FILE READS GUEST-CONTROLLED MEMORY: the descriptor table, the available ring and every indirect
// table are written by a driver we do not trust (DESIGN.md §6, spec/virtio.md §9). Every index is
// range-checked, every descriptor is copied into locals once before it is validated (no TOCTOU), a
// chain carries a time-to-live equal to its table's size so a loop ends, and every misbehaviour is a
// named VirtqueueError: ring-level ones stop the queue and ask the transport for DEVICE_NEEDS_RESET,
// chain-level ones return that one chain to the driver unused (len 0). Nothing here throws to a device.

import type { GuestMemory } from "../../src/core/guest-memory.ts";
import { flag, record, SnapshotError, uint } from "../../src/machine/state-check.ts";

// Descriptor flags (§2.7.5) and ring flags (§2.7.6, §2.7.8).
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Bytes per descriptor (addr le64, len le32, flags le16, next le16). */
export const VIRTQ_DESC_SIZE = 16;
/** Largest queue we implement (the spec allows 32768; Linux uses what the device offers). */
export const VIRTQUEUE_MAX_SIZE = 1024;
/** Largest indirect table we follow; Linux's tables are seg_max + 2 or MAX_SKB_FRAGS + 2 long. */
export const VIRTQUEUE_MAX_INDIRECT = 1024;
/** A chain's total length is a u32 in the used ring (§2.7.4). */
export const VIRTQUEUE_MAX_CHAIN_BYTES = 0xffffffff;

const DESC_ALIGN = 16;
const AVAIL_ALIGN = 2;
const USED_ALIGN = 4;

/** Every way a driver can break a split ring, by name (rust-vmm / Firecracker style, STYLE.md). */
export type VirtqueueErrorKind =
  // Queue setup (checked when the driver enables the queue).
  | "bad-queue-size"
  | "ring-misaligned"
  | "ring-outside-ram"
  // The available ring.
  | "avail-index-jump"
  | "head-out-of-range"
  // One descriptor chain.
  | "next-out-of-range"
  | "chain-too-long"
  | "chain-too-large"
  | "buffer-outside-ram"
  | "readable-after-writable"
  | "indirect-not-negotiated"
  | "indirect-with-next"
  | "nested-indirect"
  | "indirect-table-empty"
  | "indirect-table-length"
  | "indirect-table-too-large"
  | "indirect-outside-ram";

export const VIRTQUEUE_ERROR_KINDS: readonly VirtqueueErrorKind[] = [
  "bad-queue-size",
  "ring-misaligned",
  "ring-outside-ram",
  "avail-index-jump",
  "head-out-of-range",
  "next-out-of-range",
  "chain-too-long",
  "chain-too-large",
  "buffer-outside-ram",
  "readable-after-writable",
  "indirect-not-negotiated",
  "indirect-with-next",
  "nested-indirect",
  "indirect-table-empty",
  "indirect-table-length",
  "indirect-table-too-large",
  "indirect-outside-ram",
];

/**
 * Fatal errors break the queue as a whole (the ring itself cannot be trusted): the queue stops and the
 * transport sets DEVICE_NEEDS_RESET. The rest spoil one chain, which goes back to the driver with len 0.
 */
const FATAL: ReadonlySet<VirtqueueErrorKind> = new Set<VirtqueueErrorKind>([
  "bad-queue-size",
  "ring-misaligned",
  "ring-outside-ram",
  "avail-index-jump",
  "head-out-of-range",
]);

export class VirtqueueError extends Error {
  readonly fatal: boolean;
  constructor(
    readonly kind: VirtqueueErrorKind,
    readonly queue: number,
    detail: string,
  ) {
    super(`virtqueue ${queue}: ${kind}: ${detail}`);
    this.name = "VirtqueueError";
    this.fatal = FATAL.has(kind);
  }
}

/**
 * A validated descriptor chain: device-readable segments, then device-writable ones, each a zero-copy
 * view of guest RAM (zero-length descriptors are left out). The bytes stay guest-controlled: a device
 * copies a header out before validating it.
 */
export interface DescriptorChain {
  /** Head descriptor index: the id the used ring reports back. */
  readonly head: number;
  readonly readable: readonly Uint8Array[];
  readonly writable: readonly Uint8Array[];
  /** Guest-physical address of each writable segment (for GuestMemory.notifyDma). */
  readonly writableGpa: readonly number[];
  readonly readableBytes: number;
  readonly writableBytes: number;
  /** The queue generation it was popped in; push() drops chains from before a reset. */
  readonly epoch: number;
}

/** Counters for the UI; cumulative across resets except the position fields. */
export interface VirtqueueStats {
  kicks: number;
  chainsPopped: number;
  /** Readable bytes of the chains popped (what the driver handed the device). */
  bytesRead: number;
  /** Bytes the device reported written into writable segments. */
  bytesWritten: number;
  interruptsRaised: number;
  interruptsSuppressed: number;
  /** avail.idx as last read from the ring. */
  lastAvailIdx: number;
  /** used.idx as last written. */
  lastUsedIdx: number;
  /** Chains popped and not yet pushed. */
  inFlight: number;
  /** Chains returned unused because they broke a rule. */
  chainsDropped: number;
  errors: Partial<Record<VirtqueueErrorKind, number>>;
}

/**
 * A queue as a snapshot holds it (issue 15): what the driver set up and where the device is in the rings. The
 * rings themselves are guest RAM. Chains a device holds (popped, not yet used) are the device's to save, by
 * head index; chainAt() walks them again after a restore.
 */
export interface VirtqueueState {
  size: number;
  /** Guest-physical ring addresses (below 2^53). */
  desc: number;
  driver: number;
  device: number;
  ready: boolean;
  broken: boolean;
  eventIdx: boolean;
  indirect: boolean;
  maxChainBytes: number;
  /** Next avail index the device will read, the used index it wrote last, the used index last signalled. */
  lastAvail: number;
  usedIdx: number;
  signalledUsed: number;
  notifyEnabled: boolean;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** need_event from virtio 1.2's virtio-queue.h: did moving old → new cross event? (all u16) */
export function vringNeedEvent(event: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - event - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class Virtqueue {
  readonly index: number;
  readonly maxSize: number;
  /** The driver's chosen size (QueueNum / queue_size); validated by enable(). */
  size: number;
  /** Guest-physical addresses of the descriptor table, available ring ("driver area") and used ring ("device area"). */
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  /** Set by the transport at DRIVER_OK from the negotiated features. */
  eventIdx = false;
  indirectDesc = false;
  /** A device may lower this (e.g. net: one packet); a longer chain is dropped as "chain-too-large". */
  maxChainBytes = VIRTQUEUE_MAX_CHAIN_BYTES;
  /** Called for every error (after counting); the transport turns fatal ones into DEVICE_NEEDS_RESET. */
  onError: ((err: VirtqueueError) => void) | undefined;
  readonly stats: VirtqueueStats = {
    kicks: 0,
    chainsPopped: 0,
    bytesRead: 0,
    bytesWritten: 0,
    interruptsRaised: 0,
    interruptsSuppressed: 0,
    lastAvailIdx: 0,
    lastUsedIdx: 0,
    inFlight: 0,
    chainsDropped: 0,
    errors: {},
  };

  private readonly mem: GuestMemory;
  private isReady = false;
  private isBroken = false;
  private epochNo = 0;
  // Views over the validated rings; made at enable() so later accesses need no bounds check.
  private desc: DataView | undefined;
  private avail: DataView | undefined;
  private used: DataView | undefined;
  private lastAvail = 0;
  private shadowAvail = 0;
  private usedIdx = 0;
  /** used.idx when shouldInterrupt() last ran: the "old" index of need_event. */
  private signalledUsed = 0;
  private notifyEnabled = true;

  constructor(mem: GuestMemory, index: number, maxSize: number) {
    if (!isPowerOfTwo(maxSize) || maxSize > VIRTQUEUE_MAX_SIZE) {
      throw new RangeError(`virtqueue ${index}: max size ${maxSize} must be a power of 2 ≤ ${VIRTQUEUE_MAX_SIZE}`);
    }
    this.mem = mem;
    this.index = index;
    this.maxSize = maxSize;
    this.size = maxSize;
  }

  /** The driver enabled the queue and it passed validation. */
  get ready(): boolean {
    return this.isReady;
  }
  /** A fatal error stopped the queue until reset. */
  get broken(): boolean {
    return this.isBroken;
  }
  get epoch(): number {
    return this.epochNo;
  }

  /**
   * The driver set QueueReady / queue_enable: check the size and the three rings (alignment, inside
   * RAM) once, so pop/push need no further checks on ring accesses. Returns the error instead of
   * throwing; the queue then stays disabled.
   */
  enable(): VirtqueueError | undefined {
    const n = this.size;
    let err: VirtqueueError | undefined;
    if (!isPowerOfTwo(n) || n > this.maxSize) {
      err = new VirtqueueError("bad-queue-size", this.index, `size ${n} (max ${this.maxSize}, power of 2 required)`);
    } else if (
      this.descAddr % DESC_ALIGN !== 0 ||
      this.driverAddr % AVAIL_ALIGN !== 0 ||
      this.deviceAddr % USED_ALIGN !== 0
    ) {
      err = new VirtqueueError("ring-misaligned", this.index, this.ringText());
    } else if (
      !this.mem.contains(this.descAddr, VIRTQ_DESC_SIZE * n) ||
      !this.mem.contains(this.driverAddr, 6 + 2 * n) ||
      !this.mem.contains(this.deviceAddr, 6 + 8 * n)
    ) {
      err = new VirtqueueError("ring-outside-ram", this.index, this.ringText());
    }
    if (err !== undefined) {
      this.record(err);
      return err;
    }
    this.desc = viewOf(this.mem.slice(this.descAddr, VIRTQ_DESC_SIZE * n));
    this.avail = viewOf(this.mem.slice(this.driverAddr, 6 + 2 * n));
    this.used = viewOf(this.mem.slice(this.deviceAddr, 6 + 8 * n));
    this.lastAvail = 0;
    this.shadowAvail = 0;
    this.usedIdx = 0;
    this.signalledUsed = 0;
    this.stats.lastAvailIdx = 0;
    this.stats.lastUsedIdx = 0;
    this.stats.inFlight = 0;
    this.notifyEnabled = true;
    this.isBroken = false;
    this.isReady = true;
    this.epochNo++;
    return undefined;
  }

  /** The driver cleared QueueReady: stop using the queue (chains in flight are forgotten). */
  disable(): void {
    this.isReady = false;
    this.epochNo++;
    this.desc = this.avail = this.used = undefined;
  }

  /** Stop the queue after a fatal error or DEVICE_NEEDS_RESET; only reset() or enable() revives it. */
  stop(): void {
    this.isBroken = true;
    this.epochNo++;
  }

  /** Device reset: back to the power-on state (size = max, no addresses, not ready). */
  reset(): void {
    this.disable();
    this.isBroken = false;
    this.size = this.maxSize;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.eventIdx = false;
    this.indirectDesc = false;
    this.maxChainBytes = VIRTQUEUE_MAX_CHAIN_BYTES;
    this.lastAvail = this.shadowAvail = this.usedIdx = this.signalledUsed = 0;
    this.stats.lastAvailIdx = this.stats.lastUsedIdx = this.stats.inFlight = 0;
    this.notifyEnabled = true;
  }

  saveState(): VirtqueueState {
    return {
      size: this.size,
      desc: this.descAddr,
      driver: this.driverAddr,
      device: this.deviceAddr,
      ready: this.isReady,
      broken: this.isBroken,
      eventIdx: this.eventIdx,
      indirect: this.indirectDesc,
      maxChainBytes: this.maxChainBytes,
      lastAvail: this.lastAvail,
      usedIdx: this.usedIdx,
      signalledUsed: this.signalledUsed,
      notifyEnabled: this.notifyEnabled,
    };
  }

  /**
   * Restores saveState()'s output, guest RAM already in place. A ready queue is checked as enable() checks it
   * (size, alignment, rings inside RAM) and against the rings in RAM: used.idx must be the one saved, and the
   * chains between it and the device's avail position, and those the driver has posted since, each at most
   * the queue's size. Throws a SnapshotError naming the field, changing nothing, otherwise.
   */
  loadState(state: unknown, path: string): void {
    const s = record(state, path);
    const size = uint(s.size, `${path}.size`, 0xffff);
    const addr = (k: string) => uint(s[k], `${path}.${k}`, Number.MAX_SAFE_INTEGER);
    const desc = addr("desc");
    const driver = addr("driver");
    const device = addr("device");
    const ready = flag(s.ready, `${path}.ready`);
    const broken = flag(s.broken, `${path}.broken`);
    const eventIdx = flag(s.eventIdx, `${path}.eventIdx`);
    const indirect = flag(s.indirect, `${path}.indirect`);
    // Checked, not used: the device sets its chain limit at activation, and kicks are wanted after a restore.
    uint(s.maxChainBytes, `${path}.maxChainBytes`);
    const lastAvail = uint(s.lastAvail, `${path}.lastAvail`, 0xffff);
    const usedIdx = uint(s.usedIdx, `${path}.usedIdx`, 0xffff);
    const signalledUsed = uint(s.signalledUsed, `${path}.signalledUsed`, 0xffff);
    flag(s.notifyEnabled, `${path}.notifyEnabled`);
    if (ready) {
      if (!isPowerOfTwo(size) || size > this.maxSize) {
        throw new SnapshotError(`${path}.size: ${size} is not a power of 2 ≤ ${this.maxSize}`);
      }
      if (desc % DESC_ALIGN !== 0 || driver % AVAIL_ALIGN !== 0 || device % USED_ALIGN !== 0) {
        throw new SnapshotError(`${path}: rings misaligned`);
      }
      if (
        !this.mem.contains(desc, VIRTQ_DESC_SIZE * size) ||
        !this.mem.contains(driver, 6 + 2 * size) ||
        !this.mem.contains(device, 6 + 8 * size)
      ) {
        throw new SnapshotError(`${path}: rings outside RAM`);
      }
      const ramUsed = viewOf(this.mem.slice(device, 4)).getUint16(2, true);
      if (ramUsed !== usedIdx)
        throw new SnapshotError(`${path}.usedIdx: ${usedIdx}, but the ring in RAM says ${ramUsed}`);
      if (((lastAvail - usedIdx) & 0xffff) > size) {
        throw new SnapshotError(
          `${path}.lastAvail: ${lastAvail} is more than the queue's size past used.idx ${usedIdx}`,
        );
      }
      if (!broken) {
        const ramAvail = viewOf(this.mem.slice(driver, 4)).getUint16(2, true);
        if (((ramAvail - lastAvail) & 0xffff) > size) {
          throw new SnapshotError(
            `${path}.lastAvail: ${lastAvail} is more than the queue's size behind avail.idx ${ramAvail}`,
          );
        }
      }
    } else if (size > this.maxSize || size > 0xffff) {
      throw new SnapshotError(`${path}.size: ${size} > ${this.maxSize}`);
    }
    this.disable();
    this.size = size;
    this.descAddr = desc;
    this.driverAddr = driver;
    this.deviceAddr = device;
    this.eventIdx = eventIdx;
    this.indirectDesc = indirect;
    this.maxChainBytes = VIRTQUEUE_MAX_CHAIN_BYTES;
    this.isBroken = false;
    if (ready) {
      this.enable();
      this.isBroken = broken;
    }
    this.lastAvail = this.shadowAvail = lastAvail;
    this.usedIdx = usedIdx;
    this.signalledUsed = signalledUsed;
    // As after enable(): no device turns kicks off for good (one that polls says so again when it loads), and a
    // saved "off" would leave the driver silent.
    this.notifyEnabled = true;
    this.stats.lastAvailIdx = lastAvail;
    this.stats.lastUsedIdx = usedIdx;
    this.stats.inFlight = (lastAvail - usedIdx) & 0xffff;
  }

  /**
   * The chain starting at `head` walked again, for a device restoring chains it held at a save (they are
   * still guest RAM). Undefined when the queue is not usable, the head is out of range or the chain breaks a
   * rule; the device then forgets it.
   */
  chainAt(head: number): DescriptorChain | undefined {
    if (!this.isReady || this.isBroken || !Number.isInteger(head) || head < 0 || head >= this.size) return undefined;
    try {
      return this.walk(head);
    } catch (e) {
      if (!(e instanceof VirtqueueError)) throw e;
      return undefined;
    }
  }

  /** True when the driver has made buffers available that pop() has not taken yet. */
  hasAvailable(): boolean {
    if (!this.isReady || this.isBroken) return false;
    if (this.lastAvail !== this.shadowAvail) return true;
    return this.avail!.getUint16(2, true) !== this.lastAvail;
  }

  /**
   * The next available chain, validated; undefined when the ring is empty or the queue is stopped.
   * A chain that breaks a rule is returned to the driver with len 0 and the next one is tried; at most
   * `size` chains are looked at per call, so a hostile ring costs bounded time.
   */
  pop(): DescriptorChain | undefined {
    for (let tries = 0; tries <= this.size; tries++) {
      if (!this.isReady || this.isBroken) return undefined;
      const head = this.nextHead();
      if (head === undefined) return undefined;
      try {
        const chain = this.walk(head);
        this.stats.chainsPopped++;
        this.stats.inFlight++;
        this.stats.bytesRead += chain.readableBytes;
        return chain;
      } catch (e) {
        if (!(e instanceof VirtqueueError)) throw e;
        this.record(e);
        this.stats.chainsDropped++;
        this.writeUsed(head, 0);
      }
    }
    return undefined;
  }

  /**
   * Returns a chain to the driver with `written` bytes written into its writable part (clamped to the
   * writable capacity, so used.len never lies) and tells the hart about the DMA. Chains popped before
   * a reset or a disable are dropped. Call shouldInterrupt() (via the transport's signalUsed) after a batch.
   */
  push(chain: DescriptorChain, written: number): boolean {
    if (!this.isReady || this.isBroken || chain.epoch !== this.epochNo) return false;
    const len = Math.min(Math.max(0, Math.floor(written) || 0), chain.writableBytes);
    let left = len;
    for (let i = 0; i < chain.writable.length && left > 0; i++) {
      const n = Math.min(left, chain.writable[i].length);
      this.mem.notifyDma(chain.writableGpa[i], n);
      left -= n;
    }
    this.stats.bytesWritten += len;
    this.stats.inFlight = Math.max(0, this.stats.inFlight - 1);
    this.writeUsed(chain.head, len);
    return true;
  }

  /**
   * Whether the driver wants an interrupt for the used buffers pushed since the last call (§2.7.7):
   * with EVENT_IDX, iff used.idx crossed used_event; without, unless VIRTQ_AVAIL_F_NO_INTERRUPT.
   * False when nothing was pushed since. Counts raised / suppressed.
   */
  shouldInterrupt(): boolean {
    if (!this.isReady || this.isBroken) return false;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    if (old === now) return false;
    this.signalledUsed = now;
    const avail = this.avail!;
    let yes: boolean;
    if (this.eventIdx) {
      const usedEvent = avail.getUint16(4 + 2 * this.size, true);
      yes = vringNeedEvent(usedEvent, now, old);
    } else {
      yes = (avail.getUint16(0, true) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    }
    if (yes) this.stats.interruptsRaised++;
    else this.stats.interruptsSuppressed++;
    return yes;
  }

  /**
   * Ask the driver for kicks (true, the default) or not (a device that polls): VIRTQ_USED_F_NO_NOTIFY
   * without EVENT_IDX; with EVENT_IDX, avail_event is kept at the next index we will read.
   */
  setNotification(enabled: boolean): void {
    this.notifyEnabled = enabled;
    if (!this.isReady || this.isBroken) return;
    if (this.eventIdx) {
      if (enabled) this.writeAvailEvent();
    } else {
      this.used!.setUint16(0, enabled ? 0 : VIRTQ_USED_F_NO_NOTIFY, true);
      this.mem.notifyDma(this.deviceAddr, 2);
    }
  }

  /** The next head index from the available ring, or undefined when empty / on a fatal error. */
  private nextHead(): number | undefined {
    const avail = this.avail!;
    if (this.lastAvail === this.shadowAvail) {
      // Read avail.idx once per batch; the entries below it are then stable (the driver only appends).
      this.shadowAvail = avail.getUint16(2, true);
      this.stats.lastAvailIdx = this.shadowAvail;
      const pending = (this.shadowAvail - this.lastAvail) & 0xffff;
      if (pending > this.size) {
        this.fatal("avail-index-jump", `avail.idx ${this.shadowAvail}, last seen ${this.lastAvail}, size ${this.size}`);
        return undefined;
      }
      if (pending === 0) {
        // Re-arm kicks so the driver tells us about the next buffer (spec/virtio.md §4.5 pitfall).
        if (this.eventIdx && this.notifyEnabled) this.writeAvailEvent();
        return undefined;
      }
    }
    const head = avail.getUint16(4 + 2 * (this.lastAvail & (this.size - 1)), true);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (this.eventIdx && this.notifyEnabled) this.writeAvailEvent();
    if (head >= this.size) {
      this.fatal("head-out-of-range", `head ${head} ≥ size ${this.size}`);
      return undefined;
    }
    return head;
  }

  /** Follows a chain from `head`, validating every descriptor; throws a chain-level VirtqueueError. */
  private walk(head: number): DescriptorChain {
    const q = this.index;
    const mem = this.mem;
    const readable: Uint8Array[] = [];
    const writable: Uint8Array[] = [];
    const writableGpa: number[] = [];
    let readableBytes = 0;
    let writableBytes = 0;
    let table = this.desc!;
    let tableSize = this.size;
    let ttl = this.size;
    let inIndirect = false;
    let sawWritable = false;
    let idx = head;
    for (;;) {
      if (ttl-- === 0) {
        throw new VirtqueueError("chain-too-long", q, `more than ${tableSize} descriptors from head ${head} (a loop)`);
      }
      // Copy the descriptor once; validate only the copy.
      const off = idx * VIRTQ_DESC_SIZE;
      const addr = table.getUint32(off + 4, true) * 4294967296 + table.getUint32(off, true);
      const len = table.getUint32(off + 8, true);
      const flags = table.getUint16(off + 12, true);
      const next = table.getUint16(off + 14, true);

      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) {
        if (inIndirect)
          throw new VirtqueueError("nested-indirect", q, `indirect descriptor inside a table (head ${head})`);
        if (!this.indirectDesc) throw new VirtqueueError("indirect-not-negotiated", q, `head ${head}`);
        if ((flags & VIRTQ_DESC_F_NEXT) !== 0) {
          throw new VirtqueueError("indirect-with-next", q, `indirect descriptor ${idx} also has NEXT`);
        }
        if (len === 0) throw new VirtqueueError("indirect-table-empty", q, `descriptor ${idx}`);
        if (len % VIRTQ_DESC_SIZE !== 0) {
          throw new VirtqueueError("indirect-table-length", q, `table length ${len} is not a multiple of 16`);
        }
        const entries = len / VIRTQ_DESC_SIZE;
        if (entries > VIRTQUEUE_MAX_INDIRECT) {
          throw new VirtqueueError("indirect-table-too-large", q, `${entries} entries > ${VIRTQUEUE_MAX_INDIRECT}`);
        }
        if (!mem.contains(addr, len)) {
          throw new VirtqueueError("indirect-outside-ram", q, `table 0x${addr.toString(16)}+${len}`);
        }
        // The WRITE flag of the pointing descriptor is ignored (§2.7.5.3.2); the table starts at entry 0.
        table = viewOf(mem.slice(addr, len));
        tableSize = entries;
        ttl = entries;
        inIndirect = true;
        idx = 0;
        continue;
      }

      const isWrite = (flags & VIRTQ_DESC_F_WRITE) !== 0;
      if (isWrite) sawWritable = true;
      else if (sawWritable) {
        throw new VirtqueueError("readable-after-writable", q, `descriptor ${idx} of head ${head}`);
      }
      if (len > 0) {
        if (!mem.contains(addr, len)) {
          throw new VirtqueueError("buffer-outside-ram", q, `0x${addr.toString(16)}+${len} (descriptor ${idx})`);
        }
        if (readableBytes + writableBytes + len > this.maxChainBytes) {
          throw new VirtqueueError("chain-too-large", q, `more than ${this.maxChainBytes} bytes from head ${head}`);
        }
        const seg = mem.slice(addr, len);
        if (isWrite) {
          writable.push(seg);
          writableGpa.push(addr);
          writableBytes += len;
        } else {
          readable.push(seg);
          readableBytes += len;
        }
      }
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) break;
      if (next >= tableSize) {
        throw new VirtqueueError("next-out-of-range", q, `next ${next} ≥ ${tableSize} (descriptor ${idx})`);
      }
      idx = next;
    }
    return { head, readable, writable, writableGpa, readableBytes, writableBytes, epoch: this.epochNo };
  }

  private writeUsed(head: number, len: number): void {
    const used = this.used!;
    const slot = this.usedIdx & (this.size - 1);
    used.setUint32(4 + 8 * slot, head, true);
    used.setUint32(8 + 8 * slot, len, true);
    // The element is stored before the index that publishes it (§2.7.8.2).
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    used.setUint16(2, this.usedIdx, true);
    this.stats.lastUsedIdx = this.usedIdx;
    this.mem.notifyDma(this.deviceAddr + 4 + 8 * slot, 8);
    this.mem.notifyDma(this.deviceAddr + 2, 2);
  }

  private writeAvailEvent(): void {
    const at = 4 + 8 * this.size;
    this.used!.setUint16(at, this.lastAvail, true);
    this.mem.notifyDma(this.deviceAddr + at, 2);
  }

  private fatal(kind: VirtqueueErrorKind, detail: string): void {
    this.record(new VirtqueueError(kind, this.index, detail));
  }

  private record(err: VirtqueueError): void {
    this.stats.errors[err.kind] = (this.stats.errors[err.kind] ?? 0) + 1;
    if (err.fatal) this.stop();
    this.onError?.(err);
  }

  private ringText(): string {
    const h = (v: number) => `0x${v.toString(16)}`;
    return `desc ${h(this.descAddr)} avail ${h(this.driverAddr)} used ${h(this.deviceAddr)} size ${this.size}`;
  }
}
