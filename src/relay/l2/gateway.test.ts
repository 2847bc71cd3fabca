// The gateway on an L2 network, driven by fake guests over real WebSockets: ARP, DHCP, and a TCP
// handshake through the PolicyUplink to a loopback server the policy allows (and one it does not).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type DnsTestServer, dnsTestServer } from "../../../tests/relay/dns-test-server.ts";
import { type StartedRelay, startRelay, tcpEchoServer } from "../../../tests/relay/wisp-test-client.ts";
import { DNS_ADDR, GATEWAY_ADDR, GATEWAY_MAC, GUEST_ADDR } from "../../net/stack/config.ts";
import { parseTcpFrame, tcpFrame, udpFrame } from "../../net/stack/frames.ts";
import { TCP_ACK, TCP_RST, TCP_SYN } from "../../net/stack/tcp/tcp-segment.ts";
import { attachGateway } from "./gateway.ts";

const GUEST_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x42]);
const BROADCAST = new Uint8Array(6).fill(0xff);

function arpRequest(targetIp: number): Uint8Array {
  const f = new Uint8Array(42);
  f.set(BROADCAST, 0);
  f.set(GUEST_MAC, 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1], 12);
  f.set(GUEST_MAC, 22);
  new DataView(f.buffer).setUint32(28, GUEST_ADDR);
  new DataView(f.buffer).setUint32(38, targetIp);
  return f;
}

function dhcpDiscover(xid: number): Uint8Array {
  const m = new Uint8Array(244);
  const dv = new DataView(m.buffer);
  m.set([1, 1, 6, 0]);
  dv.setUint32(4, xid);
  dv.setUint16(10, 0x8000); // broadcast the reply: we have no address yet
  m.set(GUEST_MAC, 28);
  dv.setUint32(236, 0x63825363); // magic cookie
  m.set([53, 1, 1, 255], 240);
  return udpFrame({ srcMac: GUEST_MAC, dstMac: BROADCAST, src: 0, dst: 0xffffffff }, 68, 67, m);
}

/** A guest's DNS query for `name` (type A) to the gateway's resolver at 10.0.2.3. */
function dnsQuery(id: number, name: string): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]);
  const q = Uint8Array.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
  return udpFrame({ srcMac: GUEST_MAC, dstMac: GATEWAY_MAC, src: GUEST_ADDR, dst: DNS_ADDR }, 5353, 53, q);
}

/** The DNS reply to query `id` in a frame from the gateway: [rcode, A records as dotted quads]. */
function dnsReply(f: Uint8Array, id: number): [number, string[]] | null {
  if (ethType(f) !== 0x0800 || f[23] !== 17 || ((f[34]! << 8) | f[35]!) !== 53) return null;
  const d = f.subarray(42);
  if (((d[0]! << 8) | d[1]!) !== id) return null;
  const answers: string[] = [];
  // Answers follow the question; each A record ends in its 4 address bytes (rdlength 4).
  for (let i = d.length - 16; i >= 12; i -= 16)
    if (d[i + 11] === 4) answers.unshift(d.subarray(i + 12, i + 16).join("."));
  return [d[3]! & 0xf, answers];
}

function syn(dstPort: number): Uint8Array {
  const addrs = { srcMac: GUEST_MAC, dstMac: GATEWAY_MAC, src: GUEST_ADDR, dst: GATEWAY_ADDR };
  const seg = { seq: 1000, ack: 0, flags: TCP_SYN, window: 65535, options: { mss: 1460 }, payload: new Uint8Array() };
  return tcpFrame(addrs, 40000, dstPort, seg, 1460).frame;
}

async function guest(r: StartedRelay, net: string) {
  const ws = new WebSocket(`ws://${r.base}/l2/${net}`);
  const frames: Uint8Array[] = [];
  const waiters: { pred: (f: Uint8Array) => boolean; resolve: (f: Uint8Array) => void }[] = [];
  ws.on("message", (d: Buffer) => {
    const f = new Uint8Array(d);
    frames.push(f);
    for (const w of waiters.splice(0))
      if (w.pred(f)) w.resolve(f);
      else waiters.push(w);
  });
  await new Promise((res) => ws.on("open", res));
  const wait = (pred: (f: Uint8Array) => boolean) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const hit = frames.find(pred);
      if (hit) return resolve(hit);
      waiters.push({ pred, resolve });
      setTimeout(() => reject(new Error("no matching frame")), 3000);
    });
  return { ws, wait, send: (f: Uint8Array) => ws.send(f) };
}

