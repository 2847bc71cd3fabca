// One Wisp v1 client connection (../shared/spec/wisp.md §3–§4): streams to real TCP and UDP sockets,
// credit-based flow control, per-client limits. Every message comes from an untrusted peer; nothing it
// sends can throw out of here, and a misbehaving stream is closed with a reason without touching the
// client's other streams — only repeated protocol errors cost the client its connection.

import * as dgram from "node:dgram";
import * as net from "node:net";
import { type SocketBudget, TokenBucket } from "../limits.ts";
import { type Logger, rateLimitedLogger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type Lookup, resolveDestination } from "../policy/destination.ts";
import type { PolicyConfig } from "../policy/policy.ts";
import {
  CLOSE_REASON_BLOCKED,
  CLOSE_REASON_CONNECT_TIMEOUT,
  CLOSE_REASON_DATA_TIMEOUT,
  CLOSE_REASON_INVALID_INFO,
  CLOSE_REASON_NETWORK_ERROR,
  CLOSE_REASON_REFUSED,
  CLOSE_REASON_THROTTLED,
  CLOSE_REASON_UNREACHABLE,
  CLOSE_REASON_VOLUNTARY,
  closeReasonName,
  encodeClose,
  encodeContinue,
  encodeData,
  PACKET_CLOSE,
  PACKET_CONNECT,
  PACKET_CONTINUE,
  PACKET_DATA,
  parseWispPacket,
  STREAM_TYPE_TCP,
  WISP_HEADER_SIZE,
  type WispParseError,
  writeDataHeader,
} from "./packet.ts";
import { FRAME_BYTES, READ_BYTES, releaseFrame, sharedReadBuffer, takeFrame } from "./read-frames.ts";
import type { WispLimits } from "./wisp-limits.ts";
import type { WispSocket } from "./wisp-socket.ts";

export interface WispSessionDeps {
  policy: PolicyConfig;
  lookup: Lookup;
  limits: WispLimits;
  /** The relay's socket budget (--max-sockets), shared with the L2 gateways; none: only --max-streams applies. */
  sockets?: SocketBudget;
  metrics: Metrics;
  log: Logger;
  clientId: string;
}

const noRelease = (): void => {};

/** Log budget per client: plenty for a busy browser, nothing like a flood. */
const LOG_EVENTS_PER_SECOND = 50;
const LOG_EVENTS_BURST = 200;
/** Largest payload of one UDP datagram over IPv4. */
const MAX_UDP_PAYLOAD = 65507;
/** Recently closed stream ids remembered so late DATA from the client is not mistaken for garbage. */
const CLOSED_MEMORY = 256;

/** A DATA payload: one view, or the views of a message that spanned socket reads (wisp-socket.ts). */
type Payload = Uint8Array | Uint8Array[];

/** The payload's bytes in `out` (from 0). */
function copyPayload(p: Payload, out: Uint8Array): void {
  if (p instanceof Uint8Array) {
    out.set(p);
    return;
  }
  let at = 0;
  for (const v of p) {
    out.set(v, at);
    at += v.length;
  }
}

/** A copy of the payload: message parts are only valid while the message event runs. */
function copyOf(p: Payload, bytes: number): Uint8Array {
  const b = Buffer.allocUnsafe(bytes);
  const out = new Uint8Array(b.buffer, b.byteOffset, bytes);
  copyPayload(p, out);
  return out;
}

/** Client bytes queued for a socket: a pooled frame's memory (given back once written) or a plain copy. */
interface Queued {
  data: Uint8Array;
  frame: Uint8Array | null;
  /** What it counts against maxQueuedBytes: the memory held (a pooled frame holds all FRAME_BYTES of it). */
  charge: number;
}

interface TcpStream {
  kind: "tcp";
  id: number;
  socket: net.Socket | null;
  connected: boolean;
  /** Client payloads not yet handed to the socket (connecting, or waiting out the rate limit). */
  pending: Queued[];
  /** Handed to socket.write, completion callback not yet run. */
  writing: number;
  /** Our estimate of the client's remaining credit; below -bufferPackets means it ignored CONTINUE. */
  credit: number;
  rateTimer: NodeJS.Timeout | null;
  pausedForRate: boolean;
  connectTimer: NodeJS.Timeout | null;
  /** The client closed voluntarily: finish writing `pending`, then end the socket. */
  draining: boolean;
  /** A credit check is due at the end of this tick (see grantCredit). */
  grantDue: boolean;
  charged: boolean;
  /** Gives the relay-wide charge (--max-sockets) back; called once, with `charged` going false. */
  release: () => void;
  socketOpen: boolean;
}

