// The in-page stack as a NetBackend (DESIGN.md §3, §5): the virtio-net device transmits guest frames into
// the NetStack, and the stack's frames for the guest wait in a bounded queue until the device takes them
// (a refused frame stays queued until resumeReceive). Superpackets from the stack carry GsoInfo; the
// device splits them for a driver that did not negotiate GUEST_TSO. Timers run off one host timer.

import type { NetBackend, NetCapabilities, NetReceiveCallback } from "./backend.ts";
import type { GsoInfo } from "./offload/gso.ts";
import { NetStack, type NetStackOptions, type SavedTcpConnection } from "./stack/stack.ts";

/** Frames queued toward a guest that is not taking them; beyond this, the newest are dropped (TCP recovers). */
const RX_QUEUE_LIMIT_BYTES = 8 * 1024 * 1024;

export interface StackBackendOptions extends NetStackOptions {
  /** Told whenever the stack has something for the guest or timers ran (the run loop should step). */
  onActivity?: () => void;
}

export class StackBackend implements NetBackend {
  readonly name = "stack";
  /** We take checksum-offloaded frames and TSO superpackets whole (never split: DESIGN.md §5). */
  readonly capabilities: NetCapabilities = { csum: true, tso4: true, tso6: true, uso: false };
  readonly linkUp = true;
  readonly stack: NetStack;
  private receive: NetReceiveCallback | undefined;
  private rx: Array<{ frame: Uint8Array; gso: GsoInfo | undefined }> = [];
  private rxHead = 0;
  private rxBytes = 0;
  rxDropped = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private readonly onActivity: (() => void) | undefined;

  constructor(opts: StackBackendOptions) {
    this.stack = new NetStack({ guestTso: true, ...opts });
    this.onActivity = opts.onActivity;
    this.stack.attach((frame, gso) => this.enqueue(frame, gso));
    this.stack.timers.onReschedule = () => this.arm();
  }

  transmit(frame: Uint8Array, gso?: GsoInfo): boolean {
    if (this.closed) return true;
    this.stack.input(frame, gso);
    this.arm();
    return true;
  }

  onReceive(cb: NetReceiveCallback): void {
    this.receive = cb;
    this.drain();
  }

  resumeReceive(): void {
    this.drain();
  }

  onWritable(): void {
    // transmit() never refuses, so there is nothing to wake.
  }

  onLinkChange(): void {}

  close(): void {
    this.closed = true;
    this.stack.resetAll("aborted");
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.receive = undefined;
  }

  /** For a snapshot: the guest's MAC and open TCP connections as this stack carried them. */
  saveState(): unknown {
    const mac = this.stack.guestMac;
    return {
      kind: "stack",
      guestMac: mac !== undefined ? [...mac] : null,
      tcp: this.stack.savedConnections(),
    };
  }

  /** After a restore: the connections the saved stack carried are gone here; make the guest's sockets fail now. */
  restoreState(state: unknown): void {
    const s = state as { kind?: unknown; guestMac?: unknown; tcp?: unknown } | null;
    if (typeof s !== "object" || s === null || s.kind !== "stack" || !Array.isArray(s.tcp)) return;
    const mac =
      Array.isArray(s.guestMac) &&
      s.guestMac.length === 6 &&
      s.guestMac.every((b) => Number.isInteger(b) && b >= 0 && b < 256)
        ? Uint8Array.from(s.guestMac as number[])
        : undefined;
    const conns = s.tcp.filter(
      (c): c is SavedTcpConnection =>
        typeof c === "object" &&
        c !== null &&
        [c.guestPort, c.remotePort].every((p) => Number.isInteger(p) && p > 0 && p < 65536) &&
        [c.sndUna, c.rcvNxt].every((n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff),
    );
    this.stack.probeLost(conns, mac);
    this.arm();
  }

  /** Frames waiting for the guest. */
  get queued(): number {
    return this.rx.length - this.rxHead;
  }

  private enqueue(frame: Uint8Array, gso: GsoInfo | undefined): void {
    if (this.rxBytes + frame.length > RX_QUEUE_LIMIT_BYTES) {
      this.rxDropped++;
      return;
    }
    this.rx.push({ frame, gso });
    this.rxBytes += frame.length;
    this.drain();
    this.onActivity?.();
  }

  private drain(): void {
    const cb = this.receive;
    if (cb === undefined) return;
    while (this.rxHead < this.rx.length) {
      const f = this.rx[this.rxHead]!;
      if (!cb(f.frame, f.gso)) break;
      this.rx[this.rxHead] = undefined as unknown as { frame: Uint8Array; gso: GsoInfo | undefined };
      this.rxHead++;
      this.rxBytes -= f.frame.length;
    }
    if (this.rxHead > 1024 && this.rxHead * 2 > this.rx.length) {
      this.rx = this.rx.slice(this.rxHead);
      this.rxHead = 0;
    }
  }

  /** Keeps one host timer at the stack's earliest deadline. */
  private arm(): void {
    if (this.closed) return;
    const d = this.stack.timers.nextDeadline();
    if (d === undefined) return;
    if (this.timer !== undefined && this.timerAt <= d) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = d;
    const t = setTimeout(() => this.fire(), Math.max(0, d - this.stack.timers.now()));
    // In Node a pending stack timer must not keep the process alive by itself.
    if (typeof t === "object" && t !== null && "unref" in t) (t as { unref(): void }).unref();
    this.timer = t;
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.stack.runTimers();
    this.arm();
    this.onActivity?.();
  }
}
