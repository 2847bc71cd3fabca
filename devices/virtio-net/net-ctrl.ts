// The virtio-net control queue (virtio 1.2 §5.1.6.5, spec/virtio-net.md §8): one command per chain,
// readable {class, command, data…} and a writable ack byte. The bytes are guest-written: counts are
// bounded by the bytes actually present and every value is range-checked; a bad command is acked ERR.

export const VIRTIO_NET_OK = 0;
export const VIRTIO_NET_ERR = 1;

export const VIRTIO_NET_CTRL_RX = 0;
export const VIRTIO_NET_CTRL_RX_PROMISC = 0;
export const VIRTIO_NET_CTRL_RX_ALLMULTI = 1;
/** CTRL_RX_EXTRA commands (feature bit 20). */
export const VIRTIO_NET_CTRL_RX_ALLUNI = 2;
export const VIRTIO_NET_CTRL_RX_NOMULTI = 3;
export const VIRTIO_NET_CTRL_RX_NOUNI = 4;
export const VIRTIO_NET_CTRL_RX_NOBCAST = 5;
export const VIRTIO_NET_CTRL_MAC = 1;
export const VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
export const VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;
export const VIRTIO_NET_CTRL_VLAN = 2;
export const VIRTIO_NET_CTRL_ANNOUNCE = 3;
export const VIRTIO_NET_CTRL_ANNOUNCE_ACK = 0;
export const VIRTIO_NET_CTRL_MQ = 4;
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;
export const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX = 0x8000;
export const VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5;
export const VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET = 0;

/** MAC table entries kept per kind; QEMU keeps 64 and falls back to "all" beyond. */
export const MAC_TABLE_ENTRIES = 64;

/** What the control queue may change; the device owns it. */
export interface NetCtrlState {
  promisc: boolean;
  allMulti: boolean;
  /** CTRL_RX_EXTRA: accept every unicast / refuse all multicast, all unicast, broadcast. */
  allUni: boolean;
  noMulti: boolean;
  noUni: boolean;
  noBcast: boolean;
  /** Too many unicast / multicast entries: accept all of that kind (QEMU's uni_overflow / multi_overflow). */
  uniOverflow: boolean;
  multiOverflow: boolean;
  /** MAC table, as "aa:bb:…" strings for cheap lookups. */
  unicast: Set<string>;
  multicast: Set<string>;
  mac: Uint8Array;
  activePairs: number;
  /** Currently enabled GUEST_* offload bits (a subset of the negotiated ones). */
  guestOffloads: bigint;
}

export interface NetCtrlLimits {
  /** Negotiated feature bits. */
  features: bigint;
  maxPairs: number;
  /** GUEST_* bits the driver may enable (negotiated ∩ the offloadable set). */
  offloadable: bigint;
}

export type NetCtrlEffect = "none" | "announce-ack" | "mac-changed" | "pairs-changed" | "offloads-changed" | "rx-mode";

function hasBit(f: bigint, bit: number): boolean {
  return ((f >> BigInt(bit)) & 1n) === 1n;
}

function macKey(b: Uint8Array, off: number): string {
  let s = "";
  for (let i = 0; i < 6; i++) s += (i ? ":" : "") + b[off + i]!.toString(16).padStart(2, "0");
  return s;
}

function le16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}
function le32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/**
 * Applies one command (`cmd` = the chain's readable bytes) to `s`. Returns the ack byte and what
 * changed, so the device can react (interrupts, steering, announce).
 */
