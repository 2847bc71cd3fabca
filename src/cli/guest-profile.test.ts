import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GuestProfiler } from "./guest-profile.ts";

describe("GuestProfiler", () => {
  it("attributes kernel pcs to the enclosing System.map symbol, and counts user and machine mode apart", () => {
    const dir = mkdtempSync(join(tmpdir(), "vireo-prof-"));
    const map = join(dir, "System.map");
    writeFileSync(
      map,
      ["ffffffff80001000 T memcpy", "ffffffff80001100 t helper", "ffffffff80002000 D some_data", ""].join("\n"),
    );
    const out = join(dir, "prof.txt");
    const p = new GuestProfiler(out, map);
    for (let i = 0; i < 6; i++) p.sample(0x80001010 | 0, -1, 1); // memcpy
    for (let i = 0; i < 3; i++) p.sample(0x80001104 | 0, -1, 1); // helper
    p.sample(0x10000, 0, 0); // user
    p.write();
    const text = readFileSync(out, "utf8");
    expect(text).toContain("10 samples");
    expect(text).toMatch(/60\.00%\s+6\s+memcpy/);
    expect(text).toMatch(/30\.00%\s+3\s+helper/);
    expect(text).toMatch(/10\.00%\s+1\s+\[user mode\]/);
    // Data symbols are not functions: nothing is attributed to them.
    expect(text).not.toContain("some_data");
  });

  it("without a System.map reports raw addresses", () => {
    const dir = mkdtempSync(join(tmpdir(), "vireo-prof-"));
    const out = join(dir, "prof.txt");
    const p = new GuestProfiler(out, join(dir, "missing.map"));
    p.sample(0x80001010 | 0, -1, 1);
    p.write();
    expect(readFileSync(out, "utf8")).toContain("0xffffffff80001010");
  });
});
