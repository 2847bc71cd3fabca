import { describe, expect, it } from "vitest";
import { PROXY_V2_MAX_LENGTH, PROXY_V2_SIGNATURE, parseProxyHeader } from "./proxy-protocol.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

/** A version 2 header: command (0 LOCAL, 1 PROXY), family/protocol byte, then the address block and TLVs. */
function v2(command: number, famProto: number, body: number[]): Uint8Array {
  const b = new Uint8Array(16 + body.length);
  b.set(PROXY_V2_SIGNATURE, 0);
  b[12] = 0x20 | command;
  b[13] = famProto;
  b[14] = body.length >> 8;
  b[15] = body.length & 0xff;
  b.set(body, 16);
  return b;
}

const V4_BLOCK = [198, 51, 100, 7, 127, 0, 0, 1, 0xc3, 0x50, 0x1f, 0x90]; // 198.51.100.7:50000 -> 127.0.0.1:8080
const V6_SRC = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07];
const V6_BLOCK = [...V6_SRC, ...new Array(15).fill(0), 1, 0xc3, 0x50, 0x1f, 0x90];

describe("parseProxyHeader", () => {
  it.each([
    // name, bytes, expected
    [
      "v1 TCP4",
      ascii("PROXY TCP4 198.51.100.7 127.0.0.1 50000 8080\r\nGET"),
      { version: 1, length: 46, source: "198.51.100.7" },
    ],
    ["v1 TCP6", ascii("PROXY TCP6 2001:db8::7 ::1 50000 8080\r\n"), { version: 1, length: 39, source: "2001:db8::7" }],
    ["v1 UNKNOWN", ascii("PROXY UNKNOWN\r\nGET /"), { version: 1, length: 15, source: null }],
    ["v1 UNKNOWN with addresses", ascii("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"), { version: 1, length: 31, source: null }],
    ["v2 PROXY TCP4", v2(1, 0x11, V4_BLOCK), { version: 2, length: 28, source: "198.51.100.7" }],
    ["v2 PROXY TCP6", v2(1, 0x21, V6_BLOCK), { version: 2, length: 52, source: "2001:db8::7" }],
    ["v2 PROXY UDP4", v2(1, 0x12, V4_BLOCK), { version: 2, length: 28, source: "198.51.100.7" }],
    ["v2 with a TLV after the addresses", v2(1, 0x11, [...V4_BLOCK, 0x04, 0, 1, 0]), { version: 2, length: 32 }],
    ["v2 LOCAL (a health check)", v2(0, 0x00, []), { version: 2, length: 16, source: null }],
    ["v2 LOCAL with addresses", v2(0, 0x11, V4_BLOCK), { version: 2, length: 28, source: null }],
    ["v2 UNSPEC", v2(1, 0x00, []), { version: 2, length: 16, source: null }],
    ["v2 AF_UNIX", v2(1, 0x31, new Array(216).fill(0)), { version: 2, length: 232, source: null }],
  ] as const)("%s", (_name, bytes, want) => {
    expect(parseProxyHeader(bytes)).toMatchObject({ kind: "header", ...want });
  });

  it.each([
    ["an HTTP request", ascii("GET / HTTP/1.1\r\n"), "no-header"],
    ["lower case", ascii("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), "no-header"],
    ["v1 without CR", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "v1-no-crlf"],
    ["v1 too long", ascii(`PROXY TCP4 ${"1".repeat(120)}`), "v1-too-long"],
    ["v1 unknown protocol", ascii("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), "v1-fields"],
    ["v1 missing port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), "v1-fields"],
    ["v1 inet_aton spelling", ascii("PROXY TCP4 127.1 5.6.7.8 1 2\r\n"), "v1-address"],
    ["v1 family mismatch", ascii("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), "v1-address"],
    ["v1 a name", ascii("PROXY TCP4 example.com 5.6.7.8 1 2\r\n"), "v1-address"],
    ["v1 port out of range", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), "v1-port"],
    ["v1 port with a sign", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), "v1-port"],
    [
      "v2 version 1",
      (() => {
        const b = v2(1, 0x11, V4_BLOCK);
        b[12] = 0x11;
        return b;
      })(),
      "v2-version",
    ],
    ["v2 command 2", v2(2, 0x11, V4_BLOCK), "v2-command"],
    ["v2 TCP4 with a short block", v2(1, 0x11, V4_BLOCK.slice(0, 8)), "v2-short-address"],
    ["v2 TCP6 with a v4 block", v2(1, 0x21, V4_BLOCK), "v2-short-address"],
    ["v2 longer than we buffer", v2(1, 0x11, new Array(PROXY_V2_MAX_LENGTH + 1).fill(0)), "v2-too-long"],
  ] as const)("refuses %s", (_name, bytes, why) => {
    expect(parseProxyHeader(bytes)).toEqual({ kind: "invalid", why });
  });

  it("asks for more bytes at every cut of a valid header, and decides at the whole", () => {
    for (const whole of [ascii("PROXY TCP4 198.51.100.7 127.0.0.1 50000 8080\r\n"), v2(1, 0x11, V4_BLOCK)]) {
      for (let cut = 0; cut < whole.length; cut++)
        expect(parseProxyHeader(whole.subarray(0, cut)).kind).toBe("partial");
      expect(parseProxyHeader(whole)).toMatchObject({ kind: "header", source: "198.51.100.7" });
    }
  });

  it("seeded fuzz: any bytes give a bounded answer (a header within them, or partial only while short)", () => {
    let seed = 0x16_2026;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    };
    const bases = [
      ascii("PROXY TCP4 198.51.100.7 127.0.0.1 50000 8080\r\n"),
      v2(1, 0x11, V4_BLOCK),
      v2(1, 0x21, V6_BLOCK),
    ];
    for (let i = 0; i < 5000; i++) {
      const b = Uint8Array.from(bases[i % bases.length]!);
      const flips = 1 + (rand() % 4);
      for (let k = 0; k < flips; k++) b[rand() % b.length] = rand() & 0xff;
      const cut = b.subarray(0, rand() % (b.length + 1));
      const r = parseProxyHeader(cut);
      try {
        if (r.kind === "header") {
          expect(r.length).toBeLessThanOrEqual(cut.length);
          if (r.source !== null) expect(r.source).toMatch(/^[0-9a-f.:]+$/);
        }
        if (r.kind === "partial") expect(cut.length).toBeLessThan(16 + PROXY_V2_MAX_LENGTH);
      } catch (e) {
        throw new Error(`seed state ${seed}, case ${i}: ${(e as Error).message}`);
      }
    }
  });
});
