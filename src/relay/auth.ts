// Who may open a WebSocket: a shared token (query `?token=` or a `Sec-WebSocket-Protocol` entry
// `vireo-token.<token>`, since browsers cannot set other headers on a WebSocket) and, for browsers, an
// Origin on the allow-list — the Origin check stops any web page a user visits from driving a relay on
// their machine (cross-site WebSocket hijacking). Pure functions over the request's headers.

import { createHash, timingSafeEqual } from "node:crypto";

export const TOKEN_SUBPROTOCOL_PREFIX = "vireo-token.";

export interface AuthConfig {
  /** Accepted tokens; empty with `noAuth` false means nobody gets in. */
  tokens: string[];
  noAuth: boolean;
  /** Exact origins ("http://127.0.0.1:5173"), or "*" for any. Empty = loopback origins only. */
  origins: string[];
}

export type AuthVerdict = { ok: true; protocol: string | null } | { ok: false; status: 401 | 403; reason: string };

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** Compares digests so the time taken says nothing about how much of a token matched. */
export function tokenMatches(candidate: string, tokens: string[]): boolean {
  const d = digest(candidate);
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(d, digest(t)) || ok;
  return ok;
}

/**
 * A `?token=` value. Wisp clients insist that the URL ends in "/" (wisp-js 0.5 refuses any other), so the token
 * may arrive as `?token=T/` (or with a separate `&/`, which needs nothing here): one trailing "/" is forgiven.
 */
function queryTokenMatches(value: string, tokens: string[]): boolean {
  return tokenMatches(value, tokens) || (value.endsWith("/") && tokenMatches(value.slice(0, -1), tokens));
}

/** Splits a Sec-WebSocket-Protocol header the way RFC 6455 §4.1 lists them (comma separated tokens). */
export function offeredProtocols(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .slice(0, 16);
}

const LOOPBACK_ORIGIN = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?$/;

export function originAllowed(origin: string | undefined, allowed: string[]): boolean {
  // Non-browser clients send no Origin and could forge any; the check exists for browsers, which always send it.
  if (origin === undefined) return true;
  if (allowed.includes("*")) return true;
  if (allowed.length === 0) return LOOPBACK_ORIGIN.test(origin);
  return allowed.includes(origin);
}

/**
 * Decides an upgrade. The chosen subprotocol must be echoed (browsers fail a handshake that offered
 * protocols and got none back): a non-token protocol the client offered if any, else its token entry.
 */
export function authorize(
  config: AuthConfig,
  url: URL,
  protocolHeader: string | undefined,
  origin: string | undefined,
): AuthVerdict {
  if (!originAllowed(origin, config.origins)) return { ok: false, status: 403, reason: "origin" };
  const offered = offeredProtocols(protocolHeader);
  const other = offered.find((p) => !p.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) ?? null;
  if (config.noAuth) return { ok: true, protocol: other ?? offered[0] ?? null };
  const fromQuery = url.searchParams.get("token");
  if (fromQuery !== null && queryTokenMatches(fromQuery, config.tokens)) return { ok: true, protocol: other };
  for (const p of offered) {
    if (p.startsWith(TOKEN_SUBPROTOCOL_PREFIX) && tokenMatches(p.slice(TOKEN_SUBPROTOCOL_PREFIX.length), config.tokens))
      return { ok: true, protocol: other ?? p };
  }
  return { ok: false, status: 401, reason: fromQuery !== null || offered.length > 0 ? "bad-token" : "no-token" };
}
