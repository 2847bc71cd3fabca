// Wisp v1 packets (spec/wisp.md §1–3): a 5-byte header (type, little-endian stream id) and a payload,
// one per WebSocket binary message. The client side's codec; what the server sends is untrusted, so the
// decoder returns undefined for anything short or malformed instead of throwing.

export const WISP_CONNECT = 0x01;
export const WISP_DATA = 0x02;
export const WISP_CONTINUE = 0x03;
export const WISP_CLOSE = 0x04;
export const WISP_INFO = 0x05;

export const WISP_STREAM_TCP = 0x01;
export const WISP_STREAM_UDP = 0x02;

export const WISP_CLOSE_UNSPECIFIED = 0x01;
export const WISP_CLOSE_VOLUNTARY = 0x02;
export const WISP_CLOSE_NETWORK_ERROR = 0x03;
export const WISP_CLOSE_INVALID_INFO = 0x41;
export const WISP_CLOSE_UNREACHABLE = 0x42;
export const WISP_CLOSE_CONNECT_TIMEOUT = 0x43;
export const WISP_CLOSE_REFUSED = 0x44;
export const WISP_CLOSE_DATA_TIMEOUT = 0x47;
export const WISP_CLOSE_BLOCKED = 0x48;
export const WISP_CLOSE_THROTTLED = 0x49;
export const WISP_CLOSE_CLIENT_ERROR = 0x81;

export const WISP_HEADER = 5;

export interface WispPacket {
  type: number;
  stream: number;
  payload: Uint8Array;
}

export function encodeWisp(type: number, stream: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(WISP_HEADER + payload.length);
  b[0] = type;
  b[1] = stream & 0xff;
  b[2] = (stream >>> 8) & 0xff;
  b[3] = (stream >>> 16) & 0xff;
  b[4] = (stream >>> 24) & 0xff;
  b.set(payload, WISP_HEADER);
  return b;
}

export function encodeConnect(stream: number, streamType: number, port: number, host: string): Uint8Array {
  const name = new TextEncoder().encode(host);
  const p = new Uint8Array(3 + name.length);
  p[0] = streamType;
  p[1] = port & 0xff;
  p[2] = port >>> 8;
  p.set(name, 3);
  return encodeWisp(WISP_CONNECT, stream, p);
}

export function encodeClose(stream: number, reason: number): Uint8Array {
  return encodeWisp(WISP_CLOSE, stream, new Uint8Array([reason]));
}

export function decodeWisp(b: Uint8Array): WispPacket | undefined {
  if (b.length < WISP_HEADER) return undefined;
  const stream = (b[1]! | (b[2]! << 8) | (b[3]! << 16) | (b[4]! << 24)) >>> 0;
  return { type: b[0]!, stream, payload: b.subarray(WISP_HEADER) };
}

/** CONTINUE's buffer-remaining count; undefined when the payload is too short. */
export function continueCredit(payload: Uint8Array): number | undefined {
  if (payload.length < 4) return undefined;
  return (payload[0]! | (payload[1]! << 8) | (payload[2]! << 16) | (payload[3]! << 24)) >>> 0;
}

/** Wisp v2 extension ids (spec/wisp.md §6). */
export const WISP_EXT_UDP = 0x01;
export const WISP_EXT_PASSWORD = 0x02;
export const WISP_EXT_KEY = 0x03;
/** v2 close reasons a server may end a handshake with. */
export const WISP_CLOSE_INCOMPATIBLE = 0x04;

export interface WispInfo {
  major: number;
  minor: number;
  /** Extension id → its payload. */
  extensions: Map<number, Uint8Array>;
}

/** A v2 INFO payload: u8 major, u8 minor, then records `u8 id | u32 LE length | payload`; undefined if malformed. */
export function decodeInfo(p: Uint8Array): WispInfo | undefined {
  if (p.length < 2) return undefined;
  const extensions = new Map<number, Uint8Array>();
  let at = 2;
  while (at < p.length) {
    if (at + 5 > p.length) return undefined;
    const len = (p[at + 1]! | (p[at + 2]! << 8) | (p[at + 3]! << 16) | (p[at + 4]! << 24)) >>> 0;
    if (at + 5 + len > p.length) return undefined;
    extensions.set(p[at]!, p.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return { major: p[0]!, minor: p[1]!, extensions };
}

/** A v2 INFO packet on stream 0 listing `extensions` with empty payloads. */
export function encodeInfo(major: number, minor: number, extensions: number[]): Uint8Array {
  const p = new Uint8Array(2 + extensions.length * 5);
  p[0] = major;
  p[1] = minor;
  extensions.forEach((id, i) => {
    p[2 + i * 5] = id; // length 0 (the four bytes after stay zero)
  });
  return encodeWisp(WISP_INFO, 0, p);
}
