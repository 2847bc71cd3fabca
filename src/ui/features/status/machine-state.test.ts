import { describe, expect, it } from "vitest";
import { machineState, runButtons, type StateInputs, stateFraction, stateLabel, stateText } from "./machine-state.ts";

const base: StateInputs = {
  phase: "running",
  downloads: [],
  stage: "prompt",
  restoring: false,
  restoredFrom: null,
  choosing: false,
  failure: undefined,
  exitCode: undefined,
};

describe("machineState: one state for the status row, the progress bar and the buttons", () => {
  const rows: [string, Partial<StateInputs>, string, string, ReturnType<typeof runButtons>][] = [
    // name, inputs, label, text, buttons
    [
      "worker not started yet",
      { phase: "idle", stage: "download" },
      "loading",
      "loading images…",
      { pause: "disabled", reset: false, power: "on-disabled" },
    ],
    [
      "images downloading",
      { phase: "downloading", stage: "download", downloads: [{ file: "Image", loaded: 1048576, total: 4194304 }] },
      "loading",
      "downloading images: 1.0 / 4.0 MiB",
      { pause: "disabled", reset: false, power: "on-disabled" },
    ],
    [
      "booting, firmware seen",
      { stage: "firmware" },
      "booting",
      "booting: kernel…",
      { pause: "pause", reset: true, power: "off" },
    ],
    ["at the prompt", {}, "running", "running: the shell is ready", { pause: "pause", reset: true, power: "off" }],
    [
      "paused at the prompt",
      { phase: "paused" },
      "paused",
      "paused: the hart is stopped (Resume goes on)",
      { pause: "resume", reset: true, power: "off" },
    ],
    // The console's last stage was the prompt: after Power off it must not say the shell is ready.
    [
      "Power off pressed",
      { phase: "off" },
      "powered off",
      "powered off: Power on boots it again",
      { pause: "disabled", reset: true, power: "on" },
    ],
    [
      "the guest powered off with a code",
      { phase: "off", exitCode: 3 },
      "powered off",
      "powered off with code 3: Power on boots it again",
      { pause: "disabled", reset: true, power: "on" },
    ],
    // A failure while the stage tracker still says "download": not "booting: firmware…".
    [
      "failed before the firmware",
      { phase: "error", stage: "download", failure: "download: Image: HTTP 404" },
      "failed",
      "failed: download: Image: HTTP 404",
      { pause: "disabled", reset: false, power: "on" },
    ],
    [
      "failed, no message",
      { phase: "error", stage: "kernel" },
      "failed",
      "failed: see the message below",
      { pause: "disabled", reset: false, power: "on" },
    ],
    [
      "a kept machine offered",
      { phase: "idle", choosing: true, stage: "download" },
      "waiting",
      "a kept machine is waiting: resume it, or start fresh",
      { pause: "disabled", reset: false, power: "on" },
    ],
    [
      "restoring a picked snapshot",
      { phase: "running", restoring: true },
      "restoring",
      "restoring the snapshot…",
      { pause: "disabled", reset: false, power: "on-disabled" },
    ],
    [
      "restored, no save time",
      { restoredFrom: undefined, stage: "prompt" },
      "running",
      "restored from a snapshot",
      { pause: "pause", reset: true, power: "off" },
    ],
  ];
  for (const [name, inputs, label, text, buttons] of rows) {
    it(name, () => {
      const s = machineState({ ...base, ...inputs });
      expect(stateLabel(s)).toBe(label);
      expect(stateText(s)).toBe(text);
      expect(runButtons(s)).toEqual(buttons);
    });
  }

  it("the bar is full while running or paused, and follows the stages while booting", () => {
    expect(stateFraction(machineState(base), "prompt")).toBe(1);
    expect(stateFraction(machineState({ ...base, stage: "kernel" }), "kernel")).toBeCloseTo(3 / 5);
    expect(stateFraction(machineState({ ...base, phase: "idle", stage: "download" }), "download")).toBe(0);
  });
});
