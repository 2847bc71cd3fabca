import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BlobBlockBackend } from "./blob-block-backend.ts";
import { BlockBackendError } from "./block-backend.ts";
import { CowOverlay } from "./cow-overlay.ts";
import { HttpBlockBackend, type HttpImageVersion, type LastingChunkStore } from "./http-block-backend.ts";

/** An image whose every byte differs from its neighbours, so a misplaced byte shows. */
function image(size: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + (i >>> 8) * 7) & 0xff;
  return b;
}

interface TestServer {
  url: string;
  /** Range headers seen, in order. */
  ranges: string[];
  /** Held responses wait for release() (to see concurrent reads coalesce). */
  hold: boolean;
  release(): void;
  /** Answers the next N range requests with this status instead. */
  failNext: { status: number; count: number };
  server: Server;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

/** A node:http server for one image: honours single ranges unless `ranges` is false. */
async function serve(
  body: Uint8Array,
  opts: { ranges?: boolean; etag?: string; lastModified?: string; cacheControl?: string } = {},
): Promise<TestServer> {
  let held: (() => void)[] = [];
  const t: TestServer = {
    url: "",
    ranges: [],
    hold: false,
    release() {
      const h = held;
      held = [];
      for (const f of h) f();
    },
    failNext: { status: 0, count: 0 },
    server: undefined as unknown as Server,
  };
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const headers: Record<string, string | number> = { "content-type": "application/octet-stream" };
    if (opts.etag !== undefined) headers.etag = opts.etag;
    if (opts.lastModified !== undefined) headers["last-modified"] = opts.lastModified;
    if (opts.cacheControl !== undefined) headers["cache-control"] = opts.cacheControl;
    if (req.url === "/missing") {
      res.writeHead(404).end();
      return;
    }
    const range = req.headers.range;
    if (req.method === "HEAD") {
      res.writeHead(200, { ...headers, "content-length": body.length }).end();
      return;
    }
    if (range === undefined || opts.ranges === false) {
      res.writeHead(200, { ...headers, "content-length": body.length }).end(body);
      return;
    }
    t.ranges.push(range);
    if (t.failNext.count > 0) {
      t.failNext.count--;
      res.writeHead(t.failNext.status).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(range);
    if (m === null || Number(m[1]) >= body.length) {
      res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
      return;
    }
    const a = Number(m[1]);
    const b = Math.min(Number(m[2]), body.length - 1);
    res
      .writeHead(206, { ...headers, "content-range": `bytes ${a}-${b}/${body.length}`, "content-length": b - a + 1 })
      .end(body.subarray(a, b + 1));
  };
  t.server = createServer((req, res) => {
    if (t.hold && req.headers.range !== "bytes=0-0") held.push(() => answer(req, res));
    else answer(req, res);
  });
  servers.push(t.server);
  await new Promise<void>((r) => t.server.listen(0, "127.0.0.1", r));
  t.url = `http://127.0.0.1:${(t.server.address() as AddressInfo).port}/disk.img`;
  return t;
}

const KiB = 1024;

/** A request handler that answers single ranges of `body` with `headers`, noting each Range in `seen`. */
function rangesOf(body: Uint8Array, headers: Record<string, string>, seen: string[] = []) {
  return (req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers.range ?? "");
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "") as RegExpExecArray;
    const [a, z] = [Number(m[1]), Math.min(Number(m[2]), body.length - 1)];
    res
      .writeHead(206, { ...headers, "content-range": `bytes ${a}-${z}/${body.length}`, "content-length": z - a + 1 })
      .end(body.subarray(a, z + 1));
  };
}

