import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/core/clock.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import {
  GoldfishRtc,
  RTC_ALARM_HIGH,
  RTC_ALARM_LOW,
  RTC_ALARM_STATUS,
  RTC_CLEAR_ALARM,
  RTC_CLEAR_INTERRUPT,
  RTC_IRQ_ENABLED,
  RTC_TIME_HIGH,
  RTC_TIME_LOW,
} from "./rtc-goldfish.ts";

const TWO_32 = 2n ** 32n;

function setup() {
  const clock = new ManualClock(0, 1_700_000_000_000_000_000);
  const irq = new LevelIrq();
  const rtc = new GoldfishRtc(clock, irq);
  const readTime = () => {
    const lo = BigInt(rtc.read(RTC_TIME_LOW, 4));
    return (BigInt(rtc.read(RTC_TIME_HIGH, 4)) << 32n) | lo;
  };
  /** As Linux's goldfish_rtc_set_time: high, then low. */
  const writeTime = (t: bigint) => {
    rtc.write(RTC_TIME_HIGH, 4, Number(t >> 32n));
    rtc.write(RTC_TIME_LOW, 4, Number(t % TWO_32));
  };
  /** As Linux's goldfish_rtc_set_alarm: high, then low (which arms). */
  const writeAlarm = (t: bigint) => {
    rtc.write(RTC_ALARM_HIGH, 4, Number(t >> 32n));
    rtc.write(RTC_ALARM_LOW, 4, Number(t % TWO_32));
  };
  return { clock, irq, rtc, readTime, writeTime, writeAlarm };
}

// Wall times near 2^60 ns are doubles with a 256 ns step.
const near = (a: bigint, b: bigint) => (a > b ? a - b : b - a) <= 512n;

describe("GoldfishRtc", () => {
  it("reads the host wall clock in ns since the epoch", () => {
    const t = setup();
    expect(near(t.readTime(), 1_700_000_000_000_000_000n)).toBe(true);
    t.clock.advance(2e9);
    expect(near(t.readTime(), 1_700_000_002_000_000_000n)).toBe(true);
  });

  it("latches TIME_HIGH when TIME_LOW is read", () => {
    const t = setup();
    t.writeTime(0xffff_ff00n); // just below a carry into the high half
    t.rtc.read(RTC_TIME_LOW, 4);
    t.clock.advance(1000);
    expect(t.rtc.read(RTC_TIME_HIGH, 4)).toBe(0);
    t.rtc.read(RTC_TIME_LOW, 4);
    expect(t.rtc.read(RTC_TIME_HIGH, 4)).toBe(1);
  });

  it("accepts a guest clock write (hwclock -w) and keeps counting from it", () => {
    const t = setup();
    const want = 1_234_567_890_000_000_000n;
    t.writeTime(want);
    expect(near(t.readTime(), want)).toBe(true);
    t.clock.advance(5e9);
    expect(near(t.readTime(), want + 5_000_000_000n)).toBe(true);
  });

  it("fires a future alarm from update() when due, then clears on CLEAR_INTERRUPT", () => {
    const t = setup();
    t.rtc.write(RTC_IRQ_ENABLED, 4, 1);
    const now = t.readTime();
    t.writeAlarm(now + 1_000_000n);
    expect(t.rtc.read(RTC_ALARM_STATUS, 4)).toBe(1);
    expect(Math.abs(t.rtc.nextDeadlineNs() - 1_000_000)).toBeLessThanOrEqual(512);
    t.clock.advance(999_000);
    t.rtc.update();
    expect(t.irq.level).toBe(false);
    t.clock.advance(2_000);
    t.rtc.update();
    expect(t.irq.level).toBe(true);
    expect(t.rtc.read(RTC_ALARM_STATUS, 4)).toBe(0);
    expect(t.rtc.nextDeadlineNs()).toBe(Number.POSITIVE_INFINITY);
    t.rtc.write(RTC_CLEAR_INTERRUPT, 4, 1);
    expect(t.irq.level).toBe(false);
  });

  const rows: { name: string; enable: boolean; alarmDelta: bigint; clear: boolean; irq: boolean; status: number }[] = [
    { name: "alarm in the past fires at once", enable: true, alarmDelta: -1000n, clear: false, irq: true, status: 0 },
    { name: "masked alarm raises nothing", enable: false, alarmDelta: -1000n, clear: false, irq: false, status: 0 },
    { name: "future alarm is armed", enable: true, alarmDelta: 10n ** 9n, clear: false, irq: false, status: 1 },
    { name: "CLEAR_ALARM disarms", enable: true, alarmDelta: 10n ** 9n, clear: true, irq: false, status: 0 },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const t = setup();
      if (row.enable) t.rtc.write(RTC_IRQ_ENABLED, 4, 1);
      t.writeAlarm(t.readTime() + row.alarmDelta);
      if (row.clear) t.rtc.write(RTC_CLEAR_ALARM, 4, 1);
      t.rtc.update();
      expect(t.irq.level).toBe(row.irq);
      expect(t.rtc.read(RTC_ALARM_STATUS, 4)).toBe(row.status);
    });
  }

  it("raises a masked pending alarm once IRQ_ENABLED is set", () => {
    const t = setup();
    t.writeAlarm(0n);
    expect(t.irq.level).toBe(false);
    t.rtc.write(RTC_IRQ_ENABLED, 4, 1);
    expect(t.irq.level).toBe(true);
    expect(t.rtc.read(RTC_IRQ_ENABLED, 4)).toBe(1);
  });

  it("reads back the alarm halves", () => {
    const t = setup();
    t.writeAlarm(0x1234_5678_9abc_def0n);
    expect(t.rtc.read(RTC_ALARM_LOW, 4)).toBe(0x9abcdef0);
    expect(t.rtc.read(RTC_ALARM_HIGH, 4)).toBe(0x12345678);
  });

  const hostile: { name: string; offset: number; size: 1 | 2 | 4 }[] = [
    { name: "byte read of TIME_LOW", offset: RTC_TIME_LOW, size: 1 },
    { name: "halfword of ALARM_LOW", offset: RTC_ALARM_LOW, size: 2 },
    { name: "misaligned word", offset: 2, size: 4 },
    { name: "register past the map", offset: 0x20, size: 4 },
    { name: "write-only CLEAR_INTERRUPT", offset: RTC_CLEAR_INTERRUPT, size: 4 },
  ];
  for (const row of hostile) {
    it(`ignores ${row.name}`, () => {
      const t = setup();
      expect(t.rtc.read(row.offset, row.size)).toBe(0);
      const before = t.readTime();
      expect(() => t.rtc.write(row.offset, row.size, 0xffffffff)).not.toThrow();
      expect(near(t.readTime(), before)).toBe(true);
      expect(t.irq.level).toBe(false);
    });
  }

  it("reset() drops the guest's time offset and the alarm", () => {
    const t = setup();
    t.writeTime(42n);
    t.rtc.write(RTC_IRQ_ENABLED, 4, 1);
    t.writeAlarm(0n);
    expect(t.irq.level).toBe(true);
    t.rtc.reset();
    expect(t.irq.level).toBe(false);
    expect(near(t.readTime(), 1_700_000_000_000_000_000n)).toBe(true);
    expect(new GoldfishRtc(t.clock, new LevelIrq()).read(RTC_IRQ_ENABLED, 4)).toBe(0);
  });
});

