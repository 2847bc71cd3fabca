// The ring view: one queue's descriptor table, available and used rings, read from guest RAM by the worker
// five times a second while it is open (Hold keeps one picture still to read it), with the chains the device
// has yet to consume drawn as linked boxes. A reset machine's rings are read afresh (queues-panel.tsx).

import type { RingPicture } from "../../../worker/protocol.ts";
import { hex } from "../../format.ts";

// virtio 1.2 §2.7.5 and §2.7.6-§2.7.8.
const DESC_FLAGS: [number, string][] = [
  [1, "NEXT"],
  [2, "WRITE"],
  [4, "INDIRECT"],
];

function flagNames(flags: number): string {
  const names = DESC_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
  return names.length === 0 ? "—" : names.join("|");
}

export interface RingTarget {
  device: string;
  queue: number;
  name: string;
}

interface Props {
  target: RingTarget;
  picture: RingPicture | undefined;
  note: string | undefined;
  /** Pictures received so far (data-updates, for a test that the view is live). */
  updates: number;
  held: boolean;
  onHold: (held: boolean) => void;
  onClose: () => void;
}

export function RingView({ target, picture, note, updates, held, onHold, onClose }: Props) {
  return (
    <section
      className="ring-view"
      aria-label={`ring view of ${target.device} ${target.name}`}
      data-updates={updates}
      data-live={!held}
    >
      <header>
        <h2>
          {target.device} <span className="queue-name">{target.name}</span>
        </h2>
        <button type="button" onClick={() => onHold(!held)} aria-pressed={held} title="hold this picture still">
          {held ? "Live again" : "Hold"}
        </button>
        <button type="button" onClick={onClose} aria-label="close the ring view">
          ×
        </button>
      </header>
      {note !== undefined && <p className="note">{note}</p>}
      {picture !== undefined && <RingBody p={picture} />}
    </section>
  );
}

function RingBody({ p }: { p: RingPicture }) {
  return (
    <>
      <dl className="facts">
        <div>
          <dt>size</dt>
          <dd>{p.size}</dd>
        </div>
        <div>
          <dt>desc / avail / used</dt>
          <dd>
            {hex(p.descAddr)} / {hex(p.driverAddr)} / {hex(p.deviceAddr)}
          </dd>
        </div>
        <div>
          <dt>avail.idx · used_event</dt>
          <dd data-testid="ring-avail-idx" data-idx={p.avail.idx}>
            {p.avail.idx} · {p.avail.usedEvent}
            {(p.avail.flags & 1) !== 0 ? " NO_INTERRUPT" : ""}
          </dd>
        </div>
        <div>
          <dt>used.idx · avail_event</dt>
          <dd>
            {p.used.idx} · {p.used.availEvent}
            {(p.used.flags & 1) !== 0 ? " NO_NOTIFY" : ""}
          </dd>
        </div>
      </dl>
      <h3>chains waiting for the device ({p.pending.length})</h3>
      {p.pending.length === 0 && <p className="empty">none — the device has used everything made available</p>}
      <ol className="chains">
        {p.pending.map((c) => (
          <li key={c.slot}>
            <span className="slot">avail[{c.slot}]</span>
            {c.descs.map((i) => {
              const d = p.descs[i];
              return (
                <span key={i} className={`desc ${(d.flags & 2) !== 0 ? "write" : "read"}`}>
                  #{i} {(d.flags & 2) !== 0 ? "W" : "R"} {d.len} B{(d.flags & 4) !== 0 ? " indirect" : ""}
                </span>
              );
            })}
            {c.broken !== undefined && <span className="error">{c.broken}</span>}
          </li>
        ))}
      </ol>
      <details>
        <summary>descriptor table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">addr</th>
              <th scope="col">len</th>
              <th scope="col">flags</th>
              <th scope="col">next</th>
            </tr>
          </thead>
          <tbody>
            {p.descs.map((d) => (
              <tr key={d.index}>
                <th scope="row">{d.index}</th>
                <td>{hex(d.addr)}</td>
                <td>{d.len}</td>
                <td>{flagNames(d.flags)}</td>
                <td>{(d.flags & 1) !== 0 ? d.next : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}
