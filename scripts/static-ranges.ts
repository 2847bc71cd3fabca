// HTTP range requests (RFC 9110 §14) for the files Vite's servers hand out as they are: public/ under the dev
// server (`npm start`) and the build's outDir under `vite preview`. Both serve those with sirv, which reads
// `Range: bytes=0-0` as the whole file (its end is `parseInt(last) || size - 1`), `bytes=-N` as the first N + 1
// bytes, and a list of ranges as its first one. A disk at `?disk=/disk.img` (devices/virtio-blk/
// http-block-backend.ts) probes the size with exactly `bytes=0-0`, so it failed on both servers.
//
// This plugin answers every Range GET for such a file itself (206 with Content-Range, or 416 with
// `bytes */SIZE`) and makes every other Range request reach Vite without its Range header, so nothing behind it
// answers one wrongly: the whole file with 200 is what RFC 9110 lets a server send for a Range it does not
// honour, and every client copes with it. That is also the answer to a list of ranges (`bytes=0-1,5-9`): no
// client of ours asks for one, and a multipart/byteranges body is not worth its code here. The same goes for
// a syntactically invalid Range (`bytes=5-2`, another unit) and for an If-Range that does not match.
//
// A mount (mountMiddleware) serves a folder outside public/ under a path of the page, on both servers: the Debian
// image read in place from guest/debian/out/ at /images/debian/ (vite.config.ts).

import { createReadStream, realpathSync, type Stats, statSync } from "node:fs";
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { extname, resolve, sep } from "node:path";
import type { Plugin } from "vite";

/** What to do with a Range header for a file of a known size. `end` is inclusive, as in Content-Range. */
export type RangeAnswer = { kind: "whole" } | { kind: "unsatisfiable" } | { kind: "part"; start: number; end: number };

