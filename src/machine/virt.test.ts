// The board with small bare-metal programs: HTIF, the sifive-test syscon, the UART, WFI sleeping on
// the CLINT, the boot placement and device tree, and the OpenSBI → kernel handoff through the MROM.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadCoreModule } from "../cli/core-module.ts";
import { ManualClock } from "../core/clock.ts";
import { assemble, htifProgram } from "../testing/riscv-asm.ts";
import { fdtFind, parseFdt, propU32s } from "./fdt.ts";
import { FW_DYNAMIC_INFO_MAGIC_VALUE } from "./loader.ts";
import { DEFAULT_BOOTARGS, defaultBootargs, type RunState, VirtMachine } from "./virt.ts";

const MiB = 1024 * 1024;
const wasmCore = loadCoreModule();
const OPENSBI = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
const text = (chunks: Uint8Array[]) => chunks.map((c) => String.fromCharCode(...c)).join("");

/** Runs until the machine stops or `ms` of host time pass. */
function runUntilStopped(m: VirtMachine, ms = 5000): RunState {
  const end = performance.now() + ms;
  let s: RunState = "running";
  while (performance.now() < end) {
    s = m.runSlice(20);
    if (s === "poweroff" || s === "reset") break;
  }
  return s;
}

/** Code that writes `s` to the UART at 0x10000000 (the 16550 is always ready to transmit). */
function uartPuts(s: string): string {
  return [...s].map((c) => `  li t1, ${c.charCodeAt(0)}\n  sb t1, 0(t0)`).join("\n");
}

function bare(body: string): Uint8Array {
  return assemble(`  .section .text.init\n  .globl _start\n_start:\n${body}\n`).elf;
}

describe("defaultBootargs", () => {
  it("takes the manifest's bootargs, else the default", () => {
    expect(defaultBootargs({ bootargs: "console=ttyS0 quiet" })).toBe("console=ttyS0 quiet");
    expect(defaultBootargs({ bootargs: "" })).toBe(DEFAULT_BOOTARGS);
    expect(defaultBootargs({ files: [] })).toBe(DEFAULT_BOOTARGS);
    expect(defaultBootargs(undefined)).toBe(DEFAULT_BOOTARGS);
    expect(defaultBootargs("nonsense")).toBe(DEFAULT_BOOTARGS);
  });
});

describe("boot placement", () => {
  const image = new Uint8Array(MiB);
  new DataView(image.buffer).setUint32(56, 0x05435352, true);

  it("loads like QEMU and points the hart at the MROM with a0/a1/a2 set", () => {
    const m = new VirtMachine({
      wasmCore,
      firmware: new Uint8Array(115328),
      kernel: image,
      initrd: new Uint8Array(2 * MiB),
      bootargs: "console=ttyS0",
      rngSeed: new Uint8Array(32).fill(7),
    });
    expect(m.layout.kernel?.start).toBe(0x80200000);
    expect(m.layout.initrd).toEqual({ start: 0x88200000, end: 0x88400000 });
    expect(m.fdtAddr).toBe(0x8fe00000);
    expect(m.hart.getPc()).toBe(0x1000n);
    expect(m.hart.getX(10)).toBe(0n);
    expect(m.hart.getX(11)).toBe(0x8fe00000n);
    expect(m.hart.getX(12)).toBe(0x1028n);
    expect(m.bus.read(0x1018, 8)).toBe(0x80000000);
    expect(m.bus.read(0x1020, 8)).toBe(0x8fe00000);
    expect(m.bus.read(0x1028, 4)).toBe(FW_DYNAMIC_INFO_MAGIC_VALUE);
    expect(m.bus.read(0x1038, 8)).toBe(0x80200000);

    const dtb = m.mem.slice(m.fdtAddr, m.dtb!.length);
    const chosen = fdtFind(parseFdt(dtb).root, "/chosen")!;
    expect(String.fromCharCode(...chosen.props.get("bootargs")!)).toBe("console=ttyS0\0");
    expect(propU32s(chosen.props.get("linux,initrd-start"))).toEqual([0, 0x88200000]);
    expect(propU32s(chosen.props.get("linux,initrd-end"))).toEqual([0, 0x88400000]);
    const mem = fdtFind(parseFdt(dtb).root, "/memory@80000000")!;
    expect(propU32s(mem.props.get("reg"))).toEqual([0, 0x80000000, 0, 256 * MiB]);
  });

  it("maps every virt device at its QEMU address (spec §6)", () => {
    const m = new VirtMachine({ wasmCore, kernel: image });
    const map = Object.fromEntries(m.bus.list().map((r) => [r.name, [r.base, r.size]]));
    // The PCIe windows and the virtio-mmio slots have their own tests (virt-pci, virt-virtio).
    expect(map).toMatchObject({
      mrom: [0x1000, 0xf000],
      test: [0x100000, 0x1000],
      rtc: [0x101000, 0x1000],
      clint: [0x2000000, 0x10000],
      plic: [0xc000000, 0x600000],
      uart0: [0x10000000, 0x100],
      "virtio-mmio@10001000": [0x10001000, 0x1000],
      "virtio-mmio@10002000": [0x10002000, 0x1000],
    });
  });

  it("rejects a bad memory size and mixing an ELF with boot images", () => {
    expect(() => new VirtMachine({ wasmCore, memMiB: 0 })).toThrow(/whole number of MiB/);
    expect(() => new VirtMachine({ wasmCore, memMiB: 1.5 })).toThrow(/whole number of MiB/);
    // RAM and the hart's region share one 32-bit WebAssembly memory.
    expect(() => new VirtMachine({ wasmCore, memMiB: 4091 })).toThrow(/whole number of MiB in 1…4090, not 4091/);
    expect(() => new VirtMachine({ wasmCore, elf: new Uint8Array(64), kernel: image })).toThrow(/bare-metal/);
  });
});

