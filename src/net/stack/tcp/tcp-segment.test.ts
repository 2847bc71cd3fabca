import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeTcpOptions, parseTcpOptions, type TcpOptions, tcpOptionsLength } from "./tcp-segment.ts";
import { seqGt, seqLt } from "./tcp-seq.ts";

describe("TCP options codec", () => {
  const rows: Array<[string, TcpOptions]> = [
    ["SYN as Linux sends it", { mss: 1460, sackPermitted: true, tsVal: 123, tsEcr: 0, wscale: 7 }],
    ["SYN without timestamps", { mss: 536, sackPermitted: true, wscale: 0 }],
    [
      "ACK with timestamp and two SACK blocks",
      {
        tsVal: 1,
        tsEcr: 2,
        sack: [
          [10, 20],
          [30, 40],
        ],
      },
    ],
    [
      "ACK with four SACK blocks",
      {
        sack: [
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
        ],
      },
    ],
    ["nothing", {}],
  ];
  for (const [name, o] of rows) {
    it(`encode → decode: ${name}`, () => {
      const b = new Uint8Array(40);
      const n = encodeTcpOptions(b, 0, o);
      expect(n).toBe(tcpOptionsLength(o));
      expect(n % 4).toBe(0);
      expect(n).toBeLessThanOrEqual(40);
      expect(parseTcpOptions(b, 0, n)).toEqual(o);
    });
  }

  it("property: any option set within 40 bytes round-trips", () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(
        fc.record(
          {
            mss: fc.integer({ min: 0, max: 0xffff }),
            wscale: fc.integer({ min: 0, max: 14 }),
            sackPermitted: fc.constant(true),
            tsVal: u32,
            tsEcr: u32,
            sack: fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: 3 }),
          },
          { requiredKeys: [] },
        ),
        (o0) => {
          const o: TcpOptions = { ...o0 };
          if (o.tsEcr !== undefined && o.tsVal === undefined) delete o.tsEcr;
          if (o.tsVal !== undefined && o.tsEcr === undefined) o.tsEcr = 0;
          if (tcpOptionsLength(o) > 40) return;
          const b = new Uint8Array(40);
          const n = encodeTcpOptions(b, 0, o);
          expect(parseTcpOptions(b, 0, n)).toEqual(o);
        },
      ),
    );
  });

  it("stops at malformed lengths and clamps a window shift above 14", () => {
    expect(parseTcpOptions(new Uint8Array([2, 4, 5, 0xb4, 3, 3, 20]), 0, 7)).toEqual({ mss: 1460, wscale: 14 });
    expect(parseTcpOptions(new Uint8Array([2, 0, 1, 1]), 0, 4)).toEqual({});
    expect(parseTcpOptions(new Uint8Array([2, 40, 1, 1]), 0, 4)).toEqual({});
    expect(parseTcpOptions(new Uint8Array([1, 1, 8, 10, 0, 0]), 0, 6)).toEqual({});
  });
});

describe("sequence arithmetic", () => {
  it("compares across the 2^32 wrap", () => {
    expect(seqLt(0xfffffff0, 5)).toBe(true);
    expect(seqGt(5, 0xfffffff0)).toBe(true);
    expect(seqLt(5, 5)).toBe(false);
  });
});
