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

/** Which limit refused a socket: the client's own, the budget's total, or the relay-wide one above it. */
export type SocketRefusal = "client" | "total" | "relay";

/**
 * Sockets held for clients: at most `perClient` for each client (an object standing for it) and `total` for all,
 * and, with a `parent` (the relay's --max-sockets, which Wisp streams and L2 gateway flows share), within what the
 * parent has left, so the sum of every budget under one parent cannot exceed its total.
 * A charge is given back once, by the release function take() returned, when the socket has really closed.
 */
export class SocketBudget {
  private held = 0;
  private readonly byClient = new Map<object, number>();

  constructor(
    readonly perClient: number,
    readonly total: number,
    private readonly parent?: SocketBudget,
    /** Told the new count after every take and release (a gauge). */
    private readonly onChange?: (inUse: number) => void,
  ) {}

  get inUse(): number {
    return this.held;
  }

  heldBy(client: object): number {
    return this.byClient.get(client) ?? 0;
  }

  /** A release function, or which limit was reached. */
  take(client: object): (() => void) | SocketRefusal {
    const mine = this.byClient.get(client) ?? 0;
    if (mine >= this.perClient) return "client";
    if (this.held >= this.total) return "total";
    let up: (() => void) | undefined;
    if (this.parent) {
      const r = this.parent.take(client);
      if (typeof r === "string") return "relay";
      up = r;
    }
    this.byClient.set(client, mine + 1);
    this.held++;
    this.onChange?.(this.held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      const n = (this.byClient.get(client) ?? 1) - 1;
      if (n > 0) this.byClient.set(client, n);
      else this.byClient.delete(client);
      this.onChange?.(this.held);
      up?.();
    };
  }
}
