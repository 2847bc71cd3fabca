// The `--net relay` backend: the guest's Ethernet frames over a WebSocket to the relay's L2 switch
// (src/relay/, endpoint /l2/<network>), one binary message per frame (the websockproxy convention).
// Written against a minimal socket interface so the browser's WebSocket and Node's `ws` both fit.
//
// The wire carries plain Ethernet only: the switch and the other guests know nothing of virtio offload
// metadata, so we advertise no capabilities and still split any superpacket / complete any partial
// checksum handed to us (the device normally does it already; this keeps the wire right regardless).
//
// Link state follows the socket: down until it opens, down while it is gone, reconnecting with
// exponential backoff. Ethernet has no flow control, so nothing is kept across a disconnect. The relay's
// gateway holds the guest's TCP connections (its NAT), and they end with the socket: when it drops, each
// connection the guest's frames showed gets a RST from the gateway's side, so the guest's programs fail at
// once instead of waiting minutes on a peer that is gone.
//
// Backpressure toward the device: frames go straight into the socket while its bufferedAmount is under
// a high-water mark, then into a bounded queue; when that is full transmit() answers "not now" and the
// device waits for onWritable. Neither WebSocket API has a drain event, so a short timer polls
// bufferedAmount while the queue is non-empty. Toward the device: a refused frame waits in a bounded
// queue for resumeReceive(); past the bound frames are dropped and counted (guests' TCP recovers).

import type { NetBackend, NetCapabilities, NetReceiveCallback } from "./backend.ts";
import { NO_OFFLOADS } from "./backend.ts";
import { framesForWire, WireCounters } from "./link/plain-wire.ts";
import type { GsoInfo } from "./offload/gso.ts";
import { tcpFrame } from "./stack/frames.ts";
import { TCP_ACK, TCP_RST } from "./stack/tcp/tcp-segment.ts";
import { get16, get32 } from "./wire/bytes.ts";

/**
 * The /l2/<network> URL on the same relay as `relayUrl` (which may be its Wisp URL, ws://host/wisp/):
 * a URL already naming an L2 network is kept; otherwise the path becomes /l2/<network> and the query
 * (a ?token=) stays. Undefined for something that is not a ws:// or wss:// URL.
 */
