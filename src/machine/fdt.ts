// A flattened device tree (DTB version 17) writer and a small reader. The writer builds the tree the
// board hands to firmware; the reader walks a blob in tests and tools. parseFdt may be given a blob
// the guest has edited (OpenSBI rewrites the tree in RAM), so it bounds-checks every offset and
// throws only FdtParseError.
// Format: devicetree-specification "Flattened Devicetree (DTB) Format" (v0.4 §5).

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
const FDT_HEADER_SIZE = 40;

/** A property cell: a u32, or a reference to a node that becomes its phandle when the blob is built. */
export type FdtCell = number | FdtNode;

type PropValue = { kind: "bytes"; bytes: Uint8Array } | { kind: "cells"; cells: FdtCell[] };

function checkU32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what}: ${v} is not a u32`);
  return v;
}

/** Splits a u64 (number ≤ 2^53 or bigint) into big-endian [hi, lo] cells. */
function u64Cells(v: number | bigint, what: string): [number, number] {
  const b = typeof v === "bigint" ? v : Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : -1n;
  if (b < 0n || b > 0xffffffffffffffffn) throw new RangeError(`${what}: ${v} is not a u64`);
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

const utf8 = new TextEncoder();

export class FdtNode {
  readonly children: FdtNode[] = [];
  private readonly props = new Map<string, PropValue>();
  /** Assigned by the tree when first needed (explicitly or by a reference at build time). */
  private phandleValue = 0;

  constructor(
    readonly name: string,
    /** @internal */
    readonly tree: Fdt,
    readonly parent: FdtNode | undefined,
  ) {}

  /** Adds a child; node names are unique among siblings. */
  addNode(name: string): FdtNode {
    if (name.length === 0 || name.includes("/") || name.includes("\0")) throw new Error(`bad node name "${name}"`);
    if (this.children.some((c) => c.name === name)) throw new Error(`duplicate node ${this.path()}/${name}`);
    const n = new FdtNode(name, this.tree, this);
    this.children.push(n);
    return n;
  }

  child(name: string): FdtNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  path(): string {
    if (this.parent === undefined) return "/";
    const p = this.parent.path();
    return p === "/" ? `/${this.name}` : `${p}/${this.name}`;
  }

  /** This node's phandle, allocating one (and its `phandle` property) on first use. */
  phandle(): number {
    if (this.phandleValue === 0) {
      this.phandleValue = this.tree.allocPhandle();
      this.props.set("phandle", { kind: "cells", cells: [this.phandleValue] });
    }
    return this.phandleValue;
  }

  /** A property of zero length (a flag such as `interrupt-controller` or `ranges`). */
  setEmpty(name: string): this {
    return this.set(name, { kind: "bytes", bytes: new Uint8Array(0) });
  }

  /** Big-endian u32 cells; an FdtNode cell is a phandle reference. */
  setCells(name: string, ...cells: FdtCell[]): this {
    for (const c of cells) {
      if (typeof c === "number") checkU32(c, `${this.path()}:${name}`);
      else if (c.tree !== this.tree) throw new Error(`${this.path()}:${name}: reference into another tree`);
    }
    return this.set(name, { kind: "cells", cells });
  }

  /** Each value as two cells (hi, lo), as `reg` entries and linux,initrd-* use. */
  setU64(name: string, ...values: (number | bigint)[]): this {
    return this.set(name, { kind: "cells", cells: values.flatMap((v) => u64Cells(v, `${this.path()}:${name}`)) });
  }

  setString(name: string, value: string): this {
    return this.setStrings(name, value);
  }

  /** A string list: each string NUL-terminated, back to back. */
  setStrings(name: string, ...values: string[]): this {
    for (const v of values) if (v.includes("\0")) throw new Error(`${this.path()}:${name}: NUL inside a string`);
    return this.set(name, { kind: "bytes", bytes: utf8.encode(values.map((v) => `${v}\0`).join("")) });
  }

  setBytes(name: string, bytes: Uint8Array): this {
    return this.set(name, { kind: "bytes", bytes: bytes.slice() });
  }

  hasProp(name: string): boolean {
    return this.props.has(name);
  }

  /** @internal Nodes this node's properties refer to. */
  references(): FdtNode[] {
    const out: FdtNode[] = [];
    for (const v of this.props.values()) {
      if (v.kind === "cells") for (const c of v.cells) if (typeof c !== "number") out.push(c);
    }
    return out;
  }

  /** @internal Encoded value with references resolved; used by Fdt.build(). */
  encodeProps(): [string, Uint8Array][] {
    const out: [string, Uint8Array][] = [];
    for (const [name, v] of this.props) {
      if (v.kind === "bytes") {
        out.push([name, v.bytes]);
        continue;
      }
      const b = new Uint8Array(4 * v.cells.length);
      const dv = new DataView(b.buffer);
      for (let i = 0; i < v.cells.length; i++) {
        const c = v.cells[i];
        dv.setUint32(4 * i, typeof c === "number" ? c : c.phandle());
      }
      out.push([name, b]);
    }
    return out;
  }

  private set(name: string, v: PropValue): this {
    if (name.length === 0 || name.includes("\0")) throw new Error(`bad property name "${name}"`);
    if (name === "phandle" && this.phandleValue !== 0) throw new Error(`${this.path()}: phandle already allocated`);
    this.props.set(name, v);
    return this;
  }
}

export interface FdtReservation {
  address: number | bigint;
  size: number | bigint;
}

/** A device tree under construction. */
export class Fdt {
  readonly root: FdtNode;
  readonly reservations: FdtReservation[] = [];
  bootCpuidPhys = 0;
  private nextPhandle = 1;

  constructor() {
    this.root = new FdtNode("", this, undefined);
  }

  /** @internal */
  allocPhandle(): number {
    return this.nextPhandle++;
  }

  addReservation(address: number | bigint, size: number | bigint): void {
    this.reservations.push({ address, size });
  }

  /** Serialises the tree. Phandles of referenced nodes are allocated here if not yet. */
  build(): Uint8Array {
    // Allocate every referenced node's phandle before encoding, so a node visited before the
    // reference to it still gets its `phandle` property.
    const all: FdtNode[] = [];
    const collect = (n: FdtNode) => {
      all.push(n);
      for (const c of n.children) collect(c);
    };
    collect(this.root);
    for (const n of all) for (const r of n.references()) r.phandle();
    const encoded = new Map<FdtNode, [string, Uint8Array][]>();
    for (const n of all) encoded.set(n, n.encodeProps());

    const strings: number[] = [];
    const stringOff = new Map<string, number>();
    const nameOff = (name: string): number => {
      let off = stringOff.get(name);
      if (off === undefined) {
        off = strings.length;
        stringOff.set(name, off);
        for (const b of utf8.encode(name)) strings.push(b);
        strings.push(0);
      }
      return off;
    };

    const struct = new Writer();
    const emit = (n: FdtNode) => {
      struct.u32(FDT_BEGIN_NODE);
      struct.bytes(utf8.encode(n.name));
      struct.u8(0);
      struct.align4();
      for (const [name, value] of encoded.get(n) ?? []) {
        struct.u32(FDT_PROP);
        struct.u32(value.length);
        struct.u32(nameOff(name));
        struct.bytes(value);
        struct.align4();
      }
      for (const c of n.children) emit(c);
      struct.u32(FDT_END_NODE);
    };
    emit(this.root);
    struct.u32(FDT_END);

    const rsv = new Writer();
    for (const r of this.reservations) {
      for (const c of u64Cells(r.address, "reservation address")) rsv.u32(c);
      for (const c of u64Cells(r.size, "reservation size")) rsv.u32(c);
    }
    for (let i = 0; i < 4; i++) rsv.u32(0);

    const offRsv = FDT_HEADER_SIZE; // 40 is already 8-byte aligned
    const offStruct = offRsv + rsv.length;
    const offStrings = offStruct + struct.length;
    const total = offStrings + strings.length;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    const header = [
      FDT_MAGIC,
      total,
      offStruct,
      offStrings,
      offRsv,
      FDT_VERSION,
      FDT_LAST_COMP_VERSION,
      this.bootCpuidPhys,
      strings.length,
      struct.length,
    ];
    for (let i = 0; i < header.length; i++) dv.setUint32(4 * i, header[i]);
    out.set(rsv.finish(), offRsv);
    out.set(struct.finish(), offStruct);
    out.set(strings, offStrings);
    return out;
  }
}

class Writer {
  private buf = new Uint8Array(4096);
  length = 0;

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }
  u8(v: number): void {
    this.grow(1);
    this.buf[this.length++] = v;
  }
  u32(v: number): void {
    this.grow(4);
    this.buf[this.length++] = v >>> 24;
    this.buf[this.length++] = (v >>> 16) & 0xff;
    this.buf[this.length++] = (v >>> 8) & 0xff;
    this.buf[this.length++] = v & 0xff;
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  align4(): void {
    while (this.length & 3) this.u8(0);
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

// ---- reader -------------------------------------------------------------------------------------

export class FdtParseError extends Error {
  constructor(message: string) {
    super(`FDT: ${message}`);
    this.name = "FdtParseError";
  }
}

export interface ParsedFdtNode {
  name: string;
  path: string;
  props: Map<string, Uint8Array>;
  children: ParsedFdtNode[];
}

export interface ParsedFdt {
  version: number;
  bootCpuidPhys: number;
  reservations: { address: bigint; size: bigint }[];
  root: ParsedFdtNode;
}

const utf8d = new TextDecoder("utf-8", { fatal: false });

/** Reads a DTB (version ≥ 16 structure). Every offset is checked against the blob. */
export function parseFdt(blob: Uint8Array): ParsedFdt {
  if (blob.length < FDT_HEADER_SIZE) throw new FdtParseError("blob shorter than the header");
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const h = (i: number) => dv.getUint32(4 * i);
  if (h(0) !== FDT_MAGIC) throw new FdtParseError(`bad magic 0x${h(0).toString(16)}`);
  const total = h(1);
  const offStruct = h(2);
  const offStrings = h(3);
  const offRsv = h(4);
  const version = h(5);
  const sizeStrings = h(8);
  const sizeStruct = version >= 17 ? h(9) : total - offStruct;
  if (total > blob.length) throw new FdtParseError(`totalsize ${total} > blob ${blob.length}`);
  const inside = (off: number, len: number) => off <= total && len <= total - off;
  if (!inside(offStruct, sizeStruct) || !inside(offStrings, sizeStrings) || !inside(offRsv, 16)) {
    throw new FdtParseError("block outside the blob");
  }

  const reservations: { address: bigint; size: bigint }[] = [];
  for (let p = offRsv; ; p += 16) {
    if (!inside(p, 16)) throw new FdtParseError("unterminated reservation map");
    const address = dv.getBigUint64(p);
    const size = dv.getBigUint64(p + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const end = offStruct + sizeStruct;
  let p = offStruct;
  const word = (): number => {
    if (p + 4 > end) throw new FdtParseError("structure block ends early");
    const v = dv.getUint32(p);
    p += 4;
    return v;
  };
  const cstr = (from: number, limit: number): [string, number] => {
    let q = from;
    while (q < limit && blob[q] !== 0) q++;
    if (q >= limit) throw new FdtParseError("unterminated string");
    return [utf8d.decode(blob.subarray(from, q)), q + 1];
  };

  let root: ParsedFdtNode | undefined;
  const stack: ParsedFdtNode[] = [];
  for (;;) {
    const tok = word();
    if (tok === FDT_NOP) continue;
    if (tok === FDT_BEGIN_NODE) {
      const [name, next] = cstr(p, end);
      p = (next + 3) & ~3;
      const parent = stack[stack.length - 1];
      const path = parent === undefined ? "/" : parent.path === "/" ? `/${name}` : `${parent.path}/${name}`;
      const node: ParsedFdtNode = { name, path, props: new Map(), children: [] };
      if (parent === undefined) {
        if (root !== undefined) throw new FdtParseError("second root node");
        root = node;
      } else parent.children.push(node);
      stack.push(node);
    } else if (tok === FDT_PROP) {
      const node = stack[stack.length - 1];
      if (node === undefined) throw new FdtParseError("property outside a node");
      const len = word();
      const nameoff = word();
      if (len > end - p) throw new FdtParseError("property runs past the structure block");
      if (nameoff >= sizeStrings) throw new FdtParseError("property name outside the strings block");
      const [name] = cstr(offStrings + nameoff, offStrings + sizeStrings);
      node.props.set(name, blob.slice(p, p + len));
      p = (p + len + 3) & ~3;
    } else if (tok === FDT_END_NODE) {
      if (stack.pop() === undefined) throw new FdtParseError("unbalanced END_NODE");
    } else if (tok === FDT_END) {
      break;
    } else {
      throw new FdtParseError(`unknown token 0x${tok.toString(16)} at ${p - 4}`);
    }
  }
  if (root === undefined || stack.length !== 0) throw new FdtParseError("unbalanced tree");
  return { version, bootCpuidPhys: h(7), reservations, root };
}

/** The node at an absolute path ("/soc/serial@10000000"), or undefined. */
export function fdtFind(root: ParsedFdtNode, path: string): ParsedFdtNode | undefined {
  let n: ParsedFdtNode | undefined = root;
  for (const part of path.split("/").filter((s) => s.length > 0)) {
    n = n.children.find((c) => c.name === part);
    if (n === undefined) return undefined;
  }
  return n;
}

/** Every node in document order. */
export function fdtWalk(root: ParsedFdtNode): ParsedFdtNode[] {
  const out: ParsedFdtNode[] = [];
  const todo = [root]; // iterative: a hostile blob may nest deeper than the JS stack
  while (todo.length > 0) {
    const n = todo.pop()!;
    out.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) todo.push(n.children[i]);
  }
  return out;
}

export function propU32s(v: Uint8Array | undefined): number[] {
  if (v === undefined) return [];
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  return Array.from({ length: v.length >>> 2 }, (_, i) => dv.getUint32(4 * i));
}

/** Pairs of cells as u64 values. */
export function propU64s(v: Uint8Array | undefined): bigint[] {
  const c = propU32s(v);
  const out: bigint[] = [];
  for (let i = 0; i + 1 < c.length; i += 2) out.push((BigInt(c[i]) << 32n) | BigInt(c[i + 1]));
  return out;
}

export function propStrings(v: Uint8Array | undefined): string[] {
  if (v === undefined || v.length === 0) return [];
  const s = utf8d.decode(v[v.length - 1] === 0 ? v.subarray(0, v.length - 1) : v);
  return s.split("\0");
}

export function propString(v: Uint8Array | undefined): string | undefined {
  return v === undefined ? undefined : propStrings(v)[0];
}
