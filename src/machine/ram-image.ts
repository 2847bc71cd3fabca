// Guest RAM as a snapshot stores it (issue 15): sparse — pages that are all zero are left out — and compressed
// with the platform's deflate (CompressionStream, in Node and in browsers; no hand-written codec).
//
// Layout before compression (little-endian):
//   0   "VRAM"              magic
//   4   u32 version         RAM_IMAGE_VERSION
//   8   u32 page size       4096
//   12  u32 pages           RAM size / page size
//   16  u32 stored          pages that follow (the set bits of the map)
//   20  map                 one bit per page, page i at byte i >> 3, bit i & 7: stored (not all zero)
//   …   stored pages        in order, page size bytes each
// A reader refuses anything else — another magic or version, a size that is not the RAM's, a map whose bits
// do not count `stored`, data that is short or long, input that does not inflate — with a message saying
// which, before it writes a byte of RAM.

export const RAM_IMAGE_VERSION = 1;
const MAGIC = 0x4d415256; // "VRAM"
const PAGE = 4096;
const HEADER = 20;

async function through(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(out).arrayBuffer());
}

/** The platform's deflate (CompressionStream), for other snapshot sections. */
export function deflate(data: Uint8Array): Promise<Uint8Array> {
  return through(data, new CompressionStream("deflate"));
}

/**
 * The platform's inflate; throws on data that is not deflate, is truncated, or inflates to more than `maxBytes`
 * (a hostile file's deflate bomb stops there instead of taking the host's memory).
 */
