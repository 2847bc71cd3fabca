// The hart at a glance: phase, instruction rate, retired count, where it is and in which mode; and for a disk
// read from a URL (the Debian image), how much of it the range requests have fetched, while it boots and after.

import type { MachinePhase, MachineSnapshot } from "../../../worker/protocol.ts";
import { type MachineState, stateLabel } from "../status/machine-state.ts";

const PRIVILEGE = ["U", "S", "H", "M"];

/**
 * Numbers right-aligned by padding in the monospace font, so the text itself starts at the same place
 * whatever its length (right-aligned text would move its start, which counts as a layout shift).
 */
function pad(s: string, width: number): string {
  return s.padStart(width, " ");
}

interface Props {
  /** The page's state (its word is shown); the worker's own phase rides along as data-phase. */
  state: MachineState;
  phase: MachinePhase;
  snapshot: MachineSnapshot | undefined;
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

export function MachineStatus({ state, phase, snapshot }: Props) {
  const h = snapshot?.hart;
  const disks = snapshot?.disks ?? [];
  // Bytes the disk has: fetched now, or read from the browser's lasting cache of earlier fetches.
  const fetched = disks.reduce((a, d) => a + d.fetched + d.stored, 0);
  const size = disks.reduce((a, d) => a + d.size, 0);
  const relay = snapshot?.network?.relay;
  return (
    <dl className="machine-status" aria-label="machine status">
      <div>
        <dt>state</dt>
        <dd data-testid="phase" data-phase={phase} className={`phase state-${state.kind}`}>
          {stateLabel(state)}
        </dd>
      </div>
      <div>
        <dt>MIPS</dt>
        <dd data-testid="mips">{pad(h === undefined ? "—" : h.mips.toFixed(1), 6)}</dd>
      </div>
      <div>
        <dt>idle</dt>
        <dd className="idle">{pad(h === undefined ? "—" : `${Math.round(h.idle * 100)}%`, 4)}</dd>
      </div>
      <div>
        <dt>instret</dt>
        <dd className="instret" title={h?.instret.toLocaleString("en-US")}>
          {pad(h === undefined ? "—" : `${(h.instret / 1e6).toFixed(1)} M`, 10)}
        </dd>
      </div>
      <div>
        <dt>pc</dt>
        <dd className="pc">
          {h === undefined ? "—" : `${h.pc} ${PRIVILEGE[h.privilege] ?? "?"}${h.waiting ? " wfi" : ""}`}
        </dd>
      </div>
      {relay !== undefined && (
        <div>
          <dt>relay</dt>
          <dd
            data-testid="relay"
            data-state={relay.state}
            className={`relay relay-${relay.state}`}
            title={relay.detail ?? "the relay that carries the guest's connections"}
          >
            {pad(relay.state, 10)}
          </dd>
        </div>
      )}
      {disks.length > 0 && (
        <div>
          <dt>disk</dt>
          <dd
            className="disk"
            data-fetched={fetched}
            data-stored={disks.reduce((a, d) => a + d.stored, 0)}
            data-size={size}
            title={disks
              .map(
                (d) =>
                  `${d.url}: ${d.fetched} of ${d.size} bytes fetched in ${d.requests} range requests` +
                  (d.stored > 0 ? `, ${d.stored} read from this browser's cache` : ""),
              )
              .join("\n")}
          >
            {pad(`${mib(fetched)} / ${mib(size)} MiB`, 17)}
          </dd>
        </div>
      )}
    </dl>
  );
}
