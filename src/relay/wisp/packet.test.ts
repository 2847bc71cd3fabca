import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  encodeClose,
  encodeConnect,
  encodeContinue,
  encodeData,
  PACKET_CONNECT,
  parseWispPacket,
  STREAM_TYPE_UDP,
  WISP_HEADER_SIZE,
} from "./packet.ts";

describe("Wisp packet codec", () => {
  it("matches the spec's CONNECT example byte for byte", () => {
    const want = "01 01000000 01 bb01 6578616d706c652e636f6d".replace(/ /g, "");
    expect(Buffer.from(encodeConnect(1, 1, 443, "example.com")).toString("hex")).toBe(want);
  });

  it("round-trips every packet type", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.uint8Array({ maxLength: 64 }), (id, bytes) => {
        expect(parseWispPacket(encodeData(id, bytes))).toEqual({
          ok: true,
          packet: { type: 2, streamId: id, payload: bytes },
        });
        expect(parseWispPacket(encodeContinue(id, bytes.length * 1000))).toEqual({
          ok: true,
          packet: { type: 3, streamId: id, remaining: bytes.length * 1000 },
        });
        expect(parseWispPacket(encodeClose(id, bytes[0] ?? 2))).toEqual({
          ok: true,
          packet: { type: 4, streamId: id, reason: bytes[0] ?? 2 },
        });
      }),
    );
    expect(parseWispPacket(encodeConnect(9, STREAM_TYPE_UDP, 53, "dns.example"))).toEqual({
      ok: true,
      packet: { type: PACKET_CONNECT, streamId: 9, streamType: 2, port: 53, hostname: "dns.example" },
    });
  });

  const bad: [string, number[], string][] = [
    ["empty", [], "truncated-header"],
    ["4 bytes", [2, 0, 0, 0], "truncated-header"],
    ["unknown type", [0x09, 1, 0, 0, 0], "unknown-type"],
    ["type 0", [0x00, 1, 0, 0, 0], "unknown-type"],
    ["CONNECT header only", [1, 1, 0, 0, 0], "connect-truncated"],
    ["CONNECT no port", [1, 1, 0, 0, 0, 1, 80], "connect-truncated"],
    ["CONNECT stream type 3", [1, 1, 0, 0, 0, 3, 80, 0, 0x61], "bad-stream-type"],
    ["CONNECT port 0", [1, 1, 0, 0, 0, 1, 0, 0, 0x61], "bad-port"],
    ["CONNECT no host", [1, 1, 0, 0, 0, 1, 80, 0], "bad-hostname"],
    ["CONNECT bad UTF-8", [1, 1, 0, 0, 0, 1, 80, 0, 0xc3], "bad-hostname"],
    ["CONTINUE short", [3, 1, 0, 0, 0, 1, 2, 3], "continue-truncated"],
    ["CLOSE short", [4, 1, 0, 0, 0], "close-truncated"],
  ];
  for (const [name, bytes, error] of bad) {
    it(`rejects ${name}`, () => {
      const r = parseWispPacket(Uint8Array.from(bytes));
      expect(r.ok ? "ok" : r.error).toBe(error);
    });
  }

  it("rejects a hostname over 253 characters", () => {
    const r = parseWispPacket(encodeConnect(1, 1, 80, "a".repeat(254)));
    expect(r.ok ? "ok" : r.error).toBe("bad-hostname");
  });

  it("never throws on random input (seeded fuzz)", () => {
    const seed = Number(process.env.FUZZ_SEED ?? 0x715b);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = parseWispPacket(bytes);
        if (r.ok && r.packet.type === 2) expect(r.packet.payload.length).toBe(bytes.length - WISP_HEADER_SIZE);
      }),
      { seed, numRuns: 5000 },
    );
  });
});