export function relayL2Url(relayUrl: string, network = "default"): string | undefined {
  let u: URL;
  try {
    u = new URL(relayUrl);
  } catch {
    return undefined;
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") return undefined;
  if (!/^\/l2\/[A-Za-z0-9_-]{1,64}\/?$/.test(u.pathname)) u.pathname = `/l2/${network}`;
  return u.href;
}

/** Bivariant handler type, so both the DOM's `(this: WebSocket, ev: MessageEvent)` and ws's fit. */
type Handler<E> = { bivarianceHack(ev: E): void }["bivarianceHack"];

/** The part of a WebSocket (browser or `ws`) this backend uses. */
export interface RelaySocket {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  /** Only ArrayBuffer-backed views: browsers refuse views of a SharedArrayBuffer. */
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
}

const WS_OPEN = 1;
const WS_NORMAL_CLOSURE = 1000;
const ETH_HEADER = 14;

export interface RelayBackendOptions {
  /** Makes a new socket to the relay's /l2/<network> URL (called again for every reconnect). */
  connect: () => RelaySocket;
  /** Largest frame either way (default 1518: the switch's limit, MTU 1500 + header + 802.1Q tag). */
  maxFrameBytes?: number;
  /** Socket bufferedAmount above which frames wait in our queue instead (default 256 KiB). */
  socketHighWater?: number;
  /** Bytes our send queue holds before transmit() refuses (default 256 KiB). */
  sendQueueBytes?: number;
  /** Bytes of received frames held for a device that is not taking them (default 1 MiB). */
  receiveQueueBytes?: number;
  /** First reconnect delay; doubles per failed attempt up to maxBackoffMs (defaults 250 ms, 10 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A socket that has not opened after this long is abandoned and retried (default 10 s). */
  connectTimeoutMs?: number;
  /** Told when frames arrived for the guest (a run loop sleeping in WFI should step). */
  onActivity?: () => void;
  /** Told about connection changes, for logs and the UI. */
  onStatus?: (status: RelayStatus, detail?: string) => void;
}

export type RelayStatus = "connecting" | "open" | "waiting" | "closed";

export type RelayDropReason =
  | "link-down"
  | "too-large"
  | "runt"
  | "bad-gso"
  | "disconnected"
  | "not-binary"
  | "rx-queue-full";

export class RelayCounters extends WireCounters<RelayDropReason> {
  /** transmit() answered "not now". */
  txBackpressure = 0;
  connects = 0;
  disconnects = 0;
  /** Guest TCP connections reset because the relay went away. */
  tcpResets = 0;
}

/** In Node a pending timer of ours must not keep the process alive by itself. */
function unref(t: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  if (typeof t === "object" && t !== null && "unref" in t) (t as { unref(): void }).unref();
  return t;
}

/** Poll interval for bufferedAmount while frames wait (no drain event exists to wait on). */
const POLL_MS = 2;

export class RelayBackend implements NetBackend {
  readonly name = "relay";
  readonly capabilities: NetCapabilities = NO_OFFLOADS;
  readonly counters = new RelayCounters();
  status: RelayStatus = "connecting";
  /** Why the last connection ended or failed, for the UI. */
  lastError: string | undefined;

  private readonly o: Required<Omit<RelayBackendOptions, "onActivity" | "onStatus">> & RelayBackendOptions;
  private ws: RelaySocket | undefined;
  private up = false;
  private closed = false;
  private attempt = 0;
  private receive: NetReceiveCallback | undefined;
  private writable: (() => void) | undefined;
  private linkListener: ((up: boolean) => void) | undefined;
  private wantWritable = false;
  private sendQueue: Uint8Array[] = [];
  private sendQueued = 0;
  private rxQueue: Uint8Array[] = [];
  private rxQueued = 0;
  /** The guest's TCP connections as its frames show them (for a snapshot; see saveState). */
  private readonly guestTcp = new Map<string, GuestTcp>();
  /** Frames for the guest once the link is up (after a restore: see restoreState). */
  private probes: Uint8Array[] = [];
  private poll: ReturnType<typeof setTimeout> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private openTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: RelayBackendOptions) {
    this.o = {
      maxFrameBytes: 1518,
      socketHighWater: 256 * 1024,
      sendQueueBytes: 256 * 1024,
      receiveQueueBytes: 1024 * 1024,
      initialBackoffMs: 250,
      maxBackoffMs: 10_000,
      connectTimeoutMs: 10_000,
      ...opts,
    };
    this.open();
  }

  get linkUp(): boolean {
    return this.up;
  }

  transmit(frame: Uint8Array, gso?: GsoInfo): boolean {
    const c = this.counters;
    if (this.closed || !this.up) {
      c.dropTx("link-down");
      return true; // a cable with nobody on it eats frames; the device sees link down anyway
    }
    this.track(frame);
    const frames = framesForWire(frame, gso, c);
    if (frames === undefined) return true;
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    // All of a split superpacket or none of it; an empty queue takes anything so nothing sticks.
    if (this.sendQueue.length > 0 && this.sendQueued + bytes > this.o.sendQueueBytes) {
      c.txBackpressure++;
      this.wantWritable = true;
      this.armPoll();
      return false;
    }
    for (const f of frames) {
      if (f.length > this.o.maxFrameBytes) c.dropTx("too-large");
      else if (f.length < ETH_HEADER) c.dropTx("runt");
      else {
        this.sendQueue.push(f);
        this.sendQueued += f.length;
      }
    }
    this.flush();
    return true;
  }

  onReceive(cb: NetReceiveCallback): void {
    this.receive = cb;
    this.drainRx();
  }

  resumeReceive(): void {
    this.drainRx();
  }

  onWritable(cb: () => void): void {
    this.writable = cb;
  }

  onLinkChange(cb: (up: boolean) => void): void {
    this.linkListener = cb;
  }

  /** Frames waiting for the socket / for the device. */
  get queued(): { send: number; receive: number } {
    return { send: this.sendQueue.length, receive: this.rxQueue.length };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of [this.poll, this.retry, this.openTimer]) if (t !== undefined) clearTimeout(t);
    this.poll = this.retry = this.openTimer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    if (ws !== undefined) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(WS_NORMAL_CLOSURE, "closed");
      } catch {
        // a socket still connecting may refuse close(); it is abandoned either way
      }
    }
    this.dropQueues();
    this.setStatus("closed");
    this.setLink(false);
    this.receive = undefined;
  }

  // ---- connection ----

  private open(): void {
    this.retry = undefined;
    this.setStatus("connecting");
    let ws: RelaySocket;
    try {
      ws = this.o.connect();
    } catch (e) {
      this.lost(`cannot connect: ${(e as Error).message}`);
      return;
    }
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      if (this.ws !== ws) return;
      if (this.openTimer !== undefined) clearTimeout(this.openTimer);
      this.openTimer = undefined;
      this.attempt = 0;
      this.counters.connects++;
      this.lastError = undefined;
      this.setStatus("open");
      this.setLink(true);
      this.sendProbes();
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.input(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.lost(`closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`);
    };
    ws.onerror = () => {
      // Always followed by close, which carries the code; nothing to do here.
    };
    this.openTimer = unref(
      setTimeout(() => {
        this.openTimer = undefined;
        if (this.ws !== ws || ws.readyState === WS_OPEN) return;
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try {
          ws.close();
        } catch {
          // abandoned anyway
        }
        this.lost("connect timed out");
      }, this.o.connectTimeoutMs),
    );
  }

  /** The socket is gone (or never came): link down, queued frames dropped, a reconnect scheduled. */
  private lost(why: string): void {
    const wasUp = this.up;
    this.ws = undefined;
    if (this.openTimer !== undefined) clearTimeout(this.openTimer);
    this.openTimer = undefined;
    this.lastError = why;
    if (wasUp) this.counters.disconnects++;
    this.dropQueues();
    if (wasUp) this.resetGuestTcp();
    this.setLink(false);
    if (this.closed) return;
    const base = Math.min(this.o.maxBackoffMs, this.o.initialBackoffMs * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    // Jitter, so many pages behind one restarted relay do not all come back in the same instant.
    const delay = Math.round(base * (0.8 + 0.2 * Math.random()));
    this.setStatus("waiting", `${why}; retrying in ${delay} ms`);
    this.retry = unref(setTimeout(() => this.open(), delay));
  }

  private setStatus(s: RelayStatus, detail?: string): void {
    this.status = s;
    this.o.onStatus?.(s, detail ?? this.lastError);
  }

  private setLink(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.linkListener?.(up);
  }

  private dropQueues(): void {
    if (this.sendQueue.length > 0) this.counters.dropTx("disconnected", this.sendQueue.length);
    this.sendQueue = [];
    this.sendQueued = 0;
    if (this.poll !== undefined) clearTimeout(this.poll);
    this.poll = undefined;
    // A device waiting for room must hear that transmit() takes (and drops) frames again.
    this.wakeWriter();
  }

  // ---- transmit side ----

  private flush(): void {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WS_OPEN) return;
    let i = 0;
    while (i < this.sendQueue.length && ws.bufferedAmount < this.o.socketHighWater) {
      const f = this.sendQueue[i++]!;
      // Frames are fresh copies in practice; a view of shared guest memory would be refused by send().
      ws.send(f.buffer instanceof ArrayBuffer ? (f as Uint8Array<ArrayBuffer>) : f.slice());
      this.sendQueued -= f.length;
      this.counters.txFrames++;
      this.counters.txBytes += f.length;
    }
    if (i > 0) this.sendQueue = i === this.sendQueue.length ? [] : this.sendQueue.slice(i);
    if (this.sendQueue.length > 0) this.armPoll();
    if (this.sendQueued <= this.o.sendQueueBytes / 2) this.wakeWriter();
  }

  private armPoll(): void {
    if (this.poll !== undefined || this.closed) return;
    this.poll = unref(
      setTimeout(() => {
        this.poll = undefined;
        this.flush();
      }, POLL_MS),
    );
  }

  private wakeWriter(): void {
    if (!this.wantWritable) return;
    this.wantWritable = false;
    this.writable?.();
  }

  /**
   * The gateway's connections are gone with the socket: each one the guest has open gets a RST (with the link
   * still up, so the device takes it). Its sequence number is what the guest acknowledged last and, when the
   * gateway sent more since, the end of that too: one of them is the guest's RCV.NXT, which a RST must hit
   * exactly (RFC 5961 §3.2; any other in the window only draws a challenge ACK).
   */
  private resetGuestTcp(): void {
    if (this.guestTcp.size === 0) return;
    for (const c of this.guestTcp.values()) {
      const seqs = c.peerNext !== undefined && c.peerNext !== c.ack ? [c.ack, c.peerNext] : [c.ack];
      for (const seq of seqs) {
        const { frame } = tcpFrame(
          { srcMac: Uint8Array.from(c.peerMac), dstMac: Uint8Array.from(c.guestMac), src: c.remoteIp, dst: c.guestIp },
          c.remotePort,
          c.guestPort,
          { seq, ack: c.seqNext, flags: TCP_RST | TCP_ACK, window: 0, options: {}, payload: new Uint8Array(0) },
          1460,
        );
        this.rxQueue.push(frame);
        this.rxQueued += frame.length;
      }
      this.counters.tcpResets++;
    }
    this.guestTcp.clear();
    this.drainRx();
    this.o.onActivity?.();
  }

  /** Notes how far the gateway's side of a tracked connection has sent (a frame for the guest). */
  private trackPeer(f: Uint8Array): void {
    if (this.guestTcp.size === 0) return;
    if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6 || (f[14]! & 0xf0) !== 0x40) return;
    const t = 14 + (f[14]! & 0x0f) * 4;
    if (f.length < t + 20) return;
    const key = `${get32(f, 30)}:${(f[t + 2]! << 8) | f[t + 3]!}>${get32(f, 26)}:${(f[t]! << 8) | f[t + 1]!}`;
    const e = this.guestTcp.get(key);
    if (e === undefined) return;
    const flags = f[t + 13]!;
    const ipLen = Math.min(f.length - 14, get16(f, 16));
    const len = Math.max(0, ipLen - (t - 14) - (f[t + 12]! >> 4) * 4) + (flags & 0x03 ? 1 : 0);
    e.peerNext = (get32(f, t + 4) + len) >>> 0;
  }

  // ---- snapshots ----

  /**
   * Notes a guest TCP segment (IPv4, from the guest's own frames): the connection, where the guest's sequence
   * space is and what it acknowledged. The relay's gateway holds the connections themselves; after a restore
   * this is all the client side knows of them.
   */
  private track(f: Uint8Array): void {
    if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6 || (f[14]! & 0xf0) !== 0x40) return;
    const ihl = (f[14]! & 0x0f) * 4;
    const t = 14 + ihl;
    if (f.length < t + 20) return;
    const flags = f[t + 13]!;
    const src = get32(f, 26);
    const dst = get32(f, 30);
    const sport = (f[t]! << 8) | f[t + 1]!;
    const dport = (f[t + 2]! << 8) | f[t + 3]!;
    const key = `${src}:${sport}>${dst}:${dport}`;
    if ((flags & 0x05) !== 0) {
      // RST or FIN: the guest is done with it.
      this.guestTcp.delete(key);
      return;
    }
    if ((flags & TCP_ACK) === 0) return;
    // From the IP total length: a short frame carries Ethernet padding after the segment.
    const len = Math.min(f.length - 14, get16(f, 16)) - ihl - (f[t + 12]! >> 4) * 4;
    const e = this.guestTcp.get(key);
    if (e !== undefined) {
      e.seqNext = (get32(f, t + 4) + Math.max(0, len)) >>> 0;
      e.ack = get32(f, t + 8);
      return;
    }
    if (this.guestTcp.size >= MAX_TRACKED_TCP) this.guestTcp.delete(this.guestTcp.keys().next().value!);
    this.guestTcp.set(key, {
      guestMac: [...f.subarray(6, 12)],
      peerMac: [...f.subarray(0, 6)],
      guestIp: src,
      guestPort: sport,
      remoteIp: dst,
      remotePort: dport,
      seqNext: (get32(f, t + 4) + Math.max(0, len)) >>> 0,
      ack: get32(f, t + 8),
    });
  }

  /** For a snapshot: the guest's open TCP connections as its frames showed them. */
  saveState(): unknown {
    return { kind: "relay", tcp: [...this.guestTcp.values()].map(({ peerNext: _, ...c }) => c) };
  }

  /**
   * After a restore: the guest's connections went with the saved relay session (the gateway closes them when
   * it leaves). Once the link is up, each gets an ACK from before the guest's window; the guest answers with an
   * ACK, and a gateway that no longer has the connection resets it (a gateway that still has it goes on), so
   * the guest's sockets do not wait for data that will never come.
   */
  restoreState(state: unknown): void {
    const s = state as { kind?: unknown; tcp?: unknown } | null;
    if (typeof s !== "object" || s === null || s.kind !== "relay" || !Array.isArray(s.tcp)) return;
    const mac = (v: unknown): v is number[] =>
      Array.isArray(v) && v.length === 6 && v.every((b) => Number.isInteger(b) && b >= 0 && b < 256);
    const u = (v: unknown, max: number): v is number =>
      Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
    for (const x of s.tcp.slice(0, MAX_TRACKED_TCP)) {
      const c = x as Partial<GuestTcp> | null;
      if (typeof c !== "object" || c === null || !mac(c.guestMac) || !mac(c.peerMac)) continue;
      if (!u(c.guestIp, 0xffffffff) || !u(c.remoteIp, 0xffffffff) || !u(c.seqNext, 0xffffffff) || !u(c.ack, 0xffffffff))
        continue;
      if (!u(c.guestPort, 65535) || !u(c.remotePort, 65535)) continue;
      const { frame } = tcpFrame(
        { srcMac: Uint8Array.from(c.peerMac), dstMac: Uint8Array.from(c.guestMac), src: c.remoteIp, dst: c.guestIp },
        c.remotePort,
        c.guestPort,
        {
          seq: (c.ack - 1) >>> 0,
          ack: c.seqNext,
          flags: TCP_ACK,
          window: 65535,
          options: {},
          payload: new Uint8Array(0),
        },
        1460,
      );
      this.probes.push(frame);
    }
    if (this.up) this.sendProbes();
  }

  private sendProbes(): void {
    const probes = this.probes;
    this.probes = [];
    for (const f of probes) {
      this.rxQueue.push(f);
      this.rxQueued += f.length;
    }
    if (probes.length > 0) {
      this.drainRx();
      this.o.onActivity?.();
    }
  }

  // ---- receive side ----

  private input(data: unknown): void {
    const c = this.counters;
    let frame: Uint8Array;
    if (data instanceof ArrayBuffer) frame = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      c.dropRx("not-binary");
      return;
    }
    if (frame.length < ETH_HEADER) return void c.dropRx("runt");
    if (frame.length > this.o.maxFrameBytes) return void c.dropRx("too-large");
    c.rxFrames++;
    c.rxBytes += frame.length;
    this.trackPeer(frame);
    if (this.rxQueue.length === 0 && this.receive?.(frame) === true) {
      this.o.onActivity?.();
      return;
    }
    if (this.rxQueued + frame.length > this.o.receiveQueueBytes) return void c.dropRx("rx-queue-full");
    this.rxQueue.push(frame);
    this.rxQueued += frame.length;
    this.o.onActivity?.();
  }

  private drainRx(): void {
    const cb = this.receive;
    if (cb === undefined) return;
    let i = 0;
    while (i < this.rxQueue.length && cb(this.rxQueue[i]!)) this.rxQueued -= this.rxQueue[i++]!.length;
    if (i > 0) this.rxQueue = i === this.rxQueue.length ? [] : this.rxQueue.slice(i);
  }
}

/** Connections tracked for a snapshot at most (the oldest goes first). */
const MAX_TRACKED_TCP = 1024;

/** A guest TCP connection as the relay backend saw it in the guest's frames. */
interface GuestTcp {
  guestMac: number[];
  /** The MAC the guest sends it to (the gateway's). */
  peerMac: number[];
  guestIp: number;
  guestPort: number;
  remoteIp: number;
  remotePort: number;
  /** The guest's next sequence number and what it acknowledged last. */
  seqNext: number;
  ack: number;
  /** The gateway's next sequence number, as its frames to the guest showed it (not saved in a snapshot). */
  peerNext?: number;
}
