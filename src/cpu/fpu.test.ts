// Checks the Fpu against reference vectors recorded from real RISC-V semantics (qemu-riscv64 running
// fpu-vectors/gen.c; regenerate with fpu-vectors/gen.sh). Each instruction runs with every static rounding
// mode (frm set to some other mode, which must be ignored) and again with rm = dyn and frm holding the mode.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Fpu } from "./fpu.ts";
import { HartState } from "./state.ts";

interface VectorOp {
  name: string;
  /** "dst:srcs" — d double f register, s single f register, x integer register. */
  kind: string;
  /** Encodings for rne, rtz, rdn, rup, rmm, dyn — or a single one for instructions without rounding. */
  insn: number[];
  /** Operands (hex), then "bits/fflags" or five of them, one per rounding mode. */
  vectors: (string | string[])[][];
}

const file = new URL("./fpu-vectors/vectors.json", import.meta.url);
const ops = (JSON.parse(readFileSync(file, "utf8")) as { ops: VectorOp[] }).ops;
const RM_NAMES = ["rne", "rtz", "rdn", "rup", "rmm"];

function hex(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}

/** Operand hex to (lo, hi): 8 digits is a NaN-boxed single. */
function split(h: string): [number, number] {
  if (h.length === 8) return [Number.parseInt(h, 16) | 0, -1];
  return [Number.parseInt(h.slice(8), 16) | 0, Number.parseInt(h.slice(0, 8), 16) | 0];
}

/** Expected destination (lo, hi): singles are recorded without their all-ones box. */
function expectedBits(h: string): string {
  return h.length === 8 ? `ffffffff${h}` : h;
}

describe("Fpu against qemu-riscv64 reference vectors", () => {
  it("covers every F/D instruction", () => {
    expect(ops.length).toBe(58);
    const total = ops.reduce((n, o) => n + o.vectors.length * (o.insn.length > 1 ? 10 : 1), 0);
    expect(total).toBeGreaterThan(100_000);
  });

  for (const op of ops) {
    it(op.name, () => {
      const state = new HartState();
      const fpu = new Fpu(state);
      const dst = op.kind[0]!;
      const srcs = op.kind.slice(2);
      const rounding = op.insn.length > 1;
      const failures: string[] = [];
      let checked = 0;
      for (const row of op.vectors) {
        const operands = row.slice(0, srcs.length) as string[];
        const results = row[srcs.length]!;
        // static modes 0..4, then dyn with frm = mode
        for (let variant = 0; variant < (rounding ? 10 : 1); variant++) {
          const mode = variant % 5;
          const insn = op.insn[Math.min(variant, 5)]! >>> 0;
          const expected = Array.isArray(results) ? results[mode]! : results;
          const rd = (insn >>> 7) & 31;
          const regs = [(insn >>> 15) & 31, (insn >>> 20) & 31, insn >>> 27];
          state.f.fill(0x5a5a5a5a);
          state.x.fill(0x3c3c3c3c);
          state.x[0] = 0;
          state.x[1] = 0;
          let fi = 0;
          srcs.split("").forEach((kind, i) => {
            const [lo, hi] = split(operands[i]!);
            if (kind === "x") {
              state.x[2 * regs[0]!] = lo;
              state.x[2 * regs[0]! + 1] = hi;
            } else {
              const r = regs[fi++]!;
              state.f[2 * r] = lo;
              state.f[2 * r + 1] = hi;
            }
          });
          fpu.fflags = 0;
          fpu.frm = variant < 5 ? (mode + 2) % 5 : mode;
          const ok = fpu.exec(insn);
          const got =
            dst === "x" ? hex(state.x[2 * rd]!, state.x[2 * rd + 1]!) : hex(state.f[2 * rd]!, state.f[2 * rd + 1]!);
          const [bits, flags] = expected.split("/");
          const want = `${expectedBits(bits!)}/${flags}`;
          const have = `${got}/${fpu.fflags}`;
          checked++;
          if (!ok || want !== have) {
            failures.push(
              `${op.name} ${variant < 5 ? RM_NAMES[mode] : `dyn(frm=${RM_NAMES[mode]})`} insn=0x${insn.toString(16)}` +
                ` operands=[${operands.join(", ")}] expected ${want} got ${ok ? have : "illegal"}`,
            );
          }
        }
      }
      if (failures.length > 0) {
        console.error(`${failures.length}/${checked} failed:\n${failures.slice(0, 40).join("\n")}`);
      }
      expect(failures.length, failures.slice(0, 5).join("\n")).toBe(0);
    });
  }
});

// ---- hand-written cases ----

const OP_FP = 0x53;
function opfp(funct5: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((funct5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | OP_FP) >>> 0;
}
function fused(opcode: number, rs3: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode) >>> 0;
}
const S = 0;
const D = 1;

