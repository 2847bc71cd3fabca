// A read-only disk image behind a URL, read with HTTP range requests (RFC 9110 §14), so a
// multi-gigabyte image boots without being downloaded. It sits under a CowOverlay for writes. Bytes
// are fetched in aligned chunks kept in a small LRU cache: the guest's readahead and its repeated
// reads of metadata (superblock, inode tables) then cost no round trips. Runs of missing chunks go out
// as one request, and a chunk already on its way is awaited rather than fetched again. Every failure
// (network, HTTP status, a server that ignores Range, an image that changed) rejects the read with a
// BlockBackendError, which the device answers as VIRTIO_BLK_S_IOERR; nothing throws out of the device.
// Uses only `fetch`, so it runs in a page, a Web Worker and Node alike.
//
// A lasting store (`persist`, the page's IndexedDB: src/worker/disk-cache.ts) keeps fetched chunks across
// loads: a chunk missing from memory is looked up there before the server is asked, and every chunk the
// server sends is put there. It is keyed by what the probe saw (URL, size, ETag, Last-Modified), so an
// image changed on the server gets another key and is fetched again; without any validator (no ETag, no
// Last-Modified) or with `Cache-Control: no-store` nothing lasts.

import { type BlockBackend, BlockBackendError, type MaybePromise } from "./block-backend.ts";

export const HTTP_DEFAULT_CHUNK = 64 * 1024;
export const HTTP_DEFAULT_CACHE = 4 * 1024 * 1024;
/** One request covers at most this many bytes: long guest reads split into a few parallel requests. */
const MAX_RUN_BYTES = 2 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

export interface HttpBlockBackendOptions {
  /** Cache granularity and the smallest request (power of two ≥ 512; default 64 KiB). */
  chunkSize?: number;
  /** Bytes of chunks kept (default 4 MiB; at least one chunk is always kept). */
  cacheBytes?: number;
  /** Per request, including the body; a hung server becomes an I/O error, not a hung disk. */
  timeoutMs?: number;
  /** Extra attempts after a network error or a 5xx (default 1). */
  retries?: number;
  /** Injected for tests; default globalThis.fetch. */
  fetch?: typeof fetch;
  /**
   * A lasting store of chunks for the image the probe found (undefined: none). Called only when the
   * server names a version of the image (ETag or Last-Modified) and does not say no-store.
   */
  persist?: (image: HttpImageVersion) => LastingChunkStore | undefined;
}

/** What identifies the bytes behind a URL, as the probe saw them: a lasting store's key. */
export interface HttpImageVersion {
  url: string;
  size: number;
  /** As sent, weak or strong. */
  etag: string | undefined;
  lastModified: string | undefined;
  chunkSize: number;
}

/** Chunks of one image version kept across loads (the page's IndexedDB). Failures only cost a fetch. */
export interface LastingChunkStore {
  /** Chunks [first, first + count): index i is chunk first + i, undefined where none is kept. */
  get(first: number, count: number): Promise<(Uint8Array | undefined)[]>;
  /** Keeps consecutive chunks from `first` (fire and forget: the store may refuse them when full). */
  put(first: number, chunks: Uint8Array[]): void;
}

export interface HttpBlockStats {
  requests: number;
  bytesFetched: number;
  /** Chunks answered from the cache. */
  hits: number;
  /** Chunks not in memory: read from the lasting store, or fetched. */
  misses: number;
  /** Of those, chunks the lasting store had (no request). */
  stored: number;
  /** Bytes read from the lasting store. */
  bytesStored: number;
  /** Chunks that joined a request already in flight. */
  coalesced: number;
  evictions: number;
  errors: number;
}

