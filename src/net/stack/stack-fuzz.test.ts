// Seeded fuzz of everything the stack parses from the guest: mutated real frames (ARP, ICMP, DHCP, DNS,
// UDP, TCP handshakes and data) and random bytes. The stack catches its own exceptions and counts them as
// "internal:" drops, so the property is: no internal drop, no throw, and bounded state.

import { describe, expect, it } from "vitest";
import { parseIp4, parseIp6 } from "../wire/bytes.ts";
import { DNS_ADDR, GATEWAY_ADDR } from "./config.ts";
import { parseDhcp } from "./dhcp-server.ts";
import { parseDnsQuery } from "./dns.ts";
import { tcpFrame } from "./frames.ts";
import { GuestWorld } from "./guest-harness.ts";
import { rng } from "./tcp/tcp-harness.ts";
import { parseTcpOptions, TCP_ACK, TCP_SYN } from "./tcp/tcp-segment.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const COUNT = Number(process.env.FUZZ_COUNT ?? 100_000);

const v6 = (s: string) => parseIp6(s)!;

function seeds(w: GuestWorld): Uint8Array[] {
  const te = new TextEncoder();
  const dns = new Uint8Array([
    1,
    2,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    3,
    ...te.encode("foo"),
    3,
    ...te.encode("com"),
    0,
    0,
    1,
    0,
    1,
  ]);
  const dhcp = new Uint8Array(300);
  dhcp.set([1, 1, 6], 0);
  dhcp.set([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 50, 4, 10, 0, 2, 15, 255], 236);
  const syn = {
    seq: 1,
    ack: 0,
    flags: TCP_SYN,
    window: 65535,
    options: { mss: 1460, wscale: 7, sackPermitted: true, tsVal: 1, tsEcr: 0 },
    payload: new Uint8Array(),
  };
  const data = {
    seq: 2,
    ack: 5,
    flags: TCP_ACK,
    window: 100,
    options: { sack: [[1, 2]] as Array<[number, number]> },
    payload: new Uint8Array(100),
  };
  return [
    w.arpRequest(GATEWAY_ADDR),
    w.icmpEcho(GATEWAY_ADDR, 1, 2, new Uint8Array(56)),
    w.udp(0xffffffff, 68, 67, dhcp),
    w.udp(DNS_ADDR, 1000, 53, dns),
    w.udp(parseIp4("1.2.3.4")!, 1000, 7, new Uint8Array(10)),
    tcpFrame(w.addrs(parseIp4("1.2.3.4")!), 1234, 80, syn, 1460).frame,
    tcpFrame(w.addrs(parseIp4("1.2.3.4")!), 1234, 80, data, 1460).frame,
    tcpFrame(w.addrs(GATEWAY_ADDR), 1235, 22, syn, 1460).frame,
    // IPv6: router and neighbour solicitations, echo, UDP and a TCP SYN.
    w.icmp6(v6("ff02::2"), 133, 0, new Uint8Array([1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])),
    w.icmp6(v6("ff02::1:ff00:2"), 135, 0, v6("fd00::2")),
    w.icmp6(v6("fd00::2"), 128, 0x10001, new Uint8Array(32)),
    w.udp(v6("2001:db8::1"), 1000, 7, new Uint8Array(10)),
    tcpFrame(w.addrs(v6("2001:db8::1")), 1236, 80, syn, 1440).frame,
  ];
}

function mutate(r: () => number, base: Uint8Array): Uint8Array {
  const roll = r();
  if (roll < 0.1) {
    const b = new Uint8Array(Math.floor(r() * 1600));
    for (let i = 0; i < b.length; i++) b[i] = (r() * 256) | 0;
    return b;
  }
  let b = base.slice();
  if (roll < 0.3) b = b.subarray(0, Math.floor(r() * b.length));
  const flips = 1 + Math.floor(r() * 8);
  for (let i = 0; i < flips && b.length > 0; i++) {
    const at = Math.floor(r() * b.length);
    b[at] = r() < 0.5 ? (r() * 256) | 0 : b[at]! ^ (1 << Math.floor(r() * 8));
  }
  return b;
}

describe("stack fuzz", () => {
  it(`${COUNT} mutated and random frames (seed ${SEED}): nothing escapes, state stays bounded`, () => {
    const w = new GuestWorld({ maxTcpFlows: 64, maxUdpFlows: 64 });
    w.uplink.listenTcp("1.2.3.4", 80, (c) => c.write(new Uint8Array(3000)));
    w.uplink.listenUdp("1.2.3.4", 7, (d, remote) => remote.reply(d));
    w.uplink.listenTcp("2001:db8::1", 80, (c) => c.write(new Uint8Array(3000)));
    w.uplink.listenUdp("2001:db8::1", 7, (d, remote) => remote.reply(d));
    const base = seeds(w);
    const r = rng(SEED);
    for (let i = 0; i < COUNT; i++) {
      const f = mutate(r, base[Math.floor(r() * base.length)]!);
      // Some frames claim an offloaded checksum so the deeper layers see the mutations too.
      w.send(
        f,
        r() < 0.5 ? { type: 0, gsoSize: 0, hdrLen: 0, needsCsum: true, csumStart: 34, csumOffset: 16 } : undefined,
      );
      if (i % 64 === 0) {
        w.flush();
        w.take();
      }
      if (i % 4096 === 0) w.run(() => false, w.clock.ms + 5_000);
    }
    w.flush();
    const internal = Object.keys(w.stack.counters.dropped).filter((k) => k.startsWith("internal"));
    expect(internal, `seed ${SEED}`).toEqual([]);
    expect(w.stack.tcpFlowCount).toBeLessThanOrEqual(64);
    expect(w.stack.udp.size).toBeLessThanOrEqual(64);
  });

  it("the DHCP, DNS and TCP-option parsers never throw on random bytes", () => {
    const r = rng(SEED + 1);
    for (let i = 0; i < 30_000; i++) {
      const b = new Uint8Array(Math.floor(r() * 400));
      for (let j = 0; j < b.length; j++) b[j] = (r() * 256) | 0;
      if (b.length > 240 && r() < 0.5) b.set([0x63, 0x82, 0x53, 0x63], 236);
      parseDhcp(b);
      parseDnsQuery(b);
      const o = parseTcpOptions(b, 0, Math.min(40, b.length));
      if (o.wscale !== undefined) expect(o.wscale).toBeLessThanOrEqual(14);
    }
  });
});
