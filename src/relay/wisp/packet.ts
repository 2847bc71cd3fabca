// Wisp v1 packet codec (../shared/spec/wisp.md §1–§3). Every byte here comes from a WebSocket peer on the
// internet: the parser never throws, never reads past the message, and names every way a packet is wrong
// so the server can count it and pick a close reason.

export const PACKET_CONNECT = 0x01;
export const PACKET_DATA = 0x02;
export const PACKET_CONTINUE = 0x03;
export const PACKET_CLOSE = 0x04;
/** v2 only; a v1 server treats it as an unknown type. */
export const PACKET_INFO = 0x05;

export const STREAM_TYPE_TCP = 0x01;
export const STREAM_TYPE_UDP = 0x02;

export const CLOSE_REASON_UNSPECIFIED = 0x01;
export const CLOSE_REASON_VOLUNTARY = 0x02;
export const CLOSE_REASON_NETWORK_ERROR = 0x03;
export const CLOSE_REASON_INVALID_INFO = 0x41;
export const CLOSE_REASON_UNREACHABLE = 0x42;
export const CLOSE_REASON_CONNECT_TIMEOUT = 0x43;
export const CLOSE_REASON_REFUSED = 0x44;
export const CLOSE_REASON_DATA_TIMEOUT = 0x47;
export const CLOSE_REASON_BLOCKED = 0x48;
export const CLOSE_REASON_THROTTLED = 0x49;
export const CLOSE_REASON_CLIENT_ERROR = 0x81;

/** type (1) + stream id (4). */
export const WISP_HEADER_SIZE = 5;
/** stream type (1) + port (2), before the hostname. */
const CONNECT_FIXED_SIZE = 3;
/** DNS names are at most 253 characters; anything longer cannot be a destination. */
export const MAX_HOSTNAME_LENGTH = 253;

export type WispPacket =
  | { type: typeof PACKET_CONNECT; streamId: number; streamType: number; port: number; hostname: string }
  | { type: typeof PACKET_DATA; streamId: number; payload: Uint8Array }
  | { type: typeof PACKET_CONTINUE; streamId: number; remaining: number }
  | { type: typeof PACKET_CLOSE; streamId: number; reason: number };

/** Why a message is not a Wisp packet; also the metric label. */
export type WispParseError =
  | "truncated-header"
  | "unknown-type"
  | "connect-truncated"
  | "bad-stream-type"
  | "bad-port"
  | "bad-hostname"
  | "continue-truncated"
  | "close-truncated";

export type ParseResult =
  | { ok: true; packet: WispPacket }
  /** `streamId` is present when the header was readable, so the error can close just that stream. */
  | { ok: false; error: WispParseError; streamId?: number };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses one WebSocket binary message. DATA's payload is a view into `msg` (no copy): the caller must
 * not keep it past the message unless it copies.
 */
export function parseWispPacket(msg: Uint8Array): ParseResult {
  if (msg.length < WISP_HEADER_SIZE) return { ok: false, error: "truncated-header" };
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  const type = msg[0]!;
  const streamId = dv.getUint32(1, true);
  const body = msg.length - WISP_HEADER_SIZE;
  switch (type) {
    case PACKET_DATA:
      return { ok: true, packet: { type, streamId, payload: msg.subarray(WISP_HEADER_SIZE) } };
    case PACKET_CONNECT: {
      if (body < CONNECT_FIXED_SIZE) return { ok: false, error: "connect-truncated", streamId };
      const streamType = msg[5]!;
      if (streamType !== STREAM_TYPE_TCP && streamType !== STREAM_TYPE_UDP)
        return { ok: false, error: "bad-stream-type", streamId };
      const port = dv.getUint16(6, true);
      if (port === 0) return { ok: false, error: "bad-port", streamId };
      const raw = msg.subarray(WISP_HEADER_SIZE + CONNECT_FIXED_SIZE);
      // Byte length bounds the work before decoding; UTF-8 never has fewer bytes than characters.
      if (raw.length === 0 || raw.length > MAX_HOSTNAME_LENGTH * 4)
        return { ok: false, error: "bad-hostname", streamId };
      let hostname: string;
      try {
        hostname = utf8.decode(raw);
      } catch {
        return { ok: false, error: "bad-hostname", streamId };
      }
      if (hostname.length > MAX_HOSTNAME_LENGTH) return { ok: false, error: "bad-hostname", streamId };
      return { ok: true, packet: { type, streamId, streamType, port, hostname } };
    }
    case PACKET_CONTINUE:
      if (body < 4) return { ok: false, error: "continue-truncated", streamId };
      return { ok: true, packet: { type, streamId, remaining: dv.getUint32(5, true) } };
    case PACKET_CLOSE:
      if (body < 1) return { ok: false, error: "close-truncated", streamId };
      return { ok: true, packet: { type, streamId, reason: msg[5]! } };
    default:
      return { ok: false, error: "unknown-type", streamId };
  }
}

