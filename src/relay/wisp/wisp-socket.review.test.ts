// Review tests for commit 1e03cf4 (the relay's own /wisp WebSocket). Each test states a requirement the
// relay must meet on the open internet; the ones that fail point at a bug described in the review.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import * as net from "node:net";
import { createInterface } from "node:readline";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { DEFAULT_POLICY } from "../policy/policy.ts";
import { CLOSE_REASON_VOLUNTARY, encodeClose, encodeConnect, encodeData, STREAM_TYPE_TCP } from "./packet.ts";
import { DEFAULT_WISP_LIMITS } from "./wisp-limits.ts";
import { WispSession } from "./wisp-session.ts";
import { acceptWispUpgrade, WispSocket } from "./wisp-socket.ts";

/** A masked client frame. */
function frame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + ext + 4 + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = 0x80 | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(len, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(len), 2);
  const key = randomBytes(4);
  key.copy(out, 2 + ext);
  for (let i = 0; i < len; i++) out[2 + ext + 4 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

function handshake(path = "/", key = randomBytes(16).toString("base64")): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** Waits without timers (some tests fake setTimeout). */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setImmediate(r));
  }
  return true;
}

/** A bare server using acceptWispUpgrade, as server.ts does for /wisp. */
async function bareServer(): Promise<{
  server: Server;
  port: number;
  accepted: Promise<{ ws: WispSocket; socket: net.Socket }>;
}> {
  const server = createServer();
  const accepted = new Promise<{ ws: WispSocket; socket: net.Socket }>((resolve) =>
    server.on("upgrade", (req, socket, head) => {
      const ws = acceptWispUpgrade(req, socket as net.Socket, head, null, 64 * 1024 + 5);
      if (ws instanceof WispSocket) resolve({ ws, socket: socket as net.Socket });
    }),
  );
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  return { server, port: (server.address() as net.AddressInfo).port, accepted };
}

let child: ChildProcess | null = null;
afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
});
afterEach(() => {
  vi.useRealTimers();
});

