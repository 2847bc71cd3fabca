// The F and D extensions (RISC-V unprivileged spec, chapters "F" and "D", RV64): every OP-FP (major opcode
// 0x53) and fused multiply-add (0x43/0x47/0x4B/0x4F) instruction. The hart owns FP loads/stores and the
// mstatus.FS checks; it calls exec() and raises an illegal-instruction trap when exec() returns false.
//
// Single-precision values are NaN-boxed in the 64-bit f registers: a single operand whose upper half is not all
// ones reads as the canonical NaN, and single results get an all-ones upper half. Arithmetic NaN results are
// always the canonical NaN, written as explicit bits because JS does not preserve NaN payloads.
//
// Round-to-nearest-even add/sub/mul/div/sqrt (and single FMA) run on JS numbers (fpu-fast.ts); everything else
// — other rounding modes, double FMA, NaN/infinity/overflow/underflow — takes the exact path (fpu-soft.ts).

import {
  arithD,
  arithS,
  fmaD,
  fmaS,
  NOT_HANDLED,
  OP_ADD,
  OP_DIV,
  OP_MUL,
  OP_SUB,
  roundToIntegral,
  sqrtD,
  sqrtS,
} from "./fpu-fast.ts";
import { F32, F64, FFLAG_NV, FFLAG_NX, RM_DYN, RM_RNE, SoftFloat } from "./fpu-soft.ts";
import type { HartState } from "./state.ts";

/** Major opcodes. */
const OPCODE_MADD = 0x43;
const OPCODE_MSUB = 0x47;
const OPCODE_NMSUB = 0x4b;
const OPCODE_NMADD = 0x4f;
const OPCODE_OP_FP = 0x53;

/** funct5 (insn[31:27]) of OP-FP. */
const FUNCT5_FADD = 0x00;
const FUNCT5_FSUB = 0x01;
const FUNCT5_FMUL = 0x02;
const FUNCT5_FDIV = 0x03;
const FUNCT5_FSGNJ = 0x04;
const FUNCT5_FMINMAX = 0x05;
const FUNCT5_FCVT_FMT_FMT = 0x08;
const FUNCT5_FSQRT = 0x0b;
const FUNCT5_FCMP = 0x14;
const FUNCT5_FCVT_INT_FMT = 0x18;
const FUNCT5_FCVT_FMT_INT = 0x1a;
const FUNCT5_FMV_X_FCLASS = 0x1c;
const FUNCT5_FMV_FMT_X = 0x1e;

/** fmt field (insn[26:25]). H and Q are not implemented. */
const FMT_S = 0;
const FMT_D = 1;

/** rs2 field of FCVT between integer and float: the integer type. */
const CVT_W = 0;
const CVT_WU = 1;
const CVT_L = 2;
const CVT_LU = 3;

const CANONICAL_NAN_S = 0x7fc00000;
const CANONICAL_NAN_D_HI = 0x7ff80000;
const TWO_32 = 4294967296;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
/** An int64 whose high word lies in [-2^21, 2^21) is exactly representable in binary64. */
const EXACT_HI = 0x200000;

export class Fpu {
  /** Accrued exceptions: NV DZ OF UF NX (NV = 16 … NX = 1). */
  fflags = 0;
  /** Dynamic rounding mode. */
  frm = 0;
  private readonly x: Int32Array;
  private readonly f: Int32Array;
  private readonly fd: Float64Array;
  private readonly fs: Float32Array;
  private readonly soft = new SoftFloat();

  constructor(state: HartState) {
    this.x = state.x;
    this.f = state.f;
    this.fd = state.fd;
    this.fs = state.fs;
  }