interface UdpStream {
  kind: "udp";
  id: number;
  socket: dgram.Socket | null;
  connected: boolean;
  lastActivity: number;
  idleTimer: NodeJS.Timeout | null;
  /** Datagrams the client sent before the destination was resolved and connected (copies). */
  early: Uint8Array[];
  earlyBytes: number;
  /** Counted in the client's budget (WispSession.charged): from CONNECT until out of the table and socket closed. */
  charged: boolean;
  release: () => void;
  /** Its socket exists and has not emitted 'close' (the descriptor may still be open). */
  socketOpen: boolean;
}

type Stream = TcpStream | UdpStream;
/** Wisp lets a client send DATA right after CONNECT; a few early datagrams wait for the socket. */
const UDP_EARLY_MAX_DATAGRAMS = 16;
const UDP_EARLY_MAX_BYTES = 64 * 1024;

export class WispSession {
  private readonly streams = new Map<number, Stream>();
  /**
   * The client's socket budget (--max-streams): a stream is charged from its CONNECT until it has left the table
   * AND its socket has emitted 'close' (the descriptor is gone). So a stream the client closed while its socket
   * drains to the destination, or one whose socket is still being torn down, still counts: otherwise a client
   * could open, fill and close streams forever (the review: 1207 descriptors for a limit of 64).
   */
  private charged = 0;
  /** Streams the client closed whose sockets still drain: they end with the client's WebSocket at the latest. */
  private readonly draining = new Set<TcpStream>();
  /** Recently closed stream ids and what they carried (null: refused before it was a stream). */
  private readonly recentlyClosed = new Map<number, Stream["kind"] | null>();
  private readonly up: TokenBucket;
  private readonly down: TokenBucket;
  private totalBytes = 0;
  private protocolErrors = 0;
  private queuedBytes = 0;
  private wsBuffered = 0;
  private wsPaused = false;
  private socketsPaused = false;
  private lastActivity = performance.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Events a client can cause at will (streams opened, refused, closed) go through a budget. */
  private readonly log: Logger;
  private readonly bytesUp: { value: number };
  private readonly bytesDown: { value: number };

  constructor(
    private readonly ws: WispSocket,
    private readonly deps: WispSessionDeps,
  ) {
    const { limits } = deps;
    this.log = rateLimitedLogger(deps.log, LOG_EVENTS_PER_SECOND, LOG_EVENTS_BURST);
    this.bytesUp = deps.metrics.counter("relay_bytes_total", { direction: "up" });
    this.bytesDown = deps.metrics.counter("relay_bytes_total", { direction: "down" });
    // One second of burst: enough for a large write without letting the average exceed the rate.
    this.up = new TokenBucket(limits.bytesPerSecond, limits.bytesPerSecond);
    this.down = new TokenBucket(limits.bytesPerSecond, limits.bytesPerSecond);
    ws.on("message", (parts, length, isBinary) => this.onMessage(parts, length, isBinary));
    ws.on("close", () => this.teardown());
    ws.on("error", (err) => {
      const error = err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? "frame-too-large" : "websocket-error";
      this.protocolError(error);
    });
    // Stream 0 CONTINUE announces the per-stream buffer; a v1 client waits for it before anything else.
    this.send(encodeContinue(0, limits.bufferPackets));
    this.armIdle();
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Server shutdown: every stream gets a CLOSE before the WebSocket closes. */
  shutdown(code: number, reason: string): void {
    if (this.closed) return;
    for (const s of [...this.streams.values()]) this.closeStream(s, CLOSE_REASON_VOLUNTARY, reason);
    this.closeWs(code, reason);
  }

  /** `charge`: memory the message holds (a pooled read frame holds all of it); `done` once ws is through. */
  private send(msg: Uint8Array, charge = msg.length, done?: () => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      done?.();
      return;
    }
    this.wsBuffered += charge;
    this.ws.send(msg, (err) => {
      done?.();
      this.wsBuffered -= charge;
      if (!err && this.socketsPaused && this.wsBuffered <= this.deps.limits.maxBufferedBytes / 2) this.resumeSockets();
    });
    if (!this.socketsPaused && this.wsBuffered > this.deps.limits.maxBufferedBytes) this.pauseSockets();
  }