describe("wisp-socket review", () => {
  it("survives refused /wisp upgrades (bad Sec-WebSocket-Key) whose client resets the connection", async () => {
    child = spawn(process.execPath, ["--import", "tsx", "src/relay/main.ts", "--listen", "127.0.0.1:0", "--no-auth"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    const lines = createInterface({ input: child.stdout! });
    const port = await new Promise<number>((resolve, reject) => {
      child!.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
      lines.on("line", (l) => {
        const e = JSON.parse(l) as Record<string, unknown>;
        if (e.event === "relay.listening") resolve(e.port as number);
      });
    });
    let exitCode: number | null = null;
    child.on("exit", (code) => {
      exitCode = code ?? -1;
    });
    // An internet client sends a malformed handshake and resets the connection right away.
    for (let i = 0; i < 40; i++) {
      const s = net.connect(port, "127.0.0.1");
      s.on("error", () => {});
      s.on("connect", () => {
        s.write(handshake("/wisp/", "short"));
        setImmediate(() => s.resetAndDestroy());
      });
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(stderr).not.toContain("Unhandled 'error' event");
    expect(exitCode).toBe(null);
  }, 20_000);

  it("drops the connection when the peer sent its close frame but never ends TCP (close timeout)", async () => {
    const { server, port, accepted } = await bareServer();
    // allowHalfOpen: the peer keeps its side open after the relay's FIN, as a hostile client would.
    const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    c.on("error", () => {});
    c.on("data", () => {});
    await new Promise((r) => c.once("connect", r));
    c.write(handshake());
    const { ws } = await accepted;
    let closed = false;
    ws.on("close", () => {
      closed = true;
    });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const body = Buffer.alloc(2);
    body.writeUInt16BE(1000);
    c.write(frame(8, body));
    await until(() => ws.readyState !== WispSocket.OPEN, 2000);
    expect(ws.readyState).toBe(WispSocket.CLOSING);
    // ws arms a 30 s timer for every close handshake, whoever started it.
    vi.advanceTimersByTime(31_000);
    await until(() => closed, 1000);
    expect(closed).toBe(true);
    c.destroy();
    server.close();
  });

  it("closes the TCP connection right after failing it for a protocol error (RFC 6455 7.1.7), as ws did", async () => {
    const { server, port, accepted } = await bareServer();
    // allowHalfOpen: the peer does not answer with its own FIN or close frame.
    const c = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    c.on("error", () => {});
    let ended = false;
    c.on("data", () => {});
    c.on("end", () => {
      ended = true;
    });
    await new Promise((r) => c.once("connect", r));
    c.write(handshake());
    const { ws } = await accepted;
    ws.on("error", () => {});
    // An unmasked binary frame: the connection is failed with 1002.
    c.write(Buffer.from([0x82, 0x02, 0x00, 0x00]));
    await until(() => ended, 2000);
    // Without this the slot stays taken (and the peer's bytes keep being read, uncounted) for 30 s.
    expect(ended).toBe(true);
    c.destroy();
    server.close();
  });

  it("bounds what it buffers answering pings from a peer that never reads", async () => {
    const { server, port, accepted } = await bareServer();
    const c = net.connect(port, "127.0.0.1");
    c.on("error", () => {});
    await new Promise((r) => c.once("connect", r));
    c.write(handshake());
    const { socket } = await accepted;
    c.pause(); // never reads a byte again
    const ping = frame(9, Buffer.alloc(125));
    const n = 150_000; // ~19 MB of pings
    c.write(Buffer.concat(Array.from({ length: n }, () => ping)));
    // Wait until the relay has read all of it (the client's send queue empties).
    await until(() => c.writableLength === 0, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const buffered = socket.writableLength;
    c.destroy();
    server.close();
    // The session caps what it queues toward a slow client at 1 MiB; pongs bypass that entirely.
    expect(buffered).toBeLessThan(2 << 20);
  }, 20_000);
});

describe("wisp-socket review: risks and nits", () => {
  it("charges a pooled frame's full size against the upload queue, and gives all of it back", async () => {
    // A fake WebSocket: the session only needs its events, send, pause and resume.
    class FakeWs extends EventEmitter {
      readonly OPEN = 1;
      readonly CONNECTING = 0;
      readyState = 1;
      paused = false;
      send(_msg: Uint8Array, cb?: (err?: Error | null) => void): void {
        cb?.();
      }
      pause(): void {
        this.paused = true;
      }
      resume(): void {
        this.paused = false;
      }
      close(): void {
        this.readyState = 3;
      }
    }
    const ws = new FakeWs();
    let failLookup: (e: Error) => void = () => {};
    const session = new WispSession(ws as unknown as WispSocket, {
      policy: DEFAULT_POLICY,
      // Never answers (until the end): the stream stays connecting, so client DATA waits in its queue.
      lookup: () =>
        new Promise((_res, rej) => {
          failLookup = rej;
        }),
      limits: { ...DEFAULT_WISP_LIMITS, bufferPackets: 64, maxQueuedBytes: 1 << 20, idleTimeoutMs: 0 },
      metrics: new Metrics(),
      log: silentLogger,
      clientId: "t",
    });
    const message = (m: Uint8Array) => ws.emit("message", [m], m.length, true);
    message(encodeConnect(1, STREAM_TYPE_TCP, 80, "pending.test"));
    // 20 × 16 KiB payloads: 320 KiB of data, but each one holds a pooled 64 KiB frame (1.25 MiB in all).
    for (let i = 0; i < 20; i++) message(encodeData(1, Buffer.alloc(16 * 1024)));
    expect(session.streamCount).toBe(1);
    expect(ws.paused).toBe(true);
    // The client closes the stream: what was queued is discarded, and exactly that much is given back.
    message(encodeClose(1, CLOSE_REASON_VOLUNTARY));
    expect(session.streamCount).toBe(0);
    expect(ws.paused).toBe(false);
    expect((session as unknown as { queuedBytes: number }).queuedBytes).toBe(0);
    failLookup(new Error("ENOTFOUND"));
  });

  it("fallback reads: bytes that came with the upgrade are parsed before bytes Node buffered after them", async () => {
    const server = createServer();
    const got: string[] = [];
    let headBytes = -1;
    const done = new Promise<void>((resolve) =>
      server.on("upgrade", (req, socket: net.Socket, head: Buffer) => {
        headBytes = head.length;
        // Accept only once the next frame sits in Node's read buffer, from a fresh turn (not a microtask).
        const poll = (): void => {
          if (socket.readableLength === 0) {
            setImmediate(poll);
            return;
          }
          const ws = acceptWispUpgrade(req, socket, head, null, 1 << 20, false);
          if (!(ws instanceof WispSocket)) throw new Error("refused");
          ws.on("message", (parts) => {
            got.push(Buffer.concat(parts).toString());
            if (got.length === 2) resolve();
          });
        };
        setImmediate(poll);
      }),
    );
    await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
    const c = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    c.on("error", () => {});
    c.on("data", () => {});
    await new Promise((r) => c.once("connect", r));
    c.write(Buffer.concat([Buffer.from(handshake()), frame(2, Buffer.from("one"))]));
    await new Promise((r) => setTimeout(r, 50));
    c.write(frame(2, Buffer.from("two")));
    await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
    expect(headBytes).toBeGreaterThan(0);
    expect(got).toEqual(["one", "two"]);
    c.destroy();
    server.close();
  });

  it("drops a fragmented message in progress when a close frame arrives", async () => {
    const { server, port, accepted } = await bareServer();
    const c = net.connect(port, "127.0.0.1");
    c.on("error", () => {});
    c.on("data", () => {});
    await new Promise((r) => c.once("connect", r));
    c.write(handshake());
    const { ws } = await accepted;
    const inner = ws as unknown as { gather: Buffer | null; parts: Uint8Array[]; fragmented: number };
    c.write(frame(2, randomBytes(1000), false));
    await until(() => inner.gather !== null, 2000);
    expect(inner.fragmented).toBe(2);
    const body = Buffer.alloc(2);
    body.writeUInt16BE(1000);
    c.write(frame(8, body));
    await until(() => ws.readyState !== WispSocket.OPEN, 2000);
    expect(inner.gather).toBe(null);
    expect(inner.parts.length).toBe(0);
    expect(inner.fragmented).toBe(0);
    c.destroy();
    server.close();
  });

  it("cuts a long close reason between UTF-8 characters, never inside one", async () => {
    const { server, port, accepted } = await bareServer();
    const c = net.connect(port, "127.0.0.1");
    c.on("error", () => {});
    let buf = Buffer.alloc(0);
    c.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
    });
    await new Promise((r) => c.once("connect", r));
    c.write(handshake());
    const { ws } = await accepted;
    ws.close(1000, "é".repeat(100)); // 200 bytes: 123 would end in the middle of an "é"
    const closeFrame = (): Buffer | null => {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0 || buf.length < end + 6) return null;
      const f = buf.subarray(end + 4);
      return f.length >= 2 + f[1]! ? f.subarray(0, 2 + f[1]!) : null;
    };
    await until(() => closeFrame() !== null, 2000);
    const f = closeFrame()!;
    expect(f[0]).toBe(0x88);
    expect(f[1]).toBeLessThanOrEqual(125);
    expect(f.readUInt16BE(2)).toBe(1000);
    const reason = new TextDecoder("utf-8", { fatal: true }).decode(f.subarray(4));
    expect(reason).toBe("é".repeat(61));
    c.destroy();
    server.close();
  });

  it("refuses to echo a subprotocol that is not a token (it would go into the 101's headers)", () => {
    const req = {
      method: "GET",
      headers: {
        upgrade: "websocket",
        "sec-websocket-key": randomBytes(16).toString("base64"),
        "sec-websocket-version": "13",
      },
    } as unknown as IncomingMessage;
    const written: unknown[] = [];
    const socket = { write: (d: unknown) => written.push(d) } as unknown as net.Socket;
    for (const bad of ["wisp v2", "wisp/v2", "a,b", 'x"y', "wisp\tv2"])
      expect(acceptWispUpgrade(req, socket, Buffer.alloc(0), bad, 1 << 20)).toEqual({
        status: 400,
        text: "Bad Request",
      });
    expect(written).toEqual([]);
  });
});

describe("wisp-socket review: pongs under backpressure", () => {
  it("still answers the latest ping once a peer that stopped reading reads again", async () => {
    const { server, port, accepted } = await bareServer();
    const c = net.connect(port, "127.0.0.1");
    c.on("error", () => {});
    await new Promise((r) => c.once("connect", r));
    c.write(handshake());
    const { socket } = await accepted;
    c.pause();
    const ping = frame(9, Buffer.alloc(125));
    c.write(Buffer.concat([...Array.from({ length: 100_000 }, () => ping), frame(9, Buffer.from("last"))]));
    await until(() => c.writableLength === 0, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(socket.writableLength).toBeLessThan(2 << 20);
    let buf = Buffer.alloc(0);
    let pongs = 0;
    let last = "";
    c.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let end = buf.indexOf("\r\n\r\n");
      if (end >= 0 && buf.subarray(0, 4).toString() === "HTTP") buf = buf.subarray(end + 4);
      for (end = 0; buf.length - end >= 2 && buf.length - end >= 2 + buf[end + 1]!; end += 2 + buf[end + 1]!) {
        pongs++;
        last = buf.subarray(end + 2, end + 2 + buf[end + 1]!).toString();
      }
      buf = buf.subarray(end);
    });
    c.resume();
    await until(() => last === "last", 5000);
    expect(last).toBe("last");
    // Far fewer pongs than pings: the ones past the cap were answered by the latest only.
    expect(pongs).toBeLessThan(100_000);
    c.destroy();
    server.close();
  }, 20_000);
});
