// A fake guest virtio driver for tests (the driver-side mock rust-vmm's virtio-queue ships, STYLE.md):
// it allocates split rings in a GuestMemory the way Linux's virtio_ring.c does, writes descriptors and
// available entries, kicks, and reads used entries back. It can also write hostile rings: every raw
// field is reachable (writeDesc, setAvailIdx, setAvailRing, …) so tests can build loops, jumps and
// out-of-range indices by hand. MmioDriver walks the virtio-mmio register protocol like Linux 6.1's
// virtio_mmio.c.

import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from "../../devices/virtio/features.ts";
import {
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
  VIRTIO_MMIO_QUEUE_AVAIL_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NOTIFY,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_USED_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW,
  VIRTIO_MMIO_STATUS,
} from "../../devices/virtio/mmio-transport.ts";
import {
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  type Virtqueue,
} from "../../devices/virtio/virtqueue.ts";
import type { MmioDevice } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";

/** A bump allocator over guest RAM for rings and buffers. */
export class GuestAllocator {
  private next: number;
  constructor(
    readonly mem: GuestMemory,
    start = mem.base + 0x1000,
    private readonly end = mem.base + mem.size,
  ) {
    this.next = start;
  }
  /** Forget everything allocated from `at` on (a test arena starting over). */
  restart(at: number): void {
    this.next = at;
  }
  alloc(len: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + len > this.end) throw new RangeError("test guest RAM exhausted");
    this.next = at + len;
    return at;
  }
}

export interface RawDesc {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

/** One buffer of a request: bytes the device reads, or a capacity the device writes. */
export type DriverBuffer = { read: Uint8Array } | { write: number };

export interface AddedChain {
  head: number;
  /** Guest addresses of each buffer, in the order given. */
  addrs: number[];
  buffers: DriverBuffer[];
}

export interface UsedElem {
  id: number;
  len: number;
}

/** The driver's side of one split ring. */
export class DriverQueue {
  readonly descAddr: number;
  readonly availAddr: number;
  readonly usedAddr: number;
  private freeHead = 0;
  private freeCount: number;
  private availIdx = 0;
  private lastUsed = 0;
  private readonly chains = new Map<number, AddedChain & { count: number }>();

  /** Buffers come from a per-queue arena that starts over whenever no chain is in flight. */
  private readonly arena: GuestAllocator;
  private readonly arenaStart: number;
  private readonly arenaEnd: number;

  constructor(
    readonly mem: GuestMemory,
    readonly alloc: GuestAllocator,
    readonly size: number,
    arenaBytes = 256 * 1024,
  ) {
    this.arenaStart = alloc.alloc(arenaBytes, 4096);
    this.arenaEnd = this.arenaStart + arenaBytes;
    this.arena = new GuestAllocator(mem, this.arenaStart, this.arenaEnd);
    this.descAddr = alloc.alloc(16 * size, 16);
    this.availAddr = alloc.alloc(6 + 2 * size, 2);
    this.usedAddr = alloc.alloc(6 + 8 * size, 4);
    this.freeCount = size;
    this.reset();
  }

  /** Zeroed rings and a fresh free list, as after a device reset (the memory is reused). */
  reset(): void {
    const { mem, size } = this;
    mem.u8.fill(0, this.descAddr - mem.base, this.descAddr - mem.base + 16 * size);
    mem.u8.fill(0, this.availAddr - mem.base, this.availAddr - mem.base + 6 + 2 * size);
    mem.u8.fill(0, this.usedAddr - mem.base, this.usedAddr - mem.base + 6 + 8 * size);
    // Free list through `next`, as Linux threads it.
    for (let i = 0; i < size; i++) this.writeDesc(i, { addr: 0, len: 0, flags: 0, next: (i + 1) % size });
    this.freeHead = 0;
    this.freeCount = size;
    this.availIdx = 0;
    this.lastUsed = 0;
    this.chains.clear();
  }

  /** Points a device-side Virtqueue at these rings (what the transport registers do). */
  attach(vq: Virtqueue): void {
    vq.size = this.size;
    vq.descAddr = this.descAddr;
    vq.driverAddr = this.availAddr;
    vq.deviceAddr = this.usedAddr;
  }

