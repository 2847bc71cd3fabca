// One RV64GC hart: M/S/U modes, CSRs, traps and interrupts, and the interpreter loop (translation,
// TLBs and memory access are in hart-memory.ts).
// Everything the guest hands us (instructions, addresses, page tables, CSR values) is hostile: any
// failure becomes a RISC-V trap, never a JS exception escaping run().
//
// Registers are (lo, hi) int32 pairs in HartState (no BigInt on the hot path). Memory accesses go
// through three direct-mapped TLBs (fetch, load, store) that map a virtual page straight to an offset
// in guest RAM; anything else (MMIO, faults, misalignment, page crossings) takes the slow path.

import type { Bus } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";
import type { InterruptTarget, TimeSource } from "../core/interrupts.ts";
import { div32, div64, mul64, mulh64, out } from "./alu.ts";
import { csrRead, csrWrite } from "./csr.ts";
import * as C from "./csr-numbers.ts";
import { Fpu } from "./fpu.ts";
import { HartMemory, TLB_MASK, TRAP } from "./hart-memory.ts";
import { BlockCache, DEFAULT_JIT_THRESHOLD, DEFAULT_WASM_THRESHOLD, type JitHart, jitSlot } from "./jit.ts";
import { ACCESS_LOAD, ACCESS_STORE } from "./mmu.ts";
import { rvcTable } from "./rvc.ts";
import { AUX, HartState, STATE_BYTES } from "./state.ts";
import { type WasmJitEnv, wasmJitAvailable } from "./wasm-jit.ts";

// Indices of the wasm chaining cells in Hart.auxCells (state.ts AUX, from STATE_BYTES).
const CELL_SLOT = (AUX.CUR_SLOT - STATE_BYTES) >> 2;
const CELL_PCLO = (AUX.CUR_PCLO - STATE_BYTES) >> 2;
const CELL_PCHI = (AUX.CUR_PCHI - STATE_BYTES) >> 2;
const CELL_N = (AUX.CUR_N - STATE_BYTES) >> 2;
const CELL_EXIT = (AUX.EXIT - STATE_BYTES) >> 2;

export interface HartOptions {
  hartId: number;
  mem: GuestMemory;
  bus: Bus;
  time: TimeSource;
  /**
   * The block compiler (jit.ts): false interprets only; true (the default) compiles hot loops; a number
   * compiles every block whose entry was reached that many times (tests use 1 to cover the compiler).
   */
  jit?: boolean | number;
  /**
   * What the block compiler makes: "js" functions (jit.ts; with jit === true only loops) or "wasm"
   * functions (wasm-jit.ts; every hot block). "wasm" needs guest RAM from GuestMemory.withExtra and a
   * host with WebAssembly; without them the hart falls back to "js".
   */
  jitBackend?: "js" | "wasm";
}

export class Hart extends HartMemory implements InterruptTarget {
  readonly kind = "js";
  readonly state: HartState;
  readonly x: Int32Array;
  readonly fpu: Fpu;
  readonly hartId: number;
  readonly time: TimeSource;

  pcLo = 0;
  pcHi = 0;
  /** Instructions retired since construction (drives run() budgets). */
  instret = 0;
  /** minstret/mcycle as the guest sees them = instret + instretOffset (the guest may write them). */
  instretOffset = 0;
  /** In WFI: run() returns until an enabled interrupt is pending. */
  waiting = false;
  trace?: (line: string) => void;
  /** Bare-metal runs may intercept ECALL; returning true makes the ECALL retire as a no-op and run() return. */
  onEcall?: (mode: number) => boolean;
  /** Set by a handler that wants run() to return at the next instruction boundary. */
  stopRequested = false;
  /** A compiled block's CSR instruction changed what the run loop caches: leave its inner loop. */
  private leaveInner = false;

  // CSR state. 64-bit CSRs without side effects live in `csr` as (lo, hi) pairs indexed by number.
  readonly csr = new Int32Array(8192);
  mip = 0;
  mie = 0;
  medeleg = 0;
  mideleg = 0;
  mcounteren = 0;
  scounteren = 0;
  menvcfgHi = 0;
  menvcfgLo = 0;
  satpAsid = 0;
  /** Sstc: stimecmp as a number of ticks (exact below 2^53), Infinity after reset. */
  stimecmp = Number.POSITIVE_INFINITY;
  stimecmpLo = -1;
  stimecmpHi = -1;

  // Reservation for LR/SC (physical address, -1 = none).
  reservation = -1;

  private readonly rvc: Int32Array;
  /** The block cache, or undefined when interpreting only. */
  readonly jit: BlockCache | undefined;
  /** Instructions of the running compiled block retired before the access that trapped. */
  jitDone = 0;
  /** The wasm chaining cells (state.ts AUX.CUR_SLOT …), indexed by CELL_*; empty without an aux region. */
  private readonly auxCells: Int32Array;

  constructor(o: HartOptions) {
    super(o.mem, o.bus);
    this.hartId = o.hartId;
    this.time = o.time;
    this.state = this.auxOffset >= 0 ? new HartState(o.mem.buffer, this.auxOffset) : new HartState();
    this.auxCells =
      this.auxOffset >= 0 ? new Int32Array(o.mem.buffer, this.auxOffset + STATE_BYTES, 16) : new Int32Array(16);
    this.x = this.state.x;
    this.fpu = new Fpu(this.state);
    this.rvc = rvcTable();
    const j = o.jit ?? true;
    if (j === false) this.jit = undefined;
    else {
      const wasm = o.jitBackend === "wasm" && this.auxOffset >= 0 && wasmJitAvailable() ? this.wasmEnv() : undefined;
      const cache = new BlockCache(
        this.ramSize,
        typeof j === "number" ? j : wasm !== undefined ? DEFAULT_WASM_THRESHOLD : DEFAULT_JIT_THRESHOLD,
        j === true && wasm === undefined,
        (page) => this.unmapStorePage(page),
        { u16: this.u16, rvc: this.rvc },
        wasm,
      );
      this.jit = cache;
      this.codePages = cache.codePages;
      this.codeWritten = (page) => cache.invalidatePage(page);
    }
    o.mem.onDmaWrite((gpa, len) => {
      if (this.reservation >= 0 && gpa < this.reservation + 8 && this.reservation < gpa + len) this.reservation = -1;
      // Device writes into pages with compiled code drop those blocks.
      const jit = this.jit;
      if (jit !== undefined && len > 0) {
        const first = (gpa - this.ramBase) >>> 12;
        const last = (gpa - this.ramBase + len - 1) >>> 12;
        for (let p = first; p <= last; p++) if (jit.codePages[p] === 1) jit.invalidatePage(p);
      }
    });
    this.reset();
  }

