// AssemblyScript: one RV64GC hart — decode (RVC through an expansion table), RV64IMA, the F/D extensions
// (fpu.ts), Zicsr, M/S/U privilege with traps and interrupts, Sv39/Sv48 translation with three TLBs — as a
// WebAssembly interpreter. Guest RAM is this module's memory from address 0; the hart's region follows it
// (state.ts). Anything off RAM (MMIO, the boot ROM) goes to the host through the imports below.
//
// Every value the guest hands us (instructions, addresses, page tables, CSR values) is hostile: each
// failure becomes a RISC-V trap. A faulting access records trapCause/trapTval and returns; the run loop
// then takes the trap with pc still naming the faulting instruction (precise traps).
//
// The semantics were ported from the TypeScript hart (src/cpu/hart.ts and its memory, CSR and MMU files,
// removed since) and checked against it in lockstep; tests/isa and tests/diff (against QEMU) check them now.

import { base, F_OFF, fflags, fr, frm, fw, PC_OFF, SCRATCH_OFF, setFflags, setFrm, xr, xw } from "./state";
import { fpExec } from "./fpu";
import { buildRvcTable } from "./rvc";

// ---- host imports ----------------------------------------------------------------------------------

/** Reads size bytes at a physical address off RAM; 1 = ok with the value in scratch (u64), 0 = no device. */
@external("env", "busRead") declare function busRead(paLo: u32, paHi: u32, size: u32): i32;
/** Writes size bytes at a physical address off RAM; 1 = ok, 0 = no device. */
@external("env", "busWrite") declare function busWrite(paLo: u32, paHi: u32, size: u32, vLo: u32, vHi: u32): i32;
/** The CLINT's mtime in ticks. */
@external("env", "mtime") declare function hostMtime(): f64;
/** A bare-metal run's ECALL hook: 1 = handled (the ECALL retires as a no-op and run() returns). */
@external("env", "ecall") declare function hostEcall(priv: u32): i32;
/** Tracing: one retired instruction (rd = the register it wrote, 0 for none), or a trap (insn = -1). */
@external("env", "trace") declare function hostTrace(pcLo: u32, pcHi: u32, insn: u32, rd: u32, cause: u32): void;
/**
 * The block compiler (src/cpu/wasm-core-jit.ts): compiles the code at RAM offset `off` into a function in the
 * table for block-cache slot `slot`; returns its table index, -1 when it compiles in the background, or 0 when
 * nothing there can be compiled.
 */
@external("env", "jitCompile") declare function hostJitCompile(off: u32, slot: u32): i32;
/** A store or device write hit a RAM page holding compiled code: drop that page's blocks. */
@external("env", "codeWritten") declare function hostCodeWritten(page: u32): void;

// ---- layout (bytes from base) ------------------------------------------------------------------------

const CSR_OFF: usize = 0x1000; // 4096 CSRs × 8 bytes: the plain ones (stvec, sepc, pmp…) by number
const TLB_OFF: usize = 0x10000; // 3 kinds (fetch, load, store) × 4 sets × 2048 entries × 16 bytes
const FILL_OFF: usize = 0x70000; // the fill log: 4096 × u32
const RVC_OFF: usize = 0x80000; // 65536 × u32: the expansion of every 16-bit parcel (0 = illegal)
const JC_OFF: usize = 0xc0000; // the chain cache: JC_SIZE × 32 bytes (see jcKey)
const STATE_OFF: usize = 0xe0000; // saveState()/loadState(): the hart's state as bytes (STATE_BYTES)
/**
 * The block cache: per slot the entry's RAM offset (or -1), hits, and what to call (the table index of its
 * page's region in the low 20 bits, the block's number in the region above them). Two-way set-associative on a
 * hash of the RAM offset (jitSlotBytes; an entry lives in slot h or h ^ 1). A Linux boot enters tens of
 * thousands of distinct blocks; with 2^14 direct-mapped slots indexed by the low offset bits, code 32 KiB
 * apart evicted each other (3 M evictions in the CPU workload, each evicted block counting up from 0 again,
 * interpreted meanwhile), and with 2^18 direct-mapped hashed slots a few hot pairs still took turns (1 M).
 */
const JIT_TAG_OFF: usize = 0x100000;
const JIT_COUNT_OFF: usize = 0x200000;
const JIT_FN_OFF: usize = 0x300000;
const JIT_SLOT_BITS: u32 = 18;
const JIT_SLOTS: u32 = 1 << JIT_SLOT_BITS;
/** One byte per RAM page: 1 = compiled code was made from it (stores there take the slow path). */
export const CODE_PAGES_OFF: u32 = 0x400000;
/** Bytes the hart needs after RAM (src/cpu/wasm-core.ts reserves them): room for 4 GiB of code-page bytes. */
export const AUX_SIZE: u32 = 0x500000;

/**
 * The chain cache: compiled code by virtual pc, so going from one compiled block to the next skips the fetch
 * TLB and the block cache. An entry is pc (u64), key (u64: jcKey when filled) and the slot value (i32); it
 * holds while jcKey is unchanged: the fetch TLB set in use (low half) and jcStamp (high half), which every TLB
 * flush and every region the host drops (jcInvalidate) moves on.
 */
const JC_BITS: u32 = 12;
const JC_MASK: u32 = (1 << JC_BITS) - 1;
let jcStamp: u32 = 1;
/** Exported to the compiled regions, which follow the chain cache themselves (a tail call to the next region). */
export let jcKey: u64 = 0;

/** Forgets the whole chain cache. */
export function jcInvalidate(): void {
  jcStamp++;
  jcRekey();
}

/** jcKey for the stamp and the fetch TLB set in use (after either changes). */
// @ts-ignore: decorator
@inline
function jcRekey(): void {
  jcKey = (<u64>jcStamp << 32) | <u64><u32>xTlb;
}

/** The first of the two block-cache slots RAM offset `off` may use, as a byte offset into the slot arrays. */
// @ts-ignore: decorator
@inline
function jitSlotBytes(off: u32): usize {
  return <usize>(((off >> 1) * 0x9e3779b1) >> (32 - JIT_SLOT_BITS)) << 2;
}

/** The slot (byte offset) holding RAM offset `off`, or -1. */
// @ts-ignore: decorator
@inline
function jitSlotFind(off: u32): isize {
  const a = jitSlotBytes(off);
  if (load<u32>(base + JIT_TAG_OFF + a) == off) return <isize>a;
  if (load<u32>(base + JIT_TAG_OFF + (a ^ 4)) == off) return <isize>(a ^ 4);
  return -1;
}

/**
 * The slot (byte offset) holding RAM offset `off`, or one to put it in: an empty one of its two, else one
 * without compiled code, else the one with fewer hits. A new tenant starts at 0 hits.
 */
function jitSlotFor(off: u32): usize {
  const hit = jitSlotFind(off);
  if (hit >= 0) return <usize>hit;
  const a = jitSlotBytes(off);
  const b = a ^ 4;
  let v = a;
  if (load<i32>(base + JIT_TAG_OFF + a) != -1) {
    if (load<i32>(base + JIT_TAG_OFF + b) == -1) v = b;
    else {
      const fa = load<i32>(base + JIT_FN_OFF + a) > 0;
      const fb = load<i32>(base + JIT_FN_OFF + b) > 0;
      if (fa != fb) v = fa ? b : a;
      else if (load<i32>(base + JIT_COUNT_OFF + b) < load<i32>(base + JIT_COUNT_OFF + a)) v = b;
    }
  }
  store<u32>(base + JIT_TAG_OFF + v, off);
  store<i32>(base + JIT_COUNT_OFF + v, 0);
  store<i32>(base + JIT_FN_OFF + v, 0);
  return v;
}

const TLB_BITS: u32 = 11;
const TLB_SIZE: u32 = 1 << TLB_BITS;
const TLB_MASK: u32 = TLB_SIZE - 1;
const TLB_SETS: u32 = 4;
const TLB_KIND_BYTES: usize = <usize>(TLB_SIZE * TLB_SETS) << 4;
const TLB_SET_BYTES: usize = <usize>TLB_SIZE << 4;
/** A tag no access matches (the masked address always has bits 3..11 clear). */
const TLB_INVALID: u64 = 0xffffffffffffffff;
const FILL_LOG: u32 = 4096;

// ---- CSR numbers and fields (privileged ISA "CSR Listing") --------------------------------------------

const CSR_FFLAGS: u32 = 0x001;
const CSR_FRM: u32 = 0x002;
const CSR_FCSR: u32 = 0x003;
const CSR_CYCLE: u32 = 0xc00;
const CSR_TIME: u32 = 0xc01;
const CSR_INSTRET: u32 = 0xc02;
const CSR_SSTATUS: u32 = 0x100;
const CSR_SIE: u32 = 0x104;
const CSR_STVEC: u32 = 0x105;
const CSR_SCOUNTEREN: u32 = 0x106;
const CSR_SENVCFG: u32 = 0x10a;
const CSR_SSCRATCH: u32 = 0x140;
const CSR_SEPC: u32 = 0x141;
const CSR_SCAUSE: u32 = 0x142;
const CSR_STVAL: u32 = 0x143;
const CSR_SIP: u32 = 0x144;
const CSR_STIMECMP: u32 = 0x14d;
const CSR_SATP: u32 = 0x180;
const CSR_MVENDORID: u32 = 0xf11;
const CSR_MARCHID: u32 = 0xf12;
const CSR_MIMPID: u32 = 0xf13;
const CSR_MHARTID: u32 = 0xf14;
const CSR_MCONFIGPTR: u32 = 0xf15;
const CSR_MSTATUS: u32 = 0x300;
const CSR_MISA: u32 = 0x301;
const CSR_MEDELEG: u32 = 0x302;
const CSR_MIDELEG: u32 = 0x303;
const CSR_MIE: u32 = 0x304;
const CSR_MTVEC: u32 = 0x305;
const CSR_MCOUNTEREN: u32 = 0x306;
const CSR_MENVCFG: u32 = 0x30a;
const CSR_MCOUNTINHIBIT: u32 = 0x320;
const CSR_MSCRATCH: u32 = 0x340;
const CSR_MEPC: u32 = 0x341;
const CSR_MCAUSE: u32 = 0x342;
const CSR_MTVAL: u32 = 0x343;
const CSR_MIP: u32 = 0x344;
const CSR_PMPCFG0: u32 = 0x3a0;
const CSR_PMPADDR0: u32 = 0x3b0;
const CSR_MCYCLE: u32 = 0xb00;
const CSR_MINSTRET: u32 = 0xb02;

const MSTATUS_SIE: u32 = 1 << 1;
const MSTATUS_MIE: u32 = 1 << 3;
const MSTATUS_SPIE: u32 = 1 << 5;
const MSTATUS_MPIE: u32 = 1 << 7;
const MSTATUS_SPP: u32 = 1 << 8;
const MSTATUS_MPP_SHIFT: u32 = 11;
const MSTATUS_MPP: u32 = 3 << 11;
const MSTATUS_FS: u32 = 3 << 13;
const MSTATUS_MPRV: u32 = 1 << 17;
const MSTATUS_SUM: u32 = 1 << 18;
const MSTATUS_MXR: u32 = 1 << 19;
const MSTATUS_TVM: u32 = 1 << 20;
const MSTATUS_TW: u32 = 1 << 21;
const MSTATUS_TSR: u32 = 1 << 22;
/** UXL = SXL = 2 in the high word. */
const MSTATUS_HI_XL: u64 = 0xa;
const MSTATUS_WRITABLE: u32 =
  MSTATUS_SIE |
  MSTATUS_MIE |
  MSTATUS_SPIE |
  MSTATUS_MPIE |
  MSTATUS_SPP |
  MSTATUS_MPP |
  MSTATUS_FS |
  MSTATUS_MPRV |
  MSTATUS_SUM |
  MSTATUS_MXR |
  MSTATUS_TVM |
  MSTATUS_TW |
  MSTATUS_TSR;
const SSTATUS_MASK: u32 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;
/** RV64 IMAFDC + S + U. */
const MISA: u64 = 0x800000000014112d;

const IRQ_SSI: u32 = 1;
const IRQ_MSI: u32 = 3;
const IRQ_STI: u32 = 5;
const IRQ_MTI: u32 = 7;
const IRQ_SEI: u32 = 9;
const IRQ_MEI: u32 = 11;
const MIP_S_MASK: u32 = (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI);
const MIP_M_WRITABLE: u32 = (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI);
const MIE_MASK: u32 = MIP_S_MASK | (1 << IRQ_MSI) | (1 << IRQ_MTI) | (1 << IRQ_MEI);
const MEDELEG_MASK: u32 = 0xb3ff;
const MENVCFG_STCE: u64 = 0x8000000000000000;

const CAUSE_FETCH_ACCESS: i32 = 1;
const CAUSE_ILLEGAL: i32 = 2;
const CAUSE_BREAKPOINT: i32 = 3;
const CAUSE_MISALIGNED_LOAD: i32 = 4;
const CAUSE_LOAD_ACCESS: i32 = 5;
const CAUSE_MISALIGNED_STORE: i32 = 6;
const CAUSE_STORE_ACCESS: i32 = 7;
const CAUSE_USER_ECALL: i32 = 8;
const CAUSE_FETCH_PAGE_FAULT: i32 = 12;
const CAUSE_LOAD_PAGE_FAULT: i32 = 13;
const CAUSE_STORE_PAGE_FAULT: i32 = 15;

