// Seeded fuzz of the 9P2000.L server and the virtio-9p device. A hostile guest sends messages of every type
// with plausible and absurd fields (unknown fids, walks of up to 40 names, huge counts and offsets, names
// with "/", "..", NUL, invalid UTF-8 or 300 bytes), then the same messages cut short, with bytes flipped and
// with size fields that lie. Nothing may throw; every message with a tag gets exactly one well-formed reply
// (its size field equal to its length, the same tag, Rlerror or the matching R-type) that fits the buffer
// offered; nothing is written outside the share (the host-directory run checks the directory around it).
// ≥ 10^5 messages in all. Replay a failure with VIRTIO_FUZZ_SEED=<printed seed>.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VirtioMmioTransport } from "../../devices/virtio/mmio-transport.ts";
import { MemoryShare } from "../../devices/virtio-9p/memory-share.ts";
import {
  P9_MESSAGE_NAMES,
  P9_RLERROR,
  P9_TATTACH,
  P9_TLCREATE,
  P9_TLOPEN,
  P9_TMKDIR,
  P9_TREAD,
  P9_TREADDIR,
  P9_TVERSION,
  P9_TWALK,
  P9_TWRITE,
  P9Writer,
} from "../../devices/virtio-9p/p9-proto.ts";
import { P9Server } from "../../devices/virtio-9p/p9-server.ts";
import type { ShareBackend } from "../../devices/virtio-9p/share-backend.ts";
import { Virtio9p } from "../../devices/virtio-9p/virtio-9p.ts";
import { HostShare } from "../../src/cli/host-share.ts";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { rng } from "../../src/testing/rng.ts";
import { MmioDriver } from "../../src/testing/virtio-driver.ts";

/** src/testing/rng.ts's xorshift32, as unsigned 32-bit values. */
function xorshift(seed: number): () => number {
  const next = rng(seed);
  return () => next() >>> 0;
}

const SEED = Number(process.env.VIRTIO_FUZZ_SEED ?? 0x9b9b);
const TYPES = Object.keys(P9_MESSAGE_NAMES).map(Number);
const NAMES = ["a", "b", "dir", "file.txt", "..", ".", "", "a/b", "../../etc", "x\0y", "é", "n".repeat(300)];

/** A message generator: plausible fields most of the time, absurd ones often enough. */
function generator(rnd: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length];
  const fid = () => (rnd() % 8 === 0 ? rnd() : rnd() % 12);
  const u32 = () => (rnd() % 4 === 0 ? rnd() : rnd() % 70000);
  const u64 = () => (rnd() % 4 === 0 ? (BigInt(rnd()) << 32n) | BigInt(rnd()) : BigInt(rnd() % 100000));
  const name = (w: P9Writer) => {
    if (rnd() % 16 === 0) {
      // A string whose bytes are not UTF-8, or whose length runs past the message.
      const bad = Uint8Array.of(0xff, 0xfe, 0xc0, 0x80);
      w.u16(rnd() % 2 === 0 ? bad.length : 60000).data(bad);
    } else w.str(pick(NAMES));
  };
  return (): Uint8Array => {
    const type = rnd() % 10 === 0 ? rnd() % 256 : pick(TYPES);
    const w = new P9Writer(type, rnd() % 0x10000);
    switch (type) {
      case P9_TVERSION:
        w.u32(pick([512000, 8192, 100, 0, 0xffffffff, rnd()])).str(pick(["9P2000.L", "9P2000", "9P2000.u", ""]));
        break;
      case P9_TATTACH:
        w.u32(fid()).u32(0xffffffff);
        name(w);
        name(w);
        w.u32(rnd() % 3 === 0 ? rnd() : 0);
        break;
      case P9_TWALK: {
        const n = rnd() % 4 === 0 ? rnd() % 41 : rnd() % 4;
        w.u32(fid())
          .u32(fid())
          .u16(rnd() % 16 === 0 ? rnd() % 0x10000 : n);
        for (let i = 0; i < n; i++) name(w);
        break;
      }
      case P9_TLOPEN:
        w.u32(fid()).u32(pick([0, 1, 2, 3, 0o1001, 0o2002, rnd()]));
        break;
      case P9_TLCREATE:
        w.u32(fid());
        name(w);
        w.u32(pick([1, 2, 0o1002, rnd()]))
          .u32(pick([0o644, 0o7777, rnd()]))
          .u32(0);
        break;
      case P9_TMKDIR:
        w.u32(fid());
        name(w);
        w.u32(0o755).u32(0);
        break;
      case P9_TREAD:
      case P9_TREADDIR:
        w.u32(fid()).u64(u64()).u32(u32());
        break;
      case P9_TWRITE: {
        const len = rnd() % 3 === 0 ? rnd() % 70000 : rnd() % 64;
        // The count field may claim more than the data carried.
        w.u32(fid())
          .u64(u64())
          .u32(rnd() % 8 === 0 ? rnd() : len)
          .data(new Uint8Array(len).fill(rnd() & 0xff));
        break;
      }
      default: {
        // Any other type: a fid, then fields of random kinds, as its layout would have them.
        w.u32(fid());
        const k = rnd() % 6;
        for (let i = 0; i < k; i++) {
          const f = rnd() % 4;
          if (f === 0) w.u32(u32());
          else if (f === 1) w.u64(u64());
          else if (f === 2) name(w);
          else w.u8(rnd() & 0xff);
        }
      }
    }
    return w.finish();
  };
}

