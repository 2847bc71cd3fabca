import { describe, expect, it } from "vitest";
import { Bus } from "../../src/core/bus.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { type InterruptTarget, MIP_MSIP, MIP_MTIP } from "../../src/core/interrupts.ts";
import { CLINT_MTIME, CLINT_MTIMECMP_BASE, Clint } from "./clint.ts";

class FakeHart implements InterruptTarget {
  mip = 0;
  calls = 0;
  setPending(bit: number, level: boolean): void {
    this.calls++;
    this.mip = level ? this.mip | (1 << bit) : this.mip & ~(1 << bit);
  }
  has(bit: number): boolean {
    return (this.mip & (1 << bit)) !== 0;
  }
}

function setup(harts = 2) {
  const clock = new ManualClock(5_000_000); // a non-zero origin: mtime must still start at 0
  const hs = Array.from({ length: harts }, () => new FakeHart());
  const clint = new Clint(clock, hs);
  return { clock, hs, clint };
}

const MS = 1_000_000;

function writeCmp(clint: Clint, hart: number, v: bigint) {
  clint.write(CLINT_MTIMECMP_BASE + 8 * hart, 4, Number(v & 0xffffffffn));
  clint.write(CLINT_MTIMECMP_BASE + 8 * hart + 4, 4, Number(v >> 32n));
}

describe("Clint", () => {
  it("resets like QEMU: mtime 0, mtimecmp 0 so MTIP is pending, MSIP clear", () => {
    const { clint, hs } = setup();
    expect(clint.mtime()).toBe(0);
    for (const h of hs) {
      expect(h.has(MIP_MTIP)).toBe(true);
      expect(h.has(MIP_MSIP)).toBe(false);
    }
    expect(clint.read(CLINT_MTIMECMP_BASE, 4)).toBe(0);
  });

  it("counts mtime at 10 MHz from the clock and reads it as two halves", () => {
    const { clint, clock } = setup();
    clock.advance(1 * MS);
    expect(clint.mtime()).toBe(10_000);
    clock.advance(430 * 1e9); // past 2^32 ticks
    const t = clint.mtime();
    expect(t).toBe(10_000 + 4_300_000_000);
    expect(clint.read(CLINT_MTIME, 4)).toBe(t % 2 ** 32);
    expect(clint.read(CLINT_MTIME + 4, 4)).toBe(Math.floor(t / 2 ** 32));
  });

  it("keeps counting from a value the guest writes to mtime (low then high, as the Bus splits it)", () => {
    const { clint, clock } = setup();
    const bus = new Bus();
    bus.map(0x2000000, 0x10000, clint, "clint");
    bus.write(0x2000000 + CLINT_MTIME, 8, 0x89abcdef, 0x1);
    expect(clint.mtime()).toBe(0x1_89abcdef);
    clock.advance(100); // one tick
    expect(bus.read64(0x2000000 + CLINT_MTIME)).toEqual([0x89abcdef + 1 - 2 ** 32, 1]);
  });

  it("re-evaluates MTIP at once on an mtimecmp write and fires it from update() when due", () => {
    const { clint, clock, hs } = setup();
    writeCmp(clint, 0, 10_000n);
    expect(hs[0].has(MIP_MTIP)).toBe(false);
    expect(hs[1].has(MIP_MTIP)).toBe(true); // hart 1 still has mtimecmp 0
    expect(clint.nextDeadlineNs()).toBe(5_000_000 + 1 * MS);
    clock.advance(1 * MS - 1);
    clint.update();
    expect(hs[0].has(MIP_MTIP)).toBe(false);
    clock.advance(1);
    clint.update();
    expect(hs[0].has(MIP_MTIP)).toBe(true);
    expect(clint.nextDeadlineNs()).toBe(Number.POSITIVE_INFINITY);
    writeCmp(clint, 0, 0n); // a past value is pending at once
    expect(hs[0].has(MIP_MTIP)).toBe(true);
  });

  it("reads back an all-ones mtimecmp exactly and never fires it", () => {
    const { clint, clock, hs } = setup();
    writeCmp(clint, 1, 0xffffffffffffffffn);
    expect(clint.read(CLINT_MTIMECMP_BASE + 8, 4)).toBe(0xffffffff);
    expect(clint.read(CLINT_MTIMECMP_BASE + 12, 4)).toBe(0xffffffff);
    clock.advance(1e12);
    clint.update();
    expect(hs[1].has(MIP_MTIP)).toBe(false);
  });

  it("update() drives a hart only when its level changes", () => {
    const { clint, hs } = setup();
    const before = hs[0].calls;
    for (let i = 0; i < 100; i++) clint.update();
    expect(hs[0].calls).toBe(before);
  });

  it("reports the earliest deadline across harts, counted from a guest-written mtime", () => {
    const { clint, clock } = setup();
    clint.write(CLINT_MTIME, 4, 1000);
    writeCmp(clint, 0, 3000n);
    writeCmp(clint, 1, 2000n);
    expect(clint.nextDeadlineNs()).toBe(clock.nowNs() + 1000 * 100);
  });

  it("drives MSIP from bit 0 of each hart's msip register", () => {
    const { clint, hs } = setup();
    clint.write(4, 4, 0xffffffff);
    expect(hs[1].has(MIP_MSIP)).toBe(true);
    expect(hs[0].has(MIP_MSIP)).toBe(false);
    expect(clint.read(4, 4)).toBe(1);
    clint.write(4, 4, 2);
    expect(hs[1].has(MIP_MSIP)).toBe(false);
  });

  it("reset() returns to power-on state", () => {
    const { clint, clock, hs } = setup();
    clock.advance(5 * MS);
    writeCmp(clint, 0, 1n << 40n);
    clint.write(0, 4, 1);
    clint.reset();
    expect(clint.mtime()).toBe(0);
    expect(hs[0].has(MIP_MTIP)).toBe(true);
    expect(hs[0].has(MIP_MSIP)).toBe(false);
  });

  const hostile: { name: string; offset: number; size: 1 | 2 | 4 }[] = [
    { name: "byte read of msip", offset: 0, size: 1 },
    { name: "halfword of mtime", offset: CLINT_MTIME, size: 2 },
    { name: "misaligned word", offset: 2, size: 4 },
    { name: "msip of a hart that does not exist", offset: 4 * 2, size: 4 },
    { name: "mtimecmp of a hart that does not exist", offset: CLINT_MTIMECMP_BASE + 16, size: 4 },
    { name: "hole between registers", offset: 0x8000, size: 4 },
    { name: "last word of the region", offset: 0xfffc, size: 4 },
  ];
  for (const row of hostile) {
    it(`ignores ${row.name}`, () => {
      const { clint, hs } = setup();
      expect(clint.read(row.offset, row.size)).toBe(0);
      const mips = hs.map((h) => h.mip);
      expect(() => clint.write(row.offset, row.size, 0xffffffff)).not.toThrow();
      expect(hs.map((h) => h.mip)).toEqual(mips);
      expect(clint.mtime()).toBe(0);
    });
  }
});

