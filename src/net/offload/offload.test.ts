import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { patternPayload, tcp4Packet, tcp6Packet, udpPacket } from "../../testing/net-packets.ts";
import { bytesEqual, get16, get32 } from "../wire/bytes.ts";
import { internetChecksum } from "../wire/checksum.ts";
import { Ipv4View } from "../wire/ipv4.ts";
import { parseFrame } from "../wire/parse.ts";
import { encodeTcpOptions, TCP_FLAG_CWR, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_SYN } from "../wire/tcp.ts";
import { completeChecksum, l4ChecksumValid } from "./checksum-offload.ts";
import { groCoalesce } from "./gro.ts";
import { GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, type GsoInfo } from "./gso.ts";
import { gsoSplit } from "./gso-split.ts";

const A = { ip: "10.0.2.15", port: 40000 };
const B = { ip: "10.0.2.2", port: 80 };
const C = { ip: "10.0.2.3", port: 443 };
const A6 = { ip: "fd00::15", port: 40000 };
const B6 = { ip: "fd00::2", port: 80 };

function tso(type: GsoInfo["type"], frame: Uint8Array, gsoSize: number): GsoInfo {
  const p = parseFrame(frame);
  if (!p.ok) throw new Error("test packet does not parse");
  return {
    type,
    gsoSize,
    hdrLen: p.layout.l4Off + p.layout.l4HeaderLen,
    needsCsum: true,
    csumStart: p.layout.l4Off,
    csumOffset: type === GSO_UDP_L4 ? 6 : 16,
  };
}

function layoutOf(f: Uint8Array) {
  const p = parseFrame(f);
  if (!p.ok) throw new Error(`frame does not parse: ${p.reason}`);
  return p.layout;
}

describe("completeChecksum", () => {
  it("finishes a NEEDS_CSUM TCP and UDP packet to the full checksum", () => {
    for (const [partial, full] of [
      [tcp4Packet(A, B, 0, 333, 7, { partialChecksum: true }), tcp4Packet(A, B, 0, 333, 7)],
      [tcp6Packet(A6, B6, 0, 100, 7, { partialChecksum: true }), tcp6Packet(A6, B6, 0, 100, 7)],
      [udpPacket(A, B, 55, { partialChecksum: true }), udpPacket(A, B, 55)],
    ] as const) {
      const l = layoutOf(partial);
      const off = l.protocol === 6 ? 16 : 6;
      expect(completeChecksum(partial, l.l4Off, off)).toBe("ok");
      expect(partial).toEqual(full);
      expect(l4ChecksumValid(partial, l)).toBe(true);
    }
  });
  it.each([
    { name: "csum_start before the IP header", start: 10, off: 16 },
    { name: "field past the end", start: 34, off: 2000 },
    { name: "start past the end", start: 5000, off: 0 },
  ])("rejects $name", ({ start, off }) => {
    expect(completeChecksum(tcp4Packet(A, B, 0, 10, 1), start, off)).toBe("bad-csum-offsets");
  });
});

