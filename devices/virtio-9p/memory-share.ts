// A virtio-9p share held in memory (the page's share, and tests): a tree of nodes with POSIX-like
// semantics (an unlinked file stays readable through an open handle; rename over a file or an empty
// directory replaces it). Bounded: at most `maxBytes` of file data and `maxNodes` objects, else ENOSPC.

import {
  EBADF,
  EEXIST,
  EFBIG,
  EINVAL,
  EISDIR,
  ENOENT,
  ENOSPC,
  ENOTDIR,
  ENOTEMPTY,
  EROFS,
  P9Error,
} from "./p9-proto.ts";
import {
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  type ShareBackend,
  type ShareOpenFlags,
  type SharePath,
  type ShareSetattr,
  type ShareStat,
  type ShareStatfs,
  type ShareTime,
} from "./share-backend.ts";

interface MemNode {
  ino: number;
  kind: "file" | "dir" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  atime: ShareTime;
  mtime: ShareTime;
  ctime: ShareTime;
  /** Files: the bytes (capacity may exceed size). */
  data: Uint8Array;
  size: number;
  children: Map<string, MemNode> | undefined;
  target: string;
}

interface MemHandle {
  node: MemNode;
  flags: ShareOpenFlags;
}

export interface MemoryShareOptions {
  readOnly?: boolean;
  /** Total file bytes (default 256 MiB). */
  maxBytes?: number;
  /** Files, directories and symlinks (default 65536). */
  maxNodes?: number;
  /** The clock for timestamps (ms since the epoch); tests pass a fixed one. */
  now?: () => number;
}

/** Largest single file: a Uint8Array's practical limit here. */
const MAX_FILE = 1 << 30;

export class MemoryShare implements ShareBackend {
  readonly readOnly: boolean;
  readonly description = "in-memory";
  private readonly root: MemNode;
  private readonly handles = new Map<number, MemHandle>();
  private nextHandle = 1;
  private nextIno = 1;
  private nodes = 0;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxNodes: number;
  private readonly now: () => number;

  constructor(opts: MemoryShareOptions = {}) {
    this.readOnly = opts.readOnly === true;
    this.maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
    this.maxNodes = opts.maxNodes ?? 65536;
    this.now = opts.now ?? Date.now;
    this.root = this.node("dir", 0o755);
  }

  /** Host-side helpers (the page's upload, tests): write a whole file, creating parent directories. */
  putFile(path: string, data: Uint8Array): void {
    const names = path.split("/").filter((n) => n !== "");
    if (names.length === 0 || names.some((n) => n === "." || n === ".." || n.includes("\0"))) {
      throw new P9Error(EINVAL, `not a file name: ${path}`);
    }
    let dir = this.root;
    for (const name of names.slice(0, -1)) {
      let next = dir.children?.get(name);
      if (next === undefined) {
        next = this.node("dir", 0o755);
        this.link(dir, name, next);
      }
      if (next.kind !== "dir") throw new P9Error(ENOTDIR, path);
      dir = next;
    }
    const last = names[names.length - 1];
    let f = dir.children?.get(last);
    if (f === undefined) {
      f = this.node("file", 0o644);
      this.link(dir, last, f);
    }
    if (f.kind !== "file") throw new P9Error(EISDIR, path);
    this.resize(f, 0);
    this.writeAt(f, 0, data);
  }

  /** The whole file at `path` (host side: the page's download, tests). */
  getFile(path: string): Uint8Array {
    const n = this.walk(path.split("/").filter((x) => x !== ""));
    if (n.kind !== "file") throw new P9Error(EISDIR, path);
    return n.data.slice(0, n.size);
  }

  /** Every regular file with its size, paths from the root ("dir/f.txt"), in name order; at most `max`. */
  list(max = 10000): { path: string; size: number }[] {
    const out: { path: string; size: number }[] = [];
    const walk = (n: MemNode, prefix: string): void => {
      for (const name of [...(n.children?.keys() ?? [])].sort()) {
        if (out.length >= max) return;
        const c = n.children?.get(name) as MemNode;
        if (c.kind === "file") out.push({ path: prefix + name, size: c.size });
        else if (c.kind === "dir") walk(c, `${prefix}${name}/`);
      }
    };
    walk(this.root, "");
    return out;
  }

  lstat(path: SharePath): ShareStat {
    const n = this.walk(path);
    const size = n.kind === "file" ? n.size : n.kind === "symlink" ? n.target.length : 4096;
    const type = n.kind === "dir" ? S_IFDIR : n.kind === "symlink" ? S_IFLNK : S_IFREG;
    return {
      kind: n.kind,
      mode: type | (n.mode & 0o7777),
      uid: n.uid,
      gid: n.gid,
      nlink: n.kind === "dir" ? 2 + [...(n.children?.values() ?? [])].filter((c) => c.kind === "dir").length : n.nlink,
      rdev: 0,
      size,
      blksize: 4096,
      blocks: Math.ceil(size / 512),
      atime: n.atime,
      mtime: n.mtime,
      ctime: n.ctime,
      ino: BigInt(n.ino),
    };
  }

