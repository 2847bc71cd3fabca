// A 9P2000.L file server over a ShareBackend: one T-message in, one R-message out. Every message comes
// from the guest and is hostile: the reader bounds every field, fids are looked up in a bounded table,
// walks are capped at 16 names, counts are cut to the negotiated msize and to the reply buffer, names are
// checked (no "/", NUL, "." or ".." reaches a backend), and any failure — a backend's P9Error, a malformed
// message, even a bug — becomes an Rlerror; handle() never throws. A message too short to carry a tag, or
// a reply buffer too small for an Rlerror, cannot be answered and is counted as dropped.
// Modelled on the protocol as Linux's net/9p client speaks it and QEMU's hw/9pfs serves it (STYLE.md).

import { flag, list, record, SnapshotError, uint } from "../../src/machine/state-check.ts";
import {
  EBADF,
  EBUSY,
  EFBIG,
  EINVAL,
  EIO,
  EISDIR,
  ELOOP,
  EMFILE,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  EOPNOTSUPP,
  EPERM,
  EPROTO,
  EROFS,
  P9_AT_REMOVEDIR,
  P9_DOTL_ACCMODE,
  P9_DOTL_APPEND,
  P9_DOTL_TRUNC,
  P9_GETATTR_BASIC,
  P9_HEADER_SIZE,
  P9_IOHDR_SIZE,
  P9_MAXWELEM,
  P9_MESSAGE_NAMES,
  P9_QID_SIZE,
  P9_QTDIR,
  P9_QTFILE,
  P9_QTSYMLINK,
  P9_SETATTR_ATIME,
  P9_SETATTR_ATIME_SET,
  P9_SETATTR_GID,
  P9_SETATTR_MODE,
  P9_SETATTR_MTIME,
  P9_SETATTR_MTIME_SET,
  P9_SETATTR_SIZE,
  P9_SETATTR_UID,
  P9_TATTACH,
  P9_TAUTH,
  P9_TCLUNK,
  P9_TFLUSH,
  P9_TFSYNC,
  P9_TGETATTR,
  P9_TGETLOCK,
  P9_TLCREATE,
  P9_TLINK,
  P9_TLOCK,
  P9_TLOPEN,
  P9_TMKDIR,
  P9_TMKNOD,
  P9_TREAD,
  P9_TREADDIR,
  P9_TREADLINK,
  P9_TREMOVE,
  P9_TRENAME,
  P9_TRENAMEAT,
  P9_TSETATTR,
  P9_TSTATFS,
  P9_TSYMLINK,
  P9_TUNLINKAT,
  P9_TVERSION,
  P9_TWALK,
  P9_TWRITE,
  P9_TXATTRCREATE,
  P9_TXATTRWALK,
  P9_VERSION_L,
  P9Error,
  P9Reader,
  P9Writer,
  type Qid,
  rlerror,
  utf8Length,
} from "./p9-proto.ts";
import type { ShareBackend, ShareOpenFlags, ShareSetattr, ShareStat } from "./share-backend.ts";

/** The msize we accept at most: Linux's virtio transport takes up to 512000 (PAGE_SIZE × 125). */
export const P9_MAX_MSIZE = 1024 * 1024;
/** Until Tversion: the protocol's default. */
const DEFAULT_MSIZE = 8192;
/** Smaller than this cannot carry a useful Rgetattr or a directory entry. */
const MIN_MSIZE = 512;
const NAME_MAX = 255;
const PATH_DEPTH_MAX = 512;
const SYMLINK_MAX = 4095;

export interface P9ServerOptions {
  /** Fids the guest may hold at once (default 65536); more is EMFILE. */
  maxFids?: number;
  /** Open files at once (default 1024): each may be a host file descriptor. */
  maxOpen?: number;
  /** A failure that was not a P9Error (a bug or an unexpected host error); the guest got EIO. */
  onError?: (err: unknown) => void;
}

interface Dirent {
  name: string;
  qid: Qid;
  type: number;
}

interface Fid {
  path: string[];
  uid: number;
  /** After Tlopen/Tlcreate. */
  open: { handle: number | undefined; flags: ShareOpenFlags; dir: boolean } | undefined;
  /** Treaddir's listing, taken at offset 0 and read on from there. */
  dirents: Dirent[] | undefined;
}