  /** The slow paths compiled wasm blocks call (wasm-jit.ts), bound to this hart. */
  private wasmEnv(): WasmJitEnv {
    const memory = this.mem.wasmMemory as WebAssembly.Memory;
    const sc = new Int32Array(this.mem.buffer, this.auxOffset + AUX.SCRATCH, 2);
    const cells = this.auxCells;
    const x = this.x;
    return {
      memory,
      aux: this.auxOffset,
      load: (lo, hi, f3, done) => {
        this.jitDone = done;
        cells[CELL_EXIT] = 1;
        let rl: number;
        let rh = 0;
        switch (f3) {
          case 0:
            rl = (this.load8(lo, hi) << 24) >> 24;
            rh = rl >> 31;
            break;
          case 1:
            rl = (this.load16(lo, hi) << 16) >> 16;
            rh = rl >> 31;
            break;
          case 2:
            rl = this.load32(lo, hi) | 0;
            rh = rl >> 31;
            break;
          case 3:
            rl = this.load64(lo, hi);
            rh = this.loadHi;
            break;
          case 4:
            rl = this.load8(lo, hi);
            break;
          case 5:
            rl = this.load16(lo, hi);
            break;
          default:
            rl = this.load32(lo, hi) | 0;
            break;
        }
        sc[0] = rl;
        sc[1] = rh;
      },
      store: (lo, hi, f3, vlo, vhi, done) => {
        this.jitDone = done;
        cells[CELL_EXIT] = 1;
        if (f3 === 0) this.store8(lo, hi, vlo & 0xff);
        else if (f3 === 1) this.store16(lo, hi, vlo & 0xffff);
        else if (f3 === 2) this.store32(lo, hi, vlo);
        else this.store64(lo, hi, vlo, vhi);
      },
      mulh: (al, ah, bl, bh, f3) => {
        mulh64(al, ah, bl, bh, f3);
        sc[0] = out[0];
        sc[1] = out[1];
      },
      amo: (insn, done) => {
        this.jitDone = done;
        const rd = (insn >>> 7) & 31;
        this.amo(insn, (insn >>> 15) & 31, (insn >>> 20) & 31, (insn >>> 12) & 7);
        if (rd !== 0) {
          x[rd * 2] = out[0];
          x[rd * 2 + 1] = out[1];
        }
      },
      csr: (insn, done) => {
        this.jitDone = done;
        const rd = (insn >>> 7) & 31;
        const dBase = this.dBase;
        const flushes = this.tlbFlushes;
        const r = this.system(insn, rd, (insn >>> 15) & 31, (insn >>> 12) & 7, 4);
        if (r === SYS_WRITE && rd !== 0) {
          x[rd * 2] = out[0];
          x[rd * 2 + 1] = out[1];
        }
        // As in run(): when the interrupt or translation picture changed, leave the chain and the
        // interpreter's inner loop too, whose top takes the interrupt, picks up the data TLB set and
        // forgets its cached fetch page. (Only returning to the inner loop missed an interrupt that
        // the next block's CSR masked again: Linux's idle loop enables SIE for two instructions.)
        if (
          r === SYS_JUMPED ||
          dBase !== this.dBase ||
          flushes !== this.tlbFlushes ||
          this.stopRequested ||
          this.waiting ||
          this.pendingInterrupt() >= 0
        ) {
          cells[CELL_EXIT] = 1;
          this.leaveInner = true;
        }
      },
    };
  }

  reset(): void {
    this.x.fill(0);
    this.state.f.fill(0);
    this.csr.fill(0);
    this.pcLo = 0x1000;
    this.pcHi = 0;
    this.priv = C.PRV_M;
    this.mstatus = 0;
    this.mip = 0;
    this.mipSeipHw = false;
    this.mie = 0;
    this.medeleg = 0;
    this.mideleg = 0;
    this.mcounteren = 0;
    this.scounteren = 0;
    this.menvcfgHi = 0;
    this.menvcfgLo = 0;
    this.satpMode = 0;
    this.satpPpn = 0;
    this.satpAsid = 0;
    this.stimecmp = Number.POSITIVE_INFINITY;
    this.stimecmpLo = -1;
    this.stimecmpHi = -1;
    this.reservation = -1;
    this.instretOffset = -this.instret;
    this.waiting = false;
    this.fpu.fflags = 0;
    this.fpu.frm = 0;
    this.flushTlb();
    this.selectTlbSets();
    this.jit?.flush();
  }

  // ---- host-facing API -------------------------------------------------------------------------

  setPc(addr: number | bigint): void {
    const v = BigInt.asUintN(64, BigInt(addr));
    this.pcLo = Number(v & 0xffffffffn) | 0;
    this.pcHi = Number(v >> 32n) | 0;
  }

  getPc(): bigint {
    return (BigInt(this.pcHi >>> 0) << 32n) | BigInt(this.pcLo >>> 0);
  }

  setX(reg: number, value: number | bigint): void {
    if (reg === 0) return;
    const v = BigInt.asUintN(64, BigInt(value));
    this.x[reg * 2] = Number(v & 0xffffffffn) | 0;
    this.x[reg * 2 + 1] = Number(v >> 32n) | 0;
  }

  getX(reg: number): bigint {
    return (BigInt(this.x[reg * 2 + 1] >>> 0) << 32n) | BigInt(this.x[reg * 2] >>> 0);
  }

  /** A plain CSR's stored value (xtvec, xepc, xscratch, xcause, xtval…): for debugging and tests. */
  readCsr(csr: number): bigint {
    return (BigInt(this.csr[csr * 2 + 1] >>> 0) << 32n) | BigInt(this.csr[csr * 2] >>> 0);
  }

  /** Stores a plain CSR without WARL filtering (tests set up trap vectors this way). */
  writeCsrRaw(csr: number, value: bigint): void {
    const v = BigInt.asUintN(64, value);
    this.csr[csr * 2] = Number(v & 0xffffffffn) | 0;
    this.csr[csr * 2 + 1] = Number(v >> 32n) | 0;
  }

  /** Hardware interrupt lines: MSIP/MTIP from the CLINT, MEIP/SEIP from the PLIC. */
  setPending(bit: number, level: boolean): void {
    const m = 1 << bit;
    if (bit === C.IRQ_SEI) {
      // SEIP reads as the OR of the PLIC line and the software-writable bit.
      this.mipSeipHw = level;
    } else {
      this.mip = level ? this.mip | m : this.mip & ~m;
    }
  }

  /** mip as software reads it. */
  readMip(): number {
    return this.mip | (this.mipSeipHw ? 1 << C.IRQ_SEI : 0) | this.sstcStip();
  }
  mipSeipHw = false;

  /** The Sstc deadline in mtime ticks, or Infinity when STCE is off. */
  nextTimerDeadline(): number {
    return (this.menvcfgHi & C.MENVCFG_HI_STCE) !== 0 ? this.stimecmp : Number.POSITIVE_INFINITY;
  }

