// The browser's uplink (works in Node too, given a WebSocket class): every guest flow becomes a Wisp v1
// stream over one WebSocket (spec/wisp.md). TCP streams are paced by CONTINUE credits (packets, not
// bytes); the stack sees them as writableBytes so the guest's window closes when the server's buffer is
// full. CLOSE reasons become the errors the stack turns into RST or ICMP. When the socket drops, every
// live stream is reset (the guest is told nothing false) and new streams wait for the reconnection,
// which backs off exponentially.
//
// Wisp v2 (spec/wisp.md §5–6) is offered only when asked (`wispVersion: 2`), but the handshake is always
// understood, since some servers (wisp-js) speak v2 to any client that sends a subprotocol, such as a token:
// a server INFO first is answered with our INFO (UDP only), and the stream-0 CONTINUE after it opens the
// connection; CONTINUE first means v1. A server that wants credentials we do not have, closes stream 0, or
// has not opened the connection within `handshakeTimeoutMs` fails the attempt: streams waiting for it get an
// error then (as does any stream that waited that long), rather than waiting through the reconnections.
//
// Wisp v1 has no "connected" reply: a stream is reported open after `openGraceMs` unless the server
// closed it first (then the guest sees a refusal). It also has no flow control toward the client, so
// data the stack has paused is buffered here up to a cap, past which the stream is closed with 0x81.

import type { Uplink, UplinkError, UplinkTcp, UplinkTcpHandlers, UplinkUdp, UplinkUdpHandlers } from "./uplink.ts";
import {
  continueCredit,
  decodeInfo,
  decodeWisp,
  encodeClose,
  encodeConnect,
  encodeInfo,
  encodeWisp,
  WISP_CLOSE,
  WISP_CLOSE_BLOCKED,
  WISP_CLOSE_CLIENT_ERROR,
  WISP_CLOSE_CONNECT_TIMEOUT,
  WISP_CLOSE_DATA_TIMEOUT,
  WISP_CLOSE_INVALID_INFO,
  WISP_CLOSE_NETWORK_ERROR,
  WISP_CLOSE_REFUSED,
  WISP_CLOSE_THROTTLED,
  WISP_CLOSE_UNREACHABLE,
  WISP_CLOSE_VOLUNTARY,
  WISP_CONTINUE,
  WISP_DATA,
  WISP_EXT_KEY,
  WISP_EXT_PASSWORD,
  WISP_EXT_UDP,
  WISP_INFO,
  WISP_STREAM_TCP,
  WISP_STREAM_UDP,
} from "./wisp-packet.ts";

/** The part of the WebSocket API we use (the browser's, Node 22's global, or the `ws` package's). */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: Uint8Array): void;
  close(): void;
}

export interface WispUplinkOptions {
  url: string;
  /** Makes a WebSocket offering `protocols` as subprotocols (default: the global WebSocket). */
  createSocket?: (url: string, protocols: string[]) => WebSocketLike;
  /** Subprotocols to offer besides the version's (e.g. the relay's `vireo-token.T`). */
  protocols?: string[];
  /** 2: offer Wisp v2 (`wisp-v2`); the server may still answer v1. Default 1. */
  wispVersion?: 1 | 2;
  /** From opening the WebSocket to the server's stream-0 CONTINUE; also how long a stream waits for one. */
  handshakeTimeoutMs?: number;
  /** How long a new TCP stream waits for an early CLOSE before it is reported open. */
  openGraceMs?: number;
  /** Largest DATA payload we send. */
  maxPacket?: number;
  /** Bytes queued per stream (waiting for credit) before writableBytes() reports 0. */
  streamBuffer?: number;
  /** Bytes buffered per paused stream before it is closed (0x81). */
  pausedLimit?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

type State = "connecting" | "ready" | "down" | "closed";

interface Stream {
  id: number;
  tcp: boolean;
  host: string;
  port: number;
  credit: number;
  queue: Uint8Array[];
  queued: number;
  open: boolean;
  connectSent: boolean;
  dead: boolean;
  paused: boolean;
  held: Uint8Array[];
  heldBytes: number;
  /** Server sent CLOSE 0x02 while paused: deliver the end after the held data. */
  endHeld: boolean;
  wasFull: boolean;
  tcpH?: UplinkTcpHandlers;
  udpH?: UplinkUdpHandlers;
  graceTimer?: ReturnType<typeof setTimeout>;
  /** A stream made while the connection is not up fails if it is still not sent after handshakeTimeoutMs. */
  waitTimer?: ReturnType<typeof setTimeout>;
}

export function wispReasonToError(reason: number, opened: boolean): UplinkError {
  switch (reason) {
    case WISP_CLOSE_REFUSED:
      return "refused";
    case WISP_CLOSE_UNREACHABLE:
    case WISP_CLOSE_INVALID_INFO:
      return "unreachable";
    case WISP_CLOSE_CONNECT_TIMEOUT:
    case WISP_CLOSE_DATA_TIMEOUT:
      return "timeout";
    case WISP_CLOSE_BLOCKED:
    case WISP_CLOSE_THROTTLED:
      return "blocked";
    default:
      // A network error before the stream was up is how servers report a failed connect.
      return opened ? "reset" : "refused";
  }
}

export class WispUplink implements Uplink {
  private ws: WebSocketLike | undefined;
  private state: State = "down";
  private initialCredit = 0;
  private nextId = 1;
  private streams = new Map<number, Stream>();
  private backoff: number;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** The server's v2 INFO came and ours went: its stream-0 CONTINUE opens the connection. */
  private infoExchanged = false;
  /** v1, or a v2 server that listed the UDP extension. */
  private udpAllowed = true;
  private readonly o: Required<Omit<WispUplinkOptions, "createSocket">> & Pick<WispUplinkOptions, "createSocket">;
  /** For the UI: connection state changes. */
  onState: ((state: State) => void) | undefined;

