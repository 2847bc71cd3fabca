// The server side of a /wisp WebSocket (RFC 6455), in place of `ws` on this one hot path. Wisp moves every
// byte a VM sends or receives as binary messages of up to 64 KiB, and `ws` spent most of the relay's
// user time on them: each message that spans two socket reads (most 64 KiB ones do) was copied into a
// freshly allocated buffer, then unmasked in a second pass, and those allocations (with Node's own, one
// per read) drove V8 into a full GC every ~100 ms. Here a message is unmasked in place in the read buffer
// and handed on as views (`parts`, usually one or two; a message still arriving when a read ends is
// copied into a pooled gather buffer), so the up path allocates nothing per message. Going down, frames
// queued in one turn of the event loop leave in one writev.
//
// Reads: Node gives an accepted socket a fresh 64 KiB buffer per read, and at hundreds of MB/s those are what
// the GC spends its time on. A socket created with net.connect's `onread` reads into a caller's buffer
// instead; Node has no public way to switch an already accepted socket to that, so `switchToSharedReads` does
// what net.Socket's constructor does for `onread` (its own symbols, found on the socket, and the handle's
// useUserBuffer). If this Node does not have them the socket simply uses 'data' events. Either way the
// `message` event's parts are only valid while it runs: a listener copies what it keeps.
//
// What a peer may send is checked as `ws` checks it, with the same close codes: client frames must be
// masked (1002), no RSV bits (no extension is ever negotiated; 1002), valid opcodes and continuation
// order (1002), control frames final and at most 125 bytes (1002), close codes and reasons valid (1002,
// 1007), a message over `maxPayload` (1009, error code WS_ERR_UNSUPPORTED_MESSAGE_LENGTH). After an error
// or a close frame nothing more is read. Pings get pongs (while MAX_PONGS_IN_FLIGHT wait to be written only
// the latest ping is answered, once they are: RFC 6455 §5.5.3); a close frame is answered and
// the socket ended; a protocol error sends its close frame and ends the socket (§7.1.7). Whoever started
// the closing handshake, once our close frame is out the peer has 30 s to close TCP before it is destroyed.

import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** ws's default: how long a close we started waits for the peer's close frame. */
const CLOSE_TIMEOUT_MS = 30_000;
/**
 * Pongs written but not yet through the socket (≤ 127 bytes each, so ~64 KiB): past this a ping is not
 * answered at once; only the latest one's pong waits, sent as earlier ones get through. Counted per pong,
 * not from writableLength, so pings are still answered during a long download toward a slow client.
 */
const MAX_PONGS_IN_FLIGHT = 512;
/** RFC 7230 §3.2.6 token: what a Sec-WebSocket-Protocol value may be (RFC 6455 §4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Frames queued in one turn of the event loop are written together up to this many bytes. */
const CORK_BYTES = 256 * 1024;
/** A message spread over more socket reads than this is gathered into one buffer. */
const MAX_PARTS = 4;
/** What every /wisp socket reads into (shared: the read callback parses it all before returning). */
const sharedRead = Buffer.allocUnsafe(256 * 1024);
/** Gather buffers of this size (a default-sized message) are reused; bigger ones are left to the GC. */
const GATHER_BYTES = 64 * 1024 + 64;
const GATHER_KEEP = 256;
const gatherPool: Buffer[] = [];

function takeGather(size: number): Buffer {
  if (size <= GATHER_BYTES) return gatherPool.pop() ?? Buffer.allocUnsafeSlow(GATHER_BYTES);
  return Buffer.allocUnsafe(size);
}

function releaseGather(b: Buffer): void {
  if (b.length === GATHER_BYTES && gatherPool.length < GATHER_KEEP) gatherPool.push(b);
}

/**
 * Makes `socket` read into `buffer` and call `callback(bytes, buffer)` for each read, as a socket made with
 * net.connect({ onread }) does. False (nothing changed) if this Node's net.Socket is not built that way.
 */
