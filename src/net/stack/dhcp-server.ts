// The gateway's DHCP server (RFC 2131, options RFC 2132). The request bytes come from the guest and are
// hostile: every option length is bounded by the datagram, and anything malformed is ignored rather than
// answered. One small pool (10.0.2.15 upward, as slirp hands out) keyed by client hardware address.

import { get16, get32, ip4ToString, macToString, set16, set32 } from "../wire/bytes.ts";
import { DNS_ADDR, GATEWAY_ADDR, GUEST_ADDR, NET_MASK } from "./config.ts";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const DHCP_MAGIC = 0x63825363;
const BOOTP_FIXED = 236;
/** Replies are padded to the BOOTP minimum (RFC 951: 300 bytes of BOOTP message). */
const BOOTP_MIN = 300;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_HOSTNAME = 12;
export const OPT_DOMAIN = 15;
export const OPT_MTU = 26;
export const OPT_BROADCAST = 28;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_RENEWAL_T1 = 58;
export const OPT_REBINDING_T2 = 59;
export const OPT_END = 255;

const POOL_SIZE = 16;

export interface DhcpRequest {
  op: number;
  xid: number;
  flags: number;
  ciaddr: number;
  giaddr: number;
  chaddr: Uint8Array;
  messageType: number | undefined;
  requestedIp: number | undefined;
  serverId: number | undefined;
}

/** Parses a DHCP message; undefined when it is not a well-formed Ethernet DHCP request. */
export function parseDhcp(b: Uint8Array): DhcpRequest | undefined {
  if (b.length < BOOTP_FIXED + 4) return undefined;
  if (b[1] !== 1 || b[2] !== 6) return undefined; // Ethernet hardware, 6-byte addresses only
  if (get32(b, BOOTP_FIXED) !== DHCP_MAGIC) return undefined;
  const r: DhcpRequest = {
    op: b[0]!,
    xid: get32(b, 4),
    flags: get16(b, 10),
    ciaddr: get32(b, 12),
    giaddr: get32(b, 24),
    chaddr: b.slice(28, 34),
    messageType: undefined,
    requestedIp: undefined,
    serverId: undefined,
  };
  let i = BOOTP_FIXED + 4;
  while (i < b.length) {
    const code = b[i]!;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (code === OPT_END || i + 1 >= b.length) break;
    const len = b[i + 1]!;
    const v = i + 2;
    if (v + len > b.length) return undefined;
    if (code === OPT_MESSAGE_TYPE && len === 1) r.messageType = b[v];
    else if (code === OPT_REQUESTED_IP && len === 4) r.requestedIp = get32(b, v);
    else if (code === OPT_SERVER_ID && len === 4) r.serverId = get32(b, v);
    i = v + len;
  }
  return r;
}

export interface DhcpReply {
  payload: Uint8Array;
  /** Ethernet destination: the client's hardware address. */
  dstMac: Uint8Array;
  /** IP destination: broadcast before the client has an address (RFC 2131 §4.1). */
  dstIp: number;
}

interface Lease {
  addr: number;
  expiresMs: number;
  bound: boolean;
}

export class DhcpServer {
  private leases = new Map<string, Lease>();
  /** Addresses a client declined (in use by someone else, RFC 2131 §3.1.5): not offered again. */
  private declined = new Set<number>();

  constructor(
    private readonly opts: { mtu: number; leaseSeconds: number },
    private readonly now: () => number,
  ) {}

  /** The address currently leased to a MAC, if any (the stack uses it for its guest). */
  leaseFor(mac: Uint8Array): number | undefined {
    return this.leases.get(macToString(mac))?.addr;
  }

