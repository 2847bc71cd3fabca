// A block compiler: straight-line runs of RV64IMC instructions become JavaScript functions, so a hot
// loop pays the interpreter's fetch, decode and dispatch once, when it is compiled, instead of on
// every pass. This is the step before the WebAssembly JIT: the same block discovery, invalidation and
// trap contract, with JS source as the backend (V8 compiles it to machine code).
//
// Blocks are keyed by where their first instruction sits in guest RAM (a halfword index), not by
// virtual address, so they survive address-space switches and never alias across them. A block never
// crosses a 4 KiB page. It ends with a control transfer (branch, JAL, JALR: included) or before
// anything the block compiler leaves to the interpreter (SYSTEM, FENCE/FENCE.I, AMO, floating point,
// illegal encodings), or at the page end, or at MAX_BLOCK instructions.
//
// Coherence is stronger than the ISA asks (it only promises fetches see stores after FENCE.I): a page
// with compiled blocks is write-protected in the hart's store TLB and watched for device DMA, and any
// write to it drops its blocks. So FENCE.I has nothing to do, and Linux's frequent FENCE.Is (one per
// new executable page) do not throw away the kernel's hot blocks.
//
// Traps: loads and stores may throw TRAP (hart-memory.ts). Before each one the block stores how many
// of its instructions have retired in `jitDone`; the hart turns that into the faulting instruction's
// pc and the retired count. Instructions before the fault have had all their effects.

import { div32, div64, mul64, mulh64, out } from "./alu.ts";
import { blockInsn, type CodeSource, MAX_BLOCK } from "./block-source.ts";
import type { HartMemory } from "./hart-memory.ts";

import { AUX } from "./state.ts";
import { genWasmBlock, WasmBlockTable, type WasmJitEnv } from "./wasm-jit.ts";

/** Executions of a block entry before it is compiled (cold code stays interpreted). */
export const DEFAULT_JIT_THRESHOLD = 64;
/**
 * The same for the wasm backend, which compiles every hot block, not only loops. Measured on a Linux
 * boot plus a shell loop: 64 compiles 9.2 K blocks and the boot pays for it (4.9 s vs 3.1 s
 * interpreted); 256 compiles 4 K, boots in 3.3 s and runs the loop 1.7× faster than the JS backend.
 */
export const DEFAULT_WASM_THRESHOLD = 256;
/** Wasm blocks compiled per module at most (a module costs ~100 µs however small). */
const WASM_BATCH = 256;
/** At the end of a run(), a batch this big is compiled… */
const WASM_BATCH_MIN = 32;
/** …and a smaller one after this many runs. */
const WASM_BATCH_RUNS = 16;

/** What a compiled block needs from the hart at run time (public view of the fields it touches). */
export interface JitHart extends HartMemory {
  pcLo: number;
  pcHi: number;
  jitDone: number;
}

/**
 * Runs the block with its first instruction at (pcLo, pcHi); returns instructions retired. A block
 * that loops to its own start runs its loop in JS, while the retired count stays within `budget`.
 */
export type BlockFn = (h: JitHart, x: Int32Array, pcLo: number, pcHi: number, budget: number) => number;

/** Code generation for one instruction: statements, and whether it ends the block. */
interface Gen {
  code: string;
  ends: boolean;
  /** For a conditional branch: its operands' loads, its condition and its offset (loop detection). */
  branch?: { pre: string; cond: string; imm: number };
}

const X = (r: number): string => `x[${r * 2}]`;
const XH = (r: number): string => `x[${r * 2 + 1}]`;

/** Writes rd from expressions held in locals rl/rh (x0 discards). */
function wr(rd: number): string {
  return rd === 0 ? "" : `${X(rd)}=rl;${XH(rd)}=rh;`;
}

/** 64-bit add of (alo, ahi) and a sign-extended 32-bit constant into rl/rh. */
function addImm(imm: number): string {
  return `rl=(al+${imm})|0;rh=(ah+${imm >> 31}+((rl>>>0)<(al>>>0)?1:0))|0;`;
}