/** Cuts, flips and lies: a well-formed message made hostile. */
function mutate(rnd: () => number, m: Uint8Array): Uint8Array {
  const r = rnd() % 6;
  if (r === 0) return m.slice(0, rnd() % (m.length + 1)); // truncated (size field now lies)
  if (r === 1) {
    const c = m.slice();
    for (let i = rnd() % 4; i >= 0; i--) c[rnd() % c.length] = rnd() & 0xff;
    return c;
  }
  if (r === 2) {
    const c = m.slice();
    new DataView(c.buffer).setUint32(0, rnd() % 3 === 0 ? rnd() : rnd() % (m.length + 16), true);
    return c;
  }
  if (r === 3) return Uint8Array.from({ length: rnd() % 40 }, () => rnd() & 0xff); // noise
  return m;
}

/** The reply invariants; returns a description of the first broken one. */
function checkReply(req: Uint8Array, reply: Uint8Array | undefined, room: number): string | undefined {
  if (req.length < 7 || room < 11) return reply === undefined ? undefined : "answered a message with no tag";
  if (reply === undefined) return "no reply to a message with a tag";
  if (reply.length > room) return `reply of ${reply.length} bytes for ${room} of room`;
  const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  if (v.getUint32(0, true) !== reply.length) return "reply size field is not its length";
  if (v.getUint16(5, true) !== new DataView(req.buffer, req.byteOffset).getUint16(5, true)) return "tag changed";
  const t = v.getUint8(4);
  if (t !== P9_RLERROR && t !== req[4] + 1) return `reply type ${t} for ${req[4]}`;
  if (t === P9_RLERROR && (reply.length !== 11 || v.getUint32(7, true) === 0)) return "bad Rlerror";
  return undefined;
}

