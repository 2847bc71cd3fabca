// The AssemblyScript FPU (src/cpu/as/fpu.ts) compiled to WebAssembly: every reference vector recorded under
// qemu-riscv64 (fpu-vectors/; regenerate with fpu-vectors/gen.sh), each instruction with every static rounding
// mode (frm holding some other mode, which must be ignored) and again with rm = dyn and frm holding the mode;
// results and fflags bit-exact. Then the illegal encodings (no state change) and hand-written cases: NaN-boxing,
// x0, aliasing, frm. (Random operands ran against the TypeScript hart's FPU until that hart was removed; the
// differential test against QEMU, tests/diff, runs random F/D instructions on the whole core.)

import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";
import { beforeAll, describe, expect, it } from "vitest";
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

interface FpuModule {
  fpExec(insn: number): number;
  setBase(base: number): void;
  setFflags(v: number): void;
  setFrm(v: number): void;
  getFflags(): number;
  getFrm(): number;
}

const ENTRY = fileURLToPath(new URL("./as/fpu-entry.ts", import.meta.url));
/** Where the hart state sits in the module's memory (x at BASE, f at BASE + 256). Nonzero to test base. */
const BASE = 8192;

let wasm: FpuModule;
let memory: WebAssembly.Memory;
let wat = "";