function shl(sh: string): string {
  return `if(${sh}===0){rl=al;rh=ah;}else if(${sh}<32){rh=(ah<<${sh})|(al>>>(32-${sh}));rl=al<<${sh};}else{rh=al<<(${sh}-32);rl=0;}`;
}
function shrl(sh: string): string {
  return `if(${sh}===0){rl=al;rh=ah;}else if(${sh}<32){rl=(al>>>${sh})|(ah<<(32-${sh}));rh=ah>>>${sh};}else{rl=ah>>>(${sh}-32);rh=0;}`;
}
function shra(sh: string): string {
  return `if(${sh}===0){rl=al;rh=ah;}else if(${sh}<32){rl=(al>>>${sh})|(ah<<(32-${sh}));rh=ah>>${sh};}else{rl=ah>>(${sh}-32);rh=ah>>31;}`;
}

/** Constant-shift forms: the branches resolve at compile time. */
function shlC(sh: number): string {
  if (sh === 0) return "rl=al;rh=ah;";
  if (sh < 32) return `rh=(ah<<${sh})|(al>>>${32 - sh});rl=al<<${sh};`;
  return `rh=al<<${sh - 32};rl=0;`;
}
function shrlC(sh: number): string {
  if (sh === 0) return "rl=al;rh=ah;";
  if (sh < 32) return `rl=(al>>>${sh})|(ah<<${32 - sh});rh=ah>>>${sh};`;
  return `rl=ah>>>${sh - 32};rh=0;`;
}
function shraC(sh: number): string {
  if (sh === 0) return "rl=al;rh=ah;";
  if (sh < 32) return `rl=(al>>>${sh})|(ah<<${32 - sh});rh=ah>>${sh};`;
  return `rl=ah>>${sh - 32};rh=ah>>31;`;
}

const A = (rs1: number): string => `al=${X(rs1)};ah=${XH(rs1)};`;
const AB = (rs1: number, rs2: number): string => `al=${X(rs1)};ah=${XH(rs1)};bl=${X(rs2)};bh=${XH(rs2)};`;

/** Sets the next pc to this instruction's pc + delta (pc of the instruction = pcLo + off, same page). */
function setPcRel(off: number, delta: number): string {
  return `p=(pcLo+${off})|0;t=(p+${delta | 0})|0;h.pcLo=t;h.pcHi=(pcHi+${delta >> 31}+((t>>>0)<(p>>>0)?1:0))|0;`;
}

/** Effective address rs1 + imm into (el, eh). */
function ea(rs1: number, imm: number): string {
  return `bl=${X(rs1)};el=(bl+${imm})|0;eh=(${XH(rs1)}+${imm >> 31}+((el>>>0)<(bl>>>0)?1:0))|0;`;
}

/**
 * The code for one (expanded) instruction at byte offset `off` from the block start, `k` instructions
 * into the block; undefined when the interpreter must run it.
 */