function header(type: number, streamId: number, bodySize: number): { buf: Uint8Array; dv: DataView } {
  const buf = new Uint8Array(WISP_HEADER_SIZE + bodySize);
  const dv = new DataView(buf.buffer);
  buf[0] = type;
  dv.setUint32(1, streamId >>> 0, true);
  return { buf, dv };
}

export function encodeData(streamId: number, payload: Uint8Array): Uint8Array {
  // Not zero-filled: every byte is written below (this is the hot path of both directions).
  const b = Buffer.allocUnsafe(WISP_HEADER_SIZE + payload.length);
  const buf = new Uint8Array(b.buffer, b.byteOffset, b.length);
  writeDataHeader(buf, 0, streamId);
  buf.set(payload, WISP_HEADER_SIZE);
  return buf;
}

/** Writes a DATA header at `buf[at..at+5)`, for a payload already placed right after it. */
export function writeDataHeader(buf: Uint8Array, at: number, streamId: number): void {
  const id = streamId >>> 0;
  buf[at] = PACKET_DATA;
  buf[at + 1] = id & 0xff;
  buf[at + 2] = (id >>> 8) & 0xff;
  buf[at + 3] = (id >>> 16) & 0xff;
  buf[at + 4] = id >>> 24;
}

export function encodeContinue(streamId: number, remaining: number): Uint8Array {
  const { buf, dv } = header(PACKET_CONTINUE, streamId, 4);
  dv.setUint32(5, remaining >>> 0, true);
  return buf;
}

export function encodeClose(streamId: number, reason: number): Uint8Array {
  const { buf } = header(PACKET_CLOSE, streamId, 1);
  buf[5] = reason & 0xff;
  return buf;
}

const utf8Encoder = new TextEncoder();

export function encodeConnect(streamId: number, streamType: number, port: number, hostname: string): Uint8Array {
  const name = utf8Encoder.encode(hostname);
  const { buf, dv } = header(PACKET_CONNECT, streamId, CONNECT_FIXED_SIZE + name.length);
  buf[5] = streamType;
  dv.setUint16(6, port, true);
  buf.set(name, WISP_HEADER_SIZE + CONNECT_FIXED_SIZE);
  return buf;
}

/** A human word for a close reason, for logs and metrics labels. */
export function closeReasonName(reason: number): string {
  switch (reason) {
    case CLOSE_REASON_UNSPECIFIED:
      return "unspecified";
    case CLOSE_REASON_VOLUNTARY:
      return "closed";
    case CLOSE_REASON_NETWORK_ERROR:
      return "network-error";
    case CLOSE_REASON_INVALID_INFO:
      return "invalid";
    case CLOSE_REASON_UNREACHABLE:
      return "unreachable";
    case CLOSE_REASON_CONNECT_TIMEOUT:
      return "connect-timeout";
    case CLOSE_REASON_REFUSED:
      return "refused";
    case CLOSE_REASON_DATA_TIMEOUT:
      return "idle-timeout";
    case CLOSE_REASON_BLOCKED:
      return "blocked";
    case CLOSE_REASON_THROTTLED:
      return "throttled";
    case CLOSE_REASON_CLIENT_ERROR:
      return "client-error";
    default:
      return "other";
  }
}
