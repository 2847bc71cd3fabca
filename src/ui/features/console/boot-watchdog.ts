// The boot's watchdog: a guest that dies early (a kernel that faults before its console is up, firmware that
// hangs) prints nothing more, and the page would sit at "booting: kernel…" for ever. While the machine runs and
// the boot has not reached init, this many seconds without a byte on either console is reported, naming the
// part of the boot that went quiet; the page offers Reset beside it. Once init runs, silence is the guest's
// business (an idle shell prints nothing, a distribution may read its disk quietly).

import type { BootStage } from "./boot-stages.ts";

/** Silence long enough to be a dead boot on a slow machine (a boot prints something every second or so). */
export const WATCHDOG_DEFAULT_S = 30;

/** `?watchdog=N` (seconds; 0 turns it off), else the default. */
export function watchdogSeconds(search: string): number {
  const v = new URLSearchParams(search).get("watchdog");
  if (v === null || !/^\d{1,4}$/.test(v)) return WATCHDOG_DEFAULT_S;
  return Number(v);
}

/** Who was expected to speak next at each stage of the boot. */
function silentPart(stage: BootStage): string {
  switch (stage) {
    case "download":
      return "the firmware";
    default:
      return "the kernel";
  }
}

export class BootWatchdog {
  private last = 0;
  private armed = false;

  constructor(private readonly limitMs: number) {}

  /** The machine started running (a boot, a reset, a resume): the silence counts from now. */
  arm(now: number): void {
    this.armed = this.limitMs > 0;
    this.last = now;
  }

  /** The machine stopped (paused, off, failed): silence means nothing until it runs again. */
  disarm(): void {
    this.armed = false;
  }

  /** Console output arrived. */
  output(now: number): void {
    this.last = now;
  }

  /** The message to show now, or undefined while all is well. */
  check(now: number, stage: BootStage): string | undefined {
    // Past "Run /init" the guest's own userspace may be quiet for long (a big distribution reading its disk over
    // HTTP): the watchdog is for a boot that dies in the firmware or the kernel.
    if (!this.armed || stage === "init" || stage === "prompt" || now - this.last < this.limitMs) return undefined;
    const s = Math.floor((now - this.last) / 1000);
    return `no output from ${silentPart(stage)} for ${s} s: the guest may have died early (a wrong or broken image?). Reset to try again, or pick other images.`;
  }
}
