// Test-only: xorshift32, small and seedable, so a random program or operand stream reproduces from its seed.

/** The next 32 random bits as a signed int32 on every call. */
export function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s | 0;
  };
}