function setup(): { state: HartState; fpu: Fpu } {
  const state = new HartState();
  return { state, fpu: new Fpu(state) };
}
function setF(state: HartState, i: number, hi: number, lo: number): void {
  state.f[2 * i] = lo | 0;
  state.f[2 * i + 1] = hi | 0;
}
function getF(state: HartState, i: number): string {
  return hex(state.f[2 * i]!, state.f[2 * i + 1]!);
}
function getX(state: HartState, i: number): string {
  return hex(state.x[2 * i]!, state.x[2 * i + 1]!);
}

describe("NaN-boxing", () => {
  it("reads an improperly boxed single as the canonical NaN", () => {
    const { state, fpu } = setup();
    setF(state, 1, 0, 0x3f800000); // 1.0 with a zero upper half
    setF(state, 2, -1, 0x3f800000);
    expect(fpu.exec(opfp(0x00, S, 2, 1, 0, 3))).toBe(true); // fadd.s f3, f1, f2
    expect(getF(state, 3)).toBe("ffffffff7fc00000");
    expect(fpu.fflags).toBe(0); // the canonical NaN is quiet
    setF(state, 1, 0xfffffffe, 0x3f800000); // one bit short of a box
    expect(fpu.exec(opfp(0x00, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(state, 3)).toBe("ffffffff7fc00000");
  });

  it("sign injection, classify and widening see the canonical NaN", () => {
    const { state, fpu } = setup();
    setF(state, 1, 0x12345678, 0xbf800000);
    setF(state, 2, -1, 0x80000000);
    expect(fpu.exec(opfp(0x04, S, 2, 1, 0, 3))).toBe(true); // fsgnj.s
    expect(getF(state, 3)).toBe("ffffffffffc00000");
    expect(fpu.exec(opfp(0x1c, S, 0, 1, 1, 5))).toBe(true); // fclass.s x5
    expect(getX(state, 5)).toBe("0000000000000200"); // quiet NaN
    expect(fpu.exec(opfp(0x08, D, 0, 1, 0, 4))).toBe(true); // fcvt.d.s
    expect(getF(state, 4)).toBe("7ff8000000000000");
    expect(fpu.fflags).toBe(0);
  });

  it("FMV.X.W moves the raw low word, sign-extended, boxed or not", () => {
    const { state, fpu } = setup();
    setF(state, 1, 0x12345678, 0x87654321);
    expect(fpu.exec(opfp(0x1c, S, 0, 1, 0, 5))).toBe(true);
    expect(getX(state, 5)).toBe("ffffffff87654321");
  });

  it("single results and FMV.W.X write an all-ones upper half", () => {
    const { state, fpu } = setup();
    state.x[12] = 0x40490fdb; // x6 = pi as single bits, upper half garbage
    state.x[13] = 0x0badf00d;
    expect(fpu.exec(opfp(0x1e, S, 0, 6, 0, 7))).toBe(true); // fmv.w.x f7, x6
    expect(getF(state, 7)).toBe("ffffffff40490fdb");
    setF(state, 8, 0, 0);
    expect(fpu.exec(opfp(0x1a, S, 0, 6, 0, 8))).toBe(true); // fcvt.s.w f8, x6
    expect(state.f[17]).toBe(-1);
    expect(fpu.exec(opfp(0x08, S, 1, 7, 0, 9))).toBe(true); // fcvt.s.d f9, f7 (a double here)
    expect(state.f[19]).toBe(-1);
  });
});

describe("registers", () => {
  it("never writes x0, but still accrues flags", () => {
    const { state, fpu } = setup();
    state.fd[1] = 2.5;
    expect(fpu.exec(opfp(0x18, D, 0, 1, 0, 0))).toBe(true); // fcvt.w.d x0, f1, rne
    expect(getX(state, 0)).toBe("0000000000000000");
    expect(fpu.fflags).toBe(1);
    expect(fpu.exec(opfp(0x14, D, 1, 1, 2, 0))).toBe(true); // feq.d x0
    expect(getX(state, 0)).toBe("0000000000000000");
  });

  it("reads every operand before writing when rd aliases a source", () => {
    const { state, fpu } = setup();
    state.fd[1] = 3;
    expect(fpu.exec(fused(0x43, 1, D, 1, 1, 0, 1))).toBe(true); // fmadd.d f1, f1, f1, f1
    expect(state.fd[1]).toBe(12);
    state.fd[2] = -0;
    state.fd[3] = 0;
    expect(fpu.exec(opfp(0x05, D, 3, 2, 1, 3))).toBe(true); // fmax.d f3, f2, f3
    expect(getF(state, 3)).toBe("0000000000000000");
  });

  it("uses frm only for rm = dyn", () => {
    const { state, fpu } = setup();
    state.fd[1] = 1;
    state.fd[2] = 3;
    fpu.frm = 3; // rup
    expect(fpu.exec(opfp(0x03, D, 2, 1, 7, 4))).toBe(true); // fdiv.d dyn
    expect(getF(state, 4)).toBe("3fd5555555555556");
    expect(fpu.exec(opfp(0x03, D, 2, 1, 0, 4))).toBe(true); // fdiv.d rne
    expect(getF(state, 4)).toBe("3fd5555555555555");
  });
});

describe("illegal encodings", () => {
  const rows: [string, number, number?][] = [
    ["fadd.d rm=5", opfp(0x00, D, 2, 1, 5, 3)],
    ["fadd.s rm=6", opfp(0x00, S, 2, 1, 6, 3)],
    ["fmul.d dyn with frm=5", opfp(0x02, D, 2, 1, 7, 3), 5],
    ["fdiv.s dyn with frm=6", opfp(0x03, S, 2, 1, 7, 3), 6],
    ["fsqrt.d dyn with frm=7", opfp(0x0b, D, 0, 1, 7, 3), 7],
    ["fadd.h (fmt 2)", opfp(0x00, 2, 2, 1, 0, 3)],
    ["fadd.q (fmt 3)", opfp(0x00, 3, 2, 1, 0, 3)],
    ["fsqrt.d rs2=1", opfp(0x0b, D, 1, 1, 0, 3)],
    ["fsgnj.d rm=3", opfp(0x04, D, 2, 1, 3, 3)],
    ["fmin.s rm=2", opfp(0x05, S, 2, 1, 2, 3)],
    ["fcmp.d rm=3 (Zfa fleq)", opfp(0x14, D, 2, 1, 3, 3)],
    ["fcvt.s.s (rs2=0)", opfp(0x08, S, 0, 1, 0, 3)],
    ["fcvt.s.h (rs2=2)", opfp(0x08, S, 2, 1, 0, 3)],
    ["fcvt.d.d (rs2=1)", opfp(0x08, D, 1, 1, 0, 3)],
    ["fround.d (Zfa, rs2=4)", opfp(0x08, D, 4, 1, 0, 3)],
    ["fcvt.s.d rm=5", opfp(0x08, S, 1, 1, 5, 3)],
    ["fcvt.w.d rs2=4", opfp(0x18, D, 4, 1, 0, 3)],
    ["fcvt.w.d rm=6", opfp(0x18, D, 0, 1, 6, 3)],
    ["fcvt.d.w rs2=5", opfp(0x1a, D, 5, 1, 0, 3)],
    ["fcvt.d.w dyn with frm=5", opfp(0x1a, D, 0, 1, 7, 3), 5],
    ["fmv.x.d rs2=1", opfp(0x1c, D, 1, 1, 0, 3)],
    ["fmv.x.w rm=2", opfp(0x1c, S, 0, 1, 2, 3)],
    ["fmv.d.x rm=1", opfp(0x1e, D, 0, 1, 1, 3)],
    ["fmv.w.x rs2=1", opfp(0x1e, S, 1, 1, 0, 3)],
    ["funct5 0x06", opfp(0x06, D, 2, 1, 0, 3)],
    ["funct5 0x1f", opfp(0x1f, D, 0, 1, 0, 3)],
    ["fmadd.d rm=5", fused(0x43, 4, D, 2, 1, 5, 3)],
    ["fnmadd.s dyn with frm=6", fused(0x4f, 4, S, 2, 1, 7, 3), 6],
    ["fmadd.h (fmt 2)", fused(0x43, 4, 2, 2, 1, 0, 3)],
    ["fmsub.q (fmt 3)", fused(0x47, 4, 3, 2, 1, 0, 3)],
    ["not an FP opcode", 0x00000013],
  ];
  for (const [name, insn, frm] of rows) {
    it(name, () => {
      const { state, fpu } = setup();
      for (let i = 0; i < 64; i++) {
        state.f[i] = (i * 0x9e3779b9) | 0;
        state.x[i] = i < 2 ? 0 : (i * 0x7f4a7c15) | 0;
      }
      fpu.fflags = 0x15;
      fpu.frm = frm ?? 0;
      const before = new Uint8Array(state.buffer.slice(0));
      expect(fpu.exec(insn)).toBe(false);
      expect(new Uint8Array(state.buffer)).toEqual(before);
      expect(fpu.fflags).toBe(0x15);
      expect(fpu.frm).toBe(frm ?? 0);
    });
  }

  it("ignores frm for instructions without rounding", () => {
    const { state, fpu } = setup();
    fpu.frm = 7;
    state.fd[1] = 1;
    state.fd[2] = -2;
    expect(fpu.exec(opfp(0x04, D, 2, 1, 0, 3))).toBe(true); // fsgnj.d
    expect(state.fd[3]).toBe(-1);
    expect(fpu.exec(opfp(0x05, D, 2, 1, 1, 3))).toBe(true); // fmax.d
    expect(fpu.exec(opfp(0x14, D, 2, 1, 1, 5))).toBe(true); // flt.d
    expect(fpu.exec(opfp(0x1c, D, 0, 1, 0, 5))).toBe(true); // fmv.x.d
    expect(fpu.exec(opfp(0x1e, D, 0, 5, 0, 6))).toBe(true); // fmv.d.x
  });
});
