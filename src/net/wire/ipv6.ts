// IPv6 fixed header view (RFC 8200) and a bounded walk over extension headers to the upper layer.

import { get16, get32, ip6ToString, set16, set32 } from "./bytes.ts";
import { pseudoHeaderSum6 } from "./checksum.ts";

export const IPV6_HLEN = 40;
export const IPV6_NEXT_HOPOPTS = 0;
export const IPV6_NEXT_ROUTING = 43;
export const IPV6_NEXT_FRAGMENT = 44;
export const IPV6_NEXT_ESP = 50;
export const IPV6_NEXT_AH = 51;
export const IPV6_NEXT_NONE = 59;
export const IPV6_NEXT_DSTOPTS = 60;
/** Extension headers walked before giving up: a guest can chain them without end. */
export const IPV6_MAX_EXT_HEADERS = 8;

export type Ipv6Invalid = "truncated" | "bad-version" | "bad-payload-length";

export interface Ipv6Fields {
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Uint8Array;
  dst: Uint8Array;
}

export type Ipv6ExtWalk =
  | {
      ok: true;
      /** Upper-layer protocol (e.g. 6, 17, 58, or 59 for none). */
      protocol: number;
      /** Offset of the upper-layer header from the start of the IPv6 header. */
      l4Offset: number;
      /** Offset of a Fragment header, if one was seen. */
      fragmentOffset?: number;
    }
  | { ok: false; reason: "truncated" | "too-many-ext-headers" | "esp" };

export class Ipv6View {
  constructor(
    readonly b: Uint8Array,
    readonly off = 0,
  ) {}

  get version(): number {
    return this.b[this.off]! >>> 4;
  }
  get trafficClass(): number {
    return (get16(this.b, this.off) >>> 4) & 0xff;
  }
  set trafficClass(v: number) {
    const w = get32(this.b, this.off);
    set32(this.b, this.off, ((w & 0xf00fffff) | ((v & 0xff) << 20) | 0x60000000) >>> 0);
  }
  get ecn(): number {
    return this.trafficClass & 3;
  }
  get flowLabel(): number {
    return get32(this.b, this.off) & 0xfffff;
  }
  set flowLabel(v: number) {
    const w = get32(this.b, this.off);
    set32(this.b, this.off, ((w & 0x0ff00000) | (v & 0xfffff) | 0x60000000) >>> 0);
  }
  get payloadLength(): number {
    return get16(this.b, this.off + 4);
  }
  set payloadLength(v: number) {
    set16(this.b, this.off + 4, v);
  }
  get nextHeader(): number {
    return this.b[this.off + 6]!;
  }
  set nextHeader(v: number) {
    this.b[this.off + 6] = v;
  }
  get hopLimit(): number {
    return this.b[this.off + 7]!;
  }
  set hopLimit(v: number) {
    this.b[this.off + 7] = v;
  }
  get src(): Uint8Array {
    return this.b.subarray(this.off + 8, this.off + 24);
  }
  set src(a: Uint8Array) {
    this.b.set(a.subarray(0, 16), this.off + 8);
  }
  get dst(): Uint8Array {
    return this.b.subarray(this.off + 24, this.off + 40);
  }
  set dst(a: Uint8Array) {
    this.b.set(a.subarray(0, 16), this.off + 24);
  }
  get payload(): Uint8Array {
    return this.b.subarray(this.off + IPV6_HLEN, this.off + IPV6_HLEN + this.payloadLength);
  }

  /** Pseudo-header sum for an upper layer of `l4Length` bytes with protocol `proto` (unfolded). */
  pseudoHeaderSum(proto: number, l4Length: number): number {
    return pseudoHeaderSum6(this.b, this.off + 8, this.off + 24, proto, l4Length);
  }

  validate(len = this.b.length - this.off): "ok" | Ipv6Invalid {
    if (len < IPV6_HLEN || this.off + IPV6_HLEN > this.b.length) return "truncated";
    if (this.version !== 6) return "bad-version";
    if (IPV6_HLEN + this.payloadLength > len) return "bad-payload-length";
    return "ok";
  }

  /**
   * Walks extension headers (hop-by-hop, routing, fragment, destination options, AH) within the first
   * `len` bytes, at most IPV6_MAX_EXT_HEADERS of them.
   */
  walkExtensionHeaders(len = IPV6_HLEN + this.payloadLength): Ipv6ExtWalk {
    let next = this.nextHeader;
    let pos = IPV6_HLEN;
    let fragmentOffset: number | undefined;
    for (let n = 0; ; n++) {
      switch (next) {
        case IPV6_NEXT_HOPOPTS:
        case IPV6_NEXT_ROUTING:
        case IPV6_NEXT_DSTOPTS:
        case IPV6_NEXT_FRAGMENT:
        case IPV6_NEXT_AH: {
          if (n >= IPV6_MAX_EXT_HEADERS) return { ok: false, reason: "too-many-ext-headers" };
          if (pos + 8 > len || this.off + pos + 8 > this.b.length) return { ok: false, reason: "truncated" };
          const hdrNext = this.b[this.off + pos]!;
          let size: number;
          if (next === IPV6_NEXT_FRAGMENT) {
            fragmentOffset = pos;
            size = 8;
          } else if (next === IPV6_NEXT_AH) {
            size = (this.b[this.off + pos + 1]! + 2) * 4;
          } else {
            size = (this.b[this.off + pos + 1]! + 1) * 8;
          }
          if (pos + size > len) return { ok: false, reason: "truncated" };
          pos += size;
          next = hdrNext;
          break;
        }
        case IPV6_NEXT_ESP:
          return { ok: false, reason: "esp" };
        default:
          return fragmentOffset === undefined
            ? { ok: true, protocol: next, l4Offset: pos }
            : { ok: true, protocol: next, l4Offset: pos, fragmentOffset };
      }
    }
  }

  decode(): Ipv6Fields {
    return {
      trafficClass: this.trafficClass,
      flowLabel: this.flowLabel,
      payloadLength: this.payloadLength,
      nextHeader: this.nextHeader,
      hopLimit: this.hopLimit,
      src: this.src.slice(),
      dst: this.dst.slice(),
    };
  }

  static encode(b: Uint8Array, off: number, f: Ipv6Fields): Ipv6View {
    const v = new Ipv6View(b, off);
    set32(b, off, (0x60000000 | ((f.trafficClass & 0xff) << 20) | (f.flowLabel & 0xfffff)) >>> 0);
    v.payloadLength = f.payloadLength;
    v.nextHeader = f.nextHeader;
    v.hopLimit = f.hopLimit;
    v.src = f.src;
    v.dst = f.dst;
    return v;
  }

  toString(): string {
    return `${ip6ToString(this.b, this.off + 8)} > ${ip6ToString(this.b, this.off + 24)} next ${this.nextHeader}`;
  }
}
