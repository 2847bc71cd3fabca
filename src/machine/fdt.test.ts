import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  FDT_MAGIC,
  Fdt,
  FdtParseError,
  fdtFind,
  fdtWalk,
  parseFdt,
  propString,
  propStrings,
  propU32s,
  propU64s,
} from "./fdt.ts";

function sample(): Fdt {
  const fdt = new Fdt();
  const r = fdt.root;
  r.setCells("#address-cells", 2).setCells("#size-cells", 2).setString("compatible", "test,board");
  const soc = r.addNode("soc");
  soc.setCells("#address-cells", 2).setCells("#size-cells", 2).setEmpty("ranges");
  const user = soc.addNode("user@1000");
  const ctrl = soc.addNode("ctrl@2000"); // referenced before any phandle() call: allocated at build
  user.setCells("interrupt-parent", ctrl).setCells("interrupts", 7);
  user.setU64("reg", 0x1000, 0x100);
  ctrl.setEmpty("interrupt-controller").setCells("#interrupt-cells", 1);
  ctrl.setStrings("compatible", "vendor,ctrl-2", "vendor,ctrl");
  ctrl.setU64("big", 0x1_2345_6789n, 2 ** 40);
  r.addNode("chosen")
    .setBytes("rng-seed", Uint8Array.of(1, 2, 3))
    .setString("bootargs", "console=ttyS0");
  fdt.addReservation(0x80000000, 0x200000);
  fdt.bootCpuidPhys = 1;
  return fdt;
}

describe("Fdt writer", () => {
  it("writes a v17 header with aligned blocks", () => {
    const blob = sample().build();
    const dv = new DataView(blob.buffer);
    const h = (i: number) => dv.getUint32(4 * i);
    expect(h(0)).toBe(FDT_MAGIC);
    expect(h(1)).toBe(blob.length);
    expect(h(5)).toBe(17);
    expect(h(6)).toBe(16);
    expect(h(7)).toBe(1);
    expect(h(4) % 8).toBe(0); // reservation map
    expect(h(2) % 4).toBe(0); // structure block
    expect(h(2) + h(9)).toBeLessThanOrEqual(h(3));
    expect(h(3) + h(8)).toBe(blob.length);
  });

  it("round-trips every property kind through parseFdt", () => {
    const p = parseFdt(sample().build());
    expect(p.version).toBe(17);
    expect(p.bootCpuidPhys).toBe(1);
    expect(p.reservations).toEqual([{ address: 0x80000000n, size: 0x200000n }]);
    const user = fdtFind(p.root, "/soc/user@1000")!;
    const ctrl = fdtFind(p.root, "/soc/ctrl@2000")!;
    expect(propU32s(user.props.get("interrupts"))).toEqual([7]);
    expect(propU64s(user.props.get("reg"))).toEqual([0x1000n, 0x100n]);
    expect(propU64s(ctrl.props.get("big"))).toEqual([0x1_2345_6789n, 2n ** 40n]);
    expect(propStrings(ctrl.props.get("compatible"))).toEqual(["vendor,ctrl-2", "vendor,ctrl"]);
    expect(ctrl.props.get("interrupt-controller")?.length).toBe(0);
    const ph = propU32s(ctrl.props.get("phandle"));
    expect(ph).toEqual([1]);
    expect(propU32s(user.props.get("interrupt-parent"))).toEqual(ph);
    const chosen = fdtFind(p.root, "/chosen")!;
    expect(Array.from(chosen.props.get("rng-seed")!)).toEqual([1, 2, 3]);
    expect(propString(chosen.props.get("bootargs"))).toBe("console=ttyS0");
    expect(fdtWalk(p.root).map((n) => n.path)).toEqual(["/", "/soc", "/soc/user@1000", "/soc/ctrl@2000", "/chosen"]);
  });

  it("stores each property name once in the strings block", () => {
    const blob = sample().build();
    const dv = new DataView(blob.buffer);
    const strings = new TextDecoder().decode(blob.subarray(dv.getUint32(12), dv.getUint32(12) + dv.getUint32(32)));
    const names = strings.split("\0").filter((s) => s.length > 0);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("#address-cells");
  });

  it("allocates phandles once, in request order", () => {
    const fdt = new Fdt();
    const a = fdt.root.addNode("a");
    const b = fdt.root.addNode("b");
    expect(b.phandle()).toBe(1);
    expect(a.phandle()).toBe(2);
    expect(b.phandle()).toBe(1);
  });

  const misuse: { name: string; run: () => void }[] = [
    { name: "a cell above 2^32", run: () => new Fdt().root.setCells("x", 2 ** 32) },
    { name: "a negative cell", run: () => new Fdt().root.setCells("x", -1) },
    { name: "a fractional cell", run: () => new Fdt().root.setCells("x", 1.5) },
    { name: "an unsafe u64 number", run: () => new Fdt().root.setU64("x", 2 ** 60) },
    { name: "a duplicate child", run: () => new Fdt().root.addNode("a").parent?.addNode("a") },
    { name: "a slash in a node name", run: () => new Fdt().root.addNode("a/b") },
    { name: "a NUL inside a string", run: () => new Fdt().root.setString("x", "a\0b") },
    { name: "a reference into another tree", run: () => new Fdt().root.setCells("x", new Fdt().root.addNode("n")) },
  ];
  for (const row of misuse) {
    it(`rejects ${row.name}`, () => {
      expect(row.run).toThrow();
    });
  }

  it("is accepted by dtc, which sees the same values", () => {
    const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", "-"], { input: sample().build(), encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('compatible = "vendor,ctrl-2\\0vendor,ctrl";');
    expect(r.stdout).toContain("/memreserve/\t0x0000000080000000 0x0000000000200000;");
    expect(r.stdout).toContain("big = <0x01 0x23456789 0x100 0x00>;");
    expect(r.stdout).toContain("interrupt-parent = <0x01>;");
    expect(r.stdout).toContain("rng-seed = [01 02 03];");
  });
});

describe("parseFdt on hostile blobs", () => {
  const base = sample().build();
  const bad: { name: string; blob: Uint8Array }[] = [
    { name: "empty", blob: new Uint8Array(0) },
    { name: "bad magic", blob: (() => Object.assign(base.slice(), { 0: 0 }))() },
    { name: "truncated", blob: base.subarray(0, base.length - 20) },
    {
      name: "struct offset past the end",
      blob: (() => {
        const b = base.slice();
        new DataView(b.buffer).setUint32(8, 0xfffffff0);
        return b;
      })(),
    },
    {
      name: "unknown token",
      blob: (() => {
        const b = base.slice();
        const dv = new DataView(b.buffer);
        dv.setUint32(dv.getUint32(8), 0x77);
        return b;
      })(),
    },
  ];
  for (const row of bad) {
    it(`rejects ${row.name} with FdtParseError`, () => {
      expect(() => parseFdt(row.blob)).toThrow(FdtParseError);
    });
  }

  it("throws only FdtParseError on random corruption (seeded fuzz)", () => {
    const seed = Number(process.env.FDT_FUZZ_SEED ?? 0x5eed);
    let s = seed >>> 0;
    const rand = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 2 ** 32;
    };
    for (let i = 0; i < 3000; i++) {
      const b = base.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        parseFdt(b);
      } catch (e) {
        if (!(e instanceof FdtParseError)) throw new Error(`seed ${seed} iteration ${i}: ${String(e)}`);
      }
    }
  });
});