describe("GoldfishRtc state (snapshots)", () => {
  it("round-trips through JSON: the guest's offset from real time, the armed alarm, the interrupt", () => {
    const a = setup();
    a.writeTime(5_000_000_000_000_000_000n); // the guest set its clock far from the host's
    const due = a.readTime() + 2_000_000_000n;
    a.rtc.write(RTC_IRQ_ENABLED, 4, 1);
    a.rtc.write(RTC_ALARM_HIGH, 4, Number(due >> 32n));
    a.rtc.write(RTC_ALARM_LOW, 4, Number(due % TWO_32));
    const saved = JSON.parse(JSON.stringify(a.rtc.saveState()));
    const b = setup();
    b.rtc.loadState(saved);
    expect(b.rtc.saveState()).toEqual(saved);
    expect(b.readTime()).toBe(a.readTime()); // the same host wall clock: the same guest time
    expect(b.rtc.read(RTC_ALARM_STATUS, 4)).toBe(1);
    expect(b.irq.level).toBe(false);
    b.clock.advance(3_000_000_000);
    b.rtc.update();
    expect(b.irq.level).toBe(true);
  });

  it("refuses a state that does not fit, naming the field, and changes nothing", () => {
    const t = setup();
    t.rtc.write(RTC_IRQ_ENABLED, 4, 1);
    const good = t.rtc.saveState();
    const cases: [string, unknown, RegExp][] = [
      ["not an object", 3, /rtc: not an object/],
      ["offset", { ...good, offsetNs: "1" }, /rtc\.offsetNs: not a finite number/],
      ["infinite offset", { ...good, offsetNs: Number.POSITIVE_INFINITY }, /rtc\.offsetNs/],
      ["alarm", { ...good, alarmLo: -1 }, /rtc\.alarmLo/],
      ["flag", { ...good, irqPending: "yes" }, /rtc\.irqPending: not a boolean/],
    ];
    for (const [name, bad, why] of cases) {
      expect(() => t.rtc.loadState(bad), name).toThrow(why);
      expect(t.rtc.saveState(), name).toEqual(good);
    }
  });
});
