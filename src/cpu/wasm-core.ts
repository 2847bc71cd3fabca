// The hart as a WebAssembly module (src/cpu/as/, AssemblyScript; built into build/core.wasm by
// scripts/build-core.mjs): this file is the thin TypeScript host around it. Guest RAM is the module's memory
// from address 0 (GuestMemory.withExtra), the hart's state right after it; devices keep reading RAM through
// GuestMemory views of the same buffer. The core calls back only on its slow paths: MMIO and the boot ROM
// (the Bus), the time, the bare-metal ECALL hook and tracing.
//
// The module is compiled by the host that has the bytes (src/cli/core-module.ts in Node, the worker in the
// page) and handed in as a WebAssembly.Module; instantiating it here is synchronous.

import type { Bus } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";
import type { InterruptTarget, TimeSource } from "../core/interrupts.ts";
import { HartState } from "./state.ts";
import {
  CoreJit,
  type CoreJitEnv,
  DEFAULT_CORE_JIT_INPUT_WARMUP,
  DEFAULT_CORE_JIT_THRESHOLD,
  DEFAULT_CORE_JIT_WARMUP,
} from "./wasm-core-jit.ts";

/** Bytes the core keeps after guest RAM (src/cpu/as/core.ts AUX_SIZE). */
export const WASM_CORE_AUX_BYTES = 0x500000;
/** Guest RAM plus the hart's region must fit in one 32-bit WebAssembly memory (GuestMemory.withExtra). */
export const WASM_CORE_MAX_MEM_MIB = Math.floor((0x1_0000_0000 - 65536 - WASM_CORE_AUX_BYTES) / 1048576);
const SCRATCH = 1024;
const PC = 512;

interface CoreExports {
  setBase(base: number): void;
  init(ramBaseLo: number, ramBaseHi: number, size: number, hartId: number): void;
  reset(): void;
  run(budget: number): number;
  rvcTableAddress(): number;
  instretLo(): number;
  instretHi(): number;
  setMstatus(v: number): void;
  setStopRequested(v: number): void;
  setHooks(ecall: number, trace: number): void;
  setPending(bit: number, level: number): void;
  dmaWrite(lo: number, hi: number, len: number): void;
  nextTimerDeadline(): number;
  readMip(): number;
  csrPeekLo(csr: number): number;
  csrPeekHi(): number;
  csrPoke(csr: number, lo: number, hi: number): void;
  stateAddress(): number;
  saveState(): number;
  loadState(len: number): number;
  AUX_SIZE: WebAssembly.Global;
  setJitThreshold(threshold: number): void;
  setJitWarmup(n: number): void;
  jitArmAfterReset(n: number): void;
  jitFlush(): void;
  priv: WebAssembly.Global;
  mstatus: WebAssembly.Global;
  mie: WebAssembly.Global;
  waiting: WebAssembly.Global;
  stopRequested: WebAssembly.Global;
  jitCalls: WebAssembly.Global;
}

export interface WasmHartOptions {
  hartId: number;
  /** RAM at address 0 of a WebAssembly.Memory with WASM_CORE_AUX_BYTES after it (GuestMemory.withExtra). */
  mem: GuestMemory;
  bus: Bus;
  time: TimeSource;
  /** build/core.wasm, compiled. */
  module: WebAssembly.Module;
  /**
   * The block compiler (wasm-core-jit.ts): true (the default) compiles blocks entered often enough; a number
   * is that threshold (tests use 1 to compile every block on first entry); false interprets only.
   */
  jit?: boolean | number;
  /** Compile a block the moment it gets hot, instead of in the background (tests: exact and repeatable). */
  jitSync?: boolean;
  /**
   * Instructions after every reset before the block compiler counts or compiles anything: by default
   * DEFAULT_CORE_JIT_WARMUP with `jit: true` (or absent), cut to DEFAULT_CORE_JIT_INPUT_WARMUP by console input
   * (consoleInput()); none with a numeric threshold. A number given here is kept whatever the input.
   */
  jitWarmup?: number;
}

