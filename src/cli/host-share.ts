// A virtio-9p share backed by a host directory (`--share DIR[,ro]`), confined to DIR. Node has no openat(),
// so confinement is checked on every operation instead: the directory an operation works in is resolved
// with realpath and must be exactly DIR joined with the names the server passed (names never hold "/",
// "." or ".."), so a symlink anywhere on the way is refused with EACCES; the final object is then used
// without following it (lstat, O_NOFOLLOW opens, O_EXCL creates, unlink/rename/mkdir/readlink that act on
// the link itself). Only regular files are opened, with O_NONBLOCK and an fstat check that the descriptor is
// the regular file that was looked up, so a FIFO, socket or device file is never opened. The guest cannot
// create symlinks here (symlink() is left out: the server answers EPERM), nor change ownership (ignored,
// like QEMU's security_model=none). A process on the host that swaps a checked directory for a symlink
// between the check and the use (microseconds) is outside what this defends against.

import {
  type BigIntStats,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  type Stats,
  statfsSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import * as E from "../../devices/virtio-9p/p9-proto.ts";
import { P9Error } from "../../devices/virtio-9p/p9-proto.ts";
import {
  kindOfMode,
  type ShareBackend,
  type ShareOpenFlags,
  type SharePath,
  type ShareSetattr,
  type ShareStat,
  type ShareStatfs,
  type ShareTime,
} from "../../devices/virtio-9p/share-backend.ts";

/** Node's error codes → Linux errno values (what the guest understands, whatever the host is). */
const ERRNO: Readonly<Record<string, number>> = {
  EPERM: E.EPERM,
  ENOENT: E.ENOENT,
  EIO: E.EIO,
  ENXIO: E.ENXIO,
  EBADF: E.EBADF,
  EAGAIN: E.EAGAIN,
  ENOMEM: E.ENOMEM,
  EACCES: E.EACCES,
  EBUSY: E.EBUSY,
  EEXIST: E.EEXIST,
  EXDEV: E.EXDEV,
  ENOTDIR: E.ENOTDIR,
  EISDIR: E.EISDIR,
  EINVAL: E.EINVAL,
  ENFILE: 23,
  EMFILE: E.EMFILE,
  ETXTBSY: 26,
  EFBIG: E.EFBIG,
  ENOSPC: E.ENOSPC,
  EROFS: E.EROFS,
  EMLINK: E.EMLINK,
  ENAMETOOLONG: E.ENAMETOOLONG,
  ENOTEMPTY: E.ENOTEMPTY,
  ELOOP: E.ELOOP,
  EOVERFLOW: E.EOVERFLOW,
  EDQUOT: 122,
};

function errnoOf(e: unknown): number {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? (ERRNO[code] ?? E.EIO) : E.EIO;
}

/** Runs a host operation; any Node error becomes a P9Error with the Linux errno. */
function host<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof P9Error) throw e;
    throw new P9Error(errnoOf(e), (e as Error).message);
  }
}

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = constants;

function time(sec: bigint, ns: bigint): ShareTime {
  return { sec: Number(sec), nsec: Number(ns) };
}

function nsTime(ns: bigint): ShareTime {
  return time(ns / 1000000000n, ns % 1000000000n);
}

function toSeconds(t: ShareTime | "now" | undefined, current: number): number {
  if (t === undefined) return current;
  if (t === "now") return Date.now() / 1000;
  return t.sec + t.nsec / 1e9;
}

interface Handle {
  fd: number;
  flags: ShareOpenFlags;
}

export class HostShare implements ShareBackend {
  /** The share's real path (symlinks in DIR itself resolved once, at start). */
  readonly root: string;
  readonly readOnly: boolean;
  readonly description: string;
  /** Its files outlive the machine: a snapshot names them by path and a restore reopens them. */
  readonly persistent = true;
  private readonly handles = new Map<number, Handle>();

  constructor(dir: string, opts: { readOnly?: boolean } = {}) {
    this.root = realpathSync(dir);
    if (!lstatSync(this.root).isDirectory()) throw new Error(`--share ${dir}: not a directory`);
    this.readOnly = opts.readOnly === true;
    this.description = `host directory ${this.root}${this.readOnly ? " (read-only)" : ""}`;
  }

