// NetBackend: the boundary between the virtio-net device and whatever network is behind it (DESIGN.md §3),
// modelled on nebula's tio.Queue/Capabilities/GSOWriter seeds. Frames are whole Ethernet frames without
// FCS; offload metadata (GsoInfo) travels with each one in both directions.
//
// Ownership: a frame passed to transmit() or to the receive callback belongs to the callee from then on
// (the sender made a copy if it needed one), so neither side has to copy again.
//
// Backpressure, both ways and lossless:
//   device → backend: transmit() returns false for "not now"; the device keeps the frame and retries on
//     the next tx kick or when the backend calls the onWritable listener.
//   backend → device: the receive callback returns false when the device's bounded rx queue is full; the
//     backend keeps the frame and waits for resumeReceive(), which the device calls once it has room.

import type { GsoInfo } from "./offload/gso.ts";

export interface NetCapabilities {
  /** Takes frames whose L4 checksum is only the pseudo-header sum (GsoInfo.needsCsum). */
  csum: boolean;
  /** Takes TCPv4 superpackets whole. */
  tso4: boolean;
  /** Takes TCPv6 superpackets whole. */
  tso6: boolean;
  /** Takes UDP (USO) superpackets whole. */
  uso: boolean;
}

export const NO_OFFLOADS: Readonly<NetCapabilities> = Object.freeze({
  csum: false,
  tso4: false,
  tso6: false,
  uso: false,
});
export const ALL_OFFLOADS: Readonly<NetCapabilities> = Object.freeze({ csum: true, tso4: true, tso6: true, uso: true });

/** Returns false when the frame was not accepted (keep it and retry after resumeReceive()). */
export type NetReceiveCallback = (frame: Uint8Array, gso?: GsoInfo) => boolean;

export interface NetBackend {
  /** A short name for the UI and logs ("loopback", "stack", "relay"). */
  readonly name: string;
  readonly capabilities: NetCapabilities;
  /**
   * Sends one frame (or a superpacket, if the matching capability is set). `gso` undefined means a
   * complete frame with valid checksums. Returns false for "not now" — the frame was not taken.
   */
  transmit(frame: Uint8Array, gso?: GsoInfo): boolean;
  /** Sets the single receive callback (the device); replaces any earlier one. */
  onReceive(cb: NetReceiveCallback): void;
  /** The receiver has room again after refusing a frame. */
  resumeReceive(): void;
  /** Called when transmit() may succeed again after returning false. */
  onWritable(cb: () => void): void;
  readonly linkUp: boolean;
  /** Called with the new state whenever linkUp changes. */
  onLinkChange(cb: (up: boolean) => void): void;
  close(): void;
  /**
   * Snapshots (issue 15): what this backend knows about the guest's side that a restore must act on (the
   * stack: the guest's open TCP connections), and, on the backend of the restored machine, acting on it —
   * connections carried before the save are gone, and the guest must hear so at once.
   */
  saveState?(): unknown;
  restoreState?(state: unknown): void;
}

/** A backend with nothing behind it: link down, every frame accepted and dropped. */
export class NullBackend implements NetBackend {
  readonly name = "none";
  readonly capabilities = NO_OFFLOADS;
  readonly linkUp = false;
  transmit(): boolean {
    return true;
  }
  onReceive(): void {}
  resumeReceive(): void {}
  onWritable(): void {}
  onLinkChange(): void {}
  close(): void {}
}
