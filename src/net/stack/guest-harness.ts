// Test support (not used by the stack): a scripted guest on the far side of a NetStack — frame builders
// for what a guest sends, a clock-driven event loop, an impaired link (loss, duplication, reordering) and
// a guest-side TCP built from the same TcpEndpoint, so transfers can be checked end to end in-process.

import type { GsoInfo } from "../offload/gso.ts";
import { MemoryUplink } from "../uplink/memory-uplink.ts";
import { set16, set32 } from "../wire/bytes.ts";
import { ETH_HLEN, ETHERTYPE_ARP, EthernetView } from "../wire/ethernet.ts";
import { GATEWAY_MAC, GUEST_ADDR } from "./config.ts";
import { type IpAddr, type IpAddrs, icmp6Frame, icmpFrame, parseTcpFrame, tcpFrame, udpFrame } from "./frames.ts";
import { addrKey } from "./ipv6.ts";
import { NetStack, type NetStackOptions } from "./stack.ts";
import { TCP_DEFAULTS, type TcpCloseReason, TcpEndpoint } from "./tcp/tcp-endpoint.ts";
import { rng } from "./tcp/tcp-harness.ts";
import { ManualNetClock } from "./timers.ts";

export const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

export interface LinkImpairment {
  loss?: number;
  duplicate?: number;
  reorderWindow?: number;
  seed?: number;
}

interface Frame {
  frame: Uint8Array;
  gso?: GsoInfo;
}

export class GuestWorld {
  readonly clock = new ManualNetClock(1000);
  readonly tasks: Array<() => void> = [];
  readonly uplink = new MemoryUplink({ scheduler: (fn) => this.tasks.push(fn) });
  readonly stack: NetStack;
  /** Frames the stack sent toward the guest that no guest TCP claimed. */
  readonly received: Frame[] = [];
  private toStack: Frame[] = [];
  private toGuest: Frame[] = [];
  private rand: () => number;
  private guestTcp = new Map<number, GuestTcp>();
  guestIp = GUEST_ADDR;
  /** The guest's SLAAC address in fd00::/64 (EUI-64 of GUEST_MAC). */
  guestIp6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56]);
  /** Frames the impaired link dropped. */
  lost = 0;

  constructor(
    opts: Partial<NetStackOptions> = {},
    readonly impair: LinkImpairment = {},
  ) {
    this.rand = rng(impair.seed ?? 1);
    this.stack = new NetStack({ uplink: this.uplink, clock: this.clock, seed: 42, ...opts });
    this.stack.attach((frame, gso) => this.put(this.toGuest, { frame, gso }));
  }

  private put(q: Frame[], f: Frame): void {
    const { loss = 0, duplicate = 0, reorderWindow = 0 } = this.impair;
    if (loss > 0 && this.rand() < loss) {
      this.lost++;
      return;
    }
    const n = duplicate > 0 && this.rand() < duplicate ? 2 : 1;
    for (let i = 0; i < n; i++) {
      const copy = i === 0 ? f : { frame: f.frame.slice(), gso: f.gso };
      if (reorderWindow > 1 && q.length > 0) {
        const back = Math.floor(this.rand() * Math.min(reorderWindow, q.length + 1));
        q.splice(q.length - back, 0, copy);
      } else q.push(copy);
    }
  }

  /** The guest sends a frame (through the impaired link). */
  send(frame: Uint8Array, gso?: GsoInfo): void {
    this.put(this.toStack, { frame, gso });
  }

  /** Delivers everything queued, runs deferred uplink callbacks; no clock movement. */
  flush(): void {
    for (let guard = 0; guard < 10_000_000; guard++) {
      const s = this.toStack.shift();
      if (s) this.stack.input(s.frame, s.gso);
      const g = this.toGuest.shift();
      if (g) this.deliverToGuest(g);
      const t = this.tasks.shift();
      if (t) t();
      if (!s && !g && !t) return;
    }
  }

  private deliverToGuest(f: Frame): void {
    const p = parseTcpFrame(f.frame);
    if (p && (typeof p.dst === "number" ? p.dst === this.guestIp : addrKey(p.dst) === addrKey(this.guestIp6))) {
      const t = this.guestTcp.get(p.dstPort);
      if (t && addrKey(t.remoteIp) === addrKey(p.src) && t.remotePort === p.srcPort) {
        t.ep.input(p.seg);
        return;
      }
    }
    this.received.push(f);
  }

  /** Runs until done() or no work and no timers before untilMs. */
  run(done: () => boolean = () => false, untilMs = this.clock.ms + 600_000): void {
    for (;;) {
      this.flush();
      if (done()) return;
      const d = this.stack.timers.nextDeadline();
      if (d === undefined || d > untilMs) return;
      this.clock.ms = Math.max(this.clock.ms, d);
      this.stack.runTimers();
    }
  }

  /** Takes (and removes) the received frames. */
  take(): Frame[] {
    return this.received.splice(0);
  }

  arpRequest(targetIp: number): Uint8Array {
    const f = new Uint8Array(ETH_HLEN + 28);
    EthernetView.encode(f, 0, { dst: new Uint8Array(6).fill(0xff), src: GUEST_MAC, etherType: ETHERTYPE_ARP });
    set16(f, 14, 1);
    set16(f, 16, 0x0800);
    f[18] = 6;
    f[19] = 4;
    set16(f, 20, 1);
    f.set(GUEST_MAC, 22);
    set32(f, 28, this.guestIp);
    set32(f, 38, targetIp);
    return f;
  }

  icmpEcho(dst: number, ident: number, seq: number, data: Uint8Array): Uint8Array {
    return icmpFrame(this.addrs(dst), 8, 0, ((ident << 16) | seq) >>> 0, data);
  }

  udp(dst: IpAddr, sport: number, dport: number, payload: Uint8Array, src?: IpAddr): Uint8Array {
    const a = this.addrs(dst);
    if (src !== undefined) a.src = src;
    if (dst === 0xffffffff) a.dstMac = new Uint8Array(6).fill(0xff);
    return udpFrame(a, sport, dport, payload);
  }

  /** An ICMPv6 message from the guest (hop limit 255, as NDP requires). */
  icmp6(dst: Uint8Array, type: number, rest: number, body: Uint8Array, src: Uint8Array = this.guestIp6): Uint8Array {
    return icmp6Frame({ ...this.addrs(dst), src }, type, 0, rest, body, 255);
  }

  addrs(dst: IpAddr): IpAddrs {
    return { srcMac: GUEST_MAC, dstMac: GATEWAY_MAC, src: typeof dst === "number" ? this.guestIp : this.guestIp6, dst };
  }

  /** A guest TCP socket connecting to dst:port from `sport`. */
  connect(dst: IpAddr, port: number, sport: number, opts: { tsoMax?: number; rcvBuf?: number } = {}): GuestTcp {
    const t = new GuestTcp(this, dst, port, sport, opts);
    this.guestTcp.set(sport, t);
    t.ep.connect();
    return t;
  }

  /** A guest TCP socket accepting one connection on `port` (for port forwards). */
  listen(port: number): { accepted: GuestTcp | undefined } {
    const box: { accepted: GuestTcp | undefined } = { accepted: undefined };
    const orig = this.deliverToGuest.bind(this);
    this.deliverToGuest = (f: Frame) => {
      const p = parseTcpFrame(f.frame);
      if (p && p.dstPort === port && !this.guestTcp.has(port) && p.seg.flags === 0x02) {
        const t = new GuestTcp(this, p.src, p.srcPort, port, {});
        this.guestTcp.set(port, t);
        box.accepted = t;
        t.ep.listen(p.seg);
        t.ep.accept();
        return;
      }
      orig(f);
    };
    return box;
  }
}

