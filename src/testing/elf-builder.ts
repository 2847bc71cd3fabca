// Builds small ELF64 images by hand for the ELF and loader tests (no toolchain needed).

export interface SegmentSpec {
  vaddr: bigint;
  paddr?: bigint;
  data: Uint8Array;
  memsz?: number;
  flags?: number;
  type?: number;
}

export interface SymbolSpec {
  name: string;
  value: bigint;
  size?: number;
}

export interface ElfSpec {
  entry: bigint;
  segments: SegmentSpec[];
  symbols?: SymbolSpec[];
  type?: number;
  machine?: number;
  elfClass?: number;
  data?: number;
}

/** Layout: ehdr, phdrs, segment data, strtab, symtab, shstrtab-less section headers (null, symtab, strtab). */
export function buildElf(spec: ElfSpec): Uint8Array {
  const phnum = spec.segments.length;
  let off = 64 + 56 * phnum;
  const segOffsets: number[] = [];
  for (const s of spec.segments) {
    off = (off + 7) & ~7;
    segOffsets.push(off);
    off += s.data.length;
  }
  const syms = spec.symbols ?? [];
  const names: number[] = [];
  const strParts: number[] = [0];
  for (const s of syms) {
    names.push(strParts.length);
    for (const c of s.name) strParts.push(c.charCodeAt(0));
    strParts.push(0);
  }
  off = (off + 7) & ~7;
  const strOff = off;
  off += strParts.length;
  off = (off + 7) & ~7;
  const symOff = off;
  const symSize = 24 * (syms.length + 1);
  off += symSize;
  off = (off + 7) & ~7;
  const shOff = syms.length > 0 ? off : 0;
  const shnum = syms.length > 0 ? 3 : 0;
  off += 64 * shnum;

  const b = new Uint8Array(off);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, spec.elfClass ?? 2, spec.data ?? 1, 1, 0]);
  v.setUint16(16, spec.type ?? 2, true);
  v.setUint16(18, spec.machine ?? 243, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, spec.entry, true);
  v.setBigUint64(32, 64n, true);
  v.setBigUint64(40, BigInt(shOff), true);
  v.setUint16(52, 64, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, phnum, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, shnum, true);
  spec.segments.forEach((s, i) => {
    const ph = 64 + 56 * i;
    v.setUint32(ph, s.type ?? 1, true);
    v.setUint32(ph + 4, s.flags ?? 7, true);
    v.setBigUint64(ph + 8, BigInt(segOffsets[i]), true);
    v.setBigUint64(ph + 16, s.vaddr, true);
    v.setBigUint64(ph + 24, s.paddr ?? s.vaddr, true);
    v.setBigUint64(ph + 32, BigInt(s.data.length), true);
    v.setBigUint64(ph + 40, BigInt(s.memsz ?? s.data.length), true);
    v.setBigUint64(ph + 48, 8n, true);
    b.set(s.data, segOffsets[i]);
  });
  if (shnum > 0) {
    b.set(strParts, strOff);
    syms.forEach((s, i) => {
      const e = symOff + 24 * (i + 1);
      v.setUint32(e, names[i], true);
      b[e + 4] = 0x10; // STB_GLOBAL, STT_NOTYPE
      v.setUint16(e + 6, 1, true);
      v.setBigUint64(e + 8, s.value, true);
      v.setBigUint64(e + 16, BigInt(s.size ?? 8), true);
    });
    const sh1 = shOff + 64; // .symtab
    v.setUint32(sh1 + 4, 2, true);
    v.setBigUint64(sh1 + 24, BigInt(symOff), true);
    v.setBigUint64(sh1 + 32, BigInt(symSize), true);
    v.setUint32(sh1 + 40, 2, true);
    v.setBigUint64(sh1 + 56, 24n, true);
    const sh2 = shOff + 128; // .strtab
    v.setUint32(sh2 + 4, 3, true);
    v.setBigUint64(sh2 + 24, BigInt(strOff), true);
    v.setBigUint64(sh2 + 32, BigInt(strParts.length), true);
  }
  return b;
}

/** Byte offsets of header fields the tests corrupt. */
export const EHDR = { phoff: 32, shoff: 40, phentsize: 54, phnum: 56, shentsize: 58, shnum: 60 } as const;
export const PHDR0 = { offset: 64 + 8, vaddr: 64 + 16, paddr: 64 + 24, filesz: 64 + 32, memsz: 64 + 40 } as const;
