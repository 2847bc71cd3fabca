// ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) header views. Both share the type/code/checksum layout and
// the echo identifier/sequence; ICMPv6's checksum covers a pseudo-header, ICMPv4's does not.

import { get16, set16 } from "./bytes.ts";
import { internetChecksum } from "./checksum.ts";

export const ICMP_HLEN = 8;
export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;

export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PKT_TOOBIG = 2;
export const ICMPV6_TIME_EXCEED = 3;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const NDISC_ROUTER_SOLICITATION = 133;
export const NDISC_ROUTER_ADVERTISEMENT = 134;
export const NDISC_NEIGHBOUR_SOLICITATION = 135;
export const NDISC_NEIGHBOUR_ADVERTISEMENT = 136;

export type IcmpInvalid = "truncated" | "bad-checksum";

export interface IcmpFields {
  type: number;
  code: number;
  checksum: number;
  /** The 4 bytes after the checksum: identifier and sequence for echo. */
  ident: number;
  sequence: number;
}

class IcmpBase {
  constructor(
    readonly b: Uint8Array,
    readonly off = 0,
  ) {}

  get type(): number {
    return this.b[this.off]!;
  }
  set type(v: number) {
    this.b[this.off] = v;
  }
  get code(): number {
    return this.b[this.off + 1]!;
  }
  set code(v: number) {
    this.b[this.off + 1] = v;
  }
  get checksum(): number {
    return get16(this.b, this.off + 2);
  }
  set checksum(v: number) {
    set16(this.b, this.off + 2, v);
  }
  get ident(): number {
    return get16(this.b, this.off + 4);
  }
  set ident(v: number) {
    set16(this.b, this.off + 4, v);
  }
  get sequence(): number {
    return get16(this.b, this.off + 6);
  }
  set sequence(v: number) {
    set16(this.b, this.off + 6, v);
  }
  /** Checksum of `len` bytes from the header start, seeded with `pseudoSum` (0 for ICMPv4). */
  computeChecksum(len: number, pseudoSum = 0): number {
    const saved = this.checksum;
    this.checksum = 0;
    const c = internetChecksum(this.b, this.off, len, pseudoSum);
    this.checksum = saved;
    return c;
  }
  decode(): IcmpFields {
    return {
      type: this.type,
      code: this.code,
      checksum: this.checksum,
      ident: this.ident,
      sequence: this.sequence,
    };
  }
  protected write(f: IcmpFields): void {
    this.type = f.type;
    this.code = f.code;
    this.checksum = f.checksum;
    this.ident = f.ident;
    this.sequence = f.sequence;
  }
}

export class Icmpv4View extends IcmpBase {
  /** `len` = ICMP message bytes (IPv4 payload length). */
  validate(len = this.b.length - this.off, checkChecksum = true): "ok" | IcmpInvalid {
    if (len < ICMP_HLEN || this.off + len > this.b.length) return "truncated";
    if (checkChecksum && internetChecksum(this.b, this.off, len) !== 0) return "bad-checksum";
    return "ok";
  }
  static encode(b: Uint8Array, off: number, f: IcmpFields): Icmpv4View {
    const v = new Icmpv4View(b, off);
    v.write(f);
    return v;
  }
}

export class Icmpv6View extends IcmpBase {
  /** ICMPv6 needs the pseudo-header sum (Ipv6View.pseudoHeaderSum(58, len)) to check its checksum. */
  validate(len = this.b.length - this.off, pseudoSum?: number): "ok" | IcmpInvalid {
    if (len < 4 || this.off + len > this.b.length) return "truncated";
    if (pseudoSum !== undefined && internetChecksum(this.b, this.off, len, pseudoSum) !== 0) return "bad-checksum";
    return "ok";
  }
  static encode(b: Uint8Array, off: number, f: IcmpFields): Icmpv6View {
    const v = new Icmpv6View(b, off);
    v.write(f);
    return v;
  }
}

/** One NDP option (RFC 4861 §4.6): type, byte offset of the option in the message, byte length. */
export interface NdpOption {
  type: number;
  off: number;
  len: number;
}

/** Walks NDP options in msg[start, end); a zero length stops the walk (RFC 4861 says discard). */
export function ndpOptions(msg: Uint8Array, start: number, end: number): NdpOption[] | undefined {
  const out: NdpOption[] = [];
  let i = start;
  while (i + 2 <= end) {
    const len = msg[i + 1]! * 8;
    if (len === 0 || i + len > end) return undefined;
    out.push({ type: msg[i]!, off: i, len });
    i += len;
  }
  return out;
}
