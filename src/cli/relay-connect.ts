// `--net relay` in Node: the RelayBackend's socket is a `ws` client (the browser build passes its own
// WebSocket instead). Connection trouble is reported on stderr once per change, not once per retry.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { rootCertificates } from "node:tls";
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

/**
 * The certificates a wss:// relay is checked against: Node's own roots plus the file NODE_EXTRA_CA_CERTS names,
 * read here rather than by Node at start (`npm run vm` starts Node without it: parsing a system bundle cost every
 * start ~55 ms, scripts/vm.mjs) — the same set Node would have used. Nothing for ws:// or without the variable;
 * an unreadable file is reported and leaves Node's roots, as Node itself warns and goes on.
 */
export function relayTlsOptions(
  url: string,
  report: (message: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): { ca?: string[] } {
  const path = env.NODE_EXTRA_CA_CERTS;
  if (!/^wss:/i.test(url) || path === undefined || path === "") return {};
  let extra: string;
  try {
    extra = readFileSync(path, "utf8");
  } catch (e) {
    report(`relay: cannot read NODE_EXTRA_CA_CERTS (${path}): ${(e as Error).message}; using Node's own roots`);
    return {};
  }
  return { ca: [...rootCertificates, extra] };
}

export function nodeRelayOptions(
  url: string,
  report: (message: string) => void,
  onActivity: () => void,
  env: NodeJS.ProcessEnv = process.env,
): RelayBackendOptions {
  // One line when trouble starts and one when it ends; the retries in between stay quiet.
  let failing = false;
  let wasOpen = false;
  const tls = relayTlsOptions(url, report, env);
  return {
    connect: () => new (webSocketClass())(url, { perMessageDeflate: false, maxPayload: MAX_MESSAGE_BYTES, ...tls }),
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
