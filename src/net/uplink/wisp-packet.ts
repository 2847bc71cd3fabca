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
