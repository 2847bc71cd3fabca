// One WebSocket client of /l2/<network>: a switch port with the same per-client limits as a Wisp client
// (bytes/s each way, total bytes, idle time). Frames over the rate are dropped and counted — Ethernet
// has no flow control to pause, and guests' TCP recovers from loss.

import type { WebSocket } from "ws";
import { TokenBucket } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { L2Network, L2Port, L2Switch } from "./l2-switch.ts";

export interface L2ClientLimits {
  /** Per direction; 0 = unlimited. */
  bytesPerSecond: number;
  /** 0 = unlimited. */
  maxTotalBytes: number;
  idleTimeoutMs: number;
}

/** Frames buffered toward a client that does not read before new ones are dropped. */
const MAX_BUFFERED = 1 << 20;
const WS_UNSUPPORTED_DATA = 1003;
const WS_POLICY_VIOLATION = 1008;
const WS_TRY_AGAIN_LATER = 1013;

export function acceptL2Client(
  ws: WebSocket,
  sw: L2Switch,
  name: string,
  clientId: string,
  limits: L2ClientLimits,
  metrics: Metrics,
  log: Logger,
): boolean {
  const up = new TokenBucket(limits.bytesPerSecond, limits.bytesPerSecond);
  const down = new TokenBucket(limits.bytesPerSecond, limits.bytesPerSecond);
  let total = 0;
  let lastActivity = performance.now();
  let idleTimer: NodeJS.Timeout | undefined;
  const switched = metrics.counter("relay_bytes_total", { direction: "l2" });

  const account = (n: number): boolean => {
    lastActivity = performance.now();
    total += n;
    switched.value += n;
    if (limits.maxTotalBytes > 0 && total > limits.maxTotalBytes) {
      metrics.inc("relay_denials_total", { reason: "byte-limit" });
      log("l2.byte-limit", { client: clientId, network: name, bytes: total });
      ws.close(WS_POLICY_VIOLATION, "total byte limit reached");
      return false;
    }
    return true;
  };

  const port: L2Port = {
    id: clientId,
    send: (frame) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED)
        return void metrics.inc("relay_frames_dropped_total", { reason: "client-slow" });
      if (!down.tryTake(frame.length)) return void metrics.inc("relay_frames_dropped_total", { reason: "rate" });
      if (account(frame.length)) ws.send(frame);
    },
  };
  const joined = sw.join(name, port);
  if (!joined.ok) {
    metrics.inc("relay_connections_refused_total", { reason: joined.reason });
    ws.close(WS_TRY_AGAIN_LATER, joined.reason);
    return false;
  }
  const network: L2Network = joined.network;
  log("l2.join", { client: clientId, network: name });

  const armIdle = () => {
    if (limits.idleTimeoutMs <= 0) return;
    idleTimer = setTimeout(
      () => {
        if (performance.now() - lastActivity >= limits.idleTimeoutMs) {
          metrics.inc("relay_denials_total", { reason: "idle-timeout" });
          ws.close(1000, "idle timeout");
        } else armIdle();
      },
      Math.max(0, lastActivity + limits.idleTimeoutMs - performance.now()) + 1,
    );
  };
  armIdle();

  ws.on("message", (data: Buffer, isBinary) => {
    if (!isBinary) {
      metrics.inc("relay_protocol_errors_total", { error: "text-message" });
      ws.close(WS_UNSUPPORTED_DATA, "binary messages only");
      return;
    }
    if (!up.tryTake(data.length)) return void metrics.inc("relay_frames_dropped_total", { reason: "rate" });
    if (account(data.length)) network.input(port, data);
  });
  ws.on("error", (err: Error & { code?: string }) => {
    const error = err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? "frame-too-large" : "websocket-error";
    metrics.inc("relay_frames_dropped_total", { reason: error });
  });
  ws.on("close", () => {
    if (idleTimer) clearTimeout(idleTimer);
    sw.leave(network, port);
  });
  return true;
}
