// The L2 gateway's Uplink (src/net/uplink/uplink.ts): guest flows become real sockets, but only after
// the relay's destination policy has seen the exact address — the name is resolved once here and the
// socket connects to that address, as on /wisp. Guests are as untrusted as Wisp clients, so this is the
// same gate, with denials counted under the same metric. Every flow is charged to the client whose frame opened
// it, from then until its socket has really closed (or it ended before it had one), against the relay's socket
// budget (per client and in all); a client over it gets a refusal, and its sockets close when it leaves.

import * as dgram from "node:dgram";
import * as net from "node:net";
import type {
  Uplink,
  UplinkError,
  UplinkTcp,
  UplinkTcpHandlers,
  UplinkUdp,
  UplinkUdpHandlers,
} from "../../net/uplink/uplink.ts";
import type { SocketBudget } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type Destination, type Lookup, resolveDestination } from "../policy/destination.ts";
import { parseIpLiteral } from "../policy/ip.ts";
import type { PolicyConfig } from "../policy/policy.ts";

/** Bytes a TCP flow may queue toward its socket before the guest's window closes. */
const SOCKET_BUFFER_LIMIT = 256 * 1024;
/** Datagrams held while a UDP flow's destination is still being checked. */
const UDP_PENDING_LIMIT = 64;

export interface PolicyUplinkOptions {
  policy: PolicyConfig;
  lookup: Lookup;
  metrics: Metrics;
  log: Logger;
  network: string;
  connectTimeoutMs?: number;
  lookupTimeoutMs?: number;
  /** The relay's gateway sockets; none: not limited (tests of the policy alone). */
  budget?: SocketBudget;
  /** The client (its switch port) whose frame is being handled now; undefined: the network itself. */
  owner?: () => object | undefined;
}

/** A flow's charge: given back once its socket has closed; `kill` ends the flow (its client left). */
interface Charge {
  release(): void;
  setKill(kill: () => void): void;
}

function errorForCode(code: string | undefined): UplinkError {
  switch (code) {
    case "ECONNREFUSED":
      return "refused";
    case "ETIMEDOUT":
      return "timeout";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "unreachable";
    default:
      return "reset";
  }
}

export class PolicyUplink implements Uplink {
  private readonly sockets = new Set<net.Socket | dgram.Socket>();
  /** The flows each client holds, to end when it leaves. */
  private readonly byOwner = new Map<object, Set<() => void>>();
  private closed = false;

  constructor(private readonly o: PolicyUplinkOptions) {}

