// One bounded pass over an Ethernet frame down to its L4 header: where each layer starts and how long it
// is, for the offload code (GSO split, GRO, checksum completion) and anyone else who needs the shape of a
// frame without trusting what a driver claimed about it. Every length read from the frame is checked.

import { get16 } from "./bytes.ts";
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, VLAN_HLEN } from "./ethernet.ts";
import { IPPROTO_TCP, IPPROTO_UDP, IPV4_FLAG_MF, IPV4_FRAG_OFFSET_MASK, IPV4_MIN_HLEN } from "./ipv4.ts";
import { IPV6_HLEN, Ipv6View } from "./ipv6.ts";
import { TCP_MIN_HLEN } from "./tcp.ts";
import { UDP_HLEN } from "./udp.ts";

export type FrameInvalid =
  | "runt"
  | "not-ip"
  | "bad-ip-header"
  | "bad-ip-length"
  | "ip-fragment"
  | "bad-ext-headers"
  | "bad-l4-header";

export interface FrameLayout {
  /** Offset of the IP header (14, or 18 behind one VLAN tag). */
  l3Off: number;
  ipVersion: 4 | 6;
  /** IPv4 header length, or 40 + extension headers for IPv6. */
  l3Len: number;
  /** Upper-layer protocol. */
  protocol: number;
  l4Off: number;
  /** TCP header length (data offset × 4), 8 for UDP, 0 for anything else. */
  l4HeaderLen: number;
  /** Frame bytes up to the end of the IP packet as the IP header says (trailing padding excluded). */
  ipEnd: number;
}

export type FrameParse = { ok: true; layout: FrameLayout } | { ok: false; reason: FrameInvalid };

/** Parses frame[0, len) as Ethernet (+ one 802.1Q tag) → IPv4/IPv6 → TCP/UDP (other protocols: l4HeaderLen 0). */
export function parseFrame(frame: Uint8Array, len = frame.length): FrameParse {
  if (len > frame.length) len = frame.length;
  if (len < ETH_HLEN) return { ok: false, reason: "runt" };
  let l3Off = ETH_HLEN;
  let etherType = get16(frame, 12);
  if (etherType === ETHERTYPE_VLAN) {
    if (len < ETH_HLEN + VLAN_HLEN) return { ok: false, reason: "runt" };
    etherType = get16(frame, 16);
    l3Off += VLAN_HLEN;
  }
  let ipVersion: 4 | 6;
  let l3Len: number;
  let protocol: number;
  let ipEnd: number;
  if (etherType === ETHERTYPE_IPV4) {
    if (len < l3Off + IPV4_MIN_HLEN) return { ok: false, reason: "bad-ip-header" };
    const vihl = frame[l3Off]!;
    l3Len = (vihl & 0xf) * 4;
    if (vihl >>> 4 !== 4 || l3Len < IPV4_MIN_HLEN || l3Off + l3Len > len) return { ok: false, reason: "bad-ip-header" };
    const total = get16(frame, l3Off + 2);
    if (total < l3Len || l3Off + total > len) return { ok: false, reason: "bad-ip-length" };
    if ((get16(frame, l3Off + 6) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) !== 0) {
      return { ok: false, reason: "ip-fragment" };
    }
    ipVersion = 4;
    protocol = frame[l3Off + 9]!;
    ipEnd = l3Off + total;
  } else if (etherType === ETHERTYPE_IPV6) {
    if (len < l3Off + IPV6_HLEN || frame[l3Off]! >>> 4 !== 6) return { ok: false, reason: "bad-ip-header" };
    const v6 = new Ipv6View(frame, l3Off);
    const total = IPV6_HLEN + v6.payloadLength;
    if (l3Off + total > len) return { ok: false, reason: "bad-ip-length" };
    const walk = v6.walkExtensionHeaders(total);
    if (!walk.ok) return { ok: false, reason: "bad-ext-headers" };
    if (walk.fragmentOffset !== undefined) return { ok: false, reason: "ip-fragment" };
    ipVersion = 6;
    l3Len = walk.l4Offset;
    protocol = walk.protocol;
    ipEnd = l3Off + total;
  } else {
    return { ok: false, reason: "not-ip" };
  }
  const l4Off = l3Off + l3Len;
  let l4HeaderLen = 0;
  if (protocol === IPPROTO_TCP) {
    if (l4Off + TCP_MIN_HLEN > ipEnd) return { ok: false, reason: "bad-l4-header" };
    l4HeaderLen = (frame[l4Off + 12]! >>> 4) * 4;
    if (l4HeaderLen < TCP_MIN_HLEN || l4Off + l4HeaderLen > ipEnd) return { ok: false, reason: "bad-l4-header" };
  } else if (protocol === IPPROTO_UDP) {
    if (l4Off + UDP_HLEN > ipEnd) return { ok: false, reason: "bad-l4-header" };
    l4HeaderLen = UDP_HLEN;
  }
  return { ok: true, layout: { l3Off, ipVersion, l3Len, protocol, l4Off, l4HeaderLen, ipEnd } };
}
