import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Bus } from "../core/bus.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import { buildElf } from "../testing/elf-builder.ts";
import { assemble } from "../testing/riscv-asm.ts";
import {
  buildMrom,
  FW_DYNAMIC_INFO_MAGIC_VALUE,
  FW_DYNAMIC_INFO_OFFSET,
  fdtAddress,
  LoaderError,
  loadBootImages,
  loadFdt,
  MROM_RESET_VECTOR,
  parseImageHeader,
  Rom,
  VIRT_MROM_BASE,
  VIRT_MROM_SIZE,
} from "./loader.ts";
import { VIRT_DRAM_BASE } from "./virt-dt.ts";

const MiB = 1024 * 1024;
const ram = (mib: number) => new GuestMemory(VIRT_DRAM_BASE, mib * MiB);

/** The size of Debian bookworm's fw_dynamic.bin (OpenSBI 1.2): ends well below 2 MiB. */
const FW_SIZE = 115328;
const firmware = () => new Uint8Array(FW_SIZE).fill(0x11);

/** A fake RISC-V Linux Image: header with both magics, text_offset and image_size (spec §9). */
function image(fileSize: number, imageSize = fileSize, textOffset = 0x200000, magic = "both"): Uint8Array {
  const b = new Uint8Array(fileSize).fill(0x22);
  const v = new DataView(b.buffer);
  v.setBigUint64(8, BigInt(textOffset), true);
  v.setBigUint64(16, BigInt(imageSize), true);
  v.setBigUint64(48, magic === "old" || magic === "both" ? 0x5643534952n : 0n, true);
  v.setUint32(56, magic === "new" || magic === "both" ? 0x05435352 : 0, true);
  return b;
}

function expectLoaderError(f: () => unknown, ...parts: (string | RegExp)[]): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LoaderError);
  for (const p of parts) expect((err as Error).message).toMatch(p);
}

describe("parseImageHeader", () => {
  it("accepts either magic and reads text_offset / image_size", () => {
    for (const magic of ["old", "new", "both"]) {
      expect(parseImageHeader(image(4096, 0x1400000, 0x200000, magic))).toEqual({
        textOffset: 0x200000,
        imageSize: 0x1400000,
      });
    }
  });
  it("is undefined for a file without the magic or shorter than the header", () => {
    expect(parseImageHeader(image(4096, 4096, 0x200000, "none"))).toBeUndefined();
    expect(parseImageHeader(image(4096).subarray(0, 63))).toBeUndefined();
  });
});

