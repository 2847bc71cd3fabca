// The Wisp endpoint end to end: real WebSockets, real sockets, everything on 127.0.0.1.

import { createHash, randomBytes } from "node:crypto";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import {
  type StartedRelay,
  startRelay,
  TestWispClient,
  tcpEchoServer,
  udpEchoServer,
} from "../../../tests/relay/wisp-test-client.ts";
import {
  CLOSE_REASON_BLOCKED,
  CLOSE_REASON_INVALID_INFO,
  CLOSE_REASON_REFUSED,
  CLOSE_REASON_THROTTLED,
  CLOSE_REASON_UNREACHABLE,
  CLOSE_REASON_VOLUNTARY,
  encodeConnect,
  encodeContinue,
  encodeData,
  STREAM_TYPE_TCP,
} from "./packet.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
let uecho: Awaited<ReturnType<typeof udpEchoServer>>;
let r: StartedRelay;

beforeAll(async () => {
  echo = await tcpEchoServer();
  uecho = await udpEchoServer();
  r = await startRelay({
    allow: ["127.0.0.1"],
    deps: {
      lookup: async (h) => {
        if (h === "rebind.test") return ["127.0.0.1"];
        if (h === "slow.test") return new Promise((res) => setTimeout(() => res(["127.0.0.1"]), 300));
        throw new Error("ENOTFOUND");
      },
    },
    tune: (c) => {
      c.wisp.bufferPackets = 16;
    },
  });
});
afterAll(async () => {
  await r.stop();
  await echo.close();
  uecho.close();
});

async function echoRoundTrip(c: TestWispClient, bytes: number, chunk = 16 * 1024): Promise<void> {
  const s = c.open("127.0.0.1", echo.port);
  const data = randomBytes(bytes);
  for (let off = 0; off < bytes; off += chunk) s.send(data.subarray(off, off + chunk));
  await s.waitForBytes(bytes);
  expect(sha(Buffer.concat(s.chunks))).toBe(sha(data));
  s.close();
}

describe("wisp streams", () => {
  it("announces the buffer on stream 0", async () => {
    const c = await TestWispClient.connect(r.url);
    expect(c.initialCredit).toBe(16);
    c.close();
  });

  it("echoes 4 MB over TCP with flow control, byte for byte", async () => {
    const c = await TestWispClient.connect(r.url);
    await echoRoundTrip(c, 4 << 20);
    c.close();
  });

  it("echoes UDP datagrams with boundaries kept", async () => {
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", uecho.port, "udp");
    const got: string[] = [];
    s.onData = (d) => got.push(d.toString());
    s.send(Buffer.from("one"));
    s.send(Buffer.from("two"));
    await new Promise((res) => setTimeout(res, 100));
    expect(got).toEqual(["one", "two"]);
    c.close();
  });

  it("delivers UDP datagrams sent right after CONNECT, before the socket is ready", async () => {
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", uecho.port, "udp");
    const got: string[] = [];
    s.onData = (d) => got.push(d.toString());
    // Same tick as the CONNECT: Wisp allows it, and a guest's first DNS query arrives exactly like this.
    s.send(Buffer.from("first"));
    s.send(Buffer.from("second"));
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
    expect(got).toEqual(["first", "second"]);
    c.close();
  });

  it("reports the remote's end as CLOSE 0x02 after its data", async () => {
    const srv = net.createServer((sock) => sock.end("bye"));
    srv.listen(0, "127.0.0.1");
    await new Promise((res) => srv.once("listening", res));
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", (srv.address() as net.AddressInfo).port);
    expect(await s.closed).toBe(CLOSE_REASON_VOLUNTARY);
    expect(s.text()).toBe("bye");
    c.close();
    srv.close();
  });
});

