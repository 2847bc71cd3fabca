// The memory side of a hart: address translation (Sv39/Sv48 walks), three direct-mapped TLBs (fetch,
// load, store) that map a virtual page straight to an offset in guest RAM, and the load/store/fetch
// paths. Everything here reads guest-controlled values (addresses, page tables): every failure becomes a
// RISC-V trap raised with raise(), never a JS exception escaping the hart.
//
// Fast paths are small methods V8 inlines into the interpreter loop (hart.ts); anything unusual —
// TLB misses, MMIO, misaligned or page-crossing accesses — takes the *Slow path.

import type { Bus } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";
import * as C from "./csr-numbers.ts";
import { ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE, type WalkRequest, walk } from "./mmu.ts";
import { AUX, AUX_BYTES } from "./state.ts";

export const TLB_BITS = 11;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
/**
 * One TLB set per translation context — M (identity), S with SUM = 0, S with SUM = 1, U — so a change
 * of privilege or of SUM (Linux flips SUM around every user copy) switches sets instead of flushing.
 */
export const TLB_SETS = 4;
// The aux region holds each TLB array in 32 KiB (state.ts AUX).
if (TLB_SIZE * TLB_SETS * 4 !== 32768) throw new Error("TLB arrays no longer fit the aux layout");
/** Past this many fills a flush clears whole arrays instead of replaying the log. */
const TLB_FILL_LOG = 4096;
/** A tag that no page-aligned address matches (low bits set). */
export const TLB_INVALID = 1;

/** Thrown (a preallocated object, no stack) from deep in a memory access; caught in Hart.run(). */
export const TRAP = { trap: true };

/** TLB set of a translation context: 0 M, 1 S, 2 S with SUM, 3 U. */
function tlbSet(priv: number, sum: boolean): number {
  if (priv === C.PRV_M) return 0;
  if (priv === C.PRV_U) return 3;
  return sum ? 2 : 1;
}

export class HartMemory {
  readonly mem: GuestMemory;
  readonly bus: Bus;
  priv = C.PRV_M;
  mstatus = 0; // low 32 bits; the high word is constant (UXL = SXL = 2)
  satpMode = 0;
  satpPpn = 0;

  // Pending trap from a faulting access.
  trapCause = 0;
  trapTvalLo = 0;
  trapTvalHi = 0;

  protected readonly ramBase: number;
  protected readonly ramSize: number;
  protected readonly u8: Uint8Array;
  protected readonly u16: Uint16Array;
  protected readonly i32: Int32Array;

  // TLBs: tag (page-aligned VA lo, VA hi) → RAM offset of the page.
  // With an aux region after RAM (GuestMemory.withExtra), they live there, where compiled wasm blocks
  // read them (state.ts AUX).
  readonly xTagLo: Int32Array;
  readonly xTagHi: Int32Array;
  readonly xOff: Int32Array;
  readonly rTagLo: Int32Array;
  readonly rTagHi: Int32Array;
  readonly rOff: Int32Array;
  readonly wTagLo: Int32Array;
  readonly wTagHi: Int32Array;
  readonly wOff: Int32Array;
  /** Byte offset of the aux region in mem.buffer, or -1 when there is none. */
  readonly auxOffset: number;
  /** First entry of the current fetch set and of the current load/store set. */
  xBase = 0;
  dBase = 0;
  protected readonly walkReq: WalkRequest = { mode: 0, rootPpn: 0, priv: 0, sum: false, mxr: false };
  protected readonly walkCtx: { ramI32: Int32Array; ramBase: number; ramSize: number; lastLevel: number };
  /** Scratch for the high word of 64-bit loads. */
  protected loadHi = 0;
  /**
   * RAM pages (numbered from the RAM base) holding compiled blocks (jit.ts), or undefined without a
   * block compiler. Such pages are kept out of the store TLB, so every store to one takes the slow
   * path and calls codeWritten, which drops the page's blocks: compiled code never goes stale.
   */
  codePages: Uint8Array | undefined;
  codeWritten: (page: number) => void = () => {};

