// TCP header view (RFC 9293) with options: fixed-offset getters/setters, option walk and encode, and the
// checksum over a pseudo-header sum supplied by the IP layer (Ipv4View/Ipv6View.pseudoHeaderSum).

import { get16, get32, set16, set32 } from "./bytes.ts";
import { internetChecksum } from "./checksum.ts";

export const TCP_MIN_HLEN = 20;
export const TCP_MAX_HLEN = 60;
export const TCP_CSUM_OFFSET = 16;

export const TCP_FLAG_FIN = 0x01;
export const TCP_FLAG_SYN = 0x02;
export const TCP_FLAG_RST = 0x04;
export const TCP_FLAG_PSH = 0x08;
export const TCP_FLAG_ACK = 0x10;
export const TCP_FLAG_URG = 0x20;
export const TCP_FLAG_ECE = 0x40;
export const TCP_FLAG_CWR = 0x80;

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export type TcpInvalid = "truncated" | "bad-data-offset";

export interface TcpOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** [tsVal, tsEcr] */
  timestamp?: [number, number];
  /** SACK blocks as [left, right) pairs. */
  sack?: [number, number][];
}

export interface TcpFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgent: number;
  checksum?: number;
  /** Raw option bytes (padded to a multiple of 4 by encode()). */
  options?: Uint8Array;
}

export class TcpView {
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
  get seq(): number {
    return get32(this.b, this.off + 4);
  }
  set seq(v: number) {
    set32(this.b, this.off + 4, v >>> 0);
  }
  get ack(): number {
    return get32(this.b, this.off + 8);
  }
  set ack(v: number) {
    set32(this.b, this.off + 8, v >>> 0);
  }
  /** Data offset in 32-bit words. */
  get dataOffset(): number {
    return this.b[this.off + 12]! >>> 4;
  }
  set dataOffset(v: number) {
    this.b[this.off + 12] = ((v & 0xf) << 4) | (this.b[this.off + 12]! & 0x0f);
  }
  get headerLength(): number {
    return this.dataOffset * 4;
  }
  /** The eight flag bits CWR..FIN. */
  get flags(): number {
    return this.b[this.off + 13]!;
  }
  set flags(v: number) {
    this.b[this.off + 13] = v;
  }
  get window(): number {
    return get16(this.b, this.off + 14);
  }
  set window(v: number) {
    set16(this.b, this.off + 14, v);
  }
  get checksum(): number {
    return get16(this.b, this.off + 16);
  }
  set checksum(v: number) {
    set16(this.b, this.off + 16, v);
  }
  get urgent(): number {
    return get16(this.b, this.off + 18);
  }
  set urgent(v: number) {
    set16(this.b, this.off + 18, v);
  }
  /** Zero-copy view of the option bytes. */
  get options(): Uint8Array {
    return this.b.subarray(this.off + TCP_MIN_HLEN, this.off + this.headerLength);
  }

  validate(len = this.b.length - this.off): "ok" | TcpInvalid {
    if (len < TCP_MIN_HLEN || this.off + TCP_MIN_HLEN > this.b.length) return "truncated";
    const hl = this.headerLength;
    if (hl < TCP_MIN_HLEN || hl > len) return "bad-data-offset";
    return "ok";
  }

  /** Checksum of a segment of `len` bytes (header + payload) given the pseudo-header sum. */
  computeChecksum(pseudoSum: number, len: number): number {
    const saved = this.checksum;
    this.checksum = 0;
    const c = internetChecksum(this.b, this.off, len, pseudoSum);
    this.checksum = saved;
    return c;
  }
  /** True when the stored checksum verifies. */
  checksumValid(pseudoSum: number, len: number): boolean {
    return internetChecksum(this.b, this.off, len, pseudoSum) === 0;
  }

  /** Parses the well-known options (see parseTcpOptions); a malformed list stops the walk. */
  parseOptions(): TcpOptions {
    return parseTcpOptions(this.options);
  }

  decode(): TcpFields {
    return {
      srcPort: this.srcPort,
      dstPort: this.dstPort,
      seq: this.seq,
      ack: this.ack,
      flags: this.flags,
      window: this.window,
      urgent: this.urgent,
      checksum: this.checksum,
      options: this.options.slice(),
    };
  }