  /** The host path of a directory inside the share, refused (EACCES) if a symlink leads anywhere on the way. */
  private dirPath(path: SharePath): string {
    for (const n of path) {
      if (n === "" || n === "." || n === ".." || n.includes("/") || n.includes("\0")) throw new P9Error(E.EINVAL);
    }
    const p = path.length === 0 ? this.root : join(this.root, ...path);
    const real = host(() => realpathSync(p));
    if (real !== p) throw new P9Error(E.EACCES, `${p} leads outside the share (to ${real})`);
    return p;
  }

  /** The host path of `path`'s final object; its directory is confined, the object itself is not followed. */
  private objPath(path: SharePath): string {
    if (path.length === 0) return this.root;
    const name = path[path.length - 1];
    return join(this.dirPath(path.slice(0, -1)), this.checkName(name));
  }

  private child(dir: SharePath, name: string): string {
    return join(this.dirPath(dir), this.checkName(name));
  }

  private checkName(n: string): string {
    if (n === "" || n === "." || n === ".." || n.includes("/") || n.includes("\0")) throw new P9Error(E.EINVAL);
    return n;
  }

  private writable(): void {
    if (this.readOnly) throw new P9Error(E.EROFS);
  }

  lstat(path: SharePath): ShareStat {
    const p = this.objPath(path);
    const st = host(() => lstatSync(p, { bigint: true })) as BigIntStats;
    const mode = Number(st.mode);
    return {
      kind: kindOfMode(mode),
      mode,
      uid: Number(st.uid),
      gid: Number(st.gid),
      nlink: Number(st.nlink),
      rdev: Number(st.rdev),
      size: Number(st.size),
      blksize: Number(st.blksize),
      blocks: Number(st.blocks),
      atime: nsTime(st.atimeNs),
      mtime: nsTime(st.mtimeNs),
      ctime: nsTime(st.ctimeNs),
      ino: st.ino,
    };
  }

  readdir(path: SharePath): string[] {
    const p = this.dirPath(path);
    return host(() => readdirSync(p));
  }

  /** Opens a regular file without following a symlink and checks the descriptor is that file. */
  private openChecked(p: string, flags: number, expectIno?: bigint, mode = 0o644): number {
    const fd = host(() => openSync(p, flags | O_NOFOLLOW | O_NONBLOCK, mode));
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (e) {
      closeSync(fd);
      throw new P9Error(errnoOf(e));
    }
    if (!st.isFile() || (expectIno !== undefined && BigInt(st.ino) !== expectIno)) {
      closeSync(fd);
      throw new P9Error(E.EACCES, `${p} is not the regular file that was looked up`);
    }
    return fd;
  }

  private accessFlags(f: ShareOpenFlags): number {
    return (f.access === 0 ? O_RDONLY : f.access === 1 ? O_WRONLY : O_RDWR) | (f.append ? O_APPEND : 0);
  }

  private addHandle(fd: number, flags: ShareOpenFlags): number {
    this.handles.set(fd, { fd, flags });
    return fd;
  }

  open(path: SharePath, flags: ShareOpenFlags): number {
    if (flags.access !== 0 || flags.truncate) this.writable();
    const p = this.objPath(path);
    const st = host(() => lstatSync(p, { bigint: true }));
    if (st.isDirectory()) throw new P9Error(E.EISDIR);
    if (!st.isFile()) throw new P9Error(E.EACCES, `${p}: only regular files are opened`);
    const fd = this.openChecked(p, this.accessFlags(flags), st.ino);
    if (flags.truncate && flags.access !== 0) {
      try {
        ftruncateSync(fd, 0);
      } catch (e) {
        closeSync(fd);
        throw new P9Error(errnoOf(e));
      }
    }
    return this.addHandle(fd, flags);
  }

  create(dir: SharePath, name: string, flags: ShareOpenFlags, mode: number): number {
    this.writable();
    const p = this.child(dir, name);
    // O_EXCL: never through an existing name, a symlink included.
    const fd = this.openChecked(p, this.accessFlags(flags) | O_CREAT | O_EXCL, undefined, mode & 0o7777);
    return this.addHandle(fd, flags);
  }

  private handle(h: number): Handle {
    const x = this.handles.get(h);
    if (x === undefined) throw new P9Error(E.EBADF);
    return x;
  }

  read(h: number, offset: number, count: number): Uint8Array {
    const { fd } = this.handle(h);
    const buf = new Uint8Array(count);
    const n = host(() => readSync(fd, buf, 0, count, offset));
    return buf.subarray(0, n);
  }