describe("wisp destinations refused", () => {
  const rows: [string, string, number, number][] = [
    ["RFC 1918", "10.0.0.1", 80, CLOSE_REASON_BLOCKED],
    ["metadata", "169.254.169.254", 80, CLOSE_REASON_BLOCKED],
    ["IPv6 loopback", "::1", 80, CLOSE_REASON_BLOCKED],
    ["IPv4-mapped loopback", "::ffff:127.0.0.1", 80, CLOSE_REASON_BLOCKED],
    ["NAT64 metadata", "64:ff9b::a9fe:a9fe", 80, CLOSE_REASON_BLOCKED],
    ["decimal private", "167772161", 80, CLOSE_REASON_BLOCKED],
    ["denied port", "127.0.0.1", 25, CLOSE_REASON_BLOCKED],
    ["unknown name", "nx.test", 80, CLOSE_REASON_UNREACHABLE],
    ["invalid name", "a b", 80, CLOSE_REASON_INVALID_INFO],
    ["numeric non-address", "1.2.3.999", 80, CLOSE_REASON_INVALID_INFO],
  ];
  for (const [name, host, port, want] of rows) {
    it(`${name}: ${host}:${port}`, async () => {
      const c = await TestWispClient.connect(r.url);
      expect(await c.open(host, port).closed).toBe(want);
      c.close();
    });
  }

  it("a closed port is refused (0x44)", async () => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1");
    await new Promise((res) => probe.once("listening", res));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((res) => probe.close(res));
    const c = await TestWispClient.connect(r.url);
    expect(await c.open("127.0.0.1", port).closed).toBe(CLOSE_REASON_REFUSED);
    c.close();
  });

  it("names resolving to loopback are refused without an exception for them", async () => {
    const strict = await startRelay({ deps: { lookup: async () => ["127.0.0.1"] } });
    const c = await TestWispClient.connect(strict.url);
    expect(await c.open("rebind.test", echo.port).closed).toBe(CLOSE_REASON_BLOCKED);
    expect(await c.open("127.0.0.1", echo.port).closed).toBe(CLOSE_REASON_BLOCKED);
    expect(strict.relay.metrics.get("relay_denials_total", { reason: "loopback" })).toBe(2);
    c.close();
    await strict.stop();
  });

  it("localhost through the system resolver is refused too", async () => {
    const strict = await startRelay();
    const c = await TestWispClient.connect(strict.url);
    expect(await c.open("localhost", echo.port).closed).toBe(CLOSE_REASON_BLOCKED);
    c.close();
    await strict.stop();
  });

  it("a CIDR exception covers names that resolve into it", async () => {
    const c = await TestWispClient.connect(r.url);
    const s = c.open("rebind.test", echo.port);
    s.send(Buffer.from("hi"));
    await s.waitForBytes(2);
    expect(s.text()).toBe("hi");
    c.close();
  });
});

/** What a hostile message should cost: a CLOSE on a stream, or the whole connection. */
interface MalformedRow {
  name: string;
  send: (c: TestWispClient) => void;
  expectStrayClose?: { id: number; reason: number };
  expectWsClose?: number;
  metric: string;
}

const connectRaw = (id: number, type: number, port: number, host: Uint8Array) => {
  const m = encodeConnect(id, type, port, "");
  return Buffer.concat([m, host]);
};

