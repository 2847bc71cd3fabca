import { describe, expect, it } from "vitest";
import { SifiveTest } from "./sifive-test.ts";

function setup() {
  const events: string[] = [];
  const dev = new SifiveTest(
    (code) => events.push(`poweroff ${code}`),
    () => events.push("reset"),
  );
  return { dev, events };
}

describe("SifiveTest", () => {
  const rows: { name: string; offset: number; size: 1 | 2 | 4; value: number; want: string[] }[] = [
    { name: "PASS powers off with code 0", offset: 0, size: 4, value: 0x5555, want: ["poweroff 0"] },
    { name: "PASS ignores the upper half", offset: 0, size: 4, value: 0x00075555, want: ["poweroff 0"] },
    { name: "PASS as a 16-bit write", offset: 0, size: 2, value: 0x5555, want: ["poweroff 0"] },
    { name: "FAIL carries its exit code", offset: 0, size: 4, value: 0x00033333, want: ["poweroff 3"] },
    { name: "FAIL with the largest code", offset: 0, size: 4, value: 0xffff3333, want: ["poweroff 65535"] },
    { name: "FAIL as a 16-bit write has code 0", offset: 0, size: 2, value: 0x3333, want: ["poweroff 0"] },
    { name: "RESET", offset: 0, size: 4, value: 0x7777, want: ["reset"] },
    { name: "RESET as a 16-bit write", offset: 0, size: 2, value: 0x7777, want: ["reset"] },
    { name: "unknown command", offset: 0, size: 4, value: 0x1234, want: [] },
    { name: "byte write", offset: 0, size: 1, value: 0x55, want: [] },
    { name: "other offset", offset: 4, size: 4, value: 0x5555, want: [] },
    { name: "odd offset", offset: 1, size: 2, value: 0x5555, want: [] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const t = setup();
      t.dev.write(row.offset, row.size, row.value);
      expect(t.events).toEqual(row.want);
    });
  }

  it("reads 0 everywhere", () => {
    const t = setup();
    for (const [off, size] of [
      [0, 4],
      [0, 2],
      [3, 1],
      [0xffc, 4],
    ] as const) {
      expect(t.dev.read(off, size)).toBe(0);
    }
  });
});
