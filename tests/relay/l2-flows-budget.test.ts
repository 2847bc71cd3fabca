// Issue 16: the L2 gateway's flows are charged to the client that opened them, as Wisp streams are. One client
// on /l2/<net> floods SYNs and UDP flows to allowed loopback servers: it gets --max-streams sockets, the gateways
// together --max-gateway-sockets, the rest are refused and counted, the relay's descriptors stay bounded, and a
// client that leaves takes its sockets with it.

import { once } from "node:events";
import { readdirSync } from "node:fs";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { GATEWAY_ADDR, GATEWAY_MAC } from "../../src/net/stack/config.ts";
import { tcpFrame, udpFrame } from "../../src/net/stack/frames.ts";
import { TCP_SYN } from "../../src/net/stack/tcp/tcp-segment.ts";
import { attachGateway } from "../../src/relay/l2/gateway.ts";
import { type StartedRelay, startRelay, udpEchoServer } from "./wisp-test-client.ts";

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