describe("gsoSplit", () => {
  it.each([
    // flow A→B, 4000 bytes at MSS 1448: 1448 + 1448 + 1104
    {
      name: "TCPv4 A→B 4000/1448",
      v6: false,
      len: 4000,
      mss: 1448,
      flags: TCP_FLAG_PSH | TCP_FLAG_FIN,
      want: [1448, 1448, 1104],
    },
    // flow A→B exact multiple: no short tail
    {
      name: "TCPv4 A→B 3000/1000",
      v6: false,
      len: 3000,
      mss: 1000,
      flags: TCP_FLAG_PSH | TCP_FLAG_CWR,
      want: [1000, 1000, 1000],
    },
    // flow A6→B6 over IPv6
    {
      name: "TCPv6 A6→B6 5000/1428",
      v6: true,
      len: 5000,
      mss: 1428,
      flags: TCP_FLAG_PSH,
      want: [1428, 1428, 1428, 716],
    },
    // gso_size larger than the payload: one ordinary packet
    { name: "TCPv4 payload ≤ gso_size", v6: false, len: 500, mss: 1448, flags: TCP_FLAG_PSH, want: [500] },
  ])("$name", ({ v6, len, mss, flags, want }) => {
    const seq0 = 0xfffff000; // wraps inside the superpacket
    const opts = { partialChecksum: true, ipId: 0xfffe, options: encodeTcpOptions({ timestamp: [11, 22] }) };
    const p = v6 ? tcp6Packet(A6, B6, flags, len, seq0, opts) : tcp4Packet(A, B, flags, len, seq0, opts);
    const r = gsoSplit(p, tso(v6 ? GSO_TCPV6 : GSO_TCPV4, p, mss));
    expect(r.result).toBe("ok");
    if (r.result !== "ok") return;
    expect(r.frames.map((f) => layoutOf(f).ipEnd - layoutOf(f).l4Off - layoutOf(f).l4HeaderLen)).toEqual(want);
    const payload = patternPayload(len, seq0);
    let at = 0;
    r.frames.forEach((f, i) => {
      const l = layoutOf(f);
      const last = i === r.frames.length - 1;
      expect(get32(f, l.l4Off + 4)).toBe((seq0 + at) >>> 0);
      const fl = f[l.l4Off + 13]!;
      expect((fl & TCP_FLAG_FIN) !== 0).toBe(last && (flags & TCP_FLAG_FIN) !== 0);
      expect((fl & TCP_FLAG_PSH) !== 0).toBe(last && (flags & TCP_FLAG_PSH) !== 0);
      expect((fl & TCP_FLAG_CWR) !== 0).toBe(i === 0 && (flags & TCP_FLAG_CWR) !== 0);
      if (!v6) {
        const ip = new Ipv4View(f, 14);
        expect(ip.validate()).toBe("ok");
        expect(ip.id).toBe((0xfffe + i) & 0xffff);
        expect(ip.totalLength).toBe(f.length - 14);
      } else {
        expect(get16(f, 18)).toBe(f.length - 54);
      }
      expect(l4ChecksumValid(f, l)).toBe(true);
      expect(f.subarray(l.l4Off + 20, l.l4Off + 32)).toEqual(
        p.subarray(layoutOf(p).l4Off + 20, layoutOf(p).l4Off + 32),
      );
      expect(f.subarray(l.l4Off + l.l4HeaderLen)).toEqual(payload.subarray(at, at + want[i]!));
      at += want[i]!;
    });
  });

  it("USO: every segment a datagram with its own length and checksum", () => {
    const p = udpPacket(A, B, 2500, { partialChecksum: true, ipId: 7 });
    const r = gsoSplit(p, tso(GSO_UDP_L4, p, 1000));
    expect(r.result).toBe("ok");
    if (r.result !== "ok") return;
    expect(r.frames.length).toBe(3);
    r.frames.forEach((f, i) => {
      const l = layoutOf(f);
      expect(get16(f, l.l4Off + 4)).toBe(8 + [1000, 1000, 500][i]!);
      expect(get16(f, 18)).toBe(7 + i);
      expect(l4ChecksumValid(f, l)).toBe(true);
      expect(get16(f, l.l4Off + 6)).not.toBe(0);
    });
    const p6 = udpPacket(A6, B6, 2100, { partialChecksum: true });
    const r6 = gsoSplit(p6, tso(GSO_UDP_L4, p6, 1400));
    expect(r6.result === "ok" && r6.frames.every((f) => l4ChecksumValid(f, layoutOf(f)))).toBe(true);
  });

  it("GSO_NONE with NEEDS_CSUM completes the checksum", () => {
    const p = tcp4Packet(A, B, 0, 77, 1, { partialChecksum: true });
    const r = gsoSplit(p, { ...tso(GSO_TCPV4, p, 0), type: GSO_NONE });
    expect(r).toEqual({ result: "ok", frames: [tcp4Packet(A, B, 0, 77, 1)] });
  });

  it.each<{ name: string; frame: () => Uint8Array; gso: (f: Uint8Array) => GsoInfo; reason: string }>([
    {
      name: "gso_size 0",
      frame: () => tcp4Packet(A, B, 0, 3000, 1),
      gso: (f) => tso(GSO_TCPV4, f, 0),
      reason: "gso-size-zero",
    },
    {
      name: "TSO4 over a UDP packet",
      frame: () => udpPacket(A, B, 3000),
      gso: (f) => ({ ...tso(GSO_TCPV4, f, 1000), csumOffset: 16 }),
      reason: "wrong-protocol",
    },
    {
      name: "TSO6 over an IPv4 packet",
      frame: () => tcp4Packet(A, B, 0, 3000, 1),
      gso: (f) => tso(GSO_TCPV6, f, 1000),
      reason: "wrong-protocol",
    },
    {
      name: "csum_start lies",
      frame: () => tcp4Packet(A, B, 0, 3000, 1),
      gso: (f) => ({ ...tso(GSO_TCPV4, f, 1000), csumStart: 30 }),
      reason: "csum-start-mismatch",
    },
    {
      name: "csum_offset not 16",
      frame: () => tcp4Packet(A, B, 0, 3000, 1),
      gso: (f) => ({ ...tso(GSO_TCPV4, f, 1000), csumOffset: 6 }),
      reason: "bad-csum-offsets",
    },
    {
      name: "SYN in a superpacket",
      frame: () => tcp4Packet(A, B, TCP_FLAG_SYN, 3000, 1),
      gso: (f) => tso(GSO_TCPV4, f, 1000),
      reason: "bad-tcp-flags",
    },
    {
      name: "unknown gso_type 2",
      frame: () => tcp4Packet(A, B, 0, 3000, 1),
      gso: (f) => ({ ...tso(GSO_TCPV4, f, 1000), type: 2 as GsoInfo["type"] }),
      reason: "unknown-gso-type",
    },
    {
      name: "gso_size 1 → too many segments",
      frame: () => tcp4Packet(A, B, 0, 3000, 1),
      gso: (f) => tso(GSO_TCPV4, f, 1),
      reason: "too-many-segments",
    },
    {
      name: "USO over 64 segments",
      frame: () => udpPacket(A, B, 6500),
      gso: (f) => tso(GSO_UDP_L4, f, 100),
      reason: "too-many-segments",
    },
    {
      name: "truncated IP header",
      frame: () => tcp4Packet(A, B, 0, 3000, 1).subarray(0, 30),
      gso: () => ({ type: GSO_TCPV4, gsoSize: 1000, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 }),
      reason: "bad-headers",
    },
  ])("drops: $name", ({ frame, gso, reason }) => {
    const f = frame();
    expect(gsoSplit(f, gso(f))).toEqual({ result: "drop", reason });
  });

  it("hostile headers never throw and never yield out-of-range frames (seeded fuzz)", () => {
    const base = tcp4Packet(A, B, 0, 4000, 1, { partialChecksum: true });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.constantFrom(GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, 2, 7),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.nat(base.length),
        (pokes, type, gsoSize, csumStart, csumOffset, cut) => {
          const f = base.slice(0, Math.max(cut, 1));
          for (const [i, v] of pokes) if (i < f.length) f[i] = v;
          const r = gsoSplit(f, {
            type: type as GsoInfo["type"],
            gsoSize,
            hdrLen: 0,
            needsCsum: true,
            csumStart,
            csumOffset,
          });
          if (r.result === "ok") {
            expect(r.frames.length).toBeGreaterThan(0);
            for (const o of r.frames) expect(o.length).toBeLessThanOrEqual(Math.max(f.length, 54 + gsoSize));
          }
        },
      ),
      { seed: 0x5eed, numRuns: 4000 },
    );
  });
});