const ethType = (f: Uint8Array) => (f[12]! << 8) | f[13]!;

let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
let open: StartedRelay;
let strict: StartedRelay;
let dns: DnsTestServer;
beforeAll(async () => {
  echo = await tcpEchoServer();
  dns = await dnsTestServer({ "good.test": ["93.184.216.34"] });
  open = await startRelay({
    allow: ["127.0.0.1"],
    deps: { l2Gateway: attachGateway },
    tune: (c) => {
      c.dns.servers = [dns.address];
      c.dns.timeoutMs = 1000;
    },
  });
  strict = await startRelay({ deps: { l2Gateway: attachGateway } });
});
afterAll(async () => {
  await open.stop();
  await strict.stop();
  await echo.close();
  dns.close();
});

describe("L2 gateway", () => {
  it("answers ARP for 10.0.2.2 with the gateway MAC", async () => {
    const g = await guest(open, "gw-arp");
    g.send(arpRequest(GATEWAY_ADDR));
    const reply = await g.wait((f) => ethType(f) === 0x0806 && f[21] === 2);
    expect(Array.from(reply.subarray(22, 28))).toEqual(Array.from(GATEWAY_MAC));
    g.ws.close();
  });

  it("offers a DHCP lease", async () => {
    const g = await guest(open, "gw-dhcp");
    g.send(dhcpDiscover(0x1234));
    // UDP from port 67 to 68, BOOTREPLY carrying our xid.
    const offer = await g.wait((f) => ethType(f) === 0x0800 && f[23] === 17 && f[42] === 2);
    const dv = new DataView(offer.buffer, offer.byteOffset);
    expect(dv.getUint32(42 + 4)).toBe(0x1234);
    expect(dv.getUint32(42 + 16)).toBe(GUEST_ADDR); // yiaddr
    g.ws.close();
  });

  it("connects a guest's TCP SYN to an allowed loopback server", async () => {
    const g = await guest(open, "gw-tcp");
    g.send(syn(echo.port));
    const synAck = await g.wait((f) => parseTcpFrame(f)?.seg.flags === (TCP_SYN | TCP_ACK));
    expect(parseTcpFrame(synAck)?.seg.ack).toBe(1001);
    g.ws.close();
  });

  it("refuses the same SYN when the policy does not allow loopback", async () => {
    const g = await guest(strict, "gw-deny");
    g.send(syn(echo.port));
    // Refused by policy: a RST or an ICMP unreachable, never a SYN-ACK.
    const answer = await g.wait((f) => {
      const t = parseTcpFrame(f);
      return (t !== undefined && (t.seg.flags & TCP_RST) !== 0) || (ethType(f) === 0x0800 && f[23] === 1);
    });
    expect(parseTcpFrame(answer)?.seg.flags).not.toBe(TCP_SYN | TCP_ACK);
    expect(strict.relay.metrics.get("relay_denials_total", { reason: "loopback" })).toBeGreaterThan(0);
    g.ws.close();
  });

  it("answers a guest's DNS query through the relay's resolver (--dns-server)", async () => {
    const g = await guest(open, "gw-dns");
    g.send(dnsQuery(0x4242, "good.test"));
    const reply = await g.wait((f) => dnsReply(f, 0x4242) !== null);
    expect(dnsReply(reply, 0x4242)).toEqual([0, ["93.184.216.34"]]);
    expect(dns.asked.get("good.test")).toBeGreaterThan(0);
    g.ws.close();
  });

  it("a network's unanswered lookups are capped as one client's and cancelled when it goes", async () => {
    const g = await guest(open, "gw-dns-flood");
    for (let i = 0; i < 20; i++) g.send(dnsQuery(0x100 + i, `silent-${i}.black.test`));
    await new Promise((res) => setTimeout(res, 200));
    expect(open.relay.lookupsInFlight).toBe(open.relay.config.dns.maxPerClient);
    g.ws.close();
    const t0 = performance.now();
    while (open.relay.lookupsInFlight > 0 && performance.now() - t0 < 2000)
      await new Promise((res) => setTimeout(res, 20));
    expect(open.relay.lookupsInFlight).toBe(0);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it("removes the gateway when the last guest leaves", async () => {
    const g = await guest(open, "gw-gone");
    g.ws.close();
    await new Promise((res) => setTimeout(res, 100));
    expect(open.logs.some((l) => l.event === "l2.gateway-down" && l.fields?.network === "gw-gone")).toBe(true);
  });
});
