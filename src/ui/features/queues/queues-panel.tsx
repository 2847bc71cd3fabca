// Every virtqueue of every device, live: size, ring addresses, indices, chains in flight, kicks,
// interrupts raised and suppressed. Counters that moved since the last snapshot are highlighted so
// traffic is visible at a glance. "Freeze" holds the table still for reading.

import { memo, useEffect, useRef, useState } from "react";
import type { DeviceSnapshot, QueueSnapshot, RingPicture } from "../../../worker/protocol.ts";
import { bytes, count, hex } from "../../format.ts";
import type { MachineClient } from "../../machine-client.ts";
import { type RingTarget, RingView } from "./ring-view.tsx";

interface Column {
  key: string;
  label: string;
  title: string;
  value: (q: QueueSnapshot) => string | number;
  /** Shown only when some queue has the field (older device modules leave it out). */
  optional?: (q: QueueSnapshot) => boolean;
}

const COLUMNS: Column[] = [
  {
    key: "size",
    label: "size",
    title: "ring entries (driver's choice) / device maximum",
    value: (q) => `${q.size}/${q.maxSize}`,
  },
  {
    key: "desc",
    label: "desc",
    title: "descriptor table address",
    value: (q) => hex(q.descAddr),
    optional: (q) => q.descAddr !== undefined,
  },
  {
    key: "avail",
    label: "avail",
    title: "available ring (driver area) address",
    value: (q) => hex(q.driverAddr),
    optional: (q) => q.driverAddr !== undefined,
  },
  {
    key: "used",
    label: "used",
    title: "used ring (device area) address",
    value: (q) => hex(q.deviceAddr),
    optional: (q) => q.deviceAddr !== undefined,
  },
  { key: "availIdx", label: "avail.idx", title: "avail.idx as last read", value: (q) => q.lastAvailIdx },
  { key: "usedIdx", label: "used.idx", title: "used.idx as last written", value: (q) => q.lastUsedIdx },
  { key: "inFlight", label: "in flight", title: "chains popped and not yet returned", value: (q) => q.inFlight },
  { key: "kicks", label: "kicks", title: "driver notifications", value: (q) => q.kicks },
  { key: "irq", label: "irqs", title: "interrupts raised", value: (q) => q.interruptsRaised },
  {
    key: "suppressed",
    label: "suppressed",
    title: "interrupts suppressed (EVENT_IDX / NO_INTERRUPT)",
    value: (q) => q.interruptsSuppressed,
  },
  {
    key: "event",
    label: "event idx",
    title: "EVENT_IDX negotiated; used_event / avail_event when known",
    value: (q) => (q.eventIdx ? (q.usedEvent !== undefined ? `${q.usedEvent}/${q.availEvent ?? "—"}` : "on") : "off"),
  },
  { key: "chains", label: "chains", title: "chains popped", value: (q) => count(q.chainsPopped) },
  { key: "in", label: "read", title: "bytes the driver handed the device", value: (q) => bytes(q.bytesRead) },
  { key: "out", label: "written", title: "bytes the device wrote back", value: (q) => bytes(q.bytesWritten) },
  { key: "dropped", label: "dropped", title: "chains refused for breaking a rule", value: (q) => q.chainsDropped },
];

interface RowProps {
  device: string;
  name: string;
  className: string;
  columns: Column[];
  /** The shown text of each column, computed once per snapshot. */
  cells: string[];
  /** One "1" per column whose text differs from the last snapshot's, else "0". */
  changed: string;
  onRing: () => void;
}

/** A row re-renders only when a shown text (or whether it just changed) differs from last time. */
function sameRow(a: RowProps, b: RowProps): boolean {
  if (
    a.device !== b.device ||
    a.name !== b.name ||
    a.className !== b.className ||
    a.columns !== b.columns ||
    a.changed !== b.changed
  ) {
    return false;
  }
  for (let i = 0; i < a.cells.length; i++) if (a.cells[i] !== b.cells[i]) return false;
  return true;
}

const QueueRow = memo(function QueueRow({ device, name, className, columns, cells, changed, onRing }: RowProps) {
  return (
    <tr data-queue={`${device}/${name}`} className={className}>
      <th scope="row">
        <button type="button" className="link" onClick={onRing} title="show this queue's rings">
          {device} <span className="queue-name">{name}</span>
        </button>
      </th>
      {columns.map((c, i) => (
        <td key={c.key} data-col={c.key} className={changed[i] === "1" ? "changed" : undefined}>
          {cells[i]}
        </td>
      ))}
    </tr>
  );
}, sameRow);

interface RingState {
  target: RingTarget;
  picture: RingPicture | undefined;
  note: string | undefined;
}

export function QueuesPanel({ client, devices }: { client: MachineClient; devices: DeviceSnapshot[] }) {
  const [frozen, setFrozen] = useState<DeviceSnapshot[] | undefined>(undefined);
  const [ring, setRing] = useState<RingState | undefined>(undefined);
  useEffect(
    () =>
      client.on("ring", (device, queue, picture, note) =>
        setRing((r) =>
          r !== undefined && r.target.device === device && r.target.queue === queue ? { ...r, picture, note } : r,
        ),
      ),
    [client],
  );
  const showRing = (target: RingTarget): void => {
    setRing({ target, picture: undefined, note: "reading the rings…" });
    client.requestRing(target.device, target.queue);
  };
  /** Each row's cell texts as last rendered, to mark what changed. */
  const previous = useRef(new Map<string, string[]>());
  const shown = frozen ?? devices;
  const queues = shown.flatMap((d) => d.queues.map((q) => ({ device: d.name, q })));
  const shownColumns = COLUMNS.filter((c) => c.optional === undefined || queues.some((r) => c.optional?.(r.q)));
  // The same array while the same columns show, so the memoised rows can compare it by identity.
  const lastColumns = useRef(shownColumns);
  if (lastColumns.current.length !== shownColumns.length || lastColumns.current.some((c, i) => c !== shownColumns[i])) {
    lastColumns.current = shownColumns;
  }
  const columns = lastColumns.current;
  const prev = previous.current;
  const rows = queues.map(({ device, q }) => {
    const key = `${device}/${q.index}`;
    const cells = columns.map((c) => String(c.value(q)));
    const before = prev.get(key);
    const changed = cells.map((v, i) => (before !== undefined && before[i] !== v ? "1" : "0")).join("");
    return { key, device, q, cells, changed };
  });
  if (frozen === undefined) previous.current = new Map(rows.map((r) => [r.key, r.cells]));
  return (
    <div className="queues-panel">
      <div className="panel-tools">
        <button
          type="button"
          onClick={() => setFrozen(frozen === undefined ? devices : undefined)}
          aria-pressed={frozen !== undefined}
        >
          {frozen === undefined ? "Freeze" : "Unfreeze"}
        </button>
      </div>
      {rows.length === 0 ? (
        <p className="empty">No virtqueues (yet).</p>
      ) : (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">queue</th>
                {columns.map((c) => (
                  <th key={c.key} scope="col" title={c.title}>
                    {c.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <QueueRow
                  key={r.key}
                  device={r.device}
                  name={r.q.name}
                  className={r.q.broken ? "broken" : r.q.ready ? "" : "not-ready"}
                  columns={columns}
                  cells={r.cells}
                  changed={r.changed}
                  onRing={() => showRing({ device: r.device, queue: r.q.index, name: r.q.name })}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {ring !== undefined && (
        <RingView
          target={ring.target}
          picture={ring.picture}
          note={ring.note}
          onRefresh={() => showRing(ring.target)}
          onClose={() => setRing(undefined)}
        />
      )}
    </div>
  );
}
