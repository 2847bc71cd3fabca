// The SiFive PLIC of QEMU's virt board. Reads guest-controlled register values (priorities,
// enables, thresholds, completion ids): every offset, size and id is range-checked, nothing throws.
// Register map, context numbering and gateway semantics: spec riscv-platform.md §7.2.

import type { MmioDevice } from "../../src/core/bus.ts";
import type { InterruptTarget } from "../../src/core/interrupts.ts";
import type { IrqLine } from "../../src/core/irq.ts";
import { list, record, SnapshotError, uint } from "../../src/machine/state-check.ts";

/** The PLIC's state in a snapshot: per source, per context, and the bit words (source id i: word i >> 5, bit i & 31). */
export interface PlicState {
  priority: number[];
  threshold: number[];
  /** Per context: its enable words. */
  enable: number[][];
  pending: number[];
  inService: number[];
  /** The input lines' levels (the devices drive them; a restored device sets the same level again). */
  level: number[];
}

export const PLIC_PRIORITY_BASE = 0x000000;
export const PLIC_PENDING_BASE = 0x001000;
export const PLIC_ENABLE_BASE = 0x002000;
export const PLIC_ENABLE_STRIDE = 0x80;
export const PLIC_CONTEXT_BASE = 0x200000;
export const PLIC_CONTEXT_STRIDE = 0x1000;
export const PLIC_CONTEXT_THRESHOLD = 0x0;
export const PLIC_CONTEXT_CLAIM = 0x4;
/** 3 priority bits: priorities and thresholds are WARL, taken mod 8 as QEMU does. */
export const PLIC_PRIORITY_MASK = 7;
/** Sources 0…95 on QEMU virt (0 is reserved), published as riscv,ndev = 95. */
export const PLIC_DEFAULT_SOURCES = 96;

export interface PlicContext {
  target: InterruptTarget;
  /** The mip bit this context drives (MIP_MEIP or MIP_SEIP). */
  bit: number;
}

/** A copy of the PLIC's state for the UI; indexed by source id (index 0 unused). */
export interface PlicSnapshot {
  priority: number[];
  level: boolean[];
  pending: boolean[];
  inService: boolean[];
  raised: number[];
  claims: number[];
  threshold: number[];
  enabled: boolean[][];
}

export class Plic implements MmioDevice {
  readonly numSources: number;
  /** Rising edges seen on each source's line (for the UI). */
  readonly raisedCount: Float64Array;
  /** Successful claims of each source (for the UI). */
  readonly claimCount: Float64Array;

  private readonly words: number;
  /** Mask of the bits that name real sources (source 0 and ids ≥ numSources are hardwired to 0). */
  private readonly validMask: Uint32Array;
  private readonly priority: Uint8Array;
  private readonly level: Uint32Array;
  private readonly pending: Uint32Array;
  private readonly inService: Uint32Array;
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  private readonly outLevel: Int8Array;
  private readonly lines: (IrqLine | undefined)[];

  constructor(
    private readonly contexts: PlicContext[],
    numSources = PLIC_DEFAULT_SOURCES,
  ) {
    if (!Number.isInteger(numSources) || numSources < 2 || numSources > 1024) {
      throw new RangeError(`PLIC source count ${numSources} outside 2…1024`);
    }
    this.numSources = numSources;
    const w = Math.ceil(numSources / 32);
    this.words = w;
    this.validMask = new Uint32Array(w);
    for (let id = 1; id < numSources; id++) this.validMask[id >>> 5] |= 1 << (id & 31);
    this.priority = new Uint8Array(numSources);
    this.level = new Uint32Array(w);
    this.pending = new Uint32Array(w);
    this.inService = new Uint32Array(w);
    this.enable = new Uint32Array(w * contexts.length);
    this.threshold = new Uint8Array(contexts.length);
    this.outLevel = new Int8Array(contexts.length);
    this.raisedCount = new Float64Array(numSources);
    this.claimCount = new Float64Array(numSources);
    this.lines = new Array(numSources).fill(undefined);
    this.reset();
  }

