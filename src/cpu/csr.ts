// CSR reads and writes (privileged ISA "CSR Listing"; riscv-platform.md §2). Values written by the
// guest are WARL-filtered here; an unimplemented CSR reports false so the caller raises an illegal
// instruction — OpenSBI discovers features by exactly those traps.

import { out } from "./alu.ts";
import * as C from "./csr-numbers.ts";
import type { Hart } from "./hart.ts";

function set(lo: number, hi: number): true {
  out[0] = lo;
  out[1] = hi;
  return true;
}

/** Counter CSRs (cycle/time/instret) are visible below M only where mcounteren (and scounteren for U) allow. */
function counterAllowed(h: Hart, bit: number): boolean {
  if (h.priv === C.PRV_M) return true;
  if (((h.mcounteren >>> bit) & 1) === 0) return false;
  if (h.priv === C.PRV_U && ((h.scounteren >>> bit) & 1) === 0) return false;
  return true;
}

function fromNumber(v: number): true {
  return set((v % 4294967296) | 0, Math.floor(v / 4294967296) | 0);
}

function mstatusHi(h: Hart): number {
  const fsDirty = (h.mstatus & C.MSTATUS_FS) === C.MSTATUS_FS;
  return C.MSTATUS_HI_XL | (fsDirty ? 0x80000000 | 0 : 0);
}

function stimecmpAllowed(h: Hart): boolean {
  if (h.priv === C.PRV_M) return true;
  return (h.menvcfgHi & C.MENVCFG_HI_STCE) !== 0 && (h.mcounteren & 2) !== 0;
}

/** Reads a CSR into `out`; false when it does not exist (or is not accessible). */
export function csrRead(h: Hart, csr: number): boolean {
  const c = h.csr;
  switch (csr) {
    case C.CSR_FFLAGS:
      if ((h.mstatus & C.MSTATUS_FS) === 0) return false;
      return set(h.fpu.fflags, 0);
    case C.CSR_FRM:
      if ((h.mstatus & C.MSTATUS_FS) === 0) return false;
      return set(h.fpu.frm, 0);
    case C.CSR_FCSR:
      if ((h.mstatus & C.MSTATUS_FS) === 0) return false;
      return set((h.fpu.frm << 5) | h.fpu.fflags, 0);
    case C.CSR_CYCLE:
    case C.CSR_INSTRET:
      if (!counterAllowed(h, csr - C.CSR_CYCLE)) return false;
      return fromNumber(h.instret + h.instretOffset);
    case C.CSR_TIME:
      if (!counterAllowed(h, 1)) return false;
      return fromNumber(h.time.mtime());
    case C.CSR_MCYCLE:
    case C.CSR_MINSTRET:
      return fromNumber(h.instret + h.instretOffset);
    case C.CSR_SSTATUS:
      return set(h.mstatus & C.SSTATUS_MASK, (C.MSTATUS_HI_XL & 3) | (mstatusHi(h) & (0x80000000 | 0)));
    case C.CSR_SIE:
      return set(h.mie & h.mideleg, 0);
    case C.CSR_SIP:
      return set(h.readMip() & h.mideleg, 0);
    case C.CSR_SCOUNTEREN:
      return set(h.scounteren, 0);
    case C.CSR_STIMECMP:
      if (!stimecmpAllowed(h)) return false;
      return set(h.stimecmpLo, h.stimecmpHi);
    case C.CSR_SATP:
      if (h.priv === C.PRV_S && (h.mstatus & C.MSTATUS_TVM) !== 0) return false;
      return set((h.satpPpn % 4294967296) | 0, (h.satpMode << 28) | Math.floor(h.satpPpn / 4294967296));
    case C.CSR_MSTATUS:
      return set(h.mstatus, mstatusHi(h));
    case C.CSR_MISA:
      return set(C.MISA_LO, C.MISA_HI);
    case C.CSR_MEDELEG:
      return set(h.medeleg, 0);
    case C.CSR_MIDELEG:
      return set(h.mideleg, 0);
    case C.CSR_MIE:
      return set(h.mie, 0);
    case C.CSR_MIP:
      return set(h.readMip(), 0);
    case C.CSR_MCOUNTEREN:
      return set(h.mcounteren, 0);
    case C.CSR_MENVCFG:
      return set(h.menvcfgLo, h.menvcfgHi);
    case C.CSR_MVENDORID:
    case C.CSR_MARCHID:
    case C.CSR_MIMPID:
    case C.CSR_MCONFIGPTR:
      return set(0, 0);
    case C.CSR_MHARTID:
      return set(h.hartId, 0);
    case C.CSR_SENVCFG:
    case C.CSR_STVEC:
    case C.CSR_SSCRATCH:
    case C.CSR_SEPC:
    case C.CSR_SCAUSE:
    case C.CSR_STVAL:
    case C.CSR_MTVEC:
    case C.CSR_MSCRATCH:
    case C.CSR_MEPC:
    case C.CSR_MCAUSE:
    case C.CSR_MTVAL:
    case C.CSR_MCOUNTINHIBIT:
      return set(c[csr * 2], c[csr * 2 + 1]);
    default:
      // PMP: pmpcfg0, 2, …, 14 (odd numbers do not exist on RV64) and pmpaddr0..63. Accepted, not enforced.
      if (
        (csr >= C.CSR_PMPCFG0 && csr <= C.CSR_PMPCFG0 + 15 && (csr & 1) === 0) ||
        (csr >= C.CSR_PMPADDR0 && csr < C.CSR_PMPADDR0 + 64)
      ) {
        return set(c[csr * 2], c[csr * 2 + 1]);
      }
      return false;
  }
}