  constructor(mem: GuestMemory, bus: Bus) {
    this.mem = mem;
    this.bus = bus;
    this.ramBase = mem.base;
    this.ramSize = mem.size;
    this.u8 = mem.u8;
    this.u16 = new Uint16Array(mem.buffer, 0, mem.size >>> 1);
    this.i32 = mem.i32;
    this.walkCtx = { ramI32: this.i32, ramBase: this.ramBase, ramSize: this.ramSize, lastLevel: 0 };
    const n = TLB_SIZE * TLB_SETS;
    this.auxOffset = mem.wasmMemory !== undefined && mem.buffer.byteLength >= mem.size + AUX_BYTES ? mem.size : -1;
    const arr = (at: number): Int32Array =>
      this.auxOffset < 0 ? new Int32Array(n) : new Int32Array(mem.buffer, this.auxOffset + at, n);
    this.xTagLo = arr(AUX.X_TAG_LO).fill(TLB_INVALID);
    this.xTagHi = arr(AUX.X_TAG_HI);
    this.xOff = arr(AUX.X_OFF);
    this.rTagLo = arr(AUX.R_TAG_LO).fill(TLB_INVALID);
    this.rTagHi = arr(AUX.R_TAG_HI);
    this.rOff = arr(AUX.R_OFF);
    this.wTagLo = arr(AUX.W_TAG_LO).fill(TLB_INVALID);
    this.wTagHi = arr(AUX.W_TAG_HI);
    this.wOff = arr(AUX.W_OFF);
  }

  /** Entries filled since the last flush (index | kind << 24), so a flush touches only those. */
  protected readonly tlbFilled = new Int32Array(TLB_FILL_LOG);
  protected tlbFilledCount = 0;

  /** Counts whole-TLB flushes, so a caller can tell that cached translations went stale. */
  tlbFlushes = 0;

  flushTlb(): void {
    this.tlbFlushes++;
    const n = this.tlbFilledCount;
    if (n >= TLB_FILL_LOG) {
      this.xTagLo.fill(TLB_INVALID);
      this.rTagLo.fill(TLB_INVALID);
      this.wTagLo.fill(TLB_INVALID);
    } else {
      const log = this.tlbFilled;
      for (let i = 0; i < n; i++) {
        const e = log[i];
        const idx = e & 0xffffff;
        const kind = (e >>> 24) & 3;
        if (kind === 0) this.xTagLo[idx] = TLB_INVALID;
        else if (kind === 1) this.rTagLo[idx] = TLB_INVALID;
        else this.wTagLo[idx] = TLB_INVALID;
      }
    }
    this.tlbFilledCount = 0;
    this.superFills = 0;
  }

  protected noteFill(idx: number, kind: number): void {
    const n = this.tlbFilledCount;
    // Bit 26 marks an entry cut from a superpage, which a one-page fence must drop as a whole; bits
    // 27-28 hold the superpage's level (1: 2 MiB, 2: 1 GiB, 3: 512 GiB).
    const level = this.satpMode !== 0 ? this.walkCtx.lastLevel : 0;
    const superpage = level > 0 ? (1 << 26) | (level << 27) : 0;
    if (superpage !== 0) this.superFills++;
    if (n < TLB_FILL_LOG) this.tlbFilled[n] = idx | (kind << 24) | superpage;
    this.tlbFilledCount = n + 1;
  }

  protected superFills = 0;

