// RFC 9293 §3.10.7.4 as a table: drive endpoint b of a TcpPair into each state, inject an RST with the
// exact sequence number (second check) or a FIN (eighth check), and assert the state that results.

import { describe, expect, it } from "vitest";
import type { TcpCloseReason, TcpState } from "./tcp-endpoint.ts";
import { TcpPair } from "./tcp-harness.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, type TcpSegment } from "./tcp-segment.ts";

type Setup = (p: TcpPair) => void;

/** Puts b into `state` and drops whatever is still on the wire (so only the injected segment acts). */
const SETUPS: Record<Exclude<TcpState, "CLOSED" | "SYN-SENT">, Setup> = {
  "SYN-RECEIVED": (p) => {
    p.a.ep.connect();
    const syn = p.toB.shift()!;
    p.b.ep.listen(syn);
    p.b.ep.accept(); // SYN-ACK sent, never delivered
  },
  ESTABLISHED: (p) => p.connect(),
  "FIN-WAIT-1": (p) => {
    p.connect();
    p.b.ep.shutdown(); // FIN sent, never delivered
  },
  "FIN-WAIT-2": (p) => {
    p.connect();
    p.b.ep.shutdown();
    p.run(() => p.b.ep.state === "FIN-WAIT-2");
  },
  CLOSING: (p) => {
    p.connect();
    p.b.ep.shutdown();
    p.a.ep.shutdown();
    // The FINs cross: a's arrives at b before a has seen (and acknowledged) b's.
    p.b.ep.input(p.toB.shift()!);
  },
  "CLOSE-WAIT": (p) => {
    p.connect();
    p.a.ep.shutdown();
    p.run(() => p.b.peerFin);
  },
  "LAST-ACK": (p) => {
    p.connect();
    p.a.ep.shutdown();
    p.run(() => p.b.peerFin);
    p.b.ep.shutdown(); // FIN sent, never delivered
  },
  "TIME-WAIT": (p) => {
    p.connect();
    p.b.ep.shutdown();
    p.run(() => p.b.ep.state === "FIN-WAIT-2");
    p.a.ep.shutdown();
    p.run(() => p.b.ep.state === "TIME-WAIT");
  },
};

function enter(state: keyof typeof SETUPS): TcpPair {
  const p = new TcpPair();
  SETUPS[state](p);
  p.a.ep.discard("aborted"); // a falls silent: only the injected segments reach b from here on
  p.toA.length = 0;
  p.toB.length = 0;
  expect(p.b.ep.state).toBe(state);
  return p;
}

function vars(p: TcpPair) {
  const s = p.b.ep.snapshot();
  return { rcvNxt: s.rcvNxt as number, sndNxt: s.sndNxt as number, sndUna: s.sndUna as number };
}

function seg(seq: number, ack: number, flags: number): TcpSegment {
  return { seq: seq >>> 0, ack: ack >>> 0, flags, window: 1000, options: {}, payload: new Uint8Array(0) };
}

describe("TCP state table: RST with the exact sequence number (RFC 9293 §3.10.7.4 second check)", () => {
  const rows: Array<[keyof typeof SETUPS, TcpCloseReason]> = [
    // A passive open that is reset goes back to LISTEN; ours has no listener, so the guest sees a refusal.
    ["SYN-RECEIVED", "refused"],
    ["ESTABLISHED", "reset"],
    ["FIN-WAIT-1", "reset"],
    ["FIN-WAIT-2", "reset"],
    ["CLOSE-WAIT", "reset"],
    ["CLOSING", "reset"],
    ["LAST-ACK", "reset"],
    // TIME-WAIT: the connection was already over; the RST only ends the wait early.
    ["TIME-WAIT", "normal"],
  ];
  for (const [state, reason] of rows) {
    it(`${state} → CLOSED (${reason})`, () => {
      const p = enter(state);
      p.b.ep.input(seg(vars(p).rcvNxt, 0, TCP_RST));
      expect(p.b.ep.state).toBe("CLOSED");
      expect(p.b.closed).toBe(reason);
      expect(p.toA).toEqual([]); // an RST is never answered
    });
    it(`${state}: an in-window RST one past rcv.nxt only draws a challenge ACK`, () => {
      const p = enter(state);
      const { rcvNxt } = vars(p);
      p.b.ep.input(seg(rcvNxt + 1, 0, TCP_RST));
      expect(p.b.ep.state).toBe(state);
      expect(p.b.closed).toBeUndefined();
      expect(p.toA.length).toBe(1);
      expect(p.toA[0]!.flags).toBe(TCP_ACK);
      expect(p.toA[0]!.ack).toBe(rcvNxt);
    });
  }
});

