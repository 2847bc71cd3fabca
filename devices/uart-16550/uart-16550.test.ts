import { describe, expect, it } from "vitest";
import { LevelIrq } from "../../src/core/irq.ts";
import {
  UART_FCR_CLEAR_RCVR,
  UART_FCR_ENABLE_FIFO,
  UART_IER,
  UART_IER_RDI,
  UART_IER_THRI,
  UART_IIR,
  UART_LCR,
  UART_LCR_DLAB,
  UART_LSR,
  UART_MCR,
  UART_MCR_DTR,
  UART_MCR_LOOP,
  UART_MCR_RTS,
  UART_MSR,
  UART_RBR,
  UART_SCR,
  Uart16550,
} from "./uart-16550.ts";

function setup() {
  const irq = new LevelIrq();
  const out: number[] = [];
  let outputCalls = 0;
  const uart = new Uart16550(irq, (b) => {
    outputCalls++;
    out.push(...b);
  });
  const text = () => String.fromCharCode(...out);
  return { uart, irq, out, text, outputCalls: () => outputCalls };
}

const bytes = (s: string) => new TextEncoder().encode(s);
const readAll = (u: Uart16550) => {
  let s = "";
  while (u.read(UART_LSR, 1) & 1) s += String.fromCharCode(u.read(UART_RBR, 1));
  return s;
};

