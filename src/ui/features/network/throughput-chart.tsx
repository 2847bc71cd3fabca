// A small line chart of receive and transmit throughput (SVG, no library): a fixed box, so it never
// moves the layout, redrawn when a sample arrives (`version`: the history grows in place).

import { memo } from "react";
import { bytes } from "../../format.ts";
import { THROUGHPUT_SAMPLES, type ThroughputSample } from "./throughput.ts";

const W = 300;
const H = 60;

function path(samples: ThroughputSample[], pick: (s: ThroughputSample) => number, max: number): string {
  const x0 = W - (samples.length - 1) * (W / (THROUGHPUT_SAMPLES - 1));
  return samples
    .map((s, i) => {
      const x = x0 + i * (W / (THROUGHPUT_SAMPLES - 1));
      const y = H - (pick(s) / max) * (H - 2) - 1;
      return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join("");
}

export const ThroughputChart = memo(function ThroughputChart({
  samples,
}: {
  samples: ThroughputSample[];
  /** Bumped with every sample: the array is the same object, so memo compares this. */
  version: number;
}) {
  const max = Math.max(1024, ...samples.map((s) => Math.max(s.rxBps, s.txBps)));
  const last = samples[samples.length - 1];
  return (
    <figure className="throughput">
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" height={H} role="img" aria-label="throughput over the last minute">
        <path d={path(samples, (s) => s.rxBps, max)} className="rx" />
        <path d={path(samples, (s) => s.txBps, max)} className="tx" />
      </svg>
      <figcaption>
        {/* One text node each, left-aligned in a fixed box: a changing rate never moves any text. */}
        <span className="rx">{`rx ${bytes(Math.round(last?.rxBps ?? 0))}/s`}</span>
        <span className="tx">{`tx ${bytes(Math.round(last?.txBps ?? 0))}/s`}</span>
        <span className="scale">{`scale ${bytes(Math.round(max))}/s`}</span>
      </figcaption>
    </figure>
  );
});
