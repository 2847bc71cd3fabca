// virtio-net (virtio 1.2 §5.1, spec/virtio-net.md): rx/tx queue pairs (MQ up to 4), a control queue,
// checksum and segmentation offloads in both directions, over any virtio transport. Frames go to and
// come from a NetBackend (src/net/backend.ts). Transmit chains and control commands are guest memory
// the guest may have written anything into: every header is copied out and checked before use, and a
// lie is a counted drop, never an exception.

import { flag, list, record, SnapshotError, u64, u64Text, uint } from "../../src/machine/state-check.ts";
import { type NetBackend, NullBackend } from "../../src/net/backend.ts";
import { completeChecksum } from "../../src/net/offload/checksum-offload.ts";
import { GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, type GsoInfo, type GsoType } from "../../src/net/offload/gso.ts";
import { gsoSplit, validateSuperpacket } from "../../src/net/offload/gso-split.ts";
import { macToString } from "../../src/net/wire/bytes.ts";
import { ETH_HLEN } from "../../src/net/wire/ethernet.ts";
import { copyFromReadable, copyToWritable } from "../virtio/chain-io.ts";
import {
  featureMaskOf,
  hasFeature,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_UFO,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_USO,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
} from "../virtio/features.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioDeviceSnapshot } from "../virtio/virtio-device.ts";
import { VIRTIO_ID_NET } from "../virtio/virtio-ids.ts";
import { NetCounters } from "./net-counters.ts";
import { handleCtrl, MAC_TABLE_ENTRIES, type NetCtrlState, rxFilterAccepts, VIRTIO_NET_ERR } from "./net-ctrl.ts";
import { dependenciesHold, NET_DEFAULT_FEATURES } from "./net-features.ts";
import {
  decodeNetHdr,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_SIZE,
} from "./net-hdr.ts";
import {
  coalescePending,
  prepareEntry,
  RX_PENDING_MAX,
  RxBuffers,
  type RxEntry,
  type RxMode,
  steer,
  writeEntry,
} from "./net-rx.ts";

export const VIRTIO_NET_QUEUE_SIZE = 256;
export const VIRTIO_NET_CTRL_QUEUE_SIZE = 64;
export const VIRTIO_NET_S_LINK_UP = 1;
export const VIRTIO_NET_S_ANNOUNCE = 2;
/** struct virtio_net_config up to duplex, padded to the next word (§5.1.4). */
export const VIRTIO_NET_CONFIG_SIZE = 20;
export const DEFAULT_MAC: Uint8Array = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
/** Largest superpacket a driver may send: 64 KiB of IP packet plus Ethernet and a VLAN tag. */
const TX_MAX_GSO_FRAME = 65535 + ETH_HLEN + 4;
/** Chains handled per kick before yielding, so one guest cannot starve the rest of the machine. */
const TX_BUDGET = 1024;
/** Frames held for a backend that said "not now"; one superpacket split is at most this many. */
const TX_HELD_MAX = 1100;

const GUEST_OFFLOAD_BITS = featureMaskOf(
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_UFO,
);

export interface VirtioNetOptions {
  name?: string;
  backend?: NetBackend;
  /** Offered feature bits (default NET_DEFAULT_FEATURES; see parseNetFeatures). */
  features?: bigint;
  mac?: Uint8Array;
  /**
   * Config `mtu` (default 1500; 68…65535). Non-GSO frames longer than mtu + 18 (Ethernet header and a
   * VLAN tag) are dropped in both directions and counted (tx-oversize / rx-oversize).
   */
  mtu?: number;
  /** Queue pairs offered with MQ (1…4, default 4). */
  queuePairs?: number;
  /** Config speed in Mbit/s (default 10000). */
  speed?: number;
  /** Sees every frame crossing the device↔backend boundary (pcap). */
  tap?: (dir: "tx" | "rx", frame: Uint8Array, gso?: GsoInfo) => void;
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly name: string;
  readonly features: bigint;
  readonly queues: { maxSize: number; name: string }[];
  readonly configSize = VIRTIO_NET_CONFIG_SIZE;
  readonly maxPairs: number;
  readonly mtu: number;
  readonly counters: NetCounters;
  tap: VirtioNetOptions["tap"];

