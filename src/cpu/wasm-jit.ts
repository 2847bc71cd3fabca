// The WebAssembly backend of the block compiler (jit.ts). Same blocks, same cache, same invalidation
// and trap contract; the code is a WebAssembly function instead of JS source. Guest RAM sits at
// address 0 of a WebAssembly.Memory and the hart's registers and data TLBs right after it (the "aux"
// region, state.ts), so a compiled block reads and writes registers as i64 memory cells, translates
// loads and stores through the same TLB arrays the interpreter fills, and touches RAM directly on a
// hit. Anything else — a TLB miss, MMIO, a misaligned or page-crossing access — calls back into the
// hart's load/store paths, which may trap (a JS exception that unwinds through the wasm frames to
// Hart.run(), with `jitDone` telling it which instruction faulted).
//
// Why: V8 runs a JS block in its bytecode interpreter until it has been called often enough to be
// optimised, which straight-line kernel code rarely is; a wasm function is compiled to machine code
// (Liftoff) when its module is created. So this backend can compile every hot block, not just loops.
//
// Registers are not cached in wasm locals: every instruction loads its operands from and stores its
// result to the register cells, so the state is exact at any call-out and a trap needs no write-back.

import { blockInsn, type CodeSource, MAX_BLOCK } from "./block-source.ts";
import { TLB_MASK } from "./hart-memory.ts";
import { AUX, AUX_BYTES } from "./state.ts";

/** What the wasm code calls when its inline TLB check misses, and where it finds memory. */
export interface WasmJitEnv {
  memory: WebAssembly.Memory;
  /** Byte address of the aux region (= RAM size). */
  aux: number;
  /** Slow load: f3 as in LOAD; writes the sign/zero-extended value to the scratch cell. May trap. */
  load(lo: number, hi: number, f3: number, done: number): void;
  /** Slow store: f3 as in STORE. May trap. */
  store(lo: number, hi: number, f3: number, vlo: number, vhi: number, done: number): void;
  /** MULH/MULHSU/MULHU (f3 1..3) of (al, ah) × (bl, bh): writes the high 64 bits to the scratch cell. */
  mulh(al: number, ah: number, bl: number, bh: number, f3: number): void;
  /** An LR, SC or AMO (its rd written in the register cells). May trap. */
  amo(insn: number, done: number): void;
  /**
   * A CSR instruction, the last of its block. Sets the EXIT cell when the chain must return to the
   * run loop (an interrupt became takeable, the data TLB set changed, a stop was asked). May trap.
   */
  csr(insn: number, done: number): void;
}

/** CSRs a compiled block leaves to the interpreter: the counters that read instret mid-run. */
function csrInterpreted(csr: number): boolean {
  return csr === 0xc00 || csr === 0xc02 || csr === 0xb00 || csr === 0xb02;
}

/** A compiled wasm block: (pcLo, pcHi, budget, dBase) → instructions retired; next pc in the pc cell. */
export type WasmBlock = (pcLo: number, pcHi: number, budget: number, dBase: number) => number;

// ---- a small WebAssembly binary writer -----------------------------------------------------------

class Bytes {
  b: number[] = [];
  u8(...v: number[]): this {
    for (const x of v) this.b.push(x);
    return this;
  }
  uleb(v: number): this {
    let x = v >>> 0;
    if (v > 0xffffffff) throw new RangeError("uleb > 32 bits");
    do {
      let byte = x & 0x7f;
      x >>>= 7;
      if (x !== 0) byte |= 0x80;
      this.b.push(byte);
    } while (x !== 0);
    return this;
  }
  /** Signed LEB128 of a safe integer (|v| < 2^53). */
  sleb(v: number): this {
    let x = v;
    for (;;) {
      const byte = ((x % 128) + 128) % 128;
      x = Math.floor(x / 128);
      const done = (x === 0 && (byte & 0x40) === 0) || (x === -1 && (byte & 0x40) !== 0);
      this.b.push(done ? byte : byte | 0x80);
      if (done) return this;
    }
  }
  bytes(v: ArrayLike<number>): this {
    for (let i = 0; i < v.length; i++) this.b.push(v[i]);
    return this;
  }
  name(s: string): this {
    this.uleb(s.length);
    for (let i = 0; i < s.length; i++) this.b.push(s.charCodeAt(i));
    return this;
  }
  section(id: number, body: Bytes): this {
    this.u8(id).uleb(body.b.length);
    return this.bytes(body.b);
  }
}

