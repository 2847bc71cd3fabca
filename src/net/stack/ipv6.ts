// IPv6 at the gateway: router advertisements (SLAAC prefix fd00::/64, MTU, RDNSS per RFC 8106), neighbour
// discovery for the gateway's addresses (RFC 4861), ICMPv6 echo, and TCP/UDP handed to the same flow
// machinery as IPv4. Frames come from the guest: the header, the extension-header walk, lengths and the
// ICMPv6 checksum are all checked first; NDP messages must arrive with hop limit 255 (RFC 4861 §6.1).

import type { GsoInfo } from "../offload/gso.ts";
import { ip6ToString, set32 } from "../wire/bytes.ts";
import { internetChecksum } from "../wire/checksum.ts";
import { ETH_HLEN } from "../wire/ethernet.ts";
import {
  ICMPV6_DEST_UNREACH,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  NDISC_NEIGHBOUR_ADVERTISEMENT,
  NDISC_NEIGHBOUR_SOLICITATION,
  NDISC_ROUTER_ADVERTISEMENT,
  NDISC_ROUTER_SOLICITATION,
} from "../wire/icmp.ts";
import { IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP } from "../wire/ipv4.ts";
import { IPV6_HLEN, Ipv6View } from "../wire/ipv6.ts";
import { UdpView } from "../wire/udp.ts";
import { ALL_NODES6, DNS6, GATEWAY_MAC, GATEWAY6, GATEWAY6_LL, isGatewayAddr6, PREFIX6, sameAddr6 } from "./config.ts";
import { type IpAddr, type IpAddrs, icmp6Frame } from "./frames.ts";

const ND_OPT_SOURCE_LINKADDR = 1;
const ND_OPT_TARGET_LINKADDR = 2;
const ND_OPT_PREFIX_INFORMATION = 3;
const ND_OPT_MTU = 5;
const ND_OPT_RDNSS = 25;
/** Router lifetime, prefix lifetimes and RDNSS lifetime, in seconds. */
const ROUTER_LIFETIME = 1800;
const PREFIX_VALID = 86400;
const PREFIX_PREFERRED = 14400;
const RDNSS_LIFETIME = 1800;

/** ICMPv6 destination-unreachable codes (RFC 4443 §3.1). */
const ICMPV6_ADM_PROHIBITED = 1;
const ICMPV6_ADDR_UNREACH = 3;
const ICMPV6_PORT_UNREACH = 4;

/** A stable string for a flow key. */
export function addrKey(a: IpAddr): string {
  return typeof a === "number" ? String(a) : ip6ToString(a);
}

/** The uplink host for an IPv6 destination; undefined for our own prefix, link-local and multicast. */
export function uplinkHost6(dst: Uint8Array, gatewayAlias: string | undefined): string | undefined {
  if (sameAddr6(dst, GATEWAY6) || sameAddr6(dst, GATEWAY6_LL)) return gatewayAlias;
  let inPrefix = true;
  for (let i = 0; i < 8; i++) if (dst[i] !== PREFIX6[i]) inPrefix = false;
  if (inPrefix) return undefined;
  if (dst[0] === 0xff || (dst[0] === 0xfe && (dst[1]! & 0xc0) === 0x80)) return undefined;
  if (dst.every((b, i) => b === (i === 15 ? 1 : 0)) || dst.every((b) => b === 0)) return undefined;
  return ip6ToString(dst);
}

/** What the handler needs from the stack. */
export interface Ipv6Owner {
  readonly cfg: { mtu: number };
  guestMac: Uint8Array | undefined;
  output(frame: Uint8Array, gso?: GsoInfo): void;
  drop(reason: string): void;
  addrsTo(guestIp: IpAddr, from: IpAddr): IpAddrs;
  tcpIn(frame: Uint8Array, l3: Uint8Array): void;
  readonly udp: {
    input(packet: Uint8Array, src: IpAddr, sport: number, dst: IpAddr, dport: number, payload: Uint8Array): void;
  };
}

export class Ipv6Handler {
  constructor(private readonly s: Ipv6Owner) {}

  input(frame: Uint8Array, gso: GsoInfo | undefined): void {
    const ip = new Ipv6View(frame, ETH_HLEN);
    const v = ip.validate(frame.length - ETH_HLEN);
    if (v !== "ok") {
      this.s.drop(`ipv6-${v}`);
      return;
    }
    const total = IPV6_HLEN + ip.payloadLength;
    const walk = ip.walkExtensionHeaders(total);
    if (!walk.ok) {
      this.s.drop(`ipv6-ext-${walk.reason}`);
      return;
    }
    if (walk.fragmentOffset !== undefined) {
      this.s.drop("ipv6-fragment"); // TODO(issue 6): IPv6 reassembly
      return;
    }
    const l4 = ETH_HLEN + walk.l4Offset;
    const end = ETH_HLEN + total;
    const len = end - l4;
    const src = frame.slice(ETH_HLEN + 8, ETH_HLEN + 24);
    const dst = frame.slice(ETH_HLEN + 24, ETH_HLEN + 40);
    const pseudo = (proto: number) => ip.pseudoHeaderSum(proto, len);
    const offloaded = gso?.needsCsum === true;
    switch (walk.protocol) {
      case IPPROTO_ICMPV6:
        if (len < 8 || internetChecksum(frame, l4, len, pseudo(IPPROTO_ICMPV6)) !== 0) {
          this.s.drop("icmp6-checksum");
          return;
        }
        this.icmp6(frame, l4, len, src, dst, ip.hopLimit);
        return;
      case IPPROTO_UDP: {
        const u = new UdpView(frame, l4);
        // UDP over IPv6 must carry a checksum (RFC 8200 §8.1).
        if (
          u.validate(len) !== "ok" ||
          (!offloaded && (u.checksum === 0 || !u.checksumValid(pseudo(IPPROTO_UDP), u.length)))
        ) {
          this.s.drop("udp6-header");
          return;
        }
        if (dst[0] === 0xff) return; // multicast stays on the link
        this.s.udp.input(frame.subarray(ETH_HLEN, end), src, u.srcPort, dst, u.dstPort, u.payload);
        return;
      }
      case IPPROTO_TCP:
        if (!offloaded && internetChecksum(frame, l4, len, pseudo(IPPROTO_TCP)) !== 0) {
          this.s.drop("tcp6-checksum");
          return;
        }
        this.s.tcpIn(frame, frame.subarray(ETH_HLEN, end));
        return;
      default:
        this.s.drop("ipv6-protocol");
    }
  }

