// 9P2000.L wire format: message types, Linux errno values, and a bounds-checked reader and a writer.
// Every byte a reader sees comes from the guest: each field read checks the message's end and throws a
// P9ProtoError (turned into an Rlerror by the server, never out of the device); strings are UTF-8 checked.
// Sources: Linux include/net/9p/9p.h (type numbers, P9_DOTL_* flags, getattr/setattr bits) and the
// 9P2000.L description in the diod/QEMU documentation. Every number is little-endian.

// Message types (T = request, R = its reply = T + 1).
export const P9_TLERROR = 6;
export const P9_RLERROR = 7;
export const P9_TSTATFS = 8;
export const P9_TLOPEN = 12;
export const P9_TLCREATE = 14;
export const P9_TSYMLINK = 16;
export const P9_TMKNOD = 18;
export const P9_TRENAME = 20;
export const P9_TREADLINK = 22;
export const P9_TGETATTR = 24;
export const P9_TSETATTR = 26;
export const P9_TXATTRWALK = 30;
export const P9_TXATTRCREATE = 32;
export const P9_TREADDIR = 40;
export const P9_TFSYNC = 50;
export const P9_TLOCK = 52;
export const P9_TGETLOCK = 54;
export const P9_TLINK = 70;
export const P9_TMKDIR = 72;
export const P9_TRENAMEAT = 74;
export const P9_TUNLINKAT = 76;
export const P9_TVERSION = 100;
export const P9_TAUTH = 102;
export const P9_TATTACH = 104;
export const P9_TFLUSH = 108;
export const P9_TWALK = 110;
export const P9_TREAD = 116;
export const P9_TWRITE = 118;
export const P9_TCLUNK = 120;
export const P9_TREMOVE = 122;

/** Names for the UI's per-message counters and for logs. */
export const P9_MESSAGE_NAMES: Readonly<Record<number, string>> = {
  [P9_TSTATFS]: "statfs",
  [P9_TLOPEN]: "lopen",
  [P9_TLCREATE]: "lcreate",
  [P9_TSYMLINK]: "symlink",
  [P9_TMKNOD]: "mknod",
  [P9_TRENAME]: "rename",
  [P9_TREADLINK]: "readlink",
  [P9_TGETATTR]: "getattr",
  [P9_TSETATTR]: "setattr",
  [P9_TXATTRWALK]: "xattrwalk",
  [P9_TXATTRCREATE]: "xattrcreate",
  [P9_TREADDIR]: "readdir",
  [P9_TFSYNC]: "fsync",
  [P9_TLOCK]: "lock",
  [P9_TGETLOCK]: "getlock",
  [P9_TLINK]: "link",
  [P9_TMKDIR]: "mkdir",
  [P9_TRENAMEAT]: "renameat",
  [P9_TUNLINKAT]: "unlinkat",
  [P9_TVERSION]: "version",
  [P9_TAUTH]: "auth",
  [P9_TATTACH]: "attach",
  [P9_TFLUSH]: "flush",
  [P9_TWALK]: "walk",
  [P9_TREAD]: "read",
  [P9_TWRITE]: "write",
  [P9_TCLUNK]: "clunk",
  [P9_TREMOVE]: "remove",
};

export const P9_VERSION_L = "9P2000.L";
export const P9_NOTAG = 0xffff;
export const P9_NOFID = 0xffffffff;
/** The most names one Twalk may carry (P9_MAXWELEM). */
export const P9_MAXWELEM = 16;
/** size[4] type[1] tag[2]. */
export const P9_HEADER_SIZE = 7;
/** Rread / Rreaddir: the header and count[4] before the data. */
export const P9_IOHDR_SIZE = 11;
/** type[1] version[4] path[8]. */
export const P9_QID_SIZE = 13;

export const P9_QTDIR = 0x80;
export const P9_QTSYMLINK = 0x02;
export const P9_QTFILE = 0x00;

// Tlopen / Tlcreate flags (P9_DOTL_*, the Linux generic open flags).
export const P9_DOTL_ACCMODE = 0o3;
export const P9_DOTL_WRONLY = 0o1;
export const P9_DOTL_RDWR = 0o2;
export const P9_DOTL_CREATE = 0o100;
export const P9_DOTL_EXCL = 0o200;
export const P9_DOTL_TRUNC = 0o1000;
export const P9_DOTL_APPEND = 0o2000;

// Tgetattr mask and Tsetattr valid bits.
export const P9_GETATTR_BASIC = 0x7ff;
export const P9_SETATTR_MODE = 0x1;
export const P9_SETATTR_UID = 0x2;
export const P9_SETATTR_GID = 0x4;
export const P9_SETATTR_SIZE = 0x8;
export const P9_SETATTR_ATIME = 0x10;
export const P9_SETATTR_MTIME = 0x20;
export const P9_SETATTR_CTIME = 0x40;
export const P9_SETATTR_ATIME_SET = 0x80;
export const P9_SETATTR_MTIME_SET = 0x100;