  private closeWs(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    this.teardown();
  }

  private armIdle(): void {
    const ms = this.deps.limits.idleTimeoutMs;
    if (ms <= 0 || this.closed) return;
    const wait = Math.max(0, this.lastActivity + ms - performance.now());
    this.idleTimer = setTimeout(() => {
      if (performance.now() - this.lastActivity >= ms) {
        this.deps.metrics.inc("relay_denials_total", { reason: "idle-timeout" });
        this.log("wisp.idle-timeout", { client: this.deps.clientId });
        for (const s of [...this.streams.values()]) this.closeStream(s, CLOSE_REASON_DATA_TIMEOUT, "idle");
        this.closeWs(1000, "idle timeout");
      } else this.armIdle();
    }, wait + 1);
  }

  private countBytes(n: number, direction: "up" | "down"): boolean {
    this.lastActivity = performance.now();
    this.totalBytes += n;
    (direction === "up" ? this.bytesUp : this.bytesDown).value += n;
    const cap = this.deps.limits.maxTotalBytes;
    if (cap > 0 && this.totalBytes > cap) {
      this.deps.metrics.inc("relay_denials_total", { reason: "byte-limit" });
      this.log("wisp.byte-limit", { client: this.deps.clientId, bytes: this.totalBytes });
      for (const s of [...this.streams.values()]) this.closeStream(s, CLOSE_REASON_THROTTLED, "byte-limit");
      this.closeWs(1008, "total byte limit reached");
      return false;
    }
    return true;
  }

  private protocolError(error: WispParseError | string, streamId?: number): void {
    this.deps.metrics.inc("relay_protocol_errors_total", { error });
    // Only the first is logged: a garbage stream must not turn into a log flood (the metric counts all).
    if (this.protocolErrors === 0)
      this.log("wisp.protocol-error", { client: this.deps.clientId, stream: streamId, error });
    if (++this.protocolErrors >= this.deps.limits.maxProtocolErrors) {
      this.log("wisp.too-many-errors", { client: this.deps.clientId });
      for (const s of [...this.streams.values()]) this.closeStream(s, CLOSE_REASON_INVALID_INFO, "protocol-errors");
      this.closeWs(1002, "too many protocol errors");
    }
  }

