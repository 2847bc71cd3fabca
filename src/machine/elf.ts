// An ELF64 little-endian RISC-V executable reader: header, PT_LOAD segments, entry and symbols.
// The bytes come from the user (a file, a URL) and are treated as hostile: every offset, size and
// count is checked against the buffer before it is read, loops are bounded by the buffer size, and
// every problem is an ElfError with a named code — never a RangeError from a DataView or a hang.
// Field offsets: the System V gABI "ELF header", "Program header", "Sections", "Symbol Table".

export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;
export const ET_EXEC = 2;
export const EM_RISCV = 243;
export const PT_LOAD = 1;
export const SHT_SYMTAB = 2;
export const SHT_NOBITS = 8;
/** e_phnum value meaning "the real count is in section 0" — never produced for executables we load. */
export const PN_XNUM = 0xffff;

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const ADDR_LIMIT = 1n << 64n;

export type ElfErrorCode =
  | "truncated"
  | "bad-magic"
  | "bad-class"
  | "bad-data"
  | "bad-version"
  | "bad-type"
  | "bad-machine"
  | "bad-phdr"
  | "bad-segment"
  | "no-load-segments"
  | "bad-shdr"
  | "bad-symtab";

export class ElfError extends Error {
  constructor(
    readonly code: ElfErrorCode,
    message: string,
  ) {
    super(`ELF: ${message}`);
    this.name = "ElfError";
  }
}

/** A PT_LOAD segment. Addresses are bigint because vmlinux links at 0xffffffff8xxxxxxx (> 2^53). */
export interface ElfSegment {
  readonly vaddr: bigint;
  readonly paddr: bigint;
  /** Bytes in the file (a zero-copy view of the input); the rest up to memsz is zero-filled (bss). */
  readonly data: Uint8Array;
  readonly memsz: number;
  /** PF_X = 1, PF_W = 2, PF_R = 4. */
  readonly flags: number;
}

export interface ElfSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: number;
  /** STT_* (low 4 bits of st_info). */
  readonly type: number;
  /** STB_* (high 4 bits of st_info). */
  readonly bind: number;
}

/** True when the bytes start with the ELF magic (whatever the class or machine). */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

export class ElfFile {
  readonly entry: bigint;
  readonly flags: number;
  readonly segments: readonly ElfSegment[];
  private readonly view: DataView;
  private symbolMap: Map<string, ElfSymbol> | undefined;

