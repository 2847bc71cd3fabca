import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAC_A, MAC_B, tcp4Packet, tcp6Packet, udpPacket } from "../../testing/net-packets.ts";
import { ARPOP_REQUEST, ArpView } from "./arp.ts";
import { ip4ToString, ip6ToString, macToString, parseIp4, parseIp6, parseMac } from "./bytes.ts";
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_VLAN, EthernetView } from "./ethernet.ts";
import { ICMP_ECHO, ICMPV6_ECHO_REQUEST, Icmpv4View, Icmpv6View, ndpOptions } from "./icmp.ts";
import { IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPV4_FLAG_DF, Ipv4View } from "./ipv4.ts";
import { IPV6_NEXT_DSTOPTS, IPV6_NEXT_FRAGMENT, IPV6_NEXT_HOPOPTS, Ipv6View } from "./ipv6.ts";
import { parseFrame } from "./parse.ts";
import { encodeTcpOptions, parseTcpOptions, seqLt, TCP_FLAG_FIN, TCP_FLAG_SYN, TcpView } from "./tcp.ts";
import { UdpView } from "./udp.ts";

const A = { ip: "10.0.2.15", port: 40000 };
const B = { ip: "10.0.2.2", port: 80 };
const A6 = { ip: "fd00::15", port: 40000 };
const B6 = { ip: "fd00::2", port: 80 };

describe("address text forms", () => {
  it.each([
    ["10.0.2.15", 0x0a00020f],
    ["255.255.255.255", 0xffffffff],
    ["0.0.0.0", 0],
  ])("ip4 %s", (s, n) => {
    expect(parseIp4(s)).toBe(n);
    expect(ip4ToString(n)).toBe(s);
  });
  it.each(["1.2.3", "1.2.3.256", "a.b.c.d"])("rejects ip4 %s", (s) => expect(parseIp4(s)).toBeUndefined());
  it.each(["fd00::15", "::", "::1", "2001:db8::1:0:0:1", "1:2:3:4:5:6:7:8"])("ip6 %s", (s) => {
    expect(ip6ToString(parseIp6(s)!)).toBe(s);
  });
  it.each(["1::2::3", "12345::", "1:2:3:4:5:6:7"])("rejects ip6 %s", (s) => expect(parseIp6(s)).toBeUndefined());
  it("mac", () => {
    expect(macToString(parseMac("52:54:00:12:34:56")!)).toBe("52:54:00:12:34:56");
    expect(parseMac("52:54:00:12:34")).toBeUndefined();
  });
});

describe("Ethernet", () => {
  it("encode → decode round trip and VLAN look-through", () => {
    const b = new Uint8Array(18);
    const f = { dst: MAC_B, src: MAC_A, etherType: ETHERTYPE_VLAN };
    const v = EthernetView.encode(b, 0, f);
    b[16] = 0x08;
    b[14] = 0x00;
    b[15] = 0x2a;
    expect(v.decode()).toEqual(f);
    expect(v.innerEtherType).toBe(ETHERTYPE_IPV4);
    expect(v.vlanId).toBe(42);
    expect(v.headerLength).toBe(18);
    expect(v.validate()).toBe("ok");
    expect(new EthernetView(b.subarray(0, 16)).validate()).toBe("truncated-vlan");
    expect(new EthernetView(new Uint8Array(13)).validate()).toBe("truncated");
  });
  it("broadcast and multicast", () => {
    const b = new Uint8Array(14).fill(0xff);
    expect(new EthernetView(b).isBroadcast).toBe(true);
    b[0] = 0x33;
    expect(new EthernetView(b).isMulticast).toBe(true);
    b[0] = 0x52;
    expect(new EthernetView(b).isMulticast).toBe(false);
  });
});

describe("ARP", () => {
  it("round trip and validate", () => {
    const b = new Uint8Array(28);
    const f = {
      op: ARPOP_REQUEST,
      senderMac: MAC_A,
      senderIp: 0x0a00020f,
      targetMac: new Uint8Array(6),
      targetIp: 0x0a000202,
    };
    const v = ArpView.encode(b, 0, f);
    expect(v.decode()).toEqual(f);
    expect(v.validate()).toBe("ok");
    b[5] = 16;
    expect(v.validate()).toBe("not-ethernet-ipv4");
    expect(new ArpView(b.subarray(0, 27)).validate()).toBe("truncated");
  });
});