export interface P9ServerStats {
  requests: number;
  errors: number;
  /** Messages that broke the wire format (answered with EPROTO / EILSEQ, or dropped). */
  malformed: number;
  /** Messages that could not be answered at all (no tag, no room for a reply). */
  dropped: number;
  /** Failures that were not P9Errors: each one is a bug or an unexpected host error. */
  internalErrors: number;
  bytesRead: number;
  bytesWritten: number;
}

/** One fid in a snapshot. */
export interface SavedFid {
  id: number;
  path: string[];
  uid: number;
  open: { dir: boolean; access: 0 | 1 | 2; append: boolean } | null;
}

export interface P9ServerState {
  msize: number;
  fids: SavedFid[];
}

// d_type values (Linux dirent.h).
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;
const DT_UNKNOWN = 0;

export class P9Server {
  msize = DEFAULT_MSIZE;
  private readonly fids = new Map<number, Fid>();
  private openCount = 0;
  private readonly maxFids: number;
  private readonly maxOpen: number;
  private readonly onError: (err: unknown) => void;
  /** Per message name ("walk", "read", …, "unknown"). */
  readonly counts: Record<string, number> = {};
  readonly stats: P9ServerStats = {
    requests: 0,
    errors: 0,
    malformed: 0,
    dropped: 0,
    internalErrors: 0,
    bytesRead: 0,
    bytesWritten: 0,
  };

  constructor(
    readonly backend: ShareBackend,
    opts: P9ServerOptions = {},
  ) {
    this.maxFids = opts.maxFids ?? 65536;
    this.maxOpen = opts.maxOpen ?? 1024;
    this.onError = opts.onError ?? (() => {});
  }

  get fidCount(): number {
    return this.fids.size;
  }

  /**
   * The session as plain data for a snapshot (issue 15): msize and every fid by path, with how it was opened.
   * Throws a SnapshotError when that would not be faithful: fids on a share whose files a snapshot does not
   * carry, or a file held open whose name no longer leads to it (deleted or replaced while open).
   */
  saveState(): P9ServerState {
    if (this.fids.size > 0 && this.backend.persistent !== true) {
      throw new SnapshotError(
        `the guest holds ${this.fids.size} fid(s) on the ${this.backend.description} 9p share, whose files a snapshot ` +
          "does not carry — unmount it in the guest first",
      );
    }
    const fids: SavedFid[] = [];
    for (const [id, f] of this.fids) {
      const h = f.open?.handle;
      if (h !== undefined && this.backend.sameObject?.(h, f.path) !== true) {
        throw new SnapshotError(
          `the guest holds /${f.path.join("/")} open on the 9p share, but it was deleted or replaced since, so it ` +
            "cannot be reopened at a restore — close it in the guest first",
        );
      }
      const open =
        f.open === undefined ? null : { dir: f.open.dir, access: f.open.flags.access, append: f.open.flags.append };
      fids.push({ id, path: [...f.path], uid: f.uid, open });
    }
    return { msize: this.msize, fids };
  }

  /**
   * Restores saveState()'s output: every fid again, files reopened by path (never truncated). Throws a
   * SnapshotError naming the field or the file that cannot be reopened, leaving the server empty.
   */
  loadState(state: unknown, path: string): void {
    const s = record(state, path);
    const msize = uint(s.msize, `${path}.msize`, P9_MAX_MSIZE);
    if (msize < MIN_MSIZE) throw new SnapshotError(`${path}.msize: ${msize} is below ${MIN_MSIZE}`);
    if (!Array.isArray(s.fids)) throw new SnapshotError(`${path}.fids: not a list`);
    if (s.fids.length > this.maxFids) throw new SnapshotError(`${path}.fids: more than ${this.maxFids}`);
    const fids = list(s.fids, `${path}.fids`, s.fids.length, (x, p) => {
      const f = record(x, p);
      const id = uint(f.id, `${p}.id`);
      const uid = uint(f.uid, `${p}.uid`);
      if (!Array.isArray(f.path) || f.path.length > PATH_DEPTH_MAX) throw new SnapshotError(`${p}.path: not a list`);
      const names = f.path.map((n: unknown, i: number) => {
        if (typeof n !== "string") throw new SnapshotError(`${p}.path[${i}]: not a string`);
        try {
          return checkName(n);
        } catch {
          throw new SnapshotError(`${p}.path[${i}]: not a file name`);
        }
      });
      let open: SavedFid["open"] = null;
      if (f.open !== null) {
        const o = record(f.open, `${p}.open`);
        const access = uint(o.access, `${p}.open.access`, 2) as 0 | 1 | 2;
        open = { dir: flag(o.dir, `${p}.open.dir`), access, append: flag(o.append, `${p}.open.append`) };
      }
      return { id, path: names, uid, open };
    });
    if (new Set(fids.map((f) => f.id)).size !== fids.length) throw new SnapshotError(`${path}.fids: an id twice`);
    this.reset();
    try {
      for (const [i, f] of fids.entries()) {
        const fid: Fid = { path: f.path, uid: f.uid, open: undefined, dirents: undefined };
        if (f.open !== null) {
          const flags: ShareOpenFlags = { access: f.open.access, truncate: false, append: f.open.append };
          let handle: number | undefined;
          if (!f.open.dir) {
            try {
              handle = this.backend.open(f.path, flags);
            } catch (e) {
              throw new SnapshotError(
                `${path}.fids[${i}]: /${f.path.join("/")} cannot be reopened on the share (${(e as Error).message})`,
              );
            }
            this.openCount++;
          }
          fid.open = { handle, flags, dir: f.open.dir };
        }
        this.fids.set(f.id, fid);
      }
    } catch (e) {
      this.reset();
      throw e;
    }
    this.msize = msize;
  }

