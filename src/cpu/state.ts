// Hart state layout: the x and f registers and pc at fixed offsets, as the WebAssembly core keeps them right
// after guest RAM (src/cpu/as/state.ts) and its host views them (wasm-core.ts; DESIGN.md §3). 64-bit integer
// registers are (lo, hi) int32 pairs: no BigInt on the hot path. Floating-point registers hold raw 64-bit
// patterns (NaN-boxing needs the bits).

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
