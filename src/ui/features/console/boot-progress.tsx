// The boot progress bar: bytes downloaded of the images, then the boot stages read from the console.
// It keeps its height whatever it shows, so the terminal below never jumps.

import { memo } from "react";
import type { DownloadProgress, MachinePhase } from "../../../worker/protocol.ts";
import { BOOT_STAGES, type BootStage, stageIndex } from "./boot-stages.ts";

interface Props {
  phase: MachinePhase;
  downloads: DownloadProgress[];
  stage: BootStage;
  /** A snapshot is being downloaded or restored. */
  restoring?: boolean;
  /** The machine came from a snapshot saved then (ms; undefined: the file does not say); null: it booted. */
  restoredFrom?: number | undefined | null;
  /** Nothing runs yet: the page offers a kept machine and waits for the person's choice. */
  choosing?: boolean;
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

export const BootProgress = memo(function BootProgress({
  phase,
  downloads,
  stage,
  restoring,
  restoredFrom,
  choosing,
}: Props) {
  const loaded = downloads.reduce((a, f) => a + f.loaded, 0);
  const total = downloads.reduce((a, f) => a + Math.max(f.total, f.loaded), 0);
  const downloading = phase === "downloading";
  const current = stageIndex(stage);
  // The bar spans both parts: the download fills the first stage, each console marker one more.
  const fraction = downloading
    ? total > 0
      ? loaded / total / BOOT_STAGES.length
      : 0
    : (current + 1) / BOOT_STAGES.length;
  const text =
    choosing === true
      ? "a kept machine is waiting: resume it, or start fresh"
      : downloading
        ? `downloading ${restoring === true ? "the snapshot" : "images"}: ${mib(loaded)} / ${total > 0 ? mib(total) : "?"} MiB`
        : restoring === true
          ? "restoring the snapshot…"
          : restoredFrom !== null && restoredFrom !== undefined
            ? `restored from a snapshot saved ${new Date(restoredFrom).toLocaleString()}`
            : restoredFrom === undefined
              ? "restored from a snapshot"
              : stage === "prompt"
                ? "booted: the shell is ready"
                : `booting: ${BOOT_STAGES[Math.min(current + 1, BOOT_STAGES.length - 1)].label}…`;
  return (
    <div className="boot-progress" data-stage={stage} data-restored={restoredFrom !== null ? "true" : undefined}>
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
