// The `net=tab` backend: an Ethernet segment shared by the tabs (and workers) of one origin, carried by a
// BroadcastChannel named `vireo-l2-<network>`. Every VM on the channel is a port with its own MAC; one
// message is one frame. No switch learns addresses: the channel is a shared medium (a hub), so each
// port drops frames that are neither for its MAC nor broadcast/multicast, as a NIC would.
//
// Like the relay's wire, the channel carries plain Ethernet: other guests know nothing of virtio offload
// metadata, so we advertise no capabilities and still split any superpacket / complete any partial
// checksum handed to us.
//
// Link state follows the channel: up from construction (a BroadcastChannel is open at once) until close().
// There is no gateway and no DHCP server on the segment, so guests need static addresses.
//
// Backpressure: postMessage() never refuses and has no buffer to watch, so transmit() always takes the
// frame (counting it). Toward the device: a refused frame waits in a bounded queue for resumeReceive();
// past the bound frames are dropped and counted (guests' TCP recovers).

import type { NetBackend, NetCapabilities, NetReceiveCallback } from "./backend.ts";
import { NO_OFFLOADS } from "./backend.ts";
import { framesForWire, WireCounters } from "./link/plain-wire.ts";
import type { GsoInfo } from "./offload/gso.ts";

const ETH_HEADER = 14;

/** The BroadcastChannel name for a tab network (names are letters, digits, _ and -, up to 64). */
export function tabChannelName(network = "default"): string {
  return `vireo-l2-${network}`;
}

export function isTabNetworkName(s: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(s);
}

/** The part of a BroadcastChannel this backend uses (the browser's and Node's both fit). */
export interface TabChannel {
  onmessage: ((ev: { data: unknown }) => void) | null;
  onmessageerror: ((ev: unknown) => void) | null;
  postMessage(data: unknown): void;
  close(): void;
}

export interface TabBackendOptions {
  /** The network name (default "default"): the channel is `vireo-l2-<network>`. */
  network?: string;
  /** The guest's current MAC (the device's, which the driver may change); frames for others are dropped. */
  mac: () => Uint8Array;
  /** Makes the channel (default: `new BroadcastChannel(name)`); for tests. */
  channel?: (name: string) => TabChannel;
  /** Largest frame either way (default 1518: MTU 1500 + header + 802.1Q tag). */
  maxFrameBytes?: number;
  /** Bytes of received frames held for a device that is not taking them (default 1 MiB). */
  receiveQueueBytes?: number;
  /** Told when frames arrived for the guest (a run loop sleeping in WFI should step). */
  onActivity?: () => void;
}

export type TabDropReason =
  | "link-down"
  | "too-large"
  | "runt"
  | "bad-gso"
  | "not-binary"
  | "not-for-us"
  | "rx-queue-full";

export class TabCounters extends WireCounters<TabDropReason> {}

export class TabBackend implements NetBackend {
  readonly name = "tab";
  readonly capabilities: NetCapabilities = NO_OFFLOADS;
  readonly counters = new TabCounters();
  readonly channelName: string;

  private readonly maxFrameBytes: number;
  private readonly receiveQueueBytes: number;
  private readonly mac: () => Uint8Array;
  private readonly onActivity: (() => void) | undefined;
  private ch: TabChannel | undefined;
  private receive: NetReceiveCallback | undefined;
  private linkListener: ((up: boolean) => void) | undefined;
  private rxQueue: Uint8Array[] = [];
  private rxQueued = 0;

  constructor(o: TabBackendOptions) {
    const network = o.network ?? "default";
    if (!isTabNetworkName(network)) throw new Error(`tab network name ${JSON.stringify(network)}: A-Z a-z 0-9 _ -`);
    this.channelName = tabChannelName(network);
    this.maxFrameBytes = o.maxFrameBytes ?? 1518;
    this.receiveQueueBytes = o.receiveQueueBytes ?? 1024 * 1024;
    this.mac = o.mac;
    this.onActivity = o.onActivity;
    const ch = (o.channel ?? ((n: string) => new BroadcastChannel(n) as unknown as TabChannel))(this.channelName);
    ch.onmessage = (ev) => this.input(ev.data);
    ch.onmessageerror = () => this.counters.dropRx("not-binary");
    this.ch = ch;
  }

