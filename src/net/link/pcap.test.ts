import { describe, expect, it } from "vitest";
import { tcp4Packet } from "../../testing/net-packets.ts";
import { gsoComment, PcapWriter } from "./pcap.ts";

const A = { ip: "10.0.2.15", port: 1 };
const B = { ip: "10.0.2.2", port: 2 };

function capture(format: "pcap" | "pcapng") {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((c) => chunks.push(c), { format, nowMicros: () => 1_700_000_000_123_456 });
  w.write(tcp4Packet(A, B, 0, 5, 1), "tx");
  w.write(tcp4Packet(B, A, 0, 6, 1), "rx", {
    type: 1,
    gsoSize: 3,
    hdrLen: 54,
    needsCsum: true,
    csumStart: 34,
    csumOffset: 16,
  });
  return chunks;
}

describe("pcap writers", () => {
  it("classic pcap: header then 16-byte record headers", () => {
    const c = capture("pcap");
    const dv = new DataView(c[0]!.buffer);
    expect(dv.getUint32(0, true)).toBe(0xa1b2c3d4);
    expect(dv.getUint32(20, true)).toBe(1);
    const r = new DataView(c[1]!.buffer);
    expect([r.getUint32(0, true), r.getUint32(4, true), r.getUint32(8, true)]).toEqual([1_700_000_000, 123_456, 59]);
  });
  it("pcapng: blocks are 4-aligned and their two length fields agree", () => {
    for (const b of capture("pcapng")) {
      let off = 0;
      const dv = new DataView(b.buffer);
      while (off < b.length) {
        const len = dv.getUint32(off + 4, true);
        expect(len % 4).toBe(0);
        expect(dv.getUint32(off + len - 4, true)).toBe(len);
        off += len;
      }
      expect(off).toBe(b.length);
    }
  });
  it("comments name the offload", () => {
    expect(gsoComment(undefined)).toBeUndefined();
    expect(gsoComment({ type: 4, gsoSize: 1428, hdrLen: 74, needsCsum: true, csumStart: 54, csumOffset: 16 })).toBe(
      "superpacket gso TCPV6 gso_size=1428; partial checksum csum_start=54 csum_offset=16",
    );
  });
});
