// The Node uplink: the stack's flows become real sockets (net, dgram), and names resolve through the
// system resolver. QEMU's user networking makes the host's loopback reachable as 10.0.2.2; the stack
// rewrites that address to 127.0.0.1 and this uplink connects to it unless a policy says otherwise.
// Also the host side of `--forward`: a listening socket whose connections enter the guest.

import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { createServer, isIPv6, type Server, Socket } from "node:net";
import { GUEST_ADDR } from "../net/stack/config.ts";
import type { NetStack } from "../net/stack/stack.ts";
import type {
  Uplink,
  UplinkError,
  UplinkTcp,
  UplinkTcpHandlers,
  UplinkUdp,
  UplinkUdpHandlers,
} from "../net/uplink/uplink.ts";

/** Bytes a flow may have queued in its socket before the guest's window closes. */
const SOCKET_BUFFER_LIMIT = 256 * 1024;

export type DestinationPolicy = (host: string, port: number, proto: "tcp" | "udp") => boolean;

export function errorFor(code: string | undefined): UplinkError {
  switch (code) {
    case "ECONNREFUSED":
      return "refused";
    case "ETIMEDOUT":
      return "timeout";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unreachable";
    default:
      return "reset";
  }
}

/** Adapts a net.Socket to the UplinkTcp shape, reporting to `h`. */
export function wrapSocket(socket: Socket, h: UplinkTcpHandlers, connected: boolean): UplinkTcp {
  let dead = false;
  let ended = false;
  let wasFull = false;
  socket.setNoDelay(true);
  if (connected) queueMicrotask(() => !dead && h.onOpen());
  else socket.once("connect", () => !dead && h.onOpen());
  socket.on("data", (d: Buffer) => {
    if (!dead) h.onData(new Uint8Array(d.buffer, d.byteOffset, d.length));
  });
  socket.on("end", () => {
    if (!dead) h.onEnd();
  });
  socket.on("drain", () => {
    if (!dead && wasFull) {
      wasFull = false;
      h.onDrain();
    }
  });
  socket.on("error", (e: NodeJS.ErrnoException) => {
    if (dead) return;
    dead = true;
    h.onError(errorFor(e.code));
  });
  socket.on("close", () => {
    if (dead) return;
    dead = true;
    // Closed without an error after both sides ended: the stack already saw onEnd.
  });
  return {
    write: (data) => {
      if (dead) return;
      socket.write(data);
      if (socket.writableLength >= SOCKET_BUFFER_LIMIT) wasFull = true;
    },
    writableBytes: () => {
      const n = Math.max(0, SOCKET_BUFFER_LIMIT - socket.writableLength);
      if (n === 0) wasFull = true;
      return n;
    },
    end: () => {
      if (!ended && !dead) socket.end();
      ended = true;
    },
    close: () => {
      dead = true;
      // After an orderly end the socket finishes writing and closes itself; otherwise cut it now.
      if (ended) socket.once("finish", () => socket.destroy());
      else socket.destroy();
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}

export class SocketUplink implements Uplink {
  constructor(private readonly policy: DestinationPolicy = () => true) {}

  openTcp(host: string, port: number, h: UplinkTcpHandlers): UplinkTcp {
    if (!this.policy(host, port, "tcp")) {
      queueMicrotask(() => h.onError("blocked"));
      return { write() {}, writableBytes: () => 0, end() {}, close() {}, pause() {}, resume() {} };
    }
    const socket = new Socket();
    const up = wrapSocket(socket, h, false);
    socket.connect({ host, port });
    return up;
  }

  openUdp(host: string, port: number, h: UplinkUdpHandlers): UplinkUdp {
    if (!this.policy(host, port, "udp")) {
      let told = false;
      return {
        send: () => {
          if (!told) queueMicrotask(() => h.onError("blocked"));
          told = true;
        },
        close() {},
      };
    }
    const s: UdpSocket = createSocket(isIPv6(host) ? "udp6" : "udp4");
    let connected = false;
    let dead = false;
    const pending: Uint8Array[] = [];
    s.on("message", (m: Buffer) => {
      if (!dead) h.onMessage(new Uint8Array(m.buffer, m.byteOffset, m.length).slice());
    });
    s.on("error", (e: NodeJS.ErrnoException) => {
      if (dead) return;
      dead = true;
      s.close();
      h.onError(errorFor(e.code === "ECONNREFUSED" ? "ECONNREFUSED" : "EHOSTUNREACH"));
    });
    // A connected socket hears ICMP port unreachable as ECONNREFUSED, which the guest then sees too.
    s.connect(port, host, () => {
      connected = true;
      for (const p of pending.splice(0)) s.send(p);
    });
    return {
      send: (data) => {
        if (dead) return;
        if (connected) s.send(data);
        else if (pending.length < 64) pending.push(data.slice());
      },
      close: () => {
        if (dead) return;
        dead = true;
        s.close();
      },
    };
  }

  async resolve(name: string, family: 4 | 6): Promise<string[]> {
    const r = await lookup(name, { all: true, family });
    return r.map((a) => a.address);
  }
}

export interface ForwardSpec {
  proto: "tcp";
  hostPort: number;
  guestPort: number;
}

export function parseForwardSpec(spec: string): ForwardSpec | undefined {
  const m = /^tcp:(\d{1,5}):(\d{1,5})$/.exec(spec);
  if (!m) return undefined;
  const hostPort = Number(m[1]);
  const guestPort = Number(m[2]);
  if (hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) return undefined;
  return { proto: "tcp", hostPort, guestPort };
}

/** Listens on 127.0.0.1:hostPort; each connection is carried into the guest's guestPort. */
export function listenForward(stack: NetStack, f: ForwardSpec, onActivity?: () => void): Promise<Server> {
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const guestIp = (stack.guestMac && stack.dhcp.leaseFor(stack.guestMac)) || GUEST_ADDR;
    const flow = stack.connectToGuest(guestIp, f.guestPort, (h) => {
      const up = wrapSocket(socket, h, true);
      socket.resume();
      return up;
    });
    if (flow === undefined) socket.destroy();
    onActivity?.();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(f.hostPort, "127.0.0.1", () => resolve(server));
  });
}
