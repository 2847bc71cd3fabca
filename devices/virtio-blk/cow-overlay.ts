// A copy-on-write overlay: writes land in memory, sparse by chunk, over a read-only source that is
// never written (a disk image file, an HTTP range-request URL, a browser File). Reads take each chunk
// from the overlay if it has been written, else from the source. Works with synchronous and
// asynchronous sources alike.

import { andThen, type BlockBackend, BlockBackendError, isPromise, type MaybePromise } from "./block-backend.ts";

export const COW_DEFAULT_CHUNK = 4096;

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
