// The /wisp WebSocket layer (wisp-socket.ts) at the byte level: a raw TCP client writes frames exactly as
// a test needs them (fragmented, split across TCP writes, unmasked, with bad bits) and reads the relay's
// frames back, so everything `ws` used to check for us is checked here.

import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedRelay, startRelay, tcpEchoServer } from "../../../tests/relay/wisp-test-client.ts";
import { encodeConnect, encodeData, PACKET_CONTINUE, PACKET_DATA, STREAM_TYPE_TCP } from "./packet.ts";
import { acceptWispUpgrade, jsUnmask, WispSocket } from "./wisp-socket.ts";

let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
let r: StartedRelay;

beforeAll(async () => {
  echo = await tcpEchoServer();
  r = await startRelay({ allow: ["127.0.0.1"] });
});
afterAll(async () => {
  await r.stop();
  await echo.close();
});

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** A frame as a client sends it: masked with a random key unless `unmasked`; `b0` overrides FIN/RSV/opcode. */
function frame(
  opcode: number,
  payload: Uint8Array,
  o: { fin?: boolean; unmasked?: boolean; b0?: number } = {},
): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const maskLen = o.unmasked ? 0 : 4;
  const out = Buffer.alloc(2 + ext + maskLen + len);
  out[0] = o.b0 ?? (o.fin === false ? 0 : 0x80) | opcode;
  out[1] = (o.unmasked ? 0 : 0x80) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(len, 2);
  if (ext === 8) out.writeBigUInt64BE(BigInt(len), 2);
  const key = randomBytes(4);
  if (!o.unmasked) key.copy(out, 2 + ext);
  for (let i = 0; i < len; i++) out[2 + ext + maskLen + i] = payload[i]! ^ (o.unmasked ? 0 : key[i & 3]!);
  return out;
}

class RawClient {
  readonly frames: Frame[] = [];
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  ended = false;
  httpResponse = "";

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  static async connect(headers: Record<string, string> = {}): Promise<RawClient> {
    const socket = net.connect(Number(r.base.split(":")[1]), "127.0.0.1");
    await new Promise((res) => socket.once("connect", res));
    const c = new RawClient(socket);
    const h = {
      Host: r.base,
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
      "Sec-WebSocket-Version": "13",
      ...headers,
    };
    socket.write(
      `GET /wisp/ HTTP/1.1\r\n${Object.entries(h)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n`,
    );
    await c.until(() => c.httpResponse !== "" || c.ended);
    return c;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    if (!this.httpResponse) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      this.httpResponse = this.buf.subarray(0, end).toString("latin1");
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) break;
      const len7 = this.buf[1]! & 0x7f;
      const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      if (this.buf.length < 2 + ext) break;
      const len = ext === 0 ? len7 : ext === 2 ? this.buf.readUInt16BE(2) : Number(this.buf.readBigUInt64BE(2));
      if (this.buf.length < 2 + ext + len) break;
      expect(this.buf[1]! & 0x80).toBe(0); // server frames are never masked
      this.frames.push({
        fin: (this.buf[0]! & 0x80) !== 0,
        opcode: this.buf[0]! & 0x0f,
        payload: Buffer.from(this.buf.subarray(2 + ext, 2 + ext + len)),
      });
      this.buf = this.buf.subarray(2 + ext + len);
    }
    this.wake();
  }

  async until(cond: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise<void>((res) => {
        this.waiters.push(res);
        setTimeout(res, 50);
      });
    }
  }

  send(b: Uint8Array): void {
    this.socket.write(b);
  }

  /** Writes `b` in `pieces` TCP writes a few ms apart, so the relay reads it in several pieces. */
  async sendSlowly(b: Uint8Array, pieces: number): Promise<void> {
    const step = Math.ceil(b.length / pieces);
    for (let at = 0; at < b.length; at += step) {
      this.socket.write(b.subarray(at, at + step));
      await new Promise((res) => setTimeout(res, 3));
    }
  }

  /** The relay's close frame: its code. */
  async closeCode(): Promise<number> {
    await this.until(() => this.frames.some((f) => f.opcode === 8) || this.ended);
    const f = this.frames.find((f) => f.opcode === 8);
    if (!f) return -1;
    return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
  }

  /** DATA payload bytes received on `stream`, concatenated. */
  data(stream: number): Buffer {
    return Buffer.concat(
      this.frames
        .filter((f) => f.opcode === 2 && f.payload[0] === PACKET_DATA && f.payload.readUInt32LE(1) === stream)
        .map((f) => f.payload.subarray(5)),
    );
  }
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function openedClient(): Promise<RawClient> {
  const c = await RawClient.connect();
  expect(c.httpResponse).toMatch(/^HTTP\/1\.1 101 /);
  await c.until(() => c.frames.some((f) => f.opcode === 2 && f.payload[0] === PACKET_CONTINUE));
  c.send(frame(2, encodeConnect(1, STREAM_TYPE_TCP, echo.port, "127.0.0.1")));
  return c;
}