  constructor(opts: WispUplinkOptions) {
    this.o = {
      openGraceMs: 50,
      maxPacket: 32 * 1024,
      streamBuffer: 256 * 1024,
      pausedLimit: 4 * 1024 * 1024,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      protocols: [],
      wispVersion: 1,
      handshakeTimeoutMs: 5_000,
      ...opts,
    };
    this.backoff = this.o.reconnectMinMs;
    this.connect();
  }

  get connectionState(): State {
    return this.state;
  }

  close(): void {
    this.setState("closed");
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.resetStreams();
    this.ws?.close();
    this.ws = undefined;
  }

  private setState(s: State): void {
    this.state = s;
    this.onState?.(s);
  }

  private connect(): void {
    if (this.state === "closed") return;
    this.setState("connecting");
    this.infoExchanged = false;
    this.udpAllowed = true;
    let ws: WebSocketLike;
    try {
      const make =
        this.o.createSocket ??
        ((url: string, protocols: string[]) =>
          new (globalThis as unknown as { WebSocket: new (u: string, p: string[]) => WebSocketLike }).WebSocket(
            url,
            protocols,
          ));
      ws = make(this.o.url, [...(this.o.wispVersion === 2 ? ["wisp-v2"] : []), ...this.o.protocols]);
    } catch {
      this.lost();
      return;
    }
    this.handshakeTimer = setTimeout(() => {
      if (this.ws === ws && this.state === "connecting") this.lost();
    }, this.o.handshakeTimeoutMs);
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const d = ev.data;
      if (d instanceof ArrayBuffer) this.message(new Uint8Array(d));
      else if (ArrayBuffer.isView(d)) this.message(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    };
    ws.onclose = () => {
      if (this.ws === ws) this.lost();
    };
    ws.onerror = () => {
      if (this.ws === ws) this.lost();
    };
  }

  /**
   * The WebSocket is gone: reset every stream, retry later. An attempt that never opened (refused upgrade, failed
   * or timed-out handshake) also fails the streams waiting for it, with `error`.
   */
  private lost(error: UplinkError = "unreachable"): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const failedAttempt = this.state === "connecting";
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onclose = ws.onerror = ws.onmessage = null;
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    if (this.state === "closed") return;
    this.setState("down");
    this.resetStreams(true);
    if (failedAttempt) for (const s of [...this.streams.values()]) this.fail(s, error);
    const delay = this.backoff;
    this.backoff = Math.min(this.o.reconnectMaxMs, this.backoff * 2);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Established streams are reset; streams not yet sent wait for the next connection. */
  private resetStreams(keepUnsent = false): void {
    for (const s of [...this.streams.values()]) {
      if (keepUnsent && !s.connectSent) continue;
      this.fail(s, "reset");
    }
  }