/** toEqual walks a big typed array element by element (seconds for a MiB); Buffer compares at once. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

describe("HttpBlockBackend", () => {
  it("takes the size from the probe and reads unaligned spans across chunk boundaries", async () => {
    const size = 300 * KiB + 123;
    const bytes = image(size);
    const s = await serve(bytes);
    const b = await HttpBlockBackend.open(s.url, { chunkSize: 4 * KiB, cacheBytes: 64 * KiB });
    expect(b.size).toBe(size);
    expect(b.readOnly).toBe(true);
    for (const [off, len] of [
      [0, 1],
      [4095, 2],
      [1, 4 * KiB * 3 + 17],
      [8 * KiB - 3, 70 * KiB],
      [size - 200, 200],
      [size - 1, 1],
      [12345, 0],
    ]) {
      expect(same(await b.read(off, len), bytes.subarray(off, off + len))).toBe(true);
    }
  });

  it("asks once for a run of missing chunks, then answers from the cache synchronously", async () => {
    const bytes = image(256 * KiB);
    const s = await serve(bytes);
    const b = await HttpBlockBackend.open(s.url, { chunkSize: 16 * KiB });
    s.ranges.length = 0;
    expect(await b.read(10 * KiB, 40 * KiB)).toEqual(bytes.slice(10 * KiB, 50 * KiB));
    expect(s.ranges).toEqual([`bytes=0-${64 * KiB - 1}`]);
    const warm = b.read(20 * KiB, 100);
    expect(warm).toBeInstanceOf(Uint8Array);
    expect(warm).toEqual(bytes.slice(20 * KiB, 20 * KiB + 100));
    // A read half cached, half not, fetches only the missing chunk.
    expect(await b.read(60 * KiB, 8 * KiB)).toEqual(bytes.slice(60 * KiB, 68 * KiB));
    expect(s.ranges.slice(1)).toEqual([`bytes=${64 * KiB}-${80 * KiB - 1}`]);
    expect(b.stats.requests).toBe(2);
  });

  it("keeps the cache within its bound and evicts the least recently used chunk", async () => {
    const bytes = image(1024 * KiB);
    const s = await serve(bytes);
    const b = await HttpBlockBackend.open(s.url, { chunkSize: 64 * KiB, cacheBytes: 256 * KiB });
    expect(b.maxChunks).toBe(4);
    for (let c = 0; c < 4; c++) await b.read(c * 64 * KiB, 1);
    await b.read(0, 1); // chunk 0 becomes the most recently used
    await b.read(4 * 64 * KiB, 1); // evicts chunk 1
    expect(b.cachedBytes).toBe(256 * KiB);
    expect(b.stats.evictions).toBe(1);
    const before = b.stats.requests;
    expect(b.read(0, 4)).toBeInstanceOf(Uint8Array);
    expect(await b.read(64 * KiB, 4)).toEqual(bytes.slice(64 * KiB, 64 * KiB + 4));
    expect(b.stats.requests).toBe(before + 1);
    // One read far larger than the cache still answers whole, and the cache stays bounded.
    expect(same(await b.read(0, 1024 * KiB), bytes)).toBe(true);
    expect(b.cachedBytes).toBeLessThanOrEqual(256 * KiB);
  });

  it("coalesces concurrent reads of the same chunk into one request", async () => {
    const bytes = image(128 * KiB);
    const s = await serve(bytes);
    const b = await HttpBlockBackend.open(s.url, { chunkSize: 64 * KiB });
    s.ranges.length = 0;
    s.hold = true;
    const reads = [b.read(100, 10), b.read(5000, 512), b.read(60 * KiB, 8 * KiB)];
    await new Promise((r) => setTimeout(r, 50));
    s.release();
    s.hold = false;
    const got = await Promise.all(reads);
    expect(got[0]).toEqual(bytes.slice(100, 110));
    expect(got[1]).toEqual(bytes.slice(5000, 5512));
    expect(got[2]).toEqual(bytes.slice(60 * KiB, 68 * KiB));
    // Chunk 0 once for all three; chunk 1 once for the third.
    // (The two requests travel on separate connections: their arrival order is not fixed.)
    expect([...s.ranges].sort()).toEqual([`bytes=0-${64 * KiB - 1}`, `bytes=${64 * KiB}-${128 * KiB - 1}`].sort());
    expect(b.stats.coalesced).toBe(2);
    expect(b.stats.misses).toBe(2);
  });

  it("refuses a server that ignores Range, with a message that says so", async () => {
    const s = await serve(image(8 * KiB), { ranges: false });
    await expect(HttpBlockBackend.open(s.url)).rejects.toThrow(/ignores HTTP range requests.*206/);
  });

  it("reports a missing image and an unreachable server as BlockBackendErrors", async () => {
    const s = await serve(image(8 * KiB));
    await expect(HttpBlockBackend.open(s.url.replace("disk.img", "missing"))).rejects.toThrow(/HTTP 404/);
    const port = (s.server.address() as AddressInfo).port;
    s.server.closeAllConnections();
    await new Promise<void>((r) => s.server.close(() => r()));
    servers.length = 0;
    const err = await HttpBlockBackend.open(`http://127.0.0.1:${port}/disk.img`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockBackendError);
    expect(String(err)).toMatch(/ECONNREFUSED|fetch failed/);
  });

  it("says what a 404, an HTML page for a missing file and a 403 are, and what to do", async () => {
    const s = await serve(image(8 * KiB));
    await expect(HttpBlockBackend.open(s.url.replace("disk.img", "missing"))).rejects.toThrow(
      /missing: HTTP 404: there is no disk image at this address; check the path/,
    );
    const html: typeof fetch = async () =>
      new Response("<!doctype html><title>vireo</title>", { status: 200, headers: { "content-type": "text/html" } });
    await expect(HttpBlockBackend.open("http://127.0.0.1:1/nope.img", { fetch: html })).rejects.toThrow(
      /nope\.img: the server sent an HTML page, not a disk image: there is no such file/,
    );
    const forbidden: typeof fetch = async () => new Response(null, { status: 403 });
    await expect(HttpBlockBackend.open("http://127.0.0.1:1/x.img", { fetch: forbidden })).rejects.toThrow(
      /HTTP 403: the server refuses/,
    );
  });

  it("in a page, tells a cross-origin server without CORS from a server that is not there", async () => {
    vi.stubGlobal("location", { origin: "http://127.0.0.1:5173" });
    try {
      const modes: (string | undefined)[] = [];
      // The browser's answer to both: a TypeError; only the no-cors request tells them apart.
      const corsless: typeof fetch = async (_u, init) => {
        modes.push(init?.mode);
        if (init?.mode === "no-cors") return new Response(null, { status: 200 });
        throw new TypeError("Failed to fetch");
      };
      await expect(HttpBlockBackend.open("http://127.0.0.1:9/d.img", { fetch: corsless })).rejects.toThrow(
        /answers, but it is another origin than this page and sends no CORS headers.*Access-Control-Allow-Origin/,
      );
      expect(modes).toEqual([undefined, "no-cors"]);
      const gone: typeof fetch = async () => {
        throw new TypeError("Failed to fetch");
      };
      await expect(HttpBlockBackend.open("http://127.0.0.1:9/d.img", { fetch: gone })).rejects.toThrow(
        /Failed to fetch: nothing answers at http:\/\/127\.0\.0\.1:9 \(is the server running/,
      );
      await expect(HttpBlockBackend.open("http://127.0.0.1:5173/d.img", { fetch: gone })).rejects.toThrow(
        /the page's own server did not answer/,
      );
      // A cross-origin-isolated page gets no opaque answers: both causes are named, with the command that tells.
      vi.stubGlobal("crossOriginIsolated", true);
      await expect(HttpBlockBackend.open("http://127.0.0.1:9/d.img", { fetch: gone })).rejects.toThrow(
        /either nothing answers at http:\/\/127\.0\.0\.1:9, or that server is another origin than this page and sends no CORS headers.*curl -sI -H 'Origin: http:\/\/127\.0\.0\.1:5173' http:\/\/127\.0\.0\.1:9\/d\.img/,
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("turns a failing read into a rejected BlockBackendError, retries a 5xx once, and never caches a failure", async () => {
    const bytes = image(64 * KiB);
    const s = await serve(bytes);
    const b = await HttpBlockBackend.open(s.url, { chunkSize: 4 * KiB });
    s.failNext = { status: 503, count: 1 };
    expect(await b.read(0, 16)).toEqual(bytes.slice(0, 16));
    s.failNext = { status: 503, count: 2 };
    const err = await (b.read(8 * KiB, 16) as Promise<Uint8Array>).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockBackendError);
    expect(String(err)).toMatch(/HTTP 503/);
    s.failNext = { status: 404, count: 1 };
    await expect(b.read(8 * KiB, 16)).rejects.toThrow(/HTTP 404/);
    expect(await b.read(8 * KiB, 16)).toEqual(bytes.slice(8 * KiB, 8 * KiB + 16));
    expect(b.stats.errors).toBe(2);
    await expect(b.read(60 * KiB, 8 * KiB)).rejects.toThrow(/past the end/);
    expect(() => b.write()).toThrow(/read-only/);
  });

  it("notices an image replaced on the server (size or ETag)", async () => {
    const s = await serve(image(64 * KiB), { etag: '"v1"' });
    const b = await HttpBlockBackend.open(s.url, { chunkSize: 4 * KiB });
    s.server.removeAllListeners("request");
    s.server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
      res
        .writeHead(206, { etag: '"v2"', "content-range": `bytes 0-4095/${64 * KiB}`, "content-length": 4096 })
        .end(new Uint8Array(4096));
    });
    await expect(b.read(0, 1)).rejects.toThrow(/changed on the server/);
  });

  describe("with a lasting store (persist)", () => {
    /** A store in a Map per image version, as the page's IndexedDB keeps them across loads. */
    function lastingStores() {
      const kept = new Map<string, Map<number, Uint8Array>>();
      const opened: HttpImageVersion[] = [];
      const persist = (v: HttpImageVersion): LastingChunkStore => {
        opened.push(v);
        const key = JSON.stringify(v);
        const m = kept.get(key) ?? new Map<number, Uint8Array>();
        kept.set(key, m);
        return {
          get: async (first, count) => Array.from({ length: count }, (_, i) => m.get(first + i)),
          put: (first, chunks) => {
            for (const [i, c] of chunks.entries()) m.set(first + i, c);
          },
        };
      };
      return { kept, opened, persist };
    }
    const LM = "Sat, 21 Nov 2026 09:15:44 GMT";

    it("a second backend (the next load) reads the chunks the first fetched from the store, and fetches only the rest", async () => {
      const size = 200 * KiB + 5;
      const bytes = image(size);
      const s = await serve(bytes, { lastModified: LM, etag: 'W/"1-2"' });
      const st = lastingStores();
      const one = await HttpBlockBackend.open(s.url, { chunkSize: 16 * KiB, persist: st.persist });
      expect(one.persistent).toBe(true);
      expect(st.opened[0]).toEqual({ url: s.url, size, etag: 'W/"1-2"', lastModified: LM, chunkSize: 16 * KiB });
      expect(same(await one.read(20 * KiB, 30 * KiB), bytes.subarray(20 * KiB, 50 * KiB))).toBe(true);
      expect(same(await one.read(size - 10, 10), bytes.subarray(size - 10))).toBe(true);
      s.ranges.length = 0;
      const two = await HttpBlockBackend.open(s.url, { chunkSize: 16 * KiB, persist: st.persist });
      expect(s.ranges).toEqual(["bytes=0-0"]);
      // Chunks 1-3 and the short last one are in the store; chunk 4 is not.
      expect(same(await two.read(16 * KiB, 64 * KiB), bytes.subarray(16 * KiB, 80 * KiB))).toBe(true);
      expect(same(await two.read(size - 3, 3), bytes.subarray(size - 3))).toBe(true);
      expect(s.ranges.slice(1)).toEqual([`bytes=${64 * KiB}-${80 * KiB - 1}`]);
      expect(two.stats.stored).toBe(4);
      expect(two.stats.bytesStored).toBe(48 * KiB + (size % (16 * KiB)));
      expect(two.stats.requests).toBe(1);
    });

    it("an image changed on the server is another version: fetched again, not read from the old one's chunks", async () => {
      const old = image(64 * KiB);
      const s = await serve(old, { lastModified: LM });
      const st = lastingStores();
      const one = await HttpBlockBackend.open(s.url, { chunkSize: 16 * KiB, persist: st.persist });
      await one.read(0, 64 * KiB);
      // The same URL now serves other bytes with another Last-Modified.
      const changed = old.map((b) => b ^ 0xff);
      s.server.removeAllListeners("request");
      s.ranges.length = 0;
      s.server.on("request", rangesOf(changed, { "last-modified": "Sun, 22 Nov 2026 10:00:00 GMT" }, s.ranges));
      const two = await HttpBlockBackend.open(s.url, { chunkSize: 16 * KiB, persist: st.persist });
      expect(st.opened[1]?.url).toBe(st.opened[0]?.url);
      expect(st.opened[1]?.lastModified).not.toBe(st.opened[0]?.lastModified);
      expect(same(await two.read(0, 64 * KiB), changed)).toBe(true);
      expect(two.stats.stored).toBe(0);
      expect(s.ranges).toEqual(["bytes=0-0", `bytes=0-${64 * KiB - 1}`]);
    });

    it("keeps nothing without a validator, with no-store, or once a response names another version", async () => {
      const bytes = image(64 * KiB);
      for (const opts of [{}, { lastModified: LM, cacheControl: "private, no-store" }]) {
        const st = lastingStores();
        const b = await HttpBlockBackend.open((await serve(bytes, opts)).url, {
          chunkSize: 16 * KiB,
          persist: st.persist,
        });
        expect(b.persistent).toBe(false);
        expect(st.opened).toEqual([]);
      }
      const s = await serve(bytes, { lastModified: LM });
      const st = lastingStores();
      const b = await HttpBlockBackend.open(s.url, { chunkSize: 16 * KiB, persist: st.persist });
      s.server.removeAllListeners("request");
      s.server.on("request", rangesOf(bytes, { "last-modified": "Mon, 23 Nov 2026 00:00:00 GMT" }));
      expect(same(await b.read(0, 20 * KiB), bytes.subarray(0, 20 * KiB))).toBe(true);
      expect(b.persistent).toBe(false);
      expect([...(st.kept.values().next().value as Map<number, Uint8Array>).keys()]).toEqual([]);
    });
  });

  it("times a hung server out as an I/O error", async () => {
    const s = await serve(image(16 * KiB));
    const b = await HttpBlockBackend.open(s.url, { chunkSize: 4 * KiB, timeoutMs: 200, retries: 0 });
    s.hold = true;
    await expect(b.read(0, 1)).rejects.toThrow(/timed out/);
  });

  it("lets the guest write through a CowOverlay without another request for written chunks", async () => {
    const bytes = image(64 * KiB);
    const s = await serve(bytes);
    const disk = new CowOverlay(await HttpBlockBackend.open(s.url, { chunkSize: 4 * KiB }));
    await disk.write(4096, new Uint8Array(4096).fill(0xee));
    const got = await disk.read(4000, 200);
    expect(got.subarray(0, 96)).toEqual(bytes.slice(4000, 4096));
    expect([...got.subarray(96)].every((v) => v === 0xee)).toBe(true);
  });
});

