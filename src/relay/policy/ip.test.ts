import { describe, expect, it } from "vitest";
import { cidr, cidrContains, formatIp, looksNumeric, parseCidr, parseIpLiteral } from "./ip.ts";

describe("parseIpLiteral", () => {
  // Every spelling a resolver would turn into the same address must parse to it.
  const rows: [string, string | null][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"], // inet_aton a.b form
    ["127.0.1", "127.0.0.1"], // a.b.c form
    ["2130706433", "127.0.0.1"], // one decimal number
    ["0x7f000001", "127.0.0.1"], // one hex number
    ["0X7F.0.0.1", "127.0.0.1"], // hex part, upper case
    ["017700000001", "127.0.0.1"], // one octal number
    ["0177.0.0.01", "127.0.0.1"], // octal parts
    ["0x7f.1", "127.0.0.1"],
    ["0xa9.0xfe.0xa9.0xfe", "169.254.169.254"],
    ["2852039166", "169.254.169.254"],
    ["00000000000000000000012.0.0.1", "10.0.0.1"], // long octal with leading zeros
    ["256.0.0.1", null],
    ["1.2.3.4.5", null],
    ["4294967296", null], // 2^32
    ["08.0.0.1", null], // 8 is not an octal digit
    ["1..2", null],
    ["example.com", null],
    ["::1", "::1"],
    ["[::1]", "::1"],
    ["::", "::"],
    ["::ffff:127.0.0.1", "::ffff:7f00:1"],
    ["[::ffff:7f00:1]", "::ffff:7f00:1"],
    ["64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe"],
    ["64:ff9b::169.254.169.254", "64:ff9b::a9fe:a9fe"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["fe80::1%eth0", null], // zone ids are refused outright
    ["1:2:3:4:5:6:7:8:9", null],
    ["1::2::3", null],
    ["::ffff:1.2.3", null],
    ["12345::", null],
  ];
  for (const [input, want] of rows) {
    it(`${input} -> ${want}`, () => {
      const a = parseIpLiteral(input);
      expect(a ? formatIp(a) : null).toBe(want);
    });
  }
});

describe("looksNumeric", () => {
  it.each([
    ["1.2.3.999", true],
    ["0x1", true],
    ["foo.123", true],
    ["example.com", false],
    ["1.2.3.4x", false],
  ])("%s -> %s", (s, want) => expect(looksNumeric(s)).toBe(want));
});

describe("cidr", () => {
  it.each([
    ["10.0.0.0/8", "10.255.1.2", true],
    ["10.0.0.0/8", "11.0.0.0", false],
    ["100.64.0.0/10", "100.127.255.255", true],
    ["100.64.0.0/10", "100.128.0.0", false],
    ["fe80::/10", "febf::1", true],
    ["fe80::/10", "fec0::1", false],
    ["127.0.0.1", "127.0.0.1", true],
    ["127.0.0.1", "127.0.0.2", false],
    ["0.0.0.0/0", "8.8.8.8", true],
    ["0.0.0.0/0", "::1", false], // families never match each other
  ])("%s contains %s: %s", (c, a, want) => {
    expect(cidrContains(cidr(c), parseIpLiteral(a)!)).toBe(want);
  });
  it.each(["10.0.0.0/33", "::/129", "10.0.0.0/", "x/8", "10.0.0.0/-1"])("rejects %s", (s) => {
    expect(parseCidr(s)).toBeNull();
  });
});
