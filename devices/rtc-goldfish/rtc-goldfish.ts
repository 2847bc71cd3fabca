// The Goldfish RTC of QEMU's virt board: wall-clock nanoseconds since the Unix epoch, one alarm.
// Reads guest-controlled register values (time and alarm writes): every offset and size is checked,
// nothing throws. Register map: spec riscv-platform.md §7.4; behaviour follows QEMU's goldfish_rtc.c.

import type { MmioDevice } from "../../src/core/bus.ts";
import type { Clock } from "../../src/core/clock.ts";
import type { IrqLine } from "../../src/core/irq.ts";
import { flag, record, SnapshotError, uint } from "../../src/machine/state-check.ts";

/** The RTC in a snapshot (plain JSON data). */
export interface RtcState {
  /** The guest's correction to the host's wall clock, ns: after a restore the RTC reads real time again, as set. */
  offsetNs: number;
  timeHighLatch: number;
  alarmLo: number;
  alarmHi: number;
  alarmRunning: boolean;
  irqPending: boolean;
  irqEnabled: boolean;
}

export const RTC_TIME_LOW = 0x00;
export const RTC_TIME_HIGH = 0x04;
export const RTC_ALARM_LOW = 0x08;
export const RTC_ALARM_HIGH = 0x0c;
export const RTC_IRQ_ENABLED = 0x10;
export const RTC_CLEAR_ALARM = 0x14;
export const RTC_ALARM_STATUS = 0x18;
export const RTC_CLEAR_INTERRUPT = 0x1c;

const TWO_32 = 4294967296;

// Times near 2^60 ns are doubles with a 256 ns step; splitting them into exact 32-bit halves still
// works because hi·2^32 and t − hi·2^32 are computed without rounding.
function hiOf(t: number): number {
  return Math.floor(t / TWO_32);
}
function loOf(t: number): number {
  return t - hiOf(t) * TWO_32;
}

export class GoldfishRtc implements MmioDevice {
  /** Added to the host wall clock: a guest `hwclock -w` moves the RTC, not the host. */
  private offsetNs = 0;
  private timeHighLatch = 0;
  private alarmLo = 0;
  private alarmHi = 0;
  private alarmRunning = false;
  private irqPending = false;
  private irqEnabled = false;
  private irqLevel = false;

  constructor(
    private readonly clock: Clock,
    private readonly irq: IrqLine,
  ) {}

  /** Power-on state: alarm off, interrupt off, time back to the host clock. */
  reset(): void {
    this.offsetNs = 0;
    this.timeHighLatch = 0;
    this.alarmLo = 0;
    this.alarmHi = 0;
    this.alarmRunning = false;
    this.irqPending = false;
    this.irqEnabled = false;
    this.updateIrq();
  }

  /** Fires the alarm when it is due. Cheap; the board calls it with the other timers. */
  update(): void {
    if (this.alarmRunning && this.now() >= this.alarm()) this.fire();
  }

  /** Host monotonic ns when the armed alarm fires; Infinity when none is armed. */
  nextDeadlineNs(): number {
    if (!this.alarmRunning) return Number.POSITIVE_INFINITY;
    return this.clock.nowNs() + Math.max(0, this.alarm() - this.now());
  }

  /** For a snapshot. */
  saveState(): RtcState {
    return {
      offsetNs: this.offsetNs,
      timeHighLatch: this.timeHighLatch,
      alarmLo: this.alarmLo,
      alarmHi: this.alarmHi,
      alarmRunning: this.alarmRunning,
      irqPending: this.irqPending,
      irqEnabled: this.irqEnabled,
    };
  }

  /**
   * Restores saveState()'s output (an alarm that came due while the machine was saved fires at the next update());
   * throws a SnapshotError naming the field, changing nothing, on anything else.
   */
  loadState(state: unknown): void {
    const s = record(state, "rtc");
    if (typeof s.offsetNs !== "number" || !Number.isFinite(s.offsetNs)) {
      throw new SnapshotError("rtc.offsetNs: not a finite number");
    }
    const latch = uint(s.timeHighLatch, "rtc.timeHighLatch");
    const lo = uint(s.alarmLo, "rtc.alarmLo");
    const hi = uint(s.alarmHi, "rtc.alarmHi");
    const running = flag(s.alarmRunning, "rtc.alarmRunning");
    const pending = flag(s.irqPending, "rtc.irqPending");
    const enabled = flag(s.irqEnabled, "rtc.irqEnabled");
    this.offsetNs = s.offsetNs;
    this.timeHighLatch = latch;
    this.alarmLo = lo;
    this.alarmHi = hi;
    this.alarmRunning = running;
    this.irqPending = pending;
    this.irqEnabled = enabled;
    this.updateIrq();
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (size !== 4) return 0;
    switch (offset) {
      case RTC_TIME_LOW: {
        const t = this.now();
        this.timeHighLatch = hiOf(t) >>> 0;
        return loOf(t) >>> 0;
      }
      case RTC_TIME_HIGH:
        return this.timeHighLatch;
      case RTC_ALARM_LOW:
        return this.alarmLo;
      case RTC_ALARM_HIGH:
        return this.alarmHi;
      case RTC_IRQ_ENABLED:
        return this.irqEnabled ? 1 : 0;
      case RTC_ALARM_STATUS:
        return this.alarmRunning ? 1 : 0;
      default:
        return 0;
    }
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4) return;
    value >>>= 0;
    switch (offset) {
      case RTC_TIME_LOW: {
        const t = this.now();
        this.offsetNs += hiOf(t) * TWO_32 + value - t;
        return;
      }
      case RTC_TIME_HIGH: {
        const t = this.now();
        this.offsetNs += value * TWO_32 + loOf(t) - t;
        return;
      }
      case RTC_ALARM_LOW:
        this.alarmLo = value;
        this.arm();
        return;
      case RTC_ALARM_HIGH:
        this.alarmHi = value; // only the low write arms (Linux writes high first)
        return;
      case RTC_IRQ_ENABLED:
        this.irqEnabled = (value & 1) === 1;
        this.updateIrq();
        return;
      case RTC_CLEAR_ALARM:
        this.alarmRunning = false;
        return;
      case RTC_CLEAR_INTERRUPT:
        this.irqPending = false;
        this.updateIrq();
        return;
      default:
        return;
    }
  }

  private now(): number {
    return this.clock.wallNs() + this.offsetNs;
  }

  private alarm(): number {
    return this.alarmHi * TWO_32 + this.alarmLo;
  }

  private arm(): void {
    if (this.alarm() <= this.now()) this.fire();
    else this.alarmRunning = true;
  }

  private fire(): void {
    this.alarmRunning = false;
    this.irqPending = true;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.irqPending && this.irqEnabled;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }
}