  writeDesc(i: number, d: RawDesc): void {
    const a = this.descAddr + 16 * i;
    this.mem.writeU64(a, d.addr);
    this.mem.writeU32(a + 8, d.len);
    this.mem.writeU16(a + 12, d.flags);
    this.mem.writeU16(a + 14, d.next);
  }
  readDesc(i: number): RawDesc {
    const a = this.descAddr + 16 * i;
    return {
      addr: this.mem.readU64(a),
      len: this.mem.readU32(a + 8),
      flags: this.mem.readU16(a + 12),
      next: this.mem.readU16(a + 14),
    };
  }
  setAvailRing(slot: number, head: number): void {
    this.mem.writeU16(this.availAddr + 4 + 2 * (slot % this.size), head);
  }
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.mem.writeU16(this.availAddr + 2, this.availIdx);
  }
  get availIndex(): number {
    return this.availIdx;
  }
  setAvailFlags(flags: number): void {
    this.mem.writeU16(this.availAddr, flags);
  }
  setUsedEvent(idx: number): void {
    this.mem.writeU16(this.availAddr + 4 + 2 * this.size, idx);
  }
  /** avail_event as the device last wrote it. */
  availEvent(): number {
    return this.mem.readU16(this.usedAddr + 4 + 8 * this.size);
  }
  usedFlags(): number {
    return this.mem.readU16(this.usedAddr);
  }
  usedIdx(): number {
    return this.mem.readU16(this.usedAddr + 2);
  }