  /** Forgets every fid and closes every open file (device reset, Tversion). */
  reset(): void {
    for (const f of this.fids.values()) this.closeFid(f);
    this.fids.clear();
    this.openCount = 0;
    this.msize = DEFAULT_MSIZE;
  }

  /**
   * Serves one request (`req`: the bytes the guest offered) with a reply of at most `maxReply` bytes;
   * undefined when it cannot be answered (fewer than 7 bytes: no tag; or no room for an Rlerror).
   */
  handle(req: Uint8Array, maxReply: number): Uint8Array | undefined {
    this.stats.requests++;
    if (req.length < P9_HEADER_SIZE || maxReply < P9_IOHDR_SIZE) {
      this.stats.malformed++;
      this.stats.dropped++;
      return undefined;
    }
    const head = new DataView(req.buffer, req.byteOffset, P9_HEADER_SIZE);
    const size = head.getUint32(0, true);
    const type = head.getUint8(4);
    const tag = head.getUint16(5, true);
    const name = P9_MESSAGE_NAMES[type] ?? "unknown";
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    if (size < P9_HEADER_SIZE || size > req.length) {
      this.stats.malformed++;
      this.stats.errors++;
      return rlerror(tag, EPROTO);
    }
    const limit = Math.min(maxReply, this.msize);
    try {
      const r = new P9Reader(req.subarray(0, size), P9_HEADER_SIZE);
      const reply = this.dispatch(type, tag, r, limit);
      if (reply.length > maxReply) throw new P9Error(EPROTO, "reply larger than the buffer");
      return reply;
    } catch (e) {
      this.stats.errors++;
      if (e instanceof P9Error) {
        if (e.name === "P9ProtoError") this.stats.malformed++;
        return rlerror(tag, e.errno);
      }
      this.stats.internalErrors++;
      this.onError(e);
      return rlerror(tag, EIO);
    }
  }

