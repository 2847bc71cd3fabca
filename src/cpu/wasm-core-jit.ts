// The block compiler of the WebAssembly core (tier 1 over the interpreter in src/cpu/as/core.ts). When the
// core has entered a block often enough it calls jitCompile(off, slot): this file decodes the guest code at RAM
// offset `off` — straight on through conditional branches not taken and jumps within the page, up to an
// indirect jump, an instruction it leaves to the interpreter (SYSTEM, FENCE.I, floating-point arithmetic), the end
// of the 4 KiB page, another block of the region or MAX_INSNS — together with the blocks of the same page it
// continues at that are nearly hot too, and emits the lot as one WebAssembly function (a region) that imports
// the core's memory, slow paths and globals. The function goes into the core's table; the core calls it with
// call_indirect, naming the block to start at. A region left normally goes on into the next one itself when the
// core's chain cache has compiled code for the next pc (a tail call: return_call_indirect), and returns the
// budget left to the core when the chain ends.
//
// Inside a region control passes from block to block without returning to the core (72% of the transitions
// between compiled blocks in the CPU workload stayed in their page). Inside a block the guest registers live
// in wasm locals: loaded when it is entered, written back when it is left; a block branching back to its own
// start is a wasm loop that keeps them there (budget checked per pass). Loads and stores check the core's TLB
// inline and call the core on a miss; a trap there leaves with the registers of the instructions before it
// written back, pc naming the faulting instruction and the count of those retired (precise traps, exact
// instret). Regions never cross a page and are keyed by RAM offset, and everything that depends on the
// virtual pc is computed from the pc the region is entered with, so a region is valid for any mapping of its
// page and any privilege; pages holding compiled code are write-watched (stores there take the core's slow
// path, which calls codeWritten; device DMA is watched by the host), so stale code never runs.

/** Instructions per block at most. */
export const MAX_INSNS = 96;
/**
 * Blocks entered this many times get compiled. First chosen without a warm-up (2-core machine, the committed
 * image, in-process): at 64-2000 Linux's boot got slower than interpreting (thousands of blocks compiled, the
 * background compiles competing with the guest for the cores), at 8000 boot was on par. Since the warm-up
 * (DEFAULT_CORE_JIT_WARMUP) keeps the boot interpreted, measured again on what runs after it: a quarter of the
 * CPU workload typed at the prompt (582 M instructions), host instructions of the whole process under
 * callgrind with a clock driven by the retired count (so the same guest work whatever the host's speed; the
 * background compiles included): 25.4 G at 8000, 24.6 G at 4000, 24.0 G at 2000, 25.6 G at 1000. At 8000 the
 * full workload interpreted 77 M of its 2.33 G instructions, blocks counting up to the threshold; at 2000, 31 M.
 * But the gzip-initramfs boot (82 M instructions, its last 22 M past the warm-up) compiled 76 regions at 2000
 * where it compiled 14 at 8000 and 24 at 4000, and took 575 ms in-process instead of 500 (JIT on 0.69 s, off
 * 0.64 s from spawn, 8 interleaved runs): 4000 keeps that boot where 8000 had it (495 ms) with half the gain.
 */
export const DEFAULT_CORE_JIT_THRESHOLD = 4000;

/**
 * Instructions after every reset before the block compiler counts or compiles anything (the core's
 * setJitWarmup) when no console input comes (see DEFAULT_CORE_JIT_INPUT_WARMUP). It was 6·10^7, about what the
 * committed image runs from reset to its shell (56 M). That code mostly
 * runs a few times, and compiling what got hot in it did not pay from spawn: npm run bench at 17:23 had the JIT
 * on at 1.10 s vs --jit off 0.87 s to power-off (median of 3), and 15 interleaved runs 0.76 s vs 0.70 s to the
 * banner, though the guest thread ran 9% fewer host instructions (callgrind, a clock driven by instret): the
 * compiles took the other core (+0.15 s of CPU) and counting every block entry touched the block cache's 3 MB.
 * Longer, and a command typed right after the boot pays for it: with 10^8 the bench's CPU workload (2.4 G
 * instructions, the first 44 M of them interpreted) took 2.1× QEMU's time (18:01), and Debian's stock kernel
 * (1.28 G instructions to the banner, in-process, median of 3) 3.79 s instead of 3.44 s.
 */
export const DEFAULT_CORE_JIT_WARMUP = 100_000_000;

/**
 * ...but console input (a person typing, --exec, the page's terminal) ends it this many instructions after the
 * reset, or at once when that is past: DEFAULT_CORE_JIT_WARMUP was 6·10^7 for everything until a boot with no
 * input that ends soon after showed the cost. The gzip-initramfs boot (82 M instructions, no input, power-off at
 * the end) compiled 24 regions in its last 22 M instructions that never paid back: JIT on 0.65 s against --jit off
 * 0.63 s from spawn (median of 12 interleaved, quiet), 1.3× in a noisier bench run (1.13 s vs 0.85 s), the
 * background compiles taking the second core. A boot that runs long without input (Debian's stock kernel, 1.3 G
 * instructions to the banner) starts compiling at 10^8; what a person runs starts at 6·10^7 as before.
 */
export const DEFAULT_CORE_JIT_INPUT_WARMUP = 60_000_000;

const PC_OFF = 512;
/** The core's chain cache (src/cpu/as/core.ts JC_OFF, JC_BITS): 32-byte entries of pc, key and slot value. */
const JC_OFF = 0xc0000;
const JC_MASK = (1 << 12) - 1;

/** What the compiler needs from the core instance and the host. */
export interface CoreJitEnv {
  memory: WebAssembly.Memory;
  table: WebAssembly.Table;
  /** Byte address of the hart's region (= RAM size). */
  base: number;
  ramSize: number;
  /** 64 K-entry RVC expansion table, the core's (src/cpu/as/rvc.ts builds it at init). */
  rvc: Int32Array;
  /** The core's exports the blocks import. */
  core: {
    jitLoad: (...a: never[]) => unknown;
    jitStore: (...a: never[]) => unknown;
    jitMulh: (...a: never[]) => unknown;
    jitDiv: (...a: never[]) => unknown;
    jitDivw: (...a: never[]) => unknown;
    jitAmo: (...a: never[]) => unknown;
    jitFpMem: (...a: never[]) => unknown;
    trapCause: WebAssembly.Global;
    jitExit: WebAssembly.Global;
    /** The chain cache's validity key (u64; see src/cpu/as/core.ts jcKey). */
    jcKey: WebAssembly.Global;
    rTlb: WebAssembly.Global;
    wTlb: WebAssembly.Global;
    unmapStorePage(page: number): void;
    /** Forgets the core's chain cache (compiled code by virtual pc): after any region is dropped. */
    jcInvalidate(): void;
    jitTagAddress(): number;
    jitCountAddress(): number;
    jitFnAddress(): number;
    codePagesAddress(): number;
  };
}

// ---- a small WebAssembly binary writer ------------------------------------------------------------------

