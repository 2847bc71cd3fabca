// An ns16550a UART at 1-byte register stride, as on QEMU's virt board. Reads guest-controlled register
// values: every offset and size is accepted (wider accesses act on the register at that offset with
// the low byte, offsets past SCR read 0), nothing throws.
// Register map: spec riscv-platform.md §7.4; interrupt rules follow QEMU's hw/char/serial.c.
//
// Transmit is instant: THRE and TEMT stay set, written bytes go to a small buffer that the board
// drains with flush() (and that flushes itself when full). Receive never drops a keystroke: the guest
// sees a 16-byte FIFO (1 byte with the FIFO off) that is a window over an unbounded host queue.

import type { MmioDevice } from "../../src/core/bus.ts";
import type { IrqLine } from "../../src/core/irq.ts";
import { bytes, bytesText, flag, record, SnapshotError, uint } from "../../src/machine/state-check.ts";

export const UART_RBR = 0; // read, DLAB = 0 (THR on write, DLL with DLAB = 1)
export const UART_IER = 1; // DLM with DLAB = 1
export const UART_IIR = 2; // read (FCR on write)
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

export const UART_IER_RDI = 0x01;
export const UART_IER_THRI = 0x02;
export const UART_IER_RLSI = 0x04;
export const UART_IER_MSI = 0x08;

export const UART_IIR_NO_INT = 0x01;
export const UART_IIR_MSI = 0x00;
export const UART_IIR_THRI = 0x02;
export const UART_IIR_RDI = 0x04;
export const UART_IIR_RLSI = 0x06;
export const UART_IIR_FIFO_ENABLED = 0xc0;

export const UART_FCR_ENABLE_FIFO = 0x01;
export const UART_FCR_CLEAR_RCVR = 0x02;
export const UART_FCR_CLEAR_XMIT = 0x04;

export const UART_LCR_DLAB = 0x80;

export const UART_MCR_DTR = 0x01;
export const UART_MCR_RTS = 0x02;
export const UART_MCR_OUT1 = 0x04;
export const UART_MCR_OUT2 = 0x08;
export const UART_MCR_LOOP = 0x10;

export const UART_LSR_DR = 0x01;
export const UART_LSR_THRE = 0x20;
export const UART_LSR_TEMT = 0x40;

export const UART_MSR_CTS = 0x10;
export const UART_MSR_DSR = 0x20;
export const UART_MSR_RI = 0x40;
export const UART_MSR_DCD = 0x80;

/** Depth of the 16550A receive FIFO the guest may see at once. */
export const UART_FIFO_DEPTH = 16;
/** Output bytes buffered before the UART flushes on its own. */
const TX_BUFFER_SIZE = 4096;

