// The state and the sending half of a TCP endpoint (see tcp-endpoint.ts for the state machine that
// drives it): sequence variables, windows, congestion state, the timers and everything that puts
// segments on the wire — SYNs, data with SWS avoidance, ACKs with SACK blocks, RTO retransmission with
// backoff (RFC 6298), zero-window probes and keep-alives.

import type { Timer, TimerQueue } from "../timers.ts";
import { Reassembly, SackScoreboard, SendQueue } from "./tcp-buffers.ts";
import { RttEstimator } from "./tcp-rtt.ts";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOptions, type TcpSegment } from "./tcp-segment.ts";
import { seqAdd, seqDiff, seqGt, seqLe, seqLt, seqMax } from "./tcp-seq.ts";
import { TcpTimerSet, tcpStateSends } from "./tcp-support.ts";

export type TcpState =
  | "CLOSED"
  | "SYN-SENT"
  | "SYN-RECEIVED"
  | "ESTABLISHED"
  | "FIN-WAIT-1"
  | "FIN-WAIT-2"
  | "CLOSE-WAIT"
  | "CLOSING"
  | "LAST-ACK"
  | "TIME-WAIT";

export type TcpCloseReason = "normal" | "reset" | "timeout" | "refused" | "aborted";

export interface TcpEndpointHooks {
  /** Put a segment on the wire toward the peer. */
  output(seg: TcpSegment): void;
  onEstablished(): void;
  /** In-order bytes from the peer; never more than `appRoom()` returned just before. */
  onData(data: Uint8Array): void;
  /** How many bytes the application (the uplink) takes right now. */
  appRoom(): number;
  /** The peer sent FIN: no more data will come. */
  onPeerFin(): void;
  /** The send queue has room again after having been full. */
  onSendSpace(): void;
  /** Called exactly once when the connection is gone. */
  onClosed(reason: TcpCloseReason): void;
}

export interface TcpEndpointConfig {
  /** The MSS we advertise (our MTU minus 40). */
  mss: number;
  /** Bytes we hold on the receive side (reassembly plus what the app has not taken): the window's cap. */
  rcvBuf: number;
  /** Bytes of app data we queue toward the peer. */
  sndBuf: number;
  /** Our window-scale shift when the peer offers scaling (RFC 7323). */
  wscale: number;
  iss: number;
  /** Maximum segment lifetime; TIME-WAIT lasts 2 MSL. */
  mslMs: number;
  keepIdleMs: number;
  keepIntervalMs: number;
  keepCount: number;
  /** RTO expiries before the connection is given up. */
  maxRetries: number;
  /** Delayed-ACK timeout. */
  delAckMs: number;
}

export const TCP_DEFAULTS: Omit<TcpEndpointConfig, "iss"> = {
  mss: 1460,
  rcvBuf: 256 * 1024,
  sndBuf: 256 * 1024,
  wscale: 7,
  mslMs: 30_000,
  keepIdleMs: 7_200_000,
  keepIntervalMs: 75_000,
  keepCount: 9,
  maxRetries: 12,
  delAckMs: 40,
};

/** RFC 9293 §3.7.1 default when the peer sends no MSS option. */
const DEFAULT_PEER_MSS = 536;
const TS_OPTION_BYTES = 12;

export abstract class TcpEndpointBase {
  state: TcpState = "CLOSED";

