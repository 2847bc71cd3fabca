import { describe, expect, it } from "vitest";
import { GSO_TCPV4 } from "../offload/gso.ts";
import { get16, get32, parseIp4 } from "../wire/bytes.ts";
import { Ipv4View } from "../wire/ipv4.ts";
import { DNS_ADDR, GATEWAY_ADDR, GATEWAY_MAC, GUEST_ADDR } from "./config.ts";
import { DHCPACK, DHCPDECLINE, DHCPDISCOVER, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST } from "./dhcp-server.ts";
import { icmpFrame, parseTcpFrame, tcpFrame } from "./frames.ts";
import { GUEST_MAC, GuestWorld } from "./guest-harness.ts";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "./tcp/tcp-segment.ts";

const ip = (s: string) => parseIp4(s)!;
const te = new TextEncoder();
const td = new TextDecoder();

function dhcpMessage(type: number, xid: number, opts: { ciaddr?: number; requested?: number; serverId?: number } = {}) {
  const b = new Uint8Array(300);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b[4] = xid >>> 24;
  b[7] = xid & 0xff;
  const c = opts.ciaddr ?? 0;
  b.set([c >>> 24, (c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff], 12);
  b.set(GUEST_MAC, 28);
  b.set([0x63, 0x82, 0x53, 0x63], 236);
  let i = 240;
  b.set([53, 1, type], i);
  i += 3;
  for (const [code, v] of [
    [50, opts.requested],
    [54, opts.serverId],
  ] as const) {
    if (v === undefined) continue;
    b.set([code, 4, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff], i);
    i += 6;
  }
  b[i] = 255;
  return b;
}

/** The DHCP reply in a frame: message type, yiaddr and options by code. */
function dhcpReply(frame: Uint8Array) {
  const p = frame.subarray(14 + 20 + 8);
  const opts = new Map<number, Uint8Array>();
  let i = 240;
  while (i < p.length && p[i] !== 255) {
    if (p[i] === 0) {
      i++;
      continue;
    }
    opts.set(p[i]!, p.subarray(i + 2, i + 2 + p[i + 1]!));
    i += 2 + p[i + 1]!;
  }
  return { type: opts.get(53)?.[0], yiaddr: get32(p, 16), opts, dstIp: get32(frame, 30) };
}

describe("NetStack: link and network layer", () => {
  it("answers ARP for the gateway and the DNS address only", () => {
    const w = new GuestWorld();
    w.send(w.arpRequest(GATEWAY_ADDR));
    w.send(w.arpRequest(DNS_ADDR));
    w.send(w.arpRequest(ip("10.0.2.99")));
    w.flush();
    const got = w.take();
    expect(got.length).toBe(2);
    const f = got[0]!.frame;
    expect(f.subarray(0, 6)).toEqual(GUEST_MAC);
    expect(get16(f, 20)).toBe(2);
    expect(f.subarray(22, 28)).toEqual(GATEWAY_MAC);
    expect(get32(f, 28)).toBe(GATEWAY_ADDR);
    expect(get32(got[1]!.frame, 28)).toBe(DNS_ADDR);
  });

  it("answers ICMP echo to the gateway with the same identifier, sequence and data", () => {
    const w = new GuestWorld();
    const data = te.encode("ping payload 0123456789");
    w.send(w.icmpEcho(GATEWAY_ADDR, 0x1234, 7, data));
    w.flush();
    const [r] = w.take();
    const f = r!.frame;
    expect(f[34]).toBe(0); // echo reply
    expect(get16(f, 38)).toBe(0x1234);
    expect(get16(f, 40)).toBe(7);
    expect(td.decode(f.subarray(42))).toBe("ping payload 0123456789");
    expect(get32(f, 26)).toBe(GATEWAY_ADDR);
  });

  it("drops frames with a bad IPv4 header checksum or a bad ICMP checksum", () => {
    const w = new GuestWorld();
    const a = w.icmpEcho(GATEWAY_ADDR, 1, 1, new Uint8Array(8));
    a[24] ^= 0xff;
    const b = w.icmpEcho(GATEWAY_ADDR, 1, 1, new Uint8Array(8));
    b[40] ^= 1;
    w.send(a);
    w.send(b);
    w.flush();
    expect(w.take()).toEqual([]);
    expect(w.stack.counters.dropped["ipv4-bad-checksum"]).toBe(1);
  });
});

describe("NetStack: DHCP", () => {
  it("DISCOVER → OFFER, REQUEST → ACK with lease, router, DNS and MTU; renew; DECLINE; RELEASE", () => {
    const w = new GuestWorld({ mtu: 1500 });
    w.guestIp = 0;
    w.send(w.udp(0xffffffff, 68, 67, dhcpMessage(DHCPDISCOVER, 1)));
    w.flush();
    let r = dhcpReply(w.take()[0]!.frame);
    expect(r.type).toBe(DHCPOFFER);
    expect(r.yiaddr).toBe(GUEST_ADDR);
    expect(r.dstIp).toBe(0xffffffff);
    w.send(w.udp(0xffffffff, 68, 67, dhcpMessage(DHCPREQUEST, 2, { requested: GUEST_ADDR, serverId: GATEWAY_ADDR })));
    w.flush();
    r = dhcpReply(w.take()[0]!.frame);
    expect(r.type).toBe(DHCPACK);
    expect(r.yiaddr).toBe(GUEST_ADDR);
    expect(get32(r.opts.get(3)!, 0)).toBe(GATEWAY_ADDR);
    expect(get32(r.opts.get(6)!, 0)).toBe(DNS_ADDR);
    expect(get32(r.opts.get(1)!, 0)).toBe(0xffffff00);
    expect(get32(r.opts.get(51)!, 0)).toBe(86400);
    expect(get16(r.opts.get(26)!, 0)).toBe(1500);
    // Renewal: unicast from the bound address.
    w.guestIp = GUEST_ADDR;
    w.send(w.udp(GATEWAY_ADDR, 68, 67, dhcpMessage(DHCPREQUEST, 3, { ciaddr: GUEST_ADDR })));
    w.flush();
    r = dhcpReply(w.take()[0]!.frame);
    expect(r.type).toBe(DHCPACK);
    expect(r.dstIp).toBe(GUEST_ADDR);
    // A request for an address outside the pool is refused.
    w.send(w.udp(GATEWAY_ADDR, 68, 67, dhcpMessage(DHCPREQUEST, 4, { requested: ip("10.0.2.200") })));
    w.flush();
    expect(dhcpReply(w.take()[0]!.frame).type).toBe(DHCPNAK);
    // DECLINE: the address is in use elsewhere; the next offer is another one.
    w.send(w.udp(GATEWAY_ADDR, 68, 67, dhcpMessage(DHCPDECLINE, 5, { requested: GUEST_ADDR })));
    w.send(w.udp(0xffffffff, 68, 67, dhcpMessage(DHCPDISCOVER, 6)));
    w.flush();
    r = dhcpReply(w.take()[0]!.frame);
    expect(r.yiaddr).toBe(GUEST_ADDR + 1);
    // RELEASE frees the lease.
    w.send(w.udp(0xffffffff, 68, 67, dhcpMessage(DHCPREQUEST, 7, { requested: GUEST_ADDR + 1 })));
    w.send(w.udp(GATEWAY_ADDR, 68, 67, dhcpMessage(DHCPRELEASE, 8, { ciaddr: GUEST_ADDR + 1 })));
    w.flush();
    expect(w.stack.dhcp.leaseFor(GUEST_MAC)).toBeUndefined();
  });
});

describe("NetStack: UDP and DNS", () => {
  it("forwards UDP through the uplink and maps replies back; idle flows expire", () => {
    const w = new GuestWorld({ udpIdleMs: 30_000 });
    w.uplink.listenUdp("1.2.3.4", 7, (data, remote) => remote.reply(data.map((x) => x + 1)));
    w.send(w.udp(ip("1.2.3.4"), 5000, 7, new Uint8Array([1, 2, 3])));
    w.flush();
    const [r] = w.take();
    const f = r!.frame;
    expect(get32(f, 26)).toBe(ip("1.2.3.4"));
    expect(get16(f, 34)).toBe(7);
    expect(get16(f, 36)).toBe(5000);
    expect([...f.subarray(42)]).toEqual([2, 3, 4]);
    expect(w.stack.udp.size).toBe(1);
    w.run(() => w.stack.udp.size === 0);
    expect(w.clock.ms).toBeGreaterThanOrEqual(30_000);
  });

  it("answers ICMP host unreachable (code 1) when the uplink has no route there", () => {
    const w = new GuestWorld();
    w.send(w.udp(ip("1.2.3.4"), 5000, 9, new Uint8Array([1])));
    w.flush();
    const [r] = w.take();
    expect(r!.frame[34]).toBe(3);
    expect(r!.frame[35]).toBe(1); // host unreachable ("unreachable" from the uplink)
    expect(get16(r!.frame, 42 + 20 + 2)).toBe(9); // the quoted UDP header
  });

  it("answers ICMP port unreachable (type 3 code 3) from the destination when the uplink refuses the flow", () => {
    const w = new GuestWorld();
    w.uplink.refuseUdp("1.2.3.4", 9);
    const sent = w.udp(ip("1.2.3.4"), 5000, 9, new Uint8Array([1, 2]));
    w.send(sent);
    w.flush();
    const got = w.take();
    expect(got.length).toBe(1);
    const f = got[0]!.frame;
    expect(f[23]).toBe(1); // ICMP
    expect(f[34]).toBe(3); // destination unreachable
    expect(f[35]).toBe(3); // port unreachable
    expect(get32(f, 26)).toBe(ip("1.2.3.4")); // from the closed port's host, as it would be
    expect(get32(f, 30)).toBe(GUEST_ADDR);
    expect(f.subarray(42, 42 + 28)).toEqual(sent.subarray(14, 14 + 28)); // header + 8 of the datagram
    expect(w.stack.udp.size).toBe(0); // the refused flow is gone
  });

  it("forwards DNS to the configured upstream, replying from 10.0.2.3:53", () => {
    const w = new GuestWorld({ dnsUpstream: { host: "127.0.0.1", port: 5353 } });
    w.uplink.listenUdp("127.0.0.1", 5353, (q, remote) => remote.reply(q.slice().fill(0xab, 0, 2)));
    w.send(w.udp(DNS_ADDR, 3333, 53, new Uint8Array(20)));
    w.flush();
    const [r] = w.take();
    expect(get32(r!.frame, 26)).toBe(DNS_ADDR);
    expect(get16(r!.frame, 34)).toBe(53);
    expect(r!.frame[42]).toBe(0xab);
  });

  it("answers A queries from the uplink's resolver", async () => {
    const w = new GuestWorld();
    w.uplink.names.set("example.test", ["93.184.216.34"]);
    const q = new Uint8Array([
      0x12,
      0x34,
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
      7,
      ...te.encode("example"),
      4,
      ...te.encode("test"),
      0,
      0,
      1,
      0,
      1,
    ]);
    w.send(w.udp(DNS_ADDR, 3333, 53, q));
    w.flush();
    await new Promise((r) => setTimeout(r, 0));
    w.flush();
    const [r] = w.take();
    const p = r!.frame.subarray(42);
    expect(get16(p, 0)).toBe(0x1234);
    expect(get16(p, 2) & 0x800f).toBe(0x8000);
    expect(get16(p, 6)).toBe(1);
    expect(get32(p, p.length - 4)).toBe(ip("93.184.216.34"));
  });
});

describe("NetStack: TCP", () => {
  it("connects through the uplink, moves data both ways and closes", () => {
    const w = new GuestWorld();
    w.uplink.listenTcp("93.184.216.34", 80, (c) => {
      c.onData = (d) => c.write(te.encode(`echo:${td.decode(d)}`));
      c.onEnd = () => c.end();
    });
    const t = w.connect(ip("93.184.216.34"), 80, 40001);
    w.run(() => t.established);
    t.ep.write(te.encode("hello"));
    w.run(() => t.bytes >= 10);
    expect(td.decode(t.data[0])).toBe("echo:hello");
    t.ep.shutdown();
    w.run(() => t.closed !== undefined);
    expect(t.closed).toBe("normal");
    expect(w.stack.tcpFlowCount).toBe(0);
  });

  it("resets a connection the uplink refuses, and a stray segment", () => {
    const w = new GuestWorld();
    const t = w.connect(ip("93.184.216.34"), 81, 40002);
    w.run(() => t.closed !== undefined);
    expect(t.closed).toBe("refused");
    expect(w.stack.tcpFlowCount).toBe(0);
    // A late segment on the refused 4-tuple reaches no connection: RST, sequence taken from its ACK.
    const out: Uint8Array[] = [];
    const orig = w.stack.output.bind(w.stack);
    w.stack.output = (f, g) => {
      out.push(f);
      orig(f, g);
    };
    w.send(
      tcpFrame(
        w.addrs(ip("93.184.216.34")),
        40002,
        81,
        { seq: 5000, ack: 0x12345678, flags: TCP_ACK | TCP_PSH, window: 100, options: {}, payload: te.encode("late") },
        1460,
      ).frame,
    );
    w.flush();
    const rs = out.map((f) => parseTcpFrame(f)).filter((p) => p !== undefined);
    expect(rs.length).toBe(1);
    expect(rs[0]!.seg.flags).toBe(TCP_RST);
    expect(rs[0]!.seg.seq).toBe(0x12345678);
    expect(rs[0]!.srcPort).toBe(81);
    expect(rs[0]!.dstPort).toBe(40002);
    expect(w.stack.tcpFlowCount).toBe(0);
  });

  it("the gateway address reaches the uplink's loopback", () => {
    const w = new GuestWorld();
    let seen = "";
    w.uplink.listenTcp("127.0.0.1", 8080, (c) => {
      seen = `${c.host}:${c.port}`;
    });
    const t = w.connect(GATEWAY_ADDR, 8080, 40003);
    w.run(() => t.established);
    expect(seen).toBe("127.0.0.1:8080");
  });

  it("a remote that does not read closes the guest's window; nothing buffers without bound", () => {
    const w = new GuestWorld({ tcpBuffer: 64 * 1024 });
    let conn: import("../uplink/memory-uplink.ts").MemoryRemoteTcp | undefined;
    w.uplink.listenTcp("5.6.7.8", 9, (c) => {
      conn = c;
      c.setReading(false);
    });
    const t = w.connect(ip("5.6.7.8"), 9, 40004);
    w.run(() => t.established);
    const big = new Uint8Array(4 * 1024 * 1024);
    t.ep.write(big);
    w.run(() => false, w.clock.ms + 30_000);
    const buffered = conn!.buffered();
    // The uplink's own limit (256 KiB) plus the stack's receive buffer bound everything in flight.
    expect(buffered).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    expect(t.ep.snapshot().sndUna).toBeLessThan(1_000_000);
    conn!.setReading(true);
    let got = 0;
    conn!.onData = (d) => {
      got += d.length;
    };
    w.run(() => got + buffered >= big.length, w.clock.ms + 600_000);
    expect(got + buffered).toBe(big.length);
  });

  it("a port forward opens a connection into the guest from 10.0.2.2", () => {
    const w = new GuestWorld();
    const l = w.listen(80);
    const fromGuest: Uint8Array[] = [];
    let h: import("../uplink/uplink.ts").UplinkTcpHandlers | undefined;
    w.stack.connectToGuest(GUEST_ADDR, 80, (handlers) => {
      h = handlers;
      return {
        write: (d) => fromGuest.push(d),
        writableBytes: () => 1 << 20,
        end: () => {},
        close: () => {},
        pause: () => {},
        resume: () => {},
      };
    });
    w.run(() => l.accepted?.established === true);
    expect(l.accepted!.remoteIp).toBe(GATEWAY_ADDR);
    h!.onData(te.encode("GET / HTTP/1.0\r\n\r\n"));
    w.run(() => l.accepted!.bytes > 0);
    expect(td.decode(l.accepted!.data[0])).toContain("GET /");
    l.accepted!.ep.write(te.encode("HTTP/1.0 200 OK\r\n\r\n"));
    w.run(() => fromGuest.length > 0);
    expect(td.decode(fromGuest[0])).toContain("200 OK");
  });

  it("with guest TSO, sends superpackets with GSO info; takes the guest's superpackets whole", () => {
    const w = new GuestWorld({ guestTso: true });
    const gso: number[] = [];
    const orig = w.stack.output.bind(w.stack);
    w.stack.output = (f, g) => {
      if (g) gso.push(g.type === GSO_TCPV4 ? g.gsoSize : -1);
      orig(f, g);
    };
    const sink: Uint8Array[] = [];
    w.uplink.listenTcp("5.6.7.8", 10, (c) => {
      c.write(new Uint8Array(1 << 20).fill(7));
      c.onData = (d) => sink.push(d);
    });
    const t = w.connect(ip("5.6.7.8"), 10, 40005, { tsoMax: 65000 });
    w.run(() => t.bytes === 1 << 20);
    expect(gso.length).toBeGreaterThan(0);
    expect(gso.every((s) => s === t.ep.effMss)).toBe(true);
    t.ep.write(new Uint8Array(200_000).fill(9));
    w.run(() => sink.reduce((n, d) => n + d.length, 0) === 200_000);
    expect(w.stack.counters.dropped["tcp-checksum"]).toBeUndefined();
  });
});

describe("NetStack: hostile input", () => {
  const stray = (w: GuestWorld, flags: number, seq: number, ack: number, payload = new Uint8Array(0)) =>
    tcpFrame(w.addrs(ip("9.9.9.9")), 40006, 1, { seq, ack, flags, window: 100, options: {}, payload }, 1460).frame;
  const resets = (w: GuestWorld) =>
    w
      .take()
      .map((f) => parseTcpFrame(f.frame))
      .filter((p) => p !== undefined && p.seg.flags & TCP_RST)
      .map((p) => p!.seg);

  it("answers a stray ACK with RST (RFC 9293 §3.10.7.1: seq = SEG.ACK)", () => {
    const w = new GuestWorld();
    w.send(stray(w, TCP_ACK, 1000, 0xdeadbeef));
    w.flush();
    const rs = resets(w);
    expect(rs.length).toBe(1);
    expect(rs[0]!.flags).toBe(TCP_RST);
    expect(rs[0]!.seq).toBe(0xdeadbeef);
    expect(w.stack.tcpFlowCount).toBe(0);
  });

  it("answers a stray segment without ACK with RST|ACK covering it, and never answers an RST", () => {
    const w = new GuestWorld();
    w.send(stray(w, TCP_FIN, 1000, 0, te.encode("abc")));
    w.flush();
    const rs = resets(w);
    expect(rs.length).toBe(1);
    expect(rs[0]!.flags).toBe(TCP_RST | TCP_ACK);
    expect(rs[0]!.seq).toBe(0);
    expect(rs[0]!.ack).toBe(1000 + 3 + 1); // data and FIN
    w.send(stray(w, TCP_RST | TCP_ACK, 1000, 5));
    w.flush();
    expect(resets(w)).toEqual([]);
  });
});

describe("NetStack: IPv4 TTL (the gateway forwards as a router, RFC 1812 §5.3.1)", () => {
  const withTtl = (f: Uint8Array, ttl: number) => {
    const v = new Ipv4View(f, 14);
    v.ttl = ttl;
    v.updateChecksum();
    return f;
  };

  for (const ttl of [0, 1]) {
    it(`a UDP datagram with TTL ${ttl} headed through the gateway draws time exceeded and is not forwarded`, () => {
      const w = new GuestWorld();
      const seen: Uint8Array[] = [];
      w.uplink.listenUdp("1.2.3.4", 7, (d) => seen.push(d));
      const sent = withTtl(w.udp(ip("1.2.3.4"), 5000, 7, new Uint8Array([1, 2, 3])), ttl);
      w.send(sent);
      w.flush();
      expect(seen).toEqual([]);
      expect(w.stack.udp.size).toBe(0);
      const got = w.take();
      expect(got.length).toBe(1);
      const f = got[0]!.frame;
      expect(f[23]).toBe(1); // ICMP
      expect(f[34]).toBe(11); // time exceeded
      expect(f[35]).toBe(0); // in transit
      expect(get32(f, 26)).toBe(GATEWAY_ADDR);
      expect(get32(f, 30)).toBe(GUEST_ADDR);
      expect(f.subarray(42, 42 + 28)).toEqual(sent.subarray(14, 14 + 28));
      expect(w.stack.counters.dropped["ipv4-ttl"]).toBe(1);
    });
  }

  it("TTL 2 is forwarded; TTL 1 to the gateway itself is delivered; a TCP SYN with TTL 1 opens nothing", () => {
    const w = new GuestWorld();
    const seen: Uint8Array[] = [];
    w.uplink.listenUdp("1.2.3.4", 7, (d) => seen.push(d));
    w.send(withTtl(w.udp(ip("1.2.3.4"), 5000, 7, new Uint8Array([1])), 2));
    w.send(withTtl(w.icmpEcho(GATEWAY_ADDR, 1, 1, new Uint8Array(4)), 1));
    w.flush();
    expect(seen.length).toBe(1);
    const replies = w.take();
    expect(replies.length).toBe(1);
    expect(replies[0]!.frame[34]).toBe(0); // echo reply
    const syn = tcpFrame(
      w.addrs(ip("5.6.7.8")),
      40010,
      80,
      { seq: 1, ack: 0, flags: TCP_SYN, window: 1000, options: {}, payload: new Uint8Array(0) },
      1460,
    ).frame;
    w.send(withTtl(syn, 1));
    w.flush();
    expect(w.uplink.tcpFlows.length).toBe(0);
    expect(w.stack.tcpFlowCount).toBe(0);
    expect(w.take()[0]!.frame[34]).toBe(11);
  });

  it("an ICMP error with TTL 1 is dropped without an error about it; an echo request gets one", () => {
    const w = new GuestWorld();
    const err = withTtl(icmpFrame(w.addrs(ip("1.2.3.4")), 3, 3, 0, new Uint8Array(28)), 1);
    w.send(err);
    w.send(withTtl(w.icmpEcho(ip("1.2.3.4"), 9, 1, new Uint8Array(4)), 1));
    w.flush();
    const got = w.take();
    expect(got.length).toBe(1);
    expect(got[0]!.frame[34]).toBe(11);
    expect(got[0]!.frame[42 + 20]).toBe(8); // quotes the echo request
    expect(w.stack.counters.dropped["ipv4-ttl"]).toBe(2);
  });
});