  private onMessage(parts: Uint8Array[], length: number, isBinary: boolean): void {
    if (this.closed) return;
    this.lastActivity = performance.now();
    if (!isBinary) {
      this.deps.metrics.inc("relay_protocol_errors_total", { error: "text-message" });
      this.log("wisp.protocol-error", { client: this.deps.clientId, error: "text-message" });
      for (const s of [...this.streams.values()]) this.closeStream(s, CLOSE_REASON_INVALID_INFO, "text-message");
      this.closeWs(1003, "binary messages only");
      return;
    }
    // A message that spanned socket reads comes in parts (views into the WebSocket's read buffer, valid
    // during this call): a DATA payload is copied once, straight into what its stream queues, so only its
    // 5-byte header is gathered here; anything else is small and is parsed from one copy.
    let split: Uint8Array[] | null = null;
    let data: Uint8Array;
    if (parts.length === 1) data = parts[0]!;
    else if (parts.length > 1 && parts[0]![0] === PACKET_DATA && length >= WISP_HEADER_SIZE) {
      data = new Uint8Array(WISP_HEADER_SIZE);
      split = [];
      let at = 0;
      for (const v of parts) {
        const h = Math.min(WISP_HEADER_SIZE - at, v.length);
        if (h > 0) data.set(v.subarray(0, h), at);
        at += h;
        if (h < v.length) split.push(v.subarray(h));
      }
    } else data = parts.length === 0 ? new Uint8Array(0) : copyOf(parts, length);
    const r = parseWispPacket(data);
    if (!r.ok) {
      // A CONNECT we could not read still names its stream id: answer it so the client is not left waiting.
      if (r.streamId !== undefined && r.error !== "unknown-type" && !this.streams.has(r.streamId))
        this.send(encodeClose(r.streamId, CLOSE_REASON_INVALID_INFO));
      else if (r.streamId !== undefined) {
        const s = this.streams.get(r.streamId);
        if (s) this.closeStream(s, CLOSE_REASON_INVALID_INFO, r.error);
      }
      this.protocolError(r.error, r.streamId);
      return;
    }
    const p = r.packet;
    switch (p.type) {
      case PACKET_CONNECT: {
        if (p.streamId === 0) {
          this.send(encodeClose(0, CLOSE_REASON_INVALID_INFO));
          this.protocolError("connect-stream-zero", 0);
          return;
        }
        const existing = this.streams.get(p.streamId);
        if (existing) {
          this.closeStream(existing, CLOSE_REASON_INVALID_INFO, "duplicate-stream");
          this.protocolError("duplicate-stream", p.streamId);
          return;
        }
        if (this.charged >= this.deps.limits.maxStreams) {
          this.refuseConnect(p.streamId, p.streamType, "max-streams");
          return;
        }
        // The relay's own budget, which every client's streams and the L2 gateways' flows share.
        const release = this.deps.sockets ? this.deps.sockets.take(this) : noRelease;
        if (typeof release === "string") {
          this.refuseConnect(p.streamId, p.streamType, "max-sockets");
          return;
        }
        this.recentlyClosed.delete(p.streamId);
        this.open(p.streamId, p.streamType, p.hostname, p.port, release).catch((err: Error) => {
          const s = this.streams.get(p.streamId);
          if (s) this.closeStream(s, CLOSE_REASON_NETWORK_ERROR, "internal-error");
          this.log("wisp.internal-error", { client: this.deps.clientId, error: err.message });
        });
        return;
      }
      case PACKET_DATA: {
        const payload: Payload = split && split.length > 0 ? (split.length === 1 ? split[0]! : split) : p.payload;
        const bytes = split ? length - WISP_HEADER_SIZE : p.payload.length;
        const s = this.streams.get(p.streamId);
        if (!s) {
          if (this.recentlyClosed.has(p.streamId)) {
            // In flight when we closed the stream: expected, not an attack.
            this.deps.metrics.inc("relay_protocol_errors_total", { error: "late-data" });
            if (this.recentlyClosed.get(p.streamId) === "udp") this.udpDropped("late");
            this.countBytes(bytes, "up");
            return;
          }
          this.send(encodeClose(p.streamId, CLOSE_REASON_INVALID_INFO));
          this.protocolError("unknown-stream", p.streamId);
          return;
        }
        if (!this.countBytes(bytes, "up")) {
          if (s.kind === "udp") this.udpDropped("byte-limit");
          return;
        }
        if (s.kind === "tcp") this.tcpFromClient(s, payload, bytes);
        else this.udpFromClient(s, copyOf(payload, bytes));
        return;
      }
      case PACKET_CLOSE: {
        const s = this.streams.get(p.streamId);
        if (!s) {
          if (!this.recentlyClosed.has(p.streamId)) this.protocolError("close-unknown-stream", p.streamId);
          return;
        }
        this.log("wisp.client-close", {
          client: this.deps.clientId,
          stream: s.id,
          reason: closeReasonName(p.reason),
        });
        if (s.kind === "tcp" && p.reason === CLOSE_REASON_VOLUNTARY && s.connected) {
          this.forget(s, "client-close");
          this.deps.metrics.inc("relay_stream_closes_total", { reason: "client" });
          s.draining = true;
          this.draining.add(s);
          // A destination that never reads must not keep the socket (and its queue) forever.
          setTimeout(() => this.closeStream(s, null, "drain-timeout"), this.deps.limits.connectTimeoutMs).unref();
          this.flushTcp(s);
        } else this.closeStream(s, null, "client-close");
        return;
      }
      case PACKET_CONTINUE: {
        // Only the server grants credit; a client CONTINUE means it does not speak the protocol.
        const s = this.streams.get(p.streamId);
        if (s) this.closeStream(s, CLOSE_REASON_INVALID_INFO, "client-continue");
        this.protocolError(s ? "client-continue" : "continue-unknown-stream", p.streamId);
        return;
      }
    }
  }

