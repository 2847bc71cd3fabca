// Seeded random instruction sequences for the differential test against QEMU (diff.test.ts).
//
// One seed gives one assembly program:
//   prologue  f0..f31, fcsr and x1..x31 from a data table of random and edge values; sp (x2) and
//             s0 (x8) point into a 512-byte scratch buffer and never change (kept out of the pool)
//   block     N random items: RV64I, M, A (AMOs and LR/SC groups on the scratch buffer), F/D
//             arithmetic and conversions, explicit RVC forms, short forward branches and jumps
//   epilogue  every x and f register and fcsr stored after the scratch buffer, then
//             write(1, scratch, 1032) and exit(0) — under qemu-user that dump is stdout; on the
//             vireo hart the first ecall stops the run and the dump is read from RAM
//
// Everything in the block is deterministic under the ISA: no counters, no reads of uninitialised
// state, no LR/SC pairs with memory writes between them (whether such an SC succeeds is
// implementation-defined), no misaligned AMOs.

/** mulberry32: small, fast, good enough for test generation. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  pick<T>(a: readonly T[]): T {
    return a[this.u32() % a.length];
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

/** Scratch buffer size; the register dump follows it. */
export const SCRATCH = 512;
/** Bytes written by the epilogue: scratch, x0..x31, f0..f31, fcsr. */
export const DUMP_BYTES = SCRATCH + 32 * 8 + 32 * 8 + 8;

/** x registers the block may write: all but x0 and the two bases sp (x2) and s0 (x8). */
const POOL = [1, 3, 4, 5, 6, 7, ...Array.from({ length: 23 }, (_, i) => i + 9)];
/** Compressed register-field registers (x8..x15) the block may write: s0 is a base. */
const POOL_C = [9, 10, 11, 12, 13, 14, 15];
const X_EDGES = [
  0n,
  1n,
  2n,
  0xffffffffffffffffn,
  0x7fffffffffffffffn,
  0x8000000000000000n,
  0xffffffffn,
  0x80000000n,
  0x7fffffffn,
  0xffffffff80000000n,
  0x100000000n,
  0xfffffffffffffffen,
  0x1fn,
  0x20n,
  0x3fn,
  0x40n,
];
/** Single-precision edge values (bit patterns). */
const S_EDGES = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc00001,
  0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0x4f000000, 0xcf000000, 0x5f000000, 0x4b800000, 0x3effffff,
  0x3f000000, 0x40490fdb,
];
/** Double-precision edge values (bit patterns). */
const D_EDGES = [
  0x0000000000000000n,
  0x8000000000000000n,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0x7ff0000000000001n,
  0x0000000000000001n,
  0x000fffffffffffffn,
  0x0010000000000000n,
  0x7fefffffffffffffn,
  0x43e0000000000000n,
  0xc3e0000000000000n,
  0x41e0000000000000n,
  0x41efffffffe00000n,
  0x3fe0000000000000n,
  0x400921fb54442d18n,
  0x4330000000000000n,
];

const RMS = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"];

export interface DiffProgram {
  seed: number;
  /** The whole assembly file. */
  source: string;
  /** The random block alone, one instruction (or label) per line, for failure listings. */
  block: string[];
}

