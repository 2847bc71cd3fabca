// A 9P2000.L client for tests: builds T-messages the way Linux's net/9p/client.c lays them out, sends
// them through any function (a P9Server directly, or a virtio-9p device behind a fake driver) and parses
// the replies. An Rlerror becomes a thrown P9ClientError carrying the errno, so tests read
// `expect(errnoOf(() => c.walk(...))).toBe(ENOENT)`.

import {
  P9_DOTL_CREATE,
  P9_RLERROR,
  P9_TATTACH,
  P9_TCLUNK,
  P9_TFSYNC,
  P9_TGETATTR,
  P9_TLCREATE,
  P9_TLINK,
  P9_TLOPEN,
  P9_TMKDIR,
  P9_TREAD,
  P9_TREADDIR,
  P9_TREADLINK,
  P9_TREMOVE,
  P9_TRENAMEAT,
  P9_TSETATTR,
  P9_TSTATFS,
  P9_TSYMLINK,
  P9_TUNLINKAT,
  P9_TVERSION,
  P9_TWALK,
  P9_TWRITE,
  P9_TXATTRWALK,
  P9Reader,
  P9Writer,
  type Qid,
} from "../../devices/virtio-9p/p9-proto.ts";
import { concatBytes } from "../net/stack/tcp/tcp-harness.ts";

export class P9ClientError extends Error {
  constructor(readonly errno: number) {
    super(`Rlerror ${errno}`);
  }
}

/** The errno an operation failed with, or 0 if it succeeded. */
export function errnoOf(f: () => unknown): number {
  try {
    f();
    return 0;
  } catch (e) {
    if (e instanceof P9ClientError) return e.errno;
    throw e;
  }
}

export interface P9Attr {
  qid: Qid;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  mtimeSec: number;
}

export interface P9DirEntry {
  qid: Qid;
  offset: bigint;
  type: number;
  name: string;
}

export class P9Client {
  private tag = 1;
  msize = 8192;

  constructor(readonly send: (req: Uint8Array) => Uint8Array | undefined) {}

  /** One round trip; returns a reader positioned after the reply header. */
  rpc(type: number, body: (w: P9Writer) => void): P9Reader {
    const tag = this.tag;
    this.tag = (this.tag + 1) & 0x7fff;
    const w = new P9Writer(type, tag);
    body(w);
    const reply = this.send(w.finish());
    if (reply === undefined) throw new Error("no reply");
    const r = new P9Reader(reply);
    const size = r.u32();
    const rtype = r.u8();
    const rtag = r.u16();
    if (size !== reply.length) throw new Error(`reply size ${size} but ${reply.length} bytes`);
    if (rtag !== tag) throw new Error(`reply tag ${rtag} for ${tag}`);
    if (rtype === P9_RLERROR) throw new P9ClientError(r.u32());
    if (rtype !== type + 1) throw new Error(`reply type ${rtype} for ${type}`);
    return r;
  }

  version(msize = 512000, version = "9P2000.L"): { msize: number; version: string } {
    const r = this.rpc(P9_TVERSION, (w) => w.u32(msize).str(version));
    const out = { msize: r.u32(), version: r.str() };
    this.msize = out.msize;
    return out;
  }

  attach(fid: number, uid = 0): Qid {
    return qidOf(this.rpc(P9_TATTACH, (w) => w.u32(fid).u32(0xffffffff).str("root").str("").u32(uid)));
  }

  /** Sets up fid 1 as the root after Tversion. */
  mount(msize = 512000): this {
    this.version(msize);
    this.attach(1);
    return this;
  }

  walk(fid: number, newfid: number, names: string[]): Qid[] {
    const r = this.rpc(P9_TWALK, (w) => {
      w.u32(fid).u32(newfid).u16(names.length);
      for (const n of names) w.str(n);
    });
    const n = r.u16();
    return Array.from({ length: n }, () => qidOf(r));
  }

  lopen(fid: number, flags: number): Qid {
    const r = this.rpc(P9_TLOPEN, (w) => w.u32(fid).u32(flags));
    return qidOf(r);
  }

  lcreate(fid: number, name: string, flags: number, mode = 0o644, gid = 0): Qid {
    return qidOf(
      this.rpc(P9_TLCREATE, (w) =>
        w
          .u32(fid)
          .str(name)
          .u32(flags | P9_DOTL_CREATE)
          .u32(mode)
          .u32(gid),
      ),
    );
  }

  read(fid: number, offset: number, count: number): Uint8Array {
    const r = this.rpc(P9_TREAD, (w) => w.u32(fid).u64(offset).u32(count));
    const n = r.u32();
    return r.data(n).slice();
  }

  write(fid: number, offset: number, data: Uint8Array): number {
    return this.rpc(P9_TWRITE, (w) => w.u32(fid).u64(offset).u32(data.length).data(data)).u32();
  }

  clunk(fid: number): void {
    this.rpc(P9_TCLUNK, (w) => w.u32(fid));
  }

  remove(fid: number): void {
    this.rpc(P9_TREMOVE, (w) => w.u32(fid));
  }