export class GuestTcp {
  readonly ep: TcpEndpoint;
  readonly data: Uint8Array[] = [];
  bytes = 0;
  established = false;
  peerFin = false;
  closed: TcpCloseReason | undefined;
  /** Hash-free check of a long transfer: bytes are folded as they arrive. */
  onData: ((d: Uint8Array) => void) | undefined;
  keepData = true;

  constructor(
    world: GuestWorld,
    readonly remoteIp: IpAddr,
    readonly remotePort: number,
    readonly port: number,
    opts: { tsoMax?: number; rcvBuf?: number },
  ) {
    this.ep = new TcpEndpoint(
      world.stack.timers,
      {
        output: (seg) => {
          const mss = this.ep.effMss;
          const { frame, gso } = tcpFrame(world.addrs(remoteIp), port, remotePort, seg, mss);
          world.send(frame, gso);
        },
        onEstablished: () => {
          this.established = true;
        },
        onData: (d) => {
          this.bytes += d.length;
          if (this.keepData) this.data.push(d.slice());
          this.onData?.(d);
        },
        appRoom: () => Number.POSITIVE_INFINITY,
        onPeerFin: () => {
          this.peerFin = true;
        },
        onSendSpace: () => {},
        onClosed: (r) => {
          this.closed = r;
        },
      },
      { ...TCP_DEFAULTS, iss: 777 + port, rcvBuf: opts.rcvBuf ?? TCP_DEFAULTS.rcvBuf },
    );
    if (opts.tsoMax) this.ep.tsoMax = opts.tsoMax;
  }
}