describe("bare-metal runs", () => {
  it("HTIF: console bytes, then PASS ends the run with code 0", () => {
    const out: Uint8Array[] = [];
    const codes: number[] = [];
    const m = new VirtMachine({
      wasmCore,
      elf: assemble(htifProgram(0, "hi!")).elf,
      memMiB: 16,
      onConsoleOutput: (b) => out.push(b.slice()),
      onPowerOff: (c) => codes.push(c),
    });
    expect(m.hasHtif).toBe(true);
    expect(m.hart.getPc()).toBe(0x80000000n);
    expect(runUntilStopped(m)).toBe("poweroff");
    expect(text(out)).toBe("hi!");
    expect(codes).toEqual([0]);
    expect(m.exitCode).toBe(0);
    expect(m.runSlice(10)).toBe("poweroff"); // stays stopped
  });

  it("HTIF: a failing test reports its number", () => {
    const m = new VirtMachine({ wasmCore, elf: assemble(htifProgram(42)).elf, memMiB: 16 });
    expect(runUntilStopped(m)).toBe("poweroff");
    expect(m.exitCode).toBe(42);
  });

  it("UART output and sifive-test poweroff / fail code / reset", () => {
    const program = (finisher: number) =>
      bare(
        `  li t0, 0x10000000\n${uartPuts("ok\n")}\n  li t0, 0x100000\n  li t1, ${finisher}\n  sw t1, 0(t0)\n1: j 1b`,
      );
    const out: Uint8Array[] = [];
    const pass = new VirtMachine({
      wasmCore,
      elf: program(0x5555),
      memMiB: 16,
      onConsoleOutput: (b) => out.push(b.slice()),
    });
    expect(pass.hasHtif).toBe(false);
    expect(runUntilStopped(pass)).toBe("poweroff");
    expect(text(out)).toBe("ok\n");
    expect(pass.exitCode).toBe(0);

    const fail = new VirtMachine({ wasmCore, elf: program((7 << 16) | 0x3333), memMiB: 16 });
    expect(runUntilStopped(fail)).toBe("poweroff");
    expect(fail.exitCode).toBe(7);

    let resets = 0;
    const out2: Uint8Array[] = [];
    const reboot = new VirtMachine({
      wasmCore,
      elf: program(0x7777),
      memMiB: 16,
      onReset: () => resets++,
      onConsoleOutput: (b) => out2.push(b.slice()),
    });
    expect(runUntilStopped(reboot)).toBe("reset");
    reboot.reset();
    expect(reboot.hart.getPc()).toBe(0x80000000n);
    expect(runUntilStopped(reboot)).toBe("reset");
    expect(resets).toBe(2);
    expect(text(out2)).toBe("ok\nok\n");
  });

  it("a busy guest returns 'running' after about maxMs", () => {
    const m = new VirtMachine({ wasmCore, elf: bare("1: j 1b"), memMiB: 16 });
    const t0 = performance.now();
    expect(m.runSlice(15)).toBe("running");
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(m.hart.instret).toBeGreaterThan(0);
  });

  it("a slice ends early while compiled code waits for the event loop to install it", async () => {
    // Host time moves 1 ms whenever the machine looks at it: a 1000 ms slice is hundreds of chunks.
    let ns = 0;
    const clock = { nowNs: () => (ns += 1e6), wallNs: () => ns };
    const busy = (jit: boolean | number) => new VirtMachine({ wasmCore, clock, jit, elf: bare("1: j 1b"), memMiB: 16 });
    const interpreted = busy(false);
    expect(interpreted.runSlice(1000)).toBe("running");
    const fullSlice = interpreted.hart.instret;
    // Every block compiled on its first entry, in the background: the loop's block is compiling after one chunk.
    const m = busy(1);
    expect(m.runSlice(1000)).toBe("running");
    expect(m.hart.compiling).toBe(true);
    expect(m.hart.instret).toBeLessThan(fullSlice / 20);
    // Back in the event loop the module is installed; the next slices run the compiled loop, to the deadline.
    for (let i = 0; i < 200 && m.hart.compiling; i++) await new Promise((r) => setTimeout(r, 5));
    expect(m.hart.compiling).toBe(false);
    expect(m.hart.jit?.compiled).toBeGreaterThan(0);
    const before = m.hart.instret;
    expect(m.runSlice(1000)).toBe("running");
    expect(m.hart.instret - before).toBeGreaterThan(fullSlice / 2);
  });

  it("WFI: 'waiting' with nextEventNs() at the CLINT deadline; the timer wakes it", () => {
    const clock = new ManualClock();
    // mtimecmp = mtime + 10000 ticks (1 ms at 10 MHz), enable MTIE (not MIE: WFI wakes anyway), wfi.
    const m = new VirtMachine({
      wasmCore,
      clock,
      memMiB: 16,
      elf: bare(`
  li t0, 0x200bff8
  ld t1, 0(t0)
  li t2, 10000
  add t1, t1, t2
  li t0, 0x2004000
  sd t1, 0(t0)
  li t1, 0x80
  csrw mie, t1
  wfi
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
1: j 1b`),
    });
    expect(m.runSlice(10)).toBe("waiting");
    expect(m.nextEventNs()).toBe(1_000_000);
    expect(m.runSlice(10)).toBe("waiting"); // nothing changed
    clock.advance(999_000);
    expect(m.runSlice(10)).toBe("waiting");
    clock.advance(1_000);
    expect(m.runSlice(10)).toBe("poweroff");
  });

  it("console input reaches the UART receive register", () => {
    // Poll LSR.DR, read RBR, echo it back, poweroff after the byte 'q'.
    const m = new VirtMachine({
      wasmCore,
      memMiB: 16,
      elf: bare(`
  li t0, 0x10000000
1: lbu t1, 5(t0)
  andi t1, t1, 1
  beqz t1, 1b
  lbu t2, 0(t0)
  sb t2, 0(t0)
  li t3, 113
  bne t2, t3, 1b
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
2: j 2b`),
    });
    const out: Uint8Array[] = [];
    m.onConsoleOutput = (b) => out.push(b.slice());
    expect(m.runSlice(5)).toBe("running");
    m.sendConsoleInput(new TextEncoder().encode("abcq"));
    expect(runUntilStopped(m)).toBe("poweroff");
    expect(text(out)).toBe("abcq");
  });
});