const I32 = 0x7f;
const I64 = 0x7e;
const VOID = 0x40;
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Store: 0x36,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32And: 0x71,
  i32Or: 0x72,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivS: 0x6d,
  i32DivU: 0x6e,
  i32RemS: 0x6f,
  i32RemU: 0x70,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i32LeU: 0x4d,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  i64Ne: 0x52,
  i64LtS: 0x53,
  i64LtU: 0x54,
  i64GeS: 0x59,
  i64GeU: 0x5a,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64DivS: 0x7f,
  i64DivU: 0x80,
  i64RemS: 0x81,
  i64RemU: 0x82,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
} as const;

// Loads by LOAD f3 (LB LH LW LD LBU LHU LWU) and stores by STORE f3 (SB SH SW SD): opcode, log2 size.
const LOAD_OPS: readonly (readonly [number, number] | undefined)[] = [
  [0x30, 0],
  [0x32, 1],
  [0x34, 2],
  [0x29, 3],
  [0x31, 0],
  [0x33, 1],
  [0x35, 2],
];
const STORE_OPS: readonly (readonly [number, number])[] = [
  [0x3c, 0],
  [0x3d, 1],
  [0x3e, 2],
  [0x37, 3],
];

// Function indices: the three imports, then the block.
const F_LOAD = 0;
const F_STORE = 1;
const F_MULH = 2;
const F_AMO = 3;
const F_CSR = 4;
/** Imported functions before the blocks. */
const IMPORTED_FNS = 5;

// Locals: params first.
const L_PCLO = 0;
const L_PCHI = 1;
const L_BUDGET = 2;
const L_DBASE = 3;
const L_PC = 4; // i64: the block's start pc
const L_EA = 5; // i64
const L_A = 6; // i64 scratch
const L_B = 7; // i64 scratch
const L_LO = 8; // i32: low word of the effective address
const L_TI = 9; // i32: TLB index × 4
const L_N = 10; // i32: instructions retired by completed passes (loops)
const L_T = 11; // i32 scratch
const L_T2 = 12; // i32 scratch

/** Emits one block's function body. */
class Emit {
  readonly c = new Bytes();
  constructor(readonly aux: number) {}

  op(...v: number[]): this {
    this.c.u8(...v);
    return this;
  }
  get(l: number): this {
    return this.op(OP.localGet).uleb(l);
  }
  set(l: number): this {
    return this.op(OP.localSet).uleb(l);
  }
  tee(l: number): this {
    return this.op(OP.localTee).uleb(l);
  }
  uleb(v: number): this {
    this.c.uleb(v);
    return this;
  }
  i32(v: number): this {
    this.c.u8(OP.i32Const).sleb(v | 0);
    return this;
  }
  i64(v: number): this {
    this.c.u8(OP.i64Const).sleb(v);
    return this;
  }
  /** A memory op with alignment hint and a constant offset. */
  mem(opcode: number, align: number, offset: number): this {
    this.c.u8(opcode).uleb(align).uleb(offset);
    return this;
  }
  /** Pushes register r (i64). */
  reg(r: number): this {
    if (r === 0) return this.i64(0);
    return this.i32(0).mem(OP.i64Load, 3, this.aux + AUX.X + r * 8);
  }
  /** Stores the i64 computed by `value` into register rd (the address goes first on the stack). */
  setReg(rd: number, value: () => void): this {
    if (rd === 0) {
      value();
      return this.op(OP.drop);
    }
    this.i32(0);
    value();
    return this.mem(OP.i64Store, 3, this.aux + AUX.X + rd * 8);
  }
  /** Stores the i64 computed by `value` as the next pc. */
  setPc(value: () => void): this {
    this.i32(0);
    value();
    return this.mem(OP.i64Store, 3, this.aux + AUX.PC);
  }
  /** pc of the instruction at byte offset `off` in the block, plus `delta` (i64 on the stack). */
  pcPlus(off: number, delta: number): this {
    return this.get(L_PC)
      .i64(off + delta)
      .op(OP.i64Add);
  }
  /** Low word of (i64 on stack) as i32; high word as i32. */
  hiWord(): this {
    return this.i64(32).op(OP.i64ShrU, OP.i32WrapI64);
  }
}

/** Result of generating one instruction. */
type G = "ok" | "ends" | "branch" | undefined;