class W {
  /** The bytes so far: b[0, n). A typed array and fixed-arity op() (no rest parameters, no array pushes): the
   * emitter runs in V8's interpreter until it is hot, which made the first big region cost ~48 ms of the guest's
   * thread. */
  b: Uint8Array<ArrayBuffer>;
  n = 0;
  constructor(capacity = 64) {
    this.b = new Uint8Array(capacity);
  }
  private grow(k: number): void {
    const nb = new Uint8Array(Math.max(this.b.length * 2, this.n + k));
    nb.set(this.b.subarray(0, this.n));
    this.b = nb;
  }
  private put(x: number): void {
    if (this.n === this.b.length) this.grow(1);
    this.b[this.n++] = x;
  }
  /** Up to six single bytes (opcodes, value types, immediates that are one LEB128 byte); -1 stands for "none". */
  op(a: number, b = -1, c = -1, d = -1, e = -1, f = -1): this {
    if (this.n + 6 > this.b.length) this.grow(6);
    const buf = this.b;
    buf[this.n++] = a;
    if (b >= 0) {
      buf[this.n++] = b;
      if (c >= 0) {
        buf[this.n++] = c;
        if (d >= 0) {
          buf[this.n++] = d;
          if (e >= 0) {
            buf[this.n++] = e;
            if (f >= 0) buf[this.n++] = f;
          }
        }
      }
    }
    return this;
  }
  /** Any number of bytes. */
  raw(v: readonly number[]): this {
    for (const x of v) this.put(x);
    return this;
  }
  u(v: number): this {
    let x = v >>> 0;
    do {
      let byte = x & 0x7f;
      x >>>= 7;
      if (x !== 0) byte |= 0x80;
      this.put(byte);
    } while (x !== 0);
    return this;
  }
  /** Signed LEB128 of an i64 constant that fits in 32 bits (every one the compiler emits does). */
  s64(v: number): this {
    if (v !== (v | 0)) throw new RangeError(`i64 constant ${v} outside int32`);
    return this.s32(v);
  }
  /** Signed LEB128 of an int32. */
  s32(v: number): this {
    let x = v | 0;
    for (;;) {
      const byte = x & 0x7f;
      x >>= 7;
      const done = (x === 0 && (byte & 0x40) === 0) || (x === -1 && (byte & 0x40) !== 0);
      this.put(done ? byte : byte | 0x80);
      if (done) return this;
    }
  }
  str(s: string): this {
    this.u(s.length);
    for (let i = 0; i < s.length; i++) this.put(s.charCodeAt(i));
    return this;
  }
  vec(w: W): this {
    this.u(w.n);
    if (this.n + w.n > this.b.length) this.grow(w.n);
    this.b.set(w.b.subarray(0, w.n), this.n);
    this.n += w.n;
    return this;
  }
  section(id: number, body: W): this {
    this.put(id);
    return this.vec(body);
  }
  /** A copy of the bytes. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.b.slice(0, this.n);
  }
}

const I32 = 0x7f;
const I64 = 0x7e;
const VOID = 0x40;
// opcodes
const BLOCK = 0x02;
const LOOP = 0x03;
const IF = 0x04;
const ELSE = 0x05;
const END = 0x0b;
const BR = 0x0c;
const BR_TABLE = 0x0e;
const RETURN = 0x0f;
const CALL = 0x10;
const DROP = 0x1a;
const LGET = 0x20;
const LSET = 0x21;
const GGET = 0x23;
const I32LOAD = 0x28;
const I64LOAD = 0x29;
const I64STORE = 0x37;
const I32CONST = 0x41;
const I64CONST = 0x42;
const I32GES = 0x4e;
const I32LTS = 0x48;
const I32GTS = 0x4a;
const I64EQ = 0x51;
const I32ADD = 0x6a;
const I32SUB = 0x6b;
const I32EQZ = 0x45;
const I32SHRU = 0x76;
const RETURN_CALL_INDIRECT = 0x13;
const I32AND = 0x71;
const I32SHL = 0x74;
const I64ADD = 0x7c;
const I64AND = 0x83;
const I64SHRU = 0x88;
const WRAP = 0xa7;
const EXTS = 0xac;
const EXTU = 0xad;

// imports: functions 0..6, globals 0..3
const F_LOAD = 0;
const F_STORE = 1;
const F_MULH = 2;
const F_DIV = 3;
const F_DIVW = 4;
const F_AMO = 5;
const F_FPMEM = 6;
const IMPORTED_FUNCS = 7;
const G_TRAP = 0;
const G_EXIT = 1;
const G_RTLB = 2;
const G_WTLB = 3;
const G_JCKEY = 4;

// locals: params pc (i64) 0, rem (i32) 1, blk (i32) 2; then n (i32), next (i64), va (i64), e (i32), rT (i32),
// wT (i32), pb (i64: the page's virtual address), x1..x31, tgt (i32: the block to go on at, -1 to leave)
const L_PC = 0;
const L_REM = 1;
const L_BLK = 2;
const L_N = 3;
const L_NEXT = 4;
const L_VA = 5;
const L_E = 6;
const L_RT = 7;
const L_WT = 8;
const L_PB = 9;
const L_X = 9; // x[r] is local L_X + r (r ≥ 1)
const L_TGT = 41;

interface Insn {
  insn: number;
  /** As fetched: the 16-bit parcel of a compressed instruction (the tval of an illegal-instruction trap). */
  raw: number;
  /** Offset of the instruction from the block's entry pc. */
  at: number;
  len: number;
}

/** Whether the compiler takes this (expanded) instruction; anything else ends the block before it. */
function compilable(insn: number): boolean {
  const f3 = (insn >>> 12) & 7;
  const f7 = insn >>> 25;
  switch (insn & 0x7f) {
    case 0x13:
      if (f3 === 1) return insn >>> 26 === 0;
      if (f3 === 5) return insn >>> 26 === 0 || insn >>> 26 === 0x10;
      return true;
    case 0x33:
      return f7 === 0 || f7 === 1 || (f7 === 0x20 && (f3 === 0 || f3 === 5));
    case 0x1b:
      return f3 === 0 || (f3 === 1 && f7 === 0) || (f3 === 5 && (f7 === 0 || f7 === 0x20));
    case 0x3b:
      if (f7 === 0) return f3 === 0 || f3 === 1 || f3 === 5;
      if (f7 === 0x20) return f3 === 0 || f3 === 5;
      if (f7 === 1) return f3 === 0 || f3 >= 4;
      return false;
    case 0x37:
    case 0x17:
    case 0x6f:
      return true;
    case 0x67:
      return f3 === 0;
    case 0x03:
      return f3 !== 7;
    case 0x23:
      return f3 < 4;
    case 0x63:
      return f3 !== 2 && f3 !== 3;
    case 0x0f:
      // FENCE (not FENCE.I): nothing to order on one hart.
      return f3 === 0;
    case 0x2f:
      // AMOs, LR, SC (the core's jitAmo; it raises illegal for the encodings that are)
      return f3 === 2 || f3 === 3;
    case 0x07:
    case 0x27:
      // FLW/FLD/FSW/FSD (the core's jitFpMem)
      return f3 === 2 || f3 === 3;
    default:
      return false;
  }
}

function branchImm(insn: number): number {
  return ((insn >> 19) & ~0xfff) | ((insn << 4) & 0x800) | ((insn >>> 20) & 0x7e0) | ((insn >>> 7) & 0x1e);
}

