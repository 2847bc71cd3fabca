// The load generator's Wisp client for `npm run bench:relay`: a WebSocket client written for this one job,
// so that the machine's CPU goes to the relay rather than to the bench. What the relay sees is what any
// RFC 6455 client sends (an HTTP upgrade, then masked binary frames, each with a fresh random masking key);
// what differs from `ws` is only the client's own bookkeeping:
//
// - reads land in one shared buffer per thread (net.connect's `onread`), and payload bytes are handed to
//   the stream as views into it, synchronously, so they are hashed where the kernel put them: no buffer
//   allocated per read, none per message, no concatenation of a message split over reads;
// - outgoing frames are masked into send buffers that are reused once the socket has written them;
// - all frames sent while handling one read leave in one writev (the socket is corked for the callback).
//
// It expects what the relay sends: unfragmented binary messages, no extensions. Anything else (a text or
// fragmented message, a masked server frame, a close frame or a dropped socket while streams run) fails
// the stream or the run; nothing is skipped.

import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { createRequire } from "node:module";
import * as net from "node:net";
import {
  encodeConnect,
  PACKET_CLOSE,
  PACKET_CONTINUE,
  PACKET_DATA,
  STREAM_TYPE_TCP,
  WISP_HEADER_SIZE,
  writeDataHeader,
} from "../src/relay/wisp/packet.ts";

type MaskFn = (source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number) => void;

/** output[offset + i] = source[i] ^ mask[i & 3]: bufferutil's native loop when installed (as ws uses it). */
const maskCopy: MaskFn = (() => {
  try {
    return (createRequire(import.meta.url)("bufferutil") as { mask: MaskFn }).mask;
  } catch {
    return (source, mask, output, offset, length) => {
      for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ mask[i & 3]!;
    };
  }
})();

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** Read size: several 64 KiB frames per read when they are waiting. */
const READ_BYTES = 256 * 1024;
const sharedRead = new Uint8Array(READ_BYTES);

/** Masking keys, drawn from a random pool refilled as it runs out (as ws does). */
const keyPool = Buffer.alloc(16 * 1024);
let keyAt = keyPool.length;
function nextKey(out: Uint8Array, at: number): void {
  if (keyAt === keyPool.length) {
    randomFillSync(keyPool);
    keyAt = 0;
  }
  out[at] = keyPool[keyAt++]!;
  out[at + 1] = keyPool[keyAt++]!;
  out[at + 2] = keyPool[keyAt++]!;
  out[at + 3] = keyPool[keyAt++]!;
}

/** Send buffers of one size (the bench's DATA frames), reused after the socket is done with them. */
const sendPool = new Map<number, Buffer[]>();
function takeSend(size: number): Buffer {
  return sendPool.get(size)?.pop() ?? Buffer.allocUnsafe(size);
}
function releaseSend(b: Buffer): void {
  let list = sendPool.get(b.length);
  if (!list) sendPool.set(b.length, (list = []));
  if (list.length < 4096) list.push(b);
}

export class LeanStream {
  credit: number;
  /** Payload bytes of DATA packets, in order; a view valid only during the call. */
  onData: (d: Uint8Array) => void = () => {};
  /** A CLOSE from the relay, or the connection failing. Called once. */
  onClose: (reason: string) => void = () => {};
  private readonly waiting: Uint8Array[] = [];
  closed = false;

  constructor(
    readonly client: LeanWispClient,
    readonly id: number,
  ) {
    this.credit = client.initialCredit;
  }

  /**
   * Sends `packet` (5 bytes of DATA header room, then the payload) as one DATA packet; the header is
   * written in place and the bytes are masked into a send buffer before this returns, so one packet
   * buffer serves every stream. Without credit the packet waits (copied) for the relay's CONTINUE.
   */
  sendPacket(packet: Uint8Array): void {
    if (this.credit <= 0) {
      this.waiting.push(packet.slice());
      return;
    }
    this.credit--;
    writeDataHeader(packet, 0, this.id);
    this.client.sendFrame(packet, true);
  }

  /** @internal */
  grant(credit: number): void {
    this.credit = credit;
    while (this.credit > 0 && this.waiting.length > 0) {
      this.credit--;
      const p = this.waiting.shift()!;
      writeDataHeader(p, 0, this.id);
      this.client.sendFrame(p, false);
    }
  }

  /** @internal */
  fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(reason);
  }
}

const State = { Handshake: 0, Header: 1, Payload: 2 } as const;
type State = (typeof State)[keyof typeof State];

