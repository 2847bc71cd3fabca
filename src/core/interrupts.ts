// What interrupt controllers and timers see of a hart: its mip bits and its notion of time.

/** mip bit numbers (privileged spec "Machine Interrupt Registers"). */
export const MIP_SSIP = 1;
export const MIP_MSIP = 3;
export const MIP_STIP = 5;
export const MIP_MTIP = 7;
export const MIP_SEIP = 9;
export const MIP_MEIP = 11;

/** A hart as interrupt sources see it: they drive its hardware-owned mip bits. */
export interface InterruptTarget {
  setPending(bit: number, level: boolean): void;
}

/** The platform timer as a hart sees it: `time` CSR reads and Sstc compares use mtime ticks (10 MHz). */
export interface TimeSource {
  /** Current mtime in ticks; exact as a JS number for centuries at 10 MHz. */
  mtime(): number;
}
