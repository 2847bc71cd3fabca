// What both block compilers (jit.ts to JS, wasm-jit.ts to WebAssembly) read code through: guest RAM as
// 16-bit parcels, halfword indexed, with the compressed-instruction expansion table.

/** Reads the 16-bit parcels of guest RAM (halfword indexed) and expands compressed ones. */
export interface CodeSource {
  u16: Uint16Array;
  rvc: Int32Array;
}

/** Instructions per block at most (bounds compile time and how far a block overshoots a budget). */
export const MAX_BLOCK = 64;

/**
 * The instruction at RAM halfword index h, compressed ones expanded, or 0 when a block must stop before
 * it: a reserved parcel, or a 32-bit instruction straddling `pageEnd` (the interpreter's fetch handles
 * that one). Its length is 4 bytes when (u16[h] & 3) === 3, else 2.
 */
export function blockInsn(src: CodeSource, h: number, pageEnd: number): number {
  const p = src.u16[h];
  if ((p & 3) !== 3) return src.rvc[p];
  if (h + 1 >= pageEnd) return 0;
  return p | (src.u16[h + 1] << 16) | 0;
}
