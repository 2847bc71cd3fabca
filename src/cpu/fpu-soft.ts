// Exact IEEE 754 binary32/binary64 arithmetic on BigInt significands: the slow path behind fpu.ts for every
// rounding mode other than RNE, fused multiply-add, and the edge cases (NaN, infinity, subnormal results,
// overflow) the JS-arithmetic fast paths hand over. RISC-V unprivileged spec, chapters "F" and "D":
// tininess is detected after rounding, NaN results are always the canonical NaN, and flags accumulate.

/** fflags bits (RISC-V unprivileged spec, "Floating-Point Control and Status Register"). */
export const FFLAG_NV = 16;
export const FFLAG_DZ = 8;
export const FFLAG_OF = 4;
export const FFLAG_UF = 2;
export const FFLAG_NX = 1;

/** Rounding modes as encoded in the rm field and in frm. */
export const RM_RNE = 0;
export const RM_RTZ = 1;
export const RM_RDN = 2;
export const RM_RUP = 3;
export const RM_RMM = 4;
export const RM_DYN = 7;

export interface FpFormat {
  /** Precision in bits, hidden bit included. */
  readonly p: number;
  readonly emin: number;
  readonly emax: number;
  readonly bias: number;
  /** Storage width in bits (32 or 64). */
  readonly width: number;
  readonly canonicalNaN: bigint;
  readonly infBits: bigint;
  readonly maxFinite: bigint;
  readonly signBit: bigint;
  readonly fracMask: bigint;
  readonly quietBit: bigint;
  readonly hidden: bigint;
  readonly expAllOnes: number;
}

function makeFormat(p: number, ebits: number): FpFormat {
  const width = p + ebits;
  const bias = (1 << (ebits - 1)) - 1;
  const fracBits = BigInt(p - 1);
  const expAllOnes = (1 << ebits) - 1;
  const infBits = BigInt(expAllOnes) << fracBits;
  return {
    p,
    emin: 1 - bias,
    emax: bias,
    bias,
    width,
    canonicalNaN: infBits | (1n << (fracBits - 1n)),
    infBits,
    maxFinite: infBits - 1n,
    signBit: 1n << BigInt(width - 1),
    fracMask: (1n << fracBits) - 1n,
    quietBit: 1n << (fracBits - 1n),
    hidden: 1n << fracBits,
    expAllOnes,
  };
}

export const F32 = makeFormat(24, 8);
export const F64 = makeFormat(53, 11);

export const CLS_ZERO = 0;
export const CLS_FINITE = 1; // nonzero finite, subnormals included
export const CLS_INF = 2;
export const CLS_QNAN = 3;
export const CLS_SNAN = 4;

/** A decoded operand: (-1)^sign × m × 2^e for CLS_FINITE. */
export interface Unpacked {
  cls: number;
  sign: number;
  m: bigint;
  e: number;
}

export function unpack(f: FpFormat, bits: bigint): Unpacked {
  const sign = (bits & f.signBit) !== 0n ? 1 : 0;
  const biased = Number((bits >> BigInt(f.p - 1)) & BigInt(f.expAllOnes));
  const frac = bits & f.fracMask;
  if (biased === f.expAllOnes) {
    const cls = frac === 0n ? CLS_INF : (frac & f.quietBit) !== 0n ? CLS_QNAN : CLS_SNAN;
    return { cls, sign, m: 0n, e: 0 };
  }
  if (biased === 0) {
    return frac === 0n
      ? { cls: CLS_ZERO, sign, m: 0n, e: 0 }
      : { cls: CLS_FINITE, sign, m: frac, e: f.emin - (f.p - 1) };
  }
  return { cls: CLS_FINITE, sign, m: frac | f.hidden, e: biased - f.bias - (f.p - 1) };
}

export function isNaNClass(u: Unpacked): boolean {
  return u.cls >= CLS_QNAN;
}

export function bitLength(m: bigint): number {
  if (m < 0x100000000n) return 32 - Math.clz32(Number(m));
  const s = m.toString(16);
  return (s.length - 1) * 4 + (32 - Math.clz32(Number.parseInt(s[0]!, 16)));
}