  /** A CONNECT over a socket budget: 0x49, counted. */
  private refuseConnect(id: number, streamType: number, reason: "max-streams" | "max-sockets"): void {
    this.deps.metrics.inc("relay_denials_total", { reason });
    this.log("wisp.refused", { client: this.deps.clientId, stream: id, reason });
    this.send(encodeClose(id, CLOSE_REASON_THROTTLED));
    // DATA the client sent right after its CONNECT (as Wisp allows) is late, not garbage.
    this.rememberClosed(id, streamType === STREAM_TYPE_TCP ? "tcp" : "udp");
  }

  private async open(
    id: number,
    streamType: number,
    hostname: string,
    port: number,
    release: () => void,
  ): Promise<void> {
    const { deps } = this;
    const stream: Stream =
      streamType === STREAM_TYPE_TCP
        ? {
            kind: "tcp",
            id,
            socket: null,
            connected: false,
            pending: [],
            writing: 0,
            credit: deps.limits.bufferPackets,
            rateTimer: null,
            pausedForRate: false,
            connectTimer: null,
            draining: false,
            grantDue: false,
            charged: true,
            release,
            socketOpen: false,
          }
        : {
            kind: "udp",
            id,
            socket: null,
            connected: false,
            lastActivity: performance.now(),
            idleTimer: null,
            early: [],
            earlyBytes: 0,
            charged: true,
            release,
            socketOpen: false,
          };
    this.streams.set(id, stream);
    this.charged++;
    deps.metrics.inc("relay_streams_total", { type: stream.kind });
    deps.metrics.inc("relay_streams_active", { type: stream.kind });
    const dest = await resolveDestination(deps.policy, hostname, port, deps.lookup, deps.limits.lookupTimeoutMs);
    if (this.streams.get(id) !== stream) return; // closed while resolving
    if (!dest.ok) {
      const reason =
        dest.error === "blocked"
          ? CLOSE_REASON_BLOCKED
          : dest.error === "invalid"
            ? CLOSE_REASON_INVALID_INFO
            : dest.error === "timeout"
              ? CLOSE_REASON_CONNECT_TIMEOUT
              : dest.error === "busy"
                ? CLOSE_REASON_THROTTLED
                : CLOSE_REASON_UNREACHABLE;
      if (dest.error === "blocked") deps.metrics.inc("relay_denials_total", { reason: dest.reason });
      // The client's hostname is logged: it is the destination, not payload, and operators need it.
      this.log("wisp.refused", {
        client: deps.clientId,
        stream: id,
        host: hostname.slice(0, 253),
        port,
        reason: dest.error === "blocked" ? dest.reason : dest.error,
      });
      this.closeStream(stream, reason, dest.error);
      return;
    }
    this.log("wisp.connect", { client: deps.clientId, stream: id, type: stream.kind, address: dest.address, port });
    if (stream.kind === "tcp") this.connectTcp(stream, dest.address, port);
    else this.connectUdp(stream, dest.address, dest.family, port);
  }