function gen(insn: number, len: number, off: number, k: number): Gen | undefined {
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  const f3 = (insn >>> 12) & 7;
  const next = off + len;
  switch (insn & 0x7f) {
    case 0x37: {
      const v = insn & 0xfffff000;
      return { code: rd === 0 ? "" : `${X(rd)}=${v | 0};${XH(rd)}=${v >> 31};`, ends: false };
    }
    case 0x17: {
      const ilo = insn & 0xfffff000;
      if (rd === 0) return { code: "", ends: false };
      return {
        code: `p=(pcLo+${off})|0;rl=(p+${ilo | 0})|0;rh=(pcHi+${ilo >> 31}+((rl>>>0)<(p>>>0)?1:0))|0;${wr(rd)}`,
        ends: false,
      };
    }
    case 0x6f: {
      const imm = ((insn >> 11) & 0xfff00000) | (insn & 0xff000) | ((insn >>> 9) & 0x800) | ((insn >>> 20) & 0x7fe);
      const link = rd === 0 ? "" : `p=(pcLo+${next})|0;${X(rd)}=p;${XH(rd)}=pcHi;`;
      // The link is pc + len of this instruction: same page unless the jump sits at the page's end,
      // where pcLo + next may carry.
      const linkCarry = rd === 0 ? "" : `if((p>>>0)<(pcLo>>>0)){${XH(rd)}=(pcHi+1)|0;}`;
      return { code: `${link}${linkCarry}${setPcRel(off, imm)}`, ends: true };
    }
    case 0x67: {
      if (f3 !== 0) return undefined;
      const imm = insn >> 20;
      const link = rd === 0 ? "" : `p=(pcLo+${next})|0;${X(rd)}=p;${XH(rd)}=((p>>>0)<(pcLo>>>0))?(pcHi+1)|0:pcHi;`;
      // Target from rs1 before rd is written (rd may equal rs1).
      return {
        code: `al=${X(rs1)};ah=${XH(rs1)};t=(al+${imm})|0;th=(ah+${imm >> 31}+((t>>>0)<(al>>>0)?1:0))|0;${link}h.pcLo=t&-2;h.pcHi=th;`,
        ends: true,
      };
    }
    case 0x63: {
      let cond: string;
      switch (f3) {
        case 0:
          cond = "al===bl&&ah===bh";
          break;
        case 1:
          cond = "al!==bl||ah!==bh";
          break;
        case 4:
          cond = "ah<bh||(ah===bh&&(al>>>0)<(bl>>>0))";
          break;
        case 5:
          cond = "ah>bh||(ah===bh&&(al>>>0)>=(bl>>>0))";
          break;
        case 6:
          cond = "(ah>>>0)<(bh>>>0)||(ah===bh&&(al>>>0)<(bl>>>0))";
          break;
        case 7:
          cond = "(ah>>>0)>(bh>>>0)||(ah===bh&&(al>>>0)>=(bl>>>0))";
          break;
        default:
          return undefined;
      }
      const imm = ((insn >> 19) & 0xfffff000) | ((insn << 4) & 0x800) | ((insn >>> 20) & 0x7e0) | ((insn >>> 7) & 0x1e);
      return {
        code: `${AB(rs1, rs2)}if(${cond}){${setPcRel(off, imm)}}else{${setPcRel(off, len)}}`,
        ends: true,
        branch: { pre: AB(rs1, rs2), cond, imm },
      };
    }
    case 0x03: {
      const imm = insn >> 20;
      const pre = `h.jitDone=n+${k};${ea(rs1, imm)}`;
      let load: string;
      switch (f3) {
        case 0:
          load = "rl=(h.load8(el,eh)<<24)>>24;rh=rl>>31;";
          break;
        case 1:
          load = "rl=(h.load16(el,eh)<<16)>>16;rh=rl>>31;";
          break;
        case 2:
          load = "rl=h.load32(el,eh);rh=rl>>31;";
          break;
        case 3:
          load = "rl=h.load64(el,eh);rh=h.loadHi;";
          break;
        case 4:
          load = "rl=h.load8(el,eh);rh=0;";
          break;
        case 5:
          load = "rl=h.load16(el,eh);rh=0;";
          break;
        case 6:
          load = "rl=h.load32(el,eh);rh=0;";
          break;
        default:
          return undefined;
      }
      return { code: `${pre}${load}${wr(rd)}`, ends: false };
    }
    case 0x23: {
      const imm = ((insn >> 20) & ~31) | ((insn >>> 7) & 31);
      const pre = `h.jitDone=n+${k};${ea(rs1, imm)}`;
      switch (f3) {
        case 0:
          return { code: `${pre}h.store8(el,eh,${X(rs2)}&0xff);`, ends: false };
        case 1:
          return { code: `${pre}h.store16(el,eh,${X(rs2)}&0xffff);`, ends: false };
        case 2:
          return { code: `${pre}h.store32(el,eh,${X(rs2)});`, ends: false };
        case 3:
          return { code: `${pre}h.store64(el,eh,${X(rs2)},${XH(rs2)});`, ends: false };
        default:
          return undefined;
      }
    }
    case 0x13: {
      const imm = insn >> 20;
      let op: string;
      switch (f3) {
        case 0:
          op = addImm(imm);
          break;
        case 1:
          if (insn >>> 26 !== 0) return undefined;
          op = shlC((insn >>> 20) & 63);
          break;
        case 2:
          op = `rl=(ah<${imm >> 31}||(ah===${imm >> 31}&&(al>>>0)<${imm >>> 0}))?1:0;rh=0;`;
          break;
        case 3:
          op = `rl=((ah>>>0)<${(imm >> 31) >>> 0}||(ah===${imm >> 31}&&(al>>>0)<${imm >>> 0}))?1:0;rh=0;`;
          break;
        case 4:
          op = `rl=al^${imm};rh=ah^${imm >> 31};`;
          break;
        case 5: {
          const top = insn >>> 26;
          const sh = (insn >>> 20) & 63;
          if (top === 0) op = shrlC(sh);
          else if (top === 0x10) op = shraC(sh);
          else return undefined;
          break;
        }
        case 6:
          op = `rl=al|${imm};rh=ah|${imm >> 31};`;
          break;
        default:
          op = `rl=al&${imm};rh=ah&${imm >> 31};`;
          break;
      }
      return { code: rd === 0 ? "" : `${A(rs1)}${op}${wr(rd)}`, ends: false };
    }
    case 0x1b: {
      const sh = (insn >>> 20) & 31;
      const top = insn >>> 25;
      let op: string;
      if (f3 === 0) op = `rl=(al+${insn >> 20})|0;`;
      else if (f3 === 1 && top === 0) op = `rl=al<<${sh};`;
      else if (f3 === 5 && top === 0) op = `rl=al>>>${sh};`;
      else if (f3 === 5 && top === 0x20) op = `rl=al>>${sh};`;
      else return undefined;
      return { code: rd === 0 ? "" : `al=${X(rs1)};${op}rl|=0;rh=rl>>31;${wr(rd)}`, ends: false };
    }
    case 0x33: {
      const f7 = insn >>> 25;
      let op: string;
      if (f7 === 0) {
        switch (f3) {
          case 0:
            op = "rl=(al+bl)|0;rh=(ah+bh+((rl>>>0)<(al>>>0)?1:0))|0;";
            break;
          case 1:
            op = `s=bl&63;${shl("s")}`;
            break;
          case 2:
            op = "rl=(ah<bh||(ah===bh&&(al>>>0)<(bl>>>0)))?1:0;rh=0;";
            break;
          case 3:
            op = "rl=((ah>>>0)<(bh>>>0)||(ah===bh&&(al>>>0)<(bl>>>0)))?1:0;rh=0;";
            break;
          case 4:
            op = "rl=al^bl;rh=ah^bh;";
            break;
          case 5:
            op = `s=bl&63;${shrl("s")}`;
            break;
          case 6:
            op = "rl=al|bl;rh=ah|bh;";
            break;
          default:
            op = "rl=al&bl;rh=ah&bh;";
            break;
        }
      } else if (f7 === 0x20) {
        if (f3 === 0) op = "rl=(al-bl)|0;rh=(ah-bh-((al>>>0)<(bl>>>0)?1:0))|0;";
        else if (f3 === 5) op = `s=bl&63;${shra("s")}`;
        else return undefined;
      } else if (f7 === 1) {
        if (f3 === 0) op = "mul64(al,ah,bl,bh);rl=out[0];rh=out[1];";
        else if (f3 < 4) op = `mulh64(al,ah,bl,bh,${f3});rl=out[0];rh=out[1];`;
        else op = `div64(al,ah,bl,bh,${(f3 & 1) === 0},${f3 >= 6});rl=out[0];rh=out[1];`;
      } else return undefined;
      return { code: rd === 0 ? "" : `${AB(rs1, rs2)}${op}${wr(rd)}`, ends: false };
    }
    case 0x3b: {
      const f7 = insn >>> 25;
      let op: string;
      if (f7 === 0) {
        if (f3 === 0) op = "rl=(al+bl)|0;";
        else if (f3 === 1) op = "rl=al<<(bl&31);";
        else if (f3 === 5) op = "rl=(al>>>(bl&31))|0;";
        else return undefined;
      } else if (f7 === 0x20) {
        if (f3 === 0) op = "rl=(al-bl)|0;";
        else if (f3 === 5) op = "rl=al>>(bl&31);";
        else return undefined;
      } else if (f7 === 1) {
        if (f3 === 0) op = "rl=Math.imul(al,bl);";
        else if (f3 >= 4) op = `rl=div32(al,bl,${(f3 & 1) === 0},${f3 >= 6});`;
        else return undefined;
      } else return undefined;
      return { code: rd === 0 ? "" : `al=${X(rs1)};bl=${X(rs2)};${op}rh=rl>>31;${wr(rd)}`, ends: false };
    }
    default:
      return undefined;
  }
}