  private message(b: Uint8Array): void {
    const p = decodeWisp(b);
    if (p === undefined) return;
    if (p.stream === 0 && this.state === "connecting" && (p.type === WISP_INFO || p.type === WISP_CLOSE)) {
      this.handshake(p.type, p.payload);
      return;
    }
    if (p.type === WISP_CONTINUE && p.stream === 0) {
      const c = continueCredit(p.payload);
      if (c === undefined) return;
      if (this.state === "connecting") {
        if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
        this.handshakeTimer = undefined;
        this.initialCredit = c;
        this.backoff = this.o.reconnectMinMs;
        this.setState("ready");
        for (const s of this.streams.values()) if (!s.connectSent) this.sendConnect(s);
      }
      return;
    }
    const s = this.streams.get(p.stream);
    if (s === undefined || s.dead) return;
    switch (p.type) {
      case WISP_DATA:
        this.markOpen(s);
        if (s.tcp) this.deliver(s, p.payload.slice());
        else s.udpH?.onMessage(p.payload.slice());
        return;
      case WISP_CONTINUE: {
        const c = continueCredit(p.payload);
        if (c === undefined || !s.tcp) return;
        this.markOpen(s);
        s.credit = c; // the remaining room, not an increment (spec/wisp.md §3)
        this.flush(s);
        return;
      }
      case WISP_CLOSE: {
        const reason = p.payload[0] ?? WISP_CLOSE_UNSPECIFIED_FALLBACK;
        if (s.tcp && reason === WISP_CLOSE_VOLUNTARY) {
          // A normal end (even one inside the grace period: the connect worked, the remote hung up).
          this.markOpen(s);
          this.streams.delete(s.id);
          if (s.paused) s.endHeld = true;
          else {
            s.dead = true;
            s.tcpH?.onEnd();
          }
          return;
        }
        this.streams.delete(s.id);
        this.fail(s, wispReasonToError(reason, s.open));
        return;
      }
    }
  }

  /** A v2 server's INFO (answered with ours) or its CLOSE on stream 0 (it refused us). */
  private handshake(type: number, payload: Uint8Array): void {
    if (type === WISP_CLOSE) {
      this.lost("blocked");
      return;
    }
    const info = this.infoExchanged ? undefined : decodeInfo(payload);
    if (info === undefined || info.major !== 2) {
      this.lost();
      return;
    }
    // Credentials it requires (u8 "required" first in both auth extensions' server payloads) we cannot give.
    for (const id of [WISP_EXT_PASSWORD, WISP_EXT_KEY]) {
      const ext = info.extensions.get(id);
      if (ext !== undefined && ext[0] !== 0) {
        this.lost("blocked");
        return;
      }
    }
    this.infoExchanged = true;
    this.udpAllowed = info.extensions.has(WISP_EXT_UDP);
    this.send(encodeInfo(2, 0, this.udpAllowed ? [WISP_EXT_UDP] : []));
  }

  private markOpen(s: Stream): void {
    if (s.open || !s.tcp) return;
    s.open = true;
    if (s.graceTimer) clearTimeout(s.graceTimer);
    s.tcpH?.onOpen();
  }

  private deliver(s: Stream, d: Uint8Array): void {
    if (s.paused) {
      s.held.push(d);
      s.heldBytes += d.length;
      if (s.heldBytes > this.o.pausedLimit) {
        this.send(encodeClose(s.id, WISP_CLOSE_CLIENT_ERROR));
        this.fail(s, "reset");
      }
      return;
    }
    s.tcpH?.onData(d);
  }

  private fail(s: Stream, e: UplinkError): void {
    if (s.dead) return;
    s.dead = true;
    if (s.graceTimer) clearTimeout(s.graceTimer);
    if (s.waitTimer) clearTimeout(s.waitTimer);
    this.streams.delete(s.id);
    if (s.tcp) s.tcpH?.onError(e);
    else s.udpH?.onError(e);
  }

  private send(b: Uint8Array): void {
    try {
      this.ws?.send(b);
    } catch {
      this.lost();
    }
  }

  private sendConnect(s: Stream): void {
    if (s.waitTimer) clearTimeout(s.waitTimer);
    if (!s.tcp && !this.udpAllowed) {
      this.fail(s, "unreachable"); // a v2 server without the UDP extension
      return;
    }
    s.connectSent = true;
    s.credit = this.initialCredit;
    this.send(encodeConnect(s.id, s.tcp ? WISP_STREAM_TCP : WISP_STREAM_UDP, s.port, s.host));
    if (s.tcp) s.graceTimer = setTimeout(() => this.markOpen(s), this.o.openGraceMs);
    this.flush(s);
  }