const PRV_U: u32 = 0;
const PRV_S: u32 = 1;
const PRV_M: u32 = 3;

const ACCESS_FETCH: u32 = 0;
const ACCESS_LOAD: u32 = 1;
const ACCESS_STORE: u32 = 2;

// ---- hart state ---------------------------------------------------------------------------------------

let ramBase: u64 = 0x80000000;
let ramSize: u64 = 0;
let hartId: u64 = 0;

export let priv: u32 = PRV_M;
export let mstatus: u32 = 0;
export let mip: u32 = 0;
export let mipSeipHw: bool = false;
export let mie: u32 = 0;
export let medeleg: u32 = 0;
export let mideleg: u32 = 0;
export let mcounteren: u32 = 0;
export let scounteren: u32 = 0;
let menvcfg: u64 = 0;
let satpMode: u32 = 0;
let satpPpn: u64 = 0;
let stimecmp: u64 = 0xffffffffffffffff;
/** LR/SC reservation: a physical address, or -1 for none. */
let reservation: i64 = -1;
/** Instructions retired since reset (the host's run() budgets count these). */
let instret: u64 = 0;
/** minstret/mcycle as the guest sees them = retired + instretOffset. */
let instretOffset: u64 = 0;
/** Retired count at the current SYSTEM instruction (CSR reads of the counters see it). */
let instretNow: u64 = 0;
export let waiting: bool = false;
/** Set by the host (a device asked to stop) or by a handled ECALL: run() returns at the next boundary. */
export let stopRequested: bool = false;
/** The host wants ECALLs first (bare-metal runs). */
let ecallHooked: bool = false;
/** One trace callback per retired instruction. */
let tracing: bool = false;
/** Blocks entered this often get compiled (0 = never compile): jitThresholdSet once the warm-up is over. */
let jitThreshold: i32 = 0;
/** The threshold the host set (setJitThreshold). */
let jitThresholdSet: i32 = 0;
/** Instructions after a reset (or setJitWarmup) before blocks are counted and compiled at all. */
let jitWarmup: u64 = 0;
/** The retired count (instret) at which the warm-up ends. */
let jitArmAt: u64 = 0;
/** instret at the last reset (the warm-ups count from it). */
let jitResetAt: u64 = 0;
/**
 * Set by every slow path a compiled block calls when the block must stop after it: a trap (trapCause says
 * so, the instruction did not retire), a store into compiled code, or a device asking to stop.
 */
export let jitExit: i32 = 0;
/** Calls of compiled regions from the run loop (not counting the regions they go on into by tail calls). */
export let jitCalls: u32 = 0;

/** The trap the current instruction raised (-1 = none) and its tval. */
export let trapCause: i32 = -1;
let trapTval: u64 = 0;

/** Base addresses of the TLB sets in use: fetch (by privilege), load and store (by data privilege and SUM). */
let xTlb: usize = 0;
export let rTlb: usize = 0;
export let wTlb: usize = 0;
let fillCount: u32 = 0;
let superFills: u32 = 0;
let walkLevel: u32 = 0;

// ---- host-facing API ------------------------------------------------------------------------------------

/** Sets up the hart for RAM [ramBase, ramBase + size) at memory address 0; the hart region is at `size`. */
export function init(rBaseLo: u32, rBaseHi: u32, size: u32, id: u32): void {
  ramBase = (<u64>rBaseHi << 32) | <u64>rBaseLo;
  ramSize = <u64>size;
  hartId = <u64>id;
  buildRvcTable(base + RVC_OFF);
}

export function reset(): void {
  for (let i: u32 = 0; i < 64; i++) store<u64>(base + (<usize>i << 3), 0);
  for (let i: u32 = 0; i < 4096; i++) store<u64>(base + CSR_OFF + (<usize>i << 3), 0);
  store<u64>(base + PC_OFF, 0x1000);
  priv = PRV_M;
  mstatus = 0;
  mip = 0;
  mipSeipHw = false;
  mie = 0;
  medeleg = 0;
  mideleg = 0;
  mcounteren = 0;
  scounteren = 0;
  menvcfg = 0;
  satpMode = 0;
  satpPpn = 0;
  stimecmp = 0xffffffffffffffff;
  sstcNextCheck = 0;
  reservation = -1;
  instretOffset = 0 - instret;
  waiting = false;
  setFflags(0);
  setFrm(0);
  fillCount = FILL_LOG; // clear every array
  flushTlb();
  selectTlbSets();
  jitFlush();
  jitResetAt = instret;
  jitArmAt = instret + jitWarmup;
  setJitThreshold(jitThresholdSet);
}

export function rvcTableAddress(): usize {
  return base + RVC_OFF;
}

export function instretLo(): u32 {
  return <u32>instret;
}
export function instretHi(): u32 {
  return <u32>(instret >> 32);
}

export function setMstatus(v: u32): void {
  mstatus = v;
  selectTlbSets();
}

export function setStopRequested(v: bool): void {
  stopRequested = v;
}

export function setHooks(ecall: bool, trace: bool): void {
  ecallHooked = ecall;
  tracing = trace;
}

/** Compile blocks entered `threshold` times (0: interpret only), once the warm-up is over. */
export function setJitThreshold(threshold: i32): void {
  jitThresholdSet = threshold;
  jitThreshold = instret >= jitArmAt ? threshold : 0;
}

/**
 * Neither count nor compile blocks during the next `n` instructions, and again for `n` after every reset: code
 * that runs during a boot mostly runs a few times only, and compiling what got hot there cost more than it
 * saved (the host's DEFAULT_CORE_JIT_WARMUP says how much).
 */
export function setJitWarmup(n: u32): void {
  jitWarmup = <u64>n;
  jitArmAt = instret + jitWarmup;
  setJitThreshold(jitThresholdSet);
}

/**
 * Ends this warm-up `n` instructions after the last reset, or now if that is past, when that is sooner than it
 * would end (the host saw console input). The next reset's warm-up is setJitWarmup's again.
 */
export function jitArmAfterReset(n: u32): void {
  let at = jitResetAt + <u64>n;
  if (at < instret) at = instret;
  if (at < jitArmAt) {
    jitArmAt = at;
    setJitThreshold(jitThresholdSet);
  }
}

/** Forgets every compiled block (the host drops its side too). */
export function jitFlush(): void {
  for (let i: u32 = 0; i < JIT_SLOTS; i++) {
    store<i32>(base + JIT_TAG_OFF + (<usize>i << 2), -1);
    store<i32>(base + JIT_COUNT_OFF + (<usize>i << 2), 0);
    store<i32>(base + JIT_FN_OFF + (<usize>i << 2), 0);
  }
  const pages = <u32>(ramSize >> 12);
  for (let p: u32 = 0; p < pages; p++) store<u8>(base + CODE_PAGES_OFF + p, 0);
  jcInvalidate();
}

/** Drops store-TLB entries that map RAM page `page` (it now holds compiled code, so stores must see it). */
export function unmapStorePage(page: u32): void {
  for (let i: u32 = 0; i < TLB_SIZE * TLB_SETS; i++) {
    const e = tlbEntry(2, i);
    const tag = load<u64>(e);
    if (tag != TLB_INVALID && ((<u32>tag + load<u32>(e, 8)) >> 12) == page) store<u64>(e, TLB_INVALID);
  }
}

/** The block-cache arrays and the code-page bytes, for the host's compiler. */
export function jitTagAddress(): usize {
  return base + JIT_TAG_OFF;
}
export function jitCountAddress(): usize {
  return base + JIT_COUNT_OFF;
}
export function jitFnAddress(): usize {
  return base + JIT_FN_OFF;
}
export function codePagesAddress(): usize {
  return base + CODE_PAGES_OFF;
}

/** Hardware interrupt lines: MSIP/MTIP from the CLINT, MEIP/SEIP from the PLIC. */
export function setPending(bit: u32, level: bool): void {
  if (bit == IRQ_SEI) mipSeipHw = level;
  else if (level) mip |= 1 << bit;
  else mip &= ~(1 << bit);
}

/** A device wrote guest RAM: an LR reservation on those bytes is gone. */
export function dmaWrite(gpaLo: u32, gpaHi: u32, len: u32): void {
  if (reservation < 0) return;
  const gpa = (<i64>gpaHi << 32) | <i64>gpaLo;
  if (gpa < reservation + 8 && reservation < gpa + <i64>len) reservation = -1;
}

/** The Sstc deadline in mtime ticks, or Infinity when STCE is off (or no deadline is set). */
export function nextTimerDeadline(): f64 {
  if ((menvcfg & MENVCFG_STCE) == 0 || stimecmp == 0xffffffffffffffff) return Infinity;
  return <f64>stimecmp;
}

/** A CSR's value as the guest would read it in M-mode (for debugging and tests); 0 if it does not exist. */
export function csrPeekLo(csr: u32): u32 {
  const saved = priv;
  priv = PRV_M;
  const ok = csrRead(csr);
  priv = saved;
  return ok ? <u32>csrValue : 0;
}
export function csrPeekHi(): u32 {
  return <u32>(csrValue >> 32);
}
/** Stores a plain CSR (tvec, epc, scratch, cause, tval…) directly, bypassing WARL filtering. */
export function csrPoke(csr: u32, lo: u32, hi: u32): void {
  store<u64>(base + CSR_OFF + (<usize>(csr & 4095) << 3), (<u64>hi << 32) | <u64>lo);
}

// ---- saving and restoring the hart ------------------------------------------------------------------------------

/**
 * The hart's architectural state as bytes at stateAddress(): "VHRT", a format version, the length, then pc, x, f,
 * privilege, the CSRs kept in globals, the reservation, the retired counts, WFI, fflags/frm (u64 each) and the
 * plain CSRs by number (4096 × u64). Not state: TLBs, the chain and block caches and compiled code (empty
 * after a load), RAM and devices (the board's).
 */
const STATE_MAGIC: u32 = 0x54524856; // "VHRT"
const STATE_VERSION: u32 = 1;
const ST_PC: usize = 16;
const ST_X: usize = 24;
const ST_F: usize = ST_X + 256;
const ST_G: usize = ST_F + 256; // 19 globals, u64 each
const ST_CSR: usize = ST_G + 19 * 8;
export const STATE_BYTES: u32 = <u32>(ST_CSR + 4096 * 8);

export function stateAddress(): usize {
  return base + STATE_OFF;
}

/** Writes the state at stateAddress(); returns its length. */
export function saveState(): u32 {
  const at = base + STATE_OFF;
  store<u32>(at, STATE_MAGIC);
  store<u32>(at, STATE_VERSION, 4);
  store<u32>(at, STATE_BYTES, 8);
  store<u32>(at, 0, 12);
  store<u64>(at + ST_PC, load<u64>(base + PC_OFF));
  for (let i: usize = 0; i < 32; i++) {
    store<u64>(at + ST_X + (i << 3), load<u64>(base + (i << 3)));
    store<u64>(at + ST_F + (i << 3), load<u64>(base + F_OFF + (i << 3)));
  }
  const g = at + ST_G;
  store<u64>(g, <u64>priv);
  store<u64>(g, <u64>mstatus, 8);
  store<u64>(g, <u64>mip, 16);
  store<u64>(g, mipSeipHw ? 1 : 0, 24);
  store<u64>(g, <u64>mie, 32);
  store<u64>(g, <u64>medeleg, 40);
  store<u64>(g, <u64>mideleg, 48);
  store<u64>(g, <u64>mcounteren, 56);
  store<u64>(g, <u64>scounteren, 64);
  store<u64>(g, menvcfg, 72);
  store<u64>(g, <u64>satpMode, 80);
  store<u64>(g, satpPpn, 88);
  store<u64>(g, stimecmp, 96);
  store<u64>(g, <u64>reservation, 104);
  store<u64>(g, instret, 112);
  store<u64>(g, instretOffset, 120);
  store<u64>(g, waiting ? 1 : 0, 128);
  store<u64>(g, <u64>fflags, 136);
  store<u64>(g, <u64>frm, 144);
  memory.copy(at + ST_CSR, base + CSR_OFF, 4096 * 8);
  return STATE_BYTES;
}

/**
 * Loads `len` bytes of state from stateAddress(). 0 when loaded; else nothing changed and the reason: 1 not a hart
 * state, 2 another format version, 3 a wrong length, 4 a value no hart can hold (privilege 2, a reserved satp
 * mode or MPP). Fields are reduced to what the CSRs can hold, as a CSR write would.
 */