  private connectTcp(s: TcpStream, address: string, port: number): void {
    // Reads land in a shared buffer and leave in a pooled frame (read-frames.ts): no allocation per read.
    const socket = net.connect({
      host: address,
      port,
      noDelay: true,
      onread: { buffer: sharedReadBuffer, callback: (n, buf) => this.tcpFromSocket(s, n, buf) },
    });
    s.socket = socket;
    this.holdSocket(s, socket);
    s.connectTimer = setTimeout(() => {
      s.connectTimer = null;
      this.closeStream(s, CLOSE_REASON_CONNECT_TIMEOUT, "connect-timeout");
    }, this.deps.limits.connectTimeoutMs);
    socket.on("connect", () => {
      if (s.connectTimer) clearTimeout(s.connectTimer);
      s.connectTimer = null;
      s.connected = true;
      if (this.socketsPaused) socket.pause();
      this.flushTcp(s);
    });
    socket.on("end", () => this.closeStream(s, CLOSE_REASON_VOLUNTARY, "remote-end"));
    socket.on("error", (err: Error & { code?: string }) => {
      if (s.draining) return;
      const reason = !s.connected
        ? err.code === "ECONNREFUSED"
          ? CLOSE_REASON_REFUSED
          : err.code === "ETIMEDOUT"
            ? CLOSE_REASON_CONNECT_TIMEOUT
            : err.code === "EHOSTUNREACH" || err.code === "ENETUNREACH"
              ? CLOSE_REASON_UNREACHABLE
              : CLOSE_REASON_NETWORK_ERROR
        : CLOSE_REASON_NETWORK_ERROR;
      this.closeStream(s, reason, err.code ?? "socket-error");
    });
    socket.on("close", () => {
      if (this.streams.get(s.id) === s) this.closeStream(s, CLOSE_REASON_NETWORK_ERROR, "socket-closed");
    });
  }

  private tcpFromClient(s: TcpStream, payload: Payload, bytes: number): void {
    s.credit--;
    const limit = this.deps.limits.bufferPackets;
    // A compliant client can overshoot our estimate by what it sent before our last CONTINUE reached it
    // (at most one buffer); more than that means it is ignoring flow control.
    if (s.credit < -limit) {
      this.deps.metrics.inc("relay_denials_total", { reason: "credit-exceeded" });
      this.closeStream(s, CLOSE_REASON_THROTTLED, "credit-exceeded");
      this.protocolError("credit-exceeded", s.id);
      return;
    }
    // The message's memory is the WebSocket's read buffer, reused after this returns: keep a copy, in a
    // pooled frame when it is big enough to be worth one (a small payload must not hold a whole frame).
    const frame = bytes >= READ_BYTES / 4 && bytes <= FRAME_BYTES ? takeFrame() : null;
    let data: Uint8Array;
    if (frame) {
      data = frame.subarray(0, bytes);
      copyPayload(payload, data);
    } else data = copyOf(payload, bytes);
    const charge = frame ? FRAME_BYTES : bytes;
    s.pending.push({ data, frame, charge });
    this.queuedBytes += charge;
    if (!this.wsPaused && this.queuedBytes > this.deps.limits.maxQueuedBytes) {
      this.wsPaused = true;
      this.ws.pause();
    }
    this.flushTcp(s);
  }

  private flushTcp(s: TcpStream): void {
    const socket = s.socket;
    if (!socket || !s.connected || s.rateTimer) return;
    // Corked: everything flushed here goes to the kernel in one writev.
    socket.cork();
    try {
      while (s.pending.length > 0) {
        const { data, frame, charge } = s.pending.shift()!;
        const bytes = data.length;
        s.writing++;
        socket.write(data, () => {
          // Written or failed, the socket is done with the memory.
          if (frame) releaseFrame(frame);
          s.writing--;
          this.unqueue(charge);
          this.grantCredit(s);
          if (s.draining && s.writing === 0 && s.pending.length === 0) socket.end();
        });
        const wait = s.draining ? 0 : this.up.take(bytes);
        if (wait > 0) {
          s.rateTimer = setTimeout(() => {
            s.rateTimer = null;
            this.flushTcp(s);
          }, wait);
          return;
        }
      }
    } finally {
      socket.uncork();
    }
    if (s.draining && s.writing === 0) socket.end();
  }

  /** Client bytes left our queue (written or discarded); reading the WebSocket resumes below half the cap. */
  private unqueue(n: number): void {
    this.queuedBytes -= n;
    if (this.wsPaused && this.queuedBytes <= this.deps.limits.maxQueuedBytes / 2) {
      this.wsPaused = false;
      if (!this.closed) this.ws.resume();
    }
  }

  /**
   * Writes finish in bursts (one writev, many callbacks): the credit is looked at once, after the burst.
   * Granting per callback sent a run of growing CONTINUEs in one go, and as each one sets the client's
   * credit anew, a compliant client could send their sum and overshoot what we counted on.
   */
  private grantCredit(s: TcpStream): void {
    if (s.grantDue) return;
    s.grantDue = true;
    process.nextTick(() => {
      s.grantDue = false;
      this.grantNow(s);
    });
  }