  private backend: NetBackend;
  private readonly initialMac: Uint8Array;
  private readonly speed: number;
  private ctx: VirtioDeviceContext | undefined;
  private negotiated = 0n;
  private ctrlIndex = -1;
  private readonly ctrl: NetCtrlState;
  private hostLinkUp = true;
  /** The link state the driver last saw, to notice link down→up (which asks for an announce). */
  private lastLinkUp = false;
  private announcePending = false;
  private rxBufs: RxBuffers[] = [];
  private pending: RxEntry[][] = [];
  private pendingCount = 0;
  private refusedBackend = false;
  private txHeld: { frame: Uint8Array; gso?: GsoInfo }[] = [];
  private draining = false;

  constructor(o: VirtioNetOptions = {}) {
    this.name = o.name ?? "virtio-net0";
    this.features = o.features ?? NET_DEFAULT_FEATURES;
    this.mtu = o.mtu ?? 1500;
    if (!Number.isInteger(this.mtu) || this.mtu < 68 || this.mtu > 65535) {
      throw new RangeError(`virtio-net mtu ${o.mtu} out of range (68…65535)`);
    }
    this.speed = o.speed ?? 10000;
    this.initialMac = (o.mac ?? DEFAULT_MAC).slice(0, 6);
    this.maxPairs = hasFeature(this.features, VIRTIO_NET_F_MQ) ? Math.max(1, Math.min(4, o.queuePairs ?? 4)) : 1;
    this.queues = [];
    for (let i = 0; i < this.maxPairs; i++) {
      this.queues.push({ maxSize: VIRTIO_NET_QUEUE_SIZE, name: `receiveq${i + 1}` });
      this.queues.push({ maxSize: VIRTIO_NET_QUEUE_SIZE, name: `transmitq${i + 1}` });
    }
    if (hasFeature(this.features, VIRTIO_NET_F_CTRL_VQ)) {
      this.queues.push({ maxSize: VIRTIO_NET_CTRL_QUEUE_SIZE, name: "controlq" });
    }
    this.counters = new NetCounters(this.maxPairs);
    this.ctrl = this.freshCtrl();
    this.tap = o.tap;
    this.backend = new NullBackend();
    this.attachBackend(o.backend ?? new NullBackend());
  }

  /** Plugs in a backend (replacing the current one). */
  attachBackend(b: NetBackend): void {
    this.backend.onReceive(() => true);
    this.backend = b;
    b.onReceive((frame, gso) => this.receive(frame, gso));
    b.onWritable(() => this.processTx());
    b.onLinkChange(() => this.linkChanged());
    this.linkChanged();
  }

  get linkUp(): boolean {
    return this.hostLinkUp && this.backend.linkUp;
  }

  /** The host pulls or plugs the cable (UI, tests): the driver gets a config-change interrupt. */
  setLink(up: boolean): void {
    this.hostLinkUp = up;
    this.linkChanged();
  }

  /**
   * Ask the driver to announce itself (gratuitous ARP / unsolicited NA), e.g. after a migration-like
   * event; the device also does this by itself when the link comes back up. Sets status.ANNOUNCE and
   * raises a config-change interrupt; VIRTIO_NET_CTRL_ANNOUNCE_ACK clears it.
   */
  announce(): boolean {
    if (!this.ctx?.active || !hasFeature(this.negotiated, VIRTIO_NET_F_GUEST_ANNOUNCE)) return false;
    this.announcePending = true;
    this.ctx.signalConfig();
    return true;
  }

  get mac(): Uint8Array {
    return this.ctrl.mac;
  }

  // ---- config space (§5.1.4) ----