function jalImm(insn: number): number {
  return ((insn >> 11) & ~0xfffff) | (insn & 0xff000) | ((insn >>> 9) & 0x800) | ((insn >>> 20) & 0x7fe);
}

/**
 * Decodes the block at RAM offset `off`. It ends at a branch or jump back to its start (a loop), and before any
 * RAM offset in `stops` (the other blocks of a region, so no code is compiled twice).
 */
export function decodeBlock(u16: Uint16Array, rvc: Int32Array, off: number, stops?: Set<number>): Insn[] {
  const pageEnd = ((off | 4095) >>> 0) + 1;
  const insns: Insn[] = [];
  const seen = new Set<number>();
  let o = off;
  while (insns.length < MAX_INSNS && o + 2 <= pageEnd) {
    if (stops?.has(o) && o !== off) break;
    const lo = u16[o >>> 1];
    let insn: number;
    let len: number;
    if ((lo & 3) === 3) {
      if (o + 4 > pageEnd) break;
      insn = lo | (u16[(o + 2) >>> 1] << 16) | 0;
      len = 4;
    } else {
      insn = rvc[lo];
      len = 2;
      if (insn === 0) break;
    }
    if (!compilable(insn)) break;
    const at = o - off;
    insns.push({ insn, raw: len === 2 ? lo : insn, at, len });
    seen.add(at);
    o += len;
    const op = insn & 0x7f;
    if (op === 0x67) break;
    if (op === 0x6f) {
      // A direct jump: the block goes on at its target when that is in the same page and not decoded yet
      // (calls and the jumps around if/else stay inside one block); back to the entry it is a loop.
      const target = at + jalImm(insn);
      if (target === 0) break;
      const t = off + target;
      if (t >>> 12 !== off >>> 12 || target < -off || seen.has(target)) break;
      o = t;
      continue;
    }
    if (op === 0x63 && at + branchImm(insn) === 0) break;
  }
  return insns;
}

/** The immediate of a store (S-type). */
function storeImm(insn: number): number {
  return ((insn >> 20) & ~31) | ((insn >>> 7) & 31);
}

/** Whether an (expanded, compilable) instruction writes x[rd] (rd may still be x0). */
function writesX(op: number): boolean {
  return op !== 0x23 && op !== 0x63 && op !== 0x07 && op !== 0x27 && op !== 0x0f;
}
/** Whether it reads x[rs1]. */
function readsRs1(op: number): boolean {
  return op !== 0x37 && op !== 0x17 && op !== 0x6f && op !== 0x0f;
}
/** Whether it reads x[rs2] (FSW/FSD's rs2 is an f register). */
function readsRs2(op: number): boolean {
  return op === 0x33 || op === 0x3b || op === 0x23 || op === 0x63 || op === 0x2f;
}
/** Whether the block may be left at it (a branch taken, a trap, a store into compiled code). */
function mayLeave(op: number): boolean {
  return op === 0x63 || op === 0x03 || op === 0x23 || op === 0x07 || op === 0x27 || op === 0x2f;
}

/** One block of a region: where it starts in its page and its instructions. */
export interface RegionBlock {
  /** Offset of its first instruction in the page. */
  start: number;
  insns: Insn[];
}

/** In-page targets a block may continue at: taken branches, and the instruction after it or its jump target. */
export function blockSuccessors(b: RegionBlock): number[] {
  const out: number[] = [];
  const n = b.insns.length;
  b.insns.forEach(({ insn, at, len }, k) => {
    const op = insn & 0x7f;
    if (op === 0x63) out.push(b.start + at + branchImm(insn));
    if (k === n - 1) {
      if (op === 0x6f) out.push(b.start + at + jalImm(insn));
      else if (op !== 0x67) out.push(b.start + at + len);
    }
  });
  return out.filter((t) => t >= 0 && t < 4096);
}

/**
 * Emits a region's function body (locals + code): the blocks of one page, entered at block `blk`. Control
 * passes from block to block inside the function (a `br_table` dispatch) while the target is one of the
 * region's blocks and the budget has room for all of it. Inside a block the guest registers live in locals:
 * loaded when the block is entered, written back when it is left; a block's jump to its own start is a plain
 * wasm loop that keeps them in the locals.
 */