describe("OpenSBI fw_dynamic → S-mode kernel handoff", () => {
  it("boots Debian's OpenSBI from the MROM and enters the kernel at 0x80200000 with a1 = FDT", () => {
    // A stand-in kernel: prints "K", checks a0 = 0 and that a1 points at the FDT magic, powers off.
    const lds = "ENTRY(_start) SECTIONS { . = 0x80200000; .text : { *(.text) } }";
    const kernel = assemble(
      `
  .globl _start
_start:
  li t0, 0x10000000
${uartPuts("K")}
  bnez a0, fail
  lbu t2, 0(a1)
  li t3, 0xd0
  bne t2, t3, fail
  lbu t2, 3(a1)
  li t3, 0xed
  bne t2, t3, fail
${uartPuts("!")}
  li t0, 0x100000
  li t1, 0x5555
  sw t1, 0(t0)
1: j 1b
fail:
  li t0, 0x100000
  li t1, 0x33333
  sw t1, 0(t0)
  j 1b
`,
      lds,
    ).binary;
    const out: Uint8Array[] = [];
    const m = new VirtMachine({
      wasmCore,
      firmware: new Uint8Array(readFileSync(OPENSBI)),
      kernel,
      onConsoleOutput: (b) => out.push(b.slice()),
    });
    expect(m.layout.kernel?.format).toBe("flat");
    const state = runUntilStopped(m, 60_000);
    const log = text(out);
    expect(log).toContain("Platform Console Device   : uart8250");
    expect(log).toContain("Domain0 Next Address      : 0x0000000080200000");
    expect(log).toContain("Domain0 Next Arg1         : 0x000000008fe00000");
    expect(log).toContain("Domain0 Next Mode         : S-mode");
    expect(state).toBe("poweroff");
    expect(log.endsWith("K!")).toBe(true);
    expect(m.exitCode).toBe(0);
  }, 90_000);
});
