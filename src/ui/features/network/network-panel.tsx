// The network path: backend and uplink, link state, addresses, and whatever counters the device and
// stack report (packets and bytes each way, superpackets, GSO splits, GRO merges, drops by reason).

import { memo, useEffect } from "react";
import type { MachineConfig, NetworkSnapshot } from "../../../worker/protocol.ts";
import { count } from "../../format.ts";
import type { MachineClient } from "../../machine-client.ts";
import { OffloadSwitches } from "./offload-switches.tsx";
import type { ThroughputHistory } from "./throughput.ts";
import { ThroughputChart } from "./throughput-chart.tsx";

interface Props {
  client: MachineClient;
  network: NetworkSnapshot | undefined;
  config: MachineConfig;
  onConfig: (config: MachineConfig) => void;
  throughput: ThroughputHistory;
  /** ThroughputHistory.fed: the chart redraws when it changes. */
  throughputVersion: number;
}

/** The counters, re-rendered only when one of them changed. */
const Counters = memo(
  function Counters({ counters }: { counters: Record<string, number> }) {
    const entries = Object.entries(counters);
    if (entries.length === 0) return null;
    return (
      <table className="counters">
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td>{count(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  },
  (a, b) => {
    const ka = Object.keys(a.counters);
    return ka.length === Object.keys(b.counters).length && ka.every((k) => a.counters[k] === b.counters[k]);
  },
);

export function NetworkPanel({ client, network, config, onConfig, throughput, throughputVersion }: Props) {
  // The finished capture arrives as bytes; the browser saves it as a file.
  useEffect(
    () =>
      client.on("capture", (pcapng) => {
        const url = URL.createObjectURL(new Blob([pcapng as BlobPart], { type: "application/x-pcapng" }));
        const a = document.createElement("a");
        a.href = url;
        a.download = `vireo-${new Date().toISOString().replace(/[:.]/g, "-")}.pcapng`;
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      }),
    [client],
  );
  if (network === undefined) return <p className="empty">Networking is off (net=none).</p>;
  return (
    <div className="network-panel">
      <div className="panel-tools">
        <button
          type="button"
          onClick={() => client.setLink(network.linkUp !== true)}
          disabled={network.linkUp === undefined}
          aria-pressed={network.linkUp === true}
        >
          {network.linkUp === true ? "Pull the cable (link down)" : "Plug the cable (link up)"}
        </button>{" "}
        <button type="button" onClick={() => client.capture(!network.capturing)} aria-pressed={network.capturing}>
          {network.capturing ? "Stop capture and download .pcapng" : "Start packet capture"}
        </button>
      </div>
      {network.note !== undefined && (
        <p className="note" role="status">
          {network.note}
        </p>
      )}
      <dl className="facts">
        <div>
          <dt>backend</dt>
          <dd>{network.backend}</dd>
        </div>
        <div>
          <dt>uplink</dt>
          <dd>{network.uplink ?? "—"}</dd>
        </div>
        {network.relay !== undefined && (
          <div>
            <dt>relay</dt>
            <dd data-testid="network-relay" data-state={network.relay.state}>
              {network.relay.state === "down" ? "down (reconnecting with backoff)" : network.relay.state}
            </dd>
          </div>
        )}
        <div>
          <dt>link</dt>
          <dd>{network.linkUp === undefined ? "—" : network.linkUp ? "up" : "down"}</dd>
        </div>
        <div>
          <dt>MAC</dt>
          <dd>{network.mac ?? "—"}</dd>
        </div>
        <div>
          <dt>guest IP</dt>
          <dd>{network.guestIp ?? "—"}</dd>
        </div>
      </dl>
      <ThroughputChart samples={throughput.samples} version={throughputVersion} />
      <OffloadSwitches config={config} onConfig={onConfig} />
      <Counters counters={network.counters} />
    </div>
  );
}