/** RFC 9110 §14.1.2: one `bytes=first-last`, `bytes=first-` or `bytes=-suffix`. */
export function parseRange(header: string, size: number): RangeAnswer {
  const m = /^bytes=(.*)$/i.exec(header.trim());
  if (m === null) return { kind: "whole" };
  const specs = m[1].split(",").map((s) => s.trim());
  if (specs.length !== 1) return { kind: "whole" };
  const r = /^(\d*)-(\d*)$/.exec(specs[0]);
  if (r === null || (r[1] === "" && r[2] === "")) return { kind: "whole" };
  if (r[1] === "") {
    const suffix = Number(r[2]);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "part", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(r[1]);
  const last = r[2] === "" ? Number.POSITIVE_INFINITY : Number(r[2]);
  if (last < start) return { kind: "whole" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "part", start, end: Math.min(last, size - 1) };
}

/** The types of the files the page serves itself; a disk image or anything else is bytes. */
const TYPES: Record<string, string> = {
  ".html": "text/html;charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".txt": "text/plain;charset=utf-8",
};

/**
 * The regular file `url` names under `dir`, or undefined: not a file, a dot-file or dot-directory (sirv hides
 * those too), a path that leaves `dir` by `..` or by a symbolic link, an undecodable path.
 */
export function fileUnder(dir: string, url: string): { path: string; stats: Stats } | undefined {
  let pathname = url.replace(/[?#].*$/s, "");
  try {
    pathname = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (pathname.includes("\0") || pathname.split(/[/\\]/).some((s) => s.startsWith("."))) return undefined;
  try {
    const root = realpathSync(dir);
    const path = resolve(root, `.${sep}${pathname}`);
    const real = realpathSync(path);
    if (!real.startsWith(root + sep)) return undefined;
    const stats = statSync(real);
    return stats.isFile() ? { path: real, stats } : undefined;
  } catch {
    return undefined;
  }
}

type Next = (err?: unknown) => void;

/**
 * Answers a Range GET of `file` (206 or 416) and returns true, or returns false for a request this must not
 * answer as a range (no Range, another method, several ranges, an If-Range that does not match).
 */
function answerRange(
  req: IncomingMessage,
  res: ServerResponse,
  file: { path: string; stats: Stats },
  headers: OutgoingHttpHeaders | undefined,
): boolean {
  const range = req.headers.range;
  if (range === undefined) return false;
  const { size, mtime } = file.stats;
  const ifRange = req.headers["if-range"];
  const answer: RangeAnswer =
    req.method !== "GET" || (ifRange !== undefined && ifRange !== mtime.toUTCString())
      ? { kind: "whole" }
      : parseRange(range, size);
  if (answer.kind === "whole") return false;
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) res.setHeader(name, value);
  res.setHeader("Last-Modified", mtime.toUTCString());
  res.setHeader("Cache-Control", "no-cache");
  if (answer.kind === "unsatisfiable") {
    res.writeHead(416, { "Content-Range": `bytes */${size}`, "Content-Length": 0 }).end();
    return true;
  }
  const { start, end } = answer;
  res.writeHead(206, {
    "Content-Type": TYPES[extname(file.path).toLowerCase()] ?? "application/octet-stream",
    "Content-Range": `bytes ${start}-${end}/${size}`,
    "Content-Length": end - start + 1,
  });
  const body = createReadStream(file.path, { start, end });
  // A file that vanished or shrank after the stat: the client sees a cut response, never other bytes.
  body.on("error", () => res.destroy());
  body.pipe(res);
  return true;
}

/**
 * A connect middleware for the files under `dir` (see the file's comment). `headers` are the server's
 * configured ones (COOP/COEP), which Vite itself adds only inside its static file handlers.
 */
export function rangeMiddleware(
  dir: string,
  headers: () => OutgoingHttpHeaders | undefined,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    const file = dir === "" || req.url === undefined ? undefined : fileUnder(dir, req.url);
    if (file === undefined) {
      delete req.headers.range;
      next();
      return;
    }
    res.setHeader("Accept-Ranges", "bytes");
    if (answerRange(req, res, file, headers())) return;
    delete req.headers.range;
    next();
  };
}

/** Where a folder outside public/ appears in the page: `prefix` (like "/images/debian/") serves `files` of `dir`. */
export interface StaticMount {
  prefix: string;
  dir: string;
  /** The only names served; anything else under the prefix is a 404. */
  files: readonly string[];
}

/**
 * A connect middleware that serves a mount's files itself, whole (GET, HEAD, with a 304 for a matching
 * If-Modified-Since, so the browser's cache revalidates the boot images instead of downloading them again) or by
 * ranges, and answers 404 for the rest of its prefix, never Vite's index.html. The files are read where they are
 * built (guest/debian/out/), so nothing is copied into public/, which `vite build` would copy again into dist/
 * at every build (Vite's copy writes the 2 GiB sparse disk out in full).
 */
export function mountMiddleware(
  mount: StaticMount,
  headers: () => OutgoingHttpHeaders | undefined,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    const url = req.url ?? "";
    if (!url.startsWith(mount.prefix)) {
      next();
      return;
    }
    const name = url.slice(mount.prefix.length).replace(/[?#].*$/s, "");
    const file = mount.files.includes(name) ? fileUnder(mount.dir, `/${name}`) : undefined;
    for (const [key, value] of Object.entries(headers() ?? {})) if (value !== undefined) res.setHeader(key, value);
    if (file === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      const status = file === undefined ? 404 : 405;
      res.writeHead(status, { "Content-Type": "text/plain;charset=utf-8" });
      res.end(file === undefined ? `${mount.prefix}${name}: not built\n` : "GET or HEAD\n");
      return;
    }
    res.setHeader("Accept-Ranges", "bytes");
    if (answerRange(req, res, file, undefined)) return;
    const modified = file.stats.mtime.toUTCString();
    res.setHeader("Last-Modified", modified);
    res.setHeader("Cache-Control", "no-cache");
    if (req.headers["if-modified-since"] === modified) {
      res.writeHead(304).end();
      return;
    }
    res.writeHead(200, {
      "Content-Type": TYPES[extname(file.path).toLowerCase()] ?? "application/octet-stream",
      "Content-Length": file.stats.size,
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const body = createReadStream(file.path);
    body.on("error", () => res.destroy());
    body.pipe(res);
  };
}

/**
 * The middleware in front of Vite's own, on the dev server (public/) and on `vite preview` (the outDir), and the
 * mounts (relative `dir`s from the project's root) on both.
 */
export function staticRanges(mounts: readonly StaticMount[] = []): Plugin {
  return {
    name: "vireo-static-ranges",
    configureServer(server) {
      const { publicDir, root } = server.config;
      const headers = () => server.config.server.headers;
      for (const m of mounts) server.middlewares.use(mountMiddleware({ ...m, dir: resolve(root, m.dir) }, headers));
      server.middlewares.use(rangeMiddleware(publicDir, headers));
    },
    configurePreviewServer(server) {
      const { root, build } = server.config;
      const headers = () => server.config.preview.headers;
      for (const m of mounts) server.middlewares.use(mountMiddleware({ ...m, dir: resolve(root, m.dir) }, headers));
      server.middlewares.use(rangeMiddleware(resolve(root, build.outDir), headers));
    },
  };
}
