// The HTTP side of the relay: who gets a WebSocket, /healthz, /metrics, shutdown.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type StartedRelay, startRelay, TestWispClient, tcpEchoServer } from "../../tests/relay/wisp-test-client.ts";
import { CLOSE_REASON_VOLUNTARY } from "./wisp/packet.ts";

const TOKEN = "test-token-123456";

/** Resolves with the HTTP status of a refused upgrade, or 101 and the chosen subprotocol. */
function upgrade(url: string, protocols: string[] = [], origin?: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { origin });
    ws.on("unexpected-response", (_req, res) => resolve(`${res.statusCode}`));
    ws.on("open", () => {
      resolve(`101:${ws.protocol}`);
      ws.close();
    });
    ws.on("error", () => {});
  });
}

describe("auth and origin over HTTP", () => {
  let r: StartedRelay;
  beforeAll(async () => {
    r = await startRelay({ tune: (c) => void (c.auth = { tokens: [TOKEN], noAuth: false, origins: [] }) });
  });
  afterAll(() => r.stop());

  const rows: [string, string, string[], string | undefined, string][] = [
    ["no token", "/wisp/", [], undefined, "401"],
    ["bad token", "/wisp/?token=nope", [], undefined, "401"],
    ["query token", `/wisp/?token=${TOKEN}`, [], undefined, "101:"],
    ["subprotocol token", "/wisp/", [`vireo-token.${TOKEN}`], undefined, `101:vireo-token.${TOKEN}`],
    ["subprotocol token beside wisp-v2", "/wisp/", ["wisp-v2", `vireo-token.${TOKEN}`], undefined, "101:wisp-v2"],
    ["loopback origin", `/wisp/?token=${TOKEN}`, [], "http://localhost:5173", "101:"],
    ["foreign origin", `/wisp/?token=${TOKEN}`, [], "https://evil.example", "403"],
    ["l2 needs a token too", "/l2/net1", [], undefined, "401"],
    ["l2 with token", `/l2/net1?token=${TOKEN}`, [], undefined, "101:"],
    ["unknown path", `/nope?token=${TOKEN}`, [], undefined, "404"],
    ["bad network name", `/l2/a.b?token=${TOKEN}`, [], undefined, "404"],
  ];
  for (const [name, path, protocols, origin, want] of rows) {
    it(name, async () => {
      expect(await upgrade(`ws://${r.base}${path}`, protocols, origin)).toBe(want);
    });
  }

  it("no refusal puts the token (query or subprotocol) in the logs", async () => {
    // Every refusal path above has run (401, 403 foreign origin, 404 paths carrying the valid token).
    const text = JSON.stringify(r.logs);
    expect(r.logs.filter((l) => l.event === "relay.refused").length).toBeGreaterThanOrEqual(5);
    expect(text).not.toContain(TOKEN);
    expect(text).toContain("token=***");
  });

  it("counts refusals by reason", () => {
    expect(r.relay.metrics.get("relay_connections_refused_total", { reason: "no-token" })).toBeGreaterThan(0);
    expect(r.relay.metrics.get("relay_connections_refused_total", { reason: "origin" })).toBe(1);
  });

  it("/healthz is open, /metrics needs the token", async () => {
    expect(await (await fetch(`http://${r.base}/healthz`)).text()).toBe("ok\n");
    expect((await fetch(`http://${r.base}/metrics`)).status).toBe(401);
    const m = await fetch(`http://${r.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(m.status).toBe(200);
    const text = await m.text();
    expect(text).toContain("# TYPE relay_connections_total counter");
    expect(text).toMatch(/relay_connections_refused_total\{reason="origin"\} 1/);
  });
});

describe("shutdown", () => {
  it("closes every stream with CLOSE and every client with 1001", async () => {
    const echo = await tcpEchoServer();
    const r = await startRelay({ allow: ["127.0.0.1"] });
    const c = await TestWispClient.connect(r.url);
    const streams = [c.open("127.0.0.1", echo.port), c.open("127.0.0.1", echo.port)];
    streams[0]!.send(Buffer.from("x"));
    await streams[0]!.waitForBytes(1);
    const l2 = new WebSocket(`ws://${r.base}/l2/n`);
    await new Promise((res) => l2.on("open", res));
    const l2Closed = new Promise<number>((res) => l2.on("close", (code) => res(code)));
    await r.stop();
    expect(await Promise.all(streams.map((s) => s.closed))).toEqual([CLOSE_REASON_VOLUNTARY, CLOSE_REASON_VOLUNTARY]);
    expect((await c.wsClosed).code).toBe(1001);
    expect(await l2Closed).toBe(1001);
    await echo.close();
  });
});

describe("slow requests on a kept-alive connection (issue 16, finding 5)", () => {
  let r: StartedRelay;
  beforeAll(async () => {
    r = await startRelay({ tune: (c) => void (c.handshakeTimeoutMs = 1000) });
  });
  afterAll(() => r.stop());

  it("after one complete request, a second one trickled in is cut off near the timeout", async () => {
    const { connect } = await import("node:net");
    const [host, port] = r.base.split(":");
    const sock = connect(Number(port), host);
    await new Promise<void>((ok) => sock.once("connect", () => ok()));
    let got = "";
    sock.on("data", (d: Buffer) => {
      got += d.toString("latin1");
    });
    sock.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    const t0 = Date.now();
    while (!got.includes("ok\n") && Date.now() - t0 < 5000) await new Promise((ok) => setTimeout(ok, 20));
    expect(got).toContain("200 OK");
    // The next request, one byte every 200 ms: it would take 8 s to send.
    const next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const start = Date.now();
    let i = 0;
    const trickle = setInterval(() => {
      if (i < next.length && !sock.destroyed) sock.write(next[i++]);
    }, 200);
    await new Promise<void>((ok) => sock.once("close", () => ok()));
    clearInterval(trickle);
    const held = Date.now() - start;
    expect(i).toBeLessThan(next.length);
    // Cut off around the 1 s timeout (the old code held it ~20 s: Node's check ran every 30 s).
    expect(held).toBeLessThan(3500);
  }, 20_000);
});

describe("--max-streams counts streams the client closed while their sockets drain (issue 16, finding 2)", () => {
  it("CONNECT to a server that never reads, fill, CLOSE 0x02, again: refused once the sockets reach the limit", async () => {
    const { createServer } = await import("node:net");
    const held: import("node:net").Socket[] = [];
    // Accepts and never reads: whatever the relay writes stays queued on its side.
    const server = createServer((sock) => {
      sock.pause();
      held.push(sock);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    const port = (server.address() as import("node:net").AddressInfo).port;
    const r = await startRelay({ allow: ["127.0.0.1"], tune: (c) => void (c.wisp.maxStreams = 4) });
    try {
      const client = await TestWispClient.connect(r.url);
      const reasons: number[] = [];
      for (let round = 0; round < 8; round++) {
        const s = client.open("127.0.0.1", port);
        const first = await Promise.race([
          s.closed.then((reason) => `closed:${reason}`),
          new Promise<string>((ok) => setTimeout(() => ok("open"), 300)),
        ]);
        if (first !== "open") {
          reasons.push(Number(first.slice(7)));
          continue;
        }
        for (let k = 0; k < 15; k++) s.send(new Uint8Array(4096).fill(k));
        s.close(0x02);
        await new Promise((ok) => setTimeout(ok, 100));
      }
      // Four sockets drain (the server reads nothing); from then on new streams are throttled (0x49).
      expect(reasons.length).toBeGreaterThanOrEqual(4);
      expect(reasons.every((x) => x === 0x49)).toBe(true);
      expect(held.length).toBeLessThanOrEqual(4);
      client.close();
    } finally {
      for (const s of held) s.destroy();
      server.close();
      await r.stop();
    }
  }, 30_000);
});