const malformed: MalformedRow[] = [
  { name: "truncated header", send: (c) => c.raw(Buffer.from([2, 1, 0])), metric: "truncated-header" },
  { name: "unknown packet type", send: (c) => c.raw(Buffer.from([9, 1, 0, 0, 0])), metric: "unknown-type" },
  { name: "v2 INFO to a v1 server", send: (c) => c.raw(Buffer.from([5, 0, 0, 0, 0, 2, 0])), metric: "unknown-type" },
  {
    name: "CONNECT without port",
    send: (c) => c.raw(Buffer.from([1, 7, 0, 0, 0, 1])),
    expectStrayClose: { id: 7, reason: CLOSE_REASON_INVALID_INFO },
    metric: "connect-truncated",
  },
  {
    name: "CONNECT bad stream type",
    send: (c) => c.raw(connectRaw(7, 3, 80, Buffer.from("127.0.0.1"))),
    expectStrayClose: { id: 7, reason: CLOSE_REASON_INVALID_INFO },
    metric: "bad-stream-type",
  },
  {
    name: "CONNECT port 0",
    send: (c) => c.raw(encodeConnect(7, STREAM_TYPE_TCP, 0, "127.0.0.1")),
    expectStrayClose: { id: 7, reason: CLOSE_REASON_INVALID_INFO },
    metric: "bad-port",
  },
  {
    name: "CONNECT invalid UTF-8",
    send: (c) => c.raw(connectRaw(7, STREAM_TYPE_TCP, 80, Buffer.from([0xff, 0xfe]))),
    expectStrayClose: { id: 7, reason: CLOSE_REASON_INVALID_INFO },
    metric: "bad-hostname",
  },
  {
    name: "CONNECT empty hostname",
    send: (c) => c.raw(encodeConnect(7, STREAM_TYPE_TCP, 80, "")),
    expectStrayClose: { id: 7, reason: CLOSE_REASON_INVALID_INFO },
    metric: "bad-hostname",
  },
  {
    name: "CONNECT on stream 0",
    send: (c) => c.raw(encodeConnect(0, STREAM_TYPE_TCP, 80, "127.0.0.1")),
    expectStrayClose: { id: 0, reason: CLOSE_REASON_INVALID_INFO },
    metric: "connect-stream-zero",
  },
  {
    name: "DATA for an unknown stream",
    send: (c) => c.raw(encodeData(99, Buffer.from("x"))),
    expectStrayClose: { id: 99, reason: CLOSE_REASON_INVALID_INFO },
    metric: "unknown-stream",
  },
  {
    name: "CONTINUE for an unknown stream",
    send: (c) => c.raw(encodeContinue(42, 5)),
    metric: "continue-unknown-stream",
  },
  {
    name: "CLOSE for an unknown stream",
    send: (c) => c.raw(Buffer.from([4, 42, 0, 0, 0, 2])),
    metric: "close-unknown-stream",
  },
  { name: "CLOSE without reason", send: (c) => c.raw(Buffer.from([4, 42, 0, 0, 0])), metric: "close-truncated" },
  { name: "text message", send: (c) => c.raw("hello"), expectWsClose: 1003, metric: "text-message" },
  {
    name: "message over the frame limit",
    send: (c) => c.raw(encodeData(1, Buffer.alloc(70_000))),
    expectWsClose: 1009,
    metric: "frame-too-large",
  },
  {
    name: "a burst of garbage",
    send: (c) => {
      for (let i = 0; i < 8; i++) c.raw(Buffer.from([0xee, i, 0, 0, 0]));
    },
    expectWsClose: 1002,
    metric: "unknown-type",
  },
];

describe("malformed input", () => {
  for (const row of malformed) {
    it(row.name, async () => {
      // A well-behaved neighbour streams throughout and must not notice.
      const good = await TestWispClient.connect(r.url);
      const goodDone = echoRoundTrip(good, 256 * 1024, 8 * 1024);
      const before = r.relay.metrics.get("relay_protocol_errors_total", { error: row.metric });
      const bad = await TestWispClient.connect(r.url);
      row.send(bad);
      if (row.expectWsClose !== undefined) expect((await bad.wsClosed).code).toBe(row.expectWsClose);
      // The relay answers in its own time (a loaded machine took more than a fixed 50 ms): wait for it, up to 5 s.
      await vi.waitFor(
        () => {
          if (row.expectStrayClose) expect(bad.strayCloses).toContainEqual(row.expectStrayClose);
          expect(r.relay.metrics.get("relay_protocol_errors_total", { error: row.metric })).toBeGreaterThan(before);
        },
        { timeout: 5000, interval: 10 },
      );
      if (row.expectWsClose === undefined) {
        // The connection survives one bad packet: it can still open a stream.
        await echoRoundTrip(bad, 1000);
        bad.close();
      }
      await goodDone;
      good.close();
    });
  }

  it("a duplicate stream id closes that stream", async () => {
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", echo.port);
    c.raw(encodeConnect(s.id, STREAM_TYPE_TCP, echo.port, "127.0.0.1"));
    expect(await s.closed).toBe(CLOSE_REASON_INVALID_INFO);
    c.close();
  });

  it("a client CONTINUE closes its stream", async () => {
    const c = await TestWispClient.connect(r.url);
    const s = c.open("127.0.0.1", echo.port);
    c.raw(encodeContinue(s.id, 100));
    expect(await s.closed).toBe(CLOSE_REASON_INVALID_INFO);
    c.close();
  });

  it("a client that ignores its credit is throttled", async () => {
    const c = await TestWispClient.connect(r.url);
    const s = c.open("slow.test", echo.port); // resolving takes 300 ms, so nothing drains meanwhile
    for (let i = 0; i < 3 * c.initialCredit; i++) c.raw(encodeData(s.id, Buffer.from("x")));
    expect(await s.closed).toBe(CLOSE_REASON_THROTTLED);
    c.close();
  });

  it("late DATA for a stream the relay just closed is not an error", async () => {
    const c = await TestWispClient.connect(r.url);
    const s = c.open("10.0.0.1", 80);
    await s.closed;
    const before = r.relay.metrics.get("relay_protocol_errors_total", { error: "unknown-stream" });
    c.raw(encodeData(s.id, Buffer.from("late")));
    await new Promise((res) => setTimeout(res, 50));
    expect(r.relay.metrics.get("relay_protocol_errors_total", { error: "unknown-stream" })).toBe(before);
    expect(c.strayCloses).toEqual([]);
    c.close();
  });
});

