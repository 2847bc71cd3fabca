import { describe, expect, it } from "vitest";
import { ManualNetClock, TimerQueue } from "./timers.ts";

describe("TimerQueue", () => {
  it("fires in deadline order (ties in arming order) and only when due", () => {
    const c = new ManualNetClock();
    const q = new TimerQueue(c);
    const got: string[] = [];
    q.after(30, () => got.push("c"));
    q.after(10, () => got.push("a"));
    q.after(10, () => got.push("b"));
    const x = q.after(20, () => got.push("x"));
    x.cancel();
    c.ms = 15;
    q.runDue();
    expect(got).toEqual(["a", "b"]);
    expect(q.nextDeadline()).toBe(30);
    c.ms = 100;
    q.runDue();
    expect(got).toEqual(["a", "b", "c"]);
    expect(q.nextDeadline()).toBeUndefined();
  });

  it("re-arming on every event (as an RTO does per ACK) keeps the heap bounded", () => {
    const q = new TimerQueue(new ManualNetClock());
    let t = q.after(7_200_000, () => {});
    for (let i = 0; i < 100_000; i++) {
      t.cancel();
      t = q.after(7_200_000, () => {});
    }
    expect(q.size).toBeLessThan(5000);
  });

  it("tells the host when the earliest deadline moves earlier", () => {
    const q = new TimerQueue(new ManualNetClock());
    let n = 0;
    q.onReschedule = () => n++;
    q.after(100, () => {});
    q.after(200, () => {});
    q.after(50, () => {});
    expect(n).toBe(2);
  });
});
