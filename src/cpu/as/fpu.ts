// AssemblyScript: the F and D extensions (RISC-V unprivileged spec, chapters "F" and "D", RV64), ported from
// the TypeScript hart's FPU (src/cpu/fpu.ts, fpu-fast.ts, fpu-soft.ts; removed since): every OP-FP (0x53) and fused
// multiply-add (0x43/0x47/0x4B/0x4F) instruction, every rounding mode, every exception flag. The caller owns
// FLW/FLD/FSW/FSD, the mstatus.FS check and marking FS dirty; it raises an illegal-instruction trap when
// fpExec() returns false (and then nothing here has changed).
//
// Singles are NaN-boxed in the 64-bit f registers: a single operand whose upper half is not all ones reads as
// the canonical NaN, and single results get an all-ones upper half. Arithmetic NaN results are always the
// canonical NaN, written as explicit bits (never a NaN produced by a wasm float operation).
//
// Round-to-nearest-even add/sub/mul/div/sqrt and FMA run on wasm floats (which round to nearest even) plus an
// exactness check (TwoSum, Dekker's TwoProduct, round-to-odd for FMA) that decides NX; they hand over to the
// exact integer path whenever NaN, infinity, overflow or a possibly tiny result is involved. The exact path
// ("soft") works on u64 significands; sums and double products that need more bits use 128-bit (hi, lo) pairs
// with a sticky ("jam") bit, so double FMA is exact without a host fma.
//
// No managed objects: helpers return through module globals. No data segments.

import { xr, xw, fr, fw, fflags, frm } from "./state";

// ---- constants ----

/** fflags bits. */
const FLAG_NV: u32 = 16;
const FLAG_DZ: u32 = 8;
const FLAG_OF: u32 = 4;
const FLAG_UF: u32 = 2;
const FLAG_NX: u32 = 1;

/** Rounding modes (rm field, frm). */
const RM_RNE: u32 = 0;
const RM_RTZ: u32 = 1;
const RM_RDN: u32 = 2;
const RM_RUP: u32 = 3;
const RM_RMM: u32 = 4;
const RM_DYN: u32 = 7;
/** roundingMode() result for a reserved mode. */
const RM_ILLEGAL: u32 = 0xffffffff;

/** Major opcodes. */
const OPCODE_MADD: u32 = 0x43;
const OPCODE_MSUB: u32 = 0x47;
const OPCODE_NMSUB: u32 = 0x4b;
const OPCODE_NMADD: u32 = 0x4f;
const OPCODE_OP_FP: u32 = 0x53;

/** funct5 (insn[31:27]) of OP-FP. */
const FUNCT5_FADD: u32 = 0x00;
const FUNCT5_FSUB: u32 = 0x01;
const FUNCT5_FMUL: u32 = 0x02;
const FUNCT5_FDIV: u32 = 0x03;
const FUNCT5_FSGNJ: u32 = 0x04;
const FUNCT5_FMINMAX: u32 = 0x05;
const FUNCT5_FCVT_FMT_FMT: u32 = 0x08;
const FUNCT5_FSQRT: u32 = 0x0b;
const FUNCT5_FCMP: u32 = 0x14;
const FUNCT5_FCVT_INT_FMT: u32 = 0x18;
const FUNCT5_FCVT_FMT_INT: u32 = 0x1a;
const FUNCT5_FMV_X_FCLASS: u32 = 0x1c;
const FUNCT5_FMV_FMT_X: u32 = 0x1e;

/** fmt field (insn[26:25]). H and Q are not implemented. */
const FMT_S: u32 = 0;
const FMT_D: u32 = 1;

/** rs2 of FCVT between integer and float: the integer type. */
const CVT_W: u32 = 0;
const CVT_WU: u32 = 1;
const CVT_L: u32 = 2;
const CVT_LU: u32 = 3;

const OP_ADD: u32 = 0;
const OP_SUB: u32 = 1;
const OP_MUL: u32 = 2;
const OP_DIV: u32 = 3;

/** Fast paths return this instead of flags when the exact path must decide. */
const NOT_HANDLED: i32 = -1;

const BOX: u64 = 0xffffffff00000000;
const CANONICAL_NAN_S: u64 = 0x7fc00000;
const CANONICAL_NAN_D: u64 = 0x7ff8000000000000;
const INF_S: u64 = 0x7f800000;
const INF_D: u64 = 0x7ff0000000000000;
const SIGN_S: u64 = 0x80000000;
const SIGN_D: u64 = 0x8000000000000000;

/** Operand classes of the exact path. */
const CLS_ZERO: i32 = 0;
const CLS_FINITE: i32 = 1; // nonzero finite, subnormals included
const CLS_INF: i32 = 2;
const CLS_QNAN: i32 = 3;
const CLS_SNAN: i32 = 4;

/** Veltkamp splitting constant 2^27 + 1. */
const SPLIT: f64 = 134217729.0;
/** 2^995: above this, splitting (×2^27) or the partial products of TwoProduct could overflow. */
const SPLIT_MAX: f64 = 3.3484643974570854e299;
/** 2^-969: below this a product's rounding error may not be representable. */
const PRODUCT_MIN: f64 = 2.004168360008973e-292;
/** 2^1020. */
const PRODUCT_MAX: f64 = 1.1235582092889474e307;
/** 2^-1022. */
const F64_MIN_NORMAL: f64 = 2.2250738585072014e-308;
/** 2^-126. */
const F32_MIN_NORMAL: f64 = 1.1754943508222875e-38;
/** Largest finite single, 2^128 - 2^104. */
const F32_MAX: f64 = 3.4028234663852886e38;
/** 2^-900: below this a sum's lower part could be subnormal, where rounding to odd loses bits it must keep. */
const FMA_SUM_MIN: f64 = 1.1830521861667747e-271;

// ---- format parameters (isD: binary64, else binary32) ----

@inline function precision(isD: bool): i32 {
  return isD ? 53 : 24;
}
@inline function eminOf(isD: bool): i32 {
  return isD ? -1022 : -126;
}
@inline function emaxOf(isD: bool): i32 {
  return isD ? 1023 : 127;
}
@inline function canonicalNaN(isD: bool): u64 {
  return isD ? CANONICAL_NAN_D : CANONICAL_NAN_S;
}
@inline function infBits(isD: bool): u64 {
  return isD ? INF_D : INF_S;
}
@inline function signedZero(isD: bool, sign: u32): u64 {
  return sign != 0 ? (isD ? SIGN_D : SIGN_S) : 0;
}

