import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileBlockBackend, openDiskImage } from "./file-block-backend.ts";
import { parseCli, parseDiskSpec, UsageError } from "./vm.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function image(bytes = 8192): string {
  dir = mkdtempSync(join(tmpdir(), "vireo-disk-"));
  const path = join(dir, "disk.img");
  writeFileSync(
    path,
    Uint8Array.from({ length: bytes }, (_, i) => i & 0xff),
  );
  return path;
}

describe("file block backend", () => {
  it("reads the image", () => {
    const b = new FileBlockBackend(image());
    expect(b.size).toBe(8192);
    expect([...b.read(254, 4)]).toEqual([254, 255, 0, 1]);
    expect(b.readOnly).toBe(true);
    expect(() => b.write(0, Uint8Array.of(1))).toThrow(/read-only/);
    b.close();
  });

  it("by default writes to an overlay and leaves the file untouched", async () => {
    const path = image();
    const before = readFileSync(path);
    const b = openDiskImage(path);
    await b.write(512, new Uint8Array(512).fill(0xaa));
    expect((await b.read(512, 2))[0]).toBe(0xaa);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("writeThrough modifies the file", async () => {
    const path = image();
    const b = openDiskImage(path, { writeThrough: true });
    await b.write(0, Uint8Array.of(9, 9));
    await b.flush();
    expect([...readFileSync(path).subarray(0, 3)]).toEqual([9, 9, 2]);
  });

  it("readOnly gives a read-only backend", () => {
    expect(openDiskImage(image(), { readOnly: true }).readOnly).toBe(true);
  });
});

describe("--disk PATH[,ro][,writethrough][,transport=…]", () => {
  it("parses the options", () => {
    expect(parseDiskSpec("a.img")).toEqual({ path: "a.img", readOnly: false, writeThrough: false });
    expect(parseDiskSpec("a.img,ro,transport=pci")).toEqual({
      path: "a.img",
      readOnly: true,
      writeThrough: false,
      transport: "pci",
    });
    expect(parseDiskSpec("b,writethrough,transport=mmio")).toMatchObject({ writeThrough: true, transport: "mmio" });
    expect(parseCli(["--disk", "a", "--disk", "b,ro"]).disks?.map((d) => d.path)).toEqual(["a", "b"]);
  });

  it("rejects what it does not know", () => {
    expect(() => parseDiskSpec(",ro")).toThrow(UsageError);
    expect(() => parseDiskSpec("a,rw")).toThrow(/unknown option "rw"/);
    expect(() => parseDiskSpec("a,ro,writethrough")).toThrow(/exclude/);
    expect(() => parseCli(["--elf", "x", "--disk", "a"])).toThrow(/--disk/);
  });
});
