// TCP reads for Wisp DATA without an allocation per read. Every relay socket reads into one shared buffer
// (net.connect's `onread`; the callback runs synchronously after each read, so sockets never overlap in
// it), the bytes are copied once into a frame-sized buffer behind the DATA header, and once ws has
// written the frame the buffer comes back here for another read. Node's own path allocated a fresh 64 KiB
// read buffer per read and then the encoded packet; at hundreds of MB/s those allocations drove V8 into a
// full GC every ~100 ms (external-memory pressure). A per-socket read buffer would avoid the copy but pin
// 64 KiB for every open socket.

import { WISP_HEADER_SIZE } from "./packet.ts";

/** Largest socket read (libuv's usual read size), i.e. the payload of one DATA packet going down. */
export const READ_BYTES = 64 * 1024;
export const FRAME_BYTES = WISP_HEADER_SIZE + READ_BYTES;
/**
 * Frames kept for reuse; beyond this, returned ones are left to the GC (bounds idle memory to 8 MiB).
 * Frames also carry big client payloads up (wisp-session.ts copies them out of the WebSocket's shared
 * read buffer into one), held until the destination socket has written them.
 */
const KEEP = 128;

/** For `onread.buffer`: what every socket reads into; valid only until the read callback returns. */
export const sharedReadBuffer = new Uint8Array(READ_BYTES);

const free: ArrayBuffer[] = [];

/** A frame-sized buffer, the caller's until it gives it back with releaseFrame. */
export function takeFrame(): Uint8Array {
  // A new frame need not be zeroed: its bytes are written before they are sent.
  const b = free.pop();
  if (b) return new Uint8Array(b);
  const fresh = Buffer.allocUnsafeSlow(FRAME_BYTES);
  return new Uint8Array(fresh.buffer, fresh.byteOffset, FRAME_BYTES);
}

/** Gives a frame back; call once, when nothing refers to its memory any more. */
export function releaseFrame(frame: Uint8Array): void {
  if (free.length < KEEP && frame.buffer.byteLength === FRAME_BYTES) free.push(frame.buffer as ArrayBuffer);
}