/** The condition of a branch (i32 on the stack from two i64 operands). */
const BRANCH_CMP: readonly (number | undefined)[] = [
  OP.i64Eq,
  OP.i64Ne,
  undefined,
  undefined,
  OP.i64LtS,
  OP.i64GeS,
  OP.i64LtU,
  OP.i64GeU,
];

/**
 * The code of one (expanded) instruction at byte offset `off`, `k` instructions into the block.
 * Returns undefined (nothing emitted) when the interpreter must run it. A conditional branch leaves
 * its condition (i32) on the stack and returns "branch": the caller emits the exits.
 */
function gen(e: Emit, insn: number, len: number, off: number, k: number): G {
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const f3 = (insn >>> 12) & 7;
  switch (insn & 0x7f) {
    case 0x37: // LUI
      if (rd !== 0) e.setReg(rd, () => e.i64(insn & 0xfffff000));
      return "ok";
    case 0x17: // AUIPC
      if (rd !== 0) e.setReg(rd, () => e.pcPlus(off, insn & 0xfffff000));
      return "ok";
    case 0x6f: {
      // JAL
      const imm = ((insn >> 11) & 0xfff00000) | (insn & 0xff000) | ((insn >>> 9) & 0x800) | ((insn >>> 20) & 0x7fe);
      if (rd !== 0) e.setReg(rd, () => e.pcPlus(off, len));
      e.setPc(() => e.pcPlus(off, imm));
      return "ends";
    }
    case 0x67: {
      // JALR: the target from rs1 before rd is written (rd may equal rs1).
      if (f3 !== 0) return undefined;
      e.reg(rs1)
        .i64(insn >> 20)
        .op(OP.i64Add)
        .i64(-2)
        .op(OP.i64And)
        .set(L_A);
      if (rd !== 0) e.setReg(rd, () => e.pcPlus(off, len));
      e.setPc(() => e.get(L_A));
      return "ends";
    }
    case 0x63: {
      const cmp = BRANCH_CMP[f3];
      if (cmp === undefined) return undefined;
      e.reg(rs1).reg(rs2).op(cmp);
      return "branch";
    }
    case 0x03: {
      const lop = LOAD_OPS[f3];
      if (lop === undefined) return undefined;
      const [opcode, lg] = lop;
      e.reg(rs1)
        .i64(insn >> 20)
        .op(OP.i64Add)
        .set(L_EA);
      e.setReg(rd, () => {
        tlbCheck(e, AUX.R_TAG_LO, AUX.R_TAG_HI, lg);
        e.op(OP.if, I64);
        // Hit: RAM offset of the page + offset in the page.
        e.get(L_TI)
          .mem(OP.i32Load, 2, e.aux + AUX.R_OFF)
          .get(L_LO)
          .i32(4095)
          .op(OP.i32And, OP.i32Add)
          .mem(opcode, lg, 0);
        e.op(OP.else);
        e.get(L_LO).get(L_EA).hiWord().i32(f3).get(L_N).i32(k).op(OP.i32Add).op(OP.call).uleb(F_LOAD);
        e.i32(0).mem(OP.i64Load, 3, e.aux + AUX.SCRATCH);
        e.op(OP.end);
      });
      return "ok";
    }
    case 0x23: {
      if (f3 > 3) return undefined;
      const [opcode, lg] = STORE_OPS[f3];
      const imm = ((insn >> 20) & ~31) | ((insn >>> 7) & 31);
      e.reg(rs1).i64(imm).op(OP.i64Add).set(L_EA);
      tlbCheck(e, AUX.W_TAG_LO, AUX.W_TAG_HI, lg);
      e.op(OP.if, VOID);
      e.get(L_TI)
        .mem(OP.i32Load, 2, e.aux + AUX.W_OFF)
        .get(L_LO)
        .i32(4095)
        .op(OP.i32And, OP.i32Add)
        .reg(rs2)
        .mem(opcode, lg, 0);
      e.op(OP.else);
      e.get(L_LO).get(L_EA).hiWord().i32(f3);
      e.reg(rs2).op(OP.i32WrapI64);
      e.reg(rs2).hiWord();
      e.get(L_N).i32(k).op(OP.i32Add).op(OP.call).uleb(F_STORE);
      e.op(OP.end);
      return "ok";
    }
    case 0x13: {
      const imm = insn >> 20;
      let body: () => void;
      switch (f3) {
        case 0:
          body = () => e.reg(rs1).i64(imm).op(OP.i64Add);
          break;
        case 1:
          if (insn >>> 26 !== 0) return undefined;
          body = () =>
            e
              .reg(rs1)
              .i64((insn >>> 20) & 63)
              .op(OP.i64Shl);
          break;
        case 2:
          body = () => e.reg(rs1).i64(imm).op(OP.i64LtS, OP.i64ExtendI32U);
          break;
        case 3:
          body = () => e.reg(rs1).i64(imm).op(OP.i64LtU, OP.i64ExtendI32U);
          break;
        case 4:
          body = () => e.reg(rs1).i64(imm).op(OP.i64Xor);
          break;
        case 5: {
          const top = insn >>> 26;
          if (top !== 0 && top !== 0x10) return undefined;
          body = () =>
            e
              .reg(rs1)
              .i64((insn >>> 20) & 63)
              .op(top === 0 ? OP.i64ShrU : OP.i64ShrS);
          break;
        }
        case 6:
          body = () => e.reg(rs1).i64(imm).op(OP.i64Or);
          break;
        default:
          body = () => e.reg(rs1).i64(imm).op(OP.i64And);
          break;
      }
      if (rd !== 0) e.setReg(rd, body);
      return "ok";
    }
    case 0x1b: {
      // OP-IMM-32
      const sh = (insn >>> 20) & 31;
      const top = insn >>> 25;
      let tail: number[];
      if (f3 === 0) tail = [];
      else if (f3 === 1 && top === 0) tail = [OP.i32Shl];
      else if (f3 === 5 && top === 0) tail = [OP.i32ShrU];
      else if (f3 === 5 && top === 0x20) tail = [OP.i32ShrS];
      else return undefined;
      if (rd !== 0)
        e.setReg(rd, () => {
          e.reg(rs1).op(OP.i32WrapI64);
          if (f3 === 0) e.i32(insn >> 20).op(OP.i32Add);
          else e.i32(sh).op(...tail);
          e.op(OP.i64ExtendI32S);
        });
      return "ok";
    }
    case 0x2f: {
      // LR/SC/AMO through the hart (wasm has no view of the reservation).
      if (f3 !== 2 && f3 !== 3) return undefined;
      e.i32(insn).get(L_N).i32(k).op(OP.i32Add, OP.call).uleb(F_AMO);
      return "ok";
    }
    case 0x73: {
      // CSR instructions (not ECALL/EBREAK/xRET/WFI/SFENCE.VMA): through the hart, ending the block.
      if (f3 === 0 || f3 === 4 || len !== 4 || csrInterpreted(insn >>> 20)) return undefined;
      e.i32(insn).get(L_N).i32(k).op(OP.i32Add, OP.call).uleb(F_CSR);
      e.setPc(() => e.pcPlus(off, len));
      return "ends";
    }
    case 0x33: {
      const f7 = insn >>> 25;
      let body: (() => void) | undefined;
      const ab =
        (...ops: number[]) =>
        () =>
          e
            .reg(rs1)
            .reg(rs2)
            .op(...ops);
      if (f7 === 0) {
        body = ab([OP.i64Add, OP.i64Shl, OP.i64LtS, OP.i64LtU, OP.i64Xor, OP.i64ShrU, OP.i64Or, OP.i64And][f3]);
        if (f3 === 2 || f3 === 3) body = ab(f3 === 2 ? OP.i64LtS : OP.i64LtU, OP.i64ExtendI32U);
      } else if (f7 === 0x20) {
        if (f3 === 0) body = ab(OP.i64Sub);
        else if (f3 === 5) body = ab(OP.i64ShrS);
      } else if (f7 === 1) {
        if (f3 === 0) body = ab(OP.i64Mul);
        else if (f3 < 4) body = () => mulh(e, rs1, rs2, f3);
        else body = () => div64(e, rs1, rs2, f3);
      }
      if (body === undefined) return undefined;
      e.setReg(rd, body);
      return "ok";
    }
    case 0x3b: {
      // OP-32
      const f7 = insn >>> 25;
      let ops: number[] | undefined;
      if (f7 === 0) ops = f3 === 0 ? [OP.i32Add] : f3 === 1 ? [OP.i32Shl] : f3 === 5 ? [OP.i32ShrU] : undefined;
      else if (f7 === 0x20) ops = f3 === 0 ? [OP.i32Sub] : f3 === 5 ? [OP.i32ShrS] : undefined;
      else if (f7 === 1) ops = f3 === 0 ? [OP.i32Mul] : f3 >= 4 ? [] : undefined;
      if (ops === undefined) return undefined;
      const o = ops;
      e.setReg(rd, () => {
        if (f7 === 1 && f3 >= 4) div32(e, rs1, rs2, f3);
        else
          e.reg(rs1)
            .op(OP.i32WrapI64)
            .reg(rs2)
            .op(OP.i32WrapI64, ...o);
        e.op(OP.i64ExtendI32S);
      });
      return "ok";
    }
    default:
      return undefined;
  }
}