  private icmp6(frame: Uint8Array, l4: number, len: number, src: Uint8Array, dst: Uint8Array, hopLimit: number): void {
    const type = frame[l4]!;
    switch (type) {
      case ICMPV6_ECHO_REQUEST: {
        if (!isGatewayAddr6(dst)) {
          this.s.drop("icmp6-echo-elsewhere");
          return;
        }
        const rest = ((frame[l4 + 4]! << 24) | (frame[l4 + 5]! << 16) | (frame[l4 + 6]! << 8) | frame[l4 + 7]!) >>> 0;
        this.s.output(icmp6Frame(this.s.addrsTo(src, dst), ICMPV6_ECHO_REPLY, 0, rest, frame.slice(l4 + 8, l4 + len)));
        return;
      }
      case NDISC_ROUTER_SOLICITATION:
        if (hopLimit !== 255) return;
        this.sendRouterAdvertisement(src.every((b) => b === 0) ? ALL_NODES6 : src);
        return;
      case NDISC_NEIGHBOUR_SOLICITATION: {
        if (hopLimit !== 255 || len < 24) return;
        const target = frame.slice(l4 + 8, l4 + 24);
        if (!isGatewayAddr6(target)) return;
        // Duplicate address detection probes come from :: and are never answered for our addresses'
        // sake: the guest is checking its own.
        if (src.every((b) => b === 0)) return;
        const body = new Uint8Array(24);
        body.set(target, 0);
        body[16] = ND_OPT_TARGET_LINKADDR;
        body[17] = 1;
        body.set(GATEWAY_MAC, 18);
        // Router | Solicited | Override.
        this.s.output(icmp6Frame(this.s.addrsTo(src, target), NDISC_NEIGHBOUR_ADVERTISEMENT, 0, 0xe0000000, body, 255));
        return;
      }
      default:
        return;
    }
  }

  /** RA from the gateway's link-local address (RFC 4861 §4.2), with prefix, MTU and RDNSS options. */
  sendRouterAdvertisement(to: Uint8Array = ALL_NODES6): void {
    const body = new Uint8Array(8 + 8 + 8 + 32 + 24);
    // Reachable time and retrans timer stay 0 (unspecified).
    let o = 8;
    body[o] = ND_OPT_SOURCE_LINKADDR;
    body[o + 1] = 1;
    body.set(GATEWAY_MAC, o + 2);
    o += 8;
    body[o] = ND_OPT_MTU;
    body[o + 1] = 1;
    set32(body, o + 4, this.s.cfg.mtu);
    o += 8;
    body[o] = ND_OPT_PREFIX_INFORMATION;
    body[o + 1] = 4;
    body[o + 2] = 64;
    body[o + 3] = 0xc0; // on-link, autonomous (SLAAC)
    set32(body, o + 4, PREFIX_VALID);
    set32(body, o + 8, PREFIX_PREFERRED);
    body.set(PREFIX6, o + 16);
    o += 32;
    body[o] = ND_OPT_RDNSS;
    body[o + 1] = 3;
    set32(body, o + 4, RDNSS_LIFETIME);
    body.set(DNS6, o + 8);
    const rest = ((64 << 24) | ROUTER_LIFETIME) >>> 0; // cur hop limit 64, no M/O flags
    const a = this.s.addrsTo(to, GATEWAY6_LL);
    if (to[0] === 0xff) a.dstMac = new Uint8Array([0x33, 0x33, to[12]!, to[13]!, to[14]!, to[15]!]);
    this.s.output(icmp6Frame(a, NDISC_ROUTER_ADVERTISEMENT, 0, rest, body, 255));
  }

  /** ICMPv6 destination unreachable about `packet`; `code` is the ICMPv4 code the stack decided on. */
  sendUnreachable(packet: Uint8Array, code: number): void {
    if (packet.length < IPV6_HLEN) return;
    const src = packet.slice(8, 24);
    const dst = packet.slice(24, 40);
    const code6 = code === 3 ? ICMPV6_PORT_UNREACH : code === 13 ? ICMPV6_ADM_PROHIBITED : ICMPV6_ADDR_UNREACH;
    // As much of the invoking packet as fits in the minimum MTU (RFC 4443 §2.4).
    const body = packet.slice(0, Math.min(packet.length, 1280 - IPV6_HLEN - 8));
    const from = code6 === ICMPV6_PORT_UNREACH ? dst : GATEWAY6;
    this.s.output(icmp6Frame(this.s.addrsTo(src, from), ICMPV6_DEST_UNREACH, code6, 0, body));
  }
}