  get linkUp(): boolean {
    return this.ch !== undefined;
  }

  transmit(frame: Uint8Array, gso?: GsoInfo): boolean {
    const c = this.counters;
    const ch = this.ch;
    if (ch === undefined) {
      c.dropTx("link-down");
      return true;
    }
    const frames = framesForWire(frame, gso, c);
    if (frames === undefined) return true;
    for (const f of frames) {
      if (f.length > this.maxFrameBytes) c.dropTx("too-large");
      else if (f.length < ETH_HEADER) c.dropTx("runt");
      else {
        // Structured clone copies the whole underlying buffer: post a tight, unshared copy when needed.
        const whole = f.buffer instanceof ArrayBuffer && f.byteOffset === 0 && f.byteLength === f.buffer.byteLength;
        ch.postMessage(whole ? f.buffer : f.slice().buffer);
        c.txFrames++;
        c.txBytes += f.length;
      }
    }
    return true;
  }

  onReceive(cb: NetReceiveCallback): void {
    this.receive = cb;
    this.drainRx();
  }

  resumeReceive(): void {
    this.drainRx();
  }

  /** transmit() never refuses, so there is nothing to wait for. */
  onWritable(): void {}

  onLinkChange(cb: (up: boolean) => void): void {
    this.linkListener = cb;
  }

  /** Frames waiting for the device. */
  get queued(): number {
    return this.rxQueue.length;
  }

  close(): void {
    const ch = this.ch;
    if (ch === undefined) return;
    this.ch = undefined;
    ch.onmessage = ch.onmessageerror = null;
    ch.close();
    this.rxQueue = [];
    this.rxQueued = 0;
    this.receive = undefined;
    this.linkListener?.(false);
  }

  private forUs(frame: Uint8Array): boolean {
    if ((frame[0]! & 1) !== 0) return true; // broadcast or multicast
    const mac = this.mac();
    for (let i = 0; i < 6; i++) if (frame[i] !== mac[i]) return false;
    return true;
  }

  private input(data: unknown): void {
    const c = this.counters;
    let frame: Uint8Array;
    if (data instanceof ArrayBuffer) frame = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return void c.dropRx("not-binary");
    if (frame.length < ETH_HEADER) return void c.dropRx("runt");
    if (frame.length > this.maxFrameBytes) return void c.dropRx("too-large");
    if (!this.forUs(frame)) return void c.dropRx("not-for-us");
    c.rxFrames++;
    c.rxBytes += frame.length;
    if (this.rxQueue.length === 0 && this.receive?.(frame) === true) {
      this.onActivity?.();
      return;
    }
    if (this.rxQueued + frame.length > this.receiveQueueBytes) return void c.dropRx("rx-queue-full");
    this.rxQueue.push(frame);
    this.rxQueued += frame.length;
    this.onActivity?.();
  }

  private drainRx(): void {
    const cb = this.receive;
    if (cb === undefined) return;
    let i = 0;
    while (i < this.rxQueue.length && cb(this.rxQueue[i]!)) this.rxQueued -= this.rxQueue[i++]!.length;
    if (i > 0) this.rxQueue = i === this.rxQueue.length ? [] : this.rxQueue.slice(i);
  }
}

/** A random locally administered unicast MAC (52:54:00 would collide between tabs: every VM has it). */
export function randomTabMac(): Uint8Array {
  const m = new Uint8Array(6);
  crypto.getRandomValues(m);
  m[0] = (m[0]! & 0xfc) | 0x02;
  return m;
}
