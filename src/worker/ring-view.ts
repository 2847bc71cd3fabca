// A frozen picture of one split virtqueue for the Queues panel's ring view: the descriptor table, the
// available and used rings, and the chains the available ring points at (virtio 1.2 §2.7). Reads
// guest-controlled memory: every address and index is treated as hostile — reads outside RAM end
// the picture with a note, chains are followed at most `size` steps, and loops are reported.

import type { GuestMemory } from "../core/guest-memory.ts";

// virtio 1.2 §2.7.5: descriptor flags.
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** The page shows at most this many entries of a ring. */
export const RING_VIEW_MAX_SIZE = 1024;

export interface RingDescriptor {
  index: number;
  addr: number;
  len: number;
  flags: number;
  next: number;
}

export interface RingChain {
  /** Available-ring slot it was taken from. */
  slot: number;
  head: number;
  /** Descriptor indices in order. */
  descs: number[];
  /** Why the walk stopped early, if it did (a loop, an index out of range). */
  broken: string | undefined;
}

export interface RingPicture {
  size: number;
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
  descs: RingDescriptor[];
  avail: { flags: number; idx: number; ring: number[]; usedEvent: number };
  used: { flags: number; idx: number; ring: { id: number; len: number }[]; availEvent: number };
  /** The chains the driver has made available and the device has not used yet (avail.idx − used.idx of them). */
  pending: RingChain[];
  note: string | undefined;
}

export interface RingAddresses {
  size: number;
  descAddr: number;
  driverAddr: number;
  deviceAddr: number;
}

export function readRing(mem: GuestMemory, a: RingAddresses): RingPicture {
  const size = Math.min(a.size, RING_VIEW_MAX_SIZE);
  const pic: RingPicture = {
    size: a.size,
    descAddr: a.descAddr,
    driverAddr: a.driverAddr,
    deviceAddr: a.deviceAddr,
    descs: [],
    avail: { flags: 0, idx: 0, ring: [], usedEvent: 0 },
    used: { flags: 0, idx: 0, ring: [], availEvent: 0 },
    pending: [],
    note: size < a.size ? `only the first ${size} of ${a.size} entries are shown` : undefined,
  };
  if (!Number.isInteger(size) || size <= 0) return { ...pic, note: "the queue has no size yet" };
  try {
    const desc = mem.slice(a.descAddr, 16 * size);
    const dv = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
    for (let i = 0; i < size; i++) {
      pic.descs.push({
        index: i,
        addr: Number(dv.getBigUint64(16 * i, true)),
        len: dv.getUint32(16 * i + 8, true),
        flags: dv.getUint16(16 * i + 12, true),
        next: dv.getUint16(16 * i + 14, true),
      });
    }
    const av = mem.slice(a.driverAddr, 6 + 2 * size);
    const avv = new DataView(av.buffer, av.byteOffset, av.byteLength);
    pic.avail.flags = avv.getUint16(0, true);
    pic.avail.idx = avv.getUint16(2, true);
    for (let i = 0; i < size; i++) pic.avail.ring.push(avv.getUint16(4 + 2 * i, true));
    pic.avail.usedEvent = avv.getUint16(4 + 2 * size, true);
    const us = mem.slice(a.deviceAddr, 6 + 8 * size);
    const usv = new DataView(us.buffer, us.byteOffset, us.byteLength);
    pic.used.flags = usv.getUint16(0, true);
    pic.used.idx = usv.getUint16(2, true);
    for (let i = 0; i < size; i++) {
      pic.used.ring.push({ id: usv.getUint32(4 + 8 * i, true), len: usv.getUint32(8 + 8 * i, true) });
    }
    pic.used.availEvent = usv.getUint16(4 + 8 * size, true);
  } catch (e) {
    return { ...pic, note: `the ring lies outside guest RAM: ${(e as Error).message}` };
  }
  // Outstanding chains: avail slots from used.idx up to avail.idx (mod 2^16), at most one ring's worth.
  const outstanding = Math.min((pic.avail.idx - pic.used.idx) & 0xffff, size);
  for (let k = 0; k < outstanding; k++) {
    const slot = (pic.used.idx + k) % size;
    pic.pending.push(walkChain(pic.descs, slot, pic.avail.ring[slot]));
  }
  return pic;
}

/** Follows NEXT links from `head`, at most descs.length steps (a chain can never be longer). */
export function walkChain(descs: readonly RingDescriptor[], slot: number, head: number): RingChain {
  const chain: RingChain = { slot, head, descs: [], broken: undefined };
  const seen = new Set<number>();
  let i = head;
  for (;;) {
    if (i >= descs.length) {
      chain.broken = `descriptor ${i} is past the table (${descs.length})`;
      return chain;
    }
    if (seen.has(i)) {
      chain.broken = `loop back to descriptor ${i}`;
      return chain;
    }
    seen.add(i);
    chain.descs.push(i);
    const d = descs[i];
    if ((d.flags & VIRTQ_DESC_F_NEXT) === 0) return chain;
    i = d.next;
  }
}
