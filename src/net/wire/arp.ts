// ARP for IPv4 over Ethernet (RFC 826): a 28-byte zero-copy view.

import { get16, get32, set16, set32 } from "./bytes.ts";

export const ARP_LEN = 28;
export const ARP_HTYPE_ETHERNET = 1;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

export type ArpInvalid = "truncated" | "not-ethernet-ipv4";

export interface ArpFields {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

export class ArpView {
  constructor(
    readonly b: Uint8Array,
    readonly off = 0,
  ) {}

  get htype(): number {
    return get16(this.b, this.off);
  }
  set htype(v: number) {
    set16(this.b, this.off, v);
  }
  get ptype(): number {
    return get16(this.b, this.off + 2);
  }
  set ptype(v: number) {
    set16(this.b, this.off + 2, v);
  }
  get hlen(): number {
    return this.b[this.off + 4]!;
  }
  set hlen(v: number) {
    this.b[this.off + 4] = v;
  }
  get plen(): number {
    return this.b[this.off + 5]!;
  }
  set plen(v: number) {
    this.b[this.off + 5] = v;
  }
  get op(): number {
    return get16(this.b, this.off + 6);
  }
  set op(v: number) {
    set16(this.b, this.off + 6, v);
  }
  get senderMac(): Uint8Array {
    return this.b.subarray(this.off + 8, this.off + 14);
  }
  set senderMac(m: Uint8Array) {
    this.b.set(m.subarray(0, 6), this.off + 8);
  }
  get senderIp(): number {
    return get32(this.b, this.off + 14);
  }
  set senderIp(v: number) {
    set32(this.b, this.off + 14, v);
  }
  get targetMac(): Uint8Array {
    return this.b.subarray(this.off + 18, this.off + 24);
  }
  set targetMac(m: Uint8Array) {
    this.b.set(m.subarray(0, 6), this.off + 18);
  }
  get targetIp(): number {
    return get32(this.b, this.off + 24);
  }
  set targetIp(v: number) {
    set32(this.b, this.off + 24, v);
  }

  validate(len = this.b.length - this.off): "ok" | ArpInvalid {
    if (len < ARP_LEN || this.off + ARP_LEN > this.b.length) return "truncated";
    if (this.htype !== ARP_HTYPE_ETHERNET || this.ptype !== 0x0800 || this.hlen !== 6 || this.plen !== 4) {
      return "not-ethernet-ipv4";
    }
    return "ok";
  }

  decode(): ArpFields {
    return {
      op: this.op,
      senderMac: this.senderMac.slice(),
      senderIp: this.senderIp,
      targetMac: this.targetMac.slice(),
      targetIp: this.targetIp,
    };
  }

  static encode(b: Uint8Array, off: number, f: ArpFields): ArpView {
    const v = new ArpView(b, off);
    v.htype = ARP_HTYPE_ETHERNET;
    v.ptype = 0x0800;
    v.hlen = 6;
    v.plen = 4;
    v.op = f.op;
    v.senderMac = f.senderMac;
    v.senderIp = f.senderIp;
    v.targetMac = f.targetMac;
    v.targetIp = f.targetIp;
    return v;
  }
}
