// The block compiler against the interpreter: the same random program (mostly RV64IMC integer code,
// with loads and stores into RAM, branches and jumps, and traps into random handlers) run by a hart
// that compiles every block on first entry and by one that only interprets. After every run() of the
// compiling hart, the interpreting hart is brought to the same instret; registers, pc, the trap CSRs
// and RAM must agree.
import { describe, expect, it } from "vitest";
import { Bus } from "../core/bus.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import { rng } from "../testing/rng.ts";
import { Hart } from "./hart.ts";
import { AUX_BYTES } from "./state.ts";

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 1 << 16;

/** An I-type/R-type/etc. word with a random body and one of the opcodes the block compiler takes. */
function randomWord(next: () => number): number {
  const r = next();
  const pick = (r >>> 3) & 31;
  // Bias toward the integer opcodes; a few SYSTEM/AMO/FP words make blocks end early.
  const ops = [0x13, 0x13, 0x13, 0x33, 0x33, 0x1b, 0x3b, 0x03, 0x03, 0x23, 0x23, 0x63, 0x63, 0x6f, 0x67, 0x37, 0x17];
  if (pick < 30) {
    let w = (r & ~0x7f) | ops[(r >>> 8) % ops.length];
    const op = w & 0x7f;
    // Keep most M-extension and shift encodings valid: funct7 0, 1 or 0x20.
    if (op === 0x33 || op === 0x3b) w = (w & 0x01ffffff) | ([0, 1, 0x20][(r >>> 20) % 3] << 25);
    // Loads/stores: base registers x1..x7 point into RAM (see below), offsets small.
    if (op === 0x03 || op === 0x23) w = (w & ~(31 << 15)) | ((1 + ((r >>> 15) % 7)) << 15);
    if (op === 0x03) w = (w & 0x000fffff) | ((next() & 0x1f8) << 20);
    if (op === 0x23) w = (w & 0x01fff07f) | ((next() & 0xf8) << 4);
    // Jumps and branches stay near: small offsets.
    if (op === 0x63) w = (w & 0x01fff07f) | ((next() & 0x1e) << 7);
    if (op === 0x6f) w = (w & 0x00000fff) | ((next() & 0x3fe) << 21);
    if (op === 0x67) w = (w & 0x000fffff & ~(31 << 15)) | ((1 + ((r >>> 15) % 7)) << 15);
    return w;
  }
  // Anything at all: a random low parcel is compressed three times in four (C0/C1/C2 quadrants).
  return next();
}

function setup(seed: number, jit: boolean | number, backend: "js" | "wasm" = "js"): Hart {
  const next = rng(seed);
  const mem =
    backend === "wasm" ? GuestMemory.withExtra(RAM_BASE, RAM_SIZE, AUX_BYTES) : new GuestMemory(RAM_BASE, RAM_SIZE);
  for (let i = 0; i < mem.i32.length; i++) mem.i32[i] = i < 0x3000 ? randomWord(next) : next();
  const hart = new Hart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 }, jit, jitBackend: backend });
  for (let r = 1; r < 32; r++) {
    const v = next();
    // x1..x7 point into RAM (8-aligned, so ld/sd mostly take the fast path); the rest are random.
    hart.setX(r, r < 8 ? RAM_BASE + ((v >>> 3) & (RAM_SIZE / 8 - 1)) * 8 - 0x100 : BigInt(v) * BigInt(next()));
  }
  hart.setPc(RAM_BASE);
  hart.csr[0x305 * 2] = RAM_BASE + 0x400;
  hart.csr[0x105 * 2] = RAM_BASE + 0x800;
  return hart;
}

function state(h: Hart): string {
  const regs = Array.from({ length: 32 }, (_, i) => h.getX(i).toString(16)).join(",");
  const csr = [0x341, 0x342, 0x343, 0x141, 0x142, 0x143].map((n) => `${h.csr[n * 2]}:${h.csr[n * 2 + 1]}`).join(",");
  return `pc=${h.getPc().toString(16)} priv=${h.priv} instret=${h.instret} regs=${regs} csr=${csr}`;
}

