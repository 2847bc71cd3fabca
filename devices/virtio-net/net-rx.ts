// The receive path of virtio-net (virtio 1.2 §5.1.6.3–4, spec/virtio-net.md §7): frames from the backend
// wait in a bounded per-pair queue, are coalesced (GRO) or split (GSO) to what the driver negotiated, and
// are written into the driver's receive buffers — spanning several with MRG_RXBUF (num_buffers), one
// chain each otherwise (Linux's "small" and "big packets" shapes). The buffers are guest memory whose
// sizes the guest chose: every write is bounded by the chain's writable capacity and used.len is exact.

import { completeChecksum, l4ChecksumValid } from "../../src/net/offload/checksum-offload.ts";
import { groCoalesce } from "../../src/net/offload/gro.ts";
import { GSO_NONE, GSO_TCPV4, GSO_TCPV6, type GsoInfo } from "../../src/net/offload/gso.ts";
import { gsoSplit, validateSuperpacket } from "../../src/net/offload/gso-split.ts";
import { parseFrame } from "../../src/net/wire/parse.ts";
import { TCP_FLAG_CWR } from "../../src/net/wire/tcp.ts";
import { copyToWritable } from "../virtio/chain-io.ts";
import type { DescriptorChain, Virtqueue } from "../virtio/virtqueue.ts";
import type { NetCounters } from "./net-counters.ts";
import {
  encodeNetHdr,
  type NetHdr,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_SIZE,
} from "./net-hdr.ts";

/** Frames waiting for receive buffers, over all pairs; beyond this the backend is told "not now". */
export const RX_PENDING_MAX = 1024;

export interface RxEntry {
  frame: Uint8Array;
  gso?: GsoInfo;
  /** Set once the entry was prepared for the driver (split, checksum decided). */
  hdr?: NetHdr;
  /** Already went through GRO. */
  groDone?: boolean;
}

/** What the driver negotiated (and currently enables) that shapes delivery. */
export interface RxMode {
  mergeable: boolean;
  guestCsum: boolean;
  guestTso4: boolean;
  guestTso6: boolean;
  guestEcn: boolean;
}

export type RxWrite = "written" | "no-buffers" | "dropped";

/** Receive buffers popped but not used yet (MRG_RXBUF needs to see enough before writing any). */
export class RxBuffers {
  stash: DescriptorChain[] = [];
  constructor(readonly vq: Virtqueue) {}
  /** True when take() may find a buffer (a chain that fails validation can still make it return undefined). */
  available(): boolean {
    return this.stash.length > 0 || this.vq.hasAvailable();
  }
  take(): DescriptorChain | undefined {
    return this.stash.shift() ?? this.vq.pop();
  }
  giveBack(chains: DescriptorChain[]): void {
    this.stash.unshift(...chains);
  }
}

/** Runs GRO over the not-yet-coalesced plain frames of `pending` (keeps order). */
export function coalescePending(pending: RxEntry[], mode: RxMode, counters: NetCounters): RxEntry[] {
  if (!(mode.guestTso4 || mode.guestTso6)) return pending;
  let candidates = 0;
  for (const e of pending) if (!e.groDone && !e.gso && !e.hdr) candidates++;
  if (candidates < 2) return pending;
  const out: RxEntry[] = [];
  let run: Uint8Array[] = [];
  const flush = () => {
    if (run.length === 0) return;
    const r = groCoalesce(run, { tso4: mode.guestTso4, tso6: mode.guestTso6 });
    for (const p of r.packets) {
      if (p.gso) {
        counters.groSuperpackets++;
        counters.groMerged += p.segments;
        out.push({ frame: p.frame, gso: p.gso, groDone: true });
      } else {
        out.push({ frame: p.frame, groDone: true });
      }
    }
    run = [];
  };
  for (const e of pending) {
    if (!e.groDone && !e.gso && !e.hdr) run.push(e.frame);
    else {
      flush();
      out.push(e);
    }
  }
  flush();
  return out;
}

/**
 * Turns one backend entry into what the driver may receive: a superpacket with gso fields when the
 * matching GUEST_* offload is on, otherwise split frames; partial checksums left partial only with
 * GUEST_CSUM. Returns [] (and counts) when the entry is unusable.
 */
