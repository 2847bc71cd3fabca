// Device-level tests for paths the library tests alone did not cover (issue 5 review): TSO6 / USO / ECN
// on transmit, TCPv6 superpackets and ECN on receive, MQ with 4 pairs, GRO in the device's receive path,
// CTRL_RX / MAC-table filtering of real frames (and CTRL_RX_EXTRA), GUEST_ANNOUNCE on link up, and the
// MTU option. Everything goes through the scripted virtio driver and a ChannelBackend.

import { describe, expect, it } from "vitest";
import { ALL_OFFLOADS, NO_OFFLOADS } from "../../src/net/backend.ts";
import { l4ChecksumValid } from "../../src/net/offload/checksum-offload.ts";
import { GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, type GsoInfo } from "../../src/net/offload/gso.ts";
import { get16, get32 } from "../../src/net/wire/bytes.ts";
import { type FrameLayout, parseFrame } from "../../src/net/wire/parse.ts";
import { TCP_FLAG_CWR, TCP_FLAG_PSH } from "../../src/net/wire/tcp.ts";
import { patternPayload, tcp4Packet, tcp6Packet, udpPacket } from "../../src/testing/net-packets.ts";
import type { AddedChain, DriverQueue } from "../../src/testing/virtio-driver.ts";
import {
  decodeNetHdr,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
} from "./net-hdr.ts";
import { ctrlSend, MMIO_CONFIG, setup, txPacket } from "./net-test-setup.ts";
import { VirtioNet } from "./virtio-net.ts";

const A = { ip: "10.0.2.15", port: 40000 };
const B = { ip: "10.0.2.2", port: 80 };
const A6 = { ip: "fd00::15", port: 40000 };
const B6 = { ip: "fd00::2", port: 80 };

function layout(f: Uint8Array): FrameLayout {
  const p = parseFrame(f);
  if (!p.ok) throw new Error("frame does not parse");
  return p.layout;
}
const tcpFlags = (f: Uint8Array) => f[layout(f).l4Off + 13]!;
const tcpSeq = (f: Uint8Array) => get32(f, layout(f).l4Off + 4);
const checksumOk = (f: Uint8Array) => l4ChecksumValid(f, layout(f));

/** The payload bytes after the L4 header. */
function payloadOf(f: Uint8Array): Uint8Array {
  const l = layout(f);
  return f.subarray(l.l4Off + l.l4HeaderLen, l.ipEnd);
}

/** Posts `n` mergeable receive buffers of `len` bytes on `q` and kicks it. */
function post(s: { drv: { kick(i: number): void } }, q: DriverQueue, index: number, n: number, len = 1536) {
  const chains: AddedChain[] = [];
  for (let i = 0; i < n; i++) chains.push(q.add([{ write: len }]));
  s.drv.kick(index);
  return chains;
}

/** The packets the driver got on `q` (mergeable buffers): header and frame, joined over num_buffers. */
function received(q: DriverQueue) {
  const used = q.takeUsed();
  const out: { hdr: ReturnType<typeof decodeNetHdr>; frame: Uint8Array }[] = [];
  for (let i = 0; i < used.length; ) {
    const first = q.written(used[i]!.chain!, 0).subarray(0, used[i]!.len);
    const hdr = decodeNetHdr(first);
    const parts = [first.subarray(12)];
    for (let k = 1; k < hdr.numBuffers; k++) {
      const u = used[i + k]!;
      parts.push(q.written(u.chain!, 0).subarray(0, u.len));
    }
    const frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      frame.set(p, at);
      at += p.length;
    }
    out.push({ hdr, frame });
    i += Math.max(1, hdr.numBuffers);
  }
  return out;
}

const tso6 = (mss: number): GsoInfo => ({
  type: GSO_TCPV6,
  gsoSize: mss,
  hdrLen: 74,
  needsCsum: true,
  csumStart: 54,
  csumOffset: 16,
});