const x = (r: number): string => `x${r}`;
const f = (r: number): string => `f${r}`;
const hex64 = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16).padStart(16, "0")}`;

class Gen {
  private label = 0;
  constructor(private readonly r: Rng) {}

  rd(): number {
    return this.r.chance(0.03) ? 0 : this.r.pick(POOL);
  }
  rs(): number {
    // Any register may be read, bases included.
    return this.r.chance(0.05) ? this.r.pick([0, 2, 8]) : this.r.pick(POOL);
  }
  frd(): number {
    return this.r.int(0, 31);
  }
  imm12(): number {
    return this.r.chance(0.25) ? this.r.pick([-2048, 2047, 0, -1, 1, 0x7ff, -0x800 + 1]) : this.r.int(-2048, 2047);
  }
  shamt(max: number): number {
    return this.r.chance(0.4) ? this.r.pick([0, 1, max >> 1, (max >> 1) - 1, max]) : this.r.int(0, max);
  }
  rm(): string {
    return this.r.pick(RMS);
  }

  /** One item: a list of lines that must stay together (branches never jump into its middle). */
  item(depth: number): string[] {
    const k = this.r.int(0, 99);
    if (k < 22) return [this.aluRR()];
    if (k < 38) return [this.aluImm()];
    if (k < 46) return [this.mulDiv()];
    if (k < 56) return [this.loadStore()];
    if (k < 61) return this.amo();
    if (k < 63) return this.lrsc();
    if (k < 80) return [this.fp()];
    if (k < 92) return [this.compressed()];
    if (depth === 0) return this.branch();
    return [this.aluRR()];
  }

  aluRR(): string {
    const op = this.r.pick([
      "add",
      "sub",
      "sll",
      "slt",
      "sltu",
      "xor",
      "srl",
      "sra",
      "or",
      "and",
      "addw",
      "subw",
      "sllw",
      "srlw",
      "sraw",
    ]);
    return `${op} ${x(this.rd())}, ${x(this.rs())}, ${x(this.rs())}`;
  }

  aluImm(): string {
    const op = this.r.pick([
      "addi",
      "slti",
      "sltiu",
      "xori",
      "ori",
      "andi",
      "slli",
      "srli",
      "srai",
      "addiw",
      "slliw",
      "srliw",
      "sraiw",
      "lui",
      "auipc",
    ]);
    if (op === "lui" || op === "auipc") {
      const imm = this.r.chance(0.3) ? this.r.pick([0, 1, 0x7ffff, 0x80000, 0xfffff]) : this.r.int(0, 0xfffff);
      return `${op} ${x(this.rd())}, ${imm}`;
    }
    if (op === "slli" || op === "srli" || op === "srai")
      return `${op} ${x(this.rd())}, ${x(this.rs())}, ${this.shamt(63)}`;
    if (op.endsWith("iw") && op !== "addiw") return `${op} ${x(this.rd())}, ${x(this.rs())}, ${this.shamt(31)}`;
    return `${op} ${x(this.rd())}, ${x(this.rs())}, ${this.imm12()}`;
  }

  mulDiv(): string {
    const op = this.r.pick([
      "mul",
      "mulh",
      "mulhsu",
      "mulhu",
      "div",
      "divu",
      "rem",
      "remu",
      "mulw",
      "divw",
      "divuw",
      "remw",
      "remuw",
    ]);
    return `${op} ${x(this.rd())}, ${x(this.rs())}, ${x(this.rs())}`;
  }

  /** A base (sp: scratch[0..512), s0: scratch[256..512) as -256..255) and an offset for `size` bytes. */
  addr(size: number, align: number): string {
    const aligned = (v: number): number => v - (((v % align) + align) % align);
    if (this.r.chance(0.5)) return `${aligned(this.r.int(0, SCRATCH - size))}(x2)`;
    return `${aligned(this.r.int(-256, 256 - size))}(x8)`;
  }

  loadStore(): string {
    // Integer accesses may be misaligned (the hart does them in hardware; so does qemu-user).
    const misaligned = this.r.chance(0.25);
    const k = this.r.int(0, 14);
    if (k < 7) {
      const [op, size] = this.r.pick([
        ["lb", 1],
        ["lh", 2],
        ["lw", 4],
        ["ld", 8],
        ["lbu", 1],
        ["lhu", 2],
        ["lwu", 4],
      ] as const);
      return `${op} ${x(this.rd())}, ${this.addr(size, misaligned ? 1 : size)}`;
    }
    if (k < 11) {
      const [op, size] = this.r.pick([
        ["sb", 1],
        ["sh", 2],
        ["sw", 4],
        ["sd", 8],
      ] as const);
      return `${op} ${x(this.rs())}, ${this.addr(size, misaligned ? 1 : size)}`;
    }
    const [op, size] = this.r.pick([
      ["flw", 4],
      ["fld", 8],
      ["fsw", 4],
      ["fsd", 8],
    ] as const);
    return `${op} ${f(this.frd())}, ${this.addr(size, misaligned ? 1 : size)}`;
  }

  amo(): string[] {
    const d = this.r.chance(0.5);
    const size = d ? 8 : 4;
    const a = this.r.pick(POOL);
    const off = this.r.int(0, SCRATCH / size - 1) * size;
    const op = this.r.pick([
      "amoswap",
      "amoadd",
      "amoxor",
      "amoand",
      "amoor",
      "amomin",
      "amomax",
      "amominu",
      "amomaxu",
    ]);
    const order = this.r.pick(["", "", ".aq", ".rl", ".aqrl"]);
    return [`addi ${x(a)}, x2, ${off}`, `${op}.${d ? "d" : "w"}${order} ${x(this.rd())}, ${x(this.rs())}, (${x(a)})`];
  }

  /** LR, up to two ALU ops that leave the address register alone, SC (a lone SC fails). */
  lrsc(): string[] {
    const w = this.r.chance(0.5) ? "w" : "d";
    const size = w === "w" ? 4 : 8;
    const a = this.r.pick(POOL);
    const lines = [`addi ${x(a)}, x2, ${this.r.int(0, SCRATCH / size - 1) * size}`];
    const lone = this.r.chance(0.15);
    if (!lone) {
      const rd = this.r.pick(POOL.filter((r) => r !== a));
      lines.push(`lr.${w} ${x(rd)}, (${x(a)})`);
      for (let i = this.r.int(0, 2); i > 0; i--) {
        const op = this.r.pick(["add", "xor", "sub", "or"]);
        const dst = this.r.pick(POOL.filter((r) => r !== a));
        lines.push(`${op} ${x(dst)}, ${x(this.rs())}, ${x(this.rs())}`);
      }
    }
    lines.push(`sc.${w} ${x(this.rd())}, ${x(this.rs())}, (${x(a)})`);
    return lines;
  }

  fp(): string {
    const t = this.r.pick(["s", "d"]);
    const k = this.r.int(0, 99);
    if (k < 30) {
      const op = this.r.pick(["fadd", "fsub", "fmul", "fdiv"]);
      return `${op}.${t} ${f(this.frd())}, ${f(this.frd())}, ${f(this.frd())}, ${this.rm()}`;
    }
    if (k < 35) return `fsqrt.${t} ${f(this.frd())}, ${f(this.frd())}, ${this.rm()}`;
    if (k < 42) {
      const op = this.r.pick(["fmin", "fmax", "fsgnj", "fsgnjn", "fsgnjx"]);
      return `${op}.${t} ${f(this.frd())}, ${f(this.frd())}, ${f(this.frd())}`;
    }
    if (k < 54) {
      const op = this.r.pick(["fmadd", "fmsub", "fnmadd", "fnmsub"]);
      return `${op}.${t} ${f(this.frd())}, ${f(this.frd())}, ${f(this.frd())}, ${f(this.frd())}, ${this.rm()}`;
    }
    if (k < 64) {
      const it = this.r.pick(["w", "wu", "l", "lu"]);
      return `fcvt.${it}.${t} ${x(this.rd())}, ${f(this.frd())}, ${this.rm()}`;
    }
    if (k < 72) {
      const it = this.r.pick(["w", "wu", "l", "lu"]);
      // int → double is exact for 32-bit sources: the assembler takes no rounding mode there.
      if (t === "d" && (it === "w" || it === "wu")) return `fcvt.d.${it} ${f(this.frd())}, ${x(this.rs())}`;
      return `fcvt.${t}.${it} ${f(this.frd())}, ${x(this.rs())}, ${this.rm()}`;
    }
    if (k < 76) {
      if (t === "s") return `fcvt.s.d ${f(this.frd())}, ${f(this.frd())}, ${this.rm()}`;
      return `fcvt.d.s ${f(this.frd())}, ${f(this.frd())}`;
    }
    if (k < 84) {
      const op = this.r.pick(["fmv.x.w", "fmv.w.x", "fmv.x.d", "fmv.d.x"]);
      if (op === "fmv.x.w" || op === "fmv.x.d") return `${op} ${x(this.rd())}, ${f(this.frd())}`;
      return `${op} ${f(this.frd())}, ${x(this.rs())}`;
    }
    if (k < 94) {
      const op = this.r.pick(["feq", "flt", "fle"]);
      return `${op}.${t} ${x(this.rd())}, ${f(this.frd())}, ${f(this.frd())}`;
    }
    return `fclass.${t} ${x(this.rd())}, ${f(this.frd())}`;
  }

  cimm(nonzero: boolean): number {
    for (;;) {
      const v = this.r.chance(0.3) ? this.r.pick([-32, 31, -1, 1, 0]) : this.r.int(-32, 31);
      if (!nonzero || v !== 0) return v;
    }
  }

  compressed(): string {
    const rc = (): number => this.r.pick(POOL_C);
    const rcSrc = (): number => this.r.pick([8, ...POOL_C]);
    const k = this.r.int(0, 26);
    switch (k) {
      case 0:
        return `c.addi ${x(this.r.pick(POOL))}, ${this.cimm(true)}`;
      case 1:
        return `c.addiw ${x(this.r.pick(POOL))}, ${this.cimm(false)}`;
      case 2:
        return `c.li ${x(this.r.pick(POOL))}, ${this.cimm(false)}`;
      case 3: {
        const imm = this.r.chance(0.5) ? this.r.int(1, 31) : this.r.int(0xfffe0, 0xfffff);
        return `c.lui ${x(this.r.pick(POOL))}, ${imm}`;
      }
      case 4:
        return `c.slli ${x(this.r.pick(POOL))}, ${this.r.pick([1, 31, 32, 63, this.r.int(1, 63)])}`;
      case 5:
        return `c.srli ${x(rc())}, ${this.r.pick([1, 31, 32, 63, this.r.int(1, 63)])}`;
      case 6:
        return `c.srai ${x(rc())}, ${this.r.pick([1, 31, 32, 63, this.r.int(1, 63)])}`;
      case 7:
        return `c.andi ${x(rc())}, ${this.cimm(false)}`;
      case 8:
        return `c.mv ${x(this.r.pick(POOL))}, ${x(this.r.pick([2, 8, ...POOL]))}`;
      case 9:
        return `c.add ${x(this.r.pick(POOL))}, ${x(this.r.pick([2, 8, ...POOL]))}`;
      case 10:
      case 11: {
        const op = this.r.pick(["c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw"]);
        return `${op} ${x(rc())}, ${x(rcSrc())}`;
      }
      case 12:
        return `c.lw ${x(rc())}, ${this.r.int(0, 31) * 4}(x8)`;
      case 13:
        return `c.ld ${x(rc())}, ${this.r.int(0, 31) * 8}(x8)`;
      case 14:
        return `c.sw ${x(rcSrc())}, ${this.r.int(0, 31) * 4}(x8)`;
      case 15:
        return `c.sd ${x(rcSrc())}, ${this.r.int(0, 31) * 8}(x8)`;
      case 16:
        return `c.lwsp ${x(this.r.pick(POOL))}, ${this.r.int(0, 63) * 4}(x2)`;
      case 17:
        return `c.ldsp ${x(this.r.pick(POOL))}, ${this.r.int(0, 63) * 8}(x2)`;
      case 18:
        return `c.swsp ${x(this.rs())}, ${this.r.int(0, 63) * 4}(x2)`;
      case 19:
        return `c.sdsp ${x(this.rs())}, ${this.r.int(0, 63) * 8}(x2)`;
      case 20:
        return `c.fld ${f(this.r.int(8, 15))}, ${this.r.int(0, 31) * 8}(x8)`;
      case 21:
        return `c.fsd ${f(this.r.int(8, 15))}, ${this.r.int(0, 31) * 8}(x8)`;
      case 22:
        return `c.fldsp ${f(this.frd())}, ${this.r.int(0, 63) * 8}(x2)`;
      case 23:
        return `c.fsdsp ${f(this.frd())}, ${this.r.int(0, 63) * 8}(x2)`;
      case 24:
        return `c.addi4spn ${x(rc())}, x2, ${this.r.int(1, 255) * 4}`;
      case 25:
        return "c.nop";
      default:
        return `c.mv ${x(this.r.pick(POOL))}, ${x(this.r.pick(POOL))}`;
    }
  }

  /** A short forward branch or jump over 1..3 items. */
  branch(): string[] {
    const l = `.Lskip${this.label++}`;
    const k = this.r.int(0, 9);
    let head: string;
    if (k < 6) {
      const op = this.r.pick(["beq", "bne", "blt", "bge", "bltu", "bgeu"]);
      // Equal operands half the time so beq/bge/bgeu are taken often too.
      const a = this.rs();
      head = `${op} ${x(a)}, ${x(this.r.chance(0.3) ? a : this.rs())}, ${l}`;
    } else if (k < 8) {
      head = `${this.r.pick(["c.beqz", "c.bnez"])} ${x(this.r.pick([8, ...POOL_C]))}, ${l}`;
    } else if (k < 9) {
      head = `jal ${x(this.rd())}, ${l}`;
    } else {
      head = `c.j ${l}`;
    }
    const body: string[] = [];
    for (let i = this.r.int(1, 3); i > 0; i--) body.push(...this.item(1));
    return [head, ...body, `${l}:`];
  }
}

function xInit(r: Rng): bigint {
  const k = r.int(0, 9);
  if (k < 3) return r.pick(X_EDGES);
  if (k < 5) return BigInt.asUintN(64, BigInt(r.int(-16, 16)));
  if (k < 6) return BigInt.asUintN(64, BigInt.asIntN(32, BigInt(r.u32())));
  return r.u64();
}

function fInit(r: Rng): bigint {
  const k = r.int(0, 11);
  const box = (bits: number): bigint => 0xffffffff00000000n | BigInt(bits >>> 0);
  if (k < 3) return box(r.pick(S_EDGES));
  if (k < 5) return box(r.u32());
  if (k < 8) return r.pick(D_EDGES);
  if (k < 10) return r.u64();
  // Small integers as doubles and singles, so conversions and compares see exact values too.
  const v = r.int(-1000, 1000) / r.pick([1, 2, 4, 3]);
  const b = new DataView(new ArrayBuffer(8));
  if (r.chance(0.5)) {
    b.setFloat64(0, v);
    return b.getBigUint64(0);
  }
  b.setFloat32(0, v);
  return box(b.getUint32(0));
}

export function generate(seed: number, length: number): DiffProgram {
  const r = new Rng(seed);
  const g = new Gen(r);
  const block: string[] = [];
  let items = 0;
  while (items < length) {
    const it = g.item(0);
    block.push(...it);
    items++;
  }
  const xs = Array.from({ length: 32 }, (_, i) => (i === 0 ? 0n : xInit(r)));
  const fs = Array.from({ length: 32 }, () => fInit(r));
  // frm: a valid mode (dyn instructions with a reserved frm would be illegal); fflags random.
  const fcsr = (r.int(0, 4) << 5) | r.int(0, 31);
  const scratch = Array.from({ length: SCRATCH / 8 }, () => (r.chance(0.2) ? r.pick(X_EDGES) : r.u64()));

  const s: string[] = [];
  s.push(`# vireo differential test, seed ${seed}, ${length} items (generated by tests/diff/gen.ts)`);
  s.push('  .section .text.init, "ax", @progbits', "  .globl _start", "_start:");
  s.push("  la x31, init_f");
  for (let i = 0; i < 32; i++) s.push(`  fld f${i}, ${i * 8}(x31)`);
  s.push("  la x31, init_fcsr", "  ld x30, 0(x31)", "  fscsr x30");
  s.push("  la x31, init_x");
  for (let i = 1; i < 31; i++) if (i !== 2 && i !== 8) s.push(`  ld x${i}, ${i * 8}(x31)`);
  s.push("  la x2, area", "  addi x8, x2, 256", "  ld x31, 248(x31)");
  s.push("  .globl block_start", "block_start:");
  for (const line of block) s.push(line.endsWith(":") ? line : `  ${line}`);
  s.push("  .globl block_end", "block_end:");
  for (let i = 1; i < 32; i++) s.push(`  sd x${i}, ${SCRATCH + i * 8}(x2)`);
  for (let i = 0; i < 32; i++) s.push(`  fsd f${i}, ${SCRATCH + 256 + i * 8}(x2)`);
  s.push("  frcsr x5", `  sd x5, ${SCRATCH + 512}(x2)`);
  s.push("  li a7, 64", "  li a0, 1", "  mv a1, x2", `  li a2, ${DUMP_BYTES}`);
  s.push("  .globl dump_ecall", "dump_ecall:", "  ecall");
  s.push("  li a7, 93", "  li a0, 0", "  ecall");
  // The vireo run points mtvec here: an unexpected trap parks the hart where the runner sees it.
  s.push("  .balign 4", "  .globl hart_trap", "hart_trap:", "  j hart_trap");
  s.push("  .data", "  .balign 16");
  s.push("init_x:", ...xs.map((v) => `  .dword ${hex64(v)}`));
  s.push("init_f:", ...fs.map((v) => `  .dword ${hex64(v)}`));
  s.push("init_fcsr:", `  .dword ${fcsr}`);
  s.push("  .balign 16", "  .globl area", "area:", ...scratch.map((v) => `  .dword ${hex64(v)}`));
  s.push(`  .fill ${DUMP_BYTES - SCRATCH}, 1, 0`);
  return { seed, source: `${s.join("\n")}\n`, block };
}
