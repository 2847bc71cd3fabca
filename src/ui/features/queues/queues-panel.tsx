// Every virtqueue of every device, live: size, ring addresses, indices, chains in flight, kicks,
// interrupts raised and suppressed. Counters that moved since the last snapshot are highlighted so
// traffic is visible at a glance. "Freeze" holds the table still for reading.

import { memo, useEffect, useRef, useState } from "react";
import type { DeviceSnapshot, RingPicture } from "../../../worker/protocol.ts";
import type { MachineClient } from "../../machine-client.ts";
import { COLUMNS, type Column, loadChosenColumns, saveChosenColumns, shownColumns } from "./queue-columns.ts";
import { type RingTarget, RingView } from "./ring-view.tsx";

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
      <th scope="row" className="queue-cell">
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
  /** Answers received since the view opened (the page shows it as data-updates). */
  updates: number;
}

/** The ring view asks the worker this often while it is open and live: 5 Hz, over the counters' 4 Hz. */
export const RING_REFRESH_MS = 200;

export function QueuesPanel({ client, devices }: { client: MachineClient; devices: DeviceSnapshot[] }) {
  const [frozen, setFrozen] = useState<DeviceSnapshot[] | undefined>(undefined);
  const [ring, setRing] = useState<RingState | undefined>(undefined);
  const [ringHeld, setRingHeld] = useState(false);
  const [chosen, setChosen] = useState<string[]>(loadChosenColumns);
  useEffect(
    () =>
      client.on("ring", (device, queue, picture, note) =>
        setRing((r) =>
          r !== undefined && r.target.device === device && r.target.queue === queue
            ? { ...r, picture, note, updates: r.updates + 1 }
            : r,
        ),
      ),
    [client],
  );
  // A reset (or reboot, restore) makes a new machine: what the view showed is gone with the old one.
  useEffect(
    () =>
      client.on("restart", () =>
        setRing((r) =>
          r === undefined ? r : { ...r, picture: undefined, note: "the machine restarted: reading the rings again…" },
        ),
      ),
    [client],
  );
  const target = ring?.target;
  // Live while open: the rings are read again at RING_REFRESH_MS, unless the person holds the view to read it.
  useEffect(() => {
    if (target === undefined || ringHeld) return;
    const timer = setInterval(() => client.requestRing(target.device, target.queue), RING_REFRESH_MS);
    return () => clearInterval(timer);
  }, [client, target, ringHeld]);
  const showRing = (t: RingTarget): void => {
    setRing({ target: t, picture: undefined, note: "reading the rings…", updates: 0 });
    client.requestRing(t.device, t.queue);
  };
  const choose = (key: string, on: boolean): void => {
    const next = COLUMNS.filter((c) => (c.key === key ? on : chosen.includes(c.key))).map((c) => c.key);
    setChosen(next);
    saveChosenColumns(next);
  };
  /** Each row's cell texts as last rendered, to mark what changed. */
  const previous = useRef(new Map<string, string[]>());
  const shown = frozen ?? devices;
  const queues = shown.flatMap((d) => d.queues.map((q) => ({ device: d.name, q })));
  const visible = shownColumns(
    chosen,
    queues.map((r) => r.q),
  );
  // The same array while the same columns show, so the memoised rows can compare it by identity.
  const lastColumns = useRef<Column[]>(visible);
  if (lastColumns.current.length !== visible.length || lastColumns.current.some((c, i) => c !== visible[i])) {
    lastColumns.current = visible;
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
        <details className="column-chooser">
          <summary>
            Columns ({chosen.length} of {COLUMNS.length})
          </summary>
          <fieldset>
            <legend>columns shown</legend>
            {COLUMNS.map((c) => (
              <label key={c.key} title={c.title}>
                <input
                  type="checkbox"
                  data-col-choice={c.key}
                  checked={chosen.includes(c.key)}
                  onChange={(e) => choose(c.key, e.target.checked)}
                />
                {c.label}
              </label>
            ))}
          </fieldset>
        </details>
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
          updates={ring.updates}
          held={ringHeld}
          onHold={setRingHeld}
          onClose={() => setRing(undefined)}
        />
      )}
    </div>
  );
}
