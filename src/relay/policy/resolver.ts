// The relay's name resolver (issue 16, finding 1). `dns.lookup` runs getaddrinfo on libuv's four threads and
// cannot be cancelled: 64 names that never resolve held every slot for minutes. Here every lookup is its own
// c-ares channel (`dns.promises.Resolver`, asynchronous sockets, no thread pool), cancelled at its deadline or
// when its client leaves. Lookups in flight are capped per client, per client address (many connections from one
// host), per domain (many names under one hostile domain whose servers never answer) and for the relay, so
// filling the global cap takes many addresses and many domains; names that just failed are remembered for a few
// seconds, and a domain whose lookup just timed out is asked one name at a time until it answers again. /etc/hosts is read here (c-ares queries do not),
// so a name the host file maps to a local address still resolves to it and the policy still refuses it.

import { promises as dns } from "node:dns";
import { readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { type Lookup, LookupBusyError, LookupTimeoutError } from "./destination.ts";
import { formatIp, parseIpLiteral } from "./ip.ts";

export interface ResolverConfig {
  /** DNS servers as "IP" or "IP:PORT" ("[v6]:PORT"); empty = the system's (/etc/resolv.conf). */
  servers: string[];
  /** A whole lookup (A and AAAA together), after which it is cancelled. */
  timeoutMs: number;
  /** Attempts per server inside that time (c-ares doubles the wait after each round). */
  tries: number;
  /** Lookups in flight across the relay. */
  maxInFlight: number;
  /** Lookups in flight for one client (a Wisp connection, an L2 network's gateway). */
  maxPerClient: number;
  /** Lookups in flight for the clients of one address (the real one behind a trusted balancer). */
  maxPerAddress: number;
  /** Lookups in flight for names under one domain (domainOf), from all clients. */
  maxPerDomain: number;
  /** How long a name that did not resolve (or timed out) answers so without asking again. */
  negativeTtlMs: number;
  /** Read for names before DNS is asked, as getaddrinfo's "files" source would; null = none. */
  hostsFile: string | null;
}

export const DEFAULT_RESOLVER_CONFIG: ResolverConfig = {
  servers: [],
  timeoutMs: 5_000,
  tries: 2,
  maxInFlight: 256,
  maxPerClient: 8,
  maxPerAddress: 32,
  maxPerDomain: 16,
  negativeTtlMs: 3_000,
  hostsFile: "/etc/hosts",
};

/** Names remembered as failed; the oldest go first beyond this. */
const NEGATIVE_CACHE_MAX = 4096;
/** The hosts file is looked at again (stat) at most this often. */
const HOSTS_RECHECK_MS = 5_000;

/** Second-level labels under which a country's registrations sit (example.co.uk): the domain is one label deeper. */
const GENERIC_SECOND_LEVEL = new Set(["ac", "co", "com", "edu", "go", "gov", "ne", "net", "or", "org", "mil"]);

/**
 * The domain a name's lookups are grouped under: the registrable domain as the public suffix list would give it
 * in the common cases (last two labels, three under a country code's generic second level). A guess, and a
 * wrong one only makes a group larger or smaller: every lookup still counts against the other caps.
 */
export function domainOf(name: string): string {
  const labels = name.split(".");
  if (labels.length <= 2) return name;
  const tld = labels[labels.length - 1]!;
  const sld = labels[labels.length - 2]!;
  const n = tld.length === 2 && GENERIC_SECOND_LEVEL.has(sld) ? 3 : 2;
  return labels.slice(-n).join(".");
}

/** A lookup that ended without addresses: the name does not exist, or no server answered. */
export class LookupFailedError extends Error {
  constructor(readonly code: string) {
    super(`name lookup failed: ${code}`);
  }
}

/** `--dns-server` syntax: an IP literal, optionally with a port ("1.1.1.1", "127.0.0.1:5353", "[::1]:53"). */
export function parseDnsServer(s: string): string | null {
  const m = /^\[([^\]]+)\](?::([0-9]{1,5}))?$/.exec(s) ?? /^([^:]+)(?::([0-9]{1,5}))?$/.exec(s);
  const host = m ? m[1]! : s;
  const port = m?.[2];
  if (!isIP(host)) return null;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  if (isIP(host) === 6) return port ? `[${host}]:${port}` : host;
  return port ? `${host}:${port}` : host;
}

