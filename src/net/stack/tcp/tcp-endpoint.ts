// One TCP connection between the guest and the gateway (RFC 9293 state machine). The stack owns addresses
// and framing; this class owns sequence space, windows, timers and the two byte queues. Every segment it
// is given came from the guest and is hostile: acknowledgements beyond what was sent, windows that lie,
// SACK blocks outside the flight and options of any shape are all bounded here.
//
// Congestion control is NewReno (RFC 5681/6582) with SACK-driven hole repair (a subset of RFC 6675);
// the RTO follows RFC 6298; timestamps and window scale follow RFC 7323; RST/SYN handling in synchronized
// states follows RFC 5961 (challenge ACKs) so a guest cannot tear down a flow with a blind segment.

import { cancel, type TcpCloseReason, TcpEndpointBase, type TcpState } from "./tcp-endpoint-base.ts";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpOptions, type TcpSegment } from "./tcp-segment.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, seqMax } from "./tcp-seq.ts";
import { type RstReason, tcpStateSends } from "./tcp-support.ts";

export {
  TCP_DEFAULTS,
  type TcpCloseReason,
  type TcpEndpointConfig,
  type TcpEndpointHooks,
  type TcpState,
} from "./tcp-endpoint-base.ts";

export class TcpEndpoint extends TcpEndpointBase {
  // ---- opening -------------------------------------------------------------------------------------

  /** Passive open: the guest's SYN arrived; nothing is sent until `accept()` (after the uplink connects). */
  listen(syn: TcpSegment): void {
    this.irs = syn.seq;
    this.rcvNxt = seqAdd(syn.seq, 1);
    this.takeSynOptions(syn.options);
    this.sndWnd = syn.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.sndWl1 = syn.seq;
    this.state = "SYN-RECEIVED";
  }

  accept(): void {
    if (this.state !== "SYN-RECEIVED" || this.synAckSent) return;
    this.synAckSent = true;
    this.sendSyn(true);
    this.armRto();
  }

  /** The uplink refused: answer the SYN with RST (the guest sees "connection refused"). */
  refuse(): void {
    if (this.state === "SYN-RECEIVED" && !this.synAckSent) {
      this.hooks.output(this.seg(0, seqAdd(this.irs, 1), TCP_RST | TCP_ACK, {}));
    }
    this.finish("refused");
  }

  /** Active open toward the guest (port forwards). */
  connect(): void {
    this.state = "SYN-SENT";
    this.sendSyn(false);
    this.armRto();
  }

  protected takeSynOptions(o: TcpOptions): void {
    if (o.mss !== undefined && o.mss >= 64) this.peerMss = o.mss;
    if (o.wscale !== undefined) {
      this.peerWscale = o.wscale;
      this.sndShift = o.wscale;
      this.rcvShift = this.cfg.wscale;
    }
    this.sackOk = o.sackPermitted === true;
    if (o.tsVal !== undefined) {
      this.tsOk = true;
      this.tsRecent = o.tsVal;
    }
  }

  // ---- application side ----------------------------------------------------------------------------

  write(data: Uint8Array): void {
    if (!tcpStateSends(this.state) || this.finQueued) return;
    this.sndQ.push(data);
    if (this.sndQ.length >= this.cfg.sndBuf) this.sndQWasFull = true;
    this.pump();
  }

  /** No more app data: FIN after what is queued (RFC 9293 §3.10.4 CLOSE). */
  shutdown(): void {
    if (this.finQueued) return;
    this.finSeq = seqAdd(this.sndQBase, this.sndQ.length);
    switch (this.state) {
      case "SYN-SENT":
        this.finish("aborted");
        return;
      case "SYN-RECEIVED":
        if (!this.synAckSent) {
          this.refuse();
          return;
        }
        this.finQueued = true;
        this.state = "FIN-WAIT-1";
        return;
      case "ESTABLISHED":
        this.finQueued = true;
        this.state = "FIN-WAIT-1";
        break;
      case "CLOSE-WAIT":
        this.finQueued = true;
        this.state = "LAST-ACK";
        break;
      default:
        return;
    }
    this.pump();
  }

  /** Tear down now with RST (RFC 9293 §3.10.5 ABORT). */
  abort(reason: TcpCloseReason = "aborted"): void {
    if (this.state === "CLOSED") return;
    if (this.state !== "SYN-SENT" && this.state !== "TIME-WAIT" && (this.state !== "SYN-RECEIVED" || this.synAckSent)) {
      this.hooks.output(this.seg(this.sndNxt, this.rcvNxt, TCP_RST | TCP_ACK, {}));
    } else if (this.state === "SYN-RECEIVED") {
      this.hooks.output(this.seg(0, seqAdd(this.irs, 1), TCP_RST | TCP_ACK, {}));
    }
    this.finish(reason);
  }