  /**
   * SFENCE.VMA with an address: that page in every set, plus the entries cut from a superpage that
   * contains the address (entries of other superpages stay: Linux fences single user pages after
   * every page-fault fix-up, and dropping the kernel's linear-map entries each time costs refills).
   */
  flushTlbPage(lo: number, hi: number): void {
    if (this.tlbFilledCount >= TLB_FILL_LOG) {
      this.flushTlb();
      return;
    }
    const tag = lo & -4096;
    const slot = (lo >>> 12) & TLB_MASK;
    for (let set = 0; set < TLB_SETS; set++) {
      const i = set * TLB_SIZE + slot;
      if (this.xTagLo[i] === tag && this.xTagHi[i] === hi) this.xTagLo[i] = TLB_INVALID;
      if (this.rTagLo[i] === tag && this.rTagHi[i] === hi) this.rTagLo[i] = TLB_INVALID;
      if (this.wTagLo[i] === tag && this.wTagHi[i] === hi) this.wTagLo[i] = TLB_INVALID;
    }
    if (this.superFills === 0) return;
    const log = this.tlbFilled;
    let live = 0;
    for (let k = 0; k < this.tlbFilledCount; k++) {
      const e = log[k];
      if ((e & (1 << 26)) === 0) continue;
      const idx = e & 0xffffff;
      const kind = (e >>> 24) & 3;
      const level = (e >>> 27) & 3;
      const tagLo = kind === 0 ? this.xTagLo : kind === 1 ? this.rTagLo : this.wTagLo;
      const tagHi = kind === 0 ? this.xTagHi : kind === 1 ? this.rTagHi : this.wTagHi;
      // The entry now at idx (whichever fill put it there) lies in the level-sized superpage around
      // the fenced address: drop it. Otherwise the superpage this record names is not the fenced one.
      const tl = tagLo[idx];
      const th = tagHi[idx];
      const shift = 12 + 9 * level;
      const same = shift < 32 ? th === hi && (tl ^ lo) >>> shift === 0 : (th ^ hi) >>> (shift - 32) === 0;
      if (same && tl !== TLB_INVALID) {
        tagLo[idx] = TLB_INVALID;
        log[k] = idx | (kind << 24); // no longer a live superpage entry
      } else live++;
    }
    this.superFills = live;
  }

  /** Records a synchronous exception and unwinds to run(). */
  raise(cause: number, tvalLo: number, tvalHi: number): never {
    this.trapCause = cause;
    this.trapTvalLo = tvalLo;
    this.trapTvalHi = tvalHi;
    throw TRAP;
  }

  illegal(insn: number): never {
    return this.raise(C.CAUSE_ILLEGAL_INSTRUCTION, insn, 0);
  }

  setPriv(p: number): void {
    this.priv = p;
    this.selectTlbSets();
  }

  /** Points the fetch and data TLBs at the sets for the current privilege, MPRV/MPP and SUM. */
  selectTlbSets(): void {
    this.xBase = tlbSet(this.priv, false) * TLB_SIZE;
    this.dBase = tlbSet(this.dataPriv(), (this.mstatus & C.MSTATUS_SUM) !== 0) * TLB_SIZE;
  }

  // ---- address translation ---------------------------------------------------------------------

  /** Effective privilege for loads and stores (MPRV makes M-mode act as MPP). */
  protected dataPriv(): number {
    if (this.priv === C.PRV_M && (this.mstatus & C.MSTATUS_MPRV) !== 0) {
      return (this.mstatus >>> C.MSTATUS_MPP_SHIFT) & 3;
    }
    return this.priv;
  }

  /** Translates a VA; returns a physical address (number) or raises the right fault. */
  translate(lo: number, hi: number, access: number): number {
    const priv = access === ACCESS_FETCH ? this.priv : this.dataPriv();
    if (priv === C.PRV_M || this.satpMode === 0) {
      return (hi >>> 0) * 4294967296 + (lo >>> 0);
    }
    const r = this.walkReq;
    r.mode = this.satpMode;
    r.rootPpn = this.satpPpn;
    r.priv = priv;
    r.sum = (this.mstatus & C.MSTATUS_SUM) !== 0;
    r.mxr = (this.mstatus & C.MSTATUS_MXR) !== 0;
    const pa = walk(this.walkCtx, r, lo, hi, access);
    if (pa >= 0) return pa + (lo & 4095);
    if (pa === -2) {
      this.raise(
        access === ACCESS_FETCH
          ? C.CAUSE_FETCH_ACCESS
          : access === ACCESS_LOAD
            ? C.CAUSE_LOAD_ACCESS
            : C.CAUSE_STORE_ACCESS,
        lo,
        hi,
      );
    }
    return this.raise(
      access === ACCESS_FETCH
        ? C.CAUSE_FETCH_PAGE_FAULT
        : access === ACCESS_LOAD
          ? C.CAUSE_LOAD_PAGE_FAULT
          : C.CAUSE_STORE_PAGE_FAULT,
      lo,
      hi,
    );
  }

  /** RAM offset of a physical address, or -1 when it is not RAM. */
  protected ramOffset(pa: number, size: number): number {
    const off = pa - this.ramBase;
    return off >= 0 && off + size <= this.ramSize ? off : -1;
  }

  // ---- loads -----------------------------------------------------------------------------------