/** Why a memory cannot hold the wasm core, or undefined when it can. */
export function wasmCoreUnsupported(mem: GuestMemory): string | undefined {
  if (mem.wasmMemory === undefined) {
    return `${mem.size / 1048576} MiB of guest RAM do not fit in a WebAssembly memory on this host (at most ${WASM_CORE_MAX_MEM_MIB} MiB)`;
  }
  if (mem.buffer.byteLength < mem.size + WASM_CORE_AUX_BYTES) return "no room for the hart after guest RAM";
  return undefined;
}

export class WasmHart implements InterruptTarget {
  readonly hartId: number;
  readonly mem: GuestMemory;
  readonly state: HartState;
  /** x registers as (lo, hi) int32 pairs, a view of the module's memory. */
  readonly x: Int32Array;
  /** The block compiler, or undefined when interpreting only. */
  readonly jit: CoreJit | undefined;
  private readonly jitThreshold: number;
  /** Console input shortens the warm-up (the default warm-up only). */
  private readonly inputArmsJit: boolean;
  private readonly e: CoreExports;
  private readonly pc: Int32Array;
  private readonly scratch: Int32Array;
  /** The core's RVC expansion table: the 32-bit equivalent of every 16-bit parcel, 0 when reserved. */
  readonly rvcTable: Int32Array;
  private traceFn: ((line: string) => void) | undefined;
  private ecallFn: ((mode: number) => boolean) | undefined;

  constructor(o: WasmHartOptions) {
    const why = wasmCoreUnsupported(o.mem);
    if (why !== undefined) throw new Error(`wasm core: ${why}`);
    this.hartId = o.hartId;
    this.mem = o.mem;
    const bus = o.bus;
    const time = o.time;
    const aux = o.mem.size;
    const buffer = o.mem.buffer;
    this.scratch = new Int32Array(buffer, aux + SCRATCH, 4);
    this.pc = new Int32Array(buffer, aux + PC, 2);
    this.state = new HartState(buffer, aux);
    this.x = this.state.x;
    const sc = this.scratch;
    const env = {
      memory: o.mem.wasmMemory as WebAssembly.Memory,
      busRead: (lo: number, hi: number, size: number): number => {
        const pa = (hi >>> 0) * 4294967296 + (lo >>> 0);
        if (size === 8) {
          const v = bus.read64(pa);
          if (v === undefined) return 0;
          sc[0] = v[0];
          sc[1] = v[1];
          return 1;
        }
        const v = bus.read(pa, size as 1 | 2 | 4);
        if (v === undefined) return 0;
        sc[0] = v | 0;
        sc[1] = 0;
        return 1;
      },
      busWrite: (lo: number, hi: number, size: number, vlo: number, vhi: number): number => {
        const pa = (hi >>> 0) * 4294967296 + (lo >>> 0);
        const v = size === 1 ? vlo & 0xff : size === 2 ? vlo & 0xffff : vlo | 0;
        return bus.write(pa, size as 1 | 2 | 4 | 8, v, vhi | 0) ? 1 : 0;
      },
      mtime: (): number => time.mtime(),
      ecall: (priv: number): number => (this.ecallFn?.(priv) ? 1 : 0),
      trace: (lo: number, hi: number, insn: number, rd: number, cause: number): void =>
        this.traceLine(lo, hi, insn, rd, cause),
    };
    const table = new WebAssembly.Table({ element: "anyfunc", initial: 1024 });
    let jit: CoreJit | undefined;
    const envAll = {
      ...env,
      table,
      jitCompile: (off: number, slot: number): number => {
        try {
          return jit?.compile(off, slot) ?? 0;
        } catch {
          return 0; // never let an exception unwind through the core
        }
      },
      codeWritten: (page: number): void => jit?.codeWritten(page),
    };
    const inst = new WebAssembly.Instance(o.module, { env: envAll });
    const e = inst.exports as unknown as CoreExports;
    this.e = e;
    if ((e.AUX_SIZE.value as number) > WASM_CORE_AUX_BYTES) throw new Error("wasm core: aux region too small");
    e.setBase(aux);
    e.init(o.mem.base % 4294967296, Math.floor(o.mem.base / 4294967296), o.mem.size, o.hartId);
    // The core expanded every 16-bit parcel at init (src/cpu/as/rvc.ts); the block compiler decodes with it too.
    const rvc = new Int32Array(buffer, e.rvcTableAddress() >>> 0, 65536);
    this.rvcTable = rvc;
    e.reset();
    const j = o.jit ?? true;
    this.jitThreshold = j === false ? 0 : j === true ? DEFAULT_CORE_JIT_THRESHOLD : Math.max(1, j | 0);
    this.inputArmsJit = j === true && o.jitWarmup === undefined;
    if (this.jitThreshold > 0) {
      jit = new CoreJit(
        {
          memory: env.memory,
          table,
          base: aux,
          ramSize: o.mem.size,
          rvc,
          core: inst.exports as unknown as CoreJitEnv["core"],
        },
        o.jitSync === true,
        this.jitThreshold,
      );
      e.setJitWarmup(Math.min(0xffffffff, Math.max(0, o.jitWarmup ?? (j === true ? DEFAULT_CORE_JIT_WARMUP : 0))));
      e.setJitThreshold(this.jitThreshold);
    }
    this.jit = jit;
    const ramBase = o.mem.base;
    o.mem.onDmaWrite((gpa, len) => {
      e.dmaWrite(gpa % 4294967296, Math.floor(gpa / 4294967296), len);
      jit?.dmaWritten(gpa - ramBase, len);
    });
  }