describe("QEMU 7.2 placement (spec §9)", () => {
  it("puts firmware at 0x80000000, Image at 0x80200000, initrd at +128 MiB with 256 MiB", () => {
    const mem = ram(256);
    const initrd = new Uint8Array(3 * MiB).fill(0x33);
    const l = loadBootImages(mem, { firmware: firmware(), kernel: image(8 * MiB, 10 * MiB), initrd });
    expect(l.firmware).toEqual({ start: 0x80000000, end: 0x80000000 + FW_SIZE, entry: 0x80000000 });
    expect(l.kernel).toEqual({ start: 0x80200000, end: 0x80200000 + 10 * MiB, entry: 0x80200000, format: "image" });
    expect(l.initrd).toEqual({ start: 0x88200000, end: 0x88200000 + 3 * MiB });
    expect(mem.readU8(0x80000000)).toBe(0x11);
    expect(mem.readU8(0x80200000 + 8 * MiB - 1)).toBe(0x22);
    expect(mem.readU8(0x88200000)).toBe(0x33);
  });

  it.each([
    [64, 0x80200000 + 32 * MiB],
    [128, 0x80200000 + 64 * MiB],
    [256, 0x80200000 + 128 * MiB],
    [1024, 0x80200000 + 128 * MiB],
  ])("initrd offset is min(RAM/2, 128 MiB): %i MiB RAM → %i", (mib, at) => {
    const l = loadBootImages(ram(mib), { firmware: firmware(), kernel: image(MiB), initrd: new Uint8Array(MiB) });
    expect(l.initrd?.start).toBe(at);
  });

  it("rounds the kernel start up past a firmware bigger than 2 MiB", () => {
    const l = loadBootImages(ram(64), { firmware: new Uint8Array(2 * MiB + 1), kernel: image(MiB) });
    expect(l.kernel?.start).toBe(0x80400000);
  });

  it("without firmware the kernel starts at DRAM base + text_offset (flat binaries at the DRAM base)", () => {
    expect(loadBootImages(ram(64), { kernel: image(MiB) }).kernel?.start).toBe(0x80200000);
    expect(loadBootImages(ram(64), { kernel: image(MiB, MiB, 0) }).kernel?.start).toBe(0x80000000);
    const flat = loadBootImages(ram(64), { kernel: new Uint8Array(100).fill(1) }).kernel;
    expect(flat).toEqual({ start: 0x80000000, end: 0x80000064, entry: 0x80000000, format: "flat" });
  });

  it("honours image_size (bss) when the file is shorter", () => {
    expectLoaderError(
      () => loadBootImages(ram(64), { firmware: firmware(), kernel: image(MiB, 63 * MiB) }),
      "kernel Image",
      "66060288 bytes (63.0 MiB)",
      "0x80200000",
      "64 MiB",
    );
  });

  it("refuses a kernel whose image_size runs into the initrd", () => {
    expectLoaderError(
      () =>
        loadBootImages(ram(64), { firmware: firmware(), kernel: image(MiB, 40 * MiB), initrd: new Uint8Array(MiB) }),
      "runs into the initrd",
    );
  });

  it("names the initrd and sizes when it does not fit", () => {
    expectLoaderError(
      () => loadBootImages(ram(64), { firmware: firmware(), kernel: image(MiB), initrd: new Uint8Array(40 * MiB) }),
      "initrd",
      "41943040 bytes (40.0 MiB)",
      "64 MiB",
    );
  });

  it("names the firmware when it does not fit", () => {
    expectLoaderError(() => loadBootImages(ram(1), { firmware: new Uint8Array(2 * MiB) }), "firmware", "2.0 MiB");
  });

  it("refuses gzip kernels, empty images, and an initrd without a kernel", () => {
    expectLoaderError(() => loadBootImages(ram(64), { kernel: new Uint8Array([0x1f, 0x8b, 8, 0]) }), "gzip");
    expectLoaderError(() => loadBootImages(ram(64), { kernel: new Uint8Array(0) }), "empty");
    expectLoaderError(() => loadBootImages(ram(64), { firmware: new Uint8Array(0) }), "empty");
    expectLoaderError(() => loadBootImages(ram(64), { initrd: new Uint8Array(10) }), "needs a kernel");
  });

  it("passes a gzip initrd through unchanged (Linux unpacks it)", () => {
    const mem = ram(64);
    const gz = new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4]);
    const l = loadBootImages(mem, { firmware: firmware(), kernel: image(MiB), initrd: gz });
    expect([...mem.slice(l.initrd!.start, gz.length)]).toEqual([...gz]);
  });
});

