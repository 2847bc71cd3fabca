// Sv39/Sv48 page-table walk (privileged ISA "Sv39", riscv-platform.md §4). Reads page-table entries
// from guest RAM: every PTE is guest-controlled and checked before use. Accessed/dirty bits are set by
// hardware (compare-and-swap in place), never speculatively.

export const ACCESS_FETCH = 0;
export const ACCESS_LOAD = 1;
export const ACCESS_STORE = 2;

const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_U = 16;
const PTE_A = 64;
const PTE_D = 128;

/** What the walk needs from the hart; kept small so the walk is testable alone. */
export interface WalkContext {
  readonly ramI32: Int32Array;
  readonly ramBase: number;
  readonly ramSize: number;
  /** Set by a successful walk: the level of the leaf (0 = 4 KiB page, > 0 = superpage). */
  lastLevel: number;
}

export interface WalkRequest {
  /** satp.MODE: 8 = Sv39, 9 = Sv48. */
  mode: number;
  /** Root page-table physical page number. */
  rootPpn: number;
  /** Effective privilege of the access (0 U, 1 S). */
  priv: number;
  sum: boolean;
  mxr: boolean;
}

/**
 * Translates (lo, hi) for one access. Returns the physical address of the page base (a multiple of
 * 4096) as a non-negative number, -1 for a page fault, or -2 for an access fault while reading a PTE.
 */
export function walk(ctx: WalkContext, req: WalkRequest, lo: number, hi: number, access: number): number {
  const levels = req.mode === 9 ? 4 : 3;
  const vaBits = 12 + 9 * levels;
  // Bits 63..vaBits-1 must all equal bit vaBits-1 (canonical form).
  const topShift = vaBits - 1 - 32; // position of the sign bit in the high word (6 for Sv39, 15 for Sv48)
  const sign = (hi >> topShift) & 1;
  if (hi >> topShift !== (sign ? -1 : 0)) return -1;
  let a = req.rootPpn * 4096;
  for (let level = levels - 1; level >= 0; level--) {
    const shift = 12 + 9 * level;
    const vpn =
      shift < 32
        ? ((lo >>> shift) | (shift > 23 ? (hi << (32 - shift)) & 0x1ff : 0)) & 0x1ff
        : (hi >>> (shift - 32)) & 0x1ff;
    const pteAddr = a + vpn * 8;
    const off = pteAddr - ctx.ramBase;
    if (off < 0 || off + 8 > ctx.ramSize) return -2;
    const idx = off >>> 2;
    const pteLo = ctx.ramI32[idx];
    const pteHi = ctx.ramI32[idx + 1];
    if ((pteLo & PTE_V) === 0 || (pteLo & (PTE_R | PTE_W)) === PTE_W) return -1;
    // Reserved bits 63:54 (no Svpbmt, no Svnapot).
    if ((pteHi & 0xffc00000) !== 0) return -1;
    const ppn = (pteHi & 0x3fffff) * 4194304 + (pteLo >>> 10); // PPN = bits 53:10
    if ((pteLo & (PTE_R | PTE_X)) === 0) {
      // Pointer to the next level: A, D and U must be clear.
      if ((pteLo & (PTE_A | PTE_D | PTE_U)) !== 0) return -1;
      a = ppn * 4096;
      continue;
    }
    // Leaf.
    if (level > 0 && ppn % (1 << (9 * level)) !== 0) return -1; // misaligned superpage
    if (req.priv === 0) {
      if ((pteLo & PTE_U) === 0) return -1;
    } else if ((pteLo & PTE_U) !== 0) {
      if (access === ACCESS_FETCH || !req.sum) return -1;
    }
    if (access === ACCESS_FETCH) {
      if ((pteLo & PTE_X) === 0) return -1;
    } else if (access === ACCESS_LOAD) {
      if ((pteLo & PTE_R) === 0 && !(req.mxr && (pteLo & PTE_X) !== 0)) return -1;
    } else if ((pteLo & PTE_W) === 0) return -1;
    const need = access === ACCESS_STORE ? PTE_A | PTE_D : PTE_A;
    if ((pteLo & need) !== need) ctx.ramI32[idx] = pteLo | need;
    ctx.lastLevel = level;
    if (level === 0) return ppn * 4096;
    // Superpages: the page index below the superpage comes from the virtual address (the leaf's low
    // PPN bits are zero, checked above). Levels 1 and 2 need VA bits 20..12 / 29..12, all in `lo`;
    // Sv48's level 3 (512 GiB) needs bits 38..12.
    if (level === 1) return ppn * 4096 + (lo & 0x1ff000);
    if (level === 2) return ppn * 4096 + (lo & 0x3ffff000);
    return ppn * 4096 + (hi & 0x7f) * 4294967296 + (lo >>> 0) - (lo & 0xfff);
  }
  return -1;
}