  private configBytes(): Uint8Array {
    const c = new Uint8Array(VIRTIO_NET_CONFIG_SIZE);
    c.set(this.ctrl.mac, 0);
    let status = 0;
    if (this.linkUp) status |= VIRTIO_NET_S_LINK_UP;
    if (this.announcePending) status |= VIRTIO_NET_S_ANNOUNCE;
    c[6] = status;
    c[8] = this.maxPairs;
    c[10] = this.mtu & 0xff;
    c[11] = this.mtu >>> 8;
    c[12] = this.speed & 0xff;
    c[13] = (this.speed >>> 8) & 0xff;
    c[14] = (this.speed >>> 16) & 0xff;
    c[15] = (this.speed >>> 24) & 0xff;
    c[16] = 1; // full duplex (ethtool DUPLEX_FULL)
    return c;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    const c = this.configBytes();
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (c[offset + i] ?? 0);
    return v >>> 0;
  }

  /** Every field is read-only for a modern driver (the MAC changes through the control queue). */
  writeConfig(): void {}

  validateFeatures(features: bigint): boolean {
    return dependenciesHold(features);
  }

  // ---- lifecycle ----

  activate(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
    this.negotiated = ctx.features;
    const mq = hasFeature(ctx.features, VIRTIO_NET_F_MQ);
    const pairs = mq ? this.maxPairs : 1;
    this.ctrlIndex = hasFeature(ctx.features, VIRTIO_NET_F_CTRL_VQ) ? 2 * pairs : -1;
    this.ctrl.guestOffloads = ctx.features & GUEST_OFFLOAD_BITS;
    this.ctrl.activePairs = 1;
    this.rxBufs = [];
    this.pending = [];
    for (let i = 0; i < pairs; i++) {
      this.rxBufs.push(new RxBuffers(ctx.queues[2 * i]!));
      this.pending.push([]);
    }
    this.pendingCount = 0;
  }

  reset(): void {
    this.ctx = undefined;
    this.negotiated = 0n;
    this.ctrlIndex = -1;
    for (const p of this.pending) for (const _ of p) this.counters.drop("rx-reset");
    this.pending = [];
    this.pendingCount = 0;
    this.rxBufs = [];
    this.txHeld = [];
    this.announcePending = false;
    this.lastLinkUp = this.linkUp;
    Object.assign(this.ctrl, this.freshCtrl());
    if (this.refusedBackend) {
      this.refusedBackend = false;
      this.backend.resumeReceive();
    }
  }

  notify(queue: number): void {
    const ctx = this.ctx;
    if (!ctx?.active) return;
    if (queue === this.ctrlIndex) this.processCtrl();
    else if (queue % 2 === 1) this.processTx();
    else this.drainRx();
  }

  /**
   * For a snapshot: the control queue's settings (MAC, filters, active pairs, offloads), the host's cable, a
   * pending announce and the receive buffers held (by head). Frames waiting to be delivered or sent are not
   * state: a restored guest sees them lost, as on a wire.
   */
  saveState(): unknown {
    const c = this.ctrl;
    return {
      hostLinkUp: this.hostLinkUp,
      announcePending: this.announcePending,
      ctrl: {
        promisc: c.promisc,
        allMulti: c.allMulti,
        allUni: c.allUni,
        noMulti: c.noMulti,
        noUni: c.noUni,
        noBcast: c.noBcast,
        uniOverflow: c.uniOverflow,
        multiOverflow: c.multiOverflow,
        unicast: [...c.unicast],
        multicast: [...c.multicast],
        mac: macToString(c.mac),
        activePairs: c.activePairs,
        guestOffloads: u64Text(c.guestOffloads),
      },
      rxHeld: this.rxBufs.map((b) => b.stash.map((chain) => chain.head)),
      backend: this.backend.saveState?.() ?? null,
    };
  }

