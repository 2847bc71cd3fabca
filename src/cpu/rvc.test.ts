import { describe, expect, it } from "vitest";
import { loadCoreModule } from "../cli/core-module.ts";
import { Bus } from "../core/bus.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import fixture from "./rvc.fixture.json";
import { WASM_CORE_AUX_BYTES, WasmHart } from "./wasm-core.ts";

/** The table the WebAssembly core builds at init (src/cpu/as/rvc.ts), as the interpreter and the JIT read it. */
function coreTable(): Int32Array {
  const mem = GuestMemory.withExtra(0x8000_0000, 1 << 16, WASM_CORE_AUX_BYTES);
  const hart = new WasmHart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 }, module: loadCoreModule() });
  return hart.rvcTable;
}

// Rows come from GNU as: each instruction assembled with RVC on (the 16-bit form) and off (the 32-bit
// form), so the expected expansions are the assembler's, not ours.
describe("RVC expansion (the WebAssembly core's table)", () => {
  const table = coreTable();
  for (const [ins, c16, c32] of fixture as [string, string, string][]) {
    it(`${ins} (${c16})`, () => {
      expect((table[Number.parseInt(c16, 16)]! >>> 0).toString(16).padStart(8, "0")).toBe(c32);
    });
  }

  it("marks reserved encodings as illegal", () => {
    const reserved: [string, number][] = [
      ["all-zero", 0x0000],
      ["C.ADDI4SPN with imm 0", 0x0004],
      ["C.ADDIW rd=0", 0x2001],
      ["C.LWSP rd=0", 0x4002],
      ["C.LDSP rd=0", 0x6002],
      ["C.JR rs1=0", 0x8002],
      ["C.ADDI16SP imm 0", 0x6101],
      ["C.LUI imm 0", 0x6081],
      ["quadrant 0 funct3=4", 0x8000],
    ];
    for (const [name, c] of reserved) expect(table[c], name).toBe(0);
  });

  it("leaves 32-bit parcels at 0 and expands 16-bit ones only to 32-bit RV64GC opcodes", () => {
    // What RVC can stand for: LOAD, LOAD-FP, OP-IMM, OP-IMM-32, STORE, STORE-FP, OP, LUI, OP-32, BRANCH, JALR,
    // JAL, SYSTEM (C.EBREAK).
    const opcodes = new Set([0x03, 0x07, 0x13, 0x1b, 0x23, 0x27, 0x33, 0x37, 0x3b, 0x63, 0x67, 0x6f, 0x73]);
    let legal = 0;
    for (let c = 0; c < 65536; c++) {
      const e = table[c]!;
      if ((c & 3) === 3 || e === 0) {
        if ((c & 3) === 3) expect(e, c.toString(16)).toBe(0);
        continue;
      }
      legal++;
      if (!opcodes.has(e & 0x7f)) expect(`${c.toString(16)} -> ${(e >>> 0).toString(16)}`).toBe("an RVC opcode");
    }
    // 3 × 16384 parcels minus the reserved ones (most of quadrant 0 funct3=4, and the rd/imm = 0 cases).
    expect(legal).toBeGreaterThan(40000);
  });
});