  /**
   * Adds a request the way virtqueue_add_split does: buffers are copied to fresh guest memory,
   * chained with NEXT (or put in an indirect table), and the head is placed in the next avail slot.
   * Call publish() to make it visible (or pass publish = true).
   */
  add(buffers: DriverBuffer[], opts: { indirect?: boolean; publish?: boolean } = {}): AddedChain {
    if (this.chains.size === 0) this.arena.restart(this.arenaStart);
    const addrs = buffers.map((b) => {
      const len = "read" in b ? b.read.length : b.write;
      const at = this.arena.alloc(Math.max(1, len), 8);
      if ("read" in b) this.mem.write(at, b.read);
      else this.mem.u8.fill(0xee, at - this.mem.base, at - this.mem.base + len);
      return at;
    });
    const descs: RawDesc[] = buffers.map((b, i) => ({
      addr: addrs[i],
      len: "read" in b ? b.read.length : b.write,
      flags: "write" in b ? VIRTQ_DESC_F_WRITE : 0,
      next: 0,
    }));
    let head: number;
    let count: number;
    if (opts.indirect) {
      const table = this.arena.alloc(16 * descs.length, 16);
      descs.forEach((d, i) => {
        const a = table + 16 * i;
        const last = i === descs.length - 1;
        this.mem.writeU64(a, d.addr);
        this.mem.writeU32(a + 8, d.len);
        this.mem.writeU16(a + 12, d.flags | (last ? 0 : VIRTQ_DESC_F_NEXT));
        this.mem.writeU16(a + 14, last ? 0 : i + 1);
      });
      head = this.takeDescs(1)[0];
      this.writeDesc(head, { addr: table, len: 16 * descs.length, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      count = 1;
    } else {
      const ids = this.takeDescs(descs.length);
      ids.forEach((id, i) => {
        const last = i === ids.length - 1;
        this.writeDesc(id, {
          ...descs[i],
          flags: descs[i].flags | (last ? 0 : VIRTQ_DESC_F_NEXT),
          next: last ? 0 : ids[i + 1],
        });
      });
      head = ids[0];
      count = ids.length;
    }
    const chain = { head, addrs, buffers, count };
    this.chains.set(head, chain);
    this.setAvailRing(this.availIdx, head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (opts.publish !== false) this.publish();
    return chain;
  }

  /** Stores avail.idx (the release that makes added entries visible). */
  publish(): void {
    this.mem.writeU16(this.availAddr + 2, this.availIdx);
  }

  /** Used entries the device published since the last call; frees their descriptors. */
  takeUsed(): (UsedElem & { chain: AddedChain | undefined })[] {
    const out: (UsedElem & { chain: AddedChain | undefined })[] = [];
    const idx = this.usedIdx();
    while (this.lastUsed !== idx) {
      const slot = this.lastUsed % this.size;
      const id = this.mem.readU32(this.usedAddr + 4 + 8 * slot);
      const len = this.mem.readU32(this.usedAddr + 8 + 8 * slot);
      const chain = this.chains.get(id);
      if (chain !== undefined) {
        this.chains.delete(id);
        this.freeDescs(id, chain.count);
      }
      out.push({ id, len, chain });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** The bytes the device wrote into buffer `i` of a chain (its whole capacity). */
  written(chain: AddedChain, i: number): Uint8Array {
    const b = chain.buffers[i];
    const len = "read" in b ? b.read.length : b.write;
    return this.mem.slice(chain.addrs[i], len).slice();
  }

  private takeDescs(n: number): number[] {
    if (n > this.freeCount) throw new RangeError("test driver: ring full");
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(this.freeHead);
      this.freeHead = this.readDesc(this.freeHead).next;
    }
    this.freeCount -= n;
    return ids;
  }

  private freeDescs(head: number, count: number): void {
    // Walk to the chain's tail and splice the chain onto the free list.
    let tail = head;
    for (let i = 1; i < count; i++) tail = this.readDesc(tail).next;
    const d = this.readDesc(tail);
    this.writeDesc(tail, { ...d, next: this.freeHead });
    this.freeHead = head;
    this.freeCount += count;
  }
}

/** Linux's virtio_mmio.c probe and queue setup, step by step, against an MmioDevice. */
export class MmioDriver {
  readonly queues: DriverQueue[] = [];
  constructor(
    readonly dev: MmioDevice,
    readonly mem: GuestMemory,
    readonly alloc: GuestAllocator = new GuestAllocator(mem),
    /** Guest memory each queue's buffers come from (DriverQueue's arena). */
    readonly arenaBytes = 256 * 1024,
  ) {}

  r(off: number): number {
    return this.dev.read(off, 4) >>> 0;
  }
  w(off: number, v: number): void {
    this.dev.write(off, 4, v >>> 0);
  }

  deviceFeatures(): bigint {
    this.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    const hi = BigInt(this.r(VIRTIO_MMIO_DEVICE_FEATURES));
    this.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    const lo = BigInt(this.r(VIRTIO_MMIO_DEVICE_FEATURES));
    return (hi << 32n) | lo;
  }

  writeDriverFeatures(f: bigint): void {
    this.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    this.w(VIRTIO_MMIO_DRIVER_FEATURES, Number((f >> 32n) & 0xffffffffn));
    this.w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    this.w(VIRTIO_MMIO_DRIVER_FEATURES, Number(f & 0xffffffffn));
  }

  /**
   * Reset, ACKNOWLEDGE, DRIVER, negotiate (accept = offered & wanted), FEATURES_OK (returns false if
   * refused), then set up `queueSizes.length` queues and DRIVER_OK.
   */
  init(wanted: bigint | ((offered: bigint) => bigint), queueSizes: number[]): boolean {
    this.w(VIRTIO_MMIO_STATUS, 0);
    this.w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    this.w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    const offered = this.deviceFeatures();
    const accept = typeof wanted === "function" ? wanted(offered) : offered & wanted;
    this.writeDriverFeatures(accept);
    let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
    this.w(VIRTIO_MMIO_STATUS, s);
    if ((this.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK) === 0) return false;
    queueSizes.forEach((size, i) => {
      this.setupQueue(i, size);
    });
    s |= VIRTIO_CONFIG_S_DRIVER_OK;
    this.w(VIRTIO_MMIO_STATUS, s);
    return true;
  }

  setupQueue(i: number, size: number): DriverQueue {
    this.w(VIRTIO_MMIO_QUEUE_SEL, i);
    if (this.r(VIRTIO_MMIO_QUEUE_READY) !== 0) throw new Error(`queue ${i} already ready`);
    const max = this.r(VIRTIO_MMIO_QUEUE_NUM_MAX);
    if (max === 0) throw new Error(`queue ${i} does not exist`);
    // A re-probe reuses the queue's memory, as the same driver would after a reset.
    const old = this.queues[i];
    const q =
      old?.size === Math.min(size, max)
        ? old
        : new DriverQueue(this.mem, this.alloc, Math.min(size, max), this.arenaBytes);
    q.reset();
    this.w(VIRTIO_MMIO_QUEUE_NUM, q.size);
    this.w(VIRTIO_MMIO_QUEUE_DESC_LOW, q.descAddr);
    this.w(VIRTIO_MMIO_QUEUE_DESC_HIGH, Math.floor(q.descAddr / 4294967296));
    this.w(VIRTIO_MMIO_QUEUE_AVAIL_LOW, q.availAddr);
    this.w(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, Math.floor(q.availAddr / 4294967296));
    this.w(VIRTIO_MMIO_QUEUE_USED_LOW, q.usedAddr);
    this.w(VIRTIO_MMIO_QUEUE_USED_HIGH, Math.floor(q.usedAddr / 4294967296));
    this.w(VIRTIO_MMIO_QUEUE_READY, 1);
    this.queues[i] = q;
    return q;
  }

  kick(i: number): void {
    this.w(VIRTIO_MMIO_QUEUE_NOTIFY, i);
  }

  /** The interrupt handler: read InterruptStatus, acknowledge it, return it. */
  ackInterrupt(): number {
    const st = this.r(VIRTIO_MMIO_INTERRUPT_STATUS);
    if (st !== 0) this.w(VIRTIO_MMIO_INTERRUPT_ACK, st);
    return st;
  }
}