export function emitRegion(blocks: RegionBlock[], base: number, chain = TAIL_CALLS): W {
  const K = blocks.length;
  const indexOf = new Map<number, number>();
  let maxL = 0;
  blocks.forEach((b, j) => {
    indexOf.set(b.start, j);
    maxL = Math.max(maxL, b.insns.length);
  });

  const c = new W(16384);
  // locals: n i32, next i64, va i64, e i32, rT i32, wT i32, pb i64, x1..x31 i64, tgt i32
  c.u(7).u(1).op(I32).u(2).op(I64).u(1).op(I32).u(2).op(I32).u(1).op(I64).u(31).op(I64).u(1).op(I32);
  // Not enough budget left for the longest block: let the interpreter go on.
  c.op(LGET).u(L_REM).op(I32CONST).s32(maxL).op(I32LTS, IF, VOID, LGET).u(L_REM).op(RETURN, END);
  c.op(GGET).u(G_RTLB).op(LSET).u(L_RT);
  c.op(GGET).u(G_WTLB).op(LSET).u(L_WT);
  c.op(LGET).u(L_PC).op(I64CONST).s64(-4096).op(I64AND).op(LSET).u(L_PB);

  c.op(BLOCK, VOID); // $exit
  c.op(LOOP, VOID); // $disp
  for (let j = 0; j < K; j++) c.op(BLOCK, VOID); // $b(K-1) … $b0
  c.op(LGET)
    .u(L_BLK)
    .op(BR_TABLE)
    .u(K - 1);
  for (let j = 0; j < K - 1; j++) c.u(j);
  c.u(K - 1);

  for (let i = 0; i < K; i++) {
    c.op(END); // $b(i): block i's code follows
    const { start, insns } = blocks[i];
    const L = insns.length;
    // Registers the block writes (written back when it is left) and those it loads when entered: the ones read
    // before the block writes them, and the written ones not yet written where it may be left (a branch, a
    // load or store that may trap), which must then still hold their value from the entry.
    const dirty = new Set<number>();
    for (const { insn } of insns) {
      const rd = (insn >>> 7) & 31;
      if (writesX(insn & 0x7f) && rd !== 0) dirty.add(rd);
    }
    const used = new Set<number>();
    const written = new Set<number>();
    for (const { insn } of insns) {
      const op = insn & 0x7f;
      const rs1 = (insn >>> 15) & 31;
      const rs2 = (insn >>> 20) & 31;
      const rd = (insn >>> 7) & 31;
      if (readsRs1(op) && !written.has(rs1)) used.add(rs1);
      if (readsRs2(op) && !written.has(rs2)) used.add(rs2);
      if (mayLeave(op)) for (const r of dirty) if (!written.has(r)) used.add(r);
      if (writesX(op) && rd !== 0) written.add(rd);
    }
    used.delete(0);

    c.op(BLOCK, VOID); // $out
    for (const r of used)
      c.op(I32CONST)
        .s32(0)
        .op(I64LOAD)
        .u(3)
        .u(base + r * 8)
        .op(LSET)
        .u(L_X + r);
    c.op(LOOP, VOID); // $self
    // Nesting below $self inside block i's code.
    let depth = 0;
    const toSelf = (): number => depth;
    const toOut = (): number => depth + 1;
    const getX = (r: number): void => {
      if (r === 0) c.op(I64CONST).s64(0);
      else c.op(LGET).u(L_X + r);
    };
    const setX = (r: number): void => {
      if (r === 0) c.op(DROP);
      else c.op(LSET).u(L_X + r);
    };
    /** The virtual address of the page offset start + delta. */
    const pcPlus = (delta: number): void => {
      c.op(LGET)
        .u(L_PB)
        .op(I64CONST)
        .s64(start + delta)
        .op(I64ADD);
    };
    /** Leaves the region with `count` more instructions of this block retired and the next pc from emitPc. */
    const exit = (count: number, emitPc: () => void): void => {
      emitPc();
      c.op(LSET).u(L_NEXT);
      c.op(LGET).u(L_N).op(I32CONST).s32(count).op(I32ADD).op(LSET).u(L_N);
      c.op(I32CONST).s32(-1).op(LSET).u(L_TGT);
      c.op(BR).u(toOut());
    };
    /**
     * Goes on at page offset `target` with `count` more retired: in the region when it has a block there and
     * the budget has room for all of it, else leaves.
     */
    const goTo = (count: number, target: number): void => {
      const j = indexOf.get(target);
      if (j === undefined) {
        exit(count, () => pcPlus(target - start));
        return;
      }
      c.op(LGET).u(L_N).op(I32CONST).s32(count).op(I32ADD).op(LSET).u(L_N);
      c.op(LGET).u(L_PB).op(I64CONST).s64(target).op(I64ADD).op(LSET).u(L_NEXT);
      c.op(LGET).u(L_N).op(I32CONST).s32(blocks[j].insns.length).op(I32ADD).op(LGET).u(L_REM).op(I32GTS);
      if (j === i) {
        // Another pass with the registers still in the locals, unless the budget is spent.
        c.op(IF, VOID);
        depth++;
        c.op(I32CONST).s32(-1).op(LSET).u(L_TGT);
        c.op(BR).u(toOut());
        c.op(END);
        depth--;
        c.op(BR).u(toSelf());
      } else {
        c.op(IF, I32, I32CONST).s32(-1).op(ELSE, I32CONST).s32(j).op(END, LSET).u(L_TGT);
        c.op(BR).u(toOut());
      }
    };
    /**
     * After a slow path that may set jitExit: on a trap leave before the instruction at k (it did not retire);
     * on a store into compiled code or a stop, retire it (`retire` finishes it, e.g. writes rd) and leave after.
     */
    const leaveOnExit = (k: number, at: number, len: number, retire?: () => void): void => {
      c.op(GGET).u(G_EXIT).op(IF, VOID);
      depth++;
      c.op(GGET).u(G_TRAP).op(I32CONST).s32(0).op(I32GES).op(IF, VOID);
      depth++;
      exit(k, () => pcPlus(at));
      c.op(END);
      depth--;
      retire?.();
      exit(k + 1, () => pcPlus(at + len));
      c.op(END);
      depth--;
    };
    /** After a slow path: leave when it trapped (the instruction at k did not retire). */
    const trapExit = (k: number, at: number): void => {
      c.op(GGET).u(G_TRAP).op(I32CONST).s32(0).op(I32GES).op(IF, VOID);
      depth++;
      exit(k, () => pcPlus(at));
      c.op(END);
      depth--;
    };
    /** TLB entry address for va (in L_VA) from the set in local `tlb` into L_E. */
    const tlbEntry = (tlb: number): void => {
      c.op(LGET).u(tlb);
      c.op(LGET).u(L_VA).op(I64CONST).s64(12).op(I64SHRU).op(WRAP).op(I32CONST).s32(2047).op(I32AND);
      c.op(I32CONST).s32(4).op(I32SHL).op(I32ADD).op(LSET).u(L_E);
    };
    /** i32 on the stack: whether va hits the entry, aligned for `size`. */
    const tlbHit = (size: number): void => {
      c.op(LGET)
        .u(L_VA)
        .op(I64CONST)
        .s64(-4096 | (size - 1))
        .op(I64AND);
      c.op(LGET).u(L_E).op(I64LOAD).u(3).u(0).op(I64EQ);
    };
    /** The memory address of va through the entry (i32 on the stack). */
    const hostAddr = (): void => {
      c.op(LGET).u(L_VA).op(WRAP).op(LGET).u(L_E).op(I32LOAD).u(2).u(8).op(I32ADD);
    };

    for (let k = 0; k < L; k++) {
      const { insn, raw, at, len } = insns[k];
      const op = insn & 0x7f;
      const rd = (insn >>> 7) & 31;
      const rs1 = (insn >>> 15) & 31;
      const rs2 = (insn >>> 20) & 31;
      const f3 = (insn >>> 12) & 7;
      const f7 = insn >>> 25;
      const immI = insn >> 20;
      const last = k === L - 1;
      switch (op) {
        case 0x13: {
          // OP-IMM
          getX(rs1);
          const sh = (insn >>> 20) & 63;
          switch (f3) {
            case 0:
              c.op(I64CONST).s64(immI).op(I64ADD);
              break;
            case 1:
              c.op(I64CONST).s64(sh).op(0x86);
              break;
            case 2:
              c.op(I64CONST).s64(immI).op(0x53, EXTU);
              break;
            case 3:
              c.op(I64CONST).s64(immI).op(0x54, EXTU);
              break;
            case 4:
              c.op(I64CONST).s64(immI).op(0x85);
              break;
            case 5:
              c.op(I64CONST)
                .s64(sh)
                .op(insn >>> 26 === 0 ? I64SHRU : 0x87);
              break;
            case 6:
              c.op(I64CONST).s64(immI).op(0x84);
              break;
            default:
              c.op(I64CONST).s64(immI).op(I64AND);
          }
          setX(rd);
          break;
        }
        case 0x33: {
          // OP (RV64I + M)
          if (f7 === 1 && f3 >= 1) {
            getX(rs1);
            getX(rs2);
            c.op(I32CONST)
              .s32(f3)
              .op(CALL)
              .u(f3 < 4 ? F_MULH : F_DIV);
            setX(rd);
            break;
          }
          getX(rs1);
          getX(rs2);
          if (f7 === 1) c.op(0x7e);
          else if (f7 === 0x20) c.op(f3 === 0 ? 0x7d : 0x87);
          else c.op([I64ADD, 0x86, 0x53, 0x54, 0x85, I64SHRU, 0x84, I64AND][f3]);
          if (f7 === 0 && (f3 === 2 || f3 === 3)) c.op(EXTU);
          setX(rd);
          break;
        }
        case 0x1b: {
          // OP-IMM-32
          getX(rs1);
          c.op(WRAP);
          if (f3 === 0)
            c.op(I32CONST)
              .s32(insn >> 20)
              .op(I32ADD);
          else
            c.op(I32CONST)
              .s32((insn >>> 20) & 31)
              .op(f3 === 1 ? I32SHL : f7 === 0 ? 0x76 : 0x75);
          c.op(EXTS);
          setX(rd);
          break;
        }
        case 0x3b: {
          // OP-32 (RV64I + M)
          if (f7 === 1 && f3 >= 4) {
            getX(rs1);
            getX(rs2);
            c.op(I32CONST).s32(f3).op(CALL).u(F_DIVW);
            setX(rd);
            break;
          }
          getX(rs1);
          c.op(WRAP);
          getX(rs2);
          c.op(WRAP);
          if (f7 === 1) c.op(0x6c);
          else if (f7 === 0x20) c.op(f3 === 0 ? 0x6b : 0x75);
          else c.op(f3 === 0 ? I32ADD : f3 === 1 ? I32SHL : 0x76);
          c.op(EXTS);
          setX(rd);
          break;
        }
        case 0x37:
          c.op(I64CONST).s64(insn & 0xfffff000);
          setX(rd);
          break;
        case 0x17:
          // pc + at, then the immediate: together they may leave the int32 range of the constants.
          pcPlus(at);
          c.op(I64CONST)
            .s64(insn & 0xfffff000)
            .op(I64ADD);
          setX(rd);
          break;
        case 0x6f:
          // JAL: the link; then the block goes on at the target (decodeBlock followed it) or ends here.
          pcPlus(at + len);
          setX(rd);
          if (last) goTo(k + 1, start + at + jalImm(insn));
          break;
        case 0x67:
          // JALR: the target from rs1 before rd is written (rd may be rs1).
          getX(rs1);
          c.op(I64CONST).s64(immI).op(I64ADD).op(I64CONST).s64(-2).op(I64AND).op(LSET).u(L_NEXT);
          pcPlus(at + len);
          setX(rd);
          c.op(LGET)
            .u(L_N)
            .op(I32CONST)
            .s32(k + 1)
            .op(I32ADD)
            .op(LSET)
            .u(L_N);
          c.op(I32CONST).s32(-1).op(LSET).u(L_TGT);
          c.op(BR).u(toOut());
          break;
        case 0x63: {
          // Branch: taken, it goes on at its target (in the region or out of it).
          getX(rs1);
          getX(rs2);
          c.op([I64EQ, 0x52, 0, 0, 0x53, 0x59, 0x54, 0x5a][f3]);
          c.op(IF, VOID);
          depth++;
          goTo(k + 1, start + at + branchImm(insn));
          c.op(END);
          depth--;
          break;
        }
        case 0x03: {
          // Loads
          const size = 1 << (f3 & 3);
          getX(rs1);
          c.op(I64CONST).s64(immI).op(I64ADD).op(LSET).u(L_VA);
          tlbEntry(L_RT);
          tlbHit(size);
          c.op(IF, I64);
          depth++;
          hostAddr();
          c.op([0x30, 0x32, 0x34, I64LOAD, 0x31, 0x33, 0x35][f3])
            .u(f3 & 3)
            .u(0);
          c.op(ELSE);
          c.op(LGET).u(L_VA).op(I32CONST).s32(size).op(CALL).u(F_LOAD);
          if (f3 === 0) c.op(0xc2);
          else if (f3 === 1) c.op(0xc3);
          else if (f3 === 2) c.op(0xc4);
          trapExit(k, at);
          c.op(END);
          depth--;
          setX(rd);
          break;
        }
        case 0x23: {
          // Stores
          const size = 1 << f3;
          getX(rs1);
          c.op(I64CONST).s64(storeImm(insn)).op(I64ADD).op(LSET).u(L_VA);
          tlbEntry(L_WT);
          tlbHit(size);
          c.op(IF, VOID);
          depth++;
          hostAddr();
          getX(rs2);
          c.op([0x3c, 0x3d, 0x3e, I64STORE][f3]).u(f3).u(0);
          c.op(ELSE);
          c.op(LGET).u(L_VA).op(I32CONST).s32(size);
          getX(rs2);
          c.op(CALL).u(F_STORE);
          // A trap (the store did not happen), a store into compiled code or a stop: leave.
          leaveOnExit(k, at, len);
          c.op(END);
          depth--;
          break;
        }
        case 0x0f:
          // FENCE: nothing to do.
          break;
        case 0x2f: {
          // AMO / LR / SC through the core. A trap leaves rd as it was; a store into compiled code (or a stop)
          // retires the instruction and leaves after it.
          c.op(I32CONST).s32(insn);
          getX(rs1);
          getX(rs2);
          c.op(CALL).u(F_AMO).op(LSET).u(L_VA);
          leaveOnExit(k, at, len, () => {
            c.op(LGET).u(L_VA);
            setX(rd);
          });
          c.op(LGET).u(L_VA);
          setX(rd);
          break;
        }
        case 0x07:
        case 0x27: {
          // FLW/FLD/FSW/FSD through the core (the f registers stay in its memory).
          const imm = op === 0x07 ? immI : storeImm(insn);
          c.op(I32CONST).s32(insn).op(I32CONST).s32(raw);
          getX(rs1);
          c.op(I64CONST).s64(imm).op(I64ADD);
          c.op(CALL).u(F_FPMEM);
          leaveOnExit(k, at, len);
          break;
        }
        default:
          throw new Error(`wasm-core-jit: unexpected opcode ${op}`);
      }
    }
    // Fell off the end: the next instruction.
    const endOp = insns[L - 1].insn & 0x7f;
    if (endOp !== 0x6f && endOp !== 0x67) {
      const { at, len } = insns[L - 1];
      goTo(L, start + at + len);
    }
    c.op(END); // $self
    c.op(END); // $out
    for (const r of dirty)
      c.op(I32CONST)
        .s32(0)
        .op(LGET)
        .u(L_X + r)
        .op(I64STORE)
        .u(3)
        .u(base + r * 8);
    // On at another block of the region, or out of it.
    c.op(LGET).u(L_TGT).op(I32CONST).s32(0).op(I32GES, IF, VOID);
    c.op(LGET)
      .u(L_TGT)
      .op(LSET)
      .u(L_BLK)
      .op(BR)
      .u(1 + (K - 1 - i));
    c.op(END);
    c.op(BR).u(K - i);
  }
  c.op(END); // $disp
  c.op(END); // $exit
  c.op(I32CONST)
    .s32(0)
    .op(LGET)
    .u(L_NEXT)
    .op(I64STORE)
    .u(3)
    .u(base + PC_OFF);
  c.op(LGET).u(L_REM).op(LGET).u(L_N).op(I32SUB).op(LSET).u(L_REM);
  // Left normally (no trap, no store into compiled code, no stop): when the core's chain cache has compiled
  // code for the next pc, go on there (a tail call) instead of returning to the core's run loop.
  if (chain) {
    c.op(GGET).u(G_TRAP).op(I32CONST).s32(0).op(I32LTS).op(GGET).u(G_EXIT).op(I32EQZ).op(I32AND).op(IF, VOID);
    c.op(LGET).u(L_NEXT).op(WRAP).op(I32CONST).s32(1).op(I32SHRU).op(I32CONST).s32(JC_MASK).op(I32AND);
    c.op(I32CONST).s32(5).op(I32SHL).op(LSET).u(L_E);
    c.op(LGET)
      .u(L_E)
      .op(I64LOAD)
      .u(3)
      .u(base + JC_OFF)
      .op(LGET)
      .u(L_NEXT)
      .op(I64EQ);
    c.op(LGET)
      .u(L_E)
      .op(I64LOAD)
      .u(3)
      .u(base + JC_OFF + 8)
      .op(GGET)
      .u(G_JCKEY)
      .op(I64EQ)
      .op(I32AND);
    c.op(IF, VOID);
    c.op(LGET)
      .u(L_E)
      .op(I32LOAD)
      .u(2)
      .u(base + JC_OFF + 16)
      .op(LSET)
      .u(L_TGT);
    c.op(LGET).u(L_NEXT).op(LGET).u(L_REM);
    c.op(LGET).u(L_TGT).op(I32CONST).s32(INDEX_BITS).op(I32SHRU);
    c.op(LGET)
      .u(L_TGT)
      .op(I32CONST)
      .s32((1 << INDEX_BITS) - 1)
      .op(I32AND);
    c.op(RETURN_CALL_INDIRECT).u(0).u(0);
    c.op(END);
    c.op(END);
  }
  c.op(LGET).u(L_REM);
  c.op(END);
  return c;
}

