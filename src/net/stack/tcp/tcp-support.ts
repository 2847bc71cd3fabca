// Small pieces of the TCP endpoint kept apart so the state machine file stays readable: its timer slots,
// which states may send data, and the RST a closed port answers with (RFC 9293 §3.10.7.1).

import type { Timer, TimerQueue } from "../timers.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from "./tcp-segment.ts";
import { seqAdd } from "./tcp-seq.ts";

export type RstReason = "no-listener" | "refused";

/** States in which queued app data may still be (re)sent. */
export function tcpStateSends(state: string): boolean {
  return state === "ESTABLISHED" || state === "CLOSE-WAIT" || state === "SYN-RECEIVED" || state === "SYN-SENT";
}

export class TcpTimerSet {
  rto: Timer | undefined;
  persist: Timer | undefined;
  delack: Timer | undefined;
  keepalive: Timer | undefined;
  timeWait: Timer | undefined;

  constructor(readonly q: TimerQueue) {}

  cancelAll(): void {
    for (const t of [this.rto, this.persist, this.delack, this.keepalive, this.timeWait]) t?.cancel();
    this.rto = this.persist = this.delack = this.keepalive = this.timeWait = undefined;
  }
}

/** The reset for a segment that reached no connection (never in answer to an RST). */
export function rstFor(seg: TcpSegment): TcpSegment | undefined {
  if (seg.flags & TCP_RST) return undefined;
  const empty = new Uint8Array(0);
  if (seg.flags & TCP_ACK) return { seq: seg.ack, ack: 0, flags: TCP_RST, window: 0, options: {}, payload: empty };
  const len = seg.payload.length + (seg.flags & TCP_SYN ? 1 : 0) + (seg.flags & TCP_FIN ? 1 : 0);
  return { seq: 0, ack: seqAdd(seg.seq, len), flags: TCP_RST | TCP_ACK, window: 0, options: {}, payload: empty };
}
