// A NetBackend you drive by hand, like gVisor's link/channel endpoint: frames the device transmits are
// collected in `sent`, frames are injected toward the device with inject(), and capabilities, link state
// and "not now" answers are set by the test (or by a host program that pumps frames itself).

import { type NetBackend, type NetCapabilities, type NetReceiveCallback, NO_OFFLOADS } from "../backend.ts";
import type { GsoInfo } from "../offload/gso.ts";

export interface SentFrame {
  frame: Uint8Array;
  gso?: GsoInfo;
}

export class ChannelBackend implements NetBackend {
  readonly name = "channel";
  readonly sent: SentFrame[] = [];
  /** When false, transmit() answers "not now". */
  accepting = true;
  /** Frames the device refused (inject returned false) and that wait for resumeReceive(). */
  readonly backlog: SentFrame[] = [];
  private receive: NetReceiveCallback | undefined;
  private writable: (() => void) | undefined;
  private linkListener: ((up: boolean) => void) | undefined;
  private up = true;

  constructor(public capabilities: NetCapabilities = NO_OFFLOADS) {}

  transmit(frame: Uint8Array, gso?: GsoInfo): boolean {
    if (!this.accepting) return false;
    this.sent.push(gso ? { frame, gso } : { frame });
    return true;
  }
  /** Offers a frame to the device; a refused one joins the backlog (delivered on resumeReceive). */
  inject(frame: Uint8Array, gso?: GsoInfo): boolean {
    if (this.backlog.length > 0 || !this.receive || !this.receive(frame, gso)) {
      this.backlog.push(gso ? { frame, gso } : { frame });
      return false;
    }
    return true;
  }
  onReceive(cb: NetReceiveCallback): void {
    this.receive = cb;
  }
  resumeReceive(): void {
    while (this.backlog.length > 0 && this.receive) {
      const f = this.backlog[0]!;
      if (!this.receive(f.frame, f.gso)) return;
      this.backlog.shift();
    }
  }
  /** Re-opens transmit and wakes the device. */
  open(): void {
    this.accepting = true;
    this.writable?.();
  }
  onWritable(cb: () => void): void {
    this.writable = cb;
  }
  get linkUp(): boolean {
    return this.up;
  }
  setLink(up: boolean): void {
    this.up = up;
    this.linkListener?.(up);
  }
  onLinkChange(cb: (up: boolean) => void): void {
    this.linkListener = cb;
  }
  close(): void {
    this.receive = undefined;
  }
}