describe("ELF kernels and firmware", () => {
  const text = new Uint8Array(256).fill(0x44);

  it("moves a vmlinux (p_paddr 0-based, p_vaddr 0xffffffff8…) to the kernel start, bss zeroed", () => {
    const mem = ram(64);
    mem.u8.fill(0xee); // so the bss zero-fill is visible
    const vmlinux = buildElf({
      entry: 0xffffffff80000000n,
      segments: [
        { vaddr: 0xffffffff80000000n, paddr: 0n, data: text },
        { vaddr: 0xffffffff80100000n, paddr: 0x100000n, data: new Uint8Array(16).fill(0x55), memsz: 0x1000 },
      ],
    });
    const l = loadBootImages(mem, { firmware: firmware(), kernel: vmlinux });
    expect(l.kernel).toEqual({ start: 0x80200000, end: 0x80301000, entry: 0x80200000, format: "elf" });
    expect(mem.readU8(0x80200000)).toBe(0x44);
    expect(mem.readU8(0x80300000)).toBe(0x55);
    expect(mem.readU8(0x80300010)).toBe(0);
    expect(mem.readU8(0x80300fff)).toBe(0);
    expect(mem.readU8(0x80301000)).toBe(0xee);
  });

  it("translates an entry that is not the lowest address through its segment", () => {
    const vmlinux = buildElf({
      entry: 0xffffffff80000040n,
      segments: [{ vaddr: 0xffffffff80000000n, paddr: 0n, data: text }],
    });
    expect(loadBootImages(ram(64), { firmware: firmware(), kernel: vmlinux }).kernel?.entry).toBe(0x80200040);
  });

  it("loads an ELF whose physical addresses are free RAM where it asks", () => {
    const k = buildElf({ entry: 0x80600000n, segments: [{ vaddr: 0x80600000n, data: text }] });
    expect(loadBootImages(ram(64), { firmware: firmware(), kernel: k }).kernel?.start).toBe(0x80600000);
  });

  it("refuses an ELF entry outside every segment", () => {
    const k = buildElf({ entry: 0x1234n, segments: [{ vaddr: 0x80600000n, data: text }] });
    expectLoaderError(() => loadBootImages(ram(64), { firmware: firmware(), kernel: k }), "entry point 0x1234");
  });

  it("refuses an ELF too big for RAM, naming it", () => {
    const k = buildElf({
      entry: 0xffffffff80000000n,
      segments: [{ vaddr: 0xffffffff80000000n, paddr: 0n, data: text, memsz: 100 * MiB }],
    });
    expectLoaderError(() => loadBootImages(ram(64), { firmware: firmware(), kernel: k }), "kernel ELF", "100.0 MiB");
  });

  const sbi = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf";
  it("loads Debian's fw_dynamic.elf at 0x80000000 with its bss", () => {
    const l = loadBootImages(ram(64), { firmware: new Uint8Array(readFileSync(sbi)), kernel: image(MiB) });
    expect(l.firmware?.start).toBe(0x80000000);
    expect(l.firmware?.entry).toBe(0x80000000);
    expect(l.firmware!.end).toBeGreaterThan(0x80000000 + FW_SIZE); // memsz includes bss
    expect(l.kernel?.start).toBe(0x80200000);
  });
});

describe("device tree placement", () => {
  it.each([
    // [RAM MiB, fdt size, expected] — ALIGN_DOWN(min(DRAM end, 3 GiB) − size, 2 MiB)
    [256, 0x1800, 0x8fe00000],
    [256, 0x100000, 0x8fe00000], // QEMU's own 1 MiB FDT buffer lands here too
    [64, 0x2000, 0x83e00000],
    [1024, 0x2000, 0xbfe00000],
    [2048, 0x2000, 0xbfe00000], // capped below 3 GiB
    [4096, 0x2000, 0xbfe00000],
  ])("%i MiB RAM, %i-byte FDT → %i", (mib, size, at) => {
    expect(fdtAddress(VIRT_DRAM_BASE, mib * MiB, size)).toBe(at);
  });

  it("copies the blob and refuses to overlap the initrd", () => {
    const mem = ram(64);
    const l = loadBootImages(mem, { firmware: firmware(), kernel: image(MiB), initrd: new Uint8Array(MiB) });
    const dtb = new Uint8Array([0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 8]);
    const at = loadFdt(mem, dtb, l);
    expect(at).toBe(0x83e00000);
    expect([...mem.slice(at, 8)]).toEqual([...dtb]);

    const mem2 = ram(64);
    // The initrd at 0x82200000 reaches past 0x83e00000.
    const big = loadBootImages(mem2, { firmware: firmware(), kernel: image(MiB), initrd: new Uint8Array(29 * MiB) });
    expectLoaderError(() => loadFdt(mem2, dtb, big), "device tree", "overlaps the initrd");
  });
});