function switchToSharedReads(socket: Socket, buffer: Buffer, callback: (n: number, buf: Buffer) => boolean): boolean {
  const own = Object.getOwnPropertySymbols(socket);
  const kBuffer = own.find((k) => k.description === "kBuffer");
  const kBufferCb = own.find((k) => k.description === "kBufferCb");
  const kBufferGen = own.find((k) => k.description === "kBufferGen");
  const handle = (socket as Socket & { _handle?: { useUserBuffer?: (b: Uint8Array) => void } })._handle;
  const s = socket as unknown as Record<symbol, unknown>;
  if (!kBuffer || !kBufferCb || s[kBuffer] !== null || s[kBufferCb] !== null) return false;
  if (kBufferGen && s[kBufferGen] !== null) return false;
  if (typeof handle?.useUserBuffer !== "function") return false;
  // Bytes Node already read into the stream would never reach the callback: keep 'data' events then.
  if (socket.readableLength > 0) return false;
  s[kBuffer] = buffer;
  s[kBufferCb] = callback;
  // biome-ignore lint/correctness/useHookAtTopLevel: a method of Node's stream handle, not a React hook
  handle.useUserBuffer(buffer);
  return true;
}

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

type UnmaskFn = (buf: Uint8Array, mask: Uint8Array) => void;

/** XOR in place with a 4-byte key: bufferutil's native loop when installed (as ws uses it), else JS. */
const unmask: UnmaskFn = (() => {
  try {
    const native = (createRequire(import.meta.url)("bufferutil") as { unmask: UnmaskFn }).unmask;
    return (buf, mask) => (buf.length < 32 ? jsUnmask(buf, mask) : native(buf, mask));
  } catch {
    return jsUnmask;
  }
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Without bufferutil: bytes up to a 4-byte boundary, then 32 bits at a time, then the tail. */
export function jsUnmask(buf: Uint8Array, mask: Uint8Array): void {
  const n = buf.length;
  let i = 0;
  if (!LITTLE_ENDIAN) {
    for (; i < n; i++) buf[i]! ^= mask[i & 3]!;
    return;
  }
  for (; i < n && (buf.byteOffset + i) % 4 !== 0; i++) buf[i]! ^= mask[i & 3]!;
  const words = (n - i) >>> 2;
  if (words > 0) {
    // The key as it lines up with the first aligned byte, read as a little-endian word like the data.
    const k = mask[i & 3]! | (mask[(i + 1) & 3]! << 8) | (mask[(i + 2) & 3]! << 16) | (mask[(i + 3) & 3]! << 24) | 0;
    const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    for (let j = 0; j < words; j++) w[j]! ^= k;
    i += words * 4;
  }
  for (; i < n; i++) buf[i]! ^= mask[i & 3]!;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function validCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)
  );
}

