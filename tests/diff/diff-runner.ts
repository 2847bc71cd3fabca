// Builds one generated program (gen.ts) and runs it on QEMU (qemu-riscv64, user mode) and on the
// vireo hart (bare metal), then compares every register, fcsr and the scratch memory.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hex, loadBareMetal, symbolAddress } from "../../src/testing/bare-metal.ts";
import { type DiffProgram, DUMP_BYTES, SCRATCH } from "./gen.ts";

const DIR = dirname(fileURLToPath(import.meta.url));
export const QEMU_USER = "qemu-riscv64";

/** Assembles and links `prog` in `workDir`; returns the ELF path. */
export function buildProgram(prog: DiffProgram, workDir: string): string {
  mkdirSync(workDir, { recursive: true });
  const src = join(workDir, `seed-${prog.seed}.S`);
  const obj = join(workDir, `seed-${prog.seed}.o`);
  const elf = join(workDir, `seed-${prog.seed}.elf`);
  writeFileSync(src, prog.source);
  execFileSync("riscv64-unknown-elf-as", ["-march=rv64gc", "-mabi=lp64d", "-mno-relax", "-o", obj, src]);
  execFileSync("riscv64-unknown-elf-ld", ["-T", join(DIR, "link.ld"), "--no-relax", "-o", elf, obj]);
  return elf;
}

export type RunOutcome = { ok: true; dump: Uint8Array } | { ok: false; error: string };

export function runQemu(elf: string): RunOutcome {
  // Plain rv64 (G + C): nothing beyond what the generator emits and the hart implements.
  const r = spawnSync(QEMU_USER, ["-cpu", "rv64", elf], { timeout: 20_000, maxBuffer: 1 << 20 });
  if (r.error !== undefined) return { ok: false, error: `qemu-riscv64: ${r.error.message}` };
  if (r.status !== 0) {
    return { ok: false, error: `qemu-riscv64 exited with ${r.status ?? r.signal}: ${r.stderr.toString()}` };
  }
  if (r.stdout.length !== DUMP_BYTES) {
    return { ok: false, error: `qemu-riscv64 wrote ${r.stdout.length} bytes, expected ${DUMP_BYTES}` };
  }
  return { ok: true, dump: new Uint8Array(r.stdout) };
}

const MSTATUS_FS_DIRTY = 3 << 13;
const CSR_MTVEC = 0x305;

/** Runs the ELF on the hart: `jit` false interprets only, 1 compiles every block on first entry. */
export function runHart(elf: string, jit?: boolean | number): RunOutcome {
  const bm = loadBareMetal(readFileSync(elf), { jit });
  const { hart } = bm;
  // What a Linux process starts with: FP on. A trap parks the hart at hart_trap.
  hart.mstatus |= MSTATUS_FS_DIRTY;
  const trapAt = symbolAddress(bm, "hart_trap");
  hart.writeCsrRaw(CSR_MTVEC, BigInt(trapAt));
  let stopped = false;
  hart.onEcall = () => {
    stopped = true;
    return true;
  };
  for (let i = 0; i < 100 && !stopped; i++) hart.run(10_000);
  const pc = Number(hart.getPc());
  // The hook may leave pc at the ecall or just past it.
  const ecallAt = symbolAddress(bm, "dump_ecall");
  if (!stopped || (pc !== ecallAt && pc !== ecallAt + 4)) {
    const csr = (n: number): string => hex(hart.readCsr(n));
    const where = pc === trapAt ? "trapped" : `stopped at pc=${hex(pc)}`;
    return { ok: false, error: `vireo ${where}: mcause=${csr(0x342)} mepc=${csr(0x341)} mtval=${csr(0x343)}` };
  }
  return { ok: true, dump: bm.mem.slice(symbolAddress(bm, "area"), DUMP_BYTES).slice() };
}

const u64 = (b: Uint8Array, off: number): bigint =>
  new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);

/** The first difference between QEMU's dump and the hart's, or undefined when they agree. */
export function firstDifference(qemu: Uint8Array, hart: Uint8Array): string | undefined {
  for (let i = 1; i < 32; i++) {
    const off = SCRATCH + i * 8;
    const q = u64(qemu, off);
    const h = u64(hart, off);
    if (q !== h) return `x${i}: qemu ${hex(q)} vireo ${hex(h)}`;
  }
  for (let i = 0; i < 32; i++) {
    const off = SCRATCH + 256 + i * 8;
    const q = u64(qemu, off);
    const h = u64(hart, off);
    if (q !== h) return `f${i}: qemu ${hex(q)} vireo ${hex(h)}`;
  }
  const q = u64(qemu, SCRATCH + 512);
  const h = u64(hart, SCRATCH + 512);
  if (q !== h) return `fcsr: qemu 0x${q.toString(16)} vireo 0x${h.toString(16)} (frm<<5 | NV DZ OF UF NX)`;
  for (let off = 0; off < SCRATCH; off += 8) {
    const qm = u64(qemu, off);
    const hm = u64(hart, off);
    if (qm !== hm) return `scratch memory at sp+${off}: qemu ${hex(qm)} vireo ${hex(hm)}`;
  }
  return undefined;
}

/** The block with line numbers, for a failure message. */
export function listing(prog: DiffProgram): string {
  return prog.block.map((l, i) => `${String(i + 1).padStart(4)}  ${l}`).join("\n");
}