  private dispatch(type: number, tag: number, r: P9Reader, limit: number): Uint8Array {
    switch (type) {
      case P9_TVERSION:
        return this.version(tag, r);
      case P9_TAUTH:
        throw new P9Error(EOPNOTSUPP, "no authentication");
      case P9_TATTACH:
        return this.attach(tag, r);
      case P9_TFLUSH:
        // Every request is answered before the next is read: there is never anything to cancel.
        r.u16("oldtag");
        return this.empty(type, tag);
      case P9_TWALK:
        return this.walk(tag, r);
      case P9_TLOPEN:
        return this.lopen(tag, r);
      case P9_TLCREATE:
        return this.lcreate(tag, r);
      case P9_TREAD:
        return this.read(tag, r, limit);
      case P9_TWRITE:
        return this.write(tag, r);
      case P9_TCLUNK: {
        const fid = r.u32("fid");
        this.closeFid(this.fid(fid));
        this.fids.delete(fid);
        return this.empty(type, tag);
      }
      case P9_TREMOVE:
        return this.remove(tag, r);
      case P9_TGETATTR:
        return this.getattr(tag, r);
      case P9_TSETATTR:
        return this.setattr(tag, r);
      case P9_TREADDIR:
        return this.readdir(tag, r, limit);
      case P9_TMKDIR:
        return this.mkdir(tag, r);
      case P9_TUNLINKAT:
        return this.unlinkat(tag, r);
      case P9_TRENAMEAT:
        return this.renameat(tag, r);
      case P9_TRENAME:
        return this.rename(tag, r);
      case P9_TSTATFS:
        return this.statfs(tag, r);
      case P9_TFSYNC: {
        const f = this.fid(r.u32("fid"));
        if (f.open?.handle !== undefined) this.backend.fsync(f.open.handle);
        return this.empty(type, tag);
      }
      case P9_TSYMLINK:
        return this.symlink(tag, r);
      case P9_TREADLINK: {
        const f = this.fid(r.u32("fid"));
        const target = this.backend.readlink(f.path);
        return new P9Writer(type + 1, tag, 16 + utf8Length(target)).str(target).finish();
      }
      case P9_TLOCK:
        return this.lock(tag, r);
      case P9_TGETLOCK:
        return this.getlock(tag, r);
      case P9_TXATTRWALK:
      case P9_TXATTRCREATE:
        this.fid(r.u32("fid"));
        throw new P9Error(EOPNOTSUPP, "no extended attributes");
      case P9_TLINK:
        throw new P9Error(EPERM, "hard links are not supported");
      case P9_TMKNOD:
        throw new P9Error(EPERM, "device files and FIFOs are not created in a share");
      default:
        throw new P9Error(EOPNOTSUPP, `message type ${type}`);
    }
  }

  private empty(type: number, tag: number): Uint8Array {
    return new P9Writer(type + 1, tag, 8).finish();
  }

  // --- session ---

  private version(tag: number, r: P9Reader): Uint8Array {
    const msize = r.u32("msize");
    const version = r.str("version");
    if (msize < MIN_MSIZE) throw new P9Error(EINVAL, `msize ${msize} is too small`);
    this.reset();
    this.msize = Math.min(msize, P9_MAX_MSIZE);
    const ours = version === P9_VERSION_L || version.startsWith(`${P9_VERSION_L}.`) ? P9_VERSION_L : "unknown";
    return new P9Writer(P9_TVERSION + 1, tag, 32).u32(this.msize).str(ours).finish();
  }

  private attach(tag: number, r: P9Reader): Uint8Array {
    const fid = r.u32("fid");
    r.u32("afid");
    r.str("uname");
    r.str("aname");
    const uid = r.u32("n_uname");
    this.newFid(fid, { path: [], uid, open: undefined, dirents: undefined });
    return new P9Writer(P9_TATTACH + 1, tag, 32).qid(this.qid(this.backend.lstat([]))).finish();
  }

  private walk(tag: number, r: P9Reader): Uint8Array {
    const from = this.fid(r.u32("fid"));
    const newfid = r.u32("newfid");
    const n = r.u16("nwname");
    if (n > P9_MAXWELEM) throw new P9Error(EINVAL, `walk of ${n} names (at most ${P9_MAXWELEM})`);
    const names: string[] = [];
    for (let i = 0; i < n; i++) names.push(r.str("wname"));
    const taken = this.fids.get(newfid);
    if (taken !== undefined && taken !== from) throw new P9Error(EBADF, `newfid ${newfid} is in use`);
    const qids: Qid[] = [];
    let path = from.path;
    for (const [i, name] of names.entries()) {
      let next: string[];
      if (name === "..") next = path.slice(0, -1);
      else if (name === ".") next = path;
      else next = [...path, checkName(name)];
      if (next.length > PATH_DEPTH_MAX) throw new P9Error(ENAMETOOLONG);
      let st: ShareStat;
      try {
        // Only a directory can be walked out of.
        if (name !== ".." && this.backend.lstat(path).kind !== "dir") throw new P9Error(ENOTDIR);
        st = this.backend.lstat(next);
      } catch (e) {
        if (i === 0) throw e;
        break;
      }
      qids.push(this.qid(st));
      path = next;
    }
    // A clone (no names) never looks at the file: a fid whose file was deleted still clones. Walking a fid
    // onto itself with no names changes nothing.
    if (qids.length === names.length && !(n === 0 && this.fids.get(newfid) === from)) {
      const f: Fid = { path, uid: from.uid, open: undefined, dirents: undefined };
      if (this.fids.get(newfid) === from) {
        this.closeFid(from);
        this.fids.set(newfid, f);
      } else this.newFid(newfid, f);
    }
    const w = new P9Writer(P9_TWALK + 1, tag, 16 + P9_QID_SIZE * qids.length).u16(qids.length);
    for (const q of qids) w.qid(q);
    return w.finish();
  }

