import { describe, expect, it } from "vitest";
import { type InterruptTarget, MIP_MEIP, MIP_SEIP } from "../../src/core/interrupts.ts";
import {
  PLIC_CONTEXT_BASE,
  PLIC_CONTEXT_CLAIM,
  PLIC_CONTEXT_STRIDE,
  PLIC_CONTEXT_THRESHOLD,
  PLIC_ENABLE_BASE,
  PLIC_ENABLE_STRIDE,
  PLIC_PENDING_BASE,
  Plic,
} from "./plic.ts";

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

/** Two harts wired as QEMU virt does: context 2h = hart h M, 2h+1 = hart h S. */
function setup() {
  const harts = [new FakeHart(), new FakeHart()];
  const plic = new Plic(
    harts.flatMap((target) => [
      { target, bit: MIP_MEIP },
      { target, bit: MIP_SEIP },
    ]),
  );
  const r = {
    prio: (id: number, p: number) => plic.write(4 * id, 4, p),
    enable: (ctx: number, id: number, on = true) => {
      const off = PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * ctx + 4 * (id >>> 5);
      const cur = plic.read(off, 4);
      plic.write(off, 4, on ? cur | (1 << (id & 31)) : cur & ~(1 << (id & 31)));
    },
    threshold: (ctx: number, t: number) => plic.write(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx, 4, t),
    claim: (ctx: number) => plic.read(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + PLIC_CONTEXT_CLAIM, 4),
    complete: (ctx: number, id: number) =>
      plic.write(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + PLIC_CONTEXT_CLAIM, 4, id),
    pending: (id: number) => (plic.read(PLIC_PENDING_BASE + 4 * (id >>> 5), 4) >>> (id & 31)) & 1,
  };
  return { plic, harts, ...r };
}

const S0 = 1; // hart 0 S-mode context
const M0 = 0;

