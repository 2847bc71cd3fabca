// Seeded fuzz of the device's guest-facing parsers: transmit chains with hostile virtio_net_hdr fields
// and mangled frames, control commands of random bytes, receive buffers of odd shapes. The device must
// count and drop, never throw, never ask for a reset, and never report more written than it was given.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { ALL_OFFLOADS, NO_OFFLOADS } from "../../src/net/backend.ts";
import { ChannelBackend } from "../../src/net/link/channel.ts";
import { MAC_B, tcp4Packet, tcp6Packet, udpPacket } from "../../src/testing/net-packets.ts";
import { MmioDriver } from "../../src/testing/virtio-driver.ts";
import { VirtioMmioTransport } from "../virtio/mmio-transport.ts";
import { encodeNetHdr } from "./net-hdr.ts";
import { VirtioNet } from "./virtio-net.ts";

const A = { ip: "10.0.2.15", port: 1 };
const B = { ip: "10.0.2.2", port: 2 };
const A6 = { ip: "fd00::1", port: 1 };
const B6 = { ip: "fd00::2", port: 2 };
const VIRTIO_MMIO_STATUS = 0x70;
const NEEDS_RESET = 64;

const bases = [
  tcp4Packet(A, B, 0, 4000, 1, { partialChecksum: true }),
  tcp6Packet(A6, B6, 0, 3000, 1, { partialChecksum: true }),
  udpPacket(A, B, 2000, { partialChecksum: true }),
  tcp4Packet(A, B, 0, 20, 1),
];

describe("virtio-net fuzz", () => {
  it.each([
    ["a backend that takes superpackets", ALL_OFFLOADS],
    ["a backend that needs them split", NO_OFFLOADS],
  ])("hostile transmit headers and frames with %s", (_n, caps) => {
    const mem = new GuestMemory(0x80000000, 8 << 20);
    const backend = new ChannelBackend(caps);
    const dev = new VirtioNet({ backend, mac: MAC_B });
    const drv = new MmioDriver(new VirtioMmioTransport(dev, mem, new LevelIrq()), mem);
    expect(drv.init(dev.features, [64, 64, 16])).toBe(true);
    const u16 = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        fc.record({
          flags: fc.integer({ min: 0, max: 255 }),
          gsoType: fc.constantFrom(0, 1, 3, 4, 5, 0x81, 0x84, 2, 0x7f),
          hdrLen: u16,
          gsoSize: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 }), u16),
          csumStart: fc.oneof(fc.constantFrom(14, 34, 54), u16),
          csumOffset: fc.oneof(fc.constantFrom(6, 16), u16),
          numBuffers: u16,
        }),
        fc.nat(bases.length - 1),
        fc.array(fc.tuple(fc.nat(4095), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(4100),
        fc.boolean(),
        (h, which, pokes, cut, splitHdr) => {
          const f = bases[which]!.slice(0, Math.max(1, cut));
          for (const [i, v] of pokes) if (i < f.length) f[i] = v;
          const hdr = encodeNetHdr(h);
          const q = drv.queues[1]!;
          if (splitHdr) q.add([{ read: hdr }, { read: f }]);
          else {
            const one = new Uint8Array(12 + f.length);
            one.set(hdr);
            one.set(f, 12);
            q.add([{ read: one }], { indirect: true });
          }
          drv.kick(1);
          expect(q.takeUsed().map((u) => u.len)).toEqual([0]);
          expect(drv.r(VIRTIO_MMIO_STATUS) & NEEDS_RESET).toBe(0);
          for (const s of backend.sent) expect(s.frame.length).toBeLessThanOrEqual(65535 + 18);
          backend.sent.length = 0;
        },
      ),
      { seed: 0x5e1f, numRuns: 1500 },
    );
    expect(dev.counters.txPackets + (dev.counters.drops["tx-runt"] ?? 0)).toBeGreaterThan(0);
  });

  it("random control commands are acked OK or ERR, never more", () => {
    const mem = new GuestMemory(0x80000000, 16 << 20);
    const dev = new VirtioNet({ mac: MAC_B });
    const drv = new MmioDriver(new VirtioMmioTransport(dev, mem, new LevelIrq()), mem);
    expect(drv.init(dev.features, [64, 64, 64, 64, 64, 64, 64, 64, 16])).toBe(true);
    const q = drv.queues[8]!;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 0, max: 3 }),
        (cls, cmd, data, ackLen) => {
          const bufs: ({ read: Uint8Array } | { write: number })[] = [{ read: Uint8Array.of(cls, cmd) }];
          if (data.length > 0) bufs.push({ read: data });
          if (ackLen > 0) bufs.push({ write: ackLen });
          const c = q.add(bufs);
          drv.kick(8);
          const used = q.takeUsed();
          expect(used.length).toBe(1);
          if (ackLen > 0) {
            expect(used[0]!.len).toBe(1);
            expect([0, 1]).toContain(q.written(c, bufs.length - 1)[0]);
          } else {
            expect(used[0]!.len).toBe(0);
          }
        },
      ),
      { seed: 7, numRuns: 1000 },
    );
    expect(drv.r(VIRTIO_MMIO_STATUS) & NEEDS_RESET).toBe(0);
  });

  it("receive buffers of odd shapes never get more than their capacity", () => {
    const mem = new GuestMemory(0x80000000, 8 << 20);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 3 }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.nat(bases.length - 1),
        (mergeable, shapes, which) => {
          const backend = new ChannelBackend(NO_OFFLOADS);
          const dev = new VirtioNet({ backend, mac: MAC_B });
          const drv = new MmioDriver(new VirtioMmioTransport(dev, mem, new LevelIrq()), mem);
          const want = mergeable ? dev.features : dev.features & ~(1n << 15n);
          expect(drv.init(want, [64, 64, 16])).toBe(true);
          const rx = drv.queues[0]!;
          const chains = shapes.map((s) => rx.add(s.map((n) => ({ write: n }))));
          drv.kick(0);
          const f = bases[which]!.slice();
          backend.inject(f, {
            type: which === 2 ? 5 : which === 1 ? 4 : 1,
            gsoSize: 1000,
            hdrLen: 0,
            needsCsum: true,
            csumStart: which === 1 ? 54 : 34,
            csumOffset: which === 2 ? 6 : 16,
          });
          for (const u of rx.takeUsed()) {
            const i = chains.findIndex((c) => c.head === u.id);
            const cap = shapes[i]!.reduce((a, b) => a + b, 0);
            expect(u.len).toBeLessThanOrEqual(cap);
          }
          expect(drv.r(VIRTIO_MMIO_STATUS) & NEEDS_RESET).toBe(0);
        },
      ),
      { seed: 99, numRuns: 300 },
    );
  });
});
