import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { type DriverBuffer, MmioDriver } from "../../src/testing/virtio-driver.ts";
import { featureMask, VIRTIO_BLK_F_RO } from "../virtio/features.ts";
import { VirtioMmioTransport } from "../virtio/mmio-transport.ts";
import { type BlockBackend, MemoryBlockBackend } from "./block-backend.ts";
import {
  VIRTIO_BLK_CFG_BLK_SIZE,
  VIRTIO_BLK_CFG_CAPACITY,
  VIRTIO_BLK_CFG_SEG_MAX,
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VIRTIO_BLK_T_WRITE_ZEROES,
  VirtioBlk,
  type VirtioBlkOptions,
} from "./virtio-blk.ts";

const DISK = 64 * 1024;

function setup(backend: BlockBackend = patterned(), opts: VirtioBlkOptions = {}) {
  const mem = new GuestMemory(0x80000000, 4 << 20);
  const dev = new VirtioBlk(backend, opts);
  const t = new VirtioMmioTransport(dev, mem, new LevelIrq());
  const drv = new MmioDriver(t, mem);
  expect(drv.init(dev.features, [16])).toBe(true);
  return { mem, dev, t, drv, q: drv.queues[0], backend };
}

/** A disk whose byte i is i mod 251, so every sector differs. */
function patterned(): MemoryBlockBackend {
  const b = new MemoryBlockBackend(DISK);
  for (let i = 0; i < DISK; i++) b.bytes[i] = i % 251;
  return b;
}

function hdr(type: number, sector: number): Uint8Array {
  const h = new DataView(new ArrayBuffer(16));
  h.setUint32(0, type, true);
  h.setBigUint64(8, BigInt(sector), true);
  return new Uint8Array(h.buffer);
}

/** Sends one request; returns the used length, the status byte and the data bytes written. */
function request(s: ReturnType<typeof setup>, buffers: DriverBuffer[]) {
  const c = s.q.add(buffers);
  s.drv.kick(0);
  const used = s.q.takeUsed();
  expect(used.length).toBe(1);
  const last = s.q.written(c, buffers.length - 1);
  return { len: used[0].len, status: last[last.length - 1], chain: c };
}

describe("virtio-blk: config and features", () => {
  it("advertises capacity, seg_max and blk_size", () => {
    const { t, dev } = setup();
    expect(t.core.readConfig(VIRTIO_BLK_CFG_CAPACITY, 4)).toBe(DISK / 512);
    expect(t.core.readConfig(VIRTIO_BLK_CFG_CAPACITY + 4, 4)).toBe(0);
    expect(t.core.readConfig(VIRTIO_BLK_CFG_SEG_MAX, 4)).toBe(254);
    expect(t.core.readConfig(VIRTIO_BLK_CFG_BLK_SIZE, 4)).toBe(512);
    expect(dev.features & featureMask(VIRTIO_BLK_F_RO)).toBe(0n);
  });

  it("offers VIRTIO_BLK_F_RO for a read-only disk", () => {
    const { dev } = setup(patterned(), { readOnly: true });
    expect(VirtioBlk.isReadOnly(dev.features)).toBe(true);
  });
});

