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
 * A connect middleware for the files under `dir` (see the file's comment). `headers` are the server's
 * configured ones (COOP/COEP), which Vite itself adds only inside its static file handlers.
 */
export function rangeMiddleware(
  dir: string,
  headers: () => OutgoingHttpHeaders | undefined,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    const range = req.headers.range;
    const file = dir === "" || req.url === undefined ? undefined : fileUnder(dir, req.url);
    if (file === undefined) {
      delete req.headers.range;
      next();
      return;
    }
    res.setHeader("Accept-Ranges", "bytes");
    if (range === undefined) {
      next();
      return;
    }
    const { size, mtime } = file.stats;
    const ifRange = req.headers["if-range"];
    const answer: RangeAnswer =
      req.method !== "GET" || (ifRange !== undefined && ifRange !== mtime.toUTCString())
        ? { kind: "whole" }
        : parseRange(range, size);
    if (answer.kind === "whole") {
      delete req.headers.range;
      next();
      return;
    }
    for (const [name, value] of Object.entries(headers() ?? {})) if (value !== undefined) res.setHeader(name, value);
    res.setHeader("Last-Modified", mtime.toUTCString());
    res.setHeader("Cache-Control", "no-cache");
    if (answer.kind === "unsatisfiable") {
      res.writeHead(416, { "Content-Range": `bytes */${size}`, "Content-Length": 0 }).end();
      return;
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
  };
}

/** The middleware in front of Vite's own, on the dev server (public/) and on `vite preview` (the outDir). */
export function staticRanges(): Plugin {
  return {
    name: "vireo-static-ranges",
    configureServer(server) {
      const { publicDir } = server.config;
      server.middlewares.use(rangeMiddleware(publicDir, () => server.config.server.headers));
    },
    configurePreviewServer(server) {
      const { root, build } = server.config;
      server.middlewares.use(rangeMiddleware(resolve(root, build.outDir), () => server.config.preview.headers));
    },
  };
}
