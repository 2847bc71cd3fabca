// The in-page gateway (DESIGN.md §5): takes the guest's Ethernet frames, answers ARP, ICMP echo, DHCP and
// DNS itself, and terminates every TCP connection and UDP flow, opening the real ones through an Uplink.
// Every frame comes from the guest and is hostile: each layer is validated before it is believed, and
// nothing here throws on bad input — a frame that fails a check is counted and dropped.

import type { GsoInfo } from "../offload/gso.ts";
import type { Uplink, UplinkError, UplinkTcp, UplinkTcpHandlers } from "../uplink/uplink.ts";
import { ARP_HTYPE_ETHERNET, ARP_LEN, ARPOP_REPLY, ARPOP_REQUEST, ArpView } from "../wire/arp.ts";
import { bytesEqual, ip4ToString } from "../wire/bytes.ts";
import { internetChecksum, pseudoHeaderSum4 } from "../wire/checksum.ts";
import {
  BROADCAST_MAC,
  ETH_HLEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  EthernetView,
} from "../wire/ethernet.ts";
import { ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_TIME_EXCEEDED } from "../wire/icmp.ts";
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, Ipv4View } from "../wire/ipv4.ts";
import { TCP_MIN_HLEN } from "../wire/tcp.ts";
import { UdpView } from "../wire/udp.ts";
import { DNS_ADDR, GATEWAY_ADDR, GATEWAY_MAC, GATEWAY6, inSubnet, STACK_DEFAULTS, type StackConfig } from "./config.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpServer } from "./dhcp-server.ts";
import { type IpAddr, type IpAddrs, icmpFrame, parseTcpFrame, tcpFrame, udpFrame } from "./frames.ts";
import { Ip4Reassembly } from "./ip4-reassembly.ts";
import { addrKey, Ipv6Handler, uplinkHost6 } from "./ipv6.ts";
import { TCP_DEFAULTS, type TcpCloseReason } from "./tcp/tcp-endpoint.ts";
import { TCP_ACK, TCP_RST, TCP_SYN, type TcpSegment } from "./tcp/tcp-segment.ts";
import { rstFor } from "./tcp/tcp-support.ts";
import { TcpFlow, type TcpFlowOwner } from "./tcp-flow.ts";
import { hostNetClock, type NetClock, TimerQueue } from "./timers.ts";
import { UdpFlows } from "./udp-flows.ts";

/** ICMP destination-unreachable codes (RFC 792, RFC 1812 §5.2.7.1). */
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_PKT_FILTERED = 13;

export type FrameSink = (frame: Uint8Array, gso?: GsoInfo) => void;

export interface StackCounters {
  framesIn: number;
  framesOut: number;
  dropped: Record<string, number>;
}

export interface NetStackOptions extends Partial<StackConfig> {
  uplink: Uplink;
  clock?: NetClock;
  /** Seed for initial sequence numbers (tests pass a constant). */
  seed?: number;
}

export class NetStack {
  readonly cfg: StackConfig;
  readonly timers: TimerQueue;
  readonly uplink: Uplink;
  readonly dhcp: DhcpServer;
  readonly counters: StackCounters = { framesIn: 0, framesOut: 0, dropped: {} };
  private sink: FrameSink = () => {};
  /** The guest's MAC, learned from its frames (one guest per stack). */
  guestMac: Uint8Array | undefined;
  private readonly tcp = new Map<string, TcpFlow>();
  readonly udp: UdpFlows;
  readonly reassembly: Ip4Reassembly;
  private readonly v6: Ipv6Handler;
  private issSeed: number;
  private nextForwardPort = 40000;
  private readonly tcpOwner: TcpFlowOwner;

