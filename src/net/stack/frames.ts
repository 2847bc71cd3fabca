// Builders for the frames the gateway sends to the guest: Ethernet + IPv4/IPv6 + UDP/TCP/ICMP with
// checksums.
// A TCP payload larger than one MSS becomes a superpacket carrying GsoInfo (the device or the guest
// segments it); its checksum field then holds only the pseudo-header sum, as NEEDS_CSUM requires.

import { GSO_NONE, GSO_TCPV4, GSO_TCPV6, type GsoInfo } from "../offload/gso.ts";
import { get32 } from "../wire/bytes.ts";
import {
  finishChecksum,
  foldSum,
  internetChecksum,
  pseudoHeaderSum4,
  pseudoHeaderSum6,
  sumBytes,
} from "../wire/checksum.ts";
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetView } from "../wire/ethernet.ts";
import { Icmpv4View } from "../wire/icmp.ts";
import {
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_FLAG_DF,
  IPV4_MIN_HLEN,
  Ipv4View,
} from "../wire/ipv4.ts";
import { IPV6_HLEN, Ipv6View } from "../wire/ipv6.ts";
import { parseFrame } from "../wire/parse.ts";
import { TCP_CSUM_OFFSET, TCP_MIN_HLEN } from "../wire/tcp.ts";
import { UDP_HLEN, UdpView } from "../wire/udp.ts";
import { encodeTcpOptions, parseTcpOptions, type TcpSegment, tcpOptionsLength } from "./tcp/tcp-segment.ts";

const L3 = ETH_HLEN;
const L4 = ETH_HLEN + IPV4_MIN_HLEN;
const L4V6 = ETH_HLEN + IPV6_HLEN;

/** An IPv4 address as a host-order u32, or an IPv6 address as 16 bytes. */
export type IpAddr = number | Uint8Array;

export interface IpAddrs {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  src: IpAddr;
  dst: IpAddr;
}
export type Ip4Addrs = IpAddrs;

let ipId = 1;

interface Built {
  frame: Uint8Array;
  l4: number;
  /** Pseudo-header sum for the L4 checksum. */
  pseudo: number;
}

/** Ethernet + IP header for `l4Len` bytes of `protocol`; IPv6 when the addresses are 16-byte arrays. */
function ipFrame(a: IpAddrs, protocol: number, l4Len: number, df: boolean, hopLimit = 64): Built {
  if (typeof a.src === "number" && typeof a.dst === "number") {
    const frame = ipv4Frame(a, protocol, l4Len, df);
    return { frame, l4: L4, pseudo: pseudoHeaderSum4(frame, L3 + 12, L3 + 16, protocol, l4Len) };
  }
  const frame = new Uint8Array(L4V6 + l4Len);
  EthernetView.encode(frame, 0, { dst: a.dstMac, src: a.srcMac, etherType: ETHERTYPE_IPV6 });
  Ipv6View.encode(frame, L3, {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: l4Len,
    nextHeader: protocol,
    hopLimit,
    src: a.src as Uint8Array,
    dst: a.dst as Uint8Array,
  });
  return { frame, l4: L4V6, pseudo: pseudoHeaderSum6(frame, L3 + 8, L3 + 24, protocol, l4Len) };
}

function ipv4Frame(a: IpAddrs, protocol: number, l4Len: number, df: boolean): Uint8Array {
  const frame = new Uint8Array(L4 + l4Len);
  EthernetView.encode(frame, 0, { dst: a.dstMac, src: a.srcMac, etherType: ETHERTYPE_IPV4 });
  Ipv4View.encode(frame, L3, {
    tos: 0,
    payloadLength: l4Len,
    id: df ? 0 : (ipId = (ipId + 1) & 0xffff),
    flagsFragment: df ? IPV4_FLAG_DF : 0,
    ttl: 64,
    protocol,
    src: a.src as number,
    dst: a.dst as number,
  });
  return frame;
}

export function udpFrame(a: IpAddrs, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const len = UDP_HLEN + payload.length;
  const { frame, l4, pseudo } = ipFrame(a, IPPROTO_UDP, len, false);
  const u = UdpView.encode(frame, l4, { srcPort, dstPort, length: len, checksum: 0 });
  frame.set(payload, l4 + UDP_HLEN);
  u.checksum = u.computeChecksum(pseudo, len);
  return frame;
}

/** An ICMPv6 message: type, code, the 4 bytes after the checksum, then `body`. */
export function icmp6Frame(
  a: IpAddrs,
  type: number,
  code: number,
  rest: number,
  body: Uint8Array,
  hopLimit = 64,
): Uint8Array {
  const len = 8 + body.length;
  const { frame, l4, pseudo } = ipFrame(a, IPPROTO_ICMPV6, len, false, hopLimit);
  frame[l4] = type;
  frame[l4 + 1] = code;
  setU32(frame, l4 + 4, rest >>> 0);
  frame.set(body, l4 + 8);
  const c = internetChecksum(frame, l4, len, pseudo);
  frame[l4 + 2] = c >>> 8;
  frame[l4 + 3] = c & 0xff;
  return frame;
}

