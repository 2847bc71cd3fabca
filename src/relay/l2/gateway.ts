// The gateway host of an L2 network: the project's src/net/ stack on a switch port, giving guests ARP
// for 10.0.2.2/10.0.2.3, DHCP, DNS and outbound TCP/UDP through a PolicyUplink (the relay's policy).
// Frames reaching it come from guests and are hostile; the stack validates them itself.
//
// The stack keeps one "guest MAC" (the last sender), which is right for replies made while it handles
// a frame but not for data that arrives later from a socket when several VMs share the network. So the
// gateway remembers which MAC each guest IPv4 address spoke from, and readdresses frames the stack
// sends outside an input call. TODO(issue 6): a neighbour table in the stack itself would retire this.

import { GATEWAY_MAC } from "../../net/stack/config.ts";
import { NetStack } from "../../net/stack/stack.ts";
import type { SocketBudget } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { PolicyConfig } from "../policy/policy.ts";
import type { ClientLookup } from "../policy/resolver.ts";
import { ETH_HEADER_SIZE, type L2Network, type L2Port } from "./l2-switch.ts";
import { PolicyUplink } from "./policy-uplink.ts";

export interface GatewayContext {
  policy: PolicyConfig;
  /** The network's own share of the relay's resolver (its lookups are capped and cancelled as one client's). */
  newLookup: () => ClientLookup;
  /** The relay's gateway sockets: per client (--max-streams) and for all gateways (--max-gateway-sockets). */
  sockets: SocketBudget;
  metrics: Metrics;
  log: Logger;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
/** The stack's drop reasons that lose a guest's UDP datagram, and their label on relay_udp_dropped_total. */
const GUEST_UDP_DROPS: Record<string, string> = {
  "udp-header": "guest-malformed",
  "udp-checksum": "guest-checksum",
  "udp6-header": "guest-malformed",
  "udp-no-route": "guest-no-route",
  "dns-query": "guest-malformed",
  "dns-busy": "guest-dns-busy",
};
/** Guest addresses remembered per network (the DHCP pool is far smaller). */
const MAX_NEIGHBOURS = 1024;

function macNumber(b: Uint8Array, off: number): number {
  let n = 0;
  for (let i = 0; i < 6; i++) n = n * 256 + b[off + i]!;
  return n;
}

function ip4At(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function attachGateway(network: L2Network, ctx: GatewayContext): () => void {
  const lookup = ctx.newLookup();
  // The client whose frame the stack is handling: the flows it opens in that call are charged to it.
  let sender: L2Port | undefined;
  const uplink = new PolicyUplink({
    ...ctx,
    lookup: lookup.lookup,
    network: network.name,
    budget: ctx.sockets,
    owner: () => sender,
  });
  // A client that leaves takes its flows' sockets with it, so reconnecting does not buy a fresh budget.
  const onDetach = (p: L2Port) => uplink.closeOwner(p);
  network.onDetach.add(onDetach);
  const stack = new NetStack({ uplink });
  // The stack counts its own drops; the UDP ones (guest datagrams it could not parse or route, DNS queries
  // over its limit) are the relay's drops too, so they also reach relay_udp_dropped_total (finding 6).
  const stackDrop = stack.drop.bind(stack);
  stack.drop = (reason: string) => {
    stackDrop(reason);
    const label = GUEST_UDP_DROPS[reason];
    if (label) ctx.metrics.inc("relay_udp_dropped_total", { reason: label });
  };
  const neighbours = new Map<number, Uint8Array>();
  let inInput = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let closed = false;

  const learn = (f: Uint8Array) => {
    if (f.length < ETH_HEADER_SIZE) return;
    const type = (f[12]! << 8) | f[13]!;
    let ip: number | undefined;
    if (type === ETHERTYPE_IPV4 && f.length >= ETH_HEADER_SIZE + 20) ip = ip4At(f, ETH_HEADER_SIZE + 12);
    else if (type === ETHERTYPE_ARP && f.length >= ETH_HEADER_SIZE + 28) ip = ip4At(f, ETH_HEADER_SIZE + 14);
    if (ip === undefined || ip === 0) return;
    if (!neighbours.has(ip) && neighbours.size >= MAX_NEIGHBOURS) return;
    neighbours.set(ip, f.slice(6, 12));
  };

  const port: L2Port = {
    id: `gateway:${network.name}`,
    send: (frame, from) => {
      if (closed) return;
      learn(frame);
      inInput = true;
      sender = from;
      try {
        stack.input(frame);
      } finally {
        inInput = false;
        sender = undefined;
      }
      arm();
    },
  };

  stack.attach((frame) => {
    if (closed) return;
    let out = frame;
    const type = frame.length >= ETH_HEADER_SIZE ? (frame[12]! << 8) | frame[13]! : 0;
    if (!inInput && type === ETHERTYPE_IPV4 && frame.length >= ETH_HEADER_SIZE + 20 && (frame[0]! & 1) === 0) {
      const mac = neighbours.get(ip4At(frame, ETH_HEADER_SIZE + 16));
      if (mac && macNumber(mac, 0) !== macNumber(frame, 0)) {
        out = frame.slice();
        out.set(mac, 0);
      }
    }
    network.input(port, out);
  });

  // One host timer at the stack's earliest deadline (TCP retransmits, DHCP leases, UDP expiry).
  const fire = () => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    if (closed) return;
    stack.runTimers();
    arm();
  };
  const arm = () => {
    if (closed) return;
    const d = stack.timers.nextDeadline();
    if (d === undefined || (timer !== undefined && timerAt <= d)) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = d;
    timer = setTimeout(fire, Math.max(0, d - stack.timers.now()));
    timer.unref();
  };
  stack.timers.onReschedule = arm;

  network.attach(port, [macNumber(GATEWAY_MAC, 0)]);
  ctx.log("l2.gateway-up", { network: network.name });
  return () => {
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    network.onDetach.delete(onDetach);
    uplink.close();
    lookup.close();
    network.detach(port);
    ctx.log("l2.gateway-down", { network: network.name });
  };
}
