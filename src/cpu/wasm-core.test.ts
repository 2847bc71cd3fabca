// The WebAssembly core (src/cpu/as/, wasm-core.ts): its interpreter against its block compiler
// (wasm-core-jit.ts, every block compiled on first entry) in lockstep: the same random program — integer,
// compressed, FP, atomic, CSR and SYSTEM words, loads and stores into RAM (into code too), traps into random
// handlers — run by both, a random number of instructions at a time. After every run() the registers (x and
// f), pc, privilege, retired count, mstatus and the trap CSRs must agree, and RAM at the end. (Until the
// TypeScript hart was removed, the interpreter also ran in lockstep with it; tests/isa and tests/diff, against
// QEMU, check the interpreter itself.) Also: random garbage never makes the core throw or hang, and a host
// without room for it gets a clear error.
import { describe, expect, it } from "vitest";
import { loadCoreModule } from "../cli/core-module.ts";
import { Bus } from "../core/bus.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import { rng } from "../testing/rng.ts";
import { WASM_CORE_AUX_BYTES, WasmHart, wasmCoreUnsupported } from "./wasm-core.ts";

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 1 << 16;

/** CSRs worth hitting: the trap/status set, counters, FP, satp (bare/Sv39 with garbage roots), PMP. */
const CSRS = [
  0x001, 0x002, 0x003, 0xc00, 0xc02, 0x100, 0x104, 0x105, 0x106, 0x10a, 0x140, 0x141, 0x142, 0x143, 0x144, 0x14d, 0x180,
  0x300, 0x301, 0x302, 0x303, 0x304, 0x305, 0x306, 0x30a, 0x320, 0x340, 0x341, 0x342, 0x343, 0x344, 0x3a0, 0x3b0, 0xb00,
  0xb02, 0xf11, 0xf14, 0x7b0,
];

function randomWord(next: () => number): number {
  const r = next();
  const pick = (r >>> 3) & 63;
  const ops = [
    0x13, 0x13, 0x13, 0x33, 0x33, 0x1b, 0x3b, 0x03, 0x03, 0x23, 0x23, 0x63, 0x63, 0x6f, 0x67, 0x37, 0x17, 0x2f, 0x0f,
    0x07, 0x27, 0x53, 0x53, 0x43, 0x47,
  ];
  if (pick < 52) {
    let w = (r & ~0x7f) | ops[(r >>> 8) % ops.length];
    const op = w & 0x7f;
    if (op === 0x33 || op === 0x3b) w = (w & 0x01ffffff) | ([0, 1, 0x20][(r >>> 20) % 3] << 25);
    // Memory operands: base registers x1..x7 point into RAM, offsets small.
    if (op === 0x03 || op === 0x23 || op === 0x07 || op === 0x27 || op === 0x2f)
      w = (w & ~(31 << 15)) | ((1 + ((r >>> 15) % 7)) << 15);
    if (op === 0x03 || op === 0x07) w = (w & 0x000fffff) | ((next() & 0x1ff) << 20);
    if (op === 0x23 || op === 0x27) w = (w & 0x01fff07f) | ((next() & 0xf8) << 4);
    if (op === 0x2f) w = (w & 0x07ffffff) | ([0, 1, 2, 3, 4, 8, 0xc, 0x10, 0x14, 0x18, 0x1c][(r >>> 22) % 11] << 27);
    if (op === 0x63) w = (w & 0x01fff07f) | ((next() & 0x1e) << 7);
    if (op === 0x6f) w = (w & 0x00000fff) | ((next() & 0x3fe) << 21);
    if (op === 0x67) w = (w & 0x000fffff & ~(31 << 15)) | ((1 + ((r >>> 15) % 7)) << 15);
    return w;
  }
  if (pick < 58) {
    // SYSTEM: a CSR op on a chosen CSR, or ECALL/EBREAK/xRET/WFI/SFENCE.VMA.
    const f3 = [1, 2, 3, 5, 6, 7, 0][(r >>> 12) % 7];
    if (f3 !== 0) return (CSRS[(next() >>> 1) % CSRS.length] << 20) | (r & 0x000f8f80) | (f3 << 12) | 0x73;
    return [0x00000073, 0x00100073, 0x10200073, 0x30200073, 0x10500073, 0x12000073, 0x12008073][(r >>> 16) % 7];
  }
  // Anything at all: a random low parcel is compressed three times in four.
  return next();
}