/** Tunlinkat flags: AT_REMOVEDIR. */
export const P9_AT_REMOVEDIR = 0x200;

// Linux errno values (asm-generic/errno-base.h, errno.h): Rlerror carries the guest's numbers whatever
// the host is.
export const EPERM = 1;
export const ENOENT = 2;
export const EIO = 5;
export const ENXIO = 6;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const EMFILE = 24;
export const EFBIG = 27;
export const ENOSPC = 28;
export const EROFS = 30;
export const EMLINK = 31;
export const ERANGE = 34;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const ENODATA = 61;
export const EPROTO = 71;
export const EOVERFLOW = 75;
export const EILSEQ = 84;
export const EMSGSIZE = 90;
export const EOPNOTSUPP = 95;

/** A backend or the server refusing an operation with a Linux errno (answered as Rlerror). */
export class P9Error extends Error {
  constructor(
    readonly errno: number,
    message = `errno ${errno}`,
  ) {
    super(message);
    this.name = "P9Error";
  }
}

/** A message that breaks the wire format (ends early, a bad string): answered with EPROTO / EILSEQ. */
export class P9ProtoError extends P9Error {
  constructor(message: string, errno = EPROTO) {
    super(errno, message);
    this.name = "P9ProtoError";
  }
}

export interface Qid {
  type: number;
  version: number;
  /** A u64: the object's identity (an inode number). */
  path: bigint;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8enc = new TextEncoder();

/** Reads fields of one message body in order; every read is checked against the message's end. */
export class P9Reader {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  private need(n: number, what: string): number {
    const at = this.pos;
    if (at + n > this.bytes.length) throw new P9ProtoError(`message ends inside ${what} (at byte ${at})`);
    this.pos = at + n;
    return at;
  }

  u8(what = "u8"): number {
    return this.view.getUint8(this.need(1, what));
  }
  u16(what = "u16"): number {
    return this.view.getUint16(this.need(2, what), true);
  }
  u32(what = "u32"): number {
    return this.view.getUint32(this.need(4, what), true);
  }
  /** A u64 as a bigint (offsets are then range-checked by whoever uses them). */
  u64(what = "u64"): bigint {
    return this.view.getBigUint64(this.need(8, what), true);
  }
  /** A u16-counted UTF-8 string; invalid UTF-8 is EILSEQ. */
  str(what = "string"): string {
    const len = this.u16(`${what} length`);
    const at = this.need(len, what);
    try {
      return utf8.decode(this.bytes.subarray(at, at + len));
    } catch {
      throw new P9ProtoError(`${what} is not UTF-8`, EILSEQ);
    }
  }
  /** `n` raw bytes (a view into the message). */
  data(n: number, what = "data"): Uint8Array {
    const at = this.need(n, what);
    return this.bytes.subarray(at, at + n);
  }
}

/** Builds one reply; `finish()` fills in the size field. */
export class P9Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = P9_HEADER_SIZE;

  constructor(type: number, tag: number, capacity = 256) {
    this.buf = new Uint8Array(Math.max(capacity, 64));
    this.view = new DataView(this.buf.buffer);
    this.view.setUint8(4, type);
    this.view.setUint16(5, tag, true);
  }

  private room(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, at + n));
      bigger.set(this.buf);
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    this.pos = at + n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.view.setUint8(at, v);
    return this;
  }
  u16(v: number): this {
    const at = this.room(2);
    this.view.setUint16(at, v, true);
    return this;
  }
  u32(v: number): this {
    const at = this.room(4);
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }
  u64(v: bigint | number): this {
    const at = this.room(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }
  str(s: string): this {
    const b = utf8enc.encode(s);
    this.u16(b.length);
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }
  qid(q: Qid): this {
    return this.u8(q.type).u32(q.version).u64(q.path);
  }
  data(b: Uint8Array): this {
    // room() may replace this.buf: take the offset first.
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }
  /** Overwrites a u32 written earlier (Rread's count once the data is known). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }

  finish(): Uint8Array {
    this.view.setUint32(0, this.pos, true);
    return this.buf.subarray(0, this.pos);
  }
}

/** The bytes of a UTF-8 string as 9P counts them. */
export function utf8Length(s: string): number {
  return utf8enc.encode(s).length;
}

/** Rlerror for `tag`. */
export function rlerror(tag: number, errno: number): Uint8Array {
  return new P9Writer(P9_RLERROR, tag, 16).u32(errno).finish();
}
