// Inbound IPv4 fragment reassembly (RFC 791 §3.2, with RFC 815's simple hole list). The fragments come
// from the guest: overlapping pieces are rejected (RFC 5722's reasoning applies to v4 too), a datagram
// may not exceed 65535 bytes, at most `maxDatagrams` are in progress, all of them together hold at most
// `maxBytes`, and an incomplete one is dropped after `timeoutMs`.

import { ETH_HLEN } from "../wire/ethernet.ts";
import { IPV4_MIN_HLEN, Ipv4View } from "../wire/ipv4.ts";
import type { Timer } from "./timers.ts";

interface Piece {
  off: number;
  data: Uint8Array;
}

interface Datagram {
  key: string;
  pieces: Piece[];
  bytes: number;
  /** Total payload length, known once the last fragment (MF=0) arrives. */
  total: number | undefined;
  /** Ethernet + IP header of the first fragment (offset 0), used for the whole datagram. */
  head: Uint8Array | undefined;
  timer: Timer;
}

export interface ReassemblyLimits {
  maxDatagrams: number;
  maxBytes: number;
  timeoutMs: number;
}

export const REASSEMBLY_DEFAULTS: ReassemblyLimits = { maxDatagrams: 64, maxBytes: 1 << 20, timeoutMs: 30_000 };

export class Ip4Reassembly {
  private inProgress = new Map<string, Datagram>();
  private bytes = 0;

  constructor(
    private readonly timers: { after(ms: number, fn: () => void): Timer },
    private readonly limits: ReassemblyLimits = REASSEMBLY_DEFAULTS,
    private readonly drop: (why: string) => void = () => {},
  ) {}

  get pending(): number {
    return this.inProgress.size;
  }

  /** Payload bytes held across all datagrams in progress (never above `maxBytes`). */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Takes a validated fragment frame (Ethernet + IPv4); returns the reassembled frame when this one
   * completed its datagram, else undefined.
   */
  add(frame: Uint8Array): Uint8Array | undefined {
    const ip = new Ipv4View(frame, ETH_HLEN);
    const off = ip.fragmentOffset;
    const data = ip.payload;
    const last = !ip.moreFragments;
    // Every fragment but the last carries a multiple of 8 bytes (RFC 791).
    if ((!last && data.length % 8 !== 0) || data.length === 0 || off + data.length > 65535 - IPV4_MIN_HLEN) {
      this.drop("frag-bad");
      return undefined;
    }
    const key = `${ip.src}>${ip.dst}/${ip.protocol}#${ip.id}`;
    let d = this.inProgress.get(key);
    if (d === undefined) {
      if (this.inProgress.size >= this.limits.maxDatagrams) {
        this.drop("frag-too-many");
        return undefined;
      }
      const dg: Datagram = {
        key,
        pieces: [],
        bytes: 0,
        total: undefined,
        head: undefined,
        timer: this.timers.after(this.limits.timeoutMs, () => this.discard(key, "frag-timeout")),
      };
      this.inProgress.set(key, dg);
      d = dg;
    }
    if (this.bytes + data.length > this.limits.maxBytes) {
      this.discard(key, "frag-memory");
      return undefined;
    }
    const end = off + data.length;
    for (const p of d.pieces) {
      if (off < p.off + p.data.length && p.off < end) {
        // Exact duplicates are harmless (a retransmission); any other overlap poisons the datagram.
        if (p.off === off && p.data.length === data.length) return undefined;
        this.discard(key, "frag-overlap");
        return undefined;
      }
    }
    if (last) {
      if (d.total !== undefined && d.total !== end) {
        this.discard(key, "frag-two-ends");
        return undefined;
      }
      d.total = end;
    }
    if (d.total !== undefined && end > d.total) {
      this.discard(key, "frag-past-end");
      return undefined;
    }
    if (off === 0) d.head = frame.slice(0, ETH_HLEN + ip.headerLength);
    d.pieces.push({ off, data: data.slice() });
    d.bytes += data.length;
    this.bytes += data.length;
    if (d.total === undefined || d.bytes !== d.total || d.head === undefined) return undefined;
    // Complete: no overlaps and the byte count matches, so the pieces tile [0, total) exactly.
    const head = d.head;
    const out = new Uint8Array(head.length + d.total);
    out.set(head);
    for (const p of d.pieces) out.set(p.data, head.length + p.off);
    this.remove(d);
    const v = new Ipv4View(out, ETH_HLEN);
    v.totalLength = head.length - ETH_HLEN + d.total;
    v.flagsFragment = 0;
    v.updateChecksum();
    return out;
  }

  private remove(d: Datagram): void {
    d.timer.cancel();
    this.bytes -= d.bytes;
    this.inProgress.delete(d.key);
  }

  private discard(key: string, why: string): void {
    const d = this.inProgress.get(key);
    if (d) this.remove(d);
    this.drop(why);
  }
}
