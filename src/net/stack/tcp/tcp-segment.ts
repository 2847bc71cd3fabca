// A TCP segment as the endpoint sees it (addresses and ports belong to the stack), plus the option codec
// (RFC 9293 §3.2, RFC 7323 window scale and timestamps, RFC 2018 SACK). The option bytes come from the
// guest: every length is checked against what remains, and a malformed list just stops parsing.

import { get16, get32, set16, set32 } from "../../wire/bytes.ts";

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

/** RFC 7323 §2.3: a shift above 14 is treated as 14. */
export const TCP_MAX_WINSHIFT = 14;

export interface TcpOptions {
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  tsVal?: number;
  tsEcr?: number;
  /** SACK blocks as [left, right) sequence pairs. */
  sack?: Array<[number, number]>;
}

export interface TcpSegment {
  seq: number;
  ack: number;
  flags: number;
  /** The raw 16-bit window field (unscaled). */
  window: number;
  options: TcpOptions;
  payload: Uint8Array;
}

/** Parses the option area b[off, off+len). Never throws; stops at EOL or at the first malformed option. */
export function parseTcpOptions(b: Uint8Array, off: number, len: number): TcpOptions {
  const o: TcpOptions = {};
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
    switch (kind) {
      case TCPOPT_MSS:
        if (olen === 4) o.mss = get16(b, i + 2);
        break;
      case TCPOPT_WINDOW:
        if (olen === 3) o.wscale = Math.min(b[i + 2]!, TCP_MAX_WINSHIFT);
        break;
      case TCPOPT_SACK_PERMITTED:
        if (olen === 2) o.sackPermitted = true;
        break;
      case TCPOPT_TIMESTAMP:
        if (olen === 10) {
          o.tsVal = get32(b, i + 2);
          o.tsEcr = get32(b, i + 6);
        }
        break;
      case TCPOPT_SACK:
        if ((olen - 2) % 8 === 0 && olen > 2) {
          o.sack = [];
          for (let j = i + 2; j + 8 <= i + olen; j += 8) o.sack.push([get32(b, j), get32(b, j + 4)]);
        }
        break;
    }
    i += olen;
  }
  return o;
}

/** Bytes `encodeTcpOptions` will write (always a multiple of 4). */
export function tcpOptionsLength(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.wscale !== undefined) n += 4; // NOP + 3
  if (o.sackPermitted) n += o.tsVal !== undefined ? 0 : 4; // rides in the timestamp's NOPs when both
  if (o.tsVal !== undefined) n += 12;
  if (o.sack !== undefined && o.sack.length > 0) n += 4 + 8 * o.sack.length - 2;
  return (n + 3) & ~3;
}

/** Writes the options at b[off]; returns the padded length (same as tcpOptionsLength). */
export function encodeTcpOptions(b: Uint8Array, off: number, o: TcpOptions): number {
  let i = off;
  if (o.mss !== undefined) {
    b[i] = TCPOPT_MSS;
    b[i + 1] = 4;
    set16(b, i + 2, o.mss);
    i += 4;
  }
  if (o.wscale !== undefined) {
    b[i] = TCPOPT_NOP;
    b[i + 1] = TCPOPT_WINDOW;
    b[i + 2] = 3;
    b[i + 3] = o.wscale;
    i += 4;
  }
  if (o.tsVal !== undefined) {
    // SACK-permitted takes the place of the two NOPs that would align the timestamp (as Linux does).
    if (o.sackPermitted) {
      b[i] = TCPOPT_SACK_PERMITTED;
      b[i + 1] = 2;
    } else {
      b[i] = TCPOPT_NOP;
      b[i + 1] = TCPOPT_NOP;
    }
    b[i + 2] = TCPOPT_TIMESTAMP;
    b[i + 3] = 10;
    set32(b, i + 4, o.tsVal);
    set32(b, i + 8, o.tsEcr ?? 0);
    i += 12;
  } else if (o.sackPermitted) {
    b[i] = TCPOPT_NOP;
    b[i + 1] = TCPOPT_NOP;
    b[i + 2] = TCPOPT_SACK_PERMITTED;
    b[i + 3] = 2;
    i += 4;
  }
  if (o.sack !== undefined && o.sack.length > 0) {
    b[i] = TCPOPT_NOP;
    b[i + 1] = TCPOPT_NOP;
    b[i + 2] = TCPOPT_SACK;
    b[i + 3] = 2 + 8 * o.sack.length;
    i += 4;
    for (const [l, r] of o.sack) {
      set32(b, i, l);
      set32(b, i + 4, r);
      i += 8;
    }
  }
  while ((i - off) & 3) b[i++] = TCPOPT_EOL;
  return i - off;
}