export class LeanWispClient {
  initialCredit = 0;
  private readonly streams = new Map<number, LeanStream>();
  private nextId = 1;
  private readonly socket: net.Socket;
  private state: State = State.Handshake;
  private handshake = "";
  private readonly expectAccept: string;
  /** The frame header being read (at most 14 bytes from a server: no mask). */
  private readonly hdr = Buffer.alloc(14);
  private hdrHave = 0;
  private hdrNeed = 2;
  private opcode = 0;
  private remaining = 0;
  /** The current message's first bytes: the Wisp header, and for CONTINUE/CLOSE/control frames the body. */
  private readonly head = Buffer.alloc(125);
  private headHave = 0;
  private dataStream: LeanStream | null | undefined = null;
  private closing = false;
  private ready: { resolve: () => void; reject: (e: Error) => void } | null = null;
  /** Set once the connection is unusable: every stream failed with this. */
  failure: string | null = null;

  private constructor(host: string, port: number, path: string) {
    const key = randomBytes(16).toString("base64");
    this.expectAccept = createHash("sha1")
      .update(key + WS_GUID)
      .digest("base64");
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: sharedRead, callback: (n, buf) => this.onRead(n, buf) },
    });
    this.socket.on("error", (err) => this.fail(`socket error: ${err.message}`));
    this.socket.on("close", () => this.fail("connection closed"));
    this.socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  }

  /** Connects, upgrades, and waits for the stream-0 CONTINUE, as a v1 client must. */
  static connect(url: string): Promise<LeanWispClient> {
    const u = new URL(url);
    const c = new LeanWispClient(u.hostname, Number(u.port), u.pathname);
    return new Promise((resolve, reject) => {
      c.ready = { resolve: () => resolve(c), reject };
    });
  }

  open(host: string, port: number): LeanStream {
    const id = this.nextId++;
    const s = new LeanStream(this, id);
    this.streams.set(id, s);
    this.sendFrame(encodeConnect(id, STREAM_TYPE_TCP, port, host), false);
    return s;
  }

  /** Sends a close frame (1000) and ends the socket. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    const code = Buffer.from([0x03, 0xe8]);
    this.writeFrame(OP_CLOSE, code, false);
    this.socket.end();
  }

  /** One binary frame with `payload`, masked; `pooled`: frame-sized send buffers are reused. */
  sendFrame(payload: Uint8Array, pooled: boolean): void {
    this.writeFrame(OP_BINARY, payload, pooled);
  }

  private writeFrame(opcode: number, payload: Uint8Array, pooled: boolean): void {
    if (this.failure || this.socket.destroyed) return;
    const len = payload.length;
    const hl = len < 126 ? 6 : len < 65536 ? 8 : 14;
    const out = pooled ? takeSend(hl + len) : Buffer.allocUnsafe(hl + len);
    out[0] = 0x80 | opcode;
    if (len < 126) out[1] = 0x80 | len;
    else if (len < 65536) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(len, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeUInt32BE(0, 2);
      out.writeUInt32BE(len, 6);
    }
    nextKey(out, hl - 4);
    maskCopy(payload, out.subarray(hl - 4, hl), out, hl, len);
    if (pooled) this.socket.write(out, () => releaseSend(out));
    else this.socket.write(out);
  }

  private fail(reason: string): void {
    if (this.failure) return;
    this.failure = reason;
    this.ready?.reject(new Error(reason));
    this.ready = null;
    if (!this.closing) for (const s of this.streams.values()) s.fail(reason);
    this.socket.destroy();
  }

  /** Always true: returning false would pause the socket. */
  private onRead(n: number, buf: Uint8Array): boolean {
    let off = 0;
    if (this.state === State.Handshake) {
      off = this.readHandshake(n, buf);
      if (off < 0) return true;
    }
    // Everything the streams send in reaction to this read leaves in one writev.
    this.socket.cork();
    try {
      while (off < n && !this.failure) {
        if (this.state === State.Header) {
          const take = Math.min(this.hdrNeed - this.hdrHave, n - off);
          this.hdr.set(buf.subarray(off, off + take), this.hdrHave);
          off += take;
          this.hdrHave += take;
          if (this.hdrHave === this.hdrNeed) this.headerDone();
        } else {
          const take = Math.min(this.remaining, n - off);
          this.payload(buf, off, take);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) this.messageDone();
        }
      }
    } finally {
      this.socket.uncork();
    }
    return true;
  }

  /** Returns where frames start in `buf`, or -1 if the response is not complete yet (or failed). */
  private readHandshake(n: number, buf: Uint8Array): number {
    const before = this.handshake.length;
    this.handshake += Buffer.from(buf.buffer, buf.byteOffset, n).toString("latin1");
    const end = this.handshake.indexOf("\r\n\r\n");
    if (end < 0) {
      if (this.handshake.length > 8192) this.fail("handshake response too long");
      return -1;
    }
    const head = this.handshake.slice(0, end);
    if (!/^HTTP\/1\.1 101 /.test(head)) {
      this.fail(`upgrade refused: ${head.split("\r\n")[0]}`);
      return -1;
    }
    const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head)?.[1];
    if (accept !== this.expectAccept) {
      this.fail("bad Sec-WebSocket-Accept");
      return -1;
    }
    if (/\r\nsec-websocket-extensions:/i.test(head)) {
      this.fail("unexpected extension");
      return -1;
    }
    this.state = State.Header;
    this.handshake = "";
    return end + 4 - before;
  }

  private headerDone(): void {
    const b0 = this.hdr[0]!;
    const b1 = this.hdr[1]!;
    if (this.hdrNeed === 2) {
      if (b1 & 0x80) {
        this.fail("masked frame from the server");
        return;
      }
      const len7 = b1 & 0x7f;
      if (len7 === 126 || len7 === 127) {
        this.hdrNeed = len7 === 126 ? 4 : 10;
        return;
      }
      this.startPayload(b0, len7);
      return;
    }
    if (this.hdrNeed === 4) {
      this.startPayload(b0, this.hdr.readUInt16BE(2));
      return;
    }
    if (this.hdr.readUInt32BE(2) !== 0) {
      this.fail("frame over 4 GiB");
      return;
    }
    this.startPayload(b0, this.hdr.readUInt32BE(6));
  }

  private startPayload(b0: number, len: number): void {
    this.opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) {
      this.fail("RSV bits set");
      return;
    }
    if (!(b0 & 0x80)) {
      this.fail("fragmented message");
      return;
    }
    if (this.opcode !== OP_BINARY && this.opcode !== OP_CLOSE && this.opcode !== OP_PING && this.opcode !== OP_PONG) {
      this.fail(`unexpected opcode ${this.opcode}`);
      return;
    }
    if (this.opcode !== OP_BINARY && len > 125) {
      this.fail("control frame over 125 bytes");
      return;
    }
    if (this.opcode === OP_BINARY && len < WISP_HEADER_SIZE) {
      this.fail("short Wisp packet");
      return;
    }
    this.remaining = len;
    this.headHave = 0;
    this.dataStream = null;
    this.state = State.Payload;
    if (len === 0) this.messageDone();
  }

  private payload(buf: Uint8Array, off: number, take: number): void {
    // DATA past its header goes straight to the stream (a view, hashed before this returns).
    if (this.headHave === WISP_HEADER_SIZE && this.opcode === OP_BINARY && this.head[0] === PACKET_DATA) {
      if (this.dataStream && !this.dataStream.closed) this.dataStream.onData(buf.subarray(off, off + take));
      return;
    }
    let at = off;
    let left = take;
    if (this.opcode === OP_BINARY && this.headHave < WISP_HEADER_SIZE) {
      const h = Math.min(WISP_HEADER_SIZE - this.headHave, left);
      this.head.set(buf.subarray(at, at + h), this.headHave);
      this.headHave += h;
      at += h;
      left -= h;
      if (this.headHave < WISP_HEADER_SIZE) return;
      if (this.head[0] === PACKET_DATA) {
        const id = this.head.readUInt32LE(1);
        this.dataStream = this.streams.get(id);
        if (!this.dataStream) {
          this.fail(`DATA for unknown stream ${id}`);
          return;
        }
        if (left > 0 && !this.dataStream.closed) this.dataStream.onData(buf.subarray(at, at + left));
        return;
      }
    }
    if (left === 0) return;
    if (this.headHave + left > this.head.length) {
      this.fail("non-DATA packet too long");
      return;
    }
    this.head.set(buf.subarray(at, at + left), this.headHave);
    this.headHave += left;
  }

  private messageDone(): void {
    this.state = State.Header;
    this.hdrHave = 0;
    this.hdrNeed = 2;
    const len = this.headHave;
    switch (this.opcode) {
      case OP_BINARY: {
        this.wispPacket(len);
        return;
      }
      case OP_PING: {
        this.writeFrame(OP_PONG, Buffer.from(this.head.subarray(0, len)), false);
        return;
      }
      case OP_PONG:
        return;
      case OP_CLOSE:
        if (this.closing) return;
        {
          this.fail(`relay closed the WebSocket (${len >= 2 ? this.head.readUInt16BE(0) : "no code"})`);
          return;
        }
    }
  }

  private wispPacket(len: number): void {
    const type = this.head[0];
    if (type === PACKET_DATA) return;
    const id = this.head.readUInt32LE(1);
    if (type === PACKET_CONTINUE) {
      if (len < 9) {
        this.fail("short CONTINUE");
        return;
      }
      const credit = this.head.readUInt32LE(5);
      if (id === 0) {
        this.initialCredit = credit;
        this.ready?.resolve();
        this.ready = null;
        return;
      }
      this.streams.get(id)?.grant(credit);
      return;
    }
    if (type === PACKET_CLOSE) {
      const s = this.streams.get(id);
      if (!s) {
        this.fail(`CLOSE for unknown stream ${id}`);
        return;
      }
      this.streams.delete(id);
      s.fail(`stream closed by relay: 0x${(len > 5 ? this.head[5]! : 0).toString(16)}`);
      return;
    }
    this.fail(`unexpected Wisp packet type ${type}`);
  }
}
