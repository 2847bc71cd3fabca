// The AssemblyScript FPU (src/cpu/as/fpu.ts) compiled to WebAssembly and checked like the TypeScript one
// (fpu.test.ts): every reference vector recorded under qemu-riscv64 (fpu-vectors/), each instruction with every
// static rounding mode (frm holding some other mode, which must be ignored) and again with rm = dyn and frm
// holding the mode; results and fflags bit-exact. Then the illegal encodings (no state change), and random
// operands against the TypeScript Fpu, which must agree bit for bit.

import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";
import { beforeAll, describe, expect, it } from "vitest";
import { rng } from "../testing/rng.ts";
import { Fpu } from "./fpu.ts";
import {
  D,
  fused,
  hex,
  ILLEGAL_ENCODINGS,
  opfp,
  runVectorOp,
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

// ---- random operands against the TypeScript Fpu ----

/** Random 32 bits biased towards the interesting corners of a binary32: tiny, huge, near 1, NaNs. */
function randomSingle(next: () => number): number {
  const r = next();
  const frac = next() & 0x7fffff;
  const sign = r & 0x80000000;
  switch (r & 7) {
    case 0:
      return sign | ((r >>> 3) & 3) | (frac & ~3 & 0x7fffff); // subnormal / zero
    case 1:
      return sign | (((r >>> 3) % 4) << 23) | frac; // smallest normals
    case 2:
      return sign | ((0xfc + ((r >>> 3) % 4)) << 23) | frac; // largest finites, inf/NaN
    case 3:
      return sign | ((0x7e + ((r >>> 3) % 3)) << 23) | (frac & (0x7ff000 | ((r >>> 8) & 0xfff))); // near 1
    default:
      return sign | (((r >>> 3) & 0xff) << 23) | frac;
  }
}

function randomDoubleHi(next: () => number): number {
  const r = next();
  const frac = next() & 0xfffff;
  const sign = r & 0x80000000;
  switch (r & 7) {
    case 0:
      return sign | (frac & ((r >>> 3) & 1 ? 0xfffff : 0xf)); // subnormal / zero
    case 1:
      return sign | (((r >>> 3) % 4) << 20) | frac;
    case 2:
      return sign | ((0x7fc + ((r >>> 3) % 4)) << 20) | frac;
    case 3:
      return sign | ((0x3fe + ((r >>> 3) % 3)) << 20) | frac;
    case 4: // exponents a product or quotient can push out of range
      return sign | ((((r >>> 3) % 2 ? 0x200 : 0x5f0) + ((r >>> 4) % 16)) << 20) | frac;
    default:
      return sign | (((r >>> 3) & 0x7ff) << 20) | frac;
  }
}

/** Every OP-FP and fused instruction that reads f registers (f1..f3) or x5 and writes f4 / x6. */
function randomInsn(next: () => number): number {
  const fmt = next() & 1;
  const rmPick = next() % 6;
  const rm = rmPick === 5 ? 7 : rmPick;
  const kind = next() % 20;
  if (kind < 4) return fused([0x43, 0x47, 0x4b, 0x4f][kind]!, 3, fmt, 2, 1, rm, 4);
  switch (kind) {
    case 4:
    case 5:
    case 6:
    case 7:
      return opfp(kind - 4, fmt, 2, 1, rm, 4);
    case 8:
      return opfp(0x0b, fmt, 0, 1, rm, 4);
    case 9:
      return opfp(0x04, fmt, 2, 1, next() % 3, 4);
    case 10:
      return opfp(0x05, fmt, 2, 1, next() % 2, 4);
    case 11:
      return opfp(0x14, fmt, 2, 1, next() % 3, 6);
    case 12:
      return opfp(0x08, fmt, 1 - fmt, 1, rm, 4);
    case 13:
    case 14:
      return opfp(0x18, fmt, next() % 4, 1, rm, 6);
    case 15:
    case 16:
      return opfp(0x1a, fmt, next() % 4, 5, rm, 4);
    case 17:
      return opfp(0x1c, fmt, 0, 1, next() % 2, 6);
    default:
      return opfp(0x1e, fmt, 0, 5, 0, 4);
  }
}

describe("wasm FPU against the TypeScript Fpu on random operands", () => {
  it("agrees on 300000 random instructions", () => {
    const bits = rng(0x5eed1234);
    const next = (): number => bits() >>> 0; // unsigned: the generators below take remainders
    const ws = wasmState();
    const ref = new HartState();
    const fpu = new Fpu(ref);
    const failures: string[] = [];
    const N = 300_000;
    for (let n = 0; n < N; n++) {
      const insn = randomInsn(next);
      for (let i = 1; i <= 3; i++) {
        const boxed = next() % 16 !== 0; // sometimes an improperly boxed single
        if (next() & 1) {
          ref.f[2 * i] = next() | 0;
          ref.f[2 * i + 1] = randomDoubleHi(next);
        } else {
          ref.f[2 * i] = randomSingle(next) | 0;
          ref.f[2 * i + 1] = boxed ? -1 : next() | 0;
        }
      }
      // x5: small, 32-bit or full 64-bit integers
      const xk = next() % 3;
      ref.x[10] = next() | 0;
      ref.x[11] = xk === 0 ? ref.x[10]! >> 31 : xk === 1 ? next() >>> (next() % 32) : next() | 0;
      ref.f[8] = ref.f[9] = 0x5a5a5a5a;
      ref.x[12] = ref.x[13] = 0x3c3c3c3c;
      ws.x.set(ref.x);
      ws.f.set(ref.f);
      const frm = next() % 5;
      fpu.fflags = 0;
      fpu.frm = frm;
      wasm.setFflags(0);
      wasm.setFrm(frm);
      const okRef = fpu.exec(insn);
      const ok = exec(insn);
      const same =
        ok === okRef &&
        wasm.getFflags() === fpu.fflags &&
        ws.f.every((v, i) => v === ref.f[i]) &&
        ws.x.every((v, i) => v === ref.x[i]);
      if (!same && failures.length < 20) {
        const regs = [1, 2, 3].map((i) => hex(ref.f[2 * i]!, ref.f[2 * i + 1]!)).join(", ");
        failures.push(
          `insn=0x${insn.toString(16)} frm=${frm} f1..f3=[${regs}] x5=${hex(ref.x[10]!, ref.x[11]!)}: ` +
            `ts ${hex(ref.f[8]!, ref.f[9]!)} x6=${hex(ref.x[12]!, ref.x[13]!)}/${fpu.fflags} ` +
            `wasm ${hex(ws.f[8]!, ws.f[9]!)} x6=${hex(ws.x[12]!, ws.x[13]!)}/${wasm.getFflags()}`,
        );
      }
    }
    expect(failures, failures.join("\n")).toHaveLength(0);
  });
});