describe("Uart16550", () => {
  it("buffers transmitted bytes until flush()", () => {
    const t = setup();
    for (const c of bytes("hi\n")) t.uart.write(UART_RBR, 1, c);
    expect(t.out).toEqual([]);
    t.uart.flush();
    expect(t.text()).toBe("hi\n");
    t.uart.flush();
    expect(t.outputCalls()).toBe(1);
  });

  it("flushes on its own when the output buffer fills", () => {
    const t = setup();
    for (let i = 0; i < 5000; i++) t.uart.write(UART_RBR, 1, 0x41);
    expect(t.out.length).toBe(4096);
    t.uart.flush();
    expect(t.out.length).toBe(5000);
  });

  it("keeps THRE and TEMT set (instant transmit), DR only with input", () => {
    const t = setup();
    expect(t.uart.read(UART_LSR, 1)).toBe(0x60);
    t.uart.pushInput(bytes("x"));
    expect(t.uart.read(UART_LSR, 1)).toBe(0x61);
  });

  it("never drops input: 100 000 bytes come out in order across many pushes", () => {
    const t = setup();
    let want = "";
    for (let i = 0; i < 1000; i++) {
      const s = `${i}`.padStart(100, ".");
      want += s;
      t.uart.pushInput(bytes(s));
    }
    expect(t.uart.pendingInput).toBe(100_000);
    expect(readAll(t.uart)).toBe(want);
    expect(t.uart.pendingInput).toBe(0);
    expect(t.uart.read(UART_RBR, 1)).toBe(0);
  });

  it("copies pushed input (the caller may reuse its buffer)", () => {
    const t = setup();
    const b = bytes("ab");
    t.uart.pushInput(b);
    b[0] = 0x7a;
    expect(readAll(t.uart)).toBe("ab");
  });

  it("raises the RX data interrupt while input is waiting", () => {
    const t = setup();
    t.uart.write(UART_IER, 1, UART_IER_RDI);
    expect(t.irq.level).toBe(false);
    t.uart.pushInput(bytes("ok"));
    expect(t.irq.level).toBe(true);
    expect(t.uart.read(UART_IIR, 1)).toBe(0x04);
    t.uart.read(UART_RBR, 1);
    expect(t.irq.level).toBe(true);
    t.uart.read(UART_RBR, 1);
    expect(t.irq.level).toBe(false);
    expect(t.uart.read(UART_IIR, 1)).toBe(0x01);
  });

  it("passes Linux's THRE re-assert test (IER toggle re-raises THRI)", () => {
    const t = setup();
    t.uart.write(UART_IER, 1, UART_IER_THRI);
    const iir1 = t.uart.read(UART_IIR, 1);
    t.uart.write(UART_IER, 1, 0);
    t.uart.write(UART_IER, 1, UART_IER_THRI);
    const iir2 = t.uart.read(UART_IIR, 1);
    t.uart.write(UART_IER, 1, 0);
    expect(iir1 & 0x0f).toBe(0x02);
    expect(iir2 & 0x0f).toBe(0x02);
  });

  it("clears THRI by reading IIR, re-arms it by writing THR", () => {
    const t = setup();
    t.uart.write(UART_IER, 1, UART_IER_THRI);
    expect(t.irq.level).toBe(true);
    expect(t.uart.read(UART_IIR, 1)).toBe(0x02);
    expect(t.irq.level).toBe(false);
    expect(t.uart.read(UART_IIR, 1)).toBe(0x01);
    t.uart.write(UART_RBR, 1, 0x41);
    expect(t.irq.level).toBe(true);
  });

  it("orders causes: RX data before THR empty, and reading IIR then does not ack THRI", () => {
    const t = setup();
    t.uart.write(UART_IER, 1, UART_IER_RDI | UART_IER_THRI);
    t.uart.pushInput(bytes("k"));
    expect(t.uart.read(UART_IIR, 1)).toBe(0x04);
    expect(t.uart.read(UART_RBR, 1)).toBe(0x6b);
    expect(t.uart.read(UART_IIR, 1)).toBe(0x02);
    expect(t.uart.read(UART_IIR, 1)).toBe(0x01);
  });

  it("reports the FIFO in IIR bits 7:6 and clears only the chip's 16 bytes on FCR clear", () => {
    const t = setup();
    t.uart.write(UART_IIR, 1, UART_FCR_ENABLE_FIFO);
    expect(t.uart.read(UART_IIR, 1)).toBe(0xc1);
    t.uart.pushInput(bytes("0123456789abcdefXYZ"));
    t.uart.write(UART_IIR, 1, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
    expect(readAll(t.uart)).toBe("XYZ");
    t.uart.write(UART_IIR, 1, 0);
    expect(t.uart.read(UART_IIR, 1)).toBe(0x01);
  });

  it("swaps in the divisor latch while LCR.DLAB is set", () => {
    const t = setup();
    t.uart.write(UART_LCR, 1, UART_LCR_DLAB | 3);
    t.uart.write(UART_RBR, 1, 0x01);
    t.uart.write(UART_IER, 1, 0x02);
    expect(t.uart.read(UART_RBR, 1)).toBe(0x01);
    expect(t.uart.read(UART_IER, 1)).toBe(0x02);
    t.uart.write(UART_LCR, 1, 3);
    expect(t.uart.read(UART_IER, 1)).toBe(0);
    expect(t.uart.read(UART_LCR, 1)).toBe(3);
    t.uart.flush();
    expect(t.out).toEqual([]); // the divisor write was not a character
  });

  it("loops THR back to RBR and modem outputs to inputs in loopback mode", () => {
    const t = setup();
    t.uart.write(UART_MCR, 1, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_DTR);
    t.uart.write(UART_RBR, 1, 0x55);
    t.uart.flush();
    expect(t.out).toEqual([]);
    expect(t.uart.read(UART_RBR, 1)).toBe(0x55);
    expect(t.uart.read(UART_MSR, 1)).toBe(0x30);
    t.uart.write(UART_MCR, 1, 0);
    expect(t.uart.read(UART_MSR, 1)).toBe(0xb0);
  });

  const regs: { name: string; offset: number; write: number; read: number }[] = [
    { name: "SCR is a scratch byte", offset: UART_SCR, write: 0x5a, read: 0x5a },
    { name: "IER keeps only its 4 bits", offset: UART_IER, write: 0xf0, read: 0 },
    { name: "MCR keeps only its 5 bits", offset: UART_MCR, write: 0xe3, read: 0x03 },
    { name: "LSR is read-only", offset: UART_LSR, write: 0, read: 0x60 },
    { name: "MSR is read-only", offset: UART_MSR, write: 0, read: 0xb0 },
    { name: "offset past SCR reads 0", offset: 8, write: 0xff, read: 0 },
    { name: "end of the region reads 0", offset: 0xff, write: 0xff, read: 0 },
  ];
  for (const row of regs) {
    it(`register: ${row.name}`, () => {
      const t = setup();
      t.uart.write(row.offset, 1, row.write);
      expect(t.uart.read(row.offset, 1)).toBe(row.read);
    });
  }

  it("treats a wider access as one to the byte register at that offset", () => {
    const t = setup();
    t.uart.write(UART_RBR, 4, 0x12345641);
    t.uart.write(UART_SCR, 2, 0xabcd);
    t.uart.flush();
    expect(t.text()).toBe("A");
    expect(t.uart.read(UART_SCR, 4)).toBe(0xcd);
  });

  it("keeps queued input across reset() and flushes pending output", () => {
    const t = setup();
    t.uart.pushInput(bytes("q"));
    t.uart.write(UART_RBR, 1, 0x42);
    t.uart.write(UART_IER, 1, UART_IER_RDI);
    t.uart.reset();
    expect(t.text()).toBe("B");
    expect(t.irq.level).toBe(false);
    expect(t.uart.pendingInput).toBe(1);
  });
});

describe("Uart16550 input queue", () => {
  it("stays linear for a paste delivered one keystroke at a time", () => {
    const t = setup();
    const n = 200_000;
    for (let i = 0; i < n; i++) t.uart.pushInput(Uint8Array.of(0x30 + (i % 10)));
    const start = performance.now();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += t.uart.read(UART_RBR, 1) - 0x30;
    expect(sum).toBe((n / 10) * 45);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe("Uart16550 state (snapshots)", () => {
  it("round-trips registers and unread input through JSON; buffered output is flushed, not saved", () => {
    const a = setup();
    a.uart.write(UART_LCR, 1, UART_LCR_DLAB);
    a.uart.write(UART_RBR, 1, 0x01); // divisor 1
    a.uart.write(UART_LCR, 1, 0x03);
    a.uart.write(UART_IIR, 1, UART_FCR_ENABLE_FIFO);
    a.uart.write(UART_IER, 1, UART_IER_RDI | UART_IER_THRI);
    a.uart.write(UART_SCR, 1, 0x5a);
    a.uart.pushInput(bytes("typed ahead"));
    expect(a.uart.read(UART_RBR, 1)).toBe("t".charCodeAt(0));
    a.uart.write(UART_RBR, 1, "!".charCodeAt(0)); // buffered output
    const saved = JSON.parse(JSON.stringify(a.uart.saveState()));
    expect(a.text()).toBe("!"); // flushed by the save
    const b = setup();
    b.uart.loadState(saved);
    expect(b.uart.saveState()).toEqual(saved);
    expect(b.irq.level).toBe(a.irq.level);
    expect(b.irq.level).toBe(true);
    for (const r of [UART_IER, UART_IIR, UART_LCR, UART_MCR, UART_LSR, UART_MSR, UART_SCR]) {
      expect(b.uart.read(r, 1), `register ${r}`).toBe(a.uart.read(r, 1));
    }
    expect(readAll(b.uart)).toBe("yped ahead");
    expect(b.text()).toBe("");
  });

  it("refuses a state that does not fit, naming the field, and changes nothing", () => {
    const t = setup();
    t.uart.pushInput(bytes("x"));
    const good = t.uart.saveState();
    const cases: [string, unknown, RegExp][] = [
      ["not an object", null, /uart: not an object/],
      ["ier", { ...good, ier: 0x10 }, /uart\.ier/],
      ["fcr", { ...good, fcr: 0x02 }, /uart\.fcr: bits that do not stick/],
      ["lcr", { ...good, lcr: 256 }, /uart\.lcr/],
      ["thrIpending", { ...good, thrIpending: 1 }, /uart\.thrIpending/],
      ["input", { ...good, input: "!!not base64!!" }, /uart\.input: not base64/],
      ["huge input", { ...good, input: "A".repeat(2_000_000) }, /at most 1048576 bytes/],
    ];
    for (const [name, bad, why] of cases) {
      expect(() => t.uart.loadState(bad), name).toThrow(why);
      expect(t.uart.saveState(), name).toEqual(good);
    }
  });
});