describe("Clint state (snapshots)", () => {
  it("round-trips msip and mtimecmp, and mtime goes on from the saved value on another clock", () => {
    const a = setup();
    a.clock.advance(20 * MS); // mtime 200 000 ticks
    writeCmp(a.clint, 0, 0xffff_ffff_ffff_fff0n); // beyond a double's exact range
    writeCmp(a.clint, 1, 123_456n);
    a.clint.write(4, 4, 1); // hart 1's msip
    const saved = a.clint.saveState();
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved); // plain JSON data
    const b = setup();
    b.clock.advance(999 * MS); // another host, another time: the guest must not see it
    b.clint.loadState(JSON.parse(JSON.stringify(saved)));
    expect(b.clint.saveState()).toEqual(saved);
    expect(b.clint.mtime()).toBe(a.clint.mtime());
    b.clock.advance(MS);
    expect(b.clint.mtime()).toBe(a.clint.mtime() + 10_000);
    expect(b.hs[1].has(MIP_MSIP)).toBe(true);
    expect(b.hs[0].has(MIP_MSIP)).toBe(false);
    // hart 0's compare is far away, hart 1's long past.
    expect(b.hs[0].has(MIP_MTIP)).toBe(false);
    expect(b.hs[1].has(MIP_MTIP)).toBe(true);
  });

  it("refuses a state that does not fit, naming the field, and changes nothing", () => {
    const { clint, clock } = setup();
    clock.advance(3 * MS);
    writeCmp(clint, 0, 77n);
    const good = clint.saveState();
    const cases: [string, unknown, RegExp][] = [
      ["not an object", [1, 2], /clint: not an object/],
      ["mtime as a number", { ...good, mtime: 5 }, /clint\.mtime: not a u64/],
      ["mtime 2^64", { ...good, mtime: "18446744073709551616" }, /clint\.mtime: not a u64/],
      ["mtime past 2^53", { ...good, mtime: "9007199254740993" }, /beyond 2\^53/],
      ["one hart", { ...good, msip: [0] }, /clint\.msip: 1 entries, this machine has 2/],
      ["msip 2", { ...good, msip: [0, 2] }, /clint\.msip\[1\]: not an integer in 0…1/],
      ["mtimecmp", { ...good, mtimecmp: ["1", "-1"] }, /clint\.mtimecmp\[1\]: not a u64/],
    ];
    for (const [name, bad, why] of cases) {
      expect(() => clint.loadState(bad), name).toThrow(why);
      expect(clint.saveState(), name).toEqual(good);
    }
  });
});
