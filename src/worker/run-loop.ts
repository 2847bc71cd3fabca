// The worker's run loop: the machine runs in time slices and yields to the event loop between them
// through a MessageChannel, because setTimeout(0) is clamped to ≥ 4 ms in browsers and would cost
// the guest a third of its speed (DESIGN.md §4). While the hart sleeps in WFI the loop sleeps too,
// until the next timer event or until wake() (a keystroke, an async interrupt).

import type { RunState } from "../machine/virt.ts";

/** The part of VirtMachine the loop drives (a fake one in tests). */
export interface SliceRunner {
  runSlice(maxMs: number): RunState;
  nextEventNs(): number;
  readonly clock: { nowNs(): number };
}

export interface RunLoopHooks {
  /** After every slice: flush console output, maybe take a snapshot. */
  afterSlice(state: RunState): void;
  /** The guest powered off; the loop has stopped. */
  poweredOff(): void;
  /** The guest asked for a reset; the loop continues once this returns (the hook power-cycles). */
  reset(): void;
  /** runSlice threw: an emulator bug. The loop has stopped. */
  failed(error: unknown): void;
}

/** Host time per slice: short enough that keystrokes and snapshots get in, long enough to amortise a yield. */
export const SLICE_MS = 10;
/** The longest single sleep, so a lost wake-up can never stall the guest for long. */
export const MAX_SLEEP_MS = 1000;

export class RunLoop {
  private running = false;
  private posted = false;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly channel = new MessageChannel();
  /** Host ns spent asleep in WFI since the counter was last read (for the idle share). */
  private sleptNs = 0;
  private sleepStartNs: number | undefined;

  constructor(
    private readonly machine: SliceRunner,
    private readonly hooks: RunLoopHooks,
  ) {
    this.channel.port1.onmessage = () => {
      this.posted = false;
      this.step();
    };
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.post();
  }

  /** Stops after the current slice; start() continues where it left off. */
  pause(): void {
    this.running = false;
    this.cancelSleep();
  }

  /** Something the guest waits for happened (input, an async interrupt): run now if asleep. */
  wake(): void {
    if (!this.running || this.sleepTimer === undefined) return;
    this.cancelSleep();
    this.post();
  }

  /** Stops for good and releases the channel. */
  dispose(): void {
    this.pause();
    this.channel.port1.onmessage = null;
    this.channel.port1.close();
    this.channel.port2.close();
  }

  /** Host ns slept in WFI since the last call. */
  takeSleptNs(): number {
    let ns = this.sleptNs;
    if (this.sleepStartNs !== undefined) {
      const now = this.machine.clock.nowNs();
      ns += now - this.sleepStartNs;
      this.sleepStartNs = now;
    }
    this.sleptNs = 0;
    return ns;
  }

  private post(): void {
    if (this.posted) return;
    this.posted = true;
    this.channel.port2.postMessage(null);
  }

  private cancelSleep(): void {
    if (this.sleepTimer !== undefined) {
      clearTimeout(this.sleepTimer);
      this.sleepTimer = undefined;
    }
    if (this.sleepStartNs !== undefined) {
      this.sleptNs += this.machine.clock.nowNs() - this.sleepStartNs;
      this.sleepStartNs = undefined;
    }
  }

  private step(): void {
    if (!this.running) return;
    let state: RunState;
    try {
      state = this.machine.runSlice(SLICE_MS);
    } catch (e) {
      this.running = false;
      this.hooks.afterSlice("poweroff");
      this.hooks.failed(e);
      return;
    }
    this.hooks.afterSlice(state);
    if (!this.running) return; // a hook paused us
    switch (state) {
      case "poweroff":
        this.running = false;
        this.hooks.poweredOff();
        return;
      case "reset":
        this.hooks.reset();
        this.post();
        return;
      case "waiting": {
        const ms = (this.machine.nextEventNs() - this.machine.clock.nowNs()) / 1e6;
        if (ms < 1) {
          this.post();
          return;
        }
        this.sleepStartNs = this.machine.clock.nowNs();
        this.sleepTimer = setTimeout(
          () => {
            this.sleepTimer = undefined;
            this.cancelSleep();
            this.post();
          },
          Math.min(ms, MAX_SLEEP_MS),
        );
        return;
      }
      default:
        this.post();
    }
  }
}
