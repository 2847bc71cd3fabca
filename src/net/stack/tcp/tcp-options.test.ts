// The one TCP option parser (wire/tcp.ts parseTcpOptions) and the stack's view of it (tcp-segment.ts
// parseTcpOptions), row by row over well-formed and malformed option areas. It lives on the stack side because
// it imports both layers (src/net/wire does not import from src/net/stack).

import { describe, expect, it } from "vitest";
import { parseTcpOptions, type TcpOptions } from "../../wire/tcp.ts";
import { parseTcpOptions as parseSegmentOptions, type TcpOptions as SegmentOptions } from "./tcp-segment.ts";

const MSS_1460 = [2, 4, 0x05, 0xb4];
const TS_1_2 = [8, 10, 0, 0, 0, 1, 0, 0, 0, 2];

interface Row {
  name: string;
  bytes: number[];
  wire: TcpOptions;
  /** What the stack sees, when it is not just the wire result renamed. */
  segment: SegmentOptions;
}

const rows: Row[] = [
  { name: "empty area", bytes: [], wire: {}, segment: {} },
  { name: "only NOPs", bytes: [1, 1, 1, 1], wire: {}, segment: {} },
  { name: "EOL first ends the walk", bytes: [0, ...MSS_1460], wire: {}, segment: {} },
  {
    name: "EOL after MSS: the rest is padding",
    bytes: [...MSS_1460, 0, 3, 3, 7],
    wire: { mss: 1460 },
    segment: { mss: 1460 },
  },
  { name: "NOP before MSS", bytes: [1, ...MSS_1460], wire: { mss: 1460 }, segment: { mss: 1460 } },
  { name: "kind with no length byte", bytes: [...MSS_1460, 3], wire: { mss: 1460 }, segment: { mss: 1460 } },
  { name: "zero length stops (no endless loop)", bytes: [2, 0, 5, 0xb4], wire: {}, segment: {} },
  { name: "length 1 stops", bytes: [3, 1, 3, 3, 7], wire: {}, segment: {} },
  { name: "length past the area stops", bytes: [2, 40, 1, 1], wire: {}, segment: {} },
  { name: "timestamp one byte short", bytes: [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0], wire: {}, segment: {} },
  {
    name: "truncated option after a good one keeps the good one",
    bytes: [...MSS_1460, 8, 10, 0, 0, 0],
    wire: { mss: 1460 },
    segment: { mss: 1460 },
  },
  {
    name: "unknown kind is skipped by its length",
    bytes: [30, 4, 0xaa, 0xbb, ...MSS_1460],
    wire: { mss: 1460 },
    segment: { mss: 1460 },
  },
  {
    name: "unknown kind of length 2",
    bytes: [254, 2, 4, 2],
    wire: { sackPermitted: true },
    segment: { sackPermitted: true },
  },
  {
    name: "MSS with the wrong length is skipped",
    bytes: [2, 3, 5, 3, 3, 7],
    wire: { windowScale: 7 },
    segment: { wscale: 7 },
  },
  {
    name: "window scale with the wrong length is skipped",
    bytes: [3, 4, 7, 0, ...MSS_1460],
    wire: { mss: 1460 },
    segment: { mss: 1460 },
  },
  {
    name: "window shift above 14 (the stack clamps)",
    bytes: [3, 3, 20],
    wire: { windowScale: 20 },
    segment: { wscale: 14 },
  },
  { name: "window shift 14", bytes: [1, 3, 3, 14], wire: { windowScale: 14 }, segment: { wscale: 14 } },
  { name: "SACK-permitted with the wrong length is skipped", bytes: [4, 3, 0, 1], wire: {}, segment: {} },
  { name: "timestamps with the wrong length are skipped", bytes: [8, 6, 0, 0, 0, 1], wire: {}, segment: {} },
  { name: "timestamps", bytes: [1, 1, ...TS_1_2], wire: { timestamp: [1, 2] }, segment: { tsVal: 1, tsEcr: 2 } },
  {
    name: "timestamps at the u32 top",
    bytes: [8, 10, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0],
    wire: { timestamp: [0xffffffff, 0x80000000] },
    segment: { tsVal: 0xffffffff, tsEcr: 0x80000000 },
  },
  {
    name: "SACK, one block",
    bytes: [5, 10, 0, 0, 0, 1, 0, 0, 0, 2],
    wire: { sack: [[1, 2]] },
    segment: { sack: [[1, 2]] },
  },
  {
    name: "SACK, two blocks",
    bytes: [1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4],
    wire: {
      sack: [
        [1, 2],
        [3, 4],
      ],
    },
    segment: {
      sack: [
        [1, 2],
        [3, 4],
      ],
    },
  },
  { name: "SACK with no blocks is skipped", bytes: [5, 2, ...MSS_1460], wire: { mss: 1460 }, segment: { mss: 1460 } },
  {
    name: "SACK with no blocks does not erase an earlier SACK",
    bytes: [5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 2],
    wire: { sack: [[1, 2]] },
    segment: { sack: [[1, 2]] },
  },
  { name: "SACK with a partial block is skipped", bytes: [5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1], wire: {}, segment: {} },
  {
    name: "a repeated option: the last wins",
    bytes: [...MSS_1460, 2, 4, 0x02, 0x18],
    wire: { mss: 536 },
    segment: { mss: 536 },
  },
  {
    name: "a SYN as Linux sends it",
    bytes: [...MSS_1460, 4, 2, ...TS_1_2, 1, 3, 3, 7],
    wire: { mss: 1460, sackPermitted: true, timestamp: [1, 2], windowScale: 7 },
    segment: { mss: 1460, sackPermitted: true, tsVal: 1, tsEcr: 2, wscale: 7 },
  },
];

describe("TCP option parser (shared by the wire codec and the stack)", () => {
  for (const r of rows) {
    it(r.name, () => {
      const b = Uint8Array.from(r.bytes);
      expect(parseTcpOptions(b)).toEqual(r.wire);
      expect(parseSegmentOptions(b, 0, b.length)).toEqual(r.segment);
      // The same bytes inside a larger buffer, between other bytes that would parse: only the area counts.
      const framed = Uint8Array.from([...MSS_1460, ...r.bytes, 3, 3, 9]);
      expect(parseTcpOptions(framed, 4, b.length)).toEqual(r.wire);
      expect(parseSegmentOptions(framed, 4, b.length)).toEqual(r.segment);
    });
  }

  it("clamps the area to the buffer, and an empty or negative length parses nothing", () => {
    const b = Uint8Array.from([1, ...MSS_1460]);
    expect(parseTcpOptions(b, 1, 100)).toEqual({ mss: 1460 });
    expect(parseSegmentOptions(b, 1, 100)).toEqual({ mss: 1460 });
    expect(parseTcpOptions(b, 1, 0)).toEqual({});
    expect(parseSegmentOptions(b, 1, -3)).toEqual({});
    expect(parseSegmentOptions(b, 9, 4)).toEqual({});
  });

  it("the stack's keys follow the order of the options in the bytes", () => {
    const b = Uint8Array.from([1, 3, 3, 7, ...TS_1_2, 4, 2, ...MSS_1460]);
    expect(Object.keys(parseSegmentOptions(b, 0, b.length))).toEqual([
      "wscale",
      "tsVal",
      "tsEcr",
      "sackPermitted",
      "mss",
    ]);
  });
});