/**
 * Leaves an i32 on the stack: 1 when the TLB entry for L_EA (set base L_DBASE) is a hit and the access
 * of 2^lg bytes is aligned. Sets L_LO and L_TI.
 */
function tlbCheck(e: Emit, tagLo: number, tagHi: number, lg: number): void {
  const aux = e.aux;
  e.get(L_EA).op(OP.i32WrapI64).tee(L_LO);
  e.i32(12).op(OP.i32ShrU).i32(TLB_MASK).op(OP.i32And).get(L_DBASE).op(OP.i32Add).i32(2).op(OP.i32Shl).set(L_TI);
  // tagLo == lo & -4096 (and aligned) — the tag's low 12 bits are 0 for a live entry, so compare the
  // address masked with -4096 | (size - 1) when the size is > 1 would also accept an invalid tag of 1;
  // check alignment separately.
  e.get(L_TI)
    .mem(OP.i32Load, 2, aux + tagLo)
    .get(L_LO)
    .i32(-4096)
    .op(OP.i32And, OP.i32Eq);
  e.get(L_TI)
    .mem(OP.i32Load, 2, aux + tagHi)
    .get(L_EA)
    .hiWord()
    .op(OP.i32Eq, OP.i32And);
  if (lg > 0) {
    e.get(L_LO)
      .i32((1 << lg) - 1)
      .op(OP.i32And, OP.i32Eqz, OP.i32And);
  }
}

