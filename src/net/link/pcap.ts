// Packet capture writers: pcapng (default; per-packet direction and comments) and classic pcap
// (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html, draft-ietf-opsawg-pcap). Link type
// 1 (Ethernet, no FCS). Output goes to a sink callback as byte chunks so this runs anywhere; the CLI
// writes them to a file.
//
// Superpackets are written as ONE record, exactly the bytes that crossed the device↔backend boundary
// (IP length covering the whole superpacket, the L4 checksum holding only the pseudo-header sum). In
// pcapng the record carries a comment naming the GSO type, gso_size and checksum position, so a reader
// knows why the packet is bigger than the MTU and its checksum "wrong"; classic pcap has no place for
// that note and just holds the record.

import type { GsoInfo } from "../offload/gso.ts";

export type PcapFormat = "pcapng" | "pcap";
/** As seen from the guest: "tx" leaves it (outbound), "rx" enters it (inbound). */
export type PcapDirection = "tx" | "rx";

export const LINKTYPE_ETHERNET = 1;
export const PCAP_SNAPLEN = 262144;

const SHB = 0x0a0d0d0a;
const IDB = 1;
const EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const IF_NAME = 2;
const IF_TSRESOL = 9;
const EPB_FLAGS = 2;

const GSO_NAMES: Record<number, string> = { 0: "NONE", 1: "TCPV4", 4: "TCPV6", 5: "UDP_L4" };

/** The pcapng comment for a frame with offload metadata, or undefined for a plain frame. */
export function gsoComment(gso: GsoInfo | undefined): string | undefined {
  if (!gso) return undefined;
  const parts: string[] = [];
  if (gso.type !== 0)
    parts.push(`superpacket gso ${GSO_NAMES[gso.type] ?? gso.type} gso_size=${gso.gsoSize}${gso.ecn ? " ecn" : ""}`);
  if (gso.needsCsum) parts.push(`partial checksum csum_start=${gso.csumStart} csum_offset=${gso.csumOffset}`);
  return parts.length > 0 ? parts.join("; ") : undefined;
}

class BlockBuilder {
  private parts: number[] = [];
  u8(v: number): void {
    this.parts.push(v & 0xff);
  }
  u16(v: number): void {
    this.u8(v);
    this.u8(v >>> 8);
  }
  u32(v: number): void {
    this.u16(v & 0xffff);
    this.u16(v >>> 16);
  }
  option(code: number, value: Uint8Array): void {
    this.u16(code);
    this.u16(value.length);
    for (const b of value) this.u8(b);
    while (this.parts.length % 4 !== 0) this.u8(0);
  }
  get length(): number {
    return this.parts.length;
  }
  bytes(): number[] {
    return this.parts;
  }
}

const utf8 = new TextEncoder();

export interface PcapWriterOptions {
  format?: PcapFormat;
  /** Interface name recorded in pcapng (default "vireo-net0"). */
  interfaceName?: string;
  /** Microseconds since the epoch (default Date.now() × 1000); injectable for golden files. */
  nowMicros?: () => number;
}

/** Writes a capture to `sink`, header first (at construction), then one record per write(). */
export class PcapWriter {
  readonly format: PcapFormat;
  records = 0;
  private readonly now: () => number;

  constructor(
    private readonly sink: (chunk: Uint8Array) => void,
    o: PcapWriterOptions = {},
  ) {
    this.format = o.format ?? "pcapng";
    this.now = o.nowMicros ?? (() => Date.now() * 1000);
    if (this.format === "pcap") this.sink(classicHeader());
    else this.sink(pcapngHeader(o.interfaceName ?? "vireo-net0"));
  }

  write(frame: Uint8Array, dir: PcapDirection, gso?: GsoInfo): void {
    const t = Math.max(0, Math.floor(this.now()));
    this.records++;
    if (this.format === "pcap") {
      const h = new Uint8Array(16);
      const dv = new DataView(h.buffer);
      dv.setUint32(0, Math.floor(t / 1e6), true);
      dv.setUint32(4, t % 1e6, true);
      const cap = Math.min(frame.length, PCAP_SNAPLEN);
      dv.setUint32(8, cap, true);
      dv.setUint32(12, frame.length, true);
      const out = new Uint8Array(16 + cap);
      out.set(h);
      out.set(frame.subarray(0, cap), 16);
      this.sink(out);
      return;
    }
    const cap = Math.min(frame.length, PCAP_SNAPLEN);
    const padded = (cap + 3) & ~3;
    const opts = new BlockBuilder();
    opts.option(EPB_FLAGS, u32le(dir === "rx" ? 1 : 2));
    const comment = gsoComment(gso);
    if (comment) opts.option(OPT_COMMENT, utf8.encode(comment));
    opts.option(OPT_ENDOFOPT, new Uint8Array(0));
    const total = 28 + padded + opts.length + 4;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, EPB, true);
    dv.setUint32(4, total, true);
    dv.setUint32(8, 0, true); // interface 0
    dv.setUint32(12, Math.floor(t / 2 ** 32), true);
    dv.setUint32(16, t >>> 0, true);
    dv.setUint32(20, cap, true);
    dv.setUint32(24, frame.length, true);
    out.set(frame.subarray(0, cap), 28);
    out.set(opts.bytes(), 28 + padded);
    dv.setUint32(total - 4, total, true);
    this.sink(out);
  }
}

function u32le(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
}

function classicHeader(): Uint8Array {
  const h = new Uint8Array(24);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, PCAP_SNAPLEN, true);
  dv.setUint32(20, LINKTYPE_ETHERNET, true);
  return h;
}

function block(type: number, body: BlockBuilder): Uint8Array {
  const total = 12 + body.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  out.set(body.bytes(), 8);
  dv.setUint32(total - 4, total, true);
  return out;
}

function pcapngHeader(ifName: string): Uint8Array {
  const shb = new BlockBuilder();
  shb.u32(BYTE_ORDER_MAGIC);
  shb.u16(1);
  shb.u16(0);
  shb.u32(0xffffffff); // section length unknown (-1)
  shb.u32(0xffffffff);
  shb.option(OPT_COMMENT, utf8.encode("vireo virtio-net capture"));
  shb.option(OPT_ENDOFOPT, new Uint8Array(0));
  const idb = new BlockBuilder();
  idb.u16(LINKTYPE_ETHERNET);
  idb.u16(0);
  idb.u32(PCAP_SNAPLEN);
  idb.option(IF_NAME, utf8.encode(ifName));
  idb.option(IF_TSRESOL, Uint8Array.of(6));
  idb.option(OPT_ENDOFOPT, new Uint8Array(0));
  const a = block(SHB, shb);
  const b = block(IDB, idb);
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
