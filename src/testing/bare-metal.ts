// Test-only: runs a bare-metal RISC-V ELF (linked at 0x80000000) on one hart (the WebAssembly core) with RAM,
// a Bus and a CLINT driven by a manual clock, and reports the HTIF `tohost` result (riscv-platform.md §11).
// Used by the ISA tests (tests/isa) and the QEMU differential test (tests/diff). Import from tests only.

import { Clint } from "../../devices/clint/clint.ts";
import { loadCoreModule } from "../cli/core-module.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import { WASM_CORE_AUX_BYTES, WasmHart } from "../cpu/wasm-core.ts";
import { ElfFile } from "../machine/elf.ts";

export const RAM_BASE = 0x8000_0000;
export const DEFAULT_RAM_SIZE = 16 * 1024 * 1024;
export const CLINT_BASE = 0x200_0000;
export const CLINT_SIZE = 0x1_0000;

/** An unexpected trap in an ISA test reports (test | UNEXPECTED_TRAP) (tests/isa/test-macros.inc). */
export const UNEXPECTED_TRAP = 0x10000;

export interface BareMetal {
  readonly hart: WasmHart;
  readonly mem: GuestMemory;
  readonly bus: Bus;
  readonly clock: ManualClock;
  readonly clint: Clint;
  readonly elf: ElfFile;
}

export interface BareMetalOptions {
  ramSize?: number;
  /** The block compiler: off, or its hotness threshold (1 compiles every block on first entry); default on. */
  jit?: boolean | number;
  /** The compiled core (build/core.wasm); default: loadCoreModule(). */
  wasmCore?: WebAssembly.Module;
}

/** Loads the ELF's PT_LOAD segments into fresh RAM and points the hart at its entry. */
export function loadBareMetal(bytes: Uint8Array, opts: BareMetalOptions = {}): BareMetal {
  const size = opts.ramSize ?? DEFAULT_RAM_SIZE;
  const mem = GuestMemory.withExtra(RAM_BASE, size, WASM_CORE_AUX_BYTES);
  const bus = new Bus();
  const clock = new ManualClock();
  // The hart wants its time source at construction and the CLINT wants the hart: forward through a
  // small object that is pointed at the CLINT once both exist.
  const time = { mtime: (): number => 0 };
  // Blocks compile the moment they get hot, not in the background: runs are exact and repeatable.
  const module = opts.wasmCore ?? loadCoreModule();
  const hart = new WasmHart({ hartId: 0, mem, bus, time, module, jit: opts.jit, jitSync: true });
  const clint = new Clint(clock, [hart]);
  time.mtime = () => clint.mtime();
  bus.map(CLINT_BASE, CLINT_SIZE, clint, "clint");
  const elf = new ElfFile(bytes);
  for (const seg of elf.segments) {
    // Fresh RAM is zero, so the bss part (memsz beyond the file bytes) needs nothing.
    mem.write(Number(seg.paddr), seg.data);
  }
  hart.setPc(elf.entry);
  return { hart, mem, bus, clock, clint, elf };
}

/** The address of a symbol the program must define. */
export function symbolAddress(bm: BareMetal, name: string): number {
  const s = bm.elf.findSymbol(name);
  if (s === undefined) throw new Error(`ELF has no symbol ${name}`);
  return Number(s.value);
}

export type HtifStatus = "pass" | "fail" | "unexpected-trap" | "timeout" | "stuck-in-wfi";

export interface HtifResult {
  status: HtifStatus;
  /** Failing test number (fail, unexpected-trap). */
  testNum: number;
  instret: number;
}

/** Guest time per run() chunk: the CLINT sees time move while the program runs. */
const NS_PER_CHUNK = 10_000;

/**
 * Runs until the program writes `tohost` (or `maxInstructions` retire). WFI with a timer armed jumps
 * the manual clock to the deadline, so timer tests take no wall time; WFI with nothing armed is a hang.
 */
export function runHtif(bm: BareMetal, maxInstructions = 20_000_000, chunk = 20_000): HtifResult {
  const { hart, mem, clock, clint } = bm;
  const tohost = symbolAddress(bm, "tohost");
  const start = hart.instret;
  while (hart.instret - start < maxInstructions) {
    hart.run(chunk);
    const lo = mem.readU32(tohost);
    const hi = mem.readU32(tohost + 4);
    if (lo !== 0 || hi !== 0) {
      const code = Math.floor(lo / 2);
      const instret = hart.instret - start;
      if (code === 0) return { status: "pass", testNum: 0, instret };
      if (code >= UNEXPECTED_TRAP) return { status: "unexpected-trap", testNum: code - UNEXPECTED_TRAP, instret };
      return { status: "fail", testNum: code, instret };
    }
    clock.advance(NS_PER_CHUNK);
    clint.update();
    if (hart.waiting && (hart.readMip() & hart.mie) === 0) {
      const deadline = clint.nextDeadlineNs();
      if (!Number.isFinite(deadline)) {
        return { status: "stuck-in-wfi", testNum: 0, instret: hart.instret - start };
      }
      if (deadline > clock.ns) clock.ns = deadline;
      clint.update();
    }
  }
  return { status: "timeout", testNum: 0, instret: hart.instret - start };
}

const ABI = "zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6".split(
  " ",
);

export function hex(v: bigint | number): string {
  return `0x${BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, "0")}`;
}

/** pc, privilege, the integer registers and the trap CSRs, for a failure message. */
export function dumpHart(hart: WasmHart): string {
  const lines = [`pc=${hex(hart.getPc())} priv=${hart.priv} instret=${hart.instret}`];
  for (let i = 0; i < 32; i += 4) {
    const row: string[] = [];
    for (let j = i; j < i + 4; j++) row.push(`x${j}/${ABI[j]}=${hex(hart.getX(j))}`.padEnd(30));
    lines.push(row.join(" "));
  }
  const csr = (n: number): string => hex(hart.readCsr(n));
  lines.push(
    `mcause=${csr(0x342)} mepc=${csr(0x341)} mtval=${csr(0x343)} mstatus=0x${(hart.mstatus >>> 0).toString(16)}`,
  );
  lines.push(`scause=${csr(0x142)} sepc=${csr(0x141)} stval=${csr(0x143)}`);
  return lines.join("\n");
}