/** An ICMP message whose body (after the 8-byte header) is `body`. */
export function icmpFrame(a: Ip4Addrs, type: number, code: number, rest: number, body: Uint8Array): Uint8Array {
  const len = 8 + body.length;
  const frame = ipv4Frame(a, IPPROTO_ICMP, len, false);
  const v = Icmpv4View.encode(frame, L4, { type, code, checksum: 0, ident: rest >>> 16, sequence: rest & 0xffff });
  frame.set(body, L4 + 8);
  v.checksum = internetChecksum(frame, L4, len);
  return frame;
}

export interface TcpFrame {
  frame: Uint8Array;
  gso: GsoInfo | undefined;
}

/**
 * A TCP segment as a frame. When the payload exceeds `mss` it is a superpacket: the IP total length
 * covers it all, and the GSO info tells the receiver how to cut it.
 */
export function tcpFrame(a: IpAddrs, srcPort: number, dstPort: number, seg: TcpSegment, mss: number): TcpFrame {
  const optLen = tcpOptionsLength(seg.options);
  const hlen = TCP_MIN_HLEN + optLen;
  const len = hlen + seg.payload.length;
  const { frame, l4: t, pseudo } = ipFrame(a, IPPROTO_TCP, len, true);
  frame[t] = srcPort >>> 8;
  frame[t + 1] = srcPort & 0xff;
  frame[t + 2] = dstPort >>> 8;
  frame[t + 3] = dstPort & 0xff;
  setU32(frame, t + 4, seg.seq);
  setU32(frame, t + 8, seg.ack);
  frame[t + 12] = (hlen / 4) << 4;
  frame[t + 13] = seg.flags;
  frame[t + 14] = (seg.window >>> 8) & 0xff;
  frame[t + 15] = seg.window & 0xff;
  encodeTcpOptions(frame, t + TCP_MIN_HLEN, seg.options);
  frame.set(seg.payload, t + hlen);
  const superpacket = seg.payload.length > mss;
  if (superpacket) {
    const c = foldSum(pseudo);
    frame[t + TCP_CSUM_OFFSET] = c >>> 8;
    frame[t + TCP_CSUM_OFFSET + 1] = c & 0xff;
    return {
      frame,
      gso: {
        type: t === L4 ? GSO_TCPV4 : GSO_TCPV6,
        gsoSize: mss,
        hdrLen: t + hlen,
        needsCsum: true,
        csumStart: t,
        csumOffset: TCP_CSUM_OFFSET,
      },
    };
  }
  const c = finishChecksum(sumBytes(frame, t, len, pseudo));
  frame[t + TCP_CSUM_OFFSET] = c >>> 8;
  frame[t + TCP_CSUM_OFFSET + 1] = c & 0xff;
  return { frame, gso: undefined };
}

function setU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export { GSO_NONE };

export interface ParsedTcp {
  src: IpAddr;
  dst: IpAddr;
  srcPort: number;
  dstPort: number;
  seg: TcpSegment;
}

/**
 * Reads an Ethernet/IP/TCP frame (IPv4, or IPv6 past its extension headers) into a segment with a
 * zero-copy payload. Checks lengths only — callers that take frames from the guest verify checksums
 * first. Undefined when it is not well-formed TCP.
 */
export function parseTcpFrame(frame: Uint8Array): ParsedTcp | undefined {
  const r = parseFrame(frame);
  if (!r.ok || r.layout.protocol !== IPPROTO_TCP || r.layout.l3Off !== L3) return undefined;
  const { l4Off: l4, l4HeaderLen: hlen, ipEnd: end, ipVersion } = r.layout;
  const v4 = ipVersion === 4;
  return {
    src: v4 ? get32(frame, L3 + 12) : frame.slice(L3 + 8, L3 + 24),
    dst: v4 ? get32(frame, L3 + 16) : frame.slice(L3 + 24, L3 + 40),
    srcPort: (frame[l4]! << 8) | frame[l4 + 1]!,
    dstPort: (frame[l4 + 2]! << 8) | frame[l4 + 3]!,
    seg: {
      seq: getU32(frame, l4 + 4),
      ack: getU32(frame, l4 + 8),
      flags: frame[l4 + 13]! & 0x3f,
      window: (frame[l4 + 14]! << 8) | frame[l4 + 15]!,
      options: parseTcpOptions(frame, l4 + TCP_MIN_HLEN, hlen - TCP_MIN_HLEN),
      payload: frame.subarray(l4 + hlen, end),
    },
  };
}

function getU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}