  handle(payload: Uint8Array): DhcpReply | undefined {
    const req = parseDhcp(payload);
    if (req === undefined || req.op !== BOOTREQUEST || req.messageType === undefined) return undefined;
    const key = macToString(req.chaddr);
    switch (req.messageType) {
      case DHCPDISCOVER: {
        const addr = this.pick(key, req.requestedIp);
        if (addr === undefined) return undefined;
        return this.reply(req, DHCPOFFER, addr);
      }
      case DHCPREQUEST: {
        // Another server was chosen (RFC 2131 §4.3.2): forget our offer.
        if (req.serverId !== undefined && req.serverId !== GATEWAY_ADDR) {
          const l = this.leases.get(key);
          if (l && !l.bound) this.leases.delete(key);
          return undefined;
        }
        const wanted = req.requestedIp ?? req.ciaddr;
        const addr = this.pick(key, wanted);
        if (addr === undefined || wanted !== addr) return this.reply(req, DHCPNAK, 0);
        this.leases.set(key, { addr, expiresMs: this.now() + this.opts.leaseSeconds * 1000, bound: true });
        return this.reply(req, DHCPACK, addr);
      }
      case DHCPDECLINE: {
        const l = this.leases.get(key);
        if (l && (req.requestedIp === undefined || req.requestedIp === l.addr)) {
          this.declined.add(l.addr);
          this.leases.delete(key);
        }
        return undefined;
      }
      case DHCPRELEASE: {
        const l = this.leases.get(key);
        if (l && l.addr === req.ciaddr) this.leases.delete(key);
        return undefined;
      }
      case DHCPINFORM:
        return this.reply(req, DHCPACK, 0);
      default:
        return undefined;
    }
  }

  /** The client's current address, else the one it asks for if free, else the lowest free one. */
  private pick(key: string, wanted: number | undefined): number | undefined {
    const now = this.now();
    const mine = this.leases.get(key);
    if (mine && (mine.expiresMs > now || !mine.bound)) return mine.addr;
    const taken = new Set<number>();
    for (const [k, l] of this.leases) if (k !== key && l.expiresMs > now) taken.add(l.addr);
    const free = (a: number) => a >= GUEST_ADDR && a < GUEST_ADDR + POOL_SIZE && !taken.has(a) && !this.declined.has(a);
    let addr: number | undefined;
    if (wanted !== undefined && free(wanted)) addr = wanted;
    for (let a = GUEST_ADDR; addr === undefined && a < GUEST_ADDR + POOL_SIZE; a++) if (free(a)) addr = a;
    if (addr === undefined) return undefined;
    // An offer holds the address briefly so two clients are not offered the same one.
    this.leases.set(key, { addr, expiresMs: now + 60_000, bound: false });
    return addr;
  }

  private reply(req: DhcpRequest, type: number, yiaddr: number): DhcpReply {
    const b = new Uint8Array(BOOTP_MIN + 64);
    b[0] = BOOTREPLY;
    b[1] = 1;
    b[2] = 6;
    set32(b, 4, req.xid);
    set16(b, 10, req.flags);
    set32(b, 12, type === DHCPNAK ? 0 : req.ciaddr);
    set32(b, 16, yiaddr);
    set32(b, 20, GATEWAY_ADDR);
    set32(b, 24, req.giaddr);
    b.set(req.chaddr, 28);
    set32(b, BOOTP_FIXED, DHCP_MAGIC);
    let i = BOOTP_FIXED + 4;
    const opt = (code: number, bytes: number[]) => {
      b[i++] = code;
      b[i++] = bytes.length;
      for (const x of bytes) b[i++] = x;
    };
    const u32 = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    opt(OPT_MESSAGE_TYPE, [type]);
    opt(OPT_SERVER_ID, u32(GATEWAY_ADDR));
    if (type !== DHCPNAK) {
      const lease = this.opts.leaseSeconds;
      if (type !== DHCPACK || yiaddr !== 0) {
        opt(OPT_LEASE_TIME, u32(lease));
        opt(OPT_RENEWAL_T1, u32(Math.floor(lease / 2)));
        opt(OPT_REBINDING_T2, u32(Math.floor((lease * 7) / 8)));
      }
      opt(OPT_SUBNET_MASK, u32(NET_MASK));
      opt(OPT_ROUTER, u32(GATEWAY_ADDR));
      opt(OPT_DNS, u32(DNS_ADDR));
      opt(OPT_BROADCAST, u32((GATEWAY_ADDR | ~NET_MASK) >>> 0));
      opt(OPT_MTU, [this.opts.mtu >>> 8, this.opts.mtu & 0xff]);
    }
    b[i++] = OPT_END;
    const broadcast = req.ciaddr === 0 || type === DHCPNAK || (req.flags & 0x8000) !== 0;
    return {
      payload: b.subarray(0, Math.max(BOOTP_MIN, i)),
      dstMac: req.chaddr,
      dstIp: broadcast ? 0xffffffff : req.ciaddr,
    };
  }

  describe(): string[] {
    return [...this.leases].map(([mac, l]) => `${mac} ${ip4ToString(l.addr)}${l.bound ? "" : " (offered)"}`);
  }
}