  private sstcStip(): number {
    if ((this.menvcfgHi & C.MENVCFG_HI_STCE) === 0) return 0;
    return this.time.mtime() >= this.stimecmp ? 1 << C.IRQ_STI : 0;
  }

  // ---- traps and interrupts --------------------------------------------------------------------

  /** Enters the trap handler for `cause` (bit 31 of `interrupt` marks an interrupt) at the current pc. */
  takeTrap(cause: number, interrupt: boolean, tvalLo: number, tvalHi: number): void {
    const from = this.priv;
    const deleg = interrupt ? this.mideleg : this.medeleg;
    const toS = from <= C.PRV_S && ((deleg >>> cause) & 1) === 1;
    const c = this.csr;
    if (toS) {
      c[C.CSR_SEPC * 2] = this.pcLo;
      c[C.CSR_SEPC * 2 + 1] = this.pcHi;
      c[C.CSR_SCAUSE * 2] = cause;
      c[C.CSR_SCAUSE * 2 + 1] = interrupt ? 0x80000000 | 0 : 0;
      c[C.CSR_STVAL * 2] = tvalLo;
      c[C.CSR_STVAL * 2 + 1] = tvalHi;
      let s = this.mstatus;
      s = (s & C.MSTATUS_SIE) !== 0 ? s | C.MSTATUS_SPIE : s & ~C.MSTATUS_SPIE;
      s &= ~C.MSTATUS_SIE;
      s = from === C.PRV_S ? s | C.MSTATUS_SPP : s & ~C.MSTATUS_SPP;
      this.mstatus = s;
      this.setPriv(C.PRV_S);
      const vLo = c[C.CSR_STVEC * 2];
      this.pcHi = c[C.CSR_STVEC * 2 + 1];
      this.pcLo = (vLo & ~3) + (interrupt && (vLo & 1) === 1 ? 4 * cause : 0);
    } else {
      c[C.CSR_MEPC * 2] = this.pcLo;
      c[C.CSR_MEPC * 2 + 1] = this.pcHi;
      c[C.CSR_MCAUSE * 2] = cause;
      c[C.CSR_MCAUSE * 2 + 1] = interrupt ? 0x80000000 | 0 : 0;
      c[C.CSR_MTVAL * 2] = tvalLo;
      c[C.CSR_MTVAL * 2 + 1] = tvalHi;
      let s = this.mstatus;
      s = (s & C.MSTATUS_MIE) !== 0 ? s | C.MSTATUS_MPIE : s & ~C.MSTATUS_MPIE;
      s &= ~C.MSTATUS_MIE;
      s = (s & ~C.MSTATUS_MPP) | (from << C.MSTATUS_MPP_SHIFT);
      this.mstatus = s;
      this.setPriv(C.PRV_M);
      const vLo = c[C.CSR_MTVEC * 2];
      this.pcHi = c[C.CSR_MTVEC * 2 + 1];
      this.pcLo = (vLo & ~3) + (interrupt && (vLo & 1) === 1 ? 4 * cause : 0);
    }
  }

  /** The interrupt to take now, or -1 (privileged ISA "Machine Interrupt Registers": MEI MSI MTI SEI SSI STI). */
  pendingInterrupt(): number {
    const pending = this.readMip() & this.mie;
    if (pending === 0) return -1;
    const mEnabled = this.priv < C.PRV_M || (this.mstatus & C.MSTATUS_MIE) !== 0;
    const m = pending & ~this.mideleg;
    if (mEnabled && m !== 0) return pickInterrupt(m);
    const sEnabled = this.priv < C.PRV_S || (this.priv === C.PRV_S && (this.mstatus & C.MSTATUS_SIE) !== 0);
    const s = pending & this.mideleg;
    if (sEnabled && s !== 0) return pickInterrupt(s);
    return -1;
  }

  // ---- the interpreter -------------------------------------------------------------------------

