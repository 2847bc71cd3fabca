// Which virtio-net feature bits this device offers (spec/virtio-net.md §2–3), the option string that
// switches them off or on (`-HOST_TSO4,-MRG_RXBUF`), and the dependency rules that keep an offer valid:
// Linux refuses a device that offers a controlq command bit without CTRL_VQ, and an offload bit without
// its base (TSO without CSUM, GUEST_TSO without GUEST_CSUM) is meaningless, so dependents go with it.

import {
  featureMask,
  hasFeature,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_INDIRECT_DESC,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_RX_EXTRA,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_GUEST_ANNOUNCE,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_ECN,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_GUEST_TSO6,
  VIRTIO_NET_F_HOST_ECN,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_HOST_TSO6,
  VIRTIO_NET_F_HOST_USO,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MQ,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_MTU,
  VIRTIO_NET_F_SPEED_DUPLEX,
  VIRTIO_NET_F_STATUS,
} from "../virtio/features.ts";

/** Every bit the device can offer and honour, by its short name (the spec name without VIRTIO_NET_F_ / VIRTIO_F_). */
export const NET_FEATURE_BITS: Readonly<Record<string, number>> = {
  VERSION_1: VIRTIO_F_VERSION_1,
  RING_INDIRECT_DESC: VIRTIO_F_RING_INDIRECT_DESC,
  RING_EVENT_IDX: VIRTIO_F_RING_EVENT_IDX,
  CSUM: VIRTIO_NET_F_CSUM,
  GUEST_CSUM: VIRTIO_NET_F_GUEST_CSUM,
  CTRL_GUEST_OFFLOADS: VIRTIO_NET_F_CTRL_GUEST_OFFLOADS,
  MTU: VIRTIO_NET_F_MTU,
  MAC: VIRTIO_NET_F_MAC,
  GUEST_TSO4: VIRTIO_NET_F_GUEST_TSO4,
  GUEST_TSO6: VIRTIO_NET_F_GUEST_TSO6,
  GUEST_ECN: VIRTIO_NET_F_GUEST_ECN,
  HOST_TSO4: VIRTIO_NET_F_HOST_TSO4,
  HOST_TSO6: VIRTIO_NET_F_HOST_TSO6,
  HOST_ECN: VIRTIO_NET_F_HOST_ECN,
  MRG_RXBUF: VIRTIO_NET_F_MRG_RXBUF,
  STATUS: VIRTIO_NET_F_STATUS,
  CTRL_VQ: VIRTIO_NET_F_CTRL_VQ,
  CTRL_RX: VIRTIO_NET_F_CTRL_RX,
  CTRL_RX_EXTRA: VIRTIO_NET_F_CTRL_RX_EXTRA,
  GUEST_ANNOUNCE: VIRTIO_NET_F_GUEST_ANNOUNCE,
  MQ: VIRTIO_NET_F_MQ,
  CTRL_MAC_ADDR: VIRTIO_NET_F_CTRL_MAC_ADDR,
  HOST_USO: VIRTIO_NET_F_HOST_USO,
  SPEED_DUPLEX: VIRTIO_NET_F_SPEED_DUPLEX,
};

/**
 * Implemented but offered only on request (`--net-features=+CTRL_RX_EXTRA`): CTRL_RX_EXTRA (ALLUNI,
 * NOMULTI, NOUNI, NOBCAST) is not in Linux's virtio_net feature table, so Linux never negotiates it and
 * offering it by default would change the offer (which tests/boot pins) without any guest using it.
 */
export const NET_OPT_IN_FEATURES: readonly string[] = ["CTRL_RX_EXTRA"];

/** Everything above except the opt-in bits: the default offer. */
export const NET_DEFAULT_FEATURES: bigint = Object.entries(NET_FEATURE_BITS)
  .filter(([n]) => !NET_OPT_IN_FEATURES.includes(n))
  .reduce((m, [, b]) => m | featureMask(b), 0n);

/** [dependent, ...any-of requirements]: the dependent is withdrawn when none of the requirements is offered. */
const DEPENDENCIES: readonly [number, ...number[]][] = [
  [VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_CSUM],
  [VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_CSUM],
  [VIRTIO_NET_F_HOST_USO, VIRTIO_NET_F_CSUM],
  [VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6],
  [VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_CSUM],
  [VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_CSUM],
  [VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6],
  [VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VQ],
  [VIRTIO_NET_F_CTRL_RX_EXTRA, VIRTIO_NET_F_CTRL_RX],
  [VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, VIRTIO_NET_F_CTRL_VQ],
  [VIRTIO_NET_F_GUEST_ANNOUNCE, VIRTIO_NET_F_CTRL_VQ],
  [VIRTIO_NET_F_MQ, VIRTIO_NET_F_CTRL_VQ],
  [VIRTIO_NET_F_CTRL_MAC_ADDR, VIRTIO_NET_F_CTRL_VQ],
];

/** Withdraws every bit whose requirements are missing (repeated until stable, so chains resolve). */
export function applyDependencies(features: bigint): { features: bigint; withdrawn: string[] } {
  const withdrawn: string[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    for (const [dep, ...req] of DEPENDENCIES) {
      if (hasFeature(features, dep) && !req.some((r) => hasFeature(features, r))) {
        features &= ~featureMask(dep);
        withdrawn.push(nameOf(dep));
        changed = true;
      }
    }
  }
  return { features, withdrawn };
}

/** True when a negotiated set respects the dependencies (a driver may not accept a dependent alone). */
export function dependenciesHold(features: bigint): boolean {
  return applyDependencies(features).features === features;
}

function nameOf(bit: number): string {
  for (const [n, b] of Object.entries(NET_FEATURE_BITS)) if (b === bit) return n;
  return `bit ${bit}`;
}

export type FeatureOptionResult = { ok: true; features: bigint; withdrawn: string[] } | { ok: false; error: string };

/**
 * Applies an option string to the default offer: comma-separated `-NAME` (withdraw) or `+NAME`/`NAME`
 * (offer; only bits this device implements), names with or without the VIRTIO_NET_F_ / VIRTIO_F_
 * prefix, case-insensitive. VERSION_1 cannot be withdrawn (both transports are modern-only).
 */
export function parseNetFeatures(option: string, base: bigint = NET_DEFAULT_FEATURES): FeatureOptionResult {
  let features = base;
  for (const raw of option.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const sign = item[0] === "-" ? "-" : "+";
    const name = item
      .replace(/^[-+]/, "")
      .toUpperCase()
      .replace(/^VIRTIO_NET_F_|^VIRTIO_F_/, "");
    const bit = NET_FEATURE_BITS[name];
    if (bit === undefined) {
      return {
        ok: false,
        error: `unknown virtio-net feature "${item}" (known: ${Object.keys(NET_FEATURE_BITS).join(", ")})`,
      };
    }
    if (bit === VIRTIO_F_VERSION_1 && sign === "-") return { ok: false, error: "VERSION_1 cannot be switched off" };
    features = sign === "-" ? features & ~featureMask(bit) : features | featureMask(bit);
  }
  const d = applyDependencies(features);
  return { ok: true, features: d.features, withdrawn: d.withdrawn };
}