describe("BlobBlockBackend", () => {
  it("reads slices of a Blob and refuses writes", async () => {
    const bytes = image(100 * KiB + 7);
    const b = new BlobBlockBackend(new Blob([bytes]), "test.img");
    expect(b.size).toBe(bytes.length);
    expect(b.readOnly).toBe(true);
    expect(await b.read(0, 512)).toEqual(bytes.slice(0, 512));
    expect(await b.read(65535, 4099)).toEqual(bytes.slice(65535, 65535 + 4099));
    expect(await b.read(bytes.length - 7, 7)).toEqual(bytes.slice(-7));
    await expect(b.read(bytes.length - 1, 2)).rejects.toBeInstanceOf(BlockBackendError);
    expect(() => b.write()).toThrow(/test\.img is read-only/);
  });

  it("under a CowOverlay keeps the Blob unchanged", async () => {
    const bytes = image(16 * KiB);
    const blob = new Blob([bytes]);
    const disk = new CowOverlay(new BlobBlockBackend(blob));
    await disk.write(512, new Uint8Array(512).fill(1));
    expect((await disk.read(512, 1))[0]).toBe(1);
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
  });

  it("reports a Blob that cannot be read as a BlockBackendError", async () => {
    const broken = { size: 4096, slice: () => ({ arrayBuffer: () => Promise.reject(new Error("gone")) }) };
    const b = new BlobBlockBackend(broken as unknown as Blob, "lost.img");
    await expect(b.read(0, 512)).rejects.toThrow(/lost\.img: gone/);
  });
});
