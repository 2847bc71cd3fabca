// A learning Ethernet switch per network name (../shared/spec/wisp.md §7, the websockproxy convention):
// each port is one WebSocket client (or the network's gateway), each message one Ethernet II frame.
// Frames come from guests we do not trust: length is checked before any byte is read, a port cannot
// claim multicast or another port's pinned MAC, and the MAC table is bounded per port and per network.

import { type Logger, rateLimitedLogger } from "../log.ts";
import type { Metrics } from "../metrics.ts";

/** destination (6) + source (6) + EtherType (2). */
export const ETH_HEADER_SIZE = 14;
/** 1500-byte MTU + header + an 802.1Q tag (spec §7). */
export const ETH_MAX_FRAME = 1518;

export interface L2Port {
  /** For logs only. */
  readonly id: string;
  /** A frame for this port; `from` is the port that sent it (the gateway charges the flows it opens to it). */
  send(frame: Uint8Array, from: L2Port): void;
}

export interface L2Limits {
  maxFrameBytes: number;
  maxNetworks: number;
  maxPortsPerNetwork: number;
  /** Guests behind a bridge may show several MACs; a port flooding new ones is filling our table. */
  maxMacsPerPort: number;
  /** Sockets all L2 gateways together hold for guests' flows (each client also within --max-streams). */
  maxGatewaySockets: number;
}

export const DEFAULT_L2_LIMITS: L2Limits = {
  maxFrameBytes: ETH_MAX_FRAME,
  maxNetworks: 256,
  maxPortsPerNetwork: 64,
  maxMacsPerPort: 8,
  maxGatewaySockets: 4096,
};

export type DropReason = "runt" | "too-large" | "bad-source" | "mac-limit" | "mac-spoof" | "hairpin";

/** 48-bit MAC as a number (exact: below 2^53) so it can key a Map without allocating strings. */
function macAt(f: Uint8Array, off: number): number {
  return (
    f[off]! * 2 ** 40 +
    f[off + 1]! * 2 ** 32 +
    ((f[off + 2]! << 24) >>> 0) +
    (f[off + 3]! << 16) +
    (f[off + 4]! << 8) +
    f[off + 5]!
  );
}

export function formatMac(mac: number): string {
  return mac
    .toString(16)
    .padStart(12, "0")
    .replace(/(..)(?!$)/g, "$1:");
}

interface PortState {
  port: L2Port;
  macs: Set<number>;
}

export class L2Network {
  readonly ports = new Map<L2Port, PortState>();
  /** Guests can make MAC events happen per frame; the log must not follow them that fast. */
  private readonly log: Logger;
  private readonly table = new Map<number, PortState>();
  /** MACs that only their owner may send from (the gateway's), so a guest cannot take its traffic. */
  private readonly pinned = new Map<number, L2Port>();
  /** Told of every port that leaves (the gateway closes the sockets it holds for it). */
  readonly onDetach = new Set<(port: L2Port) => void>();

  constructor(
    readonly name: string,
    private readonly limits: L2Limits,
    private readonly metrics: Metrics,
    log: Logger,
  ) {
    this.log = rateLimitedLogger(log, 20, 100);
  }

  get size(): number {
    return this.ports.size;
  }

  attach(port: L2Port, pinnedMacs: number[] = []): void {
    this.ports.set(port, { port, macs: new Set() });
    for (const m of pinnedMacs) this.pinned.set(m, port);
  }

  detach(port: L2Port): void {
    const st = this.ports.get(port);
    if (!st) return;
    for (const m of st.macs) if (this.table.get(m) === st) this.table.delete(m);
    for (const [m, p] of this.pinned) if (p === port) this.pinned.delete(m);
    this.ports.delete(port);
    for (const f of this.onDetach) f(port);
  }

  private drop(reason: DropReason): 0 {
    this.metrics.inc("relay_frames_dropped_total", { reason });
    return 0;
  }