  /**
   * Restores saveState()'s output (after activate() when the driver was live). The link then goes down and up
   * as the driver sees it: a config interrupt, and ANNOUNCE where negotiated, so peers relearn the guest's MAC.
   */
  loadState(state: unknown, path: string): void {
    const s = record(state, path);
    const hostLinkUp = flag(s.hostLinkUp, `${path}.hostLinkUp`);
    const announcePending = flag(s.announcePending, `${path}.announcePending`);
    const c = record(s.ctrl, `${path}.ctrl`);
    const bits = ["promisc", "allMulti", "allUni", "noMulti", "noUni", "noBcast", "uniOverflow", "multiOverflow"];
    const flags = bits.map((k) => flag(c[k], `${path}.ctrl.${k}`));
    const mac = (v: unknown, p: string): string => {
      if (typeof v !== "string" || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(v))
        throw new SnapshotError(`${p}: not a MAC`);
      return v;
    };
    const macs = (v: unknown, p: string): string[] => {
      if (!Array.isArray(v) || v.length > MAC_TABLE_ENTRIES) {
        throw new SnapshotError(`${p}: not a list of at most ${MAC_TABLE_ENTRIES} MACs`);
      }
      return v.map((m, i) => mac(m, `${p}[${i}]`));
    };
    const unicast = macs(c.unicast, `${path}.ctrl.unicast`);
    const multicast = macs(c.multicast, `${path}.ctrl.multicast`);
    const own = mac(c.mac, `${path}.ctrl.mac`)
      .split(":")
      .map((h) => Number.parseInt(h, 16));
    const live = this.ctx !== undefined;
    const pairs = this.rxBufs.length;
    const activePairs = uint(c.activePairs, `${path}.ctrl.activePairs`, Math.max(1, pairs));
    if (activePairs < 1) throw new SnapshotError(`${path}.ctrl.activePairs: 0`);
    const guestOffloads = u64(c.guestOffloads, `${path}.ctrl.guestOffloads`);
    if ((guestOffloads & ~(this.negotiated & GUEST_OFFLOAD_BITS)) !== 0n) {
      throw new SnapshotError(`${path}.ctrl.guestOffloads: offloads the driver did not negotiate`);
    }
    const held = list(s.rxHeld, `${path}.rxHeld`, pairs, (v, p) => {
      const i = Number(/\[(\d+)\]$/.exec(p)?.[1] ?? 0);
      const inFlight = this.rxBufs[i]?.vq.stats.inFlight ?? 0;
      // Held chains are chains in flight (popped, not used), each once.
      if (!Array.isArray(v) || v.length > inFlight) {
        throw new SnapshotError(`${p}: not a list of at most ${inFlight} heads (the chains in flight)`);
      }
      const heads = v.map((h, k) => uint(h, `${p}[${k}]`, 0xffff));
      if (new Set(heads).size !== heads.length) throw new SnapshotError(`${p}: a head held twice`);
      return heads;
    });
    if (!live && announcePending) throw new SnapshotError(`${path}.announcePending: set without a live driver`);

    this.hostLinkUp = hostLinkUp;
    Object.assign(this.ctrl, {
      promisc: flags[0],
      allMulti: flags[1],
      allUni: flags[2],
      noMulti: flags[3],
      noUni: flags[4],
      noBcast: flags[5],
      uniOverflow: flags[6],
      multiOverflow: flags[7],
      unicast: new Set(unicast),
      multicast: new Set(multicast),
      mac: Uint8Array.from(own),
      activePairs: live ? activePairs : 1,
      guestOffloads: live ? guestOffloads : 0n,
    });
    held.forEach((heads, i) => {
      const vq = this.rxBufs[i].vq;
      for (const h of heads) {
        const chain = vq.chainAt(h);
        if (chain === undefined) this.counters.drop("rx-bad-buffer");
        else this.rxBufs[i].stash.push(chain);
      }
    });
    this.announcePending = announcePending;
    // The link as the driver knew it went away with the saved host: say it is back.
    this.lastLinkUp = false;
    this.linkChanged();
    // Connections the saved backend carried are gone: the backend tells the guest (the stack resets them).
    if (live && s.backend !== null && s.backend !== undefined) this.backend.restoreState?.(s.backend);
  }

  private freshCtrl(): NetCtrlState {
    return {
      promisc: false,
      allMulti: false,
      allUni: false,
      noMulti: false,
      noUni: false,
      noBcast: false,
      uniOverflow: false,
      multiOverflow: false,
      unicast: new Set(),
      multicast: new Set(),
      mac: this.initialMac.slice(),
      activePairs: 1,
      guestOffloads: 0n,
    };
  }

