// Joins one guest TCP connection (a TcpEndpoint) to the application side — an uplink flow for outbound
// connections, a host socket for port forwards — with backpressure both ways: the guest's window follows
// what the app takes (appRoom), and the app is paused while the endpoint's send queue is full.

import type { UplinkError, UplinkTcp, UplinkTcpHandlers } from "../uplink/uplink.ts";
import type { IpAddr } from "./frames.ts";
import { type TcpCloseReason, TcpEndpoint, type TcpEndpointConfig } from "./tcp/tcp-endpoint.ts";
import type { TcpSegment } from "./tcp/tcp-segment.ts";
import type { TimerQueue } from "./timers.ts";

export interface TcpFlowOwner {
  timers: TimerQueue;
  /** Frame the segment from the remote address to the guest. */
  emit(flow: TcpFlow, seg: TcpSegment): void;
  /** The uplink failed before the connection was up in a way TCP cannot say (ICMP instead of RST). */
  unreachable(flow: TcpFlow, reason: UplinkError): void;
  closed(flow: TcpFlow, reason: TcpCloseReason): void;
}

export interface FlowAddrs {
  guestIp: IpAddr;
  guestPort: number;
  remoteIp: IpAddr;
  remotePort: number;
}

export class TcpFlow {
  readonly ep: TcpEndpoint;
  private app: UplinkTcp | undefined;
  private appPaused = false;
  private appOpen = false;
  /** The first bytes of the guest's SYN (IP header + 8), for an ICMP error about it. */
  synHead: Uint8Array | undefined;

  constructor(
    readonly key: string,
    readonly addrs: FlowAddrs,
    private readonly owner: TcpFlowOwner,
    cfg: TcpEndpointConfig,
  ) {
    this.ep = new TcpEndpoint(
      owner.timers,
      {
        output: (seg) => owner.emit(this, seg),
        onEstablished: () => {},
        onData: (d) => this.app?.write(d.slice()),
        appRoom: () => (this.app && this.appOpen ? this.app.writableBytes() : 0),
        onPeerFin: () => this.app?.end(),
        onSendSpace: () => this.resumeApp(),
        onClosed: (r) => {
          const app = this.app;
          this.app = undefined;
          app?.close();
          owner.closed(this, r);
        },
      },
      cfg,
    );
  }

  /** Handlers to give the uplink (or host socket) this flow's app side talks back through. */
  handlers(): UplinkTcpHandlers {
    return {
      onOpen: () => {
        this.appOpen = true;
        if (this.ep.state === "SYN-RECEIVED") this.ep.accept();
      },
      onData: (d) => {
        this.ep.write(d);
        if (this.ep.sendSpace() <= 0 && !this.appPaused) {
          this.appPaused = true;
          this.app?.pause();
        }
      },
      onEnd: () => this.ep.shutdown(),
      onError: (reason) => {
        this.app = undefined;
        if (this.ep.state === "SYN-RECEIVED" && !this.appOpen) {
          if (reason === "refused") this.ep.refuse();
          else {
            this.owner.unreachable(this, reason);
            this.ep.discard("refused");
          }
        } else this.ep.abort("reset");
      },
      onDrain: () => this.ep.appDrained(),
    };
  }

  attach(app: UplinkTcp, alreadyOpen = false): void {
    this.app = app;
    this.appOpen = alreadyOpen;
  }

  private resumeApp(): void {
    if (this.appPaused) {
      this.appPaused = false;
      this.app?.resume();
    }
  }
}
