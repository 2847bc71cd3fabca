import { describe, expect, it } from "vitest";
import fixture from "./rvc.fixture.json";
import { expandCompressed, rvcTable } from "./rvc.ts";

// Rows come from GNU as: each instruction assembled with RVC on (the 16-bit form) and off (the 32-bit
// form), so the expected expansions are the assembler's, not ours.
describe("RVC expansion", () => {
  for (const [ins, c16, c32] of fixture as [string, string, string][]) {
    it(`${ins} (${c16})`, () => {
      expect((expandCompressed(Number.parseInt(c16, 16)) >>> 0).toString(16).padStart(8, "0")).toBe(c32);
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
    for (const [name, c] of reserved) expect(expandCompressed(c), name).toBe(0);
  });

  it("table agrees with the function and leaves 32-bit parcels at 0", () => {
    const t = rvcTable();
    for (let c = 0; c < 65536; c += 97) expect(t[c]).toBe((c & 3) === 3 ? 0 : expandCompressed(c));
  });
});
