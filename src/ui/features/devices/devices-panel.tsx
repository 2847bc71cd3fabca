// Every virtio device: where it sits (MMIO base + IRQ, or PCI bus:dev.fn + BAR + INTx line), its
// status bits by name, its feature negotiation and the device's own facts (decoded config space).

import { memo } from "react";
import { STATUS_TABLE, VIRTIO_CONFIG_S_FEATURES_OK } from "../../../../devices/virtio/features.ts";
import type { DeviceLocation, DeviceSnapshot } from "../../../worker/protocol.ts";
import { hex } from "../../format.ts";
import { FeatureTable } from "./feature-table.tsx";

function Location({ loc }: { loc: DeviceLocation | undefined }) {
  if (loc === undefined) return <span>—</span>;
  if (loc.kind === "mmio") {
    return (
      <span>
        virtio-mmio @ {hex(loc.base)} (+{hex(loc.size)}), PLIC IRQ {loc.irq}
      </span>
    );
  }
  return (
    <span>
      virtio-pci {loc.bdf}, INTA → PLIC IRQ {loc.intxIrq}
      {loc.bars.length === 0
        ? ", BARs not assigned yet"
        : loc.bars.map((b) => `, BAR${b.bar} ${b.kind} ${hex(b.base)} (+${hex(b.size)})`).join("")}
    </span>
  );
}

function StatusBits({ status }: { status: number }) {
  return (
    <ul className="status-bits" aria-label="device status">
      {STATUS_TABLE.map((s) => (
        <li key={s.name} className={(status & s.value) !== 0 ? "on" : "off"} title={s.description}>
          {s.name}
        </li>
      ))}
    </ul>
  );
}

/** More facts than this and they fold away, so the feature table stays in view. */
const FACTS_SHOWN = 9;

function DeviceFacts({ facts }: { facts: DeviceSnapshot["device"] }) {
  if (facts === undefined || Object.keys(facts).length === 0) return null;
  const entries = Object.entries(facts);
  const list = (
    <dl className="device-facts">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v === null ? "—" : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
  if (entries.length <= FACTS_SHOWN) return list;
  return (
    <details className="device-facts-more">
      <summary>
        device state and counters ({entries.length}):{" "}
        {entries
          .slice(0, 4)
          .map(([k, v]) => `${k} ${String(v)}`)
          .join(", ")}
        …
      </summary>
      {list}
    </details>
  );
}

function sameFacts(a: DeviceSnapshot["device"], b: DeviceSnapshot["device"]): boolean {
  if (a === undefined || b === undefined) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** What the section shows; with every snapshot a new object, so memo compares these. */
function sameDevice(a: { d: DeviceSnapshot }, b: { d: DeviceSnapshot }): boolean {
  const x = a.d;
  const y = b.d;
  return (
    x.name === y.name &&
    x.deviceId === y.deviceId &&
    x.status === y.status &&
    x.offered === y.offered &&
    x.negotiated === y.negotiated &&
    x.needsResetReason === y.needsResetReason &&
    JSON.stringify(x.location) === JSON.stringify(y.location) &&
    sameFacts(x.device, y.device)
  );
}

const DeviceSection = memo(function DeviceSection({ d }: { d: DeviceSnapshot }) {
  return (
    <section className="device" data-device={d.name} aria-label={d.name}>
      <h2>
        {d.name} <small>(device id {d.deviceId})</small>
      </h2>
      <p className="location">
        <Location loc={d.location} />
      </p>
      <StatusBits status={d.status} />
      {d.needsResetReason !== undefined && <p className="error">needs reset: {d.needsResetReason}</p>}
      <DeviceFacts facts={d.device} />
      <FeatureTable
        deviceId={d.deviceId}
        offered={d.offered}
        negotiated={d.negotiated}
        settled={(d.status & VIRTIO_CONFIG_S_FEATURES_OK) !== 0}
      />
    </section>
  );
}, sameDevice);

export function DevicesPanel({ devices }: { devices: DeviceSnapshot[] }) {
  if (devices.length === 0) return <p className="empty">No virtio devices (yet).</p>;
  return (
    <div className="devices-panel">
      {devices.map((d) => (
        <DeviceSection key={d.name} d={d} />
      ))}
    </div>
  );
}
