// Where a virtio-9p share's files live (like BlockBackend for disks, STYLE.md's TinyEMU idea): the 9P server
// only sees this interface, never a host file system or a browser API. Paths reach a backend as lists of
// names relative to the share's root, already checked by the server: no "", ".", "..", "/" or NUL in a
// name, so a list can only name something inside the share; a backend still has to refuse what would
// leave it (a host directory's symlinks). Every method is synchronous and answers failures by throwing a
// P9Error carrying a Linux errno. Operations name the final object and never follow a symlink there.

export type SharePath = readonly string[];

export type ShareKind = "file" | "dir" | "symlink" | "other";

export interface ShareTime {
  sec: number;
  nsec: number;
}

/** What Rgetattr reports (lstat). */
export interface ShareStat {
  kind: ShareKind;
  /** st_mode, file type bits included (S_IFREG, S_IFDIR, …). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atime: ShareTime;
  mtime: ShareTime;
  ctime: ShareTime;
  /** A u64 unique within the share while the object exists: becomes the qid path. */
  ino: bigint;
}

export interface ShareStatfs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  fsid: bigint;
  namelen: number;
}

export interface ShareOpenFlags {
  /** 0 read, 1 write, 2 both. */
  access: 0 | 1 | 2;
  truncate: boolean;
  append: boolean;
}

/** Tsetattr's changes; a time of "now" is the host's clock. */
export interface ShareSetattr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: ShareTime | "now";
  mtime?: ShareTime | "now";
}

export interface ShareBackend {
  /** A share that refuses every change with EROFS. */
  readonly readOnly: boolean;
  /** For the UI and logs: "host directory /srv/x", "in-memory". */
  readonly description: string;
  /**
   * Its files live outside the machine (a host directory), so a snapshot may name them by path and reopen
   * them at restore. Absent or false (the in-memory share, whose files a snapshot does not carry): a save
   * while the guest holds fids is refused.
   */
  readonly persistent?: boolean;
  /** For a save: whether `handle` is still the object `path` names (false once it was deleted or replaced). */
  sameObject?(handle: number, path: SharePath): boolean;
  lstat(path: SharePath): ShareStat;
  /** The names in a directory, without "." and "..". */
  readdir(path: SharePath): string[];
  /** Opens a regular file; returns a handle for read/write/fsync/close. */
  open(path: SharePath, flags: ShareOpenFlags): number;
  /** Creates a regular file `name` in `dir` (EEXIST if anything has that name) and opens it. */
  create(dir: SharePath, name: string, flags: ShareOpenFlags, mode: number): number;
  /** Up to `count` bytes at `offset` (fewer at the end of the file). */
  read(handle: number, offset: number, count: number): Uint8Array;
  /** Optional, the same into `dst` (up to its length); returns the bytes read. Saves the Rread a copy. */
  readInto?(handle: number, offset: number, dst: Uint8Array): number;
  /** Returns the bytes written. */
  write(handle: number, offset: number, data: Uint8Array): number;
  fsync(handle: number): void;
  close(handle: number): void;
  mkdir(dir: SharePath, name: string, mode: number): void;
  /** Optional: a backend without it refuses symlink creation (EPERM). */
  symlink?(dir: SharePath, name: string, target: string): void;
  readlink(path: SharePath): string;
  /** Removes a file, symlink (rmdir false) or an empty directory (rmdir true). */
  unlink(dir: SharePath, name: string, rmdir: boolean): void;
  rename(fromDir: SharePath, fromName: string, toDir: SharePath, toName: string): void;
  setattr(path: SharePath, attrs: ShareSetattr): void;
  statfs(): ShareStatfs;
}

// st_mode file type bits (Linux).
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export function kindOfMode(mode: number): ShareKind {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    default:
      return "other";
  }
}
