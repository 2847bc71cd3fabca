// Per-client limits of a Wisp connection, and defaults that hold up on the open internet. `--buffer`,
// `--max-streams`, `--rate`, `--max-bytes`, `--idle-timeout` and `--connect-timeout` set them (config.ts).

export interface WispLimits {
  /** Packets a TCP stream may have in flight toward us (the CONTINUE credit). */
  bufferPackets: number;
  maxStreams: number;
  /** Per client and per direction; 0 = unlimited. */
  bytesPerSecond: number;
  /** Payload bytes both ways over the connection's life; 0 = unlimited. */
  maxTotalBytes: number;
  /** No frame either way for this long closes the connection. */
  idleTimeoutMs: number;
  /** A UDP stream with no datagram either way for this long is closed (0x47). */
  udpIdleTimeoutMs: number;
  connectTimeoutMs: number;
  lookupTimeoutMs: number;
  /** Malformed packets tolerated before the connection is closed. */
  maxProtocolErrors: number;
  /** Client bytes queued toward sockets before we stop reading the WebSocket. */
  maxQueuedBytes: number;
  /** Server→client bytes buffered in the WebSocket before sockets are paused. */
  maxBufferedBytes: number;
}

export const DEFAULT_WISP_LIMITS: WispLimits = {
  bufferPackets: 128,
  maxStreams: 64,
  bytesPerSecond: 0,
  maxTotalBytes: 0,
  idleTimeoutMs: 300_000,
  udpIdleTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  lookupTimeoutMs: 5_000,
  maxProtocolErrors: 8,
  maxQueuedBytes: 4 << 20,
  maxBufferedBytes: 1 << 20,
};
