import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeNetHdr,
  describeNetHdr,
  encodeNetHdr,
  type NetHdr,
  NetHdrView,
  VIRTIO_NET_HDR_F_DATA_VALID,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_SIZE,
} from "./net-hdr.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

describe("virtio_net_hdr codec", () => {
  it.each<{ name: string; hdr: NetHdr; bytes: string }>([
    {
      // What Linux 6.1 sends for a TSO4 superpacket: NEEDS_CSUM, TCPV4, MSS 1448, csum at 34+16.
      name: "TCPv4 TSO from the driver",
      hdr: {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gsoType: VIRTIO_NET_HDR_GSO_TCPV4,
        hdrLen: 66,
        gsoSize: 1448,
        csumStart: 34,
        csumOffset: 16,
        numBuffers: 0,
      },
      bytes: "01014200a805220010000000",
    },
    {
      name: "TCPv6 with ECN",
      hdr: {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gsoType: VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN,
        hdrLen: 86,
        gsoSize: 1428,
        csumStart: 54,
        csumOffset: 16,
        numBuffers: 0,
      },
      bytes: "0184560094053600 10000000",
    },
    {
      name: "RX with DATA_VALID and 3 merged buffers",
      hdr: {
        flags: VIRTIO_NET_HDR_F_DATA_VALID,
        gsoType: 0,
        hdrLen: 0,
        gsoSize: 0,
        csumStart: 0,
        csumOffset: 0,
        numBuffers: 3,
      },
      bytes: "020000000000000000000300",
    },
    {
      name: "USO",
      hdr: {
        flags: 1,
        gsoType: VIRTIO_NET_HDR_GSO_UDP_L4,
        hdrLen: 42,
        gsoSize: 1200,
        csumStart: 34,
        csumOffset: 6,
        numBuffers: 0,
      },
      bytes: "01052a00b00422000600 0000",
    },
  ])("$name", ({ hdr, bytes }) => {
    const enc = encodeNetHdr(hdr);
    expect(hex(enc)).toBe(bytes.replace(/ /g, ""));
    expect(decodeNetHdr(enc)).toEqual(hdr);
  });

  it("encode → decode round trip for every field value", () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const u8 = fc.integer({ min: 0, max: 0xff });
    fc.assert(
      fc.property(
        fc.record({
          flags: u8,
          gsoType: u8,
          hdrLen: u16,
          gsoSize: u16,
          csumStart: u16,
          csumOffset: u16,
          numBuffers: u16,
        }),
        fc.nat(8),
        (h, off) => {
          const b = new Uint8Array(VIRTIO_NET_HDR_SIZE + off);
          encodeNetHdr(h, b, off);
          expect(decodeNetHdr(b, off)).toEqual(h);
          // The view's getters agree with the encoder (the gVisor trap in STYLE.md).
          const v = new NetHdrView(b, off);
          expect([v.flags, v.gsoType, v.hdrLen, v.gsoSize, v.csumStart, v.csumOffset, v.numBuffers]).toEqual([
            h.flags,
            h.gsoType,
            h.hdrLen,
            h.gsoSize,
            h.csumStart,
            h.csumOffset,
            h.numBuffers,
          ]);
        },
      ),
    );
  });

  it("view helpers and description", () => {
    const b = encodeNetHdr({
      flags: 3,
      gsoType: 0x81,
      hdrLen: 0,
      gsoSize: 1448,
      csumStart: 34,
      csumOffset: 16,
      numBuffers: 1,
    });
    const v = new NetHdrView(b);
    expect([v.needsCsum, v.dataValid, v.gsoKind, v.ecn]).toEqual([true, true, 1, true]);
    expect(describeNetHdr(decodeNetHdr(b))).toBe(
      "NEEDS_CSUM|DATA_VALID TCPV4|ECN hdr_len=0 gso_size=1448 csum 34+16 num_buffers=1",
    );
  });

  it("refuses a buffer shorter than 12 bytes", () => {
    expect(() => decodeNetHdr(new Uint8Array(11))).toThrow(RangeError);
  });
});