/**
 * Compiles the block whose first instruction is at RAM halfword index `h0` (the page holds
 * `h0 & ~2047 … + 2047`). Undefined when its first instruction is left to the interpreter, or, with
 * loopsOnly, when the block does not loop to its own start.
 */
export function compileBlock(src: CodeSource, h0: number, loopsOnly = false): Compiled | undefined {
  const pageEnd = (h0 | 2047) + 1;
  const parts: string[] = [];
  const offs: number[] = [];
  let h = h0;
  let k = 0;
  let ended = false;
  let lastBranch: Gen["branch"];
  let lastLen = 0;
  while (k < MAX_BLOCK && h < pageEnd) {
    const insn = blockInsn(src, h, pageEnd);
    if (insn === 0) break;
    const len = (src.u16[h] & 3) === 3 ? 4 : 2;
    const off = (h - h0) * 2;
    const g = gen(insn, len, off, k);
    if (g === undefined) break;
    parts.push(g.code);
    offs.push(off);
    lastBranch = g.branch;
    lastLen = len;
    k++;
    h += len >> 1;
    if (g.ends) {
      ended = true;
      break;
    }
  }
  if (k === 0) return undefined;
  const decl = "let al=0,ah=0,bl=0,bh=0,rl=0,rh=0,el=0,eh=0,p=0,t=0,th=0,s=0,n=0;";
  let body: string;
  const br = lastBranch;
  const loops = br !== undefined && br.imm === -offs[k - 1];
  // Turning source into a function is the expensive part: not for a block nobody will run.
  if (loopsOnly && !loops) return undefined;
  if (br !== undefined && loops) {
    // The block ends with a branch back to its own start: a loop. Run it as a JS loop (V8 optimises
    // it on the spot), leaving when the branch falls through or the budget would be exceeded.
    const fall = offs[k - 1] + lastLen;
    body = `${decl}for(;;){${parts.slice(0, -1).join("\n")}\n${br.pre}n+=${k};if(${br.cond}){if(n+${k}<=budget)continue;h.pcLo=pcLo;h.pcHi=pcHi;return n;}t=(pcLo+${fall})|0;h.pcLo=t;h.pcHi=((t>>>0)<(pcLo>>>0))?(pcHi+1)|0:pcHi;return n;}`;
  } else {
    // Fell off the end (page end, size limit, or an instruction left to the interpreter): continue there.
    const tail = ended ? "" : `t=(pcLo+${(h - h0) * 2})|0;h.pcLo=t;h.pcHi=((t>>>0)<(pcLo>>>0))?(pcHi+1)|0:pcHi;`;
    body = `${decl}${parts.join("\n")}\n${tail}return ${k};`;
  }
  const factory = new Function(
    "mul64",
    "mulh64",
    "div64",
    "div32",
    "out",
    `return function block(h,x,pcLo,pcHi,budget){${body}};`,
  );
  return { fn: factory(mul64, mulh64, div64, div32, out) as BlockFn, offs: Int32Array.from(offs), loops };
}