export function loadState(len: u32): u32 {
  const at = base + STATE_OFF;
  if (len < 12 || load<u32>(at) != STATE_MAGIC) return 1;
  if (load<u32>(at, 4) != STATE_VERSION) return 2;
  if (len != STATE_BYTES || load<u32>(at, 8) != STATE_BYTES) return 3;
  const g = at + ST_G;
  const p = load<u64>(g);
  const ms = load<u64>(g, 8);
  const mode = load<u64>(g, 80);
  if (p == 2 || p > 3 || ((ms >> MSTATUS_MPP_SHIFT) & 3) == 2 || (mode != 0 && mode != 8 && mode != 9)) return 4;
  store<u64>(base + PC_OFF, load<u64>(at + ST_PC) & ~(<u64>1));
  for (let i: usize = 0; i < 32; i++) {
    store<u64>(base + (i << 3), i == 0 ? 0 : load<u64>(at + ST_X + (i << 3)));
    store<u64>(base + F_OFF + (i << 3), load<u64>(at + ST_F + (i << 3)));
  }
  priv = <u32>p;
  mstatus = <u32>ms & MSTATUS_WRITABLE;
  mip = <u32>load<u64>(g, 16) & MIE_MASK;
  mipSeipHw = load<u64>(g, 24) != 0;
  mie = <u32>load<u64>(g, 32) & MIE_MASK;
  medeleg = <u32>load<u64>(g, 40) & MEDELEG_MASK;
  mideleg = <u32>load<u64>(g, 48) & MIP_S_MASK;
  mcounteren = <u32>load<u64>(g, 56) & 7;
  scounteren = <u32>load<u64>(g, 64) & 7;
  menvcfg = load<u64>(g, 72) & (MENVCFG_STCE | 1);
  satpMode = <u32>mode;
  satpPpn = load<u64>(g, 88) & 0xfffffffffff;
  stimecmp = load<u64>(g, 96);
  sstcNextCheck = 0;
  reservation = <i64>load<u64>(g, 104);
  instret = load<u64>(g, 112);
  instretOffset = load<u64>(g, 120);
  instretNow = instret;
  waiting = load<u64>(g, 128) != 0;
  setFflags(<u32>load<u64>(g, 136));
  setFrm(<u32>load<u64>(g, 144));
  memory.copy(base + CSR_OFF, at + ST_CSR, 4096 * 8);
  // What a CSR write would have refused: reserved trap-vector modes, odd exception pcs.
  for (let k: u32 = 0; k < 2; k++) {
    const tvec = csrAt(k == 0 ? CSR_MTVEC : CSR_STVEC);
    if ((load<u64>(tvec) & 3) >= 2) store<u64>(tvec, load<u64>(tvec) & ~(<u64>3));
    const epc = csrAt(k == 0 ? CSR_MEPC : CSR_SEPC);
    store<u64>(epc, load<u64>(epc) & ~(<u64>1));
  }
  trapCause = -1;
  stopRequested = false;
  // Nothing cached survives: translations, the chain and block caches, compiled code (the host drops its side).
  flushTlb();
  selectTlbSets();
  jitFlush();
  return 0;
}

// ---- interrupts and traps ---------------------------------------------------------------------------------

@inline function csrAt(csr: u32): usize {
  return base + CSR_OFF + (<usize>csr << 3);
}

function sstcStip(): u32 {
  if ((menvcfg & MENVCFG_STCE) == 0 || stimecmp == 0xffffffffffffffff) return 0;
  return <u64>hostMtime() >= stimecmp ? 1 << IRQ_STI : 0;
}

export function readMip(): u32 {
  return mip | (mipSeipHw ? 1 << IRQ_SEI : 0) | sstcStip();
}

function pickInterrupt(bits: u32): i32 {
  if (bits & (1 << IRQ_MEI)) return IRQ_MEI;
  if (bits & (1 << IRQ_MSI)) return IRQ_MSI;
  if (bits & (1 << IRQ_MTI)) return IRQ_MTI;
  if (bits & (1 << IRQ_SEI)) return IRQ_SEI;
  if (bits & (1 << IRQ_SSI)) return IRQ_SSI;
  if (bits & (1 << IRQ_STI)) return IRQ_STI;
  return 31 - <i32>clz(bits);
}

/** The interrupt to take now, or -1 (privileged ISA "Machine Interrupt Registers"). */
export function pendingInterrupt(): i32 {
  let pending = (mip | (mipSeipHw ? 1 << IRQ_SEI : 0)) & mie;
  // The Sstc comparison asks the host for the time: only when the timer interrupt is enabled.
  if ((mie & (1 << IRQ_STI)) != 0) pending |= sstcStip();
  return pickPending(pending);
}

/**
 * The run loop's pendingInterrupt(), `n` instructions into run(): it asks the host for the time (the Sstc
 * comparison) at most once per SSTC_RECHECK retired instructions, unless stimecmp or menvcfg was written since.
 * The run loop asks after every trap and every SYSTEM instruction — Linux's interrupt masking alone is
 * thousands of those per millisecond — and each question is a call out of the module (≈160 000 of them in the
 * committed image's boot, ≈20 ms). A timer interrupt may so come up to SSTC_RECHECK instructions late; the
 * host ends a run at the next timer deadline anyway, so it is never later than that.
 */
function pendingInterruptIn(n: i32): i32 {
  let pending = (mip | (mipSeipHw ? 1 << IRQ_SEI : 0)) & mie;
  if ((mie & (1 << IRQ_STI)) != 0) {
    const now = instret + <u64>n;
    if (now >= sstcNextCheck) {
      sstcSeen = sstcStip();
      sstcNextCheck = now + SSTC_RECHECK;
    }
    pending |= sstcSeen;
  }
  return pickPending(pending);
}

const SSTC_RECHECK: u64 = 4096;
/** instret + n at which pendingInterruptIn() asks the host again (0: at once), and what it saw last. */
let sstcNextCheck: u64 = 0;
let sstcSeen: u32 = 0;

function pickPending(pending: u32): i32 {
  if (pending == 0) return -1;
  const mEnabled = priv < PRV_M || (mstatus & MSTATUS_MIE) != 0;
  const m = pending & ~mideleg;
  if (mEnabled && m != 0) return pickInterrupt(m);
  const sEnabled = priv < PRV_S || (priv == PRV_S && (mstatus & MSTATUS_SIE) != 0);
  const s = pending & mideleg;
  if (sEnabled && s != 0) return pickInterrupt(s);
  return -1;
}

/** Enters the handler for `cause` from the instruction at pc; returns the new pc. */
function takeTrap(pc: u64, cause: u32, interrupt: bool, tval: u64): u64 {
  const from = priv;
  const deleg = interrupt ? mideleg : medeleg;
  const toS = from <= PRV_S && ((deleg >> cause) & 1) == 1;
  const causeV: u64 = <u64>cause | (interrupt ? 0x8000000000000000 : 0);
  let vec: u64;
  if (toS) {
    store<u64>(csrAt(CSR_SEPC), pc);
    store<u64>(csrAt(CSR_SCAUSE), causeV);
    store<u64>(csrAt(CSR_STVAL), tval);
    let s = mstatus;
    s = (s & MSTATUS_SIE) != 0 ? s | MSTATUS_SPIE : s & ~MSTATUS_SPIE;
    s &= ~MSTATUS_SIE;
    s = from == PRV_S ? s | MSTATUS_SPP : s & ~MSTATUS_SPP;
    mstatus = s;
    priv = PRV_S;
    vec = load<u64>(csrAt(CSR_STVEC));
  } else {
    store<u64>(csrAt(CSR_MEPC), pc);
    store<u64>(csrAt(CSR_MCAUSE), causeV);
    store<u64>(csrAt(CSR_MTVAL), tval);
    let s = mstatus;
    s = (s & MSTATUS_MIE) != 0 ? s | MSTATUS_MPIE : s & ~MSTATUS_MPIE;
    s &= ~MSTATUS_MIE;
    s = (s & ~MSTATUS_MPP) | (from << MSTATUS_MPP_SHIFT);
    mstatus = s;
    priv = PRV_M;
    vec = load<u64>(csrAt(CSR_MTVEC));
  }
  selectTlbSets();
  // 4·cause goes into the low word only, as the TypeScript hart did (vectors never cross 4 GiB).
  const lo = (<u32>vec & ~3) + (interrupt && (vec & 1) == 1 ? 4 * cause : 0);
  return (vec & 0xffffffff00000000) | <u64>lo;
}

@inline function raise(cause: i32, tval: u64): void {
  trapCause = cause;
  trapTval = tval;
}

// ---- TLBs and translation -----------------------------------------------------------------------------------

function tlbSet(p: u32, sum: bool): u32 {
  if (p == PRV_M) return 0;
  if (p == PRV_U) return 3;
  return sum ? 2 : 1;
}

function dataPriv(): u32 {
  if (priv == PRV_M && (mstatus & MSTATUS_MPRV) != 0) return (mstatus >> MSTATUS_MPP_SHIFT) & 3;
  return priv;
}

function selectTlbSets(): void {
  const t = base + TLB_OFF;
  xTlb = t + <usize>tlbSet(priv, false) * TLB_SET_BYTES;
  jcRekey();
  const d = <usize>tlbSet(dataPriv(), (mstatus & MSTATUS_SUM) != 0) * TLB_SET_BYTES;
  rTlb = t + TLB_KIND_BYTES + d;
  wTlb = t + 2 * TLB_KIND_BYTES + d;
}

@inline function tlbEntry(kind: u32, idx: u32): usize {
  return base + TLB_OFF + <usize>kind * TLB_KIND_BYTES + (<usize>idx << 4);
}

function flushTlb(): void {
  const n = fillCount;
  if (n >= FILL_LOG) {
    for (let kind: u32 = 0; kind < 3; kind++)
      for (let i: u32 = 0; i < TLB_SIZE * TLB_SETS; i++) store<u64>(tlbEntry(kind, i), TLB_INVALID);
  } else {
    for (let i: u32 = 0; i < n; i++) {
      const e = load<u32>(base + FILL_OFF + (<usize>i << 2));
      store<u64>(tlbEntry((e >> 24) & 3, e & 0xffffff), TLB_INVALID);
    }
  }
  fillCount = 0;
  superFills = 0;
  jcInvalidate();
}

/** Records a fill so a flush touches only filled entries (bit 26: cut from a superpage of level bits 27-28). */
function noteFill(idx: u32, kind: u32): void {
  const n = fillCount;
  const level = satpMode != 0 ? walkLevel : 0;
  const sp: u32 = level > 0 ? (1 << 26) | (level << 27) : 0;
  if (sp != 0) superFills++;
  if (n < FILL_LOG) store<u32>(base + FILL_OFF + (<usize>n << 2), idx | (kind << 24) | sp);
  fillCount = n + 1;
}

/** SFENCE.VMA with an address: that page in every set, plus entries cut from a superpage containing it. */
function flushTlbPage(va: u64): void {
  if (fillCount >= FILL_LOG) {
    flushTlb();
    return;
  }
  jcInvalidate();
  const tag = va & ~(<u64>0xfff);
  const slot = <u32>(va >> 12) & TLB_MASK;
  for (let set: u32 = 0; set < TLB_SETS; set++) {
    const i = set * TLB_SIZE + slot;
    for (let kind: u32 = 0; kind < 3; kind++) {
      const e = tlbEntry(kind, i);
      if (load<u64>(e) == tag) store<u64>(e, TLB_INVALID);
    }
  }
  if (superFills == 0) return;
  let live: u32 = 0;
  for (let k: u32 = 0; k < fillCount; k++) {
    const at = base + FILL_OFF + (<usize>k << 2);
    const e = load<u32>(at);
    if ((e & (1 << 26)) == 0) continue;
    const idx = e & 0xffffff;
    const kind = (e >> 24) & 3;
    const level = (e >> 27) & 3;
    const ent = tlbEntry(kind, idx);
    const t = load<u64>(ent);
    const shift = <u64>(12 + 9 * level);
    if (t != TLB_INVALID && (t >> shift) == (va >> shift)) {
      store<u64>(ent, TLB_INVALID);
      store<u32>(at, idx | (kind << 24));
    } else live++;
  }
  superFills = live;
}

const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_U: u64 = 16;
const PTE_A: u64 = 64;
const PTE_D: u64 = 128;

/** Sv39/Sv48 walk: the physical page base, -1 for a page fault, -2 for an access fault reading a PTE. */
function walk(va: u64, access: u32, p: u32): i64 {
  const levels: u32 = satpMode == 9 ? 4 : 3;
  const vaBits: u64 = <u64>(12 + 9 * levels);
  // Bits 63..vaBits-1 must all equal bit vaBits-1.
  if ((<i64>(va << (64 - vaBits)) >> (64 - vaBits)) != <i64>va) return -1;
  let a: u64 = satpPpn << 12;
  for (let level = <i32>levels - 1; level >= 0; level--) {
    const shift = <u64>(12 + 9 * level);
    const pteAddr = a + ((va >> shift) & 0x1ff) * 8;
    if (pteAddr < ramBase || pteAddr - ramBase + 8 > ramSize) return -2;
    const at = <usize>(pteAddr - ramBase);
    const pte = load<u64>(at);
    if ((pte & PTE_V) == 0 || (pte & (PTE_R | PTE_W)) == PTE_W) return -1;
    if ((pte >> 54) != 0) return -1; // reserved bits (no Svpbmt, no Svnapot)
    const ppn = (pte >> 10) & 0xfffffffffff;
    if ((pte & (PTE_R | PTE_X)) == 0) {
      if ((pte & (PTE_A | PTE_D | PTE_U)) != 0) return -1;
      a = ppn << 12;
      continue;
    }
    if (level > 0 && (ppn & ((<u64>1 << (9 * <u64>level)) - 1)) != 0) return -1; // misaligned superpage
    if (p == PRV_U) {
      if ((pte & PTE_U) == 0) return -1;
    } else if ((pte & PTE_U) != 0) {
      if (access == ACCESS_FETCH || (mstatus & MSTATUS_SUM) == 0) return -1;
    }
    if (access == ACCESS_FETCH) {
      if ((pte & PTE_X) == 0) return -1;
    } else if (access == ACCESS_LOAD) {
      if ((pte & PTE_R) == 0 && !((mstatus & MSTATUS_MXR) != 0 && (pte & PTE_X) != 0)) return -1;
    } else if ((pte & PTE_W) == 0) return -1;
    const need = access == ACCESS_STORE ? PTE_A | PTE_D : PTE_A;
    if ((pte & need) != need) {
      // Setting A/D is a store too: a page table sharing a page with compiled code drops that code.
      if (load<u8>(base + CODE_PAGES_OFF + (at >> 12)) != 0) {
        hostCodeWritten(<u32>(at >> 12));
        jitExit = 1;
      }
      store<u32>(at, <u32>(pte | need));
    }
    walkLevel = <u32>level;
    return <i64>((ppn << 12) + (va & ((<u64>1 << shift) - 1) & ~(<u64>0xfff)));
  }
  return -1;
}

