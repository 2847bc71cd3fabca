// The hart at a glance: phase, instruction rate, retired count, where it is and in which mode.

import type { MachinePhase, MachineSnapshot } from "../../../worker/protocol.ts";

const PRIVILEGE = ["U", "S", "H", "M"];

interface Props {
  phase: MachinePhase;
  snapshot: MachineSnapshot | undefined;
}

export function MachineStatus({ phase, snapshot }: Props) {
  const h = snapshot?.hart;
  return (
    <dl className="machine-status" aria-label="machine status">
      <div>
        <dt>state</dt>
        <dd data-testid="phase" className={`phase phase-${phase}`}>
          {phase}
        </dd>
      </div>
      <div>
        <dt>MIPS</dt>
        <dd data-testid="mips">{h === undefined ? "—" : h.mips.toFixed(1)}</dd>
      </div>
      <div>
        <dt>idle</dt>
        <dd className="idle">{h === undefined ? "—" : `${Math.round(h.idle * 100)}%`}</dd>
      </div>
      <div>
        <dt>instret</dt>
        <dd className="instret" title={h?.instret.toLocaleString("en-US")}>
          {h === undefined ? "—" : `${(h.instret / 1e6).toFixed(1)} M`}
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