function setup(seed: number, jit: number | false): WasmHart {
  const next = rng(seed);
  const mem = GuestMemory.withExtra(RAM_BASE, RAM_SIZE, WASM_CORE_AUX_BYTES);
  for (let i = 0; i < mem.i32.length; i++) mem.i32[i] = i < 0x3000 ? randomWord(next) : next();
  const time = { mtime: () => 1234 };
  const hart = new WasmHart({ hartId: 0, mem, bus: new Bus(), time, module: loadCoreModule(), jit, jitSync: true });
  for (let r = 1; r < 32; r++) {
    const v = next();
    hart.setX(r, r < 8 ? RAM_BASE + ((v >>> 3) & (RAM_SIZE / 8 - 1)) * 8 - 0x100 : BigInt(v) * BigInt(next()));
  }
  hart.setPc(RAM_BASE);
  hart.mstatus = 1 << 13; // FS on
  hart.writeCsrRaw(0x305, BigInt(RAM_BASE + 0x400));
  hart.writeCsrRaw(0x105, BigInt(RAM_BASE + 0x800));
  return hart;
}

function state(h: WasmHart): string {
  const regs = Array.from({ length: 32 }, (_, i) => h.getX(i).toString(16)).join(",");
  const f = h.state.f;
  const fregs = Array.from({ length: 32 }, (_, i) => `${(f[i * 2 + 1] >>> 0).toString(16)}:${f[i * 2] >>> 0}`).join(
    ",",
  );
  const csr = [0x341, 0x342, 0x343, 0x141, 0x142, 0x143, 0x305, 0x105].map((n) => h.readCsr(n).toString(16)).join(",");
  return `pc=${h.getPc().toString(16)} priv=${h.priv} instret=${h.instret} mstatus=${(h.mstatus >>> 0).toString(16)} mie=${h.mie} waiting=${h.waiting}\n regs=${regs}\n f=${fregs}\n csr=${csr}`;
}

/**
 * Runs two harts side by side and returns the short runs (traps, WFI) and the blocks compiled. "jit": every block
 * compiled on first entry (w) against the interpreter alone (j). "fast": the interpreter (w, whose common
 * instructions run in the core's call-free fast loop) against the interpreter with a trace hook (j: tracing
 * keeps every instruction in the general loop).
 */
function lockstep(
  seed: number,
  steps: number,
  pair: "jit" | "fast" = "jit",
): { traps: number; compiled: number; invalidations: number } {
  const w = setup(seed, pair === "jit" ? 1 : false);
  const j = setup(seed, false);
  let traced = 0;
  if (pair === "fast") j.trace = () => traced++;
  const next = rng(seed ^ 0x55aa);
  let traps = 0;
  for (let s = 0; s < steps; s++) {
    const budget = 1 + ((next() >>> 0) % 300);
    // Random code traps often and its handlers are random code too: restart both harts somewhere else in
    // the program now and then, so the run covers the program instead of circling one handler.
    if ((next() & 1) === 0) {
      const pc = RAM_BASE + ((next() >>> 0) % 0x3000) * 4 + ((next() & 1) === 0 ? 2 : 0);
      w.setPc(pc);
      j.setPc(pc);
    }
    const a = w.run(budget);
    const b = j.run(budget);
    for (const h of [w, j]) if (h.waiting) h.setPending(7, true);
    const sa = state(w);
    const sb = state(j);
    if (a !== b || sa !== sb) {
      const [nw, nj] = pair === "jit" ? ["compiled   ", "interpreted"] : ["fast  ", "traced"];
      throw new Error(`seed ${seed} step ${s} (budget ${budget}): retired ${a} vs ${b}\n ${nw} ${sa}\n ${nj} ${sb}`);
    }
    if (a < budget) traps++;
  }
  const wa = w.mem.i32;
  const ja = j.mem.i32;
  for (let i = 0; i < ja.length; i++) {
    if (wa[i] !== ja[i]) throw new Error(`seed ${seed}: RAM differs at +0x${(i * 4).toString(16)}`);
  }
  if (pair === "fast" && traced === 0) throw new Error(`seed ${seed}: the trace hook never ran`);
  const wj = w.jit;
  return { traps, compiled: wj?.compiled ?? 0, invalidations: wj?.invalidations ?? 0 };
}

