// Places firmware, kernel, initrd and device tree in guest RAM the way QEMU 7.2's `virt` does, and
// builds the MROM reset vector with OpenSBI's fw_dynamic_info (spec riscv-platform.md §9: qemu
// hw/riscv/boot.c, OpenSBI include/sbi/fw_dynamic.h). The images come from the user and may be
// anything: every size is checked against RAM and every overlap is refused with a LoaderError that
// names the image, its size and the addresses involved, instead of silently clobbering another image.

import type { MmioDevice } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";
import { type ElfFile, isElf, parseElf } from "./elf.ts";

export const VIRT_MROM_BASE = 0x1000;
export const VIRT_MROM_SIZE = 0xf000;

/** OpenSBI fw_dynamic_info (include/sbi/fw_dynamic.h). */
export const FW_DYNAMIC_INFO_MAGIC_VALUE = 0x4942534f;
export const FW_DYNAMIC_INFO_VERSION_2 = 2;
export const FW_DYNAMIC_INFO_NEXT_MODE_S = 1;
/** Where fw_dynamic_info sits in the MROM: after 6 instructions and two u64 words (0x1028 on virt). */
export const FW_DYNAMIC_INFO_OFFSET = 0x28;
export const MROM_START_ADDR_OFFSET = 0x18;
export const MROM_FDT_ADDR_OFFSET = 0x20;

/** RISC-V Linux Image header (Documentation/riscv/boot-image-header.rst). */
export const RISCV_IMAGE_MAGIC = 0x5643534952n; // "RISCV\0\0\0" at offset 48
export const RISCV_IMAGE_MAGIC2 = 0x05435352; // "RSC\x05" at offset 56
export const RISCV_IMAGE_HEADER_SIZE = 64;

const MiB = 1024 * 1024;
/** RV64 kernels want a 2 MiB aligned start (QEMU riscv_calc_kernel_start_addr). */
const KERNEL_ALIGN = 2 * MiB;
/** QEMU 7.2 riscv_load_initrd: initrd at kernel + min(RAM / 2, 128 MiB). */
const INITRD_MAX_OFFSET = 128 * MiB;
/** QEMU 7.2 riscv_load_fdt keeps the FDT below 3 GiB so 32-bit-addressing code can reach it. */
const FDT_ADDR_LIMIT = 3072 * MiB;
const FDT_ALIGN = 2 * MiB;

/**
 * QEMU's reset vector (riscv_setup_rom_reset_vec, RV64). Checked against riscv64-unknown-elf-as in
 * loader.test.ts; t0 = 0x1000 so the loads reach the words that follow the code.
 */
export const MROM_RESET_VECTOR: readonly number[] = [
  0x00000297, // auipc t0, 0             t0 = 0x1000
  0x02828613, // addi  a2, t0, 40        a2 = &fw_dynamic_info
  0xf1402573, // csrr  a0, mhartid
  0x0202b583, // ld    a1, 32(t0)        a1 = FDT address
  0x0182b283, // ld    t0, 24(t0)        t0 = start address
  0x00028067, // jr    t0
];

export class LoaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LoaderError";
  }
}

export type KernelFormat = "image" | "elf" | "flat";

/** A loaded range of guest-physical addresses; end is exclusive. */
export interface LoadedRange {
  readonly start: number;
  readonly end: number;
}
export interface LoadedImage extends LoadedRange {
  readonly entry: number;
}
export interface LoadedKernel extends LoadedImage {
  readonly format: KernelFormat;
}

export interface BootImages {
  /** OpenSBI fw_dynamic (.bin loaded at the DRAM base, or .elf at its addresses); absent = `-bios none`. */
  firmware?: Uint8Array;
  /** A raw RISC-V Linux `Image`, an ELF `vmlinux`, or a flat binary. */
  kernel?: Uint8Array;
  /** A cpio archive, gzip-compressed or not: copied as-is, Linux unpacks it. */
  initrd?: Uint8Array;
}

