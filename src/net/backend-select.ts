// The network backends a host program can ask for by name (the CLI's --net, the worker's options): a
// small switch so each new backend (the in-page stack, the relay) adds one case here.

import { ALL_OFFLOADS, type NetBackend } from "./backend.ts";
import { EchoBackend } from "./link/loopback.ts";
import { RelayBackend, type RelayBackendOptions } from "./relay-backend.ts";
import type { StackConfig } from "./stack/config.ts";
import { StackBackend } from "./stack-backend.ts";
import type { Uplink } from "./uplink/uplink.ts";

/** "none" means no network device at all; the host program checks it before asking for a backend. */
export const NET_BACKEND_KINDS = ["loopback", "stack", "relay", "none"] as const;
export type NetBackendKind = (typeof NET_BACKEND_KINDS)[number];

export function isNetBackendKind(s: string): s is NetBackendKind {
  return (NET_BACKEND_KINDS as readonly string[]).includes(s);
}

/** What the in-page stack needs from its host: an uplink (Node: sockets; browser: Wisp) and settings. */
export interface StackBackendEnv {
  uplink: Uplink;
  config?: Partial<StackConfig>;
  /** Called when the stack has work for the guest that arrived on its own (uplink data, timers). */
  onActivity?: () => void;
}

/** What the relay backend needs from its host: a way to open a WebSocket to /l2/<network>. */
export interface RelayBackendEnv {
  relay: RelayBackendOptions;
}

/**
 * A backend for `kind`, or undefined for "none". "stack" needs a StackBackendEnv (the host's uplink),
 * "relay" a RelayBackendEnv (the host's WebSocket: the browser's or Node's `ws`).
 */
export function createNetBackend(
  kind: NetBackendKind,
  env?: StackBackendEnv | RelayBackendEnv,
): NetBackend | undefined {
  switch (kind) {
    case "loopback":
      // An echo peer that takes every offload, so superpackets and partial checksums come back whole.
      return new EchoBackend(ALL_OFFLOADS);
    case "stack":
      if (env === undefined || !("uplink" in env)) throw new Error("the stack backend needs an uplink");
      return new StackBackend({ ...env.config, uplink: env.uplink, onActivity: env.onActivity });
    case "relay":
      if (env === undefined || !("relay" in env)) throw new Error("the relay backend needs a WebSocket to connect");
      return new RelayBackend(env.relay);
    case "none":
      return undefined;
  }
}
