// Round-to-nearest-even fast paths for fpu.ts: JS arithmetic is IEEE binary64 RNE, so the common case costs one
// host operation plus an exactness check (TwoSum for sums, Dekker's TwoProduct for products, quotients and
// roots) to decide NX. Each function returns the fflags it raised, or NOT_HANDLED when the operands or the result
// leave the range where that reasoning holds (NaN, infinity, overflow, possible underflow); the caller then
// takes the exact BigInt path. Singles are computed in binary64 and rounded with Math.fround: for +, -, ×, ÷
// and √ that double rounding is innocuous because 53 ≥ 2·24 + 2 (Figueroa, "When is double rounding
// innocuous?", 1995).

import { FFLAG_NX } from "./fpu-soft.ts";

export const NOT_HANDLED = -1;

export const OP_ADD = 0;
export const OP_SUB = 1;
export const OP_MUL = 2;
export const OP_DIV = 3;

/** Veltkamp splitting constant 2^27 + 1. */
const SPLIT = 134217729;
/** Above this, splitting (×2^27) or the partial products of TwoProduct could overflow. */
const SPLIT_MAX = 2 ** 995;
/** Below this a product's rounding error may not be representable (it needs ulp(a)·ulp(b) ≥ 2^-1074). */
const PRODUCT_MIN = 2 ** -969;
const PRODUCT_MAX = 2 ** 1020;
const F64_MIN_NORMAL = 2 ** -1022;
const F32_MIN_NORMAL = 2 ** -126;
const F32_MAX = 3.4028234663852886e38;