  /** The oldest unacknowledged sequence number sent, and the next one expected (a snapshot records them). */
  get positions(): { sndUna: number; rcvNxt: number } {
    return { sndUna: this.sndUna, rcvNxt: this.rcvNxt };
  }
  // Send sequence space.
  protected iss: number;
  protected sndUna: number;
  protected sndNxt: number;
  /** Highest sequence sent (snd.nxt rewinds on RTO; this does not). */
  protected sndMax: number;
  protected sndWnd = 0;
  protected sndWl1 = 0;
  protected sndWl2 = 0;
  protected sndShift = 0;
  // Receive sequence space.
  protected irs = 0;
  protected rcvNxt = 0;
  protected rcvShift = 0;
  /** Right edge of the window we last advertised; it never moves left (RFC 9293 §3.8.6.2.2). */
  protected rcvAdvEdge = 0;
  // Negotiated options.
  protected peerMss = DEFAULT_PEER_MSS;
  protected sackOk = false;
  protected tsOk = false;
  protected tsRecent = 0;
  protected lastAckSent = 0;
  protected tsOffset: number;
  /** Peer offered window scaling (passive side: we answer only then). */
  protected peerWscale: number | undefined;
  // Queues.
  readonly sndQ = new SendQueue();
  protected readonly reasm = new Reassembly();
  protected readonly toApp: Uint8Array[] = [];
  protected toAppBytes = 0;
  protected readonly score = new SackScoreboard();
  protected finQueued = false;
  protected finSeq: number | undefined;
  protected finReceived = false;
  /** Sequence of the peer's FIN seen out of order, applied once the data before it arrives. */
  protected peerFinSeq: number | undefined;
  protected sndQWasFull = false;
  protected synAckSent = false;
  // Congestion control.
  protected cwnd = 0;
  protected ssthresh = 0x7fffffff;
  protected dupAcks = 0;
  protected inRecovery = false;
  protected recover = 0;
  protected retxNext = 0;
  protected retries = 0;
  protected readonly rtt = new RttEstimator();
  protected timedSeq: number | undefined;
  protected timedAt = 0;
  protected ackPending = 0;
  protected keepProbes = 0;
  /** When the last acceptable segment arrived (keep-alive measures idleness from it). */
  protected lastRx = 0;
  protected readonly t: TcpTimerSet;
  protected closedReported = false;
  /** Largest payload we may put in one segment (raised when the guest accepts TSO superpackets). */
  tsoMax = 0;

  constructor(
    protected readonly timers: TimerQueue,
    protected readonly hooks: TcpEndpointHooks,
    readonly cfg: TcpEndpointConfig,
  ) {
    this.iss = cfg.iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.tsOffset = (cfg.iss * 2654435761) >>> 0;
    this.t = new TcpTimerSet(timers);
  }

  /** Payload bytes per ordinary segment: the peer's MSS less our per-segment options. */
  get effMss(): number {
    return Math.max(64, Math.min(this.peerMss, this.cfg.mss) - (this.tsOk ? TS_OPTION_BYTES : 0));
  }

  protected get maxSeg(): number {
    const m = this.effMss;
    return this.tsoMax > m ? Math.floor(this.tsoMax / m) * m : m;
  }

  protected get flight(): number {
    return seqDiff(this.sndMax, this.sndUna);
  }

  /** Sequence number of the first byte in the send queue (after our SYN). */
  protected get sndQBase(): number {
    return seqMax(this.sndUna, seqAdd(this.iss, 1));
  }

  /** Sequence just past the last data byte; once FIN is queued it is fixed (it is the FIN's sequence). */
  protected get dataEnd(): number {
    return this.finSeq ?? seqAdd(this.sndQBase, this.sndQ.length);
  }

  /** Bytes the app may still queue toward the peer. */
  sendSpace(): number {
    return Math.max(0, this.cfg.sndBuf - this.sndQ.length);
  }

  get receiveWindow(): number {
    return Math.max(0, this.cfg.rcvBuf - this.toAppBytes);
  }

