// Test-only: assembles and links small bare-metal RISC-V programs with Debian's
// binutils-riscv64-unknown-elf, so ELF, loader and CLI tests run on real toolchain output.
// Uses Node built-ins; import it from *.test.ts files only.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const AS = "riscv64-unknown-elf-as";
const LD = "riscv64-unknown-elf-ld";

export function haveRiscvToolchain(): boolean {
  try {
    execFileSync(AS, ["--version"], { stdio: "ignore" });
    execFileSync(LD, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A riscv-tests style layout: code at 0x80000000, then a 64-byte aligned .tohost, data and bss. */
export const BARE_METAL_LDS = `
OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text.init : { *(.text.init) }
  .text : { *(.text) }
  . = ALIGN(0x1000);
  .tohost : { *(.tohost) }
  .data : { *(.data) }
  .bss : { *(.bss) }
  _end = .;
}
`;

export interface AsmResult {
  elf: Uint8Array;
  /** `nm` output as name → address. */
  symbols: Map<string, bigint>;
  /** The raw bytes of the first object's .text (objcopy -O binary of the linked file). */
  binary: Uint8Array;
}

/** Assembles `source` (rv64gc) and links it with `lds`; returns the ELF, its symbols and a flat binary. */
export function assemble(source: string, lds = BARE_METAL_LDS, march = "rv64gc"): AsmResult {
  const dir = mkdtempSync(join(tmpdir(), "vireo-asm-"));
  try {
    writeFileSync(join(dir, "p.S"), source);
    writeFileSync(join(dir, "p.lds"), lds);
    execFileSync(AS, [`-march=${march}`, "-o", join(dir, "p.o"), join(dir, "p.S")]);
    execFileSync(LD, ["-T", join(dir, "p.lds"), "-o", join(dir, "p.elf"), join(dir, "p.o")]);
    execFileSync("riscv64-unknown-elf-objcopy", ["-O", "binary", join(dir, "p.elf"), join(dir, "p.bin")]);
    const nm = execFileSync("riscv64-unknown-elf-nm", [join(dir, "p.elf")], { encoding: "utf8" });
    const symbols = new Map<string, bigint>();
    for (const line of nm.split("\n")) {
      const [addr, , name] = line.trim().split(/\s+/);
      if (name !== undefined) symbols.set(name, BigInt(`0x${addr}`));
    }
    return {
      elf: new Uint8Array(readFileSync(join(dir, "p.elf"))),
      symbols,
      binary: new Uint8Array(readFileSync(join(dir, "p.bin"))),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A program that prints `text` through the HTIF console, then exits through tohost the riscv-tests way:
 * tohost = exitCode·2 + 1 (exitCode 0 = pass, else the failing TESTNUM).
 */
export function htifProgram(exitCode: number, text = ""): string {
  const chars = [...text].map((c) => c.charCodeAt(0));
  const putc = chars
    .map(
      (c) => `
  li t1, ${c}
  li t2, 0x0101
  slli t2, t2, 48
  or t1, t1, t2
  sd t1, 0(t0)
1: ld t3, 0(t4)
  beqz t3, 1b
  sd zero, 0(t4)`,
    )
    .join("\n");
  return `
  .section .text.init
  .globl _start
_start:
  la t0, tohost
  la t4, fromhost
${putc}
  li gp, ${exitCode * 2 + 1}
  sw gp, 0(t0)
  sw zero, 4(t0)
2: j 2b

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .align 6
  .globl fromhost
fromhost: .dword 0

  .bss
  .globl scratch
scratch: .space 4096
`;
}
