// Rate limiting for a client's byte streams. A token bucket that may go into debt: a chunk larger than
// the burst still passes, and the caller waits out the debt before the next one, so big writes are never
// split or refused — only delayed.

export class TokenBucket {
  private tokens: number;
  private last: number;

  /** `rate` bytes per second (0 = unlimited), `burst` bytes of credit at most. */
  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Spends `n`; returns how many ms the caller should pause before spending again (0 = no pause). */
  take(n: number): number {
    if (this.rate <= 0) return 0;
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** True when a datagram of `n` bytes fits now (datagrams are dropped, not delayed). */
  tryTake(n: number): boolean {
    if (this.rate <= 0) return true;
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/**
 * Sockets held for clients: at most `perClient` for each client (an object standing for it) and `total` for all.
 * A charge is given back once, by the release function take() returned, when the socket has really closed.
 */
export class SocketBudget {
  private held = 0;
  private readonly byClient = new Map<object, number>();

  constructor(
    readonly perClient: number,
    readonly total: number,
  ) {}

  get inUse(): number {
    return this.held;
  }

  heldBy(client: object): number {
    return this.byClient.get(client) ?? 0;
  }

  /** A release function, or which limit was reached: "client" or "total". */
  take(client: object): (() => void) | "client" | "total" {
    const mine = this.byClient.get(client) ?? 0;
    if (mine >= this.perClient) return "client";
    if (this.held >= this.total) return "total";
    this.byClient.set(client, mine + 1);
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      const n = (this.byClient.get(client) ?? 1) - 1;
      if (n > 0) this.byClient.set(client, n);
      else this.byClient.delete(client);
    };
  }
}