describe("virtio-net HOST_TSO6 / HOST_USO / HOST_ECN (transmit)", () => {
  it("HOST_TSO6: a TCPv6 superpacket is split into IPv6 segments for a backend without TSO6, whole with it", () => {
    // The middle case has TSO4 but not TSO6: the device must look at the right capability.
    for (const caps of [NO_OFFLOADS, { ...ALL_OFFLOADS, tso6: false }, ALL_OFFLOADS]) {
      const s = setup({ caps });
      const f = tcp6Packet(A6, B6, TCP_FLAG_PSH, 4000, 1000, { partialChecksum: true });
      txPacket(s.tx, { flags: 1, gsoType: GSO_TCPV6, hdrLen: 74, gsoSize: 1428, csumStart: 54, csumOffset: 16 }, f);
      s.drv.kick(1);
      expect(s.dev.counters.drops).toEqual({});
      if (caps.tso6) {
        expect(s.backend.sent.length).toBe(1);
        expect(s.backend.sent[0]!.frame).toEqual(f);
        expect(s.backend.sent[0]!.gso).toMatchObject({ type: GSO_TCPV6, gsoSize: 1428, hdrLen: 74, csumStart: 54 });
        expect(s.dev.counters.txSuperpackets).toBe(1);
        continue;
      }
      const out = s.backend.sent;
      expect(out.map((x) => x.frame.length)).toEqual([74 + 1428, 74 + 1428, 74 + 1144]);
      expect(out.every((x) => x.gso === undefined)).toBe(true);
      const whole = payloadOf(f);
      out.forEach(({ frame }, i) => {
        const l = layout(frame);
        expect(l.ipVersion).toBe(6);
        expect(get16(frame, 14 + 4)).toBe(frame.length - 54); // IPv6 payload length
        expect(tcpSeq(frame)).toBe(1000 + i * 1428);
        expect((tcpFlags(frame) & TCP_FLAG_PSH) !== 0).toBe(i === 2);
        expect(checksumOk(frame)).toBe(true);
        expect(payloadOf(frame)).toEqual(whole.subarray(i * 1428, (i + 1) * 1428));
      });
      expect([s.dev.counters.gsoSplits, s.dev.counters.gsoSplitFrames]).toEqual([1, 3]);
    }
  });

  it("HOST_USO: a UDP superpacket is split into datagrams for a backend without USO, whole with it", () => {
    for (const caps of [NO_OFFLOADS, ALL_OFFLOADS]) {
      const s = setup({ caps });
      const f = udpPacket(A, B, 2500, { partialChecksum: true, ipId: 7 });
      txPacket(s.tx, { flags: 1, gsoType: GSO_UDP_L4, hdrLen: 42, gsoSize: 1000, csumStart: 34, csumOffset: 6 }, f);
      s.drv.kick(1);
      expect(s.dev.counters.drops).toEqual({});
      if (caps.uso) {
        expect(s.backend.sent.length).toBe(1);
        expect(s.backend.sent[0]!.gso).toMatchObject({ type: GSO_UDP_L4, gsoSize: 1000, hdrLen: 42 });
        continue;
      }
      const out = s.backend.sent.map((x) => x.frame);
      expect(out.map((x) => x.length)).toEqual([1042, 1042, 542]);
      out.forEach((frame, i) => {
        expect(get16(frame, 14 + 2)).toBe(frame.length - 14); // IPv4 total length
        expect(get16(frame, 14 + 4)).toBe(7 + i); // IPv4 id
        expect(get16(frame, 34 + 4)).toBe(frame.length - 34); // UDP length
        expect(checksumOk(frame)).toBe(true);
        expect(payloadOf(frame)).toEqual(patternPayload(2500).subarray(i * 1000, (i + 1) * 1000));
      });
    }
  });

  it("HOST_USO not negotiated: a USO packet is dropped and counted", () => {
    const s = setup({ accept: ["CSUM", "HOST_TSO4"] });
    txPacket(
      s.tx,
      { flags: 1, gsoType: GSO_UDP_L4, gsoSize: 1000, csumStart: 34, csumOffset: 6 },
      udpPacket(A, B, 2500),
    );
    s.drv.kick(1);
    expect(s.backend.sent).toEqual([]);
    expect(s.dev.counters.drops).toEqual({ "tx-gso-not-negotiated": 1 });
  });

  it("HOST_ECN: a CWR superpacket with GSO_ECN is split (CWR on the first segment only) or passed whole with ecn", () => {
    for (const caps of [NO_OFFLOADS, ALL_OFFLOADS]) {
      const s = setup({ caps });
      const f = tcp4Packet(A, B, TCP_FLAG_CWR | TCP_FLAG_PSH, 4000, 1, { partialChecksum: true, tos: 0x02 });
      const gsoType = GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
      txPacket(s.tx, { flags: 1, gsoType, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 }, f);
      s.drv.kick(1);
      expect(s.dev.counters.drops).toEqual({});
      if (caps.tso4) {
        expect(s.backend.sent.length).toBe(1);
        expect(s.backend.sent[0]!.gso).toMatchObject({ type: GSO_TCPV4, ecn: true });
        continue;
      }
      const flags = s.backend.sent.map((x) => tcpFlags(x.frame) & (TCP_FLAG_CWR | TCP_FLAG_PSH));
      expect(flags).toEqual([TCP_FLAG_CWR, 0, TCP_FLAG_PSH]);
      expect(s.backend.sent.every((x) => checksumOk(x.frame))).toBe(true);
    }
  });

  it("HOST_ECN not negotiated: a superpacket with GSO_ECN is dropped and counted", () => {
    const s = setup({ accept: ["CSUM", "HOST_TSO4"], caps: ALL_OFFLOADS });
    const f = tcp4Packet(A, B, TCP_FLAG_CWR, 4000, 1, { partialChecksum: true });
    const gsoType = GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
    txPacket(s.tx, { flags: 1, gsoType, hdrLen: 54, gsoSize: 1448, csumStart: 34, csumOffset: 16 }, f);
    s.drv.kick(1);
    expect(s.backend.sent).toEqual([]);
    expect(s.dev.counters.drops).toEqual({ "tx-ecn-not-negotiated": 1 });
    expect(s.tx.takeUsed().length).toBe(1);
  });
});

