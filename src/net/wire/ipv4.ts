// IPv4 header view (RFC 791), options included: getters/setters at fixed offsets over the caller's bytes,
// a separate validate(), and the header checksum.

import { get16, get32, ip4ToString, set16, set32 } from "./bytes.ts";
import { internetChecksum, pseudoHeaderSum4, sumBytes } from "./checksum.ts";

export const IPV4_MIN_HLEN = 20;
export const IPV4_MAX_HLEN = 60;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

export type Ipv4Invalid = "truncated" | "bad-version" | "bad-ihl" | "bad-total-length" | "bad-checksum";

export interface Ipv4Fields {
  tos: number;
  /** Total length; encode() computes it from `payloadLength` when this is undefined. */
  totalLength?: number;
  payloadLength?: number;
  id: number;
  /** Flags and fragment offset as the 16-bit word (DF = 0x4000). */
  flagsFragment: number;
  ttl: number;
  protocol: number;
  src: number;
  dst: number;
  /** Option bytes (a multiple of 4, ≤ 40). */
  options?: Uint8Array;
}

export class Ipv4View {
  constructor(
    readonly b: Uint8Array,
    readonly off = 0,
  ) {}

  get version(): number {
    return this.b[this.off]! >>> 4;
  }
  /** Header length in 32-bit words. */
  get ihl(): number {
    return this.b[this.off]! & 0xf;
  }
  set ihl(v: number) {
    this.b[this.off] = 0x40 | (v & 0xf);
  }
  get headerLength(): number {
    return this.ihl * 4;
  }
  get tos(): number {
    return this.b[this.off + 1]!;
  }
  set tos(v: number) {
    this.b[this.off + 1] = v;
  }
  get ecn(): number {
    return this.b[this.off + 1]! & 3;
  }
  get totalLength(): number {
    return get16(this.b, this.off + 2);
  }
  set totalLength(v: number) {
    set16(this.b, this.off + 2, v);
  }
  get id(): number {
    return get16(this.b, this.off + 4);
  }
  set id(v: number) {
    set16(this.b, this.off + 4, v);
  }
  get flagsFragment(): number {
    return get16(this.b, this.off + 6);
  }
  set flagsFragment(v: number) {
    set16(this.b, this.off + 6, v);
  }
  get dontFragment(): boolean {
    return (this.flagsFragment & IPV4_FLAG_DF) !== 0;
  }
  get moreFragments(): boolean {
    return (this.flagsFragment & IPV4_FLAG_MF) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (this.flagsFragment & IPV4_FRAG_OFFSET_MASK) * 8;
  }
  get isFragment(): boolean {
    return (this.flagsFragment & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) !== 0;
  }
  get ttl(): number {
    return this.b[this.off + 8]!;
  }
  set ttl(v: number) {
    this.b[this.off + 8] = v;
  }
  get protocol(): number {
    return this.b[this.off + 9]!;
  }
  set protocol(v: number) {
    this.b[this.off + 9] = v;
  }
  get checksum(): number {
    return get16(this.b, this.off + 10);
  }
  set checksum(v: number) {
    set16(this.b, this.off + 10, v);
  }
  /** Source address as a host-order u32. */
  get src(): number {
    return get32(this.b, this.off + 12);
  }
  set src(v: number) {
    set32(this.b, this.off + 12, v);
  }
  get dst(): number {
    return get32(this.b, this.off + 16);
  }
  set dst(v: number) {
    set32(this.b, this.off + 16, v);
  }
  get srcBytes(): Uint8Array {
    return this.b.subarray(this.off + 12, this.off + 16);
  }
  get dstBytes(): Uint8Array {
    return this.b.subarray(this.off + 16, this.off + 20);
  }
  /** Zero-copy view of the option bytes. */
  get options(): Uint8Array {
    return this.b.subarray(this.off + IPV4_MIN_HLEN, this.off + this.headerLength);
  }
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
  /** Zero-copy view of the payload as bounded by totalLength. */
  get payload(): Uint8Array {
    return this.b.subarray(this.off + this.headerLength, this.off + this.totalLength);
  }

  /** The header checksum over the current header with the checksum field taken as zero. */
  computeChecksum(): number {
    const s = sumBytes(this.b, this.off, 10);
    return internetChecksum(this.b, this.off + 12, this.headerLength - 12, s);
  }
  /** Recomputes and stores the header checksum. */
  updateChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.b, this.off, this.headerLength);
  }
  /** Sum of the L4 pseudo-header for a payload of `l4Length` bytes (unfolded). */
  pseudoHeaderSum(l4Length = this.payloadLength): number {
    return pseudoHeaderSum4(this.b, this.off + 12, this.off + 16, this.protocol, l4Length);
  }

  /** Checks version, ihl and total length against the `len` bytes available; optionally the checksum. */
  validate(len = this.b.length - this.off, checkChecksum = true): "ok" | Ipv4Invalid {
    if (len < IPV4_MIN_HLEN || this.off + IPV4_MIN_HLEN > this.b.length) return "truncated";
    if (this.version !== 4) return "bad-version";
    const hl = this.headerLength;
    if (hl < IPV4_MIN_HLEN || hl > len) return "bad-ihl";
    const tl = this.totalLength;
    if (tl < hl || tl > len) return "bad-total-length";
    if (checkChecksum && internetChecksum(this.b, this.off, hl) !== 0) return "bad-checksum";
    return "ok";
  }

  decode(): Ipv4Fields {
    return {
      tos: this.tos,
      totalLength: this.totalLength,
      id: this.id,
      flagsFragment: this.flagsFragment,
      ttl: this.ttl,
      protocol: this.protocol,
      src: this.src,
      dst: this.dst,
      options: this.options.slice(),
    };
  }

  /** Writes a header with a valid checksum at b[off]. */
  static encode(b: Uint8Array, off: number, f: Ipv4Fields): Ipv4View {
    const optLen = f.options?.length ?? 0;
    if (optLen % 4 !== 0 || optLen > 40) throw new RangeError("IPv4 options must be a multiple of 4, ≤ 40 bytes");
    const v = new Ipv4View(b, off);
    v.ihl = 5 + optLen / 4;
    v.tos = f.tos;
    v.totalLength = f.totalLength ?? IPV4_MIN_HLEN + optLen + (f.payloadLength ?? 0);
    v.id = f.id;
    v.flagsFragment = f.flagsFragment;
    v.ttl = f.ttl;
    v.protocol = f.protocol;
    v.src = f.src;
    v.dst = f.dst;
    if (f.options) b.set(f.options, off + IPV4_MIN_HLEN);
    v.updateChecksum();
    return v;
  }

  toString(): string {
    return `${ip4ToString(this.src)} > ${ip4ToString(this.dst)} proto ${this.protocol} len ${this.totalLength}`;
  }
}
