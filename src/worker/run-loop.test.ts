import { afterEach, describe, expect, it } from "vitest";
import type { RunState } from "../machine/virt.ts";
import { RunLoop, type RunLoopHooks, type SliceRunner } from "./run-loop.ts";

/** A machine that plays back a script of slice results, on a real clock. */
class ScriptedMachine implements SliceRunner {
  readonly clock = { nowNs: () => performance.now() * 1e6 };
  slices = 0;
  nextEventInMs = 50;
  constructor(private readonly script: RunState[]) {}
  runSlice(): RunState {
    this.slices++;
    return this.script.shift() ?? "poweroff";
  }
  nextEventNs(): number {
    return this.clock.nowNs() + this.nextEventInMs * 1e6;
  }
}

function hooks(events: string[], done?: () => void): RunLoopHooks {
  return {
    afterSlice: (s) => events.push(`slice:${s}`),
    poweredOff: () => {
      events.push("poweroff");
      done?.();
    },
    reset: () => events.push("reset"),
    failed: (e) => {
      events.push(`failed:${(e as Error).message}`);
      done?.();
    },
  };
}

const loops: RunLoop[] = [];
afterEach(() => {
  for (const l of loops.splice(0)) l.dispose();
});

function runUntilStopped(machine: SliceRunner, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const loop = new RunLoop(machine, hooks(events, resolve));
    loops.push(loop);
    loop.start();
  });
}

describe("RunLoop", () => {
  it("runs slices until the guest powers off, resetting on request", async () => {
    const events: string[] = [];
    await runUntilStopped(new ScriptedMachine(["running", "reset", "running", "poweroff"]), events);
    expect(events).toEqual(["slice:running", "slice:reset", "reset", "slice:running", "slice:poweroff", "poweroff"]);
  });

  it("yields between slices without the 4 ms timer clamp", async () => {
    const events: string[] = [];
    const m = new ScriptedMachine(Array.from({ length: 200 }, () => "running" as RunState));
    const t0 = performance.now();
    await runUntilStopped(m, events);
    // 200 setTimeout(0) yields would take ≥ 0.8 s in a browser; a MessageChannel round trip is µs.
    expect(m.slices).toBe(201);
    expect(performance.now() - t0).toBeLessThan(400);
  });

  it("sleeps while the guest waits, and wake() cuts the sleep short", async () => {
    const events: string[] = [];
    const m = new ScriptedMachine(["waiting", "poweroff"]);
    m.nextEventInMs = 10_000;
    const t0 = performance.now();
    const stopped = new Promise<void>((resolve) => {
      const loop = new RunLoop(m, hooks(events, resolve));
      loops.push(loop);
      loop.start();
      setTimeout(() => loop.wake(), 30);
    });
    await stopped;
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(25);
    expect(ms).toBeLessThan(900); // MAX_SLEEP_MS would be 1000
    expect(m.slices).toBe(2);
  });

  it("pause() stops after the current slice and start() resumes", async () => {
    const events: string[] = [];
    const m = new ScriptedMachine(["running", "running", "poweroff"]);
    await new Promise<void>((resolve) => {
      let loop: RunLoop;
      const h = hooks(events, resolve);
      const paused = {
        ...h,
        afterSlice: (s: RunState) => {
          h.afterSlice(s);
          if (m.slices === 1) {
            loop.pause();
            setTimeout(() => {
              events.push("resume");
              loop.start();
            }, 20);
          }
        },
      };
      loop = new RunLoop(m, paused);
      loops.push(loop);
      loop.start();
    });
    expect(events).toEqual(["slice:running", "resume", "slice:running", "slice:poweroff", "poweroff"]);
  });

  it("reports an emulator exception and stops", async () => {
    const events: string[] = [];
    const m = new ScriptedMachine([]);
    m.runSlice = () => {
      throw new Error("boom");
    };
    await runUntilStopped(m, events);
    expect(events).toEqual(["slice:poweroff", "failed:boom"]);
  });
});