/** Translates a VA to a PA, or raises the fault (check trapCause) and returns 0. */
function translate(va: u64, access: u32): u64 {
  const p = access == ACCESS_FETCH ? priv : dataPriv();
  if (p == PRV_M || satpMode == 0) return va;
  const pa = walk(va, access, p);
  if (pa >= 0) return <u64>pa + (va & 0xfff);
  if (pa == -2)
    raise(
      access == ACCESS_FETCH ? CAUSE_FETCH_ACCESS : access == ACCESS_LOAD ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS,
      va,
    );
  else
    raise(
      access == ACCESS_FETCH
        ? CAUSE_FETCH_PAGE_FAULT
        : access == ACCESS_LOAD
          ? CAUSE_LOAD_PAGE_FAULT
          : CAUSE_STORE_PAGE_FAULT,
      va,
    );
  return 0;
}

/** RAM offset of [pa, pa + size), or -1 when it is not all RAM. */
@inline function ramOffset(pa: u64, size: u64): i64 {
  if (pa < ramBase) return -1;
  const off = pa - ramBase;
  return off + size <= ramSize ? <i64>off : -1;
}

/** Points a TLB entry for va's page at RAM offset pageOff (the entry holds pageOff - va's page, wrapping). */
@inline function fill(e: usize, va: u64, pageOff: u32): void {
  store<u64>(e, va & ~(<u64>0xfff));
  store<u32>(e, pageOff - (<u32>va & ~0xfff), 8);
}

// ---- loads and stores (slow paths) -------------------------------------------------------------------------

/** Every load the fast path does not take; returns the value zero-extended (check trapCause). */
function loadSlow(va: u64, size: u32): u64 {
  if ((<u32>va & (size - 1)) != 0) {
    // Misaligned: done in hardware, byte by byte (each byte may fault on its own).
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const b = loadSlow(va + i, 1);
      if (trapCause >= 0) return 0;
      v |= b << (8 * <u64>i);
    }
    return v;
  }
  const pa = translate(va, ACCESS_LOAD);
  if (trapCause >= 0) return 0;
  const pageOff = ramOffset(pa & ~(<u64>0xfff), 4096);
  if (pageOff >= 0) {
    const slot = (<u32>(rTlb - (base + TLB_OFF + TLB_KIND_BYTES)) >> 4) + (<u32>(va >> 12) & TLB_MASK);
    noteFill(slot, 1);
    fill(rTlb + (<usize>(<u32>(va >> 12) & TLB_MASK) << 4), va, <u32>pageOff);
    const at = <usize>pageOff + <usize>(<u32>va & 0xfff);
    if (size == 1) return <u64>load<u8>(at);
    if (size == 2) return <u64>load<u16>(at);
    if (size == 4) return <u64>load<u32>(at);
    return load<u64>(at);
  }
  if (busRead(<u32>pa, <u32>(pa >> 32), size) == 0) {
    raise(CAUSE_LOAD_ACCESS, va);
    return 0;
  }
  const v = load<u64>(base + SCRATCH_OFF);
  if (size == 8) return v;
  return v & ((<u64>1 << (8 * <u64>size)) - 1);
}

/** Every store the fast path does not take (check trapCause). */
function storeSlow(va: u64, size: u32, v: u64): void {
  if ((<u32>va & (size - 1)) != 0) {
    // Misaligned: check every byte translates before writing any, so a fault leaves memory untouched.
    for (let i: u32 = 0; i < size; i++) {
      translate(va + i, ACCESS_STORE);
      if (trapCause >= 0) return;
    }
    for (let i: u32 = 0; i < size; i++) {
      storeSlow(va + i, 1, (v >> (8 * <u64>i)) & 0xff);
      if (trapCause >= 0) return;
    }
    return;
  }
  const pa = translate(va, ACCESS_STORE);
  if (trapCause >= 0) return;
  const pageOff = ramOffset(pa & ~(<u64>0xfff), 4096);
  if (pageOff >= 0) {
    const page = <u32>pageOff >> 12;
    if (load<u8>(base + CODE_PAGES_OFF + page) != 0) {
      // Compiled code came from this page: drop it before the store lands (the host clears the byte), and
      // make a compiled block that stored here stop after this instruction.
      hostCodeWritten(page);
      jitExit = 1;
    }
    const slot = (<u32>(wTlb - (base + TLB_OFF + 2 * TLB_KIND_BYTES)) >> 4) + (<u32>(va >> 12) & TLB_MASK);
    noteFill(slot, 2);
    fill(wTlb + (<usize>(<u32>(va >> 12) & TLB_MASK) << 4), va, <u32>pageOff);
    const at = <usize>pageOff + <usize>(<u32>va & 0xfff);
    if (size == 1) store<u8>(at, <u8>v);
    else if (size == 2) store<u16>(at, <u16>v);
    else if (size == 4) store<u32>(at, <u32>v);
    else store<u64>(at, v);
    return;
  }
  if (busWrite(<u32>pa, <u32>(pa >> 32), size, <u32>v, <u32>(v >> 32)) == 0) raise(CAUSE_STORE_ACCESS, va);
  else if (stopRequested) jitExit = 1;
}

// ---- slow paths for compiled blocks (src/cpu/wasm-core-jit.ts) -------------------------------------------

/** A load a block's inline TLB check missed: zero-extended value; a trap sets trapCause and jitExit. */
export function jitLoad(va: u64, size: u32): u64 {
  const v = loadSlow(va, size);
  if (trapCause >= 0 || stopRequested) jitExit = 1;
  return v;
}

/** A store a block's inline TLB check missed; sets jitExit on a trap, a code write or a stop. */
export function jitStore(va: u64, size: u32, v: u64): void {
  storeSlow(va, size, v);
  if (trapCause >= 0 || stopRequested) jitExit = 1;
}

/**
 * An AMO, LR or SC in a compiled block, with x[rs1] = va and x[rs2] = b: the value for rd; sets jitExit on a
 * trap (rd must then stay as it was), a store into compiled code or a stop.
 */
export function jitAmo(insn: u32, va: u64, b: u64): u64 {
  const r = amoOn(insn, va, b);
  if (trapCause >= 0 || stopRequested) jitExit = 1;
  return r;
}

/**
 * FLW/FLD/FSW/FSD in a compiled block at va (`raw` is the instruction as fetched, the tval when the FPU is
 * off); sets jitExit on a trap, a store into compiled code or a stop.
 */
export function jitFpMem(insn: u32, raw: u32, va: u64): void {
  if ((mstatus & MSTATUS_FS) == 0) raise(CAUSE_ILLEGAL, <u64>raw);
  else if (!fpMem(insn, va)) raise(CAUSE_ILLEGAL, <u64>raw);
  if (trapCause >= 0 || stopRequested) jitExit = 1;
}

export function jitMulh(a: u64, b: u64, f3: u32): u64 {
  return mulh(a, b, f3);
}

export function jitDiv(a: u64, b: u64, f3: u32): u64 {
  return div64(a, b, f3);
}

export function jitDivw(a: u64, b: u64, f3: u32): u64 {
  return div32(<u32>a, <u32>b, f3);
}

@inline function load32(va: u64): u64 {
  const e = rTlb + (<usize>(<u32>(va >> 12) & TLB_MASK) << 4);
  if ((va & 0xfffffffffffff003) == load<u64>(e)) return <u64>load<u32>(<usize>(<u32>va + load<u32>(e, 8)));
  return loadSlow(va, 4);
}

@inline function load64(va: u64): u64 {
  const e = rTlb + (<usize>(<u32>(va >> 12) & TLB_MASK) << 4);
  if ((va & 0xfffffffffffff007) == load<u64>(e)) return load<u64>(<usize>(<u32>va + load<u32>(e, 8)));
  return loadSlow(va, 8);
}

@inline function store32(va: u64, v: u64): void {
  const e = wTlb + (<usize>(<u32>(va >> 12) & TLB_MASK) << 4);
  if ((va & 0xfffffffffffff003) == load<u64>(e)) store<u32>(<usize>(<u32>va + load<u32>(e, 8)), <u32>v);
  else storeSlow(va, 4, v);
}

@inline function store64(va: u64, v: u64): void {
  const e = wTlb + (<usize>(<u32>(va >> 12) & TLB_MASK) << 4);
  if ((va & 0xfffffffffffff007) == load<u64>(e)) store<u64>(<usize>(<u32>va + load<u32>(e, 8)), v);
  else storeSlow(va, 8, v);
}

// ---- instruction fetch ----------------------------------------------------------------------------------------

function fetchParcelSlow(va: u64): u32 {
  const pa = translate(va, ACCESS_FETCH);
  if (trapCause >= 0) return 0;
  const pageOff = ramOffset(pa & ~(<u64>0xfff), 4096);
  if (pageOff >= 0) {
    const slot = (<u32>(xTlb - (base + TLB_OFF)) >> 4) + (<u32>(va >> 12) & TLB_MASK);
    noteFill(slot, 0);
    fill(xTlb + (<usize>(<u32>(va >> 12) & TLB_MASK) << 4), va, <u32>pageOff);
    return <u32>load<u16>(<usize>pageOff + <usize>(<u32>va & 0xfff));
  }
  if (busRead(<u32>pa, <u32>(pa >> 32), 2) == 0) {
    raise(CAUSE_FETCH_ACCESS, va);
    return 0;
  }
  return load<u32>(base + SCRATCH_OFF) & 0xffff;
}

/** The instruction at pc; a compressed one comes back as its 16 bits (check trapCause). */
function fetchSlow(pc: u64): u32 {
  const first = fetchParcelSlow(pc);
  if (trapCause >= 0 || (first & 3) != 3) return first;
  // A fault on the second half reports the address of that half.
  const second = fetchParcelSlow(pc + 2);
  return first | (second << 16);
}

// ---- CSRs -------------------------------------------------------------------------------------------------------

/** The value csrRead produced. */
let csrValue: u64 = 0;

function counterAllowed(bit: u32): bool {
  if (priv == PRV_M) return true;
  if (((mcounteren >> bit) & 1) == 0) return false;
  if (priv == PRV_U && ((scounteren >> bit) & 1) == 0) return false;
  return true;
}

/** sstatus as read: the S-visible bits of mstatus `m`, UXL = 2, SD when FS is dirty. */
// @ts-ignore: decorator
@inline
function sstatusOf(m: u32): u64 {
  const sd: u64 = (m & MSTATUS_FS) == MSTATUS_FS ? 0x8000000000000000 : 0;
  return <u64>(m & SSTATUS_MASK) | (<u64>2 << 32) | sd;
}

function mstatusFull(): u64 {
  const fsDirty = (mstatus & MSTATUS_FS) == MSTATUS_FS;
  return <u64>mstatus | (MSTATUS_HI_XL << 32) | (fsDirty ? 0x8000000000000000 : 0);
}

function stimecmpAllowed(): bool {
  if (priv == PRV_M) return true;
  return (menvcfg & MENVCFG_STCE) != 0 && (mcounteren & 2) != 0;
}

@inline function ok(v: u64): bool {
  csrValue = v;
  return true;
}

/** Reads a CSR into csrValue; false when it does not exist here (or is not accessible). */
function csrRead(csr: u32): bool {
  switch (csr) {
    case CSR_FFLAGS:
      if ((mstatus & MSTATUS_FS) == 0) return false;
      return ok(<u64>fflags);
    case CSR_FRM:
      if ((mstatus & MSTATUS_FS) == 0) return false;
      return ok(<u64>frm);
    case CSR_FCSR:
      if ((mstatus & MSTATUS_FS) == 0) return false;
      return ok(<u64>((frm << 5) | fflags));
    case CSR_CYCLE:
    case CSR_INSTRET:
      if (!counterAllowed(csr - CSR_CYCLE)) return false;
      return ok(instretNow + instretOffset);
    case CSR_TIME:
      if (!counterAllowed(1)) return false;
      return ok(<u64>hostMtime());
    case CSR_MCYCLE:
    case CSR_MINSTRET:
      return ok(instretNow + instretOffset);
    case CSR_SSTATUS:
      return ok(sstatusOf(mstatus));
    case CSR_SIE:
      return ok(<u64>(mie & mideleg));
    case CSR_SIP:
      return ok(<u64>(readMip() & mideleg));
    case CSR_SCOUNTEREN:
      return ok(<u64>scounteren);
    case CSR_STIMECMP:
      if (!stimecmpAllowed()) return false;
      return ok(stimecmp);
    case CSR_SATP:
      if (priv == PRV_S && (mstatus & MSTATUS_TVM) != 0) return false;
      return ok((<u64>satpMode << 60) | satpPpn);
    case CSR_MSTATUS:
      return ok(mstatusFull());
    case CSR_MISA:
      return ok(MISA);
    case CSR_MEDELEG:
      return ok(<u64>medeleg);
    case CSR_MIDELEG:
      return ok(<u64>mideleg);
    case CSR_MIE:
      return ok(<u64>mie);
    case CSR_MIP:
      return ok(<u64>readMip());
    case CSR_MCOUNTEREN:
      return ok(<u64>mcounteren);
    case CSR_MENVCFG:
      return ok(menvcfg);
    case CSR_MVENDORID:
    case CSR_MARCHID:
    case CSR_MIMPID:
    case CSR_MCONFIGPTR:
      return ok(0);
    case CSR_MHARTID:
      return ok(hartId);
    case CSR_SENVCFG:
    case CSR_STVEC:
    case CSR_SSCRATCH:
    case CSR_SEPC:
    case CSR_SCAUSE:
    case CSR_STVAL:
    case CSR_MTVEC:
    case CSR_MSCRATCH:
    case CSR_MEPC:
    case CSR_MCAUSE:
    case CSR_MTVAL:
    case CSR_MCOUNTINHIBIT:
      return ok(load<u64>(csrAt(csr)));
    default:
      // PMP: pmpcfg0, 2, …, 14 and pmpaddr0..63. Accepted, not enforced.
      if (
        (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG0 + 15 && (csr & 1) == 0) ||
        (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64)
      )
        return ok(load<u64>(csrAt(csr)));
      return false;
  }
}