  /**
   * The input wire of a source (1 … numSources-1). The same object is returned on every call: devices
   * that share a source must combine their levels first (SharedIrq). A bad id is a wiring bug: throws.
   */
  irq(source: number): IrqLine {
    if (!Number.isInteger(source) || source < 1 || source >= this.numSources) {
      throw new RangeError(`PLIC source ${source} outside 1…${this.numSources - 1}`);
    }
    let line = this.lines[source];
    if (line === undefined) {
      line = { set: (level: boolean) => this.setLevel(source, level) };
      this.lines[source] = line;
    }
    return line;
  }

  /** Power-on state: all priorities, enables and thresholds 0, nothing pending or in service. */
  reset(): void {
    this.priority.fill(0);
    this.pending.fill(0);
    this.inService.fill(0);
    this.enable.fill(0);
    this.threshold.fill(0);
    this.outLevel.fill(-1);
    // Line levels survive: they belong to the devices; re-pend sources whose line is still high.
    for (let i = 0; i < this.words; i++) this.pending[i] = this.level[i];
    this.updateAll();
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (size !== 4 || (offset & 3) !== 0) return 0;
    if (offset < PLIC_PENDING_BASE) {
      const id = offset >>> 2;
      return id < this.numSources ? this.priority[id] : 0;
    }
    if (offset < PLIC_ENABLE_BASE) {
      const w = (offset - PLIC_PENDING_BASE) >>> 2;
      return w < this.words ? this.pending[w] >>> 0 : 0;
    }
    if (offset < PLIC_CONTEXT_BASE) {
      const rel = offset - PLIC_ENABLE_BASE;
      const ctx = Math.floor(rel / PLIC_ENABLE_STRIDE);
      const w = (rel % PLIC_ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contexts.length || w >= this.words) return 0;
      return this.enable[ctx * this.words + w] >>> 0;
    }
    const rel = offset - PLIC_CONTEXT_BASE;
    const ctx = Math.floor(rel / PLIC_CONTEXT_STRIDE);
    if (ctx >= this.contexts.length) return 0;
    const reg = rel % PLIC_CONTEXT_STRIDE;
    if (reg === PLIC_CONTEXT_THRESHOLD) return this.threshold[ctx];
    if (reg === PLIC_CONTEXT_CLAIM) return this.claim(ctx);
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (size !== 4 || (offset & 3) !== 0) return;
    if (offset < PLIC_PENDING_BASE) {
      const id = offset >>> 2;
      if (id === 0 || id >= this.numSources) return;
      this.priority[id] = value & PLIC_PRIORITY_MASK;
      this.updateAll();
      return;
    }
    if (offset < PLIC_ENABLE_BASE) return; // pending bits are read-only
    if (offset < PLIC_CONTEXT_BASE) {
      const rel = offset - PLIC_ENABLE_BASE;
      const ctx = Math.floor(rel / PLIC_ENABLE_STRIDE);
      const w = (rel % PLIC_ENABLE_STRIDE) >>> 2;
      if (ctx >= this.contexts.length || w >= this.words) return;
      this.enable[ctx * this.words + w] = value & this.validMask[w];
      this.updateContext(ctx);
      return;
    }
    const rel = offset - PLIC_CONTEXT_BASE;
    const ctx = Math.floor(rel / PLIC_CONTEXT_STRIDE);
    if (ctx >= this.contexts.length) return;
    const reg = rel % PLIC_CONTEXT_STRIDE;
    if (reg === PLIC_CONTEXT_THRESHOLD) {
      this.threshold[ctx] = value & PLIC_PRIORITY_MASK;
      this.updateContext(ctx);
    } else if (reg === PLIC_CONTEXT_CLAIM) {
      this.complete(ctx, value >>> 0);
    }
  }

  snapshot(): PlicSnapshot {
    const n = this.numSources;
    const bit = (a: Uint32Array, id: number, base = 0) => (a[base + (id >>> 5)] & (1 << (id & 31))) !== 0;
    const ids = Array.from({ length: n }, (_, i) => i);
    return {
      priority: Array.from(this.priority),
      level: ids.map((id) => bit(this.level, id)),
      pending: ids.map((id) => bit(this.pending, id)),
      inService: ids.map((id) => bit(this.inService, id)),
      raised: Array.from(this.raisedCount),
      claims: Array.from(this.claimCount),
      threshold: Array.from(this.threshold),
      enabled: this.contexts.map((_, ctx) => ids.map((id) => bit(this.enable, id, ctx * this.words))),
    };
  }

