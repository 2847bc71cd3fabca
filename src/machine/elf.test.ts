import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildElf, EHDR, PHDR0 } from "../testing/elf-builder.ts";
import { assemble, htifProgram } from "../testing/riscv-asm.ts";
import { ElfError, type ElfErrorCode, isElf, parseElf } from "./elf.ts";

const code = new Uint8Array([0x13, 0, 0, 0, 0x6f, 0, 0, 0]); // nop; j .

function sample(): Uint8Array {
  return buildElf({
    entry: 0x80000000n,
    segments: [
      { vaddr: 0x80000000n, data: code, memsz: 64 },
      { vaddr: 0x80001000n, data: new Uint8Array([1, 2, 3]), memsz: 3 },
    ],
    symbols: [
      { name: "tohost", value: 0x80001000n },
      { name: "fromhost", value: 0x80001040n },
    ],
  });
}

function expectElfError(bytes: Uint8Array, code: ElfErrorCode, alsoSymbols = false): void {
  try {
    const f = parseElf(bytes);
    if (alsoSymbols) f.findSymbol("tohost");
  } catch (e) {
    expect(e).toBeInstanceOf(ElfError);
    expect((e as ElfError).code).toBe(code);
    return;
  }
  throw new Error(`expected ElfError ${code}`);
}

function patch(bytes: Uint8Array, f: (v: DataView) => void): Uint8Array {
  const b = bytes.slice();
  f(new DataView(b.buffer));
  return b;
}