/** A compiled block: its function, the byte offset of each of its instructions, whether it loops. */
export interface Compiled {
  fn: BlockFn;
  offs: Int32Array;
  loops: boolean;
}

/** Cache slots (direct-mapped by a hash of the entry's RAM halfword index). */
export const JIT_SLOTS = 1 << 16;
/** A count that never reaches any threshold: the entry cannot start a block. */
const NEVER = -0x40000000;

/** The slot of RAM halfword index h. */
export function jitSlot(h: number): number {
  return Math.imul(h, -1640531535) >>> 16;
}

/**
 * The hart's block cache: a direct-mapped table of block entries (branch and jump targets) with a
 * hotness count each, cheap enough to consult on every taken branch. A colliding entry evicts the
 * slot. Pages with compiled blocks are write-protected through the hart's store TLB and DMA hook; a
 * write to one drops that page's blocks.
 */
export class BlockCache {
  readonly tags = new Int32Array(JIT_SLOTS).fill(-1);
  readonly counts = new Int32Array(JIT_SLOTS);
  readonly fns: (BlockFn | undefined)[] = new Array(JIT_SLOTS).fill(undefined);
  readonly offs: (Int32Array | undefined)[] = new Array(JIT_SLOTS).fill(undefined);
  /** Entries compiled on each code page. */
  private readonly byPage = new Map<number, number[]>();
  readonly codePages: Uint8Array;
  compiled = 0;
  /** Set when the host refused to compile (no eval under a strict CSP): the hart only interprets. */
  disabledBecause: string | undefined;
  /** Pages whose blocks were dropped because something wrote to them. */
  invalidations = 0;

