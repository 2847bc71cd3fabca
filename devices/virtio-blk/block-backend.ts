// Where a virtio-blk disk's bytes live (TinyEMU's BlockDevice idea, STYLE.md): the device model only
// sees this interface, never a file, a URL or a browser File. Any method may answer synchronously or
// with a Promise; the device completes a request later when it gets a Promise, without blocking the
// run loop. Offsets and lengths reaching a backend are already checked against `size`.

export type MaybePromise<T> = T | Promise<T>;

export interface BlockBackend {
  /** Bytes; the device exposes floor(size / 512) sectors. */
  readonly size: number;
  /** A backend that cannot write; the device then offers VIRTIO_BLK_F_RO. */
  readonly readOnly?: boolean;
  /**
   * What the bytes are, for a snapshot to check that a restore reads the same disk (a file's path, size and
   * modification time; a URL and its length). Undefined: the source cannot be named (a snapshot refuses it).
   */
  readonly identity?: string;
  /** Exactly `length` bytes at `offset` (a fresh array the caller may keep). */
  read(offset: number, length: number): MaybePromise<Uint8Array>;
  write(offset: number, data: Uint8Array): MaybePromise<void>;
  flush(): MaybePromise<void>;
  /** The range's contents become unspecified; omitted → the device writes zeroes instead. */
  discard?(offset: number, length: number): MaybePromise<void>;
  /** The range reads as zeroes afterwards; omitted → the device writes a zero buffer. */
  writeZeroes?(offset: number, length: number): MaybePromise<void>;
}

export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown })?.then === "function";
}

/** Applies `f` now when `v` is a plain value, or when it settles: keeps synchronous backends synchronous. */
export function andThen<T, U>(v: MaybePromise<T>, f: (t: T) => MaybePromise<U>): MaybePromise<U> {
  return isPromise(v) ? v.then(f) : f(v);
}

export class BlockBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BlockBackendError";
  }
}

function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new BlockBackendError(`bad range ${offset}+${length}`);
  }
  if (offset + length > size) throw new BlockBackendError(`range ${offset}+${length} past the end (${size})`);
}

/** A disk held in one Uint8Array: blank disks, tests, and small images fetched whole. */
export class MemoryBlockBackend implements BlockBackend {
  readonly bytes: Uint8Array;
  readonly readOnly: boolean;
  flushes = 0;

  /** A zeroed disk of `size` bytes, or the given bytes themselves (not copied). */
  constructor(sizeOrBytes: number | Uint8Array, opts: { readOnly?: boolean } = {}) {
    this.bytes = typeof sizeOrBytes === "number" ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.readOnly = opts.readOnly ?? false;
  }
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    checkRange(this.size, offset, length);
    return this.bytes.slice(offset, offset + length);
  }
  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockBackendError("read-only disk");
    checkRange(this.size, offset, data.length);
    this.bytes.set(data, offset);
  }
  flush(): void {
    this.flushes++;
  }
  writeZeroes(offset: number, length: number): void {
    if (this.readOnly) throw new BlockBackendError("read-only disk");
    checkRange(this.size, offset, length);
    this.bytes.fill(0, offset, offset + length);
  }
  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }
}
