// A small Wisp v1 client for the relay's tests and benchmark: honours CONTINUE credit, records every
// CLOSE reason, and can also send raw bytes so tests can play a hostile client. Plus helpers that start
// a relay and echo servers on 127.0.0.1.

import * as dgram from "node:dgram";
import { once } from "node:events";
import * as net from "node:net";
import { WebSocket } from "ws";
import { defaultConfig, type RelayConfig } from "../../src/relay/config.ts";
import type { Logger } from "../../src/relay/log.ts";
import { parseAllowRule } from "../../src/relay/policy/policy.ts";
import { Relay, type RelayDeps } from "../../src/relay/server.ts";
import {
  encodeClose,
  encodeConnect,
  encodeData,
  PACKET_CLOSE,
  PACKET_CONTINUE,
  PACKET_DATA,
  parseWispPacket,
  STREAM_TYPE_TCP,
  STREAM_TYPE_UDP,
  WISP_HEADER_SIZE,
  writeDataHeader,
} from "../../src/relay/wisp/packet.ts";

export class TestStream {
  credit: number;
  readonly chunks: Buffer[] = [];
  received = 0;
  closeReason: number | null = null;
  private readonly waiting: Uint8Array[] = [];
  private resolveClosed!: (reason: number) => void;
  readonly closed: Promise<number> = new Promise((r) => {
    this.resolveClosed = r;
  });
  private dataWaiters: { bytes: number; resolve: () => void }[] = [];
  onData: ((d: Buffer) => void) | null = null;

  constructor(
    readonly client: TestWispClient,
    readonly id: number,
    readonly udp: boolean,
  ) {
    this.credit = client.initialCredit;
  }

  send(data: Uint8Array): void {
    if (this.udp || this.credit > 0) {
      if (!this.udp) this.credit--;
      this.client.raw(encodeData(this.id, data));
    } else this.waiting.push(data);
  }

  /**
   * Sends a DATA packet already laid out in `packet` (5 bytes of header room, then the payload): the
   * header is written in place, so one packet buffer can serve many streams. ws copies it while masking,
   * before send() returns; only when out of credit is the payload copied to wait.
   */
  sendPacket(packet: Uint8Array): void {
    if (this.udp || this.credit > 0) {
      if (!this.udp) this.credit--;
      writeDataHeader(packet, 0, this.id);
      this.client.raw(packet);
    } else this.waiting.push(packet.slice(WISP_HEADER_SIZE));
  }

  close(reason = 0x02): void {
    this.client.raw(encodeClose(this.id, reason));
  }

  /** Resolves once `bytes` bytes in total have arrived on this stream. */
  waitForBytes(bytes: number): Promise<void> {
    if (this.received >= bytes) return Promise.resolve();
    return new Promise((resolve) => this.dataWaiters.push({ bytes, resolve }));
  }

  text(): string {
    return Buffer.concat(this.chunks).toString();
  }

  /** @internal */
  deliver(type: number, payload: Uint8Array, value: number): void {
    if (type === PACKET_DATA) {
      // A view: ws gives every message its own memory, so nothing overwrites it later.
      const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      this.received += b.length;
      if (this.onData) this.onData(b);
      else this.chunks.push(b);
      if (this.dataWaiters.length > 0)
        this.dataWaiters = this.dataWaiters.filter((w) => {
          if (this.received < w.bytes) return true;
          w.resolve();
          return false;
        });
    } else if (type === PACKET_CONTINUE) {
      this.credit = value;
      while (this.credit > 0 && this.waiting.length > 0) {
        this.credit--;
        this.client.raw(encodeData(this.id, this.waiting.shift()!));
      }
    } else if (type === PACKET_CLOSE) {
      this.closeReason = value;
      this.resolveClosed(value);
    }
  }
}

export class TestWispClient {
  initialCredit = 0;
  private nextId = 1;
  readonly streams = new Map<number, TestStream>();
  /** CLOSE packets for ids this client never opened (answers to raw garbage). */
  readonly strayCloses: { id: number; reason: number }[] = [];
  readonly wsClosed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    this.wsClosed = new Promise((resolve) =>
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    ws.on("error", () => {});
    ws.on("message", (data: Buffer) => {
      const r = parseWispPacket(data);
      if (!r.ok) throw new Error(`relay sent a bad packet: ${r.error}`);
      const p = r.packet;
      if (p.type === PACKET_CONTINUE && p.streamId === 0) {
        this.initialCredit = p.remaining;
        return;
      }
      const s = this.streams.get(p.streamId);
      const value = p.type === PACKET_CONTINUE ? p.remaining : p.type === PACKET_CLOSE ? p.reason : 0;
      if (!s) {
        if (p.type === PACKET_CLOSE) this.strayCloses.push({ id: p.streamId, reason: p.reason });
        return;
      }
      s.deliver(p.type, p.type === PACKET_DATA ? p.payload : new Uint8Array(), value);
      if (p.type === PACKET_CLOSE) this.streams.delete(p.streamId);
    });
  }

  /** Opens the WebSocket and waits for the stream-0 CONTINUE, as a v1 client must. */
  static async connect(
    url: string,
    options: { protocols?: string[]; origin?: string; headers?: Record<string, string>; localAddress?: string } = {},
  ): Promise<TestWispClient> {
    const ws = new WebSocket(url, options.protocols ?? [], {
      origin: options.origin,
      headers: options.headers,
      localAddress: options.localAddress,
      perMessageDeflate: false,
    });
    const c = new TestWispClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      const check = () => (c.initialCredit > 0 ? resolve() : ws.once("message", () => setImmediate(check)));
      ws.once("open", check);
    });
    return c;
  }

  open(host: string, port: number, type: "tcp" | "udp" = "tcp"): TestStream {
    const id = this.nextId++;
    const s = new TestStream(this, id, type === "udp");
    this.streams.set(id, s);
    this.raw(encodeConnect(id, type === "udp" ? STREAM_TYPE_UDP : STREAM_TYPE_TCP, port, host));
    return s;
  }

  raw(msg: Uint8Array | string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(msg);
  }

  close(): void {
    this.ws.close();
  }
}

export interface StartedRelay {
  relay: Relay;
  url: string;
  base: string;
  logs: { event: string; fields?: Record<string, unknown> }[];
  stop(): Promise<void>;
}

/** A relay on 127.0.0.1 with an ephemeral port, --no-auth and the given --allow rules. */
export async function startRelay(
  opts: { allow?: string[]; tune?: (c: RelayConfig) => void; deps?: RelayDeps } = {},
): Promise<StartedRelay> {
  const c = defaultConfig();
  c.port = 0;
  c.auth.noAuth = true;
  c.policy = { allow: (opts.allow ?? []).map((a) => parseAllowRule(a)!), denyPorts: new Set([25]) };
  opts.tune?.(c);
  const logs: StartedRelay["logs"] = [];
  const log: Logger = (event, fields) => logs.push({ event, fields });
  const relay = new Relay(c, { log, ...opts.deps });
  const addr = await relay.listen();
  const base = `127.0.0.1:${addr.port}`;
  return { relay, url: `ws://${base}/wisp/`, base, logs, stop: () => relay.shutdown() };
}

export async function tcpEchoServer(): Promise<{ port: number; server: net.Server; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.pipe(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export async function udpEchoServer(): Promise<{ port: number; close(): void }> {
  const sock = dgram.createSocket("udp4");
  sock.on("message", (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
  sock.bind(0, "127.0.0.1");
  await once(sock, "listening");
  return { port: sock.address().port, close: () => sock.close() };
}