/** Name → addresses from a hosts(5) file; names lower-cased, every address of every line kept. */
export function parseHosts(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const fields = raw.replace(/#.*/, "").trim().split(/\s+/);
    if (fields.length < 2) continue;
    const ip = parseIpLiteral(fields[0]!.replace(/%.*$/, ""));
    if (!ip) continue;
    const address = formatIp(ip);
    for (const f of fields.slice(1)) {
      const name = f.toLowerCase().replace(/\.$/, "");
      const list = out.get(name) ?? [];
      if (!list.includes(address)) list.push(address);
      out.set(name, list);
    }
  }
  return out;
}

/** One client's view of the resolver: its lookups, and close() to cancel those still running. */
export interface ClientLookup {
  lookup: Lookup;
  close(): void;
  readonly inFlight: number;
}

interface Negative {
  until: number;
  timeout: boolean;
}

/** Increments a count in a map; the entry goes when it returns to zero, so the maps hold only what is in flight. */
function bump(m: Map<string, number>, key: string, by: 1 | -1): void {
  const n = (m.get(key) ?? 0) + by;
  if (n > 0) m.set(key, n);
  else m.delete(key);
}

export class NameResolver {
  private inFlightCount = 0;
  private readonly byAddress = new Map<string, number>();
  private readonly byDomain = new Map<string, number>();
  private readonly negative = new Map<string, Negative>();
  /** Domains whose last lookup timed out, until when: one lookup at a time under them until one is answered. */
  private readonly slowDomains = new Map<string, number>();
  private hosts = new Map<string, string[]>();
  private hostsStamp = "";
  private hostsCheckedAt = Number.NEGATIVE_INFINITY;
  /** c-ares's first wait: the rounds (doubling) of `tries` fit in the lookup's time. */
  private readonly tryTimeoutMs: number;

  constructor(
    readonly config: ResolverConfig,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tryTimeoutMs = Math.max(100, Math.floor(config.timeoutMs / (2 ** config.tries - 1)));
  }

  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Lookups in flight for names under `domain` (domainOf). */
  inFlightFor(domain: string): number {
    return this.byDomain.get(domain) ?? 0;
  }

  /** Which cap a new lookup would exceed, if any. */
  private full(clientInFlight: number, address: string | undefined, domain: string): string | null {
    if (clientInFlight >= this.config.maxPerClient) return "client";
    if (address !== undefined && (this.byAddress.get(address) ?? 0) >= this.config.maxPerAddress) return "address";
    const slow = this.slowDomains.get(domain);
    if (slow !== undefined && slow <= this.now()) this.slowDomains.delete(domain);
    const domainCap = this.slowDomains.has(domain) ? 1 : this.config.maxPerDomain;
    if ((this.byDomain.get(domain) ?? 0) >= domainCap) return "domain";
    if (this.inFlightCount >= this.config.maxInFlight) return "relay";
    return null;
  }

