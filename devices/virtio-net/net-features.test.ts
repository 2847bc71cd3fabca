import { describe, expect, it } from "vitest";
import { featureMask, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_MRG_RXBUF } from "../virtio/features.ts";
import { dependenciesHold, NET_DEFAULT_FEATURES, NET_FEATURE_BITS, parseNetFeatures } from "./net-features.ts";

describe("--net-features", () => {
  it.each([
    { name: "empty keeps the default", opt: "", removed: [], withdrawn: [] },
    { name: "one bit off", opt: "-HOST_TSO4", removed: ["HOST_TSO4"], withdrawn: [] },
    { name: "prefixed and lower case", opt: "-virtio_net_f_mrg_rxbuf", removed: ["MRG_RXBUF"], withdrawn: [] },
    {
      name: "CSUM off takes the host segmentation offloads with it",
      opt: "-CSUM",
      removed: ["CSUM", "HOST_TSO4", "HOST_TSO6", "HOST_USO", "HOST_ECN"],
      withdrawn: ["HOST_TSO4", "HOST_TSO6", "HOST_USO", "HOST_ECN"],
    },
    {
      name: "CTRL_VQ off takes every controlq feature",
      opt: "-CTRL_VQ",
      removed: ["CTRL_VQ", "CTRL_RX", "CTRL_GUEST_OFFLOADS", "GUEST_ANNOUNCE", "MQ", "CTRL_MAC_ADDR"],
      withdrawn: ["CTRL_RX", "CTRL_GUEST_OFFLOADS", "GUEST_ANNOUNCE", "MQ", "CTRL_MAC_ADDR"],
    },
  ])("$name", ({ opt, removed, withdrawn }) => {
    const r = parseNetFeatures(opt);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.withdrawn).toEqual(withdrawn);
    const gone = Object.entries(NET_FEATURE_BITS)
      .filter(([, b]) => (NET_DEFAULT_FEATURES & featureMask(b)) !== 0n && (r.features & featureMask(b)) === 0n)
      .map(([n]) => n);
    expect(gone.sort()).toEqual([...removed].sort());
  });

  it("CTRL_RX_EXTRA is opt-in and goes with CTRL_RX", () => {
    const extra = featureMask(NET_FEATURE_BITS.CTRL_RX_EXTRA!);
    expect(NET_DEFAULT_FEATURES & extra).toBe(0n);
    const on = parseNetFeatures("+CTRL_RX_EXTRA");
    expect(on.ok && on.features === (NET_DEFAULT_FEATURES | extra)).toBe(true);
    const off = parseNetFeatures("+CTRL_RX_EXTRA,-CTRL_RX");
    expect(off.ok && off.withdrawn).toEqual(["CTRL_RX_EXTRA"]);
  });

  it.each(["-VERSION_1", "-FOO", "+GUEST_UFO"])("rejects %s", (opt) => {
    expect(parseNetFeatures(opt).ok).toBe(false);
  });

  it("dependency check for a negotiated set", () => {
    expect(dependenciesHold(NET_DEFAULT_FEATURES)).toBe(true);
    expect(dependenciesHold(NET_DEFAULT_FEATURES & ~featureMask(VIRTIO_NET_F_CSUM))).toBe(false);
    expect(dependenciesHold(featureMask(VIRTIO_NET_F_MRG_RXBUF))).toBe(true);
    expect(dependenciesHold(featureMask(VIRTIO_NET_F_HOST_TSO4))).toBe(false);
  });
});
