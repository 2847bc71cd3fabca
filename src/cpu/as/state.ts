// AssemblyScript: the hart's state in the module's (imported) memory. Guest RAM sits at address 0; the
// hart's region starts right after it, at `base` (= RAM size, set once by init()). Everything the core and
// the FPU share lives here or in the globals below. Layout (bytes from base), compatible with
// src/cpu/state.ts (x and f as 64-bit little-endian = the (lo, hi) int32 pairs the TypeScript side views):
//   0    x0..x31   (i64)
//   256  f0..f31   (raw IEEE bits, i64; singles NaN-boxed)
//   512  pc        (i64)
//   1024 scratch   (bus values, 16 bytes)

export let base: usize = 0;

export const X_OFF: usize = 0;
export const F_OFF: usize = 256;
export const PC_OFF: usize = 512;
export const SCRATCH_OFF: usize = 1024;

/** Accrued FP exceptions (NV DZ OF UF NX = 16 8 4 2 1) and the dynamic rounding mode. */
export let fflags: u32 = 0;
export let frm: u32 = 0;

export function setBase(b: usize): void {
  base = b;
}

@inline export function xr(i: u32): u64 {
  return load<u64>(base + (<usize>i << 3));
}

/** Writes x[i] (x0 stays 0). */
@inline export function xw(i: u32, v: u64): void {
  if (i != 0) store<u64>(base + (<usize>i << 3), v);
}

@inline export function fr(i: u32): u64 {
  return load<u64>(base + F_OFF + (<usize>i << 3));
}

@inline export function fw(i: u32, v: u64): void {
  store<u64>(base + F_OFF + (<usize>i << 3), v);
}

export function setFflags(v: u32): void {
  fflags = v & 31;
}
export function setFrm(v: u32): void {
  frm = v & 7;
}
