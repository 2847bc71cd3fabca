import { describe, expect, it } from "vitest";
import { TcpPair } from "./tcp-harness.ts";
import { RTO_INITIAL_MS, RTO_MAX_MS, RTO_MIN_MS, RttEstimator } from "./tcp-rtt.ts";
import { TCP_SYN } from "./tcp-segment.ts";

describe("RttEstimator (RFC 6298)", () => {
  it("starts at the initial RTO with no estimate (§2.1)", () => {
    const r = new RttEstimator();
    expect(r.srtt).toBeUndefined();
    expect(r.rto).toBe(RTO_INITIAL_MS);
  });

  it("first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4·RTTVAR) (§2.2)", () => {
    const r = new RttEstimator();
    r.sample(100);
    expect(r.srtt).toBe(100);
    expect(r.rttvar).toBe(50);
    expect(r.rto).toBe(300);
    // G (1 ms) wins when the variance is below it; here with no lower clamp.
    const g = new RttEstimator(0);
    g.sample(0);
    expect(g.rto).toBe(1);
  });

  it("later samples: RTTVAR = 3/4·RTTVAR + 1/4·|SRTT − R'|, then SRTT = 7/8·SRTT + 1/8·R' (§2.3)", () => {
    const r = new RttEstimator();
    r.sample(100);
    r.sample(200);
    expect(r.rttvar).toBe(0.75 * 50 + 0.25 * 100); // 62.5, from the old SRTT
    expect(r.srtt).toBe(0.875 * 100 + 0.125 * 200); // 112.5
    expect(r.rto).toBe(112.5 + 4 * 62.5);
    r.sample(112.5); // a sample equal to SRTT only shrinks the variance
    expect(r.srtt).toBe(112.5);
    expect(r.rttvar).toBe(0.75 * 62.5);
  });

  it("clamps the RTO to [min, max] (§2.4, §2.5)", () => {
    const fast = new RttEstimator();
    fast.sample(1);
    expect(fast.rto).toBe(RTO_MIN_MS);
    const slow = new RttEstimator();
    slow.sample(50_000);
    expect(slow.rto).toBe(RTO_MAX_MS);
    const custom = new RttEstimator(500, 2000);
    custom.sample(10);
    expect(custom.rto).toBe(500);
    custom.sample(10_000);
    expect(custom.rto).toBe(2000);
  });

  it("doubles on each expiry up to the maximum, and a new sample resets the backoff (§5.5, §5.7)", () => {
    const r = new RttEstimator();
    r.sample(100); // RTO 300
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) {
      r.expired();
      seen.push(r.rto);
    }
    expect(seen).toEqual([600, 1200, 2400, 4800, 9600, 19_200, 38_400, 60_000, 60_000, 60_000, 60_000, 60_000]);
    r.sample(100);
    expect(r.backoff).toBe(0);
    expect(r.rto).toBe(r.srtt! + 4 * r.rttvar);
  });

  it("ignores nonsense samples", () => {
    const r = new RttEstimator();
    r.sample(-5);
    r.sample(Number.NaN);
    expect(r.srtt).toBeUndefined();
    expect(r.rto).toBe(RTO_INITIAL_MS);
  });
});

describe("Karn's rule in the endpoint (RFC 6298 §3)", () => {
  it("takes no RTT sample from a retransmitted segment, and keeps the backed-off RTO until a fresh one", () => {
    const p = new TcpPair();
    // Without timestamps the endpoint times one segment at a time: that is where Karn's rule applies.
    p.filter = (from, seg) => {
      if (from === "a" && seg.flags & TCP_SYN) seg.options = { mss: 1460 };
      return true;
    };
    p.connect();
    expect(p.a.ep.snapshot().tsOk).toBe(false);
    expect(p.a.ep.snapshot().rto).toBe(RTO_INITIAL_MS);
    let dropped = 0;
    p.filter = (from, seg) => !(from === "a" && seg.payload.length > 0 && dropped++ === 0);
    const t0 = p.clock.ms;
    p.a.ep.write(new Uint8Array(100));
    p.run(() => p.b.receivedBytes === 100);
    expect(dropped).toBe(2); // the original was lost; the retransmission got through
    expect(p.clock.ms - t0).toBeGreaterThanOrEqual(RTO_INITIAL_MS);
    p.run(() => p.a.ep.snapshot().sndUna === p.a.ep.snapshot().sndMax);
    // Timing the retransmission from the original send would give a ~1 s sample (RTO ≈ 3 s); with Karn's
    // rule there is no sample and the doubled RTO stands (§5.7).
    expect(p.a.ep.snapshot().rto).toBe(2 * RTO_INITIAL_MS);
    // A segment sent once is timed: the estimate starts and the backoff is gone.
    p.a.ep.write(new Uint8Array(100));
    p.run(() => p.b.receivedBytes === 200);
    p.run(() => p.a.ep.snapshot().sndUna === p.a.ep.snapshot().sndMax);
    expect(p.a.ep.snapshot().rto).toBe(RTO_MIN_MS);
  });
});
