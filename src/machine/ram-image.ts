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
}

export const STREAM_CODEC: DeflateCodec = { deflate, inflate };

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

/**
 * Decodes an image made by encodeRam into `ram` (the guest's RAM, all of it); throws, writing nothing, on bad
 * input. `zeroed`: the caller knows every page of `ram` is zero already (a fresh machine), so only the stored
 * pages are written — filling a fresh 256 MiB with zeroes would make the host commit all of it.
 */
export async function decodeRam(
  image: Uint8Array,
  ram: Uint8Array,
  opts: { codec?: DeflateCodec; zeroed?: boolean } = {},
): Promise<void> {
  let raw: Uint8Array;
  try {
    // Never more than a header, the page map and every page: anything longer is refused while inflating.
    const pages = ram.length / PAGE;
    raw = await (opts.codec ?? STREAM_CODEC).inflate(image, HEADER + Math.ceil(pages / 8) + pages * PAGE);
  } catch (e) {
    throw new Error(`RAM image: not deflate data, or truncated (${(e as Error).message})`);
  }
  if (raw.length < HEADER) throw new Error("RAM image: shorter than its header");
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new Error("RAM image: not a RAM image (no VRAM header)");
  const version = dv.getUint32(4, true);
  if (version !== RAM_IMAGE_VERSION)
    throw new Error(`RAM image: format version ${version}, this build reads ${RAM_IMAGE_VERSION}`);
  if (dv.getUint32(8, true) !== PAGE) throw new Error(`RAM image: page size ${dv.getUint32(8, true)}, not ${PAGE}`);
  const pages = dv.getUint32(12, true);
  if (pages * PAGE !== ram.length) {
    throw new Error(`RAM image: ${(pages * PAGE) / 1048576} MiB of RAM, this machine has ${ram.length / 1048576} MiB`);
  }
  const stored = dv.getUint32(16, true);
  const mapBytes = Math.ceil(pages / 8);
  if (raw.length !== HEADER + mapBytes + stored * PAGE)
    throw new Error("RAM image: its length does not match its header");
  const map = raw.subarray(HEADER, HEADER + mapBytes);
  let set = 0;
  for (let p = 0; p < pages; p++) if (map[p >> 3] & (1 << (p & 7))) set++;
  // Bits past the last page must be clear too.
  for (let p = pages; p < mapBytes * 8; p++) if (map[p >> 3] & (1 << (p & 7))) set = -1;
  if (set !== stored) throw new Error("RAM image: its page map does not match its page count");
  if (opts.zeroed !== true) ram.fill(0);
  let k = 0;
  for (let p = 0; p < pages; p++) {
    if (map[p >> 3] & (1 << (p & 7))) {
      const at = HEADER + mapBytes + k * PAGE;
      ram.set(raw.subarray(at, at + PAGE), p * PAGE);
      k++;
    }
  }
}
