// Issue 16, finding 6: every UDP datagram the relay drops is counted in relay_udp_dropped_total, by reason.
// Each row forces one drop path, on /wisp (client → destination and back) and on an L2 network's gateway,
// and checks the count against what was sent and what arrived.

import * as dgram from "node:dgram";
import { once } from "node:events";
import type * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { GATEWAY_ADDR, GATEWAY_MAC, GUEST_ADDR } from "../../src/net/stack/config.ts";
import { udpFrame } from "../../src/net/stack/frames.ts";
import type { RelayConfig } from "../../src/relay/config.ts";
import { attachGateway } from "../../src/relay/l2/gateway.ts";
import { encodeData } from "../../src/relay/wisp/packet.ts";
import { type StartedRelay, startRelay, TestWispClient, udpEchoServer } from "./wisp-test-client.ts";

/** A UDP server that answers each datagram with `count` datagrams of `size` bytes, `everyMs` apart. */
async function udpBlaster(count: number, size: number, everyMs = 0): Promise<{ port: number; close(): void }> {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (_m, rinfo) => {
    for (let i = 0; i < count; i++) {
      const send = () => sock.send(Buffer.alloc(size, i), rinfo.port, rinfo.address);
      if (everyMs > 0) setTimeout(send, i * everyMs);
      else send();
    }
  });
  sock.bind(0, "127.0.0.1");
  await once(sock, "listening");
  return { port: sock.address().port, close: () => sock.close() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function dropped(r: StartedRelay, reason: string): number {
  return r.relay.metrics.get("relay_udp_dropped_total", { reason });
}

/** Polls until `f()` reaches `n` (or time is up) and returns its last value. */
async function reaches(f: () => number, n: number, ms = 3000): Promise<number> {
  const t0 = performance.now();
  while (f() < n && performance.now() - t0 < ms) await sleep(10);
  return f();
}

const relays: StartedRelay[] = [];
async function relay(tune?: (c: RelayConfig) => void, lookup?: (h: string) => Promise<string[]>) {
  const r = await startRelay({ allow: ["127.0.0.1"], tune, deps: lookup ? { lookup } : {} });
  relays.push(r);
  return r;
}

let echo: Awaited<ReturnType<typeof udpEchoServer>>;
beforeAll(async () => {
  echo = await udpEchoServer();
});
afterAll(async () => {
  for (const r of relays) await r.stop();
  echo.close();
});

describe("UDP drops on /wisp are counted (issue 16, finding 6)", () => {
  it("too-large: a datagram over 65507 bytes", async () => {
    const r = await relay();
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", echo.port, "udp");
    s.send(Buffer.alloc(65_508));
    s.send(Buffer.from("small"));
    await s.waitForBytes(5);
    expect(s.received).toBe(5);
    expect(dropped(r, "too-large")).toBe(1);
    c.close();
  });

  it("rate, client to destination: over --rate", async () => {
    const r = await relay((c) => void (c.wisp.bytesPerSecond = 10_000));
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", echo.port, "udp");
    for (let i = 0; i < 30; i++) s.send(Buffer.alloc(1000, i));
    const n = await reaches(() => dropped(r, "rate"), 15);
    await sleep(200);
    // A one-second burst (10 datagrams, a few more refilled meanwhile) goes; the rest is dropped and counted.
    expect(n).toBeGreaterThanOrEqual(15);
    expect(s.received / 1000 + dropped(r, "rate")).toBeLessThanOrEqual(30);
    c.close();
  });

  it("rate, destination to client: replies over --rate", async () => {
    const blast = await udpBlaster(40, 1000);
    const r = await relay((c) => void (c.wisp.bytesPerSecond = 10_000));
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", blast.port, "udp");
    s.send(Buffer.from("go"));
    await reaches(() => s.received / 1000 + dropped(r, "rate"), 40);
    expect(dropped(r, "rate")).toBeGreaterThanOrEqual(25);
    expect(s.received / 1000 + dropped(r, "rate")).toBe(40);
    c.close();
    blast.close();
  });

  it("not-connected: more than the early queue while the name resolves", async () => {
    const r = await relay(undefined, (h) =>
      h === "slow.test" ? new Promise((res) => setTimeout(() => res(["127.0.0.1"]), 300)) : Promise.reject(),
    );
    const c = await TestWispClient.connect(r.url);
    const s = c.open("slow.test", echo.port, "udp");
    for (let i = 0; i < 20; i++) s.send(Buffer.alloc(100, i));
    await reaches(() => s.received, 1600);
    await sleep(100);
    expect(s.received).toBe(16 * 100); // the early queue holds 16
    expect(dropped(r, "not-connected")).toBe(4);
    c.close();
  });

  it("closed: datagrams waiting for a destination that is then refused", async () => {
    const r = await relay(undefined, (h) =>
      h === "gone.test"
        ? new Promise((_res, rej) => setTimeout(() => rej(new Error("ENOTFOUND")), 100))
        : Promise.reject(),
    );
    const c = await TestWispClient.connect(r.url);
    const s = c.open("gone.test", echo.port, "udp");
    for (let i = 0; i < 5; i++) s.send(Buffer.alloc(100, i));
    await s.closed;
    expect(dropped(r, "closed")).toBe(5);
    c.close();
  });

  it("late: DATA on a UDP stream the client already closed", async () => {
    const r = await relay();
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", echo.port, "udp");
    s.send(Buffer.from("one"));
    await s.waitForBytes(3);
    s.close();
    c.raw(encodeData(s.id, Buffer.from("two")));
    c.raw(encodeData(s.id, Buffer.from("three")));
    expect(await reaches(() => dropped(r, "late"), 2)).toBe(2);
    c.close();
  });

  it("client-slow: replies while the client's WebSocket is backed up", async () => {
    const blast = await udpBlaster(30, 1000);
    const r = await relay((c) => void (c.wisp.maxBufferedBytes = 1500));
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", blast.port, "udp");
    s.send(Buffer.from("go"));
    await reaches(() => s.received / 1000 + dropped(r, "client-slow"), 30);
    expect(dropped(r, "client-slow")).toBeGreaterThan(0);
    expect(s.received / 1000 + dropped(r, "client-slow")).toBe(30);
    c.close();
    blast.close();
  });

  it("byte-limit: datagrams past the client's byte budget, both ways", async () => {
    const r = await relay((c) => void (c.wisp.maxTotalBytes = 2500));
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", echo.port, "udp");
    s.send(Buffer.alloc(1000)); // 1000 up, then 1000 down: 2000
    await s.waitForBytes(1000);
    s.send(Buffer.alloc(1000)); // 3000 > 2500: dropped, and the client is cut off (1008)
    expect((await c.wsClosed).code).toBe(1008);
    expect(dropped(r, "byte-limit")).toBe(1);

    const blast = await udpBlaster(5, 1000);
    const c2 = await TestWispClient.connect(r.url);
    const s2 = c2.open("127.0.0.1", blast.port, "udp");
    s2.send(Buffer.from("go"));
    expect((await c2.wsClosed).code).toBe(1008);
    // Two replies fit; the third crosses the budget and is dropped as the client is cut off.
    expect(s2.received).toBe(2000);
    expect(dropped(r, "byte-limit")).toBe(2);
    blast.close();
  });

  it("client-gone: replies that arrive after the client's close frame", async () => {
    const blast = await udpBlaster(10, 100, 30);
    const r = await relay();
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", blast.port, "udp");
    s.send(Buffer.from("go"));
    await s.waitForBytes(100);
    // Close, and then read nothing more: the relay stays in its closing handshake with the stream still open.
    c.ws.close();
    (c.ws as unknown as { _socket: net.Socket })._socket.pause();
    await reaches(() => s.received / 100 + dropped(r, "client-gone"), 10);
    expect(dropped(r, "client-gone")).toBeGreaterThan(0);
    expect(s.received / 100 + dropped(r, "client-gone")).toBe(10);
    c.ws.terminate();
    blast.close();
  });
});

describe("UDP drops at an L2 network's gateway are counted (issue 16, finding 6)", () => {
  const GUEST_MAC = Uint8Array.from([0x02, 0, 0, 0, 0, 0x43]);
  const toGateway = (dport: number, payload: Uint8Array) =>
    udpFrame({ srcMac: GUEST_MAC, dstMac: GATEWAY_MAC, src: GUEST_ADDR, dst: GATEWAY_ADDR }, 40000, dport, payload);

  async function guest(r: StartedRelay, network: string): Promise<WebSocket> {
    const ws = new WebSocket(`ws://${r.base}/l2/${network}`);
    await once(ws, "open");
    return ws;
  }

  let open: StartedRelay;
  let strict: StartedRelay;
  beforeAll(async () => {
    open = await startRelay({ allow: ["127.0.0.1"], deps: { l2Gateway: attachGateway } });
    strict = await startRelay({ deps: { l2Gateway: attachGateway } });
    relays.push(open, strict);
  });

  it("blocked: a guest's datagrams to a destination the policy refuses", async () => {
    const ws = await guest(strict, "udp-blocked");
    for (let i = 0; i < 3; i++) ws.send(toGateway(echo.port, Buffer.from(`d${i}`)));
    const n = await reaches(() => dropped(strict, "blocked") + dropped(strict, "closed"), 3);
    expect(n).toBe(3);
    expect(dropped(strict, "blocked")).toBeGreaterThanOrEqual(1);
    ws.close();
  });

  it("not-connected: more than 64 datagrams before the flow's socket is connected", async () => {
    const ws = await guest(open, "udp-burst");
    const sock = (ws as unknown as { _socket: net.Socket })._socket;
    // One write, so the relay reads all 100 in one go, before the flow's destination is checked.
    sock.cork();
    for (let i = 0; i < 100; i++) ws.send(toGateway(echo.port, Buffer.from(`d${i}`)));
    sock.uncork();
    expect(await reaches(() => dropped(open, "not-connected"), 36)).toBe(36);
    ws.close();
  });

  it("guest-checksum and guest-no-route: datagrams the gateway's stack cannot take", async () => {
    const ws = await guest(open, "udp-bad");
    const bad = toGateway(echo.port, Buffer.from("x"));
    bad[14 + 20 + 6]! ^= 0xff; // corrupt the UDP checksum
    ws.send(bad);
    ws.send(toGateway(0, Buffer.from("port zero")));
    expect(await reaches(() => dropped(open, "guest-checksum"), 1)).toBe(1);
    expect(await reaches(() => dropped(open, "guest-no-route"), 1)).toBe(1);
    ws.close();
  });
});