/** mulberry32: a small seeded generator, so a failing fuzz case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("parseElf", () => {
  it("reads entry, PT_LOAD segments and symbols of a well-formed file", () => {
    const f = parseElf(sample());
    expect(f.entry).toBe(0x80000000n);
    expect(f.segments).toHaveLength(2);
    expect(f.segments[0].paddr).toBe(0x80000000n);
    expect([...f.segments[0].data]).toEqual([...code]);
    expect(f.segments[0].memsz).toBe(64);
    expect(f.findSymbol("tohost")?.value).toBe(0x80001000n);
    expect(f.findSymbol("fromhost")?.value).toBe(0x80001040n);
    expect(f.findSymbol("nope")).toBeUndefined();
    expect(f.physicalExtent()).toEqual({ low: 0x80000000n, high: 0x80001003n });
  });

  it("keeps 64-bit addresses exact (vmlinux links at 0xffffffff80000000)", () => {
    const f = parseElf(
      buildElf({
        entry: 0xffffffff80000002n,
        segments: [{ vaddr: 0xffffffff80000000n, paddr: 0n, data: code }],
      }),
    );
    expect(f.entry).toBe(0xffffffff80000002n);
    expect(f.segments[0].vaddr).toBe(0xffffffff80000000n);
    expect(f.segments[0].paddr).toBe(0n);
  });

  it("skips non-LOAD and empty segments; a stripped file has no symbols", () => {
    const f = parseElf(
      buildElf({
        entry: 0x80000000n,
        segments: [
          { vaddr: 0n, data: new Uint8Array(4), type: 0x70000003 }, // PT_RISCV_ATTRIBUTES
          { vaddr: 0x80000000n, data: code },
          { vaddr: 0x90000000n, data: new Uint8Array(0), memsz: 0 },
        ],
      }),
    );
    expect(f.segments).toHaveLength(1);
    expect(f.findSymbol("tohost")).toBeUndefined();
  });

  it("recognises the magic", () => {
    expect(isElf(sample())).toBe(true);
    expect(isElf(new Uint8Array([0x7f, 0x45, 0x4c]))).toBe(false);
    expect(isElf(new TextEncoder().encode("MZ RISCV"))).toBe(false);
  });

  // One named row per way a header can lie.
  const rows: [string, Uint8Array, ElfErrorCode][] = [
    ["empty file", new Uint8Array(0), "truncated"],
    ["shorter than the header", sample().subarray(0, 63), "truncated"],
    ["not ELF", patch(sample(), (v) => v.setUint8(0, 0x7e)), "bad-magic"],
    ["ELF32", buildElf({ entry: 0n, segments: [{ vaddr: 0n, data: code }], elfClass: 1 }), "bad-class"],
    ["big-endian", buildElf({ entry: 0n, segments: [{ vaddr: 0n, data: code }], data: 2 }), "bad-data"],
    ["EI_VERSION 0", patch(sample(), (v) => v.setUint8(6, 0)), "bad-version"],
    ["ET_DYN", buildElf({ entry: 0n, segments: [{ vaddr: 0n, data: code }], type: 3 }), "bad-type"],
    ["ET_REL", buildElf({ entry: 0n, segments: [{ vaddr: 0n, data: code }], type: 1 }), "bad-type"],
    ["x86-64", buildElf({ entry: 0n, segments: [{ vaddr: 0n, data: code }], machine: 62 }), "bad-machine"],
    ["no program headers", patch(sample(), (v) => v.setUint16(EHDR.phnum, 0, true)), "no-load-segments"],
    ["PN_XNUM", patch(sample(), (v) => v.setUint16(EHDR.phnum, 0xffff, true)), "bad-phdr"],
    ["phentsize too small", patch(sample(), (v) => v.setUint16(EHDR.phentsize, 32, true)), "bad-phdr"],
    ["phoff past the end", patch(sample(), (v) => v.setBigUint64(EHDR.phoff, 1n << 40n, true)), "truncated"],
    ["phoff 2^64-1", patch(sample(), (v) => v.setBigUint64(EHDR.phoff, (1n << 64n) - 1n, true)), "bad-phdr"],
    ["filesz > memsz", patch(sample(), (v) => v.setBigUint64(PHDR0.memsz, 4n, true)), "bad-segment"],
    ["segment data past the end", patch(sample(), (v) => v.setBigUint64(PHDR0.offset, 100000n, true)), "truncated"],
    [
      "filesz 2^63",
      patch(sample(), (v) => {
        v.setBigUint64(PHDR0.filesz, 1n << 63n, true);
        v.setBigUint64(PHDR0.memsz, 1n << 63n, true);
      }),
      "bad-segment",
    ],
    [
      "segment wraps the address space",
      patch(sample(), (v) => v.setBigUint64(PHDR0.paddr, 0xffffffffffffffe0n, true)),
      "bad-segment",
    ],
    [
      "only empty segments",
      buildElf({ entry: 0n, segments: [{ vaddr: 0n, data: new Uint8Array(0) }] }),
      "no-load-segments",
    ],
  ];
  for (const [name, bytes, code] of rows) {
    it(`rejects: ${name}`, () => expectElfError(bytes, code));
  }

  describe("symbol table", () => {
    const shoff = (b: Uint8Array) => Number(new DataView(b.buffer).getBigUint64(EHDR.shoff, true));
    const symtab = (b: Uint8Array) => shoff(b) + 64;
    const strtab = (b: Uint8Array) => shoff(b) + 128;
    const rows: [string, (b: Uint8Array, v: DataView) => void, ElfErrorCode][] = [
      ["shentsize too small", (_b, v) => v.setUint16(EHDR.shentsize, 40, true), "bad-shdr"],
      ["section headers past the end", (_b, v) => v.setUint16(EHDR.shnum, 1000, true), "truncated"],
      ["sh_link out of range", (b, v) => v.setUint32(symtab(b) + 40, 77, true), "bad-symtab"],
      ["symtab past the end", (b, v) => v.setBigUint64(symtab(b) + 32, 1n << 30n, true), "truncated"],
      ["entsize 0", (b, v) => v.setBigUint64(symtab(b) + 56, 0n, true), "bad-symtab"],
      ["strtab past the end", (b, v) => v.setBigUint64(strtab(b) + 24, 1n << 30n, true), "truncated"],
      ["strtab is NOBITS", (b, v) => v.setUint32(strtab(b) + 4, 8, true), "bad-symtab"],
      [
        "name offset past the string table",
        (b, v) => {
          const sym1 = Number(v.getBigUint64(symtab(b) + 24, true)) + 24;
          v.setUint32(sym1, 0x7fffffff, true);
        },
        "bad-symtab",
      ],
    ];
    for (const [name, f, code] of rows) {
      it(`rejects: ${name}`, () => {
        const b = sample();
        f(b, new DataView(b.buffer));
        // The header and segments still parse: symbols are read on first lookup.
        expect(() => parseElf(b)).not.toThrow();
        expectElfError(b, code, true);
      });
    }

    it("an unterminated last name ends at the table end", () => {
      const b = sample();
      const v = new DataView(b.buffer);
      const size = Number(v.getBigUint64(strtab(b) + 32, true));
      v.setBigUint64(strtab(b) + 32, BigInt(size - 1), true); // cut the final NUL of "fromhost"
      expect(parseElf(b).findSymbol("fromhost")?.value).toBe(0x80001040n);
    });
  });

  it("every truncation of a valid file throws ElfError (or parses), never anything else", () => {
    const full = sample();
    for (let n = 0; n < full.length; n++) {
      try {
        parseElf(full.slice(0, n)).findSymbol("tohost");
      } catch (e) {
        if (!(e instanceof ElfError)) throw new Error(`length ${n}: ${String(e)}`);
      }
    }
  });

  it("seeded fuzz: random byte and field corruption only ever yields ElfError", () => {
    const base = sample();
    const seed = Number(process.env.ELF_FUZZ_SEED ?? Date.now() % 1_000_000);
    const rand = rng(seed);
    for (let iter = 0; iter < 3000; iter++) {
      const b = base.slice();
      const flips = 1 + Math.floor(rand() * 8);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rand() * b.length);
        // Half the time aim at the headers, where a flip is most likely to matter.
        const pos = rand() < 0.5 ? at % 128 : at;
        b[pos] = rand() < 0.3 ? 0xff : Math.floor(rand() * 256);
      }
      try {
        const f = parseElf(b);
        f.findSymbol("tohost");
        f.physicalExtent();
        for (const s of f.segments) expect(s.data.length).toBeLessThanOrEqual(s.memsz);
      } catch (e) {
        if (!(e instanceof ElfError)) throw new Error(`seed ${seed} iteration ${iter}: ${String(e)}`);
      }
    }
  });
});

describe("real binaries from riscv64-unknown-elf-as/-ld", () => {
  it("reads an HTIF test program like riscv-tests' p environment", () => {
    const r = assemble(htifProgram(3, "hi"));
    const f = parseElf(r.elf);
    expect(f.entry).toBe(r.symbols.get("_start"));
    expect(f.findSymbol("tohost")?.value).toBe(r.symbols.get("tohost"));
    expect(f.findSymbol("fromhost")?.value).toBe(r.symbols.get("fromhost"));
    expect(Number(f.findSymbol("tohost")?.value) % 64).toBe(0);
    const { low, high } = f.physicalExtent();
    expect(low).toBe(0x80000000n);
    expect(high).toBe(r.symbols.get("_end"));
    // objcopy's flat binary is the file bytes of the segments laid out from the lowest address.
    const text = f.segments[0];
    expect([...text.data.subarray(0, 16)]).toEqual([...r.binary.subarray(0, 16)]);
    // bss is memory, not file: memsz covers it, filesz does not.
    const last = f.segments[f.segments.length - 1];
    expect(last.memsz).toBeGreaterThan(last.data.length);
  });

  const opensbi = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf";
  it("reads Debian's OpenSBI fw_dynamic.elf", () => {
    const f = parseElf(new Uint8Array(readFileSync(opensbi)));
    expect(f.entry).toBe(0x80000000n);
    expect(f.segments).toHaveLength(1);
    expect(f.segments[0].paddr).toBe(0x80000000n);
    expect(f.segments[0].memsz).toBeGreaterThan(f.segments[0].data.length);
  });
});