describe("IPv4", () => {
  it("round trip with options, checksum valid", () => {
    const b = new Uint8Array(64);
    const f = {
      tos: 0x10,
      totalLength: 44,
      id: 0xbeef,
      flagsFragment: IPV4_FLAG_DF,
      ttl: 63,
      protocol: IPPROTO_UDP,
      src: 0x0a00020f,
      dst: 0xc0a80101,
      options: Uint8Array.from([0x94, 0x04, 0x00, 0x00]), // Router Alert
    };
    const v = Ipv4View.encode(b, 0, f);
    expect(v.decode()).toEqual(f);
    expect(v.headerLength).toBe(24);
    expect(v.validate(44)).toBe("ok");
    expect(v.computeChecksum()).toBe(v.checksum);
    expect(v.dontFragment).toBe(true);
    expect(v.isFragment).toBe(false);
  });
  it.each([
    { name: "short buffer", mutate: (_b: Uint8Array) => {}, len: 19, want: "truncated" },
    { name: "version 5", mutate: (b: Uint8Array) => (b[0] = 0x55), len: 40, want: "bad-version" },
    { name: "ihl 4", mutate: (b: Uint8Array) => (b[0] = 0x44), len: 40, want: "bad-ihl" },
    { name: "ihl past end", mutate: (b: Uint8Array) => (b[0] = 0x4f), len: 40, want: "bad-ihl" },
    { name: "total length past end", mutate: (b: Uint8Array) => (b[2] = 1), len: 40, want: "bad-total-length" },
    { name: "checksum flipped", mutate: (b: Uint8Array) => (b[10]! ^= 1), len: 40, want: "bad-checksum" },
  ])("validate: $name", ({ mutate, len, want }) => {
    const b = new Uint8Array(40);
    Ipv4View.encode(b, 0, { tos: 0, payloadLength: 20, id: 1, flagsFragment: 0, ttl: 64, protocol: 6, src: 1, dst: 2 });
    mutate(b);
    expect(new Ipv4View(b.subarray(0, len)).validate()).toBe(want);
  });
});

describe("IPv6", () => {
  it("round trip", () => {
    const b = new Uint8Array(40);
    const f = {
      trafficClass: 0xb8,
      flowLabel: 0xabcde,
      payloadLength: 0,
      nextHeader: IPPROTO_TCP,
      hopLimit: 255,
      src: parseIp6("fe80::1")!,
      dst: parseIp6("ff02::1")!,
    };
    const v = Ipv6View.encode(b, 0, f);
    expect(v.decode()).toEqual(f);
    expect(v.version).toBe(6);
    expect(v.validate()).toBe("ok");
  });
  it("walks hop-by-hop + dstopts + fragment to UDP, bounded", () => {
    const b = new Uint8Array(40 + 8 + 16 + 8 + 8);
    Ipv6View.encode(b, 0, {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: b.length - 40,
      nextHeader: IPV6_NEXT_HOPOPTS,
      hopLimit: 1,
      src: parseIp6("::1")!,
      dst: parseIp6("::1")!,
    });
    b[40] = IPV6_NEXT_DSTOPTS;
    b[41] = 0;
    b[48] = IPV6_NEXT_FRAGMENT;
    b[49] = 1; // 16 bytes
    b[64] = IPPROTO_UDP;
    const w = new Ipv6View(b).walkExtensionHeaders();
    expect(w).toEqual({ ok: true, protocol: IPPROTO_UDP, l4Offset: 72, fragmentOffset: 64 });
    // A self-referencing chain of empty dstopts headers ends at the iteration limit, not in a hang.
    const loop = new Uint8Array(40 + 8 * 20);
    Ipv6View.encode(loop, 0, {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: 160,
      nextHeader: IPV6_NEXT_DSTOPTS,
      hopLimit: 1,
      src: parseIp6("::1")!,
      dst: parseIp6("::1")!,
    });
    for (let i = 40; i < loop.length; i += 8) loop[i] = IPV6_NEXT_DSTOPTS;
    expect(new Ipv6View(loop).walkExtensionHeaders()).toEqual({ ok: false, reason: "too-many-ext-headers" });
    const trunc = loop.subarray(0, 44);
    expect(new Ipv6View(trunc).walkExtensionHeaders(44)).toEqual({ ok: false, reason: "truncated" });
  });
});

