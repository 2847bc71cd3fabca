import { describe, expect, it } from "vitest";
import { TokenBucket } from "./limits.ts";

describe("TokenBucket", () => {
  it("unlimited when rate is 0", () => {
    const b = new TokenBucket(0, 0, () => 0);
    expect(b.take(1e12)).toBe(0);
    expect(b.tryTake(1e12)).toBe(true);
  });
  it("lets a burst through, then asks for a pause that pays the debt", () => {
    let now = 0;
    const b = new TokenBucket(1000, 500, () => now);
    expect(b.take(500)).toBe(0);
    expect(b.take(1000)).toBe(1000); // 1000 bytes of debt at 1000 B/s
    now = 1000;
    expect(b.take(0)).toBe(0);
  });
  it("refills at the rate and caps at the burst", () => {
    let now = 0;
    const b = new TokenBucket(100, 100, () => now);
    expect(b.tryTake(100)).toBe(true);
    expect(b.tryTake(1)).toBe(false);
    now = 500;
    expect(b.tryTake(50)).toBe(true);
    now = 100_000;
    expect(b.tryTake(101)).toBe(false);
    expect(b.tryTake(100)).toBe(true);
  });
});