/** An unbounded byte queue made of the chunks pushInput() was given (copied), consumed from the front. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  private first = 0; // index of the front chunk (Array.shift would make a long paste quadratic)
  private head = 0; // read position inside the front chunk
  length = 0;

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes.slice());
    this.length += bytes.length;
  }

  shift(): number {
    const c = this.chunks[this.first];
    const b = c[this.head++];
    this.length--;
    if (this.head === c.length) this.nextChunk();
    return b;
  }

  drop(n: number): void {
    while (n > 0 && this.length > 0) {
      const c = this.chunks[this.first];
      const take = Math.min(n, c.length - this.head);
      this.head += take;
      this.length -= take;
      n -= take;
      if (this.head === c.length) this.nextChunk();
    }
  }

  /** Every queued byte, in order (not consumed). */
  peekAll(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (let i = this.first; i < this.chunks.length; i++) {
      const c = i === this.first ? this.chunks[i].subarray(this.head) : this.chunks[i];
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.first = 0;
    this.head = 0;
    this.length = 0;
  }

  private nextChunk(): void {
    this.first++;
    this.head = 0;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

/** The UART in a snapshot (plain JSON data). */
export interface UartState {
  ier: number;
  fcr: number;
  lcr: number;
  mcr: number;
  scr: number;
  dll: number;
  dlm: number;
  thrIpending: boolean;
  /** Host input the guest has not read yet, base64. */
  input: string;
}

/** Unread input a snapshot may carry (a paste the guest had not consumed): more is refused. */
const MAX_SAVED_INPUT = 1 << 20;

export class Uart16550 implements MmioDevice {
  private readonly rx = new ByteQueue();
  private readonly tx = new Uint8Array(TX_BUFFER_SIZE);
  private txLen = 0;

  private ier = 0;
  private iir = UART_IIR_NO_INT;
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  /** The latched THR-empty interrupt: set when THR empties or THRI is enabled, cleared by IIR read or a THR write. */
  private thrIpending = false;
  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly output: (bytes: Uint8Array) => void,
  ) {
    this.reset();
  }

  /** Host bytes waiting for the guest (the FIFO window plus the queue behind it). */
  get pendingInput(): number {
    return this.rx.length;
  }

  /** Queues keystrokes or pasted text for the guest; never drops any. */
  pushInput(bytes: Uint8Array): void {
    this.rx.push(bytes);
    this.updateIrq();
  }

  /** Hands buffered output to the host. The board calls this after each run slice. */
  flush(): void {
    if (this.txLen === 0) return;
    const out = this.tx.slice(0, this.txLen);
    this.txLen = 0;
    this.output(out);
  }

  /** Power-on register state. Queued input is kept (it is the host's, not the chip's); output is flushed. */
  reset(): void {
    this.flush();
    this.ier = 0;
    this.iir = UART_IIR_NO_INT;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = UART_MCR_OUT2;
    this.scr = 0;
    this.dll = 0x0c; // 9600 baud at 1.8432 MHz, QEMU's reset divisor
    this.dlm = 0;
    this.thrIpending = false;
    this.updateIrq();
  }

  /**
   * For a snapshot: the registers, the latched THR-empty interrupt and the input the guest has not read yet (base64).
   * Output still buffered is handed to the host first (flush()), so a restore never prints it twice.
   */
  saveState(): UartState {
    this.flush();
    return {
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      thrIpending: this.thrIpending,
      input: bytesText(this.rx.peekAll()),
    };
  }

  /** Restores saveState()'s output; throws a SnapshotError naming the field, changing nothing, on anything else. */
  loadState(state: unknown): void {
    const s = record(state, "uart");
    const u8 = (k: string, max = 0xff) => uint(s[k], `uart.${k}`, max);
    const ier = u8("ier", 0x0f);
    const fcr = u8("fcr");
    if ((fcr & ~0xc9) !== 0) throw new SnapshotError("uart.fcr: bits that do not stick");
    const lcr = u8("lcr");
    const mcr = u8("mcr", 0x1f);
    const scr = u8("scr");
    const dll = u8("dll");
    const dlm = u8("dlm");
    const thrIpending = flag(s.thrIpending, "uart.thrIpending");
    const input = bytes(s.input, "uart.input", MAX_SAVED_INPUT);
    this.ier = ier;
    this.fcr = fcr;
    this.lcr = lcr;
    this.mcr = mcr;
    this.scr = scr;
    this.dll = dll;
    this.dlm = dlm;
    this.thrIpending = thrIpending;
    this.iir = fcr & UART_FCR_ENABLE_FIFO ? UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT : UART_IIR_NO_INT;
    this.txLen = 0;
    this.rx.clear();
    this.rx.push(input);
    this.updateIrq();
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    switch (offset) {
      case UART_RBR:
        if (this.lcr & UART_LCR_DLAB) return this.dll;
        return this.readRbr();
      case UART_IER:
        return this.lcr & UART_LCR_DLAB ? this.dlm : this.ier;
      case UART_IIR: {
        const v = this.iir;
        // Reading IIR acknowledges a THR-empty interrupt only when that is the cause it reports.
        if ((v & 0x0f) === UART_IIR_THRI) {
          this.thrIpending = false;
          this.updateIrq();
        }
        return v;
      }
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return (this.rx.length > 0 ? UART_LSR_DR : 0) | UART_LSR_THRE | UART_LSR_TEMT;
      case UART_MSR:
        return this.msr();
      case UART_SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case UART_RBR:
        if (this.lcr & UART_LCR_DLAB) this.dll = v;
        else this.writeThr(v);
        return;
      case UART_IER: {
        if (this.lcr & UART_LCR_DLAB) {
          this.dlm = v;
          return;
        }
        const changed = (this.ier ^ v) & 0x0f;
        this.ier = v & 0x0f;
        // Enabling THRI while THR is empty raises the interrupt again (QEMU, Bochs; Linux's THRE test relies on it).
        if (changed & UART_IER_THRI) this.thrIpending = (this.ier & UART_IER_THRI) !== 0;
        this.updateIrq();
        return;
      }
      case UART_IIR:
        this.writeFcr(v);
        return;
      case UART_LCR:
        this.lcr = v;
        return;
      case UART_MCR:
        this.mcr = v & 0x1f;
        return;
      case UART_SCR:
        this.scr = v;
        return;
      default:
        return; // LSR and MSR are read-only; offsets past SCR are not registers
    }
  }

  private readRbr(): number {
    if (this.rx.length === 0) return 0;
    const b = this.rx.shift();
    this.updateIrq();
    return b;
  }

  private writeThr(v: number): void {
    if (this.mcr & UART_MCR_LOOP) {
      this.rx.push(Uint8Array.of(v));
    } else {
      this.tx[this.txLen++] = v;
      if (this.txLen === TX_BUFFER_SIZE) this.flush();
    }
    // The byte leaves at once, so THR is empty again: the write clears and re-arms the THRE interrupt.
    this.thrIpending = (this.ier & UART_IER_THRI) !== 0;
    this.updateIrq();
  }

  private writeFcr(v: number): void {
    const fifoOn = (v & UART_FCR_ENABLE_FIFO) !== 0;
    // Clearing the receiver drops only what the chip would hold; the host queue behind it is not the chip's.
    if (v & UART_FCR_CLEAR_RCVR || fifoOn !== ((this.fcr & UART_FCR_ENABLE_FIFO) !== 0)) {
      this.rx.drop(this.fifoDepth());
    }
    this.fcr = v & 0xc9; // trigger level, DMA mode and enable are the bits that stick
    this.iir = (this.iir & 0x0f) | (fifoOn ? UART_IIR_FIFO_ENABLED : 0);
    this.updateIrq();
  }

  private fifoDepth(): number {
    return this.fcr & UART_FCR_ENABLE_FIFO ? UART_FIFO_DEPTH : 1;
  }

  private msr(): number {
    if (this.mcr & UART_MCR_LOOP) {
      // Loopback wires the modem outputs to the inputs: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD.
      return (
        (this.mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) |
        (this.mcr & UART_MCR_DTR ? UART_MSR_DSR : 0) |
        (this.mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) |
        (this.mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0)
      );
    }
    return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS; // a terminal is always attached
  }

  /** IIR priority: line status > received data > THR empty. No line errors or modem deltas ever occur. */
  private updateIrq(): void {
    let id = UART_IIR_NO_INT;
    if (this.ier & UART_IER_RDI && this.rx.length > 0) id = UART_IIR_RDI;
    else if (this.ier & UART_IER_THRI && this.thrIpending) id = UART_IIR_THRI;
    this.iir = (this.iir & 0xf0) | id;
    const level = id !== UART_IIR_NO_INT;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
