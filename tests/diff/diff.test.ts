// Differential test: random instruction blocks (gen.ts) run on QEMU's qemu-riscv64 and on the vireo
// hart must leave every x and f register, fcsr and the scratch memory identical.
//
//   DIFF_SEEDS=N    how many seeds (default 60); the base seed is random and printed
//   DIFF_BASE=S     fix the base seed (seeds S, S+1, …)
//   DIFF_LEN=N      items per block (default 400)
//   SEED=S          run only seed S (reproduces one failure; the .S file is kept in the temp dir)
//
// Needs Debian's binutils-riscv64-unknown-elf and qemu-user; skipped when qemu-riscv64 is missing.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildProgram, firstDifference, listing, QEMU_USER, runHart, runQemu } from "./diff-runner.ts";
import { generate } from "./gen.ts";

const envInt = (name: string, dflt: number): number => {
  const v = process.env[name];
  return v === undefined || v === "" ? dflt : Number.parseInt(v, 10);
};

const single = process.env.SEED;
const length = envInt("DIFF_LEN", 400);
const base =
  single !== undefined ? Number.parseInt(single, 10) : envInt("DIFF_BASE", Math.floor(Math.random() * 1_000_000));
const count = single !== undefined ? 1 : envInt("DIFF_SEEDS", 60);
const seeds = Array.from({ length: count }, (_, i) => base + i);

const work = mkdtempSync(join(tmpdir(), "vireo-diff-"));
let keep = false;

afterAll(() => {
  if (!keep) rmSync(work, { recursive: true, force: true });
});

describe("differential test generator", () => {
  it("gives the same program for the same seed, and a different one for another", () => {
    expect(generate(42, 100).source).toBe(generate(42, 100).source);
    expect(generate(42, 100).source).not.toBe(generate(43, 100).source);
  });
});

describe(`differential vs ${QEMU_USER} (base seed ${base}, ${count} seeds × ${length} items)`, () => {
  it("agrees with QEMU on every seed", () => {
    console.log(`diff: base seed ${base}, ${count} seeds × ${length} items; reproduce one with SEED=<seed>`);
    const failures: string[] = [];
    for (const seed of seeds) {
      const prog = generate(seed, length);
      const elf = buildProgram(prog, work);
      const q = runQemu(elf);
      // The WebAssembly core's interpreter, and its block compiler compiling every block on first entry
      // (wasm-core-jit.ts).
      const h = runHart(elf, false);
      const j = runHart(elf, 1);
      let problem: string | undefined;
      if (!q.ok) problem = `QEMU: ${q.error}`;
      else if (!h.ok) problem = h.error;
      else if (!j.ok) problem = `with every block compiled: ${j.error}`;
      else {
        problem = firstDifference(q.dump, h.dump);
        const pj = firstDifference(q.dump, j.dump);
        if (problem === undefined && pj !== undefined) problem = `with every block compiled: ${pj}`;
      }
      if (problem !== undefined) {
        keep = true;
        failures.push(
          `seed ${seed}: ${problem}\n  program: ${join(work, `seed-${seed}.S`)} (SEED=${seed} DIFF_LEN=${length} to rerun)\n${listing(prog)}`,
        );
        // Three listings are plenty to start from.
        if (failures.length >= 3) break;
      }
    }
    expect(failures, failures.join("\n\n")).toEqual([]);
  });
});
