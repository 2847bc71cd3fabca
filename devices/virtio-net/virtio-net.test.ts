import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { ALL_OFFLOADS, NO_OFFLOADS } from "../../src/net/backend.ts";
import { createLoopbackPair } from "../../src/net/link/loopback.ts";
import { l4ChecksumValid } from "../../src/net/offload/checksum-offload.ts";
import { GSO_TCPV4, type GsoInfo } from "../../src/net/offload/gso.ts";
import { parseFrame } from "../../src/net/wire/parse.ts";
import { TCP_FLAG_PSH } from "../../src/net/wire/tcp.ts";
import { MAC_B, tcp4Packet, udpPacket } from "../../src/testing/net-packets.ts";
import { MmioDriver } from "../../src/testing/virtio-driver.ts";
import { featureMask, VIRTIO_F_VERSION_1 } from "../virtio/features.ts";
import { VirtioMmioTransport } from "../virtio/mmio-transport.ts";
import { NET_FEATURE_BITS, NET_OPT_IN_FEATURES } from "./net-features.ts";
import { decodeNetHdr, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM } from "./net-hdr.ts";
import { bit, ctrlCmd, MMIO_CONFIG, setup, txPacket } from "./net-test-setup.ts";
import { VirtioNet } from "./virtio-net.ts";

const A = { ip: "10.0.2.15", port: 40000 };
const B = { ip: "10.0.2.2", port: 80 };

describe("virtio-net config and negotiation", () => {
  it("offers every issue-5 bit and shows MAC, status, pairs, MTU, speed in config", () => {
    const { drv, dev } = setup({ pairs: 4 });
    for (const n of Object.keys(NET_FEATURE_BITS)) {
      expect((dev.features & bit(n)) !== 0n, n).toBe(!NET_OPT_IN_FEATURES.includes(n));
    }
    const mac = Array.from({ length: 6 }, (_, i) => drv.r(MMIO_CONFIG + i) & 0xff);
    expect(mac).toEqual(Array.from(MAC_B));
    expect(drv.r(MMIO_CONFIG + 6) & 0xffff).toBe(1); // LINK_UP
    expect(drv.r(MMIO_CONFIG + 8) & 0xffff).toBe(4);
    expect(drv.r(MMIO_CONFIG + 10) & 0xffff).toBe(1500);
    expect(drv.r(MMIO_CONFIG + 12)).toBe(10000);
    expect(dev.queues.length).toBe(9);
  });

  it("a driver may not take TSO without CSUM", () => {
    const mem = new GuestMemory(0x80000000, 1 << 20);
    const dev = new VirtioNet();
    const drv = new MmioDriver(new VirtioMmioTransport(dev, mem, new LevelIrq()), mem);
    expect(drv.init(featureMask(VIRTIO_F_VERSION_1) | bit("HOST_TSO4"), [64, 64])).toBe(false);
  });

  it("link down raises a config-change interrupt and clears LINK_UP", () => {
    const { drv, dev, irq } = setup();
    drv.ackInterrupt();
    dev.setLink(false);
    expect(irq.level).toBe(true);
    expect(drv.ackInterrupt() & 2).toBe(2);
    expect(drv.r(MMIO_CONFIG + 6) & 1).toBe(0);
  });
});