function compare(seed: number, steps: number, backend: "js" | "wasm" = "js"): { compiled: number } {
  const j = setup(seed, 1, backend);
  if (j.jit?.backend !== backend) throw new Error(`asked for the ${backend} backend, got ${j.jit?.backend}`);
  const ip = setup(seed, false);
  for (let s = 0; s < steps; s++) {
    j.run(500);
    if (j.waiting) j.setPending(7, true);
    // Step the interpreter one instruction (or one trap) at a time up to the same instret; traps
    // retire nothing, so at equal instret a few more steps may be traps still to take.
    let guard = 0;
    while (ip.instret < j.instret && guard++ < 100_000) {
      ip.run(1);
      if (ip.waiting) ip.setPending(7, true);
    }
    const a = state(j);
    let b = state(ip);
    for (let t = 0; t < 4 && a !== b && ip.instret === j.instret; t++) {
      ip.run(1);
      if (ip.waiting) ip.setPending(7, true);
      if (ip.instret !== j.instret) break;
      b = state(ip);
    }
    if (a !== b) throw new Error(`seed ${seed} step ${s}:\n jit    ${a}\n interp ${b}`);
  }
  const ja = j.mem.i32;
  const ia = ip.mem.i32;
  for (let i = 0; i < ja.length; i++) {
    if (ja[i] !== ia[i]) throw new Error(`seed ${seed}: RAM differs at +0x${(i * 4).toString(16)}`);
  }
  return { compiled: j.jit?.compiled ?? 0 };
}