describe("Plic", () => {
  it("delivers an enabled source above threshold to its context's mip bit only", () => {
    const p = setup();
    p.prio(10, 1);
    p.enable(S0, 10);
    p.plic.irq(10).set(true);
    expect(p.harts[0].has(MIP_SEIP)).toBe(true);
    expect(p.harts[0].has(MIP_MEIP)).toBe(false);
    expect(p.harts[1].mip).toBe(0);
    expect(p.pending(10)).toBe(1);
  });

  it("claims, holds in service, and does not re-pend after completion once the line is low", () => {
    const p = setup();
    p.prio(10, 1);
    p.enable(S0, 10);
    p.plic.irq(10).set(true);
    expect(p.claim(S0)).toBe(10);
    expect(p.pending(10)).toBe(0);
    expect(p.harts[0].has(MIP_SEIP)).toBe(false);
    expect(p.claim(S0)).toBe(0);
    p.plic.irq(10).set(false);
    p.complete(S0, 10);
    expect(p.pending(10)).toBe(0);
    expect(p.harts[0].has(MIP_SEIP)).toBe(false);
  });

  it("re-pends after completion while the line stays high (level gateway)", () => {
    const p = setup();
    p.prio(5, 3);
    p.enable(S0, 5);
    p.plic.irq(5).set(true);
    expect(p.claim(S0)).toBe(5);
    p.complete(S0, 5);
    expect(p.pending(5)).toBe(1);
    expect(p.harts[0].has(MIP_SEIP)).toBe(true);
    expect(p.claim(S0)).toBe(5);
    expect(p.plic.claimCount[5]).toBe(2);
    expect(p.plic.raisedCount[5]).toBe(1);
  });

  it("withdraws the request when the line drops before a claim (QEMU)", () => {
    const p = setup();
    p.prio(3, 1);
    p.enable(S0, 3);
    p.plic.irq(3).set(true);
    p.plic.irq(3).set(false);
    expect(p.pending(3)).toBe(0);
    expect(p.harts[0].has(MIP_SEIP)).toBe(false);
    expect(p.claim(S0)).toBe(0);
  });

  it("does not pend a source raised again while in service until it completes", () => {
    const p = setup();
    p.prio(7, 1);
    p.enable(S0, 7);
    const line = p.plic.irq(7);
    line.set(true);
    expect(p.claim(S0)).toBe(7);
    line.set(false);
    line.set(true);
    expect(p.pending(7)).toBe(0);
    expect(p.plic.raisedCount[7]).toBe(2);
    p.complete(S0, 7);
    expect(p.pending(7)).toBe(1);
  });

  const arbitration: { name: string; sources: [id: number, prio: number][]; threshold: number; want: number }[] = [
    {
      name: "higher priority wins",
      sources: [
        [4, 1],
        [9, 5],
      ],
      threshold: 0,
      want: 9,
    },
    {
      name: "ties go to the lowest id",
      sources: [
        [40, 2],
        [33, 2],
      ],
      threshold: 0,
      want: 33,
    },
    { name: "priority 0 never interrupts", sources: [[2, 0]], threshold: 0, want: 0 },
    { name: "priority equal to threshold is masked", sources: [[2, 3]], threshold: 3, want: 0 },
    {
      name: "priority above threshold passes",
      sources: [
        [2, 4],
        [3, 3],
      ],
      threshold: 3,
      want: 2,
    },
    { name: "threshold 7 masks everything", sources: [[1, 7]], threshold: 7, want: 0 },
    { name: "highest source id", sources: [[95, 1]], threshold: 0, want: 95 },
  ];
  for (const row of arbitration) {
    it(`arbitrates: ${row.name}`, () => {
      const p = setup();
      p.threshold(S0, row.threshold);
      for (const [id, prio] of row.sources) {
        p.prio(id, prio);
        p.enable(S0, id);
        p.plic.irq(id).set(true);
      }
      expect(p.harts[0].has(MIP_SEIP)).toBe(row.want !== 0);
      expect(p.claim(S0)).toBe(row.want);
    });
  }

  it("ignores a completion for a source not enabled in that context", () => {
    const p = setup();
    p.prio(10, 1);
    p.enable(S0, 10);
    p.plic.irq(10).set(true);
    expect(p.claim(S0)).toBe(10);
    p.complete(M0, 10); // not enabled for the M context
    expect(p.plic.snapshot().inService[10]).toBe(true);
    p.complete(S0, 10);
    expect(p.plic.snapshot().inService[10]).toBe(false);
  });

  it("routes by context: hart 1's S context drives hart 1's SEIP", () => {
    const p = setup();
    p.prio(1, 1);
    p.enable(3, 1);
    p.plic.irq(1).set(true);
    expect(p.harts[1].has(MIP_SEIP)).toBe(true);
    expect(p.harts[0].mip).toBe(0);
    expect(p.claim(S0)).toBe(0);
    expect(p.claim(3)).toBe(1);
  });

  const warl: { name: string; offset: number; write: number; read: number }[] = [
    { name: "priority mod 8", offset: 4 * 10, write: 9, read: 1 },
    { name: "priority of reserved source 0", offset: 0, write: 7, read: 0 },
    { name: "threshold mod 8", offset: PLIC_CONTEXT_BASE + PLIC_CONTEXT_THRESHOLD, write: 0xf, read: 7 },
    { name: "enable bit of source 0 hardwired", offset: PLIC_ENABLE_BASE, write: 0xffffffff, read: 0xfffffffe },
    { name: "enable word of sources 64…95", offset: PLIC_ENABLE_BASE + 8, write: 0xffffffff, read: 0xffffffff },
    { name: "enable word past the sources", offset: PLIC_ENABLE_BASE + 12, write: 0xffffffff, read: 0 },
    { name: "pending is read-only", offset: PLIC_PENDING_BASE, write: 0xffffffff, read: 0 },
    { name: "context that does not exist", offset: PLIC_CONTEXT_BASE + 4 * PLIC_CONTEXT_STRIDE, write: 3, read: 0 },
    { name: "enable of a context that does not exist", offset: PLIC_ENABLE_BASE + 4 * 0x80, write: 1, read: 0 },
    { name: "priority past the sources", offset: 4 * 96, write: 3, read: 0 },
  ];
  for (const row of warl) {
    it(`register ${row.name}`, () => {
      const p = setup();
      p.plic.write(row.offset, 4, row.write);
      expect(p.plic.read(row.offset, 4)).toBe(row.read);
    });
  }

  const hostile: { name: string; offset: number; size: 1 | 2 | 4 }[] = [
    { name: "byte access to a priority", offset: 4, size: 1 },
    { name: "halfword access to claim", offset: PLIC_CONTEXT_BASE + 4, size: 2 },
    { name: "misaligned word", offset: 6, size: 4 },
    { name: "gap in a context page", offset: PLIC_CONTEXT_BASE + 8, size: 4 },
    { name: "end of the reserved window", offset: 0x5ffffc, size: 4 },
  ];
  for (const row of hostile) {
    it(`ignores ${row.name}`, () => {
      const p = setup();
      p.prio(1, 1);
      p.enable(S0, 1);
      p.plic.irq(1).set(true);
      const before = p.plic.snapshot();
      expect(p.plic.read(row.offset, row.size)).toBe(0);
      expect(() => p.plic.write(row.offset, row.size, 0xffffffff)).not.toThrow();
      expect(p.plic.snapshot()).toEqual(before);
    });
  }

  it("hands out one line per source and rejects ids that do not exist", () => {
    const p = setup();
    expect(p.plic.irq(10)).toBe(p.plic.irq(10));
    expect(() => p.plic.irq(0)).toThrow(RangeError);
    expect(() => p.plic.irq(96)).toThrow(RangeError);
  });

  it("drives a context only when its output changes", () => {
    const p = setup();
    p.prio(10, 1);
    p.enable(S0, 10);
    const line = p.plic.irq(10);
    line.set(true);
    const calls = p.harts[0].calls;
    for (let i = 0; i < 10; i++) line.set(true);
    p.prio(11, 2);
    expect(p.harts[0].calls).toBe(calls);
  });

  it("reset() clears registers but re-pends lines still high", () => {
    const p = setup();
    p.prio(10, 1);
    p.enable(S0, 10);
    p.plic.irq(10).set(true);
    p.plic.reset();
    expect(p.harts[0].has(MIP_SEIP)).toBe(false);
    expect(p.pending(10)).toBe(1);
    expect(p.plic.read(4 * 10, 4)).toBe(0);
  });
});

