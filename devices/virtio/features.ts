// Every virtio feature bit we know, with its spec name and a one-line meaning, in ONE table the UI
// shows (per device: offered, negotiated). Bits are numbers as in the spec and Linux's uapi headers;
// `featureMask(bit)` turns one into the bigint the transports negotiate with.
// Sources: virtio 1.2 §2.2 and §6 "Reserved Feature Bits" (device-independent), §5.1.3 (net),
// §5.2.3 (block), §5.3.3 (console); spec/virtio.md §3 and spec/virtio-net.md §2.

import { VIRTIO_ID_9P, VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE, VIRTIO_ID_NET } from "./virtio-ids.ts";

// Device-independent ("transport") bits, virtio 1.2 §6.
export const VIRTIO_F_NOTIFY_ON_EMPTY = 24;
export const VIRTIO_F_ANY_LAYOUT = 27;
export const VIRTIO_F_RING_INDIRECT_DESC = 28;
export const VIRTIO_F_RING_EVENT_IDX = 29;
export const VIRTIO_F_UNUSED_30 = 30;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;
export const VIRTIO_F_ORDER_PLATFORM = 36;
export const VIRTIO_F_SR_IOV = 37;
export const VIRTIO_F_NOTIFICATION_DATA = 38;
export const VIRTIO_F_NOTIF_CONFIG_DATA = 39;
export const VIRTIO_F_RING_RESET = 40;
export const VIRTIO_F_ADMIN_VQ = 41;
export const VIRTIO_F_SUSPEND = 43;

// virtio-net, §5.1.3.
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
export const VIRTIO_NET_F_MTU = 3;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_GSO = 6;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_GUEST_TSO6 = 8;
export const VIRTIO_NET_F_GUEST_ECN = 9;
export const VIRTIO_NET_F_GUEST_UFO = 10;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_HOST_TSO6 = 12;
export const VIRTIO_NET_F_HOST_ECN = 13;
export const VIRTIO_NET_F_HOST_UFO = 14;
export const VIRTIO_NET_F_MRG_RXBUF = 15;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_F_CTRL_VQ = 17;
export const VIRTIO_NET_F_CTRL_RX = 18;
export const VIRTIO_NET_F_CTRL_VLAN = 19;
export const VIRTIO_NET_F_CTRL_RX_EXTRA = 20;
export const VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
export const VIRTIO_NET_F_MQ = 22;
export const VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
export const VIRTIO_NET_F_GUEST_RSC4 = 41;
export const VIRTIO_NET_F_GUEST_RSC6 = 42;
export const VIRTIO_NET_F_DEVICE_STATS = 50;
export const VIRTIO_NET_F_HASH_TUNNEL = 51;
export const VIRTIO_NET_F_VQ_NOTF_COAL = 52;
export const VIRTIO_NET_F_NOTF_COAL = 53;
export const VIRTIO_NET_F_GUEST_USO4 = 54;
export const VIRTIO_NET_F_GUEST_USO6 = 55;
export const VIRTIO_NET_F_HOST_USO = 56;
export const VIRTIO_NET_F_HASH_REPORT = 57;
export const VIRTIO_NET_F_GUEST_HDRLEN = 59;
export const VIRTIO_NET_F_RSS = 60;
export const VIRTIO_NET_F_RSC_EXT = 61;
export const VIRTIO_NET_F_STANDBY = 62;
export const VIRTIO_NET_F_SPEED_DUPLEX = 63;

// virtio-blk, §5.2.3.
export const VIRTIO_BLK_F_BARRIER = 0;
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_SCSI = 7;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
export const VIRTIO_BLK_F_LIFETIME = 15;
export const VIRTIO_BLK_F_SECURE_ERASE = 16;
export const VIRTIO_BLK_F_ZONED = 17;

// virtio-console, §5.3.3.
export const VIRTIO_CONSOLE_F_SIZE = 0;
export const VIRTIO_CONSOLE_F_MULTIPORT = 1;
export const VIRTIO_CONSOLE_F_EMERG_WRITE = 2;

// virtio-9p, Linux include/uapi/linux/virtio_9p.h (the virtio spec reserves ID 9 without describing it).
export const VIRTIO_9P_MOUNT_TAG = 0;