function signedZero(f: FpFormat, sign: number): bigint {
  return sign ? f.signBit : 0n;
}

/** Integer m×2^e rounded at bit position lsb; see roundAt. */
interface Rounded {
  q: bigint;
  inexact: boolean;
}

export class SoftFloat {
  /** fflags raised since the caller last cleared this. */
  flags = 0;

  /**
   * Rounds (m + sticky) × 2^e to a multiple of 2^lsb. sticky means "a little more than m, less than one unit of
   * m's lowest bit"; callers that pass it keep at least two bits below lsb so guard and sticky stay separate.
   */
  private roundAt(sign: number, m: bigint, e: number, sticky: boolean, lsb: number, rm: number): Rounded {
    const cut = lsb - e;
    if (cut <= 0) return { q: m << BigInt(-cut), inexact: sticky };
    const c = BigInt(cut);
    let q = m >> c;
    const rem = m & ((1n << c) - 1n);
    const half = 1n << (c - 1n);
    const inexact = rem !== 0n || sticky;
    let up = false;
    switch (rm) {
      case RM_RNE:
        up = rem > half || (rem === half && (sticky || (q & 1n) === 1n));
        break;
      case RM_RDN:
        up = inexact && sign === 1;
        break;
      case RM_RUP:
        up = inexact && sign === 0;
        break;
      case RM_RMM:
        up = rem >= half;
        break;
    }
    if (up) q += 1n;
    return { q, inexact };
  }

  /** Rounds (-1)^sign × (m + sticky) × 2^e into format f and packs it, raising NX/UF/OF. m must be nonzero. */
  roundPack(f: FpFormat, sign: number, m: bigint, e: number, sticky: boolean, rm: number): bigint {
    const p = f.p;
    const exp = e + bitLength(m) - 1; // exponent of the leading bit
    const subLsb = f.emin - (p - 1);
    // Tininess after rounding: would the result, rounded to p bits with an unbounded exponent, be below 2^emin?
    let tiny = exp < f.emin - 1;
    if (exp === f.emin - 1) tiny = this.roundAt(sign, m, e, sticky, exp - (p - 1), rm).q < 1n << BigInt(p);
    let lsb = Math.max(exp - (p - 1), subLsb);
    let { q, inexact } = this.roundAt(sign, m, e, sticky, lsb, rm);
    if (q >= 1n << BigInt(p)) {
      // the carry made q exactly 2^p
      q >>= 1n;
      lsb += 1;
    }
    if (inexact) this.flags |= tiny ? FFLAG_NX | FFLAG_UF : FFLAG_NX;
    if (q < f.hidden) return signedZero(f, sign) | q; // subnormal or zero: biased exponent 0
    if (lsb + p - 1 > f.emax) {
      this.flags |= FFLAG_OF | FFLAG_NX;
      const toInf = rm === RM_RNE || rm === RM_RMM || (rm === RM_RUP && sign === 0) || (rm === RM_RDN && sign === 1);
      return signedZero(f, sign) | (toInf ? f.infBits : f.maxFinite);
    }
    return signedZero(f, sign) | (BigInt(lsb + p - 1 + f.bias) << BigInt(p - 1)) | (q - f.hidden);
  }

  /** Handles NaN operands: canonical NaN, NV for any signaling one. Returns undefined when none is NaN. */
  private nanResult(f: FpFormat, a: Unpacked, b: Unpacked, c?: Unpacked): bigint | undefined {
    if (!isNaNClass(a) && !isNaNClass(b) && (c === undefined || !isNaNClass(c))) return undefined;
    if (a.cls === CLS_SNAN || b.cls === CLS_SNAN || c?.cls === CLS_SNAN) this.flags |= FFLAG_NV;
    return f.canonicalNaN;
  }

  private invalid(f: FpFormat): bigint {
    this.flags |= FFLAG_NV;
    return f.canonicalNaN;
  }