describe("virtio-net transmit", () => {
  it("sends a plain frame as is", () => {
    const { tx, drv, backend, dev } = setup();
    const f = tcp4Packet(A, B, 0, 100, 1);
    txPacket(tx, {}, f);
    drv.kick(1);
    expect(backend.sent).toEqual([{ frame: f }]);
    expect(tx.takeUsed().map((u) => u.len)).toEqual([0]);
    expect(dev.counters.txPackets).toBe(1);
  });

  it("completes a NEEDS_CSUM packet for a backend without csum, passes it partial to one with", () => {
    for (const caps of [NO_OFFLOADS, ALL_OFFLOADS]) {
      const { tx, drv, backend, dev } = setup({ caps });
      const f = tcp4Packet(A, B, 0, 100, 1, { partialChecksum: true });
      txPacket(tx, { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 34, csumOffset: 16 }, f);
      drv.kick(1);
      const s = backend.sent[0]!;
      if (caps.csum) {
        expect(s.gso).toMatchObject({ type: 0, needsCsum: true, csumStart: 34, csumOffset: 16 });
      } else {
        expect(s.frame).toEqual(tcp4Packet(A, B, 0, 100, 1));
        expect(dev.counters.checksumsCompleted).toBe(1);
      }
    }
  });

  it("a TSO4 superpacket goes whole to a TSO backend and is split for one without", () => {
    for (const caps of [ALL_OFFLOADS, NO_OFFLOADS]) {
      const { tx, drv, backend, dev } = setup({ caps });
      const f = tcp4Packet(A, B, TCP_FLAG_PSH, 4000, 1, { partialChecksum: true });
      txPacket(tx, { flags: 1, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 }, f);
      drv.kick(1);
      if (caps.tso4) {
        expect(backend.sent.length).toBe(1);
        expect(backend.sent[0]!.gso).toMatchObject({ type: GSO_TCPV4, gsoSize: 1448, hdrLen: 54 });
        expect(dev.counters.txSuperpackets).toBe(1);
      } else {
        expect(backend.sent.map((s) => s.frame.length)).toEqual([54 + 1448, 54 + 1448, 54 + 1104]);
        for (const s of backend.sent) {
          const p = parseFrame(s.frame);
          expect(p.ok && l4ChecksumValid(s.frame, p.layout)).toBe(true);
        }
        expect([dev.counters.gsoSplits, dev.counters.gsoSplitFrames]).toEqual([1, 3]);
      }
    }
  });

  it.each([
    { name: "runt", hdr: {}, frame: new Uint8Array(10), reason: "tx-runt" },
    {
      name: "gso_size 0",
      hdr: { flags: 1, gsoType: 1, csumStart: 34, csumOffset: 16 },
      frame: tcp4Packet(A, B, 0, 3000, 1),
      reason: "tx-bad-gso",
    },
    {
      name: "csum_start past the end",
      hdr: { flags: 1, csumStart: 9000, csumOffset: 16 },
      frame: tcp4Packet(A, B, 0, 10, 1),
      reason: "tx-bad-csum-offsets",
    },
    {
      name: "unknown gso_type",
      hdr: { flags: 1, gsoType: 2, gsoSize: 100, csumStart: 34, csumOffset: 16 },
      frame: tcp4Packet(A, B, 0, 3000, 1),
      reason: "tx-gso-not-negotiated",
    },
    {
      name: "TSO4 over UDP",
      hdr: { flags: 1, gsoType: 1, gsoSize: 100, csumStart: 34, csumOffset: 16 },
      frame: udpPacket(A, B, 3000),
      reason: "tx-bad-gso",
    },
    { name: "oversized plain frame", hdr: {}, frame: new Uint8Array(3000), reason: "tx-oversize" },
  ])("drops and counts: $name", ({ hdr, frame, reason }) => {
    const { tx, drv, backend, dev } = setup();
    txPacket(tx, hdr, frame);
    drv.kick(1);
    expect(backend.sent).toEqual([]);
    expect(dev.counters.drops).toEqual({ [reason]: 1 });
    expect(tx.takeUsed().length).toBe(1);
  });

  it("holds frames while the backend says not now and sends them when it opens", () => {
    const { tx, drv, backend, dev } = setup();
    backend.accepting = false;
    const f1 = tcp4Packet(A, B, 0, 10, 1);
    const f2 = tcp4Packet(A, B, 0, 10, 11);
    txPacket(tx, {}, f1);
    txPacket(tx, {}, f2);
    drv.kick(1);
    // The first chain was consumed (its frame held); the second stays in the ring.
    expect(tx.takeUsed().length).toBe(1);
    expect(dev.counters.txBackpressure).toBe(1);
    backend.open();
    expect(backend.sent.map((s) => s.frame)).toEqual([f1, f2]);
    expect(dev.counters.drops).toEqual({});
  });
});

