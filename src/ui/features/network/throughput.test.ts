import { describe, expect, it } from "vitest";
import type { MachineSnapshot } from "../../../worker/protocol.ts";
import { ThroughputHistory } from "./throughput.ts";

function snap(ms: number, rxBytes: number, txBytes: number): MachineSnapshot {
  return {
    takenMs: ms,
    network: { counters: { rxBytes, txBytes } },
  } as unknown as MachineSnapshot;
}

describe("ThroughputHistory", () => {
  it("turns cumulative byte counters into bytes per second", () => {
    const h = new ThroughputHistory();
    h.feed(snap(0, 0, 0));
    h.feed(snap(500, 1000, 250));
    expect(h.samples).toEqual([{ rxBps: 2000, txBps: 500 }]);
  });

  it("skips the interval across a reboot (counters start over)", () => {
    const h = new ThroughputHistory();
    h.feed(snap(0, 5000, 5000));
    h.feed(snap(200, 10, 10));
    h.feed(snap(400, 210, 10));
    expect(h.samples).toEqual([{ rxBps: 1000, txBps: 0 }]);
  });
});
