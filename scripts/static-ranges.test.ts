import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createViteServer, preview } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpBlockBackend } from "../devices/virtio-blk/http-block-backend.ts";
import { mountMiddleware, parseRange, type RangeAnswer, rangeMiddleware, staticRanges } from "./static-ranges.ts";

describe("parseRange", () => {
  const size = 1000;
  const rows: [string, string, RangeAnswer][] = [
    ["the disk backend's probe", "bytes=0-0", { kind: "part", start: 0, end: 0 }],
    ["a closed range", "bytes=10-19", { kind: "part", start: 10, end: 19 }],
    ["an open range", "bytes=990-", { kind: "part", start: 990, end: 999 }],
    ["a last byte past the end is clamped", "bytes=900-5000", { kind: "part", start: 900, end: 999 }],
    ["a suffix", "bytes=-10", { kind: "part", start: 990, end: 999 }],
    ["a suffix longer than the file", "bytes=-5000", { kind: "part", start: 0, end: 999 }],
    [
      "the unit is case-insensitive, spaces around the range are allowed",
      "Bytes= 1-2 ",
      { kind: "part", start: 1, end: 2 },
    ],
    ["a first byte at the end", "bytes=1000-", { kind: "unsatisfiable" }],
    ["a first byte past the end", "bytes=5000-6000", { kind: "unsatisfiable" }],
    ["an empty suffix", "bytes=-0", { kind: "unsatisfiable" }],
    ["last before first is invalid: ignored", "bytes=20-10", { kind: "whole" }],
    ["no positions", "bytes=-", { kind: "whole" }],
    ["another unit", "items=0-1", { kind: "whole" }],
    ["not numbers", "bytes=a-b", { kind: "whole" }],
    ["a negative first byte", "bytes=-1-2", { kind: "whole" }],
    ["several ranges: the whole file", "bytes=0-1,5-9", { kind: "whole" }],
    ["several ranges even when one is unsatisfiable", "bytes=5000-,0-1", { kind: "whole" }],
  ];
  for (const [name, header, want] of rows) {
    it(`${name}: ${header}`, () => expect(parseRange(header, size)).toEqual(want));
  }
  it("an empty file satisfies no range", () => {
    expect(parseRange("bytes=0-0", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-1", 0)).toEqual({ kind: "unsatisfiable" });
  });
});

/** A temporary tree: root/public/{disk.img,.hidden,sub/x.json,escape -> ../secret.txt}, root/secret.txt. */
function tree(): { root: string; pub: string; image: Buffer } {
  const root = mkdtempSync(join(tmpdir(), "vireo-ranges-"));
  const pub = join(root, "public");
  mkdirSync(join(pub, "sub"), { recursive: true });
  const image = randomBytes(300 * 1024);
  writeFileSync(join(pub, "disk.img"), image);
  writeFileSync(join(pub, ".hidden"), "hidden");
  writeFileSync(join(pub, "sub", "x.json"), "{}");
  writeFileSync(join(root, "secret.txt"), "secret");
  symlinkSync(join(root, "secret.txt"), join(pub, "escape"));
  return { root, pub, image };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Runs `server` on 127.0.0.1 for the describe block's tests, then closes it and removes `root`; its URL once up. */
function serveDuringTests(server: Server, root: string): { base: string } {
  const at = { base: "" };
  beforeAll(async () => {
    at.base = await listen(server);
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
    rmSync(root, { recursive: true, force: true });
  });
  return at;
}

describe("rangeMiddleware", () => {
  const t = tree();
  // What sits behind it: says which Range header (if any) got through.
  const server = createServer((req, res) =>
    rangeMiddleware(t.pub, () => ({ "Cross-Origin-Embedder-Policy": "require-corp" }))(req, res, () => {
      res.writeHead(200, { "content-type": "text/plain" }).end(`next range=${req.headers.range ?? "none"}`);
    }),
  );
  const srv = serveDuringTests(server, t.root);
  const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    fetch(srv.base + path, { headers, method });

  it("answers a single range with 206, Content-Range, Accept-Ranges and the server's headers", async () => {
    const r = await get("/disk.img", { range: "bytes=0-0" });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe(`bytes 0-0/${t.image.length}`);
    expect(r.headers.get("accept-ranges")).toBe("bytes");
    expect(r.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(Buffer.from(await r.arrayBuffer())).toEqual(t.image.subarray(0, 1));
    const mid = await get("/disk.img", { range: "bytes=65537-200000" });
    expect(mid.status).toBe(206);
    expect(mid.headers.get("content-length")).toBe(String(200000 - 65537 + 1));
    expect(Buffer.from(await mid.arrayBuffer())).toEqual(t.image.subarray(65537, 200001));
    const tail = await get("/disk.img", { range: "bytes=-100" });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(t.image.subarray(t.image.length - 100));
  });

  it("answers an unsatisfiable range with 416 and the size", async () => {
    const r = await get("/disk.img", { range: `bytes=${t.image.length}-` });
    expect(r.status).toBe(416);
    expect(r.headers.get("content-range")).toBe(`bytes */${t.image.length}`);
    expect((await r.arrayBuffer()).byteLength).toBe(0);
  });

  it("passes an ignored range on without its header (several ranges, invalid, HEAD, a stale If-Range)", async () => {
    for (const [headers, method] of [
      [{ range: "bytes=0-1,4-5" }, "GET"],
      [{ range: "bytes=9-3" }, "GET"],
      [{ range: "bytes=0-0" }, "HEAD"],
      [{ range: "bytes=0-0", "if-range": '"some-etag"' }, "GET"],
    ] as const) {
      const r = await get("/disk.img", headers, method);
      expect(r.status, JSON.stringify(headers)).toBe(200);
      expect(r.headers.get("accept-ranges")).toBe("bytes");
      if (method === "GET") expect(await r.text()).toBe("next range=none");
    }
  });

  it("honours an If-Range that names the file's Last-Modified", async () => {
    const whole = await get("/disk.img", { range: "bytes=0-0" });
    const lastModified = whole.headers.get("last-modified") ?? "";
    const r = await get("/disk.img", { range: "bytes=1-2", "if-range": lastModified });
    expect(r.status).toBe(206);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(t.image.subarray(1, 3));
  });

  it("never serves what is not a plain file under its folder, and strips the Range of those requests", async () => {
    for (const path of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/sub/..%2f..%2fsecret.txt",
      "/escape",
      "/.hidden",
      "/sub",
      "/nope.img",
      "/%E0%A4%A",
    ]) {
      // fetch would normalise "/../", so the raw path goes out by node:http.
      const text = await new Promise<string>((resolve, reject) => {
        const url = new URL(srv.base);
        const req = request({ host: url.hostname, port: url.port, path, headers: { range: "bytes=0-0" } }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve(`${res.statusCode} ${body}`));
        });
        req.on("error", reject);
        req.end();
      });
      expect(text, path).toBe("200 next range=none");
    }
    // A file below the folder is served.
    const r = await get("/sub/x.json", { range: "bytes=0-1" });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-type")).toBe("application/json");
  });
});

describe("mountMiddleware", () => {
  // root/out/{disk.img, kernel, notes.log, escape -> ../secret.txt}: a build's output folder outside public/.
  const t = tree();
  const out = join(t.root, "out");
  mkdirSync(out);
  writeFileSync(join(out, "disk.img"), t.image);
  writeFileSync(join(out, "kernel"), "KERNEL");
  writeFileSync(join(out, "notes.log"), "not served");
  symlinkSync(join(t.root, "secret.txt"), join(out, "escape"));
  const mount = { prefix: "/images/d/", dir: out, files: ["disk.img", "kernel", "escape", "missing.json"] };
  const server = createServer((req, res) =>
    mountMiddleware(mount, () => ({ "Cross-Origin-Embedder-Policy": "require-corp" }))(req, res, () => {
      res.writeHead(200, { "content-type": "text/plain" }).end("next");
    }),
  );
  const srv = serveDuringTests(server, t.root);

  it("serves a listed file whole (GET, HEAD, 304 on If-Modified-Since) and by ranges, with the server's headers", async () => {
    const whole = await fetch(`${srv.base}/images/d/kernel`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-length")).toBe("6");
    expect(whole.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    expect(await whole.text()).toBe("KERNEL");
    const head = await fetch(`${srv.base}/images/d/disk.img`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(t.image.length));
    const again = await fetch(`${srv.base}/images/d/kernel`, {
      headers: { "if-modified-since": whole.headers.get("last-modified") ?? "" },
    });
    expect(again.status).toBe(304);
    const part = await fetch(`${srv.base}/images/d/disk.img?x=1`, { headers: { range: "bytes=1000-1999" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 1000-1999/${t.image.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(t.image.subarray(1000, 2000));
    const disk = await HttpBlockBackend.open(`${srv.base}/images/d/disk.img`, { chunkSize: 4096 });
    expect(disk.size).toBe(t.image.length);
    expect(Buffer.from(await disk.read(70_000, 20_000))).toEqual(t.image.subarray(70_000, 90_000));
  });

  it("answers 404 under its prefix for what is unlisted, missing, a link out of the folder or a path", async () => {
    for (const path of ["notes.log", "missing.json", "escape", "%2e%2e%2fsecret.txt", "sub/kernel", ""]) {
      const r = await fetch(`${srv.base}/images/d/${path}`, { headers: { range: "bytes=0-0" } });
      expect(r.status, path).toBe(404);
      expect(await r.text(), path).toMatch(/: not built\n$/);
    }
    expect((await fetch(`${srv.base}/images/d/kernel`, { method: "POST" })).status).toBe(405);
    // Outside the prefix: the next handler's.
    expect(await (await fetch(`${srv.base}/images/kernel`)).text()).toBe("next");
  });
});

describe("staticRanges in Vite's servers", () => {
  const t = tree();
  afterAll(() => rmSync(t.root, { recursive: true, force: true }));

  /** The page's disk backend reads the image through the server as the worker would. */
  async function readsTheImage(url: string): Promise<void> {
    const disk = await HttpBlockBackend.open(url, { chunkSize: 4096 });
    expect(disk.size).toBe(t.image.length);
    expect(Buffer.from(await disk.read(0, 512))).toEqual(t.image.subarray(0, 512));
    expect(Buffer.from(await disk.read(70_000, 20_000))).toEqual(t.image.subarray(70_000, 90_000));
    expect(Buffer.from(await disk.read(t.image.length - 10, 10))).toEqual(t.image.subarray(t.image.length - 10));
  }

  it("the dev server (npm start) serves public/ with ranges", async () => {
    const server = await createViteServer({
      root: t.root,
      configFile: false,
      logLevel: "silent",
      plugins: [staticRanges()],
      server: { host: "127.0.0.1", port: 0, ws: false, watch: null },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    try {
      const base = server.resolvedUrls?.local[0] ?? "";
      await readsTheImage(`${base}disk.img`);
      // Files outside public/ are Vite's own to serve (or refuse): never as a range.
      const r = await fetch(`${base}secret.txt`, { headers: { range: "bytes=0-0" } });
      expect(r.status).not.toBe(206);
    } finally {
      await server.close();
    }
  });

  it("vite preview serves the build's outDir with ranges", async () => {
    const dist = join(t.root, "dist");
    mkdirSync(dist);
    writeFileSync(join(dist, "disk.img"), t.image);
    writeFileSync(join(dist, "index.html"), "<!doctype html><title>x</title>");
    const server = await preview({
      root: t.root,
      configFile: false,
      logLevel: "silent",
      plugins: [staticRanges()],
      preview: { host: "127.0.0.1", port: 0 },
    });
    try {
      await readsTheImage(`${server.resolvedUrls?.local[0] ?? ""}disk.img`);
    } finally {
      await server.close();
    }
  });

  it("both servers serve a mount from outside public/ and the build (vite.config.ts's Debian image)", async () => {
    const out = join(t.root, "guest-out");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, "disk.img"), t.image);
    const mounts = [{ prefix: "/images/m/", dir: "guest-out", files: ["disk.img"] }];
    const dev = await createViteServer({
      root: t.root,
      configFile: false,
      logLevel: "silent",
      plugins: [staticRanges(mounts)],
      server: { host: "127.0.0.1", port: 0, ws: false, watch: null },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await dev.listen();
    try {
      await readsTheImage(`${dev.resolvedUrls?.local[0] ?? ""}images/m/disk.img`);
    } finally {
      await dev.close();
    }
    mkdirSync(join(t.root, "dist"), { recursive: true });
    writeFileSync(join(t.root, "dist", "index.html"), "<!doctype html><title>x</title>");
    const server = await preview({
      root: t.root,
      configFile: false,
      logLevel: "silent",
      plugins: [staticRanges(mounts)],
      preview: { host: "127.0.0.1", port: 0 },
    });
    try {
      await readsTheImage(`${server.resolvedUrls?.local[0] ?? ""}images/m/disk.img`);
      expect((await fetch(`${server.resolvedUrls?.local[0] ?? ""}images/m/nope.json`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