  private linkChanged(): void {
    const up = this.linkUp;
    const cameUp = up && !this.lastLinkUp;
    this.lastLinkUp = up;
    const ctx = this.ctx;
    if (!ctx?.active || !hasFeature(this.negotiated, VIRTIO_NET_F_STATUS)) return;
    // While the link was down, switches and peers may have forgotten the guest's MAC (or it moved to
    // another port): ask the driver to announce itself, in the same config-change interrupt (§5.1.6.5.4).
    if (cameUp && hasFeature(this.negotiated, VIRTIO_NET_F_GUEST_ANNOUNCE)) this.announcePending = true;
    ctx.signalConfig();
  }

  // ---- transmit (§5.1.6.2) ----

  /** Pops transmit chains of every active pair, unless the backend still holds us back. */
  processTx(): void {
    const ctx = this.ctx;
    if (!ctx?.active) return;
    if (!this.flushHeld()) return;
    const pairs = this.pending.length;
    for (let p = 0; p < pairs; p++) {
      const vq = ctx.queues[2 * p + 1];
      if (!vq?.ready) continue;
      let pushed = false;
      for (let n = 0; n < TX_BUDGET; n++) {
        const chain = vq.pop();
        if (!chain) break;
        const bytes = copyFromReadable(chain, 0, Math.min(chain.readableBytes, VIRTIO_NET_HDR_SIZE + TX_MAX_GSO_FRAME));
        const tooBig = chain.readableBytes > VIRTIO_NET_HDR_SIZE + TX_MAX_GSO_FRAME;
        vq.push(chain, 0);
        pushed = true;
        if (tooBig) this.counters.drop("tx-oversize");
        else this.transmitOne(bytes, p);
        if (this.txHeld.length > 0) break;
      }
      if (pushed) ctx.signalUsed(2 * p + 1);
      if (this.txHeld.length > 0) return;
    }
  }

  private flushHeld(): boolean {
    while (this.txHeld.length > 0) {
      const h = this.txHeld[0]!;
      if (!this.backend.transmit(h.frame, h.gso)) return false;
      this.txHeld.shift();
    }
    return true;
  }

  private send(frame: Uint8Array, gso?: GsoInfo): void {
    this.tap?.("tx", frame, gso);
    if (this.txHeld.length > 0 || !this.backend.transmit(frame, gso)) {
      if (this.txHeld.length === 0) this.counters.txBackpressure++;
      if (this.txHeld.length >= TX_HELD_MAX) {
        this.counters.drop("tx-backend-full");
        return;
      }
      this.txHeld.push(gso ? { frame, gso } : { frame });
    }
  }