  /** Forget the connection without telling the peer (the stack answers with ICMP instead). */
  discard(reason: TcpCloseReason): void {
    this.finish(reason);
  }

  /** The app took data / has room again: deliver what waits and open the window if it moved enough. */
  appDrained(): void {
    this.flushToApp();
    if (this.state === "CLOSED" || this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") return;
    const before = seqDiff(this.rcvAdvEdge, this.rcvNxt);
    const after = this.windowToAdvertise(false);
    if (after - before >= Math.min(this.cfg.rcvBuf / 2, 2 * this.effMss)) this.sendAck();
  }

  // ---- input ---------------------------------------------------------------------------------------

  input(seg: TcpSegment): void {
    if (this.state === "CLOSED") return;
    if (this.state === "SYN-SENT") {
      this.inputSynSent(seg);
      return;
    }
    if (this.state === "SYN-RECEIVED" && !this.synAckSent) return; // waiting for the uplink; SYN repeats are moot
    const len = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
    // 1. Sequence acceptability (RFC 9293 §3.10.7.4, table of four cases).
    const wnd = seqDiff(this.rcvAdvEdge, this.rcvNxt);
    const segEnd = seqAdd(seg.seq, Math.max(len, 1) - 1);
    const inWnd = (s: number) => seqGe(s, this.rcvNxt) && seqLt(s, seqAdd(this.rcvNxt, Math.max(wnd, 0)));
    let ok: boolean;
    if (len === 0) ok = wnd <= 0 ? seg.seq === this.rcvNxt : inWnd(seg.seq) || seg.seq === this.rcvNxt;
    else ok = wnd > 0 && (inWnd(seg.seq) || inWnd(segEnd));
    if (!ok) {
      // Old duplicates and window probes get an ACK so the peer resynchronizes; never answer an RST.
      if (!(seg.flags & TCP_RST)) this.sendAck();
      // A retransmitted FIN in TIME-WAIT (our last ACK was lost) also restarts the 2 MSL wait (RFC 9293
      // §3.10.7.4, TIME-WAIT under the eighth check).
      if (
        this.state === "TIME-WAIT" &&
        seg.flags & TCP_FIN &&
        !(seg.flags & TCP_RST) &&
        seqAdd(seg.seq, len) === this.rcvNxt
      )
        this.enterTimeWait();
      return;
    }
    // Keep-alive watches this timestamp rather than re-arming a timer per segment (which would fill the
    // timer queue with hours-long entries during a bulk transfer).
    this.lastRx = this.timers.now();
    this.keepProbes = 0;
    // 2. RST (RFC 5961 §3.2): exact match resets; anything else in window gets a challenge ACK.
    if (seg.flags & TCP_RST) {
      if (seg.seq !== this.rcvNxt) {
        this.sendAck();
        return;
      }
      this.finish(this.state === "SYN-RECEIVED" ? "refused" : this.state === "TIME-WAIT" ? "normal" : "reset");
      return;
    }
    // 3. SYN in a synchronized state (RFC 5961 §4): challenge ACK, but a retransmitted SYN in SYN-RECEIVED
    // means our SYN-ACK was lost — send it again.
    if (seg.flags & TCP_SYN) {
      if (this.state === "SYN-RECEIVED" && seg.seq === this.irs) {
        this.sndNxt = this.iss;
        this.sendSyn(true);
        return;
      }
      this.sendAck();
      return;
    }
    // 4. ACK.
    if (!(seg.flags & TCP_ACK)) return;
    if (seg.options.tsVal !== undefined && this.tsOk && seqLe(seg.seq, this.lastAckSent)) {
      this.tsRecent = seg.options.tsVal;
    }
    if (this.state === "SYN-RECEIVED") {
      if (!(seqGt(seg.ack, this.sndUna) && seqLe(seg.ack, this.sndMax))) {
        this.hooks.output(this.seg(seg.ack, 0, TCP_RST, {}));
        return;
      }
      this.state = this.finQueued ? "FIN-WAIT-1" : "ESTABLISHED";
      this.established(seg);
    }
    if (!this.processAck(seg)) return;
    // 5. Segment text (states that still receive).
    const receiving = this.state === "ESTABLISHED" || this.state === "FIN-WAIT-1" || this.state === "FIN-WAIT-2";
    if (receiving && seg.payload.length > 0) this.receiveData(seg);
    // 6. FIN.
    if (seg.flags & TCP_FIN && receiving) {
      this.peerFinSeq = seqAdd(seg.seq, seg.payload.length);
    }
    if (this.peerFinSeq !== undefined && this.peerFinSeq === this.rcvNxt && !this.finReceived) this.receiveFin();
    else if (seg.flags & TCP_FIN && this.finReceived) {
      // A retransmitted FIN: our ACK was lost. In TIME-WAIT it also restarts the 2 MSL wait.
      this.sendAck();
      if (this.state === "TIME-WAIT") this.enterTimeWait();
    }
    if ((this.state as TcpState) !== "CLOSED") {
      this.pump();
      if (this.ackPending > 0 && !this.t.delack)
        this.t.delack = this.timers.after(this.cfg.delAckMs, () => this.onDelAck());
      if (!this.t.keepalive) this.armKeepalive();
    }
  }

  protected inputSynSent(seg: TcpSegment): void {
    const f = seg.flags;
    if (f & TCP_ACK && (seqLe(seg.ack, this.iss) || seqGt(seg.ack, this.sndMax))) {
      if (!(f & TCP_RST)) this.hooks.output(this.seg(seg.ack, 0, TCP_RST, {}));
      return;
    }
    if (f & TCP_RST) {
      if (f & TCP_ACK) this.finish("refused");
      return;
    }
    if (!(f & TCP_SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.takeSynOptions(seg.options);
    if (seg.options.wscale === undefined) {
      this.sndShift = 0;
      this.rcvShift = 0;
    }
    if (f & TCP_ACK) {
      this.state = "ESTABLISHED";
      this.sndWnd = seg.window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = seg.ack;
      this.sndUna = seg.ack;
      this.established(seg);
      this.sendAck();
      this.pump();
    } else {
      // Simultaneous open (RFC 9293 §3.5 figure 7).
      this.state = "SYN-RECEIVED";
      this.synAckSent = true;
      this.sndNxt = this.iss;
      this.sendSyn(true);
    }
  }

  protected established(seg: TcpSegment): void {
    this.cwnd = Math.min(10 * this.effMss, Math.max(2 * this.effMss, 14600));
    this.retries = 0;
    if (this.tsOk && seg.options.tsEcr) this.rtt.sample(this.tsElapsed(seg.options.tsEcr));
    this.hooks.onEstablished();
    this.armKeepalive();
  }

  /** RFC 9293 §3.10.7.4 fifth check. Returns false when the segment is to be dropped. */
  protected processAck(seg: TcpSegment): boolean {
    const ack = seg.ack;
    if (seqGt(ack, this.sndMax)) {
      this.sendAck(); // acknowledges something never sent
      return false;
    }
    const window = this.state === "SYN-SENT" ? seg.window : seg.window << this.sndShift;
    if (seqGt(ack, this.sndUna)) {
      this.onNewAck(seg, ack);
    } else if (
      ack === this.sndUna &&
      seg.payload.length === 0 &&
      !(seg.flags & (TCP_SYN | TCP_FIN)) &&
      window === this.sndWnd &&
      this.flight > 0
    ) {
      this.onDupAck(seg);
    }
    // Window update (RFC 9293: only from a segment at least as new as the last one used).
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      const opened = window > this.sndWnd;
      this.sndWnd = window;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (opened && window > 0) this.t.persist = cancel(this.t.persist);
    }
    // Our FIN acknowledged?
    const finAcked = this.finQueued && seqGt(this.sndUna, this.dataEnd);
    switch (this.state) {
      case "FIN-WAIT-1":
        if (finAcked) this.state = this.finReceived ? "TIME-WAIT" : "FIN-WAIT-2";
        if (this.state === "TIME-WAIT") this.enterTimeWait();
        break;
      case "CLOSING":
        if (finAcked) this.enterTimeWait();
        break;
      case "LAST-ACK":
        if (finAcked) {
          this.finish("normal");
          return false;
        }
        break;
    }
    return true;
  }

  protected onNewAck(seg: TcpSegment, ack: number): void {
    const acked = seqDiff(ack, this.sndUna);
    const dataAcked = Math.max(0, Math.min(seqDiff(ack, this.sndQBase), this.sndQ.length));
    this.sndQ.drop(dataAcked);
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.score.advance(ack);
    this.retries = 0;
    // RTT sample: timestamps when negotiated, otherwise one timed segment (Karn's rule via timedSeq).
    if (this.tsOk && seg.options.tsEcr) this.rtt.sample(this.tsElapsed(seg.options.tsEcr));
    else if (this.timedSeq !== undefined && seqGe(ack, this.timedSeq)) {
      this.rtt.sample(this.timers.now() - this.timedAt);
      this.timedSeq = undefined;
    }
    const mss = this.effMss;
    if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false;
        this.cwnd = Math.min(this.ssthresh, Math.max(this.flight, mss) + mss);
      } else {
        // Partial ACK (RFC 6582): the next hole is lost too; repair it now and deflate.
        this.retxNext = seqMax(this.retxNext, ack);
        this.repairHole(true);
        this.cwnd = Math.max(mss, this.cwnd - acked + mss);
      }
    } else if (this.cwnd < this.ssthresh) this.cwnd += Math.min(acked, mss);
    else this.cwnd += Math.max(1, Math.floor((mss * mss) / this.cwnd));
    this.cwnd = Math.min(this.cwnd, 4 * 1024 * 1024);
    this.dupAcks = 0;
    this.t.rto = cancel(this.t.rto);
    if (this.flight > 0) this.armRto();
    if (this.sndQWasFull && this.sndQ.length < this.cfg.sndBuf) {
      this.sndQWasFull = false;
      this.hooks.onSendSpace();
    }
  }

