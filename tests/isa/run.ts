// Runs one bare-metal test ELF on the vireo hart and prints the HTIF verdict, for debugging a failing
// ISA test by hand:
//   npx tsx tests/isa/run.ts tests/isa/build/traps.elf [--trace]
// --trace prints every retired instruction (pc, encoding, written register) and every trap.

import { readFileSync } from "node:fs";
import { dumpHart, hex, loadBareMetal, runHtif, symbolAddress } from "../../src/testing/bare-metal.ts";

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
if (file === undefined) {
  console.error("usage: tsx tests/isa/run.ts FILE.elf [--trace]");
  process.exit(2);
}
const bm = loadBareMetal(readFileSync(file));
if (args.includes("--trace")) bm.hart.trace = (line) => console.log(line);
const r = runHtif(bm);
console.log(`${r.status}${r.testNum !== 0 ? ` (test ${r.testNum})` : ""} after ${r.instret} instructions`);
if (r.status !== "pass") {
  if (r.status === "unexpected-trap") {
    const info = symbolAddress(bm, "trap_info");
    console.log(
      `trap: mcause=${hex(bm.mem.readBigU64(info))} mepc=${hex(bm.mem.readBigU64(info + 8))} mtval=${hex(bm.mem.readBigU64(info + 16))}`,
    );
  }
  console.log(dumpHart(bm.hart));
  process.exit(1);
}