  /**
   * The host has console input for the guest: someone uses the machine, so the block compiler's warm-up ends
   * DEFAULT_CORE_JIT_INPUT_WARMUP instructions after the reset (or now, when that is past).
   */
  consoleInput(): void {
    if (this.inputArmsJit) this.e.jitArmAfterReset(DEFAULT_CORE_JIT_INPUT_WARMUP);
  }

  /** Power-on state (pc = 0x1000, M-mode, CSRs cleared, TLBs and compiled code empty). */
  reset(): void {
    this.e.reset();
    this.jit?.reset();
  }

  /** Runs up to `budget` instructions; returns how many retired (0 while waiting in WFI). */
  run(budget: number): number {
    const n = this.e.run(budget);
    // Blocks that got hot in this run compile in the background while the guest goes on.
    if (this.jit?.pending) this.jit.flush();
    return n;
  }

  get pcLo(): number {
    return this.pc[0];
  }
  get pcHi(): number {
    return this.pc[1];
  }
  /** Compiled code is on its way (a background compile): the host should return to its event loop soon. */
  get compiling(): boolean {
    return (this.jit?.inFlight ?? 0) > 0;
  }
  get priv(): number {
    return this.e.priv.value as number;
  }
  /**
   * Compiled regions the run loop called (mod 2^32); a region that goes on into another through the chain
   * cache (a tail call) does not come back to the run loop, so this counts chains of regions.
   */
  get jitCalls(): number {
    return (this.e.jitCalls.value as number) >>> 0;
  }
  /** Instructions retired since construction. */
  get instret(): number {
    return (this.e.instretHi() >>> 0) * 4294967296 + (this.e.instretLo() >>> 0);
  }
  get waiting(): boolean {
    return (this.e.waiting.value as number) !== 0;
  }
  get stopRequested(): boolean {
    return (this.e.stopRequested.value as number) !== 0;
  }
  /** Set by a device that wants run() to return at the next instruction boundary. */
  set stopRequested(v: boolean) {
    this.e.setStopRequested(v ? 1 : 0);
  }
  /** mstatus, low 32 bits (the high word is constant). */
  get mstatus(): number {
    return this.e.mstatus.value as number;
  }
  set mstatus(v: number) {
    this.e.setMstatus(v | 0);
  }
  get mie(): number {
    return this.e.mie.value as number;
  }

  /**
   * One line per retired instruction, "pc insn [xN=value]", and "trap cause=… tval=…" for each trap (the
   * format scripts/trace-diff.ts reads). Compiled blocks do not trace: the hart interprets while it is set.
   */
  get trace(): ((line: string) => void) | undefined {
    return this.traceFn;
  }
  set trace(fn: ((line: string) => void) | undefined) {
    this.traceFn = fn;
    this.e.setHooks(this.ecallFn !== undefined ? 1 : 0, fn !== undefined ? 1 : 0);
    // Compiled blocks do not trace: interpret while tracing.
    this.e.setJitThreshold(fn !== undefined ? 0 : this.jitThreshold);
  }
  /** Bare-metal runs may intercept ECALL; returning true makes it retire as a no-op and run() return. */
  get onEcall(): ((mode: number) => boolean) | undefined {
    return this.ecallFn;
  }
  set onEcall(fn: ((mode: number) => boolean) | undefined) {
    this.ecallFn = fn;
    this.e.setHooks(fn !== undefined ? 1 : 0, this.traceFn !== undefined ? 1 : 0);
  }

