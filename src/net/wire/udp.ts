// UDP header view (RFC 768).

import { get16, set16 } from "./bytes.ts";
import { internetChecksum } from "./checksum.ts";

export const UDP_HLEN = 8;
export const UDP_CSUM_OFFSET = 6;

export type UdpInvalid = "truncated" | "bad-length";

export interface UdpFields {
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
}

export class UdpView {
  constructor(
    readonly b: Uint8Array,
    readonly off = 0,
  ) {}

  get srcPort(): number {
    return get16(this.b, this.off);
  }
  set srcPort(v: number) {
    set16(this.b, this.off, v);
  }
  get dstPort(): number {
    return get16(this.b, this.off + 2);
  }
  set dstPort(v: number) {
    set16(this.b, this.off + 2, v);
  }
  /** Header + payload length. */
  get length(): number {
    return get16(this.b, this.off + 4);
  }
  set length(v: number) {
    set16(this.b, this.off + 4, v);
  }
  get checksum(): number {
    return get16(this.b, this.off + 6);
  }
  set checksum(v: number) {
    set16(this.b, this.off + 6, v);
  }
  get payload(): Uint8Array {
    return this.b.subarray(this.off + UDP_HLEN, this.off + this.length);
  }

  validate(len = this.b.length - this.off): "ok" | UdpInvalid {
    if (len < UDP_HLEN || this.off + UDP_HLEN > this.b.length) return "truncated";
    if (this.length < UDP_HLEN || this.length > len) return "bad-length";
    return "ok";
  }

  /** The checksum to store for `len` bytes given the pseudo-header sum; 0 is sent as 0xffff (RFC 768). */
  computeChecksum(pseudoSum: number, len = this.length): number {
    const saved = this.checksum;
    this.checksum = 0;
    const c = internetChecksum(this.b, this.off, len, pseudoSum);
    this.checksum = saved;
    return c === 0 ? 0xffff : c;
  }
  /** A zero checksum means "none" over IPv4 and is accepted here; IPv6 callers must reject it. */
  checksumValid(pseudoSum: number, len = this.length): boolean {
    return this.checksum === 0 || internetChecksum(this.b, this.off, len, pseudoSum) === 0;
  }

  decode(): UdpFields {
    return { srcPort: this.srcPort, dstPort: this.dstPort, length: this.length, checksum: this.checksum };
  }

  static encode(b: Uint8Array, off: number, f: UdpFields): UdpView {
    const v = new UdpView(b, off);
    v.srcPort = f.srcPort;
    v.dstPort = f.dstPort;
    v.length = f.length;
    v.checksum = f.checksum;
    return v;
  }
}