  // --- files ---

  private openFlags(flags: number): ShareOpenFlags {
    const acc = flags & P9_DOTL_ACCMODE;
    if (acc === 3) throw new P9Error(EINVAL, "access mode 3");
    return {
      access: acc as 0 | 1 | 2,
      truncate: (flags & P9_DOTL_TRUNC) !== 0,
      append: (flags & P9_DOTL_APPEND) !== 0,
    };
  }

  private lopen(tag: number, r: P9Reader): Uint8Array {
    const f = this.fid(r.u32("fid"));
    const flags = this.openFlags(r.u32("flags"));
    if (f.open !== undefined) throw new P9Error(EBADF, "fid already open");
    const st = this.backend.lstat(f.path);
    const writes = flags.access !== 0 || flags.truncate;
    if (st.kind === "dir") {
      if (writes) throw new P9Error(EISDIR);
      f.open = { handle: undefined, flags, dir: true };
    } else if (st.kind === "file") {
      if (writes && this.backend.readOnly) throw new P9Error(EROFS);
      this.roomToOpen();
      const handle = this.backend.open(f.path, flags);
      this.openCount++;
      f.open = { handle, flags, dir: false };
    } else if (st.kind === "symlink") throw new P9Error(ELOOP, "a symlink is resolved by the guest, not opened");
    else throw new P9Error(EPERM, "device files, FIFOs and sockets are not opened");
    return new P9Writer(P9_TLOPEN + 1, tag, 32)
      .qid(this.qid(st.kind === "file" ? this.backend.lstat(f.path) : st))
      .u32(0)
      .finish();
  }

  private lcreate(tag: number, r: P9Reader): Uint8Array {
    const f = this.fid(r.u32("fid"));
    const name = checkName(r.str("name"));
    const flags = this.openFlags(r.u32("flags"));
    const mode = r.u32("mode");
    const gid = r.u32("gid");
    if (f.open !== undefined) throw new P9Error(EBADF, "fid already open");
    this.writable();
    this.roomToOpen();
    const handle = this.backend.create(f.path, name, flags, mode & 0o7777);
    this.openCount++;
    f.path = [...f.path, name];
    f.open = { handle, flags, dir: false };
    f.dirents = undefined;
    this.own(f.path, f.uid, gid);
    return new P9Writer(P9_TLCREATE + 1, tag, 32)
      .qid(this.qid(this.backend.lstat(f.path)))
      .u32(0)
      .finish();
  }

  private read(tag: number, r: P9Reader, limit: number): Uint8Array {
    const f = this.fid(r.u32("fid"));
    const at = r.u64("offset");
    const count = r.u32("count");
    if (f.open === undefined || f.open.dir || f.open.handle === undefined) throw new P9Error(EBADF, "not an open file");
    if (f.open.flags.access === 1) throw new P9Error(EBADF, "opened write-only");
    // Past 2^53 no file has bytes: an empty read, as at any end of file.
    const offset = at > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(at);
    const n = at > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Math.min(count, limit - P9_IOHDR_SIZE);
    let reply: Uint8Array;
    let len: number;
    if (this.backend.readInto !== undefined && n > 0) {
      // Straight into the reply: one copy less per Rread (the bulk of a share's traffic).
      const buf = new Uint8Array(P9_IOHDR_SIZE + n);
      len = Math.min(n, this.backend.readInto(f.open.handle, offset, buf.subarray(P9_IOHDR_SIZE)));
      reply = buf.subarray(0, P9_IOHDR_SIZE + len);
      const v = new DataView(buf.buffer);
      v.setUint32(0, reply.length, true);
      v.setUint8(4, P9_TREAD + 1);
      v.setUint16(5, tag, true);
      v.setUint32(7, len, true);
    } else {
      const data = n > 0 ? this.backend.read(f.open.handle, offset, n) : new Uint8Array(0);
      len = Math.min(data.length, n);
      reply = new P9Writer(P9_TREAD + 1, tag, P9_IOHDR_SIZE + len).u32(len).data(data.subarray(0, len)).finish();
    }
    this.stats.bytesRead += len;
    return reply;
  }

