// Which address a client is, for its limits (--max-clients-per-ip, the resolver's per-address cap) and the logs.
// Behind a load balancer (deploy/haproxy.cfg) every connection comes from the balancer, so the client's own
// address is the one the balancer put in X-Forwarded-For. That header is whatever the sender wrote: it is read
// only when the TCP peer is a configured proxy (--trust-proxy), and then from the right, where the trusted hops
// appended, so a client cannot choose its address by sending a header of its own (a balancer appends to it).

import { isIP } from "node:net";
import { type Cidr, cidrContains, formatIp, type IpAddress, parseCidr, parseIpLiteral } from "./policy/ip.ts";

/** `--trust-proxy` syntax: addresses or CIDRs, comma-separated; null when one of them is neither. */
export function parseTrustedProxies(s: string): Cidr[] | null {
  const out: Cidr[] = [];
  for (const part of s.split(",")) {
    const p = part.trim();
    const slash = p.indexOf("/");
    // Strict literals only: inet_aton's "127.1" is a spelling a destination may use, not a configuration.
    if (!isIP(slash < 0 ? p : p.slice(0, slash))) return null;
    const c = parseCidr(p);
    if (!c) return null;
    out.push(c);
  }
  return out;
}

/** An address as one key: IPv4-mapped IPv6 (a dual-stack listener's view of IPv4 peers) becomes IPv4. */
function canonical(a: IpAddress): IpAddress {
  const b = a.bytes;
  if (a.family === 6 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return { family: 4, bytes: b.slice(12) };
  return a;
}

function strictIp(s: string): IpAddress | null {
  const bare = s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
  if (!isIP(bare)) return null;
  const a = parseIpLiteral(bare);
  return a && canonical(a);
}

/**
 * The client's address: the TCP peer's, unless that peer is a trusted proxy; then the right-most address of
 * X-Forwarded-For that is not itself a trusted proxy (each hop appends the peer it saw). A malformed entry ends
 * the walk: the hop before it is the last one vouched for.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: readonly Cidr[],
): string {
  const p = peer === undefined ? null : strictIp(peer);
  if (!p) return peer ?? "?";
  const isTrusted = (a: IpAddress) => trusted.some((c) => cidrContains(c, a));
  if (trusted.length === 0 || forwardedFor === undefined || !isTrusted(p)) return formatIp(p);
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",");
  let client = p;
  for (let i = hops.length - 1; i >= 0; i--) {
    const a = strictIp(hops[i]!.trim());
    if (!a) break;
    client = a;
    if (!isTrusted(a)) break;
  }
  return formatIp(client);
}

/** Whether a TCP peer is one of the --trust-proxy balancers. */
export function isTrustedPeer(peer: string | undefined, trusted: readonly Cidr[]): boolean {
  const p = peer === undefined ? null : strictIp(peer);
  return p !== null && trusted.some((c) => cidrContains(c, p));
}