  /** Exact sum of two finite values (zeros included), rounded once. */
  private sumFinite(
    f: FpFormat,
    sa: number,
    ma: bigint,
    ea: number,
    sb: number,
    mb: bigint,
    eb: number,
    rm: number,
  ): bigint {
    if (ma === 0n) ea = eb;
    if (mb === 0n) eb = ea;
    const e = Math.min(ea, eb);
    const x = ma << BigInt(ea - e);
    const y = mb << BigInt(eb - e);
    const total = (sa ? -x : x) + (sb ? -y : y);
    if (total === 0n) {
      // Exact zero: like signs keep their sign; unlike signs give +0, except -0 when rounding down.
      return signedZero(f, sa === sb ? sa : rm === RM_RDN ? 1 : 0);
    }
    return total < 0n ? this.roundPack(f, 1, -total, e, false, rm) : this.roundPack(f, 0, total, e, false, rm);
  }

  add(f: FpFormat, abits: bigint, bbits: bigint, rm: number, negateB = false): bigint {
    const a = unpack(f, abits);
    const b = unpack(f, bbits);
    const nan = this.nanResult(f, a, b);
    if (nan !== undefined) return nan;
    const sb = b.sign ^ (negateB ? 1 : 0);
    if (a.cls === CLS_INF) {
      if (b.cls === CLS_INF && a.sign !== sb) return this.invalid(f);
      return signedZero(f, a.sign) | f.infBits;
    }
    if (b.cls === CLS_INF) return signedZero(f, sb) | f.infBits;
    return this.sumFinite(f, a.sign, a.m, a.e, sb, b.m, b.e, rm);
  }

  mul(f: FpFormat, abits: bigint, bbits: bigint, rm: number): bigint {
    const a = unpack(f, abits);
    const b = unpack(f, bbits);
    const nan = this.nanResult(f, a, b);
    if (nan !== undefined) return nan;
    const sign = a.sign ^ b.sign;
    if (a.cls === CLS_INF || b.cls === CLS_INF) {
      if (a.cls === CLS_ZERO || b.cls === CLS_ZERO) return this.invalid(f);
      return signedZero(f, sign) | f.infBits;
    }
    if (a.cls === CLS_ZERO || b.cls === CLS_ZERO) return signedZero(f, sign);
    return this.roundPack(f, sign, a.m * b.m, a.e + b.e, false, rm);
  }

  div(f: FpFormat, abits: bigint, bbits: bigint, rm: number): bigint {
    const a = unpack(f, abits);
    const b = unpack(f, bbits);
    const nan = this.nanResult(f, a, b);
    if (nan !== undefined) return nan;
    const sign = a.sign ^ b.sign;
    if (a.cls === CLS_INF) {
      if (b.cls === CLS_INF) return this.invalid(f);
      return signedZero(f, sign) | f.infBits;
    }
    if (b.cls === CLS_INF) return signedZero(f, sign);
    if (b.cls === CLS_ZERO) {
      if (a.cls === CLS_ZERO) return this.invalid(f);
      this.flags |= FFLAG_DZ;
      return signedZero(f, sign) | f.infBits;
    }
    if (a.cls === CLS_ZERO) return signedZero(f, sign);
    // Scale the dividend so the quotient has at least p + 2 bits: guard and sticky stay below the rounding bit.
    const k = Math.max(0, f.p + 2 + bitLength(b.m) - bitLength(a.m));
    const num = a.m << BigInt(k);
    const q = num / b.m;
    const sticky = q * b.m !== num;
    return this.roundPack(f, sign, q, a.e - b.e - k, sticky, rm);
  }

  sqrt(f: FpFormat, abits: bigint, rm: number): bigint {
    const a = unpack(f, abits);
    if (isNaNClass(a)) {
      if (a.cls === CLS_SNAN) this.flags |= FFLAG_NV;
      return f.canonicalNaN;
    }
    if (a.cls === CLS_ZERO) return abits; // sqrt(±0) = ±0
    if (a.sign === 1) return this.invalid(f);
    if (a.cls === CLS_INF) return f.infBits;
    // Make the radicand have at least 2(p + 2) bits and an even exponent, then take the integer root.
    let k = Math.max(0, 2 * (f.p + 2) - bitLength(a.m));
    if ((a.e - k) % 2 !== 0) k += 1;
    const n = a.m << BigInt(k);
    const r = isqrt(n);
    return this.roundPack(f, 0, r, (a.e - k) / 2, r * r !== n, rm);
  }

