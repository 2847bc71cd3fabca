// Guest time follows a monotonic host clock, never the instruction count (DESIGN.md §4).

export interface Clock {
  /** Monotonic nanoseconds since an arbitrary origin. */
  nowNs(): number;
  /** Wall-clock nanoseconds since the Unix epoch (for the RTC). */
  wallNs(): number;
}

export const hostClock: Clock = {
  nowNs: () => performance.now() * 1e6,
  wallNs: () => Date.now() * 1e6,
};

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(
    public ns = 0,
    public wallOrigin = 1_700_000_000_000_000_000,
  ) {}
  nowNs(): number {
    return this.ns;
  }
  wallNs(): number {
    return this.wallOrigin + this.ns;
  }
  advance(ns: number): void {
    this.ns += ns;
  }
}