/** A wasm hart on `mem` that compiles every block the first time it is entered (synchronously). */
/**
 * A hart on 64 KiB of RAM holding `words` (RAM offset, 32-bit word) and `bytes` (RAM offset, bytes), blocks
 * compiled synchronously after `jit` entries (or interpreted), pc at RAM offset 0x100.
 */
function programHart(
  jit: boolean | number,
  words: [number, number][],
  bytes: [number, number[]][] = [],
  more: HartMore = {},
): WasmHart {
  const mem = GuestMemory.withExtra(RAM_BASE, 1 << 16, WASM_CORE_AUX_BYTES);
  for (const [at, w] of words) mem.i32[at / 4] = w | 0;
  for (const [at, b] of bytes) mem.u8.set(b, at);
  const h = hartOn(mem, jit, more);
  h.setPc(RAM_BASE + 0x100);
  return h;
}

interface HartMore {
  /** false: compiles in the background (WebAssembly.compile), as the CLI and the page do. */
  jitSync?: boolean;
  jitWarmup?: number;
}

/** A hart on `mem` whose blocks compile after `jit` entries (or never), synchronously unless `more` says not. */
function hartOn(mem: GuestMemory, jit: boolean | number, more: HartMore = {}): WasmHart {
  return new WasmHart({
    hartId: 0,
    mem,
    bus: new Bus(),
    time: { mtime: () => 0 },
    module: loadCoreModule(),
    jit,
    jitSync: more.jitSync ?? true,
    jitWarmup: more.jitWarmup,
  });
}

function compileEveryBlock(mem: GuestMemory): WasmHart {
  return hartOn(mem, 1);
}

