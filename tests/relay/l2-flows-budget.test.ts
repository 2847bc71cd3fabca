// Issue 16: the L2 gateway's flows are charged to the client that opened them, as Wisp streams are. One client
// on /l2/<net> floods SYNs and UDP flows to allowed loopback servers: it gets --max-streams sockets, the gateways
// together --max-gateway-sockets, the rest are refused and counted, the relay's descriptors stay bounded, and a
// client that leaves takes its sockets with it. And --max-sockets is one budget for the whole relay: Wisp
// streams and gateway flows together never hold more.

import { once } from "node:events";
import { readdirSync } from "node:fs";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { GATEWAY_ADDR, GATEWAY_MAC } from "../../src/net/stack/config.ts";
import { tcpFrame, udpFrame } from "../../src/net/stack/frames.ts";
import { TCP_SYN } from "../../src/net/stack/tcp/tcp-segment.ts";
import { attachGateway } from "../../src/relay/l2/gateway.ts";
import { CLOSE_REASON_THROTTLED } from "../../src/relay/wisp/packet.ts";
import { type StartedRelay, startRelay, TestWispClient, udpEchoServer } from "./wisp-test-client.ts";

const PER_CLIENT = 8;
const TOTAL = 12;
const FLOOD = 40;

const fds = () => readdirSync("/proc/self/fd").length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP server that accepts and holds every connection (never closes one itself). */
async function holdingServer(): Promise<{ port: number; open: Set<net.Socket>; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((s) => {
    open.add(s);
    s.on("error", () => {});
    s.on("close", () => open.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    open,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A scripted guest: its own MAC and IPv4 address on the network. */
async function guest(r: StartedRelay, network: string, n: number) {
  const ws = new WebSocket(`ws://${r.base}/l2/${network}`);
  ws.on("error", () => {});
  await once(ws, "open");
  const addrs = { srcMac: Uint8Array.from([2, 0, 0, 0, 0x77, n]), dstMac: GATEWAY_MAC, src: 0x0a000200 + 20 + n };
  return {
    ws,
    syn: (srcPort: number, dstPort: number) => {
      const seg = {
        seq: 1000,
        ack: 0,
        flags: TCP_SYN,
        window: 65535,
        options: { mss: 1460 },
        payload: new Uint8Array(),
      };
      ws.send(tcpFrame({ ...addrs, dst: GATEWAY_ADDR }, srcPort, dstPort, seg, 1460).frame);
    },
    udp: (srcPort: number, dstPort: number) =>
      ws.send(udpFrame({ ...addrs, dst: GATEWAY_ADDR }, srcPort, dstPort, Uint8Array.of(1, 2, 3))),
  };
}

let r: StartedRelay;
let tcp: Awaited<ReturnType<typeof holdingServer>>;
let udp: Awaited<ReturnType<typeof udpEchoServer>>;
beforeAll(async () => {
  tcp = await holdingServer();
  udp = await udpEchoServer();
  r = await startRelay({
    allow: ["127.0.0.1"],
    deps: { l2Gateway: attachGateway },
    tune: (c) => {
      c.wisp.maxStreams = PER_CLIENT;
      c.l2.maxGatewaySockets = TOTAL;
    },
  });
});
afterAll(async () => {
  await r.stop();
  await tcp.close();
  udp.close();
});

const refused = (proto: string, reason: string) =>
  r.relay.metrics.get("relay_l2_flows_refused_total", { proto, reason }) ?? 0;
const held = () => r.relay.metrics.get("relay_l2_gateway_sockets") ?? 0;

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = performance.now();
  while (!cond() && performance.now() - t0 < ms) await sleep(20);
}

describe("the L2 gateway's socket budget", () => {
  it("a SYN flood from one client gets --max-streams connections; the rest are refused and counted", async () => {
    const a = await guest(r, "budget", 1);
    const before = fds();
    for (let i = 0; i < FLOOD; i++) a.syn(40000 + i, tcp.port);
    await until(() => tcp.open.size >= PER_CLIENT && refused("tcp", "max-streams") >= FLOOD - PER_CLIENT);
    await sleep(200);
    expect(tcp.open.size).toBe(PER_CLIENT);
    expect(refused("tcp", "max-streams")).toBe(FLOOD - PER_CLIENT);
    expect(held()).toBe(PER_CLIENT);
    // Each connection is two descriptors in this process (the relay's socket and the server's), plus a few.
    expect(fds() - before).toBeLessThanOrEqual(2 * PER_CLIENT + 4);
    // UDP flows of the same client: it has nothing left.
    for (let i = 0; i < 5; i++) a.udp(50000 + i, udp.port);
    await until(() => refused("udp", "max-streams") >= 5);
    expect(refused("udp", "max-streams")).toBe(5);
    expect(r.relay.metrics.get("relay_udp_dropped_total", { reason: "max-sockets" })).toBe(5);

    // A second client has its own budget, but only what is left of the gateways' total.
    const b = await guest(r, "budget", 2);
    for (let i = 0; i < FLOOD; i++) b.udp(51000 + i, udp.port);
    await until(() => refused("udp", "max-gateway-sockets") >= FLOOD - (TOTAL - PER_CLIENT));
    await sleep(200);
    expect(held()).toBe(TOTAL);
    expect(refused("udp", "max-gateway-sockets")).toBe(FLOOD - (TOTAL - PER_CLIENT));
    expect(fds() - before).toBeLessThanOrEqual(2 * PER_CLIENT + (TOTAL - PER_CLIENT) + 6);

    // The first client leaves: its connections are closed at once, and the second can use what they held.
    a.ws.close();
    await until(() => tcp.open.size === 0 && held() === TOTAL - PER_CLIENT);
    expect(tcp.open.size).toBe(0);
    expect(held()).toBe(TOTAL - PER_CLIENT);
    for (let i = 0; i < FLOOD; i++) b.syn(41000 + i, tcp.port);
    await until(() => tcp.open.size >= PER_CLIENT - (TOTAL - PER_CLIENT));
    await sleep(200);
    // b holds 4 UDP flows, so 4 connections fill its own budget.
    expect(tcp.open.size).toBe(PER_CLIENT - (TOTAL - PER_CLIENT));
    expect(held()).toBe(PER_CLIENT);
    b.ws.close();
    await until(() => held() === 0);
    expect(held()).toBe(0);
    expect(tcp.open.size).toBe(0);
  });
});

describe("the relay-wide socket cap (--max-sockets), shared by Wisp streams and L2 gateway flows", () => {
  const MAX_SOCKETS = 10;
  const WISP_A = 6;

  it("Wisp streams and gateway flows together never hold more than --max-sockets; refusals are counted", async () => {
    const rr = await startRelay({
      allow: ["127.0.0.1"],
      deps: { l2Gateway: attachGateway },
      tune: (c) => {
        c.wisp.maxStreams = 8;
        c.l2.maxGatewaySockets = 8;
        c.maxSockets = MAX_SOCKETS;
      },
    });
    const m = rr.relay.metrics;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, m.get("relay_sockets"));
    }, 5);
    const held = await holdingServer();
    try {
      const before = fds();
      // A Wisp client takes 6 of the 10.
      const a = await TestWispClient.connect(rr.url);
      const aStreams = Array.from({ length: WISP_A }, () => a.open("127.0.0.1", held.port));
      await until(() => held.open.size === WISP_A);
      expect(m.get("relay_sockets")).toBe(WISP_A);

      // An L2 guest floods SYNs: its own budget (8) and the gateways' (8) would allow 8, the relay has 4 left.
      const g = await guest(rr, "shared", 3);
      for (let i = 0; i < 20; i++) g.syn(42000 + i, held.port);
      const l2Refused = () => m.get("relay_l2_flows_refused_total", { proto: "tcp", reason: "max-sockets" });
      await until(() => held.open.size >= MAX_SOCKETS && l2Refused() >= 20 - (MAX_SOCKETS - WISP_A));
      await sleep(200);
      expect(held.open.size).toBe(MAX_SOCKETS);
      expect(l2Refused()).toBe(20 - (MAX_SOCKETS - WISP_A));
      expect(m.get("relay_l2_gateway_sockets")).toBe(MAX_SOCKETS - WISP_A);
      expect(m.get("relay_sockets")).toBe(MAX_SOCKETS);

      // A second Wisp client, well within its own --max-streams, gets 0x49: the relay is full.
      const b = await TestWispClient.connect(rr.url);
      const refusedB = Array.from({ length: 3 }, () => b.open("127.0.0.1", held.port));
      expect(await Promise.all(refusedB.map((s) => s.closed))).toEqual(Array(3).fill(CLOSE_REASON_THROTTLED));
      // And so does the first, with 2 of its 8 left.
      expect(await a.open("127.0.0.1", held.port).closed).toBe(CLOSE_REASON_THROTTLED);
      expect(m.get("relay_denials_total", { reason: "max-sockets" })).toBe(20 - (MAX_SOCKETS - WISP_A) + 4);
      expect(held.open.size).toBe(MAX_SOCKETS);
      // Each socket is two descriptors here (the relay's and the server's), each WebSocket two, plus a few.
      expect(fds() - before).toBeLessThanOrEqual(2 * MAX_SOCKETS + 2 * 3 + 4);

      // The guest leaves: its 4 are freed, and the second Wisp client can have them, and no more.
      g.ws.close();
      await until(() => m.get("relay_sockets") === WISP_A);
      expect(m.get("relay_sockets")).toBe(WISP_A);
      const bStreams = Array.from({ length: MAX_SOCKETS - WISP_A }, () => b.open("127.0.0.1", held.port));
      await until(() => held.open.size === MAX_SOCKETS);
      expect(await b.open("127.0.0.1", held.port).closed).toBe(CLOSE_REASON_THROTTLED);
      expect(bStreams.every((s) => s.closeReason === null)).toBe(true);
      expect(aStreams.every((s) => s.closeReason === null)).toBe(true);
      expect(m.get("relay_sockets")).toBe(MAX_SOCKETS);

      // Clients gone: nothing held.
      a.close();
      b.close();
      await until(() => m.get("relay_sockets") === 0 && held.open.size === 0);
      expect(m.get("relay_sockets")).toBe(0);
      expect(held.open.size).toBe(0);
      expect(peak).toBeLessThanOrEqual(MAX_SOCKETS);
    } finally {
      clearInterval(sampler);
      await rr.stop();
      await held.close();
    }
  });
});
