import { describe, expect, it } from "vitest";
import { get16, get32, parseIp6 } from "../wire/bytes.ts";
import { ndpOptions } from "../wire/icmp.ts";
import { DNS6, GATEWAY6, GATEWAY6_LL } from "./config.ts";
import { GuestWorld } from "./guest-harness.ts";

const ip6 = (s: string) => parseIp6(s)!;
const ALL_ROUTERS = ip6("ff02::2");
const L4 = 14 + 40;

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
