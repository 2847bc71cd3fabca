import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { rng } from "../../src/testing/rng.ts";
import { DriverQueue, GuestAllocator } from "../../src/testing/virtio-driver.ts";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
  VIRTQUEUE_MAX_INDIRECT,
  Virtqueue,
  type VirtqueueError,
  type VirtqueueErrorKind,
  vringNeedEvent,
} from "./virtqueue.ts";

const RAM_BASE = 0x80000000;

function setup(size = 8, opts: { indirect?: boolean; eventIdx?: boolean; ram?: number } = {}) {
  const mem = new GuestMemory(RAM_BASE, opts.ram ?? 1 << 20);
  const alloc = new GuestAllocator(mem);
  const dq = new DriverQueue(mem, alloc, size);
  const vq = new Virtqueue(mem, 0, Math.max(size, 8));
  const errors: VirtqueueError[] = [];
  vq.onError = (e) => errors.push(e);
  dq.attach(vq);
  expect(vq.enable()).toBeUndefined();
  vq.indirectDesc = opts.indirect ?? true;
  vq.eventIdx = opts.eventIdx ?? false;
  return { mem, alloc, dq, vq, errors };
}

const bytes = (...v: number[]) => Uint8Array.from(v);

describe("Virtqueue: the Linux-shaped happy path", () => {
  it("pops readable segments before writable ones as zero-copy views, and push publishes used", () => {
    const { dq, vq, mem } = setup();
    const c = dq.add([{ read: bytes(1, 2, 3) }, { read: bytes(4) }, { write: 5 }]);
    const chain = vq.pop()!;
    expect(chain.head).toBe(c.head);
    expect(chain.readable.map((s) => [...s])).toEqual([[1, 2, 3], [4]]);
    expect(chain.readableBytes).toBe(4);
    expect(chain.writableBytes).toBe(5);
    chain.writable[0].set([9, 8, 7]);
    // Zero-copy: the view is guest RAM itself.
    expect(mem.readU8(c.addrs[2])).toBe(9);
    expect(vq.pop()).toBeUndefined();
    expect(vq.stats.inFlight).toBe(1);
    expect(vq.push(chain, 3)).toBe(true);
    expect(dq.takeUsed().map(({ id, len }) => ({ id, len }))).toEqual([{ id: c.head, len: 3 }]);
    expect(vq.stats).toMatchObject({ chainsPopped: 1, bytesRead: 4, bytesWritten: 3, inFlight: 0, lastUsedIdx: 1 });
  });

  it("follows an indirect table", () => {
    const { dq, vq } = setup();
    const c = dq.add([{ read: bytes(1) }, { read: bytes(2, 3) }, { write: 16 }], { indirect: true });
    const chain = vq.pop()!;
    expect(chain.head).toBe(c.head);
    expect(chain.readable.map((s) => [...s])).toEqual([[1], [2, 3]]);
    expect(chain.writableBytes).toBe(16);
  });

  it("accepts ordinary descriptors followed by one indirect descriptor", () => {
    const { dq, vq, mem, alloc } = setup();
    const hdr = alloc.alloc(4);
    mem.write(hdr, bytes(7, 7, 7, 7));
    const buf = alloc.alloc(8);
    const table = alloc.alloc(16);
    mem.writeU64(table, buf);
    mem.writeU32(table + 8, 8);
    mem.writeU16(table + 12, VIRTQ_DESC_F_WRITE);
    dq.writeDesc(0, { addr: hdr, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    // WRITE on the pointer descriptor must be ignored (§2.7.5.3.2).
    dq.writeDesc(1, { addr: table, len: 16, flags: VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, next: 0 });
    dq.setAvailRing(0, 0);
    dq.setAvailIdx(1);
    const chain = vq.pop()!;
    expect(chain.readableBytes).toBe(4);
    expect(chain.writableBytes).toBe(8);
  });

  it("skips zero-length descriptors", () => {
    const { dq, vq } = setup();
    dq.add([{ read: new Uint8Array(0) }, { read: bytes(1) }, { write: 0 }, { write: 2 }]);
    const chain = vq.pop()!;
    expect(chain.readable.length).toBe(1);
    expect(chain.writable.length).toBe(1);
  });

  it("clamps used.len to the writable capacity", () => {
    const { dq, vq } = setup();
    dq.add([{ read: bytes(1) }, { write: 4 }]);
    vq.push(vq.pop()!, 1000);
    expect(dq.takeUsed()[0].len).toBe(4);
  });

  it("drops a chain popped before a reset", () => {
    const { dq, vq } = setup();
    dq.add([{ write: 4 }]);
    const chain = vq.pop()!;
    vq.disable();
    expect(vq.enable()).toBeUndefined();
    expect(vq.push(chain, 4)).toBe(false);
    expect(dq.usedIdx()).toBe(0);
  });

  it("runs 70 000 requests through a 4-entry queue (16-bit index wrap)", () => {
    const { dq, vq } = setup(4, { eventIdx: true });
    for (let i = 0; i < 70_000; i++) {
      dq.add([{ read: bytes(i & 0xff) }, { write: 1 }]);
      const chain = vq.pop()!;
      expect(chain.readable[0][0]).toBe(i & 0xff);
      vq.push(chain, 1);
      expect(dq.takeUsed().length).toBe(1);
      if (vq.pop() !== undefined) throw new Error("ring should be empty");
    }
    expect(vq.stats.errors).toEqual({});
    expect(dq.usedIdx()).toBe(70_000 & 0xffff);
  });
});

describe("Virtqueue: notification suppression", () => {
  it("need_event matches the spec's examples", () => {
    expect(vringNeedEvent(0, 1, 0)).toBe(true);
    expect(vringNeedEvent(0, 2, 1)).toBe(false);
    expect(vringNeedEvent(5, 8, 4)).toBe(true);
    expect(vringNeedEvent(0xffff, 0, 0xfffe)).toBe(true);
  });

  it("without EVENT_IDX: interrupts unless VIRTQ_AVAIL_F_NO_INTERRUPT", () => {
    const { dq, vq } = setup();
    expect(vq.shouldInterrupt()).toBe(false); // nothing pushed
    dq.add([{ write: 1 }]);
    vq.push(vq.pop()!, 1);
    expect(vq.shouldInterrupt()).toBe(true);
    expect(vq.shouldInterrupt()).toBe(false);
    dq.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    dq.add([{ write: 1 }]);
    vq.push(vq.pop()!, 1);
    expect(vq.shouldInterrupt()).toBe(false);
    expect(vq.stats).toMatchObject({ interruptsRaised: 1, interruptsSuppressed: 1 });
  });

  it("with EVENT_IDX: interrupts only when used.idx crosses used_event, ignoring avail.flags", () => {
    const { dq, vq } = setup(8, { eventIdx: true });
    dq.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    dq.setUsedEvent(2); // "interrupt me when entry 2 (the third) is used"
    const raised: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      dq.add([{ write: 1 }]);
      vq.push(vq.pop()!, 1);
      raised.push(vq.shouldInterrupt());
    }
    expect(raised).toEqual([false, false, true, false]);
  });

  it("with EVENT_IDX: a batch crossing used_event interrupts once", () => {
    const { dq, vq } = setup(8, { eventIdx: true });
    dq.setUsedEvent(1);
    for (let i = 0; i < 3; i++) dq.add([{ write: 1 }]);
    for (let c = vq.pop(); c !== undefined; c = vq.pop()) vq.push(c, 1);
    expect(vq.shouldInterrupt()).toBe(true);
    expect(vq.stats.interruptsRaised).toBe(1);
  });

  it("with EVENT_IDX: writes avail_event = next index to read after each pop and on empty", () => {
    const { dq, vq } = setup(8, { eventIdx: true });
    expect(vq.pop()).toBeUndefined();
    expect(dq.availEvent()).toBe(0);
    dq.add([{ write: 1 }]);
    dq.add([{ write: 1 }]);
    vq.pop();
    expect(dq.availEvent()).toBe(1);
    vq.pop();
    expect(dq.availEvent()).toBe(2);
  });

  it("without EVENT_IDX: setNotification toggles VIRTQ_USED_F_NO_NOTIFY", () => {
    const { dq, vq } = setup();
    vq.setNotification(false);
    expect(dq.usedFlags()).toBe(VIRTQ_USED_F_NO_NOTIFY);
    vq.setNotification(true);
    expect(dq.usedFlags()).toBe(0);
  });
});

/** One hostile ring per hardening rule (DESIGN.md §6, spec/virtio.md §9). */
interface HostileCase {
  name: string;
  kind: VirtqueueErrorKind;
  /** fatal: the queue stops; otherwise the chain comes back with len 0 and the queue goes on. */
  fatal: boolean;
  opts?: { indirect?: boolean };
  build(t: ReturnType<typeof setup>): void;
}

/** Publishes head 0 as the only available entry. */
function publishHead0(dq: DriverQueue): void {
  dq.setAvailRing(0, 0);
  dq.setAvailIdx(1);
}

const hostile: HostileCase[] = [
  {
    name: "avail.idx jumps more than the queue size ahead",
    kind: "avail-index-jump",
    fatal: true,
    build: ({ dq }) => dq.setAvailIdx(9),
  },
  {
    name: "head index ≥ queue size",
    kind: "head-out-of-range",
    fatal: true,
    build: ({ dq }) => {
      dq.setAvailRing(0, 8);
      dq.setAvailIdx(1);
    },
  },
  {
    name: "next index ≥ queue size",
    kind: "next-out-of-range",
    fatal: false,
    build: ({ dq, alloc }) => {
      dq.writeDesc(0, { addr: alloc.alloc(4), len: 4, flags: VIRTQ_DESC_F_NEXT, next: 8 });
      publishHead0(dq);
    },
  },
  {
    name: "descriptor loop 0 → 1 → 0",
    kind: "chain-too-long",
    fatal: false,
    build: ({ dq, alloc }) => {
      const a = alloc.alloc(4);
      dq.writeDesc(0, { addr: a, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 });
      dq.writeDesc(1, { addr: a, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "self-loop of zero-length descriptors",
    kind: "chain-too-long",
    fatal: false,
    build: ({ dq }) => {
      dq.writeDesc(0, { addr: 0, len: 0, flags: VIRTQ_DESC_F_NEXT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "buffer past the end of RAM",
    kind: "buffer-outside-ram",
    fatal: false,
    build: ({ dq, mem }) => {
      dq.writeDesc(0, { addr: mem.base + mem.size - 2, len: 4, flags: 0, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "buffer below RAM (device MMIO)",
    kind: "buffer-outside-ram",
    fatal: false,
    build: ({ dq }) => {
      dq.writeDesc(0, { addr: 0x10001000, len: 4, flags: VIRTQ_DESC_F_WRITE, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "buffer address near 2^64 (wraps)",
    kind: "buffer-outside-ram",
    fatal: false,
    build: ({ dq, mem }) => {
      dq.writeDesc(0, { addr: 0, len: 16, flags: 0, next: 0 });
      mem.writeU32(dq.descAddr + 4, 0xffffffff);
      mem.writeU32(dq.descAddr, 0xfffffff8);
      publishHead0(dq);
    },
  },
  {
    name: "readable descriptor after a writable one",
    kind: "readable-after-writable",
    fatal: false,
    build: ({ dq, alloc }) => {
      dq.writeDesc(0, { addr: alloc.alloc(4), len: 4, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 1 });
      dq.writeDesc(1, { addr: alloc.alloc(4), len: 4, flags: 0, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "total chain length over the cap",
    kind: "chain-too-large",
    fatal: false,
    build: ({ dq, vq, alloc }) => {
      vq.maxChainBytes = 6;
      dq.writeDesc(0, { addr: alloc.alloc(4), len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 });
      dq.writeDesc(1, { addr: alloc.alloc(4), len: 4, flags: VIRTQ_DESC_F_WRITE, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "indirect descriptor without INDIRECT_DESC negotiated",
    kind: "indirect-not-negotiated",
    fatal: false,
    opts: { indirect: false },
    build: ({ dq }) => {
      dq.add([{ read: bytes(1) }, { write: 1 }], { indirect: true });
    },
  },
  {
    name: "indirect descriptor with NEXT",
    kind: "indirect-with-next",
    fatal: false,
    build: ({ dq, alloc }) => {
      dq.writeDesc(0, { addr: alloc.alloc(16), len: 16, flags: VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, next: 1 });
      publishHead0(dq);
    },
  },
  {
    name: "indirect table inside an indirect table",
    kind: "nested-indirect",
    fatal: false,
    build: ({ dq, alloc, mem }) => {
      const inner = alloc.alloc(16);
      const outer = alloc.alloc(16);
      mem.writeU64(outer, inner);
      mem.writeU32(outer + 8, 16);
      mem.writeU16(outer + 12, VIRTQ_DESC_F_INDIRECT);
      dq.writeDesc(0, { addr: outer, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "zero-length indirect table",
    kind: "indirect-table-empty",
    fatal: false,
    build: ({ dq, alloc }) => {
      dq.writeDesc(0, { addr: alloc.alloc(16), len: 0, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "indirect table length not a multiple of 16",
    kind: "indirect-table-length",
    fatal: false,
    build: ({ dq, alloc }) => {
      dq.writeDesc(0, { addr: alloc.alloc(32), len: 24, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "indirect table larger than we follow",
    kind: "indirect-table-too-large",
    fatal: false,
    build: ({ dq, alloc }) => {
      const len = 16 * (VIRTQUEUE_MAX_INDIRECT + 1);
      dq.writeDesc(0, { addr: alloc.alloc(len), len, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "indirect table outside RAM",
    kind: "indirect-outside-ram",
    fatal: false,
    build: ({ dq, mem }) => {
      dq.writeDesc(0, { addr: mem.base + mem.size - 16, len: 32, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "loop inside an indirect table",
    kind: "chain-too-long",
    fatal: false,
    build: ({ dq, alloc, mem }) => {
      const table = alloc.alloc(32);
      const buf = alloc.alloc(4);
      for (let i = 0; i < 2; i++) {
        mem.writeU64(table + 16 * i, buf);
        mem.writeU32(table + 16 * i + 8, 4);
        mem.writeU16(table + 16 * i + 12, VIRTQ_DESC_F_NEXT);
        mem.writeU16(table + 16 * i + 14, 1 - i);
      }
      dq.writeDesc(0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "next past the end of an indirect table",
    kind: "next-out-of-range",
    fatal: false,
    build: ({ dq, alloc, mem }) => {
      const table = alloc.alloc(16);
      mem.writeU64(table, alloc.alloc(4));
      mem.writeU32(table + 8, 4);
      mem.writeU16(table + 12, VIRTQ_DESC_F_NEXT);
      mem.writeU16(table + 14, 1);
      dq.writeDesc(0, { addr: table, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
  {
    name: "readable descriptor in an indirect table after a writable ring descriptor",
    kind: "readable-after-writable",
    fatal: false,
    build: ({ dq, alloc, mem }) => {
      const table = alloc.alloc(16);
      mem.writeU64(table, alloc.alloc(4));
      mem.writeU32(table + 8, 4);
      dq.writeDesc(0, { addr: alloc.alloc(4), len: 4, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 1 });
      dq.writeDesc(1, { addr: table, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      publishHead0(dq);
    },
  },
];

describe("Virtqueue: hostile rings", () => {
  for (const c of hostile) {
    it(`${c.name} → ${c.kind} (${c.fatal ? "queue stops" : "chain dropped"})`, () => {
      const t = setup(8, c.opts);
      c.build(t);
      const { vq, dq, errors } = t;
      expect(vq.pop()).toBeUndefined();
      expect(errors.map((e) => e.kind)).toEqual([c.kind]);
      expect(errors[0].fatal).toBe(c.fatal);
      expect(vq.stats.errors[c.kind]).toBe(1);
      expect(vq.broken).toBe(c.fatal);
      if (c.fatal) {
        expect(dq.usedIdx()).toBe(0);
      } else {
        // The chain went back unused, and a good request behind it still works.
        expect(dq.usedIdx()).toBe(1);
        expect(t.mem.readU32(dq.usedAddr + 8)).toBe(0);
        const avail = dq.availIndex;
        const buf = t.alloc.alloc(1);
        dq.writeDesc(7, { addr: buf, len: 1, flags: VIRTQ_DESC_F_WRITE, next: 0 });
        dq.setAvailRing(avail, 7);
        dq.setAvailIdx(avail + 1);
        const good = vq.pop();
        expect(good?.head).toBe(7);
      }
    });
  }

  const setupErrors: { name: string; kind: VirtqueueErrorKind; tweak(vq: Virtqueue, mem: GuestMemory): void }[] = [
    { name: "size not a power of two", kind: "bad-queue-size", tweak: (vq) => (vq.size = 6) },
    { name: "size 0", kind: "bad-queue-size", tweak: (vq) => (vq.size = 0) },
    { name: "size above the maximum", kind: "bad-queue-size", tweak: (vq) => (vq.size = 16) },
    { name: "descriptor table not 16-aligned", kind: "ring-misaligned", tweak: (vq) => (vq.descAddr += 8) },
    { name: "used ring not 4-aligned", kind: "ring-misaligned", tweak: (vq) => (vq.deviceAddr += 2) },
    {
      name: "used ring past the end of RAM",
      kind: "ring-outside-ram",
      tweak: (vq, mem) => (vq.deviceAddr = mem.base + mem.size - 8),
    },
    { name: "descriptor table at 0", kind: "ring-outside-ram", tweak: (vq) => (vq.descAddr = 0) },
  ];
  for (const c of setupErrors) {
    it(`enable() refuses: ${c.name} → ${c.kind}`, () => {
      const mem = new GuestMemory(RAM_BASE, 1 << 20);
      const dq = new DriverQueue(mem, new GuestAllocator(mem), 8);
      const vq = new Virtqueue(mem, 0, 8);
      dq.attach(vq);
      c.tweak(vq, mem);
      expect(vq.enable()?.kind).toBe(c.kind);
      expect(vq.ready).toBe(false);
      expect(vq.pop()).toBeUndefined();
    });
  }
});

/** xorshift32: a tiny seeded PRNG so a failing fuzz run can be replayed from its printed seed. */
/** src/testing/rng.ts's xorshift32, as unsigned 32-bit values. */
function xorshift(seed: number): () => number {
  const next = rng(seed);
  return () => next() >>> 0;
}

describe("Virtqueue: seeded random-ring fuzz", () => {
  it("never throws, stays bounded, and writes only the used ring and the writable buffers it handed out", () => {
    const seed = Number(process.env.VIRTQ_FUZZ_SEED ?? 0x5eed1234);
    const rings = Number(process.env.VIRTQ_FUZZ_RINGS ?? 100_000);
    const rnd = xorshift(seed);
    const RAM = 8192;
    const mem = new GuestMemory(RAM_BASE, RAM);
    const words = new Uint32Array(mem.buffer, 0, RAM / 4);
    const before = new Uint32Array(RAM / 4);
    const size = 8;
    const descAddr = RAM_BASE;
    const availAddr = RAM_BASE + 16 * size;
    const usedAddr = RAM_BASE + 256;
    const usedLen = 6 + 8 * size;
    // Random addresses land in RAM, just outside it, or far away.
    const randomAddr = () => {
      const r = rnd() % 8;
      if (r === 0) return rnd() * 4096;
      if (r === 1) return RAM_BASE - 64 + (rnd() % 128);
      return RAM_BASE + (rnd() % (RAM + 64));
    };
    let popped = 0;
    let errors = 0;
    for (let ring = 0; ring < rings; ring++) {
      try {
        for (let i = 0; i < words.length; i++) words[i] = rnd();
        // Mostly-plausible descriptors so chains get deep before they break.
        for (let d = 0; d < size; d++) {
          const a = descAddr + 16 * d;
          if (rnd() % 4 !== 0) {
            mem.writeU64(a, randomAddr());
            mem.writeU32(a + 8, rnd() % 4 === 0 ? rnd() : rnd() % 512);
            mem.writeU16(a + 12, rnd() % 8);
            mem.writeU16(a + 14, rnd() % 4 === 0 ? rnd() & 0xffff : rnd() % size);
          }
        }
        mem.writeU16(availAddr + 2, rnd() % 3 === 0 ? rnd() & 0xffff : rnd() % (size + 1));
        for (let s = 0; s < size; s++) if (rnd() % 4 !== 0) mem.writeU16(availAddr + 4 + 2 * s, rnd() % size);
        before.set(words);

        const vq = new Virtqueue(mem, 0, size);
        vq.size = size;
        vq.descAddr = descAddr;
        vq.driverAddr = availAddr;
        vq.deviceAddr = usedAddr;
        vq.indirectDesc = (ring & 1) === 0;
        vq.eventIdx = (ring & 2) === 0;
        vq.onError = () => errors++;
        if (vq.enable() !== undefined) throw new Error("the fuzz ring layout is valid");
        const allowed: [number, number][] = [[usedAddr, usedAddr + usedLen]];
        let budget = 4 * size + 4;
        for (let chain = vq.pop(); chain !== undefined; chain = vq.pop()) {
          if (--budget === 0) throw new Error("pop did not run dry");
          popped++;
          chain.writable.forEach((seg, i) => {
            seg.fill(0xa5);
            allowed.push([chain.writableGpa[i], chain.writableGpa[i] + seg.length]);
          });
          for (const seg of chain.readable) {
            if (seg.byteOffset + seg.length > RAM) throw new Error("readable segment outside RAM");
          }
          vq.push(chain, chain.writableBytes);
        }
        vq.shouldInterrupt();
        for (let i = 0; i < words.length; i++) {
          if (words[i] === before[i]) continue;
          const gpa = RAM_BASE + 4 * i;
          if (!allowed.some(([lo, hi]) => gpa + 4 > lo && gpa < hi)) {
            throw new Error(`wrote outside its buffers at 0x${gpa.toString(16)}`);
          }
        }
      } catch (e) {
        throw new Error(`fuzz ring ${ring} (VIRTQ_FUZZ_SEED=${seed}): ${(e as Error).message}`);
      }
    }
    // The corpus must exercise both outcomes to mean anything.
    expect(popped).toBeGreaterThan(rings / 20);
    expect(errors).toBeGreaterThan(rings / 2);
  });
});