  constructor(
    ramBytes: number,
    public threshold: number,
    /**
     * Compile only blocks that loop to their own start. A V8 function compiled from source pays its
     * parse and tier-up on every call until V8 optimises it, which a straight-line block entered a few
     * thousand times never repays; a loop runs many passes per call and is optimised on the spot
     * (measured: 4x on a copy loop, no gain or a loss with every hot block compiled).
     */
    readonly loopsOnly: boolean,
    /** Called when a page first gets compiled code (the hart drops its store-TLB entries). */
    private readonly protect: (page: number) => void,
    private readonly src: CodeSource,
    /** With this, blocks become WebAssembly functions (wasm-jit.ts) instead of JS source. */
    private readonly wasm?: WasmJitEnv,
  ) {
    this.codePages = new Uint8Array(Math.ceil(ramBytes / 4096));
    this.backend = wasm === undefined ? "js" : "wasm";
  }

  readonly backend: "js" | "wasm";

  private wasmTable: WasmBlockTable | undefined;
  /** Wasm blocks generated but not yet compiled: slot, entry, body, offsets. */
  private pending: { slot: number; h: number; body: number[]; offs: number[] }[] = [];

  /** Blocks waiting for the next batch (the hart flushes at the end of run()). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Queues the wasm block at `slot`; its page is protected from now on, so the code cannot change unseen. */
  private queueWasm(slot: number, h: number): boolean {
    const env = this.wasm as WasmJitEnv;
    const code = genWasmBlock(this.src, h, env.aux);
    if (code === undefined) return false;
    this.pending.push({ slot, h, body: code.body, offs: code.offs });
    this.counts[slot] = NEVER; // until it is installed (or evicted)
    this.notePage(h);
    if (this.pending.length >= WASM_BATCH) this.flushPending();
    return true;
  }

  private pendingRuns = 0;

  /**
   * Called at the end of Hart.run() while blocks are queued: compiles them once enough have gathered or
   * the oldest has waited WASM_BATCH_RUNS runs (a module per block would cost more than it saves).
   */
  runEnded(): void {
    if (this.pending.length >= WASM_BATCH_MIN || ++this.pendingRuns >= WASM_BATCH_RUNS) this.flushPending();
  }

