// Hart state layout. Registers live in one ArrayBuffer with fixed offsets so a later WebAssembly JIT
// can share them with the interpreter (DESIGN.md §3). 64-bit integer registers are (lo, hi) int32 pairs:
// no BigInt on the hot path. Floating-point registers hold raw 64-bit patterns (NaN-boxing needs the bits).

export const STATE_X = 0; // x0..x31: 32 × (lo, hi) int32 = 256 bytes
export const STATE_F = 256; // f0..f31: 32 × 8 bytes raw IEEE bits (lo, hi)
export const STATE_PC = 512; // pc (lo, hi)
export const STATE_BYTES = 1024;

export class HartState {
  readonly buffer: ArrayBuffer;
  /** x[2*i] = low 32 bits of xi, x[2*i+1] = high 32 bits. x[0], x[1] stay 0. */
  readonly x: Int32Array;
  /** f registers as (lo, hi) int32 pairs of their raw bits. */
  readonly f: Int32Array;
  /** The same f registers as doubles (index i = fi). */
  readonly fd: Float64Array;
  /** The same f registers as floats: fs[2*i] is the low (single-precision) half of fi. */
  readonly fs: Float32Array;

  constructor(buffer: ArrayBuffer = new ArrayBuffer(STATE_BYTES), offset = 0) {
    this.buffer = buffer;
    this.x = new Int32Array(buffer, offset + STATE_X, 64);
    this.f = new Int32Array(buffer, offset + STATE_F, 64);
    this.fd = new Float64Array(buffer, offset + STATE_F, 32);
    this.fs = new Float32Array(buffer, offset + STATE_F, 64);
  }
}

/**
 * The region right after guest RAM in the WebAssembly.Memory (wasm-jit.ts): the hart state at its
 * start, a scratch cell for values the slow paths hand back, then the TLB arrays (each TLB_SIZE ×
 * TLB_SETS int32). Byte offsets from the region's start.
 */
export const AUX = {
  X: STATE_X,
  PC: STATE_PC,
  SCRATCH: STATE_BYTES,
  X_TAG_LO: 4096,
  X_TAG_HI: 4096 + 32768,
  X_OFF: 4096 + 2 * 32768,
  R_TAG_LO: 4096 + 3 * 32768,
  R_TAG_HI: 4096 + 4 * 32768,
  R_OFF: 4096 + 5 * 32768,
  W_TAG_LO: 4096 + 6 * 32768,
  W_TAG_HI: 4096 + 7 * 32768,
  W_OFF: 4096 + 8 * 32768,
  /** Block chaining (wasm-jit.ts): the block running now (slot, entry pc, retired before it). */
  CUR_SLOT: STATE_BYTES + 16,
  CUR_PCLO: STATE_BYTES + 20,
  CUR_PCHI: STATE_BYTES + 24,
  CUR_N: STATE_BYTES + 28,
  /** Set by every slow path a block calls: the chain returns to JS after that block. */
  EXIT: STATE_BYTES + 32,
  /** Per block-cache slot: the entry (RAM halfword index) whose wasm block the table holds, or -1. */
  WTAG: 4096 + 9 * 32768,
} as const;
/** Bytes reserved after RAM (TLB arrays of 8192 entries, 65536 block tags; hart-memory.ts checks). */
export const AUX_BYTES = 9 * 65536;
