// A DNS server on 127.0.0.1 for the relay's resolver tests: names in `zone` get their A/AAAA answers, names in
// `nx` get NXDOMAIN, and every other query is swallowed (no answer at all: the server a starvation attack
// needs). It counts what it was asked, so a test can tell a cached answer from a fresh query.

import * as dgram from "node:dgram";
import { once } from "node:events";
import {
  buildDnsAnswer,
  DNS_RCODE_NOERROR,
  DNS_RCODE_NXDOMAIN,
  DNS_TYPE_A,
  DNS_TYPE_AAAA,
  parseDnsQuery,
} from "../../src/net/stack/dns.ts";

export interface DnsTestServer {
  /** "127.0.0.1:PORT", the form --dns-server takes. */
  address: string;
  /** Queries received, by lower-cased name. */
  asked: Map<string, number>;
  /** Queries left unanswered so far. */
  swallowed: number;
  close(): void;
}

export async function dnsTestServer(
  zone: Record<string, string[]> = {},
  nx: string[] = [],
  opts: { delayMs?: number; port?: number } = {},
): Promise<DnsTestServer> {
  const sock = dgram.createSocket("udp4");
  const server: DnsTestServer = { address: "", asked: new Map(), swallowed: 0, close: () => sock.close() };
  sock.on("message", (msg, rinfo) => {
    const q = parseDnsQuery(msg);
    if (!q) return;
    const name = q.name.toLowerCase();
    server.asked.set(name, (server.asked.get(name) ?? 0) + 1);
    const addrs = zone[name];
    let reply: Uint8Array;
    if (addrs) {
      const fam = q.qtype === DNS_TYPE_A ? "." : q.qtype === DNS_TYPE_AAAA ? ":" : "none";
      reply = buildDnsAnswer(
        msg,
        q,
        DNS_RCODE_NOERROR,
        addrs.filter((a) => a.includes(fam)),
      );
    } else if (nx.includes(name)) reply = buildDnsAnswer(msg, q, DNS_RCODE_NXDOMAIN, []);
    else {
      server.swallowed++;
      return;
    }
    const send = () => sock.send(reply, rinfo.port, rinfo.address);
    if (opts.delayMs) setTimeout(send, opts.delayMs);
    else send();
  });
  sock.bind(opts.port ?? 0, "127.0.0.1");
  await once(sock, "listening");
  server.address = `127.0.0.1:${sock.address().port}`;
  return server;
}