  protected sendSyn(withAck: boolean): void {
    const passive = withAck && this.state === "SYN-RECEIVED";
    const o: TcpOptions = { mss: this.cfg.mss };
    if (!passive || this.peerWscale !== undefined) o.wscale = this.cfg.wscale;
    if (!passive || this.sackOk) o.sackPermitted = true;
    if (!passive || this.tsOk) {
      o.tsVal = this.tsNow();
      o.tsEcr = passive ? this.tsRecent : 0;
    }
    const wnd = Math.min(0xffff, this.receiveWindow);
    this.rcvAdvEdge = seqAdd(this.rcvNxt, wnd);
    this.hooks.output({
      seq: this.iss,
      ack: withAck ? this.rcvNxt : 0,
      flags: TCP_SYN | (withAck ? TCP_ACK : 0),
      window: wnd,
      options: o,
      payload: new Uint8Array(0),
    });
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = seqMax(this.sndMax, this.sndNxt);
  }

  // ---- output --------------------------------------------------------------------------------------

  /** Send whatever the windows allow (RFC 9293 §3.8.6.2.1 sender-side SWS avoidance). */
  protected pump(): void {
    const st = this.state;
    if (st !== "ESTABLISHED" && st !== "CLOSE-WAIT" && st !== "FIN-WAIT-1" && st !== "CLOSING" && st !== "LAST-ACK")
      return;
    for (let guard = 0; guard < 4096; guard++) {
      // Skip ranges the peer already holds (after an RTO rewound snd.nxt).
      if (seqLt(this.sndNxt, this.sndMax)) {
        const e = this.score.sackedEnd(this.sndNxt);
        if (e !== undefined) {
          this.sndNxt = e;
          continue;
        }
      }
      const avail = seqDiff(this.dataEnd, this.sndNxt);
      const limit = seqAdd(this.sndUna, Math.min(this.sndWnd, this.cwnd));
      const usable = seqDiff(limit, this.sndNxt);
      if (avail > 0) {
        let len = Math.min(avail, usable, this.maxSeg);
        if (seqLt(this.sndNxt, this.sndMax)) {
          const next = this.score.nextStart(this.sndNxt);
          if (next !== undefined) len = Math.min(len, seqDiff(next, this.sndNxt));
        }
        if (len <= 0) break;
        // Hold back a runt while data is in flight unless it is all we have (Nagle-like, no latency cost
        // for request/response since the last piece always goes).
        if (len < avail && len < this.effMss && this.flight > 0) break;
        this.sendRange(this.sndNxt, len);
        this.sndNxt = seqAdd(this.sndNxt, len + (this.finFollows(this.sndNxt, len) ? 1 : 0));
        this.sndMax = seqMax(this.sndMax, this.sndNxt);
        continue;
      }
      if (this.finQueued && avail === 0 && !seqGt(this.sndNxt, this.dataEnd)) {
        this.sendRange(this.sndNxt, 0);
        this.sndNxt = seqAdd(this.sndNxt, 1);
        this.sndMax = seqMax(this.sndMax, this.sndNxt);
      }
      break;
    }
    if (this.flight > 0 && !this.t.rto) this.armRto();
    const pending = seqDiff(this.dataEnd, this.sndNxt);
    if (this.sndWnd === 0 && pending > 0 && this.flight === 0 && !this.t.persist) {
      this.t.persist = this.timers.after(this.rtt.rto, () => this.onPersist());
    }
  }

  protected finFollows(seq: number, len: number): boolean {
    return this.finQueued && seqAdd(seq, len) === this.dataEnd;
  }

  /** Emits data [seq, seq+len) from the send queue, with FIN when it ends the stream. */
  protected sendRange(seq: number, len: number): void {
    const payload = new Uint8Array(len);
    if (len > 0) this.sndQ.copy(payload, 0, seqDiff(seq, this.sndQBase), len);
    let flags = TCP_ACK;
    if (this.finFollows(seq, len)) flags |= TCP_FIN;
    if (len > 0 && seqAdd(seq, len) === this.dataEnd) flags |= TCP_PSH;
    const s = this.seg(seq, this.rcvNxt, flags, {});
    s.payload = payload;
    if (seqLt(seq, this.sndMax)) this.timedSeq = undefined;
    else if (this.timedSeq === undefined && !this.tsOk && len > 0) {
      this.timedSeq = seqAdd(seq, len);
      this.timedAt = this.timers.now();
    }
    this.hooks.output(s);
  }

