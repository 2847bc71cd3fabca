// Packet builders for tests (STYLE.md: wireguard-go's tcp4Packet helpers): whole Ethernet frames with
// correct lengths and checksums, built through the src/net/wire views so the views get exercised too.

import { parseIp4, parseIp6 } from "../net/wire/bytes.ts";
import { ETH_HLEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetView } from "../net/wire/ethernet.ts";
import { IPPROTO_TCP, IPPROTO_UDP, IPV4_FLAG_DF, Ipv4View } from "../net/wire/ipv4.ts";
import { IPV6_HLEN, Ipv6View } from "../net/wire/ipv6.ts";
import { TCP_FLAG_ACK, TcpView } from "../net/wire/tcp.ts";
import { UDP_HLEN, UdpView } from "../net/wire/udp.ts";

export const MAC_A: Uint8Array = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x01]);
export const MAC_B: Uint8Array = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x02]);

export interface Endpoint {
  ip: string;
  port: number;
}

export interface TcpPacketOptions {
  ack?: number;
  window?: number;
  /** Raw TCP option bytes. */
  options?: Uint8Array;
  ipId?: number;
  tos?: number;
  ttl?: number;
  /** Payload bytes; default: a counting pattern starting at seq. */
  payload?: Uint8Array;
  /** Leave the L4 checksum as the folded pseudo-header sum (what a NEEDS_CSUM driver sends). */
  partialChecksum?: boolean;
}

/** Deterministic payload: byte i = (seed + i) * 7 mod 251, so misplaced bytes show up. */
export function patternPayload(len: number, seed = 0): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = ((seed + i) * 7) % 251;
  return p;
}

function ethernet(b: Uint8Array, etherType: number): void {
  EthernetView.encode(b, 0, { dst: MAC_B, src: MAC_A, etherType });
}

/** A TCP/IPv4 frame from src to dst with `segSize` payload bytes at sequence `seq`. */
export function tcp4Packet(
  src: Endpoint,
  dst: Endpoint,
  flags: number,
  segSize: number,
  seq: number,
  o: TcpPacketOptions = {},
): Uint8Array {
  const optLen = o.options?.length ?? 0;
  const tcpLen = 20 + optLen + segSize;
  const b = new Uint8Array(ETH_HLEN + 20 + tcpLen);
  ethernet(b, ETHERTYPE_IPV4);
  const ip = Ipv4View.encode(b, ETH_HLEN, {
    tos: o.tos ?? 0,
    payloadLength: tcpLen,
    id: o.ipId ?? 0x1000,
    flagsFragment: IPV4_FLAG_DF,
    ttl: o.ttl ?? 64,
    protocol: IPPROTO_TCP,
    src: parseIp4(src.ip)!,
    dst: parseIp4(dst.ip)!,
  });
  const tcpOff = ETH_HLEN + 20;
  const tcp = TcpView.encode(b, tcpOff, {
    srcPort: src.port,
    dstPort: dst.port,
    seq,
    ack: o.ack ?? 1,
    flags: flags | TCP_FLAG_ACK,
    window: o.window ?? 0xffff,
    urgent: 0,
    options: o.options,
  });
  b.set(o.payload ?? patternPayload(segSize, seq), tcpOff + 20 + optLen);
  const ps = ip.pseudoHeaderSum(tcpLen);
  tcp.checksum = o.partialChecksum ? foldPartial(ps) : tcp.computeChecksum(ps, tcpLen);
  return b;
}

/** A TCP/IPv6 frame. */
export function tcp6Packet(
  src: Endpoint,
  dst: Endpoint,
  flags: number,
  segSize: number,
  seq: number,
  o: TcpPacketOptions = {},
): Uint8Array {
  const optLen = o.options?.length ?? 0;
  const tcpLen = 20 + optLen + segSize;
  const b = new Uint8Array(ETH_HLEN + IPV6_HLEN + tcpLen);
  ethernet(b, ETHERTYPE_IPV6);
  const ip = Ipv6View.encode(b, ETH_HLEN, {
    trafficClass: o.tos ?? 0,
    flowLabel: 0x12345,
    payloadLength: tcpLen,
    nextHeader: IPPROTO_TCP,
    hopLimit: o.ttl ?? 64,
    src: parseIp6(src.ip)!,
    dst: parseIp6(dst.ip)!,
  });
  const tcpOff = ETH_HLEN + IPV6_HLEN;
  const tcp = TcpView.encode(b, tcpOff, {
    srcPort: src.port,
    dstPort: dst.port,
    seq,
    ack: o.ack ?? 1,
    flags: flags | TCP_FLAG_ACK,
    window: o.window ?? 0xffff,
    urgent: 0,
    options: o.options,
  });
  b.set(o.payload ?? patternPayload(segSize, seq), tcpOff + 20 + optLen);
  const ps = ip.pseudoHeaderSum(IPPROTO_TCP, tcpLen);
  tcp.checksum = o.partialChecksum ? foldPartial(ps) : tcp.computeChecksum(ps, tcpLen);
  return b;
}

/** A UDP frame over IPv4 (or IPv6 when the addresses contain ':'). */
export function udpPacket(
  src: Endpoint,
  dst: Endpoint,
  payloadLen: number,
  o: { ipId?: number; payload?: Uint8Array; partialChecksum?: boolean } = {},
): Uint8Array {
  const v6 = src.ip.includes(":");
  const udpLen = UDP_HLEN + payloadLen;
  const l3Len = v6 ? IPV6_HLEN : 20;
  const b = new Uint8Array(ETH_HLEN + l3Len + udpLen);
  ethernet(b, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
  let ps: number;
  if (v6) {
    const ip = Ipv6View.encode(b, ETH_HLEN, {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: udpLen,
      nextHeader: IPPROTO_UDP,
      hopLimit: 64,
      src: parseIp6(src.ip)!,
      dst: parseIp6(dst.ip)!,
    });
    ps = ip.pseudoHeaderSum(IPPROTO_UDP, udpLen);
  } else {
    const ip = Ipv4View.encode(b, ETH_HLEN, {
      tos: 0,
      payloadLength: udpLen,
      id: o.ipId ?? 0x2000,
      flagsFragment: 0,
      ttl: 64,
      protocol: IPPROTO_UDP,
      src: parseIp4(src.ip)!,
      dst: parseIp4(dst.ip)!,
    });
    ps = ip.pseudoHeaderSum(udpLen);
  }
  const off = ETH_HLEN + l3Len;
  const udp = UdpView.encode(b, off, { srcPort: src.port, dstPort: dst.port, length: udpLen, checksum: 0 });
  b.set(o.payload ?? patternPayload(payloadLen), off + UDP_HLEN);
  udp.checksum = o.partialChecksum ? foldPartial(ps) : udp.computeChecksum(ps, udpLen);
  return b;
}

function foldPartial(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}