/** MULH/MULHSU/MULHU through the hart's helper (wasm has no 64×64→128 multiply). */
function mulh(e: Emit, rs1: number, rs2: number, f3: number): void {
  e.reg(rs1).op(OP.i32WrapI64).reg(rs1).hiWord();
  e.reg(rs2).op(OP.i32WrapI64).reg(rs2).hiWord();
  e.i32(f3).op(OP.call).uleb(F_MULH);
  e.i32(0).mem(OP.i64Load, 3, e.aux + AUX.SCRATCH);
}

/** DIV/DIVU/REM/REMU with RISC-V's results for a zero divisor and for overflow (no wasm trap). */
function div64(e: Emit, rs1: number, rs2: number, f3: number): void {
  e.reg(rs1).set(L_A).reg(rs2).set(L_B);
  e.get(L_B).op(OP.i64Eqz, OP.if, I64);
  // Divide by zero: quotient all ones, remainder the dividend.
  if (f3 < 6) e.i64(-1);
  else e.get(L_A);
  e.op(OP.else);
  if (f3 === 4) {
    // MIN / -1 overflows in wasm: RISC-V gives MIN (= the dividend).
    e.get(L_B).i64(-1).op(OP.i64Eq, OP.if, I64).i64(0).get(L_A).op(OP.i64Sub, OP.else);
    e.get(L_A).get(L_B).op(OP.i64DivS, OP.end);
  } else if (f3 === 5) e.get(L_A).get(L_B).op(OP.i64DivU);
  else if (f3 === 6)
    e.get(L_A).get(L_B).op(OP.i64RemS); // wasm's rem_s gives 0 for MIN % -1
  else e.get(L_A).get(L_B).op(OP.i64RemU);
  e.op(OP.end);
}

/** DIVW/DIVUW/REMW/REMUW: leaves the i32 result (the caller sign-extends). */
function div32(e: Emit, rs1: number, rs2: number, f3: number): void {
  e.reg(rs1).op(OP.i32WrapI64).set(L_T).reg(rs2).op(OP.i32WrapI64).set(L_T2);
  e.get(L_T2).op(OP.i32Eqz, OP.if, I32);
  if (f3 < 6) e.i32(-1);
  else e.get(L_T);
  e.op(OP.else);
  if (f3 === 4) {
    e.get(L_T2).i32(-1).op(OP.i32Eq, OP.if, I32).i32(0).get(L_T).op(OP.i32Sub, OP.else);
    e.get(L_T).get(L_T2).op(OP.i32DivS, OP.end);
  } else if (f3 === 5) e.get(L_T).get(L_T2).op(OP.i32DivU);
  else if (f3 === 6) e.get(L_T).get(L_T2).op(OP.i32RemS);
  else e.get(L_T).get(L_T2).op(OP.i32RemU);
  e.op(OP.end);
}

