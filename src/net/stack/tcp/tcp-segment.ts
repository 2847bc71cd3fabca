// A TCP segment as the endpoint sees it (addresses and ports belong to the stack), plus the option codec
// (RFC 9293 §3.2, RFC 7323 window scale and timestamps, RFC 2018 SACK). The option bytes come from the
// guest; they are walked by the wire codec's parseTcpOptions (src/net/wire/tcp.ts), which checks every length
// against what remains and just stops at a malformed list. This file maps its result to the endpoint's shape
// and applies the window-shift clamp.

import { set16, set32 } from "../../wire/bytes.ts";
import {
  parseTcpOptions as parseWireTcpOptions,
  TCP_FLAG_ACK,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_FLAG_URG,
  TCPOPT_EOL,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK,
  TCPOPT_SACK_PERM,
  TCPOPT_TIMESTAMP,
  TCPOPT_WINDOW,
} from "../../wire/tcp.ts";

export {
  TCP_FLAG_ACK as TCP_ACK,
  TCP_FLAG_FIN as TCP_FIN,
  TCP_FLAG_PSH as TCP_PSH,
  TCP_FLAG_RST as TCP_RST,
  TCP_FLAG_SYN as TCP_SYN,
  TCP_FLAG_URG as TCP_URG,
  TCPOPT_EOL,
  TCPOPT_MSS,
  TCPOPT_NOP,
  TCPOPT_SACK,
  TCPOPT_SACK_PERM as TCPOPT_SACK_PERMITTED,
  TCPOPT_TIMESTAMP,
  TCPOPT_WINDOW,
};

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

/**
 * Parses the option area b[off, off+len) with the wire codec's walk. Never throws; stops at EOL or at the
 * first malformed option. A window shift above 14 reads as 14. Keys come out in the order the options appear.
 */
export function parseTcpOptions(b: Uint8Array, off: number, len: number): TcpOptions {
  const w = parseWireTcpOptions(b, off, len);
  const o: TcpOptions = {};
  for (const k in w) {
    switch (k) {
      case "mss":
        o.mss = w.mss;
        break;
      case "windowScale":
        o.wscale = Math.min(w.windowScale!, TCP_MAX_WINSHIFT);
        break;
      case "sackPermitted":
        o.sackPermitted = true;
        break;
      case "timestamp":
        o.tsVal = w.timestamp![0];
        o.tsEcr = w.timestamp![1];
        break;
      case "sack":
        o.sack = w.sack;
        break;
    }
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

/**
 * Writes the options at b[off]; returns the padded length (same as tcpOptionsLength). Not the wire codec's
 * encodeTcpOptions: that one puts the window scale after the timestamp (Linux's order) and returns a new
 * array; this is the layout the stack sends (window scale second).
 */
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
      b[i] = TCPOPT_SACK_PERM;
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
    b[i + 2] = TCPOPT_SACK_PERM;
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
