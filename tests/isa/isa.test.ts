// Runs every bare-metal ISA test program (tests/isa/*.S, built by build.sh) on the hart with 16 MiB of
// RAM at 0x80000000 and a CLINT, and checks the HTIF tohost verdict. On failure the message names the
// test number (and for an unexpected trap: mcause/mepc/mtval as the program recorded them), the pc
// and the registers.
//
// The same programs also run under QEMU's `spike` machine (HTIF built in) when qemu-system-riscv64 is
// installed: that checks the tests themselves against an independent implementation, so a wrong
// expected value in a test cannot pass as a hart bug (or hide one). Where QEMU 7.2 itself departs
// from the spec, the test source skips the check under `--defsym QEMU_SPIKE=1` and says why.

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { dumpHart, hex, loadBareMetal, runHtif, symbolAddress, UNEXPECTED_TRAP } from "../../src/testing/bare-metal.ts";

const DIR = dirname(fileURLToPath(import.meta.url));
const BUILD = join(DIR, "build");

/** The ELF names build.sh produces for one source: NAME for the first march, NAME-c for rv64gc, … */
function programsOf(src: string): string[] {
  const name = src.replace(/\.S$/, "");
  const m = /^# march:(.*)$/m.exec(readFileSync(join(DIR, src), "utf8"));
  const marchs = m === null ? ["rv64g"] : m[1].trim().split(/\s+/);
  return marchs.map((march, i) => (i === 0 ? name : `${name}-${march.replace(/^rv64g/, "")}`));
}

const SOURCES = readdirSync(DIR)
  .filter((f) => f.endsWith(".S"))
  .sort();
const PROGRAMS = SOURCES.flatMap(programsOf);

beforeAll(() => {
  execFileSync("bash", [join(DIR, "build.sh")], { stdio: "inherit" });
}, 300_000);

// The hart is the WebAssembly core (src/cpu/as/): as the machine runs it (its block compiler at the default
// threshold), its interpreter alone (--jit off), and with every block compiled on first entry
// (wasm-core-jit.ts): traps, CSRs, atomics and FENCE.I inside compiled code.
const VARIANTS: { name: string; opts: Parameters<typeof loadBareMetal>[1] }[] = [
  { name: "", opts: {} },
  { name: " (interpreter only)", opts: { jit: false } },
  { name: " (every block compiled)", opts: { jit: 1 } },
];

describe.each(VARIANTS)("ISA tests on the vireo hart$name", ({ opts }) => {
  for (const prog of PROGRAMS) {
    it(prog, () => {
      const bm = loadBareMetal(readFileSync(join(BUILD, `${prog}.elf`)), opts);
      if (opts?.jit === false) expect(bm.hart.jit).toBeUndefined();
      const r = runHtif(bm);
      if (opts?.jit === 1) expect(bm.hart.jit?.compiled, "blocks compiled").toBeGreaterThan(0);
      if (r.status === "pass") return;
      let what: string;
      if (r.status === "fail") {
        what = `test ${r.testNum} failed`;
      } else if (r.status === "unexpected-trap") {
        const info = symbolAddress(bm, "trap_info");
        const m = bm.mem;
        what =
          `unexpected trap in test ${r.testNum}: mcause=${hex(m.readBigU64(info))} ` +
          `mepc=${hex(m.readBigU64(info + 8))} mtval=${hex(m.readBigU64(info + 16))}`;
      } else {
        what = r.status;
      }
      expect.fail(`${prog}: ${what} after ${r.instret} instructions\n${dumpHart(bm.hart)}`);
    });
  }
});

const QEMU = "qemu-system-riscv64";

describe("ISA tests on QEMU spike (validates the tests)", () => {
  for (const prog of PROGRAMS) {
    it(prog, () => {
      const elf = join(BUILD, "qemu", `${prog}.elf`);
      expect(existsSync(elf)).toBe(true);
      // spike has HTIF: QEMU exits with the tohost code (test number; 0 = pass). h=false keeps misa
      // to the extensions vireo has; 16 MiB matches the RAM the tests assume.
      const r = spawnSync(
        QEMU,
        [
          "-M",
          "spike",
          "-cpu",
          "rv64,h=false",
          "-m",
          "16M",
          "-bios",
          "none",
          "-kernel",
          elf,
          "-nographic",
          "-display",
          "none",
        ],
        { timeout: 20_000, encoding: "utf8" },
      );
      const code = r.status;
      const msg =
        code === null
          ? `QEMU did not finish (${r.signal})`
          : `QEMU exit code ${code}: test ${code & 0xff} (or an unexpected trap, ${UNEXPECTED_TRAP} | test, truncated to 8 bits)`;
      expect(code, `${prog}: ${msg}\n${r.stderr}`).toBe(0);
    });
  }
});
