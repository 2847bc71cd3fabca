// Copying into and out of a descriptor chain's segments, for devices. The readable bytes are
// guest-controlled and may change under us: a device copies what it needs out once (these helpers
// return fresh arrays) and validates the copy.

import type { DescriptorChain } from "./virtqueue.ts";

/**
 * A copy of up to `len` bytes of the chain's readable part, starting `offset` bytes in; shorter when
 * the readable part ends first.
 */
export function copyFromReadable(chain: DescriptorChain, offset: number, len: number): Uint8Array {
  const total = Math.max(0, Math.min(len, chain.readableBytes - offset));
  const out = new Uint8Array(total);
  let pos = 0;
  let skip = offset;
  for (const seg of chain.readable) {
    if (pos === total) break;
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    const n = Math.min(seg.length - skip, total - pos);
    out.set(seg.subarray(skip, skip + n), pos);
    pos += n;
    skip = 0;
  }
  return out;
}

/**
 * Writes `data` into the chain's writable part starting `offset` bytes in; returns how many bytes
 * fitted. Never writes past the writable capacity. The caller reports the bytes in push().
 */
export function copyToWritable(chain: DescriptorChain, offset: number, data: Uint8Array): number {
  let pos = 0;
  let skip = offset;
  for (const seg of chain.writable) {
    if (pos === data.length) break;
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    const n = Math.min(seg.length - skip, data.length - pos);
    seg.set(data.subarray(pos, pos + n), skip);
    pos += n;
    skip = 0;
  }
  return pos;
}

/** Fills `len` bytes of the writable part from `offset` with `value`; returns bytes filled. */
export function fillWritable(chain: DescriptorChain, offset: number, len: number, value = 0): number {
  let done = 0;
  let skip = offset;
  for (const seg of chain.writable) {
    if (done === len) break;
    if (skip >= seg.length) {
      skip -= seg.length;
      continue;
    }
    const n = Math.min(seg.length - skip, len - done);
    seg.fill(value, skip, skip + n);
    done += n;
    skip = 0;
  }
  return done;
}
