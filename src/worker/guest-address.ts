// The guest's IPv4 address as the frames show it, for the Network panel whatever the backend: the in-page
// stack knows the lease it gave, but on the relay's L2 switch or a tab network the address comes from a
// DHCP server elsewhere, or from a static `ip addr add`. Reads the DHCP ACKs the guest receives (the lease,
// before the guest sends anything from it) and the frames it transmits (guest-controlled bytes, and the
// network's too: every offset is checked against the length, and nothing is trusted beyond "this is the
// address it was given or claims").

import { bytesEqual, get16, get32 } from "../net/wire/bytes.ts";

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;

/**
 * The sender address of a guest's ARP packet or the source of its IPv4 packet, when the frame comes from
 * `mac`; undefined for anything else, and for 0.0.0.0 (a DHCP client without an address yet), broadcast
 * and multicast sources, which are no one's address.
 */
export function guestIp4(frame: Uint8Array, mac: Uint8Array): number | undefined {
  if (frame.length < 34 || mac.length !== 6 || !bytesEqual(frame, 6, mac, 0, 6)) return undefined;
  let ip: number;
  const type = get16(frame, 12);
  if (type === ETHERTYPE_ARP) {
    // htype Ethernet, ptype IPv4, 6-byte hardware and 4-byte protocol addresses; sender IP at 28.
    if (get16(frame, 14) !== 1 || get16(frame, 16) !== ETHERTYPE_IPV4 || frame[18] !== 6 || frame[19] !== 4) {
      return undefined;
    }
    ip = get32(frame, 28);
  } else if (type === ETHERTYPE_IPV4) {
    if (frame[14] >> 4 !== 4) return undefined;
    ip = get32(frame, 26);
  } else return undefined;
  if (ip === 0 || ip === 0xffffffff || ip >>> 28 === 0xe) return undefined;
  return ip;
}

const DHCPACK = 5;
const DHCP_MAGIC = 0x63825363;

/**
 * The address a DHCP ACK to `mac` hands out (yiaddr), or undefined when the frame is no such ACK. BOOTP
 * (RFC 951/2131): op, htype, hlen at 0..2, yiaddr at 16, chaddr at 28, the magic cookie at 236, options after.
 */
export function dhcpAckAddress(frame: Uint8Array, mac: Uint8Array): number | undefined {
  if (frame.length < 34 || get16(frame, 12) !== ETHERTYPE_IPV4 || frame[14] >> 4 !== 4 || frame[23] !== 17) {
    return undefined;
  }
  const udp = 14 + (frame[14] & 0x0f) * 4;
  const bootp = udp + 8;
  if (bootp + 240 > frame.length || get16(frame, udp) !== 67 || get16(frame, udp + 2) !== 68) return undefined;
  if (frame[bootp] !== 2 || frame[bootp + 1] !== 1 || frame[bootp + 2] !== 6) return undefined;
  if (mac.length !== 6 || !bytesEqual(frame, bootp + 28, mac, 0, 6)) return undefined;
  if (get32(frame, bootp + 236) !== DHCP_MAGIC) return undefined;
  let type: number | undefined;
  for (let o = bootp + 240; o < frame.length; ) {
    const code = frame[o];
    if (code === 255) break;
    if (code === 0) {
      o++;
      continue;
    }
    if (o + 1 >= frame.length) break;
    const len = frame[o + 1];
    if (code === 53 && len === 1 && o + 2 < frame.length) type = frame[o + 2];
    o += 2 + len;
  }
  if (type !== DHCPACK) return undefined;
  const ip = get32(frame, bootp + 16);
  return ip === 0 ? undefined : ip;
}

/** Remembers the address the guest was last given or last used (it may change it). */
export class GuestAddress {
  ip: number | undefined;

  constructor(private readonly mac: () => Uint8Array) {}

  /** A device tap: DHCP ACKs the guest receives, and what it transmits. */
  readonly tap = (dir: "tx" | "rx", frame: Uint8Array): void => {
    const ip = dir === "tx" ? guestIp4(frame, this.mac()) : dhcpAckAddress(frame, this.mac());
    if (ip !== undefined) this.ip = ip;
  };
}