export interface BootLayout {
  readonly firmware?: LoadedImage;
  readonly kernel?: LoadedKernel;
  readonly initrd?: LoadedRange;
}

export interface RiscvImageHeader {
  readonly textOffset: number;
  readonly imageSize: number;
}

export const hex = (n: number): string => `0x${n.toString(16)}`;

function describeSize(n: number): string {
  return n >= MiB ? `${n} bytes (${(n / MiB).toFixed(1)} MiB)` : `${n} bytes`;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const alignDown = (n: number, a: number): number => Math.floor(n / a) * a;
const overlaps = (a: LoadedRange, b: LoadedRange): boolean => a.start < b.end && b.start < a.end;

/** The Image header when the bytes carry either magic, else undefined (then it is not an Image). */
export function parseImageHeader(bytes: Uint8Array): RiscvImageHeader | undefined {
  if (bytes.length < RISCV_IMAGE_HEADER_SIZE) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, RISCV_IMAGE_HEADER_SIZE);
  if (v.getBigUint64(48, true) !== RISCV_IMAGE_MAGIC && v.getUint32(56, true) !== RISCV_IMAGE_MAGIC2) {
    return undefined;
  }
  const textOffset = v.getBigUint64(8, true);
  const imageSize = v.getBigUint64(16, true);
  // Larger values cannot fit any RAM we model; clamp so the fit check below reports them plainly.
  const clamp = (x: bigint): number => (x > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(x));
  return { textOffset: clamp(textOffset), imageSize: clamp(imageSize) };
}

function ramRange(mem: GuestMemory): LoadedRange {
  return { start: mem.base, end: mem.base + mem.size };
}

/** Throws unless [start, start+size) lies in RAM; the message names the image and the numbers. */
function checkFits(mem: GuestMemory, what: string, start: number, size: number): void {
  const ram = ramRange(mem);
  if (start < ram.start || start + size > ram.end) {
    throw new LoaderError(
      `${what} (${describeSize(size)}) at ${hex(start)}–${hex(start + size)} does not fit in guest RAM ` +
        `${hex(ram.start)}–${hex(ram.end)} (${mem.size / MiB} MiB); give the VM more memory`,
    );
  }
}

function checkDisjoint(what: string, r: LoadedRange, otherName: string, other: LoadedRange | undefined): void {
  if (other !== undefined && overlaps(r, other)) {
    throw new LoaderError(
      `${what} at ${hex(r.start)}–${hex(r.end)} overlaps the ${otherName} at ${hex(other.start)}–${hex(other.end)}`,
    );
  }
}

/**
 * Copies the PT_LOAD segments of an ELF into RAM at paddr + delta, zero-filling each segment's bss.
 * Returns the loaded range and the entry translated the same way.
 */
export function loadElfSegments(mem: GuestMemory, elf: ElfFile, delta: bigint, what: string): LoadedImage {
  const { low, high } = elf.physicalExtent();
  const start = low + delta;
  const end = high + delta;
  if (start < BigInt(mem.base) || end > BigInt(mem.base + mem.size)) {
    const size = Number(high - low);
    throw new LoaderError(
      `${what} ELF segments at 0x${start.toString(16)}–0x${end.toString(16)} (${describeSize(size)}) do not fit ` +
        `in guest RAM ${hex(mem.base)}–${hex(mem.base + mem.size)} (${mem.size / MiB} MiB)`,
    );
  }
  for (const s of elf.segments) {
    const at = Number(s.paddr + delta);
    mem.write(at, s.data);
    mem.slice(at + s.data.length, s.memsz - s.data.length).fill(0);
  }
  // The entry is a virtual address; find the segment that holds it to get its physical twin.
  const seg = elf.segments.find((s) => elf.entry >= s.vaddr && elf.entry < s.vaddr + BigInt(s.memsz));
  if (seg === undefined) {
    throw new LoaderError(`${what} ELF entry point 0x${elf.entry.toString(16)} is not inside any loaded segment`);
  }
  const entry = Number(seg.paddr + delta + (elf.entry - seg.vaddr));
  return { start: Number(start), end: Number(end), entry };
}

