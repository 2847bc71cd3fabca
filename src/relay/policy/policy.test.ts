import { describe, expect, it } from "vitest";
import { parseIpLiteral } from "./ip.ts";
import { checkDestination, classifyAddress, DEFAULT_POLICY, type PolicyConfig, parseAllowRule } from "./policy.ts";

describe("classifyAddress (default deny)", () => {
  const rows: [string, string | null][] = [
    ["0.0.0.0", "this-network"],
    ["0.1.2.3", "this-network"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", null],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "cgnat"],
    ["100.127.255.254", "cgnat"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.169.254", "metadata"],
    ["169.254.1.1", "link-local"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.2.1", "reserved"],
    ["198.18.0.1", "reserved"],
    ["8.8.8.8", null],
    ["93.184.216.34", null],
    // inet_aton spellings of denied addresses
    ["2130706433", "loopback"],
    ["0x7f.1", "loopback"],
    ["017700000001", "loopback"],
    ["0xa9fea9fe", "metadata"],
    ["012.0.0.1", "private"],
    // IPv6
    ["::", "this-network"],
    ["::1", "loopback"],
    ["fd00::1", "unique-local"],
    ["fc00::1", "unique-local"],
    ["fd00:ec2::254", "unique-local"], // AWS IPv6 metadata
    ["fe80::1", "link-local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["::1.2.3.4", "reserved"], // IPv4-compatible
    ["4000::1", "reserved"], // outside 2000::/3
    ["2606:4700::1111", null],
    // IPv6 forms that carry an IPv4 address are judged by it
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:8.8.8.8", null],
    ["::ffff:0:127.0.0.1", "loopback"], // IPv4-translated
    ["64:ff9b::127.0.0.1", "loopback"], // NAT64
    ["64:ff9b::a9fe:a9fe", "metadata"],
    ["64:ff9b::808:808", null],
    ["64:ff9b:1::1", "private"],
    ["2002:7f00:1::1", "loopback"], // 6to4 of 127.0.0.1
    ["2002:0808:0808::1", null],
    ["2001:0:4136:e378::1", "reserved"], // Teredo
  ];
  for (const [addr, want] of rows) {
    it(`${addr} -> ${want ?? "public"}`, () => {
      expect(classifyAddress(parseIpLiteral(addr)!)).toBe(want);
    });
  }
});

describe("parseAllowRule", () => {
  it.each([
    ["127.0.0.1", "cidr"],
    ["10.0.0.0/8", "cidr"],
    ["::1", "cidr"],
    ["localhost:8080", "host-port"],
    ["127.0.0.1:9000", "host-port"],
    ["[::1]:9000", "host-port"],
  ])("%s is %s", (s, kind) => expect(parseAllowRule(s)?.kind).toBe(kind));
  it.each(["", "foo", "host:0", "host:65536", "[nope]:80", "a:b:c", "10.0.0.0/40"])("rejects %j", (s) => {
    expect(parseAllowRule(s)).toBeNull();
  });
});

describe("checkDestination", () => {
  const policy = (allow: string[], denyPorts: number[] = []): PolicyConfig => ({
    allow: allow.map((s) => parseAllowRule(s)!),
    denyPorts: new Set(denyPorts),
  });
  const rows: { name: string; p: PolicyConfig; addr: string; port: number; host?: string; want: string }[] = [
    { name: "public by default", p: DEFAULT_POLICY, addr: "8.8.8.8", port: 53, want: "allowed" },
    { name: "loopback by default", p: DEFAULT_POLICY, addr: "127.0.0.1", port: 80, want: "loopback" },
    { name: "cidr opens loopback", p: policy(["127.0.0.1"]), addr: "127.0.0.1", port: 80, want: "allowed" },
    { name: "cidr is exact", p: policy(["127.0.0.1"]), addr: "127.0.0.2", port: 80, want: "loopback" },
    // a v4 exception does not open the mapped spelling of the same address
    { name: "mapped stays denied", p: policy(["127.0.0.1"]), addr: "::ffff:127.0.0.1", port: 80, want: "loopback" },
    { name: "deny-port", p: policy([], [25]), addr: "8.8.8.8", port: 25, want: "port" },
    { name: "deny-port beats cidr", p: policy(["0.0.0.0/0"], [25]), addr: "8.8.8.8", port: 25, want: "port" },
    { name: "host:port beats deny-port", p: policy(["8.8.8.8:25"], [25]), addr: "8.8.8.8", port: 25, want: "allowed" },
    { name: "host:port other port", p: policy(["127.0.0.1:81"]), addr: "127.0.0.1", port: 80, want: "loopback" },
    {
      name: "host:port by name",
      p: policy(["localhost:80"]),
      addr: "127.0.0.1",
      port: 80,
      host: "localhost",
      want: "allowed",
    },
    {
      name: "host:port by name, other name",
      p: policy(["localhost:80"]),
      addr: "127.0.0.1",
      port: 80,
      host: "evil.example",
      want: "loopback",
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const v = checkDestination(r.p, parseIpLiteral(r.addr)!, r.port, r.host ?? r.addr);
      expect(v.allowed ? "allowed" : v.reason).toBe(r.want);
    });
  }
});
