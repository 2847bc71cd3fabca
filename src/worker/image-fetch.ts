// Boot images for the worker: fetched with streamed progress (bytes/total for the page's progress
// bar), sizes taken from public/images/manifest.json when the server sends no Content-Length, and
// kept per URL so reset and a memory-size change do not download them again.

import type { DownloadProgress } from "./protocol.ts";

export interface ImageManifest {
  bootargs?: string;
  files?: { name: string; bytes?: number }[];
}

export class ImageFetchError extends Error {}

/** The manifest, or undefined when there is none (custom images need not have one). */
export async function fetchManifest(base: string): Promise<ImageManifest | undefined> {
  try {
    const r = await fetch(new URL("manifest.json", base));
    if (!r.ok) return undefined;
    return (await r.json()) as ImageManifest;
  } catch {
    return undefined;
  }
}

const cache = new Map<string, Uint8Array>();

/**
 * Fetches every URL in parallel, calling `progress` with all files' state whenever bytes arrive
 * (at most every `intervalMs`, plus once at the end). `expected` is asked again at every report while a
 * file downloads (the manifest may arrive after the downloads began); a size it knows wins over the
 * server's Content-Length, which counts wire bytes when the response is compressed.
 */
export async function fetchImages(
  urls: string[],
  expected: (url: string) => number,
  progress: (files: DownloadProgress[]) => void,
  intervalMs = 100,
): Promise<Uint8Array[]> {
  const files: DownloadProgress[] = urls.map((u) => ({
    file: u.slice(u.lastIndexOf("/") + 1) || u,
    loaded: 0,
    total: expected(u),
  }));
  const done = urls.map(() => false);
  let last = 0;
  const report = (force: boolean): void => {
    const now = performance.now();
    if (!force && now - last < intervalMs) return;
    last = now;
    for (let i = 0; i < files.length; i++) {
      const size = done[i] ? 0 : expected(urls[i]);
      if (size > 0) files[i].total = size;
    }
    progress(files.map((f) => ({ ...f })));
  };
  const out = await Promise.all(
    urls.map(async (url, i) => {
      const hit = cache.get(url);
      if (hit !== undefined) {
        files[i].loaded = files[i].total = hit.length;
        done[i] = true;
        return hit;
      }
      const bytes = await fetchOne(url, files[i], () => report(false));
      done[i] = true;
      cache.set(url, bytes);
      return bytes;
    }),
  );
  report(true);
  return out;
}

/**
 * One file (a snapshot) with progress, not kept: `progress` gets its state whenever bytes arrive (at most every
 * `intervalMs`, plus once at the end).
 */
export async function fetchFile(
  url: string,
  progress: (file: DownloadProgress) => void,
  what: string,
  intervalMs = 100,
): Promise<Uint8Array> {
  const state: DownloadProgress = { file: url.slice(url.lastIndexOf("/") + 1) || url, loaded: 0, total: 0 };
  let last = 0;
  const bytes = await fetchOne(
    url,
    state,
    () => {
      const now = performance.now();
      if (now - last < intervalMs) return;
      last = now;
      progress({ ...state });
    },
    what,
  );
  progress({ ...state });
  return bytes;
}

async function fetchOne(
  url: string,
  state: DownloadProgress,
  tick: () => void,
  what = "an image",
): Promise<Uint8Array> {
  let r: Response;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new ImageFetchError(`cannot fetch ${url}: ${(e as Error).message} (is the server running?)`);
  }
  if (!r.ok) {
    throw new ImageFetchError(
      `cannot fetch ${url}: HTTP ${r.status} ${r.statusText}` +
        (r.status === 404 && what === "an image"
          ? " — build the guest images with `npm run guest`, or pick your own"
          : ""),
    );
  }
  // Vite's servers (and many SPAs' hosts) answer a missing file with the app's index.html and 200.
  if ((r.headers.get("content-type") ?? "").startsWith("text/html")) {
    throw new ImageFetchError(`cannot fetch ${url}: the server sent an HTML page, not ${what} (no such file?)`);
  }
  const length = Number(r.headers.get("content-length") ?? 0);
  // A compressed response's Content-Length counts wire bytes, so the manifest's size wins when known.
  if (length > 0 && state.total === 0) state.total = length;
  if (r.body === null) {
    const bytes = new Uint8Array(await r.arrayBuffer());
    state.loaded = state.total = bytes.length;
    return bytes;
  }
  const reader = r.body.getReader();
  const parts: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    state.loaded += value.length;
    tick();
  }
  const bytes = new Uint8Array(state.loaded);
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.length;
  }
  state.total = bytes.length;
  if (bytes.length === 0) throw new ImageFetchError(`${url} is empty`);
  return bytes;
}
