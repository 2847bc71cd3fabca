// Test support (not used by the stack): two TCP endpoints joined by a scriptable in-memory wire on a
// manual clock, with optional loss, duplication and reordering decided by a seeded generator.

import { ManualNetClock, TimerQueue } from "../timers.ts";
import { TCP_DEFAULTS, type TcpCloseReason, TcpEndpoint, type TcpEndpointConfig } from "./tcp-endpoint.ts";
import type { TcpSegment } from "./tcp-segment.ts";

/** xorshift32: small, seedable, good enough to pick packets to drop. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

export interface Side {
  ep: TcpEndpoint;
  received: Uint8Array[];
  receivedBytes: number;
  /** What the side's app will take per call (Infinity = everything). */
  appRoom: number;
  established: boolean;
  peerFin: boolean;
  closed: TcpCloseReason | undefined;
  sendSpaceEvents: number;
}

export interface WireImpairment {
  loss?: number;
  duplicate?: number;
  /** Reorder within this many packets. */
  reorderWindow?: number;
  seed?: number;
}

export class TcpPair {
  readonly clock = new ManualNetClock();
  readonly timers = new TimerQueue(this.clock);
  readonly a: Side;
  readonly b: Side;
  /** Segments in flight, per direction. */
  readonly toB: TcpSegment[] = [];
  readonly toA: TcpSegment[] = [];
  /** Every segment either side emitted, for assertions. */
  readonly log: Array<{ from: "a" | "b"; seg: TcpSegment }> = [];
  /** Return false to drop a segment on the wire (scripted loss). */
  filter: ((from: "a" | "b", seg: TcpSegment) => boolean) | undefined;
  private rand: () => number;

  constructor(
    cfgA: Partial<TcpEndpointConfig> = {},
    cfgB: Partial<TcpEndpointConfig> = {},
    readonly impair: WireImpairment = {},
  ) {
    this.rand = rng(impair.seed ?? 1);
    this.a = this.side("a", { ...TCP_DEFAULTS, iss: 1000, ...cfgA });
    this.b = this.side("b", { ...TCP_DEFAULTS, iss: 0xfffff000, ...cfgB });
  }

  private side(name: "a" | "b", cfg: TcpEndpointConfig): Side {
    const s = {
      received: [] as Uint8Array[],
      receivedBytes: 0,
      appRoom: Number.POSITIVE_INFINITY,
      established: false,
      peerFin: false,
      closed: undefined as TcpCloseReason | undefined,
      sendSpaceEvents: 0,
    } as Side;
    s.ep = new TcpEndpoint(
      this.timers,
      {
        output: (seg) => this.put(name, seg),
        onEstablished: () => {
          s.established = true;
        },
        onData: (d) => {
          s.received.push(d.slice());
          s.receivedBytes += d.length;
          if (Number.isFinite(s.appRoom)) s.appRoom -= d.length;
        },
        appRoom: () => s.appRoom,
        onPeerFin: () => {
          s.peerFin = true;
        },
        onSendSpace: () => {
          s.sendSpaceEvents++;
        },
        onClosed: (r) => {
          s.closed = r;
        },
      },
      cfg,
    );
    return s;
  }

  private put(from: "a" | "b", seg: TcpSegment): void {
    this.log.push({ from, seg });
    if (this.filter && !this.filter(from, seg)) return;
    const q = from === "a" ? this.toB : this.toA;
    const { loss = 0, duplicate = 0, reorderWindow = 0 } = this.impair;
    if (loss > 0 && this.rand() < loss) return;
    const copies = duplicate > 0 && this.rand() < duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (reorderWindow > 1 && q.length > 0) {
        const back = Math.floor(this.rand() * Math.min(reorderWindow, q.length + 1));
        q.splice(q.length - back, 0, seg);
      } else q.push(seg);
    }
  }

  /** Opens a (active) → b (passive, accepted at once). */
  connect(): void {
    const syn = this.pickSyn();
    this.b.ep.listen(syn);
    this.b.ep.accept();
    this.run();
  }

  private pickSyn(): TcpSegment {
    this.a.ep.connect();
    for (;;) {
      const s = this.toB.shift();
      if (s !== undefined) return s;
      this.advance();
    }
  }

  /** Delivers queued segments; returns how many. */
  flush(): number {
    let n = 0;
    while (this.toA.length > 0 || this.toB.length > 0) {
      const sb = this.toB.shift();
      if (sb) this.b.ep.input(sb);
      const sa = this.toA.shift();
      if (sa) this.a.ep.input(sa);
      n++;
    }
    return n;
  }

  /** Jumps the clock to the next timer and fires it. */
  advance(): boolean {
    const d = this.timers.nextDeadline();
    if (d === undefined) return false;
    this.clock.ms = Math.max(this.clock.ms, d);
    this.timers.runDue();
    return true;
  }

  /** Runs until `done()` holds or nothing is left to do (or the clock passes `untilMs`). */
  run(done: () => boolean = () => false, untilMs = 10 * 60_000): void {
    for (;;) {
      this.flush();
      if (done()) return;
      const d = this.timers.nextDeadline();
      if (d === undefined || d > untilMs) return;
      this.advance();
    }
  }
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
