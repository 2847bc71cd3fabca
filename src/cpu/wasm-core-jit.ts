// The block compiler of the WebAssembly core (tier 1 over the interpreter in src/cpu/as/core.ts). When the
// core has entered a block often enough it calls jitCompile(off, pc): this file decodes the guest code at RAM
// offset `off` — straight on through conditional branches not taken, up to a jump, an instruction it leaves to
// the interpreter (SYSTEM, atomics, floating point, FENCE), the end of the 4 KiB page or MAX_INSNS — and emits
// one WebAssembly function that imports the core's memory, slow paths and globals. The function goes into the
// core's table; the core calls it with call_indirect.
//
// Inside a block the guest registers live in wasm locals: loaded once at entry, written back once at the exit.
// A block ending in a branch back to its own start is a wasm loop (budget checked per pass). Loads and stores
// check the core's TLB inline and call the core on a miss; a trap there leaves the block with the registers of
// the instructions before it written back, pc naming the faulting instruction and the count of those retired
// (precise traps, exact instret). Blocks never cross a page and are keyed by RAM offset, and everything that
// depends on the virtual pc is computed from the pc the block is entered with, so a block is valid for any
// mapping of its page and any privilege; pages holding compiled code are write-watched (stores there take the
// core's slow path, which calls codeWritten; device DMA is watched by the host), so stale code never runs.

/** Instructions per block at most. */
export const MAX_INSNS = 96;
/**
 * Blocks entered this many times get compiled. Measured (2-core machine, the committed image, in-process):
 * at 64-2000 Linux's boot got slower than interpreting (thousands of blocks compiled, the background compiles
 * competing with the guest for the cores); at 8000 boot is on par and a shell loop runs ≈2× the interpreter's
 * speed; at 20000 the loop gains less.
 */
export const DEFAULT_CORE_JIT_THRESHOLD = 8000;

const PC_OFF = 512;

/** What the compiler needs from the core instance and the host. */
export interface CoreJitEnv {
  memory: WebAssembly.Memory;
  table: WebAssembly.Table;
  /** Byte address of the hart's region (= RAM size). */
  base: number;
  ramSize: number;
  /** 64 K-entry RVC expansion table (rvc.ts). */
  rvc: Int32Array;
  /** The core's exports the blocks import. */
  core: {
    jitLoad: (...a: never[]) => unknown;
    jitStore: (...a: never[]) => unknown;
    jitMulh: (...a: never[]) => unknown;
    jitDiv: (...a: never[]) => unknown;
    jitDivw: (...a: never[]) => unknown;
    trapCause: WebAssembly.Global;
    jitExit: WebAssembly.Global;
    rTlb: WebAssembly.Global;
    wTlb: WebAssembly.Global;
    unmapStorePage(page: number): void;
    jitTagAddress(): number;
    jitFnAddress(): number;
    codePagesAddress(): number;
  };
}

// ---- a small WebAssembly binary writer ------------------------------------------------------------------

