// A copy-on-write overlay: writes land in memory, sparse by chunk, over a read-only source that is
// never written (a disk image file, an HTTP range-request URL, a browser File). Reads take each chunk
// from the overlay if it has been written, else from the source. Works with synchronous and
// asynchronous sources alike.

import { andThen, type BlockBackend, BlockBackendError, isPromise, type MaybePromise } from "./block-backend.ts";

export const COW_DEFAULT_CHUNK = 4096;
const COW_MAGIC = 0x574f4356; // "VCOW"

export class CowOverlay implements BlockBackend {
  readonly size: number;
  readonly readOnly = false;
  readonly chunkSize: number;
  private readonly chunks = new Map<number, Uint8Array>();

  constructor(
    readonly source: BlockBackend,
    opts: { chunkSize?: number } = {},
  ) {
    const c = opts.chunkSize ?? COW_DEFAULT_CHUNK;
    if (!Number.isInteger(c) || c < 512 || (c & (c - 1)) !== 0) throw new RangeError(`chunk size ${c}`);
    this.chunkSize = c;
    this.size = source.size;
  }

  /** The source's identity: the overlay is the snapshot's to save. */
  get identity(): string | undefined {
    return this.source.identity;
  }

  /**
   * The written chunks, for a snapshot: "VCOW", u32 version 1, u32 chunk size, u32 count, count chunk indices
   * (u32 low, u32 high, ascending), then the chunks' bytes in that order.
   */
  exportChunks(): Uint8Array {
    const idx = [...this.chunks.keys()].sort((a, b) => a - b);
    const out = new Uint8Array(16 + 8 * idx.length + idx.length * this.chunkSize);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, COW_MAGIC, true);
    dv.setUint32(4, 1, true);
    dv.setUint32(8, this.chunkSize, true);
    dv.setUint32(12, idx.length, true);
    idx.forEach((i, k) => {
      dv.setUint32(16 + 8 * k, i % 4294967296, true);
      dv.setUint32(20 + 8 * k, Math.floor(i / 4294967296), true);
      out.set(this.chunks.get(i)!, 16 + 8 * idx.length + k * this.chunkSize);
    });
    return out;
  }

  /** Replaces the written chunks with exportChunks()'s output; throws, changing nothing, on anything else. */
  importChunks(data: Uint8Array): void {
    const bad = (why: string) => new BlockBackendError(`disk overlay: ${why}`);
    if (data.length < 16) throw bad("shorter than its header");
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (dv.getUint32(0, true) !== COW_MAGIC || dv.getUint32(4, true) !== 1) throw bad("not a version 1 overlay");
    if (dv.getUint32(8, true) !== this.chunkSize)
      throw bad(`chunk size ${dv.getUint32(8, true)}, not ${this.chunkSize}`);
    const n = dv.getUint32(12, true);
    if (data.length !== 16 + n * (8 + this.chunkSize)) throw bad("its length does not match its header");
    const limit = Math.ceil(this.size / this.chunkSize);
    const chunks = new Map<number, Uint8Array>();
    let last = -1;
    for (let k = 0; k < n; k++) {
      const i = dv.getUint32(16 + 8 * k, true) + dv.getUint32(20 + 8 * k, true) * 4294967296;
      if (i <= last || i >= limit) throw bad(`chunk ${i} out of order or past the disk's end`);
      last = i;
      const at = 16 + 8 * n + k * this.chunkSize;
      chunks.set(i, data.slice(at, at + this.chunkSize));
    }
    this.chunks.clear();
    for (const [i, c] of chunks) this.chunks.set(i, c);
  }

  /** Chunks written so far (each `chunkSize` bytes of host memory). */
  get dirtyChunks(): number {
    return this.chunks.size;
  }
  get overlayBytes(): number {
    return this.chunks.size * this.chunkSize;
  }

  read(offset: number, length: number): MaybePromise<Uint8Array> {
    this.check(offset, length);
    const out = new Uint8Array(length);
    const pending: Promise<void>[] = [];
    // Runs of chunks absent from the overlay go to the source in one read each.
    let runStart = -1;
    const flushRun = (end: number) => {
      if (runStart < 0) return;
      const at = runStart;
      const r = this.source.read(at, end - at);
      const place = (bytes: Uint8Array) => {
        if (bytes.length !== end - at) throw new BlockBackendError("short read from the source image");
        out.set(bytes, at - offset);
      };
      if (isPromise(r)) pending.push(r.then(place));
      else place(r);
      runStart = -1;
    };
    const end = offset + length;
    for (let pos = offset; pos < end; ) {
      const idx = Math.floor(pos / this.chunkSize);
      const chunkEnd = Math.min(end, (idx + 1) * this.chunkSize);
      const chunk = this.chunks.get(idx);
      if (chunk === undefined) {
        if (runStart < 0) runStart = pos;
      } else {
        flushRun(pos);
        const base = idx * this.chunkSize;
        out.set(chunk.subarray(pos - base, chunkEnd - base), pos - offset);
      }
      pos = chunkEnd;
    }
    flushRun(end);
    return pending.length === 0 ? out : Promise.all(pending).then(() => out);
  }

  write(offset: number, data: Uint8Array): MaybePromise<void> {
    this.check(offset, data.length);
    const copy = data.slice();
    const fills: MaybePromise<void>[] = [];
    const end = offset + copy.length;
    for (let pos = offset; pos < end; ) {
      const idx = Math.floor(pos / this.chunkSize);
      const base = idx * this.chunkSize;
      const chunkEnd = Math.min(end, base + this.chunkSize);
      const from = pos;
      const apply = (chunk: Uint8Array) => {
        chunk.set(copy.subarray(from - offset, chunkEnd - offset), from - base);
      };
      const have = this.chunks.get(idx);
      if (have !== undefined) apply(have);
      else if (from === base && chunkEnd === base + this.chunkSize) {
        const chunk = new Uint8Array(this.chunkSize);
        this.chunks.set(idx, chunk);
        apply(chunk);
      } else {
        fills.push(andThen(this.materialize(idx), apply));
      }
      pos = chunkEnd;
    }
    const waits = fills.filter(isPromise);
    if (waits.length === 0) return;
    return Promise.all(waits).then(() => {});
  }

  flush(): void {
    // The overlay is the only copy of the writes; nothing to commit.
  }

  writeZeroes(offset: number, length: number): MaybePromise<void> {
    this.check(offset, length);
    // Whole chunks are zeroed without reading the source; partial ones merge as writes.
    const zeros = new Uint8Array(Math.min(length, this.chunkSize));
    const parts: MaybePromise<void>[] = [];
    const end = offset + length;
    for (let pos = offset; pos < end; ) {
      const idx = Math.floor(pos / this.chunkSize);
      const base = idx * this.chunkSize;
      const chunkEnd = Math.min(end, base + this.chunkSize);
      if (pos === base && chunkEnd === base + this.chunkSize) this.chunks.set(idx, new Uint8Array(this.chunkSize));
      else parts.push(this.write(pos, zeros.subarray(0, chunkEnd - pos)));
      pos = chunkEnd;
    }
    const waits = parts.filter(isPromise);
    if (waits.length === 0) return;
    return Promise.all(waits).then(() => {});
  }

  discard(offset: number, length: number): MaybePromise<void> {
    return this.writeZeroes(offset, length);
  }

  /** The overlay copy of chunk `idx`, made from the source on first use. */
  private materialize(idx: number): MaybePromise<Uint8Array> {
    const base = idx * this.chunkSize;
    const len = Math.min(this.chunkSize, this.size - base);
    return andThen(this.source.read(base, len), (bytes) => {
      // Another write may have materialized it while the source read was in flight.
      const existing = this.chunks.get(idx);
      if (existing !== undefined) return existing;
      const chunk = new Uint8Array(this.chunkSize);
      chunk.set(bytes.subarray(0, len));
      this.chunks.set(idx, chunk);
      return chunk;
    });
  }

  private check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new BlockBackendError(`bad range ${offset}+${length}`);
    }
    if (offset + length > this.size) throw new BlockBackendError(`range ${offset}+${length} past the end`);
  }
}