describe("TCP", () => {
  it("round trip with options", () => {
    const options = encodeTcpOptions({ mss: 1460, sackPermitted: true, timestamp: [1, 2], windowScale: 7 });
    expect(options.length % 4).toBe(0);
    const b = new Uint8Array(60);
    const f = {
      srcPort: 1,
      dstPort: 2,
      seq: 0xfffffff0,
      ack: 0x80000000,
      flags: TCP_FLAG_SYN,
      window: 65535,
      urgent: 0,
      checksum: 0x1234,
      options,
    };
    const v = TcpView.encode(b, 0, f);
    expect(v.decode()).toEqual(f);
    expect(v.parseOptions()).toEqual({ mss: 1460, sackPermitted: true, timestamp: [1, 2], windowScale: 7 });
    expect(v.validate(60)).toBe("ok");
  });
  it("option walk survives garbage", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (o) => {
        parseTcpOptions(o);
      }),
    );
    expect(parseTcpOptions(Uint8Array.from([2, 0, 5, 0xb4]))).toEqual({});
    expect(parseTcpOptions(Uint8Array.from([5, 10, 0, 0, 0, 1, 0, 0, 0, 2]))).toEqual({ sack: [[1, 2]] });
  });
  it("checksum of a built packet verifies, and a flipped bit breaks it", () => {
    const p = tcp4Packet(A, B, TCP_FLAG_FIN, 100, 1000);
    const ip = new Ipv4View(p, ETH_HLEN);
    const tcp = new TcpView(p, ETH_HLEN + 20);
    expect(ip.validate()).toBe("ok");
    expect(tcp.checksumValid(ip.pseudoHeaderSum(), ip.payloadLength)).toBe(true);
    p[p.length - 1]! ^= 0x40;
    expect(tcp.checksumValid(ip.pseudoHeaderSum(), ip.payloadLength)).toBe(false);
    const p6 = tcp6Packet(A6, B6, 0, 33, 5);
    const ip6 = new Ipv6View(p6, ETH_HLEN);
    expect(new TcpView(p6, ETH_HLEN + 40).checksumValid(ip6.pseudoHeaderSum(IPPROTO_TCP, 53), 53)).toBe(true);
  });
  it("bad data offset", () => {
    const b = new Uint8Array(20);
    b[12] = 0x40;
    expect(new TcpView(b).validate()).toBe("bad-data-offset");
    b[12] = 0x60;
    expect(new TcpView(b).validate()).toBe("bad-data-offset");
  });
  it("sequence comparison wraps", () => {
    expect(seqLt(0xfffffff0, 5)).toBe(true);
    expect(seqLt(5, 0xfffffff0)).toBe(false);
  });
});

describe("UDP", () => {
  it("round trip and checksums over v4 and v6", () => {
    const b = new Uint8Array(8);
    const f = { srcPort: 68, dstPort: 67, length: 8, checksum: 0 };
    expect(UdpView.encode(b, 0, f).decode()).toEqual(f);
    for (const [s, d] of [
      [A, B],
      [A6, B6],
    ] as const) {
      const p = udpPacket(s, d, 77);
      const pf = parseFrame(p);
      expect(pf.ok).toBe(true);
      if (!pf.ok) return;
      const udp = new UdpView(p, pf.layout.l4Off);
      expect(udp.validate()).toBe("ok");
      const ps =
        pf.layout.ipVersion === 4
          ? new Ipv4View(p, ETH_HLEN).pseudoHeaderSum()
          : new Ipv6View(p, ETH_HLEN).pseudoHeaderSum(IPPROTO_UDP, udp.length);
      expect(udp.checksumValid(ps)).toBe(true);
      expect(udp.computeChecksum(ps)).toBe(udp.checksum);
    }
  });
  it("bad length", () => {
    const b = new Uint8Array(8);
    b[5] = 9;
    expect(new UdpView(b).validate()).toBe("bad-length");
  });
});

