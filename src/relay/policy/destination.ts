// Turns a client's (hostname, port) into the one address the relay will connect to, or a refusal.
// The name is resolved once here and the checked address is what the socket connects to, so a DNS
// answer that changes between check and connect (rebinding) has nothing to change.

import { formatIp, type IpAddress, looksNumeric, parseIpLiteral } from "./ip.ts";
import { checkDestination, type DenyReason, type PolicyConfig } from "./policy.ts";

/** Resolves a name to address strings (resolver.ts; tests inject their own). */
export type Lookup = (host: string) => Promise<string[]>;

/** Thrown by a lookup when its client (or the relay) has too many lookups in flight (resolver.ts). */
export class LookupBusyError extends Error {
  /** The cap that was full: "client", "address", "domain", "relay"; undefined when the client is gone. */
  constructor(readonly cap?: string) {
    super(cap ? `too many name lookups in flight (${cap})` : "too many name lookups in flight");
  }
}

/** Thrown by a lookup that no server answered in time. */
export class LookupTimeoutError extends Error {
  constructor() {
    super("name lookup timed out");
  }
}

export type Destination =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; error: "invalid" }
  | { ok: false; error: "unreachable" }
  | { ok: false; error: "timeout" }
  | { ok: false; error: "busy" }
  | { ok: false; error: "blocked"; reason: DenyReason };

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A DNS name a resolver can be asked about safely (letters, digits, '-', '_', dots; no empty labels). */
export function isValidHostname(host: string): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((l) => LABEL.test(l));
}

function timeout(ms: number): { promise: Promise<"timeout">; cancel: () => void } {
  let t: NodeJS.Timeout | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    t = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, cancel: () => clearTimeout(t) };
}

export async function resolveDestination(
  policy: PolicyConfig,
  hostname: string,
  port: number,
  lookup: Lookup,
  lookupTimeoutMs: number,
): Promise<Destination> {
  const host = hostname.toLowerCase();
  let candidates: IpAddress[];
  const literal = parseIpLiteral(host);
  if (literal) {
    candidates = [literal];
  } else {
    if (looksNumeric(host) || !isValidHostname(host)) return { ok: false, error: "invalid" };
    const t = timeout(lookupTimeoutMs);
    let answer: string[] | "timeout";
    try {
      answer = await Promise.race([lookup(host), t.promise]);
    } catch (err) {
      const error =
        err instanceof LookupBusyError ? "busy" : err instanceof LookupTimeoutError ? "timeout" : "unreachable";
      return { ok: false, error };
    } finally {
      t.cancel();
    }
    if (answer === "timeout") return { ok: false, error: "timeout" };
    candidates = [];
    for (const a of answer) {
      const ip = parseIpLiteral(a);
      if (ip) candidates.push(ip);
    }
    if (candidates.length === 0) return { ok: false, error: "unreachable" };
  }
  // Every answer must pass: an attacker's zone can mix a public record with 127.0.0.1, and which one a
  // client library would pick is not ours to guess.
  for (const c of candidates) {
    const v = checkDestination(policy, c, port, host);
    if (!v.allowed) return { ok: false, error: "blocked", reason: v.reason };
  }
  // IPv4 first when a name has both: many hosts running a relay have no IPv6 route, and we make one
  // attempt only (the address we checked), with no fallback to another answer.
  const first = candidates.find((c) => c.family === 4) ?? candidates[0]!;
  return { ok: true, address: formatIp(first), family: first.family };
}