  constructor(opts: NetStackOptions) {
    this.cfg = { ...STACK_DEFAULTS, ...stripUndefined(opts) };
    this.uplink = opts.uplink;
    this.timers = new TimerQueue(opts.clock ?? hostNetClock);
    this.issSeed = opts.seed ?? (Math.random() * 0x100000000) >>> 0;
    this.dhcp = new DhcpServer({ mtu: this.cfg.mtu, leaseSeconds: this.cfg.leaseSeconds }, () => this.timers.now());
    this.udp = new UdpFlows(this);
    this.v6 = new Ipv6Handler(this);
    this.reassembly = new Ip4Reassembly(this.timers, undefined, (why) => this.drop(why));
    this.tcpOwner = {
      timers: this.timers,
      emit: (flow, seg) => this.emitTcp(flow, seg),
      unreachable: (flow, reason) => {
        if (flow.synHead) this.sendUnreachable(flow.synHead, unreachCode(reason));
      },
      closed: (flow) => {
        if (this.tcp.get(flow.key) === flow) this.tcp.delete(flow.key);
      },
    };
  }

  /** Where frames for the guest go (the NetBackend's receive side). */
  attach(sink: FrameSink): void {
    this.sink = sink;
  }

  get tcpFlowCount(): number {
    return this.tcp.size;
  }