  private grantNow(s: TcpStream): void {
    if (this.streams.get(s.id) !== s) return;
    const limit = this.deps.limits.bufferPackets;
    const room = limit - s.pending.length - s.writing;
    // Re-grant once a quarter of the buffer has freed up, or when the client may be sitting at zero.
    if (room - s.credit >= Math.max(1, limit >> 2) || (s.credit <= 0 && room > 0)) {
      s.credit = room;
      this.send(encodeContinue(s.id, room));
    }
  }

  /** `n` bytes read into `buf` (the shared read buffer: copied out before returning). */
  private tcpFromSocket(s: TcpStream, n: number, buf: Uint8Array): boolean {
    if (this.streams.get(s.id) !== s || !this.countBytes(n, "down")) return true;
    const data = buf.subarray(0, n);
    if (n >= READ_BYTES / 4) {
      const frame = takeFrame();
      writeDataHeader(frame, 0, s.id);
      frame.set(data, WISP_HEADER_SIZE);
      this.send(frame.subarray(0, WISP_HEADER_SIZE + n), FRAME_BYTES, () => releaseFrame(frame));
    } else this.send(encodeData(s.id, data)); // a short read must not pin a whole frame while it waits
    const wait = this.down.take(n);
    if (wait > 0 && s.socket && !s.pausedForRate) {
      s.pausedForRate = true;
      s.socket.pause();
      setTimeout(() => {
        s.pausedForRate = false;
        if (!this.socketsPaused) s.socket?.resume();
      }, wait);
    }
    return true;
  }

  private pauseSockets(): void {
    this.socketsPaused = true;
    for (const s of this.streams.values()) if (s.kind === "tcp" && s.connected) s.socket?.pause();
  }

  private resumeSockets(): void {
    this.socketsPaused = false;
    for (const s of this.streams.values()) if (s.kind === "tcp" && s.connected && !s.pausedForRate) s.socket?.resume();
  }

  private connectUdp(s: UdpStream, address: string, family: 4 | 6, port: number): void {
    const socket = dgram.createSocket(family === 6 ? "udp6" : "udp4");
    s.socket = socket;
    this.holdSocket(s, socket);
    socket.on("error", (err: Error & { code?: string }) =>
      this.closeStream(s, s.connected ? CLOSE_REASON_NETWORK_ERROR : CLOSE_REASON_UNREACHABLE, err.code ?? "udp-error"),
    );
    // A connected UDP socket only hears back from the destination it was allowed to reach.
    socket.connect(port, address, () => {
      s.connected = true;
      this.armUdpIdle(s);
      const early = s.early;
      s.early = [];
      s.earlyBytes = 0;
      for (const d of early) if (this.streams.get(s.id) === s) socket.send(d);
    });
    socket.on("message", (msg) => {
      if (this.streams.get(s.id) !== s) {
        this.udpDropped("closed");
        return;
      }
      s.lastActivity = performance.now();
      // The client's WebSocket is closing (its close frame is in): nothing more reaches it.
      if (this.ws.readyState !== this.ws.OPEN) {
        this.udpDropped("client-gone");
        return;
      }
      if (this.socketsPaused) {
        this.udpDropped("client-slow");
        return;
      }
      if (!this.down.tryTake(msg.length)) {
        this.udpDropped("rate");
        return;
      }
      if (!this.countBytes(msg.length, "down")) {
        this.udpDropped("byte-limit");
        return;
      }
      this.send(encodeData(s.id, msg));
    });
  }

  /** Every datagram the relay drops is counted here, by why (finding 6). */
  private udpDropped(reason: string, n = 1): void {
    this.deps.metrics.inc("relay_udp_dropped_total", { reason }, n);
  }

  private armUdpIdle(s: UdpStream): void {
    const ms = this.deps.limits.udpIdleTimeoutMs;
    if (ms <= 0) return;
    const wait = Math.max(0, s.lastActivity + ms - performance.now());
    s.idleTimer = setTimeout(() => {
      s.idleTimer = null;
      if (performance.now() - s.lastActivity >= ms) this.closeStream(s, CLOSE_REASON_DATA_TIMEOUT, "udp-idle");
      else this.armUdpIdle(s);
    }, wait + 1);
  }

