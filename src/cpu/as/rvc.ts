// AssemblyScript: RVC (the C extension, RV64) — every 16-bit parcel expanded into its 32-bit equivalent, so
// the interpreter and the block compiler (src/cpu/wasm-core-jit.ts, which reads the same table) decode one
// instruction set. Unprivileged ISA, "C" chapter, RV64 column. A parcel maps to 0 when it is reserved or
// illegal (the all-zero word is illegal in both encodings, so 0 is a safe marker). The table is built by
// the core itself at init (64 Ki entries, well under a millisecond in wasm), not shipped or built by the host.

const OP_LOAD: u32 = 0x03;
const OP_LOAD_FP: u32 = 0x07;
const OP_IMM: u32 = 0x13;
const OP_IMM_32: u32 = 0x1b;
const OP_STORE: u32 = 0x23;
const OP_STORE_FP: u32 = 0x27;
const OP: u32 = 0x33;
const OP_LUI: u32 = 0x37;
const OP_32: u32 = 0x3b;
const OP_BRANCH: u32 = 0x63;
const OP_JALR: u32 = 0x67;
const OP_JAL: u32 = 0x6f;

@inline function bits(x: u32, hi: u32, lo: u32): u32 {
  return (x >> lo) & ((<u32>1 << (hi - lo + 1)) - 1);
}

@inline function sext(v: u32, width: u32): i32 {
  const s = 32 - width;
  return (<i32>(v << s)) >> s;
}

