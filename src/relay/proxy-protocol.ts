// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a load balancer that does not speak
// HTTP to its backends for them (or that is told to) opens each connection with one header naming the client's
// address, before the client's own bytes. The relay reads it only from --trust-proxy peers and only with
// --proxy-protocol (server.ts); from anyone else those bytes are not a header but a malformed request.
// The header is peer-controlled input: every length and field is checked, and it is bounded.

import { formatIp, parseIpLiteral } from "./policy/ip.ts";

/** "\r\n\r\n\0\r\nQUIT\n": the 12 bytes that open a version 2 header (section 2.2). */
export const PROXY_V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
/** A version 1 line is at most 107 bytes, CRLF included (section 2.1). */
const V1_MAX = 107;
/** Fixed part of a version 2 header: signature, version/command, family/protocol, length. */
const V2_FIXED = 16;
/** TLVs after the addresses are allowed; this bounds what one connection can make us buffer. */
export const PROXY_V2_MAX_LENGTH = 1024;
const V1_PREFIX = "PROXY ";

export type ProxyHeader =
  /** More bytes are needed to decide. */
  | { kind: "partial" }
  | { kind: "invalid"; why: string }
  /**
   * `length` bytes are the header; `source` is the client's address, or null when the header carries none
   * (v1 UNKNOWN, v2 LOCAL such as a balancer's own health check, or an address family other than IP).
   */
  | { kind: "header"; version: 1 | 2; length: number; source: string | null };

function ipString(b: Uint8Array): string {
  return formatIp(b.length === 4 ? { family: 4, bytes: b } : { family: 6, bytes: b });
}

function parseV1(b: Uint8Array): ProxyHeader {
  const end = b.subarray(0, V1_MAX).indexOf(0x0a);
  if (end < 0) return b.length >= V1_MAX ? { kind: "invalid", why: "v1-too-long" } : { kind: "partial" };
  if (end < 1 || b[end - 1] !== 0x0d) return { kind: "invalid", why: "v1-no-crlf" };
  const line = Buffer.from(b.buffer, b.byteOffset, end - 1).toString("latin1");
  const f = line.split(" ");
  if (f[1] === "UNKNOWN") return { kind: "header", version: 1, length: end + 1, source: null };
  if (f.length !== 6 || (f[1] !== "TCP4" && f[1] !== "TCP6")) return { kind: "invalid", why: "v1-fields" };
  const family = f[1] === "TCP4" ? 4 : 6;
  const src = /^[0-9A-Fa-f:.]+$/.test(f[2]!) ? parseIpLiteral(f[2]!) : null;
  const dst = /^[0-9A-Fa-f:.]+$/.test(f[3]!) ? parseIpLiteral(f[3]!) : null;
  const port = (p: string) => /^(0|[1-9][0-9]{0,4})$/.test(p) && Number(p) <= 65535;
  // inet_aton's spellings ("127.1") are not what the protocol allows: a dotted quad or an IPv6 literal.
  const strict = family === 4 ? /^\d{1,3}(\.\d{1,3}){3}$/ : /:/;
  if (!src || !dst || src.family !== family || dst.family !== family || !strict.test(f[2]!) || !strict.test(f[3]!))
    return { kind: "invalid", why: "v1-address" };
  if (!port(f[4]!) || !port(f[5]!)) return { kind: "invalid", why: "v1-port" };
  return { kind: "header", version: 1, length: end + 1, source: formatIp(src) };
}

function parseV2(b: Uint8Array): ProxyHeader {
  if (b.length < V2_FIXED) return { kind: "partial" };
  const verCmd = b[12]!;
  if (verCmd >> 4 !== 2) return { kind: "invalid", why: "v2-version" };
  const command = verCmd & 0x0f;
  if (command > 1) return { kind: "invalid", why: "v2-command" };
  const famProto = b[13]!;
  const len = (b[14]! << 8) | b[15]!;
  if (len > PROXY_V2_MAX_LENGTH) return { kind: "invalid", why: "v2-too-long" };
  if (b.length < V2_FIXED + len) return { kind: "partial" };
  const length = V2_FIXED + len;
  // LOCAL: the balancer's own connection (health checks); the addresses, if any, are to be ignored.
  if (command === 0) return { kind: "header", version: 2, length, source: null };
  const family = famProto >> 4;
  const addrLen = family === 1 ? 4 : family === 2 ? 16 : 0;
  // UNSPEC or AF_UNIX: a header without an IP address to use.
  if (addrLen === 0) return { kind: "header", version: 2, length, source: null };
  if (len < 2 * addrLen + 4) return { kind: "invalid", why: "v2-short-address" };
  return { kind: "header", version: 2, length, source: ipString(b.slice(V2_FIXED, V2_FIXED + addrLen)) };
}

/** Reads a PROXY header (v1 or v2) at the start of what a connection sent so far. */
export function parseProxyHeader(b: Uint8Array): ProxyHeader {
  const n = Math.min(b.length, PROXY_V2_SIGNATURE.length);
  let v2 = true;
  for (let i = 0; i < n; i++) if (b[i] !== PROXY_V2_SIGNATURE[i]) v2 = false;
  if (v2) return n < PROXY_V2_SIGNATURE.length ? { kind: "partial" } : parseV2(b);
  const m = Math.min(b.length, V1_PREFIX.length);
  for (let i = 0; i < m; i++) if (b[i] !== V1_PREFIX.charCodeAt(i)) return { kind: "invalid", why: "no-header" };
  return m < V1_PREFIX.length ? { kind: "partial" } : parseV1(b);
}