function writeMstatus(v: u32): void {
  const old = mstatus;
  let n = (old & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE);
  // MPP = 2 (the reserved H encoding) is WARL: keep the old value.
  if (((n >> MSTATUS_MPP_SHIFT) & 3) == 2) n = (n & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
  mstatus = n;
  // MXR changes what a cached load translation allows; the other bits only pick another TLB set.
  if ((old & MSTATUS_MXR) != (n & MSTATUS_MXR)) flushTlb();
  const sel = MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM;
  if ((old & sel) != (n & sel)) selectTlbSets();
}

/** Writes a CSR (after the caller's privilege and read-only checks); false when it does not exist. */
function csrWrite(csr: u32, v: u64): bool {
  const lo = <u32>v;
  switch (csr) {
    case CSR_FFLAGS:
      if ((mstatus & MSTATUS_FS) == 0) return false;
      setFflags(lo & 31);
      mstatus |= MSTATUS_FS;
      return true;
    case CSR_FRM:
      if ((mstatus & MSTATUS_FS) == 0) return false;
      setFrm(lo & 7);
      mstatus |= MSTATUS_FS;
      return true;
    case CSR_FCSR:
      if ((mstatus & MSTATUS_FS) == 0) return false;
      setFflags(lo & 31);
      setFrm((lo >> 5) & 7);
      mstatus |= MSTATUS_FS;
      return true;
    case CSR_MCYCLE:
    case CSR_MINSTRET:
      // One counter backs both; a write sets the value the next instruction sees (then it counts on).
      instretOffset = v - instretNow - 1;
      return true;
    case CSR_SSTATUS:
      writeMstatus((mstatus & ~SSTATUS_MASK) | (lo & SSTATUS_MASK));
      return true;
    case CSR_SIE:
      mie = (mie & ~mideleg) | (lo & mideleg & MIE_MASK);
      return true;
    case CSR_SIP: {
      const m = mideleg & (1 << IRQ_SSI);
      mip = (mip & ~m) | (lo & m);
      return true;
    }
    case CSR_SCOUNTEREN:
      scounteren = lo & 7;
      return true;
    case CSR_SENVCFG:
      store<u64>(csrAt(csr), <u64>(lo & 1));
      return true;
    case CSR_STIMECMP:
      if (!stimecmpAllowed()) return false;
      stimecmp = v;
      sstcNextCheck = 0;
      return true;
    case CSR_SATP: {
      if (priv == PRV_S && (mstatus & MSTATUS_TVM) != 0) return false;
      const mode = <u32>(v >> 60);
      // Unsupported modes leave satp unchanged (Linux probes Sv57 → Sv48 → Sv39 this way). No ASIDs.
      if (mode != 0 && mode != 8 && mode != 9) return true;
      satpMode = mode;
      satpPpn = v & 0xfffffffffff;
      flushTlb();
      return true;
    }
    case CSR_STVEC:
    case CSR_MTVEC:
      // Modes 2 and 3 are reserved: keep direct or vectored only.
      store<u64>(csrAt(csr), (v & 3) >= 2 ? v & ~(<u64>3) : v);
      return true;
    case CSR_SEPC:
    case CSR_MEPC:
      store<u64>(csrAt(csr), v & ~(<u64>1));
      return true;
    case CSR_SSCRATCH:
    case CSR_SCAUSE:
    case CSR_STVAL:
    case CSR_MSCRATCH:
    case CSR_MCAUSE:
    case CSR_MTVAL:
      store<u64>(csrAt(csr), v);
      return true;
    case CSR_MCOUNTINHIBIT:
      store<u64>(csrAt(csr), <u64>(lo & ~2)); // TM is read-only 0
      return true;
    case CSR_MSTATUS:
      writeMstatus(lo);
      return true;
    case CSR_MISA:
      return true; // WARL: fixed
    case CSR_MEDELEG:
      medeleg = lo & MEDELEG_MASK;
      return true;
    case CSR_MIDELEG:
      mideleg = lo & MIP_S_MASK;
      return true;
    case CSR_MIE:
      mie = lo & MIE_MASK;
      return true;
    case CSR_MIP: {
      let m = MIP_M_WRITABLE;
      if ((menvcfg & MENVCFG_STCE) != 0) m &= ~(1 << IRQ_STI);
      mip = (mip & ~m) | (lo & m);
      return true;
    }
    case CSR_MCOUNTEREN:
      mcounteren = lo & 7;
      return true;
    case CSR_MENVCFG:
      // FIOM (bit 0) and STCE (bit 63, Sstc) are the only fields implemented.
      menvcfg = v & (MENVCFG_STCE | 1);
      sstcNextCheck = 0;
      return true;
    default:
      if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG0 + 15 && (csr & 1) == 0) {
        store<u64>(csrAt(csr), v);
        return true;
      }
      if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + 64) {
        store<u64>(csrAt(csr), v & 0x3fffffffffffff); // RV64: bits 53:0
        return true;
      }
      return false;
  }
}

// ---- SYSTEM -------------------------------------------------------------------------------------------------

const SYS_WRITE: i32 = 0;
const SYS_NO_WRITE: i32 = 1;
const SYS_JUMPED: i32 = 2;
/** The pc an xRET or WFI set (SYS_JUMPED). */
let sysPc: u64 = 0;

/** CSR ops, ECALL/EBREAK, xRET, WFI, SFENCE.VMA at pc; check trapCause first. rd's value is in csrValue. */
function system(insn: u32, pc: u64, len: u32): i32 {
  const rd = (insn >> 7) & 31;
  const rs1 = (insn >> 15) & 31;
  const f3 = (insn >> 12) & 7;
  if (f3 == 0) {
    if (rd != 0) {
      raise(CAUSE_ILLEGAL, <u64>insn);
      return SYS_NO_WRITE;
    }
    const f12 = insn >> 20;
    if (insn >> 25 == 0x09) {
      // SFENCE.VMA
      if (priv == PRV_U || (priv == PRV_S && (mstatus & MSTATUS_TVM) != 0)) {
        raise(CAUSE_ILLEGAL, <u64>insn);
        return SYS_NO_WRITE;
      }
      // Linux fences one page after every page-fault fix-up: drop just that page.
      if (rs1 == 0) flushTlb();
      else flushTlbPage(xr(rs1));
      return SYS_NO_WRITE;
    }
    if (rs1 != 0) {
      raise(CAUSE_ILLEGAL, <u64>insn);
      return SYS_NO_WRITE;
    }
    switch (f12) {
      case 0x000: // ECALL
        if (ecallHooked && hostEcall(priv) != 0) {
          stopRequested = true;
          return SYS_NO_WRITE;
        }
        raise(CAUSE_USER_ECALL + <i32>priv, 0);
        return SYS_NO_WRITE;
      case 0x001: // EBREAK
        raise(CAUSE_BREAKPOINT, pc);
        return SYS_NO_WRITE;
      case 0x102: {
        // SRET
        if (priv == PRV_U || (priv == PRV_S && (mstatus & MSTATUS_TSR) != 0)) {
          raise(CAUSE_ILLEGAL, <u64>insn);
          return SYS_NO_WRITE;
        }
        let s = mstatus;
        const spp = (s & MSTATUS_SPP) != 0 ? PRV_S : PRV_U;
        s = (s & MSTATUS_SPIE) != 0 ? s | MSTATUS_SIE : s & ~MSTATUS_SIE;
        s |= MSTATUS_SPIE;
        s &= ~MSTATUS_SPP;
        s &= ~MSTATUS_MPRV;
        mstatus = s;
        priv = spp;
        selectTlbSets();
        sysPc = load<u64>(csrAt(CSR_SEPC)) & ~(<u64>1);
        return SYS_JUMPED;
      }
      case 0x302: {
        // MRET
        if (priv != PRV_M) {
          raise(CAUSE_ILLEGAL, <u64>insn);
          return SYS_NO_WRITE;
        }
        let s = mstatus;
        const mpp = (s >> MSTATUS_MPP_SHIFT) & 3;
        s = (s & MSTATUS_MPIE) != 0 ? s | MSTATUS_MIE : s & ~MSTATUS_MIE;
        s |= MSTATUS_MPIE;
        s &= ~MSTATUS_MPP;
        if (mpp != PRV_M) s &= ~MSTATUS_MPRV;
        mstatus = s;
        priv = mpp;
        selectTlbSets();
        sysPc = load<u64>(csrAt(CSR_MEPC)) & ~(<u64>1);
        return SYS_JUMPED;
      }
      case 0x105: {
        // WFI
        if (priv == PRV_U || (priv == PRV_S && (mstatus & MSTATUS_TW) != 0)) {
          raise(CAUSE_ILLEGAL, <u64>insn);
          return SYS_NO_WRITE;
        }
        sysPc = pc + len;
        if ((readMip() & mie) == 0) waiting = true;
        return SYS_JUMPED;
      }
      default:
        raise(CAUSE_ILLEGAL, <u64>insn);
        return SYS_NO_WRITE;
    }
  }
  if (f3 == 4) {
    raise(CAUSE_ILLEGAL, <u64>insn);
    return SYS_NO_WRITE;
  }
  const csr = insn >> 20;
  // Privilege and read-only checks (privileged ISA "CSR Address Mapping Conventions").
  if (((csr >> 8) & 3) > priv) {
    raise(CAUSE_ILLEGAL, <u64>insn);
    return SYS_NO_WRITE;
  }
  const op = f3 & 3;
  const w: u64 = (f3 & 4) != 0 ? <u64>rs1 : xr(rs1);
  const writes = op == 1 || rs1 != 0;
  if (writes && csr >> 10 == 3) {
    raise(CAUSE_ILLEGAL, <u64>insn);
    return SYS_NO_WRITE;
  }
  const reads = op != 1 || rd != 0;
  let old: u64 = 0;
  if (reads || op != 1) {
    if (!csrRead(csr)) {
      raise(CAUSE_ILLEGAL, <u64>insn);
      return SYS_NO_WRITE;
    }
    old = csrValue;
  }
  if (writes) {
    const n = op == 1 ? w : op == 2 ? old | w : old & ~w;
    if (!csrWrite(csr, n)) {
      raise(CAUSE_ILLEGAL, <u64>insn);
      return SYS_NO_WRITE;
    }
  }
  csrValue = old;
  return SYS_WRITE;
}

// ---- A extension ------------------------------------------------------------------------------------------------

/** The physical address an LR, SC or AMO works on: from the TLB when the page is there, else a walk. */
function atomicPa(va: u64, access: u32): u64 {
  const slot = <usize>(<u32>(va >> 12) & TLB_MASK) << 4;
  const e = (access == ACCESS_STORE ? wTlb : rTlb) + slot;
  if ((va & ~(<u64>0xfff)) == load<u64>(e)) {
    return ramBase + <u64>(<u32>va + load<u32>(e, 8));
  }
  return translate(va, access);
}

/** LR/SC/AMO; returns the value for rd (check trapCause). */
function amo(insn: u32): u64 {
  return amoOn(insn, xr((insn >> 15) & 31), xr((insn >> 20) & 31));
}

/** Whether funct5 `f5` is one of the AMOs that read, modify and write (not LR or SC). */
// @ts-ignore: decorator
@inline
function amoKnown(f5: u32): bool {
  return f5 <= 1 || f5 == 0x04 || f5 == 0x08 || f5 == 0x0c || f5 == 0x10 || f5 == 0x14 || f5 == 0x18 || f5 == 0x1c;
}

/** The value an AMO (funct5 `f5`, known) writes, from the old value and x[rs2]; `w`: the .W form. */
// @ts-ignore: decorator
@inline
function amoValue(f5: u32, w: bool, old: u64, b: u64): u64 {
  // For .W the comparisons use the sign-extended 32-bit values (old is sign-extended already).
  const bx: u64 = w ? <u64>(<i64><i32>b) : b;
  switch (f5) {
    case 0x01:
      return b;
    case 0x00:
      return old + b;
    case 0x04:
      return old ^ b;
    case 0x0c:
      return old & b;
    case 0x08:
      return old | b;
    case 0x10:
      return <i64>old < <i64>bx ? old : b;
    case 0x14:
      return <i64>old < <i64>bx ? b : old;
    case 0x18:
      return old < bx ? old : b;
    default:
      return old < bx ? b : old;
  }
}

