// Just enough DNS (RFC 1035) for the gateway's resolver at 10.0.2.3 when the uplink resolves names itself
// (no upstream server): read the single question of a query and write an answer with A/AAAA records.
// Queries come from the guest: labels, counts and lengths are bounded; compression in a question is
// refused (a query has no reason to use it).

import { get16, parseIp4, parseIp6, set16, set32 } from "../wire/bytes.ts";

export const DNS_PORT = 53;
export const DNS_TYPE_A = 1;
export const DNS_TYPE_AAAA = 28;
export const DNS_CLASS_IN = 1;
export const DNS_RCODE_NOERROR = 0;
export const DNS_RCODE_SERVFAIL = 2;
export const DNS_RCODE_NXDOMAIN = 3;
export const DNS_RCODE_NOTIMP = 4;
const DNS_HLEN = 12;
const MAX_NAME = 255;

export interface DnsQuestion {
  id: number;
  /** Header flags of the query (RD is echoed back). */
  flags: number;
  name: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question, so the reply can copy it verbatim. */
  questionEnd: number;
}

export function parseDnsQuery(b: Uint8Array): DnsQuestion | undefined {
  if (b.length < DNS_HLEN + 5) return undefined;
  const flags = get16(b, 2);
  if (flags & 0x8000) return undefined; // a response, not a query
  if (get16(b, 4) !== 1) return undefined; // exactly one question
  const labels: string[] = [];
  let i = DNS_HLEN;
  let total = 0;
  for (;;) {
    if (i >= b.length) return undefined;
    const len = b[i]!;
    if (len === 0) {
      i++;
      break;
    }
    if (len > 63) return undefined; // a pointer or a reserved label type
    if (i + 1 + len > b.length) return undefined;
    total += len + 1;
    if (total > MAX_NAME) return undefined;
    let label = "";
    for (let j = i + 1; j < i + 1 + len; j++) label += String.fromCharCode(b[j]!);
    labels.push(label);
    i += 1 + len;
  }
  if (i + 4 > b.length) return undefined;
  return {
    id: get16(b, 0),
    flags,
    name: labels.join("."),
    qtype: get16(b, i),
    qclass: get16(b, i + 2),
    questionEnd: i + 4,
  };
}

/** A response to `query` (the raw query bytes) with `addrs` as answers of the question's type. */
export function buildDnsAnswer(query: Uint8Array, q: DnsQuestion, rcode: number, addrs: string[]): Uint8Array {
  const records: Uint8Array[] = [];
  for (const a of addrs) {
    if (q.qtype === DNS_TYPE_A) {
      const v = parseIp4(a);
      if (v === undefined) continue;
      const r = new Uint8Array(4);
      set32(r, 0, v);
      records.push(r);
    } else if (q.qtype === DNS_TYPE_AAAA) {
      const v = parseIp6(a);
      if (v !== undefined) records.push(v);
    }
  }
  const out = new Uint8Array(q.questionEnd + records.length * (12 + 16));
  out.set(query.subarray(0, q.questionEnd));
  // QR, opcode 0, AA=0, RD copied, RA=1.
  set16(out, 2, 0x8000 | (q.flags & 0x0100) | 0x0080 | (rcode & 0xf));
  set16(out, 4, 1);
  set16(out, 6, records.length);
  set16(out, 8, 0);
  set16(out, 10, 0);
  let i = q.questionEnd;
  for (const r of records) {
    set16(out, i, 0xc000 | DNS_HLEN); // name: pointer to the question's
    set16(out, i + 2, q.qtype);
    set16(out, i + 4, DNS_CLASS_IN);
    set32(out, i + 6, 60);
    set16(out, i + 10, r.length);
    out.set(r, i + 12);
    i += 12 + r.length;
  }
  return out.subarray(0, i);
}