  /** A frame arriving from `from`; returns how many ports it was delivered to. */
  input(from: L2Port, frame: Uint8Array): number {
    const st = this.ports.get(from);
    if (!st) return 0;
    if (frame.length < ETH_HEADER_SIZE) return this.drop("runt");
    if (frame.length > this.limits.maxFrameBytes) return this.drop("too-large");
    const src = macAt(frame, 6);
    // A multicast or all-zero source is never a real sender; learning it would hijack flooding.
    if (frame[6]! & 1 || src === 0) return this.drop("bad-source");
    const owner = this.pinned.get(src);
    if (owner && owner !== from) {
      this.log("l2.mac-spoof", { network: this.name, port: from.id, mac: formatMac(src) });
      return this.drop("mac-spoof");
    }
    const learned = this.table.get(src);
    if (learned !== st) {
      if (!st.macs.has(src) && st.macs.size >= this.limits.maxMacsPerPort) return this.drop("mac-limit");
      if (learned) {
        // Re-learning moves the entry (a VM that reconnected); logged because it is also how spoofing looks.
        learned.macs.delete(src);
        this.log("l2.mac-moved", { network: this.name, mac: formatMac(src), from: learned.port.id, to: from.id });
      }
      this.table.set(src, st);
      st.macs.add(src);
    }
    const dstMulticast = (frame[0]! & 1) === 1;
    if (!dstMulticast) {
      const dst = this.table.get(macAt(frame, 0));
      if (dst) {
        if (dst === st) return this.drop("hairpin");
        dst.port.send(frame, from);
        this.metrics.inc("relay_frames_switched_total");
        return 1;
      }
    }
    // Broadcast, multicast and unknown unicast go everywhere else on this network (and nowhere beyond it).
    let n = 0;
    for (const p of this.ports.values()) {
      if (p === st) continue;
      p.port.send(frame, from);
      n++;
    }
    if (n) this.metrics.inc("relay_frames_switched_total", undefined, n);
    return n;
  }
}

export type JoinResult = { ok: true; network: L2Network } | { ok: false; reason: "max-networks" | "network-full" };

/** Networks by name; a network exists while it has a port and is isolated from every other. */
export class L2Switch {
  readonly networks = new Map<string, L2Network>();

  constructor(
    private readonly limits: L2Limits,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Called when a network is created: attach its gateway host; returns a cleanup for when it empties. */
    private readonly onCreate: (network: L2Network) => (() => void) | undefined = () => undefined,
  ) {}

  private readonly cleanups = new Map<L2Network, () => void>();
  /** Ports that count toward "the network is in use" (clients, not the gateway). */
  private readonly clients = new Map<L2Network, number>();

  join(name: string, port: L2Port): JoinResult {
    let net = this.networks.get(name);
    if (!net) {
      if (this.networks.size >= this.limits.maxNetworks) return { ok: false, reason: "max-networks" };
      net = new L2Network(name, this.limits, this.metrics, this.log);
      this.networks.set(name, net);
      this.metrics.set("relay_l2_networks_active", this.networks.size);
      this.log("l2.network-created", { network: name });
      const cleanup = this.onCreate(net);
      if (cleanup) this.cleanups.set(net, cleanup);
    }
    const count = this.clients.get(net) ?? 0;
    if (count >= this.limits.maxPortsPerNetwork) return { ok: false, reason: "network-full" };
    this.clients.set(net, count + 1);
    net.attach(port);
    return { ok: true, network: net };
  }

  leave(net: L2Network, port: L2Port): void {
    if (!net.ports.has(port)) return;
    net.detach(port);
    const count = (this.clients.get(net) ?? 1) - 1;
    this.clients.set(net, count);
    if (count <= 0) {
      this.cleanups.get(net)?.();
      this.cleanups.delete(net);
      this.clients.delete(net);
      this.networks.delete(net.name);
      this.metrics.set("relay_l2_networks_active", this.networks.size);
      this.log("l2.network-removed", { network: net.name });
    }
  }
}