  /**
   * A lookup function charged to one client, and to its address when it has one (a Wisp connection; not an L2
   * gateway, which asks for a whole network); close() when the client goes.
   */
  forClient(address?: string): ClientLookup {
    const active = new Set<dns.Resolver>();
    let inFlight = 0;
    let closed = false;
    const lookup: Lookup = async (host) => {
      const name = host.toLowerCase().replace(/\.$/, "");
      const local = this.local(name);
      if (local) return local;
      const neg = this.negative.get(name);
      if (neg) {
        if (neg.until > this.now()) throw neg.timeout ? new LookupTimeoutError() : new LookupFailedError("ENOTFOUND");
        this.negative.delete(name);
      }
      const domain = domainOf(name);
      if (closed) throw new LookupBusyError();
      const cap = this.full(inFlight, address, domain);
      if (cap) throw new LookupBusyError(cap);
      const r = new dns.Resolver({ timeout: this.tryTimeoutMs, tries: this.config.tries });
      if (this.config.servers.length > 0) r.setServers(this.config.servers);
      active.add(r);
      inFlight++;
      this.inFlightCount++;
      if (address !== undefined) bump(this.byAddress, address, 1);
      bump(this.byDomain, domain, 1);
      let expired = false;
      const timer = setTimeout(() => {
        expired = true;
        r.cancel();
      }, this.config.timeoutMs);
      try {
        const [a, aaaa] = await Promise.allSettled([r.resolve4(name), r.resolve6(name)]);
        const addresses = [
          ...(a.status === "fulfilled" ? a.value : []),
          ...(aaaa.status === "fulfilled" ? aaaa.value : []),
        ];
        if (addresses.length > 0) {
          this.slowDomains.delete(domain);
          return addresses;
        }
        if (closed) throw new LookupFailedError("ECANCELLED");
        const codes = [a, aaaa].map((x) =>
          x.status === "rejected" ? (x.reason as { code?: string }).code : "ENODATA",
        );
        const timedOut = expired || codes.some((c) => c === "ETIMEOUT" || c === "ECANCELLED");
        // A domain that answered (even "no such name") is no longer slow; one that did not is asked one name at a
        // time for a while, so its many names cannot hold many slots (the random-subdomain pattern).
        if (timedOut) this.rememberSlow(domain);
        else this.slowDomains.delete(domain);
        // Only answers about the name are remembered: not a refused or failing server.
        if (timedOut || codes.every((c) => c === "ENOTFOUND" || c === "ENODATA")) this.remember(name, timedOut);
        throw timedOut ? new LookupTimeoutError() : new LookupFailedError(codes[0] ?? "ENOTFOUND");
      } finally {
        clearTimeout(timer);
        active.delete(r);
        inFlight--;
        this.inFlightCount--;
        if (address !== undefined) bump(this.byAddress, address, -1);
        bump(this.byDomain, domain, -1);
      }
    };
    return {
      lookup,
      close: () => {
        closed = true;
        for (const r of active) r.cancel();
      },
      get inFlight() {
        return inFlight;
      },
    };
  }

  private remember(name: string, timeout: boolean): void {
    if (this.config.negativeTtlMs <= 0) return;
    this.negative.delete(name);
    if (this.negative.size >= NEGATIVE_CACHE_MAX) this.negative.delete(this.negative.keys().next().value!);
    this.negative.set(name, { until: this.now() + this.config.negativeTtlMs, timeout });
  }

  private rememberSlow(domain: string): void {
    if (this.config.negativeTtlMs <= 0) return;
    this.slowDomains.delete(domain);
    if (this.slowDomains.size >= NEGATIVE_CACHE_MAX) this.slowDomains.delete(this.slowDomains.keys().next().value!);
    this.slowDomains.set(domain, this.now() + this.config.negativeTtlMs);
  }

  /** Answers that never reach DNS: the hosts file, then localhost (RFC 6761 §6.3). */
  private local(name: string): string[] | null {
    this.reloadHosts();
    const h = this.hosts.get(name);
    if (h) return [...h];
    if (name === "localhost" || name.endsWith(".localhost")) return ["127.0.0.1", "::1"];
    return null;
  }

  private reloadHosts(): void {
    const file = this.config.hostsFile;
    if (!file || this.now() - this.hostsCheckedAt < HOSTS_RECHECK_MS) return;
    this.hostsCheckedAt = this.now();
    try {
      // Synchronous on purpose: a stat of a small local file every few seconds, and no thread-pool work.
      const st = statSync(file);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp === this.hostsStamp) return;
      this.hosts = parseHosts(readFileSync(file, "utf8"));
      this.hostsStamp = stamp;
    } catch {
      this.hosts = new Map();
      this.hostsStamp = "";
    }
  }
}
