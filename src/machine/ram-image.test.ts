import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { consoleText, PROMPT_RE } from "../cli/console-text.ts";
import { loadCoreModule } from "../cli/core-module.ts";
import { rng } from "../testing/rng.ts";
import { decodeRam, encodeRam, RAM_IMAGE_VERSION } from "./ram-image.ts";
import { VirtMachine } from "./virt.ts";

const PAGE = 4096;
const IMAGES = join(import.meta.dirname, "../../public/images");

/** 1 MiB: zero pages, random pages, pages with one byte set at either end. */
function sampleRam(seed: number): Uint8Array {
  const next = rng(seed);
  const ram = new Uint8Array(256 * PAGE);
  for (let p = 0; p < 256; p++) {
    const kind = (next() >>> 0) % 4;
    if (kind === 1) for (let i = 0; i < PAGE; i++) ram[p * PAGE + i] = next() & 0xff;
    if (kind === 2) ram[p * PAGE] = 1;
    if (kind === 3) ram[p * PAGE + PAGE - 1] = 0x80;
  }
  return ram;
}

async function deflate(raw: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

async function inflate(z: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([z as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

describe("RAM images (sparse, deflated)", () => {
  it("round-trips RAM exactly, over whatever the target held", async () => {
    for (const seed of [1, 2, 3]) {
      const ram = sampleRam(seed);
      const image = await encodeRam(ram);
      const target = new Uint8Array(ram.length).fill(0x5a);
      await decodeRam(image, target);
      expect(Buffer.from(target).equals(Buffer.from(ram))).toBe(true);
    }
  });

  it("leaves zero pages out: an all-zero 64 MiB RAM is a few hundred bytes", async () => {
    const image = await encodeRam(new Uint8Array(64 << 20));
    expect(image.length).toBeLessThan(1024);
    const target = new Uint8Array(64 << 20).fill(1);
    await decodeRam(image, target);
    expect(target.every((b) => b === 0)).toBe(true);
  });

  it("refuses bad images, saying what is wrong, without touching RAM", async () => {
    const ram = sampleRam(9);
    const image = await encodeRam(ram);
    const raw = await inflate(image);
    const edit = async (f: (dv: DataView, b: Uint8Array) => Uint8Array | undefined): Promise<Uint8Array> => {
      const b = raw.slice();
      return deflate(f(new DataView(b.buffer), b) ?? b);
    };
    // A deflate bomb with a valid header: every page stored, then 64 MiB of zeroes (~64 KiB deflated). The
    // stream stops once the pages are in; it is never held whole.
    const bombRaw = new Uint8Array(20 + 32 + (64 << 20));
    bombRaw.set(raw.subarray(0, 20));
    new DataView(bombRaw.buffer).setUint32(16, 256, true);
    bombRaw.fill(0xff, 20, 52);
    // [name, image, message, RAM untouched?] — a wrong header or page map is refused before RAM is written;
    // a short or long page run only once the pages before it are in.
    const cases: [string, Uint8Array, RegExp, boolean][] = [
      ["not deflate", Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), /not deflate data/, true],
      ["truncated", image.subarray(0, image.length >> 1), /not deflate data, or truncated/, false],
      ["magic", await edit((dv) => void dv.setUint32(0, 0x12345678, true)), /no VRAM header/, true],
      ["version", await edit((dv) => void dv.setUint32(4, RAM_IMAGE_VERSION + 1, true)), /format version/, true],
      ["page size", await edit((dv) => void dv.setUint32(8, 8192, true)), /page size/, true],
      ["ram size", await edit((dv) => void dv.setUint32(12, 512, true)), /2 MiB of RAM, this machine has 1 MiB/, true],
      ["stored count", await edit((dv) => void dv.setUint32(16, dv.getUint32(16, true) + 1, true)), /page map/, true],
      ["long", await edit((_dv, b) => Uint8Array.from([...b, 0, 0, 0, 0])), /length/, false],
      ["short", await edit((_dv, b) => b.slice(0, b.length - 4)), /length/, false],
      ["map", await edit((_dv, b) => void (b[20] ^= 1)), /page map/, true],
      ["header only", await deflate(raw.subarray(0, 10)), /shorter than its header/, true],
      ["zeroes", await deflate(new Uint8Array(64 << 20)), /no VRAM header/, true],
      ["bomb", await deflate(bombRaw), /its length does not match its header/, false],
    ];
    for (const [name, bad, why, untouched] of cases) {
      const target = new Uint8Array(ram.length).fill(0x77);
      await expect(decodeRam(bad, target), name).rejects.toThrow(why);
      if (untouched)
        expect(
          target.every((b) => b === 0x77),
          name,
        ).toBe(true);
    }
  });

  it("the committed image at its shell prompt, 256 MiB of RAM, fits in 16 MiB and comes back exact", async () => {
    const out: string[] = [];
    const m = new VirtMachine({
      wasmCore: loadCoreModule(),
      firmware: new Uint8Array(readFileSync(join(IMAGES, "fw_dynamic.bin"))),
      kernel: new Uint8Array(readFileSync(join(IMAGES, "Image"))),
      initrd: new Uint8Array(readFileSync(join(IMAGES, "initramfs.cpio"))),
      onConsoleOutput: (b) => out.push(Buffer.from(b).toString("latin1")),
    });
    const end = performance.now() + 60_000;
    while (!PROMPT_RE.test(consoleText(out.join("")).slice(-200)) && performance.now() < end) {
      if (m.runSlice(20) === "waiting") await new Promise((r) => setTimeout(r, 1));
    }
    expect(consoleText(out.join(""))).toMatch(PROMPT_RE);
    const ram = m.mem.u8;
    expect(ram.length).toBe(256 << 20);
    const image = await encodeRam(ram);
    expect(image.length).toBeLessThanOrEqual(16 << 20);
    const back = new Uint8Array(ram.length);
    await decodeRam(image, back);
    expect(Buffer.from(back).equals(Buffer.from(ram))).toBe(true);
    console.log(`RAM image at the prompt: ${(image.length / 1048576).toFixed(2)} MiB`);
  }, 90_000);
});