export function prepareEntry(e: RxEntry, mode: RxMode, counters: NetCounters): RxEntry[] {
  const g = e.gso;
  if (g && g.type !== GSO_NONE) {
    const v = validateSuperpacket(e.frame, g);
    if (!v.ok) {
      counters.drop("rx-bad-gso");
      return [];
    }
    // GSO_ECN means "CWR set on the first segment" (Linux tcp_gro_complete sets it from the header), so a
    // CWR superpacket counts as ECN even if the backend did not say so; without GUEST_ECN it is split.
    const tcp = g.type === GSO_TCPV4 || g.type === GSO_TCPV6;
    const ecn = g.ecn === true || (tcp && (e.frame[v.layout.l4Off + 13]! & TCP_FLAG_CWR) !== 0);
    const take =
      ((g.type === GSO_TCPV4 && mode.guestTso4) || (g.type === GSO_TCPV6 && mode.guestTso6)) && (!ecn || mode.guestEcn);
    if (take) {
      counters.rxSuperpackets++;
      const hdr: NetHdr = {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gsoType: g.type | (ecn ? VIRTIO_NET_HDR_GSO_ECN : 0),
        hdrLen: v.layout.l4Off + v.layout.l4HeaderLen,
        gsoSize: g.gsoSize,
        csumStart: g.csumStart,
        csumOffset: g.csumOffset,
        numBuffers: 1,
      };
      return [{ frame: e.frame, hdr }];
    }
    const split = gsoSplit(e.frame, g);
    if (split.result !== "ok") {
      counters.drop("rx-bad-gso");
      return [];
    }
    counters.gsoSplits++;
    counters.gsoSplitFrames += split.frames.length;
    const flags = mode.guestCsum ? VIRTIO_NET_HDR_F_DATA_VALID : 0;
    return split.frames.map((frame) => ({ frame, hdr: plainHdr(flags) }));
  }
  if (g?.needsCsum) {
    if (mode.guestCsum) {
      return [
        {
          frame: e.frame,
          hdr: { ...plainHdr(VIRTIO_NET_HDR_F_NEEDS_CSUM), csumStart: g.csumStart, csumOffset: g.csumOffset },
        },
      ];
    }
    if (completeChecksum(e.frame, g.csumStart, g.csumOffset) !== "ok") {
      counters.drop("rx-bad-csum-offsets");
      return [];
    }
    counters.checksumsCompleted++;
    return [{ frame: e.frame, hdr: plainHdr(0) }];
  }
  // A complete frame: checking its checksum here spares the (much slower) emulated CPU the work.
  let flags = 0;
  if (mode.guestCsum) {
    const p = parseFrame(e.frame);
    if (p.ok && p.layout.l4HeaderLen > 0 && l4ChecksumValid(e.frame, p.layout)) flags = VIRTIO_NET_HDR_F_DATA_VALID;
  }
  return [{ frame: e.frame, hdr: plainHdr(flags) }];
}

function plainHdr(flags: number): NetHdr {
  return { flags, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0, numBuffers: 1 };
}

/** Writes the virtual stream hdr ‖ frame from stream offset `from` into `chain`; returns bytes written. */
function writeStream(chain: DescriptorChain, hdr: Uint8Array, frame: Uint8Array, from: number): number {
  const cap = chain.writableBytes;
  let written = 0;
  if (from < VIRTIO_NET_HDR_SIZE) {
    written += copyToWritable(chain, 0, hdr.subarray(from, Math.min(VIRTIO_NET_HDR_SIZE, from + cap)));
  }
  const fStart = Math.max(0, from - VIRTIO_NET_HDR_SIZE);
  const room = cap - written;
  if (room > 0 && fStart < frame.length) {
    written += copyToWritable(chain, written, frame.subarray(fStart, Math.min(frame.length, fStart + room)));
  }
  return written;
}

/**
 * Writes one prepared entry into the driver's buffers. With `mergeable`, gathers as many chains as the
 * packet needs first (never a partial packet); otherwise one chain must hold it whole.
 */
export function writeEntry(e: RxEntry, bufs: RxBuffers, mergeable: boolean, counters: NetCounters): RxWrite {
  const total = VIRTIO_NET_HDR_SIZE + e.frame.length;
  const hdr = e.hdr!;
  if (!mergeable) {
    const chain = bufs.take();
    if (!chain) return "no-buffers";
    if (chain.writableBytes < total) {
      // Too small for this packet; keep the buffer for a smaller one and drop this packet.
      bufs.giveBack([chain]);
      counters.drop("rx-buffer-too-small");
      return "dropped";
    }
    const h = encodeNetHdr({ ...hdr, numBuffers: 1 });
    const n = writeStream(chain, h, e.frame, 0);
    bufs.vq.push(chain, n);
    return "written";
  }
  const chains: DescriptorChain[] = [];
  let cap = 0;
  while (cap < total) {
    const c = bufs.take();
    if (!c) {
      bufs.giveBack(chains);
      return "no-buffers";
    }
    if (c.writableBytes === 0 || (chains.length === 0 && c.writableBytes < VIRTIO_NET_HDR_SIZE)) {
      // Not a usable receive buffer: hand it back empty.
      bufs.vq.push(c, 0);
      counters.drop("rx-bad-buffer");
      continue;
    }
    chains.push(c);
    cap += c.writableBytes;
    if (chains.length >= bufs.vq.size && cap < total) {
      // The whole ring cannot hold this packet.
      bufs.giveBack(chains);
      counters.drop("rx-buffer-too-small");
      return "dropped";
    }
  }
  const h = encodeNetHdr({ ...hdr, numBuffers: chains.length });
  let at = 0;
  for (const c of chains) {
    const n = writeStream(c, h, e.frame, at);
    at += n;
    bufs.vq.push(c, n);
  }
  return "written";
}

/** Picks the receive pair for a frame: a flow hash over the IPv4/IPv6 addresses and ports. */
export function steer(frame: Uint8Array, pairs: number): number {
  if (pairs <= 1 || frame.length < 38) return 0;
  const et = (frame[12]! << 8) | frame[13]!;
  let h = 0;
  const mix = (from: number, to: number) => {
    for (let i = from; i < to && i < frame.length; i++) h = Math.imul(h ^ frame[i]!, 0x01000193) >>> 0;
  };
  if (et === 0x0800) {
    // Addresses and ports, summed symmetrically enough for steering (not for security).
    mix(26, 38);
  } else if (et === 0x86dd) {
    mix(22, 58);
  }
  return h % pairs;
}
