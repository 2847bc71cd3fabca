// The page's one account of where the machine is. Everything the worker and the console tell the page
// (the worker's phase, download progress, the boot stage read from the console, a restore under way, the
// last failure, a guest's power-off code, a kept machine on offer) is folded into one MachineState, and
// the status row's word, the progress bar's text and fill, the page title and the run buttons are all
// read from it, so none of them can say something another contradicts.

import type { DownloadProgress, MachinePhase } from "../../../worker/protocol.ts";
import { BOOT_STAGES, type BootStage, stageIndex } from "../console/boot-stages.ts";

export type MachineState =
  /** A kept machine is offered: nothing runs until the person chooses. */
  | { kind: "waiting" }
  /** Images (or a snapshot) are being fetched, or the worker has not started yet. */
  | { kind: "loading"; what: "images" | "the snapshot"; loaded: number; total: number }
  /** A snapshot is being read and loaded. */
  | { kind: "restoring" }
  /** The hart runs and the console has not shown the prompt yet. */
  | { kind: "booting"; stage: BootStage }
  /** At the prompt (or restored from a snapshot, saved at `restoredFrom`; undefined: the file does not say). */
  | { kind: "running"; restoredFrom: number | undefined | null }
  | { kind: "paused" }
  /** Powered off: by the guest (with its exit code) or by the Power off button (no code). */
  | { kind: "off"; exitCode: number | undefined }
  | { kind: "failed"; reason: string | undefined };

export interface StateInputs {
  phase: MachinePhase;
  downloads: DownloadProgress[];
  stage: BootStage;
  /** A snapshot is being fetched or restored. */
  restoring: boolean;
  /** null: the machine booted; a number or undefined: it came from a snapshot. */
  restoredFrom: number | undefined | null;
  /** A kept machine is on offer. */
  choosing: boolean;
  /** The message of the last failure since the machine started. */
  failure: string | undefined;
  /** The guest's power-off code, when the guest powered itself off. */
  exitCode: number | undefined;
}

export function machineState(i: StateInputs): MachineState {
  switch (i.phase) {
    case "error":
      return { kind: "failed", reason: i.failure };
    case "off":
      return { kind: "off", exitCode: i.exitCode };
    case "paused":
      return { kind: "paused" };
    case "downloading":
    case "idle": {
      if (i.phase === "idle" && i.choosing) return { kind: "waiting" };
      if (i.phase === "idle" && i.restoring) return { kind: "restoring" };
      const loaded = i.downloads.reduce((a, f) => a + f.loaded, 0);
      const total = i.downloads.reduce((a, f) => a + Math.max(f.total, f.loaded), 0);
      return { kind: "loading", what: i.restoring ? "the snapshot" : "images", loaded, total };
    }
    case "running":
      if (i.restoring) return { kind: "restoring" };
      if (i.restoredFrom !== null || i.stage === "prompt") return { kind: "running", restoredFrom: i.restoredFrom };
      return { kind: "booting", stage: i.stage };
  }
}

/** The status row's word for the state. */
export function stateLabel(s: MachineState): string {
  return s.kind === "off" ? "powered off" : s.kind;
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

/** The progress bar's sentence. */
export function stateText(s: MachineState): string {
  switch (s.kind) {
    case "waiting":
      return "a kept machine is waiting: resume it, or start fresh";
    case "loading":
      return s.total > 0 || s.loaded > 0
        ? `downloading ${s.what}: ${mib(s.loaded)} / ${s.total > 0 ? mib(s.total) : "?"} MiB`
        : `loading ${s.what}…`;
    case "restoring":
      return "restoring the snapshot…";
    case "booting":
      return `booting: ${BOOT_STAGES[Math.min(stageIndex(s.stage) + 1, BOOT_STAGES.length - 1)].label}…`;
    case "running":
      if (s.restoredFrom === null) return "running: the shell is ready";
      return s.restoredFrom === undefined
        ? "restored from a snapshot"
        : `restored from a snapshot saved ${new Date(s.restoredFrom).toLocaleString()}`;
    case "paused":
      return "paused: the hart is stopped (Resume goes on)";
    case "off":
      return `powered off${s.exitCode !== undefined && s.exitCode !== 0 ? ` with code ${s.exitCode}` : ""}: Power on boots it again`;
    case "failed":
      return `failed: ${s.reason ?? "see the message below"}`;
  }
}

/** How full the progress bar is (0..1): the download fills the first stage, each console marker one more. */
export function stateFraction(s: MachineState, stage: BootStage): number {
  const n = BOOT_STAGES.length;
  switch (s.kind) {
    case "waiting":
      return 0;
    case "loading":
      return s.total > 0 ? s.loaded / s.total / n : 0;
    case "booting":
      return (stageIndex(s.stage) + 1) / n;
    case "restoring":
    case "off":
    case "failed":
      return (stageIndex(stage) + 1) / n;
    case "running":
    case "paused":
      return 1;
  }
}

export interface RunButtons {
  /** Pause, Resume, or Pause greyed out. */
  pause: "pause" | "resume" | "disabled";
  reset: boolean;
  /** Power off (a machine to stop), Power on (none), or Power on greyed out (one is loading). */
  power: "off" | "on" | "on-disabled";
}

const BUTTONS_RUNNING: RunButtons = { pause: "pause", reset: true, power: "off" };
const BUTTONS_PAUSED: RunButtons = { pause: "resume", reset: true, power: "off" };
// The worker still holds the machine: a reset powers the same one back on.
const BUTTONS_OFF: RunButtons = { pause: "disabled", reset: true, power: "on" };
const BUTTONS_NONE: RunButtons = { pause: "disabled", reset: false, power: "on" };
const BUTTONS_BUSY: RunButtons = { pause: "disabled", reset: false, power: "on-disabled" };

/** The same object for the same kind of state, so the memoised controls re-render only when it changes. */
export function runButtons(s: MachineState): RunButtons {
  switch (s.kind) {
    case "booting":
    case "running":
      return BUTTONS_RUNNING;
    case "paused":
      return BUTTONS_PAUSED;
    case "off":
      return BUTTONS_OFF;
    case "failed":
    case "waiting":
      return BUTTONS_NONE;
    case "loading":
    case "restoring":
      return BUTTONS_BUSY;
  }
}
