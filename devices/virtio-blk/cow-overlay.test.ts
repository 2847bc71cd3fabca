import { describe, expect, it } from "vitest";
import { type BlockBackend, MemoryBlockBackend } from "./block-backend.ts";
import { CowOverlay } from "./cow-overlay.ts";

function source(size = 64 * 1024): MemoryBlockBackend {
  const b = new MemoryBlockBackend(size, { readOnly: true });
  for (let i = 0; i < size; i++) b.bytes[i] = (i * 7) % 256;
  return b;
}

/** The same source, but every read answers with a Promise. */
class AsyncSource implements BlockBackend {
  reads = 0;
  constructor(readonly inner: MemoryBlockBackend) {}
  get size() {
    return this.inner.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.reads++;
    return this.inner.read(offset, length);
  }
  write(): void {
    throw new Error("the source must never be written");
  }
  flush(): void {}
}

describe("CowOverlay", () => {
  for (const chunkSize of [4096, 65536]) {
    it(`merges writes over the source and never modifies it (chunk ${chunkSize})`, async () => {
      const src = source(256 * 1024);
      const pristine = src.bytes.slice();
      const cow = new CowOverlay(src, { chunkSize });
      const model = src.bytes.slice();
      // Writes that straddle chunks, cover whole chunks, and touch single sectors.
      const writes: [number, number][] = [
        [512, 1024],
        [chunkSize - 512, 2048],
        [3 * chunkSize, chunkSize],
        [100 * 512, 512],
      ];
      for (const [off, len] of writes) {
        const data = new Uint8Array(len).fill((off / 512) & 0xff);
        await cow.write(off, data);
        model.set(data, off);
      }
      // Buffer.equals: vitest's deep equality is slow on 256 KiB arrays.
      expect(Buffer.from(src.bytes).equals(pristine)).toBe(true);
      expect(Buffer.from(await cow.read(0, model.length)).equals(model)).toBe(true);
      const mid = await cow.read(chunkSize - 700, 3000);
      expect(Buffer.from(mid).equals(model.subarray(chunkSize - 700, chunkSize + 2300))).toBe(true);
      expect(cow.dirtyChunks).toBeGreaterThan(0);
    });
  }

  it("works over an asynchronous source", async () => {
    const inner = source();
    const src = new AsyncSource(inner);
    const cow = new CowOverlay(src);
    await cow.write(1000, Uint8Array.of(1, 2, 3));
    const got = await cow.read(998, 8);
    expect([...got]).toEqual([inner.bytes[998], inner.bytes[999], 1, 2, 3, ...inner.bytes.subarray(1003, 1006)]);
  });

  it("zeroes whole chunks without reading the source", async () => {
    const inner = source();
    const src = new AsyncSource(inner);
    const cow = new CowOverlay(src, { chunkSize: 4096 });
    await cow.writeZeroes(4096, 8192);
    expect(src.reads).toBe(0);
    expect((await cow.read(4096, 8192)).every((b) => b === 0)).toBe(true);
  });

  it("rejects ranges past the end", () => {
    const cow = new CowOverlay(source(8192));
    expect(() => cow.read(8000, 512)).toThrow(/past the end/);
    expect(() => cow.write(-1, new Uint8Array(1))).toThrow();
  });
});