/** Loads the firmware at the DRAM base (raw) or at its ELF addresses (QEMU riscv_load_firmware). */
export function loadFirmware(mem: GuestMemory, bytes: Uint8Array): LoadedImage {
  if (isElf(bytes)) return loadElfSegments(mem, parseElf(bytes), 0n, "firmware");
  if (bytes.length === 0) throw new LoaderError("firmware image is empty");
  checkFits(mem, "firmware", mem.base, bytes.length);
  mem.write(mem.base, bytes);
  return { start: mem.base, end: mem.base + bytes.length, entry: mem.base };
}

/**
 * Loads the kernel at the firmware end rounded up to 2 MiB (0x80200000 with OpenSBI).
 * - a raw Image goes there; its header's image_size (which counts bss) is the footprint that must fit,
 *   and the start is never below DRAM base + text_offset;
 * - an ELF whose physical addresses lie in free RAM goes to those addresses (QEMU's load_elf); a
 *   vmlinux, whose p_paddr are link-relative (0-based on RISC-V), is moved as a block so its lowest
 *   segment lands at the kernel start — Linux finds its load address from the pc at boot;
 * - anything else is a flat binary copied to the kernel start (QEMU's last resort, too).
 */
export function loadKernel(mem: GuestMemory, bytes: Uint8Array, firmware: LoadedRange | undefined): LoadedKernel {
  if (bytes.length === 0) throw new LoaderError("kernel image is empty");
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new LoaderError(
      "kernel image is gzip-compressed; RISC-V Linux does not decompress itself — use the raw Image",
    );
  }
  let start = alignUp(firmware?.end ?? mem.base, KERNEL_ALIGN);
  if (isElf(bytes)) {
    const elf = parseElf(bytes);
    const { low, high } = elf.physicalExtent();
    const inPlace = { start: Number(low), end: Number(high) };
    const fitsInPlace =
      low >= BigInt(mem.base) &&
      high <= BigInt(mem.base + mem.size) &&
      (firmware === undefined || !overlaps(inPlace, firmware));
    const delta = fitsInPlace ? 0n : BigInt(start) - low;
    const k = loadElfSegments(mem, elf, delta, "kernel");
    checkDisjoint("kernel", k, "firmware", firmware);
    return { ...k, format: "elf" };
  }
  const header = parseImageHeader(bytes);
  let footprint = bytes.length;
  if (header !== undefined) {
    start = Math.max(start, mem.base + header.textOffset);
    footprint = Math.max(footprint, header.imageSize);
  }
  const what = header !== undefined ? "kernel Image" : "kernel (flat binary)";
  checkFits(mem, what, start, footprint);
  mem.write(start, bytes);
  const k: LoadedKernel = { start, end: start + footprint, entry: start, format: header ? "image" : "flat" };
  checkDisjoint(what, k, "firmware", firmware);
  return k;
}

/** Loads the initrd at kernel start + min(RAM/2, 128 MiB) (QEMU 7.2), as-is. */
export function loadInitrd(mem: GuestMemory, bytes: Uint8Array, kernel: LoadedRange): LoadedRange {
  if (bytes.length === 0) throw new LoaderError("initrd is empty");
  const start = kernel.start + Math.min(Math.floor(mem.size / 2), INITRD_MAX_OFFSET);
  checkFits(mem, "initrd", start, bytes.length);
  const r = { start, end: start + bytes.length };
  if (kernel.end > start) {
    throw new LoaderError(
      `kernel (${describeSize(kernel.end - kernel.start)} at ${hex(kernel.start)}) runs into the initrd at ` +
        `${hex(start)}; give the VM more memory`,
    );
  }
  mem.write(start, bytes);
  return r;
}