  /** Charges a new flow to the current client; null when it is over its budget or the relay over all (counted). */
  private charge(proto: "tcp" | "udp"): Charge | null {
    const owner = this.o.owner?.() ?? this;
    const taken = this.o.budget ? this.o.budget.take(owner) : () => {};
    if (typeof taken === "string") {
      const reason = taken === "client" ? "max-streams" : taken === "total" ? "max-gateway-sockets" : "max-sockets";
      this.o.metrics.inc("relay_denials_total", { reason });
      this.o.metrics.inc("relay_l2_flows_refused_total", { proto, reason });
      return null;
    }
    this.gauge();
    let kill: (() => void) | null = null;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        taken();
        this.gauge();
        if (kill) this.byOwner.get(owner)?.delete(kill);
        if (this.byOwner.get(owner)?.size === 0) this.byOwner.delete(owner);
      },
      setKill: (k) => {
        if (released) return;
        kill = k;
        let set = this.byOwner.get(owner);
        if (!set) this.byOwner.set(owner, (set = new Set()));
        set.add(k);
      },
    };
  }

  private gauge(): void {
    if (this.o.budget) this.o.metrics.set("relay_l2_gateway_sockets", this.o.budget.inUse);
  }

  /** A client left the network: the flows it opened end now, not when their destinations let go. */
  closeOwner(owner: object): void {
    const kills = this.byOwner.get(owner);
    if (!kills) return;
    this.byOwner.delete(owner);
    for (const k of [...kills]) k();
  }

  private async check(host: string, port: number, proto: "tcp" | "udp"): Promise<Destination> {
    const d = await resolveDestination(this.o.policy, host, port, this.o.lookup, this.o.lookupTimeoutMs ?? 5000);
    if (!d.ok) {
      const reason = d.error === "blocked" ? d.reason : d.error;
      if (d.error === "blocked") this.o.metrics.inc("relay_denials_total", { reason: d.reason });
      this.o.log("l2.gateway-refused", { network: this.o.network, proto, host: host.slice(0, 253), port, reason });
    }
    return d;
  }

  private static failure(d: Exclude<Destination, { ok: true }>): UplinkError {
    return d.error === "blocked" ? "blocked" : d.error === "timeout" || d.error === "busy" ? "timeout" : "unreachable";
  }

  openTcp(host: string, port: number, h: UplinkTcpHandlers): UplinkTcp {
    const charge = this.charge("tcp");
    if (!charge) {
      // Refused as a connection would be (the guest sees a RST), after the stack has attached this handle.
      queueMicrotask(() => h.onError("refused"));
      const nothing = () => {};
      return { write: nothing, writableBytes: () => 0, end: nothing, close: nothing, pause: nothing, resume: nothing };
    }
    let socket: net.Socket | null = null;
    let dead = false;
    let ended = false;
    let paused = false;
    let wasFull = false;
    const early: Uint8Array[] = [];
    let earlyBytes = 0;
    const fail = (e: UplinkError) => {
      if (dead) return;
      dead = true;
      socket?.destroy();
      if (!socket) charge.release();
      h.onError(e);
    };
    charge.setKill(() => fail("reset"));
    this.check(host, port, "tcp").then((d) => {
      if (dead || this.closed) return charge.release();
      if (!d.ok) return fail(PolicyUplink.failure(d));
      const s = net.connect({ host: d.address, port, noDelay: true });
      socket = s;
      this.sockets.add(s);
      const timer = setTimeout(() => fail("timeout"), this.o.connectTimeoutMs ?? 10_000);
      s.once("connect", () => {
        clearTimeout(timer);
        if (dead) return;
        for (const b of early.splice(0)) s.write(b);
        earlyBytes = 0;
        if (ended) s.end();
        if (paused) s.pause();
        h.onOpen();
      });
      s.on("data", (b: Buffer) => {
        if (!dead) h.onData(new Uint8Array(b.buffer, b.byteOffset, b.length));
      });
      s.on("end", () => {
        if (!dead) h.onEnd();
      });
      s.on("drain", () => {
        if (!dead && wasFull) {
          wasFull = false;
          h.onDrain();
        }
      });
      s.on("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        fail(errorForCode(e.code));
      });
      s.on("close", () => {
        clearTimeout(timer);
        this.sockets.delete(s);
        charge.release();
      });
    });
    const queued = () => (socket?.writableLength ?? 0) + earlyBytes;
    return {
      write: (data) => {
        if (dead) return;
        if (socket && !socket.connecting) socket.write(data);
        else {
          early.push(data.slice());
          earlyBytes += data.length;
        }
        if (queued() >= SOCKET_BUFFER_LIMIT) wasFull = true;
      },
      writableBytes: () => {
        const n = Math.max(0, SOCKET_BUFFER_LIMIT - queued());
        if (n === 0) wasFull = true;
        return n;
      },
      end: () => {
        if (ended || dead) return;
        ended = true;
        if (socket && !socket.connecting) socket.end();
      },
      close: () => {
        dead = true;
        socket?.destroy();
        if (!socket) charge.release();
      },
      pause: () => {
        paused = true;
        socket?.pause();
      },
      resume: () => {
        paused = false;
        socket?.resume();
      },
    };
  }

  private udpDropped(reason: string, n = 1): void {
    if (n > 0) this.o.metrics.inc("relay_udp_dropped_total", { reason }, n);
  }

  openUdp(host: string, port: number, h: UplinkUdpHandlers): UplinkUdp {
    const charge = this.charge("udp");
    if (!charge) {
      // The guest hears ICMP port unreachable; what it sent on the refused flow is counted as dropped.
      queueMicrotask(() => h.onError("refused"));
      return { send: () => this.udpDropped("max-sockets"), close: () => {} };
    }
    let sock: dgram.Socket | null = null;
    let connected = false;
    let dead = false;
    const pending: Uint8Array[] = [];
    const fail = (e: UplinkError) => {
      if (dead) return;
      dead = true;
      // What the guest sent while the destination was checked goes nowhere now.
      this.udpDropped(e === "blocked" ? "blocked" : "closed", pending.length);
      pending.length = 0;
      try {
        sock?.close();
      } catch {
        // already closed
      }
      if (!sock) charge.release();
      h.onError(e);
    };
    charge.setKill(() => fail("unreachable"));
    this.check(host, port, "udp").then((d) => {
      if (dead || this.closed) return charge.release();
      if (!d.ok) return fail(PolicyUplink.failure(d));
      const s = dgram.createSocket(d.family === 6 ? "udp6" : "udp4");
      sock = s;
      this.sockets.add(s);
      s.on("close", () => {
        this.sockets.delete(s);
        charge.release();
      });
      s.on("error", (e: NodeJS.ErrnoException) => fail(e.code === "ECONNREFUSED" ? "refused" : "unreachable"));
      s.on("message", (m: Buffer) => {
        if (!dead) h.onMessage(Uint8Array.from(m));
        else this.udpDropped("closed");
      });
      // Connected: replies from anyone but the checked destination never reach the guest.
      s.connect(port, d.address, () => {
        connected = true;
        for (const p of pending.splice(0)) s.send(p);
      });
    });
    return {
      send: (data) => {
        if (dead) this.udpDropped("closed");
        else if (connected && sock) sock.send(data);
        else if (pending.length < UDP_PENDING_LIMIT) pending.push(data.slice());
        else this.udpDropped("not-connected");
      },
      close: () => {
        if (dead) return;
        dead = true;
        this.udpDropped("closed", pending.length);
        pending.length = 0;
        try {
          sock?.close();
        } catch {
          // already closed
        }
        if (!sock) charge.release();
      },
    };
  }

  /** The gateway's DNS server asks here; answers are filtered to the family, not by policy (connects are). */
  async resolve(name: string, family: 4 | 6): Promise<string[]> {
    const all = await this.o.lookup(name);
    return all.filter((a) => parseIpLiteral(a)?.family === family);
  }

  /** The network is gone: every socket closes, and flows still being checked never open. */
  close(): void {
    this.closed = true;
    for (const s of this.sockets) {
      if (s instanceof net.Socket) s.destroy();
      else
        try {
          s.close();
        } catch {
          // already closed
        }
    }
    this.sockets.clear();
  }
}