/** An AMO, LR or SC with x[rs1] = va and x[rs2] = b: the value for rd (a trap sets trapCause). */
function amoOn(insn: u32, va: u64, b: u64): u64 {
  const rs2 = (insn >> 20) & 31;
  const f3 = (insn >> 12) & 7;
  const f5 = insn >> 27;
  // An illegal encoding traps as such before any address check (illegal instruction outranks the misaligned
  // and page-fault exceptions): funct3 W or D; funct5 LR, SC or an AMO; LR with rs2 = 0.
  const validF5 = amoKnown(f5) || f5 == 2 || f5 == 3;
  if ((f3 != 2 && f3 != 3) || !validF5 || (f5 == 2 && rs2 != 0)) {
    raise(CAUSE_ILLEGAL, <u64>insn);
    return 0;
  }
  const size: u32 = f3 == 2 ? 4 : 8;
  if ((<u32>va & (size - 1)) != 0) {
    raise(f5 == 2 ? CAUSE_MISALIGNED_LOAD : CAUSE_MISALIGNED_STORE, va);
    return 0;
  }
  if (f5 == 2) {
    // LR
    if (rs2 != 0) {
      raise(CAUSE_ILLEGAL, <u64>insn);
      return 0;
    }
    const pa = atomicPa(va, ACCESS_LOAD);
    if (trapCause >= 0) return 0;
    if (ramOffset(pa, size) < 0) {
      raise(CAUSE_LOAD_ACCESS, va);
      return 0;
    }
    const v = size == 4 ? <u64>(<i64><i32>load32(va)) : load64(va);
    if (trapCause >= 0) return 0;
    reservation = <i64>pa;
    return v;
  }
  if (f5 == 3) {
    // SC: every SC clears the reservation; a failed one still checks store permission.
    const pa = atomicPa(va, ACCESS_STORE);
    if (trapCause >= 0) return 0;
    if (ramOffset(pa, size) < 0) {
      raise(CAUSE_STORE_ACCESS, va);
      return 0;
    }
    const good = reservation == <i64>pa;
    reservation = -1;
    if (good) {
      if (size == 4) store32(va, b);
      else store64(va, b);
      if (trapCause >= 0) return 0;
    }
    return good ? 0 : 1;
  }
  // AMOs: translate for store first so a read-only page reports a store fault; RAM only.
  const pa = atomicPa(va, ACCESS_STORE);
  if (trapCause >= 0) return 0;
  if (ramOffset(pa, size) < 0) {
    raise(CAUSE_STORE_ACCESS, va);
    return 0;
  }
  let old: u64;
  if (size == 4) old = <u64>(<i64><i32>load32(va));
  else old = load64(va);
  if (trapCause >= 0) return 0;
  const n = amoValue(f5, size == 4, old, b);
  if (size == 4) store32(va, n);
  else store64(va, n);
  if (trapCause >= 0) return 0;
  return old;
}

// ---- M extension helpers ------------------------------------------------------------------------------------

/** High 64 bits of the unsigned 128-bit product. */
function mulhu(a: u64, b: u64): u64 {
  const al = a & 0xffffffff;
  const ah = a >> 32;
  const bl = b & 0xffffffff;
  const bh = b >> 32;
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  const hh = ah * bh;
  const mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);
  return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

function mulh(a: u64, b: u64, f3: u32): u64 {
  let h = mulhu(a, b);
  if (f3 == 1) {
    // MULH: signed × signed
    if (<i64>a < 0) h -= b;
    if (<i64>b < 0) h -= a;
  } else if (f3 == 2) {
    // MULHSU: signed × unsigned
    if (<i64>a < 0) h -= b;
  }
  return h;
}

function div64(a: u64, b: u64, f3: u32): u64 {
  // f3: 4 DIV, 5 DIVU, 6 REM, 7 REMU
  if (b == 0) return f3 >= 6 ? a : 0xffffffffffffffff;
  if (f3 == 4) {
    if (a == 0x8000000000000000 && b == 0xffffffffffffffff) return a;
    return <u64>(<i64>a / <i64>b);
  }
  if (f3 == 5) return a / b;
  if (f3 == 6) {
    if (a == 0x8000000000000000 && b == 0xffffffffffffffff) return 0;
    return <u64>(<i64>a % <i64>b);
  }
  return a % b;
}

function div32(a: u32, b: u32, f3: u32): u64 {
  let r: u32;
  if (b == 0) r = f3 >= 6 ? a : 0xffffffff;
  else if (f3 == 4) r = a == 0x80000000 && b == 0xffffffff ? a : <u32>(<i32>a / <i32>b);
  else if (f3 == 5) r = a / b;
  else if (f3 == 6) r = a == 0x80000000 && b == 0xffffffff ? 0 : <u32>(<i32>a % <i32>b);
  else r = a % b;
  return <u64>(<i64><i32>r);
}

// ---- F and D: loads, stores and the FPU --------------------------------------------------------------------------

/** FLW/FLD/FSW/FSD and OP-FP/FMA; false = illegal (check trapCause for memory faults). */
function floatOp(insn: u32): bool {
  if ((mstatus & MSTATUS_FS) == 0) return false;
  const op = insn & 0x7f;
  if (op == 0x07) return fpMem(insn, xr((insn >> 15) & 31) + <u64>(<i64>(<i32>insn >> 20)));
  if (op == 0x27) {
    const imm = immS(insn);
    return fpMem(insn, xr((insn >> 15) & 31) + <u64>(<i64>imm));
  }
  if (!fpExec(insn)) return false;
  mstatus |= MSTATUS_FS;
  return true;
}

/**
 * FLW/FLD/FSW/FSD at va (mstatus.FS checked by the caller): false for another width (illegal); a trap sets
 * trapCause.
 */
function fpMem(insn: u32, va: u64): bool {
  const f3 = (insn >> 12) & 7;
  const rd = (insn >> 7) & 31;
  if ((insn & 0x7f) == 0x07) {
    if (f3 == 2) {
      const v = load32(va);
      if (trapCause >= 0) return true;
      fw(rd, v | 0xffffffff00000000); // NaN-boxed
    } else if (f3 == 3) {
      const v = load64(va);
      if (trapCause >= 0) return true;
      fw(rd, v);
    } else return false;
    mstatus |= MSTATUS_FS;
    return true;
  }
  const v = fr((insn >> 20) & 31);
  if (f3 == 2) store32(va, v);
  else if (f3 == 3) store64(va, v);
  else return false;
  return true;
}

// ---- the interpreter ------------------------------------------------------------------------------------------------

/** Whether an (expanded) instruction writes x[rd] (for the trace only). */
function writesRd(insn: u32): bool {
  const op = insn & 0x7f;
  return !(op == 0x23 || op == 0x63 || op == 0x0f || op == 0x07 || op == 0x27 || (op & 0x73) == 0x43 || op == 0x53);
}

/** Runs up to `budget` instructions; returns how many retired (0 while waiting in WFI). */
export function run(budget: i32): i32 {
  if (waiting) {
    if ((readMip() & mie) == 0) return 0;
    waiting = false;
  }
  stopRequested = false;
  if (jitThreshold != jitThresholdSet && instret >= jitArmAt) jitThreshold = jitThresholdSet;
  let n: i32 = 0;
  while (n < budget) {
    const irq = pendingInterruptIn(n);
    if (irq >= 0) store<u64>(base + PC_OFF, takeTrap(load<u64>(base + PC_OFF), <u32>irq, true, 0));
    n = inner(n, budget);
    if (trapCause >= 0) {
      // The faulting instruction did not retire; pc names it. A trap spends budget without retiring, so
      // a guest trapping forever (mtvec pointing at nothing) still hands control back to the host.
      budget--;
      const cause = trapCause;
      trapCause = -1;
      if (tracing) hostTrace(<u32>trapTval, <u32>(trapTval >> 32), 0xffffffff, 0, <u32>cause);
      store<u64>(base + PC_OFF, takeTrap(load<u64>(base + PC_OFF), <u32>cause, false, trapTval));
    }
    if (stopRequested || waiting) break;
  }
  instret += <u64>n;
  return n;
}

/** S-, B- and J-type immediates (sign-extended), for the interpreter's loops and the FP stores. */
// @ts-ignore: decorator
@inline
function immS(insn: u32): i32 {
  return ((<i32>insn >> 20) & ~31) | <i32>((insn >> 7) & 31);
}
// @ts-ignore: decorator
@inline
function immB(insn: u32): i32 {
  return ((<i32>insn >> 19) & 0xfffff000) | ((insn << 4) & 0x800) | ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e);
}
// @ts-ignore: decorator
@inline
function immJ(insn: u32): i32 {
  return ((<i32>insn >> 11) & 0xfff00000) | (insn & 0xff000) | ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe);
}

/** Set by fast() when it stopped at a block entry the general loop must look up (see `entry` in inner()). */
let fastEntry: bool = false;

/**
 * The common instructions from `start`, with no calls at all: RV64I integer ops, MUL/MULW, loads and stores that
 * hit their TLB, branches and jumps, FENCE, the AMOs (not LR/SC) that hit the store TLB, and CSR ops on sstatus
 * that cannot make an interrupt takeable, fetched from a page the fetch TLB maps. (Each instruction handed back costs the general loop's path for it and for the next one: the
 * kernel's FENCEs and AMOs left this loop 266 000 times in a boot; running them here took the boot with
 * `--jit off` from 495 to 443 ms, in-process, median of 8 interleaved.) Anything else — a TLB miss, another
 * instruction, a block entry with something to do (new, hot enough to compile, or compiled) — returns with pc
 * (in memory) naming it and nothing of it done, for inner() to handle. Returns the retired count (pc in memory
 * means something only when that grew). Without calls in the loop the engine keeps the loop's state in
 * registers; with inner()'s calls it spilled and reloaded it around every instruction.
 */