  setPc(addr: number | bigint): void {
    const v = BigInt.asUintN(64, BigInt(addr));
    this.pc[0] = Number(v & 0xffffffffn) | 0;
    this.pc[1] = Number(v >> 32n) | 0;
  }
  getPc(): bigint {
    return (BigInt(this.pc[1] >>> 0) << 32n) | BigInt(this.pc[0] >>> 0);
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

  /** Hardware interrupt lines: MSIP/MTIP from the CLINT, MEIP/SEIP from the PLIC. */
  setPending(bit: number, level: boolean): void {
    this.e.setPending(bit, level ? 1 : 0);
  }
  /** mip as software reads it. */
  readMip(): number {
    return this.e.readMip();
  }
  /** The Sstc deadline in mtime ticks, or Infinity. */
  nextTimerDeadline(): number {
    return this.e.nextTimerDeadline();
  }

  /** A CSR as M-mode reads it (0 when it does not exist). */
  readCsr(csr: number): bigint {
    const lo = this.e.csrPeekLo(csr) >>> 0;
    return (BigInt(this.e.csrPeekHi() >>> 0) << 32n) | BigInt(lo);
  }
  /** Stores a plain CSR (xtvec, xepc, xscratch, xcause, xtval) without WARL filtering. */
  writeCsrRaw(csr: number, value: bigint): void {
    const v = BigInt.asUintN(64, value);
    this.e.csrPoke(csr, Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0);
  }

  /**
   * The hart's architectural state (src/cpu/as/core.ts saveState: registers, pc, privilege, CSRs, the LR/SC
   * reservation, retired counts, WFI, fflags/frm), versioned bytes for a snapshot. RAM and devices are the board's.
   */
  saveState(): Uint8Array {
    const len = this.e.saveState() >>> 0;
    return new Uint8Array(this.mem.buffer, this.e.stateAddress() >>> 0, len).slice();
  }

  /**
   * Restores what saveState() returned, on a hart of the same build. Throws, with nothing changed, on bytes that
   * are not a hart state, of another format version, of another length or with values no hart can hold. Compiled
   * code and every cache start empty.
   */
  loadState(bytes: Uint8Array): void {
    const at = this.e.stateAddress() >>> 0;
    // Room: the core keeps the state in a fixed window of its region; a longer input is wrong anyway.
    const room = 0x20000;
    if (bytes.length > room) throw new Error(`hart state: ${bytes.length} bytes, more than any hart state`);
    new Uint8Array(this.mem.buffer, at, bytes.length).set(bytes);
    const why = this.e.loadState(bytes.length);
    if (why !== 0) {
      const reasons: Record<number, string> = {
        1: "not a hart state (no VHRT header)",
        2: "a hart state of another format version",
        3: "a hart state of the wrong length (truncated or padded)",
        4: "a hart state with values no hart can hold (privilege, satp mode or MPP)",
      };
      throw new Error(`hart state: ${reasons[why] ?? `refused (${why})`}`);
    }
    this.jit?.reset();
  }

  private traceLine(lo: number, hi: number, insn: number, rd: number, cause: number): void {
    const t = this.traceFn;
    if (t === undefined) return;
    if (insn === -1) {
      t(`trap cause=${cause} tval=${hex64(lo, hi)}`);
      return;
    }
    const w = (insn >>> 0).toString(16).padStart(8, "0");
    if (rd !== 0) t(`${hex64(lo, hi)} ${w} x${rd}=${hex64(this.x[rd * 2], this.x[rd * 2 + 1])}`);
    else t(`${hex64(lo, hi)} ${w}`);
  }
}

function hex64(lo: number, hi: number): string {
  return `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;
}
