// Test and demo backends: a LoopbackPair joins two NetBackends back to back (two vireo machines in one
// process, each with its own virtio-net), and an EchoBackend reflects every frame to its sender. Delivery
// is synchronous; backpressure is passed through end to end (a refused receive makes the peer's
// transmit() return false, and resumeReceive() wakes the peer's onWritable listener).

import { type NetBackend, type NetCapabilities, type NetReceiveCallback, NO_OFFLOADS } from "../backend.ts";
import type { GsoInfo } from "../offload/gso.ts";

/** One end of a loopback wire. */
export class LoopbackEnd implements NetBackend {
  peer: LoopbackEnd | undefined;
  private receive: NetReceiveCallback | undefined;
  private writable: (() => void) | undefined;
  private linkListener: ((up: boolean) => void) | undefined;
  private up = true;
  /** Frames this end refused to take from the peer's transmit (counted for tests and the UI). */
  refused = 0;

  constructor(
    readonly name: string,
    readonly capabilities: NetCapabilities,
  ) {}

  transmit(frame: Uint8Array, gso?: GsoInfo): boolean {
    const p = this.peer;
    if (!p || !this.up || !p.up) return true; // a wire with nobody on it eats frames
    const cb = p.receive;
    if (!cb) return true;
    if (cb(frame, gso)) return true;
    p.refused++;
    return false;
  }
  onReceive(cb: NetReceiveCallback): void {
    this.receive = cb;
  }
  resumeReceive(): void {
    this.peer?.writable?.();
  }
  onWritable(cb: () => void): void {
    this.writable = cb;
  }
  get linkUp(): boolean {
    return this.up && (this.peer?.up ?? false);
  }
  onLinkChange(cb: (up: boolean) => void): void {
    this.linkListener = cb;
  }
  /** Plugs or unplugs this end's cable; both ends see the change. */
  setLink(up: boolean): void {
    if (this.up === up) return;
    const before = [this.linkUp, this.peer?.linkUp];
    this.up = up;
    if (before[0] !== this.linkUp) this.linkListener?.(this.linkUp);
    if (this.peer && before[1] !== this.peer.linkUp) this.peer.linkListener?.(this.peer.linkUp);
  }
  close(): void {
    this.setLink(false);
    this.receive = undefined;
  }
}

/**
 * Two backends wired to each other. Each end advertises `capabilities` (default: every offload, so
 * superpackets cross whole and the receiving device decides whether to split them).
 */
export function createLoopbackPair(
  capabilities: NetCapabilities = { csum: true, tso4: true, tso6: true, uso: true },
): [LoopbackEnd, LoopbackEnd] {
  const a = new LoopbackEnd("loopback-a", capabilities);
  const b = new LoopbackEnd("loopback-b", capabilities);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Reflects every transmitted frame back with source and destination MAC swapped. */
export class EchoBackend implements NetBackend {
  readonly name = "echo";
  readonly linkUp = true;
  private receive: NetReceiveCallback | undefined;
  private held: { frame: Uint8Array; gso?: GsoInfo } | undefined;
  private writable: (() => void) | undefined;
  echoed = 0;

  constructor(readonly capabilities: NetCapabilities = NO_OFFLOADS) {}

  transmit(frame: Uint8Array, gso?: GsoInfo): boolean {
    if (this.held) return false;
    const f = frame.slice();
    f.copyWithin(0, 6, 12);
    f.set(frame.subarray(0, 6), 6);
    if (this.receive && !this.receive(f, gso)) {
      this.held = gso ? { frame: f, gso } : { frame: f };
      return true;
    }
    this.echoed++;
    return true;
  }
  onReceive(cb: NetReceiveCallback): void {
    this.receive = cb;
  }
  resumeReceive(): void {
    const h = this.held;
    if (!h || !this.receive) return;
    if (this.receive(h.frame, h.gso)) {
      this.held = undefined;
      this.echoed++;
      this.writable?.();
    }
  }
  onWritable(cb: () => void): void {
    this.writable = cb;
  }
  onLinkChange(): void {}
  close(): void {
    this.receive = undefined;
  }
}