describe("limits", () => {
  it("refuses streams over the per-client limit with 0x49", async () => {
    const lr = await startRelay({ allow: ["127.0.0.1"], tune: (c) => void (c.wisp.maxStreams = 2) });
    const c = await TestWispClient.connect(lr.url);
    c.open("127.0.0.1", echo.port);
    c.open("127.0.0.1", echo.port);
    expect(await c.open("127.0.0.1", echo.port).closed).toBe(CLOSE_REASON_THROTTLED);
    expect(lr.relay.metrics.get("relay_denials_total", { reason: "max-streams" })).toBe(1);
    c.close();
    await lr.stop();
  });

  it("DATA and CLOSE a client sent right after a CONNECT refused with 0x49 are late, not protocol errors", async () => {
    const lr = await startRelay({ allow: ["127.0.0.1"], tune: (c) => void (c.wisp.maxStreams = 1) });
    const c = await TestWispClient.connect(lr.url);
    const kept = c.open("127.0.0.1", echo.port);
    // Wisp lets a client send DATA before it hears back: ten refused streams, each with data and a CLOSE.
    const refused = Array.from({ length: 10 }, () => {
      const s = c.open("127.0.0.1", echo.port);
      s.send(Buffer.from("early"));
      s.close(0x02);
      return s;
    });
    expect(await Promise.all(refused.map((s) => s.closed))).toEqual(refused.map(() => CLOSE_REASON_THROTTLED));
    kept.send(Buffer.from("still here"));
    const gone = c.wsClosed.then(({ code }) => Promise.reject(new Error(`relay closed the connection: ${code}`)));
    await Promise.race([kept.waitForBytes(10), gone]);
    expect(lr.relay.metrics.get("relay_protocol_errors_total", { error: "unknown-stream" })).toBe(0);
    expect(lr.relay.metrics.get("relay_protocol_errors_total", { error: "close-unknown-stream" })).toBe(0);
    expect(c.strayCloses).toEqual([]);
    c.close();
    await lr.stop();
  });

  it("closes idle clients", async () => {
    const lr = await startRelay({ tune: (c) => void (c.wisp.idleTimeoutMs = 150) });
    const c = await TestWispClient.connect(lr.url);
    expect(await c.wsClosed).toEqual({ code: 1000, reason: "idle timeout" });
    await lr.stop();
  });

  it("refuses clients over the server limit with 1013 and a reason", async () => {
    const lr = await startRelay({ tune: (c) => void (c.maxClients = 1) });
    const a = await TestWispClient.connect(lr.url);
    const ws = new WebSocket(lr.url);
    const closed = await new Promise<[number, string]>((res) => ws.on("close", (code, why) => res([code, `${why}`])));
    expect(closed).toEqual([1013, "server full"]);
    a.close();
    await lr.stop();
  });

  it("refuses clients over the per-address limit", async () => {
    const lr = await startRelay({ tune: (c) => void (c.maxClientsPerAddress = 2) });
    const a = await TestWispClient.connect(lr.url);
    const b = await TestWispClient.connect(lr.url);
    const ws = new WebSocket(lr.url);
    const closed = await new Promise<[number, string]>((res) => ws.on("close", (code, why) => res([code, `${why}`])));
    expect(closed).toEqual([1013, "too many connections from this address"]);
    b.close();
    await b.wsClosed;
    await new Promise((res) => setTimeout(res, 20));
    const c = await TestWispClient.connect(lr.url); // a slot is free again
    a.close();
    c.close();
    await lr.stop();
  });

  it("ends a client past its total byte budget", async () => {
    const lr = await startRelay({ allow: ["127.0.0.1"], tune: (c) => void (c.wisp.maxTotalBytes = 10_000) });
    const c = await TestWispClient.connect(lr.url);
    const s = c.open("127.0.0.1", echo.port);
    s.send(Buffer.alloc(6000));
    s.send(Buffer.alloc(6000));
    expect((await c.wsClosed).code).toBe(1008);
    await lr.stop();
  });

  it("paces a client to its byte rate", async () => {
    const lr = await startRelay({ allow: ["127.0.0.1"], tune: (c) => void (c.wisp.bytesPerSecond = 200_000) });
    const c = await TestWispClient.connect(lr.url);
    const t0 = performance.now();
    await echoRoundTrip(c, 500_000); // 200 kB burst, then 300 kB at 200 kB/s each way
    const secs = (performance.now() - t0) / 1000;
    expect(secs).toBeGreaterThan(1.2);
    expect(secs).toBeLessThan(6);
    c.close();
    await lr.stop();
  });

  it("drops a connection that never finishes its handshake", async () => {
    const lr = await startRelay({ tune: (c) => void (c.handshakeTimeoutMs = 150) });
    const sock = net.connect(lr.relay.port, "127.0.0.1");
    sock.write("GET /wisp/ HTTP/1.1\r\n");
    const t0 = performance.now();
    await new Promise((res) => sock.on("close", res));
    expect(performance.now() - t0).toBeLessThan(2000);
    await lr.stop();
  });
});

