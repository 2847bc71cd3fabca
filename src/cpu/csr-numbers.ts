// CSR numbers and bit positions (privileged ISA "CSR Listing"; ../shared/spec/riscv-platform.md §2).

export const CSR_FFLAGS = 0x001;
export const CSR_FRM = 0x002;
export const CSR_FCSR = 0x003;
export const CSR_CYCLE = 0xc00;
export const CSR_TIME = 0xc01;
export const CSR_INSTRET = 0xc02;
export const CSR_SSTATUS = 0x100;
export const CSR_SIE = 0x104;
export const CSR_STVEC = 0x105;
export const CSR_SCOUNTEREN = 0x106;
export const CSR_SENVCFG = 0x10a;
export const CSR_SSCRATCH = 0x140;
export const CSR_SEPC = 0x141;
export const CSR_SCAUSE = 0x142;
export const CSR_STVAL = 0x143;
export const CSR_SIP = 0x144;
export const CSR_STIMECMP = 0x14d;
export const CSR_SATP = 0x180;
export const CSR_MVENDORID = 0xf11;
export const CSR_MARCHID = 0xf12;
export const CSR_MIMPID = 0xf13;
export const CSR_MHARTID = 0xf14;
export const CSR_MCONFIGPTR = 0xf15;
export const CSR_MSTATUS = 0x300;
export const CSR_MISA = 0x301;
export const CSR_MEDELEG = 0x302;
export const CSR_MIDELEG = 0x303;
export const CSR_MIE = 0x304;
export const CSR_MTVEC = 0x305;
export const CSR_MCOUNTEREN = 0x306;
export const CSR_MENVCFG = 0x30a;
export const CSR_MCOUNTINHIBIT = 0x320;
export const CSR_MSCRATCH = 0x340;
export const CSR_MEPC = 0x341;
export const CSR_MCAUSE = 0x342;
export const CSR_MTVAL = 0x343;
export const CSR_MIP = 0x344;
export const CSR_PMPCFG0 = 0x3a0;
export const CSR_PMPADDR0 = 0x3b0;
export const CSR_MCYCLE = 0xb00;
export const CSR_MINSTRET = 0xb02;

// mstatus fields (low 32 bits; UXL/SXL live in the high word and read as 2).
export const MSTATUS_SIE = 1 << 1;
export const MSTATUS_MIE = 1 << 3;
export const MSTATUS_SPIE = 1 << 5;
export const MSTATUS_MPIE = 1 << 7;
export const MSTATUS_SPP = 1 << 8;
export const MSTATUS_MPP_SHIFT = 11;
export const MSTATUS_MPP = 3 << 11;
export const MSTATUS_FS_SHIFT = 13;
export const MSTATUS_FS = 3 << 13;
export const MSTATUS_MPRV = 1 << 17;
export const MSTATUS_SUM = 1 << 18;
export const MSTATUS_MXR = 1 << 19;
export const MSTATUS_TVM = 1 << 20;
export const MSTATUS_TW = 1 << 21;
export const MSTATUS_TSR = 1 << 22;
/** High word of mstatus: UXL = 2 (bits 33:32), SXL = 2 (bits 35:34). */
export const MSTATUS_HI_XL = 0xa;
export const MSTATUS_WRITABLE =
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
export const SSTATUS_MASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;

/** misa for RV64 IMAFDC + S + U: MXL = 2, A C D F I M S U. */
export const MISA_LO = 0x0014112d;
export const MISA_HI = 0x80000000 | 0;

// Interrupt bits in mip/mie (the same numbers as the causes).
export const IRQ_SSI = 1;
export const IRQ_MSI = 3;
export const IRQ_STI = 5;
export const IRQ_MTI = 7;
export const IRQ_SEI = 9;
export const IRQ_MEI = 11;
export const MIP_S_MASK = (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI);
/** mip bits software may write in M-mode (MSIP/MTIP/MEIP are wired to the CLINT and PLIC). */
export const MIP_M_WRITABLE = (1 << IRQ_SSI) | (1 << IRQ_STI) | (1 << IRQ_SEI);
export const MIE_MASK = MIP_S_MASK | (1 << IRQ_MSI) | (1 << IRQ_MTI) | (1 << IRQ_MEI);
/** medeleg: exceptions that may be delegated (not ecall-from-M, 11). */
export const MEDELEG_MASK = 0xb3ff;

// Exception causes.
export const CAUSE_MISALIGNED_FETCH = 0;
export const CAUSE_FETCH_ACCESS = 1;
export const CAUSE_ILLEGAL_INSTRUCTION = 2;
export const CAUSE_BREAKPOINT = 3;
export const CAUSE_MISALIGNED_LOAD = 4;
export const CAUSE_LOAD_ACCESS = 5;
export const CAUSE_MISALIGNED_STORE = 6;
export const CAUSE_STORE_ACCESS = 7;
export const CAUSE_USER_ECALL = 8;
export const CAUSE_SUPERVISOR_ECALL = 9;
export const CAUSE_MACHINE_ECALL = 11;
export const CAUSE_FETCH_PAGE_FAULT = 12;
export const CAUSE_LOAD_PAGE_FAULT = 13;
export const CAUSE_STORE_PAGE_FAULT = 15;

export const PRV_U = 0;
export const PRV_S = 1;
export const PRV_M = 3;

// menvcfg bits we implement: STCE (bit 63 = bit 31 of the high word) for Sstc.
export const MENVCFG_HI_STCE = 0x80000000 | 0;