/** Writes a CSR (after the caller's read-only/privilege checks); false when it does not exist. */
export function csrWrite(h: Hart, csr: number, lo: number, hi: number): boolean {
  const c = h.csr;
  switch (csr) {
    case C.CSR_FFLAGS:
      if ((h.mstatus & C.MSTATUS_FS) === 0) return false;
      h.fpu.fflags = lo & 31;
      h.mstatus |= C.MSTATUS_FS;
      return true;
    case C.CSR_FRM:
      if ((h.mstatus & C.MSTATUS_FS) === 0) return false;
      h.fpu.frm = lo & 7;
      h.mstatus |= C.MSTATUS_FS;
      return true;
    case C.CSR_FCSR:
      if ((h.mstatus & C.MSTATUS_FS) === 0) return false;
      h.fpu.fflags = lo & 31;
      h.fpu.frm = (lo >>> 5) & 7;
      h.mstatus |= C.MSTATUS_FS;
      return true;
    case C.CSR_MCYCLE:
    case C.CSR_MINSTRET:
      // One counter backs both; writes move it (the next increment still happens).
      h.instretOffset = (hi >>> 0) * 4294967296 + (lo >>> 0) - h.instret - 1;
      return true;
    case C.CSR_SSTATUS:
      writeMstatus(h, (h.mstatus & ~C.SSTATUS_MASK) | (lo & C.SSTATUS_MASK));
      return true;
    case C.CSR_SIE:
      h.mie = (h.mie & ~h.mideleg) | (lo & h.mideleg & C.MIE_MASK);
      return true;
    case C.CSR_SIP: {
      // Only SSIP is writable from S-mode (and only when delegated).
      const m = h.mideleg & (1 << C.IRQ_SSI);
      h.mip = (h.mip & ~m) | (lo & m);
      return true;
    }
    case C.CSR_SCOUNTEREN:
      h.scounteren = lo & 7;
      return true;
    case C.CSR_SENVCFG:
      c[csr * 2] = lo & 1;
      return true;
    case C.CSR_STIMECMP:
      if (!stimecmpAllowed(h)) return false;
      h.stimecmpLo = lo;
      h.stimecmpHi = hi;
      h.stimecmp = (hi >>> 0) * 4294967296 + (lo >>> 0);
      return true;
    case C.CSR_SATP: {
      if (h.priv === C.PRV_S && (h.mstatus & C.MSTATUS_TVM) !== 0) return false;
      const mode = hi >>> 28;
      // Unsupported modes leave satp unchanged (Linux probes Sv57 → Sv48 → Sv39 this way). No ASIDs.
      if (mode !== 0 && mode !== 8 && mode !== 9) return true;
      h.satpMode = mode;
      h.satpPpn = (hi & 0xfff) * 4294967296 + (lo >>> 0);
      h.flushTlb();
      return true;
    }
    case C.CSR_STVEC:
    case C.CSR_MTVEC:
      // Modes 2 and 3 are reserved: keep direct or vectored only.
      c[csr * 2] = (lo & 3) >= 2 ? lo & ~3 : lo;
      c[csr * 2 + 1] = hi;
      return true;
    case C.CSR_SEPC:
    case C.CSR_MEPC:
      c[csr * 2] = lo & ~1;
      c[csr * 2 + 1] = hi;
      return true;
    case C.CSR_SSCRATCH:
    case C.CSR_SCAUSE:
    case C.CSR_STVAL:
    case C.CSR_MSCRATCH:
    case C.CSR_MCAUSE:
    case C.CSR_MTVAL:
      c[csr * 2] = lo;
      c[csr * 2 + 1] = hi;
      return true;
    case C.CSR_MCOUNTINHIBIT:
      c[csr * 2] = lo & ~2; // bit 1 (TM) is read-only 0
      return true;
    case C.CSR_MSTATUS:
      writeMstatus(h, lo);
      return true;
    case C.CSR_MISA:
      return true; // WARL: the extensions are fixed
    case C.CSR_MEDELEG:
      h.medeleg = lo & C.MEDELEG_MASK;
      return true;
    case C.CSR_MIDELEG:
      h.mideleg = lo & C.MIP_S_MASK;
      return true;
    case C.CSR_MIE:
      h.mie = lo & C.MIE_MASK;
      return true;
    case C.CSR_MIP: {
      let m = C.MIP_M_WRITABLE;
      if ((h.menvcfgHi & C.MENVCFG_HI_STCE) !== 0) m &= ~(1 << C.IRQ_STI);
      h.mip = (h.mip & ~m) | (lo & m);
      return true;
    }
    case C.CSR_MCOUNTEREN:
      h.mcounteren = lo & 7;
      return true;
    case C.CSR_MENVCFG:
      // FIOM (bit 0) and STCE (bit 63, Sstc) are the only fields this hart implements.
      h.menvcfgLo = lo & 1;
      h.menvcfgHi = hi & C.MENVCFG_HI_STCE;
      return true;
    default:
      if (csr >= C.CSR_PMPCFG0 && csr <= C.CSR_PMPCFG0 + 15 && (csr & 1) === 0) {
        c[csr * 2] = lo;
        c[csr * 2 + 1] = hi;
        return true;
      }
      if (csr >= C.CSR_PMPADDR0 && csr < C.CSR_PMPADDR0 + 64) {
        // RV64: bits 53:0 hold address bits 55:2.
        c[csr * 2] = lo;
        c[csr * 2 + 1] = hi & 0x3fffff;
        return true;
      }
      return false;
  }
}

function writeMstatus(h: Hart, v: number): void {
  const old = h.mstatus;
  let n = (old & ~C.MSTATUS_WRITABLE) | (v & C.MSTATUS_WRITABLE);
  // MPP = 2 (the reserved H encoding) is WARL → keep the old value.
  if (((n >>> C.MSTATUS_MPP_SHIFT) & 3) === 2) n = (n & ~C.MSTATUS_MPP) | (old & C.MSTATUS_MPP);
  h.mstatus = n;
  // MXR changes what a cached load translation allows; the other bits only pick another TLB set.
  if ((old & C.MSTATUS_MXR) !== (n & C.MSTATUS_MXR)) h.flushTlb();
  const sel = C.MSTATUS_MPRV | C.MSTATUS_MPP | C.MSTATUS_SUM;
  if ((old & sel) !== (n & sel)) h.selectTlbSets();
}