  /**
   * Fused (-1)^negProd × a × b + (-1)^negC × c with one rounding. FMSUB negates c, FNMSUB the product,
   * FNMADD both.
   */
  fma(f: FpFormat, abits: bigint, bbits: bigint, cbits: bigint, negProd: boolean, negC: boolean, rm: number): bigint {
    const a = unpack(f, abits);
    const b = unpack(f, bbits);
    const c = unpack(f, cbits);
    const infTimesZero = (a.cls === CLS_INF && b.cls === CLS_ZERO) || (a.cls === CLS_ZERO && b.cls === CLS_INF);
    // The spec wants NV for ∞ × 0 even when the addend is a quiet NaN.
    if (infTimesZero) this.flags |= FFLAG_NV;
    const nan = this.nanResult(f, a, b, c);
    if (nan !== undefined) return nan;
    if (infTimesZero) return f.canonicalNaN;
    const sp = a.sign ^ b.sign ^ (negProd ? 1 : 0);
    const sc = c.sign ^ (negC ? 1 : 0);
    if (a.cls === CLS_INF || b.cls === CLS_INF) {
      if (c.cls === CLS_INF && sc !== sp) return this.invalid(f);
      return signedZero(f, sp) | f.infBits;
    }
    if (c.cls === CLS_INF) return signedZero(f, sc) | f.infBits;
    return this.sumFinite(f, sp, a.m * b.m, a.e + b.e, sc, c.m, c.e, rm);
  }

  /** Converts between formats (S↔D); NaNs become the target's canonical NaN. */
  convert(to: FpFormat, from: FpFormat, bits: bigint, rm: number): bigint {
    const a = unpack(from, bits);
    if (isNaNClass(a)) {
      if (a.cls === CLS_SNAN) this.flags |= FFLAG_NV;
      return to.canonicalNaN;
    }
    if (a.cls === CLS_INF) return signedZero(to, a.sign) | to.infBits;
    if (a.cls === CLS_ZERO) return signedZero(to, a.sign);
    return this.roundPack(to, a.sign, a.m, a.e, false, rm);
  }

  /** Integer (as an exact BigInt) to float. */
  fromInt(f: FpFormat, v: bigint, rm: number): bigint {
    if (v === 0n) return 0n;
    return v < 0n ? this.roundPack(f, 1, -v, 0, false, rm) : this.roundPack(f, 0, v, 0, false, rm);
  }

  /**
   * Float to integer of the given width, signed or not. Out-of-range values, infinities and NaNs saturate and
   * raise NV (spec table "Domains of float-to-integer conversions"): NaN goes to the largest value.
   */
  toInt(f: FpFormat, bits: bigint, width: 32 | 64, signed: boolean, rm: number): bigint {
    const a = unpack(f, bits);
    const w = BigInt(width);
    const max = signed ? (1n << (w - 1n)) - 1n : (1n << w) - 1n;
    const min = signed ? -(1n << (w - 1n)) : 0n;
    if (isNaNClass(a)) {
      this.flags |= FFLAG_NV;
      return max;
    }
    if (a.cls === CLS_INF) {
      this.flags |= FFLAG_NV;
      return a.sign ? min : max;
    }
    if (a.cls === CLS_ZERO) return 0n;
    // Far beyond any 64-bit range: saturate without building a huge BigInt.
    if (a.e + bitLength(a.m) > width + 1) {
      this.flags |= FFLAG_NV;
      return a.sign ? min : max;
    }
    const { q, inexact } = this.roundAt(a.sign, a.m, a.e, false, 0, rm);
    const v = a.sign ? -q : q;
    if (v < min || v > max) {
      this.flags |= FFLAG_NV;
      return a.sign ? min : max;
    }
    if (inexact) this.flags |= FFLAG_NX;
    return v;
  }
}

/** floor(sqrt(n)) for n > 0, by Newton's iteration from an estimate above the root. */
export function isqrt(n: bigint): bigint {
  const bits = bitLength(n);
  let x = 1n << BigInt((bits >> 1) + 1); // > sqrt(n)
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}