/** Compiles fpu-entry.ts in memory with the flags the core uses; returns the binary and its text form. */
async function compile(): Promise<{ binary: Uint8Array; text: string }> {
  let binary: Uint8Array | undefined;
  let text = "";
  const out: string[] = [];
  const sink = {
    write(chunk: string | Uint8Array): boolean {
      out.push(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
      return true;
    },
  };
  const { error } = await asc.main(
    [
      ENTRY,
      "-O3",
      "--runtime",
      "stub",
      "--noAssert",
      "--importMemory",
      "--use",
      "abort=",
      "--outFile",
      "fpu.wasm",
      "--textFile",
      "fpu.wat",
    ],
    {
      stdout: sink,
      stderr: sink,
      writeFile(name: string, contents: string | Uint8Array) {
        if (name.endsWith(".wasm") && contents instanceof Uint8Array) binary = contents;
        else if (name.endsWith(".wat"))
          text = typeof contents === "string" ? contents : new TextDecoder().decode(contents);
      },
    },
  );
  if (error || !binary) throw new Error(`asc failed: ${error?.message ?? "no binary"}\n${out.join("")}`);
  return { binary, text };
}

beforeAll(async () => {
  const { binary, text } = await compile();
  wat = text;
  memory = new WebAssembly.Memory({ initial: 1 });
  const { instance } = await WebAssembly.instantiate(new Uint8Array(binary), { env: { memory } });
  wasm = instance.exports as unknown as FpuModule;
  wasm.setBase(BASE);
}, 120_000);

/** The module's hart state viewed like the TypeScript HartState (same layout). */
function wasmState(): HartState {
  return new HartState(memory.buffer, BASE);
}

function exec(insn: number): boolean {
  return wasm.fpExec(insn) !== 0;
}

describe("the compiled module", () => {
  it("has no data segments and imports only env.memory", () => {
    expect(wat).not.toContain("(data");
    const imports = wat.split("\n").filter((l) => l.includes("(import "));
    expect(imports).toHaveLength(1);
    expect(imports[0]).toContain('(import "env" "memory"');
  });
});

let totalChecked = 0;

describe("wasm FPU against qemu-riscv64 reference vectors", () => {
  it("covers every F/D instruction", () => {
    expect(VECTOR_OPS.length).toBe(58);
    expect(vectorExecutions()).toBeGreaterThan(100_000);
  });

  for (const op of VECTOR_OPS) {
    it(op.name, () => {
      const { checked, failures } = runVectorOp(op, {
        state: wasmState(),
        exec,
        fflags: () => wasm.getFflags(),
        setFflags: (v) => wasm.setFflags(v),
        setFrm: (v) => wasm.setFrm(v),
      });
      totalChecked += checked;
      if (failures.length > 0) {
        console.error(`${failures.length}/${checked} failed:\n${failures.slice(0, 40).join("\n")}`);
      }
      expect(failures.length, failures.slice(0, 5).join("\n")).toBe(0);
    });
  }

  it("checked every vector in every rounding variant", () => {
    expect(totalChecked).toBe(vectorExecutions());
  });
});

// ---- encodings ----

describe("wasm FPU: illegal encodings", () => {
  for (const [name, insn, frm] of ILLEGAL_ENCODINGS) {
    it(name, () => {
      const state = wasmState();
      for (let i = 0; i < 64; i++) {
        state.f[i] = (i * 0x9e3779b9) | 0;
        state.x[i] = i < 2 ? 0 : (i * 0x7f4a7c15) | 0;
      }
      wasm.setFflags(0x15);
      // setFrm keeps 3 bits, like the CSR; frm 5..7 is reserved and must make dyn illegal
      wasm.setFrm(frm ?? 0);
      const before = Buffer.from(memory.buffer.slice(0));
      expect(exec(insn)).toBe(false);
      expect(before.equals(Buffer.from(memory.buffer)), "memory changed").toBe(true);
      expect(wasm.getFflags()).toBe(0x15);
      expect(wasm.getFrm()).toBe(frm ?? 0);
    });
  }
});

describe("wasm FPU: hand-written cases", () => {
  it("never writes x0, but still accrues flags", () => {
    const state = wasmState();
    state.x.fill(0);
    state.fd[1] = 2.5;
    wasm.setFflags(0);
    wasm.setFrm(0);
    expect(exec(opfp(0x18, D, 0, 1, 0, 0))).toBe(true); // fcvt.w.d x0, f1, rne
    expect(hex(state.x[0]!, state.x[1]!)).toBe("0000000000000000");
    expect(wasm.getFflags()).toBe(1);
    expect(exec(opfp(0x14, D, 1, 1, 2, 0))).toBe(true); // feq.d x0
    expect(hex(state.x[0]!, state.x[1]!)).toBe("0000000000000000");
  });

  it("reads every operand before writing when rd aliases a source", () => {
    const state = wasmState();
    state.fd[1] = 3;
    expect(exec(fused(0x43, 1, D, 1, 1, 0, 1))).toBe(true); // fmadd.d f1, f1, f1, f1
    expect(state.fd[1]).toBe(12);
    state.fd[2] = -0;
    state.fd[3] = 0;
    expect(exec(opfp(0x05, D, 3, 2, 1, 3))).toBe(true); // fmax.d f3, f2, f3
    expect(hex(state.f[6]!, state.f[7]!)).toBe("0000000000000000");
  });

  it("uses frm only for rm = dyn", () => {
    const state = wasmState();
    state.fd[1] = 1;
    state.fd[2] = 3;
    wasm.setFrm(3); // rup
    expect(exec(opfp(0x03, D, 2, 1, 7, 4))).toBe(true); // fdiv.d dyn
    expect(hex(state.f[8]!, state.f[9]!)).toBe("3fd5555555555556");
    expect(exec(opfp(0x03, D, 2, 1, 0, 4))).toBe(true); // fdiv.d rne
    expect(hex(state.f[8]!, state.f[9]!)).toBe("3fd5555555555555");
  });
});

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

describe("wasm FPU: NaN-boxing", () => {
  it("reads an improperly boxed single as the canonical NaN", () => {
    const state = wasmState();
    wasm.setFflags(0);
    wasm.setFrm(0);
    setF(state, 1, 0, 0x3f800000); // 1.0 with a zero upper half
    setF(state, 2, -1, 0x3f800000);
    expect(exec(opfp(0x00, S, 2, 1, 0, 3))).toBe(true); // fadd.s f3, f1, f2
    expect(getF(state, 3)).toBe("ffffffff7fc00000");
    expect(wasm.getFflags()).toBe(0); // the canonical NaN is quiet
    setF(state, 1, 0xfffffffe, 0x3f800000); // one bit short of a box
    expect(exec(opfp(0x00, S, 2, 1, 0, 3))).toBe(true);
    expect(getF(state, 3)).toBe("ffffffff7fc00000");
  });

  it("sign injection, classify and widening see the canonical NaN", () => {
    const state = wasmState();
    wasm.setFflags(0);
    wasm.setFrm(0);
    setF(state, 1, 0x12345678, 0xbf800000);
    setF(state, 2, -1, 0x80000000);
    expect(exec(opfp(0x04, S, 2, 1, 0, 3))).toBe(true); // fsgnj.s
    expect(getF(state, 3)).toBe("ffffffffffc00000");
    expect(exec(opfp(0x1c, S, 0, 1, 1, 5))).toBe(true); // fclass.s x5
    expect(getX(state, 5)).toBe("0000000000000200"); // quiet NaN
    expect(exec(opfp(0x08, D, 0, 1, 0, 4))).toBe(true); // fcvt.d.s
    expect(getF(state, 4)).toBe("7ff8000000000000");
    expect(wasm.getFflags()).toBe(0);
  });

  it("FMV.X.W moves the raw low word, sign-extended, boxed or not", () => {
    const state = wasmState();
    setF(state, 1, 0x12345678, 0x87654321);
    expect(exec(opfp(0x1c, S, 0, 1, 0, 5))).toBe(true);
    expect(getX(state, 5)).toBe("ffffffff87654321");
  });

  it("single results and FMV.W.X write an all-ones upper half", () => {
    const state = wasmState();
    wasm.setFrm(0);
    state.x[12] = 0x40490fdb; // x6 = pi as single bits, upper half garbage
    state.x[13] = 0x0badf00d;
    expect(exec(opfp(0x1e, S, 0, 6, 0, 7))).toBe(true); // fmv.w.x f7, x6
    expect(getF(state, 7)).toBe("ffffffff40490fdb");
    setF(state, 8, 0, 0);
    expect(exec(opfp(0x1a, S, 0, 6, 0, 8))).toBe(true); // fcvt.s.w f8, x6
    expect(state.f[17]).toBe(-1);
    expect(exec(opfp(0x08, S, 1, 7, 0, 9))).toBe(true); // fcvt.s.d f9, f7 (a double here)
    expect(state.f[19]).toBe(-1);
  });
});

describe("wasm FPU: frm", () => {
  it("is ignored by instructions without rounding, even when it holds a reserved mode", () => {
    const state = wasmState();
    wasm.setFrm(7);
    state.fd[1] = 1;
    state.fd[2] = -2;
    expect(exec(opfp(0x04, D, 2, 1, 0, 3))).toBe(true); // fsgnj.d
    expect(state.fd[3]).toBe(-1);
    expect(exec(opfp(0x05, D, 2, 1, 1, 3))).toBe(true); // fmax.d
    expect(exec(opfp(0x14, D, 2, 1, 1, 5))).toBe(true); // flt.d
    expect(exec(opfp(0x1c, D, 0, 1, 0, 5))).toBe(true); // fmv.x.d
    expect(exec(opfp(0x1e, D, 0, 5, 0, 6))).toBe(true); // fmv.d.x
  });
});
