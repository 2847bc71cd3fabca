// Retransmission timeout per RFC 6298: SRTT/RTTVAR smoothing, exponential backoff, clamped. The minimum
// is Linux's 200 ms rather than the RFC's 1 s (RFC 6298 §2.4 allows it) — the guest link is a virtqueue.

export const RTO_INITIAL_MS = 1000;
export const RTO_MIN_MS = 200;
export const RTO_MAX_MS = 60_000;
const ALPHA = 1 / 8;
const BETA = 1 / 4;
const K = 4;
/** Clock granularity G of RFC 6298 §2.2 (our clock is milliseconds). */
const G = 1;

export class RttEstimator {
  srtt: number | undefined;
  rttvar = 0;
  private base = RTO_INITIAL_MS;
  backoff = 0;

  constructor(
    private readonly min = RTO_MIN_MS,
    private readonly max = RTO_MAX_MS,
  ) {}

  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.srtt === undefined) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - rttMs);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * rttMs;
    }
    this.base = this.srtt + Math.max(G, K * this.rttvar);
    this.backoff = 0;
  }

  get rto(): number {
    return Math.min(this.max, Math.max(this.min, this.base) * 2 ** this.backoff);
  }

  /** RFC 6298 §5.5: double on each expiry. */
  expired(): void {
    if (this.rto < this.max) this.backoff++;
  }
}