describe("ICMP", () => {
  it("ICMPv4 echo round trip and checksum", () => {
    const b = new Uint8Array(16);
    const f = { type: ICMP_ECHO, code: 0, checksum: 0, ident: 0x1234, sequence: 7 };
    const v = Icmpv4View.encode(b, 0, f);
    expect(v.decode()).toEqual(f);
    v.checksum = v.computeChecksum(16);
    expect(v.validate()).toBe("ok");
    b[9] = 1;
    expect(v.validate()).toBe("bad-checksum");
  });
  it("ICMPv6 echo with pseudo-header", () => {
    const b = new Uint8Array(48);
    const ip = Ipv6View.encode(b, 0, {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: 8,
      nextHeader: IPPROTO_ICMPV6,
      hopLimit: 64,
      src: parseIp6("fd00::1")!,
      dst: parseIp6("fd00::2")!,
    });
    const v = Icmpv6View.encode(b, 40, { type: ICMPV6_ECHO_REQUEST, code: 0, checksum: 0, ident: 1, sequence: 2 });
    const ps = ip.pseudoHeaderSum(IPPROTO_ICMPV6, 8);
    v.checksum = v.computeChecksum(8, ps);
    expect(v.validate(8, ps)).toBe("ok");
    expect(v.validate(8, ps + 1)).toBe("bad-checksum");
  });
  it("NDP option walk rejects zero length", () => {
    expect(ndpOptions(Uint8Array.from([1, 1, 0, 0, 0, 0, 0, 0]), 0, 8)).toEqual([{ type: 1, off: 0, len: 8 }]);
    expect(ndpOptions(Uint8Array.from([1, 0, 0, 0]), 0, 4)).toBeUndefined();
  });
});

describe("parseFrame", () => {
  it("finds layers of v4, v6 and VLAN frames", () => {
    const p = tcp4Packet(A, B, 0, 10, 1);
    expect(parseFrame(p)).toEqual({
      ok: true,
      layout: { l3Off: 14, ipVersion: 4, l3Len: 20, protocol: 6, l4Off: 34, l4HeaderLen: 20, ipEnd: p.length },
    });
    const p6 = udpPacket(A6, B6, 3);
    expect(parseFrame(p6)).toMatchObject({ ok: true, layout: { l3Off: 14, ipVersion: 6, l4Off: 54, l4HeaderLen: 8 } });
    const tagged = new Uint8Array(p.length + 4);
    tagged.set(p.subarray(0, 12));
    tagged.set([0x81, 0x00, 0x00, 0x05], 12);
    tagged.set(p.subarray(12), 16);
    expect(parseFrame(tagged)).toMatchObject({ ok: true, layout: { l3Off: 18, l4Off: 38 } });
  });
  it("rejects fragments and bad lengths", () => {
    const p = tcp4Packet(A, B, 0, 10, 1);
    p[14 + 6] = 0x20; // MF
    expect(parseFrame(p)).toEqual({ ok: false, reason: "ip-fragment" });
    expect(parseFrame(p.subarray(0, 40))).toEqual({ ok: false, reason: "bad-ip-length" });
    expect(parseFrame(p.subarray(0, 10))).toEqual({ ok: false, reason: "runt" });
  });
  it("never throws on random bytes (seeded)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (b, v6) => {
        if (b.length > 13) {
          b[12] = v6 ? 0x86 : 0x08;
          b[13] = v6 ? 0xdd : 0x00;
        }
        const r = parseFrame(b);
        if (r.ok) expect(r.layout.l4Off + r.layout.l4HeaderLen).toBeLessThanOrEqual(b.length);
      }),
      { seed: 5, numRuns: 3000 },
    );
  });
});
