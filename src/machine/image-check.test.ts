import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkBootImage, describeBytes } from "./image-check.ts";

const IMAGES = join(import.meta.dirname, "../../public/images");
const real = (f: string) => new Uint8Array(readFileSync(join(IMAGES, f)));
const text = (s: string) => new TextEncoder().encode(s);

/** A minimal RISC-V Image: header with "RSC\x05" at 0x38 and image_size, then `n` bytes of code. */
function image(n: number, imageSize = 64 + n): Uint8Array {
  const b = new Uint8Array(64 + n).fill(0x13);
  const v = new DataView(b.buffer);
  v.setBigUint64(8, 0x200000n, true);
  v.setBigUint64(16, BigInt(imageSize), true);
  b.set(text("RISCV\0\0\0"), 0x30);
  b.set(text("RSC\x05"), 0x38);
  return b;
}

function elf(machine: number): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b[18] = machine & 0xff;
  b[19] = machine >> 8;
  return b;
}

describe("checkBootImage", () => {
  it("takes the project's own images", () => {
    expect(checkBootImage("firmware", real("fw_dynamic.bin"), "fw_dynamic.bin")).toBeUndefined();
    expect(checkBootImage("kernel", real("Image"), "Image")).toBeUndefined();
    expect(checkBootImage("initrd", real("initramfs.cpio"), "initramfs.cpio")).toBeUndefined();
  });

  it("takes a RISC-V ELF kernel and firmware, and the compressed initramfs kinds", () => {
    expect(checkBootImage("kernel", elf(243), "vmlinux")).toBeUndefined();
    expect(checkBootImage("firmware", elf(243), "fw_dynamic.elf")).toBeUndefined();
    for (const sig of [[0x1f, 0x8b, 8], [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0], [0x28, 0xb5, 0x2f, 0xfd], text("BZh9")]) {
      expect(checkBootImage("initrd", Uint8Array.from([...sig, 1, 2, 3]), "i")).toBeUndefined();
    }
  });

  it.each([
    [
      "kernel",
      text("<!DOCTYPE html><html><body>Not here</body></html>"),
      /k is an HTML page, not a RISC-V Linux kernel/,
    ],
    ["kernel", text("Not Found\n"), /is a text file \("Not Found"\)/],
    [
      "kernel",
      new Uint8Array(4096),
      /no known format, not a RISC-V Linux kernel \(an Image with "RSC\\x05" at offset 0x38/,
    ],
    ["kernel", elf(62), /an ELF for x86-64, not a RISC-V Linux kernel/],
    ["kernel", Uint8Array.of(0x1f, 0x8b, 8, 0, 0), /gunzip it to the raw Image/],
    [
      "kernel",
      text("070701000002D1"),
      /a cpio archive \(an initramfs\), not a RISC-V Linux kernel.*is it the initrd\?/,
    ],
    ["kernel", image(4096, 100), /image_size 100, but the file has 4160 bytes/],
    ["kernel", new Uint8Array(0), /k is empty \(0 bytes\)/],
    ["initrd", image(64), /a RISC-V Linux kernel Image, not an initramfs.*is it the kernel\?/],
    ["initrd", text("hello world"), /not an initramfs \(a cpio archive, "070701"/],
    ["firmware", image(64), /a RISC-V Linux kernel Image, not an OpenSBI firmware.*is it the kernel\?/],
    ["firmware", text("070701000002D1"), /a cpio archive/],
    ["firmware", new Uint8Array(4096), /its first instruction is not one/],
    ["firmware", Uint8Array.of(0x13, 0, 0, 0), /4 bytes, too few/],
    ["firmware", new Uint8Array(17 * 1024 * 1024).fill(0x13), /more than an OpenSBI firmware's/],
  ] as const)("refuses a %s that is %#", (role, bytes, msg) => {
    const why = checkBootImage(role, bytes, role === "kernel" ? "k" : role);
    expect(why).toMatch(msg);
    expect(why).toMatch(/refused before boot/);
  });

  it("names what a file looks like", () => {
    expect(describeBytes(elf(243))).toBe("a RISC-V ELF");
    expect(describeBytes(text("<html>"))).toBe("an HTML page");
    expect(describeBytes(Uint8Array.of(0xd0, 0x0d, 0xfe, 0xed))).toBe("a device tree blob");
  });
});
