import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checksumUpdate16,
  checksumUpdate32,
  finishChecksum,
  foldSum,
  internetChecksum,
  pseudoHeaderSum4,
  sumBytes,
} from "./checksum.ts";

const hex = (s: string) =>
  Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((h) => Number.parseInt(h, 16)));

describe("internet checksum", () => {
  it.each([
    // RFC 1071 §3 worked example: sum 0xddf2, checksum 0x220d.
    { name: "RFC 1071 example", bytes: "0001 f203 f4f5 f6f7", sum: 0xddf2, csum: 0x220d },
    { name: "odd length pads a zero byte", bytes: "01", sum: 0x0100, csum: 0xfeff },
    { name: "empty", bytes: "", sum: 0, csum: 0xffff },
    { name: "all ones stays 0xffff sum", bytes: "ffff ffff", sum: 0xffff, csum: 0 },
  ])("$name", ({ bytes, sum, csum }) => {
    const b = hex(bytes);
    expect(foldSum(sumBytes(b, 0, b.length))).toBe(sum);
    expect(internetChecksum(b, 0, b.length)).toBe(csum);
  });

  it("verifies a known IPv4 header (Wikipedia's 192.168.0.1 > 192.168.0.199, checksum b861)", () => {
    const h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    expect(internetChecksum(h, 0, 20)).toBe(0);
    h[10] = 0;
    h[11] = 0;
    expect(internetChecksum(h, 0, 20)).toBe(0xb861);
  });

  it("verifies a known UDP/IPv4 packet (DNS query shaped like a Linux resolver)", () => {
    // 10.0.2.15:40000 > 10.0.2.3:53, "example.com A", checksums from an independent Python sum.
    const ip = hex("4500 0039 1234 0000 4011 506f 0a00 020f 0a00 0203");
    const udp = hex("9c40 0035 0025 cfe1 abcd 0100 0001 0000 0000 0000 0765 7861 6d70 6c65 0363 6f6d 0000 0100 01");
    expect(internetChecksum(ip, 0, 20)).toBe(0);
    const ps = pseudoHeaderSum4(ip, 12, 16, 17, udp.length);
    expect(internetChecksum(udp, 0, udp.length, ps)).toBe(0);
  });

  it("large buffers fold without losing precision", () => {
    const b = new Uint8Array(200_000).fill(0xff);
    expect(internetChecksum(b, 0, b.length)).toBe(0);
  });

  it("incremental update (RFC 1624) equals recomputation", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 64 }),
        fc.nat(9),
        fc.integer({ min: 0, max: 0xffff }),
        (d, w, nv) => {
          const b = Uint8Array.from(d.length % 2 ? [...d, 0] : d);
          const before = internetChecksum(b, 0, b.length);
          const old = (b[2 * w]! << 8) | b[2 * w + 1]!;
          b[2 * w] = nv >>> 8;
          b[2 * w + 1] = nv & 0xff;
          const after = internetChecksum(b, 0, b.length);
          const inc = checksumUpdate16(before, old, nv);
          // 0x0000 and 0xffff are the same value in ones' complement.
          expect(inc === after || (inc ^ after) === 0xffff).toBe(true);
        },
      ),
    );
  });

  it("incremental 32-bit update", () => {
    const b = hex("0a00 020f 0a00 0203 1122 3344");
    const before = internetChecksum(b, 0, b.length);
    b.set([0xc0, 0xa8, 0x01, 0x02], 0);
    expect(checksumUpdate32(before, 0x0a00020f, 0xc0a80102)).toBe(internetChecksum(b, 0, b.length));
    expect(finishChecksum(0x1fffe)).toBe(0);
  });
});