  /** Sends queued DATA while credit lasts (UDP streams are never credit-limited). */
  private flush(s: Stream): void {
    if (!s.connectSent || s.dead || this.state !== "ready") return;
    while (s.queue.length > 0 && (!s.tcp || s.credit > 0)) {
      const d = s.queue.shift()!;
      s.queued -= d.length;
      if (s.tcp) s.credit--;
      this.send(encodeWisp(WISP_DATA, s.id, d));
    }
    if (s.wasFull && s.queued < this.o.streamBuffer / 2) {
      s.wasFull = false;
      s.tcpH?.onDrain();
    }
  }

  private newStream(tcp: boolean, host: string, port: number): Stream {
    let id = this.nextId;
    while (this.streams.has(id) || id === 0) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0 || 1;
    const s: Stream = {
      id,
      tcp,
      host,
      port,
      credit: 0,
      queue: [],
      queued: 0,
      open: false,
      connectSent: false,
      dead: false,
      paused: false,
      held: [],
      heldBytes: 0,
      endHeld: false,
      wasFull: false,
    };
    this.streams.set(id, s);
    if (this.state === "ready") queueMicrotask(() => !s.dead && !s.connectSent && this.sendConnect(s));
    else
      s.waitTimer = setTimeout(() => {
        if (!s.dead && !s.connectSent) this.fail(s, "unreachable");
      }, this.o.handshakeTimeoutMs);
    return s;
  }

  private enqueue(s: Stream, data: Uint8Array): void {
    for (let o = 0; o < data.length; o += this.o.maxPacket) {
      const chunk = data.slice(o, o + this.o.maxPacket);
      s.queue.push(chunk);
      s.queued += chunk.length;
    }
    if (s.queued >= this.o.streamBuffer) s.wasFull = true;
    this.flush(s);
  }

  openTcp(host: string, port: number, h: UplinkTcpHandlers): UplinkTcp {
    const s = this.newStream(true, host, port);
    s.tcpH = h;
    const closeStream = (reason: number) => {
      if (s.dead) return;
      s.dead = true;
      if (s.graceTimer) clearTimeout(s.graceTimer);
      if (s.waitTimer) clearTimeout(s.waitTimer);
      this.streams.delete(s.id);
      if (s.connectSent) this.send(encodeClose(s.id, reason));
    };
    return {
      write: (data) => !s.dead && this.enqueue(s, data),
      writableBytes: () => {
        if (s.dead) return 0;
        const n = this.o.streamBuffer - s.queued;
        if (n <= 0) s.wasFull = true;
        return Math.max(0, n);
      },
      // Wisp has no half-close: the stream stays open until the server or the guest closes it fully.
      end: () => {},
      close: () => closeStream(WISP_CLOSE_VOLUNTARY),
      pause: () => {
        s.paused = true;
      },
      resume: () => {
        s.paused = false;
        while (!s.paused && s.held.length > 0) {
          const d = s.held.shift()!;
          s.heldBytes -= d.length;
          s.tcpH?.onData(d);
        }
        if (!s.paused && s.endHeld && !s.dead) {
          s.dead = true;
          s.tcpH?.onEnd();
        }
      },
    };
  }

  openUdp(host: string, port: number, h: UplinkUdpHandlers): UplinkUdp {
    const s = this.newStream(false, host, port);
    s.udpH = h;
    return {
      send: (data) => {
        if (s.dead) return;
        // One DATA per datagram (never split); one that cannot go now is dropped rather than queued
        // without bound.
        if (s.queue.length >= 64) return;
        s.queue.push(data.slice());
        s.queued += data.length;
        this.flush(s);
      },
      close: () => {
        if (s.dead) return;
        s.dead = true;
        if (s.waitTimer) clearTimeout(s.waitTimer);
        this.streams.delete(s.id);
        if (s.connectSent) this.send(encodeClose(s.id, WISP_CLOSE_VOLUNTARY));
      },
    };
  }
}

const WISP_CLOSE_UNSPECIFIED_FALLBACK = WISP_CLOSE_NETWORK_ERROR;
