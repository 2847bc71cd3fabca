// The progress bar: its fill, its sentence and the stage list all read from the page's MachineState
// (features/status/machine-state.ts). It keeps its height whatever it shows, so the terminal below never jumps.

import { memo } from "react";
import { type MachineState, stateFraction, stateText } from "../status/machine-state.ts";
import { BOOT_STAGES, type BootStage, stageIndex } from "./boot-stages.ts";

interface Props {
  state: MachineState;
  /** The last boot stage the console showed (the stage list marks the ones passed). */
  stage: BootStage;
}

export const BootProgress = memo(function BootProgress({ state, stage }: Props) {
  const current = stageIndex(stage);
  const fraction = stateFraction(state, stage);
  const text = stateText(state);
  const restored = state.kind === "running" && state.restoredFrom !== null;
  return (
    <div
      className={`boot-progress state-${state.kind}`}
      data-stage={stage}
      data-state={state.kind}
      data-restored={restored ? "true" : undefined}
    >
      <div
        className="boot-progress-bar"
        role="progressbar"
        aria-label="boot progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
        aria-valuetext={text}
      >
        <div className="boot-progress-fill" style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      </div>
      <ol className="boot-stages" aria-label="boot stages">
        {BOOT_STAGES.map((s, i) => (
          <li key={s.stage} className={i < current || stage === "prompt" ? "done" : i === current ? "current" : ""}>
            {s.label}
          </li>
        ))}
      </ol>
      <span className="boot-progress-text">{text}</span>
    </div>
  );
});
