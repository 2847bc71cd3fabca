// Ethernet II header view (IEEE 802.3 framing as Linux hands it to virtio: no preamble, no FCS), with an
// optional single 802.1Q tag. Zero-copy: getters and setters at fixed offsets of the caller's bytes.

import { get16, macToString, set16 } from "./bytes.ts";

export const ETH_HLEN = 14;
export const ETH_ALEN = 6;
export const VLAN_HLEN = 4;
/** Largest standard frame without FCS: 14 + 1500. */
export const ETH_FRAME_LEN = 1514;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;

export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export type EthernetInvalid = "truncated" | "truncated-vlan";

export interface EthernetFields {
  dst: Uint8Array;
  src: Uint8Array;
  etherType: number;
}

export class EthernetView {
  constructor(
    readonly b: Uint8Array,
    readonly off = 0,
  ) {}

  /** Zero-copy 6-byte view of the destination MAC. */
  get dst(): Uint8Array {
    return this.b.subarray(this.off, this.off + 6);
  }
  set dst(mac: Uint8Array) {
    this.b.set(mac.subarray(0, 6), this.off);
  }
  get src(): Uint8Array {
    return this.b.subarray(this.off + 6, this.off + 12);
  }
  set src(mac: Uint8Array) {
    this.b.set(mac.subarray(0, 6), this.off + 6);
  }
  /** The outer EtherType/TPID (0x8100 for a tagged frame). */
  get etherType(): number {
    return get16(this.b, this.off + 12);
  }
  set etherType(v: number) {
    set16(this.b, this.off + 12, v);
  }
  get isVlanTagged(): boolean {
    return this.etherType === ETHERTYPE_VLAN;
  }
  /** The 12-bit VLAN id of a tagged frame. */
  get vlanId(): number {
    return get16(this.b, this.off + 14) & 0xfff;
  }
  /** The EtherType of the payload, looking through one 802.1Q tag. */
  get innerEtherType(): number {
    return this.isVlanTagged ? get16(this.b, this.off + 16) : this.etherType;
  }
  /** Bytes of L2 header: 14, or 18 with a tag. */
  get headerLength(): number {
    return this.isVlanTagged ? ETH_HLEN + VLAN_HLEN : ETH_HLEN;
  }
  get isBroadcast(): boolean {
    for (let i = 0; i < 6; i++) if (this.b[this.off + i] !== 0xff) return false;
    return true;
  }
  /** Group bit of the destination (multicast or broadcast). */
  get isMulticast(): boolean {
    return (this.b[this.off]! & 1) !== 0;
  }

  validate(len = this.b.length - this.off): "ok" | EthernetInvalid {
    if (len < ETH_HLEN || this.off + ETH_HLEN > this.b.length) return "truncated";
    if (this.isVlanTagged && len < ETH_HLEN + VLAN_HLEN) return "truncated-vlan";
    return "ok";
  }

  decode(): EthernetFields {
    return { dst: this.dst.slice(), src: this.src.slice(), etherType: this.etherType };
  }

  static encode(b: Uint8Array, off: number, f: EthernetFields): EthernetView {
    const v = new EthernetView(b, off);
    v.dst = f.dst;
    v.src = f.src;
    v.etherType = f.etherType;
    return v;
  }

  toString(): string {
    return `${macToString(this.b, this.off + 6)} > ${macToString(this.b, this.off)} type 0x${this.etherType.toString(16)}`;
  }
}