describe("virtio-net receive", () => {
  it("mergeable: a superpacket spans buffers with num_buffers and gso fields", () => {
    const { rx, drv, backend, dev } = setup();
    const bufs = Array.from({ length: 8 }, () => rx.add([{ write: 1536 }]));
    drv.kick(0);
    const f = tcp4Packet(A, B, 0, 4000, 1, { partialChecksum: true });
    const gso: GsoInfo = { type: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 };
    expect(backend.inject(f, gso)).toBe(true);
    const used = rx.takeUsed();
    expect(used.map((u) => u.len)).toEqual([1536, 1536, 12 + f.length - 2 * 1536]);
    const first = rx.written(bufs[0]!, 0);
    const h = decodeNetHdr(first);
    expect(h).toEqual({
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType: GSO_TCPV4,
      hdrLen: 54,
      gsoSize: 1448,
      csumStart: 34,
      csumOffset: 16,
      numBuffers: 3,
    });
    const joined = new Uint8Array(f.length);
    joined.set(first.subarray(12));
    joined.set(rx.written(bufs[1]!, 0), 1524);
    joined.set(rx.written(bufs[2]!, 0).subarray(0, f.length - 1524 - 1536), 1524 + 1536);
    expect(joined).toEqual(f);
    expect(dev.counters.rxSuperpackets).toBe(1);
  });

  it("without GUEST_TSO a superpacket is split and marked DATA_VALID", () => {
    const { rx, drv, backend, dev } = setup({ features: "-GUEST_TSO4,-GUEST_TSO6" });
    const bufs = Array.from({ length: 4 }, () => rx.add([{ write: 1536 }]));
    drv.kick(0);
    const f = tcp4Packet(A, B, 0, 3000, 1, { partialChecksum: true });
    backend.inject(f, { type: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 });
    const used = rx.takeUsed();
    expect(used.map((u) => u.len)).toEqual([12 + 54 + 1448, 12 + 54 + 1448, 12 + 54 + 104]);
    expect(decodeNetHdr(rx.written(bufs[0]!, 0)).flags).toBe(VIRTIO_NET_HDR_F_DATA_VALID);
    expect(dev.counters.gsoSplitFrames).toBe(3);
  });

  it("big-packet mode (no MRG_RXBUF): header descriptor plus page descriptors, one packet per chain", () => {
    const { rx, drv, backend } = setup({ features: "-MRG_RXBUF" });
    const c = rx.add([{ write: 12 }, { write: 4064 }, { write: 4096 }]);
    drv.kick(0);
    const f = tcp4Packet(A, B, 0, 5000, 1, { partialChecksum: true });
    backend.inject(f, { type: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 });
    expect(rx.takeUsed().map((u) => u.len)).toEqual([12 + f.length]);
    expect(decodeNetHdr(rx.written(c, 0)).numBuffers).toBe(1);
    expect(rx.written(c, 1).subarray(0, 100)).toEqual(f.subarray(0, 100));
  });

  it("small buffers: a too-large packet is dropped, the buffer kept for the next one", () => {
    const { rx, drv, backend, dev } = setup({ features: "-MRG_RXBUF,-GUEST_TSO4,-GUEST_TSO6" });
    rx.add([{ write: 1530 }]);
    drv.kick(0);
    backend.inject(tcp4Packet(A, B, 0, 4000, 1, { partialChecksum: true }), {
      type: GSO_TCPV4,
      gsoSize: 4000,
      hdrLen: 54,
      needsCsum: true,
      csumStart: 34,
      csumOffset: 16,
    });
    // gso_size ≥ payload: one packet of 4054 bytes — too big for a 1530-byte buffer.
    expect(dev.counters.drops).toEqual({ "rx-buffer-too-small": 1 });
    expect(rx.takeUsed()).toEqual([]);
    backend.inject(tcp4Packet(A, B, 0, 100, 1));
    expect(rx.takeUsed().map((u) => u.len)).toEqual([12 + 154]);
  });

  it("queues frames while there are no buffers, delivers on kick, refuses beyond the bound", () => {
    const { rx, drv, backend, dev } = setup();
    const f = tcp4Packet(A, B, 0, 10, 1);
    for (let i = 0; i < 1030; i++) backend.inject(f);
    expect(backend.backlog.length).toBe(6);
    expect(dev.counters.rxBackpressure).toBe(1);
    for (let i = 0; i < 60; i++) rx.add([{ write: 1536 }]);
    drv.kick(0);
    expect(rx.takeUsed().length).toBe(60);
    expect(dev.counters.rxPackets).toBe(60);
  });

  it("filters frames for other MACs once CTRL_RX is negotiated, and promiscuous mode lets them in", () => {
    const { rx, drv, backend, dev, ctrlq } = setup();
    for (let i = 0; i < 4; i++) rx.add([{ write: 1536 }]);
    drv.kick(0);
    const f = tcp4Packet(A, B, 0, 10, 1);
    f[5] = 0x77; // to 52:54:00:12:34:77, not ours
    backend.inject(f);
    expect(dev.counters.drops).toEqual({ "rx-filtered": 1 });
    ctrlCmd(ctrlq!, 0, 0, [1]);
    drv.kick(2);
    expect(ctrlq!.takeUsed().map((u) => u.len)).toEqual([1]);
    backend.inject(f);
    expect(rx.takeUsed().length).toBe(1);
  });
});

