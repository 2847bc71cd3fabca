// Completing a partial (NEEDS_CSUM) checksum as a device does for a driver that offloaded it
// (virtio 1.2 §5.1.6.2, spec/virtio-net.md §6.1/§6.3), and the inverse: seeding a packet's L4 checksum
// field with the pseudo-header sum so a receiver may finish it. Pure functions with result enums.

import { get16, set16 } from "../wire/bytes.ts";
import { foldSum, internetChecksum, pseudoHeaderSum4, pseudoHeaderSum6 } from "../wire/checksum.ts";
import { ETH_HLEN } from "../wire/ethernet.ts";
import type { FrameLayout } from "../wire/parse.ts";

export type CsumResult = "ok" | "bad-csum-offsets";

/**
 * Sums frame[csumStart, len) (which includes the seeded checksum field), folds, inverts and stores the
 * result at csumStart + csumOffset. A result of 0 is stored as 0xffff, as Linux's skb_checksum_help does
 * for every protocol (the same value in ones' complement, and the only legal one for UDP).
 */
export function completeChecksum(
  frame: Uint8Array,
  csumStart: number,
  csumOffset: number,
  len = frame.length,
): CsumResult {
  if (len > frame.length || csumStart < ETH_HLEN || csumStart + csumOffset + 2 > len) return "bad-csum-offsets";
  const c = internetChecksum(frame, csumStart, len - csumStart);
  set16(frame, csumStart + csumOffset, c === 0 ? 0xffff : c);
  return "ok";
}

/** The folded, non-inverted pseudo-header sum for an L4 segment of `l4Length` bytes (what NEEDS_CSUM seeds). */
export function pseudoSumFor(frame: Uint8Array, layout: FrameLayout, l4Length: number): number {
  const ip = layout.l3Off;
  const s =
    layout.ipVersion === 4
      ? pseudoHeaderSum4(frame, ip + 12, ip + 16, layout.protocol, l4Length)
      : pseudoHeaderSum6(frame, ip + 8, ip + 24, layout.protocol, l4Length);
  return foldSum(s);
}

/** True when the L4 checksum (TCP/UDP) of a parsed frame verifies. */
export function l4ChecksumValid(frame: Uint8Array, layout: FrameLayout): boolean {
  const l4Len = layout.ipEnd - layout.l4Off;
  if (layout.protocol === 17 && layout.ipVersion === 4 && get16(frame, layout.l4Off + 6) === 0) return true;
  const ps = pseudoSumFor(frame, layout, l4Len);
  return internetChecksum(frame, layout.l4Off, l4Len, ps) === 0;
}
