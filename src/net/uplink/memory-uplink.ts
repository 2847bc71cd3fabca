// An in-process Uplink for tests: "remote servers" are callbacks registered per host:port, and every flow
// is a pair of in-memory pipes with a bounded buffer so tests can exercise backpressure both ways.

import type { Uplink, UplinkError, UplinkTcp, UplinkTcpHandlers, UplinkUdp, UplinkUdpHandlers } from "./uplink.ts";

/** The remote end of a TCP flow, as a test server sees it. */
export class MemoryRemoteTcp {
  /** Bytes the guest side wrote that the remote has not consumed (consume with `read`). */
  private inbox: Uint8Array[] = [];
  private inboxBytes = 0;
  /** When false, the remote does not read: the guest side sees writableBytes() fall to 0. */
  reading = true;
  ended = false;
  closed = false;
  onData: ((data: Uint8Array) => void) | undefined;
  onEnd: (() => void) | undefined;
  /** Called when the guest side closed or aborted the flow. */
  onClose: (() => void) | undefined;
  paused = false;
  private outbox: Uint8Array[] = [];
  private outEnded = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly limit: number,
    private readonly local: UplinkTcpHandlers,
    private readonly scheduler: (fn: () => void) => void,
  ) {}

  /** Send bytes toward the guest (queued while the stack has paused us). */
  write(data: Uint8Array): void {
    if (this.closed) return;
    this.outbox.push(data.slice());
    this.flushOut();
  }

  /** Remote EOF. */
  end(): void {
    this.outEnded = true;
    this.flushOut();
  }

  /** Remote abort. */
  fail(reason: UplinkError): void {
    if (this.closed) return;
    this.closed = true;
    this.local.onError(reason);
  }

  /** Drain and return everything buffered from the guest side (when not `reading`). */
  read(): Uint8Array {
    const out = concat(this.inbox, this.inboxBytes);
    const wasFull = this.inboxBytes >= this.limit;
    this.inbox = [];
    this.inboxBytes = 0;
    if (wasFull) this.scheduler(() => !this.closed && this.local.onDrain());
    return out;
  }

  setReading(on: boolean): void {
    this.reading = on;
    if (on && this.inboxBytes > 0) {
      const data = this.read();
      this.onData?.(data);
    }
  }

  /** @internal */
  deliverFromGuest(data: Uint8Array): void {
    if (this.reading) {
      this.onData?.(data);
      return;
    }
    this.inbox.push(data.slice());
    this.inboxBytes += data.length;
  }

  /** @internal */
  buffered(): number {
    return this.inboxBytes;
  }

  /** @internal */
  flushOut(): void {
    while (!this.paused && !this.closed && this.outbox.length > 0) this.local.onData(this.outbox.shift()!);
    if (!this.paused && !this.closed && this.outEnded && this.outbox.length === 0) {
      this.outEnded = false;
      this.local.onEnd();
    }
  }
}

export interface MemoryUdpRemote {
  host: string;
  port: number;
  /** Reply toward the guest. */
  reply(data: Uint8Array): void;
}

export type TcpServer = (conn: MemoryRemoteTcp) => void;
export type UdpServer = (data: Uint8Array, remote: MemoryUdpRemote) => void;

export interface MemoryUplinkOptions {
  /** Per-flow cap on bytes buffered toward an unread remote (default 256 KiB). */
  bufferLimit?: number;
  /** How callbacks are deferred; tests pass a synchronous or microtask runner (default queueMicrotask). */
  scheduler?: (fn: () => void) => void;
}

export class MemoryUplink implements Uplink {
  private tcpServers = new Map<string, TcpServer>();
  private udpServers = new Map<string, UdpServer>();
  private udpRefused = new Set<string>();
  /** Every TCP flow opened, in order (tests inspect them). */
  readonly tcpFlows: MemoryRemoteTcp[] = [];
  readonly names = new Map<string, string[]>();
  private readonly limit: number;
  private readonly scheduler: (fn: () => void) => void;

  constructor(opts: MemoryUplinkOptions = {}) {
    this.limit = opts.bufferLimit ?? 256 * 1024;
    this.scheduler = opts.scheduler ?? queueMicrotask;
  }

  listenTcp(host: string, port: number, server: TcpServer): void {
    this.tcpServers.set(`${host}:${port}`, server);
  }

  listenUdp(host: string, port: number, server: UdpServer): void {
    this.udpServers.set(`${host}:${port}`, server);
  }

  /** Datagrams to host:port are refused, as a closed port answers (ECONNREFUSED / Wisp 0x44). */
  refuseUdp(host: string, port: number): void {
    this.udpRefused.add(`${host}:${port}`);
  }

  openTcp(host: string, port: number, h: UplinkTcpHandlers): UplinkTcp {
    const server = this.tcpServers.get(`${host}:${port}`);
    const remote = new MemoryRemoteTcp(host, port, this.limit, h, this.scheduler);
    this.tcpFlows.push(remote);
    if (server === undefined) {
      remote.closed = true;
      this.scheduler(() => h.onError("refused"));
    } else {
      this.scheduler(() => {
        if (remote.closed) return;
        h.onOpen();
        server(remote);
      });
    }
    return {
      write: (data) => {
        if (!remote.closed) remote.deliverFromGuest(data);
      },
      writableBytes: () => (remote.closed ? 0 : Math.max(0, this.limit - remote.buffered())),
      end: () => {
        if (remote.closed || remote.ended) return;
        remote.ended = true;
        this.scheduler(() => remote.onEnd?.());
      },
      close: () => {
        if (remote.closed) return;
        remote.closed = true;
        this.scheduler(() => remote.onClose?.());
      },
      pause: () => {
        remote.paused = true;
      },
      resume: () => {
        remote.paused = false;
        this.scheduler(() => remote.flushOut());
      },
    };
  }

  openUdp(host: string, port: number, h: UplinkUdpHandlers): UplinkUdp {
    const server = this.udpServers.get(`${host}:${port}`);
    const refused = this.udpRefused.has(`${host}:${port}`);
    let closed = false;
    const remote: MemoryUdpRemote = {
      host,
      port,
      reply: (data) => {
        const copy = data.slice();
        this.scheduler(() => !closed && h.onMessage(copy));
      },
    };
    return {
      send: (data) => {
        if (closed) return;
        if (server === undefined) {
          this.scheduler(() => !closed && h.onError(refused ? "refused" : "unreachable"));
          return;
        }
        const copy = data.slice();
        this.scheduler(() => server(copy, remote));
      },
      close: () => {
        closed = true;
      },
    };
  }

  async resolve(name: string, _family: 4 | 6): Promise<string[]> {
    return this.names.get(name.toLowerCase()) ?? [];
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