export async function inflate(data: Uint8Array, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
  const reader = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream("deflate"))
    .getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`inflates to more than ${maxBytes} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function pageIsZero(ram: Uint8Array, p: number): boolean {
  const w = new Uint32Array(ram.buffer, ram.byteOffset + p * PAGE, PAGE / 4);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
  return true;
}

/**
 * The deflate codec a snapshot uses: the platform's CompressionStream by default; a host may hand in a faster
 * one of the same format (Node's zlib: the web-stream wrapper around it inflates at half its speed).
 */
export interface DeflateCodec {
  deflate(data: Uint8Array): Promise<Uint8Array>;
  /** Throws on bad data and on output beyond `maxBytes`. */
  inflate(data: Uint8Array, maxBytes: number): Promise<Uint8Array>;
  /** Inflates piece by piece into `take`, which may throw to stop it (the error comes out as thrown). */
  inflateStream(data: Uint8Array, take: (piece: Uint8Array) => void): Promise<void>;
}

/** The platform's inflate, piece by piece (DecompressionStream). */
export async function inflateStream(data: Uint8Array, take: (piece: Uint8Array) => void): Promise<void> {
  const reader = new Blob([data as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream("deflate"))
    .getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    try {
      take(value);
    } catch (e) {
      await reader.cancel().catch(() => {});
      throw e;
    }
  }
}

export const STREAM_CODEC: DeflateCodec = { deflate, inflate, inflateStream };

/** Encodes `ram` (a whole number of 4 KiB pages, 4-byte aligned) sparse and deflated. */
export async function encodeRam(ram: Uint8Array, codec: DeflateCodec = STREAM_CODEC): Promise<Uint8Array> {
  if (ram.length % PAGE !== 0 || ram.byteOffset % 4 !== 0) throw new Error("RAM image: RAM must be whole 4 KiB pages");
  const pages = ram.length / PAGE;
  const mapBytes = Math.ceil(pages / 8);
  const stored: number[] = [];
  for (let p = 0; p < pages; p++) if (!pageIsZero(ram, p)) stored.push(p);
  const raw = new Uint8Array(HEADER + mapBytes + stored.length * PAGE);
  const dv = new DataView(raw.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, RAM_IMAGE_VERSION, true);
  dv.setUint32(8, PAGE, true);
  dv.setUint32(12, pages, true);
  dv.setUint32(16, stored.length, true);
  stored.forEach((p, k) => {
    raw[HEADER + (p >> 3)] |= 1 << (p & 7);
    raw.set(ram.subarray(p * PAGE, (p + 1) * PAGE), HEADER + mapBytes + k * PAGE);
  });
  return codec.deflate(raw);
}

/** An error in the image itself (not in its deflate stream). */
class RamImageError extends Error {}

/**
 * Decodes an image made by encodeRam into `ram` (the guest's RAM, all of it), inflating it as a stream: the
 * header and page map are read and checked first, then each stored page goes straight to its place in RAM,
 * so no more than RAM itself is ever held (a hostile image cannot make the host hold a second RAM's worth).
 * Throws on bad input: a wrong header or page map before anything is written to RAM; a page run that is short
 * or long once the pages before it are written (the caller then does not use the RAM). `zeroed`: the caller
 * knows every page of `ram` is zero already (a fresh machine), so only the stored pages are written — filling
 * a fresh 256 MiB with zeroes would make the host commit all of it.
 */
export async function decodeRam(
  image: Uint8Array,
  ram: Uint8Array,
  opts: { codec?: DeflateCodec; zeroed?: boolean } = {},
): Promise<void> {
  const pagesHere = ram.length / PAGE;
  const mapBytes = Math.ceil(pagesHere / 8);
  const head = new Uint8Array(HEADER + mapBytes);
  let have = 0;
  let order: number[] | undefined;
  let k = 0;
  let off = 0;
  const header = (): void => {
    const dv = new DataView(head.buffer);
    if (dv.getUint32(0, true) !== MAGIC) throw new RamImageError("RAM image: not a RAM image (no VRAM header)");
    const version = dv.getUint32(4, true);
    if (version !== RAM_IMAGE_VERSION) {
      throw new RamImageError(`RAM image: format version ${version}, this build reads ${RAM_IMAGE_VERSION}`);
    }
    if (dv.getUint32(8, true) !== PAGE) {
      throw new RamImageError(`RAM image: page size ${dv.getUint32(8, true)}, not ${PAGE}`);
    }
    const pages = dv.getUint32(12, true);
    if (pages !== pagesHere) {
      throw new RamImageError(
        `RAM image: ${(pages * PAGE) / 1048576} MiB of RAM, this machine has ${ram.length / 1048576} MiB`,
      );
    }
  };
  const pageMap = (): number[] => {
    const stored = new DataView(head.buffer).getUint32(16, true);
    const map = head.subarray(HEADER);
    const list: number[] = [];
    for (let p = 0; p < pagesHere; p++) if (map[p >> 3] & (1 << (p & 7))) list.push(p);
    // Bits past the last page must be clear too.
    let extra = false;
    for (let p = pagesHere; p < mapBytes * 8; p++) if (map[p >> 3] & (1 << (p & 7))) extra = true;
    if (list.length !== stored || extra) {
      throw new RamImageError("RAM image: its page map does not match its page count");
    }
    return list;
  };
  const take = (c: Uint8Array): void => {
    let i = 0;
    if (order === undefined) {
      const before = have;
      const n = Math.min(head.length - have, c.length);
      head.set(c.subarray(0, n), have);
      have += n;
      i = n;
      if (before < HEADER && have >= HEADER) header();
      if (have < head.length) return;
      order = pageMap();
      if (opts.zeroed !== true) ram.fill(0);
    }
    while (i < c.length) {
      if (k >= order.length) throw new RamImageError("RAM image: its length does not match its header");
      const n = Math.min(PAGE - off, c.length - i);
      ram.set(c.subarray(i, i + n), order[k] * PAGE + off);
      off += n;
      i += n;
      if (off === PAGE) {
        off = 0;
        k++;
      }
    }
  };
  try {
    await (opts.codec ?? STREAM_CODEC).inflateStream(image, take);
  } catch (e) {
    if (e instanceof RamImageError) throw new Error(e.message);
    throw new Error(`RAM image: not deflate data, or truncated (${(e as Error).message})`);
  }
  if (have < HEADER) throw new Error("RAM image: shorter than its header");
  if (order === undefined || k !== order.length || off !== 0) {
    throw new Error("RAM image: its length does not match its header");
  }
}
