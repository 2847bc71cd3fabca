// All of the stack's timers (TCP RTO, TIME-WAIT, keep-alive, DHCP leases, UDP idle expiry, fragment
// reassembly) run off one injectable millisecond clock and one queue, so tests move time by hand and the
// host drives the stack with a single host timer (`nextDeadline()` → setTimeout → `runDue()`).

export interface NetClock {
  /** Monotonic milliseconds. */
  nowMs(): number;
}

export class ManualNetClock implements NetClock {
  constructor(public ms = 0) {}
  nowMs(): number {
    return this.ms;
  }
}

export const hostNetClock: NetClock = { nowMs: () => performance.now() };

export interface Timer {
  readonly deadline: number;
  cancel(): void;
}

interface Entry extends Timer {
  deadline: number;
  fn: () => void;
  live: boolean;
  seq: number;
}

/** A binary min-heap of deadlines; cancelled entries are dropped lazily when they reach the top. */
export class TimerQueue {
  private heap: Entry[] = [];
  private seq = 0;
  /** Cancelled entries still in the heap. */
  private dead = 0;
  /** Told when the earliest deadline may have moved earlier, so the host can re-arm its timer. */
  onReschedule: (() => void) | undefined;

  constructor(readonly clock: NetClock) {}

  now(): number {
    return this.clock.nowMs();
  }

  /** Run `fn` once, `delayMs` from now. */
  after(delayMs: number, fn: () => void): Timer {
    const e: Entry = {
      deadline: this.clock.nowMs() + Math.max(0, delayMs),
      fn,
      live: true,
      seq: this.seq++,
      cancel: () => {
        if (!e.live) return;
        e.live = false;
        // Cancelled entries wait in the heap until they surface; rebuild once they are most of it so a
        // flow that re-arms its RTO on every ACK cannot grow the heap without bound.
        if (++this.dead > 1024 && this.dead * 2 > this.heap.length) this.compact();
      },
    };
    this.push(e);
    if (this.heap[0] === e) this.onReschedule?.();
    return e;
  }

  /** Earliest live deadline, or undefined when nothing is pending. */
  nextDeadline(): number | undefined {
    while (this.heap.length > 0 && !this.heap[0]!.live) {
      this.pop();
      this.dead--;
    }
    return this.heap[0]?.deadline;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Fire every timer whose deadline has passed; returns how many ran. */
  runDue(): number {
    const now = this.clock.nowMs();
    let n = 0;
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.deadline > now) break;
      this.pop();
      if (!top.live) {
        this.dead--;
        continue;
      }
      top.live = false;
      n++;
      top.fn();
    }
    return n;
  }

  private compact(): void {
    const live = this.heap.filter((e) => e.live);
    this.heap = [];
    this.dead = 0;
    for (const e of live) this.push(e);
  }

  private less(a: Entry, b: Entry): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