describe("virtio-blk: requests", () => {
  it("IN reads sectors into the data buffers (split across two segments)", () => {
    const s = setup();
    const r = request(s, [{ read: hdr(VIRTIO_BLK_T_IN, 3) }, { write: 512 }, { write: 512 }, { write: 1 }]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(r.len).toBe(1025);
    const a = s.q.written(r.chain, 1);
    const b = s.q.written(r.chain, 2);
    expect(a[0]).toBe((3 * 512) % 251);
    expect(b[511]).toBe((5 * 512 - 1) % 251);
  });

  it("OUT writes sectors; a later IN reads them back", () => {
    const s = setup();
    const data = new Uint8Array(1024).fill(0x5a);
    const w = request(s, [{ read: hdr(VIRTIO_BLK_T_OUT, 10) }, { read: data }, { write: 1 }]);
    expect([w.status, w.len]).toEqual([VIRTIO_BLK_S_OK, 1]);
    const backend = s.backend as MemoryBlockBackend;
    expect(backend.bytes[10 * 512]).toBe(0x5a);
    expect(backend.bytes[12 * 512]).toBe((12 * 512) % 251);
    const r = request(s, [{ read: hdr(VIRTIO_BLK_T_IN, 11) }, { write: 512 }, { write: 1 }]);
    expect(s.q.written(r.chain, 1).every((b) => b === 0x5a)).toBe(true);
  });

  it("header and data may share one descriptor (any layout)", () => {
    const s = setup();
    const both = new Uint8Array(16 + 512);
    both.set(hdr(VIRTIO_BLK_T_OUT, 0));
    both.fill(0x77, 16);
    const w = request(s, [{ read: both }, { write: 1 }]);
    expect(w.status).toBe(VIRTIO_BLK_S_OK);
    expect((s.backend as MemoryBlockBackend).bytes[511]).toBe(0x77);
  });

  it("FLUSH reaches the backend", () => {
    const s = setup();
    expect(request(s, [{ read: hdr(VIRTIO_BLK_T_FLUSH, 0) }, { write: 1 }]).status).toBe(VIRTIO_BLK_S_OK);
    expect((s.backend as MemoryBlockBackend).flushes).toBe(1);
  });

  it("GET_ID answers the serial, NUL-padded to 20 bytes", () => {
    const s = setup(patterned(), { serial: "disk-7" });
    const r = request(s, [{ read: hdr(VIRTIO_BLK_T_GET_ID, 0) }, { write: 20 }, { write: 1 }]);
    expect(r.status).toBe(VIRTIO_BLK_S_OK);
    expect(r.len).toBe(21);
    const id = s.q.written(r.chain, 1);
    expect(new TextDecoder().decode(id.subarray(0, 6))).toBe("disk-7");
    expect(id[6]).toBe(0);
  });

  for (const type of [VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_T_DISCARD]) {
    it(`${type === VIRTIO_BLK_T_DISCARD ? "DISCARD" : "WRITE_ZEROES"} zeroes the range`, () => {
      const s = setup();
      const seg = new DataView(new ArrayBuffer(16));
      seg.setBigUint64(0, 4n, true);
      seg.setUint32(8, 2, true);
      const r = request(s, [{ read: hdr(type, 0) }, { read: new Uint8Array(seg.buffer) }, { write: 1 }]);
      expect(r.status).toBe(VIRTIO_BLK_S_OK);
      const bytes = (s.backend as MemoryBlockBackend).bytes;
      expect(bytes.subarray(4 * 512, 6 * 512).every((b) => b === 0)).toBe(true);
      expect(bytes[6 * 512]).toBe((6 * 512) % 251);
    });
  }

  const bad: { name: string; buffers: () => DriverBuffer[]; status: number; opts?: VirtioBlkOptions }[] = [
    {
      name: "read past the end of the disk",
      buffers: () => [{ read: hdr(VIRTIO_BLK_T_IN, DISK / 512 - 1) }, { write: 1024 }, { write: 1 }],
      status: VIRTIO_BLK_S_IOERR,
    },
    {
      name: "sector near 2^64",
      buffers: () => [{ read: hdr(VIRTIO_BLK_T_IN, 2 ** 63) }, { write: 512 }, { write: 1 }],
      status: VIRTIO_BLK_S_IOERR,
    },
    {
      name: "write on a read-only disk",
      buffers: () => [{ read: hdr(VIRTIO_BLK_T_OUT, 0) }, { read: new Uint8Array(512) }, { write: 1 }],
      status: VIRTIO_BLK_S_IOERR,
      opts: { readOnly: true },
    },
    {
      name: "data not a whole number of sectors",
      buffers: () => [{ read: hdr(VIRTIO_BLK_T_IN, 0) }, { write: 100 }, { write: 1 }],
      status: VIRTIO_BLK_S_IOERR,
    },
    {
      name: "header shorter than 16 bytes",
      buffers: () => [{ read: new Uint8Array(8) }, { write: 1 }],
      status: VIRTIO_BLK_S_IOERR,
    },
    {
      name: "unknown request type",
      buffers: () => [{ read: hdr(0x1234, 0) }, { write: 1 }],
      status: VIRTIO_BLK_S_UNSUPP,
    },
    {
      name: "WRITE_ZEROES without a segment",
      buffers: () => [{ read: hdr(VIRTIO_BLK_T_WRITE_ZEROES, 0) }, { write: 1 }],
      status: VIRTIO_BLK_S_UNSUPP,
    },
  ];
  for (const b of bad) {
    it(`answers ${b.name} with status ${b.status} and leaves the disk alone`, () => {
      const s = setup(patterned(), b.opts);
      const before = (s.backend as MemoryBlockBackend).bytes.slice();
      const r = request(s, b.buffers());
      expect(r.status).toBe(b.status);
      expect(r.len).toBe(1);
      expect((s.backend as MemoryBlockBackend).bytes).toEqual(before);
    });
  }

  it("returns a request with no writable byte empty (nowhere to put a status)", () => {
    const s = setup();
    const c = s.q.add([{ read: hdr(VIRTIO_BLK_T_IN, 0) }]);
    s.drv.kick(0);
    expect(s.q.takeUsed().map((u) => [u.id, u.len])).toEqual([[c.head, 0]]);
  });
});

/** A backend that answers every call with a Promise the test settles by hand. */
class DeferredBackend implements BlockBackend {
  readonly inner = patterned();
  readonly size = DISK;
  waiting: (() => void)[] = [];
  read(offset: number, length: number): Promise<Uint8Array> {
    return new Promise((resolve) => this.waiting.push(() => resolve(this.inner.read(offset, length))));
  }
  write(offset: number, data: Uint8Array): Promise<void> {
    return new Promise((resolve) => this.waiting.push(() => resolve(this.inner.write(offset, data))));
  }
  flush(): Promise<void> {
    return new Promise((_resolve, reject) => this.waiting.push(() => reject(new Error("flush failed"))));
  }
  settleOne(): void {
    this.waiting.shift()?.();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("virtio-blk: asynchronous backends", () => {
  it("completes requests later, one at a time in ring order, without blocking the kick", async () => {
    const backend = new DeferredBackend();
    const s = setup(backend);
    const a = s.q.add([{ read: hdr(VIRTIO_BLK_T_IN, 1) }, { write: 512 }, { write: 1 }]);
    const b = s.q.add([{ read: hdr(VIRTIO_BLK_T_OUT, 2) }, { read: new Uint8Array(512).fill(9) }, { write: 1 }]);
    s.drv.kick(0);
    expect(s.q.takeUsed()).toEqual([]);
    expect(backend.waiting.length).toBe(1);
    backend.settleOne();
    await tick();
    expect(s.q.takeUsed().map((u) => u.id)).toEqual([a.head]);
    expect(s.q.written(a, 1)[0]).toBe(512 % 251);
    expect(backend.waiting.length).toBe(1);
    backend.settleOne();
    await tick();
    expect(s.q.takeUsed().map((u) => u.id)).toEqual([b.head]);
    expect(backend.inner.bytes[1024]).toBe(9);
  });

  it("turns a rejected backend call into IOERR", async () => {
    const backend = new DeferredBackend();
    const s = setup(backend);
    const c = s.q.add([{ read: hdr(VIRTIO_BLK_T_FLUSH, 0) }, { write: 1 }]);
    s.drv.kick(0);
    backend.settleOne();
    await tick();
    expect(s.q.takeUsed().map((u) => u.len)).toEqual([1]);
    expect(s.q.written(c, 1)[0]).toBe(VIRTIO_BLK_S_IOERR);
  });

  it("drops a completion that arrives after a reset and never writes the guest's buffer", async () => {
    const backend = new DeferredBackend();
    const s = setup(backend);
    const c = s.q.add([{ read: hdr(VIRTIO_BLK_T_IN, 1) }, { write: 512 }, { write: 1 }]);
    s.drv.kick(0);
    s.drv.w(0x070, 0); // status 0: reset
    backend.settleOne();
    await tick();
    expect(s.q.written(c, 1).every((b) => b === 0xee)).toBe(true);
    expect(s.q.usedIdx()).toBe(0);
  });
});
