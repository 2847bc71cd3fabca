// The hart at a glance: phase, instruction rate, retired count, where it is and in which mode.

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

export function MachineStatus({ state, phase, snapshot }: Props) {
  const h = snapshot?.hart;
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
    </dl>
  );
}