/** One compiled block's code: the function body and each instruction's byte offset. */
export interface WasmBlockCode {
  body: number[];
  offs: number[];
  loops: boolean;
}

/**
 * Generates the body of the block whose first instruction is at RAM halfword index h0, or undefined
 * when its first instruction is left to the interpreter.
 */
export function genWasmBlock(src: CodeSource, h0: number, aux: number): WasmBlockCode | undefined {
  const pageEnd = (h0 | 2047) + 1;
  const e = new Emit(aux);
  const offs: number[] = [];
  // The loop shell: a block that branches to its own start re-enters here.
  e.get(L_PCLO).op(OP.i64ExtendI32U).get(L_PCHI).op(OP.i64ExtendI32U).i64(32).op(OP.i64Shl, OP.i64Or).set(L_PC);
  e.op(OP.loop, VOID);
  let h = h0;
  let k = 0;
  let ended = false;
  let loops = false;
  while (k < MAX_BLOCK && h < pageEnd) {
    const insn = blockInsn(src, h, pageEnd);
    if (insn === 0) break;
    const len = (src.u16[h] & 3) === 3 ? 4 : 2;
    const off = (h - h0) * 2;
    const mark = e.c.b.length;
    const g = gen(e, insn, len, off, k);
    if (g === undefined) {
      e.c.b.length = mark;
      break;
    }
    offs.push(off);
    k++;
    h += len >> 1;
    if (g === "ends") {
      // n + k retired; pc already stored.
      e.get(L_N).i32(k).op(OP.i32Add, OP.return);
      ended = true;
      break;
    }
    if (g === "branch") {
      const imm = ((insn >> 19) & 0xfffff000) | ((insn << 4) & 0x800) | ((insn >>> 20) & 0x7e0) | ((insn >>> 7) & 0x1e);
      if (imm !== -off) {
        // A side exit: taken, the block returns; not taken, it goes on with the next instruction
        // (kernel code is long runs of error checks that are rarely taken: fewer, longer blocks).
        e.op(OP.if, VOID);
        e.setPc(() => e.pcPlus(off, imm));
        e.get(L_N).i32(k).op(OP.i32Add, OP.return, OP.end);
        continue;
      }
      // Back to the block's own start: loop while the budget allows another whole pass.
      e.get(L_N).i32(k).op(OP.i32Add).set(L_N);
      loops = true;
      e.op(OP.if, VOID);
      e.get(L_N).i32(k).op(OP.i32Add).get(L_BUDGET).op(OP.i32LeU, OP.brIf).uleb(1);
      e.setPc(() => e.get(L_PC));
      e.get(L_N).op(OP.return, OP.end);
      e.setPc(() => e.pcPlus(off, len));
      e.get(L_N).op(OP.return);
      ended = true;
      break;
    }
  }
  if (k === 0) return undefined;
  if (!ended) {
    e.setPc(() => e.pcPlus((h - h0) * 2, 0));
    e.get(L_N).i32(k).op(OP.i32Add, OP.return);
  }
  e.op(OP.end); // loop
  // Every path above returns: the loop's end is unreachable.
  e.op(0x00);
  e.op(OP.end); // function
  return { body: e.c.b, offs, loops };
}