interface Probe {
  size: number;
  /** A strong validator, to notice an image replaced on the server mid-run. */
  etag: string | undefined;
  /** The validators as sent (the lasting store's key; a response that differs is not kept). */
  rawEtag: string | undefined;
  lastModified: string | undefined;
  noStore: boolean;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

function reason(e: unknown): string {
  if (e instanceof Error) {
    // fetch's TypeError says "fetch failed"; the useful part (ECONNREFUSED…) is in its cause.
    const cause = (e as { cause?: unknown }).cause;
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    return e.name === "TimeoutError" ? "timed out" : `${e.message}${why}`;
  }
  return String(e);
}

/** Last-Modified as sent (undefined when absent). */
function lastModified(res: Response): string | undefined {
  return res.headers.get("last-modified") ?? undefined;
}

/** Whether the server forbids keeping the response (Cache-Control: no-store). */
function noStore(res: Response): boolean {
  return /(^|,)\s*no-store\s*(,|$)/i.test(res.headers.get("cache-control") ?? "");
}

/** The ETag when it is strong (a weak one may differ between byte-identical encodings). */
function strongEtag(res: Response): string | undefined {
  const e = res.headers.get("etag");
  return e === null || e.startsWith("W/") ? undefined : e;
}

export class HttpBlockBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly = true;
  readonly chunkSize: number;
  readonly maxChunks: number;
  readonly stats: HttpBlockStats = {
    requests: 0,
    bytesFetched: 0,
    hits: 0,
    misses: 0,
    stored: 0,
    bytesStored: 0,
    coalesced: 0,
    evictions: 0,
    errors: 0,
  };
  /** Chunk index → bytes, in least- to most-recently-used order (Map keeps insertion order). */
  private readonly cache = new Map<number, Uint8Array>();
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly etag: string | undefined;
  private readonly rawEtag: string | undefined;
  private readonly lastModified: string | undefined;
  /** Set to undefined when a response names another version than the probe did: nothing more is kept. */
  private lasting: LastingChunkStore | undefined;
  readonly identity: string;

  /** Probes the URL (size, range support) and answers with a backend ready for reads. */
  static async open(url: string, opts: HttpBlockBackendOptions = {}): Promise<HttpBlockBackend> {
    const probe = await probeUrl(url, opts.fetch ?? globalThis.fetch.bind(globalThis), opts.timeoutMs);
    return new HttpBlockBackend(url, probe, opts);
  }

  private constructor(
    readonly url: string,
    probe: Probe,
    opts: HttpBlockBackendOptions,
  ) {
    const c = opts.chunkSize ?? HTTP_DEFAULT_CHUNK;
    if (!Number.isInteger(c) || c < 512 || (c & (c - 1)) !== 0) throw new RangeError(`chunk size ${c}`);
    this.chunkSize = c;
    this.maxChunks = Math.max(1, Math.floor((opts.cacheBytes ?? HTTP_DEFAULT_CACHE) / c));
    this.size = probe.size;
    this.etag = probe.etag;
    this.identity = `url ${url} size ${probe.size}${probe.etag !== undefined ? ` etag ${probe.etag}` : ""}`;
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = opts.retries ?? 1;
    this.rawEtag = probe.rawEtag;
    this.lastModified = probe.lastModified;
    const versioned = probe.rawEtag !== undefined || probe.lastModified !== undefined;
    if (opts.persist !== undefined && versioned && !probe.noStore) {
      this.lasting = opts.persist({
        url,
        size: probe.size,
        etag: probe.rawEtag,
        lastModified: probe.lastModified,
        chunkSize: c,
      });
    }
  }

  /** Whether fetched chunks go to a lasting store. */
  get persistent(): boolean {
    return this.lasting !== undefined;
  }

  /** Bytes held by the cache now (never more than maxChunks · chunkSize). */
  get cachedBytes(): number {
    let n = 0;
    for (const c of this.cache.values()) n += c.length;
    return n;
  }

