// A device's feature bits in three columns — offered by the device, accepted by the driver, what it
// means — each by its spec name from the one table in devices/virtio/features.ts.

import { memo, useState } from "react";
import { featuresForDevice, hasFeature } from "../../../../devices/virtio/features.ts";

interface Props {
  deviceId: number;
  offered: bigint;
  negotiated: bigint;
  /** Whether the driver has finished negotiating (FEATURES_OK): before that "accepted" means nothing. */
  settled: boolean;
}

interface Row {
  bit: number;
  name: string;
  description: string;
  offered: boolean;
  accepted: boolean;
}

export function featureRows(deviceId: number, offered: bigint, negotiated: bigint): Row[] {
  const known = featuresForDevice(deviceId);
  const rows: Row[] = known.map((f) => ({
    bit: f.bit,
    name: f.name,
    description: f.description,
    offered: hasFeature(offered, f.bit),
    accepted: hasFeature(negotiated, f.bit),
  }));
  // Bits the device offers that the table does not know still deserve a row.
  const seen = new Set(known.map((f) => f.bit));
  for (let bit = 0; bit < 64; bit++) {
    if (seen.has(bit) || !hasFeature(offered | negotiated, bit)) continue;
    rows.push({
      bit,
      name: `bit ${bit}`,
      description: "not in the feature table",
      offered: hasFeature(offered, bit),
      accepted: hasFeature(negotiated, bit),
    });
  }
  return rows.sort((a, b) => Number(b.offered) - Number(a.offered) || a.bit - b.bit);
}

export const FeatureTable = memo(function FeatureTable({ deviceId, offered, negotiated, settled }: Props) {
  const [all, setAll] = useState(false);
  const rows = featureRows(deviceId, offered, negotiated).filter((r) => all || r.offered || r.accepted);
  return (
    <div className="feature-table">
      <table>
        <thead>
          <tr>
            <th scope="col">feature</th>
            <th scope="col">offered</th>
            <th scope="col">accepted</th>
            <th scope="col">meaning</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={r.bit}
              data-feature={r.name}
              data-offered={r.offered}
              data-accepted={r.accepted}
              className={r.accepted ? "accepted" : r.offered ? "offered" : "absent"}
            >
              <th scope="row" title={`bit ${r.bit}`}>
                {r.name}
              </th>
              <td>{r.offered ? "✓" : "·"}</td>
              <td>{settled ? (r.accepted ? "✓" : "✗") : "…"}</td>
              <td>{r.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <label className="toggle">
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> show bits the device does not
        offer
      </label>
    </div>
  );
});
