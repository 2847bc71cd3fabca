import { describe, expect, it } from "vitest";
import { DHCPDISCOVER, parseDhcp } from "./dhcp-server.ts";
import { buildDnsAnswer, DNS_TYPE_A, DNS_TYPE_AAAA, parseDnsQuery } from "./dns.ts";

const te = new TextEncoder();
function query(name: string, qtype: number, flags = 0x0100): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...te.encode(l)]);
  return new Uint8Array([0xbe, 0xef, flags >> 8, flags & 0xff, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, qtype, 0, 1]);
}

describe("DNS query parser", () => {
  const rows: Array<[string, Uint8Array, string | undefined]> = [
    ["A query", query("example.com", 1), "example.com"],
    ["AAAA query", query("a.b.c", 28), "a.b.c"],
    ["a response is not a query", query("x.y", 1, 0x8180), undefined],
    [
      "two questions",
      (() => {
        const q = query("x.y", 1);
        q[5] = 2;
        return q;
      })(),
      undefined,
    ],
    [
      "compression pointer in a question",
      new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]),
      undefined,
    ],
    ["label runs past the end", new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 65, 0, 1, 0, 1]), undefined],
    ["no room for type and class", query("x.y", 1).subarray(0, 18), undefined],
  ];
  for (const [name, bytes, want] of rows) {
    it(name, () => {
      expect(parseDnsQuery(bytes)?.name).toBe(want);
    });
  }

  it("answers carry the question, the id and one record per address of the asked type", () => {
    const q = query("example.com", DNS_TYPE_A);
    const p = parseDnsQuery(q)!;
    const a = buildDnsAnswer(q, p, 0, ["93.184.216.34", "::1", "1.2.3.4"]);
    expect([a[0], a[1]]).toEqual([0xbe, 0xef]);
    expect(a[7]).toBe(2); // ANCOUNT: the IPv6 address is not an A record
    const q6 = query("example.com", DNS_TYPE_AAAA);
    const a6 = buildDnsAnswer(q6, parseDnsQuery(q6)!, 0, ["2001:db8::1"]);
    expect(a6[7]).toBe(1);
    expect([...a6.subarray(a6.length - 16)]).toEqual([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
  });
});

describe("DHCP parser", () => {
  function msg(opts: number[]): Uint8Array {
    const b = new Uint8Array(240 + opts.length);
    b.set([1, 1, 6], 0);
    b.set([0x63, 0x82, 0x53, 0x63], 236);
    b.set(opts, 240);
    return b;
  }
  it("reads message type, requested address and server id", () => {
    const r = parseDhcp(msg([53, 1, DHCPDISCOVER, 50, 4, 10, 0, 2, 15, 54, 4, 10, 0, 2, 2, 255]))!;
    expect(r.messageType).toBe(DHCPDISCOVER);
    expect(r.requestedIp).toBe(0x0a00020f);
    expect(r.serverId).toBe(0x0a000202);
  });
  it("rejects truncated options, wrong magic and non-Ethernet hardware", () => {
    expect(parseDhcp(msg([53, 5, 1]))).toBeUndefined();
    const bad = msg([53, 1, 1, 255]);
    bad[236] = 0;
    expect(parseDhcp(bad)).toBeUndefined();
    const tr = msg([53, 1, 1, 255]);
    tr[1] = 6;
    expect(parseDhcp(tr)).toBeUndefined();
    expect(parseDhcp(new Uint8Array(100))).toBeUndefined();
  });
  it("ignores malformed lengths of known options rather than misreading them", () => {
    const r = parseDhcp(msg([53, 2, 1, 1, 50, 3, 1, 2, 3, 255]))!;
    expect(r.messageType).toBeUndefined();
    expect(r.requestedIp).toBeUndefined();
  });
});
