// UDP through the uplink: one uplink flow per guest (address, port) → (destination, port), closed after
// an idle period, capped in number (the oldest goes first). DNS to 10.0.2.3 is either forwarded to the
// configured upstream through the uplink or answered from the uplink's own resolver.

import type { UplinkError, UplinkUdp } from "../uplink/uplink.ts";
import { DNS_ADDR, DNS6, GATEWAY_ADDR, GATEWAY6, sameAddr6 } from "./config.ts";
import {
  buildDnsAnswer,
  DNS_PORT,
  DNS_RCODE_NOERROR,
  DNS_RCODE_NXDOMAIN,
  DNS_RCODE_SERVFAIL,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  parseDnsQuery,
} from "./dns.ts";
import type { IpAddr } from "./frames.ts";
import { addrKey } from "./ipv6.ts";
import type { Timer } from "./timers.ts";

/** What the flows need from the stack (kept narrow so they can be tested with a fake). */
export interface UdpFlowsOwner {
  readonly cfg: { udpIdleMs: number; maxUdpFlows: number; dnsUpstream: { host: string; port: number } | undefined };
  readonly uplink: {
    openUdp: import("../uplink/uplink.ts").Uplink["openUdp"];
    resolve?: import("../uplink/uplink.ts").Uplink["resolve"];
  };
  readonly timers: { now(): number; after(ms: number, fn: () => void): Timer };
  uplinkHost(dst: IpAddr): string | undefined;
  emitUdp(guestIp: IpAddr, guestPort: number, fromIp: IpAddr, fromPort: number, payload: Uint8Array): void;
  sendUnreachable(packet: Uint8Array, code: number): void;
  drop(reason: string): void;
}

interface UdpFlow {
  key: string;
  up: UplinkUdp;
  lastMs: number;
  timer: Timer;
  /** IP header + 8 bytes of the first datagram, for an ICMP error about the flow. */
  head: Uint8Array;
}

const MAX_PENDING_DNS = 64;

export class UdpFlows {
  private flows = new Map<string, UdpFlow>();
  private dnsPending = 0;

  constructor(private readonly owner: UdpFlowsOwner) {}

  get size(): number {
    return this.flows.size;
  }

  input(packet: Uint8Array, src: IpAddr, sport: number, dst: IpAddr, dport: number, payload: Uint8Array): void {
    if (typeof dst === "number" ? dst === DNS_ADDR : sameAddr6(dst, DNS6)) {
      if (dport !== DNS_PORT) {
        this.owner.sendUnreachable(packet, 3);
        return;
      }
      const up = this.owner.cfg.dnsUpstream;
      if (up) {
        this.forward(packet, src, sport, dst, dport, up.host, up.port, payload);
        return;
      }
      this.resolve(src, sport, dst, payload);
      return;
    }
    const host = this.owner.uplinkHost(dst);
    if (host === undefined || dport === 0) {
      if (typeof dst === "number" ? dst === GATEWAY_ADDR : sameAddr6(dst, GATEWAY6))
        this.owner.sendUnreachable(packet, 3);
      this.owner.drop("udp-no-route");
      return;
    }
    this.forward(packet, src, sport, dst, dport, host, dport, payload);
  }

  private forward(
    packet: Uint8Array,
    src: IpAddr,
    sport: number,
    dst: IpAddr,
    dport: number,
    host: string,
    port: number,
    payload: Uint8Array,
  ): void {
    const key = `${addrKey(src)}:${sport}>${addrKey(dst)}:${dport}`;
    let f = this.flows.get(key);
    if (f === undefined) {
      if (this.flows.size >= this.owner.cfg.maxUdpFlows) this.evictOldest();
      // What an ICMP error quotes: IPv4 header + 8 bytes (RFC 792), or up to the IPv6 minimum MTU.
      const quote = packet[0]! >>> 4 === 6 ? 1232 : (packet[0]! & 0xf) * 4 + 8;
      const head = packet.slice(0, Math.min(packet.length, quote));
      const flow: UdpFlow = {
        key,
        lastMs: this.owner.timers.now(),
        head,
        timer: this.owner.timers.after(this.owner.cfg.udpIdleMs, () => this.expire(key)),
        up: undefined as unknown as UplinkUdp,
      };
      flow.up = this.owner.uplink.openUdp(host, port, {
        onMessage: (data) => {
          if (this.flows.get(key) !== flow) return;
          flow.lastMs = this.owner.timers.now();
          this.owner.emitUdp(src, sport, dst, dport, data);
        },
        onError: (reason: UplinkError) => {
          if (this.flows.get(key) !== flow) return;
          this.close(key);
          this.owner.sendUnreachable(flow.head, reason === "blocked" ? 13 : reason === "refused" ? 3 : 1);
        },
      });
      this.flows.set(key, flow);
      f = flow;
    }
    f.lastMs = this.owner.timers.now();
    f.up.send(payload.slice());
  }

  private expire(key: string): void {
    const f = this.flows.get(key);
    if (f === undefined) return;
    const idle = this.owner.timers.now() - f.lastMs;
    if (idle >= this.owner.cfg.udpIdleMs) this.close(key);
    else f.timer = this.owner.timers.after(this.owner.cfg.udpIdleMs - idle, () => this.expire(key));
  }

  private evictOldest(): void {
    let oldest: UdpFlow | undefined;
    for (const f of this.flows.values()) if (!oldest || f.lastMs < oldest.lastMs) oldest = f;
    if (oldest) this.close(oldest.key);
  }

  private close(key: string): void {
    const f = this.flows.get(key);
    if (!f) return;
    this.flows.delete(key);
    f.timer.cancel();
    f.up.close();
  }

  closeAll(): void {
    for (const k of [...this.flows.keys()]) this.close(k);
  }

  /** Answers a query from the uplink's resolver (no upstream server configured). */
  private resolve(src: IpAddr, sport: number, dnsAddr: IpAddr, query: Uint8Array): void {
    const q = parseDnsQuery(query);
    if (q === undefined) {
      this.owner.drop("dns-query");
      return;
    }
    const reply = (rcode: number, addrs: string[]) =>
      this.owner.emitUdp(src, sport, dnsAddr, DNS_PORT, buildDnsAnswer(query, q, rcode, addrs));
    const resolver = this.owner.uplink.resolve;
    if (resolver === undefined || (q.qtype !== DNS_TYPE_A && q.qtype !== DNS_TYPE_AAAA)) {
      reply(resolver === undefined ? DNS_RCODE_SERVFAIL : DNS_RCODE_NOERROR, []);
      return;
    }
    if (this.dnsPending >= MAX_PENDING_DNS) {
      this.owner.drop("dns-busy");
      return;
    }
    this.dnsPending++;
    const copy = query.slice();
    resolver.call(this.owner.uplink, q.name, q.qtype === DNS_TYPE_A ? 4 : 6).then(
      (addrs) => {
        this.dnsPending--;
        this.owner.emitUdp(
          src,
          sport,
          dnsAddr,
          DNS_PORT,
          buildDnsAnswer(
            copy,
            q,
            addrs.length || q.qtype === DNS_TYPE_AAAA ? DNS_RCODE_NOERROR : DNS_RCODE_NXDOMAIN,
            addrs,
          ),
        );
      },
      () => {
        this.dnsPending--;
        reply(DNS_RCODE_SERVFAIL, []);
      },
    );
  }
}
