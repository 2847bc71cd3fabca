// GSO split: one TSO4/TSO6/USO superpacket (an Ethernet frame with a partial L4 checksum and GsoInfo, as
// a virtio-net driver hands it over) into wire-sized frames with every header and checksum right
// (virtio 1.2 §5.1.6.2, spec/virtio-net.md §6.4–6.5, Linux tcp_gso_segment / inet_gso_segment). A pure
// function returning a small result enum, like wireguard-go's GSOSplit: the input is guest-written and
// every claim in GsoInfo is checked against the parsed headers; a lie is a counted drop, never a throw.

import { get16, get32, set16, set32 } from "../wire/bytes.ts";
import { internetChecksum } from "../wire/checksum.ts";
import { IPPROTO_TCP, IPPROTO_UDP } from "../wire/ipv4.ts";
import { type FrameLayout, parseFrame } from "../wire/parse.ts";
import {
  TCP_CSUM_OFFSET,
  TCP_FLAG_CWR,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_FLAG_URG,
} from "../wire/tcp.ts";
import { UDP_CSUM_OFFSET } from "../wire/udp.ts";
import { completeChecksum, pseudoSumFor } from "./checksum-offload.ts";
import { GSO_MAX_SEGS, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, type GsoInfo, UDP_MAX_SEGMENTS } from "./gso.ts";

export type GsoDropReason =
  | "bad-headers"
  | "unknown-gso-type"
  | "gso-size-zero"
  | "wrong-protocol"
  | "csum-start-mismatch"
  | "bad-csum-offsets"
  | "bad-tcp-flags"
  | "too-many-segments";

export type GsoSplitResult = { result: "ok"; frames: Uint8Array[] } | { result: "drop"; reason: GsoDropReason };

const BAD_IN_SUPERPACKET = TCP_FLAG_SYN | TCP_FLAG_RST | TCP_FLAG_URG;

/**
 * Splits `frame` per `gso`. A GSO_NONE request (or a superpacket whose payload fits one segment) yields
 * one frame with its checksum completed if `needsCsum`. Output frames are fresh arrays; the input is
 * never written. Bytes after the IP packet's end (Ethernet padding) are not copied.
 */
export function gsoSplit(frame: Uint8Array, gso: GsoInfo): GsoSplitResult {
  if (gso.type === GSO_NONE) {
    const out = frame.slice();
    if (gso.needsCsum && completeChecksum(out, gso.csumStart, gso.csumOffset) !== "ok") {
      return { result: "drop", reason: "bad-csum-offsets" };
    }
    return { result: "ok", frames: [out] };
  }
  const v = validateSuperpacket(frame, gso);
  if (!v.ok) return { result: "drop", reason: v.reason };
  const l = v.layout;
  const tcp = gso.type !== GSO_UDP_L4;
  const hdrEnd = l.l4Off + l.l4HeaderLen;
  const payload = l.ipEnd - hdrEnd;
  const mss = gso.gsoSize;
  const segs = Math.max(1, Math.ceil(payload / mss));
  const frames: Uint8Array[] = [];
  for (let i = 0; i < segs; i++) {
    const start = hdrEnd + i * mss;
    const segLen = Math.min(mss, l.ipEnd - start);
    frames.push(buildSegment(frame, l, hdrEnd, start, Math.max(0, segLen), i, segs, tcp));
  }
  return { result: "ok", frames };
}

/**
 * Checks a superpacket's GsoInfo against its parsed headers (spec/virtio-net.md §9): a known type, a
 * non-zero gso_size, the protocol the type names, csum_start at the L4 header with the right offset,
 * no SYN/RST/URG, a bounded segment count. Shared by gsoSplit and by callers that pass superpackets on
 * whole.
 */
export function validateSuperpacket(
  frame: Uint8Array,
  gso: GsoInfo,
): { ok: true; layout: FrameLayout } | { ok: false; reason: GsoDropReason } {
  if (gso.type !== GSO_TCPV4 && gso.type !== GSO_TCPV6 && gso.type !== GSO_UDP_L4) {
    return { ok: false, reason: "unknown-gso-type" };
  }
  if (gso.gsoSize === 0) return { ok: false, reason: "gso-size-zero" };
  const parsed = parseFrame(frame);
  if (!parsed.ok) return { ok: false, reason: "bad-headers" };
  const l = parsed.layout;
  const tcp = gso.type !== GSO_UDP_L4;
  if (tcp) {
    const wantVersion = gso.type === GSO_TCPV4 ? 4 : 6;
    if (l.protocol !== IPPROTO_TCP || l.ipVersion !== wantVersion) return { ok: false, reason: "wrong-protocol" };
    if (gso.csumOffset !== TCP_CSUM_OFFSET) return { ok: false, reason: "bad-csum-offsets" };
    if ((frame[l.l4Off + 13]! & BAD_IN_SUPERPACKET) !== 0) return { ok: false, reason: "bad-tcp-flags" };
  } else {
    if (l.protocol !== IPPROTO_UDP) return { ok: false, reason: "wrong-protocol" };
    if (gso.csumOffset !== UDP_CSUM_OFFSET) return { ok: false, reason: "bad-csum-offsets" };
  }
  if (gso.csumStart !== l.l4Off) return { ok: false, reason: "csum-start-mismatch" };
  const payload = l.ipEnd - l.l4Off - l.l4HeaderLen;
  const segs = Math.ceil(payload / gso.gsoSize);
  if (segs > (tcp ? GSO_MAX_SEGS : UDP_MAX_SEGMENTS)) return { ok: false, reason: "too-many-segments" };
  return { ok: true, layout: l };
}

function buildSegment(
  src: Uint8Array,
  l: FrameLayout,
  hdrEnd: number,
  payloadStart: number,
  segLen: number,
  i: number,
  segs: number,
  tcp: boolean,
): Uint8Array {
  const out = new Uint8Array(hdrEnd + segLen);
  out.set(src.subarray(0, hdrEnd));
  out.set(src.subarray(payloadStart, payloadStart + segLen), hdrEnd);
  const ip = l.l3Off;
  const l4Len = l.l4HeaderLen + segLen;
  if (l.ipVersion === 4) {
    set16(out, ip + 2, l.l3Len + l4Len);
    set16(out, ip + 4, (get16(src, ip + 4) + i) & 0xffff);
    set16(out, ip + 10, 0);
    set16(out, ip + 10, internetChecksum(out, ip, l.l3Len));
  } else {
    set16(out, ip + 4, l.l3Len - 40 + l4Len);
  }
  const l4 = l.l4Off;
  let csumAt: number;
  if (tcp) {
    set32(out, l4 + 4, (get32(src, l4 + 4) + (payloadStart - hdrEnd)) >>> 0);
    let flags = src[l4 + 13]!;
    if (i !== segs - 1) flags &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
    if (i !== 0) flags &= ~TCP_FLAG_CWR;
    out[l4 + 13] = flags;
    csumAt = l4 + TCP_CSUM_OFFSET;
  } else {
    set16(out, l4 + 4, l4Len);
    csumAt = l4 + UDP_CSUM_OFFSET;
  }
  // The driver's seed covered the superpacket's length; reseed for this segment, then finish.
  set16(out, csumAt, pseudoSumFor(out, l, l4Len));
  completeChecksum(out, l4, csumAt - l4);
  return out;
}