  /** For a snapshot (plain JSON data). */
  saveState(): PlicState {
    const w = this.words;
    return {
      priority: [...this.priority],
      threshold: [...this.threshold],
      enable: this.contexts.map((_, ctx) => [...this.enable.subarray(ctx * w, (ctx + 1) * w)]),
      pending: [...this.pending],
      inService: [...this.inService],
      level: [...this.level],
    };
  }

  /**
   * Restores saveState()'s output on a PLIC of the same shape and drives the contexts' outputs again. Throws a
   * SnapshotError naming the field, changing nothing, on anything else (a priority above 7, a bit for source 0
   * or past the last source, another count of sources or contexts).
   */
  loadState(state: unknown): void {
    const s = record(state, "plic");
    const w = this.words;
    const prio = (x: unknown, p: string) => uint(x, p, PLIC_PRIORITY_MASK);
    const priority = list(s.priority, "plic.priority", this.numSources, prio);
    const threshold = list(s.threshold, "plic.threshold", this.contexts.length, prio);
    const bits = (x: unknown, p: string): number[] =>
      list(x, p, w, (v, q) => {
        const word = uint(v, q);
        const i = Number(q.slice(q.lastIndexOf("[") + 1, -1));
        if ((word & ~this.validMask[i]) !== 0) throw new SnapshotError(`${q}: bits for sources that do not exist`);
        return word;
      });
    const enable = list(s.enable, "plic.enable", this.contexts.length, bits);
    const pending = bits(s.pending, "plic.pending");
    const inService = bits(s.inService, "plic.inService");
    const level = bits(s.level, "plic.level");
    this.priority.set(priority);
    this.threshold.set(threshold);
    for (const [ctx, e] of enable.entries()) this.enable.set(e, ctx * w);
    this.pending.set(pending);
    this.inService.set(inService);
    this.level.set(level);
    this.outLevel.fill(-1);
    this.updateAll();
  }

  /** The level gateway (§7.2): a high line requests unless in service; a low line withdraws the request (QEMU). */
  private setLevel(source: number, high: boolean): void {
    const w = source >>> 5;
    const m = 1 << (source & 31);
    const was = (this.level[w] & m) !== 0;
    if (high === was) return;
    if (high) {
      this.level[w] |= m;
      this.raisedCount[source]++;
      if ((this.inService[w] & m) !== 0) return;
      this.pending[w] |= m;
    } else {
      this.level[w] &= ~m;
      if ((this.pending[w] & m) === 0) return;
      this.pending[w] &= ~m;
    }
    this.updateAll();
  }

  /** Highest-priority enabled pending source above the threshold (ties: lowest id), or 0. */
  private best(ctx: number): number {
    const base = ctx * this.words;
    const thr = this.threshold[ctx];
    let bestId = 0;
    let bestPrio = thr;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pending[w] & this.enable[base + w];
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const id = (w << 5) | b;
        const p = this.priority[id];
        if (p > bestPrio) {
          bestPrio = p;
          bestId = id;
        }
      }
    }
    return bestId;
  }

  private claim(ctx: number): number {
    const id = this.best(ctx);
    if (id === 0) return 0;
    const w = id >>> 5;
    const m = 1 << (id & 31);
    this.pending[w] &= ~m;
    this.inService[w] |= m;
    this.claimCount[id]++;
    this.updateAll();
    return id;
  }

  /** Ends service of id. Ids out of range or not enabled for ctx are ignored (spec §7.2). */
  private complete(ctx: number, id: number): void {
    if (id === 0 || id >= this.numSources) return;
    const w = id >>> 5;
    const m = 1 << (id & 31);
    if ((this.enable[ctx * this.words + w] & m) === 0) return;
    this.inService[w] &= ~m;
    if ((this.level[w] & m) !== 0) this.pending[w] |= m; // still high: the gateway forwards a new request
    this.updateAll();
  }

  private updateAll(): void {
    for (let ctx = 0; ctx < this.contexts.length; ctx++) this.updateContext(ctx);
  }

  private updateContext(ctx: number): void {
    const level = this.best(ctx) !== 0 ? 1 : 0;
    if (this.outLevel[ctx] === level) return;
    this.outLevel[ctx] = level;
    const c = this.contexts[ctx];
    c.target.setPending(c.bit, level === 1);
  }
}