describe("fuzz", () => {
  const seed = Number(process.env.FUZZ_SEED ?? 0x5eed);
  // The seed is in the test name, so a failure report says how to replay it (FUZZ_SEED=…).
  it(`survives random and mutated packets from many clients (seed ${seed})`, async () => {
    let x = seed >>> 0 || 1;
    const rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const valid = [
      encodeConnect(1, STREAM_TYPE_TCP, echo.port, "127.0.0.1"),
      encodeConnect(2, 2, uecho.port, "127.0.0.1"),
      encodeData(1, Buffer.from("hello")),
      encodeData(2, Buffer.from("datagram")),
      encodeContinue(1, 3),
      Buffer.from([4, 1, 0, 0, 0, 2]),
    ];
    const good = await TestWispClient.connect(r.url);
    const goodDone = echoRoundTrip(good, 512 * 1024, 4 * 1024);
    for (let round = 0; round < 20; round++) {
      const c = await TestWispClient.connect(r.url);
      for (let i = 0; i < 100; i++) {
        const base = Buffer.from(valid[Math.floor(rand() * valid.length)]!);
        // Flip bytes, truncate, or extend: near-valid input reaches deeper than pure noise.
        const n = Math.floor(rand() * 4);
        for (let k = 0; k < n; k++) base[Math.floor(rand() * base.length)] = Math.floor(rand() * 256);
        const cut = rand() < 0.2 ? base.subarray(0, Math.floor(rand() * base.length)) : base;
        c.raw(rand() < 0.1 ? Buffer.concat([cut, Buffer.alloc(Math.floor(rand() * 64))]) : cut);
      }
      c.close();
    }
    await goodDone;
    const after = await TestWispClient.connect(r.url);
    await echoRoundTrip(after, 10_000);
    after.close();
    good.close();
  });
});
