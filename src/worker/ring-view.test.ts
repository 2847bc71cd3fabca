import { describe, expect, it } from "vitest";
import { GuestMemory } from "../core/guest-memory.ts";
import { readRing, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, walkChain } from "./ring-view.ts";

const BASE = 0x8000_0000;
const DESC = BASE + 0x1000;
const AVAIL = BASE + 0x2000;
const USED = BASE + 0x3000;

function ring(size: number) {
  const mem = new GuestMemory(BASE, 0x10000);
  const desc = (i: number, addr: number, len: number, flags: number, next: number) => {
    mem.writeU64(DESC + 16 * i, addr);
    mem.writeU32(DESC + 16 * i + 8, len);
    mem.writeU16(DESC + 16 * i + 12, flags);
    mem.writeU16(DESC + 16 * i + 14, next);
  };
  return { mem, desc, addrs: { size, descAddr: DESC, driverAddr: AVAIL, deviceAddr: USED } };
}

describe("readRing", () => {
  it("pictures the tables and the chains waiting for the device", () => {
    const { mem, desc, addrs } = ring(8);
    // A request: header (read) → data (write) → status (write), the blk shape.
    desc(0, 0x8000_4000, 16, VIRTQ_DESC_F_NEXT, 1);
    desc(1, 0x8000_5000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    desc(2, 0x8000_6000, 1, VIRTQ_DESC_F_WRITE, 0);
    desc(3, 0x8000_7000, 64, 0, 0);
    mem.writeU16(AVAIL + 2, 3); // avail.idx
    mem.writeU16(AVAIL + 4, 3); // slot 0: an already-used chain
    mem.writeU16(AVAIL + 6, 0); // slot 1: the request
    mem.writeU16(AVAIL + 8, 3); // slot 2
    mem.writeU16(USED + 2, 1); // used.idx
    mem.writeU32(USED + 4, 3);
    mem.writeU32(USED + 8, 64);
    const pic = readRing(mem, addrs);
    expect(pic.note).toBeUndefined();
    expect(pic.descs[1]).toEqual({ index: 1, addr: 0x8000_5000, len: 512, flags: 3, next: 2 });
    expect(pic.avail.idx).toBe(3);
    expect(pic.used.ring[0]).toEqual({ id: 3, len: 64 });
    expect(pic.pending).toEqual([
      { slot: 1, head: 0, descs: [0, 1, 2], broken: undefined },
      { slot: 2, head: 3, descs: [3], broken: undefined },
    ]);
  });

  it("reports a ring outside RAM instead of throwing", () => {
    const { mem } = ring(8);
    const pic = readRing(mem, { size: 8, descAddr: 0x1000, driverAddr: AVAIL, deviceAddr: USED });
    expect(pic.note).toMatch(/outside guest RAM/);
    expect(pic.descs).toEqual([]);
  });
});

describe("walkChain (hostile links)", () => {
  const d = (index: number, flags: number, next: number) => ({ index, addr: 0, len: 0, flags, next });
  it("stops at a loop", () => {
    const c = walkChain([d(0, VIRTQ_DESC_F_NEXT, 1), d(1, VIRTQ_DESC_F_NEXT, 0)], 0, 0);
    expect(c.descs).toEqual([0, 1]);
    expect(c.broken).toBe("loop back to descriptor 0");
  });
  it("stops at an index past the table", () => {
    const c = walkChain([d(0, VIRTQ_DESC_F_NEXT, 9)], 0, 0);
    expect(c.broken).toBe("descriptor 9 is past the table (1)");
  });
});