/** a × b - p exactly, for p = RN(a × b), when a, b and p are within the SPLIT_MAX / PRODUCT_MIN guards. */
function productError(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/** FADD/FSUB/FMUL/FDIV.D in RNE; writes fd[rd]. */
export function arithD(op: number, fd: Float64Array, rd: number, a: number, b: number): number {
  if (op === OP_SUB) b = -b;
  switch (op) {
    case OP_ADD:
    case OP_SUB: {
      const s = a + b;
      if (s - s !== 0) return NOT_HANDLED; // infinity or NaN
      // TwoSum (Knuth): cannot overflow once s is finite, and sums are never inexact when tiny.
      const bb = s - a;
      const err = a - (s - bb) + (b - bb);
      fd[rd] = s;
      return err !== 0 ? FFLAG_NX : 0;
    }
    case OP_MUL: {
      const p = a * b;
      const ap = Math.abs(p);
      if (!(ap >= PRODUCT_MIN && ap < PRODUCT_MAX) || Math.abs(a) >= SPLIT_MAX || Math.abs(b) >= SPLIT_MAX) {
        if (p === 0 && (a === 0 || b === 0)) {
          fd[rd] = p;
          return 0;
        }
        return NOT_HANDLED;
      }
      fd[rd] = p;
      return productError(a, b, p) !== 0 ? FFLAG_NX : 0;
    }
    default: {
      const q = a / b;
      if (q === 0 && a === 0) {
        fd[rd] = q;
        return 0;
      }
      const aq = Math.abs(q);
      const aa = Math.abs(a);
      // q must be strictly above the smallest normal: at 2^-1022 it may still be tiny before rounding.
      if (
        !(aq > F64_MIN_NORMAL && aq < SPLIT_MAX) ||
        Math.abs(b) >= SPLIT_MAX ||
        !(aa >= PRODUCT_MIN && aa < PRODUCT_MAX)
      )
        return NOT_HANDLED;
      fd[rd] = q;
      const ph = q * b;
      return ph === a && productError(q, b, ph) === 0 ? 0 : FFLAG_NX;
    }
  }
}

/** FSQRT.D in RNE. */
export function sqrtD(fd: Float64Array, rd: number, a: number): number {
  if (a === 0) {
    fd[rd] = a; // √±0 = ±0
    return 0;
  }
  if (!(a >= PRODUCT_MIN && a < PRODUCT_MAX)) return NOT_HANDLED;
  const r = Math.sqrt(a);
  fd[rd] = r;
  const ph = r * r;
  return ph === a && productError(r, r, ph) === 0 ? 0 : FFLAG_NX;
}

/** Stores a finite single result r (already rounded by Math.fround) NaN-boxed into f register rd. */
function writeS(fs: Float32Array, f: Int32Array, rd: number, r: number): void {
  fs[2 * rd] = r;
  f[2 * rd + 1] = -1;
}

/** FADD/FSUB/FMUL/FDIV.S in RNE on operands already unboxed into doubles. */
export function arithS(op: number, fs: Float32Array, f: Int32Array, rd: number, a: number, b: number): number {
  let r: number;
  let exact: boolean;
  if (op === OP_SUB) b = -b;
  switch (op) {
    case OP_ADD:
    case OP_SUB: {
      const s = a + b;
      const bb = s - a;
      const err = a - (s - bb) + (b - bb);
      r = Math.fround(s);
      exact = err === 0 && r === s;
      break;
    }
    case OP_MUL: {
      const p = a * b; // 24 × 24 bits: exact in binary64
      r = Math.fround(p);
      exact = r === p;
      break;
    }
    default: {
      r = Math.fround(a / b);
      exact = r * b === a; // r × b is exact in binary64, so this is the remainder test
      break;
    }
  }
  if (!(Math.abs(r) <= F32_MAX)) return NOT_HANDLED;
  if (exact) {
    writeS(fs, f, rd, r);
    return 0;
  }
  if (!(Math.abs(r) > F32_MIN_NORMAL)) return NOT_HANDLED; // may be tiny: UF needs the exact path
  writeS(fs, f, rd, r);
  return FFLAG_NX;
}

/** FSQRT.S in RNE. */
export function sqrtS(fs: Float32Array, f: Int32Array, rd: number, a: number): number {
  if (a === 0) {
    writeS(fs, f, rd, a);
    return 0;
  }
  if (!(a > 0 && a <= F32_MAX)) return NOT_HANDLED;
  const r = Math.fround(Math.sqrt(a));
  writeS(fs, f, rd, r);
  return r * r === a ? 0 : FFLAG_NX;
}

const scratch = new Float64Array(1);
const scratchBits = new Int32Array(scratch.buffer);

/** Bit pattern of s moved one ulp towards the sign of err: round-to-odd of a value just off s. */
function nudgeToOdd(s: number, err: number): number {
  scratch[0] = s;
  if ((scratchBits[0]! & 1) !== 0) return s; // already odd
  // s ≠ 0 here (an exact zero has no error). Step the bit pattern one ulp away from or towards zero.
  if (err > 0 === s > 0) scratchBits[0]! += 1;
  else if (scratchBits[0] === 0) {
    scratchBits[0] = -1;
    scratchBits[1]! -= 1;
  } else scratchBits[0]! -= 1;
  return scratch[0]!;
}

/**
 * Fused multiply-add on singles in RNE: a × b is exact in binary64, the sum is rounded to odd at 53 bits
 * (TwoSum gives the error's sign; an even result is nudged one ulp towards it), and rounding that to 24 bits is
 * then the correctly rounded fused result (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
 * proved algorithms using rounding to odd", 2008). Signs are applied by the caller (FMSUB etc.).
 */
export function fmaS(fs: Float32Array, f: Int32Array, rd: number, a: number, b: number, c: number): number {
  const p = a * b;
  let s = p + c;
  if (s - s !== 0) return NOT_HANDLED;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  if (err !== 0) s = nudgeToOdd(s, err);
  const r = Math.fround(s);
  if (!(Math.abs(r) <= F32_MAX)) return NOT_HANDLED;
  if (err === 0 && r === s) {
    writeS(fs, f, rd, r);
    return 0;
  }
  if (!(Math.abs(r) > F32_MIN_NORMAL)) return NOT_HANDLED;
  writeS(fs, f, rd, r);
  return FFLAG_NX;
}

/** Below this a sum's lower part could be subnormal, where rounding to odd loses the bits it must keep. */
const FMA_SUM_MIN = 2 ** -900;

/**
 * Fused multiply-add on doubles in RNE, after Boldo & Melquiond (2008): the product is split exactly
 * (TwoProduct), its high part added to c exactly (TwoSum), the two low parts summed with rounding to odd,
 * and that added to the high sum with one final RNE rounding. Needs everything well inside the exponent
 * range; the caller applies FMSUB/FNMSUB/FNMADD signs.
 */
export function fmaD(fd: Float64Array, rd: number, a: number, b: number, c: number): number {
  const ph = a * b;
  const ap = Math.abs(ph);
  if (!(ap >= PRODUCT_MIN && ap < PRODUCT_MAX) || Math.abs(a) >= SPLIT_MAX || Math.abs(b) >= SPLIT_MAX) {
    if (ph === 0 && (a === 0 || b === 0)) {
      const z = ph + c; // exact zero product: the sum is c, with IEEE's signed-zero rule
      if (z - z !== 0) return NOT_HANDLED;
      fd[rd] = z;
      return 0;
    }
    return NOT_HANDLED;
  }
  const pl = productError(a, b, ph);
  const sh = c + ph;
  if (!(Math.abs(sh) >= FMA_SUM_MIN && Math.abs(sh) < PRODUCT_MAX)) return NOT_HANDLED;
  let bb = sh - c;
  const sl = c - (sh - bb) + (ph - bb);
  let v = sl + pl;
  bb = v - sl;
  const e = sl - (v - bb) + (pl - bb);
  if (e !== 0) v = nudgeToOdd(v, e);
  const z = sh + v;
  bb = z - sh;
  const e2 = sh - (z - bb) + (v - bb);
  if (!(Math.abs(z) > F64_MIN_NORMAL && Math.abs(z) < PRODUCT_MAX)) return NOT_HANDLED;
  fd[rd] = z;
  return e !== 0 || e2 !== 0 ? FFLAG_NX : 0;
}

const TWO_52 = 2 ** 52;

/** x rounded to an integral value in rounding mode rm (x finite). */
export function roundToIntegral(x: number, rm: number): number {
  switch (rm) {
    case 1:
      return Math.trunc(x);
    case 2:
      return Math.floor(x);
    case 3:
      return Math.ceil(x);
    case 4: {
      if (Math.abs(x) >= TWO_52) return x; // already integral; x + 0.5 could round
      const t = Math.trunc(x);
      return Math.abs(x - t) >= 0.5 ? t + Math.sign(x) : t;
    }
    default: {
      if (Math.abs(x) >= TWO_52) return x;
      const t = Math.floor(x);
      const d = x - t; // exact below 2^52
      return d > 0.5 || (d === 0.5 && t % 2 !== 0) ? t + 1 : t;
    }
  }
}