  private write(tag: number, r: P9Reader): Uint8Array {
    const f = this.fid(r.u32("fid"));
    const offset = safeOffset(r.u64("offset"));
    const count = r.u32("count");
    const data = r.data(count, "write data");
    if (f.open === undefined || f.open.dir || f.open.handle === undefined) throw new P9Error(EBADF, "not an open file");
    if (f.open.flags.access === 0) throw new P9Error(EBADF, "opened read-only");
    this.writable();
    if (offset + count > Number.MAX_SAFE_INTEGER) throw new P9Error(EFBIG);
    const n = this.backend.write(f.open.handle, offset, data);
    this.stats.bytesWritten += n;
    return new P9Writer(P9_TWRITE + 1, tag, 16).u32(n).finish();
  }

  private remove(tag: number, r: P9Reader): Uint8Array {
    const id = r.u32("fid");
    const f = this.fid(id);
    // Tremove clunks the fid whatever happens.
    this.closeFid(f);
    this.fids.delete(id);
    this.writable();
    if (f.path.length === 0) throw new P9Error(EBUSY, "the share's root");
    const st = this.backend.lstat(f.path);
    this.backend.unlink(f.path.slice(0, -1), f.path[f.path.length - 1], st.kind === "dir");
    return this.empty(P9_TREMOVE, tag);
  }

  // --- attributes ---

  private getattr(tag: number, r: P9Reader): Uint8Array {
    const f = this.fid(r.u32("fid"));
    r.u64("request_mask");
    const st = this.backend.lstat(f.path);
    return new P9Writer(P9_TGETATTR + 1, tag, 168)
      .u64(P9_GETATTR_BASIC)
      .qid(this.qid(st))
      .u32(st.mode)
      .u32(st.uid)
      .u32(st.gid)
      .u64(st.nlink)
      .u64(st.rdev)
      .u64(st.size)
      .u64(st.blksize)
      .u64(st.blocks)
      .u64(st.atime.sec)
      .u64(st.atime.nsec)
      .u64(st.mtime.sec)
      .u64(st.mtime.nsec)
      .u64(st.ctime.sec)
      .u64(st.ctime.nsec)
      .u64(0) // btime
      .u64(0)
      .u64(0) // gen
      .u64(0) // data_version
      .finish();
  }

  private setattr(tag: number, r: P9Reader): Uint8Array {
    const f = this.fid(r.u32("fid"));
    const valid = r.u32("valid");
    const mode = r.u32("mode");
    const uid = r.u32("uid");
    const gid = r.u32("gid");
    const size = r.u64("size");
    const atimeSec = r.u64("atime_sec");
    const atimeNsec = r.u64("atime_nsec");
    const mtimeSec = r.u64("mtime_sec");
    const mtimeNsec = r.u64("mtime_nsec");
    const time = (sec: bigint, nsec: bigint) => ({ sec: safeOffset(sec), nsec: Number(nsec % 1000000000n) });
    const a: ShareSetattr = {};
    if (valid & P9_SETATTR_MODE) a.mode = mode & 0o7777;
    if (valid & P9_SETATTR_UID) a.uid = uid;
    if (valid & P9_SETATTR_GID) a.gid = gid;
    if (valid & P9_SETATTR_SIZE) {
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new P9Error(EFBIG);
      a.size = Number(size);
    }
    if (valid & P9_SETATTR_ATIME) a.atime = valid & P9_SETATTR_ATIME_SET ? time(atimeSec, atimeNsec) : "now";
    if (valid & P9_SETATTR_MTIME) a.mtime = valid & P9_SETATTR_MTIME_SET ? time(mtimeSec, mtimeNsec) : "now";
    // CTIME alone (or nothing) changes nothing we keep.
    if (Object.keys(a).length > 0) {
      this.writable();
      this.backend.setattr(f.path, a);
    }
    return this.empty(P9_TSETATTR, tag);
  }

  private statfs(tag: number, r: P9Reader): Uint8Array {
    this.fid(r.u32("fid"));
    const s = this.backend.statfs();
    return new P9Writer(P9_TSTATFS + 1, tag, 80)
      .u32(s.type)
      .u32(s.bsize)
      .u64(s.blocks)
      .u64(s.bfree)
      .u64(s.bavail)
      .u64(s.files)
      .u64(s.ffree)
      .u64(s.fsid)
      .u32(s.namelen)
      .finish();
  }