describe("wisp WebSocket framing", () => {
  it("unmasks without bufferutil too (any offset and length)", () => {
    for (let t = 0; t < 500; t++) {
      const bytes = randomBytes(200);
      const off = t % 9;
      const len = (t * 7) % 180;
      const key = randomBytes(4);
      const a = Buffer.from(bytes);
      jsUnmask(new Uint8Array(a.buffer, a.byteOffset + off, len), key);
      const b = Buffer.from(bytes);
      for (let i = 0; i < len; i++) b[off + i]! ^= key[i & 3]!;
      expect(a.equals(b)).toBe(true);
    }
  });

  for (const shared of [true, false])
    it(`reassembles messages ${shared ? "read into the shared buffer (as on this Node)" : "from 'data' events (the fallback)"}`, async () => {
      const server = createServer();
      const got = new Promise<WispSocket>((resolve) =>
        server.on("upgrade", (req, socket, head) => {
          const ws = acceptWispUpgrade(req, socket as net.Socket, head, null, 100_000, shared);
          if (ws instanceof WispSocket) resolve(ws);
        }),
      );
      await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
      const c = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
      c.on("error", () => {});
      c.write(
        `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const ws = await got;
      expect(ws.sharedReads).toBe(shared);
      const messages: string[] = [];
      // Parts are only valid during the event: hash them right away.
      ws.on("message", (parts) => messages.push(sha(Buffer.concat(parts))));
      const a = randomBytes(60_000);
      const b = randomBytes(70_000);
      const small = randomBytes(100);
      c.write(frame(2, a.subarray(0, 1000), { fin: false }));
      c.write(frame(0, a.subarray(1000, 30_000), { fin: false }));
      c.write(frame(0, a.subarray(30_000)));
      const whole = frame(2, b);
      for (let at = 0; at < whole.length; at += 9000) {
        c.write(whole.subarray(at, at + 9000));
        await new Promise((res) => setTimeout(res, 2));
      }
      c.write(Buffer.concat([frame(2, small), frame(2, small)]));
      const deadline = Date.now() + 3000;
      while (messages.length < 4 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
      expect(messages).toEqual([sha(a), sha(b), sha(small), sha(small)]);
      c.destroy();
      server.close();
    });

  it("answers the handshake with the accept key and no extension", async () => {
    const key = randomBytes(16).toString("base64");
    const c = await RawClient.connect({
      "Sec-WebSocket-Key": key,
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    });
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    expect(c.httpResponse).toContain(`Sec-WebSocket-Accept: ${accept}`);
    expect(c.httpResponse.toLowerCase()).not.toContain("sec-websocket-extensions");
    c.socket.destroy();
  });

  it("refuses a handshake with a bad key or version", async () => {
    const bad = await RawClient.connect({ "Sec-WebSocket-Key": "short" });
    expect(bad.httpResponse).toMatch(/^HTTP\/1\.1 400 /);
    const old = await RawClient.connect({ "Sec-WebSocket-Version": "12" });
    expect(old.httpResponse).toMatch(/^HTTP\/1\.1 400 /);
    expect(r.relay.metrics.get("relay_connections_refused_total", { reason: "bad-handshake" })).toBeGreaterThanOrEqual(
      2,
    );
  });

  it("refuses (400) a subprotocol it would have to echo that is not an RFC 7230 token", async () => {
    const bad = await RawClient.connect({ "Sec-WebSocket-Protocol": "wisp/v2" });
    expect(bad.httpResponse).toMatch(/^HTTP\/1\.1 400 /);
    const good = await RawClient.connect({ "Sec-WebSocket-Protocol": "wisp-v2" });
    expect(good.httpResponse).toMatch(/^HTTP\/1\.1 101 /);
    expect(good.httpResponse).toContain("Sec-WebSocket-Protocol: wisp-v2");
    good.socket.destroy();
  });

  it("reassembles a fragmented message, answering a ping in the middle", async () => {
    const c = await openedClient();
    const payload = randomBytes(30_000);
    const packet = encodeData(1, payload);
    c.send(frame(2, packet.subarray(0, 3), { fin: false }));
    c.send(frame(0, packet.subarray(3, 10_000), { fin: false }));
    c.send(frame(9, Buffer.from("are you there")));
    c.send(frame(0, packet.subarray(10_000)));
    await c.until(() => c.data(1).length >= payload.length);
    expect(sha(c.data(1))).toBe(sha(payload));
    const pong = c.frames.find((f) => f.opcode === 10);
    expect(pong?.payload.toString()).toBe("are you there");
    c.socket.destroy();
  });

  it("reads a 64 KiB message that arrives in many small pieces", async () => {
    const c = await openedClient();
    const payload = randomBytes(65_536);
    const whole = frame(2, encodeData(1, payload));
    // Two messages back to back, the first split over many writes (many reads on the relay's side).
    await c.sendSlowly(whole, 12);
    const second = randomBytes(1000);
    c.send(frame(2, encodeData(1, second)));
    await c.until(() => c.data(1).length >= payload.length + second.length);
    expect(sha(c.data(1))).toBe(sha(Buffer.concat([payload, second])));
    c.socket.destroy();
  });

  it("passes on a DATA message read in parts, its Wisp header split between reads", async () => {
    const c = await openedClient();
    const payload = randomBytes(60_000);
    const whole = frame(2, encodeData(1, payload)); // 4-byte frame header + 4-byte key, then the packet
    for (const [from, to] of [
      [0, 11], // the frame header and 3 of the 5 bytes of the Wisp header
      [11, 30_000],
      [30_000, whole.length],
    ] as const) {
      c.send(whole.subarray(from, to));
      await new Promise((res) => setTimeout(res, 5));
    }
    await c.until(() => c.data(1).length >= payload.length);
    expect(sha(c.data(1))).toBe(sha(payload));
    c.socket.destroy();
  });

  it("answers a close frame with the same code and ends the connection", async () => {
    const c = await openedClient();
    const body = Buffer.alloc(2);
    body.writeUInt16BE(1000);
    c.send(frame(8, Buffer.concat([body, Buffer.from("bye")])));
    expect(await c.closeCode()).toBe(1000);
    await c.until(() => c.ended);
  });

  const violations: { name: string; bytes: () => Buffer; code: number }[] = [
    {
      name: "an unmasked frame",
      bytes: () => frame(2, encodeData(1, Buffer.alloc(10)), { unmasked: true }),
      code: 1002,
    },
    { name: "RSV1 set", bytes: () => frame(2, Buffer.alloc(10), { b0: 0x80 | 0x40 | 2 }), code: 1002 },
    { name: "RSV2 set", bytes: () => frame(2, Buffer.alloc(10), { b0: 0x80 | 0x20 | 2 }), code: 1002 },
    { name: "a continuation with nothing to continue", bytes: () => frame(0, Buffer.alloc(10)), code: 1002 },
    {
      name: "a new message inside a fragmented one",
      bytes: () => Buffer.concat([frame(2, Buffer.alloc(10), { fin: false }), frame(2, Buffer.alloc(10))]),
      code: 1002,
    },
    { name: "an unknown opcode", bytes: () => frame(3, Buffer.alloc(4)), code: 1002 },
    { name: "a fragmented ping", bytes: () => frame(9, Buffer.alloc(4), { fin: false }), code: 1002 },
    { name: "a control frame over 125 bytes", bytes: () => frame(9, Buffer.alloc(126)), code: 1002 },
    { name: "a one-byte close frame", bytes: () => frame(8, Buffer.alloc(1)), code: 1002 },
    { name: "an invalid close code", bytes: () => frame(8, Buffer.from([0x03, 0xe7])), code: 1002 },
    { name: "a close reason that is not UTF-8", bytes: () => frame(8, Buffer.from([0x03, 0xe8, 0xff])), code: 1007 },
    {
      name: "fragments adding up to more than --max-frame",
      bytes: () =>
        Buffer.concat([frame(2, Buffer.alloc(40_000), { fin: false }), frame(0, Buffer.alloc(40_000), { fin: true })]),
      code: 1009,
    },
    {
      name: "a 64-bit length over 2^53",
      bytes: () => {
        const b = Buffer.alloc(14);
        b[0] = 0x82;
        b[1] = 0x80 | 127;
        b.writeUInt32BE(0xffffffff, 2);
        return b;
      },
      code: 1009,
    },
  ];

  for (const v of violations)
    it(`closes on ${v.name} (${v.code})`, async () => {
      const c = await openedClient();
      c.send(v.bytes());
      expect(await c.closeCode()).toBe(v.code);
      c.socket.destroy();
    });

  it("a text message, even fragmented, closes with 1003", async () => {
    const c = await openedClient();
    c.send(frame(1, Buffer.from("hel"), { fin: false }));
    c.send(frame(0, Buffer.from("lo")));
    expect(await c.closeCode()).toBe(1003);
    c.socket.destroy();
  });
});