/** Builds a module holding the given block bodies (exports b0, b1, …). */
export function buildModule(bodies: number[][], memPages: number): Uint8Array<ArrayBuffer> {
  const m = new Bytes().u8(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  // Types: 0 block, 1 load, 2 store, 3 mulh, 4 amo/csr.
  const types = new Bytes().uleb(5);
  types.u8(0x60).uleb(4).u8(I32, I32, I32, I32).uleb(1).u8(I32);
  types.u8(0x60).uleb(4).u8(I32, I32, I32, I32).uleb(0);
  types.u8(0x60).uleb(6).u8(I32, I32, I32, I32, I32, I32).uleb(0);
  types.u8(0x60).uleb(5).u8(I32, I32, I32, I32, I32).uleb(0);
  types.u8(0x60).uleb(2).u8(I32, I32).uleb(0);
  m.section(1, types);
  const imports = new Bytes().uleb(6);
  imports.name("e").name("m").u8(0x02, 0x00).uleb(memPages);
  imports.name("e").name("l").u8(0x00).uleb(1);
  imports.name("e").name("s").u8(0x00).uleb(2);
  imports.name("e").name("h").u8(0x00).uleb(3);
  imports.name("e").name("a").u8(0x00).uleb(4);
  imports.name("e").name("c").u8(0x00).uleb(4);
  m.section(2, imports);
  const funcs = new Bytes().uleb(bodies.length);
  for (let i = 0; i < bodies.length; i++) funcs.uleb(0);
  m.section(3, funcs);
  const exports = new Bytes().uleb(bodies.length);
  for (let i = 0; i < bodies.length; i++)
    exports
      .name(`b${i}`)
      .u8(0x00)
      .uleb(IMPORTED_FNS + i);
  m.section(7, exports);
  const code = new Bytes().uleb(bodies.length);
  for (const body of bodies) {
    // Locals after the 4 params: 4 i64 (pc, ea, a, b), 5 i32 (lo, ti, n, t, t2).
    const fn = new Bytes().uleb(2).uleb(4).u8(I64).uleb(5).u8(I32).bytes(body);
    code.uleb(fn.b.length).bytes(fn.b);
  }
  m.section(10, code);
  return new Uint8Array(m.b);
}

/** Compiles block bodies into functions bound to the hart's memory and slow paths. */
export function instantiateBlocks(env: WasmJitEnv, bodies: number[][]): WasmBlock[] {
  const pages = env.memory.buffer.byteLength / 65536;
  const mod = new WebAssembly.Module(buildModule(bodies, pages));
  const inst = new WebAssembly.Instance(mod, {
    e: { m: env.memory, l: env.load, s: env.store, h: env.mulh, a: env.amo, c: env.csr },
  });
  const out: WasmBlock[] = [];
  for (let i = 0; i < bodies.length; i++) out.push(inst.exports[`b${i}`] as unknown as WasmBlock);
  return out;
}

/**
 * Every compiled block sits in one table at its cache slot, and JS enters them through one exported
 * chaining loop: a call from JS into wasm is cheap only when the call site always sees the same
 * function, and the hart's run loop would otherwise call thousands of blocks. The loop runs a block,
 * then looks the next pc up (fetch TLB → RAM halfword → slot → WTAG) and runs that block too, until the
 * budget is spent, a block took a slow path (which may have changed anything: MMIO, a trap, a write
 * to code, a stop request), or the next pc has no compiled block. Blocks are compiled in batches (one
 * module each), because a module costs ~100 µs however small.
 */
export class WasmBlockTable {
  readonly table: WebAssembly.Table;
  /** (slot, pcLo, pcHi, budget, dBase, xBase) → retired; runs table[slot] and chains on. */
  readonly chain: (slot: number, pcLo: number, pcHi: number, budget: number, dBase: number, xBase: number) => number;
  /** WTAG cells (state.ts AUX.WTAG): which entry's block each slot of the table holds. */
  readonly wtag: Int32Array;
  modules = 0;

  constructor(
    private readonly env: WasmJitEnv,
    slots: number,
  ) {
    this.table = new WebAssembly.Table({ element: "anyfunc", initial: slots });
    this.wtag = new Int32Array(env.memory.buffer, env.aux + AUX.WTAG, slots).fill(-1);
    const pages = env.memory.buffer.byteLength / 65536;
    const inst = new WebAssembly.Instance(new WebAssembly.Module(buildChain(slots, pages, env.aux)), {
      e: { t: this.table, m: env.memory },
    });
    this.chain = inst.exports.c as unknown as WasmBlockTable["chain"];
  }

  /** Compiles the bodies into one module and puts each function at its slot for entry hs[i]. */
  install(slots: readonly number[], hs: readonly number[], bodies: number[][]): void {
    const fns = instantiateBlocks(this.env, bodies);
    for (let i = 0; i < slots.length; i++) {
      this.table.set(slots[i], fns[i] as unknown as () => void);
      this.wtag[slots[i]] = hs[i];
    }
    this.modules++;
  }
}

/** The chaining module (see WasmBlockTable). */
function buildChain(slots: number, memPages: number, aux: number): Uint8Array<ArrayBuffer> {
  const m = new Bytes().u8(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const types = new Bytes().uleb(2);
  types.u8(0x60).uleb(4).u8(I32, I32, I32, I32).uleb(1).u8(I32);
  types.u8(0x60).uleb(6).u8(I32, I32, I32, I32, I32, I32).uleb(1).u8(I32);
  m.section(1, types);
  const imports = new Bytes().uleb(2);
  imports.name("e").name("t").u8(0x01, 0x70, 0x00).uleb(slots);
  imports.name("e").name("m").u8(0x02, 0x00).uleb(memPages);
  m.section(2, imports);
  m.section(3, new Bytes().uleb(1).uleb(1));
  m.section(7, new Bytes().uleb(1).name("c").u8(0x00).uleb(0));
  // Params: 0 slot, 1 pcLo, 2 pcHi, 3 budget, 4 dBase, 5 xBase. Locals: 6 n, 7 lo, 8 hi, 9 fi, 10 h.
  const e = new Emit(aux);
  const [SLOT, PCLO, PCHI, BUDGET, DBASE, XBASE, N, LO, HI, FI, H] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const cell = (at: number, v: () => void) => {
    e.i32(0);
    v();
    e.mem(OP.i32Store, 2, aux + at);
  };
  const load = (at: number) => e.i32(0).mem(OP.i32Load, 2, aux + at);
  e.op(OP.loop, VOID);
  cell(AUX.CUR_SLOT, () => e.get(SLOT));
  cell(AUX.CUR_PCLO, () => e.get(PCLO));
  cell(AUX.CUR_PCHI, () => e.get(PCHI));
  cell(AUX.CUR_N, () => e.get(N));
  cell(AUX.EXIT, () => e.i32(0));
  e.get(PCLO).get(PCHI).get(BUDGET).get(N).op(OP.i32Sub).get(DBASE).get(SLOT);
  e.op(0x11).uleb(0).uleb(0); // call_indirect type 0, table 0
  e.get(N).op(OP.i32Add).set(N);
  // A slow path ran, or the budget is spent: back to JS.
  load(AUX.EXIT).get(N).get(BUDGET).op(0x4e /* i32.ge_s */, OP.i32Or, OP.if, VOID).get(N).op(OP.return, OP.end);
  load(AUX.PC).set(LO);
  load(AUX.PC + 4).set(HI);
  // The next pc must sit in its page with 4 bytes to spare (as the interpreter's own lookup asks).
  e.get(LO).i32(4095).op(OP.i32And).i32(4092).op(0x4b /* i32.gt_u */, OP.if, VOID).get(N).op(OP.return, OP.end);
  e.get(LO).i32(12).op(OP.i32ShrU).i32(TLB_MASK).op(OP.i32And).get(XBASE).op(OP.i32Add).i32(2).op(OP.i32Shl).set(FI);
  e.get(FI)
    .mem(OP.i32Load, 2, aux + AUX.X_TAG_LO)
    .get(LO)
    .i32(-4096)
    .op(OP.i32And, OP.i32Ne);
  e.get(FI)
    .mem(OP.i32Load, 2, aux + AUX.X_TAG_HI)
    .get(HI)
    .op(OP.i32Ne, OP.i32Or, OP.if, VOID)
    .get(N)
    .op(OP.return, OP.end);
  e.get(FI)
    .mem(OP.i32Load, 2, aux + AUX.X_OFF)
    .get(LO)
    .i32(4095)
    .op(OP.i32And, OP.i32Add)
    .i32(1)
    .op(OP.i32ShrU)
    .set(H);
  // slot = jitSlot(h) (jit.ts): the multiplicative hash's top 16 bits.
  e.get(H).i32(-1640531535).op(OP.i32Mul).i32(16).op(OP.i32ShrU).set(SLOT);
  e.get(SLOT)
    .i32(2)
    .op(OP.i32Shl)
    .mem(OP.i32Load, 2, aux + AUX.WTAG)
    .get(H)
    .op(OP.i32Ne, OP.if, VOID)
    .get(N)
    .op(OP.return, OP.end);
  e.get(LO).set(PCLO);
  e.get(HI).set(PCHI);
  e.op(OP.br).uleb(0);
  e.op(OP.end);
  e.op(0x00, OP.end);
  const body = new Bytes().uleb(1).uleb(5).u8(I32).bytes(e.c.b);
  m.section(10, new Bytes().uleb(1).uleb(body.b.length).bytes(body.b));
  return new Uint8Array(m.b);
}

/** True when this host can run the backend (WebAssembly present and not forbidden by a CSP). */
export function wasmJitAvailable(): boolean {
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(buildModule([[0x41, 0x00, 0x0b]], 1));
  } catch {
    return false;
  }
}

export { AUX_BYTES };