  // --- directories ---

  private readdir(tag: number, r: P9Reader, limit: number): Uint8Array {
    const f = this.fid(r.u32("fid"));
    const offset = r.u64("offset");
    const count = r.u32("count");
    if (f.open === undefined || !f.open.dir) throw new P9Error(EBADF, "not an open directory");
    if (offset === 0n || f.dirents === undefined) f.dirents = this.listing(f.path);
    const room = Math.min(count, limit - P9_IOHDR_SIZE);
    const w = new P9Writer(P9_TREADDIR + 1, tag, Math.min(room, 65536) + P9_IOHDR_SIZE).u32(0);
    let used = 0;
    const entries = f.dirents;
    for (let i = offset < BigInt(entries.length) ? Number(offset) : entries.length; i < entries.length; i++) {
      const e = entries[i];
      const size = P9_QID_SIZE + 8 + 1 + 2 + utf8Length(e.name);
      if (used + size > room) break;
      w.qid(e.qid)
        .u64(i + 1)
        .u8(e.type)
        .str(e.name);
      used += size;
    }
    w.patchU32(P9_HEADER_SIZE, used);
    return w.finish();
  }

  private listing(path: string[]): Dirent[] {
    const self = this.backend.lstat(path);
    if (self.kind !== "dir") throw new P9Error(ENOTDIR);
    const parent = path.length === 0 ? self : this.backend.lstat(path.slice(0, -1));
    const out: Dirent[] = [
      { name: ".", qid: this.qid(self), type: DT_DIR },
      { name: "..", qid: this.qid(parent), type: DT_DIR },
    ];
    for (const name of this.backend.readdir(path)) {
      let st: ShareStat;
      try {
        st = this.backend.lstat([...path, name]);
      } catch {
        continue; // gone meanwhile, or a name the backend will not serve
      }
      const type =
        st.kind === "dir" ? DT_DIR : st.kind === "file" ? DT_REG : st.kind === "symlink" ? DT_LNK : DT_UNKNOWN;
      out.push({ name, qid: this.qid(st), type });
    }
    return out;
  }

  private mkdir(tag: number, r: P9Reader): Uint8Array {
    const d = this.fid(r.u32("dfid"));
    const name = checkName(r.str("name"));
    const mode = r.u32("mode");
    const gid = r.u32("gid");
    this.writable();
    this.backend.mkdir(d.path, name, mode & 0o7777);
    const path = [...d.path, name];
    this.own(path, d.uid, gid);
    return new P9Writer(P9_TMKDIR + 1, tag, 32).qid(this.qid(this.backend.lstat(path))).finish();
  }

  private symlink(tag: number, r: P9Reader): Uint8Array {
    const d = this.fid(r.u32("fid"));
    const name = checkName(r.str("name"));
    const target = r.str("symtgt");
    const gid = r.u32("gid");
    this.writable();
    if (this.backend.symlink === undefined) throw new P9Error(EPERM, "this share does not create symlinks");
    if (target === "" || target.includes("\0")) throw new P9Error(EINVAL, "bad symlink target");
    if (utf8Length(target) > SYMLINK_MAX) throw new P9Error(ENAMETOOLONG);
    this.backend.symlink(d.path, name, target);
    const path = [...d.path, name];
    this.own(path, d.uid, gid);
    return new P9Writer(P9_TSYMLINK + 1, tag, 32).qid(this.qid(this.backend.lstat(path))).finish();
  }

  private unlinkat(tag: number, r: P9Reader): Uint8Array {
    const d = this.fid(r.u32("dirfd"));
    const name = checkName(r.str("name"));
    const flags = r.u32("flags");
    this.writable();
    this.backend.unlink(d.path, name, (flags & P9_AT_REMOVEDIR) !== 0);
    return this.empty(P9_TUNLINKAT, tag);
  }

  private renameat(tag: number, r: P9Reader): Uint8Array {
    const a = this.fid(r.u32("olddirfid"));
    const oldName = checkName(r.str("oldname"));
    const b = this.fid(r.u32("newdirfid"));
    const newName = checkName(r.str("newname"));
    this.doRename(a.path, oldName, b.path, newName);
    return this.empty(P9_TRENAMEAT, tag);
  }