  /**
   * Executes one OP-FP or fused instruction. Returns false, with no state changed, for an illegal encoding:
   * fmt other than S/D, a reserved rm (5, 6, or 7 while frm holds 5..7), an unknown funct or a reserved rs2.
   */
  exec(insn: number): boolean {
    const opcode = insn & 0x7f;
    const fmt = (insn >>> 25) & 3;
    if (fmt > FMT_D) return false;
    const rd = (insn >>> 7) & 31;
    const rm = (insn >>> 12) & 7;
    const rs1 = (insn >>> 15) & 31;
    const rs2 = (insn >>> 20) & 31;
    if (opcode !== OPCODE_OP_FP) return this.execFused(opcode, fmt, rd, rm, rs1, rs2, insn >>> 27);
    switch (insn >>> 27) {
      case FUNCT5_FADD:
        return this.arith(OP_ADD, fmt, rd, rm, rs1, rs2);
      case FUNCT5_FSUB:
        return this.arith(OP_SUB, fmt, rd, rm, rs1, rs2);
      case FUNCT5_FMUL:
        return this.arith(OP_MUL, fmt, rd, rm, rs1, rs2);
      case FUNCT5_FDIV:
        return this.arith(OP_DIV, fmt, rd, rm, rs1, rs2);
      case FUNCT5_FSQRT:
        return rs2 === 0 && this.sqrt(fmt, rd, rm, rs1);
      case FUNCT5_FSGNJ:
        return rm <= 2 && this.sgnj(fmt, rd, rm, rs1, rs2);
      case FUNCT5_FMINMAX:
        return rm <= 1 && this.minmax(fmt, rd, rm === 1, rs1, rs2);
      case FUNCT5_FCMP:
        return rm <= 2 && this.compare(fmt, rd, rm, rs1, rs2);
      case FUNCT5_FCVT_FMT_FMT:
        // FCVT.S.D has fmt S and rs2 = 1 (D); FCVT.D.S has fmt D and rs2 = 0 (S).
        return rs2 === 1 - fmt && this.cvtFF(fmt, rd, rm, rs1);
      case FUNCT5_FCVT_INT_FMT:
        return rs2 <= CVT_LU && this.cvtToInt(fmt, rd, rm, rs1, rs2);
      case FUNCT5_FCVT_FMT_INT:
        return rs2 <= CVT_LU && this.cvtFromInt(fmt, rd, rm, rs1, rs2);
      case FUNCT5_FMV_X_FCLASS:
        if (rs2 !== 0 || rm > 1) return false;
        if (rm === 0) this.fmvToX(fmt, rd, rs1);
        else this.writeX32(rd, this.fclass(fmt, rs1));
        return true;
      case FUNCT5_FMV_FMT_X:
        if (rs2 !== 0 || rm !== 0) return false;
        if (fmt === FMT_S) this.writeS(rd, this.x[2 * rs1]!);
        else this.writeD(rd, this.x[2 * rs1]!, this.x[2 * rs1 + 1]!);
        return true;
      default:
        return false;
    }
  }

  /** The effective rounding mode, or -1 when the encoding is illegal (reserved static or dynamic mode). */
  private roundingMode(rm: number): number {
    if (rm === RM_DYN) rm = this.frm;
    return rm <= 4 ? rm : -1;
  }

  // ---- register access ----

  /** A single operand's bits: the canonical NaN unless properly NaN-boxed. */
  private readS(i: number): number {
    return this.f[2 * i + 1] === -1 ? this.f[2 * i]! : CANONICAL_NAN_S;
  }

  private isBoxed(i: number): boolean {
    return this.f[2 * i + 1] === -1;
  }

  private writeS(i: number, bits: number): void {
    this.f[2 * i] = bits;
    this.f[2 * i + 1] = -1;
  }

  private writeD(i: number, lo: number, hi: number): void {
    this.f[2 * i] = lo;
    this.f[2 * i + 1] = hi;
  }

  private writeX(rd: number, lo: number, hi: number): void {
    if (rd === 0) return;
    this.x[2 * rd] = lo;
    this.x[2 * rd + 1] = hi;
  }

  /** Writes a 32-bit result sign-extended to 64 bits, as every RV64 W-sized result is. */
  private writeX32(rd: number, v: number): void {
    this.writeX(rd, v | 0, (v | 0) >> 31);
  }