describe("block compiler vs interpreter", () => {
  it("agrees on random integer programs (registers, pc, trap CSRs, RAM)", () => {
    let compiled = 0;
    for (let k = 0; k < 60; k++) compiled += compare(0x1000 + k * 7919, 25).compiled;
    // The programs really went through compiled blocks.
    expect(compiled).toBeGreaterThan(100);
  });

  it("a host that refuses to compile WebAssembly leaves the hart interpreting, with the reason", () => {
    const real = WebAssembly.Module;
    (WebAssembly as { Module: unknown }).Module = class {
      constructor() {
        throw new WebAssembly.CompileError("refused by policy (test)");
      }
    };
    try {
      // The same comparison as above: every instruction still runs (interpreted), state agrees.
      compare(0x1000 + 3 * 7919, 25, "wasm");
      const h = setup(0x1000 + 3 * 7919, 1, "wasm");
      for (let i = 0; i < 20; i++) {
        h.run(500);
        if (h.waiting) h.setPending(7, true);
      }
      expect(h.jit?.disabledBecause).toMatch(/refused by policy/);
      expect(h.jit?.compiled).toBe(0);
    } finally {
      (WebAssembly as { Module: unknown }).Module = real;
    }
  });

  it("the wasm backend agrees on the same random programs", () => {
    let compiled = 0;
    for (let k = 0; k < 60; k++) compiled += compare(0x1000 + k * 7919, 25, "wasm").compiled;
    expect(compiled).toBeGreaterThan(100);
  });

  it("a device write into compiled code drops the page's blocks", () => {
    const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
    const h = new Hart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 }, jit: 1 });
    // loop: addi a0,a0,1 ; jal x0, loop  (compiled on first entry)
    mem.i32[0] = 0x00150513;
    mem.i32[1] = 0xffdff06f | 0;
    h.setPc(RAM_BASE);
    h.run(100);
    expect(h.jit?.compiled).toBe(1);
    expect(Number(h.getX(10))).toBe(50);
    // DMA (notified) rewrites the loop to addi a0,a0,2.
    mem.writeU32(RAM_BASE, 0x00250513);
    expect(h.jit?.invalidations).toBe(1);
    h.run(100);
    expect(Number(h.getX(10))).toBe(150);
  });

  it("a guest store into compiled code is seen by the next fetch", () => {
    const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
    const h = new Hart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 }, jit: 1 });
    // 0: addi a0,a0,1 ; 4: jal x0,0   — and at 0x100: sw a1,0(a2) ; jal x0, -0x100 (back to 0)
    mem.i32[0] = 0x00150513;
    mem.i32[1] = 0xffdff06f | 0;
    mem.i32[0x40] = 0x00b62023; // sw a1,0(a2)
    mem.i32[0x41] = 0xf01ff06f | 0; // jal x0,-256 (from 0x104 to 0x4)... see below
    h.setPc(RAM_BASE);
    h.run(100);
    expect(Number(h.getX(10))).toBe(50);
    // The guest stores addi a0,a0,3 over the loop's first instruction through its (TLB-cached) store path.
    h.setX(11, 0x00350513);
    h.setX(12, RAM_BASE);
    h.setPc(RAM_BASE + 0x100);
    h.run(1); // the store
    expect(h.jit?.invalidations).toBe(1);
    h.setPc(RAM_BASE);
    h.run(100);
    expect(Number(h.getX(10))).toBe(50 + 150);
  });
  it("a block that branches to its own start runs as a loop, within the budget, and faults precisely", () => {
    // loop: ld t0,0(a2); add a0,a0,t0; addi a2,a2,8; addi a1,a1,-1; bne a1,x0,loop; then ebreak-free tail
    const prog = [0x00063283, 0x00550533, 0x00860613, 0xfff58593 | 0, 0xfe0598e3 | 0, 0x00000013];
    const run = (jit: boolean | number, count: number, start: number, budget: number): Hart => {
      const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
      prog.forEach((w, i) => {
        mem.i32[i] = w;
      });
      for (let i = 0; i < 64; i++) mem.i32[0x1000 + i * 2] = i + 1;
      const h = new Hart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 }, jit });
      mem.i32[0x200] = 0x0000006f; // the trap handler at +0x800: j . (mepc stays the faulting pc)
      h.csr[0x305 * 2] = RAM_BASE + 0x800;
      h.setX(11, count);
      h.setX(12, start);
      h.setPc(RAM_BASE);
      h.run(budget);
      return h;
    };
    // 40 passes summing 1..40, run in one call, the loop compiled on first entry.
    const a = run(1, 40, RAM_BASE + 0x4000, 1000);
    expect(Number(a.getX(10))).toBe((40 * 41) / 2);
    expect(state(a)).toBe(state(run(false, 40, RAM_BASE + 0x4000, 1000)));
    expect(a.jit?.compiled).toBeGreaterThan(0);
    // A budget cuts the loop at a pass boundary and agrees with the interpreter.
    const b = run(1, 40, RAM_BASE + 0x4000, 52);
    const bi = run(false, 40, RAM_BASE + 0x4000, b.instret);
    expect(state(b)).toBe(state(bi));
    expect(b.instret).toBeLessThanOrEqual(52 + 5);
    // The load walks off the end of RAM on pass 5: the fault names that ld, with 4 passes retired.
    const c = run(1, 40, RAM_BASE + RAM_SIZE - 32, 1000);
    expect(c.csr[0x341 * 2]).toBe(RAM_BASE | 0);
    expect(c.csr[0x342 * 2]).toBe(5); // load access fault
    const ci = run(false, 40, RAM_BASE + RAM_SIZE - 32, 1000);
    expect(state(c)).toBe(state(ci));
  });
  it("by default compiles only blocks that loop to their own start", () => {
    const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
    const h = new Hart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 } });
    // 0: addi a0,a0,1 ; jal x0,0 — a hot straight-line block ending in a jump: left to the interpreter.
    mem.i32[0] = 0x00150513;
    mem.i32[1] = 0xffdff06f | 0;
    h.setPc(RAM_BASE);
    h.run(20_000);
    expect(h.jit?.compiled).toBe(0);
    expect(Number(h.getX(10))).toBe(10_000);
    // 0x100: addi a1,a1,-1 ; bne a1,x0,0x100 — a loop: compiled once entered often enough.
    mem.i32[0x40] = 0xfff58593 | 0;
    mem.i32[0x41] = 0xfe059ee3 | 0;
    mem.i32[0x42] = 0x0000006f; // j .
    for (let i = 0; i < 200; i++) {
      h.setX(11, 10);
      h.setPc(RAM_BASE + 0x100);
      h.run(21);
    }
    expect(h.jit?.compiled).toBe(1);
    expect(Number(h.getX(11))).toBe(0);
  });
});