  readInto(h: number, offset: number, dst: Uint8Array): number {
    const { fd } = this.handle(h);
    let done = 0;
    // A regular file reads short only at its end; loop anyway so a short read is never mistaken for it.
    while (done < dst.length) {
      const n = host(() => readSync(fd, dst, done, dst.length - done, offset + done));
      if (n <= 0) break;
      done += n;
    }
    return done;
  }

  write(h: number, offset: number, data: Uint8Array): number {
    this.writable();
    const { fd } = this.handle(h);
    let done = 0;
    while (done < data.length) {
      const n = host(() => writeSync(fd, data, done, data.length - done, offset + done));
      if (n <= 0) break;
      done += n;
    }
    return done;
  }

  fsync(h: number): void {
    const { fd } = this.handle(h);
    host(() => fsyncSync(fd));
  }

  close(h: number): void {
    const { fd } = this.handle(h);
    this.handles.delete(h);
    host(() => closeSync(fd));
  }

  mkdir(dir: SharePath, name: string, mode: number): void {
    this.writable();
    const p = this.child(dir, name);
    host(() => mkdirSync(p, mode & 0o7777));
  }

  readlink(path: SharePath): string {
    const p = this.objPath(path);
    return host(() => readlinkSync(p));
  }

  unlink(dir: SharePath, name: string, rmdir: boolean): void {
    this.writable();
    const p = this.child(dir, name);
    host(() => (rmdir ? rmdirSync(p) : unlinkSync(p)));
  }

  rename(fromDir: SharePath, fromName: string, toDir: SharePath, toName: string): void {
    this.writable();
    const a = this.child(fromDir, fromName);
    const b = this.child(toDir, toName);
    host(() => renameSync(a, b));
  }

  setattr(path: SharePath, a: ShareSetattr): void {
    const changes = a.mode !== undefined || a.size !== undefined || a.atime !== undefined || a.mtime !== undefined;
    // Ownership is not changed on the host (the server asks after every create): accepted and ignored.
    if (!changes) return;
    this.writable();
    const p = this.objPath(path);
    const st = host(() => lstatSync(p, { bigint: true }));
    const kind = kindOfMode(Number(st.mode));
    if (kind === "symlink") {
      if (a.mode !== undefined || a.size !== undefined) throw new P9Error(E.EACCES, "a symlink is not followed");
      const at = toSeconds(a.atime, Number(st.atimeMs) / 1000);
      const mt = toSeconds(a.mtime, Number(st.mtimeMs) / 1000);
      host(() => lutimesSync(p, at, mt));
      return;
    }
    if (kind === "other") throw new P9Error(E.EACCES, `${p}: only files and directories are changed`);
    if (a.size !== undefined && kind === "dir") throw new P9Error(E.EISDIR);
    // Through a descriptor of the very object looked up (O_NOFOLLOW; a directory opens read-only).
    const fd =
      kind === "dir"
        ? host(() => openSync(p, O_RDONLY | O_NOFOLLOW | constants.O_DIRECTORY))
        : this.openChecked(p, a.size !== undefined ? O_WRONLY : O_RDONLY, st.ino);
    try {
      host(() => {
        if (a.size !== undefined) ftruncateSync(fd, a.size);
        if (a.mode !== undefined) fchmodSync(fd, a.mode & 0o7777);
        if (a.atime !== undefined || a.mtime !== undefined) {
          const at = toSeconds(a.atime, Number(st.atimeMs) / 1000);
          const mt = toSeconds(a.mtime, Number(st.mtimeMs) / 1000);
          futimesSync(fd, at, mt);
        }
      });
    } finally {
      closeSync(fd);
    }
  }

  statfs(): ShareStatfs {
    const s = host(() => statfsSync(this.root));
    return {
      type: s.type >>> 0,
      bsize: s.bsize,
      blocks: s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      fsid: 0n,
      namelen: 255,
    };
  }

  sameObject(h: number, path: SharePath): boolean {
    const x = this.handles.get(h);
    if (x === undefined) return false;
    try {
      const a = fstatSync(x.fd, { bigint: true });
      const b = lstatSync(this.objPath(path), { bigint: true });
      return a.ino === b.ino && a.dev === b.dev && a.nlink > 0n;
    } catch {
      return false;
    }
  }

  /** Closes every descriptor (at exit). */
  closeAll(): void {
    for (const h of this.handles.values()) {
      try {
        closeSync(h.fd);
      } catch {
        // already gone
      }
    }
    this.handles.clear();
  }
}