@inline function iType(imm: i32, rs1: u32, f3: u32, rd: u32, op: u32): u32 {
  return ((<u32>imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

@inline function sType(imm: u32, rs2: u32, rs1: u32, f3: u32, op: u32): u32 {
  return (((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 0x1f) << 7) | op;
}

@inline function rType(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, op: u32): u32 {
  return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}

function bType(imm: i32, rs1: u32, f3: u32): u32 {
  const u = <u32>imm;
  return (
    (((u >> 12) & 1) << 31) |
    (((u >> 5) & 0x3f) << 25) |
    (rs1 << 15) |
    (f3 << 12) |
    (((u >> 1) & 0xf) << 8) |
    (((u >> 11) & 1) << 7) |
    OP_BRANCH
  );
}

function jType(imm: i32): u32 {
  const u = <u32>imm;
  return (((u >> 20) & 1) << 31) | (((u >> 1) & 0x3ff) << 21) | (((u >> 11) & 1) << 20) | (((u >> 12) & 0xff) << 12) | OP_JAL;
}

/** Expands one 16-bit parcel (low two bits != 3). Returns 0 for reserved or illegal encodings. */
export function expandCompressed(c: u32): u32 {
  const op = c & 3;
  const f3 = bits(c, 15, 13);
  const rdp = 8 + bits(c, 4, 2); // rd' / rs2'
  const rs1p = 8 + bits(c, 9, 7); // rs1' / rd'
  const rd = bits(c, 11, 7);
  const rs2 = bits(c, 6, 2);
  const imm6 = sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
  // Offsets of the D/L-sized (8-byte) and W-sized (4-byte) register-relative forms.
  const uimmD = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
  const uimmW = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6);
  if (op == 0) {
    switch (f3) {
      case 0: {
        const nzuimm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 3);
        if (nzuimm == 0) return 0; // includes the all-zero illegal instruction
        return iType(<i32>nzuimm, 2, 0, rdp, OP_IMM); // C.ADDI4SPN
      }
      case 1:
        return iType(<i32>uimmD, rs1p, 3, rdp, OP_LOAD_FP); // C.FLD
      case 2:
        return iType(<i32>uimmW, rs1p, 2, rdp, OP_LOAD); // C.LW
      case 3:
        return iType(<i32>uimmD, rs1p, 3, rdp, OP_LOAD); // C.LD
      case 5:
        return sType(uimmD, rdp, rs1p, 3, OP_STORE_FP); // C.FSD
      case 6:
        return sType(uimmW, rdp, rs1p, 2, OP_STORE); // C.SW
      case 7:
        return sType(uimmD, rdp, rs1p, 3, OP_STORE); // C.SD
      default:
        return 0;
    }
  }
  if (op == 1) {
    switch (f3) {
      case 0:
        return iType(imm6, rd, 0, rd, OP_IMM); // C.ADDI / C.NOP (HINTs execute as the base op)
      case 1:
        if (rd == 0) return 0;
        return iType(imm6, rd, 0, rd, OP_IMM_32); // C.ADDIW
      case 2:
        return iType(imm6, 0, 0, rd, OP_IMM); // C.LI
      case 3: {
        if (rd == 2) {
          const nz = sext(
            (bits(c, 12, 12) << 9) |
              (bits(c, 6, 6) << 4) |
              (bits(c, 5, 5) << 6) |
              (bits(c, 4, 3) << 7) |
              (bits(c, 2, 2) << 5),
            10,
          );
          if (nz == 0) return 0;
          return iType(nz, 2, 0, 2, OP_IMM); // C.ADDI16SP
        }
        if (imm6 == 0) return 0;
        return ((<u32>imm6 << 12) & 0xfffff000) | (rd << 7) | OP_LUI; // C.LUI
      }
      case 4: {
        const f2 = bits(c, 11, 10);
        const shamt = (bits(c, 12, 12) << 5) | bits(c, 6, 2);
        if (f2 == 0) return iType(<i32>shamt, rs1p, 5, rs1p, OP_IMM); // C.SRLI
        if (f2 == 1) return iType(<i32>(shamt | 0x400), rs1p, 5, rs1p, OP_IMM); // C.SRAI
        if (f2 == 2) return iType(imm6, rs1p, 7, rs1p, OP_IMM); // C.ANDI
        const sub = bits(c, 6, 5);
        if (bits(c, 12, 12) == 0) {
          if (sub == 0) return rType(0x20, rdp, rs1p, 0, rs1p, OP); // C.SUB
          if (sub == 1) return rType(0, rdp, rs1p, 4, rs1p, OP); // C.XOR
          if (sub == 2) return rType(0, rdp, rs1p, 6, rs1p, OP); // C.OR
          return rType(0, rdp, rs1p, 7, rs1p, OP); // C.AND
        }
        if (sub == 0) return rType(0x20, rdp, rs1p, 0, rs1p, OP_32); // C.SUBW
        if (sub == 1) return rType(0, rdp, rs1p, 0, rs1p, OP_32); // C.ADDW
        return 0;
      }
      case 5: {
        const imm = sext(
          (bits(c, 12, 12) << 11) |
            (bits(c, 11, 11) << 4) |
            (bits(c, 10, 9) << 8) |
            (bits(c, 8, 8) << 10) |
            (bits(c, 7, 7) << 6) |
            (bits(c, 6, 6) << 7) |
            (bits(c, 5, 3) << 1) |
            (bits(c, 2, 2) << 5),
          12,
        );
        return jType(imm); // C.J
      }
      default: {
        const imm = sext(
          (bits(c, 12, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) | (bits(c, 2, 2) << 5),
          9,
        );
        return bType(imm, rs1p, f3 == 6 ? 0 : 1); // C.BEQZ / C.BNEZ
      }
    }
  }
  if (op == 2) {
    const uimmDsp = (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
    switch (f3) {
      case 0:
        return iType(<i32>((bits(c, 12, 12) << 5) | bits(c, 6, 2)), rd, 1, rd, OP_IMM); // C.SLLI
      case 1:
        return iType(<i32>uimmDsp, 2, 3, rd, OP_LOAD_FP); // C.FLDSP
      case 2: {
        if (rd == 0) return 0;
        const uimm = (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
        return iType(<i32>uimm, 2, 2, rd, OP_LOAD); // C.LWSP
      }
      case 3:
        if (rd == 0) return 0;
        return iType(<i32>uimmDsp, 2, 3, rd, OP_LOAD); // C.LDSP
      case 4:
        if (bits(c, 12, 12) == 0) {
          if (rs2 == 0) {
            if (rd == 0) return 0;
            return iType(0, rd, 0, 0, OP_JALR); // C.JR
          }
          return rType(0, rs2, 0, 0, rd, OP); // C.MV
        }
        if (rs2 == 0) {
          if (rd == 0) return 0x00100073; // C.EBREAK
          return iType(0, rd, 0, 1, OP_JALR); // C.JALR
        }
        return rType(0, rs2, rd, 0, rd, OP); // C.ADD
      case 5:
        return sType((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6), rs2, 2, 3, OP_STORE_FP); // C.FSDSP
      case 6:
        return sType((bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6), rs2, 2, 2, OP_STORE); // C.SWSP
      default:
        return sType((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6), rs2, 2, 3, OP_STORE); // C.SDSP
    }
  }
  return 0;
}

/** Fills the 64 Ki-entry table at `at` (u32 each; 32-bit parcels, low bits 3, stay 0). */
export function buildRvcTable(at: usize): void {
  for (let c: u32 = 0; c < 65536; c++) store<u32>(at + (<usize>c << 2), (c & 3) == 3 ? 0 : expandCompressed(c));
}