/** Loads firmware, kernel and initrd in QEMU's order; the result feeds the device tree (initrd range). */
export function loadBootImages(mem: GuestMemory, images: BootImages): BootLayout {
  const firmware = images.firmware !== undefined ? loadFirmware(mem, images.firmware) : undefined;
  const kernel = images.kernel !== undefined ? loadKernel(mem, images.kernel, firmware) : undefined;
  let initrd: LoadedRange | undefined;
  if (images.initrd !== undefined) {
    if (kernel === undefined) throw new LoaderError("an initrd needs a kernel (nothing would find it)");
    initrd = loadInitrd(mem, images.initrd, kernel);
  }
  return { firmware, kernel, initrd };
}

/** QEMU 7.2 riscv_load_fdt: ALIGN_DOWN(min(DRAM end, 3 GiB) − fdt_size, 2 MiB). */
export function fdtAddress(ramBase: number, ramSize: number, fdtSize: number): number {
  const ramEnd = ramBase + ramSize;
  const top = ramBase < FDT_ADDR_LIMIT ? Math.min(ramEnd, FDT_ADDR_LIMIT) : ramEnd;
  return alignDown(top - fdtSize, FDT_ALIGN);
}

/** Copies the device tree blob to its QEMU address, refusing to overlap any loaded image. */
export function loadFdt(mem: GuestMemory, dtb: Uint8Array, layout: BootLayout): number {
  const addr = fdtAddress(mem.base, mem.size, dtb.length);
  checkFits(mem, "device tree", addr, dtb.length);
  const r = { start: addr, end: addr + dtb.length };
  checkDisjoint("device tree", r, "firmware", layout.firmware);
  checkDisjoint("device tree", r, "kernel", layout.kernel);
  checkDisjoint("device tree", r, "initrd", layout.initrd);
  mem.write(addr, dtb);
  return addr;
}

export interface MromParams {
  /** Where the reset vector jumps: the firmware entry (the DRAM base). */
  startAddr: number;
  fdtAddr: number;
  /** fw_dynamic_info.next_addr: the kernel entry, 0 without a kernel (as QEMU). */
  nextAddr: number;
}

/** The MROM contents: reset vector, start and FDT addresses, then fw_dynamic_info (spec §9 table). */
export function buildMrom(p: MromParams): Uint8Array {
  const bytes = new Uint8Array(FW_DYNAMIC_INFO_OFFSET + 6 * 8);
  const v = new DataView(bytes.buffer);
  for (const [i, insn] of MROM_RESET_VECTOR.entries()) v.setUint32(i * 4, insn, true);
  const u64 = (off: number, n: number) => v.setBigUint64(off, BigInt(n), true);
  u64(MROM_START_ADDR_OFFSET, p.startAddr);
  u64(MROM_FDT_ADDR_OFFSET, p.fdtAddr);
  const info = FW_DYNAMIC_INFO_OFFSET;
  u64(info + 0, FW_DYNAMIC_INFO_MAGIC_VALUE);
  u64(info + 8, FW_DYNAMIC_INFO_VERSION_2);
  u64(info + 16, p.nextAddr);
  u64(info + 24, FW_DYNAMIC_INFO_NEXT_MODE_S);
  u64(info + 32, 0); // options: boot prints on
  u64(info + 40, 0); // boot_hart 0
  return bytes;
}

/** A read-only memory region: writes are ignored (as QEMU's ROM regions), bytes past the contents read 0. */
export class Rom implements MmioDevice {
  constructor(
    private readonly contents: Uint8Array,
    readonly size: number,
  ) {
    if (contents.length > size)
      throw new LoaderError(`ROM contents (${contents.length} bytes) exceed its size ${size}`);
  }

  read(offset: number, size: 1 | 2 | 4): number {
    const c = this.contents;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const o = offset + i;
      v = v * 256 + (o < c.length ? c[o] : 0);
    }
    return v;
  }

  write(_offset: number, _size: 1 | 2 | 4, _value: number): void {}
}