describe("Plic state (snapshots)", () => {
  it("round-trips through JSON: the restored PLIC drives the same outputs and claims the same sources", () => {
    const a = setup();
    a.prio(10, 3);
    a.prio(40, 5);
    a.prio(7, 1);
    a.enable(S0, 10);
    a.enable(S0, 40);
    a.enable(M0, 7);
    a.threshold(S0, 2);
    a.plic.irq(10).set(true);
    a.plic.irq(40).set(true);
    a.plic.irq(7).set(true);
    expect(a.claim(S0)).toBe(40); // 40 in service, 10 still pending
    const saved = JSON.parse(JSON.stringify(a.plic.saveState()));
    const b = setup();
    b.plic.loadState(saved);
    expect(b.plic.saveState()).toEqual(a.plic.saveState());
    expect(b.harts[0].has(MIP_SEIP)).toBe(true);
    expect(b.harts[0].has(MIP_MEIP)).toBe(true);
    // The same claims follow on both.
    for (const p of [a, b]) {
      expect(p.claim(S0)).toBe(10);
      expect(p.claim(M0)).toBe(7);
      p.complete(S0, 40);
      p.plic.irq(40).set(false);
      expect(p.claim(S0)).toBe(0);
    }
    expect(b.plic.saveState()).toEqual(a.plic.saveState());
  });

  it("refuses a state that does not fit, naming the field, and changes nothing", () => {
    const p = setup();
    p.prio(3, 2);
    p.enable(S0, 3);
    const good = p.plic.saveState();
    const words = good.pending.length;
    const cases: [string, unknown, RegExp][] = [
      ["not an object", "plic", /plic: not an object/],
      ["priority 8", { ...good, priority: good.priority.map((v, i) => (i === 5 ? 8 : v)) }, /plic\.priority\[5\]/],
      ["sources", { ...good, priority: good.priority.slice(1) }, /plic\.priority: 95 entries, this machine has 96/],
      ["contexts", { ...good, enable: good.enable.slice(1) }, /plic\.enable: 3 entries, this machine has 4/],
      ["source 0", { ...good, pending: [1, ...good.pending.slice(1)] }, /plic\.pending\[0\]: bits for sources/],
      ["threshold", { ...good, threshold: [0, 9, 0, 0] }, /plic\.threshold\[1\]/],
    ];
    for (const [name, bad, why] of cases) {
      expect(() => p.plic.loadState(bad), name).toThrow(why);
      expect(p.plic.saveState(), name).toEqual(good);
    }
    expect(words).toBe(3);
    // 40 sources: word 1 holds sources 32…39, its bit 8 would be source 40.
    const small = new Plic([{ target: new FakeHart(), bit: MIP_SEIP }], 40);
    const st = small.saveState();
    expect(() => small.loadState({ ...st, level: [0, 1 << 8] })).toThrow(/plic\.level\[1\]: bits for sources/);
  });
});