  private udpFromClient(s: UdpStream, payload: Uint8Array): void {
    s.lastActivity = performance.now();
    // UDP has no credit to wait on, so excess is dropped (and counted) rather than queued.
    if (payload.length > MAX_UDP_PAYLOAD) {
      this.udpDropped("too-large");
      return;
    }
    if (!this.up.tryTake(payload.length)) {
      this.udpDropped("rate");
      return;
    }
    if (!s.connected || !s.socket) {
      // Still resolving/connecting: keep a few (the first DNS query usually arrives right here).
      if (s.early.length < UDP_EARLY_MAX_DATAGRAMS && s.earlyBytes + payload.length <= UDP_EARLY_MAX_BYTES) {
        s.early.push(payload); // already a copy (onMessage)
        s.earlyBytes += payload.length;
      } else this.udpDropped("not-connected");
      return;
    }
    // Our own copy (onMessage): dgram may still hold it if the kernel queue is full.
    s.socket.send(payload);
  }

  private rememberClosed(id: number, kind: Stream["kind"]): void {
    this.recentlyClosed.delete(id);
    this.recentlyClosed.set(id, kind);
    if (this.recentlyClosed.size > CLOSED_MEMORY) {
      this.recentlyClosed.delete(this.recentlyClosed.keys().next().value!);
    }
  }

  /** The stream's socket is charged to the client until it has really closed. */
  private holdSocket(s: Stream, socket: net.Socket | dgram.Socket): void {
    s.socketOpen = true;
    socket.once("close", () => {
      s.socketOpen = false;
      if (s.kind === "tcp") this.draining.delete(s);
      this.settle(s);
    });
  }

  /** Gives the stream's charge back once it is out of the table and holds no socket. */
  private settle(s: Stream): void {
    if (!s.charged || s.socketOpen || this.streams.get(s.id) === s) return;
    s.charged = false;
    this.charged--;
    s.release();
  }

  /** Removes the stream from the table (its id may be reused) without touching its socket. */
  private forget(s: Stream, why: string): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    this.settle(s);
    this.rememberClosed(s.id, s.kind);
    this.deps.metrics.dec("relay_streams_active", { type: s.kind });
    this.log("wisp.close", { client: this.deps.clientId, stream: s.id, why });
  }

  /** Closes a stream and its socket; `reason` null = the client closed it, so no CLOSE goes back. */
  private closeStream(s: Stream, reason: number | null, why: string): void {
    const live = this.streams.get(s.id) === s;
    if (live) {
      this.forget(s, why);
      if (reason !== null) {
        this.send(encodeClose(s.id, reason));
        this.deps.metrics.inc("relay_stream_closes_total", { reason: closeReasonName(reason) });
      } else this.deps.metrics.inc("relay_stream_closes_total", { reason: "client" });
    }
    if (s.kind === "tcp") {
      if (s.connectTimer) clearTimeout(s.connectTimer);
      if (s.rateTimer) clearTimeout(s.rateTimer);
      s.connectTimer = s.rateTimer = null;
      let discarded = 0;
      for (const q of s.pending) {
        discarded += q.charge;
        if (q.frame) releaseFrame(q.frame);
      }
      s.pending.length = 0;
      this.unqueue(discarded);
      s.socket?.destroy();
    } else {
      if (s.idleTimer) clearTimeout(s.idleTimer);
      s.idleTimer = null;
      // Datagrams that waited for a destination that never came (refused, failed, or the stream closed first).
      if (s.early.length > 0) this.udpDropped("closed", s.early.length);
      s.early = [];
      s.earlyBytes = 0;
      try {
        s.socket?.close();
      } catch {
        // already closed
      }
    }
    s.socket = null;
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const s of [...this.streams.values()]) this.closeStream(s, CLOSE_REASON_NETWORK_ERROR, "client-gone");
    // The client is gone, and so is what it was owed: a socket still draining would otherwise outlive its budget.
    for (const s of [...this.draining]) this.closeStream(s, null, "client-gone");
    this.draining.clear();
  }
}
