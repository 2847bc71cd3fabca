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
  // Unsigned high half from four 32×32 → 64 products (no BigInt), then the signed corrections:
  // hi_s(a, b) = hi_u(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0) (mod 2^64).
  mulu32(alo, blo);
  const p0h = out[1] >>> 0;
  mulu32(alo, bhi);
  const p1l = out[0] >>> 0;
  const p1h = out[1] >>> 0;
  mulu32(ahi, blo);
  const p2l = out[0] >>> 0;
  const p2h = out[1] >>> 0;
  mulu32(ahi, bhi);
  const mid = p0h + p1l + p2l; // < 3·2^32: exact
  const top = (out[0] >>> 0) + p1h + p2h + Math.floor(mid / 4294967296); // < 2^35: exact
  let rlo = top | 0;
  let rhi = (out[1] + Math.floor(top / 4294967296)) | 0;
  if (kind !== 3 && ahi < 0) {
    const nlo = (rlo - blo) | 0;
    rhi = (rhi - bhi - (rlo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
    rlo = nlo;
  }
  if (kind === 1 && bhi < 0) {
    const nlo = (rlo - alo) | 0;
    rhi = (rhi - ahi - (rlo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
    rlo = nlo;
  }
  out[0] = rlo;
  out[1] = rhi;
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
  if (ahi >>> 0 < 0x200000 && bhi >>> 0 < 0x200000) {
    // Both below 2^53: a double division is exact after flooring, and so is a - q·b.
    const a = (ahi >>> 0) * 4294967296 + (alo >>> 0);
    const b = (bhi >>> 0) * 4294967296 + (blo >>> 0);
    const q = Math.floor(a / b);
    const r = rem ? a - q * b : q;
    out[0] = r | 0;
    out[1] = Math.floor(r / 4294967296) | 0;
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
