import { afterEach, describe, expect, it, vi } from "vitest";
import { fetchImages } from "./image-fetch.ts";
import type { DownloadProgress } from "./protocol.ts";

/** A response whose body arrives in `chunks`, each after the test lets it through (`next()`). */
function slowResponse(chunks: Uint8Array[], headers: Record<string, string>) {
  let release: (() => void) | undefined;
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      await new Promise<void>((r) => {
        release = r;
      });
      if (i < chunks.length) c.enqueue(chunks[i++]);
      else c.close();
    },
  });
  return {
    response: new Response(body, { headers }),
    next: async () => {
      while (release === undefined) await new Promise((r) => setTimeout(r, 1));
      const r = release;
      release = undefined;
      r();
      await new Promise((r) => setTimeout(r, 1));
    },
  };
}

afterEach(() => vi.unstubAllGlobals());

describe("fetchImages", () => {
  it("takes a size the manifest learns after the download began over the server's Content-Length", async () => {
    const a = slowResponse([new Uint8Array(10), new Uint8Array(30)], { "content-length": "7" });
    vi.stubGlobal("fetch", async () => a.response);
    const sizes = new Map<string, number>();
    const seen: DownloadProgress[][] = [];
    const done = fetchImages(
      ["http://h/images/Image"],
      (u) => sizes.get(u) ?? 0,
      (f) => seen.push(f),
      0,
    );
    await a.next();
    // The server's (wire) length stands in until the manifest arrives.
    expect(seen.at(-1)?.[0]).toEqual({ file: "Image", loaded: 10, total: 7 });
    sizes.set("http://h/images/Image", 40);
    await a.next();
    expect(seen.at(-1)?.[0]).toEqual({ file: "Image", loaded: 40, total: 40 });
    // At the end the file's size is what arrived, whatever is expected.
    sizes.set("http://h/images/Image", 99);
    await a.next();
    const [bytes] = await done;
    expect(bytes.length).toBe(40);
    expect(seen.at(-1)?.[0]).toEqual({ file: "Image", loaded: 40, total: 40 });
  });
});