describe("MROM (spec §9 table)", () => {
  const mrom = buildMrom({ startAddr: 0x80000000, fdtAddr: 0x8fe00000, nextAddr: 0x80200000 });
  const v = new DataView(mrom.buffer);

  it("holds the reset vector, start and FDT addresses, and fw_dynamic_info", () => {
    expect([0, 1, 2, 3, 4, 5].map((i) => v.getUint32(i * 4, true))).toEqual(MROM_RESET_VECTOR);
    expect(v.getBigUint64(0x18, true)).toBe(0x80000000n);
    expect(v.getBigUint64(0x20, true)).toBe(0x8fe00000n);
    expect(FW_DYNAMIC_INFO_OFFSET).toBe(0x28);
    const info = [0, 1, 2, 3, 4, 5].map((i) => v.getBigUint64(0x28 + 8 * i, true));
    expect(info).toEqual([BigInt(FW_DYNAMIC_INFO_MAGIC_VALUE), 2n, 0x80200000n, 1n, 0n, 0n]);
    expect(mrom.length).toBe(0x58);
  });

  it("matches QEMU 7.2's MROM byte for byte (xp /22wx 0x1000 with -m 256, fw_dynamic.bin, an Image)", () => {
    // Captured from qemu-system-riscv64 7.2.22 (Debian) -M virt -m 256 -bios fw_dynamic.bin -kernel Image -S.
    const qemu = [
      0x00000297, 0x02828613, 0xf1402573, 0x0202b583, 0x0182b283, 0x00028067, 0x80000000, 0x00000000, 0x8fe00000,
      0x00000000, 0x4942534f, 0x00000000, 0x00000002, 0x00000000, 0x80200000, 0x00000000, 0x00000001, 0x00000000,
      0x00000000, 0x00000000, 0x00000000, 0x00000000,
    ];
    expect(qemu.map((_, i) => v.getUint32(i * 4, true))).toEqual(qemu);
  });

  it("the reset vector is what the assembler emits for QEMU's sequence", () => {
    const src = `
      .globl _start
    _start:
      auipc t0, 0
      addi a2, t0, 40
      csrr a0, mhartid
      ld a1, 32(t0)
      ld t0, 24(t0)
      jr t0
    `;
    const lds = "ENTRY(_start) SECTIONS { . = 0x1000; .text : { *(.text) } }";
    const bin = assemble(src, lds, "rv64i_zicsr").binary;
    const words = [0, 1, 2, 3, 4, 5].map((i) => new DataView(bin.buffer, bin.byteOffset).getUint32(i * 4, true));
    expect(words).toEqual(MROM_RESET_VECTOR);
  });

  it("reads through the Bus at 0x1000 in 1/2/4/8-byte accesses, ignores writes, reads 0 past the contents", () => {
    const bus = new Bus();
    bus.map(VIRT_MROM_BASE, VIRT_MROM_SIZE, new Rom(mrom, VIRT_MROM_SIZE), "mrom");
    expect(bus.read(0x1000, 4)).toBe(0x00000297);
    expect(bus.read(0x1008, 4)).toBe(0xf1402573);
    expect(bus.read(0x100a, 2)).toBe(0xf140);
    expect(bus.read(0x100b, 1)).toBe(0xf1);
    expect(bus.read64(0x1028)).toEqual([FW_DYNAMIC_INFO_MAGIC_VALUE, 0]);
    expect(bus.read(0x1038, 8)).toBe(0x80200000);
    expect(bus.write(0x1000, 4, 0xdeadbeef)).toBe(true);
    expect(bus.read(0x1000, 4)).toBe(0x00000297);
    expect(bus.read(0x1100, 4)).toBe(0);
    expect(bus.read(0xfffc, 4)).toBe(0);
    expect(bus.read(0x10000, 4)).toBeUndefined();
  });

  it("refuses contents larger than the ROM", () => {
    expect(() => new Rom(new Uint8Array(16), 8)).toThrow(LoaderError);
  });
});