  protected sendAck(): void {
    if (this.state === "CLOSED" || this.state === "SYN-SENT") return;
    const o: TcpOptions = {};
    if (this.sackOk && !this.reasm.empty) o.sack = this.reasm.sackBlocks(this.tsOk ? 3 : 4);
    this.hooks.output(this.seg(this.sndNxt, this.rcvNxt, TCP_ACK, o));
  }

  /** Builds a segment carrying our current ACK, window and timestamp. */
  protected seg(seq: number, ack: number, flags: number, o: TcpOptions): TcpSegment {
    let window = 0;
    if (flags & TCP_ACK) {
      window = this.windowToAdvertise(true);
      this.lastAckSent = ack;
      this.ackPending = 0;
      this.t.delack = cancel(this.t.delack);
    }
    if (this.tsOk && !(flags & TCP_RST)) {
      o.tsVal = this.tsNow();
      o.tsEcr = this.tsRecent;
    }
    return { seq, ack, flags, window: window >>> this.rcvShift, options: o, payload: new Uint8Array(0) };
  }

  /**
   * The window to offer: what the receive buffer has free, moved right only in steps worth announcing
   * (receiver SWS avoidance) and never left of an edge already advertised. `commit` records the edge.
   */
  protected windowToAdvertise(commit: boolean): number {
    const unit = 1 << this.rcvShift;
    const free = Math.min(this.receiveWindow, 0xffff * unit);
    let edge = seqAdd(this.rcvNxt, Math.floor(free / unit) * unit);
    const step = Math.min(this.cfg.rcvBuf / 2, this.effMss);
    if (seqLt(edge, this.rcvAdvEdge) || seqDiff(edge, this.rcvAdvEdge) < step)
      edge = seqMax(this.rcvAdvEdge, this.rcvNxt);
    // The scaled field rounds down, so the offer never exceeds the buffer; an edge kept from before may
    // lie up to one unit beyond what the field shows, which is harmless (we still accept up to it).
    const wnd = Math.min(0xffff * unit, Math.floor(seqDiff(edge, this.rcvNxt) / unit) * unit);
    if (commit) this.rcvAdvEdge = seqMax(this.rcvAdvEdge, seqAdd(this.rcvNxt, wnd));
    return wnd;
  }

  // ---- timers --------------------------------------------------------------------------------------

  protected armRto(): void {
    this.t.rto = cancel(this.t.rto);
    this.t.rto = this.timers.after(this.rtt.rto, () => this.onRto());
  }