function fast(start: u64, n: i32, budget: i32): i32 {
  const xb = base;
  const rvc = xb + RVC_OFF;
  const threshold = jitThreshold;
  let pc = start;
  let page = pc & ~(<u64>0xfff);
  let e = xTlb + (<usize>(<u32>(pc >> 12) & TLB_MASK) << 4);
  if (load<u64>(e) != page || (<u32>pc & 0xfff) >= 4093) return n;
  let add = load<u32>(e, 8);
  fastEntry = false;
  while (n < budget) {
    let insn = load<u32>(<usize>(<u32>pc + add));
    let len: u64 = 4;
    if ((insn & 3) != 3) {
      insn = load<u32>(rvc + (<usize>(insn & 0xffff) << 2));
      len = 2;
      if (insn == 0) break;
    }
    const rd = (insn >> 7) & 31;
    const f3 = (insn >> 12) & 7;
    let next = pc + len;
    // Set by branches and jumps: the next instruction starts a block.
    let jumped = false;
    switch ((insn >> 2) & 31) {
      case 0x04: {
        // OP-IMM
        const a = load<u64>(xb + (<usize>((insn >> 15) & 31) << 3));
        const imm = <u64>(<i64>(<i32>insn >> 20));
        let r: u64;
        if (f3 == 0) r = a + imm;
        else if (f3 == 1) {
          if (insn >> 26 != 0) return fastOut(pc, n);
          r = a << ((insn >> 20) & 63);
        } else if (f3 == 5) {
          const top = insn >> 26;
          if (top == 0) r = a >> ((insn >> 20) & 63);
          else if (top == 0x10) r = <u64>(<i64>a >> ((insn >> 20) & 63));
          else return fastOut(pc, n);
        } else if (f3 == 2) r = <i64>a < <i64>imm ? 1 : 0;
        else if (f3 == 3) r = a < imm ? 1 : 0;
        else if (f3 == 4) r = a ^ imm;
        else if (f3 == 6) r = a | imm;
        else r = a & imm;
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), r);
        break;
      }
      case 0x00: {
        // Loads that hit the load TLB, aligned for their size.
        const a = load<u64>(xb + (<usize>((insn >> 15) & 31) << 3)) + <u64>(<i64>(<i32>insn >> 20));
        const t = rTlb + (<usize>(<u32>(a >> 12) & TLB_MASK) << 4);
        const tag = load<u64>(t);
        const at = <usize>(<u32>a + load<u32>(t, 8));
        let r: u64;
        if (f3 == 3) {
          if ((a & 0xfffffffffffff007) != tag) return fastOut(pc, n);
          r = load<u64>(at);
        } else if (f3 == 2) {
          if ((a & 0xfffffffffffff003) != tag) return fastOut(pc, n);
          r = <u64>load<i32>(at);
        } else if (f3 == 6) {
          if ((a & 0xfffffffffffff003) != tag) return fastOut(pc, n);
          r = <u64>load<u32>(at);
        } else if (f3 == 4) {
          if ((a & 0xfffffffffffff000) != tag) return fastOut(pc, n);
          r = <u64>load<u8>(at);
        } else if (f3 == 0) {
          if ((a & 0xfffffffffffff000) != tag) return fastOut(pc, n);
          r = <u64>load<i8>(at);
        } else if (f3 == 1) {
          if ((a & 0xfffffffffffff001) != tag) return fastOut(pc, n);
          r = <u64>load<i16>(at);
        } else if (f3 == 5) {
          if ((a & 0xfffffffffffff001) != tag) return fastOut(pc, n);
          r = <u64>load<u16>(at);
        } else return fastOut(pc, n);
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), r);
        break;
      }
      case 0x08: {
        // Stores that hit the store TLB.
        const imm = immS(insn);
        const a = load<u64>(xb + (<usize>((insn >> 15) & 31) << 3)) + <u64>(<i64>imm);
        const v = load<u64>(xb + (<usize>((insn >> 20) & 31) << 3));
        const t = wTlb + (<usize>(<u32>(a >> 12) & TLB_MASK) << 4);
        const tag = load<u64>(t);
        const at = <usize>(<u32>a + load<u32>(t, 8));
        if (f3 == 3) {
          if ((a & 0xfffffffffffff007) != tag) return fastOut(pc, n);
          store<u64>(at, v);
        } else if (f3 == 2) {
          if ((a & 0xfffffffffffff003) != tag) return fastOut(pc, n);
          store<u32>(at, <u32>v);
        } else if (f3 == 0) {
          if ((a & 0xfffffffffffff000) != tag) return fastOut(pc, n);
          store<u8>(at, <u8>v);
        } else if (f3 == 1) {
          if ((a & 0xfffffffffffff001) != tag) return fastOut(pc, n);
          store<u16>(at, <u16>v);
        } else return fastOut(pc, n);
        break;
      }
      case 0x18: {
        // Branches
        const a = load<u64>(xb + (<usize>((insn >> 15) & 31) << 3));
        const b = load<u64>(xb + (<usize>((insn >> 20) & 31) << 3));
        let taken: bool;
        if (f3 == 0) taken = a == b;
        else if (f3 == 1) taken = a != b;
        else if (f3 == 4) taken = <i64>a < <i64>b;
        else if (f3 == 5) taken = <i64>a >= <i64>b;
        else if (f3 == 6) taken = a < b;
        else if (f3 == 7) taken = a >= b;
        else return fastOut(pc, n);
        if (taken) {
          const imm = immB(insn);
          next = pc + <u64>(<i64>imm);
          jumped = true;
        }
        break;
      }
      case 0x0c: {
        // OP (RV64I, MUL)
        const a = load<u64>(xb + (<usize>((insn >> 15) & 31) << 3));
        const b = load<u64>(xb + (<usize>((insn >> 20) & 31) << 3));
        const f7 = insn >> 25;
        let r: u64;
        if (f7 == 0) {
          if (f3 == 0) r = a + b;
          else if (f3 == 1) r = a << (b & 63);
          else if (f3 == 2) r = <i64>a < <i64>b ? 1 : 0;
          else if (f3 == 3) r = a < b ? 1 : 0;
          else if (f3 == 4) r = a ^ b;
          else if (f3 == 5) r = a >> (b & 63);
          else if (f3 == 6) r = a | b;
          else r = a & b;
        } else if (f7 == 0x20 && f3 == 0) r = a - b;
        else if (f7 == 0x20 && f3 == 5) r = <u64>(<i64>a >> (b & 63));
        else if (f7 == 1 && f3 == 0) r = a * b;
        else return fastOut(pc, n);
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), r);
        break;
      }
      case 0x1b: {
        // JAL
        const imm = immJ(insn);
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), next);
        next = pc + <u64>(<i64>imm);
        jumped = true;
        break;
      }
      case 0x19: {
        // JALR
        if (f3 != 0) return fastOut(pc, n);
        const t = (load<u64>(xb + (<usize>((insn >> 15) & 31) << 3)) + <u64>(<i64>(<i32>insn >> 20))) & ~(<u64>1);
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), next);
        next = t;
        jumped = true;
        break;
      }
      case 0x06: {
        // OP-IMM-32
        const a = <u32>load<u64>(xb + (<usize>((insn >> 15) & 31) << 3));
        const sh = (insn >> 20) & 31;
        const top = insn >> 25;
        let r: u32;
        if (f3 == 0) r = a + <u32>(<i32>insn >> 20);
        else if (f3 == 1 && top == 0) r = a << sh;
        else if (f3 == 5 && top == 0) r = a >> sh;
        else if (f3 == 5 && top == 0x20) r = <u32>(<i32>a >> sh);
        else return fastOut(pc, n);
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), <u64>(<i64><i32>r));
        break;
      }
      case 0x0d: // LUI
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), <u64>(<i64><i32>(insn & 0xfffff000)));
        break;
      case 0x05: // AUIPC
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), pc + <u64>(<i64><i32>(insn & 0xfffff000)));
        break;
      case 0x0e: {
        // OP-32 (RV64I, MULW)
        const a = <u32>load<u64>(xb + (<usize>((insn >> 15) & 31) << 3));
        const b = <u32>load<u64>(xb + (<usize>((insn >> 20) & 31) << 3));
        const f7 = insn >> 25;
        let r: u32;
        if (f7 == 0 && f3 == 0) r = a + b;
        else if (f7 == 0 && f3 == 1) r = a << (b & 31);
        else if (f7 == 0 && f3 == 5) r = a >> (b & 31);
        else if (f7 == 0x20 && f3 == 0) r = a - b;
        else if (f7 == 0x20 && f3 == 5) r = <u32>(<i32>a >> (b & 31));
        else if (f7 == 1 && f3 == 0) r = a * b;
        else return fastOut(pc, n);
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), <u64>(<i64><i32>r));
        break;
      }
      case 0x1c: {
        // CSR ops on sstatus in S or M mode (the kernel masking interrupts: 73 000 per boot). A write that may
        // make an interrupt takeable (SIE set) or changes what the TLBs hold (SUM, MXR) is the general loop's,
        // as is every other SYSTEM instruction. A block starts after it, as after any SYSTEM instruction.
        if (f3 == 0 || f3 == 4 || insn >> 20 != CSR_SSTATUS || priv == PRV_U) return fastOut(pc, n);
        const old = mstatus;
        const field = (insn >> 15) & 31;
        const src = (f3 >= 5 ? field : <u32>load<u64>(xb + (<usize>field << 3))) & SSTATUS_MASK;
        let v = old;
        if ((f3 & 3) == 1) v = (old & ~SSTATUS_MASK) | src;
        else if (field != 0) v = (f3 & 3) == 2 ? old | src : old & ~src;
        if (((v & ~old) & MSTATUS_SIE) != 0 || ((v ^ old) & (MSTATUS_SUM | MSTATUS_MXR)) != 0) return fastOut(pc, n);
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), sstatusOf(old));
        mstatus = v;
        jumped = true;
        break;
      }
      case 0x03:
        // FENCE, FENCE.I: nothing to do on one hart (inner() does the same); a block starts after them.
        if (f3 > 1) return fastOut(pc, n);
        jumped = true;
        break;
      case 0x0b: {
        // AMOs (not LR/SC) on an aligned address that hits the store TLB (writable implies readable).
        const f5 = insn >> 27;
        if ((f3 != 2 && f3 != 3) || !amoKnown(f5)) return fastOut(pc, n);
        const a = load<u64>(xb + (<usize>((insn >> 15) & 31) << 3));
        const t = wTlb + (<usize>(<u32>(a >> 12) & TLB_MASK) << 4);
        const at = <usize>(<u32>a + load<u32>(t, 8));
        const b = load<u64>(xb + (<usize>((insn >> 20) & 31) << 3));
        let old: u64;
        if (f3 == 3) {
          if ((a & 0xfffffffffffff007) != load<u64>(t)) return fastOut(pc, n);
          old = load<u64>(at);
          store<u64>(at, amoValue(f5, false, old, b));
        } else {
          if ((a & 0xfffffffffffff003) != load<u64>(t)) return fastOut(pc, n);
          old = <u64>load<i32>(at);
          store<u32>(at, <u32>amoValue(f5, true, old, b));
        }
        if (rd != 0) store<u64>(xb + (<usize>rd << 3), old);
        jumped = true;
        break;
      }
      default:
        return fastOut(pc, n);
    }
    pc = next;
    n++;
    if ((pc ^ page) >= 4093) {
      // Into another page (or its last parcel): its fetch TLB entry, inline. Running on into the next page
      // starts a block there too (inner() does the same).
      e = xTlb + (<usize>(<u32>(pc >> 12) & TLB_MASK) << 4);
      page = pc & ~(<u64>0xfff);
      if (load<u64>(e) != page || (<u32>pc & 0xfff) >= 4093) {
        fastEntry = true;
        break;
      }
      add = load<u32>(e, 8);
      jumped = true;
    }
    if (jumped && threshold > 0) {
      // A block entry: count it here when that is all there is to do (the block cache has the block, it is
      // not compiled and stays below the threshold); anything else is inner()'s.
      const off = <u32>pc + add;
      const slot = jitSlotFind(off);
      if (slot < 0) {
        fastEntry = true;
        break;
      }
      const c = load<i32>(xb + JIT_COUNT_OFF + <usize>slot) + 1;
      if (load<i32>(xb + JIT_FN_OFF + <usize>slot) != 0 || c >= threshold) {
        fastEntry = true;
        break;
      }
      store<i32>(xb + JIT_COUNT_OFF + <usize>slot, c);
    }
  }
  store<u64>(xb + PC_OFF, pc);
  return n;
}

/** fast() stops before the instruction at pc (nothing of it done): inner() runs it. */
// @ts-ignore: decorator
@inline function fastOut(pc: u64, n: i32): i32 {
  store<u64>(base + PC_OFF, pc);
  return n;
}

/**
 * The inner loop: runs from pc (in memory) until the budget is spent, an instruction traps (trapCause set, pc
 * naming it), or a SYSTEM instruction changed what this loop caches in a way that needs the outer loop
 * (a takeable interrupt, a stop, WFI). Returns the updated retired count; pc is written back. Between block
 * entries it hands the common instructions to fast() and runs here only what fast() leaves: every instruction
 * and slow path, block-cache misses and hot blocks, compiled code. (One loop with all of it ran ~134 host
 * instructions per guest instruction, its state spilled around the calls of the slow paths; with fast() 84.)
 */