export function handleCtrl(
  cmd: Uint8Array,
  s: NetCtrlState,
  lim: NetCtrlLimits,
): { ack: number; effect: NetCtrlEffect } {
  const err = { ack: VIRTIO_NET_ERR, effect: "none" as const };
  if (cmd.length < 2) return err;
  const cls = cmd[0]!;
  const op = cmd[1]!;
  const data = cmd.subarray(2);
  const f = lim.features;
  switch (cls) {
    case VIRTIO_NET_CTRL_RX: {
      // PROMISC and ALLMULTI need CTRL_RX (bit 18); ALLUNI, NOMULTI, NOUNI, NOBCAST need CTRL_RX_EXTRA (bit 20).
      if (!hasBit(f, 18) || data.length < 1) return err;
      const on = data[0] !== 0;
      if (op === VIRTIO_NET_CTRL_RX_PROMISC) s.promisc = on;
      else if (op === VIRTIO_NET_CTRL_RX_ALLMULTI) s.allMulti = on;
      else if (!hasBit(f, 20)) return err;
      else if (op === VIRTIO_NET_CTRL_RX_ALLUNI) s.allUni = on;
      else if (op === VIRTIO_NET_CTRL_RX_NOMULTI) s.noMulti = on;
      else if (op === VIRTIO_NET_CTRL_RX_NOUNI) s.noUni = on;
      else if (op === VIRTIO_NET_CTRL_RX_NOBCAST) s.noBcast = on;
      else return err;
      return { ack: VIRTIO_NET_OK, effect: "rx-mode" };
    }
    case VIRTIO_NET_CTRL_MAC: {
      if (op === VIRTIO_NET_CTRL_MAC_ADDR_SET) {
        if (!hasBit(f, 23) || data.length !== 6) return err;
        s.mac = data.slice(0, 6);
        return { ack: VIRTIO_NET_OK, effect: "mac-changed" };
      }
      if (op !== VIRTIO_NET_CTRL_MAC_TABLE_SET || !hasBit(f, 18)) return err;
      // Two tables back to back: le32 entries, entries × 6 bytes; the counts must fit what is present.
      if (data.length < 4) return err;
      const nUc = le32(data, 0);
      const ucEnd = 4 + nUc * 6;
      if (nUc > data.length || ucEnd + 4 > data.length) return err;
      const nMc = le32(data, ucEnd);
      if (nMc > data.length || ucEnd + 4 + nMc * 6 !== data.length) return err;
      const uc = new Set<string>();
      const mc = new Set<string>();
      for (let i = 0; i < nUc && i < MAC_TABLE_ENTRIES; i++) uc.add(macKey(data, 4 + i * 6));
      for (let i = 0; i < nMc && i < MAC_TABLE_ENTRIES; i++) mc.add(macKey(data, ucEnd + 4 + i * 6));
      s.unicast = uc;
      s.multicast = mc;
      s.uniOverflow = nUc > MAC_TABLE_ENTRIES;
      s.multiOverflow = nMc > MAC_TABLE_ENTRIES;
      return { ack: VIRTIO_NET_OK, effect: "rx-mode" };
    }
    case VIRTIO_NET_CTRL_ANNOUNCE:
      if (!hasBit(f, 21) || op !== VIRTIO_NET_CTRL_ANNOUNCE_ACK) return err;
      return { ack: VIRTIO_NET_OK, effect: "announce-ack" };
    case VIRTIO_NET_CTRL_MQ: {
      if (!hasBit(f, 22) || op !== VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || data.length < 2) return err;
      const n = le16(data, 0);
      if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > lim.maxPairs) return err;
      s.activePairs = n;
      return { ack: VIRTIO_NET_OK, effect: "pairs-changed" };
    }
    case VIRTIO_NET_CTRL_GUEST_OFFLOADS: {
      if (!hasBit(f, 2) || op !== VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || data.length < 8) return err;
      const want = BigInt(le32(data, 0)) | (BigInt(le32(data, 4)) << 32n);
      // Never enable an offload that was not negotiated.
      if ((want & ~lim.offloadable) !== 0n) return err;
      s.guestOffloads = want;
      return { ack: VIRTIO_NET_OK, effect: "offloads-changed" };
    }
    default:
      return err;
  }
}

/**
 * Receive filter (spec/virtio-net.md §7.5, QEMU's receive_filter): true when a frame to its destination
 * MAC should reach the driver. Without CTRL_RX: own MAC, broadcast and multicast. With it: promiscuous
 * takes everything; broadcast unless NOBCAST; multicast unless NOMULTI, then ALLMULTI, table overflow or
 * a listed address; unicast unless NOUNI (which refuses even the device's own MAC, as QEMU does), then
 * ALLUNI, table overflow, the device's MAC or a listed address.
 */
export function rxFilterAccepts(s: NetCtrlState, frame: Uint8Array, ctrlRx: boolean): boolean {
  if (frame.length < 6) return false;
  let own = true;
  for (let i = 0; i < 6; i++) {
    if (frame[i] !== s.mac[i]) {
      own = false;
      break;
    }
  }
  const group = (frame[0]! & 1) !== 0;
  if (!ctrlRx) return own || group;
  if (s.promisc) return true;
  if (group) {
    let bcast = true;
    for (let i = 0; i < 6; i++) if (frame[i] !== 0xff) bcast = false;
    if (bcast) return !s.noBcast;
    if (s.noMulti) return false;
    return s.allMulti || s.multiOverflow || s.multicast.has(macKey(frame, 0));
  }
  if (s.noUni) return false;
  return own || s.allUni || s.uniOverflow || s.unicast.has(macKey(frame, 0));
}
