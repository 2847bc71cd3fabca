// Throughput history for the Network panel's chart: bytes per second each way, from the device's
// cumulative rx/tx byte counters in successive snapshots. Lives as long as the page (the panel may
// be hidden), keeps the last minute or so.

import type { MachineSnapshot } from "../../../worker/protocol.ts";

export interface ThroughputSample {
  rxBps: number;
  txBps: number;
}

export const THROUGHPUT_SAMPLES = 300;

export class ThroughputHistory {
  readonly samples: ThroughputSample[] = [];
  /** Snapshots fed so far: changes whenever `samples` may have (it is updated in place). */
  fed = 0;
  private last: { ms: number; rx: number; tx: number } | undefined;

  feed(s: MachineSnapshot): void {
    this.fed++;
    const c = s.network?.counters;
    if (c === undefined) return;
    const rx = c.rxBytes ?? 0;
    const tx = c.txBytes ?? 0;
    const prev = this.last;
    this.last = { ms: s.takenMs, rx, tx };
    // A reboot or a new machine starts the counters (or the clock) over: no sample across it.
    if (prev === undefined || s.takenMs <= prev.ms || rx < prev.rx || tx < prev.tx) return;
    const dt = (s.takenMs - prev.ms) / 1000;
    this.samples.push({ rxBps: (rx - prev.rx) / dt, txBps: (tx - prev.tx) / dt });
    if (this.samples.length > THROUGHPUT_SAMPLES) this.samples.shift();
  }
}