describe("TCP state table: FIN (RFC 9293 §3.10.7.4 eighth check)", () => {
  // [state, which ACK the FIN carries, resulting state]. "una" acknowledges nothing new, "nxt" everything
  // sent (including our FIN where one was sent). In states that already took the peer's FIN, the FIN is a
  // retransmission (sequence rcv.nxt - 1).
  const rows: Array<[keyof typeof SETUPS, "una" | "nxt", TcpState]> = [
    ["SYN-RECEIVED", "nxt", "CLOSE-WAIT"],
    ["ESTABLISHED", "una", "CLOSE-WAIT"],
    ["FIN-WAIT-1", "una", "CLOSING"],
    ["FIN-WAIT-1", "nxt", "TIME-WAIT"],
    ["FIN-WAIT-2", "una", "TIME-WAIT"],
    ["CLOSE-WAIT", "una", "CLOSE-WAIT"],
    ["CLOSING", "una", "CLOSING"],
    ["LAST-ACK", "una", "LAST-ACK"],
    ["TIME-WAIT", "nxt", "TIME-WAIT"],
  ];
  for (const [state, ackKind, next] of rows) {
    it(`${state} + FIN (ack ${ackKind}) → ${next}, and the FIN is acknowledged`, () => {
      const p = enter(state);
      const v = vars(p);
      const retransmit = state === "CLOSE-WAIT" || state === "CLOSING" || state === "LAST-ACK" || state === "TIME-WAIT";
      const seq = retransmit ? v.rcvNxt - 1 : v.rcvNxt;
      const ack = ackKind === "una" ? v.sndUna : v.sndNxt;
      p.b.ep.input(seg(seq, ack, TCP_FIN | TCP_ACK));
      expect(p.b.ep.state).toBe(next);
      expect(p.b.closed).toBeUndefined();
      const acks = p.toA.filter((s) => s.flags & TCP_ACK && !(s.flags & TCP_FIN));
      expect(acks.length).toBeGreaterThanOrEqual(1);
      expect(acks.at(-1)!.ack).toBe(((seq + 1) >>> 0) as number);
      expect(p.b.peerFin).toBe(true);
    });
  }

  it("a retransmitted FIN in TIME-WAIT is re-ACKed and restarts the 2 MSL timer", () => {
    const p = enter("TIME-WAIT");
    const entered = p.clock.ms;
    const msl2 = 2 * p.b.ep.cfg.mslMs;
    expect(p.timers.nextDeadline()).toBe(entered + msl2);
    p.clock.ms = entered + msl2 - 10_000; // 10 s before the wait would end
    p.timers.runDue();
    expect(p.b.ep.state).toBe("TIME-WAIT");
    const v = vars(p);
    p.b.ep.input(seg(v.rcvNxt - 1, v.sndNxt, TCP_FIN | TCP_ACK));
    expect(p.toA.length).toBe(1);
    expect(p.toA[0]!.flags).toBe(TCP_ACK);
    expect(p.toA[0]!.ack).toBe(v.rcvNxt);
    expect(p.timers.nextDeadline()).toBe(p.clock.ms + msl2);
    p.toA.length = 0;
    // Past the original deadline the connection still waits; it ends 2 MSL after the retransmission.
    p.clock.ms = entered + msl2 + 1;
    p.timers.runDue();
    expect(p.b.ep.state).toBe("TIME-WAIT");
    const restartedAt = entered + msl2 - 10_000;
    p.run(() => p.b.closed !== undefined);
    expect(p.b.closed).toBe("normal");
    expect(p.clock.ms).toBe(restartedAt + msl2);
  });
});