  private rename(tag: number, r: P9Reader): Uint8Array {
    const f = this.fid(r.u32("fid"));
    const d = this.fid(r.u32("dfid"));
    const name = checkName(r.str("name"));
    if (f.path.length === 0) throw new P9Error(EBUSY, "the share's root");
    this.doRename(f.path.slice(0, -1), f.path[f.path.length - 1], d.path, name);
    return this.empty(P9_TRENAME, tag);
  }

  private doRename(fromDir: string[], fromName: string, toDir: string[], toName: string): void {
    this.writable();
    this.backend.rename(fromDir, fromName, toDir, toName);
    // Fids under the old name follow it (what QEMU's v9fs_fix_fid_paths does).
    const from = [...fromDir, fromName];
    const to = [...toDir, toName];
    for (const f of this.fids.values()) {
      if (f.path.length >= from.length && from.every((n, i) => f.path[i] === n)) {
        f.path = [...to, ...f.path.slice(from.length)];
      }
    }
  }

  // --- locks: one client, so every lock is granted (as QEMU does) ---

  private lock(tag: number, r: P9Reader): Uint8Array {
    this.fid(r.u32("fid"));
    r.u8("type");
    r.u32("flags");
    r.u64("start");
    r.u64("length");
    r.u32("proc_id");
    r.str("client_id");
    return new P9Writer(P9_TLOCK + 1, tag, 8).u8(0).finish(); // P9_LOCK_SUCCESS
  }

  private getlock(tag: number, r: P9Reader): Uint8Array {
    this.fid(r.u32("fid"));
    r.u8("type");
    const start = r.u64("start");
    const length = r.u64("length");
    const proc = r.u32("proc_id");
    const client = r.str("client_id");
    return new P9Writer(P9_TGETLOCK + 1, tag, 40 + utf8Length(client))
      .u8(2) // F_UNLCK: nothing holds it
      .u64(start)
      .u64(length)
      .u32(proc)
      .str(client)
      .finish();
  }

  // --- helpers ---

  private fid(id: number): Fid {
    const f = this.fids.get(id);
    if (f === undefined) throw new P9Error(EBADF, `no fid ${id}`);
    return f;
  }

  private newFid(id: number, f: Fid): void {
    if (this.fids.has(id)) throw new P9Error(EBADF, `fid ${id} is in use`);
    if (this.fids.size >= this.maxFids) throw new P9Error(EMFILE, "too many fids");
    this.fids.set(id, f);
  }

  private closeFid(f: Fid): void {
    const h = f.open?.handle;
    f.open = undefined;
    f.dirents = undefined;
    if (h === undefined) return;
    this.openCount--;
    try {
      this.backend.close(h);
    } catch {
      // Closing cannot fail in a way the guest could act on.
    }
  }

  private roomToOpen(): void {
    if (this.openCount >= this.maxOpen) throw new P9Error(EMFILE, "too many open files");
  }

  private writable(): void {
    if (this.backend.readOnly) throw new P9Error(EROFS);
  }

  /** New objects belong to the caller; a backend that cannot give them away keeps its own owner. */
  private own(path: string[], uid: number, gid: number): void {
    try {
      this.backend.setattr(path, { uid, gid });
    } catch {
      // best effort, like QEMU's security_model=none
    }
  }

  private qid(st: ShareStat): Qid {
    const type = st.kind === "dir" ? P9_QTDIR : st.kind === "symlink" ? P9_QTSYMLINK : P9_QTFILE;
    return { type, version: 0, path: st.ino };
  }
}

/**
 * A name a backend may see: not "", "." or ".." (EINVAL), no "/" (ENOENT: no single name holds one) or NUL
 * (EINVAL), at most 255 bytes (ENAMETOOLONG).
 */
function checkName(name: string): string {
  if (name.includes("/")) throw new P9Error(ENOENT, "a name with a slash");
  if (name === "" || name === "." || name === ".." || name.includes("\0")) throw new P9Error(EINVAL, "bad name");
  if (utf8Length(name) > NAME_MAX) throw new P9Error(ENAMETOOLONG);
  return name;
}

/** A u64 offset or time the host can hold exactly (≤ 2^53), else EFBIG. */
function safeOffset(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new P9Error(EFBIG, "beyond 2^53");
  return Number(v);
}