function fuzzServer(backend: ShareBackend, rounds: number, seed: number): P9Server {
  const rnd = xorshift(seed);
  const gen = generator(rnd);
  const server = new P9Server(backend, { maxFids: 64, maxOpen: 16 });
  const setup = () => {
    // A session with a few fids, so later messages reach real files and directories.
    server.handle(new P9Writer(P9_TVERSION, 1).u32(65536).str("9P2000.L").finish(), 1 << 20);
    server.handle(new P9Writer(P9_TATTACH, 2).u32(0).u32(0xffffffff).str("").str("").u32(0).finish(), 1 << 20);
    server.handle(new P9Writer(P9_TWALK, 3).u32(0).u32(1).u16(0).finish(), 1 << 20);
    server.handle(new P9Writer(P9_TLOPEN, 4).u32(1).u32(0).finish(), 1 << 20);
  };
  setup();
  let slowest = 0;
  for (let i = 0; i < rounds; i++) {
    if (i % 500 === 0) setup();
    const msg = mutate(rnd, gen());
    const room = rnd() % 8 === 0 ? rnd() % 64 : 1 << 20;
    const start = performance.now();
    let reply: Uint8Array | undefined;
    try {
      reply = server.handle(msg, room);
    } catch (e) {
      throw new Error(`message ${i} (VIRTIO_FUZZ_SEED=${seed}) threw: ${(e as Error).stack}`);
    }
    slowest = Math.max(slowest, performance.now() - start);
    const bad = checkReply(msg, reply, room);
    if (bad !== undefined) {
      throw new Error(`message ${i} (VIRTIO_FUZZ_SEED=${seed}): ${bad}: ${Buffer.from(msg).toString("hex")}`);
    }
  }
  expect(slowest).toBeLessThan(250);
  expect(server.stats.internalErrors).toBe(0); // every failure was a deliberate Rlerror, not a bug caught
  return server;
}

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe("virtio-9p under a hostile guest", () => {
  it("the server over the in-memory share: 80000 messages", () => {
    const share = new MemoryShare({ maxBytes: 4 << 20, maxNodes: 2000 });
    share.putFile("file.txt", new Uint8Array(5000).fill(1));
    share.putFile("dir/a", new Uint8Array(10));
    const server = fuzzServer(share, 80000, SEED);
    expect(server.stats.requests).toBe(80000 + 4 * 161);
    expect(server.stats.malformed).toBeGreaterThan(10000);
    // The hostile run reached the file system, not only the parser.
    expect(server.counts.walk).toBeGreaterThan(1000);
    expect(share.statfs().bfree).toBeGreaterThanOrEqual(0);
  });

  it("the server over a host directory: 20000 messages, nothing written outside it", () => {
    const top = mkdtempSync(join(tmpdir(), "vireo-9p-fuzz-"));
    made.push(top);
    const dir = join(top, "share");
    mkdirSync(join(dir, "dir"), { recursive: true });
    writeFileSync(join(dir, "file.txt"), new Uint8Array(5000).fill(1));
    writeFileSync(join(top, "outside.txt"), "x");
    const server = fuzzServer(new HostShare(dir), 20000, SEED + 1);
    expect(server.stats.requests).toBe(20000 + 4 * 41);
    expect(readdirSync(top).sort()).toEqual(["outside.txt", "share"]);
  });

  it("the device behind virtio-mmio: 8000 requests in random buffer splits", () => {
    const rnd = xorshift(SEED + 2);
    const gen = generator(rnd);
    const mem = new GuestMemory(0x80000000, 8 << 20);
    const dev = new Virtio9p(new MemoryShare({ maxBytes: 1 << 20 }));
    const t = new VirtioMmioTransport(dev, mem, new LevelIrq());
    const drv = new MmioDriver(t, mem, undefined, 2 << 20);
    expect(drv.init(dev.features, [128])).toBe(true);
    const q = drv.queues[0];
    for (let i = 0; i < 8000; i++) {
      if (i % 400 === 0) {
        q.add([{ read: new P9Writer(P9_TVERSION, 1).u32(65536).str("9P2000.L").finish() }, { write: 64 }]);
        q.add([
          { read: new P9Writer(P9_TATTACH, 2).u32(0).u32(0xffffffff).str("").str("").u32(0).finish() },
          { write: 64 },
        ]);
      }
      const msg = mutate(rnd, gen());
      // The request split over 1-3 readable buffers, the reply room over 0-3 writable ones.
      const cuts = [rnd() % (msg.length + 1), rnd() % (msg.length + 1)].sort((a, b) => a - b);
      const reads = [msg.subarray(0, cuts[0]), msg.subarray(cuts[0], cuts[1]), msg.subarray(cuts[1])].filter(
        (b) => b.length > 0,
      );
      const writes = Array.from({ length: rnd() % 4 }, () => ({ write: 1 + (rnd() % 20000) }));
      // (A chain needs one buffer at least: an empty message still gets reply room.)
      if (reads.length === 0 && writes.length === 0) writes.push({ write: 16 });
      q.add([...reads.map((read) => ({ read })), ...writes]);
      try {
        drv.kick(0);
      } catch (e) {
        throw new Error(`request ${i} (VIRTIO_FUZZ_SEED=${SEED + 2}) threw: ${(e as Error).stack}`);
      }
      const used = q.takeUsed();
      expect(used.length).toBeGreaterThanOrEqual(1);
      const room = writes.reduce((n, w) => n + w.write, 0);
      const last = used[used.length - 1];
      expect(last.len).toBeLessThanOrEqual(room);
      expect(t.core.status & 64).toBe(0); // a bad message never breaks the device
    }
    expect(dev.server.stats.internalErrors).toBe(0);
    expect(dev.snapshot().chains).toBeGreaterThanOrEqual(8000);
  });
});
