// The relay's destination policy: deny by default everything that is not the public internet, so a
// Wisp client (anyone who can reach the relay) cannot use it to reach the relay host, its LAN or its
// cloud metadata service. Pure: no DNS, no sockets — destination.ts does the resolving and calls this
// with the exact address it will connect to.

import { type Cidr, cidr, cidrContains, formatIp, type IpAddress, parseCidr, parseIpLiteral } from "./ip.ts";

/** Why a destination is refused; also the `reason` label on the denial metric. */
export type DenyReason =
  | "this-network"
  | "loopback"
  | "private"
  | "cgnat"
  | "link-local"
  | "metadata"
  | "multicast"
  | "broadcast"
  | "unique-local"
  | "reserved"
  | "port";

const V4_RULES: [Cidr, DenyReason][] = [
  [cidr("0.0.0.0/8"), "this-network"],
  [cidr("10.0.0.0/8"), "private"],
  [cidr("100.64.0.0/10"), "cgnat"],
  [cidr("127.0.0.0/8"), "loopback"],
  // Listed before the link-local /16 so the log says what was targeted (cloud metadata services).
  [cidr("169.254.169.254/32"), "metadata"],
  [cidr("169.254.0.0/16"), "link-local"],
  [cidr("172.16.0.0/12"), "private"],
  [cidr("192.0.0.0/24"), "reserved"], // IETF protocol assignments (RFC 6890)
  [cidr("192.0.2.0/24"), "reserved"], // TEST-NET-1
  [cidr("192.168.0.0/16"), "private"],
  [cidr("198.18.0.0/15"), "reserved"], // benchmarking
  [cidr("198.51.100.0/24"), "reserved"], // TEST-NET-2
  [cidr("203.0.113.0/24"), "reserved"], // TEST-NET-3
  [cidr("224.0.0.0/4"), "multicast"],
  [cidr("255.255.255.255/32"), "broadcast"],
  [cidr("240.0.0.0/4"), "reserved"],
];

/** IPv6 prefixes that carry an IPv4 address: judged by the IPv4 address inside. */
const V6_EMBEDDED: { prefix: Cidr; offset: number }[] = [
  { prefix: cidr("::ffff:0:0/96"), offset: 12 }, // IPv4-mapped (RFC 4291)
  { prefix: cidr("::ffff:0:0:0/96"), offset: 12 }, // IPv4-translated (RFC 2765)
  { prefix: cidr("64:ff9b::/96"), offset: 12 }, // NAT64 well-known prefix (RFC 6052)
  { prefix: cidr("2002::/16"), offset: 2 }, // 6to4 (RFC 3056)
];

const V6_RULES: [Cidr, DenyReason][] = [
  [cidr("::/128"), "this-network"],
  [cidr("::1/128"), "loopback"],
  [cidr("::/96"), "reserved"], // IPv4-compatible, deprecated
  [cidr("64:ff9b:1::/48"), "private"], // local-use NAT64 (RFC 8215)
  [cidr("100::/64"), "reserved"], // discard-only
  [cidr("2001::/32"), "reserved"], // Teredo hides an IPv4 address we would have to decode
  [cidr("2001:db8::/32"), "reserved"], // documentation
  [cidr("fc00::/7"), "unique-local"],
  [cidr("fe80::/10"), "link-local"],
  [cidr("fec0::/10"), "private"], // site-local, deprecated
  [cidr("ff00::/8"), "multicast"],
];

/** Global unicast; everything outside it is unassigned or special, so it is refused as reserved. */
const V6_GLOBAL = cidr("2000::/3");

/** Null when `a` is a public address; otherwise why it is not. */
export function classifyAddress(a: IpAddress): DenyReason | null {
  if (a.family === 4) {
    for (const [c, reason] of V4_RULES) if (cidrContains(c, a)) return reason;
    return null;
  }
  for (const e of V6_EMBEDDED) {
    if (cidrContains(e.prefix, a)) return classifyAddress({ family: 4, bytes: a.bytes.slice(e.offset, e.offset + 4) });
  }
  for (const [c, reason] of V6_RULES) if (cidrContains(c, a)) return reason;
  return cidrContains(V6_GLOBAL, a) ? null : "reserved";
}

export type AllowRule =
  | { kind: "cidr"; cidr: Cidr }
  /** One destination by the name the client asked for, or by address when `host` is a literal. */
  | { kind: "host-port"; host: string; address: IpAddress | null; port: number };

export interface PolicyConfig {
  allow: AllowRule[];
  denyPorts: ReadonlySet<number>;
}

export const DEFAULT_POLICY: PolicyConfig = { allow: [], denyPorts: new Set() };

/** `--allow` syntax: a CIDR or bare address ("127.0.0.1", "10.0.0.0/8", "::1"), or "host:port". */
export function parseAllowRule(s: string): AllowRule | null {
  const c = parseCidr(s);
  if (c) return { kind: "cidr", cidr: c };
  const m = /^(\[[^\]]+\]|[^:[\]]+):([0-9]{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  const host = m[1]!.toLowerCase();
  const address = parseIpLiteral(host);
  if (host.startsWith("[") && !address) return null;
  return { kind: "host-port", host: address ? formatIp(address) : host, address, port };
}

function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
}

export type Verdict = { allowed: true } | { allowed: false; reason: DenyReason };

/**
 * Decides about one connection: `address` is what will actually be connected to, `requestedHost` the
 * (lower-cased) name the client asked for. An exact host:port exception beats everything, the port
 * deny-list beats CIDR exceptions (so `--allow 0.0.0.0/0` still cannot reach port 25).
 */
export function checkDestination(
  policy: PolicyConfig,
  address: IpAddress,
  port: number,
  requestedHost: string,
): Verdict {
  for (const r of policy.allow) {
    if (r.kind !== "host-port" || r.port !== port) continue;
    if (r.address ? sameAddress(r.address, address) : r.host === requestedHost) return { allowed: true };
  }
  if (policy.denyPorts.has(port)) return { allowed: false, reason: "port" };
  for (const r of policy.allow) if (r.kind === "cidr" && cidrContains(r.cidr, address)) return { allowed: true };
  const reason = classifyAddress(address);
  return reason ? { allowed: false, reason } : { allowed: true };
}