  readdir(path: SharePath): string[] {
    const n = this.walk(path);
    if (n.children === undefined) throw new P9Error(ENOTDIR);
    return [...n.children.keys()];
  }

  open(path: SharePath, flags: ShareOpenFlags): number {
    const n = this.walk(path);
    if (n.kind === "dir") throw new P9Error(EISDIR);
    if (n.kind !== "file") throw new P9Error(EINVAL, "not a regular file");
    if (this.readOnly && (flags.access !== 0 || flags.truncate)) throw new P9Error(EROFS);
    if (flags.truncate && flags.access !== 0) {
      this.resize(n, 0);
      this.touch(n);
    }
    return this.addHandle(n, flags);
  }

  create(dir: SharePath, name: string, flags: ShareOpenFlags, mode: number): number {
    const d = this.dirForChange(dir, name);
    if (d.children?.has(name)) throw new P9Error(EEXIST);
    const n = this.node("file", mode);
    this.link(d, name, n);
    return this.addHandle(n, flags);
  }

  read(handle: number, offset: number, count: number): Uint8Array {
    const h = this.handle(handle);
    if (h.flags.access === 1) throw new P9Error(EBADF, "opened write-only");
    const n = h.node;
    if (offset >= n.size) return new Uint8Array(0);
    n.atime = this.time();
    return n.data.slice(offset, Math.min(n.size, offset + count));
  }

  write(handle: number, offset: number, data: Uint8Array): number {
    const h = this.handle(handle);
    if (h.flags.access === 0) throw new P9Error(EBADF, "opened read-only");
    if (this.readOnly) throw new P9Error(EROFS);
    const at = h.flags.append ? h.node.size : offset;
    this.writeAt(h.node, at, data);
    return data.length;
  }

  fsync(handle: number): void {
    this.handle(handle);
  }

  close(handle: number): void {
    this.handle(handle);
    this.handles.delete(handle);
  }

  mkdir(dir: SharePath, name: string, mode: number): void {
    const d = this.dirForChange(dir, name);
    if (d.children?.has(name)) throw new P9Error(EEXIST);
    this.link(d, name, this.node("dir", mode));
  }

  symlink(dir: SharePath, name: string, target: string): void {
    const d = this.dirForChange(dir, name);
    if (d.children?.has(name)) throw new P9Error(EEXIST);
    const n = this.node("symlink", 0o777);
    n.target = target;
    this.link(d, name, n);
  }

  readlink(path: SharePath): string {
    const n = this.walk(path);
    if (n.kind !== "symlink") throw new P9Error(EINVAL, "not a symlink");
    return n.target;
  }

  unlink(dir: SharePath, name: string, rmdir: boolean): void {
    const d = this.dirForChange(dir, name);
    const n = d.children?.get(name);
    if (n === undefined) throw new P9Error(ENOENT);
    if (rmdir) {
      if (n.kind !== "dir") throw new P9Error(ENOTDIR);
      if ((n.children?.size ?? 0) > 0) throw new P9Error(ENOTEMPTY);
    } else if (n.kind === "dir") throw new P9Error(EISDIR);
    this.unlinkNode(d, name, n);
  }

  rename(fromDir: SharePath, fromName: string, toDir: SharePath, toName: string): void {
    const a = this.dirForChange(fromDir, fromName);
    const b = this.dirForChange(toDir, toName);
    const n = a.children?.get(fromName);
    if (n === undefined) throw new P9Error(ENOENT);
    // A directory cannot move inside itself.
    if (n.kind === "dir") {
      for (let i = 0; i <= toDir.length; i++) {
        if (this.walk(toDir.slice(0, i)) === n) throw new P9Error(EINVAL, "a directory into itself");
      }
    }
    const old = b.children?.get(toName);
    if (old === n) return;
    if (old !== undefined) {
      if (n.kind === "dir" && old.kind !== "dir") throw new P9Error(ENOTDIR);
      if (n.kind !== "dir" && old.kind === "dir") throw new P9Error(EISDIR);
      if (old.kind === "dir" && (old.children?.size ?? 0) > 0) throw new P9Error(ENOTEMPTY);
      this.unlinkNode(b, toName, old);
    }
    a.children?.delete(fromName);
    b.children?.set(toName, n);
    a.mtime = b.mtime = n.ctime = this.time();
  }