  drop(reason: string): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + 1;
  }

  /** Sends a frame to the guest. */
  output(frame: Uint8Array, gso?: GsoInfo): void {
    this.counters.framesOut++;
    this.sink(frame, gso);
  }

  /** Fires due timers; the host calls this at `timers.nextDeadline()`. */
  runTimers(): void {
    this.timers.runDue();
  }

  /** A frame from the guest. `gso.needsCsum` means its L4 checksum is partial (offloaded). */
  input(frame: Uint8Array, gso?: GsoInfo): void {
    this.counters.framesIn++;
    try {
      this.dispatch(frame, gso);
    } catch (e) {
      // A bug must not take the VM down with it; the frame is lost like any malformed one.
      this.drop(`internal:${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private dispatch(frame: Uint8Array, gso: GsoInfo | undefined): void {
    const eth = new EthernetView(frame);
    if (eth.validate() !== "ok") {
      this.drop("eth");
      return;
    }
    if (eth.isVlanTagged) {
      this.drop("vlan");
      return;
    }
    const src = eth.src;
    if ((src[0]! & 1) !== 0) {
      this.drop("eth-src-multicast");
      return;
    }
    if (!eth.isMulticast && !bytesEqual(eth.dst, 0, GATEWAY_MAC, 0, 6)) {
      this.drop("not-for-us");
      return;
    }
    const type = eth.etherType;
    if (type === ETHERTYPE_ARP) {
      this.arp(frame, src);
      return;
    }
    if (type === ETHERTYPE_IPV4) {
      this.ipv4(frame, src, gso);
      return;
    }
    if (type === ETHERTYPE_IPV6) {
      this.guestMac = src.slice();
      this.v6.input(frame, gso);
      return;
    }
    this.drop("ethertype");
  }

  private arp(frame: Uint8Array, srcMac: Uint8Array): void {
    if (frame.length < ETH_HLEN + ARP_LEN) {
      this.drop("arp-short");
      return;
    }
    const a = new ArpView(frame, ETH_HLEN);
    if (a.htype !== ARP_HTYPE_ETHERNET || a.ptype !== ETHERTYPE_IPV4 || a.hlen !== 6 || a.plen !== 4) {
      this.drop("arp-type");
      return;
    }
    if (a.op !== ARPOP_REQUEST) return;
    const target = a.targetIp;
    // Answer for the virtual hosts only: the gateway and the DNS server (slirp answers the same pair).
    if (target !== GATEWAY_ADDR && target !== DNS_ADDR) return;
    this.guestMac = srcMac.slice();
    const out = new Uint8Array(ETH_HLEN + ARP_LEN);
    EthernetView.encode(out, 0, { dst: srcMac, src: GATEWAY_MAC, etherType: ETHERTYPE_ARP });
    const r = new ArpView(out, ETH_HLEN);
    r.htype = ARP_HTYPE_ETHERNET;
    r.ptype = ETHERTYPE_IPV4;
    r.hlen = 6;
    r.plen = 4;
    r.op = ARPOP_REPLY;
    out.set(GATEWAY_MAC, ETH_HLEN + 8);
    r.senderIp = target;
    out.set(a.senderMac, ETH_HLEN + 18);
    r.targetIp = a.senderIp;
    this.output(out);
  }

  private ipv4(frame: Uint8Array, srcMac: Uint8Array, gso: GsoInfo | undefined): void {
    const ip = new Ipv4View(frame, ETH_HLEN);
    const v = ip.validate(frame.length - ETH_HLEN, true);
    if (v !== "ok") {
      this.drop(`ipv4-${v}`);
      return;
    }
    if (ip.isFragment) {
      const whole = this.reassembly.add(frame);
      if (whole !== undefined) this.ipv4(whole, srcMac, undefined);
      return;
    }
    this.guestMac = srcMac.slice();
    const l4 = ETH_HLEN + ip.headerLength;
    const l4Len = ip.payloadLength;
    const end = ETH_HLEN + ip.totalLength;
    const csumOffloaded = gso?.needsCsum === true;
    // A router does not forward a datagram whose TTL would reach zero (RFC 1812 §5.3.1): it answers with
    // time exceeded, so traceroute shows the gateway as the first hop (slirp ignores TTL). Datagrams for
    // the gateway's own addresses are delivered, not forwarded, and need no TTL to spare.
    if (ip.ttl <= 1 && ip.dst !== GATEWAY_ADDR && this.uplinkHost(ip.dst) !== undefined) {
      this.drop("ipv4-ttl");
      // Never an error about an ICMP error (RFC 1812 §4.3.2.7): of ICMP, only echo requests are answered.
      if (ip.protocol !== IPPROTO_ICMP || (l4Len >= 8 && frame[l4] === ICMP_ECHO)) {
        this.sendIcmpError(frame.subarray(ETH_HLEN, end), ICMP_TIME_EXCEEDED, 0, GATEWAY_ADDR);
      }
      return;
    }
    switch (ip.protocol) {
      case IPPROTO_ICMP: {
        this.icmp(frame, ip, l4, l4Len);
        return;
      }
      case IPPROTO_UDP: {
        const u = new UdpView(frame, l4);
        if (u.validate(l4Len) !== "ok") {
          this.drop("udp-header");
          return;
        }
        const pseudo = pseudoHeaderSum4(frame, ETH_HLEN + 12, ETH_HLEN + 16, IPPROTO_UDP, u.length);
        if (!csumOffloaded && !u.checksumValid(pseudo, u.length)) {
          this.drop("udp-checksum");
          return;
        }
        this.udpIn(frame, ip, u, end);
        return;
      }
      case IPPROTO_TCP: {
        if (l4Len < TCP_MIN_HLEN) {
          this.drop("tcp-header");
          return;
        }
        const hlen = (frame[l4 + 12]! >>> 4) * 4;
        if (hlen < TCP_MIN_HLEN || hlen > l4Len) {
          this.drop("tcp-header");
          return;
        }
        if (!csumOffloaded) {
          const pseudo = pseudoHeaderSum4(frame, ETH_HLEN + 12, ETH_HLEN + 16, IPPROTO_TCP, l4Len);
          if (internetChecksum(frame, l4, l4Len, pseudo) !== 0) {
            this.drop("tcp-checksum");
            return;
          }
        }
        this.tcpIn(frame, frame.subarray(ETH_HLEN, end));
        return;
      }
      default:
        this.sendUnreachable(frame.subarray(ETH_HLEN, end), 2 /* protocol unreachable */);
    }
  }

  private icmp(frame: Uint8Array, ip: Ipv4View, l4: number, len: number): void {
    if (len < 8) {
      this.drop("icmp-short");
      return;
    }
    if (internetChecksum(frame, l4, len) !== 0) {
      this.drop("icmp-checksum");
      return;
    }
    if (frame[l4] !== ICMP_ECHO) return;
    // Echo is answered for the gateway and DNS addresses; elsewhere we have no way to ping from a page.
    if (ip.dst !== GATEWAY_ADDR && ip.dst !== DNS_ADDR) {
      this.drop("icmp-echo-elsewhere");
      return;
    }
    const body = frame.slice(l4 + 8, l4 + len);
    const rest = ((frame[l4 + 4]! << 24) | (frame[l4 + 5]! << 16) | (frame[l4 + 6]! << 8) | frame[l4 + 7]!) >>> 0;
    this.output(icmpFrame(this.addrsTo(ip.src, ip.dst), ICMP_ECHOREPLY, 0, rest, body));
  }

  /** Frame addressing from `from` (a virtual or remote address) to the guest at `guestIp`. */
  addrsTo(guestIp: IpAddr, from: IpAddr): IpAddrs {
    return { srcMac: GATEWAY_MAC, dstMac: this.guestMac ?? BROADCAST_MAC, src: from, dst: guestIp };
  }

  /** ICMP destination unreachable about `packet` (an IP packet the guest sent; ICMP codes of RFC 792). */
  sendUnreachable(packet: Uint8Array, code: number): void {
    if (packet.length > 0 && packet[0]! >>> 4 === 6) {
      this.v6.sendUnreachable(packet, code);
      return;
    }
    if (packet.length < 20) return;
    const dst = ((packet[16]! << 24) | (packet[17]! << 16) | (packet[18]! << 8) | packet[19]!) >>> 0;
    // Errors come from the gateway for policy, from the destination for a closed port (as a host would).
    this.sendIcmpError(packet, ICMP_DEST_UNREACH, code, code === ICMP_PORT_UNREACH ? dst : GATEWAY_ADDR);
  }

  /** An ICMPv4 error from `from` about `packet` (an IPv4 packet the guest sent), quoting its header + 8. */
  private sendIcmpError(packet: Uint8Array, type: number, code: number, from: number): void {
    if (packet.length < 20) return;
    const src = ((packet[12]! << 24) | (packet[13]! << 16) | (packet[14]! << 8) | packet[15]!) >>> 0;
    const ihl = (packet[0]! & 0xf) * 4;
    const body = packet.slice(0, Math.min(packet.length, ihl + 8));
    this.output(icmpFrame(this.addrsTo(src, from), type, code, 0, body));
  }

  /** The uplink host for a guest destination; undefined when nothing is there. */
  uplinkHost(dst: IpAddr): string | undefined {
    if (typeof dst !== "number") return uplinkHost6(dst, this.cfg.gatewayAlias);
    if (dst === GATEWAY_ADDR) return this.cfg.gatewayAlias;
    if (inSubnet(dst)) return undefined;
    if (dst === 0 || dst >>> 24 === 127 || dst >>> 28 === 0xe || dst === 0xffffffff) return undefined;
    return ip4ToString(dst);
  }

  private udpIn(frame: Uint8Array, ip: Ipv4View, u: UdpView, end: number): void {
    const payload = u.payload;
    if (u.dstPort === DHCP_SERVER_PORT && u.srcPort === DHCP_CLIENT_PORT) {
      const r = this.dhcp.handle(payload);
      if (r) {
        this.output(
          udpFrame(
            { srcMac: GATEWAY_MAC, dstMac: r.dstMac, src: GATEWAY_ADDR, dst: r.dstIp },
            DHCP_SERVER_PORT,
            DHCP_CLIENT_PORT,
            r.payload,
          ),
        );
      }
      return;
    }
    if (ip.dst === 0xffffffff || ip.dst >>> 28 === 0xe) return; // broadcast/multicast stay on the link
    this.udp.input(frame.subarray(ETH_HLEN, end), ip.src, u.srcPort, ip.dst, u.dstPort, payload);
  }

  emitUdp(guestIp: IpAddr, guestPort: number, fromIp: IpAddr, fromPort: number, payload: Uint8Array): void {
    this.output(udpFrame(this.addrsTo(guestIp, fromIp), fromPort, guestPort, payload));
  }

  // ---- TCP -----------------------------------------------------------------------------------------

  /** A TCP segment from the guest, IPv4 or IPv6 (its checksum already verified or offloaded). */
  tcpIn(frame: Uint8Array, l3: Uint8Array): void {
    const p = parseTcpFrame(frame);
    if (p === undefined) {
      this.drop("tcp-header");
      return;
    }
    const { seg, srcPort: sport, dstPort: dport } = p;
    const key = `${addrKey(p.src)}:${sport}>${addrKey(p.dst)}:${dport}`;
    const flow = this.tcp.get(key);
    if (flow) {
      flow.ep.input(seg);
      return;
    }
    const addrs = { guestIp: p.src, guestPort: sport, remoteIp: p.dst, remotePort: dport };
    if ((seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) {
      this.resetFor(addrs, seg);
      return;
    }
    const host = this.uplinkHost(p.dst);
    if (host === undefined || dport === 0 || sport === 0) {
      this.resetFor(addrs, seg);
      return;
    }
    if (this.tcp.size >= this.cfg.maxTcpFlows) {
      this.resetFor(addrs, seg);
      return;
    }
    const f = this.newFlow(key, addrs);
    // Enough of the SYN to quote in an ICMP error (IPv4: header + 8; IPv6: its fixed header + 8 and more).
    f.synHead = l3.slice(0, Math.min(l3.length, typeof p.src === "number" ? (l3[0]! & 0xf) * 4 + 8 : 96));
    f.ep.listen(seg);
    const h = f.handlers();
    f.attach(this.uplink.openTcp(host, dport, h));
  }

  /**
   * The guest's TCP connections, for a snapshot (issue 15): after a restore the host sides are gone, and
   * probeLost() makes the guest notice at once. Addresses: IPv4 as numbers, IPv6 as hex.
   */
  savedConnections(): SavedTcpConnection[] {
    const out: SavedTcpConnection[] = [];
    for (const f of this.tcp.values()) {
      const st = f.ep.state;
      if (st === "CLOSED" || st === "TIME-WAIT") continue;
      const a = f.addrs;
      const { sndUna, rcvNxt } = f.ep.positions;
      out.push({
        guestIp: ipText(a.guestIp),
        guestPort: a.guestPort,
        remoteIp: ipText(a.remoteIp),
        remotePort: a.remotePort,
        sndUna,
        rcvNxt,
      });
    }
    return out;
  }

  /**
   * Connections a restored guest still believes in but this stack never had: each gets an ACK from before the
   * guest's window, which the guest answers with an ACK of its own; that reaches no flow here and is answered
   * with a RST at exactly the guest's next expected sequence number, which the guest takes (RFC 5961) — so its
   * sockets fail at once instead of waiting for data that will never come.
   */
  probeLost(conns: readonly SavedTcpConnection[], guestMac: Uint8Array | undefined): void {
    if (guestMac !== undefined && this.guestMac === undefined) this.guestMac = guestMac.slice();
    for (const c of conns.slice(0, this.cfg.maxTcpFlows)) {
      const guestIp = ipFromText(c.guestIp);
      const remoteIp = ipFromText(c.remoteIp);
      if (guestIp === undefined || remoteIp === undefined) continue;
      const seg: TcpSegment = {
        seq: (c.sndUna - 1) >>> 0,
        ack: c.rcvNxt >>> 0,
        flags: TCP_ACK,
        window: 65535,
        options: {},
        payload: new Uint8Array(0),
      };
      const { frame } = tcpFrame(this.addrsTo(guestIp, remoteIp), c.remotePort, c.guestPort, seg, 65535);
      this.output(frame);
    }
  }

  private newFlow(key: string, addrs: TcpFlow["addrs"]): TcpFlow {
    const iss = (Math.imul(this.issSeed ^ ((this.timers.now() * 250) >>> 0), 2654435761) + this.tcp.size * 7919) >>> 0;
    this.issSeed = (this.issSeed + 0x9e3779b9) >>> 0;
    const f = new TcpFlow(key, addrs, this.tcpOwner, {
      ...TCP_DEFAULTS,
      mss: this.cfg.mtu - (typeof addrs.guestIp === "number" ? 40 : 60),
      rcvBuf: this.cfg.tcpBuffer,
      sndBuf: this.cfg.tcpBuffer,
      iss,
    });
    if (this.cfg.guestTso) f.ep.tsoMax = 65535 - 20 - 60;
    this.tcp.set(key, f);
    return f;
  }

  private resetFor(a: TcpFlow["addrs"], seg: TcpSegment): void {
    const r = rstFor(seg);
    if (r === undefined) return;
    const { frame } = tcpFrame(this.addrsTo(a.guestIp, a.remoteIp), a.remotePort, a.guestPort, r, 65535);
    this.output(frame);
  }

  private emitTcp(flow: TcpFlow, seg: TcpSegment): void {
    const a = flow.addrs;
    const { frame, gso } = tcpFrame(
      this.addrsTo(a.guestIp, a.remoteIp),
      a.remotePort,
      a.guestPort,
      seg,
      flow.ep.effMss,
    );
    this.output(frame, gso);
  }

  /**
   * A port forward: a host-side connection (already open) to `guestPort` on the guest. The stack opens
   * the guest connection from 10.0.2.2; `app` is the host side, driven through the returned handlers.
   */
  connectToGuest(
    guestIp: number,
    guestPort: number,
    makeApp: (h: UplinkTcpHandlers) => UplinkTcp,
  ): TcpFlow | undefined {
    if (this.tcp.size >= this.cfg.maxTcpFlows) return undefined;
    const from: IpAddr = typeof guestIp === "number" ? GATEWAY_ADDR : GATEWAY6;
    let port = 0;
    for (let i = 0; i < 20000; i++) {
      const p = this.nextForwardPort;
      this.nextForwardPort = p >= 59999 ? 40000 : p + 1;
      if (!this.tcp.has(`${addrKey(guestIp)}:${guestPort}>${addrKey(from)}:${p}`)) {
        port = p;
        break;
      }
    }
    if (port === 0) return undefined;
    const key = `${addrKey(guestIp)}:${guestPort}>${addrKey(from)}:${port}`;
    const f = this.newFlow(key, { guestIp, guestPort, remoteIp: from, remotePort: port });
    f.attach(makeApp(f.handlers()), true);
    f.ep.connect();
    return f;
  }

  /** Abort every flow (the uplink went away). */
  resetAll(reason: TcpCloseReason = "reset"): void {
    for (const f of [...this.tcp.values()]) f.ep.abort(reason);
    this.udp.closeAll();
  }
}

export function unreachCode(reason: UplinkError): number {
  switch (reason) {
    case "blocked":
      return ICMP_PKT_FILTERED;
    case "refused":
      return ICMP_PORT_UNREACH;
    default:
      return ICMP_HOST_UNREACH;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** A guest TCP connection as a snapshot records it (NetStack.savedConnections). */
export interface SavedTcpConnection {
  guestIp: number | string;
  guestPort: number;
  remoteIp: number | string;
  remotePort: number;
  sndUna: number;
  rcvNxt: number;
}

function ipText(ip: IpAddr): number | string {
  if (typeof ip === "number") return ip >>> 0;
  return [...ip].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function ipFromText(v: unknown): IpAddr | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined;
  if (typeof v !== "string" || !/^[0-9a-f]{32}$/.test(v)) return undefined;
  return Uint8Array.from(v.match(/../g)!.map((h) => Number.parseInt(h, 16)));
}