  /** Parses and validates the header and program headers; throws ElfError. */
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < EHDR_SIZE) {
      throw new ElfError("truncated", `file is ${bytes.length} bytes, shorter than the 64-byte ELF64 header`);
    }
    if (!isElf(bytes)) throw new ElfError("bad-magic", "not an ELF file (no \\x7fELF magic)");
    if (bytes[4] !== ELFCLASS64) throw new ElfError("bad-class", `EI_CLASS ${bytes[4]}: only ELFCLASS64 is supported`);
    if (bytes[5] !== ELFDATA2LSB) {
      throw new ElfError("bad-data", `EI_DATA ${bytes[5]}: only little-endian (ELFDATA2LSB) is supported`);
    }
    if (bytes[6] !== EV_CURRENT) throw new ElfError("bad-version", `EI_VERSION ${bytes[6]} is not EV_CURRENT`);
    const type = this.u16(16);
    if (type !== ET_EXEC) throw new ElfError("bad-type", `e_type ${type}: only ET_EXEC executables can be loaded`);
    const machine = this.u16(18);
    if (machine !== EM_RISCV) throw new ElfError("bad-machine", `e_machine ${machine} is not EM_RISCV (243)`);
    this.entry = this.view.getBigUint64(24, true);
    this.flags = this.u32(48);
    this.segments = this.readSegments();
  }

  /** Looks a symbol up in .symtab (built once, on first use; vmlinux has ~100k symbols). */
  findSymbol(name: string): ElfSymbol | undefined {
    this.symbolMap ??= this.readSymbols();
    return this.symbolMap.get(name);
  }

  /** The lowest and highest (exclusive) physical addresses the PT_LOAD segments occupy. */
  physicalExtent(): { low: bigint; high: bigint } {
    let low = -1n;
    let high = 0n;
    for (const s of this.segments) {
      if (low < 0n || s.paddr < low) low = s.paddr;
      const end = s.paddr + BigInt(s.memsz);
      if (end > high) high = end;
    }
    return { low, high };
  }

  private u16(off: number): number {
    return this.view.getUint16(off, true);
  }
  private u32(off: number): number {
    return this.view.getUint32(off, true);
  }
  /** A 64-bit size or offset that must be a safe JS number (anything larger cannot fit the file anyway). */
  private size64(off: number, what: string, code: ElfErrorCode): number {
    const v = this.view.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(code, `${what} 0x${v.toString(16)} is too large`);
    return Number(v);
  }

  /** Checks that [off, off+len) lies in the file. */
  private inFile(off: number, len: number): boolean {
    return off >= 0 && len >= 0 && off <= this.bytes.length && len <= this.bytes.length - off;
  }

  private readSegments(): ElfSegment[] {
    const phoff = this.size64(32, "e_phoff", "bad-phdr");
    const phentsize = this.u16(54);
    const phnum = this.u16(56);
    if (phnum === PN_XNUM) throw new ElfError("bad-phdr", "e_phnum is PN_XNUM (extended numbering is not supported)");
    if (phnum === 0) throw new ElfError("no-load-segments", "no program headers");
    if (phentsize < PHDR_SIZE) throw new ElfError("bad-phdr", `e_phentsize ${phentsize} < ${PHDR_SIZE}`);
    if (!this.inFile(phoff, phnum * phentsize)) {
      throw new ElfError("truncated", `program headers (${phnum} × ${phentsize} at ${phoff}) run past the file end`);
    }
    const segments: ElfSegment[] = [];
    for (let i = 0; i < phnum; i++) {
      const ph = phoff + i * phentsize;
      if (this.u32(ph) !== PT_LOAD) continue;
      const flags = this.u32(ph + 4);
      const offset = this.size64(ph + 8, `segment ${i} p_offset`, "bad-segment");
      const vaddr = this.view.getBigUint64(ph + 16, true);
      const paddr = this.view.getBigUint64(ph + 24, true);
      const filesz = this.size64(ph + 32, `segment ${i} p_filesz`, "bad-segment");
      const memsz = this.size64(ph + 40, `segment ${i} p_memsz`, "bad-segment");
      if (filesz > memsz) throw new ElfError("bad-segment", `segment ${i}: p_filesz ${filesz} > p_memsz ${memsz}`);
      if (!this.inFile(offset, filesz)) {
        throw new ElfError(
          "truncated",
          `segment ${i}: ${filesz} bytes at file offset ${offset} run past the file end (${this.bytes.length})`,
        );
      }
      if (paddr + BigInt(memsz) > ADDR_LIMIT || vaddr + BigInt(memsz) > ADDR_LIMIT) {
        throw new ElfError("bad-segment", `segment ${i} wraps around the 64-bit address space`);
      }
      if (memsz === 0) continue;
      segments.push({ vaddr, paddr, data: this.bytes.subarray(offset, offset + filesz), memsz, flags });
    }
    if (segments.length === 0) throw new ElfError("no-load-segments", "no non-empty PT_LOAD segment");
    return segments;
  }

  private readSymbols(): Map<string, ElfSymbol> {
    const map = new Map<string, ElfSymbol>();
    const shoff = this.size64(40, "e_shoff", "bad-shdr");
    const shentsize = this.u16(58);
    const shnum = this.u16(60);
    // A stripped file (or one with extended section numbering) simply has no symbols for us.
    if (shoff === 0 || shnum === 0) return map;
    if (shentsize < SHDR_SIZE) throw new ElfError("bad-shdr", `e_shentsize ${shentsize} < ${SHDR_SIZE}`);
    if (!this.inFile(shoff, shnum * shentsize)) {
      throw new ElfError("truncated", `section headers (${shnum} × ${shentsize} at ${shoff}) run past the file end`);
    }
    for (let i = 0; i < shnum; i++) {
      const sh = shoff + i * shentsize;
      if (this.u32(sh + 4) !== SHT_SYMTAB) continue;
      const symoff = this.size64(sh + 24, `section ${i} sh_offset`, "bad-symtab");
      const symsize = this.size64(sh + 32, `section ${i} sh_size`, "bad-symtab");
      const link = this.u32(sh + 40);
      const entsize = this.size64(sh + 56, `section ${i} sh_entsize`, "bad-symtab");
      if (entsize < SYM_SIZE) throw new ElfError("bad-symtab", `symbol table entry size ${entsize} < ${SYM_SIZE}`);
      if (!this.inFile(symoff, symsize)) throw new ElfError("truncated", "symbol table runs past the file end");
      if (link >= shnum) throw new ElfError("bad-symtab", `symbol table sh_link ${link} is not a section`);
      const str = shoff + link * shentsize;
      if (this.u32(str + 4) === SHT_NOBITS) throw new ElfError("bad-symtab", "string table has no file contents");
      const stroff = this.size64(str + 24, "string table sh_offset", "bad-symtab");
      const strsize = this.size64(str + 32, "string table sh_size", "bad-symtab");
      if (!this.inFile(stroff, strsize)) throw new ElfError("truncated", "string table runs past the file end");
      const strtab = this.bytes.subarray(stroff, stroff + strsize);
      const count = Math.floor(symsize / entsize);
      for (let k = 1; k < count; k++) {
        const s = symoff + k * entsize;
        const nameOff = this.u32(s);
        if (nameOff === 0) continue;
        if (nameOff >= strtab.length)
          throw new ElfError("bad-symtab", `symbol ${k} name offset ${nameOff} is outside the string table`);
        const name = cString(strtab, nameOff);
        if (map.has(name)) continue; // first definition wins, as in a linker map lookup
        const info = this.bytes[s + 4];
        map.set(name, {
          name,
          value: this.view.getBigUint64(s + 8, true),
          size: this.size64(s + 16, `symbol ${name} st_size`, "bad-symtab"),
          type: info & 0xf,
          bind: info >>> 4,
        });
      }
    }
    return map;
  }
}

/** A NUL-terminated name; an unterminated one ends at the table end rather than reading past it. */
function cString(table: Uint8Array, off: number): string {
  let end = off;
  while (end < table.length && table[end] !== 0) end++;
  let s = "";
  for (let i = off; i < end; i++) s += String.fromCharCode(table[i]);
  return s;
}

/** Parses an ELF64 RISC-V executable; throws ElfError on anything malformed. */
export function parseElf(bytes: Uint8Array): ElfFile {
  return new ElfFile(bytes);
}
