import { describe, expect, it } from "vitest";
import { get16, get32, parseIp6 } from "../wire/bytes.ts";
import { ndpOptions } from "../wire/icmp.ts";
import { DNS6, GATEWAY6, GATEWAY6_LL } from "./config.ts";
import { GuestWorld } from "./guest-harness.ts";

const ip6 = (s: string) => parseIp6(s)!;
const ALL_ROUTERS = ip6("ff02::2");
const L4 = 14 + 40;

/** Inserts IPv6 extension headers after the fixed header (each body's first byte, next header, is filled in). */
function withExtHeaders(frame: Uint8Array, exts: Array<{ type: number; body: number[] }>): Uint8Array {
  const extLen = exts.reduce((n, e) => n + e.body.length, 0);
  const out = new Uint8Array(frame.length + extLen);
  out.set(frame.subarray(0, L4));
  let o = L4;
  const next = frame[20]!;
  out[20] = exts[0]!.type;
  exts.forEach((e, i) => {
    out.set(e.body, o);
    out[o] = i + 1 < exts.length ? exts[i + 1]!.type : next;
    o += e.body.length;
  });
  out.set(frame.subarray(L4), o);
  const plen = get16(frame, 18) + extLen;
  out[18] = plen >>> 8;
  out[19] = plen & 0xff;
  return out;
}
const PADN = [0, 0, 1, 4, 0, 0, 0, 0]; // next header, length 0 (8 bytes), PadN option of 4
const HOP_BY_HOP = { type: 0, body: PADN };
const DEST_OPTS = { type: 60, body: PADN };