  /** Slow path of every load: translation, TLB fill, MMIO, misaligned and page-crossing accesses.
   *  Returns the low 32 bits (zero-extended form for size < 4 handled by the caller) and sets loadHi. */
  protected loadSlow(lo: number, hi: number, size: number): number {
    if ((lo & (size - 1)) !== 0) {
      // Misaligned: done in hardware, byte by byte (each byte may fault on its own).
      let vlo = 0;
      let vhi = 0;
      for (let i = 0; i < size; i++) {
        const alo = (lo + i) | 0;
        const ahi = alo >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
        const b = this.loadSlow(alo, ahi, 1) & 0xff;
        if (i < 4) vlo |= b << (8 * i);
        else vhi |= b << (8 * (i - 4));
      }
      this.loadHi = vhi;
      return vlo;
    }
    const pa = this.translate(lo, hi, ACCESS_LOAD);
    const page = pa - (lo & 4095);
    const pageOff = this.ramOffset(page, 4096);
    if (pageOff >= 0) {
      const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
      this.noteFill(idx, 1);
      this.rTagLo[idx] = lo & -4096;
      this.rTagHi[idx] = hi;
      this.rOff[idx] = pageOff;
      const off = pageOff + (lo & 4095);
      switch (size) {
        case 1:
          return this.u8[off];
        case 2:
          return this.u16[off >> 1];
        case 4:
          return this.i32[off >> 2];
        default:
          this.loadHi = this.i32[(off >> 2) + 1];
          return this.i32[off >> 2];
      }
    }
    if (size === 8) {
      const v = this.bus.read64(pa);
      if (v === undefined) return this.raise(C.CAUSE_LOAD_ACCESS, lo, hi);
      this.loadHi = v[1];
      return v[0];
    }
    const v = this.bus.read(pa, size as 1 | 2 | 4);
    if (v === undefined) return this.raise(C.CAUSE_LOAD_ACCESS, lo, hi);
    return v | 0;
  }

  load8(lo: number, hi: number): number {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if (this.rTagLo[idx] === (lo & -4096) && this.rTagHi[idx] === hi) return this.u8[this.rOff[idx] + (lo & 4095)];
    return this.loadSlow(lo, hi, 1) & 0xff;
  }

  load16(lo: number, hi: number): number {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if ((lo & 1) === 0 && this.rTagLo[idx] === (lo & -4096) && this.rTagHi[idx] === hi) {
      return this.u16[(this.rOff[idx] + (lo & 4095)) >> 1];
    }
    return this.loadSlow(lo, hi, 2) & 0xffff;
  }

  load32(lo: number, hi: number): number {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if ((lo & 3) === 0 && this.rTagLo[idx] === (lo & -4096) && this.rTagHi[idx] === hi) {
      return this.i32[(this.rOff[idx] + (lo & 4095)) >> 2];
    }
    return this.loadSlow(lo, hi, 4) | 0;
  }

  /** Returns the low word; the high word is in loadHi. */
  load64(lo: number, hi: number): number {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if ((lo & 7) === 0 && this.rTagLo[idx] === (lo & -4096) && this.rTagHi[idx] === hi) {
      const i = (this.rOff[idx] + (lo & 4095)) >> 2;
      this.loadHi = this.i32[i + 1];
      return this.i32[i];
    }
    return this.loadSlow(lo, hi, 8);
  }

  /** Drops store-TLB entries that map RAM page `page` (it now holds compiled code). */
  unmapStorePage(page: number): void {
    const off = page << 12;
    const tags = this.wTagLo;
    const offs = this.wOff;
    for (let i = 0; i < offs.length; i++) if (offs[i] === off && tags[i] !== TLB_INVALID) tags[i] = TLB_INVALID;
  }

  // ---- stores ----------------------------------------------------------------------------------