/**
 * Whether this host's WebAssembly has tail calls (Node 20, Chromium ≥ 112, Firefox ≥ 121): a module with one
 * return_call_indirect validates. Without them regions return to the core's run loop at every exit.
 */
export const TAIL_CALLS: boolean =
  typeof WebAssembly !== "undefined" && // (a host without it is told so by the CLI, which imports this module)
  WebAssembly.validate(
    new Uint8Array(
      new W()
        .raw([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]) // header
        .op(1, 4, 1, 0x60, 0, 0) // type 0: () → ()
        .op(3, 2, 1, 0) // one function of type 0
        .op(4, 4, 1, 0x70, 0, 1) // a table of one funcref
        .raw([10, 9, 1, 7, 0, I32CONST, 0, RETURN_CALL_INDIRECT, 0, 0, END])
        .bytes(), // its body
    ),
  );

/** A whole module around block functions (exported as "b0", "b1", …). */
export function blockModule(bodies: W[]): Uint8Array<ArrayBuffer> {
  const m = new W(bodies.reduce((n, b) => n + b.n + 5, 512)).raw([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const types = new W().u(6);
  types.op(0x60).u(3).op(I64, I32, I32).u(1).op(I32); // 0: region (pc, rem, blk) → rem left
  types.op(0x60).u(2).op(I64, I32).u(1).op(I64); // 1: jitLoad
  types.op(0x60).u(3).op(I64, I32, I64).u(0); // 2: jitStore
  types.op(0x60).u(3).op(I64, I64, I32).u(1).op(I64); // 3: mulh/div/divw
  types.op(0x60).u(3).op(I32, I64, I64).u(1).op(I64); // 4: jitAmo
  types.op(0x60).u(3).op(I32, I32, I64).u(0); // 5: jitFpMem
  m.section(1, types);
  const imp = new W().u(14);
  imp.str("env").str("memory").op(0x02, 0x00).u(0);
  imp.str("env").str("table").op(0x01, 0x70, 0x00).u(0);
  imp.str("env").str("jitLoad").op(0x00).u(1);
  imp.str("env").str("jitStore").op(0x00).u(2);
  imp.str("env").str("jitMulh").op(0x00).u(3);
  imp.str("env").str("jitDiv").op(0x00).u(3);
  imp.str("env").str("jitDivw").op(0x00).u(3);
  imp.str("env").str("jitAmo").op(0x00).u(4);
  imp.str("env").str("jitFpMem").op(0x00).u(5);
  for (const g of ["trapCause", "jitExit", "rTlb", "wTlb"]) imp.str("env").str(g).op(0x03, I32, 0x01);
  imp.str("env").str("jcKey").op(0x03, I64, 0x01);
  m.section(2, imp);
  const funcs = new W().u(bodies.length);
  const exps = new W().u(bodies.length);
  const code = new W(bodies.reduce((n, b) => n + b.n + 5, 8)).u(bodies.length);
  bodies.forEach((body, i) => {
    funcs.u(0);
    exps
      .str(`b${i}`)
      .op(0x00)
      .u(IMPORTED_FUNCS + i);
    code.vec(body);
  });
  m.section(3, funcs);
  m.section(7, exps);
  m.section(10, code);
  return m.bytes();
}

/** One compiled region: its table index and the block-cache slots pointing into it. */
interface Region {
  index: number;
  page: number;
  slots: Set<number>;
}

/** What is compiled or wanted for one RAM page. */
interface PageRegion {
  /** RAM offsets the core asked for (blocks that got hot) and no region has yet, newest last. */
  fresh: Set<number>;
  /** Its compiled regions (each block-cache slot points into one of them at most). */
  regions: Set<Region>;
  /** Waiting in the queue for a compile. */
  queued: boolean;
  /** RAM offsets of the blocks in its regions being compiled in the background (not installed yet). */
  inFlight: Set<number>;
}

/** Block-cache slots (src/cpu/as/core.ts JIT_SLOTS; two ways per set, h and h ^ 1). */
const JIT_SLOT_BITS = 18;
const JIT_SLOTS = 1 << JIT_SLOT_BITS;
/** A slot's value: the region's table index in the low 20 bits, the block's number in the region above. */
const INDEX_BITS = 20;
/** Blocks per region at most (the block number must leave the slot value positive). */
const MAX_REGION_BLOCKS = 256;
/** Instructions per region at most (more blocks are left out once it is this big). */
const MAX_REGION_INSNS = 2048;

/** The first slot of RAM offset `off`'s two (src/cpu/as/core.ts jitSlotBytes, in slots). */
function jitSlot(off: number): number {
  return Math.imul(off >>> 1, 0x9e3779b1 | 0) >>> (32 - JIT_SLOT_BITS);
}

/**
 * A block a region's blocks continue at joins the region when the core counted 1/JOIN_FRACTION of the
 * threshold of entries into it (it is on its way to getting hot). Measured on the CPU workload and the boots
 * (2 cores, fresh processes, 3 rounds): 1/4 and 1/20 within the noise of each other.
 */
const JOIN_FRACTION = 8;

/** Pages compiled in one background batch at most. */
const BATCH = 32;

/**
 * The host side of the core's block compiler: compiles on request, tracks code pages, invalidates.
 *
 * The unit compiled is a region: blocks the core asked for in one RAM page (they got hot), plus the in-page
 * blocks they branch or fall through to that are nearly hot themselves (the core's count) and not compiled yet,
 * as one function (emitRegion). Every block of it that has a block-cache slot gets the region's table index
 * and its own number. Blocks of a page that get hot later make another region of that page: a region is
 * compiled once (recompiling a page's region for every block that got hot cost more TurboFan time than the
 * regions saved).
 *
 * Synchronous mode (`sync`, tests) compiles when the core asks and returns the slot value at once. Otherwise
 * requests are queued and compiled together in the background (WebAssembly.compile, off the thread that runs
 * the guest) when run() ends: the guest goes on interpreting meanwhile, and a region is installed only if its
 * page was not written since it was decoded.
 */
export class CoreJit {
  private readonly env: CoreJitEnv;
  private readonly u16: Uint16Array;
  private readonly tags: Int32Array;
  private readonly counts: Int32Array;
  private readonly fns: Int32Array;
  private readonly codePages: Uint8Array;
  /** What the host last wrote into each slot (0: nothing it still stands by). */
  private readonly slotVal: Int32Array;
  private readonly pages = new Map<number, PageRegion>();
  private readonly regionAt = new Map<number, Region>();
  private readonly free: number[] = [];
  private nextIndex = 1;
  private readonly imports: WebAssembly.Imports;
  /** Per RAM page: bumped by every write to a page holding compiled or queued code. */
  private readonly pageGen: Uint32Array;
  private queue: number[] = [];
  private readonly sync: boolean;
  /** Background compiles not finished yet (VirtMachine ends a slice early so they can be installed). */
  inFlight = 0;
  /** Regions compiled so far (tests look at it). */
  compiled = 0;
  /** Blocks in them, summed. */
  compiledBlocks = 0;
  /** Pages whose code was dropped because they were written. */
  invalidations = 0;
  /** Blocks the compiler failed on (they stay interpreted), and the last reason. */
  errors = 0;
  lastError: string | undefined;
  /** Bumped by reset(): background compiles started before it are thrown away. */
  private epoch = 0;
  /** Why compiling stopped for good, if it did. */
  disabledBecause: string | undefined;
  /** Regions go on into each other by tail calls (tests turn it off to run what a host without them runs). */
  tailCalls = TAIL_CALLS;

  /** Hits a block the guest entered needs to join a region it was found from (see regionBlocks). */
  private readonly joinHits: number;

  constructor(env: CoreJitEnv, sync: boolean, threshold = DEFAULT_CORE_JIT_THRESHOLD) {
    this.env = env;
    this.sync = sync;
    this.joinHits = Math.max(1, Math.floor(threshold / JOIN_FRACTION));
    this.pageGen = new Uint32Array(env.ramSize >>> 12);
    const buf = env.memory.buffer;
    this.u16 = new Uint16Array(buf, 0, env.ramSize >>> 1);
    // Addresses come back from the core as int32: `>>> 0` for memories past 2 GiB.
    this.tags = new Int32Array(buf, env.core.jitTagAddress() >>> 0, JIT_SLOTS);
    this.counts = new Int32Array(buf, env.core.jitCountAddress() >>> 0, JIT_SLOTS);
    this.fns = new Int32Array(buf, env.core.jitFnAddress() >>> 0, JIT_SLOTS);
    this.codePages = new Uint8Array(buf, env.core.codePagesAddress() >>> 0, env.ramSize >>> 12);
    this.slotVal = new Int32Array(JIT_SLOTS);
    const k = env.core;
    this.imports = {
      env: {
        memory: env.memory,
        jitLoad: k.jitLoad,
        jitStore: k.jitStore,
        jitMulh: k.jitMulh,
        jitDiv: k.jitDiv,
        jitDivw: k.jitDivw,
        jitAmo: k.jitAmo,
        jitFpMem: k.jitFpMem,
        table: env.table,
        trapCause: k.trapCause,
        jitExit: k.jitExit,
        jcKey: k.jcKey,
        rTlb: k.rTlb,
        wTlb: k.wTlb,
      },
    };
  }

  /**
   * The core asks for the block at RAM offset `off`, which holds block-cache slot `slotIndex`: the slot's value
   * (synchronous mode), -1 when its page is queued for a background compile, or 0 when nothing there
   * compiles. Never throws (the core is calling).
   */
  compile(offset: number, slotIndex: number): number {
    if (this.disabledBecause !== undefined) return 0;
    // The core passes a u32 that arrives as a signed int32 (RAM offsets ≥ 2 GiB).
    const off = offset >>> 0;
    const slot = slotIndex & (JIT_SLOTS - 1);
    // The core gave the slot a new tenant: whatever the host had put there is gone.
    this.forget(slot);
    try {
      if (decodeBlock(this.u16, this.env.rvc, off).length === 0) return 0;
    } catch (e) {
      this.errors++;
      this.lastError = (e as Error).message;
      return 0;
    }
    const page = off >>> 12;
    // From now on stores to the page take the core's slow path, which reports them (codeWritten).
    this.watch(page);
    let pr = this.pages.get(page);
    if (pr === undefined) {
      pr = { fresh: new Set(), regions: new Set(), queued: false, inFlight: new Set() };
      this.pages.set(page, pr);
    }
    // Already in a region being compiled (it joined one as a block found from another entry, then got hot
    // itself): that region's install gives it code.
    if (pr.inFlight.has(off)) return -1;
    pr.fresh.delete(off);
    pr.fresh.add(off);
    if (!this.sync) {
      if (!pr.queued) {
        pr.queued = true;
        this.queue.push(page);
      }
      return -1;
    }
    const blocks = this.takeRegion(page, pr);
    if (blocks === undefined) return 0;
    let fn: WebAssembly.ExportValue;
    try {
      const body = emitRegion(blocks, this.env.base, this.tailCalls);
      fn = new WebAssembly.Instance(new WebAssembly.Module(blockModule([body])), this.imports).exports.b0;
    } catch (e) {
      // A host that refuses to compile WebAssembly at run time (a CSP without 'wasm-unsafe-eval'): interpret.
      this.disabledBecause = (e as Error).message;
      return 0;
    }
    this.install(page, pr, blocks, fn);
    return this.tags[slot] >>> 0 === off ? this.slotVal[slot] : 0;
  }

  /** Whether pages wait for flush(). */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** Compiles the queued pages in the background (one module); each is installed when ready, if still valid. */
  flush(): void {
    const pages = this.queue.splice(0, BATCH);
    const work: { page: number; pr: PageRegion; gen: number; blocks: RegionBlock[] }[] = [];
    const bodies: W[] = [];
    for (const page of pages) {
      const pr = this.pages.get(page);
      if (pr === undefined || !pr.queued) continue;
      pr.queued = false;
      const blocks = this.takeRegion(page, pr);
      if (blocks === undefined) continue;
      try {
        bodies.push(emitRegion(blocks, this.env.base, this.tailCalls));
      } catch (e) {
        this.errors++;
        this.lastError = (e as Error).message;
        continue;
      }
      work.push({ page, pr, gen: this.pageGen[page], blocks });
      for (const b of blocks) pr.inFlight.add(page * 4096 + b.start);
    }
    if (work.length === 0) return;
    const epoch = this.epoch;
    this.inFlight++;
    const landed = (): void => {
      for (const w of work) for (const b of w.blocks) w.pr.inFlight.delete(w.page * 4096 + b.start);
    };
    WebAssembly.compile(blockModule(bodies)).then(
      (module) => {
        this.inFlight--;
        landed();
        if (epoch !== this.epoch) return;
        let exports: WebAssembly.Exports;
        try {
          exports = new WebAssembly.Instance(module, this.imports).exports;
        } catch (e) {
          this.disabledBecause = (e as Error).message;
          return;
        }
        work.forEach((w, i) => {
          // Written while it compiled (what was wanted there went with it): not installed.
          if (this.pageGen[w.page] !== w.gen || this.pages.get(w.page) !== w.pr) {
            this.release(w.page, new Set(w.blocks.map((b) => w.page * 4096 + b.start)), undefined);
            return;
          }
          this.install(w.page, w.pr, w.blocks, exports[`b${i}`]);
        });
      },
      (e: unknown) => {
        this.inFlight--;
        landed();
        this.disabledBecause = String((e as Error)?.message ?? e);
      },
    );
  }

  /** The blocks of the page's next region; the entries asked for are then taken (see release for the rest). */
  private takeRegion(page: number, pr: PageRegion): RegionBlock[] | undefined {
    const blocks = this.regionBlocks(page, pr);
    this.release(page, pr.fresh, blocks);
    pr.fresh.clear();
    return blocks;
  }

  /**
   * The blocks of a new region of a page: the entries asked for since its last region, newest first, then the
   * blocks they continue at that are nearly hot and not compiled, until the region is big enough.
   */
  private regionBlocks(page: number, pr: PageRegion): RegionBlock[] | undefined {
    const pageOff = page * 4096;
    // Which blocks: found from the entries by following the code, in that order.
    const starts: number[] = [];
    const seen = new Set<number>();
    const todo = [...pr.fresh].reverse().map((o) => o - pageOff);
    const firstDiscovered = todo.length;
    let total = 0;
    for (let q = 0; q < todo.length && starts.length < MAX_REGION_BLOCKS && total < MAX_REGION_INSNS; q++) {
      const start = todo[q];
      if (seen.has(start)) continue;
      seen.add(start);
      if (pr.inFlight.has(pageOff + start)) continue;
      if (q >= firstDiscovered && !this.entered(pageOff + start)) continue;
      const insns = decodeBlock(this.u16, this.env.rvc, pageOff + start);
      if (insns.length === 0) continue;
      starts.push(start);
      total += insns.length;
      for (const t of blockSuccessors({ start, insns })) if (!seen.has(t)) todo.push(t);
    }
    // Each block ends where another begins: no instruction is compiled twice.
    const stops = new Set(starts.map((o) => pageOff + o));
    const blocks: RegionBlock[] = [];
    total = 0;
    for (const start of starts) {
      const insns = decodeBlock(this.u16, this.env.rvc, pageOff + start, stops);
      if (blocks.length > 0 && total + insns.length > MAX_REGION_INSNS) continue;
      total += insns.length;
      blocks.push({ start, insns });
    }
    return blocks.length > 0 ? blocks : undefined;
  }

  /**
   * Whether the block at RAM offset `off` is worth compiling along: not compiled, and the core counted a good
   * part of the threshold of entries into it. (Taking every block entered once made regions of whole pages of
   * cold kernel code, 100 KB of wasm each, and TurboFan's time on them more than they ever saved.)
   */
  private entered(off: number): boolean {
    const s = this.slotOf(off);
    return s >= 0 && this.counts[s] >= this.joinHits && this.fns[s] === 0;
  }

  /** Whether the block starting at RAM offset `off` has compiled code (tests look). */
  compiledAt(off: number): boolean {
    const s = this.slotOf(off);
    return s >= 0 && this.fns[s] > 0;
  }

  /** The slot holding RAM offset `off`, or -1. */
  private slotOf(off: number): number {
    const a = jitSlot(off);
    if (this.tags[a] >>> 0 === off) return a;
    if (this.tags[a ^ 1] >>> 0 === off) return a ^ 1;
    return -1;
  }

  private watch(page: number): void {
    if (this.codePages[page] === 0) {
      this.codePages[page] = 1;
      this.env.core.unmapStorePage(page);
    }
  }

  /** Puts a compiled region in the table and points the slots of its blocks at it. */
  private install(page: number, pr: PageRegion, blocks: RegionBlock[], fn: WebAssembly.ExportValue): void {
    const index = this.free.pop() ?? this.nextIndex++;
    if (index >= 1 << INDEX_BITS) {
      this.disabledBecause = "the function table is full";
      return;
    }
    const table = this.env.table;
    if (index >= table.length) table.grow(Math.max(256, index + 1 - table.length));
    table.set(index, fn as never);
    const region: Region = { index, page, slots: new Set() };
    this.regionAt.set(index, region);
    pr.regions.add(region);
    const pageOff = page * 4096;
    blocks.forEach((b, j) => {
      const s = this.slotOf(pageOff + b.start);
      if (s < 0) return;
      this.forget(s);
      const v = index | (j << INDEX_BITS);
      this.fns[s] = v;
      this.slotVal[s] = v;
      region.slots.add(s);
    });
    if (region.slots.size === 0) this.drop(region);
    this.compiled++;
    this.compiledBlocks += blocks.length;
  }

  /**
   * Entries the core asked for (RAM offsets) that will not get compiled code after all — left out of their
   * region (`blocks`), or their page was written meanwhile: the core marked their slots "asked" (a hit count
   * far below zero), so make them count up again, or they would stay interpreted for good.
   */
  private release(page: number, asked: Set<number>, blocks: RegionBlock[] | undefined): void {
    const kept = new Set(blocks?.map((b) => page * 4096 + b.start));
    for (const off of asked) {
      if (kept.has(off)) continue;
      const s = this.slotOf(off);
      if (s >= 0 && this.fns[s] <= 0) {
        this.tags[s] = -1;
        this.counts[s] = 0;
        this.fns[s] = 0;
      }
    }
  }

  /** Drops the host's claim on slot s (the core reused it, or another region takes it). */
  private forget(s: number): void {
    const v = this.slotVal[s];
    if (v === 0) return;
    this.slotVal[s] = 0;
    const r = this.regionAt.get(v & ((1 << INDEX_BITS) - 1));
    if (r === undefined) return;
    r.slots.delete(s);
    // Nothing points into it any more: its table entry can go.
    if (r.slots.size === 0) this.drop(r);
  }

  /** Frees a region's table entry; its slots, if any are left pointing at it, count up again. */
  private drop(r: Region): void {
    for (const s of r.slots) {
      if (this.fns[s] === this.slotVal[s]) {
        this.fns[s] = 0;
        this.tags[s] = -1;
        this.counts[s] = 0;
      }
      this.slotVal[s] = 0;
    }
    r.slots.clear();
    // The core's chain cache may hold this region's table index for some pc: it goes (the index is reused).
    this.env.core.jcInvalidate();
    this.regionAt.delete(r.index);
    this.pages.get(r.page)?.regions.delete(r);
    this.env.table.set(r.index, null as never);
    this.free.push(r.index);
  }

  /** RAM page `page` was written (a store or DMA): its regions and what was wanted there are gone. */
  codeWritten(page: number): void {
    this.invalidations++;
    this.pageGen[page]++;
    const pr = this.pages.get(page);
    if (pr !== undefined) {
      for (const r of [...pr.regions]) this.drop(r);
      this.release(page, pr.fresh, undefined);
      pr.queued = false;
      this.pages.delete(page);
    }
    this.codePages[page] = 0;
  }

  /** Device DMA into [off, off + len) of RAM. */
  dmaWritten(off: number, len: number): void {
    if (len <= 0) return;
    const last = Math.min((off + len - 1) >>> 12, this.codePages.length - 1);
    for (let p = off >>> 12; p <= last; p++) if (this.codePages[p] !== 0) this.codeWritten(p);
  }

  /** Everything forgotten (the core's reset cleared its side). */
  reset(): void {
    this.epoch++;
    this.queue = [];
    this.pageGen.fill(0);
    for (const r of [...this.regionAt.values()]) this.drop(r);
    this.pages.clear();
    this.slotVal.fill(0);
  }
}
