// The Internet checksum (RFC 1071), pseudo-header sums for IPv4/IPv6 (RFC 793, RFC 8200 §8.1) and the
// incremental update of RFC 1624. Sums are carried as unfolded non-negative numbers below 2^32 so callers
// can chain partial sums (pseudo-header + header + payload) and fold once at the end.

/** Adds the big-endian 16-bit words of b[off, off+len) to `initial` (odd tail padded with 0). Unfolded. */
export function sumBytes(b: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  const end = off + len;
  let i = off;
  // Fold every 16K words so the running sum never leaves the exact-integer range of a double.
  while (i + 1 < end) {
    const stop = Math.min(end - 1, i + 32768);
    for (; i < stop; i += 2) s += (b[i]! << 8) | b[i + 1]!;
    s = (s & 0xffff) + Math.floor(s / 65536);
  }
  if (i < end) s += b[i]! << 8;
  return s;
}

/** Folds a running sum to 16 bits (end-around carry). */
export function foldSum(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

/** The checksum to store: ones' complement of the folded sum. */
export function finishChecksum(s: number): number {
  return ~foldSum(s) & 0xffff;
}

/** The Internet checksum of b[off, off+len) (with an optional seed sum). */
export function internetChecksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  return finishChecksum(sumBytes(b, off, len, initial));
}

/** IPv4 pseudo-header sum: src(4) dst(4) 0 proto l4Length(2), addresses read from b at srcOff/dstOff. */
export function pseudoHeaderSum4(
  b: Uint8Array,
  srcOff: number,
  dstOff: number,
  proto: number,
  l4Length: number,
): number {
  return sumBytes(b, srcOff, 4, sumBytes(b, dstOff, 4, proto + (l4Length & 0xffff)));
}

/** IPv6 pseudo-header sum: src(16) dst(16) l4Length(4) 0(3) nextHeader(1). */
export function pseudoHeaderSum6(
  b: Uint8Array,
  srcOff: number,
  dstOff: number,
  proto: number,
  l4Length: number,
): number {
  return sumBytes(b, srcOff, 16, sumBytes(b, dstOff, 16, proto + (l4Length >>> 16) + (l4Length & 0xffff)));
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changed from `oldWord` to
 * `newWord` — HC' = ~(~HC + ~m + m').
 */
export function checksumUpdate16(oldChecksum: number, oldWord: number, newWord: number): number {
  const s = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~foldSum(s) & 0xffff;
}

/** RFC 1624 for a 32-bit field (e.g. an IPv4 address or a TCP sequence number). */
export function checksumUpdate32(oldChecksum: number, oldValue: number, newValue: number): number {
  const c = checksumUpdate16(oldChecksum, oldValue >>> 16, newValue >>> 16);
  return checksumUpdate16(c, oldValue & 0xffff, newValue & 0xffff);
}