  getattr(fid: number): P9Attr {
    const r = this.rpc(P9_TGETATTR, (w) => w.u32(fid).u64(0x7ff));
    r.u64();
    const qid = qidOf(r);
    const mode = r.u32();
    const uid = r.u32();
    const gid = r.u32();
    const nlink = Number(r.u64());
    r.u64(); // rdev
    const size = Number(r.u64());
    r.u64(); // blksize
    r.u64(); // blocks
    r.u64(); // atime
    r.u64();
    const mtimeSec = Number(r.u64());
    return { qid, mode, uid, gid, nlink, size, mtimeSec };
  }

  setattr(
    fid: number,
    a: { valid: number; mode?: number; uid?: number; gid?: number; size?: number; mtime?: number },
  ): void {
    this.rpc(P9_TSETATTR, (w) =>
      w
        .u32(fid)
        .u32(a.valid)
        .u32(a.mode ?? 0)
        .u32(a.uid ?? 0)
        .u32(a.gid ?? 0)
        .u64(a.size ?? 0)
        .u64(0)
        .u64(0)
        .u64(a.mtime ?? 0)
        .u64(0),
    );
  }

  readdir(fid: number, offset: bigint | number = 0, count = 8192): P9DirEntry[] {
    const r = this.rpc(P9_TREADDIR, (w) => w.u32(fid).u64(offset).u32(count));
    const n = r.u32();
    const end = r.pos + n;
    const out: P9DirEntry[] = [];
    while (r.pos < end) out.push({ qid: qidOf(r), offset: r.u64(), type: r.u8(), name: r.str() });
    return out;
  }

  /** Every entry name of an (already opened) directory fid, following offsets. */
  listAll(fid: number, count = 8192): string[] {
    const names: string[] = [];
    let off = 0n;
    for (;;) {
      const part = this.readdir(fid, off, count);
      if (part.length === 0) return names;
      for (const e of part) names.push(e.name);
      off = part[part.length - 1].offset;
    }
  }

  mkdir(dfid: number, name: string, mode = 0o755, gid = 0): Qid {
    return qidOf(this.rpc(P9_TMKDIR, (w) => w.u32(dfid).str(name).u32(mode).u32(gid)));
  }

  unlinkat(dfid: number, name: string, flags = 0): void {
    this.rpc(P9_TUNLINKAT, (w) => w.u32(dfid).str(name).u32(flags));
  }

  renameat(oldDir: number, oldName: string, newDir: number, newName: string): void {
    this.rpc(P9_TRENAMEAT, (w) => w.u32(oldDir).str(oldName).u32(newDir).str(newName));
  }

  symlink(dfid: number, name: string, target: string): Qid {
    return qidOf(this.rpc(P9_TSYMLINK, (w) => w.u32(dfid).str(name).str(target).u32(0)));
  }

  readlink(fid: number): string {
    return this.rpc(P9_TREADLINK, (w) => w.u32(fid)).str();
  }

  link(dfid: number, fid: number, name: string): void {
    this.rpc(P9_TLINK, (w) => w.u32(dfid).u32(fid).str(name));
  }

  statfs(fid: number): { type: number; bsize: number; blocks: bigint; namelen: number } {
    const r = this.rpc(P9_TSTATFS, (w) => w.u32(fid));
    const type = r.u32();
    const bsize = r.u32();
    const blocks = r.u64();
    r.u64();
    r.u64();
    r.u64();
    r.u64();
    r.u64();
    return { type, bsize, blocks, namelen: r.u32() };
  }

  fsync(fid: number): void {
    this.rpc(P9_TFSYNC, (w) => w.u32(fid).u32(0));
  }

  xattrwalk(fid: number, newfid: number, name: string): void {
    this.rpc(P9_TXATTRWALK, (w) => w.u32(fid).u32(newfid).str(name));
  }

  // --- conveniences ---

  /** Walks from the root (fid 1) to `path` into `fid`. */
  walkTo(fid: number, path: string): Qid[] {
    return this.walk(
      1,
      fid,
      path.split("/").filter((n) => n !== ""),
    );
  }

  /** Creates (or truncates) `path` and writes `data` in msize-sized pieces. */
  writeFile(path: string, data: Uint8Array, fid = 900): void {
    const parts = path.split("/").filter((n) => n !== "");
    this.walk(1, fid, parts.slice(0, -1));
    this.lcreate(fid, parts[parts.length - 1], 1 | 0o1000);
    const step = this.msize - 23;
    for (let off = 0; off < data.length; off += step) this.write(fid, off, data.subarray(off, off + step));
    this.clunk(fid);
  }

  readFile(path: string, fid = 901): Uint8Array {
    this.walkTo(fid, path);
    this.lopen(fid, 0);
    const parts: Uint8Array[] = [];
    let off = 0;
    for (;;) {
      const b = this.read(fid, off, this.msize - 11);
      if (b.length === 0) break;
      parts.push(b);
      off += b.length;
    }
    this.clunk(fid);
    return concatBytes(parts);
  }
}

function qidOf(r: P9Reader): Qid {
  return { type: r.u8(), version: r.u32(), path: r.u64() };
}