describe("NetStack: IPv6", () => {
  it("answers a router solicitation with an RA: prefix fd00::/64 (SLAAC), MTU and RDNSS fd00::3", () => {
    const w = new GuestWorld({ mtu: 1500 });
    const ll = ip6("fe80::5054:ff:fe12:3456");
    w.send(w.icmp6(ALL_ROUTERS, 133, 0, new Uint8Array(0), ll));
    w.flush();
    const [r] = w.take();
    const f = r!.frame;
    expect(get16(f, 12)).toBe(0x86dd);
    expect(f[21]).toBe(255); // hop limit
    expect(f.subarray(22, 38)).toEqual(GATEWAY6_LL);
    expect(f[L4]).toBe(134);
    expect(get16(f, L4 + 6)).toBe(1800); // router lifetime
    const opts = ndpOptions(f, L4 + 16, f.length)!;
    const byType = new Map(opts.map((o) => [f[o.off]!, o]));
    const prefix = byType.get(3)!;
    expect(f[prefix.off + 2]).toBe(64);
    expect(f[prefix.off + 3]! & 0xc0).toBe(0xc0);
    expect(f.subarray(prefix.off + 16, prefix.off + 32)).toEqual(ip6("fd00::"));
    expect(get32(f, byType.get(5)!.off + 4)).toBe(1500);
    expect(f.subarray(byType.get(25)!.off + 8, byType.get(25)!.off + 24)).toEqual(DNS6);
  });

  it("answers neighbour solicitation for the gateway, not for other addresses or DAD probes", () => {
    const w = new GuestWorld();
    const ns = (target: Uint8Array, src?: Uint8Array) => {
      const body = new Uint8Array(16);
      body.set(target);
      return w.icmp6(ip6("ff02::1:ff00:2"), 135, 0, body, src);
    };
    w.send(ns(GATEWAY6));
    w.send(ns(ip6("fd00::99")));
    w.send(ns(GATEWAY6, ip6("::")));
    w.flush();
    const got = w.take();
    expect(got.length).toBe(1);
    const f = got[0]!.frame;
    expect(f[L4]).toBe(136);
    expect(get32(f, L4 + 4) >>> 29).toBe(7); // R, S, O
    expect(f.subarray(L4 + 8, L4 + 24)).toEqual(GATEWAY6);
  });

  it("answers ICMPv6 echo to the gateway", () => {
    const w = new GuestWorld();
    w.send(w.icmp6(GATEWAY6, 128, (7 << 16) | 3, new Uint8Array([1, 2, 3, 4])));
    w.flush();
    const [r] = w.take();
    expect(r!.frame[L4]).toBe(129);
    expect(get32(r!.frame, L4 + 4)).toBe((7 << 16) | 3);
    expect([...r!.frame.subarray(L4 + 8)]).toEqual([1, 2, 3, 4]);
  });

  it("carries TCP over IPv6 through the uplink, and fd00::2 reaches the uplink's loopback", () => {
    const w = new GuestWorld();
    w.uplink.listenTcp("2001:db8::1", 80, (c) => {
      c.onData = (d) => c.write(d);
    });
    let loop = false;
    w.uplink.listenTcp("127.0.0.1", 81, () => {
      loop = true;
    });
    const t = w.connect(ip6("2001:db8::1"), 80, 43000);
    w.run(() => t.established);
    t.ep.write(new TextEncoder().encode("over v6"));
    w.run(() => t.bytes >= 7);
    expect(new TextDecoder().decode(t.data[0])).toBe("over v6");
    expect(t.ep.effMss).toBe(1440 - 12);
    const t2 = w.connect(GATEWAY6, 81, 43001);
    w.run(() => t2.established);
    expect(loop).toBe(true);
  });

  it("carries UDP over IPv6 and reports an unreachable port with ICMPv6", () => {
    const w = new GuestWorld();
    w.uplink.listenUdp("2001:db8::1", 7, (d, r) => r.reply(d));
    w.send(w.udp(ip6("2001:db8::1"), 5000, 7, new Uint8Array([9, 8])));
    w.send(w.udp(ip6("2001:db8::1"), 5001, 8, new Uint8Array([1])));
    w.flush();
    const got = w.take();
    const reply = got.find((g) => g.frame[20] === 17)!;
    expect([...reply.frame.subarray(L4 + 8)]).toEqual([9, 8]);
    const err = got.find((g) => g.frame[20] === 58)!;
    expect(err.frame[L4]).toBe(1);
    expect(err.frame[L4 + 1]).toBe(3); // address unreachable (the uplink had nothing there)
  });

  it("delivers past hop-by-hop and destination-options headers: ICMPv6 echo and UDP through the uplink", () => {
    const w = new GuestWorld();
    const echo = withExtHeaders(w.icmp6(GATEWAY6, 128, (5 << 16) | 9, new Uint8Array([7, 7])), [HOP_BY_HOP, DEST_OPTS]);
    expect(echo[20]).toBe(0);
    w.send(echo);
    const seen: number[][] = [];
    w.uplink.listenUdp("2001:db8::1", 7, (d, r) => {
      seen.push([...d]);
      r.reply(d);
    });
    w.send(withExtHeaders(w.udp(ip6("2001:db8::1"), 5000, 7, new Uint8Array([4, 2])), [HOP_BY_HOP, DEST_OPTS]));
    w.flush();
    const got = w.take();
    const reply = got.find((g) => g.frame[20] === 58)!;
    expect(reply.frame[L4]).toBe(129);
    expect(get32(reply.frame, L4 + 4)).toBe((5 << 16) | 9);
    expect([...reply.frame.subarray(L4 + 8)]).toEqual([7, 7]);
    expect(seen).toEqual([[4, 2]]);
    const udp = got.find((g) => g.frame[20] === 17)!;
    expect([...udp.frame.subarray(L4 + 8)]).toEqual([4, 2]);
    expect(w.stack.counters.dropped).toEqual({});
  });

  it("drops and counts a packet with a fragment header (no IPv6 reassembly)", () => {
    const w = new GuestWorld();
    const seen: Uint8Array[] = [];
    w.uplink.listenUdp("2001:db8::1", 7, (d) => seen.push(d));
    // First fragment (offset 0, M=1), after a hop-by-hop header.
    const frag = { type: 44, body: [0, 0, 0, 1, 0x12, 0x34, 0x56, 0x78] };
    w.send(withExtHeaders(w.udp(ip6("2001:db8::1"), 5000, 7, new Uint8Array(16)), [HOP_BY_HOP, frag]));
    w.send(withExtHeaders(w.icmp6(GATEWAY6, 128, 1, new Uint8Array(4)), [frag]));
    w.flush();
    expect(w.take()).toEqual([]);
    expect(seen).toEqual([]);
    expect(w.stack.counters.dropped["ipv6-fragment"]).toBe(2);
  });

  it("drops UDP over IPv6 without a checksum and NDP with a hop limit below 255", () => {
    const w = new GuestWorld();
    const f = w.udp(ip6("2001:db8::1"), 5000, 7, new Uint8Array([1]));
    f[L4 + 6] = 0;
    f[L4 + 7] = 0;
    w.send(f);
    const rs = w.icmp6(ALL_ROUTERS, 133, 0, new Uint8Array(0));
    rs[21] = 64;
    w.send(rs);
    w.flush();
    expect(w.take()).toEqual([]);
  });
});