  /** Writes the header (options padded with EOL to 4 bytes); the checksum is stored as given or 0. */
  static encode(b: Uint8Array, off: number, f: TcpFields): TcpView {
    const optLen = f.options?.length ?? 0;
    const padded = (optLen + 3) & ~3;
    if (padded > 40) throw new RangeError("TCP options exceed 40 bytes");
    const v = new TcpView(b, off);
    v.srcPort = f.srcPort;
    v.dstPort = f.dstPort;
    v.seq = f.seq;
    v.ack = f.ack;
    b[off + 12] = ((5 + padded / 4) << 4) & 0xf0;
    v.flags = f.flags;
    v.window = f.window;
    v.checksum = f.checksum ?? 0;
    v.urgent = f.urgent;
    if (f.options) b.set(f.options, off + TCP_MIN_HLEN);
    b.fill(TCPOPT_EOL, off + TCP_MIN_HLEN + optLen, off + TCP_MIN_HLEN + padded);
    return v;
  }
}

/**
 * Walks the TCP option bytes b[off, off+len) (clamped to the end of `b`); the one option parser, also behind
 * the stack's segment parser (src/net/stack/tcp/tcp-segment.ts). Never throws. EOL ends the walk and NOP is
 * skipped; a kind with no length byte left, or a length that is < 2 or overruns the area, ends the walk (what
 * was parsed so far stays). Unknown kinds, and known kinds with the wrong length, are skipped by their
 * length. A SACK option must hold at least one whole block (as Linux checks). A repeated option overwrites the
 * earlier one. The window shift is reported as sent: the RFC 7323 clamp to 14 is the receiver's business.
 */
export function parseTcpOptions(b: Uint8Array, off = 0, len = b.length - off): TcpOptions {
  const out: TcpOptions = {};
  const end = Math.min(off + len, b.length);
  let i = off;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) break;
    const olen = b[i + 1]!;
    if (olen < 2 || i + olen > end) break;
    if (kind === TCPOPT_MSS && olen === 4) out.mss = get16(b, i + 2);
    else if (kind === TCPOPT_WINDOW && olen === 3) out.windowScale = b[i + 2]!;
    else if (kind === TCPOPT_SACK_PERM && olen === 2) out.sackPermitted = true;
    else if (kind === TCPOPT_TIMESTAMP && olen === 10) out.timestamp = [get32(b, i + 2), get32(b, i + 6)];
    else if (kind === TCPOPT_SACK && olen > 2 && (olen - 2) % 8 === 0) {
      out.sack = [];
      for (let j = i + 2; j < i + olen; j += 8) out.sack.push([get32(b, j), get32(b, j + 4)]);
    }
    i += olen;
  }
  return out;
}

/** Encodes options in the order Linux uses (MSS, SACK-perm, timestamps, window scale, SACK), NOP-aligned. */
export function encodeTcpOptions(opts: TcpOptions): Uint8Array {
  const out: number[] = [];
  if (opts.mss !== undefined) out.push(TCPOPT_MSS, 4, opts.mss >>> 8, opts.mss & 0xff);
  if (opts.timestamp) {
    if (opts.sackPermitted) out.push(TCPOPT_SACK_PERM, 2);
    else out.push(TCPOPT_NOP, TCPOPT_NOP);
    out.push(TCPOPT_TIMESTAMP, 10);
    for (const v of opts.timestamp) out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  } else if (opts.sackPermitted) {
    out.push(TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_PERM, 2);
  }
  if (opts.windowScale !== undefined) out.push(TCPOPT_NOP, TCPOPT_WINDOW, 3, opts.windowScale);
  if (opts.sack && opts.sack.length > 0) {
    out.push(TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK, 2 + 8 * opts.sack.length);
    for (const [l, r] of opts.sack) {
      for (const v of [l, r]) out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    }
  }
  while (out.length % 4 !== 0) out.push(TCPOPT_EOL);
  return Uint8Array.from(out);
}

/** Sequence-space comparison (RFC 9293 §3.4): a < b modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
