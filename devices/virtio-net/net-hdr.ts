// The 12-byte virtio_net_hdr of a VERSION_1 device (virtio 1.2 §5.1.6, spec/virtio-net.md §5): a
// zero-copy little-endian view plus encode/decode of a plain record, like the seeds' NetHdr. The bytes
// it views on the transmit path were written by the guest: every field is a claim to check, not a fact.

export const VIRTIO_NET_HDR_SIZE = 12;

export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_F_RSC_INFO = 4;

export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_UDP = 3;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

export interface NetHdr {
  flags: number;
  /** Includes the ECN bit (0x80) when set. */
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  numBuffers: number;
}

export const EMPTY_NET_HDR: Readonly<NetHdr> = Object.freeze({
  flags: 0,
  gsoType: VIRTIO_NET_HDR_GSO_NONE,
  hdrLen: 0,
  gsoSize: 0,
  csumStart: 0,
  csumOffset: 0,
  numBuffers: 0,
});

function get16le(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}
function set16le(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

/** Little-endian view of a virtio_net_hdr at b[off, off + 12). */
export class NetHdrView {
  constructor(
    readonly b: Uint8Array,
    readonly off = 0,
  ) {
    if (off < 0 || off + VIRTIO_NET_HDR_SIZE > b.length) throw new RangeError("buffer too small for virtio_net_hdr");
  }

  get flags(): number {
    return this.b[this.off]!;
  }
  set flags(v: number) {
    this.b[this.off] = v;
  }
  get gsoType(): number {
    return this.b[this.off + 1]!;
  }
  set gsoType(v: number) {
    this.b[this.off + 1] = v;
  }
  get hdrLen(): number {
    return get16le(this.b, this.off + 2);
  }
  set hdrLen(v: number) {
    set16le(this.b, this.off + 2, v);
  }
  get gsoSize(): number {
    return get16le(this.b, this.off + 4);
  }
  set gsoSize(v: number) {
    set16le(this.b, this.off + 4, v);
  }
  get csumStart(): number {
    return get16le(this.b, this.off + 6);
  }
  set csumStart(v: number) {
    set16le(this.b, this.off + 6, v);
  }
  get csumOffset(): number {
    return get16le(this.b, this.off + 8);
  }
  set csumOffset(v: number) {
    set16le(this.b, this.off + 8, v);
  }
  get numBuffers(): number {
    return get16le(this.b, this.off + 10);
  }
  set numBuffers(v: number) {
    set16le(this.b, this.off + 10, v);
  }
  get needsCsum(): boolean {
    return (this.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
  }
  get dataValid(): boolean {
    return (this.flags & VIRTIO_NET_HDR_F_DATA_VALID) !== 0;
  }
  /** gso_type without the ECN bit. */
  get gsoKind(): number {
    return this.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
  }
  get ecn(): boolean {
    return (this.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0;
  }
}

/** Reads a header; throws RangeError only when `b` is shorter than 12 bytes (a caller bug, not guest input). */
export function decodeNetHdr(b: Uint8Array, off = 0): NetHdr {
  const v = new NetHdrView(b, off);
  return {
    flags: v.flags,
    gsoType: v.gsoType,
    hdrLen: v.hdrLen,
    gsoSize: v.gsoSize,
    csumStart: v.csumStart,
    csumOffset: v.csumOffset,
    numBuffers: v.numBuffers,
  };
}

/** Writes a header (fields masked to their widths). */
export function encodeNetHdr(h: NetHdr, b: Uint8Array = new Uint8Array(VIRTIO_NET_HDR_SIZE), off = 0): Uint8Array {
  const v = new NetHdrView(b, off);
  v.flags = h.flags & 0xff;
  v.gsoType = h.gsoType & 0xff;
  v.hdrLen = h.hdrLen & 0xffff;
  v.gsoSize = h.gsoSize & 0xffff;
  v.csumStart = h.csumStart & 0xffff;
  v.csumOffset = h.csumOffset & 0xffff;
  v.numBuffers = h.numBuffers & 0xffff;
  return b;
}

/** For logs and the UI: "NEEDS_CSUM TCPV4|ECN gso_size=1448 csum 34+16". */
export function describeNetHdr(h: NetHdr): string {
  const flags: string[] = [];
  if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) flags.push("NEEDS_CSUM");
  if (h.flags & VIRTIO_NET_HDR_F_DATA_VALID) flags.push("DATA_VALID");
  if (h.flags & VIRTIO_NET_HDR_F_RSC_INFO) flags.push("RSC_INFO");
  const kinds: Record<number, string> = { 0: "NONE", 1: "TCPV4", 3: "UDP", 4: "TCPV6", 5: "UDP_L4" };
  let gso = kinds[h.gsoType & 0x7f] ?? `gso ${h.gsoType & 0x7f}`;
  if (h.gsoType & VIRTIO_NET_HDR_GSO_ECN) gso += "|ECN";
  return `${flags.join("|") || "0"} ${gso} hdr_len=${h.hdrLen} gso_size=${h.gsoSize} csum ${h.csumStart}+${h.csumOffset} num_buffers=${h.numBuffers}`;
}