  setattr(path: SharePath, attrs: ShareSetattr): void {
    if (this.readOnly) throw new P9Error(EROFS);
    const n = this.walk(path);
    if (attrs.size !== undefined) {
      if (n.kind === "dir") throw new P9Error(EISDIR);
      if (n.kind !== "file") throw new P9Error(EINVAL);
      this.resize(n, attrs.size);
      n.mtime = this.time();
    }
    if (attrs.mode !== undefined) n.mode = attrs.mode & 0o7777;
    if (attrs.uid !== undefined) n.uid = attrs.uid;
    if (attrs.gid !== undefined) n.gid = attrs.gid;
    if (attrs.atime !== undefined) n.atime = attrs.atime === "now" ? this.time() : attrs.atime;
    if (attrs.mtime !== undefined) n.mtime = attrs.mtime === "now" ? this.time() : attrs.mtime;
    n.ctime = this.time();
  }

  statfs(): ShareStatfs {
    const bsize = 4096;
    const free = Math.floor((this.maxBytes - this.bytes) / bsize);
    return {
      type: 0x01021997, // V9FS_MAGIC
      bsize,
      blocks: Math.floor(this.maxBytes / bsize),
      bfree: free,
      bavail: free,
      files: this.maxNodes,
      ffree: this.maxNodes - this.nodes,
      fsid: 0n,
      namelen: 255,
    };
  }

  // --- inside ---

  private time(): ShareTime {
    const ms = this.now();
    return { sec: Math.floor(ms / 1000), nsec: Math.floor(ms % 1000) * 1e6 };
  }

  private node(kind: MemNode["kind"], mode: number): MemNode {
    if (this.nodes >= this.maxNodes) throw new P9Error(ENOSPC, "too many files");
    this.nodes++;
    const t = this.time();
    return {
      ino: this.nextIno++,
      kind,
      mode: mode & 0o7777,
      uid: 0,
      gid: 0,
      nlink: 1,
      atime: t,
      mtime: t,
      ctime: t,
      data: new Uint8Array(0),
      size: 0,
      children: kind === "dir" ? new Map() : undefined,
      target: "",
    };
  }

  private link(dir: MemNode, name: string, n: MemNode): void {
    dir.children?.set(name, n);
    dir.mtime = dir.ctime = this.time();
  }

  private unlinkNode(dir: MemNode, name: string, n: MemNode): void {
    dir.children?.delete(name);
    dir.mtime = dir.ctime = this.time();
    n.nlink = 0;
    this.nodes--;
    // An open file keeps its bytes until closed; they stop counting against the share at once.
    if (n.kind === "file") this.bytes -= n.data.length;
  }

  private walk(path: SharePath): MemNode {
    let n = this.root;
    for (const name of path) {
      if (n.children === undefined) throw new P9Error(ENOTDIR);
      const next = n.children.get(name);
      if (next === undefined) throw new P9Error(ENOENT);
      n = next;
    }
    return n;
  }

  private dirForChange(dir: SharePath, name: string): MemNode {
    if (this.readOnly) throw new P9Error(EROFS);
    if (name === "" || name === "." || name === ".." || name.includes("/")) throw new P9Error(EINVAL);
    const d = this.walk(dir);
    if (d.children === undefined) throw new P9Error(ENOTDIR);
    return d;
  }

  private addHandle(node: MemNode, flags: ShareOpenFlags): number {
    const h = this.nextHandle++;
    this.handles.set(h, { node, flags });
    return h;
  }

  private handle(h: number): MemHandle {
    const x = this.handles.get(h);
    if (x === undefined) throw new P9Error(EBADF);
    return x;
  }

  private touch(n: MemNode): void {
    n.mtime = n.ctime = this.time();
  }

  /** Sets a file's size, keeping the byte budget (only linked files count). */
  private resize(n: MemNode, size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new P9Error(EINVAL);
    if (size > MAX_FILE) throw new P9Error(EFBIG);
    const counted = n.nlink > 0;
    if (size > n.data.length) {
      const cap = Math.min(MAX_FILE, Math.max(size, n.data.length * 2, 4096));
      const grow = cap - n.data.length;
      if (counted && this.bytes + grow > this.maxBytes) {
        // Try the exact size before giving up.
        const exact = size - n.data.length;
        if (this.bytes + exact > this.maxBytes) throw new P9Error(ENOSPC);
        this.realloc(n, size, counted);
      } else this.realloc(n, cap, counted);
    } else if (size < n.size) n.data.fill(0, size, n.size);
    n.size = size;
  }

  private realloc(n: MemNode, cap: number, counted: boolean): void {
    const d = new Uint8Array(cap);
    d.set(n.data.subarray(0, n.size));
    if (counted) this.bytes += cap - n.data.length;
    n.data = d;
  }

  private writeAt(n: MemNode, offset: number, data: Uint8Array): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new P9Error(EINVAL);
    const end = offset + data.length;
    if (end > n.size) this.resize(n, end);
    n.data.set(data, offset);
    this.touch(n);
  }
}