// ---- register access ----

@inline function isBoxed(i: u32): bool {
  return (fr(i) >> 32) == 0xffffffff;
}

/** A single operand's bits (low 32): the canonical NaN unless properly NaN-boxed. */
@inline function readS(i: u32): u64 {
  const v = fr(i);
  return (v >> 32) == 0xffffffff ? v & 0xffffffff : CANONICAL_NAN_S;
}

/** Operand bits as the exact path wants them: a double's 64 bits or a single's 32 (unboxed → canonical NaN). */
@inline function operand(isD: bool, i: u32): u64 {
  return isD ? fr(i) : readS(i);
}

@inline function writeS(rd: u32, bits: u64): void {
  fw(rd, BOX | (bits & 0xffffffff));
}

@inline function writeResult(isD: bool, rd: u32, bits: u64): void {
  if (isD) fw(rd, bits);
  else writeS(rd, bits);
}

@inline function writeSingle(rd: u32, r: f32): void {
  fw(rd, BOX | <u64>reinterpret<u32>(r));
}

@inline function writeDouble(rd: u32, r: f64): void {
  fw(rd, reinterpret<u64>(r));
}

/** Writes a 32-bit result sign-extended to 64 bits, as every RV64 W-sized result is. */
@inline function writeX32(rd: u32, v: u32): void {
  xw(rd, <u64>(<i64>(<i32>v)));
}

@inline function singleValue(i: u32): f32 {
  return reinterpret<f32>(<u32>fr(i));
}

@inline function doubleValue(i: u32): f64 {
  return reinterpret<f64>(fr(i));
}

// ---- 128-bit helpers (results in globals) ----

let w128Hi: u64 = 0;
let w128Lo: u64 = 0;