class W {
  b: number[] = [];
  op(...v: number[]): this {
    for (const x of v) this.b.push(x);
    return this;
  }
  u(v: number): this {
    let x = v >>> 0;
    do {
      let byte = x & 0x7f;
      x >>>= 7;
      if (x !== 0) byte |= 0x80;
      this.b.push(byte);
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
      this.b.push(done ? byte : byte | 0x80);
      if (done) return this;
    }
  }
  str(s: string): this {
    this.u(s.length);
    for (let i = 0; i < s.length; i++) this.b.push(s.charCodeAt(i));
    return this;
  }
  vec(w: W): this {
    this.u(w.b.length);
    for (const x of w.b) this.b.push(x);
    return this;
  }
  section(id: number, body: W): this {
    this.b.push(id);
    return this.vec(body);
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
const I32AND = 0x71;
const I32SHL = 0x74;
const I64ADD = 0x7c;
const I64AND = 0x83;
const I64SHRU = 0x88;
const WRAP = 0xa7;
const EXTS = 0xac;
const EXTU = 0xad;

// imports: functions 0..4, globals 0..3
const F_LOAD = 0;
const F_STORE = 1;
const F_MULH = 2;
const F_DIV = 3;
const F_DIVW = 4;
const G_TRAP = 0;
const G_EXIT = 1;
const G_RTLB = 2;
const G_WTLB = 3;

// locals: params pc (i64) 0, rem (i32) 1; then n (i32), next (i64), va (i64), e (i32), rT (i32), wT (i32), x1..x31
const L_PC = 0;
const L_REM = 1;
const L_N = 2;
const L_NEXT = 3;
const L_VA = 4;
const L_E = 5;
const L_RT = 6;
const L_WT = 7;
const L_X = 7; // x[r] is local L_X + r (r ≥ 1)

interface Insn {
  insn: number;
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

/** Decodes the block at RAM offset `off`: the instructions and whether its last one branches back to the start. */
export function decodeBlock(u16: Uint16Array, rvc: Int32Array, off: number): { insns: Insn[]; loops: boolean } {
  const pageEnd = ((off | 4095) >>> 0) + 1;
  const insns: Insn[] = [];
  const seen = new Set<number>();
  let o = off;
  let loops = false;
  while (insns.length < MAX_INSNS && o + 2 <= pageEnd) {
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
    insns.push({ insn, at, len });
    seen.add(at);
    o += len;
    const op = insn & 0x7f;
    if (op === 0x67) break;
    if (op === 0x6f) {
      // A direct jump: the block goes on at its target when that is in the same page and not decoded yet
      // (calls and the jumps around if/else stay inside one block); back to the entry it is a loop.
      const target = at + jalImm(insn);
      if (target === 0) {
        loops = true;
        break;
      }
      const t = off + target;
      if (t >>> 12 !== off >>> 12 || target < -off || seen.has(target)) break;
      o = t;
      continue;
    }
    if (op === 0x63 && at + branchImm(insn) === 0) {
      loops = true;
      break;
    }
  }
  return { insns, loops };
}

/** Emits the block's function body (locals + code). */
function emitBody(insns: Insn[], loops: boolean, base: number): W {
  const L = insns.length;
  // Registers the block writes (written back at every exit) and those it loads at entry: the ones read before
  // the block writes them, and the written ones not yet written when an exit can happen (a side exit, a trap
  // in a load or store), which must then still hold their value from the entry.
  const dirty = new Set<number>();
  for (const { insn } of insns) {
    const op = insn & 0x7f;
    const rd = (insn >>> 7) & 31;
    if (op !== 0x23 && op !== 0x63 && rd !== 0) dirty.add(rd);
  }
  const used = new Set<number>();
  const written = new Set<number>();
  for (const { insn } of insns) {
    const op = insn & 0x7f;
    const rs1 = (insn >>> 15) & 31;
    const rs2 = (insn >>> 20) & 31;
    const rd = (insn >>> 7) & 31;
    if (op !== 0x37 && op !== 0x17 && op !== 0x6f && !written.has(rs1)) used.add(rs1);
    if ((op === 0x33 || op === 0x3b || op === 0x23 || op === 0x63) && !written.has(rs2)) used.add(rs2);
    if (op === 0x63 || op === 0x03 || op === 0x23) for (const r of dirty) if (!written.has(r)) used.add(r);
    if (op !== 0x23 && op !== 0x63 && rd !== 0) written.add(rd);
  }
  used.delete(0);

  const c = new W();
  // locals: n i32, next i64, va i64, e i32, rT i32, wT i32, x1..x31 i64
  c.u(5).u(1).op(I32).u(2).op(I64).u(1).op(I32).u(2).op(I32).u(31).op(I64);
  // Not enough budget left for one pass: let the interpreter go on.
  c.op(LGET).u(L_REM).op(I32CONST).s32(L).op(I32LTS, IF, VOID, I32CONST).s32(-1).op(RETURN, END);
  c.op(GGET).u(G_RTLB).op(LSET).u(L_RT);
  c.op(GGET).u(G_WTLB).op(LSET).u(L_WT);
  for (const r of used)
    c.op(I32CONST)
      .s32(0)
      .op(I64LOAD)
      .u(3)
      .u(base + r * 8)
      .op(LSET)
      .u(L_X + r);

  c.op(BLOCK, VOID); // $exit
  if (loops) c.op(LOOP, VOID); // $top
  // Structured nesting below $exit: depth of the current position.
  let depth = loops ? 1 : 0;

  const getX = (r: number): void => {
    if (r === 0) c.op(I64CONST).s64(0);
    else c.op(LGET).u(L_X + r);
  };
  const setX = (r: number): void => {
    if (r === 0) c.op(DROP);
    else c.op(LSET).u(L_X + r);
  };
  const pcPlus = (delta: number): void => {
    c.op(LGET).u(L_PC).op(I64CONST).s64(delta).op(I64ADD);
  };
  /** Leaves the block with `count` more instructions retired and the next pc on... computed by emitPc. */
  const exit = (count: number, emitPc: () => void): void => {
    emitPc();
    c.op(LSET).u(L_NEXT);
    c.op(LGET).u(L_N).op(I32CONST).s32(count).op(I32ADD).op(LSET).u(L_N);
    c.op(BR).u(depth);
  };
  /** The loop's back edge, taken: count the pass; leave at the entry when the budget has no room for another. */
  const nextPass = (): void => {
    c.op(LGET).u(L_N).op(I32CONST).s32(L).op(I32ADD).op(LSET).u(L_N);
    c.op(LGET).u(L_N).op(I32CONST).s32(L).op(I32ADD).op(LGET).u(L_REM).op(I32GTS, IF, VOID);
    depth++;
    exit(0, () => c.op(LGET).u(L_PC));
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
    const { insn, at, len } = insns[k];
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
      case 0x6f: {
        // JAL: the link; then the block goes on at the target (decodeBlock followed it), loops back to its
        // start, or ends here.
        pcPlus(at + len);
        setX(rd);
        if (loops && last) {
          nextPass();
          c.op(BR).u(0); // $top
        } else if (last) exit(k + 1, () => pcPlus(at + jalImm(insn)));
        break;
      }
      case 0x67: {
        // JALR: the target from rs1 before rd is written (rd may be rs1).
        getX(rs1);
        c.op(I64CONST).s64(immI).op(I64ADD).op(I64CONST).s64(-2).op(I64AND).op(LSET).u(L_NEXT);
        pcPlus(at + len);
        setX(rd);
        exit(k + 1, () => c.op(LGET).u(L_NEXT));
        break;
      }
      case 0x63: {
        // Branch: a side exit when taken, or the loop's back edge.
        getX(rs1);
        getX(rs2);
        c.op([I64EQ, 0x52, 0, 0, 0x53, 0x59, 0x54, 0x5a][f3]);
        const target = at + branchImm(insn);
        if (loops && last) {
          // Taken: another pass if the budget allows one.
          c.op(IF, VOID);
          depth++;
          nextPass();
          c.op(BR).u(1); // $top: depth 1 from inside this if
          c.op(END);
          depth--;
        } else {
          c.op(IF, VOID);
          depth++;
          exit(k + 1, () => pcPlus(target));
          c.op(END);
          depth--;
        }
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
        const imm = ((insn >> 20) & ~31) | ((insn >>> 7) & 31);
        getX(rs1);
        c.op(I64CONST).s64(imm).op(I64ADD).op(LSET).u(L_VA);
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
        c.op(GGET).u(G_EXIT).op(IF, VOID);
        depth++;
        c.op(GGET).u(G_TRAP).op(I32CONST).s32(0).op(I32GES).op(IF, VOID);
        depth++;
        exit(k, () => pcPlus(at));
        c.op(END);
        depth--;
        exit(k + 1, () => pcPlus(at + len));
        c.op(END);
        depth--;
        c.op(END);
        depth--;
        break;
      }
      default:
        throw new Error(`wasm-core-jit: unexpected opcode ${op}`);
    }
  }
  // Fell off the end (or through the loop's back edge not taken): the next instruction.
  const endOp = insns[L - 1].insn & 0x7f;
  if (endOp !== 0x6f && endOp !== 0x67) {
    const { at, len } = insns[L - 1];
    exit(L, () => pcPlus(at + len));
  }
  if (loops) c.op(END);
  c.op(END); // $exit
  for (const r of dirty)
    c.op(I32CONST)
      .s32(0)
      .op(LGET)
      .u(L_X + r)
      .op(I64STORE)
      .u(3)
      .u(base + r * 8);
  c.op(I32CONST)
    .s32(0)
    .op(LGET)
    .u(L_NEXT)
    .op(I64STORE)
    .u(3)
    .u(base + PC_OFF);
  c.op(LGET).u(L_N);
  c.op(END);
  return c;
}

/** A whole module around block functions (exported as "b0", "b1", …). */
export function blockModule(bodies: W[]): Uint8Array<ArrayBuffer> {
  const m = new W().op(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const types = new W().u(4);
  types.op(0x60).u(2).op(I64, I32).u(1).op(I32); // 0: block (pc, rem) → n
  types.op(0x60).u(2).op(I64, I32).u(1).op(I64); // 1: jitLoad
  types.op(0x60).u(3).op(I64, I32, I64).u(0); // 2: jitStore
  types.op(0x60).u(3).op(I64, I64, I32).u(1).op(I64); // 3: mulh/div/divw
  m.section(1, types);
  const imp = new W().u(10);
  imp.str("env").str("memory").op(0x02, 0x00).u(0);
  imp.str("env").str("jitLoad").op(0x00).u(1);
  imp.str("env").str("jitStore").op(0x00).u(2);
  imp.str("env").str("jitMulh").op(0x00).u(3);
  imp.str("env").str("jitDiv").op(0x00).u(3);
  imp.str("env").str("jitDivw").op(0x00).u(3);
  for (const g of ["trapCause", "jitExit", "rTlb", "wTlb"]) imp.str("env").str(g).op(0x03, I32, 0x01);
  m.section(2, imp);
  const funcs = new W().u(bodies.length);
  const exps = new W().u(bodies.length);
  const code = new W().u(bodies.length);
  bodies.forEach((body, i) => {
    funcs.u(0);
    exps
      .str(`b${i}`)
      .op(0x00)
      .u(5 + i);
    code.vec(body);
  });
  m.section(3, funcs);
  m.section(7, exps);
  m.section(10, code);
  return new Uint8Array(m.b);
}

interface Pending {
  epoch: number;
  slot: number;
  off: number;
  page: number;
  gen: number;
  body: W;
}

/** Blocks queued for one background compile at most. */
const BATCH = 64;

/**
 * The host side of the core's block compiler: compiles on request, tracks code pages, invalidates.
 *
 * Synchronous mode (`sync`, tests) compiles a block when the core asks and returns its table index at once.
 * Otherwise requests are queued and compiled together in the background (WebAssembly.compile, off the thread
 * that runs the guest) when run() ends: the guest goes on interpreting meanwhile, and a block is installed
 * into the core's cache only if its page was not written since it was decoded.
 */
export class CoreJit {
  /** Tells it apart from the TypeScript hart's block compilers (jit.ts: "js", "wasm"). */
  readonly backend = "core";
  private readonly env: CoreJitEnv;
  private readonly u16: Uint16Array;
  private readonly tags: Int32Array;
  private readonly fns: Int32Array;
  private readonly codePages: Uint8Array;
  /** Table index each cache slot was last given (0 = none) and the RAM page its block came from. */
  private readonly slotIndex: Int32Array;
  private readonly slotPage: Int32Array;
  private readonly pageSlots = new Map<number, Set<number>>();
  private readonly free: number[] = [];
  private nextIndex = 1;
  private readonly imports: WebAssembly.Imports;
  /** Per RAM page: bumped by every write to a page holding compiled or queued code. */
  private readonly pageGen: Uint32Array;
  private queue: Pending[] = [];
  private readonly sync: boolean;
  /** Blocks compiled so far (tests look at it), and why compiling stopped for good, if it did. */
  compiled = 0;
  /** Pages whose code was dropped because they were written. */
  invalidations = 0;
  /** Blocks the compiler failed on (they stay interpreted), and the last reason. */
  errors = 0;
  lastError: string | undefined;
  /** Bumped by reset(): background compiles started before it are thrown away. */
  private epoch = 0;
  disabledBecause: string | undefined;

  constructor(env: CoreJitEnv, sync: boolean) {
    this.env = env;
    this.sync = sync;
    this.pageGen = new Uint32Array(env.ramSize >>> 12);
    const buf = env.memory.buffer;
    this.u16 = new Uint16Array(buf, 0, env.ramSize >>> 1);
    // Addresses come back from the core as int32: `>>> 0` for memories past 2 GiB.
    this.tags = new Int32Array(buf, env.core.jitTagAddress() >>> 0, 16384);
    this.fns = new Int32Array(buf, env.core.jitFnAddress() >>> 0, 16384);
    this.codePages = new Uint8Array(buf, env.core.codePagesAddress() >>> 0, env.ramSize >>> 12);
    this.slotIndex = new Int32Array(16384);
    this.slotPage = new Int32Array(16384);
    const k = env.core;
    this.imports = {
      env: {
        memory: env.memory,
        jitLoad: k.jitLoad,
        jitStore: k.jitStore,
        jitMulh: k.jitMulh,
        jitDiv: k.jitDiv,
        jitDivw: k.jitDivw,
        trapCause: k.trapCause,
        jitExit: k.jitExit,
        rTlb: k.rTlb,
        wTlb: k.wTlb,
      },
    };
  }

  /**
   * The core asks for the block at RAM offset `off`: its table index (synchronous mode), -1 when queued for a
   * background compile, or 0 when nothing there compiles. Never throws (the core is calling).
   */
  compile(offset: number, _pcLo: number, _pcHi: number): number {
    if (this.disabledBecause !== undefined) return 0;
    // The core passes a u32 that arrives as a signed int32 (RAM offsets ≥ 2 GiB).
    const off = offset >>> 0;
    const slot = (off >>> 1) & 16383;
    this.release(slot);
    let body: W;
    try {
      const { insns, loops } = decodeBlock(this.u16, this.env.rvc, off);
      if (insns.length === 0) return 0;
      body = emitBody(insns, loops, this.env.base);
    } catch (e) {
      // A compiler bug must not take the machine down: this block stays interpreted.
      this.errors++;
      this.lastError = (e as Error).message;
      return 0;
    }
    const page = off >>> 12;
    // From now on stores to the page take the core's slow path, which reports them (codeWritten).
    this.watch(page);
    if (!this.sync) {
      this.queue.push({ slot, off, page, gen: this.pageGen[page], epoch: this.epoch, body });
      return -1;
    }
    let fn: WebAssembly.ExportValue;
    try {
      fn = new WebAssembly.Instance(new WebAssembly.Module(blockModule([body])), this.imports).exports.b0;
    } catch (e) {
      // A host that refuses to compile WebAssembly at run time (a CSP without 'wasm-unsafe-eval'): interpret.
      this.disabledBecause = (e as Error).message;
      return 0;
    }
    return this.install(slot, page, fn);
  }

  /** Whether blocks wait for flush(). */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** Compiles the queued blocks in the background (one module); each is installed when ready, if still valid. */
  flush(): void {
    const batch = this.queue.splice(0, BATCH);
    if (batch.length === 0) return;
    WebAssembly.compile(blockModule(batch.map((p) => p.body))).then(
      (module) => {
        let exports: WebAssembly.Exports;
        try {
          exports = new WebAssembly.Instance(module, this.imports).exports;
        } catch (e) {
          this.disabledBecause = (e as Error).message;
          return;
        }
        batch.forEach((p, i) => {
          const fresh =
            p.epoch === this.epoch &&
            this.tags[p.slot] >>> 0 === p.off &&
            this.fns[p.slot] === 0 &&
            this.pageGen[p.page] === p.gen;
          if (fresh) {
            this.fns[p.slot] = this.install(p.slot, p.page, exports[`b${i}`]);
          } else if (p.epoch === this.epoch && this.tags[p.slot] >>> 0 === p.off && this.fns[p.slot] === 0) {
            // Its page changed while it compiled: let the core count the slot up again.
            this.tags[p.slot] = -1;
          }
        });
      },
      (e: unknown) => {
        this.disabledBecause = String((e as Error)?.message ?? e);
      },
    );
  }

  private watch(page: number): void {
    if (this.codePages[page] === 0) {
      this.codePages[page] = 1;
      this.env.core.unmapStorePage(page);
    }
  }

  private install(slot: number, page: number, fn: WebAssembly.ExportValue): number {
    this.release(slot);
    const index = this.free.pop() ?? this.nextIndex++;
    const table = this.env.table;
    if (index >= table.length) table.grow(Math.max(256, index + 1 - table.length));
    table.set(index, fn as never);
    this.slotIndex[slot] = index;
    this.slotPage[slot] = page;
    let set = this.pageSlots.get(page);
    if (set === undefined) {
      set = new Set();
      this.pageSlots.set(page, set);
    }
    set.add(slot);
    this.watch(page);
    this.compiled++;
    return index;
  }

  /** Gives back the table index a slot held (the core may have reused the slot for another entry). */
  private release(slot: number): void {
    const index = this.slotIndex[slot];
    if (index === 0) return;
    this.slotIndex[slot] = 0;
    this.pageSlots.get(this.slotPage[slot])?.delete(slot);
    this.env.table.set(index, null as never);
    this.free.push(index);
  }

  /** RAM page `page` was written (a store or DMA): its blocks are gone. */
  codeWritten(page: number): void {
    this.invalidations++;
    this.pageGen[page]++;
    const set = this.pageSlots.get(page);
    if (set !== undefined) {
      for (const slot of set) {
        // The core still points at this block: make it count the slot up again.
        if (this.fns[slot] === this.slotIndex[slot]) {
          this.fns[slot] = 0;
          this.tags[slot] = -1;
        }
        this.release(slot);
      }
      this.pageSlots.delete(page);
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
    for (const set of this.pageSlots.values()) for (const slot of set) this.release(slot);
    this.pageSlots.clear();
  }
}
