// The SiFive CLINT (= ACLINT MSWI + MTIMER) of QEMU's virt board. Reads guest-controlled register
// values (msip, mtimecmp, mtime writes): every offset and size is checked, nothing throws.
// Register map and reset values: spec riscv-platform.md §7.1.

import type { MmioDevice } from "../../src/core/bus.ts";
import type { Clock } from "../../src/core/clock.ts";
import { type InterruptTarget, MIP_MSIP, MIP_MTIP, type TimeSource } from "../../src/core/interrupts.ts";
import { list, record, SnapshotError, u64, u64Text, uint } from "../../src/machine/state-check.ts";

export const CLINT_MSIP_BASE = 0x0000;
export const CLINT_MTIMECMP_BASE = 0x4000;
export const CLINT_MTIME = 0xbff8;
/** RISCV_ACLINT_DEFAULT_TIMEBASE_FREQ: published as /cpus/timebase-frequency. */
export const CLINT_TIMEBASE_HZ = 10_000_000;

const NS_PER_TICK = 1e9 / CLINT_TIMEBASE_HZ;
const TWO_32 = 4294967296;

export class Clint implements MmioDevice, TimeSource {
  private originNs = 0;
  /** Ticks added to the clock-derived count, so a guest write to mtime sticks. */
  private offsetTicks = 0;
  private readonly msip: Uint8Array;
  // mtimecmp is kept as exact 32-bit halves: a guest writing all-ones to "disable" the timer must
  // read the same value back, which a single double (2^64 rounds up) cannot hold.
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  /** Last MTIP level driven per hart (-1 = never driven), so update() is a compare, not a call. */
  private readonly mtipLevel: Int8Array;

  constructor(
    private readonly clock: Clock,
    private readonly harts: InterruptTarget[],
  ) {
    const n = harts.length;
    this.msip = new Uint8Array(n);
    this.cmpLo = new Uint32Array(n);
    this.cmpHi = new Uint32Array(n);
    this.mtipLevel = new Int8Array(n);
    this.reset();
  }

  /** Power-on state: mtime 0, msip 0, mtimecmp 0 (as QEMU: MTIP pending until firmware writes it). */
  reset(): void {
    this.originNs = this.clock.nowNs();
    this.offsetTicks = 0;
    this.msip.fill(0);
    this.cmpLo.fill(0);
    this.cmpHi.fill(0);
    this.mtipLevel.fill(-1);
    for (const h of this.harts) h.setPending(MIP_MSIP, false);
    this.update();
  }

  /** Current mtime in 10 MHz ticks. */
  mtime(): number {
    return Math.floor((this.clock.nowNs() - this.originNs) / NS_PER_TICK) + this.offsetTicks;
  }

  /** Re-evaluates MTIP = mtime >= mtimecmp for every hart; drives a hart only when its level changes. */
  update(): void {
    const now = this.mtime();
    for (let h = 0; h < this.harts.length; h++) this.drive(h, now);
  }

  /** Host monotonic ns at which the earliest not-yet-due mtimecmp fires; Infinity when none is pending. */
  nextDeadlineNs(): number {
    const now = this.mtime();
    let best = Number.POSITIVE_INFINITY;
    for (let h = 0; h < this.harts.length; h++) {
      const cmp = this.cmp(h);
      if (cmp <= now) continue;
      const ns = this.originNs + (cmp - this.offsetTicks) * NS_PER_TICK;
      if (ns < best) best = ns;
    }
    return best;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (size !== 4 || (offset & 3) !== 0) return 0;
    const n = this.harts.length;
    if (offset < CLINT_MSIP_BASE + 4 * n) return this.msip[offset >>> 2];
    if (offset >= CLINT_MTIMECMP_BASE && offset < CLINT_MTIMECMP_BASE + 8 * n) {
      const rel = offset - CLINT_MTIMECMP_BASE;
      const h = rel >>> 3;
      return (rel & 4) === 0 ? this.cmpLo[h] : this.cmpHi[h];
    }
    if (offset === CLINT_MTIME || offset === CLINT_MTIME + 4) {
      const t = this.mtime();
      const hi = Math.floor(t / TWO_32);
      return offset === CLINT_MTIME ? (t - hi * TWO_32) >>> 0 : hi >>> 0;
    }
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    value >>>= 0;
    const n = this.harts.length;
    if (offset < CLINT_MSIP_BASE + 4 * n) {
      const h = offset >>> 2;
      this.msip[h] = value & 1;
      this.harts[h].setPending(MIP_MSIP, (value & 1) === 1);
      return;
    }
    if (offset >= CLINT_MTIMECMP_BASE && offset < CLINT_MTIMECMP_BASE + 8 * n) {
      const rel = offset - CLINT_MTIMECMP_BASE;
      const h = rel >>> 3;
      if ((rel & 4) === 0) this.cmpLo[h] = value;
      else this.cmpHi[h] = value;
      this.drive(h, this.mtime());
      return;
    }
    if (offset === CLINT_MTIME || offset === CLINT_MTIME + 4) {
      const t = this.mtime();
      const hi = Math.floor(t / TWO_32);
      const lo = t - hi * TWO_32;
      const want = offset === CLINT_MTIME ? hi * TWO_32 + value : value * TWO_32 + lo;
      this.offsetTicks += want - t;
      this.update();
    }
  }

  /** For a snapshot: mtime now, each hart's msip and mtimecmp (u64s as decimal strings). */
  saveState(): { mtime: string; msip: number[]; mtimecmp: string[] } {
    return {
      mtime: u64Text(this.mtime()),
      msip: [...this.msip],
      mtimecmp: [...this.cmpLo].map((lo, h) => u64Text((BigInt(this.cmpHi[h]) << 32n) | BigInt(lo))),
    };
  }

  /**
   * Restores saveState()'s output: mtime goes on from the saved value (the guest sees no time pass while it was
   * saved), msip and MTIP are driven again. Throws a SnapshotError, changing nothing, on anything else.
   */
  loadState(state: unknown): void {
    const s = record(state, "clint");
    const n = this.harts.length;
    const mtime = u64(s.mtime, "clint.mtime");
    const msip = list(s.msip, "clint.msip", n, (x, p) => uint(x, p, 1));
    const cmp = list(s.mtimecmp, "clint.mtimecmp", n, u64);
    // mtime is a double inside: past 2^53 ticks (28 years at 10 MHz) it could not be held exactly.
    if (mtime > BigInt(Number.MAX_SAFE_INTEGER)) throw new SnapshotError("clint.mtime: beyond 2^53 ticks");
    this.originNs = this.clock.nowNs();
    this.offsetTicks = Number(mtime);
    for (let h = 0; h < n; h++) {
      this.msip[h] = msip[h];
      this.cmpLo[h] = Number(cmp[h] & 0xffffffffn);
      this.cmpHi[h] = Number(cmp[h] >> 32n);
      this.harts[h].setPending(MIP_MSIP, msip[h] === 1);
    }
    this.mtipLevel.fill(-1);
    this.update();
  }

  private cmp(h: number): number {
    return this.cmpHi[h] * TWO_32 + this.cmpLo[h];
  }

  private drive(h: number, now: number): void {
    const level = now >= this.cmp(h) ? 1 : 0;
    if (this.mtipLevel[h] === level) return;
    this.mtipLevel[h] = level;
    this.harts[h].setPending(MIP_MTIP, level === 1);
  }
}
