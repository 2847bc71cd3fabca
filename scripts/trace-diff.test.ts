// The README's `npm run trace-diff -- QEMU_LOG VIREO_TRACE` (scripts/trace-diff.ts), run as a user types it:
// on small hand-made traces (a QEMU log in qemu-system-riscv64 7.2's `-d exec,cpu,nochain -singlestep` shape
// and a vireo `--trace` file) it reports no divergence and exits 0 when they agree, and names the first
// instruction where they part ways (a register written differently, or another pc) and exits 1; without both
// files it prints its usage and exits 2. Then, when Debian's qemu-system-riscv64 and riscv64 binutils are
// there, the whole loop on real traces: one small bare-metal program under QEMU and under `npm run vm`.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(join(tmpdir(), "vireo-trace-diff-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function npmRun(script: string, ...args: string[]) {
  const r = spawnSync("npm", ["run", script, "--", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: "",
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const h16 = (v: bigint) => v.toString(16).padStart(16, "0");

interface State {
  pc: bigint;
  /** Registers that are not zero. */
  x: Record<number, bigint>;
}

const ABI = ["zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1"]
  .concat(["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"])
  .concat(["s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"]);

/** A QEMU 7.2 log as `-d exec,cpu,nochain -singlestep` writes it: each state before its instruction runs. */
function qemuLog(states: State[]): string {
  return states
    .map((s) => {
      const rows: string[] = [];
      for (let i = 0; i < 32; i += 4) {
        const row = [0, 1, 2, 3].map((k) => ` ${`x${i + k}/${ABI[i + k]}`.padEnd(8)} ${h16(s.x[i + k] ?? 0n)}`);
        rows.push(row.join(""));
      }
      return [
        `Trace 0: 0x7fe5b8000100 [0000000000000000/${h16(s.pc)}/00209003/ff000201] `,
        " V      =   0",
        ` pc       ${h16(s.pc)}`,
        " mhartid  0000000000000000",
        " mstatus  0000000a00000000",
        " mtvec    0000000000000000",
        " satp     0000000000000000",
        ...rows,
      ].join("\n");
    })
    .join("\n");
}

// li t0, 5; li t1, 7; add t2, t0, t1; lui t3, 0x100 at 0x80000000 (RVC, RVC, 32-bit, 32-bit).
const PROGRAM = [
  { pc: 0x80000000n, insn: "00500293", rd: 5, value: 5n },
  { pc: 0x80000002n, insn: "00700313", rd: 6, value: 7n },
  { pc: 0x80000004n, insn: "006283b3", rd: 7, value: 12n },
  { pc: 0x80000008n, insn: "00100e37", rd: 28, value: 0x100000n },
];

/** QEMU's states: before each instruction, and one after the last. */
function qemuStates(): State[] {
  const states: State[] = [];
  const x: Record<number, bigint> = {};
  for (const p of PROGRAM) {
    states.push({ pc: p.pc, x: { ...x } });
    x[p.rd] = p.value;
  }
  states.push({ pc: 0x8000000cn, x: { ...x } });
  return states;
}

type Step = { pc: bigint; insn: string; rd?: number; value?: bigint };
const vireoLine = (s: Step) =>
  `0x${h16(s.pc)} ${s.insn}${s.rd !== undefined && s.value !== undefined ? ` x${s.rd}=0x${h16(s.value)}` : ""}`;
/** A vireo `--trace` file: one line per retired instruction, "pc insn [xN=value]". */
const vireoTrace = (steps: Step[]) => `${steps.map(vireoLine).join("\n")}\n`;

function files(name: string, qemu: string, vireo: string): [string, string] {
  const q = join(tmp, `${name}.qemu.log`);
  const v = join(tmp, `${name}.vireo.trace`);
  writeFileSync(q, qemu);
  writeFileSync(v, vireo);
  return [q, v];
}

describe("npm run trace-diff -- QEMU_LOG VIREO_TRACE (scripts/trace-diff.ts)", () => {
  it("traces that agree: no divergence, exit 0", () => {
    const r = npmRun("trace-diff", ...files("same", qemuLog(qemuStates()), vireoTrace(PROGRAM)));
    expect(r.stdout).toContain("no divergence in 4 instructions (vireo trace ended)");
    expect(r.stdout).not.toMatch(/^step /m);
    expect(r.code).toBe(0);
  });

  it("a register written differently: names that instruction, both values and the ones before it; exit 1", () => {
    const steps = PROGRAM.map((s) => ({ ...s }));
    steps[2].value = 13n; // add t2, t0, t1 gives 12 under QEMU
    const r = npmRun("trace-diff", ...files("value", qemuLog(qemuStates()), vireoTrace(steps)));
    const out = r.stdout.slice(r.stdout.indexOf("step "));
    expect(out).toBe(
      [
        `step 2: ${vireoLine(steps[2])}`,
        "  x7: vireo 0x000000000000000d, QEMU 0x000000000000000c",
        `  ${vireoLine(steps[0])}`,
        `  ${vireoLine(steps[1])}`,
        "",
      ].join("\n"),
    );
    expect(r.code).toBe(1);
  });

  it("another pc: names the step and both pcs; exit 1", () => {
    const steps = PROGRAM.map((s) => ({ ...s }));
    steps[3] = { pc: 0x8000000cn, insn: "00100e37", rd: 28, value: 0x100000n };
    const r = npmRun("trace-diff", ...files("pc", qemuLog(qemuStates()), vireoTrace(steps)));
    expect(r.stdout).toContain("step 3: pc differs — vireo 0x000000008000000c, QEMU 0x0000000080000008");
    expect(r.stdout).not.toContain("no divergence");
    expect(r.code).toBe(1);
  });

  it("trap lines in vireo's trace are skipped; a shorter QEMU log ends the walk", () => {
    const lines = vireoTrace(PROGRAM).split("\n");
    lines.splice(2, 0, "trap cause=0x0000000000000002 tval=0x0000000000000000");
    const r = npmRun("trace-diff", ...files("trap", qemuLog(qemuStates().slice(0, 3)), lines.join("\n")));
    expect(r.stdout).toContain("no divergence in 3 instructions (QEMU trace ended)");
    expect(r.code).toBe(0);
  });

  it("without both files: its usage, exit 2", () => {
    const r = npmRun("trace-diff", join(tmp, "only-one.log"));
    expect(r.stderr).toContain("usage: npm run trace-diff -- QEMU_LOG VIREO_TRACE");
    expect(r.code).toBe(2);
  });

  const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
  const tools = ["qemu-system-riscv64", "riscv64-unknown-elf-as", "riscv64-unknown-elf-ld"];
  it.skipIf(!tools.every(have))(
    "real traces: a program under qemu-system-riscv64 and `npm run vm -- --trace` agree; one changed value is found",
    () => {
      // Through the reset vector (0x1000, the same on both) into the program, which powers off (sifive_test).
      const src = join(tmp, "p.S");
      writeFileSync(
        src,
        "  .globl _start\n_start:\n  li t0, 5\n  li t1, 7\n  add t2, t0, t1\n" +
          "  li t3, 0x100000\n  li t4, 0x5555\n  sw t4, 0(t3)\n1: j 1b\n",
      );
      const obj = join(tmp, "p.o");
      const elf = join(tmp, "p.elf");
      expect(spawnSync("riscv64-unknown-elf-as", ["-march=rv64gc", "-o", obj, src]).status).toBe(0);
      // -N: one segment at 0x80000000 with no ELF header in front of it.
      expect(
        spawnSync("riscv64-unknown-elf-ld", ["-N", "-Ttext=0x80000000", "--no-warn-rwx-segments", "-o", elf, obj])
          .status,
      ).toBe(0);
      const qlog = join(tmp, "real.qemu.log");
      const machine = "-M virt -m 256 -display none -serial null -monitor none -bios none".split(" ");
      const log = ["-singlestep", "-d", "exec,cpu,nochain", "-D", qlog];
      const qemu = spawnSync("qemu-system-riscv64", [...machine, "-kernel", elf, ...log], { timeout: 30_000 });
      expect(qemu.status).toBe(0);
      const vtrace = join(tmp, "real.vireo.trace");
      const vm = npmRun("vm", "--bios", "none", "--kernel", elf, "--initrd", "none", "--trace", vtrace);
      expect(vm.code).toBe(0);
      const steps = readFileSync(vtrace, "utf8").split("\n").filter(Boolean);
      expect(steps.length).toBeGreaterThan(8);

      const same = npmRun("trace-diff", qlog, vtrace);
      expect(same.stdout).toContain(`no divergence in ${steps.length} instructions`);
      expect(same.code).toBe(0);

      // The add's result (t2 = x7) changed in vireo's trace: that instruction is the first divergence.
      const k = steps.findIndex((l) => / 006283b3 x7=/.test(l));
      expect(k).toBeGreaterThan(0);
      const bad = steps.slice();
      bad[k] = bad[k].replace(/x7=0x[0-9a-f]+/, "x7=0x000000000000000d");
      const badTrace = join(tmp, "real-bad.vireo.trace");
      writeFileSync(badTrace, `${bad.join("\n")}\n`);
      const differs = npmRun("trace-diff", qlog, badTrace);
      expect(differs.stdout).toContain(`step ${k}: ${bad[k]}`);
      expect(differs.stdout).toContain("x7: vireo 0x000000000000000d, QEMU 0x000000000000000c");
      expect(differs.code).toBe(1);
    },
  );
});