  /** Compiles the queued wasm blocks into one module and installs them. */
  flushPending(): void {
    const list = this.pending.filter((p) => this.tags[p.slot] === p.h);
    this.pending = [];
    this.pendingRuns = 0;
    if (list.length === 0) return;
    const env = this.wasm as WasmJitEnv;
    let table: WasmBlockTable;
    try {
      if (this.wasmTable === undefined) this.wasmTable = new WasmBlockTable(env, JIT_SLOTS);
      table = this.wasmTable;
      table.install(
        list.map((p) => p.slot),
        list.map((p) => p.h),
        list.map((p) => p.body),
      );
    } catch (e) {
      // A host that refuses to compile WebAssembly (a CSP without 'wasm-unsafe-eval', a resource
      // limit): interpret from now on, and say why. The queued entries become ordinary cold entries.
      this.disabledBecause = (e as Error).message;
      this.threshold = Number.POSITIVE_INFINITY;
      for (const p of list) if (this.tags[p.slot] === p.h) this.counts[p.slot] = NEVER;
      return;
    }
    const i32 = new Int32Array(env.memory.buffer);
    const pcI = (env.aux + AUX.PC) >> 2;
    const chain = table.chain;
    for (const p of list) {
      const slot = p.slot;
      this.fns[slot] = (hart, _x, pcLo, pcHi, budget) => {
        const n = chain(slot, pcLo, pcHi, budget, hart.dBase, hart.xBase);
        hart.pcLo = i32[pcI];
        hart.pcHi = i32[pcI + 1];
        return n;
      };
      this.offs[slot] = Int32Array.from(p.offs);
      this.counts[slot] = 0;
      this.compiled++;
    }
  }

  /** Records that the block at h has code on its page and protects the page. */
  private notePage(h: number): void {
    const page = h >>> 11;
    let keys = this.byPage.get(page);
    if (keys === undefined) {
      keys = [];
      this.byPage.set(page, keys);
    }
    keys.push(h);
    if (this.codePages[page] === 0) {
      this.codePages[page] = 1;
      this.protect(page);
    }
  }

  /** The entry at slot reached the threshold: compile it (or mark it never). */
  compile(slot: number): void {
    const h = this.tags[slot];
    if (this.wasm !== undefined) {
      if (!this.queueWasm(slot, h)) this.counts[slot] = NEVER;
      return;
    }
    let c: Compiled | undefined;
    try {
      c = compileBlock(this.src, h, this.loopsOnly);
    } catch (e) {
      // A page whose Content-Security-Policy forbids eval: interpret from now on, and say why.
      this.disabledBecause = (e as Error).message;
      this.threshold = Number.POSITIVE_INFINITY;
      c = undefined;
    }
    if (c === undefined || (this.loopsOnly && !c.loops)) {
      this.counts[slot] = NEVER;
      return;
    }
    this.fns[slot] = c.fn;
    this.offs[slot] = c.offs;
    this.compiled++;
    this.notePage(h);
  }

  /** Something wrote to RAM page `page`: its blocks (and the hotness counts there) start over. */
  invalidatePage(page: number): void {
    if (this.codePages[page] === 0) return;
    this.codePages[page] = 0;
    this.invalidations++;
    const keys = this.byPage.get(page);
    if (keys !== undefined) {
      for (const h of keys) {
        const slot = jitSlot(h);
        if (this.tags[slot] === h) this.evict(slot);
      }
    }
    this.byPage.delete(page);
    if (this.pending.length > 0) this.pending = this.pending.filter((p) => p.h >>> 11 !== page);
  }

  /** The run loop reached entry h at a slot holding another entry: h takes the slot over. */
  claim(slot: number, h: number): void {
    this.tags[slot] = h;
    this.counts[slot] = 0;
    this.fns[slot] = undefined;
    if (this.wasmTable !== undefined) this.wasmTable.wtag[slot] = -1;
  }

  private evict(slot: number): void {
    if (this.wasmTable !== undefined) this.wasmTable.wtag[slot] = -1;
    this.tags[slot] = -1;
    this.counts[slot] = 0;
    this.fns[slot] = undefined;
    // offs stays: a wasm block that wrote to its own page and then trapped still needs it (the
    // next install at this slot replaces it).
  }

  /** Drops everything. */
  flush(): void {
    this.pending = [];
    this.wasmTable?.wtag.fill(-1);
    for (const page of this.byPage.keys()) this.codePages[page] = 0;
    this.byPage.clear();
    this.tags.fill(-1);
    this.counts.fill(0);
    this.fns.fill(undefined);
  }

  /** Compiled blocks present. */
  get size(): number {
    let n = 0;
    for (const f of this.fns) if (f !== undefined) n++;
    return n;
  }
}