describe("groCoalesce", () => {
  const seg = (src: typeof A, dst: typeof B, flags: number, len: number, seq: number, id: number) =>
    tcp4Packet(src, dst, flags, len, seq, { ipId: id });

  it.each<{ name: string; frames: Uint8Array[]; segments: number[]; verdicts: string[] }>([
    {
      name: "three in-order segments of A→B merge",
      frames: [seg(A, B, 0, 100, 1, 1), seg(A, B, 0, 100, 101, 2), seg(A, B, TCP_FLAG_PSH, 50, 201, 3)],
      segments: [3],
      verdicts: ["flow-start", "merged", "merged"],
    },
    {
      name: "a gap in A→B's sequence starts a new packet",
      frames: [seg(A, B, 0, 100, 1, 1), seg(A, B, 0, 100, 301, 2)],
      segments: [1, 1],
      verdicts: ["flow-start", "flow-start"],
    },
    {
      name: "flows A→B and A→C interleaved each merge",
      frames: [seg(A, B, 0, 100, 1, 1), seg(A, C, 0, 100, 9, 1), seg(A, B, 0, 100, 101, 2), seg(A, C, 0, 100, 109, 2)],
      segments: [2, 2],
      verdicts: ["flow-start", "flow-start", "merged", "merged"],
    },
    {
      name: "nothing follows a PSH segment of A→B",
      frames: [seg(A, B, TCP_FLAG_PSH, 100, 1, 1), seg(A, B, 0, 100, 101, 2)],
      segments: [1, 1],
      verdicts: ["flow-start", "flow-start"],
    },
    {
      name: "nothing follows a short segment of A→B",
      frames: [seg(A, B, 0, 100, 1, 1), seg(A, B, 0, 60, 101, 2), seg(A, B, 0, 60, 161, 3)],
      segments: [2, 1],
      verdicts: ["flow-start", "merged", "flow-start"],
    },
    {
      name: "a pure ACK of A→B passes through and ends the item",
      frames: [seg(A, B, 0, 100, 1, 1), seg(A, B, 0, 0, 101, 2), seg(A, B, 0, 100, 101, 3)],
      segments: [1, 1, 1],
      verdicts: ["flow-start", "no-payload", "flow-start"],
    },
    {
      name: "non-consecutive IPv4 ids do not merge",
      frames: [seg(A, B, 0, 100, 1, 1), seg(A, B, 0, 100, 101, 5)],
      segments: [1, 1],
      verdicts: ["flow-start", "flow-start"],
    },
    {
      name: "a CWR segment is never merged",
      frames: [seg(A, B, TCP_FLAG_CWR, 100, 1, 1), seg(A, B, 0, 100, 101, 2)],
      segments: [1, 1],
      verdicts: ["flags", "flow-start"],
    },
    {
      name: "UDP passes through",
      frames: [udpPacket(A, B, 10)],
      segments: [1],
      verdicts: ["not-tcp"],
    },
  ])("$name", ({ frames, segments, verdicts }) => {
    const r = groCoalesce(frames, { tso4: true, tso6: true });
    expect(r.packets.map((p) => p.segments)).toEqual(segments);
    expect(r.verdicts).toEqual(verdicts);
    for (const p of r.packets) {
      if (!p.gso) continue;
      const l = layoutOf(p.frame);
      expect(new Ipv4View(p.frame, 14).validate()).toBe("ok");
      expect(p.gso.csumStart).toBe(l.l4Off);
      // The checksum field holds the pseudo-header sum: completing it must yield a valid checksum.
      const c = p.frame.slice();
      completeChecksum(c, p.gso.csumStart, p.gso.csumOffset);
      expect(l4ChecksumValid(c, l)).toBe(true);
    }
  });

  it("a corrupted segment is not merged", () => {
    const bad = seg(A, B, 0, 100, 101, 2);
    bad[bad.length - 1]! ^= 1;
    const r = groCoalesce([seg(A, B, 0, 100, 1, 1), bad], { tso4: true, tso6: true });
    expect(r.verdicts).toEqual(["flow-start", "bad-checksum"]);
  });

  it("respects the 64 KiB cap and disabled families", () => {
    const frames = Array.from({ length: 50 }, (_, i) => seg(A, B, 0, 1448, 1 + i * 1448, i));
    const r = groCoalesce(frames, { tso4: true, tso6: true });
    for (const p of r.packets) expect(p.frame.length - 14).toBeLessThanOrEqual(65535);
    expect(r.packets.reduce((n, p) => n + p.segments, 0)).toBe(50);
    expect(groCoalesce(frames, { tso4: false, tso6: true }).packets.length).toBe(50);
  });

  it("GRO(split(p)) restores p's headers and payload (property)", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 40000 }),
        fc.integer({ min: 88, max: 9000 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.constantFrom(0, TCP_FLAG_PSH, TCP_FLAG_FIN | TCP_FLAG_PSH),
        fc.boolean(),
        (v6, len, mss, seq, id, flags, withTs) => {
          const opts = {
            partialChecksum: true,
            ipId: id,
            options: withTs ? encodeTcpOptions({ timestamp: [seq, 5] }) : undefined,
          };
          const p = v6 ? tcp6Packet(A6, B6, flags, len, seq, opts) : tcp4Packet(A, B, flags, len, seq, opts);
          const gso = tso(v6 ? GSO_TCPV6 : GSO_TCPV4, p, mss);
          const split = gsoSplit(p, gso);
          expect(split.result).toBe("ok");
          if (split.result !== "ok") return;
          const r = groCoalesce(split.frames, { tso4: true, tso6: true });
          expect(r.packets.length).toBe(1);
          const got = r.packets[0]!;
          if (split.frames.length === 1) {
            const full = p.slice();
            completeChecksum(full, gso.csumStart, gso.csumOffset);
            expect(sameBytes(got.frame, full)).toBe(true);
            expect(got.gso).toBeUndefined();
          } else {
            expect(sameBytes(got.frame, p)).toBe(true);
            expect(got.gso).toEqual(gso);
          }
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it("GRO never throws on random frames (seeded fuzz)", () => {
    const base = [seg(A, B, 0, 100, 1, 1), seg(A, B, 0, 100, 101, 2)];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1), fc.nat(153), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (pokes) => {
          const fs = base.map((f) => f.slice());
          for (const [w, i, v] of pokes) fs[w]![i] = v;
          const r = groCoalesce(fs, { tso4: true, tso6: true, verifyChecksums: false });
          expect(r.verdicts.length).toBe(2);
          expect(r.packets.reduce((n, p) => n + p.segments, 0)).toBe(2);
        },
      ),
      { seed: 7, numRuns: 2000 },
    );
  });
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && bytesEqual(a, 0, b, 0, a.length);
}

it("internetChecksum sanity for the helpers above", () => {
  expect(internetChecksum(new Uint8Array([0xff, 0xff]), 0, 2)).toBe(0);
});