  /** Synchronous when every chunk is cached, so a warm read completes inside the guest's kick. */
  read(offset: number, length: number): MaybePromise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      return Promise.reject(new BlockBackendError(`bad range ${offset}+${length}`));
    }
    if (offset + length > this.size) {
      return Promise.reject(new BlockBackendError(`range ${offset}+${length} past the end (${this.size})`));
    }
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const first = Math.floor(offset / this.chunkSize);
    const last = Math.floor((offset + length - 1) / this.chunkSize);
    const waits: Promise<void>[] = [];
    const place = (idx: number, chunk: Uint8Array) => {
      const base = idx * this.chunkSize;
      const from = Math.max(offset, base);
      const to = Math.min(offset + length, base + chunk.length);
      out.set(chunk.subarray(from - base, to - base), from - offset);
    };
    let runStart = -1;
    const startRun = (end: number) => {
      if (runStart < 0) return;
      const perRequest = Math.max(1, Math.floor(MAX_RUN_BYTES / this.chunkSize));
      for (let i = runStart; i < end; i += perRequest) this.fetchRun(i, Math.min(end - i, perRequest));
      runStart = -1;
    };
    // First pass: start requests for the missing runs, so they all go out before any await.
    for (let idx = first; idx <= last; idx++) {
      if (this.cache.has(idx)) startRun(idx);
      else if (this.inflight.has(idx)) {
        startRun(idx);
        this.stats.coalesced++;
      } else if (runStart < 0) runStart = idx;
    }
    startRun(last + 1);
    for (let idx = first; idx <= last; idx++) {
      const hit = this.cache.get(idx);
      if (hit !== undefined) {
        this.stats.hits++;
        this.touch(idx, hit);
        place(idx, hit);
        continue;
      }
      const p = this.inflight.get(idx) as Promise<Uint8Array>;
      waits.push(p.then((chunk) => place(idx, chunk)));
    }
    return waits.length === 0 ? out : Promise.all(waits).then(() => out);
  }

  write(): never {
    throw new BlockBackendError(`${this.url} is read-only (HTTP)`);
  }

  flush(): void {
    // Nothing is ever written here.
  }

  /** Forgets every cached chunk (requests in flight still complete). */
  clearCache(): void {
    this.cache.clear();
  }

  /** Fetches chunks [first, first + count) in one request; each chunk's promise waits in `inflight`. */
  private fetchRun(first: number, count: number): void {
    const start = first * this.chunkSize;
    const end = Math.min(this.size, (first + count) * this.chunkSize);
    this.stats.misses += count;
    const whole = (this.lasting === undefined ? this.fetchRange(start, end) : this.loadRun(first, count)).then(
      (bytes) => {
        for (let i = 0; i < count; i++) {
          const idx = first + i;
          const chunk = bytes.subarray(i * this.chunkSize, Math.min(bytes.length, (i + 1) * this.chunkSize));
          this.inflight.delete(idx);
          this.remember(idx, chunk);
        }
        return bytes;
      },
      (e: unknown) => {
        // A failed chunk is not cached: the next read of it asks the server again.
        for (let i = 0; i < count; i++) this.inflight.delete(first + i);
        this.stats.errors++;
        throw e;
      },
    );
    for (let i = 0; i < count; i++) {
      this.inflight.set(
        first + i,
        whole.then((bytes) => bytes.subarray(i * this.chunkSize, Math.min(bytes.length, (i + 1) * this.chunkSize))),
      );
    }
    // Each chunk's promise carries the rejection to its readers; this one would otherwise go unhandled.
    whole.catch(() => {});
  }

  /** The length of chunk `idx` (the last one may be short). */
  private chunkLength(idx: number): number {
    return Math.min(this.chunkSize, this.size - idx * this.chunkSize);
  }

  /** Chunks [first, first + count) from the lasting store where it has them, the rest from the server. */
  private async loadRun(first: number, count: number): Promise<Uint8Array> {
    const store = this.lasting as LastingChunkStore;
    const start = first * this.chunkSize;
    const out = new Uint8Array(Math.min(this.size, (first + count) * this.chunkSize) - start);
    let kept: (Uint8Array | undefined)[] = [];
    try {
      kept = await store.get(first, count);
    } catch {
      // an unreadable store only means fetching
    }
    const have = (i: number) => kept[i]?.length === this.chunkLength(first + i);
    const fetches: Promise<void>[] = [];
    for (let i = 0; i < count; ) {
      if (have(i)) {
        const c = kept[i] as Uint8Array;
        out.set(c, i * this.chunkSize);
        this.stats.stored++;
        this.stats.bytesStored += c.length;
        i++;
        continue;
      }
      let j = i;
      while (j < count && !have(j)) j++;
      const a = i;
      const n = j - a;
      const from = (first + a) * this.chunkSize;
      fetches.push(
        this.fetchRange(from, Math.min(this.size, (first + j) * this.chunkSize)).then((bytes) => {
          out.set(bytes, a * this.chunkSize);
          const chunks: Uint8Array[] = [];
          for (let k = 0; k < n; k++) chunks.push(bytes.slice(k * this.chunkSize, (k + 1) * this.chunkSize));
          try {
            this.lasting?.put(first + a, chunks);
          } catch {
            // a full or broken store: the chunk is fetched again next time
          }
        }),
      );
      i = j;
    }
    await Promise.all(fetches);
    return out;
  }

  /** Bytes [start, end) from the server, retried on network errors and 5xx. */
  private async fetchRange(start: number, end: number): Promise<Uint8Array> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.fetchRangeOnce(start, end);
      } catch (e) {
        const retry = e instanceof RetryableError && attempt < this.retries;
        if (!retry) throw e instanceof RetryableError ? new BlockBackendError(e.message) : e;
      }
    }
  }

  private async fetchRangeOnce(start: number, end: number): Promise<Uint8Array> {
    const what = `${this.url} bytes ${start}-${end - 1}`;
    this.stats.requests++;
    let res: Response;
    let body: ArrayBuffer;
    try {
      res = await this.fetchFn(this.url, {
        headers: { range: `bytes=${start}-${end - 1}` },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.status !== 206) {
        await res.body?.cancel().catch(() => {});
        const msg = `${what}: HTTP ${res.status}${res.status === 200 ? " (the server ignored the Range header)" : ""}`;
        if (res.status >= 500) throw new RetryableError(msg);
        throw new BlockBackendError(msg);
      }
      body = await res.arrayBuffer();
    } catch (e) {
      if (e instanceof BlockBackendError || e instanceof RetryableError) throw e;
      throw new RetryableError(`${what}: ${reason(e)}`);
    }
    const m = CONTENT_RANGE.exec(res.headers.get("content-range") ?? "");
    if (m === null) throw new BlockBackendError(`${what}: 206 without a usable Content-Range`);
    if (Number(m[1]) !== start || Number(m[2]) !== end - 1) {
      throw new BlockBackendError(`${what}: the server sent bytes ${m[1]}-${m[2]} instead`);
    }
    const etag = strongEtag(res);
    if ((m[3] !== "*" && Number(m[3]) !== this.size) || (this.etag !== undefined && etag !== this.etag)) {
      throw new BlockBackendError(`${this.url} changed on the server since it was opened`);
    }
    if (body.byteLength !== end - start) {
      throw new BlockBackendError(`${what}: ${body.byteLength} bytes in the body`);
    }
    // Another version than the probe's (a weak ETag or a Last-Modified changed): correct for this read,
    // but not kept under the probe's key, nor anything after it.
    if ((res.headers.get("etag") ?? undefined) !== this.rawEtag || lastModified(res) !== this.lastModified) {
      this.lasting = undefined;
    }
    this.stats.bytesFetched += body.byteLength;
    return new Uint8Array(body);
  }

  private touch(idx: number, chunk: Uint8Array): void {
    this.cache.delete(idx);
    this.cache.set(idx, chunk);
  }

  private remember(idx: number, chunk: Uint8Array): void {
    this.touch(idx, chunk);
    while (this.cache.size > this.maxChunks) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
      this.stats.evictions++;
    }
  }
}