describe("virtio-net control queue", () => {
  it.each([
    { name: "promisc on", cls: 0, cmd: 0, data: [1], ack: 0 },
    { name: "ALLUNI is not offered", cls: 0, cmd: 2, data: [1], ack: 1 },
    {
      name: "MAC table with 1 unicast + 0 multicast",
      cls: 1,
      cmd: 0,
      data: [1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0],
      ack: 0,
    },
    { name: "MAC table count lies", cls: 1, cmd: 0, data: [200, 0, 0, 0, 0, 0, 0, 0], ack: 1 },
    { name: "MAC address set", cls: 1, cmd: 1, data: [2, 0, 0, 0, 0, 9], ack: 0 },
    { name: "MQ pairs 2 of 4", cls: 4, cmd: 0, data: [2, 0], ack: 0 },
    { name: "MQ pairs 5 of 4", cls: 4, cmd: 0, data: [5, 0], ack: 1 },
    { name: "MQ pairs 0", cls: 4, cmd: 0, data: [0, 0], ack: 1 },
    { name: "guest offloads: CSUM only", cls: 5, cmd: 0, data: [2, 0, 0, 0, 0, 0, 0, 0], ack: 0 },
    { name: "guest offloads: UFO not negotiated", cls: 5, cmd: 0, data: [0, 4, 0, 0, 0, 0, 0, 0], ack: 1 },
    { name: "announce ack", cls: 3, cmd: 0, data: [], ack: 0 },
    { name: "VLAN is not offered", cls: 2, cmd: 0, data: [1, 0], ack: 1 },
    { name: "unknown class", cls: 99, cmd: 0, data: [], ack: 1 },
  ])("$name → ack $ack", ({ cls, cmd, data, ack }) => {
    const { drv, ctrlq } = setup({ pairs: 4 });
    const q = ctrlq!;
    const c = ctrlCmd(q, cls, cmd, data);
    drv.kick(8);
    expect(q.takeUsed().map((u) => u.len)).toEqual([1]);
    expect(q.written(c, 2)[0]).toBe(ack);
  });

  it("MAC set changes config; guest offloads off stop superpackets; announce round trip", () => {
    const { drv, ctrlq, dev, rx, backend } = setup();
    ctrlCmd(ctrlq!, 1, 1, [2, 0, 0, 0, 0, 9]);
    drv.kick(2);
    expect(drv.r(MMIO_CONFIG + 5) & 0xff).toBe(9);
    ctrlq!.takeUsed();
    ctrlCmd(ctrlq!, 5, 0, [2, 0, 0, 0, 0, 0, 0, 0]);
    drv.kick(2);
    ctrlq!.takeUsed();
    for (let i = 0; i < 4; i++) rx.add([{ write: 1536 }]);
    drv.kick(0);
    const f = tcp4Packet(A, B, 0, 3000, 1, { partialChecksum: true });
    f.set([2, 0, 0, 0, 0, 9], 0); // the new MAC
    backend.inject(f, { type: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 });
    expect(rx.takeUsed().length).toBe(3);
    expect(dev.announce()).toBe(true);
    expect(drv.r(MMIO_CONFIG + 6) & 2).toBe(2);
    ctrlCmd(ctrlq!, 3, 0, []);
    drv.kick(2);
    expect(drv.r(MMIO_CONFIG + 6) & 2).toBe(0);
  });
});

describe("two devices back to back", () => {
  it("a TSO superpacket from A reaches B whole (GUEST_TSO) or split (not)", () => {
    for (const bFeatures of ["", "-GUEST_TSO4,-GUEST_TSO6,-MRG_RXBUF"]) {
      const [la, lb] = createLoopbackPair();
      const a = setup();
      const b = setup({ features: bFeatures });
      a.dev.attachBackend(la);
      b.dev.attachBackend(lb);
      for (let i = 0; i < 8; i++) b.rx.add([{ write: bFeatures ? 1530 : 4096 }]);
      b.drv.kick(0);
      const f = tcp4Packet(A, B, 0, 6000, 1, { partialChecksum: true });
      txPacket(a.tx, { flags: 1, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 }, f);
      a.drv.kick(1);
      const used = b.rx.takeUsed();
      expect(used.length).toBe(bFeatures ? 5 : 2);
      expect(b.dev.counters.rxBytes).toBe(bFeatures ? 6000 + 5 * 54 : 6054);
    }
  });
});