  protected onDupAck(seg: TcpSegment): void {
    if (this.sackOk && seg.options.sack) {
      for (const [l, r] of seg.options.sack.slice(0, 4)) this.score.add(l, r, this.sndUna, this.sndMax);
    }
    this.dupAcks++;
    const mss = this.effMss;
    if (this.dupAcks === 3 && !this.inRecovery) {
      // Fast retransmit / fast recovery (RFC 5681 §3.2).
      this.ssthresh = Math.max(Math.floor(this.flight / 2), 2 * mss);
      this.cwnd = this.ssthresh + 3 * mss;
      this.inRecovery = true;
      this.recover = this.sndMax;
      this.retxNext = this.sndUna;
      this.timedSeq = undefined;
      this.repairHole(true);
    } else if (this.inRecovery) {
      this.cwnd += mss;
      if (this.sackOk) this.repairHole(false);
    }
  }

  /** Retransmit the first un-SACKed range at or above retxNext (one segment). */
  protected repairHole(force: boolean): void {
    let s = seqMax(this.retxNext, this.sndUna);
    for (let guard = 0; guard < 64; guard++) {
      const e = this.score.sackedEnd(s);
      if (e === undefined) break;
      s = e;
    }
    const highest = this.score.highest();
    // With SACK information, a hole is only what lies below the highest SACKed byte; without any, only
    // the forced retransmission (fast retransmit, NewReno partial ACK) is justified.
    if (highest !== undefined ? !seqLt(s, highest) : !force) return;
    if (!seqLt(s, this.sndMax)) return;
    let len = Math.min(this.effMss, seqDiff(this.sndMax, s));
    const next = this.score.nextStart(s);
    if (next !== undefined) len = Math.min(len, seqDiff(next, s));
    this.sendRange(s, len);
    this.retxNext = seqAdd(s, len);
  }