describe("the WebAssembly core", () => {
  it("interpreted, and with every block compiled on first entry, runs random programs alike in lockstep (x and f registers, pc, privilege, CSRs, RAM; side exits, loops, traps in blocks, stores into code)", () => {
    let traps = 0;
    let compiled = 0;
    let invalidated = 0;
    for (let k = 0; k < 80; k++) {
      const r = lockstep(0x2000 + k * 7919, 40);
      traps += r.traps;
      compiled += r.compiled;
      invalidated += r.invalidations;
    }
    // The programs really trapped, through handlers and mode changes.
    expect(traps).toBeGreaterThan(200);
    // Blocks really ran (hundreds per program), and random stores hit compiled code.
    expect(compiled).toBeGreaterThan(1000);
    expect(invalidated).toBeGreaterThan(10);
  });

  it("interpreted, its fast loop and the general loop (tracing) run random programs alike in lockstep", () => {
    let traps = 0;
    for (let k = 0; k < 80; k++) traps += lockstep(0x3000 + k * 7919, 40, "fast").traps;
    expect(traps).toBeGreaterThan(200);
  });

  it("saveState/loadState: a hart restored on a copy of RAM runs on exactly like the one it was saved from", () => {
    let checked = 0;
    for (let k = 0; k < 24; k++) {
      const seed = 0x4000 + k * 7919;
      // The saved hart compiles every block (its caches full at the save); the restored one starts empty.
      const a = setup(seed, k % 2 === 0 ? 1 : false);
      const next = rng(seed ^ 0x1234);
      for (let s = 0; s < 30; s++) {
        a.run(1 + ((next() >>> 0) % 300));
        if (a.waiting) a.setPending(7, true);
      }
      const bytes = a.saveState();
      const b = setup(seed ^ 0x7777, k % 3 === 0 ? 1 : false); // other RAM and registers, then overwritten
      b.mem.u8.set(a.mem.u8);
      b.loadState(bytes);
      expect(state(b)).toBe(state(a));
      // Saving the restored hart gives the same bytes.
      expect(Buffer.from(b.saveState()).equals(Buffer.from(bytes))).toBe(true);
      for (let s = 0; s < 40; s++) {
        const budget = 1 + ((next() >>> 0) % 300);
        if ((next() & 7) === 0) {
          const pc = RAM_BASE + ((next() >>> 0) % 0x3000) * 4;
          a.setPc(pc);
          b.setPc(pc);
        }
        const ra = a.run(budget);
        const rb = b.run(budget);
        for (const h of [a, b]) if (h.waiting) h.setPending(7, true);
        expect(`${rb} ${state(b)}`, `seed ${seed} step ${s}`).toBe(`${ra} ${state(a)}`);
        checked++;
      }
      expect(b.mem.i32.every((v, i) => v === a.mem.i32[i])).toBe(true);
    }
    expect(checked).toBe(24 * 40);
  });

  it("loadState refuses what is not a hart state, saying why, and leaves the hart as it was", () => {
    const h = setup(0x5150, false);
    h.run(500);
    const good = h.saveState();
    const before = state(h);
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const bad: [string, Uint8Array, RegExp][] = [];
    const magic = good.slice();
    magic[0] ^= 0xff;
    bad.push(["magic", magic, /not a hart state/]);
    const version = good.slice();
    dv(version).setUint32(4, 99, true);
    bad.push(["version", version, /another format version/]);
    bad.push(["truncated", good.slice(0, good.length - 8), /wrong length/]);
    bad.push(["empty", new Uint8Array(0), /not a hart state/]);
    const priv2 = good.slice();
    dv(priv2).setUint32(24 + 512, 2, true); // privilege 2 (the reserved H level)
    bad.push(["privilege", priv2, /values no hart can hold/]);
    const satp = good.slice();
    dv(satp).setUint32(24 + 512 + 80, 5, true); // satp mode 5
    bad.push(["satp mode", satp, /values no hart can hold/]);
    bad.push(["huge", new Uint8Array(1 << 20), /more than any hart state/]);
    for (const [name, bytes, why] of bad) {
      expect(() => h.loadState(bytes), name).toThrow(why);
      expect(state(h), name).toBe(before);
    }
    // And the good one still loads.
    h.run(300);
    h.loadState(good);
    expect(state(h)).toBe(before);
  });

  it("random garbage never makes it throw or hang", () => {
    for (let k = 0; k < 24; k++) {
      const next = rng(0x5eed + k * 7919);
      const mem = GuestMemory.withExtra(RAM_BASE, 1 << 20, WASM_CORE_AUX_BYTES);
      for (let i = 0; i < mem.i32.length; i++) mem.i32[i] = next();
      const h = new WasmHart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 }, module: loadCoreModule() });
      h.setPc(RAM_BASE);
      h.writeCsrRaw(0x305, BigInt(RAM_BASE + 0x400));
      let traps = 0;
      h.trace = (line) => {
        if (line.startsWith("trap")) traps++;
      };
      let done = 0;
      for (let i = 0; i < 50; i++) {
        const n = h.run(400);
        expect(n).toBeLessThanOrEqual(400);
        done += n;
        if (h.waiting) h.setPending(7, true);
      }
      // Work happened: instructions retired or traps taken (garbage traps a lot).
      expect(done + traps).toBeGreaterThan(0);
      expect(h.instret).toBe(done);
    }
  });

  it("a compiled block that follows a jump backwards to an AUIPC with a large immediate (pc-relative values past int32)", () => {
    // At +0x800: `j -0x7f0` to +0x10; there `auipc a0, 0x80000`, `addi a1, a1, 1`, `jal x0, +0x7f8` back to +0x800 —
    // one block through a backward jump, entered until compiled.
    const mem = GuestMemory.withExtra(RAM_BASE, 1 << 16, WASM_CORE_AUX_BYTES);
    const j = (off: number): number =>
      (((off >> 20) & 1) << 31) |
      (((off >> 1) & 0x3ff) << 21) |
      (((off >> 11) & 1) << 20) |
      (((off >> 12) & 0xff) << 12) |
      0x6f;
    mem.i32[0x800 / 4] = j(0x10 - 0x800);
    mem.i32[0x10 / 4] = (0x80000 << 12) | (10 << 7) | 0x17;
    mem.i32[0x14 / 4] = (1 << 20) | (11 << 15) | (11 << 7) | 0x13;
    mem.i32[0x18 / 4] = j(0x800 - 0x18);
    const h = compileEveryBlock(mem);
    h.setPc(RAM_BASE + 0x800);
    expect(h.run(4000)).toBe(4000);
    expect(h.jit?.compiled).toBeGreaterThan(0);
    expect(h.jit?.errors).toBe(0);
    expect(h.getX(10)).toBe(BigInt.asUintN(64, BigInt(RAM_BASE + 0x10) - 0x8000_0000n));
    expect(h.getX(11)).toBe(1000n);
  });

  it("compiled regions go on into each other through the chain cache (a call into another page, its return landing mid-region) without the run loop, and compute what the interpreter does", () => {
    // Page 0: A = 0x100: addi s3,s3,1; beq s3,s4,C; jal ra,f (in page 1) — C = 0x10c: addi s0,s0,1;
    // addi s1,s1,-1; bnez s1,A; then ebreak. The first pass branches to C, so C joins A's region as its second
    // block; every later pass reaches C by f's return. f = 0x1100: addi a0,a0,3; ret.
    const build = (jit: number | false): WasmHart => {
      const h = programHart(jit, [
        [0x100, 0x0019899b], // addiw s3, s3, 1
        [0x104, 0x01498463], // beq s3, s4, +8 (0x10c)
        [0x108, 0x7f9000ef], // jal ra, +0xff8 (0x1100)
        [0x10c, 0x00140413], // addi s0, s0, 1
        [0x110, 0xfff48493], // addi s1, s1, -1
        [0x114, 0xfe0496e3], // bnez s1, -20 (0x100)
        [0x118, 0x00100073], // ebreak
        [0x1100, 0x00350513], // addi a0, a0, 3
        [0x1104, 0x00008067], // ret
        [0x200, 0x0000006f], // the trap handler: j .
      ]);
      h.setX(9, 300); // s1: passes
      h.setX(20, 1); // s4
      h.writeCsrRaw(0x305, BigInt(RAM_BASE + 0x200));
      return h;
    };
    const compiled = build(4);
    const interpreted = build(false);
    // What a host without wasm tail calls runs: every region returns to the run loop.
    const unchained = build(4);
    if (unchained.jit) unchained.jit.tailCalls = false;
    // 300 passes (5 instructions the first, 8 every other), the ebreak, and the handler spinning.
    for (let k = 0; k < 4; k++) {
      const a = compiled.run(700);
      const b = interpreted.run(700);
      expect(a).toBe(b);
      expect(unchained.run(700)).toBe(b);
    }
    expect(state(compiled)).toBe(state(interpreted));
    expect(state(unchained)).toBe(state(interpreted));
    expect(unchained.jitCalls).toBeGreaterThan(500);
    expect(compiled.getX(8)).toBe(300n); // s0: C ran once per pass
    expect(compiled.getX(10)).toBe(299n * 3n); // a0: f ran on every pass but the first
    expect(compiled.readCsr(0x342)).toBe(3n); // mcause: the breakpoint
    expect(compiled.jit?.errors).toBe(0);
    // Every pass but the first crosses from A's region into f's and back into A's: ~600 transitions, each a
    // region call from the run loop were it not for the chain cache.
    expect(compiled.jit?.compiled).toBeGreaterThanOrEqual(2);
    expect(compiled.jitCalls).toBeGreaterThan(0);
    expect(compiled.jitCalls).toBeLessThan(30);
  });

  it("the instruction after one that straddles two pages starts a block, so the code after it gets compiled", () => {
    // f = 0xffc: c.addi a0,1; addi a1,a1,1 (4 bytes across the page boundary at 0x1000); addi a2,a2,1;
    // addi a3,a3,1; ret. The loop at 0x100 calls it 200 times.
    const build = (jit: number | false): WasmHart => {
      const h = programHart(
        jit,
        [
          [0x100, 0x6fd000ef], // jal ra, +0xefc (0xffc)
          [0x104, 0xfff48493], // addi s1, s1, -1
          [0x108, 0xfe049ce3], // bnez s1, -8 (0x100)
          [0x10c, 0x0000006f], // j .
        ],
        [
          [0xffc, [0x05, 0x05]], // c.addi a0, 1
          [0xffe, [0x93, 0x85, 0x15, 0x00]], // addi a1, a1, 1
          [0x1002, [0x13, 0x06, 0x16, 0x00]], // addi a2, a2, 1
          [0x1006, [0x93, 0x86, 0x16, 0x00]], // addi a3, a3, 1
          [0x100a, [0x67, 0x80, 0x00, 0x00]], // ret
        ],
      );
      h.setX(9, 200);
      return h;
    };
    const compiled = build(4);
    const interpreted = build(false);
    expect(compiled.run(3000)).toBe(3000);
    expect(interpreted.run(3000)).toBe(3000);
    expect(state(compiled)).toBe(state(interpreted));
    for (const r of [10, 11, 12, 13]) expect(compiled.getX(r)).toBe(200n);
    expect(compiled.jit?.compiledAt(0x1002)).toBe(true);
  });

  it("the warm-up: nothing is counted or compiled during the first N instructions after a reset, and blocks compile after them", () => {
    // addi a0, a0, 1; addi a1, a1, -1; bnez a1, -4 (a loop), entered 3 instructions apart.
    const code: [number, number][] = [
      [0x100, 0x00150513],
      [0x104, 0xfff58593],
      [0x108, 0xfe059ce3],
    ];
    const h = programHart(10, code, [], { jitWarmup: 30000 });
    const loop = (n: number) => {
      h.setPc(RAM_BASE + 0x100);
      h.setX(11, 1_000_000);
      expect(h.run(n)).toBe(n);
    };
    loop(29000);
    expect(h.jit?.compiled).toBe(0);
    // The warm-up ends during this run; the next run counts (run() looks at the start: within a chunk).
    loop(2000);
    loop(2000); // the loop's block compiles after 10 entries
    expect(h.jit?.compiled).toBeGreaterThan(0);
    const compiled = h.jit?.compiled;
    // A reset starts the warm-up again: the loop (compiled code dropped with every block) stays interpreted.
    h.reset();
    loop(29000);
    expect(h.jit?.compiled).toBe(compiled);
    loop(2000);
    loop(2000);
    expect(h.jit?.compiled).toBeGreaterThan(compiled ?? 0);
  });

  it("background compiles: a block that gets hot while the region it joined is being compiled is not compiled again", async () => {
    // A at 0x100: addi a1, a1, -1; bnez a1, +8 (to B). 0x108: j 0x100. B at 0x10c: addi a0, a0, 1; j 0x100.
    // A and B are each entered once per 4-instruction pass; A reaches the threshold (8) a pass before B.
    const code: [number, number][] = [
      [0x100, 0xfff58593],
      [0x104, 0x00059463],
      [0x108, 0xff9ff06f],
      [0x10c, 0x00150513],
      [0x110, 0xff1ff06f],
    ];
    const h = programHart(8, code, [], { jitSync: false });
    const jit = h.jit;
    if (jit === undefined) throw new Error("no block compiler");
    h.setX(11, 1_000_000);
    // A's 8th entry asks for it; B (entered 7 times, nearly hot) joins its region, compiled in the background.
    expect(h.run(30)).toBe(30);
    expect(jit.inFlight).toBe(1);
    // B's own 8th entry comes while that compile runs: it waits for that region, nothing new is queued.
    expect(h.run(100)).toBe(100);
    expect(jit.pending).toBe(false);
    expect(jit.inFlight).toBe(1);
    while (jit.inFlight > 0) await new Promise((r) => setTimeout(r, 1));
    expect(jit.compiled).toBe(1);
    expect(jit.compiledAt(0x100)).toBe(true);
    expect(jit.compiledAt(0x10c)).toBe(true);
    // The compiled loop computes what the interpreter would: 32 + 25 passes so far, then 1000 more.
    expect(h.run(4000)).toBe(4000);
    expect(h.getX(11)).toBe(BigInt(1_000_000 - 1000 - 33));
  });

  it("the default warm-up: 10^8 instructions without console input, 6·10^7 after the reset once input came (at once when later)", () => {
    // addi a0, a0, 1; addi a1, a1, -1; bnez a1, -4: a loop that would compile the moment counting starts.
    const code: [number, number][] = [
      [0x100, 0x00150513],
      [0x104, 0xfff58593],
      [0x108, 0xfe059ce3],
    ];
    const loop = (h: WasmHart, n: number): void => {
      h.setX(11, 1_000_000_000);
      for (let left = n; left > 0; left -= 10_000_000)
        expect(h.run(Math.min(left, 10_000_000))).toBe(Math.min(left, 10_000_000));
    };
    const quiet = programHart(true, code);
    loop(quiet, 70_000_000);
    expect(quiet.jit?.compiled).toBe(0);
    // Input long after 6·10^7: the warm-up ends at once.
    quiet.consoleInput();
    loop(quiet, 100_000);
    expect(quiet.jit?.compiled).toBeGreaterThan(0);

    const typedTo = programHart(true, code);
    typedTo.consoleInput();
    loop(typedTo, 59_000_000);
    expect(typedTo.jit?.compiled).toBe(0);
    // (run() looks at the warm-up when it starts: the run that crosses 6·10^7 still interprets.)
    loop(typedTo, 2_000_000);
    loop(typedTo, 100_000);
    expect(typedTo.jit?.compiled).toBeGreaterThan(0);

    // A warm-up given by the host is kept whatever the input.
    const fixed = programHart(true, code, [], { jitWarmup: 80_000_000 });
    fixed.consoleInput();
    loop(fixed, 70_000_000);
    expect(fixed.jit?.compiled).toBe(0);
  });

  it("guest RAM past 2 GiB: blocks compile at RAM offsets ≥ 2^31 (addresses from the core are unsigned)", () => {
    const size = 2100 * 1048576;
    const mem = GuestMemory.withExtra(RAM_BASE, size, WASM_CORE_AUX_BYTES);
    const at = 0x8300_0000; // RAM offset ≥ 2 GiB
    // addi a0, a0, 1; addi a1, a1, -1; bnez a1, -4 (a loop); then ebreak
    mem.i32[at / 4] = 0x00150513;
    mem.i32[at / 4 + 1] = 0xfff58593 | 0;
    mem.i32[at / 4 + 2] = 0xfe059ce3 | 0;
    const h = compileEveryBlock(mem);
    h.setPc(RAM_BASE + at);
    h.setX(11, 500);
    expect(h.run(1500)).toBe(1500);
    expect(h.getX(10)).toBe(500n);
    expect(h.jit?.compiled).toBeGreaterThan(0);
  });

  it("Sstc: the run loop asks the host for the time at most once per 4096 instructions, at once after stimecmp is written, and takes the timer interrupt within that", () => {
    // M-mode: menvcfg.STCE, mie.STIE, mstatus.MIE, stimecmp = a0, then a loop of CSR reads (a SYSTEM
    // instruction each: the run loop checks for interrupts after every one). The handler at +0x100 spins.
    const prog = [
      0x00100293, // addi t0, zero, 1
      0x03f29293, // slli t0, t0, 63
      0x30a29073, // csrw menvcfg, t0
      0x02000293, // addi t0, zero, 32
      0x30429073, // csrw mie, t0
      0x30046073, // csrsi mstatus, 8
      0x14d51073, // csrw stimecmp, a0
      0x34002373, // loop: csrr t1, mscratch
      0x00158593, // addi a1, a1, 1
      0xff9ff06f | 0, // j loop
    ];
    const boot = (now: { t: number; calls: number }, stimecmp: number): WasmHart => {
      const mem = GuestMemory.withExtra(RAM_BASE, 1 << 16, WASM_CORE_AUX_BYTES);
      prog.forEach((w, i) => {
        mem.i32[i] = w;
      });
      mem.i32[0x100 / 4] = 0x6f; // j .
      const time = {
        mtime: (): number => {
          now.calls++;
          return now.t;
        },
      };
      const h = new WasmHart({ hartId: 0, mem, bus: new Bus(), time, module: loadCoreModule(), jit: false });
      h.setPc(RAM_BASE);
      h.writeCsrRaw(0x305, BigInt(RAM_BASE + 0x100));
      h.setX(10, stimecmp);
      return h;
    };
    // Not due: 3000 loop iterations (3000 SYSTEM instructions) ask the host a handful of times, not 3000.
    const a = { t: 0, calls: 0 };
    const h = boot(a, 1000);
    expect(h.run(9007)).toBe(9007);
    expect(h.getX(11)).toBe(3000n);
    expect(a.calls).toBeGreaterThan(0);
    expect(a.calls).toBeLessThanOrEqual(4);
    // Time passes stimecmp with nothing written: the interrupt comes within 4096 instructions (+ one loop).
    a.t = 5000;
    const before = h.getX(11);
    h.run(6000);
    expect(h.readCsr(0x342)).toBe(0x8000_0000_0000_0005n); // mcause: supervisor timer interrupt
    expect(h.getPc()).toBe(BigInt(RAM_BASE + 0x100));
    expect(Number(h.getX(11) - before) * 3).toBeLessThanOrEqual(4096 + 3);
    // stimecmp written with a time already past: taken right after the write, not up to 4096 later.
    const b = { t: 5000, calls: 0 };
    const g = boot(b, 1000);
    g.run(100);
    expect(g.readCsr(0x342)).toBe(0x8000_0000_0000_0005n);
    expect(g.readCsr(0x341)).toBe(BigInt(RAM_BASE + 7 * 4)); // mepc: the first instruction after the write
    expect(g.getX(11)).toBe(0n);
  });

  it("says how much RAM it can hold when the memory is too large for it", () => {
    expect(wasmCoreUnsupported(new GuestMemory(RAM_BASE, 1 << 16))).toMatch(/at most 4090 MiB/);
  });

  it("a memory without room for the hart is refused with a clear error", () => {
    const mem = new GuestMemory(RAM_BASE, 1 << 16);
    expect(
      () => new WasmHart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 }, module: loadCoreModule() }),
    ).toThrow(/wasm core: .* do not fit in a WebAssembly memory/);
  });

  it("MMIO goes through the bus both ways; an unmapped address is an access fault", () => {
    const mem = GuestMemory.withExtra(RAM_BASE, 1 << 16, WASM_CORE_AUX_BYTES);
    const bus = new Bus();
    const writes: string[] = [];
    bus.map(
      0x1000_0000,
      0x100,
      {
        read: (off, size) => 0x5a + off + size,
        write: (off, size, v) => void writes.push(`${off}/${size}=${v >>> 0}`),
      },
      "dev",
    );
    // lui t0,0x10000; lw t1,4(t0); sb t1,1(t0); ld t2,8(t0); lui t3,0x20000; lw t4,0(t3) → load access fault
    const prog = [0x100002b7, 0x0042a303, 0x006280a3, 0x0082b383, 0x20000e37, 0x000e2e83];
    prog.forEach((w, i) => {
      mem.i32[i] = w;
    });
    const h = new WasmHart({ hartId: 0, mem, bus, time: { mtime: () => 0 }, module: loadCoreModule() });
    h.setPc(RAM_BASE);
    h.writeCsrRaw(0x305, BigInt(RAM_BASE + 0x100));
    h.run(6);
    expect(h.getX(6)).toBe(BigInt(0x5a + 4 + 4));
    expect(writes).toEqual([`1/1=${0x62}`]);
    expect(h.getX(7)).toBe(0x6a_0000_0066n); // read64: low word from offset 8, high from 12
    expect(h.readCsr(0x342)).toBe(5n); // mcause: load access fault
    expect(h.readCsr(0x343)).toBe(0x2000_0000n); // mtval: the address
    expect(h.getPc()).toBe(BigInt(RAM_BASE + 0x100));
  });
});
