// The page's lasting cache of disk ranges: the chunks an HttpBlockBackend fetched from a disk URL (the
// Debian image), kept in IndexedDB so the next load reads them from here instead of the server.
//
// - Keyed by the image's version as the probe saw it (URL, size, ETag, Last-Modified, chunk size): an image
//   changed on the server is another key, so it is fetched again; opening a URL's new version deletes
//   the chunks of its older ones at once.
// - Bounded: DISK_CACHE_LIMIT bytes of chunks in all. Past it, the least recently opened other images go
//   first; when the image being read alone fills the cache, its further chunks are not kept.
// - Cleared by clearDiskCache() (the page's "clear cached disk ranges" button) or the browser's "clear site
//   data"; diskCacheUsage() says how much it holds.
//
// One database, "vireo-disk-cache": store "images" (key: the version key; value: ImageRecord) and store
// "chunks" (key: [version key, chunk index]; value: the chunk's bytes). Each transaction opens the
// database and closes it after, so clearing (deleteDatabase) is never blocked for long. Runs in the
// worker and in the page (both have IndexedDB); every failure only means the bytes are fetched again.

import type { HttpImageVersion, LastingChunkStore } from "../../devices/virtio-blk/http-block-backend.ts";

export const DISK_CACHE_DB = "vireo-disk-cache";
/** Bytes of chunks kept at most, over every image (1 GiB: a Debian boot reads a few hundred MiB). */
export const DISK_CACHE_LIMIT = 1024 * 1024 * 1024;

const IMAGES = "images";
const CHUNKS = "chunks";

interface ImageRecord {
  key: string;
  url: string;
  /** Bytes of this image's chunks in the store. */
  bytes: number;
  /** When it was last opened (Date.now()): the least recently opened image is evicted first. */
  used: number;
}

function versionKey(v: HttpImageVersion): string {
  return JSON.stringify([v.url, v.size, v.etag ?? null, v.lastModified ?? null, v.chunkSize]);
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DISK_CACHE_DB, 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore(IMAGES, { keyPath: "key" });
      r.result.createObjectStore(CHUNKS);
    };
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("IndexedDB did not open"));
  });
}

/** Runs `fn` in one transaction over both stores; resolves with what `fn` set when it commits. */
async function transact<T>(
  mode: IDBTransactionMode,
  fn: (images: IDBObjectStore, chunks: IDBObjectStore, done: (v: T) => void) => void,
): Promise<T | undefined> {
  const db = await openDb();
  try {
    return await new Promise<T | undefined>((resolve, reject) => {
      const tx = db.transaction([IMAGES, CHUNKS], mode);
      let value: T | undefined;
      fn(tx.objectStore(IMAGES), tx.objectStore(CHUNKS), (v) => {
        value = v;
      });
      tx.oncomplete = () => resolve(value);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  } finally {
    db.close();
  }
}

/** Every chunk key of image `key`: [key, n] for any number n (arrays sort after numbers). */
function chunksOf(key: string): IDBKeyRange {
  return IDBKeyRange.bound([key], [key, []]);
}

/** Where IndexedDB is (a page or a worker of one): the lasting store for `v`; elsewhere undefined. */
export function lastingChunks(v: HttpImageVersion, limit = DISK_CACHE_LIMIT): LastingChunkStore | undefined {
  if (typeof indexedDB === "undefined") return undefined;
  const key = versionKey(v);
  /** Set when the cache is full of this image: nothing more is put. */
  let full = false;
  // Opening: this version is used now; the URL's other versions are stale (the image changed on the server).
  const opened = transact<void>("readwrite", (images, chunks) => {
    const all = images.getAll();
    all.onsuccess = () => {
      const records = all.result as ImageRecord[];
      for (const r of records) {
        if (r.url === v.url && r.key !== key) {
          images.delete(r.key);
          chunks.delete(chunksOf(r.key));
        }
      }
      const mine = records.find((r) => r.key === key);
      images.put({ key, url: v.url, bytes: mine?.bytes ?? 0, used: Date.now() } satisfies ImageRecord);
    };
  }).catch(() => undefined);

  return {
    async get(first, count) {
      await opened;
      const got = await transact<(Uint8Array | undefined)[]>("readonly", (_images, chunks, done) => {
        const out: (Uint8Array | undefined)[] = new Array(count).fill(undefined);
        const range = IDBKeyRange.bound([key, first], [key, first + count - 1]);
        const keys = chunks.getAllKeys(range);
        const values = chunks.getAll(range);
        values.onsuccess = () => {
          const ks = keys.result as [string, number][];
          (values.result as Uint8Array[]).forEach((b, i) => {
            const idx = ks[i]?.[1];
            if (idx !== undefined && b instanceof Uint8Array) out[idx - first] = b;
          });
          done(out);
        };
      });
      return got ?? [];
    },
    put(first, list) {
      if (full || list.length === 0) return;
      void opened
        .then(() =>
          transact<void>("readwrite", (images, chunks) => {
            const all = images.getAll();
            const have = chunks.getAllKeys(IDBKeyRange.bound([key, first], [key, first + list.length - 1]));
            have.onsuccess = () => {
              const records = all.result as ImageRecord[];
              const present = new Set((have.result as [string, number][]).map((k) => k[1]));
              const fresh = list.map((b, i) => ({ idx: first + i, b })).filter((c) => !present.has(c.idx));
              const adding = fresh.reduce((a, c) => a + c.b.length, 0);
              if (adding === 0) return;
              const mine = records.find((r) => r.key === key) ?? { key, url: v.url, bytes: 0, used: Date.now() };
              let total = records.reduce((a, r) => a + r.bytes, 0);
              // Room: the least recently opened other images go first.
              const others = records.filter((r) => r.key !== key).sort((a, b) => a.used - b.used);
              while (total + adding > limit && others.length > 0) {
                const old = others.shift() as ImageRecord;
                images.delete(old.key);
                chunks.delete(chunksOf(old.key));
                total -= old.bytes;
              }
              if (total + adding > limit) {
                full = true;
                return;
              }
              for (const c of fresh) chunks.put(c.b, [key, c.idx]);
              images.put({ ...mine, bytes: mine.bytes + adding } satisfies ImageRecord);
            };
          }),
        )
        .catch(() => {});
    },
  };
}

/** What the cache holds: bytes of chunks and the images they belong to (zero where there is no IndexedDB). */
export async function diskCacheUsage(): Promise<{ bytes: number; images: { url: string; bytes: number }[] }> {
  if (typeof indexedDB === "undefined") return { bytes: 0, images: [] };
  const records =
    (await transact<ImageRecord[]>("readonly", (images, _chunks, done) => {
      const all = images.getAll();
      all.onsuccess = () => done(all.result as ImageRecord[]);
    }).catch(() => undefined)) ?? [];
  return {
    bytes: records.reduce((a, r) => a + r.bytes, 0),
    images: records.map((r) => ({ url: r.url, bytes: r.bytes })),
  };
}

/** Forgets every kept chunk (the next load fetches from the server again). */
export function clearDiskCache(): Promise<void> {
  if (typeof indexedDB === "undefined") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(DISK_CACHE_DB);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error ?? new Error("IndexedDB: the disk cache was not deleted"));
    // Blocked by a transaction in flight: it completes (and closes) shortly, then the delete goes on.
  });
}