  protected receiveData(seg: TcpSegment): void {
    let seq = seg.seq;
    let data = seg.payload;
    // Trim to the window: below rcv.nxt is old, beyond the advertised edge we have no room for.
    if (seqLt(seq, this.rcvNxt)) {
      data = data.subarray(Math.min(data.length, seqDiff(this.rcvNxt, seq)));
      seq = this.rcvNxt;
    }
    const room = seqDiff(this.rcvAdvEdge, seq);
    if (room <= 0) {
      this.ackPending = 2;
      return;
    }
    if (data.length > room) data = data.subarray(0, room);
    if (data.length === 0) return;
    if (seq === this.rcvNxt) {
      const wasOoo = !this.reasm.empty;
      this.deliver(data);
      for (const d of this.reasm.takeContiguous(this.rcvNxt)) this.deliver(d);
      this.ackPending += wasOoo || seg.flags & TCP_PSH ? 2 : 1;
      if (wasOoo) this.ackPending = 2;
    } else {
      this.reasm.insert(seq, data);
      this.ackPending = 2; // out of order: ACK at once so the peer's fast retransmit can start
    }
    if (this.ackPending >= 2) this.sendAck();
  }

  protected deliver(data: Uint8Array): void {
    this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    this.toApp.push(data.slice());
    this.toAppBytes += data.length;
    this.flushToApp();
  }

  protected flushToApp(): void {
    while (this.toApp.length > 0 && this.state !== "CLOSED") {
      const room = this.hooks.appRoom();
      if (room <= 0) return;
      const head = this.toApp[0]!;
      const n = Math.min(room, head.length);
      if (n === head.length) this.toApp.shift();
      else this.toApp[0] = head.subarray(n);
      this.toAppBytes -= n;
      this.hooks.onData(head.subarray(0, n));
    }
  }

  protected receiveFin(): void {
    this.finReceived = true;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackPending = 2;
    this.sendAck();
    switch (this.state) {
      case "ESTABLISHED":
        this.state = "CLOSE-WAIT";
        break;
      case "FIN-WAIT-1":
        if (seqGt(this.sndUna, this.dataEnd)) this.enterTimeWait();
        else this.state = "CLOSING";
        break;
      case "FIN-WAIT-2":
        this.enterTimeWait();
        break;
    }
    this.hooks.onPeerFin();
  }

  protected enterTimeWait(): void {
    this.state = "TIME-WAIT";
    this.t.cancelAll();
    this.t.timeWait = this.timers.after(2 * this.cfg.mslMs, () => this.finish("normal"));
  }
}

export type { RstReason };
