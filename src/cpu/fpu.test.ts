// Checks the Fpu against reference vectors recorded from real RISC-V semantics (qemu-riscv64 running
// fpu-vectors/gen.c; regenerate with fpu-vectors/gen.sh). Each instruction runs with every static rounding
// mode (frm set to some other mode, which must be ignored) and again with rm = dyn and frm holding the mode.

import { describe, expect, it } from "vitest";
import { Fpu } from "./fpu.ts";
import {
  D,
  fused,
  hex,
  ILLEGAL_ENCODINGS,
  opfp,
  runVectorOp,
  S,
  VECTOR_OPS,
  vectorExecutions,
} from "./fpu-vectors/vectors.ts";
import { HartState } from "./state.ts";

describe("Fpu against qemu-riscv64 reference vectors", () => {
  it("covers every F/D instruction", () => {
    expect(VECTOR_OPS.length).toBe(58);
    expect(vectorExecutions()).toBeGreaterThan(100_000);
  });

  for (const op of VECTOR_OPS) {
    it(op.name, () => {
      const state = new HartState();
      const fpu = new Fpu(state);
      const { checked, failures } = runVectorOp(op, {
        state,
        exec: (insn) => fpu.exec(insn),
        fflags: () => fpu.fflags,
        setFflags: (v) => {
          fpu.fflags = v;
        },
        setFrm: (v) => {
          fpu.frm = v;
        },
      });
      if (failures.length > 0) {
        console.error(`${failures.length}/${checked} failed:\n${failures.slice(0, 40).join("\n")}`);
      }
      expect(failures.length, failures.slice(0, 5).join("\n")).toBe(0);
    });
  }
});

// ---- hand-written cases ----

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
  for (const [name, insn, frm] of ILLEGAL_ENCODINGS) {
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