describe("virtio-net GUEST_TSO6 / GUEST_ECN (receive)", () => {
  it("GUEST_TSO6: a TCPv6 superpacket from the backend reaches the driver whole with its gso fields", () => {
    const s = setup();
    post(s, s.rx, 0, 4, 4096);
    const f = tcp6Packet(A6, B6, 0, 4000, 1, { partialChecksum: true });
    expect(s.backend.inject(f, tso6(1428))).toBe(true);
    const got = received(s.rx);
    expect(got.length).toBe(1);
    expect(got[0]!.hdr).toEqual({
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType: GSO_TCPV6,
      hdrLen: 74,
      gsoSize: 1428,
      csumStart: 54,
      csumOffset: 16,
      numBuffers: 1,
    });
    expect(got[0]!.frame).toEqual(f);
    expect(s.dev.counters.rxSuperpackets).toBe(1);
  });

  it("GUEST_TSO6 off (TSO4 on): the TCPv6 superpacket is split, each segment DATA_VALID with a valid checksum", () => {
    const s = setup({ features: "-GUEST_TSO6" });
    post(s, s.rx, 0, 4);
    const f = tcp6Packet(A6, B6, 0, 4000, 1, { partialChecksum: true });
    s.backend.inject(f, tso6(1428));
    const got = received(s.rx);
    expect(got.map((g) => g.frame.length)).toEqual([74 + 1428, 74 + 1428, 74 + 1144]);
    for (const g of got) {
      expect(g.hdr.flags).toBe(VIRTIO_NET_HDR_F_DATA_VALID);
      expect(g.hdr.gsoType).toBe(0);
      expect(checksumOk(g.frame)).toBe(true);
    }
  });

  it("without GUEST_CSUM (so no guest GSO) the segments carry complete checksums and no flags", () => {
    const s = setup({ features: "-GUEST_CSUM" });
    post(s, s.rx, 0, 4);
    const f = tcp6Packet(A6, B6, 0, 3000, 1, { partialChecksum: true });
    s.backend.inject(f, tso6(1428));
    const got = received(s.rx);
    expect(got.length).toBe(3);
    for (const g of got) {
      expect(g.hdr.flags).toBe(0);
      expect(checksumOk(g.frame)).toBe(true);
    }
  });

  it("GUEST_ECN: a CWR superpacket carries GSO_ECN (even when the backend did not mark it); without GUEST_ECN it is split", () => {
    for (const ecnNegotiated of [true, false]) {
      const accept = ["GUEST_CSUM", "GUEST_TSO4", "MRG_RXBUF", ...(ecnNegotiated ? ["GUEST_ECN"] : [])];
      const s = setup({ accept });
      post(s, s.rx, 0, 8);
      for (const markEcn of [true, false]) {
        const f = tcp4Packet(A, B, TCP_FLAG_CWR, 3000, 1, { partialChecksum: true });
        const gso: GsoInfo = {
          type: GSO_TCPV4,
          gsoSize: 1448,
          hdrLen: 54,
          needsCsum: true,
          csumStart: 34,
          csumOffset: 16,
          ...(markEcn ? { ecn: true } : {}),
        };
        s.backend.inject(f, gso);
        const got = received(s.rx);
        if (ecnNegotiated) {
          expect(got.length).toBe(1);
          expect(got[0]!.hdr.gsoType).toBe(GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
        } else {
          expect(got.map((g) => tcpFlags(g.frame) & TCP_FLAG_CWR)).toEqual([TCP_FLAG_CWR, 0, 0]);
          expect(got.every((g) => g.hdr.gsoType === 0 && checksumOk(g.frame))).toBe(true);
        }
      }
    }
  });
});

describe("virtio-net MQ: 4 queue pairs", () => {
  const flow = (i: number, seq = 1) => tcp4Packet({ ip: "10.0.2.15", port: 41000 + i }, B, 0, 100, seq);

  it("VQ_PAIRS_SET 4 spreads flows over the rx queues, one flow stays on one queue; tx queue 4 transmits; back to 1", () => {
    const s = setup({ pairs: 4 });
    expect(s.ctrlIndex).toBe(8);
    const rxq = [0, 2, 4, 6].map((i) => s.drv.queues[i]!);
    rxq.forEach((q, p) => {
      post(s, q, 2 * p, 60);
    });
    // Before VQ_PAIRS_SET only pair 0 is in use.
    for (let i = 0; i < 8; i++) s.backend.inject(flow(i));
    expect(s.dev.counters.pairRx).toEqual([8, 0, 0, 0]);
    rxq[0]!.takeUsed();

    expect(ctrlSend(s, 4, 0, [4, 0])).toBe(0);
    expect(s.dev.snapshot().queuePairs).toBe(4);
    for (let i = 0; i < 32; i++) s.backend.inject(flow(i));
    const per = s.dev.counters.pairRx.map((n, p) => n - (p === 0 ? 8 : 0));
    expect(per.reduce((a, b) => a + b)).toBe(32);
    expect(per.filter((n) => n > 0).length).toBeGreaterThanOrEqual(3);
    expect(rxq.map((q) => q.takeUsed().length)).toEqual(per);

    // One flow, many packets: always the same queue.
    for (let k = 0; k < 6; k++) s.backend.inject(flow(5, 1 + 100 * k));
    const counts = rxq.map((q) => q.takeUsed().length);
    expect(counts.filter((n) => n > 0)).toEqual([6]);

    // Chains on transmitq4 (virtqueue 7) are transmitted.
    const txq4 = s.drv.queues[7]!;
    const f = flow(99);
    txPacket(txq4, {}, f);
    s.drv.kick(7);
    expect(s.backend.sent.map((x) => x.frame)).toEqual([f]);
    expect(txq4.takeUsed().length).toBe(1);
    expect(s.dev.counters.pairTx).toEqual([0, 0, 0, 1]);

    // Back to one pair: everything lands on receiveq1.
    expect(ctrlSend(s, 4, 0, [1, 0])).toBe(0);
    const before = [...s.dev.counters.pairRx];
    for (let i = 0; i < 32; i++) s.backend.inject(flow(i, 5000));
    const delta = s.dev.counters.pairRx.map((n, p) => n - before[p]!);
    expect(delta).toEqual([32, 0, 0, 0]);
  });

  it.each([0, 5, 0x8000])("VQ_PAIRS_SET %i is NAKed and the pair count is unchanged", (n) => {
    const s = setup({ pairs: 4 });
    expect(ctrlSend(s, 4, 0, [4, 0])).toBe(0);
    expect(ctrlSend(s, 4, 0, [n & 0xff, n >> 8])).toBe(1);
    expect(s.dev.snapshot().queuePairs).toBe(4);
  });

  it("frames waiting on a pair that is switched off move to an active pair", () => {
    const s = setup({ pairs: 4 });
    expect(ctrlSend(s, 4, 0, [4, 0])).toBe(0);
    // No buffers anywhere: the frames wait, spread over the pairs.
    for (let i = 0; i < 16; i++) s.backend.inject(flow(i));
    expect(s.dev.snapshot().rxPending).toBe(16);
    expect(ctrlSend(s, 4, 0, [1, 0])).toBe(0);
    post(s, s.rx, 0, 20);
    expect(s.rx.takeUsed().length).toBe(16);
    expect(s.dev.snapshot().rxPending).toBe(0);
  });
});

describe("virtio-net GRO in the receive path", () => {
  /** Three MTU-sized in-order segments of one flow, as a backend that produces wire frames sends them. */
  const seg = (i: number, o: { src?: typeof A; seq?: number } = {}) =>
    tcp4Packet(o.src ?? A, B, 0, 1448, o.seq ?? 1 + 1448 * i, { ipId: 0x100 + i });

  it("segments queued while the driver has no buffers arrive as one superpacket", () => {
    const s = setup();
    const frames = [0, 1, 2].map((i) => seg(i));
    for (const f of frames) expect(s.backend.inject(f)).toBe(true);
    expect(s.rx.takeUsed()).toEqual([]);
    post(s, s.rx, 0, 8, 4096);
    const got = received(s.rx);
    expect(got.length).toBe(1);
    const { hdr, frame } = got[0]!;
    expect(hdr).toMatchObject({
      flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
      gsoType: GSO_TCPV4,
      gsoSize: 1448,
      hdrLen: 54,
      csumStart: 34,
      csumOffset: 16,
    });
    expect(frame.length).toBe(54 + 3 * 1448);
    expect(get16(frame, 14 + 2)).toBe(20 + 20 + 3 * 1448); // IPv4 total length of the superpacket
    expect(get16(frame, 14 + 4)).toBe(0x100); // the first segment's IP id
    expect(tcpSeq(frame)).toBe(1);
    const joined = new Uint8Array(3 * 1448);
    frames.forEach((f, i) => {
      joined.set(payloadOf(f), i * 1448);
    });
    expect(payloadOf(frame)).toEqual(joined);
    expect([s.dev.counters.groSuperpackets, s.dev.counters.groMerged]).toEqual([1, 3]);
    expect([s.dev.counters.rxPackets, s.dev.counters.rxSuperpackets]).toEqual([1, 1]);
    expect(s.dev.snapshot().rxPending).toBe(0);
  });

  it.each([
    { name: "out of order", frames: () => [seg(0), seg(2), seg(1)] },
    {
      name: "different flows",
      frames: () => [0, 1, 2].map((i) => seg(i, { src: { ip: "10.0.2.15", port: 40000 + i }, seq: 1 })),
    },
  ])("$name segments are not merged", ({ frames }) => {
    const s = setup();
    const fs = frames();
    for (const f of fs) s.backend.inject(f);
    post(s, s.rx, 0, 8, 4096);
    const got = received(s.rx);
    expect(got.map((g) => g.frame)).toEqual(fs);
    expect(got.every((g) => g.hdr.gsoType === 0)).toBe(true);
    expect(s.dev.counters.groSuperpackets).toBe(0);
    expect(s.dev.snapshot().rxPending).toBe(0);
  });

  it("without GUEST_TSO4 nothing is merged", () => {
    const s = setup({ features: "-GUEST_TSO4" });
    for (let i = 0; i < 3; i++) s.backend.inject(seg(i));
    post(s, s.rx, 0, 8, 4096);
    expect(received(s.rx).length).toBe(3);
    expect(s.dev.counters.groMerged).toBe(0);
  });
});

describe("virtio-net CTRL_RX: MAC table and rx modes on real frames", () => {
  const UC = [0x02, 0, 0, 0, 0, 0xaa];
  const MC = [0x01, 0x00, 0x5e, 0, 0, 0x01];
  const to = (dst: number[]) => {
    const f = tcp4Packet(A, B, 0, 10, 1);
    f.set(dst, 0);
    return f;
  };
  const OWN = [0x52, 0x54, 0x00, 0x12, 0x34, 0x02]; // MAC_B, the device's
  const OTHER_UC = [0x02, 0, 0, 0, 0, 0xbb];
  const OTHER_MC = [0x01, 0x00, 0x5e, 0, 0, 0x02];
  const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  const tableSet = [1, 0, 0, 0, ...UC, 1, 0, 0, 0, ...MC];

  /** Which of the destinations get through, in order. */
  function passes(s: ReturnType<typeof setup>, dsts: number[][]): boolean[] {
    return dsts.map((d) => {
      const before = s.dev.counters.drops["rx-filtered"] ?? 0;
      s.backend.inject(to(d));
      const ok = s.rx.takeUsed().length === 1;
      expect(ok).toBe((s.dev.counters.drops["rx-filtered"] ?? 0) === before);
      return ok;
    });
  }
  const ALL = [OWN, UC, OTHER_UC, MC, OTHER_MC, BCAST];

  it("listed addresses pass, unlisted are dropped and counted; ALLMULTI and PROMISC widen it", () => {
    const s = setup();
    post(s, s.rx, 0, 60);
    expect(ctrlSend(s, 1, 0, tableSet)).toBe(0);
    expect(passes(s, ALL)).toEqual([true, true, false, true, false, true]);
    expect(s.dev.counters.drops["rx-filtered"]).toBe(2);
    expect(ctrlSend(s, 0, 1, [1])).toBe(0); // ALLMULTI
    expect(passes(s, ALL)).toEqual([true, true, false, true, true, true]);
    expect(ctrlSend(s, 0, 1, [0])).toBe(0);
    expect(ctrlSend(s, 0, 0, [1])).toBe(0); // PROMISC
    expect(passes(s, ALL)).toEqual([true, true, true, true, true, true]);
    expect(ctrlSend(s, 0, 0, [0])).toBe(0);
    // An empty table: only the device's own MAC and broadcast.
    expect(ctrlSend(s, 1, 0, [0, 0, 0, 0, 0, 0, 0, 0])).toBe(0);
    expect(passes(s, ALL)).toEqual([true, false, false, false, false, true]);
  });

  it("ALLUNI and the other CTRL_RX_EXTRA commands are refused unless CTRL_RX_EXTRA was negotiated", () => {
    const s = setup();
    for (const cmd of [2, 3, 4, 5]) expect(ctrlSend(s, 0, cmd, [1])).toBe(1);
  });

  it("CTRL_RX_EXTRA: ALLUNI, NOMULTI, NOUNI, NOBCAST", () => {
    const s = setup({ features: "+CTRL_RX_EXTRA" });
    post(s, s.rx, 0, 60);
    expect(ctrlSend(s, 1, 0, tableSet)).toBe(0);
    expect(ctrlSend(s, 0, 2, [1])).toBe(0); // ALLUNI
    expect(passes(s, ALL)).toEqual([true, true, true, true, false, true]);
    expect(ctrlSend(s, 0, 2, [0])).toBe(0);
    expect(ctrlSend(s, 0, 3, [1])).toBe(0); // NOMULTI: even listed and with ALLMULTI
    expect(ctrlSend(s, 0, 1, [1])).toBe(0);
    expect(passes(s, ALL)).toEqual([true, true, false, false, false, true]);
    expect(ctrlSend(s, 0, 3, [0])).toBe(0);
    expect(ctrlSend(s, 0, 1, [0])).toBe(0);
    expect(ctrlSend(s, 0, 4, [1])).toBe(0); // NOUNI: no unicast at all, as QEMU
    expect(passes(s, ALL)).toEqual([false, false, false, true, false, true]);
    expect(ctrlSend(s, 0, 4, [0])).toBe(0);
    expect(ctrlSend(s, 0, 5, [1])).toBe(0); // NOBCAST
    expect(passes(s, ALL)).toEqual([true, true, false, true, false, false]);
    expect(ctrlSend(s, 0, 0, [1])).toBe(0); // PROMISC overrides everything
    expect(passes(s, ALL)).toEqual([true, true, true, true, true, true]);
  });
});

describe("virtio-net GUEST_ANNOUNCE", () => {
  const status = (s: ReturnType<typeof setup>) => s.drv.r(MMIO_CONFIG + 6) & 0xffff;

  it("link down→up sets ANNOUNCE with the config interrupt; the driver's ack clears it", () => {
    const s = setup();
    s.drv.ackInterrupt();
    expect(status(s)).toBe(1);
    s.dev.setLink(false);
    expect(s.drv.ackInterrupt() & 2).toBe(2);
    expect(status(s)).toBe(0);
    s.dev.setLink(true);
    expect(s.irq.level).toBe(true);
    expect(s.drv.ackInterrupt() & 2).toBe(2);
    expect(status(s)).toBe(3); // LINK_UP | ANNOUNCE
    expect(ctrlSend(s, 3, 0, [])).toBe(0);
    expect(status(s)).toBe(1);
  });

  it("the backend's link coming back announces too; a link event without a change does not", () => {
    const s = setup();
    s.backend.setLink(false);
    s.backend.setLink(true);
    expect(status(s)).toBe(3);
    expect(ctrlSend(s, 3, 0, [])).toBe(0);
    s.dev.setLink(true); // already up
    expect(status(s)).toBe(1);
  });

  it("without GUEST_ANNOUNCE negotiated, link up only sets LINK_UP", () => {
    const s = setup({ accept: ["STATUS", "CTRL_VQ"] });
    s.dev.setLink(false);
    s.dev.setLink(true);
    expect(status(s)).toBe(1);
    expect(s.dev.announce()).toBe(false);
  });
});

describe("virtio-net MTU option", () => {
  it("config space shows the MTU; longer non-GSO frames are dropped and counted both ways", () => {
    const s = setup({ mtu: 1400 });
    expect(s.drv.r(MMIO_CONFIG + 10) & 0xffff).toBe(1400);
    // Transmit: up to mtu + 18 (Ethernet header and a VLAN tag) passes.
    const ok = new Uint8Array(1400 + 18);
    const big = new Uint8Array(1400 + 19);
    txPacket(s.tx, {}, ok);
    txPacket(s.tx, {}, big);
    s.drv.kick(1);
    expect(s.backend.sent.map((x) => x.frame.length)).toEqual([1418]);
    expect(s.dev.counters.drops).toEqual({ "tx-oversize": 1 });
    expect(s.tx.takeUsed().length).toBe(2);
    // Receive: a plain frame longer than mtu + 18 never reaches the driver.
    post(s, s.rx, 0, 4);
    const f = tcp4Packet(A, B, 0, 1400 + 18 - 54 + 1, 1);
    s.backend.inject(f);
    expect(s.rx.takeUsed()).toEqual([]);
    expect(s.dev.counters.drops["rx-oversize"]).toBe(1);
    s.backend.inject(tcp4Packet(A, B, 0, 1400 - 40, 1));
    expect(s.rx.takeUsed().length).toBe(1);
  });

  it("a superpacket is not held to the MTU, its segments are", () => {
    const s = setup({ mtu: 1400 });
    const f = tcp4Packet(A, B, 0, 4000, 1, { partialChecksum: true });
    txPacket(s.tx, { flags: 1, gsoType: GSO_TCPV4, hdrLen: 54, gsoSize: 1360, csumStart: 34, csumOffset: 16 }, f);
    s.drv.kick(1);
    expect(s.backend.sent.map((x) => x.frame.length)).toEqual([1414, 1414, 54 + 1280]);
  });

  it.each([67, 65536, 1500.5])("rejects mtu %s", (mtu) => {
    expect(() => new VirtioNet({ mtu })).toThrow(RangeError);
  });
});
