import { describe, expect, it } from "vitest";
import { SocketBudget, TokenBucket } from "./limits.ts";

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

describe("SocketBudget", () => {
  it("refuses over the per-client limit, then over the total, and gives a charge back once", () => {
    const b = new SocketBudget(2, 3);
    const [a, c] = [{}, {}];
    const a1 = b.take(a);
    const a2 = b.take(a);
    expect(typeof a1 === "function" && typeof a2 === "function").toBe(true);
    expect(b.take(a)).toBe("client");
    const c1 = b.take(c);
    expect(typeof c1).toBe("function");
    expect(b.take(c)).toBe("total");
    (a1 as () => void)();
    (a1 as () => void)(); // twice: still one socket given back
    expect(b.inUse).toBe(2);
    expect(b.heldBy(a)).toBe(1);
    expect(typeof b.take(c)).toBe("function");
    expect(b.take({})).toBe("total");
  });

  it("budgets under one parent cannot together exceed the parent's total", () => {
    const seen: number[] = [];
    const relay = new SocketBudget(Number.POSITIVE_INFINITY, 5, undefined, (n) => seen.push(n));
    const wisp = new SocketBudget(4, Number.POSITIVE_INFINITY, relay);
    const l2 = new SocketBudget(4, 4, relay);
    const [w, g] = [{}, {}];
    const held = [wisp.take(w), wisp.take(w), wisp.take(w), l2.take(g), l2.take(g)];
    expect(held.every((h) => typeof h === "function")).toBe(true);
    expect(relay.inUse).toBe(5);
    // Each is within its own limits, but the relay is full.
    expect(l2.take(g)).toBe("relay");
    expect(wisp.take(w)).toBe("relay");
    expect(wisp.inUse + l2.inUse).toBe(5);
    (held[0] as () => void)();
    expect(relay.inUse).toBe(4);
    expect(typeof l2.take(g)).toBe("function");
    expect(l2.take(g)).toBe("relay");
    expect(seen.at(-1)).toBe(5);
    expect(Math.max(...seen)).toBe(5);
  });
});
