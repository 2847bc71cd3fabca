// `--net relay` in Node: the RelayBackend's socket is a `ws` client (the browser build passes its own
// WebSocket instead). Connection trouble is reported on stderr once per change, not once per retry.

import { createRequire } from "node:module";
import type { WebSocket as WsSocket } from "ws";
import type { RelayBackendOptions, RelayStatus } from "../net/relay-backend.ts";

/**
 * `ws`, loaded on the first connection: most runs have no relay, and loading it (and its streams) costs
 * every start ~10 ms.
 */
let wsClass: typeof WsSocket | undefined;
function webSocketClass(): typeof WsSocket {
  wsClass ??= (createRequire(import.meta.url)("ws") as { WebSocket: typeof WsSocket }).WebSocket;
  return wsClass;
}

/** The relay's L2 messages are single Ethernet frames; anything far larger is not ours to buffer. */
const MAX_MESSAGE_BYTES = 64 * 1024;

export function nodeRelayOptions(
  url: string,
  report: (message: string) => void,
  onActivity: () => void,
): RelayBackendOptions {
  // One line when trouble starts and one when it ends; the retries in between stay quiet.
  let failing = false;
  let wasOpen = false;
  return {
    connect: () => new (webSocketClass())(url, { perMessageDeflate: false, maxPayload: MAX_MESSAGE_BYTES }),
    onActivity,
    onStatus: (status: RelayStatus, detail?: string) => {
      if (status === "open") {
        if (failing) report(`relay: connected to ${url}`);
        failing = false;
        wasOpen = true;
      } else if (status === "waiting" && !failing) {
        failing = true;
        report(`relay: ${wasOpen ? "lost" : "cannot reach"} ${url}: ${detail ?? "closed"}`);
      }
    },
  };
}