  private bigS(i: number): bigint {
    return BigInt(this.readS(i) >>> 0);
  }

  private bigD(i: number): bigint {
    return (BigInt(this.f[2 * i + 1]! >>> 0) << 32n) | BigInt(this.f[2 * i]! >>> 0);
  }

  private writeBig(fmt: number, rd: number, v: bigint): void {
    if (fmt === FMT_S) this.writeS(rd, Number(v) | 0);
    else this.writeD(rd, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
  }

  /** Moves the exact path's flags into fflags. */
  private collect(): void {
    this.fflags |= this.soft.flags;
    this.soft.flags = 0;
  }

  // ---- arithmetic ----

  private arith(op: number, fmt: number, rd: number, rm: number, rs1: number, rs2: number): boolean {
    const mode = this.roundingMode(rm);
    if (mode < 0) return false;
    if (mode === RM_RNE) {
      let flags = NOT_HANDLED;
      if (fmt === FMT_D) flags = arithD(op, this.fd, rd, this.fd[rs1]!, this.fd[rs2]!);
      else if (this.isBoxed(rs1) && this.isBoxed(rs2))
        flags = arithS(op, this.fs, this.f, rd, this.fs[2 * rs1]!, this.fs[2 * rs2]!);
      if (flags !== NOT_HANDLED) {
        this.fflags |= flags;
        return true;
      }
    }
    const ff = fmt === FMT_S ? F32 : F64;
    const a = fmt === FMT_S ? this.bigS(rs1) : this.bigD(rs1);
    const b = fmt === FMT_S ? this.bigS(rs2) : this.bigD(rs2);
    const s = this.soft;
    const r =
      op === OP_ADD || op === OP_SUB
        ? s.add(ff, a, b, mode, op === OP_SUB)
        : op === OP_MUL
          ? s.mul(ff, a, b, mode)
          : s.div(ff, a, b, mode);
    this.writeBig(fmt, rd, r);
    this.collect();
    return true;
  }

  private sqrt(fmt: number, rd: number, rm: number, rs1: number): boolean {
    const mode = this.roundingMode(rm);
    if (mode < 0) return false;
    if (mode === RM_RNE) {
      let flags = NOT_HANDLED;
      if (fmt === FMT_D) flags = sqrtD(this.fd, rd, this.fd[rs1]!);
      else if (this.isBoxed(rs1)) flags = sqrtS(this.fs, this.f, rd, this.fs[2 * rs1]!);
      if (flags !== NOT_HANDLED) {
        this.fflags |= flags;
        return true;
      }
    }
    const r = fmt === FMT_S ? this.soft.sqrt(F32, this.bigS(rs1), mode) : this.soft.sqrt(F64, this.bigD(rs1), mode);
    this.writeBig(fmt, rd, r);
    this.collect();
    return true;
  }

  private execFused(opcode: number, fmt: number, rd: number, rm: number, rs1: number, rs2: number, rs3: number) {
    let negProd: boolean;
    let negC: boolean;
    switch (opcode) {
      case OPCODE_MADD:
        negProd = false;
        negC = false;
        break;
      case OPCODE_MSUB:
        negProd = false;
        negC = true;
        break;
      case OPCODE_NMSUB:
        negProd = true;
        negC = false;
        break;
      case OPCODE_NMADD:
        negProd = true;
        negC = true;
        break;
      default:
        return false;
    }
    const mode = this.roundingMode(rm);
    if (mode < 0) return false;
    if (fmt === FMT_S) {
      if (mode === RM_RNE && this.isBoxed(rs1) && this.isBoxed(rs2) && this.isBoxed(rs3)) {
        const a = this.fs[2 * rs1]!;
        const b = this.fs[2 * rs2]!;
        const c = this.fs[2 * rs3]!;
        const flags = fmaS(this.fs, this.f, rd, negProd ? -a : a, b, negC ? -c : c);
        if (flags !== NOT_HANDLED) {
          this.fflags |= flags;
          return true;
        }
      }
      this.writeBig(fmt, rd, this.soft.fma(F32, this.bigS(rs1), this.bigS(rs2), this.bigS(rs3), negProd, negC, mode));
    } else {
      if (mode === RM_RNE) {
        const a = this.fd[rs1]!;
        const c = this.fd[rs3]!;
        const flags = fmaD(this.fd, rd, negProd ? -a : a, this.fd[rs2]!, negC ? -c : c);
        if (flags !== NOT_HANDLED) {
          this.fflags |= flags;
          return true;
        }
      }
      this.writeBig(fmt, rd, this.soft.fma(F64, this.bigD(rs1), this.bigD(rs2), this.bigD(rs3), negProd, negC, mode));
    }
    this.collect();
    return true;
  }

  // ---- sign injection, min/max, compare, classify: bit operations, never rounded ----

  private sgnj(fmt: number, rd: number, rm: number, rs1: number, rs2: number): boolean {
    // Only the sign word differs: the low word of a double (or the whole single) comes from rs1.
    const a = fmt === FMT_S ? this.readS(rs1) : this.f[2 * rs1 + 1]!;
    const b = fmt === FMT_S ? this.readS(rs2) : this.f[2 * rs2 + 1]!;
    const sign = rm === 0 ? b : rm === 1 ? ~b : a ^ b;
    const top = (a & 0x7fffffff) | (sign & 0x80000000);
    if (fmt === FMT_S) this.writeS(rd, top);
    else this.writeD(rd, this.f[2 * rs1]!, top);
    return true;
  }

  /** 0 when register i (read as fmt) is not a NaN, 1 for a quiet NaN, 2 for a signaling one. */
  private nanKind(fmt: number, i: number): number {
    if (fmt === FMT_S) {
      const v = this.readS(i);
      if ((v & 0x7f800000) !== 0x7f800000 || (v & 0x7fffff) === 0) return 0;
      return v & 0x400000 ? 1 : 2;
    }
    const hi = this.f[2 * i + 1]!;
    if ((hi & 0x7ff00000) !== 0x7ff00000 || ((hi & 0xfffff) | this.f[2 * i]!) === 0) return 0;
    return hi & 0x80000 ? 1 : 2;
  }

  /** Numeric value of a non-NaN operand. */
  private value(fmt: number, i: number): number {
    return fmt === FMT_S ? this.fs[2 * i]! : this.fd[i]!;
  }

  private signOf(fmt: number, i: number): number {
    return fmt === FMT_S ? this.f[2 * i]! >>> 31 : this.f[2 * i + 1]! >>> 31;
  }

  /** FMIN/FMAX, IEEE 754-2019 minimumNumber/maximumNumber: -0 < +0, a NaN yields the other operand. */
  private minmax(fmt: number, rd: number, isMax: boolean, rs1: number, rs2: number): boolean {
    const na = this.nanKind(fmt, rs1);
    const nb = this.nanKind(fmt, rs2);
    if (na === 2 || nb === 2) this.fflags |= FFLAG_NV;
    let pick: number;
    if (na !== 0 && nb !== 0) {
      if (fmt === FMT_S) this.writeS(rd, CANONICAL_NAN_S);
      else this.writeD(rd, 0, CANONICAL_NAN_D_HI);
      return true;
    }
    if (na !== 0) pick = rs2;
    else if (nb !== 0) pick = rs1;
    else {
      const a = this.value(fmt, rs1);
      const b = this.value(fmt, rs2);
      if (a === b) {
        // equal values differ at most in the sign of zero: min prefers the negative one
        const aNeg = this.signOf(fmt, rs1) === 1;
        pick = aNeg === !isMax ? rs1 : rs2;
      } else pick = a < b !== isMax ? rs1 : rs2;
    }
    if (fmt === FMT_S) this.writeS(rd, this.f[2 * pick]!);
    else this.writeD(rd, this.f[2 * pick]!, this.f[2 * pick + 1]!);
    return true;
  }

  /** FLE (rm 0), FLT (rm 1), FEQ (rm 2). FEQ is quiet (NV only for sNaN); FLT/FLE signal on any NaN. */
  private compare(fmt: number, rd: number, rm: number, rs1: number, rs2: number): boolean {
    const na = this.nanKind(fmt, rs1);
    const nb = this.nanKind(fmt, rs2);
    let r = 0;
    if (na !== 0 || nb !== 0) {
      if (rm !== 2 || na === 2 || nb === 2) this.fflags |= FFLAG_NV;
    } else {
      const a = this.value(fmt, rs1);
      const b = this.value(fmt, rs2);
      r = rm === 0 ? +(a <= b) : rm === 1 ? +(a < b) : +(a === b);
    }
    this.writeX(rd, r, 0);
    return true;
  }

  /** FCLASS: one-hot mask, bit 0 = -inf … bit 7 = +inf, bit 8 = sNaN, bit 9 = qNaN. */
  private fclass(fmt: number, rs1: number): number {
    let neg: boolean;
    let exp: number;
    let fracZero: boolean;
    let quiet: boolean;
    let expMax: number;
    if (fmt === FMT_S) {
      const v = this.readS(rs1);
      neg = v < 0;
      exp = (v >>> 23) & 0xff;
      expMax = 0xff;
      fracZero = (v & 0x7fffff) === 0;
      quiet = (v & 0x400000) !== 0;
    } else {
      const hi = this.f[2 * rs1 + 1]!;
      neg = hi < 0;
      exp = (hi >>> 20) & 0x7ff;
      expMax = 0x7ff;
      fracZero = ((hi & 0xfffff) | this.f[2 * rs1]!) === 0;
      quiet = (hi & 0x80000) !== 0;
    }
    if (exp === expMax) {
      if (fracZero) return neg ? 1 << 0 : 1 << 7;
      return quiet ? 1 << 9 : 1 << 8;
    }
    if (exp === 0) {
      if (fracZero) return neg ? 1 << 3 : 1 << 4;
      return neg ? 1 << 2 : 1 << 5;
    }
    return neg ? 1 << 1 : 1 << 6;
  }

  private fmvToX(fmt: number, rd: number, rs1: number): void {
    // FMV.X.W moves the raw low 32 bits, boxed or not, sign-extended.
    if (fmt === FMT_S) this.writeX32(rd, this.f[2 * rs1]!);
    else this.writeX(rd, this.f[2 * rs1]!, this.f[2 * rs1 + 1]!);
  }

  // ---- conversions ----

  /** FCVT.S.D (fmt S) and FCVT.D.S (fmt D). */
  private cvtFF(fmt: number, rd: number, rm: number, rs1: number): boolean {
    const mode = this.roundingMode(rm);
    if (mode < 0) return false;
    if (fmt === FMT_D) {
      if (this.isBoxed(rs1) && this.nanKind(FMT_S, rs1) === 0) {
        this.fd[rd] = this.fs[2 * rs1]!; // widening is exact
        return true;
      }
      this.writeBig(FMT_D, rd, this.soft.convert(F64, F32, this.bigS(rs1), mode));
    } else {
      const x = this.fd[rs1]!;
      const r = Math.fround(x);
      if (mode === RM_RNE && Math.abs(r) <= 3.4028234663852886e38 && (r === x || Math.abs(r) > 2 ** -126)) {
        this.fs[2 * rd] = r;
        this.f[2 * rd + 1] = -1;
        if (r !== x) this.fflags |= FFLAG_NX;
        return true;
      }
      this.writeBig(FMT_S, rd, this.soft.convert(F32, F64, this.bigD(rs1), mode));
    }
    this.collect();
    return true;
  }

  /** FCVT.W/WU/L/LU.S/D: round to an integer, saturating (with NV) when out of range or NaN. */
  private cvtToInt(fmt: number, rd: number, rm: number, rs1: number, type: number): boolean {
    const mode = this.roundingMode(rm);
    if (mode < 0) return false;
    // A non-NaN single is exact as a double; an unboxed single reads as NaN.
    const x = fmt === FMT_D ? this.fd[rs1]! : this.isBoxed(rs1) ? this.fs[2 * rs1]! : Number.NaN;
    const t = !Number.isNaN(x) ? roundToIntegral(x, mode) : Number.NaN;
    let lo: number;
    let hi: number;
    let inRange: boolean;
    switch (type) {
      case CVT_W:
        inRange = t >= -2147483648 && t <= 2147483647;
        lo = inRange ? t | 0 : !Number.isNaN(x) && t < 0 ? -2147483648 : 2147483647;
        hi = lo >> 31;
        break;
      case CVT_WU:
        inRange = t >= 0 && t <= 4294967295;
        lo = inRange ? t | 0 : !Number.isNaN(x) && t < 0 ? 0 : -1;
        hi = lo >> 31; // the 32-bit result is sign-extended even for WU
        break;
      case CVT_L:
        inRange = t >= -TWO_63 && t < TWO_63;
        if (inRange) {
          hi = Math.floor(t / TWO_32);
          lo = (t - hi * TWO_32) | 0;
          hi |= 0;
        } else if (!Number.isNaN(x) && t < 0) {
          hi = -2147483648;
          lo = 0;
        } else {
          hi = 0x7fffffff;
          lo = -1;
        }
        break;
      default:
        inRange = t >= 0 && t < TWO_64;
        if (inRange) {
          hi = Math.floor(t / TWO_32);
          lo = (t - hi * TWO_32) | 0;
          hi |= 0;
        } else {
          lo = hi = !Number.isNaN(x) && t < 0 ? 0 : -1;
        }
        break;
    }
    if (!inRange) this.fflags |= FFLAG_NV;
    else if (t !== x) this.fflags |= FFLAG_NX;
    this.writeX(rd, lo, hi);
    return true;
  }

  /** FCVT.S/D.W/WU/L/LU. */
  private cvtFromInt(fmt: number, rd: number, rm: number, rs1: number, type: number): boolean {
    const mode = this.roundingMode(rm);
    if (mode < 0) return false;
    const lo = this.x[2 * rs1]!;
    const hi = this.x[2 * rs1 + 1]!;
    // The integer as a JS number when that is exact (W/WU always; L/LU below 2^53).
    let v: number;
    switch (type) {
      case CVT_W:
        v = lo;
        break;
      case CVT_WU:
        v = lo >>> 0;
        break;
      case CVT_L:
        v = hi >= -EXACT_HI && hi < EXACT_HI ? hi * TWO_32 + (lo >>> 0) : Number.NaN;
        break;
      default:
        v = hi >>> 0 < EXACT_HI ? (hi >>> 0) * TWO_32 + (lo >>> 0) : Number.NaN;
        break;
    }
    if (!Number.isNaN(v)) {
      if (fmt === FMT_D) {
        this.fd[rd] = v; // |v| < 2^53: exact
        return true;
      }
      if (mode === RM_RNE) {
        const r = Math.fround(v);
        this.writeS(rd, 0);
        this.fs[2 * rd] = r;
        if (r !== v) this.fflags |= FFLAG_NX;
        return true;
      }
    }
    let big: bigint;
    const u64 = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    switch (type) {
      case CVT_W:
        big = BigInt(lo);
        break;
      case CVT_WU:
        big = BigInt(lo >>> 0);
        break;
      case CVT_L:
        big = BigInt.asIntN(64, u64);
        break;
      default:
        big = u64;
        break;
    }
    this.writeBig(fmt, rd, this.soft.fromInt(fmt === FMT_S ? F32 : F64, big, mode));
    this.collect();
    return true;
  }
}