export class WebSocketProtocolError extends Error {
  constructor(
    message: string,
    /** The same codes as `ws` (WS_ERR_...), so callers can tell a too-large message from the rest. */
    readonly code: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

/**
 * Checks an upgrade request the way `ws` does and answers it with 101. Returns null if the request is not
 * a valid WebSocket handshake (the caller refuses it with the returned status), else the open socket.
 * `protocol` is the subprotocol to echo (already chosen by authorize()).
 */
export function acceptWispUpgrade(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  protocol: string | null,
  maxPayload: number,
  /** false: Node's own read buffers and 'data' events (the fallback; tests use it to cover that path). */
  sharedReads = true,
): WispSocket | { status: number; text: string } {
  const key = req.headers["sec-websocket-key"];
  const upgrade = req.headers.upgrade;
  const version = Number(req.headers["sec-websocket-version"]);
  if (req.method !== "GET") return { status: 405, text: "Method Not Allowed" };
  if (upgrade === undefined || upgrade.toLowerCase() !== "websocket") return { status: 400, text: "Bad Request" };
  if (key === undefined || !KEY.test(key)) return { status: 400, text: "Bad Request" };
  if (version !== 13 && version !== 8) return { status: 400, text: "Bad Request" };
  // The protocol goes into our answer's headers: only a token may (a client can offer anything).
  if (protocol && !TOKEN.test(protocol)) return { status: 400, text: "Bad Request" };
  const accept = createHash("sha1")
    .update(key + GUID)
    .digest("base64");
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Accept: ${accept}`,
  ];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  return new WispSocket(socket, head, maxPayload, sharedReads);
}

/** Where the frame parser is. */
const Read = { Header: 0, Payload: 1, Done: 2 } as const;
type Read = (typeof Read)[keyof typeof Read];

export interface WispSocketEvents {
  /**
   * A whole message: `parts` (views; one unless it spanned socket reads) add up to `length` bytes. They
   * are only valid while the event runs (the read buffer is reused): a listener copies what it keeps.
   */
  message: [parts: Uint8Array[], length: number, isBinary: boolean];
  close: [code: number, reason: string];
  error: [err: WebSocketProtocolError];
}

export class WispSocket extends EventEmitter<WispSocketEvents> {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;

  private read: Read = Read.Header;
  /** Read position in the socket chunk being parsed. */
  private at = 0;
  /** The frame header so far (at most 14 bytes). */
  private readonly hdr = Buffer.alloc(14);
  private hdrHave = 0;
  private hdrNeed = 2;
  private fin = false;
  private opcode = 0;
  private readonly mask = Buffer.alloc(4);
  private readonly rotated = Buffer.alloc(4);
  private remaining = 0;
  private frameOffset = 0;
  /** The message being assembled: views, or (past MAX_PARTS or when fragmented) one growing copy. */
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private gather: Buffer | null = null;
  /** Opcode of a fragmented message in progress (text or binary), else 0. */
  private fragmented = 0;
  private messageBytes = 0;
  /** Control frame payload (≤ 125 bytes). */
  private readonly control = Buffer.alloc(125);
  private controlHave = 0;

  private closeFrameSent = false;
  private closeFrameReceived = false;
  private closeCode = 1006;
  private closeReason = "";
  private closeTimer: NodeJS.Timeout | null = null;
  private corked = false;
  private pongsInFlight = 0;
  /** The latest ping's payload while its pong waits (pongs in flight at MAX_PONGS_IN_FLIGHT), else -1. */
  private readonly pongBody = Buffer.alloc(125);
  private pongLength = -1;
  /** Bytes that came with the upgrade request (shared reads: parsed before the first read). */
  private head: Buffer | null = null;
  /** Reads land in the shared buffer (else in Node's own, through 'data' events). */
  readonly sharedReads: boolean;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    private readonly maxPayload: number,
    sharedReads = true,
  ) {
    super();
    socket.setTimeout(0);
    socket.setNoDelay(true);
    this.sharedReads =
      sharedReads &&
      switchToSharedReads(socket, sharedRead, (n, buf) => {
        if (this.head) this.takeHead();
        this.onData(buf.subarray(0, n));
        return true;
      });
    if (head.length > 0) {
      if (!this.sharedReads && !socket.readableEnded) {
        // In front of anything Node has already buffered, so 'data' hands the bytes on in order (as ws does).
        socket.unshift(head);
      } else {
        // Parsed once the caller has its listeners on, and in any case before the first read (above).
        this.head = head;
        queueMicrotask(() => this.takeHead());
      }
    }
    if (!this.sharedReads) socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("end", () => {
      this.readyState = WispSocket.CLOSING;
      this.read = Read.Done;
      socket.end();
    });
    socket.on("error", () => {
      this.readyState = WispSocket.CLOSING;
      socket.destroy();
    });
    socket.on("close", () => {
      if (this.closeTimer) clearTimeout(this.closeTimer);
      this.closeTimer = null;
      this.readyState = WispSocket.CLOSED;
      this.read = Read.Done;
      this.emit("close", this.closeCode, this.closeReason);
    });
  }

  private takeHead(): void {
    const head = this.head;
    this.head = null;
    if (head) this.onData(head);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** One binary message; `cb` once the socket has written it (or with an error if it cannot). */
  send(data: Uint8Array, cb?: (err?: Error | null) => void): void {
    if (this.readyState !== WispSocket.OPEN) {
      if (cb) process.nextTick(cb, new Error("WebSocket is not open"));
      return;
    }
    this.writeFrame(OP_BINARY, data, cb);
  }

  /** Starts the closing handshake (or finishes it, if the peer's close frame is already in). */
  close(code?: number, reason = ""): void {
    if (this.readyState === WispSocket.CLOSED) return;
    if (this.closeFrameSent) {
      if (this.closeFrameReceived) this.socket.end();
      return;
    }
    this.readyState = WispSocket.CLOSING;
    this.closeFrameSent = true;
    let body: Uint8Array = new Uint8Array(0);
    if (code !== undefined) {
      let r = Buffer.from(reason);
      if (r.length > 123) {
        // At most 123 bytes, cut before a character rather than inside one (the reason must be UTF-8).
        let end = 123;
        while (end > 0 && (r[end]! & 0xc0) === 0x80) end--;
        r = r.subarray(0, end);
      }
      const b = Buffer.allocUnsafe(2 + r.length);
      b.writeUInt16BE(code, 0);
      b.set(r, 2);
      body = b;
    }
    this.writeFrame(OP_CLOSE, body);
    if (this.closeFrameReceived) this.socket.end();
    // Whoever started the handshake: a peer that never closes TCP (half-open) is cut off after this.
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  private writeFrame(opcode: number, data: Uint8Array, cb?: (err?: Error | null) => void): void {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) {
      if (cb) process.nextTick(cb, new Error("socket closed"));
      return;
    }
    const len = data.length;
    let h: Buffer;
    if (len < 126) {
      h = Buffer.allocUnsafe(2);
      h[1] = len;
    } else if (len < 65536) {
      h = Buffer.allocUnsafe(4);
      h[1] = 126;
      h.writeUInt16BE(len, 2);
    } else {
      h = Buffer.allocUnsafe(10);
      h[1] = 127;
      h.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
      h.writeUInt32BE(len >>> 0, 6);
    }
    h[0] = 0x80 | opcode;
    // Frames sent in one turn of the event loop (often several streams of one client) share a writev,
    // up to CORK_BYTES: past that they go at once rather than wait (and hold their memory) any longer.
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      setImmediate(this.flush);
    }
    if (len === 0) socket.write(h, cb);
    else {
      socket.write(h);
      socket.write(data, cb);
    }
    if (socket.writableLength >= CORK_BYTES) this.flush();
  }

  private sendPong(body: Uint8Array): void {
    this.pongsInFlight++;
    this.writeFrame(OP_PONG, Buffer.from(body), this.pongWritten);
  }

  /** A pong went through (or failed): the waiting one, if any, may go. */
  private readonly pongWritten = (): void => {
    this.pongsInFlight--;
    const n = this.pongLength;
    if (n < 0 || this.pongsInFlight >= MAX_PONGS_IN_FLIGHT) return;
    this.pongLength = -1;
    if (this.readyState === WispSocket.OPEN) this.sendPong(this.pongBody.subarray(0, n));
  };

  private readonly flush = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };

  private fail(message: string, code: string, status: number): void {
    this.read = Read.Done;
    this.dropMessage();
    this.close(status);
    // RFC 6455 §7.1.7: the connection is failed, not waiting for the peer's close frame (the close timer
    // still destroys a peer that keeps its side open).
    this.socket.end();
    // A socket refused for capacity has no session listening; an unheard error must not throw.
    if (this.listenerCount("error") > 0) this.emit("error", new WebSocketProtocolError(message, code, status));
  }

  private onData(d: Buffer): void {
    if (this.read === Read.Done) return;
    this.at = 0;
    // (readHeader/readPayload may end reading: a close frame, an error)
    while (this.at < d.length && (this.read as Read) !== Read.Done) {
      if (this.read === Read.Header) this.readHeader(d);
      else this.readPayload(d);
    }
    // The next read overwrites the shared buffer: a message still coming keeps a copy of what it has.
    if (this.sharedReads && this.parts.length > 0) this.gatherParts(this.partsBytes);
  }

  private dropMessage(): void {
    if (this.gather) releaseGather(this.gather);
    this.gather = null;
    this.parts = [];
    this.partsBytes = 0;
  }

  /** Moves the message so far into one gather buffer with room for at least `need` bytes. */
  private gatherParts(need: number): void {
    const cap = Math.max(need, Math.min(2 * need, this.maxPayload > 0 ? this.maxPayload : 2 * need), 4096);
    const g = takeGather(cap);
    if (this.gather) {
      this.gather.copy(g, 0, 0, this.partsBytes);
      releaseGather(this.gather);
    } else {
      let o = 0;
      for (const p of this.parts) {
        g.set(p, o);
        o += p.length;
      }
    }
    this.gather = g;
    this.parts = [];
  }

  private readHeader(d: Buffer): void {
    const take = Math.min(this.hdrNeed - this.hdrHave, d.length - this.at);
    this.hdr.set(d.subarray(this.at, this.at + take), this.hdrHave);
    this.at += take;
    this.hdrHave += take;
    if (this.hdrHave < this.hdrNeed) return;
    const hdr = this.hdr;
    if (this.hdrNeed === 2) {
      const b0 = hdr[0]!;
      const b1 = hdr[1]!;
      if (b0 & 0x40) {
        this.fail("RSV1 must be clear", "WS_ERR_UNEXPECTED_RSV_1", 1002);
        return;
      }
      if (b0 & 0x30) {
        this.fail("RSV2 and RSV3 must be clear", "WS_ERR_UNEXPECTED_RSV_2_3", 1002);
        return;
      }
      this.fin = (b0 & 0x80) !== 0;
      const op = b0 & 0x0f;
      const len7 = b1 & 0x7f;
      if (op === OP_CONTINUATION) {
        if (!this.fragmented) {
          this.fail("invalid opcode 0", "WS_ERR_INVALID_OPCODE", 1002);
          return;
        }
      } else if (op === OP_TEXT || op === OP_BINARY) {
        if (this.fragmented) {
          this.fail(`invalid opcode ${op}`, "WS_ERR_INVALID_OPCODE", 1002);
          return;
        }
      } else if (op === OP_CLOSE || op === OP_PING || op === OP_PONG) {
        if (!this.fin) {
          this.fail("FIN must be set", "WS_ERR_EXPECTED_FIN", 1002);
          return;
        }
        if (len7 > 125 || (op === OP_CLOSE && len7 === 1)) {
          this.fail(`invalid payload length ${len7}`, "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH", 1002);
          return;
        }
      } else {
        this.fail(`invalid opcode ${op}`, "WS_ERR_INVALID_OPCODE", 1002);
        return;
      }
      if (!(b1 & 0x80)) {
        this.fail("MASK must be set", "WS_ERR_EXPECTED_MASK", 1002);
        return;
      }
      this.opcode = op;
      this.hdrNeed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
      if (this.hdrHave < this.hdrNeed) return;
    }
    const len7 = hdr[1]! & 0x7f;
    let len: number;
    if (len7 === 126) len = hdr.readUInt16BE(2);
    else if (len7 === 127) {
      const high = hdr.readUInt32BE(2);
      if (high > 2 ** 21 - 1) {
        this.fail(
          "Unsupported WebSocket frame: payload length > 2^53 - 1",
          "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH",
          1009,
        );
        return;
      }
      len = high * 2 ** 32 + hdr.readUInt32BE(6);
    } else len = len7;
    hdr.copy(this.mask, 0, this.hdrNeed - 4, this.hdrNeed);
    this.hdrHave = 0;
    this.hdrNeed = 2;
    if (this.opcode < 0x8) {
      this.messageBytes += len;
      if (this.maxPayload > 0 && this.messageBytes > this.maxPayload) {
        this.fail("Max payload size exceeded", "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", 1009);
        return;
      }
    } else this.controlHave = 0;
    this.remaining = len;
    this.frameOffset = 0;
    this.read = Read.Payload;
    if (len === 0) this.frameDone();
  }

  private readPayload(d: Buffer): void {
    const take = Math.min(this.remaining, d.length - this.at);
    const piece = d.subarray(this.at, this.at + take);
    this.at += take;
    // The key continues where the last piece of this frame stopped.
    const r = this.frameOffset & 3;
    const key = r === 0 ? this.mask : this.rotate(r);
    unmask(piece, key);
    this.frameOffset += take;
    this.remaining -= take;
    if (this.opcode >= 0x8) {
      this.control.set(piece, this.controlHave);
      this.controlHave += take;
    } else this.addPiece(piece);
    if (this.remaining === 0) this.frameDone();
  }

  private rotate(r: number): Buffer {
    const m = this.mask;
    const o = this.rotated;
    o[0] = m[r & 3]!;
    o[1] = m[(r + 1) & 3]!;
    o[2] = m[(r + 2) & 3]!;
    o[3] = m[(r + 3) & 3]!;
    return o;
  }

  private addPiece(piece: Uint8Array): void {
    if (piece.length === 0) return;
    if (!this.gather && this.parts.length < MAX_PARTS && !this.fragmented && this.fin) {
      this.parts.push(piece);
      this.partsBytes += piece.length;
      return;
    }
    // Fragmented, or spread over many reads: one contiguous copy, grown by doubling (bounded by maxPayload).
    const need = this.partsBytes + piece.length;
    if (!this.gather || this.gather.length < need) this.gatherParts(need);
    this.gather!.set(piece, this.partsBytes);
    this.partsBytes += piece.length;
  }

  private frameDone(): void {
    this.read = Read.Header;
    const op = this.opcode;
    if (op >= 0x8) {
      this.controlFrame(op);
      return;
    }
    if (!this.fin) {
      if (!this.fragmented) this.fragmented = op;
      return;
    }
    const isBinary = (this.fragmented || op) === OP_BINARY;
    const parts = this.gather ? [this.gather.subarray(0, this.partsBytes)] : this.parts;
    const length = this.partsBytes;
    const gather = this.gather;
    this.parts = [];
    this.gather = null;
    this.partsBytes = 0;
    this.messageBytes = 0;
    this.fragmented = 0;
    // Listeners copy what they keep, so the gather buffer is free again once the event is over.
    if (this.readyState === WispSocket.OPEN) this.emit("message", parts, length, isBinary);
    if (gather) releaseGather(gather);
  }

  private controlFrame(op: number): void {
    const body = this.control.subarray(0, this.controlHave);
    if (op === OP_PING) {
      if (this.readyState !== WispSocket.OPEN) return;
      if (this.pongsInFlight >= MAX_PONGS_IN_FLIGHT) {
        // A peer that pings and does not read: only the latest ping is answered (§5.5.3), later.
        body.copy(this.pongBody);
        this.pongLength = body.length;
        return;
      }
      this.sendPong(body);
      return;
    }
    if (op === OP_PONG) return;
    // Close: check it, answer with the same code (ws does), stop reading. A message in progress is dropped.
    this.dropMessage();
    this.fragmented = 0;
    this.messageBytes = 0;
    let code = 1005;
    let reason = "";
    if (body.length >= 2) {
      code = body.readUInt16BE(0);
      if (!validCloseCode(code)) {
        this.fail(`invalid status code ${code}`, "WS_ERR_INVALID_CLOSE_CODE", 1002);
        return;
      }
      try {
        reason = utf8.decode(body.subarray(2));
      } catch {
        this.fail("invalid UTF-8 sequence", "WS_ERR_INVALID_UTF8", 1007);
        return;
      }
    }
    this.read = Read.Done;
    this.closeFrameReceived = true;
    this.closeCode = code;
    this.closeReason = reason;
    if (code === 1005) this.close();
    else this.close(code, reason);
  }
}