/** Full 64×64 → 128-bit product into (w128Hi, w128Lo). */
function mul64(a: u64, b: u64): void {
  const a0 = a & 0xffffffff;
  const a1 = a >> 32;
  const b0 = b & 0xffffffff;
  const b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  w128Lo = (p00 & 0xffffffff) | (mid << 32);
  w128Hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

@inline function clz128(hi: u64, lo: u64): i32 {
  return hi != 0 ? <i32>clz<u64>(hi) : 64 + <i32>clz<u64>(lo);
}

/** (hi, lo) << s for 0 ≤ s < 128, into (w128Hi, w128Lo). */
function shl128(hi: u64, lo: u64, s: i32): void {
  if (s == 0) {
    w128Hi = hi;
    w128Lo = lo;
  } else if (s < 64) {
    w128Hi = (hi << <u64>s) | (lo >> <u64>(64 - s));
    w128Lo = lo << <u64>s;
  } else {
    w128Hi = lo << <u64>(s - 64);
    w128Lo = 0;
  }
}

/** (hi, lo) >> s for s ≥ 0 with any bit shifted out ORed into bit 0 ("jamming"), into (w128Hi, w128Lo). */
function shrJam128(hi: u64, lo: u64, s: i32): void {
  if (s == 0) {
    w128Hi = hi;
    w128Lo = lo;
  } else if (s < 64) {
    const lost = (lo << <u64>(64 - s)) != 0;
    w128Lo = (lo >> <u64>s) | (hi << <u64>(64 - s)) | (lost ? 1 : 0);
    w128Hi = hi >> <u64>s;
  } else if (s == 64) {
    w128Lo = hi | (lo != 0 ? 1 : 0);
    w128Hi = 0;
  } else if (s < 128) {
    const lost = lo != 0 || (hi << <u64>(128 - s)) != 0;
    w128Lo = (hi >> <u64>(s - 64)) | (lost ? 1 : 0);
    w128Hi = 0;
  } else {
    w128Lo = (hi | lo) != 0 ? 1 : 0;
    w128Hi = 0;
  }
}

// ---- exact path: unpacking ----

/** unpack() output: class, sign, and for CLS_FINITE the value m × 2^e. */
let uCls: i32 = 0;
let uSign: u32 = 0;
let uM: u64 = 0;
let uE: i32 = 0;

let aCls: i32 = 0;
let aSign: u32 = 0;
let aM: u64 = 0;
let aE: i32 = 0;
let bCls: i32 = 0;
let bSign: u32 = 0;
let bM: u64 = 0;
let bE: i32 = 0;
let cCls: i32 = 0;
let cSign: u32 = 0;
let cM: u64 = 0;
let cE: i32 = 0;

function unpack(isD: bool, bits: u64): void {
  const fracBits: i32 = isD ? 52 : 23;
  const expMask: u32 = isD ? 0x7ff : 0xff;
  const bias: i32 = isD ? 1023 : 127;
  uSign = <u32>(bits >> <u64>(isD ? 63 : 31)) & 1;
  const biased = <u32>(bits >> <u64>fracBits) & expMask;
  const frac = bits & ((<u64>1 << <u64>fracBits) - 1);
  uM = 0;
  uE = 0;
  if (biased == expMask) {
    uCls = frac == 0 ? CLS_INF : ((frac >> <u64>(fracBits - 1)) & 1) != 0 ? CLS_QNAN : CLS_SNAN;
  } else if (biased == 0) {
    if (frac == 0) uCls = CLS_ZERO;
    else {
      uCls = CLS_FINITE;
      uM = frac;
      uE = 1 - bias - fracBits;
    }
  } else {
    uCls = CLS_FINITE;
    uM = frac | (<u64>1 << <u64>fracBits);
    uE = <i32>biased - bias - fracBits;
  }
}

function unpackA(isD: bool, bits: u64): void {
  unpack(isD, bits);
  aCls = uCls;
  aSign = uSign;
  aM = uM;
  aE = uE;
}

function unpackB(isD: bool, bits: u64): void {
  unpack(isD, bits);
  bCls = uCls;
  bSign = uSign;
  bM = uM;
  bE = uE;
}

function unpackC(isD: bool, bits: u64): void {
  unpack(isD, bits);
  cCls = uCls;
  cSign = uSign;
  cM = uM;
  cE = uE;
}

@inline function isNaNCls(cls: i32): bool {
  return cls >= CLS_QNAN;
}

// ---- exact path: rounding ----

/** roundAt() output: the rounded integer, whether anything was discarded, and whether q wrapped past 2^64. */
let rQ: u64 = 0;
let rInexact: bool = false;
let rWrapped: bool = false;

/**
 * Rounds (m + sticky) × 2^e to a multiple of 2^lsb (result rQ × 2^lsb). sticky means "a little more than m, less
 * than one unit of m's lowest bit"; callers that pass it keep at least two bits below lsb.
 */
function roundAt(sign: u32, m: u64, e: i32, sticky: bool, lsb: i32, rm: u32): void {
  const cut = lsb - e;
  rWrapped = false;
  if (cut <= 0) {
    rQ = m << <u64>(-cut);
    rInexact = sticky;
    return;
  }
  let q: u64;
  let remNonzero: bool;
  let remGtHalf: bool;
  let remEqHalf: bool;
  if (cut > 64) {
    q = 0;
    remNonzero = m != 0;
    remGtHalf = false;
    remEqHalf = false;
  } else if (cut == 64) {
    q = 0;
    remNonzero = m != 0;
    remGtHalf = m > SIGN_D;
    remEqHalf = m == SIGN_D;
  } else {
    q = m >> <u64>cut;
    const rem = m & ((<u64>1 << <u64>cut) - 1);
    const half = <u64>1 << <u64>(cut - 1);
    remNonzero = rem != 0;
    remGtHalf = rem > half;
    remEqHalf = rem == half;
  }
  const inexact = remNonzero || sticky;
  let up = false;
  if (rm == RM_RNE) up = remGtHalf || (remEqHalf && (sticky || (q & 1) != 0));
  else if (rm == RM_RDN) up = inexact && sign != 0;
  else if (rm == RM_RUP) up = inexact && sign == 0;
  else if (rm == RM_RMM) up = remGtHalf || remEqHalf;
  if (up) {
    q += 1;
    rWrapped = q == 0;
  }
  rQ = q;
  rInexact = inexact;
}

/**
 * Rounds (-1)^sign × (m + sticky) × 2^e into the format and packs it, raising NX/UF/OF (tininess after rounding).
 * m must be nonzero.
 */
function roundPack(isD: bool, sign: u32, m: u64, e: i32, sticky: bool, rm: u32): u64 {
  const p = precision(isD);
  const emin = eminOf(isD);
  const exp = e + (64 - <i32>clz<u64>(m)) - 1; // exponent of the leading bit
  const subLsb = emin - (p - 1);
  // Tininess after rounding: would the result, rounded to p bits with an unbounded exponent, be below 2^emin?
  let tiny = exp < emin - 1;
  if (exp == emin - 1) {
    roundAt(sign, m, e, sticky, exp - (p - 1), rm);
    tiny = rQ < <u64>1 << <u64>p;
  }
  let lsb = max<i32>(exp - (p - 1), subLsb);
  roundAt(sign, m, e, sticky, lsb, rm);
  let q = rQ;
  if (q >= <u64>1 << <u64>p) {
    // the carry made q exactly 2^p
    q >>= 1;
    lsb += 1;
  }
  if (rInexact) fflags |= tiny ? FLAG_NX | FLAG_UF : FLAG_NX;
  const hidden = <u64>1 << <u64>(p - 1);
  const s = signedZero(isD, sign);
  if (q < hidden) return s | q; // subnormal or zero: biased exponent 0
  if (lsb + p - 1 > emaxOf(isD)) {
    fflags |= FLAG_OF | FLAG_NX;
    const toInf = rm == RM_RNE || rm == RM_RMM || (rm == RM_RUP && sign == 0) || (rm == RM_RDN && sign != 0);
    return s | (toInf ? infBits(isD) : infBits(isD) - 1);
  }
  return s | (<u64>(lsb + p - 1 + emaxOf(isD)) << <u64>(p - 1)) | (q - hidden);
}

/** Rounds a nonzero 128-bit (hi, lo) × 2^e: keeps 64 bits (jamming the rest into bit 0), then roundPack. */
function roundPack128(isD: bool, sign: u32, hi: u64, lo: u64, e: i32, rm: u32): u64 {
  if (hi == 0) return roundPack(isD, sign, lo, e, false, rm);
  const lz = <i32>clz<u64>(hi);
  shl128(hi, lo, lz);
  return roundPack(isD, sign, w128Hi | (w128Lo != 0 ? 1 : 0), e + 64 - lz, false, rm);
}

/**
 * Exact sum of (-1)^sx × x × 2^ex and (-1)^sy × y × 2^ey (x, y 128-bit, zeros allowed), rounded once. Both are
 * aligned with their leading bit at 125; the smaller is shifted right with jamming. That is exact for rounding:
 * jamming only happens when the exponents differ by more than the operands' trailing zero bits (≥ 19 for a
 * 106-bit product), where no massive cancellation can occur, and an odd jammed value lies strictly inside the
 * same interval between neighbouring even values as the true sum, far below the rounding position.
 */
function sumFinite(
  isD: bool,
  sx: u32,
  xHi: u64,
  xLo: u64,
  ex: i32,
  sy: u32,
  yHi: u64,
  yLo: u64,
  ey: i32,
  rm: u32,
): u64 {
  const xZero = (xHi | xLo) == 0;
  const yZero = (yHi | yLo) == 0;
  if (xZero && yZero) {
    // Exact zero: like signs keep their sign; unlike signs give +0, except -0 when rounding down.
    return signedZero(isD, sx == sy ? sx : rm == RM_RDN ? 1 : 0);
  }
  if (yZero) return roundPack128(isD, sx, xHi, xLo, ex, rm);
  if (xZero) return roundPack128(isD, sy, yHi, yLo, ey, rm);
  let s = clz128(xHi, xLo) - 2;
  shl128(xHi, xLo, s);
  let x1 = w128Hi;
  let x0 = w128Lo;
  let e1 = ex - s;
  s = clz128(yHi, yLo) - 2;
  shl128(yHi, yLo, s);
  let y1 = w128Hi;
  let y0 = w128Lo;
  let e2 = ey - s;
  let s1 = sx;
  let s2 = sy;
  if (e1 < e2) {
    let t = x1;
    x1 = y1;
    y1 = t;
    t = x0;
    x0 = y0;
    y0 = t;
    let te = e1;
    e1 = e2;
    e2 = te;
    const ts = s1;
    s1 = s2;
    s2 = ts;
  }
  shrJam128(y1, y0, e1 - e2);
  y1 = w128Hi;
  y0 = w128Lo;
  let zHi: u64;
  let zLo: u64;
  let sign: u32;
  if (s1 == s2) {
    zLo = x0 + y0;
    zHi = x1 + y1 + (zLo < x0 ? 1 : 0);
    sign = s1;
  } else if (x1 > y1 || (x1 == y1 && x0 >= y0)) {
    zLo = x0 - y0;
    zHi = x1 - y1 - (x0 < y0 ? 1 : 0);
    sign = s1;
  } else {
    zLo = y0 - x0;
    zHi = y1 - x1 - (y0 < x0 ? 1 : 0);
    sign = s2;
  }
  if ((zHi | zLo) == 0) return signedZero(isD, rm == RM_RDN ? 1 : 0);
  return roundPack128(isD, sign, zHi, zLo, e1, rm);
}

/** NaN operands: canonical NaN, NV for a signaling one. */
function nanResult2(isD: bool): u64 {
  if (aCls == CLS_SNAN || bCls == CLS_SNAN) fflags |= FLAG_NV;
  return canonicalNaN(isD);
}

function invalid(isD: bool): u64 {
  fflags |= FLAG_NV;
  return canonicalNaN(isD);
}

// ---- exact path: operations ----

function softAdd(isD: bool, abits: u64, bbits: u64, rm: u32, negateB: bool): u64 {
  unpackA(isD, abits);
  unpackB(isD, bbits);
  if (isNaNCls(aCls) || isNaNCls(bCls)) return nanResult2(isD);
  const sb = bSign ^ (negateB ? 1 : 0);
  if (aCls == CLS_INF) {
    if (bCls == CLS_INF && aSign != sb) return invalid(isD);
    return signedZero(isD, aSign) | infBits(isD);
  }
  if (bCls == CLS_INF) return signedZero(isD, sb) | infBits(isD);
  return sumFinite(isD, aSign, 0, aM, aE, sb, 0, bM, bE, rm);
}

function softMul(isD: bool, abits: u64, bbits: u64, rm: u32): u64 {
  unpackA(isD, abits);
  unpackB(isD, bbits);
  if (isNaNCls(aCls) || isNaNCls(bCls)) return nanResult2(isD);
  const sign = aSign ^ bSign;
  if (aCls == CLS_INF || bCls == CLS_INF) {
    if (aCls == CLS_ZERO || bCls == CLS_ZERO) return invalid(isD);
    return signedZero(isD, sign) | infBits(isD);
  }
  if (aCls == CLS_ZERO || bCls == CLS_ZERO) return signedZero(isD, sign);
  mul64(aM, bM);
  return roundPack128(isD, sign, w128Hi, w128Lo, aE + bE, rm);
}

function softDiv(isD: bool, abits: u64, bbits: u64, rm: u32): u64 {
  unpackA(isD, abits);
  unpackB(isD, bbits);
  if (isNaNCls(aCls) || isNaNCls(bCls)) return nanResult2(isD);
  const sign = aSign ^ bSign;
  if (aCls == CLS_INF) {
    if (bCls == CLS_INF) return invalid(isD);
    return signedZero(isD, sign) | infBits(isD);
  }
  if (bCls == CLS_INF) return signedZero(isD, sign);
  if (bCls == CLS_ZERO) {
    if (aCls == CLS_ZERO) return invalid(isD);
    fflags |= FLAG_DZ;
    return signedZero(isD, sign) | infBits(isD);
  }
  if (aCls == CLS_ZERO) return signedZero(isD, sign);
  // Both significands with their leading bit at 52; then long division, 11 quotient bits per step, for a
  // quotient of 55 or 56 bits (p + 2 at least: guard and sticky stay below the rounding bit).
  const sa = <i32>clz<u64>(aM) - 11;
  const sb = <i32>clz<u64>(bM) - 11;
  const ma = aM << <u64>sa;
  const mb = bM << <u64>sb;
  let q = ma / mb;
  let rem = ma % mb;
  for (let i = 0; i < 5; i++) {
    rem <<= 11;
    q = (q << 11) | rem / mb;
    rem = rem % mb;
  }
  return roundPack(isD, sign, q, aE - sa - (bE - sb) - 55, rem != 0, rm);
}

function softSqrt(isD: bool, abits: u64, rm: u32): u64 {
  unpackA(isD, abits);
  if (isNaNCls(aCls)) {
    if (aCls == CLS_SNAN) fflags |= FLAG_NV;
    return canonicalNaN(isD);
  }
  if (aCls == CLS_ZERO) return abits; // sqrt(±0) = ±0
  if (aSign != 0) return invalid(isD);
  if (aCls == CLS_INF) return infBits(isD);
  // m with its leading bit at 52 (53 when the exponent needed evening out); the radicand is m × 2^60, whose
  // integer root has 57 bits, computed two radicand bits at a time.
  const s = <i32>clz<u64>(aM) - 11;
  let m = aM << <u64>s;
  let e = aE - s;
  if ((e & 1) != 0) {
    m <<= 1;
    e -= 1;
  }
  let root: u64 = 0;
  let rem: u64 = 0;
  for (let i = 0; i < 57; i++) {
    const pair = i < 27 ? (m >> <u64>(52 - 2 * i)) & 3 : 0;
    rem = (rem << 2) | pair;
    const trial = (root << 2) | 1;
    if (rem >= trial) {
      rem -= trial;
      root = (root << 1) | 1;
    } else root <<= 1;
  }
  return roundPack(isD, 0, root, (e - 60) >> 1, rem != 0, rm);
}

/** Fused (-1)^negProd × a × b + (-1)^negC × c with one rounding. */
function softFma(isD: bool, abits: u64, bbits: u64, cbits: u64, negProd: bool, negC: bool, rm: u32): u64 {
  unpackA(isD, abits);
  unpackB(isD, bbits);
  unpackC(isD, cbits);
  const infTimesZero = (aCls == CLS_INF && bCls == CLS_ZERO) || (aCls == CLS_ZERO && bCls == CLS_INF);
  // The spec wants NV for ∞ × 0 even when the addend is a quiet NaN.
  if (infTimesZero) fflags |= FLAG_NV;
  if (isNaNCls(aCls) || isNaNCls(bCls) || isNaNCls(cCls)) {
    if (aCls == CLS_SNAN || bCls == CLS_SNAN || cCls == CLS_SNAN) fflags |= FLAG_NV;
    return canonicalNaN(isD);
  }
  if (infTimesZero) return canonicalNaN(isD);
  const sp = aSign ^ bSign ^ (negProd ? 1 : 0);
  const sc = cSign ^ (negC ? 1 : 0);
  if (aCls == CLS_INF || bCls == CLS_INF) {
    if (cCls == CLS_INF && sc != sp) return invalid(isD);
    return signedZero(isD, sp) | infBits(isD);
  }
  if (cCls == CLS_INF) return signedZero(isD, sc) | infBits(isD);
  mul64(aM, bM);
  return sumFinite(isD, sp, w128Hi, w128Lo, aE + bE, sc, 0, cM, cE, rm);
}

/** S↔D; NaNs become the target's canonical NaN. */
function softConvert(toD: bool, bits: u64, rm: u32): u64 {
  unpackA(!toD, bits);
  if (isNaNCls(aCls)) {
    if (aCls == CLS_SNAN) fflags |= FLAG_NV;
    return canonicalNaN(toD);
  }
  if (aCls == CLS_INF) return signedZero(toD, aSign) | infBits(toD);
  if (aCls == CLS_ZERO) return signedZero(toD, aSign);
  return roundPack(toD, aSign, aM, aE, false, rm);
}

/**
 * Float to integer of 32 or 64 bits, signed or not, as the 64-bit value to write (32-bit results sign-extended).
 * Out-of-range values, infinities and NaNs saturate and raise NV; NaN goes to the largest value.
 */
function softToInt(isD: bool, bits: u64, wide: bool, signed: bool, rm: u32): u64 {
  unpackA(isD, bits);
  let maxV: u64;
  let minV: u64;
  if (wide) {
    maxV = signed ? 0x7fffffffffffffff : 0xffffffffffffffff;
    minV = signed ? SIGN_D : 0;
  } else {
    maxV = signed ? 0x7fffffff : 0xffffffffffffffff; // 0xffffffff sign-extended
    minV = signed ? 0xffffffff80000000 : 0;
  }
  if (isNaNCls(aCls)) {
    fflags |= FLAG_NV;
    return maxV;
  }
  if (aCls == CLS_ZERO) return 0;
  if (aCls == CLS_INF || aE + (64 - <i32>clz<u64>(aM)) > 64) {
    // infinite, or at least 2^64: beyond every range
    fflags |= FLAG_NV;
    return aSign != 0 ? minV : maxV;
  }
  roundAt(aSign, aM, aE, false, 0, rm);
  const q = rQ;
  let limit: u64;
  if (aSign != 0) limit = signed ? (wide ? SIGN_D : 0x80000000) : 0;
  else limit = signed ? (wide ? 0x7fffffffffffffff : 0x7fffffff) : wide ? 0xffffffffffffffff : 0xffffffff;
  if (rWrapped || q > limit) {
    fflags |= FLAG_NV;
    return aSign != 0 ? minV : maxV;
  }
  if (rInexact) fflags |= FLAG_NX;
  const v = aSign != 0 ? 0 - q : q;
  return wide ? v : <u64>(<i64>(<i32>(<u32>v)));
}

// ---- round-to-nearest-even fast paths (return flags or NOT_HANDLED) ----

/** a × b - p exactly, for p = RN(a × b), when a, b and p are within the SPLIT_MAX / PRODUCT_MIN guards. */
function productError(a: f64, b: f64, p: f64): f64 {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

function fastArithD(op: u32, rd: u32, a: f64, b: f64): i32 {
  if (op == OP_SUB) b = -b;
  if (op <= OP_SUB) {
    const s = a + b;
    if (s - s != 0) return NOT_HANDLED; // infinity or NaN
    // TwoSum (Knuth): cannot overflow once s is finite, and sums are never inexact when tiny.
    const bb = s - a;
    const err = a - (s - bb) + (b - bb);
    writeDouble(rd, s);
    return err != 0 ? <i32>FLAG_NX : 0;
  }
  if (op == OP_MUL) {
    const p = a * b;
    const ap = abs<f64>(p);
    if (!(ap >= PRODUCT_MIN && ap < PRODUCT_MAX) || abs<f64>(a) >= SPLIT_MAX || abs<f64>(b) >= SPLIT_MAX) {
      if (p == 0 && (a == 0 || b == 0)) {
        writeDouble(rd, p);
        return 0;
      }
      return NOT_HANDLED;
    }
    writeDouble(rd, p);
    return productError(a, b, p) != 0 ? <i32>FLAG_NX : 0;
  }
  const q = a / b;
  if (q == 0 && a == 0) {
    writeDouble(rd, q);
    return 0;
  }
  const aq = abs<f64>(q);
  const aa = abs<f64>(a);
  // q must be strictly above the smallest normal: at 2^-1022 it may still be tiny before rounding.
  if (!(aq > F64_MIN_NORMAL && aq < SPLIT_MAX) || abs<f64>(b) >= SPLIT_MAX || !(aa >= PRODUCT_MIN && aa < PRODUCT_MAX))
    return NOT_HANDLED;
  writeDouble(rd, q);
  const ph = q * b;
  return ph == a && productError(q, b, ph) == 0 ? 0 : <i32>FLAG_NX;
}

function fastSqrtD(rd: u32, a: f64): i32 {
  if (a == 0) {
    writeDouble(rd, a); // √±0 = ±0
    return 0;
  }
  if (!(a >= PRODUCT_MIN && a < PRODUCT_MAX)) return NOT_HANDLED;
  const r = sqrt<f64>(a);
  writeDouble(rd, r);
  const ph = r * r;
  return ph == a && productError(r, r, ph) == 0 ? 0 : <i32>FLAG_NX;
}

/**
 * Singles are computed in binary64 and rounded to binary32: for +, -, ×, ÷ and √ that double rounding is
 * innocuous because 53 ≥ 2·24 + 2 (Figueroa 1995).
 */
function fastArithS(op: u32, rd: u32, a: f64, b: f64): i32 {
  let r: f32;
  let exact: bool;
  if (op == OP_SUB) b = -b;
  if (op <= OP_SUB) {
    const s = a + b;
    const bb = s - a;
    const err = a - (s - bb) + (b - bb);
    r = <f32>s;
    exact = err == 0 && <f64>r == s;
  } else if (op == OP_MUL) {
    const p = a * b; // 24 × 24 bits: exact in binary64
    r = <f32>p;
    exact = <f64>r == p;
  } else {
    r = <f32>(a / b);
    exact = <f64>r * b == a; // r × b is exact in binary64, so this is the remainder test
  }
  const ar = abs<f64>(<f64>r);
  if (!(ar <= F32_MAX)) return NOT_HANDLED;
  if (exact) {
    writeSingle(rd, r);
    return 0;
  }
  if (!(ar > F32_MIN_NORMAL)) return NOT_HANDLED; // may be tiny: UF needs the exact path
  writeSingle(rd, r);
  return <i32>FLAG_NX;
}

function fastSqrtS(rd: u32, a: f64): i32 {
  if (a == 0) {
    writeSingle(rd, <f32>a);
    return 0;
  }
  if (!(a > 0 && a <= F32_MAX)) return NOT_HANDLED;
  const r = <f32>sqrt<f64>(a);
  writeSingle(rd, r);
  return <f64>r * <f64>r == a ? 0 : <i32>FLAG_NX;
}

/** s moved one ulp towards the sign of err unless its last bit is already odd: round-to-odd of a value near s. */
function nudgeToOdd(s: f64, err: f64): f64 {
  const bits = reinterpret<u64>(s);
  if ((bits & 1) != 0) return s;
  // s ≠ 0 here (an exact zero has no error): step the bit pattern one ulp away from or towards zero.
  return reinterpret<f64>(err > 0 == s > 0 ? bits + 1 : bits - 1);
}

/**
 * FMA on singles: a × b is exact in binary64, the sum is rounded to odd at 53 bits, and rounding that to 24 bits
 * is the correctly rounded fused result (Boldo & Melquiond 2008). Signs are applied by the caller.
 */
function fastFmaS(rd: u32, a: f64, b: f64, c: f64): i32 {
  const p = a * b;
  let s = p + c;
  if (s - s != 0) return NOT_HANDLED;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err != 0) s = nudgeToOdd(s, err);
  const r = <f32>s;
  const ar = abs<f64>(<f64>r);
  if (!(ar <= F32_MAX)) return NOT_HANDLED;
  if (err == 0 && <f64>r == s) {
    writeSingle(rd, r);
    return 0;
  }
  if (!(ar > F32_MIN_NORMAL)) return NOT_HANDLED;
  writeSingle(rd, r);
  return <i32>FLAG_NX;
}

/**
 * FMA on doubles (Boldo & Melquiond 2008): TwoProduct splits the product exactly, TwoSum adds its high part to
 * c, the two low parts are summed with rounding to odd, and that is added to the high sum with one final RNE
 * rounding. Needs everything well inside the exponent range; the caller applies the signs.
 */
function fastFmaD(rd: u32, a: f64, b: f64, c: f64): i32 {
  const ph = a * b;
  const ap = abs<f64>(ph);
  if (!(ap >= PRODUCT_MIN && ap < PRODUCT_MAX) || abs<f64>(a) >= SPLIT_MAX || abs<f64>(b) >= SPLIT_MAX) {
    if (ph == 0 && (a == 0 || b == 0)) {
      const z = ph + c; // exact zero product: the sum is c, with IEEE's signed-zero rule
      if (z - z != 0) return NOT_HANDLED;
      writeDouble(rd, z);
      return 0;
    }
    return NOT_HANDLED;
  }
  const pl = productError(a, b, ph);
  const sh = c + ph;
  const ash = abs<f64>(sh);
  if (!(ash >= FMA_SUM_MIN && ash < PRODUCT_MAX)) return NOT_HANDLED;
  let bb = sh - c;
  const sl = c - (sh - bb) + (ph - bb);
  let v = sl + pl;
  bb = v - sl;
  const e = sl - (v - bb) + (pl - bb);
  if (e != 0) v = nudgeToOdd(v, e);
  const z = sh + v;
  bb = z - sh;
  const e2 = sh - (z - bb) + (v - bb);
  const az = abs<f64>(z);
  if (!(az > F64_MIN_NORMAL && az < PRODUCT_MAX)) return NOT_HANDLED;
  writeDouble(rd, z);
  return e != 0 || e2 != 0 ? <i32>FLAG_NX : 0;
}

// ---- instructions ----

/** The effective rounding mode, or RM_ILLEGAL for a reserved static or dynamic mode. */
@inline function roundingMode(rm: u32): u32 {
  if (rm == RM_DYN) rm = frm;
  return rm <= RM_RMM ? rm : RM_ILLEGAL;
}

function arith(op: u32, isD: bool, rd: u32, rm: u32, rs1: u32, rs2: u32): bool {
  const mode = roundingMode(rm);
  if (mode == RM_ILLEGAL) return false;
  if (mode == RM_RNE) {
    let flags = NOT_HANDLED;
    if (isD) flags = fastArithD(op, rd, doubleValue(rs1), doubleValue(rs2));
    else if (isBoxed(rs1) && isBoxed(rs2)) flags = fastArithS(op, rd, <f64>singleValue(rs1), <f64>singleValue(rs2));
    if (flags != NOT_HANDLED) {
      fflags |= <u32>flags;
      return true;
    }
  }
  const a = operand(isD, rs1);
  const b = operand(isD, rs2);
  let r: u64;
  if (op <= OP_SUB) r = softAdd(isD, a, b, mode, op == OP_SUB);
  else if (op == OP_MUL) r = softMul(isD, a, b, mode);
  else r = softDiv(isD, a, b, mode);
  writeResult(isD, rd, r);
  return true;
}

function fsqrt(isD: bool, rd: u32, rm: u32, rs1: u32): bool {
  const mode = roundingMode(rm);
  if (mode == RM_ILLEGAL) return false;
  if (mode == RM_RNE) {
    let flags = NOT_HANDLED;
    if (isD) flags = fastSqrtD(rd, doubleValue(rs1));
    else if (isBoxed(rs1)) flags = fastSqrtS(rd, <f64>singleValue(rs1));
    if (flags != NOT_HANDLED) {
      fflags |= <u32>flags;
      return true;
    }
  }
  writeResult(isD, rd, softSqrt(isD, operand(isD, rs1), mode));
  return true;
}

function fused(opcode: u32, isD: bool, rd: u32, rm: u32, rs1: u32, rs2: u32, rs3: u32): bool {
  let negProd: bool;
  let negC: bool;
  if (opcode == OPCODE_MADD) {
    negProd = false;
    negC = false;
  } else if (opcode == OPCODE_MSUB) {
    negProd = false;
    negC = true;
  } else if (opcode == OPCODE_NMSUB) {
    negProd = true;
    negC = false;
  } else if (opcode == OPCODE_NMADD) {
    negProd = true;
    negC = true;
  } else return false;
  const mode = roundingMode(rm);
  if (mode == RM_ILLEGAL) return false;
  if (mode == RM_RNE) {
    let flags = NOT_HANDLED;
    if (isD) {
      const a = doubleValue(rs1);
      const c = doubleValue(rs3);
      flags = fastFmaD(rd, negProd ? -a : a, doubleValue(rs2), negC ? -c : c);
    } else if (isBoxed(rs1) && isBoxed(rs2) && isBoxed(rs3)) {
      const a = <f64>singleValue(rs1);
      const c = <f64>singleValue(rs3);
      flags = fastFmaS(rd, negProd ? -a : a, <f64>singleValue(rs2), negC ? -c : c);
    }
    if (flags != NOT_HANDLED) {
      fflags |= <u32>flags;
      return true;
    }
  }
  writeResult(isD, rd, softFma(isD, operand(isD, rs1), operand(isD, rs2), operand(isD, rs3), negProd, negC, mode));
  return true;
}

/** FSGNJ (rm 0), FSGNJN (rm 1), FSGNJX (rm 2): bit operations, never rounded. */
function sgnj(isD: bool, rd: u32, rm: u32, rs1: u32, rs2: u32): void {
  const a = operand(isD, rs1);
  const b = operand(isD, rs2);
  const signBit: u64 = isD ? SIGN_D : SIGN_S;
  const sign = rm == 0 ? b : rm == 1 ? ~b : a ^ b;
  writeResult(isD, rd, (a & ~signBit) | (sign & signBit));
}

/** 0 when register i (read as fmt) is not a NaN, 1 for a quiet NaN, 2 for a signaling one. */
function nanKind(isD: bool, i: u32): i32 {
  if (isD) {
    const v = fr(i);
    if ((v & INF_D) != INF_D || (v & 0xfffffffffffff) == 0) return 0;
    return (v & 0x8000000000000) != 0 ? 1 : 2;
  }
  const v = readS(i);
  if ((v & INF_S) != INF_S || (v & 0x7fffff) == 0) return 0;
  return (v & 0x400000) != 0 ? 1 : 2;
}

/** Numeric value of a non-NaN operand (a single is exact as a double). */
@inline function value(isD: bool, i: u32): f64 {
  return isD ? doubleValue(i) : <f64>singleValue(i);
}

@inline function signOf(isD: bool, i: u32): u32 {
  return isD ? <u32>(fr(i) >> 63) : (<u32>fr(i) >> 31);
}

/** FMIN/FMAX, IEEE 754-2019 minimumNumber/maximumNumber: -0 < +0, a NaN yields the other operand. */
function minmax(isD: bool, rd: u32, isMax: bool, rs1: u32, rs2: u32): void {
  const na = nanKind(isD, rs1);
  const nb = nanKind(isD, rs2);
  if (na == 2 || nb == 2) fflags |= FLAG_NV;
  let pick: u32;
  if (na != 0 && nb != 0) {
    writeResult(isD, rd, canonicalNaN(isD));
    return;
  }
  if (na != 0) pick = rs2;
  else if (nb != 0) pick = rs1;
  else {
    const a = value(isD, rs1);
    const b = value(isD, rs2);
    if (a == b) {
      // equal values differ at most in the sign of zero: min prefers the negative one
      const aNeg = signOf(isD, rs1) == 1;
      pick = aNeg == !isMax ? rs1 : rs2;
    } else pick = a < b != isMax ? rs1 : rs2;
  }
  writeResult(isD, rd, fr(pick));
}

/** FLE (rm 0), FLT (rm 1), FEQ (rm 2). FEQ is quiet (NV only for sNaN); FLT/FLE signal on any NaN. */
function compare(isD: bool, rd: u32, rm: u32, rs1: u32, rs2: u32): void {
  const na = nanKind(isD, rs1);
  const nb = nanKind(isD, rs2);
  let r: u64 = 0;
  if (na != 0 || nb != 0) {
    if (rm != 2 || na == 2 || nb == 2) fflags |= FLAG_NV;
  } else {
    const a = value(isD, rs1);
    const b = value(isD, rs2);
    r = rm == 0 ? <u64>(a <= b) : rm == 1 ? <u64>(a < b) : <u64>(a == b);
  }
  xw(rd, r);
}

/** FCLASS: one-hot mask, bit 0 = -inf … bit 7 = +inf, bit 8 = sNaN, bit 9 = qNaN. */
function fclass(isD: bool, rs1: u32): u32 {
  let neg: bool;
  let exp: u32;
  let fracZero: bool;
  let quiet: bool;
  let expMax: u32;
  if (isD) {
    const v = fr(rs1);
    neg = (v >> 63) != 0;
    exp = <u32>(v >> 52) & 0x7ff;
    expMax = 0x7ff;
    fracZero = (v & 0xfffffffffffff) == 0;
    quiet = (v & 0x8000000000000) != 0;
  } else {
    const v = <u32>readS(rs1);
    neg = (v >> 31) != 0;
    exp = (v >> 23) & 0xff;
    expMax = 0xff;
    fracZero = (v & 0x7fffff) == 0;
    quiet = (v & 0x400000) != 0;
  }
  if (exp == expMax) {
    if (fracZero) return neg ? 1 << 0 : 1 << 7;
    return quiet ? 1 << 9 : 1 << 8;
  }
  if (exp == 0) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

/** FCVT.S.D (isD false: to single) and FCVT.D.S (isD true: to double). */
function cvtFF(isD: bool, rd: u32, rm: u32, rs1: u32): bool {
  const mode = roundingMode(rm);
  if (mode == RM_ILLEGAL) return false;
  if (isD) {
    if (isBoxed(rs1) && nanKind(false, rs1) == 0) {
      writeDouble(rd, <f64>singleValue(rs1)); // widening is exact
      return true;
    }
    fw(rd, softConvert(true, readS(rs1), mode));
    return true;
  }
  const x = doubleValue(rs1);
  const r = <f32>x;
  const ar = abs<f64>(<f64>r);
  if (mode == RM_RNE && ar <= F32_MAX && (<f64>r == x || ar > F32_MIN_NORMAL)) {
    writeSingle(rd, r);
    if (<f64>r != x) fflags |= FLAG_NX;
    return true;
  }
  writeS(rd, softConvert(false, fr(rs1), mode));
  return true;
}

/** FCVT.W/WU/L/LU.S/D: round to an integer, saturating (with NV) when out of range or NaN. */
function cvtToInt(isD: bool, rd: u32, rm: u32, rs1: u32, type: u32): bool {
  const mode = roundingMode(rm);
  if (mode == RM_ILLEGAL) return false;
  xw(rd, softToInt(isD, operand(isD, rs1), type >= CVT_L, (type & 1) == 0, mode));
  return true;
}

/** FCVT.S/D.W/WU/L/LU. */
function cvtFromInt(isD: bool, rd: u32, rm: u32, rs1: u32, type: u32): bool {
  const mode = roundingMode(rm);
  if (mode == RM_ILLEGAL) return false;
  const raw = xr(rs1);
  let v: u64;
  if (type == CVT_W) v = <u64>(<i64>(<i32>(<u32>raw)));
  else if (type == CVT_WU) v = raw & 0xffffffff;
  else v = raw;
  const signed = type == CVT_W || type == CVT_L;
  const neg = signed && <i64>v < 0;
  const mag = neg ? 0 - v : v;
  if (mag == 0) {
    fw(rd, isD ? 0 : BOX);
    return true;
  }
  // Significant bits of the magnitude: when they fit the precision the conversion is exact.
  const span = 64 - <i32>clz<u64>(mag) - <i32>ctz<u64>(mag);
  if (span <= precision(isD)) {
    if (isD) writeDouble(rd, signed ? <f64>(<i64>v) : <f64>v);
    else writeSingle(rd, signed ? <f32>(<i64>v) : <f32>v);
    return true;
  }
  writeResult(isD, rd, roundPack(isD, neg ? 1 : 0, mag, 0, false, mode));
  return true;
}

/**
 * Executes one OP-FP or fused multiply-add instruction. Returns false, with no state changed, for an illegal
 * encoding: fmt other than S/D, a reserved rm (5, 6, or 7 while frm holds 5..7), an unknown funct or a reserved
 * rs2. Accrues exception flags into fflags.
 */
export function fpExec(insn: u32): bool {
  const opcode = insn & 0x7f;
  const fmt = (insn >> 25) & 3;
  if (fmt > FMT_D) return false;
  const isD = fmt == FMT_D;
  const rd = (insn >> 7) & 31;
  const rm = (insn >> 12) & 7;
  const rs1 = (insn >> 15) & 31;
  const rs2 = (insn >> 20) & 31;
  const funct5 = insn >> 27;
  if (opcode != OPCODE_OP_FP) return fused(opcode, isD, rd, rm, rs1, rs2, funct5);
  switch (funct5) {
    case FUNCT5_FADD:
      return arith(OP_ADD, isD, rd, rm, rs1, rs2);
    case FUNCT5_FSUB:
      return arith(OP_SUB, isD, rd, rm, rs1, rs2);
    case FUNCT5_FMUL:
      return arith(OP_MUL, isD, rd, rm, rs1, rs2);
    case FUNCT5_FDIV:
      return arith(OP_DIV, isD, rd, rm, rs1, rs2);
    case FUNCT5_FSQRT:
      return rs2 == 0 && fsqrt(isD, rd, rm, rs1);
    case FUNCT5_FSGNJ:
      if (rm > 2) return false;
      sgnj(isD, rd, rm, rs1, rs2);
      return true;
    case FUNCT5_FMINMAX:
      if (rm > 1) return false;
      minmax(isD, rd, rm == 1, rs1, rs2);
      return true;
    case FUNCT5_FCMP:
      if (rm > 2) return false;
      compare(isD, rd, rm, rs1, rs2);
      return true;
    case FUNCT5_FCVT_FMT_FMT:
      // FCVT.S.D has fmt S and rs2 = 1 (D); FCVT.D.S has fmt D and rs2 = 0 (S).
      return rs2 == 1 - fmt && cvtFF(isD, rd, rm, rs1);
    case FUNCT5_FCVT_INT_FMT:
      return rs2 <= CVT_LU && cvtToInt(isD, rd, rm, rs1, rs2);
    case FUNCT5_FCVT_FMT_INT:
      return rs2 <= CVT_LU && cvtFromInt(isD, rd, rm, rs1, rs2);
    case FUNCT5_FMV_X_FCLASS:
      if (rs2 != 0 || rm > 1) return false;
      if (rm == 1) writeX32(rd, fclass(isD, rs1));
      else if (isD) xw(rd, fr(rs1));
      else writeX32(rd, <u32>fr(rs1)); // FMV.X.W: the raw low word, boxed or not
      return true;
    case FUNCT5_FMV_FMT_X:
      if (rs2 != 0 || rm != 0) return false;
      if (isD) fw(rd, xr(rs1));
      else writeS(rd, xr(rs1));
      return true;
    default:
      return false;
  }
}
