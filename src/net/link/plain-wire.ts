// What the backends that carry plain Ethernet (the relay's L2 wire, the tab BroadcastChannel) share:
// nothing on those wires knows virtio offload metadata, so a superpacket is split and a partial
// checksum completed before a frame leaves, and both count their frames and drops the same way.

import { type GsoInfo, isSuperpacket } from "../offload/gso.ts";
import { gsoSplit } from "../offload/gso-split.ts";

/** Frame and drop counters of a plain-Ethernet backend; R names its drop reasons. */
export class WireCounters<R extends string> {
  txFrames = 0;
  txBytes = 0;
  rxFrames = 0;
  rxBytes = 0;
  /** Superpackets split into wire frames, and the frames they made. */
  gsoSplits = 0;
  gsoSplitFrames = 0;
  /** Single frames whose partial checksum we finished. */
  checksumsCompleted = 0;
  readonly txDropped = new Map<R, number>();
  readonly rxDropped = new Map<R, number>();

  dropTx(r: R, n = 1): void {
    this.txDropped.set(r, (this.txDropped.get(r) ?? 0) + n);
  }
  dropRx(r: R): void {
    this.rxDropped.set(r, (this.rxDropped.get(r) ?? 0) + 1);
  }
  /** A flat record for snapshots ("txDropped:too-large" and so on). */
  toRecord(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this)) if (typeof v === "number") out[k] = v;
    for (const [k, v] of this.txDropped) out[`txDropped:${k}`] = v;
    for (const [k, v] of this.rxDropped) out[`rxDropped:${k}`] = v;
    return out;
  }
}

/**
 * The frames to put on a plain wire for one transmit: the frame itself, the segments of a superpacket,
 * or the frame with its partial checksum finished. Undefined (counted as "bad-gso") when the GSO
 * metadata lies about the packet.
 */
export function framesForWire(
  frame: Uint8Array,
  gso: GsoInfo | undefined,
  c: WireCounters<"bad-gso" | string>,
): Uint8Array[] | undefined {
  if (gso === undefined || !(gso.needsCsum || isSuperpacket(gso))) return [frame];
  const r = gsoSplit(frame, gso);
  if (r.result !== "ok") {
    c.dropTx("bad-gso");
    return undefined;
  }
  if (isSuperpacket(gso)) {
    c.gsoSplits++;
    c.gsoSplitFrames += r.frames.length;
  } else c.checksumsCompleted++;
  return r.frames;
}
