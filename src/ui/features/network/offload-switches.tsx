// Offload feature switches for virtio-net: each unticked bit becomes "-NAME" in the `offloads`
// option (parseNetFeatures syntax), so it is withdrawn from the device's offer at the next boot.

import { memo } from "react";
import type { MachineConfig } from "../../../worker/protocol.ts";

const SWITCHES = [
  "CSUM",
  "GUEST_CSUM",
  "HOST_TSO4",
  "HOST_TSO6",
  "GUEST_TSO4",
  "GUEST_TSO6",
  "HOST_USO",
  "MRG_RXBUF",
  "CTRL_VQ",
  "MQ",
] as const;

/** The names switched off in an offloads string ("-HOST_TSO4,-MRG_RXBUF" → HOST_TSO4, MRG_RXBUF). */
export function withdrawnNames(offloads: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const item of (offloads ?? "").split(",")) {
    const t = item.trim().toUpperCase();
    if (t.startsWith("-")) out.add(t.slice(1).replace(/^VIRTIO_NET_F_/, ""));
  }
  return out;
}

interface Props {
  config: MachineConfig;
  onConfig: (config: MachineConfig) => void;
}

export const OffloadSwitches = memo(function OffloadSwitches({ config, onConfig }: Props) {
  const off = withdrawnNames(config.offloads);
  const toggle = (name: string, on: boolean): void => {
    const next = new Set(off);
    if (on) next.delete(name);
    else next.add(name);
    const offloads = [...next].map((n) => `-${n}`).join(",");
    onConfig({ ...config, offloads: offloads === "" ? undefined : offloads });
  };
  return (
    <fieldset className="offloads">
      <legend>offered offloads (changing one reboots)</legend>
      {SWITCHES.map((name) => (
        <label key={name}>
          <input
            type="checkbox"
            checked={!off.has(name)}
            onChange={(e) => toggle(name, e.target.checked)}
            data-offload={name}
          />
          {name}
        </label>
      ))}
    </fieldset>
  );
});