  /** Runs up to `budget` instructions; returns how many retired (0 while waiting in WFI). */
  run(budget: number): number {
    if (this.waiting) {
      if ((this.readMip() & this.mie) === 0) return 0;
      this.waiting = false;
    }
    this.stopRequested = false;
    const start = this.instret;
    const x = this.x;
    const rvc = this.rvc;
    const view = this.mem.view;
    const u8 = this.u8;
    const u16 = this.u16;
    const i32 = this.i32;
    const rTagLo = this.rTagLo;
    const rTagHi = this.rTagHi;
    const rOff = this.rOff;
    const wTagLo = this.wTagLo;
    const wTagHi = this.wTagHi;
    const wOff = this.wOff;
    const tracing = this.trace !== undefined;
    const jit = tracing ? undefined : this.jit;
    const self = this as unknown as JitHart;
    const jTags = jit?.tags;
    const jCounts = jit?.counts;
    const jFns = jit?.fns;
    const jThreshold = jit?.threshold ?? 0;
    // The wasm backend compiles straight-line code too: a block may start after a branch that fell
    // through or after an instruction blocks leave out (AMO, FENCE), not only at jump targets.
    const allEntries = jit?.backend === "wasm";
    // pc is the start of a block (a jump or branch target, or after a trap): look it up in the cache.
    let entry = true;
    let curOffs: Int32Array | undefined;
    // Retired in this call; pc lives in locals and is written back before anything that may read it.
    let n = 0;
    let pcLo = 0;
    let pcHi = 0;
    // The 16-bit parcel of the current instruction when it is compressed (0 otherwise): an illegal-
    // instruction trap reports the instruction as fetched, not its expansion.
    let parcel = 0;
    while (n < budget) {
      this.leaveInner = false;
      const irq = this.pendingInterrupt();
      if (irq >= 0) this.takeTrap(irq, true, 0, 0);
      pcLo = this.pcLo | 0;
      pcHi = this.pcHi | 0;
      entry = true;
      // The data TLB set only changes with privilege, MPRV/MPP or SUM: in SYSTEM instructions (after
      // which we leave the inner loop) and in traps (which unwind out of it).
      let dBase = this.dBase;
      // The page the last fetch came from (TLB flushes only happen in calls after which we leave the
      // inner loop, so this cache never outlives its translation).
      // fLimit is 4093 while the cache is valid (0 = invalid): pc hits when it is in that page with
      // four readable bytes left (not its last parcel), which one unsigned compare of pc ^ page checks.
      let fPageLo = 0;
      let fPageHi = 0;
      let fPageOff = 0;
      let fLimit = 0;
      try {
        inner: while (n < budget) {
          // Fetch.
          let insn: number;
          if ((pcLo ^ fPageLo) >>> 0 < fLimit && pcHi === fPageHi) {
            // Four bytes at once (little-endian, unaligned); a compressed instruction uses the low two.
            insn = view.getInt32(fPageOff + (pcLo & 4095), true);
          } else {
            // Another page (or the last parcel of one): consult the fetch TLB, walking only on a miss.
            const fi = this.xBase + ((pcLo >>> 12) & TLB_MASK);
            if (this.xTagLo[fi] !== (pcLo & -4096) || this.xTagHi[fi] !== pcHi) this.fetchSlow(pcLo, pcHi);
            if (this.xTagLo[fi] === (pcLo & -4096) && this.xTagHi[fi] === pcHi && (pcLo & 4095) < 4093) {
              fPageLo = pcLo & -4096;
              fPageHi = pcHi;
              fPageOff = this.xOff[fi];
              fLimit = 4093;
              insn = view.getInt32(fPageOff + (pcLo & 4095), true);
            } else {
              insn = this.fetchSlow(pcLo, pcHi) | 0;
            }
          }
          if (entry && jit !== undefined) {
            entry = false;
            if ((pcLo ^ fPageLo) >>> 0 < fLimit && pcHi === fPageHi) {
              const hIdx = (fPageOff + (pcLo & 4095)) >> 1;
              const slot = jitSlot(hIdx);
              if (jTags![slot] !== hIdx) jit.claim(slot, hIdx);
              let fn = jFns![slot];
              if (fn === undefined && ++jCounts![slot] >= jThreshold) {
                jit.compile(slot);
                fn = jFns![slot];
              }
              if (fn !== undefined) {
                curOffs = jit.offs[slot];
                n += fn(self, x, pcLo, pcHi, budget - n);
                curOffs = undefined;
                pcLo = this.pcLo;
                pcHi = this.pcHi;
                entry = true;
                if (this.stopRequested || this.leaveInner) break;
                continue;
              }
            }
          }
          let len = 4;
          parcel = 0;
          if ((insn & 3) !== 3) {
            parcel = insn & 0xffff;
            // A reserved parcel expands to 0, which the switch's default rejects (the catch then
            // reports the parcel as tval).
            insn = rvc[parcel];
            len = 2;
          }
          if (tracing) this.traceBefore(insn, pcLo, pcHi);
          const rd = (insn >>> 7) & 31;
          const rs1 = (insn >>> 15) & 31;
          const rs2 = (insn >>> 20) & 31;
          const f3 = (insn >>> 12) & 7;
          let nextLo = (pcLo + len) | 0;
          let nextHi = nextLo >>> 0 < pcLo >>> 0 ? (pcHi + 1) | 0 : pcHi;
          let rlo = 0;
          let rhi = 0;
          switch (insn & 0x7f) {
            case 0x13: {
              // OP-IMM
              const imm = insn >> 20;
              const alo = x[rs1 * 2];
              const ahi = x[rs1 * 2 + 1];
              // ADDI (also c.li, c.addi, c.addi16sp, c.addi4spn) first, outside the jump table.
              if (f3 === 0) {
                rlo = (alo + imm) | 0;
                rhi = (ahi + (imm >> 31) + (rlo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
              } else
                switch (f3) {
                  case 1: {
                    if (insn >>> 26 !== 0) this.illegal(insn);
                    const sh = (insn >>> 20) & 63;
                    if (sh === 0) {
                      rlo = alo;
                      rhi = ahi;
                    } else if (sh < 32) {
                      rhi = (ahi << sh) | (alo >>> (32 - sh));
                      rlo = alo << sh;
                    } else {
                      rhi = alo << (sh - 32);
                      rlo = 0;
                    }
                    break;
                  }
                  case 2:
                    rlo = ahi < imm >> 31 || (ahi === imm >> 31 && alo >>> 0 < imm >>> 0) ? 1 : 0;
                    break;
                  case 3:
                    rlo = ahi >>> 0 < (imm >> 31) >>> 0 || (ahi === imm >> 31 && alo >>> 0 < imm >>> 0) ? 1 : 0;
                    break;
                  case 4:
                    rlo = alo ^ imm;
                    rhi = ahi ^ (imm >> 31);
                    break;
                  case 5: {
                    const top = insn >>> 26;
                    const sh = (insn >>> 20) & 63;
                    if (top === 0) {
                      if (sh === 0) {
                        rlo = alo;
                        rhi = ahi;
                      } else if (sh < 32) {
                        rlo = (alo >>> sh) | (ahi << (32 - sh));
                        rhi = (ahi >>> sh) | 0;
                      } else {
                        rlo = (ahi >>> (sh - 32)) | 0;
                        rhi = 0;
                      }
                    } else if (top === 0x10) {
                      if (sh === 0) {
                        rlo = alo;
                        rhi = ahi;
                      } else if (sh < 32) {
                        rlo = (alo >>> sh) | (ahi << (32 - sh));
                        rhi = ahi >> sh;
                      } else {
                        rlo = ahi >> (sh - 32);
                        rhi = ahi >> 31;
                      }
                    } else this.illegal(insn);
                    break;
                  }
                  case 6:
                    rlo = alo | imm;
                    rhi = ahi | (imm >> 31);
                    break;
                  default:
                    rlo = alo & imm;
                    rhi = ahi & (imm >> 31);
                    break;
                }
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x03: {
              // Loads: the load-TLB hit path is inlined here (hit, and aligned for the access size);
              // anything else takes loadSlow.
              const imm = insn >> 20;
              const blo = x[rs1 * 2];
              const alo = (blo + imm) | 0;
              const ahi = (x[rs1 * 2 + 1] + (imm >> 31) + (alo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
              const ti = dBase + ((alo >>> 12) & TLB_MASK);
              const hit = rTagLo[ti] === (alo & -4096) && rTagHi[ti] === ahi;
              const off = rOff[ti] + (alo & 4095);
              if (f3 === 3) {
                if (hit && (alo & 7) === 0) {
                  rlo = i32[off >> 2];
                  rhi = i32[(off >> 2) + 1];
                } else {
                  rlo = this.loadSlow(alo, ahi, 8) | 0;
                  rhi = this.loadHi | 0;
                }
              } else if (f3 === 2 || f3 === 6) {
                rlo = hit && (alo & 3) === 0 ? i32[off >> 2] : this.loadSlow(alo, ahi, 4) | 0;
                rhi = f3 === 2 ? rlo >> 31 : 0;
              } else if (f3 === 4 || f3 === 0) {
                rlo = hit ? u8[off] : this.loadSlow(alo, ahi, 1) & 0xff;
                if (f3 === 0) {
                  rlo = (rlo << 24) >> 24;
                  rhi = rlo >> 31;
                }
              } else if (f3 === 1 || f3 === 5) {
                rlo = hit && (alo & 1) === 0 ? u16[off >> 1] : this.loadSlow(alo, ahi, 2) & 0xffff;
                if (f3 === 1) {
                  rlo = (rlo << 16) >> 16;
                  rhi = rlo >> 31;
                }
              } else this.illegal(insn);
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x23: {
              // Stores: the store-TLB hit path inlined, as for loads.
              const imm = ((insn >> 20) & ~31) | ((insn >>> 7) & 31);
              const blo = x[rs1 * 2];
              const alo = (blo + imm) | 0;
              const ahi = (x[rs1 * 2 + 1] + (imm >> 31) + (alo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
              const vlo = x[rs2 * 2];
              const ti = dBase + ((alo >>> 12) & TLB_MASK);
              const hit = wTagLo[ti] === (alo & -4096) && wTagHi[ti] === ahi;
              const off = wOff[ti] + (alo & 4095);
              if (f3 === 3) {
                if (hit && (alo & 7) === 0) {
                  i32[off >> 2] = vlo;
                  i32[(off >> 2) + 1] = x[rs2 * 2 + 1];
                } else this.storeSlow(alo, ahi, 8, vlo, x[rs2 * 2 + 1]);
              } else if (f3 === 2) {
                if (hit && (alo & 3) === 0) i32[off >> 2] = vlo;
                else this.storeSlow(alo, ahi, 4, vlo, 0);
              } else if (f3 === 0) {
                if (hit) u8[off] = vlo;
                else this.storeSlow(alo, ahi, 1, vlo & 0xff, 0);
              } else if (f3 === 1) {
                if (hit && (alo & 1) === 0) u16[off >> 1] = vlo;
                else this.storeSlow(alo, ahi, 2, vlo & 0xffff, 0);
              } else this.illegal(insn);
              break;
            }
            case 0x63: {
              // Branches
              const alo = x[rs1 * 2];
              const ahi = x[rs1 * 2 + 1];
              const blo = x[rs2 * 2];
              const bhi = x[rs2 * 2 + 1];
              // BEQ/BNE, then BLT/BGE/BLTU/BGEU as one unsigned compare (signed: flip the sign bits);
              // odd f3 negates.
              let taken: boolean;
              if (f3 < 2) {
                taken = (alo === blo && ahi === bhi) === (f3 === 0);
              } else {
                if (f3 < 4) this.illegal(insn);
                const flip = (f3 & 2) === 0 ? -0x80000000 : 0;
                const ah = (ahi ^ flip) >>> 0;
                const bh = (bhi ^ flip) >>> 0;
                taken = (ah < bh || (ah === bh && alo >>> 0 < blo >>> 0)) === ((f3 & 1) === 0);
              }
              if (taken) {
                const imm =
                  ((insn >> 19) & 0xfffff000) | ((insn << 4) & 0x800) | ((insn >>> 20) & 0x7e0) | ((insn >>> 7) & 0x1e);
                nextLo = (pcLo + imm) | 0;
                nextHi = (pcHi + (imm >> 31) + (nextLo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
                entry = true;
              } else entry = allEntries;
              break;
            }
            case 0x33: {
              // OP (RV64I + M)
              const alo = x[rs1 * 2];
              const ahi = x[rs1 * 2 + 1];
              const blo = x[rs2 * 2];
              const bhi = x[rs2 * 2 + 1];
              const f7 = insn >>> 25;
              if (f7 === 0) {
                // ADD (also c.mv, c.add) first, outside the jump table.
                if (f3 === 0) {
                  rlo = (alo + blo) | 0;
                  rhi = (ahi + bhi + (rlo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
                } else
                  switch (f3) {
                    case 1: {
                      const sh = blo & 63;
                      if (sh === 0) {
                        rlo = alo;
                        rhi = ahi;
                      } else if (sh < 32) {
                        rhi = (ahi << sh) | (alo >>> (32 - sh));
                        rlo = alo << sh;
                      } else {
                        rhi = alo << (sh - 32);
                        rlo = 0;
                      }
                      break;
                    }
                    case 2:
                      rlo = ahi < bhi || (ahi === bhi && alo >>> 0 < blo >>> 0) ? 1 : 0;
                      break;
                    case 3:
                      rlo = ahi >>> 0 < bhi >>> 0 || (ahi === bhi && alo >>> 0 < blo >>> 0) ? 1 : 0;
                      break;
                    case 4:
                      rlo = alo ^ blo;
                      rhi = ahi ^ bhi;
                      break;
                    case 5: {
                      const sh = blo & 63;
                      if (sh === 0) {
                        rlo = alo;
                        rhi = ahi;
                      } else if (sh < 32) {
                        rlo = (alo >>> sh) | (ahi << (32 - sh));
                        rhi = (ahi >>> sh) | 0;
                      } else {
                        rlo = (ahi >>> (sh - 32)) | 0;
                        rhi = 0;
                      }
                      break;
                    }
                    case 6:
                      rlo = alo | blo;
                      rhi = ahi | bhi;
                      break;
                    default:
                      rlo = alo & blo;
                      rhi = ahi & bhi;
                      break;
                  }
              } else if (f7 === 0x20) {
                if (f3 === 0) {
                  rlo = (alo - blo) | 0;
                  rhi = (ahi - bhi - (alo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
                } else if (f3 === 5) {
                  const sh = blo & 63;
                  if (sh === 0) {
                    rlo = alo;
                    rhi = ahi;
                  } else if (sh < 32) {
                    rlo = (alo >>> sh) | (ahi << (32 - sh));
                    rhi = ahi >> sh;
                  } else {
                    rlo = ahi >> (sh - 32);
                    rhi = ahi >> 31;
                  }
                } else this.illegal(insn);
              } else if (f7 === 1) {
                if (f3 === 0) mul64(alo, ahi, blo, bhi);
                else if (f3 < 4) mulh64(alo, ahi, blo, bhi, f3);
                else div64(alo, ahi, blo, bhi, (f3 & 1) === 0, f3 >= 6);
                rlo = out[0];
                rhi = out[1];
              } else this.illegal(insn);
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x6f: {
              // JAL
              const imm =
                ((insn >> 11) & 0xfff00000) | (insn & 0xff000) | ((insn >>> 9) & 0x800) | ((insn >>> 20) & 0x7fe);
              rlo = nextLo;
              rhi = nextHi;
              nextLo = (pcLo + imm) | 0;
              nextHi = (pcHi + (imm >> 31) + (nextLo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
              entry = true;
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x67: {
              // JALR
              if (f3 !== 0) this.illegal(insn);
              const imm = insn >> 20;
              const alo = x[rs1 * 2];
              const ahi = x[rs1 * 2 + 1];
              rlo = nextLo;
              rhi = nextHi;
              const tlo = (alo + imm) | 0;
              nextHi = (ahi + (imm >> 31) + (tlo >>> 0 < alo >>> 0 ? 1 : 0)) | 0;
              nextLo = tlo & ~1;
              entry = true;
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x1b: {
              // OP-IMM-32
              const alo = x[rs1 * 2];
              const sh = (insn >>> 20) & 31;
              const top = insn >>> 25;
              if (f3 === 0) rlo = (alo + (insn >> 20)) | 0;
              else if (f3 === 1 && top === 0) rlo = alo << sh;
              else if (f3 === 5 && top === 0) rlo = (alo >>> sh) | 0;
              else if (f3 === 5 && top === 0x20) rlo = alo >> sh;
              else this.illegal(insn);
              rhi = rlo >> 31;
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x37: // LUI
              rlo = insn & 0xfffff000;
              rhi = rlo >> 31;
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            case 0x17: {
              // AUIPC
              const ilo = insn & 0xfffff000;
              rlo = (pcLo + ilo) | 0;
              rhi = (pcHi + (ilo >> 31) + (rlo >>> 0 < pcLo >>> 0 ? 1 : 0)) | 0;
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x3b: {
              // OP-32 (RV64I + M)
              const alo = x[rs1 * 2];
              const blo = x[rs2 * 2];
              const f7 = insn >>> 25;
              if (f7 === 0) {
                if (f3 === 0) rlo = (alo + blo) | 0;
                else if (f3 === 1) rlo = alo << (blo & 31);
                else if (f3 === 5) rlo = (alo >>> (blo & 31)) | 0;
                else this.illegal(insn);
              } else if (f7 === 0x20) {
                if (f3 === 0) rlo = (alo - blo) | 0;
                else if (f3 === 5) rlo = alo >> (blo & 31);
                else this.illegal(insn);
              } else if (f7 === 1) {
                if (f3 === 0) rlo = Math.imul(alo, blo);
                else if (f3 >= 4) rlo = div32(alo, blo, (f3 & 1) === 0, f3 >= 6) | 0;
                else this.illegal(insn);
              } else this.illegal(insn);
              rhi = rlo >> 31;
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            }
            case 0x0f: // MISC-MEM: FENCE (nothing to order on one hart), FENCE.I (compiled code is write-tracked: jit.ts)
              if (f3 > 1) this.illegal(insn);
              entry = allEntries;
              break;
            case 0x73: {
              // SYSTEM
              this.pcLo = pcLo;
              this.pcHi = pcHi;
              this.instret = start + n;
              const r = this.system(insn, rd, rs1, f3, len);
              if (r === SYS_JUMPED) {
                // xRET and WFI set pc themselves; interrupts may have become enabled, so re-check.
                n++;
                if (tracing) this.traceAfter(0);
                pcLo = this.pcLo | 0;
                pcHi = this.pcHi | 0;
                break inner;
              }
              if (r === SYS_WRITE && rd !== 0) {
                x[rd * 2] = out[0];
                x[rd * 2 + 1] = out[1];
              }
              // A CSR access or SFENCE.VMA may have changed translation: pick up the data TLB set and
              // drop the cached fetch page. It may also have made an interrupt takeable (or a handler
              // asked to stop): then retire here and leave, so the interrupt comes before the next
              // instruction. Otherwise go on in this loop (Linux toggles SIE and SUM all the time).
              dBase = this.dBase;
              fLimit = 0;
              entry = true;
              if (this.stopRequested || this.waiting || this.pendingInterrupt() >= 0) {
                pcLo = nextLo;
                pcHi = nextHi;
                n++;
                if (tracing) this.traceAfter(r === SYS_WRITE ? rd : 0);
                break inner;
              }
              if (tracing) {
                pcLo = nextLo;
                pcHi = nextHi;
                n++;
                this.traceAfter(r === SYS_WRITE ? rd : 0);
                continue inner;
              }
              break;
            }
            case 0x2f: // AMO
              this.pcLo = pcLo;
              this.pcHi = pcHi;
              this.amo(insn, rs1, rs2, f3);
              entry = allEntries;
              rlo = out[0];
              rhi = out[1];
              if (rd !== 0) {
                x[rd * 2] = rlo;
                x[rd * 2 + 1] = rhi;
              }
              break;
            case 0x07: // FLW / FLD
            case 0x27: // FSW / FSD
            case 0x43:
            case 0x47:
            case 0x4b:
            case 0x4f:
            case 0x53:
              this.floatOp(insn, rd, rs1, rs2, f3);
              break;
            default:
              this.illegal(insn);
          }
          pcLo = nextLo;
          pcHi = nextHi;
          n++;
          if (tracing) this.traceAfter(writesRd(insn) ? rd : 0);
        }
        this.pcLo = pcLo;
        this.pcHi = pcHi;
      } catch (e) {
        if (e !== TRAP) throw e;
        if (curOffs !== undefined) {
          // A load or store in a compiled block: those before it retired; pc names the faulting one.
          // (A looping block counts whole passes too: the instruction is jitDone modulo its length.)
          const done = this.jitDone;
          if (jit?.backend === "wasm") {
            // Wasm blocks chain: the one that trapped is in the aux cells (wasm-jit.ts).
            const c = this.auxCells;
            const offs = jit.offs[c[CELL_SLOT]] as Int32Array;
            n += c[CELL_N] + done;
            pcLo = (c[CELL_PCLO] + offs[done % offs.length]) | 0;
            pcHi = c[CELL_PCHI];
          } else {
            n += done;
            pcLo = (pcLo + curOffs[done % curOffs.length]) | 0;
          }
          parcel = 0;
          curOffs = undefined;
        }
        // A trap spends budget without retiring, so a guest trapping forever (mtvec pointing at
        // nothing) still hands control back to the host.
        budget--;
        // The faulting instruction did not retire; pc still names it.
        this.pcLo = pcLo;
        this.pcHi = pcHi;
        this.instret = start + n;
        if (this.trapCause === C.CAUSE_ILLEGAL_INSTRUCTION && parcel !== 0) {
          this.trapTvalLo = parcel;
          this.trapTvalHi = 0;
        }
        if (tracing) this.trace?.(`trap cause=${this.trapCause} tval=${hex64(this.trapTvalLo, this.trapTvalHi)}`);
        this.takeTrap(this.trapCause, false, this.trapTvalLo, this.trapTvalHi);
      }
      if (this.stopRequested || this.waiting) break;
    }
    this.instret = start + n;
    if (jit !== undefined && jit.pendingCount > 0) jit.runEnded();
    return n;
  }

  // ---- SYSTEM ----------------------------------------------------------------------------------

  /** CSR ops, ECALL/EBREAK, xRET, WFI, SFENCE.VMA. pc fields hold the instruction's own pc. */
  private system(insn: number, rd: number, rs1: number, f3: number, len: number): number {
    if (f3 === 0) {
      if (rd !== 0) this.illegal(insn);
      const f12 = insn >>> 20;
      const f7 = insn >>> 25;
      if (f7 === 0x09) {
        // SFENCE.VMA
        if (this.priv === C.PRV_U || (this.priv === C.PRV_S && (this.mstatus & C.MSTATUS_TVM) !== 0)) {
          this.illegal(insn);
        }
        // Linux fences one page after every page-fault fix-up (update_mmu_cache): drop just that page.
        if (rs1 === 0) this.flushTlb();
        else this.flushTlbPage(this.x[rs1 * 2], this.x[rs1 * 2 + 1]);
        return SYS_NO_WRITE;
      }
      if (rs1 !== 0) this.illegal(insn);
      switch (f12) {
        case 0x000: {
          // ECALL
          if (this.onEcall?.(this.priv)) {
            this.stopRequested = true;
            return SYS_NO_WRITE;
          }
          this.raise(C.CAUSE_USER_ECALL + this.priv, 0, 0);
          break;
        }
        case 0x001: // EBREAK
          this.raise(C.CAUSE_BREAKPOINT, this.pcLo, this.pcHi);
          break;
        case 0x102: {
          // SRET
          if (this.priv === C.PRV_U || (this.priv === C.PRV_S && (this.mstatus & C.MSTATUS_TSR) !== 0)) {
            this.illegal(insn);
          }
          let s = this.mstatus;
          const spp = (s & C.MSTATUS_SPP) !== 0 ? C.PRV_S : C.PRV_U;
          s = (s & C.MSTATUS_SPIE) !== 0 ? s | C.MSTATUS_SIE : s & ~C.MSTATUS_SIE;
          s |= C.MSTATUS_SPIE;
          s &= ~C.MSTATUS_SPP;
          s &= ~C.MSTATUS_MPRV;
          this.mstatus = s;
          this.setPriv(spp);
          this.pcLo = this.csr[C.CSR_SEPC * 2] & ~1;
          this.pcHi = this.csr[C.CSR_SEPC * 2 + 1];
          return SYS_JUMPED;
        }
        case 0x302: {
          // MRET
          if (this.priv !== C.PRV_M) this.illegal(insn);
          let s = this.mstatus;
          const mpp = (s >>> C.MSTATUS_MPP_SHIFT) & 3;
          s = (s & C.MSTATUS_MPIE) !== 0 ? s | C.MSTATUS_MIE : s & ~C.MSTATUS_MIE;
          s |= C.MSTATUS_MPIE;
          s &= ~C.MSTATUS_MPP;
          if (mpp !== C.PRV_M) s &= ~C.MSTATUS_MPRV;
          this.mstatus = s;
          this.setPriv(mpp);
          this.pcLo = this.csr[C.CSR_MEPC * 2] & ~1;
          this.pcHi = this.csr[C.CSR_MEPC * 2 + 1];
          return SYS_JUMPED;
        }
        case 0x105: {
          // WFI
          if (this.priv === C.PRV_U || (this.priv === C.PRV_S && (this.mstatus & C.MSTATUS_TW) !== 0)) {
            this.illegal(insn);
          }
          const nlo = (this.pcLo + len) | 0;
          this.pcHi = nlo >>> 0 < this.pcLo >>> 0 ? (this.pcHi + 1) | 0 : this.pcHi;
          this.pcLo = nlo;
          if ((this.readMip() & this.mie) === 0) this.waiting = true;
          return SYS_JUMPED;
        }
        default:
          this.illegal(insn);
      }
      return SYS_NO_WRITE;
    }
    if (f3 === 4) this.illegal(insn);
    const csr = insn >>> 20;
    // Privilege and read-only checks (privileged ISA "CSR Address Mapping Conventions").
    if (((csr >>> 8) & 3) > this.priv) this.illegal(insn);
    const op = f3 & 3;
    const src = (f3 & 4) !== 0 ? rs1 : -1;
    const wlo = src >= 0 ? rs1 : this.x[rs1 * 2];
    const whi = src >= 0 ? 0 : this.x[rs1 * 2 + 1];
    const writes = op === 1 || rs1 !== 0;
    if (writes && csr >>> 10 === 3) this.illegal(insn);
    const reads = op !== 1 || rd !== 0;
    let olo = 0;
    let ohi = 0;
    if (reads || op !== 1) {
      if (!csrRead(this, csr)) this.illegal(insn);
      olo = out[0];
      ohi = out[1];
    }
    if (writes) {
      let nlo: number;
      let nhi: number;
      if (op === 1) {
        nlo = wlo;
        nhi = whi;
      } else if (op === 2) {
        nlo = olo | wlo;
        nhi = ohi | whi;
      } else {
        nlo = olo & ~wlo;
        nhi = ohi & ~whi;
      }
      if (!csrWrite(this, csr, nlo, nhi)) this.illegal(insn);
    }
    out[0] = olo;
    out[1] = ohi;
    return SYS_WRITE;
  }

  // ---- A extension -----------------------------------------------------------------------------

  /**
   * The physical address an LR, SC or AMO works on: from the load (LR) or store TLB when the page is
   * there — a store-TLB entry means RAM, writable and dirty, as an AMO needs — else from a walk, which
   * raises the fault. (Linux's spinlocks and atomics would otherwise walk the page table every time.)
   */
  private atomicPa(alo: number, ahi: number, access: number): number {
    const ti = this.dBase + ((alo >>> 12) & TLB_MASK);
    if (access === ACCESS_STORE) {
      if (this.wTagLo[ti] === (alo & -4096) && this.wTagHi[ti] === ahi)
        return this.ramBase + this.wOff[ti] + (alo & 4095);
    } else if (this.rTagLo[ti] === (alo & -4096) && this.rTagHi[ti] === ahi) {
      return this.ramBase + this.rOff[ti] + (alo & 4095);
    }
    return this.translate(alo, ahi, access);
  }

  private amo(insn: number, rs1: number, rs2: number, f3: number): void {
    const x = this.x;
    const alo = x[rs1 * 2];
    const ahi = x[rs1 * 2 + 1];
    const f5 = insn >>> 27;
    // An illegal encoding traps as such before any address check (illegal instruction outranks the
    // misaligned and page-fault exceptions).
    if ((f3 !== 2 && f3 !== 3) || !AMO_FUNCT5.has(f5) || (f5 === 2 && rs2 !== 0)) this.illegal(insn);
    const size = f3 === 2 ? 4 : 8;
    if ((alo & (size - 1)) !== 0) {
      this.raise(f5 === 2 ? C.CAUSE_MISALIGNED_LOAD : C.CAUSE_MISALIGNED_STORE, alo, ahi);
    }
    if (f5 === 2) {
      // LR
      if (rs2 !== 0) this.illegal(insn);
      const pa = this.atomicPa(alo, ahi, ACCESS_LOAD);
      if (this.ramOffset(pa, size) < 0) this.raise(C.CAUSE_LOAD_ACCESS, alo, ahi);
      if (size === 4) {
        out[0] = this.load32(alo, ahi);
        out[1] = out[0] >> 31;
      } else {
        out[0] = this.load64(alo, ahi);
        out[1] = this.loadHi;
      }
      this.reservation = pa;
      return;
    }
    if (f5 === 3) {
      // SC: every SC clears the reservation; a failed one still checks store permission.
      const pa = this.atomicPa(alo, ahi, ACCESS_STORE);
      if (this.ramOffset(pa, size) < 0) this.raise(C.CAUSE_STORE_ACCESS, alo, ahi);
      const ok = this.reservation === pa;
      this.reservation = -1;
      if (ok) {
        if (size === 4) this.store32(alo, ahi, x[rs2 * 2]);
        else this.store64(alo, ahi, x[rs2 * 2], x[rs2 * 2 + 1]);
      }
      out[0] = ok ? 0 : 1;
      out[1] = 0;
      return;
    }
    // AMOs: translate for store first so a read-only page reports a store fault. Atomics work on RAM
    // only; anywhere else is a store/AMO access fault.
    if (this.ramOffset(this.atomicPa(alo, ahi, ACCESS_STORE), size) < 0) this.raise(C.CAUSE_STORE_ACCESS, alo, ahi);
    const blo = x[rs2 * 2];
    const bhi = x[rs2 * 2 + 1];
    let olo: number;
    let ohi: number;
    if (size === 4) {
      olo = this.load32(alo, ahi);
      ohi = olo >> 31;
    } else {
      olo = this.load64(alo, ahi);
      ohi = this.loadHi;
    }
    let nlo: number;
    let nhi: number;
    // For .W the comparisons use the sign-extended 32-bit values.
    const bh = size === 4 ? blo >> 31 : bhi;
    switch (f5) {
      case 0x01: // AMOSWAP
        nlo = blo;
        nhi = bhi;
        break;
      case 0x00: // AMOADD
        nlo = (olo + blo) | 0;
        nhi = (ohi + bhi + (nlo >>> 0 < olo >>> 0 ? 1 : 0)) | 0;
        break;
      case 0x04: // AMOXOR
        nlo = olo ^ blo;
        nhi = ohi ^ bhi;
        break;
      case 0x0c: // AMOAND
        nlo = olo & blo;
        nhi = ohi & bhi;
        break;
      case 0x08: // AMOOR
        nlo = olo | blo;
        nhi = ohi | bhi;
        break;
      case 0x10: // AMOMIN
      case 0x14: // AMOMAX
      case 0x18: // AMOMINU
      case 0x1c: {
        // AMOMAXU
        const unsigned = f5 >= 0x18;
        const less = unsigned
          ? ohi >>> 0 < bh >>> 0 || (ohi === bh && olo >>> 0 < blo >>> 0)
          : ohi < bh || (ohi === bh && olo >>> 0 < blo >>> 0);
        const takeOld = f5 === 0x10 || f5 === 0x18 ? less : !less;
        nlo = takeOld ? olo : blo;
        nhi = takeOld ? ohi : bhi;
        break;
      }
      default:
        this.illegal(insn);
    }
    if (size === 4) this.store32(alo, ahi, nlo);
    else this.store64(alo, ahi, nlo, nhi);
    out[0] = olo;
    out[1] = ohi;
  }

  // ---- F and D ---------------------------------------------------------------------------------

  private floatOp(insn: number, rd: number, rs1: number, rs2: number, f3: number): void {
    if ((this.mstatus & C.MSTATUS_FS) === 0) this.illegal(insn);
    const op = insn & 0x7f;
    const f = this.state.f;
    if (op === 0x07 || op === 0x27) {
      const x = this.x;
      const imm = op === 0x07 ? insn >> 20 : ((insn >> 20) & ~31) | ((insn >>> 7) & 31);
      const blo = x[rs1 * 2];
      const alo = (blo + imm) | 0;
      const ahi = (x[rs1 * 2 + 1] + (imm >> 31) + (alo >>> 0 < blo >>> 0 ? 1 : 0)) | 0;
      if (op === 0x07) {
        if (f3 === 2) {
          f[rd * 2] = this.load32(alo, ahi);
          f[rd * 2 + 1] = -1; // NaN-boxed
        } else if (f3 === 3) {
          f[rd * 2] = this.load64(alo, ahi);
          f[rd * 2 + 1] = this.loadHi;
        } else this.illegal(insn);
        this.mstatus |= C.MSTATUS_FS;
      } else {
        if (f3 === 2) this.store32(alo, ahi, f[rs2 * 2]);
        else if (f3 === 3) this.store64(alo, ahi, f[rs2 * 2], f[rs2 * 2 + 1]);
        else this.illegal(insn);
      }
      return;
    }
    if (!this.fpu.exec(insn)) this.illegal(insn);
    this.mstatus |= C.MSTATUS_FS;
  }

  // ---- tracing ---------------------------------------------------------------------------------

  private tracePc = "";
  private traceInsn = 0;

  private traceBefore(insn: number, pcLo: number, pcHi: number): void {
    this.tracePc = hex64(pcLo, pcHi);
    this.traceInsn = insn;
  }

  private traceAfter(rd: number): void {
    const t = this.trace;
    if (t === undefined) return;
    const w = (this.traceInsn >>> 0).toString(16).padStart(8, "0");
    if (rd !== 0) t(`${this.tracePc} ${w} x${rd}=${hex64(this.x[rd * 2], this.x[rd * 2 + 1])}`);
    else t(`${this.tracePc} ${w}`);
  }
}

/** Whether an (expanded) instruction writes x[rd] (for the trace only). */
function writesRd(insn: number): boolean {
  const op = insn & 0x7f;
  return !(
    op === 0x23 ||
    op === 0x63 ||
    op === 0x0f ||
    op === 0x07 ||
    op === 0x27 ||
    (op & 0x73) === 0x43 ||
    op === 0x53
  );
}

/** funct5 of LR, SC and the AMOs. */
const AMO_FUNCT5 = new Set([0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c]);

const SYS_WRITE = 0;
const SYS_NO_WRITE = 1;
const SYS_JUMPED = 2;

const INTERRUPT_ORDER = [C.IRQ_MEI, C.IRQ_MSI, C.IRQ_MTI, C.IRQ_SEI, C.IRQ_SSI, C.IRQ_STI];

function pickInterrupt(bits: number): number {
  for (const i of INTERRUPT_ORDER) if ((bits & (1 << i)) !== 0) return i;
  // Platform interrupts (≥ 16) and LCOFI are never raised on this board.
  return 31 - Math.clz32(bits);
}

export function hex64(lo: number, hi: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;
}