  protected onRto(): void {
    this.t.rto = undefined;
    if (this.state === "CLOSED" || this.state === "TIME-WAIT") return;
    if (this.flight === 0) return;
    // A zero window makes these persist probes: the peer is alive, so they do not count toward giving up.
    if (this.sndWnd > 0 || this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") this.retries++;
    const limit = this.state === "SYN-SENT" || this.state === "SYN-RECEIVED" ? 6 : this.cfg.maxRetries;
    if (this.retries > limit) {
      this.abort("timeout");
      return;
    }
    this.rtt.expired();
    const mss = this.effMss;
    this.ssthresh = Math.max(Math.floor(this.flight / 2), 2 * mss);
    this.cwnd = mss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.timedSeq = undefined;
    this.score.clear(); // the peer may have reneged (RFC 2018 §8)
    if (this.state === "SYN-SENT" || (this.state === "SYN-RECEIVED" && seqLe(this.sndUna, this.iss))) {
      this.sndNxt = this.iss;
      this.sendSyn(this.state === "SYN-RECEIVED");
    } else {
      this.sndNxt = this.sndUna;
      const avail = seqDiff(this.dataEnd, this.sndNxt);
      // Retransmit one segment even into a zero window: that is the probe.
      this.sendRange(this.sndNxt, Math.max(0, Math.min(avail, mss)));
      const sent = Math.max(0, Math.min(avail, mss));
      this.sndNxt = seqAdd(this.sndNxt, sent + (this.finFollows(this.sndUna, sent) ? 1 : 0));
      this.sndMax = seqMax(this.sndMax, this.sndNxt);
    }
    this.armRto();
  }

  /** Zero-window probe (RFC 9293 §3.8.6.1): push one byte past the window; the RTO then repeats it. */
  protected onPersist(): void {
    this.t.persist = undefined;
    if (!tcpStateSends(this.state) && this.state !== "FIN-WAIT-1" && this.state !== "LAST-ACK") return;
    const avail = seqDiff(this.dataEnd, this.sndNxt);
    if (this.sndWnd > 0 || avail <= 0 || this.flight > 0) {
      this.pump();
      return;
    }
    this.sendRange(this.sndNxt, 1);
    this.sndNxt = seqAdd(this.sndNxt, 1 + (this.finFollows(this.sndNxt, 1) ? 1 : 0));
    this.sndMax = seqMax(this.sndMax, this.sndNxt);
    this.armRto();
  }

  protected onDelAck(): void {
    this.t.delack = undefined;
    if (this.ackPending > 0) this.sendAck();
  }

  protected armKeepalive(delay?: number): void {
    if (this.state !== "ESTABLISHED" && this.state !== "CLOSE-WAIT") return;
    this.t.keepalive = cancel(this.t.keepalive);
    delay ??= this.keepProbes === 0 ? this.cfg.keepIdleMs : this.cfg.keepIntervalMs;
    this.t.keepalive = this.timers.after(delay, () => this.onKeepalive());
  }

  protected onKeepalive(): void {
    this.t.keepalive = undefined;
    if (this.state !== "ESTABLISHED" && this.state !== "CLOSE-WAIT") return;
    const idle = this.timers.now() - this.lastRx;
    if (this.keepProbes === 0 && idle < this.cfg.keepIdleMs) {
      this.armKeepalive(this.cfg.keepIdleMs - idle);
      return;
    }
    if (this.flight > 0) {
      this.armKeepalive(); // the RTO is already watching the peer
      return;
    }
    if (this.keepProbes >= this.cfg.keepCount) {
      this.abort("timeout");
      return;
    }
    this.keepProbes++;
    // RFC 9293 §3.8.4: a segment one below snd.nxt provokes an ACK from a live peer.
    this.hooks.output(this.seg(seqAdd(this.sndNxt, -1), this.rcvNxt, TCP_ACK, {}));
    this.armKeepalive();
  }

  protected finish(reason: TcpCloseReason): void {
    this.state = "CLOSED";
    this.t.cancelAll();
    if (this.closedReported) return;
    this.closedReported = true;
    this.hooks.onClosed(reason);
  }

  protected tsNow(): number {
    return (Math.floor(this.timers.now()) + this.tsOffset) >>> 0;
  }

  protected tsElapsed(ecr: number): number {
    return ((this.tsNow() - ecr) >>> 0) & 0x7fffffff;
  }

  /** Introspection for tests and the UI. */
  snapshot(): Record<string, number | string | boolean> {
    return {
      state: this.state,
      sndUna: this.sndUna,
      sndNxt: this.sndNxt,
      sndMax: this.sndMax,
      sndWnd: this.sndWnd,
      rcvNxt: this.rcvNxt,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      rto: this.rtt.rto,
      sackOk: this.sackOk,
      tsOk: this.tsOk,
      queued: this.sndQ.length,
      toApp: this.toAppBytes,
    };
  }

  /** Tear down now with RST (RFC 9293 §3.10.5 ABORT). */
  abstract abort(reason?: TcpCloseReason): void;
}

export function cancel(t: Timer | undefined): undefined {
  t?.cancel();
  return undefined;
}
