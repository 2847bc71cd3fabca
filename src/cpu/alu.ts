// 64-bit integer helpers over (lo, hi) int32 pairs, for the operations JS has no cheap form of.
// Results come back through the `out` pair to avoid allocating on the hot path.

export const out = new Int32Array(2);

const B64 = (1n << 64n) - 1n;

export function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function setFromBig(v: bigint): void {
  out[0] = Number(v & 0xffffffffn) | 0;
  out[1] = Number((v >> 32n) & 0xffffffffn) | 0;
}

/** Unsigned 32×32 → 64 multiply into out. */
export function mulu32(a: number, b: number): void {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  out[0] = (mid << 16) | (p00 & 0xffff);
  out[1] = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
}

/** Low 64 bits of a 64×64 product. */
export function mul64(alo: number, ahi: number, blo: number, bhi: number): void {
  mulu32(alo, blo);
  out[1] = (out[1] + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/** High 64 bits of a 64×64 product: kind 1 = MULH (s×s), 2 = MULHSU (s×u), 3 = MULHU (u×u). */
export function mulh64(alo: number, ahi: number, blo: number, bhi: number, kind: number): void {
  let a = toBig(alo, ahi);
  let b = toBig(blo, bhi);
  if (kind !== 3 && ahi < 0) a -= 1n << 64n;
  if (kind === 1 && bhi < 0) b -= 1n << 64n;
  setFromBig((a * b) >> 64n);
}

function signed(lo: number, hi: number): bigint {
  const v = toBig(lo, hi);
  return hi < 0 ? v - (1n << 64n) : v;
}

/** DIV/DIVU/REM/REMU on 64 bits with RISC-V's division-by-zero and overflow results. */
export function div64(alo: number, ahi: number, blo: number, bhi: number, isSigned: boolean, rem: boolean): void {
  if (blo === 0 && bhi === 0) {
    if (rem) {
      out[0] = alo;
      out[1] = ahi;
    } else {
      out[0] = -1;
      out[1] = -1;
    }
    return;
  }
  // Fast path: both operands fit in 32-bit signed (signed ops) / unsigned 32 (unsigned ops).
  if (isSigned) {
    if (ahi === alo >> 31 && bhi === blo >> 31) {
      if (!(alo === -2147483648 && blo === -1)) {
        const r = rem ? alo % blo : Math.trunc(alo / blo);
        out[0] = r | 0;
        out[1] = r < 0 ? -1 : 0;
        return;
      }
    }
    const a = signed(alo, ahi);
    const b = signed(blo, bhi);
    if (a === -(1n << 63n) && b === -1n) {
      if (rem) {
        out[0] = 0;
        out[1] = 0;
      } else {
        out[0] = alo;
        out[1] = ahi;
      }
      return;
    }
    setFromBig((rem ? a % b : a / b) & B64);
    return;
  }
  if (ahi === 0 && bhi === 0) {
    const a = alo >>> 0;
    const b = blo >>> 0;
    const r = rem ? a % b : Math.floor(a / b);
    out[0] = r | 0;
    out[1] = 0;
    return;
  }
  const a = toBig(alo, ahi);
  const b = toBig(blo, bhi);
  setFromBig(rem ? a % b : a / b);
}

/** DIVW/DIVUW/REMW/REMUW: 32-bit operation, result sign-extended. Returns the low word. */
export function div32(a: number, b: number, isSigned: boolean, rem: boolean): number {
  if (b === 0) return rem ? a | 0 : -1;
  if (isSigned) {
    if (a === -2147483648 && b === -1) return rem ? 0 : a;
    return rem ? (a % b) | 0 : Math.trunc(a / b) | 0;
  }
  const ua = a >>> 0;
  const ub = b >>> 0;
  return rem ? (ua % ub) | 0 : Math.floor(ua / ub) | 0;
}
