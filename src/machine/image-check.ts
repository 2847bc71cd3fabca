// Boot images checked for what they claim to be before a machine is built from them: a kernel must be a
// RISC-V Linux Image ("RSC\x05" at 0x38, or the older "RISCV" at 0x30) or a RISC-V ELF, an initrd a cpio
// archive or one of the compressions Linux unpacks, a firmware an OpenSBI binary or RISC-V ELF. A wrong file
// (an HTML error page, a kernel given as the initrd, a gzip'd Image, an x86 vmlinux) is refused with a message
// that says what the file looks like and what was expected, instead of a guest that hangs silently. The page
// and the CLI both ask here; the loader (loader.ts) still takes flat binaries for callers that mean them.

import { parseImageHeader } from "./loader.ts";

export type BootImageRole = "firmware" | "kernel" | "initrd";

const EM_RISCV = 243;
const ELF_MACHINES: Record<number, string> = {
  3: "x86",
  8: "MIPS",
  20: "PowerPC",
  40: "ARM",
  62: "x86-64",
  183: "AArch64",
};

/** The largest firmware we take: OpenSBI's fw_dynamic is a few hundred KiB. */
export const MAX_FIRMWARE_BYTES = 16 * 1024 * 1024;
/** A RISC-V Image's header alone is 64 bytes; anything smaller is no kernel. */
const MIN_KERNEL_BYTES = 64;

const starts = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** What a file looks like, from its first bytes. */
export function describeBytes(b: Uint8Array): string {
  if (b.length === 0) return "an empty file";
  if (starts(b, [0x7f, 0x45, 0x4c, 0x46])) {
    const machine = b.length >= 20 ? b[18] | (b[19] << 8) : -1;
    if (machine === EM_RISCV) return b[4] === 2 ? "a RISC-V ELF" : "a 32-bit RISC-V ELF";
    return `an ELF for ${ELF_MACHINES[machine] ?? `machine ${machine}`}`;
  }
  if (parseImageHeader(b) !== undefined) return "a RISC-V Linux kernel Image";
  if (starts(b, ascii("070701")) || starts(b, ascii("070702"))) return "a cpio archive (an initramfs)";
  if (starts(b, [0x1f, 0x8b])) return "gzip-compressed data";
  if (starts(b, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "xz-compressed data";
  if (starts(b, [0x28, 0xb5, 0x2f, 0xfd])) return "zstd-compressed data";
  if (starts(b, ascii("BZh"))) return "bzip2-compressed data";
  if (starts(b, [0x02, 0x21, 0x4c, 0x18]) || starts(b, [0x04, 0x22, 0x4d, 0x18])) return "lz4-compressed data";
  if (starts(b, [0x89, 0x4c, 0x5a, 0x4f])) return "lzop-compressed data";
  if (starts(b, ascii("PK\x03\x04"))) return "a zip archive";
  if (starts(b, [0xd0, 0x0d, 0xfe, 0xed])) return "a device tree blob";
  if (starts(b, ascii("QFI\xfb"))) return "a qcow2 disk image";
  const head = b.subarray(0, Math.min(b.length, 512));
  const text = head.every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127));
  if (text) {
    const s = new TextDecoder().decode(head).trimStart();
    if (/^<(!doctype html|html|head|body)/i.test(s)) return "an HTML page";
    const line = s.split(/\r?\n/, 1)[0].slice(0, 60);
    return `a text file ("${line}${s.trimEnd().length > line.length ? "…" : ""}")`;
  }
  return "data of no known format";
}

/** The compressions (and the plain cpio) Linux's initramfs unpacker takes. */
function isInitramfs(b: Uint8Array): boolean {
  return (
    starts(b, ascii("070701")) ||
    starts(b, ascii("070702")) ||
    starts(b, [0x1f, 0x8b]) ||
    starts(b, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) ||
    starts(b, [0x28, 0xb5, 0x2f, 0xfd]) ||
    starts(b, ascii("BZh")) ||
    starts(b, [0x02, 0x21, 0x4c, 0x18]) ||
    starts(b, [0x89, 0x4c, 0x5a, 0x4f]) ||
    starts(b, [0x5d, 0x00, 0x00])
  );
}

const isRiscvElf64 = (b: Uint8Array): boolean =>
  starts(b, [0x7f, 0x45, 0x4c, 0x46]) && b.length >= 20 && b[4] === 2 && (b[18] | (b[19] << 8)) === EM_RISCV;

/**
 * Why `bytes` cannot be the machine's `role`, or undefined when they look right. `name` (a file name or URL)
 * starts the message.
 */
export function checkBootImage(role: BootImageRole, bytes: Uint8Array, name: string): string | undefined {
  const is = describeBytes(bytes);
  const refuse = (expected: string, hint = ""): string =>
    `${name} is ${is}, not ${expected}: refused before boot${hint === "" ? "" : ` (${hint})`}`;
  if (bytes.length === 0) return `${name} is empty (0 bytes): refused before boot`;
  switch (role) {
    case "kernel": {
      if (isRiscvElf64(bytes)) return undefined;
      const header = parseImageHeader(bytes);
      if (header !== undefined && bytes.length >= MIN_KERNEL_BYTES) {
        if (header.imageSize !== 0 && header.imageSize < bytes.length) {
          return `${name}: the RISC-V Image header says image_size ${header.imageSize}, but the file has ${bytes.length} bytes: refused before boot (a truncated or patched kernel?)`;
        }
        return undefined;
      }
      if (starts(bytes, [0x1f, 0x8b])) {
        return refuse("a RISC-V Linux kernel", "RISC-V Linux does not decompress itself: gunzip it to the raw Image");
      }
      return refuse(
        'a RISC-V Linux kernel (an Image with "RSC\\x05" at offset 0x38, or a RISC-V ELF vmlinux)',
        isInitramfs(bytes) ? "is it the initrd?" : "",
      );
    }
    case "initrd":
      if (isInitramfs(bytes)) return undefined;
      return refuse(
        'an initramfs (a cpio archive, "070701", plain or gzip/xz/zstd/bzip2/lz4/lzo-compressed)',
        parseImageHeader(bytes) !== undefined || isRiscvElf64(bytes) ? "is it the kernel?" : "",
      );
    case "firmware": {
      if (isRiscvElf64(bytes)) return undefined;
      if (parseImageHeader(bytes) !== undefined) {
        return refuse("an OpenSBI firmware (fw_dynamic.bin or .elf)", "is it the kernel?");
      }
      if (bytes.length > MAX_FIRMWARE_BYTES) {
        return `${name} has ${bytes.length} bytes, more than an OpenSBI firmware's ${MAX_FIRMWARE_BYTES}: refused before boot`;
      }
      const known = describeBytes(bytes);
      if (known !== "data of no known format") return refuse("an OpenSBI firmware (fw_dynamic.bin or .elf)");
      // A raw RISC-V binary's first instruction: a 32-bit one ends in 0b11, a compressed one does not but is
      // never all zeros (the defined-illegal instruction), nor all ones.
      const first = bytes[0] | (bytes[1] << 8);
      if (bytes.length < 256) {
        return `${name} has ${bytes.length} bytes, too few for an OpenSBI firmware: refused before boot`;
      }
      if (first === 0 || first === 0xffff) {
        return refuse("an OpenSBI firmware (fw_dynamic.bin or .elf)", "its first instruction is not one");
      }
      return undefined;
    }
  }
}
