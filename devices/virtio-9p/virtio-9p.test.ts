import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { P9Client } from "../../src/testing/p9-client.ts";
import { type DriverBuffer, MmioDriver } from "../../src/testing/virtio-driver.ts";
import { featureNames, VIRTIO_9P_MOUNT_TAG } from "../virtio/features.ts";
import { VIRTIO_MMIO_CONFIG, VirtioMmioTransport } from "../virtio/mmio-transport.ts";
import { MemoryShare } from "./memory-share.ts";
import { P9_DOTL_RDWR, P9_RLERROR, P9_TREAD, P9Reader, P9Writer } from "./p9-proto.ts";
import { Virtio9p } from "./virtio-9p.ts";

function setup(dev = new Virtio9p(new MemoryShare())) {
  const mem = new GuestMemory(0x80000000, 4 << 20);
  const irq = new LevelIrq();
  const t = new VirtioMmioTransport(dev, mem, irq);
  const drv = new MmioDriver(t, mem, undefined, 1 << 20);
  expect(drv.init(dev.features, [64])).toBe(true);
  const q = drv.queues[0];
  /** One request as Linux's zero-copy path lays it out: the reply's 11-byte header apart from the data pages. */
  const rpc = (req: Uint8Array, room: number[] = [8192]): Uint8Array | undefined => {
    const bufs: DriverBuffer[] = [{ read: req }, ...room.map((n) => ({ write: n }))];
    const c = q.add(bufs);
    drv.kick(0);
    const used = q.takeUsed();
    expect(used.length).toBe(1);
    if (used[0].len === 0) return undefined;
    const out = new Uint8Array(used[0].len);
    let at = 0;
    for (let i = 1; i < bufs.length && at < out.length; i++) {
      const part = q.written(c, i).subarray(0, out.length - at);
      out.set(part, at);
      at += part.length;
    }
    return out;
  };
  return { dev, t, drv, q, irq, rpc };
}

describe("virtio-9p", () => {
  it("offers the mount tag in config space", () => {
    const { dev, t } = setup(new Virtio9p(new MemoryShare(), { tag: "host" }));
    expect(dev.features & (1n << BigInt(VIRTIO_9P_MOUNT_TAG))).not.toBe(0n);
    // The Devices panel names the bit (feature table scope "9p").
    expect(featureNames(dev.deviceId, dev.features)).toContain("VIRTIO_9P_MOUNT_TAG");
    expect(t.read(VIRTIO_MMIO_CONFIG, 2)).toBe(4);
    const tag = [0, 1, 2, 3].map((i) => t.read(VIRTIO_MMIO_CONFIG + 2 + i, 1));
    expect(String.fromCharCode(...tag)).toBe("host");
    expect(() => new Virtio9p(new MemoryShare(), { tag: "x".repeat(32) })).toThrow(RangeError);
  });

  it("serves a conversation through the queue, replies split over several buffers", () => {
    const share = new MemoryShare();
    const { rpc, irq, dev } = setup(new Virtio9p(share));
    const c = new P9Client((req) => rpc(req, [11, 4096, 4096, 100000]));
    c.mount(65536);
    const data = new Uint8Array(20000).map((_, i) => i % 251);
    c.writeFile("f.bin", data);
    expect(Buffer.from(share.getFile("f.bin")).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(c.readFile("f.bin")).equals(Buffer.from(data))).toBe(true);
    expect(irq.level).toBe(true);
    const s = dev.snapshot();
    expect(s.Tversion).toBe(1);
    expect(s.Twrite).toBe(1);
    expect(s.mountTag).toBe("host");
  });

  it("cuts an Rread to the reply buffer, and returns a chain without room empty", () => {
    const share = new MemoryShare();
    share.putFile("f", new Uint8Array(1000).fill(7));
    const { rpc, dev } = setup(new Virtio9p(share));
    const c = new P9Client((req) => rpc(req));
    c.mount(65536);
    c.walkTo(2, "f");
    c.lopen(2, P9_DOTL_RDWR);
    const reply = rpc(new P9Writer(P9_TREAD, 9).u32(2).u64(0).u32(4096).finish(), [20]);
    const r = new P9Reader(reply ?? new Uint8Array());
    expect(r.u32()).toBe(20);
    r.u8();
    r.u16();
    expect(r.u32()).toBe(9); // 20 bytes of room - 11 of header
    // No writable buffer: nothing can be answered.
    expect(rpc(new P9Writer(P9_TREAD, 10).u32(2).u64(0).u32(10).finish(), [])).toBeUndefined();
    // Too short to have a tag.
    expect(rpc(Uint8Array.of(1, 2, 3))).toBeUndefined();
    expect(dev.snapshot().droppedChains).toBe(2);
    // A size field that lies (bigger than the message) is an Rlerror.
    const lie = new P9Writer(P9_TREAD, 11).u32(2).finish();
    new DataView(lie.buffer, lie.byteOffset).setUint32(0, 4000, true);
    const e = new P9Reader(rpc(lie) ?? new Uint8Array());
    e.u32();
    expect(e.u8()).toBe(P9_RLERROR);
  });

  it("an in-memory share refuses a snapshot while the guest holds fids, and forgets them at reset", () => {
    const { rpc, dev, drv } = setup();
    expect(dev.saveState()).toEqual({ tag: "host", server: { msize: 8192, fids: [] } });
    const c = new P9Client((req) => rpc(req));
    c.mount();
    expect(() => dev.saveState()).toThrow(
      /virtio-9p \(tag "host"\): .*holds 1 fid\(s\) on the in-memory 9p share.*unmount/,
    );
    expect(drv.init(dev.features, [64])).toBe(true); // a reset on the way
    expect(dev.server.fidCount).toBe(0);
    expect(() => dev.saveState()).not.toThrow();
    expect(() => dev.loadState({ tag: "data", server: { msize: 8192, fids: [] } }, "d")).toThrow(/d.tag: .*"data"/);
  });
});