/** The bigint mask of one feature bit. */
export function featureMask(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** The bigint mask of several feature bits. */
export function featureMaskOf(...bits: number[]): bigint {
  let m = 0n;
  for (const b of bits) m |= featureMask(b);
  return m;
}

export function hasFeature(features: bigint, bit: number): boolean {
  return (features & featureMask(bit)) !== 0n;
}

/** Who a bit belongs to: device-independent bits apply to every device, the rest to one device type. */
export type FeatureScope = "transport" | "net" | "blk" | "console" | "9p";

export interface FeatureInfo {
  bit: number;
  /** The spec / Linux uapi name. */
  name: string;
  scope: FeatureScope;
  /** One line for the UI. */
  description: string;
  /** Only meaningful in the legacy interface; a modern device never offers it. */
  legacy?: boolean;
}

const t = (bit: number, name: string, description: string, legacy?: boolean): FeatureInfo => ({
  bit,
  name,
  scope: "transport",
  description,
  legacy,
});
const n = (bit: number, name: string, description: string, legacy?: boolean): FeatureInfo => ({
  bit,
  name,
  scope: "net",
  description,
  legacy,
});
const b = (bit: number, name: string, description: string, legacy?: boolean): FeatureInfo => ({
  bit,
  name,
  scope: "blk",
  description,
  legacy,
});
const c = (bit: number, name: string, description: string): FeatureInfo => ({
  bit,
  name,
  scope: "console",
  description,
});

/** Every feature bit we know, device-independent first. */
export const FEATURE_TABLE: readonly FeatureInfo[] = [
  t(VIRTIO_F_NOTIFY_ON_EMPTY, "VIRTIO_F_NOTIFY_ON_EMPTY", "interrupt when a queue runs empty even if suppressed", true),
  t(VIRTIO_F_ANY_LAYOUT, "VIRTIO_F_ANY_LAYOUT", "device accepts any descriptor layout (implied by VERSION_1)", true),
  t(
    VIRTIO_F_RING_INDIRECT_DESC,
    "VIRTIO_F_RING_INDIRECT_DESC",
    "driver may put a chain in an indirect descriptor table",
  ),
  t(VIRTIO_F_RING_EVENT_IDX, "VIRTIO_F_RING_EVENT_IDX", "used_event / avail_event suppress interrupts and kicks"),
  t(VIRTIO_F_UNUSED_30, "VIRTIO_F_BAD_FEATURE", "never negotiated; QEMU's probe for broken legacy drivers", true),
  t(VIRTIO_F_VERSION_1, "VIRTIO_F_VERSION_1", "modern (virtio 1.x) device: little-endian, no legacy layout"),
  t(VIRTIO_F_ACCESS_PLATFORM, "VIRTIO_F_ACCESS_PLATFORM", "device DMA goes through the platform IOMMU"),
  t(VIRTIO_F_RING_PACKED, "VIRTIO_F_RING_PACKED", "packed virtqueue layout instead of the split ring"),
  t(VIRTIO_F_IN_ORDER, "VIRTIO_F_IN_ORDER", "device uses buffers in the order they were made available"),
  t(VIRTIO_F_ORDER_PLATFORM, "VIRTIO_F_ORDER_PLATFORM", "memory accesses need hardware-strength barriers"),
  t(VIRTIO_F_SR_IOV, "VIRTIO_F_SR_IOV", "PCI device supports single-root I/O virtualisation"),
  t(VIRTIO_F_NOTIFICATION_DATA, "VIRTIO_F_NOTIFICATION_DATA", "kicks carry the avail index and wrap counter"),
  t(VIRTIO_F_NOTIF_CONFIG_DATA, "VIRTIO_F_NOTIF_CONFIG_DATA", "PCI kicks write queue_notify_data, not the index"),
  t(VIRTIO_F_RING_RESET, "VIRTIO_F_RING_RESET", "driver may reset and re-enable a single queue"),
  t(VIRTIO_F_ADMIN_VQ, "VIRTIO_F_ADMIN_VQ", "device has an administration virtqueue (virtio 1.3)"),
  t(VIRTIO_F_SUSPEND, "VIRTIO_F_SUSPEND", "driver may suspend the device (virtio 1.4 draft)"),

  n(VIRTIO_NET_F_CSUM, "VIRTIO_NET_F_CSUM", "device completes partial checksums on transmit"),
  n(VIRTIO_NET_F_GUEST_CSUM, "VIRTIO_NET_F_GUEST_CSUM", "driver accepts partial or pre-validated checksums on receive"),
  n(
    VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
    "VIRTIO_NET_F_CTRL_GUEST_OFFLOADS",
    "driver toggles receive offloads via controlq",
  ),
  n(VIRTIO_NET_F_MTU, "VIRTIO_NET_F_MTU", "config mtu field holds the maximum MTU"),
  n(VIRTIO_NET_F_MAC, "VIRTIO_NET_F_MAC", "config mac field holds the device's MAC address"),
  n(VIRTIO_NET_F_GSO, "VIRTIO_NET_F_GSO", "any GSO type accepted (legacy interface only)", true),
  n(VIRTIO_NET_F_GUEST_TSO4, "VIRTIO_NET_F_GUEST_TSO4", "device may deliver TCPv4 superpackets on receive"),
  n(VIRTIO_NET_F_GUEST_TSO6, "VIRTIO_NET_F_GUEST_TSO6", "device may deliver TCPv6 superpackets on receive"),
  n(VIRTIO_NET_F_GUEST_ECN, "VIRTIO_NET_F_GUEST_ECN", "received superpackets may carry the ECN bit"),
  n(VIRTIO_NET_F_GUEST_UFO, "VIRTIO_NET_F_GUEST_UFO", "device may deliver UDP fragmentation-offload packets"),
  n(VIRTIO_NET_F_HOST_TSO4, "VIRTIO_NET_F_HOST_TSO4", "device segments TCPv4 superpackets on transmit"),
  n(VIRTIO_NET_F_HOST_TSO6, "VIRTIO_NET_F_HOST_TSO6", "device segments TCPv6 superpackets on transmit"),
  n(VIRTIO_NET_F_HOST_ECN, "VIRTIO_NET_F_HOST_ECN", "transmitted superpackets may carry the ECN bit"),
  n(VIRTIO_NET_F_HOST_UFO, "VIRTIO_NET_F_HOST_UFO", "device fragments large UDP datagrams on transmit"),
  n(VIRTIO_NET_F_MRG_RXBUF, "VIRTIO_NET_F_MRG_RXBUF", "a received packet may span several buffers"),
  n(VIRTIO_NET_F_STATUS, "VIRTIO_NET_F_STATUS", "config status field (link up, announce) is valid"),
  n(VIRTIO_NET_F_CTRL_VQ, "VIRTIO_NET_F_CTRL_VQ", "a control virtqueue exists"),
  n(VIRTIO_NET_F_CTRL_RX, "VIRTIO_NET_F_CTRL_RX", "receive mode and MAC filter commands"),
  n(VIRTIO_NET_F_CTRL_VLAN, "VIRTIO_NET_F_CTRL_VLAN", "VLAN filter commands"),
  n(VIRTIO_NET_F_CTRL_RX_EXTRA, "VIRTIO_NET_F_CTRL_RX_EXTRA", "extra receive mode commands (ALLUNI, NOMULTI, …)"),
  n(VIRTIO_NET_F_GUEST_ANNOUNCE, "VIRTIO_NET_F_GUEST_ANNOUNCE", "driver sends gratuitous ARP when asked"),
  n(VIRTIO_NET_F_MQ, "VIRTIO_NET_F_MQ", "several receive/transmit queue pairs"),
  n(VIRTIO_NET_F_CTRL_MAC_ADDR, "VIRTIO_NET_F_CTRL_MAC_ADDR", "driver sets the MAC address via controlq"),
  n(VIRTIO_NET_F_GUEST_RSC4, "VIRTIO_NET_F_GUEST_RSC4", "receive-side coalescing of TCPv4 (legacy)", true),
  n(VIRTIO_NET_F_GUEST_RSC6, "VIRTIO_NET_F_GUEST_RSC6", "receive-side coalescing of TCPv6 (legacy)", true),
  n(VIRTIO_NET_F_DEVICE_STATS, "VIRTIO_NET_F_DEVICE_STATS", "device statistics via controlq (virtio 1.3)"),
  n(VIRTIO_NET_F_HASH_TUNNEL, "VIRTIO_NET_F_HASH_TUNNEL", "hash on inner headers of tunnelled packets (virtio 1.3)"),
  n(VIRTIO_NET_F_VQ_NOTF_COAL, "VIRTIO_NET_F_VQ_NOTF_COAL", "per-queue notification coalescing (virtio 1.3)"),
  n(VIRTIO_NET_F_NOTF_COAL, "VIRTIO_NET_F_NOTF_COAL", "device-wide notification coalescing"),
  n(VIRTIO_NET_F_GUEST_USO4, "VIRTIO_NET_F_GUEST_USO4", "device may deliver UDPv4 segmentation superpackets"),
  n(VIRTIO_NET_F_GUEST_USO6, "VIRTIO_NET_F_GUEST_USO6", "device may deliver UDPv6 segmentation superpackets"),
  n(VIRTIO_NET_F_HOST_USO, "VIRTIO_NET_F_HOST_USO", "device segments UDP superpackets (USO) on transmit"),
  n(VIRTIO_NET_F_HASH_REPORT, "VIRTIO_NET_F_HASH_REPORT", "device reports the packet hash in the header"),
  n(VIRTIO_NET_F_GUEST_HDRLEN, "VIRTIO_NET_F_GUEST_HDRLEN", "driver puts the exact header length in hdr_len"),
  n(VIRTIO_NET_F_RSS, "VIRTIO_NET_F_RSS", "Toeplitz receive-side scaling"),
  n(VIRTIO_NET_F_RSC_EXT, "VIRTIO_NET_F_RSC_EXT", "coalesced packets report segment and dup-ACK counts"),
  n(VIRTIO_NET_F_STANDBY, "VIRTIO_NET_F_STANDBY", "standby for a primary NIC with the same MAC"),
  n(VIRTIO_NET_F_SPEED_DUPLEX, "VIRTIO_NET_F_SPEED_DUPLEX", "config speed and duplex fields are valid"),

  b(VIRTIO_BLK_F_BARRIER, "VIRTIO_BLK_F_BARRIER", "request barriers (legacy interface only)", true),
  b(VIRTIO_BLK_F_SIZE_MAX, "VIRTIO_BLK_F_SIZE_MAX", "config size_max caps one segment's bytes"),
  b(VIRTIO_BLK_F_SEG_MAX, "VIRTIO_BLK_F_SEG_MAX", "config seg_max caps data segments per request"),
  b(VIRTIO_BLK_F_GEOMETRY, "VIRTIO_BLK_F_GEOMETRY", "config geometry (cylinders, heads, sectors) is valid"),
  b(VIRTIO_BLK_F_RO, "VIRTIO_BLK_F_RO", "the disk is read-only"),
  b(VIRTIO_BLK_F_BLK_SIZE, "VIRTIO_BLK_F_BLK_SIZE", "config blk_size holds the logical block size"),
  b(VIRTIO_BLK_F_SCSI, "VIRTIO_BLK_F_SCSI", "SCSI packet commands (legacy interface only)", true),
  b(VIRTIO_BLK_F_FLUSH, "VIRTIO_BLK_F_FLUSH", "FLUSH requests commit the write cache"),
  b(VIRTIO_BLK_F_TOPOLOGY, "VIRTIO_BLK_F_TOPOLOGY", "config holds physical block and alignment topology"),
  b(VIRTIO_BLK_F_CONFIG_WCE, "VIRTIO_BLK_F_CONFIG_WCE", "driver switches writeback/writethrough in config"),
  b(VIRTIO_BLK_F_MQ, "VIRTIO_BLK_F_MQ", "several request queues (config num_queues)"),
  b(VIRTIO_BLK_F_DISCARD, "VIRTIO_BLK_F_DISCARD", "DISCARD requests release ranges"),
  b(VIRTIO_BLK_F_WRITE_ZEROES, "VIRTIO_BLK_F_WRITE_ZEROES", "WRITE_ZEROES requests zero ranges"),
  b(VIRTIO_BLK_F_LIFETIME, "VIRTIO_BLK_F_LIFETIME", "GET_LIFETIME reports flash wear"),
  b(VIRTIO_BLK_F_SECURE_ERASE, "VIRTIO_BLK_F_SECURE_ERASE", "SECURE_ERASE requests"),
  b(VIRTIO_BLK_F_ZONED, "VIRTIO_BLK_F_ZONED", "zoned block device commands"),

  c(VIRTIO_CONSOLE_F_SIZE, "VIRTIO_CONSOLE_F_SIZE", "config cols and rows hold the console size"),
  c(VIRTIO_CONSOLE_F_MULTIPORT, "VIRTIO_CONSOLE_F_MULTIPORT", "several ports and a control queue pair"),
  c(VIRTIO_CONSOLE_F_EMERG_WRITE, "VIRTIO_CONSOLE_F_EMERG_WRITE", "config emerg_wr writes one character at once"),

  {
    bit: VIRTIO_9P_MOUNT_TAG,
    name: "VIRTIO_9P_MOUNT_TAG",
    scope: "9p",
    description: "config holds the share's mount tag (tag_len, tag)",
  },
];

const SCOPE_OF_DEVICE: Record<number, FeatureScope> = {
  [VIRTIO_ID_NET]: "net",
  [VIRTIO_ID_BLOCK]: "blk",
  [VIRTIO_ID_CONSOLE]: "console",
  [VIRTIO_ID_9P]: "9p",
};

/** The table rows that apply to a device type (device-independent bits, then its own). */
export function featuresForDevice(deviceId: number): FeatureInfo[] {
  const scope = SCOPE_OF_DEVICE[deviceId];
  return FEATURE_TABLE.filter((f) => f.scope === "transport" || f.scope === scope);
}

/** Names of the set bits of `features` for a device type; unknown bits read "bit N". */
export function featureNames(deviceId: number, features: bigint): string[] {
  const known = new Map(featuresForDevice(deviceId).map((f) => [f.bit, f.name]));
  const out: string[] = [];
  for (let bit = 0; bit < 128; bit++) {
    if (hasFeature(features, bit)) out.push(known.get(bit) ?? `bit ${bit}`);
  }
  return out;
}

/** Bits every device here offers: a modern device, indirect tables and event-index suppression (spec/virtio.md §3). */
export const VIRTIO_TRANSPORT_FEATURES: bigint = featureMaskOf(
  VIRTIO_F_VERSION_1,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_RING_EVENT_IDX,
);

// Device status bits, virtio 1.2 §2.1 (Linux uapi names).
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
export const VIRTIO_CONFIG_S_DRIVER = 2;
export const VIRTIO_CONFIG_S_DRIVER_OK = 4;
export const VIRTIO_CONFIG_S_FEATURES_OK = 8;
export const VIRTIO_CONFIG_S_NEEDS_RESET = 64;
export const VIRTIO_CONFIG_S_FAILED = 128;

export interface StatusBitInfo {
  value: number;
  /** The spec name. */
  name: string;
  setBy: "driver" | "device";
  description: string;
}

/** The device status bits in the order a driver sets them, for the UI. */
export const STATUS_TABLE: readonly StatusBitInfo[] = [
  {
    value: VIRTIO_CONFIG_S_ACKNOWLEDGE,
    name: "ACKNOWLEDGE",
    setBy: "driver",
    description: "the OS noticed the device",
  },
  { value: VIRTIO_CONFIG_S_DRIVER, name: "DRIVER", setBy: "driver", description: "the OS has a driver for it" },
  { value: VIRTIO_CONFIG_S_FEATURES_OK, name: "FEATURES_OK", setBy: "driver", description: "feature set accepted" },
  { value: VIRTIO_CONFIG_S_DRIVER_OK, name: "DRIVER_OK", setBy: "driver", description: "the device is live" },
  {
    value: VIRTIO_CONFIG_S_NEEDS_RESET,
    name: "DEVICE_NEEDS_RESET",
    setBy: "device",
    description: "the device met an unrecoverable error",
  },
  { value: VIRTIO_CONFIG_S_FAILED, name: "FAILED", setBy: "driver", description: "the driver gave up" },
];

/** Names of the set status bits, e.g. ["ACKNOWLEDGE", "DRIVER", "FEATURES_OK", "DRIVER_OK"]. */
export function statusNames(status: number): string[] {
  return STATUS_TABLE.filter((s) => (status & s.value) !== 0).map((s) => s.name);
}