  /** One driver packet: 12-byte header then the frame. */
  private transmitOne(bytes: Uint8Array, pair: number): void {
    const c = this.counters;
    if (bytes.length < VIRTIO_NET_HDR_SIZE + ETH_HLEN) {
      c.drop("tx-runt");
      return;
    }
    if (!this.linkUp) {
      c.drop("tx-link-down");
      return;
    }
    const h = decodeNetHdr(bytes);
    const frame = bytes.subarray(VIRTIO_NET_HDR_SIZE);
    const kind = h.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
    const needsCsum = (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0;
    c.txPackets++;
    c.txBytes += frame.length;
    c.pairTx[pair]!++;
    const caps = this.backend.capabilities;
    if (kind === VIRTIO_NET_HDR_GSO_NONE) {
      if (frame.length > this.mtu + ETH_HLEN + 4) {
        c.drop("tx-oversize");
        return;
      }
      if (!needsCsum) {
        this.send(frame);
        return;
      }
      if (h.csumStart < ETH_HLEN || h.csumStart + h.csumOffset + 2 > frame.length) {
        c.drop("tx-bad-csum-offsets");
        return;
      }
      if (caps.csum) {
        this.send(frame, {
          type: GSO_NONE,
          gsoSize: 0,
          hdrLen: 0,
          needsCsum: true,
          csumStart: h.csumStart,
          csumOffset: h.csumOffset,
        });
        return;
      }
      completeChecksum(frame, h.csumStart, h.csumOffset);
      c.checksumsCompleted++;
      this.send(frame);
      return;
    }
    const bit =
      kind === GSO_TCPV4
        ? VIRTIO_NET_F_HOST_TSO4
        : kind === GSO_TCPV6
          ? VIRTIO_NET_F_HOST_TSO6
          : kind === GSO_UDP_L4
            ? VIRTIO_NET_F_HOST_USO
            : -1;
    if (bit < 0 || !hasFeature(this.negotiated, bit) || !needsCsum) {
      c.drop("tx-gso-not-negotiated");
      return;
    }
    const ecn = (h.gsoType & VIRTIO_NET_HDR_GSO_ECN) !== 0;
    if (ecn && !hasFeature(this.negotiated, VIRTIO_NET_F_HOST_ECN)) {
      c.drop("tx-ecn-not-negotiated");
      return;
    }
    const gso: GsoInfo = {
      type: kind as GsoType,
      gsoSize: h.gsoSize,
      hdrLen: h.hdrLen,
      needsCsum: true,
      csumStart: h.csumStart,
      csumOffset: h.csumOffset,
      ...(ecn ? { ecn } : {}),
    };
    const whole = kind === GSO_TCPV4 ? caps.tso4 : kind === GSO_TCPV6 ? caps.tso6 : caps.uso;
    if (whole && caps.csum) {
      const v = validateSuperpacket(frame, gso);
      if (!v.ok) {
        c.drop("tx-bad-gso");
        return;
      }
      gso.hdrLen = v.layout.l4Off + v.layout.l4HeaderLen;
      c.txSuperpackets++;
      this.send(frame, gso);
      return;
    }
    const r = gsoSplit(frame, gso);
    if (r.result !== "ok") {
      c.drop("tx-bad-gso");
      return;
    }
    c.gsoSplits++;
    c.gsoSplitFrames += r.frames.length;
    for (const f of r.frames) this.send(f);
  }

  // ---- receive (§5.1.6.3) ----

  private rxMode(): RxMode {
    const f = this.negotiated;
    const on = this.ctrl.guestOffloads;
    return {
      mergeable: hasFeature(f, VIRTIO_NET_F_MRG_RXBUF),
      guestCsum: hasFeature(on, VIRTIO_NET_F_GUEST_CSUM),
      guestTso4: hasFeature(on, VIRTIO_NET_F_GUEST_TSO4),
      guestTso6: hasFeature(on, VIRTIO_NET_F_GUEST_TSO6),
      guestEcn: hasFeature(on, VIRTIO_NET_F_GUEST_ECN),
    };
  }

  /** The backend's receive callback: false = "not now" (queue full), the backend keeps the frame. */
  receive(frame: Uint8Array, gso?: GsoInfo): boolean {
    const c = this.counters;
    if (!this.ctx?.active || this.pending.length === 0) {
      c.drop("rx-not-ready");
      return true;
    }
    if (!this.linkUp) {
      c.drop("rx-link-down");
      return true;
    }
    if (frame.length < ETH_HLEN) {
      c.drop("rx-runt");
      return true;
    }
    const superpacket = gso !== undefined && gso.type !== GSO_NONE;
    if (frame.length > (superpacket ? 65535 + ETH_HLEN + 4 : this.mtu + ETH_HLEN + 4)) {
      c.drop("rx-oversize");
      return true;
    }
    if (!rxFilterAccepts(this.ctrl, frame, hasFeature(this.negotiated, VIRTIO_NET_F_CTRL_RX))) {
      c.drop("rx-filtered");
      return true;
    }
    if (this.pendingCount >= RX_PENDING_MAX) {
      c.rxBackpressure++;
      this.refusedBackend = true;
      return false;
    }
    this.tap?.("rx", frame, gso);
    const pair = steer(frame, this.ctrl.activePairs);
    this.pending[pair]!.push(gso ? { frame, gso } : { frame });
    this.pendingCount++;
    this.drainRx();
    return true;
  }

  /** Moves pending frames into receive buffers while there are some. */
  drainRx(): void {
    const ctx = this.ctx;
    if (!ctx?.active || this.draining) return;
    this.draining = true;
    try {
      const mode = this.rxMode();
      for (let p = 0; p < this.pending.length; p++) {
        if (this.pending[p]!.length === 0) continue;
        const bufs = this.rxBufs[p]!;
        // Nothing is prepared or coalesced while the driver has no buffers: frames that arrive meanwhile
        // stay plain, so GRO sees the whole backlog at once when buffers come (NAPI-style batching).
        if (!bufs.vq.ready || !bufs.available()) continue;
        const before = this.pending[p]!.length;
        const q = coalescePending(this.pending[p]!, mode, this.counters);
        this.pendingCount += q.length - before;
        let wrote = false;
        while (q.length > 0) {
          let e = q[0]!;
          if (!e.hdr) {
            const prepared = prepareEntry(e, mode, this.counters);
            q.splice(0, 1, ...prepared);
            this.pendingCount += prepared.length - 1;
            if (prepared.length === 0) continue;
            e = q[0]!;
          }
          const r = writeEntry(e, bufs, mode.mergeable, this.counters);
          if (r === "no-buffers") break;
          q.shift();
          this.pendingCount--;
          if (r === "written") {
            wrote = true;
            this.counters.rxPackets++;
            this.counters.rxBytes += e.frame.length;
            this.counters.pairRx[p]!++;
          }
        }
        this.pending[p] = q;
        if (wrote) ctx.signalUsed(2 * p);
      }
    } finally {
      this.draining = false;
    }
    if (this.refusedBackend && this.pendingCount < RX_PENDING_MAX / 2) {
      this.refusedBackend = false;
      this.backend.resumeReceive();
    }
  }

  // ---- control queue (§5.1.6.5) ----

  /** Synchronous: Linux busy-waits for the ack right after the kick. */
  private processCtrl(): void {
    const ctx = this.ctx!;
    const vq = ctx.queues[this.ctrlIndex];
    if (!vq?.ready) return;
    let pushed = false;
    for (let chain = vq.pop(); chain; chain = vq.pop()) {
      pushed = true;
      if (chain.writableBytes < 1) {
        vq.push(chain, 0);
        continue;
      }
      let ack = VIRTIO_NET_ERR;
      if (chain.readableBytes <= 8192) {
        const cmd = copyFromReadable(chain, 0, chain.readableBytes);
        const offloadable = this.negotiated & GUEST_OFFLOAD_BITS;
        const r = handleCtrl(cmd, this.ctrl, { features: this.negotiated, maxPairs: this.pending.length, offloadable });
        ack = r.ack;
        if (r.effect === "announce-ack") this.announcePending = false;
        else if (r.effect === "pairs-changed") this.resteerPending();
      }
      copyToWritable(chain, 0, Uint8Array.of(ack));
      vq.push(chain, 1);
    }
    if (pushed) ctx.signalUsed(this.ctrlIndex);
  }

  /** After VQ_PAIRS_SET: frames still waiting on a pair no longer in use move to an active one. */
  private resteerPending(): void {
    const n = this.ctrl.activePairs;
    for (let p = n; p < this.pending.length; p++) {
      const q = this.pending[p]!;
      for (const e of q) this.pending[steer(e.frame, n)]!.push(e);
      this.pending[p] = [];
    }
    this.drainRx();
  }

  snapshot(): VirtioDeviceSnapshot {
    const m = this.rxMode();
    return {
      mac: macToString(this.ctrl.mac),
      mtu: this.mtu,
      link: this.linkUp,
      backend: this.backend.name,
      queuePairs: this.ctrl.activePairs,
      maxQueuePairs: this.maxPairs,
      rxMode: m.mergeable ? "mergeable" : m.guestTso4 || m.guestTso6 ? "big" : "small",
      promisc: this.ctrl.promisc,
      allMulti: this.ctrl.allMulti,
      allUni: this.ctrl.allUni,
      rxPending: this.pendingCount,
      txHeld: this.txHeld.length,
      ...this.counters.flat(),
    };
  }
}