  protected storeSlow(lo: number, hi: number, size: number, vlo: number, vhi: number): void {
    if ((lo & (size - 1)) !== 0) {
      // Misaligned: check every byte translates before writing any, so a fault leaves memory untouched.
      for (let i = 0; i < size; i++) {
        const alo = (lo + i) | 0;
        const ahi = alo >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
        this.translate(alo, ahi, ACCESS_STORE);
      }
      for (let i = 0; i < size; i++) {
        const alo = (lo + i) | 0;
        const ahi = alo >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
        const b = i < 4 ? vlo >>> (8 * i) : vhi >>> (8 * (i - 4));
        this.storeSlow(alo, ahi, 1, b & 0xff, 0);
      }
      return;
    }
    const pa = this.translate(lo, hi, ACCESS_STORE);
    const page = pa - (lo & 4095);
    const pageOff = this.ramOffset(page, 4096);
    if (pageOff >= 0) {
      if (this.codePages !== undefined && this.codePages[pageOff >>> 12] !== 0) this.codeWritten(pageOff >>> 12);
      const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
      this.noteFill(idx, 2);
      this.wTagLo[idx] = lo & -4096;
      this.wTagHi[idx] = hi;
      this.wOff[idx] = pageOff;
      const off = pageOff + (lo & 4095);
      switch (size) {
        case 1:
          this.u8[off] = vlo;
          return;
        case 2:
          this.u16[off >> 1] = vlo;
          return;
        case 4:
          this.i32[off >> 2] = vlo;
          return;
        default:
          this.i32[off >> 2] = vlo;
          this.i32[(off >> 2) + 1] = vhi;
          return;
      }
    }
    if (!this.bus.write(pa, size as 1 | 2 | 4 | 8, size === 1 ? vlo & 0xff : size === 2 ? vlo & 0xffff : vlo, vhi)) {
      this.raise(C.CAUSE_STORE_ACCESS, lo, hi);
    }
  }

  store8(lo: number, hi: number, v: number): void {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if (this.wTagLo[idx] === (lo & -4096) && this.wTagHi[idx] === hi) {
      this.u8[this.wOff[idx] + (lo & 4095)] = v;
      return;
    }
    this.storeSlow(lo, hi, 1, v, 0);
  }

  store16(lo: number, hi: number, v: number): void {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if ((lo & 1) === 0 && this.wTagLo[idx] === (lo & -4096) && this.wTagHi[idx] === hi) {
      this.u16[(this.wOff[idx] + (lo & 4095)) >> 1] = v;
      return;
    }
    this.storeSlow(lo, hi, 2, v, 0);
  }

  store32(lo: number, hi: number, v: number): void {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if ((lo & 3) === 0 && this.wTagLo[idx] === (lo & -4096) && this.wTagHi[idx] === hi) {
      this.i32[(this.wOff[idx] + (lo & 4095)) >> 2] = v;
      return;
    }
    this.storeSlow(lo, hi, 4, v, 0);
  }

  store64(lo: number, hi: number, vlo: number, vhi: number): void {
    const idx = this.dBase + ((lo >>> 12) & TLB_MASK);
    if ((lo & 7) === 0 && this.wTagLo[idx] === (lo & -4096) && this.wTagHi[idx] === hi) {
      const i = (this.wOff[idx] + (lo & 4095)) >> 2;
      this.i32[i] = vlo;
      this.i32[i + 1] = vhi;
      return;
    }
    this.storeSlow(lo, hi, 8, vlo, vhi);
  }

  // ---- instruction fetch -----------------------------------------------------------------------

  protected fetchParcelSlow(lo: number, hi: number): number {
    const pa = this.translate(lo, hi, ACCESS_FETCH);
    const pageOff = this.ramOffset(pa - (lo & 4095), 4096);
    if (pageOff >= 0) {
      const idx = this.xBase + ((lo >>> 12) & TLB_MASK);
      this.noteFill(idx, 0);
      this.xTagLo[idx] = lo & -4096;
      this.xTagHi[idx] = hi;
      this.xOff[idx] = pageOff;
      return this.u16[(pageOff + (lo & 4095)) >> 1];
    }
    const v = this.bus.read(pa, 2);
    if (v === undefined) return this.raise(C.CAUSE_FETCH_ACCESS, lo, hi);
    return v & 0xffff;
  }

  /** Fetches the instruction at pc; a compressed one comes back as its low 16 bits (caller expands). */
  protected fetchSlow(lo: number, hi: number): number {
    const first = this.fetchParcelSlow(lo, hi);
    if ((first & 3) !== 3) return first;
    const lo2 = (lo + 2) | 0;
    const hi2 = lo2 >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
    // A fault on the second half reports the address of that half (privileged ISA, stval for fetches).
    return first | (this.fetchParcelSlow(lo2, hi2) << 16);
  }
}