function inner(n: i32, budget: i32): i32 {
  let pc = load<u64>(base + PC_OFF);
  // The page the last fetch came from: pc hits when (pc ^ fPage) < fLimit (4093 while valid: in that page,
  // not its last parcel), and the instruction is at u32(pc) + fAdd.
  let fPage: u64 = 0;
  let fLimit: u64 = 0;
  let fAdd: u32 = 0;
  const rvc = base + RVC_OFF;
  // pc starts a block (a jump or branch target, or after an instruction blocks leave out): look it up in
  // the block cache.
  let entry = true;
  let straddled = false;
  while (n < budget) {
    if (!tracing && !entry) {
      // The common instructions run call-free in fast(); it hands back what it does not do.
      const m = fast(pc, n, budget);
      if (m != n) {
        n = m;
        if (n >= budget) return n;
        pc = load<u64>(base + PC_OFF);
        entry = fastEntry;
      }
    }
    let insn: u32;
    if ((pc ^ fPage) < fLimit) {
      insn = load<u32>(<usize>(<u32>pc + fAdd));
    } else {
      const e = xTlb + (<usize>(<u32>(pc >> 12) & TLB_MASK) << 4);
      if (load<u64>(e) != (pc & ~(<u64>0xfff))) {
        fetchSlow(pc);
        if (trapCause >= 0) break;
      }
      if (load<u64>(e) == (pc & ~(<u64>0xfff)) && (<u32>pc & 0xfff) < 4093) {
        fPage = pc & ~(<u64>0xfff);
        fAdd = load<u32>(e, 8);
        fLimit = 4093;
        insn = load<u32>(<usize>(<u32>pc + fAdd));
        // Code running on from the page before (blocks end at a page's end) starts a block here too; else a
        // loop straddling two pages would interpret its second half forever.
        entry = true;
      } else {
        insn = fetchSlow(pc);
        if (trapCause >= 0) break;
        // An instruction across two pages (or from outside RAM): blocks stop before it, so the one after it
        // starts a block (busybox's endofname() runs on from one, 6 M of the CPU workload's instructions
        // interpreted when it did not).
        straddled = true;
      }
    }
    if (entry) {
      entry = false;
      if (jitThreshold > 0 && (pc ^ fPage) < fLimit) {
        const off = <u32>pc + fAdd;
        const slot = jitSlotFor(off);
        let fn = load<i32>(base + JIT_FN_OFF + slot);
        if (fn == 0) {
          const c = load<i32>(base + JIT_COUNT_OFF + slot) + 1;
          store<i32>(base + JIT_COUNT_OFF + slot, c);
          if (c >= jitThreshold) {
            fn = hostJitCompile(off, <u32>(slot >> 2));
            // 0: nothing compilable here; -1: compiling in the background (the host installs it in JIT_FN).
            // Either way, do not ask again for a long while.
            if (fn <= 0) store<i32>(base + JIT_COUNT_OFF + slot, -0x40000000);
            else store<i32>(base + JIT_FN_OFF + slot, fn);
          }
        }
        if (fn > 0) {
          // Run compiled blocks back to back while the next pc has one: a hit in the fetch TLB and the
          // block cache, nothing else (the instruction fetch and decode of the interpreter are skipped).
          let ran = false;
          while (true) {
            jitExit = 0;
            // A region returns the budget it left (it may have gone on into others through the chain cache).
            const rem = budget - n;
            jitCalls++;
            const r = rem - call_indirect<i32>(<u32>fn & 0xfffff, pc, rem, <u32>fn >> 20);
            // Nothing retired and no trap: the block wants more budget than is left.
            if (r == 0 && trapCause < 0) break;
            ran = true;
            n += r;
            pc = load<u64>(base + PC_OFF);
            // A trap: pc names the faulting instruction, the ones before it retired.
            if (trapCause >= 0) break;
            if (jitExit != 0) {
              jitExit = 0;
              if (stopRequested) break;
            }
            // The next block: from the chain cache, else through the fetch TLB and the block cache.
            const jc = base + JC_OFF + (<usize>((<u32>pc >> 1) & JC_MASK) << 5);
            if (load<u64>(jc) == pc && load<u64>(jc, 8) == jcKey) {
              fn = load<i32>(jc, 16);
              continue;
            }
            if ((pc ^ fPage) >= fLimit) {
              const e = xTlb + (<usize>(<u32>(pc >> 12) & TLB_MASK) << 4);
              if (load<u64>(e) != (pc & ~(<u64>0xfff)) || (<u32>pc & 0xfff) >= 4093) break;
              fPage = pc & ~(<u64>0xfff);
              fAdd = load<u32>(e, 8);
              fLimit = 4093;
            }
            const next = <u32>pc + fAdd;
            const nslot = jitSlotFind(next);
            if (nslot < 0) break;
            fn = load<i32>(base + JIT_FN_OFF + <usize>nslot);
            if (fn <= 0) break;
            store<u64>(jc, pc);
            store<u64>(jc, jcKey, 8);
            store<i32>(jc, fn, 16);
          }
          if (ran) {
            if (trapCause >= 0) break;
            if (stopRequested) {
              store<u64>(base + PC_OFF, pc);
              return n;
            }
            entry = true;
            continue;
          }
          // The block wants more budget than is left: interpret.
        }
      }
    }
    if (straddled) {
      straddled = false;
      entry = true;
    }
    let len: u64 = 4;
    let parcel: u32 = 0;
    if ((insn & 3) != 3) {
      parcel = insn & 0xffff;
      // A reserved parcel expands to 0, which decodes as illegal (reported with the parcel as tval).
      insn = load<u32>(rvc + (<usize>parcel << 2));
      len = 2;
      if (insn == 0) {
        raise(CAUSE_ILLEGAL, <u64>parcel);
        break;
      }
    }
    const rd = (insn >> 7) & 31;
    const rs1 = (insn >> 15) & 31;
    const rs2 = (insn >> 20) & 31;
    const f3 = (insn >> 12) & 7;
    let next = pc + len;
    let illegal = false;
    switch ((insn >> 2) & 31) {
      case 0x04: {
        // OP-IMM
        const a = xr(rs1);
        const imm = <u64>(<i64>(<i32>insn >> 20));
        let r: u64;
        switch (f3) {
          case 0:
            r = a + imm;
            break;
          case 1:
            if (insn >> 26 != 0) illegal = true;
            r = a << ((insn >> 20) & 63);
            break;
          case 2:
            r = <i64>a < <i64>imm ? 1 : 0;
            break;
          case 3:
            r = a < imm ? 1 : 0;
            break;
          case 4:
            r = a ^ imm;
            break;
          case 5: {
            const top = insn >> 26;
            if (top == 0) r = a >> ((insn >> 20) & 63);
            else if (top == 0x10) r = <u64>(<i64>a >> ((insn >> 20) & 63));
            else {
              illegal = true;
              r = 0;
            }
            break;
          }
          case 6:
            r = a | imm;
            break;
          default:
            r = a & imm;
            break;
        }
        if (illegal) break;
        xw(rd, r);
        break;
      }
      case 0x00: {
        // Loads: the load-TLB hit path inline (hit and aligned for the size), else loadSlow.
        const a = xr(rs1) + <u64>(<i64>(<i32>insn >> 20));
        const e = rTlb + (<usize>(<u32>(a >> 12) & TLB_MASK) << 4);
        const tag = load<u64>(e);
        const at = <usize>(<u32>a + load<u32>(e, 8));
        let r: u64;
        switch (f3) {
          case 3:
            if ((a & 0xfffffffffffff007) == tag) r = load<u64>(at);
            else r = loadSlow(a, 8);
            break;
          case 2:
            if ((a & 0xfffffffffffff003) == tag) r = <u64>load<i32>(at);
            else r = <u64>(<i64><i32>loadSlow(a, 4));
            break;
          case 6:
            if ((a & 0xfffffffffffff003) == tag) r = <u64>load<u32>(at);
            else r = loadSlow(a, 4);
            break;
          case 0:
            if ((a & 0xfffffffffffff000) == tag) r = <u64>load<i8>(at);
            else r = <u64>(<i64><i8>loadSlow(a, 1));
            break;
          case 4:
            if ((a & 0xfffffffffffff000) == tag) r = <u64>load<u8>(at);
            else r = loadSlow(a, 1);
            break;
          case 1:
            if ((a & 0xfffffffffffff001) == tag) r = <u64>load<i16>(at);
            else r = <u64>(<i64><i16>loadSlow(a, 2));
            break;
          case 5:
            if ((a & 0xfffffffffffff001) == tag) r = <u64>load<u16>(at);
            else r = loadSlow(a, 2);
            break;
          default:
            illegal = true;
            r = 0;
        }
        if (illegal || trapCause >= 0) break;
        xw(rd, r);
        break;
      }
      case 0x08: {
        // Stores: the store-TLB hit path inline.
        const imm = immS(insn);
        const a = xr(rs1) + <u64>(<i64>imm);
        const v = xr(rs2);
        const e = wTlb + (<usize>(<u32>(a >> 12) & TLB_MASK) << 4);
        const tag = load<u64>(e);
        const at = <usize>(<u32>a + load<u32>(e, 8));
        let slow = false;
        switch (f3) {
          case 3:
            if ((a & 0xfffffffffffff007) == tag) store<u64>(at, v);
            else {
              storeSlow(a, 8, v);
              slow = true;
            }
            break;
          case 2:
            if ((a & 0xfffffffffffff003) == tag) store<u32>(at, <u32>v);
            else {
              storeSlow(a, 4, v & 0xffffffff);
              slow = true;
            }
            break;
          case 0:
            if ((a & 0xfffffffffffff000) == tag) store<u8>(at, <u8>v);
            else {
              storeSlow(a, 1, v & 0xff);
              slow = true;
            }
            break;
          case 1:
            if ((a & 0xfffffffffffff001) == tag) store<u16>(at, <u16>v);
            else {
              storeSlow(a, 2, v & 0xffff);
              slow = true;
            }
            break;
          default:
            illegal = true;
        }
        if (slow && stopRequested && trapCause < 0) {
          // An MMIO write asked to stop (power-off, reset): retire it and leave.
          n++;
          if (tracing) hostTrace(<u32>pc, <u32>(pc >> 32), insn, 0, 0);
          store<u64>(base + PC_OFF, next);
          return n;
        }
        break;
      }
      case 0x18: {
        // Branches: BEQ BNE, BLT BGE, BLTU BGEU.
        const a = xr(rs1);
        const b = xr(rs2);
        let taken: bool;
        switch (f3) {
          case 0:
            taken = a == b;
            break;
          case 1:
            taken = a != b;
            break;
          case 4:
            taken = <i64>a < <i64>b;
            break;
          case 5:
            taken = <i64>a >= <i64>b;
            break;
          case 6:
            taken = a < b;
            break;
          case 7:
            taken = a >= b;
            break;
          default:
            illegal = true;
            taken = false;
        }
        if (taken) {
          const imm = immB(insn);
          next = pc + <u64>(<i64>imm);
          // The target starts a block. (Not taken, the block runs on, as compiled blocks do.)
          entry = true;
        }
        break;
      }
      case 0x0c: {
        // OP (RV64I + M)
        const a = xr(rs1);
        const b = xr(rs2);
        const f7 = insn >> 25;
        let r: u64 = 0;
        if (f7 == 0) {
          switch (f3) {
            case 0:
              r = a + b;
              break;
            case 1:
              r = a << (b & 63);
              break;
            case 2:
              r = <i64>a < <i64>b ? 1 : 0;
              break;
            case 3:
              r = a < b ? 1 : 0;
              break;
            case 4:
              r = a ^ b;
              break;
            case 5:
              r = a >> (b & 63);
              break;
            case 6:
              r = a | b;
              break;
            default:
              r = a & b;
          }
        } else if (f7 == 0x20) {
          if (f3 == 0) r = a - b;
          else if (f3 == 5) r = <u64>(<i64>a >> (b & 63));
          else illegal = true;
        } else if (f7 == 1) {
          if (f3 == 0) r = a * b;
          else if (f3 < 4) r = mulh(a, b, f3);
          else r = div64(a, b, f3);
        } else illegal = true;
        if (illegal) break;
        xw(rd, r);
        break;
      }
      case 0x1b: {
        // JAL
        const imm = immJ(insn);
        xw(rd, next);
        next = pc + <u64>(<i64>imm);
        entry = true;
        break;
      }
      case 0x19: {
        // JALR
        if (f3 != 0) {
          illegal = true;
          break;
        }
        const t = (xr(rs1) + <u64>(<i64>(<i32>insn >> 20))) & ~(<u64>1);
        xw(rd, next);
        next = t;
        entry = true;
        break;
      }
      case 0x06: {
        // OP-IMM-32
        const a = <u32>xr(rs1);
        const sh = (insn >> 20) & 31;
        const top = insn >> 25;
        let r: u32 = 0;
        if (f3 == 0) r = a + <u32>(<i32>insn >> 20);
        else if (f3 == 1 && top == 0) r = a << sh;
        else if (f3 == 5 && top == 0) r = a >> sh;
        else if (f3 == 5 && top == 0x20) r = <u32>(<i32>a >> sh);
        else {
          illegal = true;
          break;
        }
        xw(rd, <u64>(<i64><i32>r));
        break;
      }
      case 0x0d: // LUI
        xw(rd, <u64>(<i64><i32>(insn & 0xfffff000)));
        break;
      case 0x05: // AUIPC
        xw(rd, pc + <u64>(<i64><i32>(insn & 0xfffff000)));
        break;
      case 0x0e: {
        // OP-32 (RV64I + M)
        const a = <u32>xr(rs1);
        const b = <u32>xr(rs2);
        const f7 = insn >> 25;
        let r: u64 = 0;
        if (f7 == 0) {
          if (f3 == 0) r = <u64>(<i64><i32>(a + b));
          else if (f3 == 1) r = <u64>(<i64><i32>(a << (b & 31)));
          else if (f3 == 5) r = <u64>(<i64><i32>(a >> (b & 31)));
          else illegal = true;
        } else if (f7 == 0x20) {
          if (f3 == 0) r = <u64>(<i64><i32>(a - b));
          else if (f3 == 5) r = <u64>(<i64>(<i32>a >> (b & 31)));
          else illegal = true;
        } else if (f7 == 1) {
          if (f3 == 0) r = <u64>(<i64><i32>(a * b));
          else if (f3 >= 4) r = div32(a, b, f3);
          else illegal = true;
        } else illegal = true;
        if (illegal) break;
        xw(rd, r);
        break;
      }
      case 0x03: // MISC-MEM: FENCE (nothing to order on one hart), FENCE.I (stores into compiled code drop it)
        if (f3 > 1) illegal = true;
        entry = true;
        break;
      case 0x1c: {
        // SYSTEM
        instretNow = instret + <u64>n;
        const r = system(insn, pc, <u32>len);
        if (trapCause >= 0) break;
        if (r == SYS_JUMPED) {
          // xRET and WFI set pc themselves; interrupts may have become enabled: back to the outer loop.
          n++;
          if (tracing) hostTrace(<u32>pc, <u32>(pc >> 32), insn, 0, 0);
          store<u64>(base + PC_OFF, sysPc);
          return n;
        }
        if (r == SYS_WRITE) xw(rd, csrValue);
        // Translation may have changed (satp, SFENCE.VMA, MXR): drop the cached fetch page. An interrupt
        // may have become takeable (or a stop was asked): retire here and leave, so it comes first.
        // (A one-page SFENCE.VMA may have dropped the page we fetch from: forget it after every SYSTEM.)
        fLimit = 0;
        entry = true;
        if (stopRequested || waiting || pendingInterruptIn(n) >= 0) {
          n++;
          if (tracing) hostTrace(<u32>pc, <u32>(pc >> 32), insn, r == SYS_WRITE ? rd : 0, 0);
          store<u64>(base + PC_OFF, next);
          return n;
        }
        break;
      }
      case 0x0b: {
        // AMO
        const r = amo(insn);
        if (trapCause >= 0) break;
        xw(rd, r);
        entry = true;
        break;
      }
      case 0x01: // FLW/FLD
      case 0x09: // FSW/FSD
      case 0x10: // FMADD
      case 0x11: // FMSUB
      case 0x12: // FNMSUB
      case 0x13: // FNMADD
      case 0x14: // OP-FP
        if (!floatOp(insn)) illegal = true;
        // The block compiler stops at most of these: what follows may start a block.
        entry = true;
        break;
      default:
        illegal = true;
    }
    if (illegal) raise(CAUSE_ILLEGAL, parcel != 0 ? <u64>parcel : <u64>insn);
    if (trapCause >= 0) break;
    if (tracing) hostTrace(<u32>pc, <u32>(pc >> 32), insn, writesRd(insn) ? rd : 0, 0);
    pc = next;
    n++;
  }
  store<u64>(base + PC_OFF, pc);
  return n;
}