/** A failure worth one more attempt: the network, a timeout, a 5xx. */
class RetryableError extends Error {}

/**
 * Why a request did not even get an answer. In a page, fetch says only "Failed to fetch" both for a server that
 * is not there and for a cross-origin server that sends no CORS headers. A `no-cors` request tells them apart
 * when it gets an opaque answer (the server is there), but a cross-origin-isolated page (COEP require-corp, as
 * vireo's is) never gets one from a server without Cross-Origin-Resource-Policy: then the message names both
 * causes and the command that tells which.
 */
async function unreachable(url: string, e: unknown, fetchFn: typeof fetch, timeoutMs: number): Promise<string> {
  const why = reason(e);
  const g = globalThis as { location?: { origin?: string }; crossOriginIsolated?: boolean };
  const here = g.location?.origin;
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    return `${url}: ${why}`;
  }
  if (here === undefined || !(e instanceof TypeError)) return `${url}: ${why}`;
  if (origin === here) return `${url}: ${why} (the page's own server did not answer: is it still running?)`;
  const corsFix =
    "serve the image with Access-Control-Allow-Origin (plus Access-Control-Allow-Headers: Range and " +
    "Access-Control-Expose-Headers: Content-Range), or from this page's own server";
  try {
    await fetchFn(url, { mode: "no-cors", signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    if (g.crossOriginIsolated !== true) {
      return `${url}: ${why}: nothing answers at ${origin} (is the server running, is the address right?)`;
    }
    return (
      `${url}: ${why}: either nothing answers at ${origin}, or that server is another origin than this page and ` +
      `sends no CORS headers (the browser does not tell the page which). \`curl -sI -H 'Origin: ${here}' ${url}\` ` +
      `tells: no answer means start the server or fix the address; an answer without Access-Control-Allow-Origin means ${corsFix}`
    );
  }
  return `${url}: ${why}: the server at ${origin} answers, but it is another origin than this page and sends no CORS headers, so the browser keeps its answer from the page: ${corsFix}`;
}

/**
 * Size and range support in one request: `Range: bytes=0-0` must come back 206 with
 * `Content-Range: bytes 0-0/N`. A `*` total falls back to a HEAD's Content-Length.
 */
async function probeUrl(url: string, fetchFn: typeof fetch, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Probe> {
  let res: Response;
  try {
    res = await fetchFn(url, { headers: { range: "bytes=0-0" }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new BlockBackendError(await unreachable(url, e, fetchFn, timeoutMs));
  }
  await res.body?.cancel().catch(() => {});
  // Vite's servers (and many hosts of single-page apps) answer a path they do not have with the app's
  // index.html and 200: that is a missing file, not a server without ranges.
  if (res.ok && (res.headers.get("content-type") ?? "").startsWith("text/html")) {
    throw new BlockBackendError(
      `${url}: the server sent an HTML page, not a disk image: there is no such file there ` +
        "(Vite and many hosts answer a missing path with the page's index.html); check the path",
    );
  }
  if (res.status === 200) {
    throw new BlockBackendError(
      `${url}: the server ignores HTTP range requests (200 to Range: bytes=0-0, not 206); ` +
        "a disk image needs a server that answers 206 Partial Content: serve it from one that does " +
        "(`npm start` and `vite preview` do for public/; so do nginx and Caddy), or pick the file instead",
    );
  }
  if (res.status === 416) throw new BlockBackendError(`${url}: the image is empty (HTTP 416)`);
  if (res.status === 404 || res.status === 410) {
    throw new BlockBackendError(
      `${url}: HTTP ${res.status}: there is no disk image at this address; check the path ` +
        "(a path such as /disk.img is looked up in the page's public/ folder)",
    );
  }
  if (res.status === 401 || res.status === 403) {
    throw new BlockBackendError(`${url}: HTTP ${res.status}: the server refuses to hand the image out`);
  }
  if (res.status !== 206) throw new BlockBackendError(`${url}: HTTP ${res.status}`);
  const raw = res.headers.get("content-range");
  if (raw === null) {
    throw new BlockBackendError(
      `${url}: 206 without a readable Content-Range (a cross-origin server must send ` +
        "Access-Control-Expose-Headers: Content-Range)",
    );
  }
  const m = CONTENT_RANGE.exec(raw);
  if (m === null || m[1] !== "0" || m[2] !== "0") throw new BlockBackendError(`${url}: Content-Range "${raw}"`);
  const etag = strongEtag(res);
  const versions = {
    etag,
    rawEtag: res.headers.get("etag") ?? undefined,
    lastModified: lastModified(res),
    noStore: noStore(res),
  };
  if (m[3] !== "*") return { size: Number(m[3]), ...versions };
  let head: Response;
  try {
    head = await fetchFn(url, { method: "HEAD", signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new BlockBackendError(`${url}: HEAD: ${reason(e)}`);
  }
  const len = Number(head.headers.get("content-length") ?? Number.NaN);
  const encoded = (head.headers.get("content-encoding") ?? "identity") !== "identity";
  if (!head.ok || !Number.isSafeInteger(len) || encoded) {
    throw new BlockBackendError(`${url}: the size is unknown (no total in Content-Range, no usable Content-Length)`);
  }
  return { size: len, ...versions };
}
