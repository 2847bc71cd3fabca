// Test-only: the F/D reference vectors (vectors.json, recorded under qemu-riscv64 from gen.c) and the table of
// illegal encodings, run against any FPU — the TypeScript Fpu (fpu.test.ts) and the WebAssembly one
// (fpu-wasm.test.ts) share this, so both are held to exactly the same checks.

import { readFileSync } from "node:fs";
import type { HartState } from "../state.ts";

export interface VectorOp {
  name: string;
  /** "dst:srcs" — d double f register, s single f register, x integer register. */
  kind: string;
  /** Encodings for rne, rtz, rdn, rup, rmm, dyn — or a single one for instructions without rounding. */
  insn: number[];
  /** Operands (hex), then "bits/fflags" or five of them, one per rounding mode. */
  vectors: (string | string[])[][];
}

/** An FPU under test: executes on `state`'s registers; fflags and frm through accessors. */
export interface FpuUnderTest {
  state: HartState;
  exec(insn: number): boolean;
  fflags(): number;
  setFflags(v: number): void;
  setFrm(v: number): void;
}

export const VECTOR_OPS: VectorOp[] = (
  JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8")) as { ops: VectorOp[] }
).ops;
const RM_NAMES = ["rne", "rtz", "rdn", "rup", "rmm"];

/** How many executions the vectors make: rounding instructions run 10 ways (5 static modes, dyn × 5). */
export function vectorExecutions(): number {
  return VECTOR_OPS.reduce((n, o) => n + o.vectors.length * (o.insn.length > 1 ? 10 : 1), 0);
}

export function hex(lo: number, hi: number): string {
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

/**
 * Runs every vector of `op` with every static rounding mode (frm holding some other mode, which must be
 * ignored) and again with rm = dyn and frm holding the mode; returns how many ran and what differed.
 */
export function runVectorOp(op: VectorOp, fpu: FpuUnderTest): { checked: number; failures: string[] } {
  const state = fpu.state;
  const dst = op.kind[0]!;
  const srcs = op.kind.slice(2);
  const rounding = op.insn.length > 1;
  const failures: string[] = [];
  let checked = 0;
  for (const row of op.vectors) {
    const operands = row.slice(0, srcs.length) as string[];
    const results = row[srcs.length]!;
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
      fpu.setFflags(0);
      fpu.setFrm(variant < 5 ? (mode + 2) % 5 : mode);
      const ok = fpu.exec(insn);
      const got =
        dst === "x" ? hex(state.x[2 * rd]!, state.x[2 * rd + 1]!) : hex(state.f[2 * rd]!, state.f[2 * rd + 1]!);
      const [bits, flags] = expected.split("/");
      const want = `${expectedBits(bits!)}/${flags}`;
      const have = `${got}/${fpu.fflags()}`;
      checked++;
      if (!ok || want !== have) {
        failures.push(
          `${op.name} ${variant < 5 ? RM_NAMES[mode] : `dyn(frm=${RM_NAMES[mode]})`} insn=0x${insn.toString(16)}` +
            ` operands=[${operands.join(", ")}] expected ${want} got ${ok ? have : "illegal"}`,
        );
      }
    }
  }
  return { checked, failures };
}

// ---- encodings ----

const OP_FP = 0x53;
export function opfp(funct5: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((funct5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | OP_FP) >>> 0;
}
export function fused(
  opcode: number,
  rs3: number,
  fmt: number,
  rs2: number,
  rs1: number,
  rm: number,
  rd: number,
): number {
  return ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | opcode) >>> 0;
}
export const S = 0;
export const D = 1;

/** Encodings an FPU must refuse without changing anything: name, instruction, frm to set (default 0). */
export const ILLEGAL_ENCODINGS: [string, number, number?][] = [
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
