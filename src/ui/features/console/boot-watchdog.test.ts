import { describe, expect, it } from "vitest";
import { BootWatchdog, WATCHDOG_DEFAULT_S, watchdogSeconds } from "./boot-watchdog.ts";

describe("BootWatchdog", () => {
  it("speaks after the limit of silence, naming the quiet part of the boot", () => {
    const w = new BootWatchdog(10_000);
    w.arm(0);
    expect(w.check(9_999, "download")).toBeUndefined();
    expect(w.check(10_000, "download")).toMatch(/^no output from the firmware for 10 s/);
    w.output(10_500);
    expect(w.check(15_000, "firmware")).toBeUndefined();
    expect(w.check(21_000, "firmware")).toMatch(/^no output from the kernel for 10 s.*Reset/);
    expect(w.check(40_000, "kernel")).toMatch(/^no output from the kernel for 29 s/);
    // Once init runs, quiet is the guest's own business.
    expect(w.check(40_000, "init")).toBeUndefined();
  });

  it("is quiet at the prompt, while not running, and when off", () => {
    const w = new BootWatchdog(1000);
    expect(w.check(5000, "kernel")).toBeUndefined(); // never armed
    w.arm(0);
    expect(w.check(5000, "prompt")).toBeUndefined();
    w.disarm();
    expect(w.check(5000, "kernel")).toBeUndefined();
    w.arm(5000);
    expect(w.check(5500, "kernel")).toBeUndefined();
    expect(w.check(6000, "kernel")).toMatch(/1 s/);
    const off = new BootWatchdog(0);
    off.arm(0);
    expect(off.check(1e9, "download")).toBeUndefined();
  });

  it("reads ?watchdog=N seconds", () => {
    expect(watchdogSeconds("?watchdog=5")).toBe(5);
    expect(watchdogSeconds("?watchdog=0")).toBe(0);
    expect(watchdogSeconds("?watchdog=x")).toBe(WATCHDOG_DEFAULT_S);
    expect(watchdogSeconds("")).toBe(WATCHDOG_DEFAULT_S);
  });
});
