// The page: controls and hart status on top, the boot progress bar, the guest consoles on the left
// and the Devices / Queues / Network panels on the right. All machine state arrives from the worker
// through MachineClient; this component only keeps what React must render.

import { type DragEvent, useCallback, useEffect, useRef, useState } from "react";
import type {
  DeviceSnapshot,
  DownloadProgress,
  MachineConfig,
  MachinePhase,
  MachineSnapshot,
} from "../worker/protocol.ts";
import { configToSearch, imageRoleForName } from "./config.ts";
import { BootProgress } from "./features/console/boot-progress.tsx";
import { type BootStage, BootStageTracker } from "./features/console/boot-stages.ts";
import { TerminalView } from "./features/console/terminal-view.tsx";
import { Controls } from "./features/controls/controls.tsx";
import { MachineStatus } from "./features/controls/machine-status.tsx";
import { DevicesPanel } from "./features/devices/devices-panel.tsx";
import { NetworkPanel } from "./features/network/network-panel.tsx";
import { ThroughputHistory } from "./features/network/throughput.ts";
import { QueuesPanel } from "./features/queues/queues-panel.tsx";
import type { MachineClient } from "./machine-client.ts";
import { Tabs } from "./tabs.tsx";

interface Props {
  client: MachineClient;
  initialConfig: MachineConfig;
  warnings: string[];
  relayDefault: string;
  /** false for `?ui=off`: no snapshots from the worker, no live panels (see parseUiLive). */
  live: boolean;
}

type ConsoleTab = "uart" | "hvc0";
/** Snapshots come four times a second; this long without one means the worker is stuck. */
const STALL_MS = 5000;
type PanelTab = "devices" | "queues" | "network";
const CONSOLE_TABS: { id: ConsoleTab; label: string }[] = [
  { id: "uart", label: "ttyS0 (UART)" },
  { id: "hvc0", label: "hvc0 (virtio-console)" },
];
const PANEL_TABS: { id: PanelTab; label: string }[] = [
  { id: "devices", label: "Devices" },
  { id: "queues", label: "Queues" },
  { id: "network", label: "Network" },
];

export function App({ client, initialConfig, warnings, relayDefault, live }: Props) {
  const [config, setConfig] = useState(initialConfig);
  const [phase, setPhase] = useState<MachinePhase>("idle");
  const [downloads, setDownloads] = useState<DownloadProgress[]>([]);
  const [stage, setStage] = useState<BootStage>("download");
  const [snapshot, setSnapshot] = useState<MachineSnapshot | undefined>(undefined);
  const [errors, setErrors] = useState<string[]>(warnings);
  const [consoleTab, setConsoleTab] = useState<ConsoleTab>("uart");
  const [panelTab, setPanelTab] = useState<PanelTab>("devices");
  const tracker = useRef(new BootStageTracker());
  const lastReport = useRef(performance.now());
  const throughput = useRef(new ThroughputHistory());
  /** The last devices a snapshot carried: the Network panel asks for snapshots without them. */
  const lastDevices = useRef<DeviceSnapshot[]>([]);

  useEffect(() => {
    const offs = [
      client.on("phase", setPhase),
      client.on("download", setDownloads),
      client.on("snapshot", (s) => {
        lastReport.current = performance.now();
        throughput.current.feed(s);
        if (s.devices !== undefined) lastDevices.current = s.devices;
        setSnapshot(s);
      }),
      client.on("error", (stage, message) => setErrors((e) => [...e.slice(-4), `${stage}: ${message}`])),
      client.on("console", (port, bytes) => {
        if (port !== "uart") return;
        const advanced = tracker.current.feed(bytes);
        if (advanced !== undefined) setStage(advanced);
      }),
      client.on("restart", () => {
        tracker.current.restart();
        setStage("download");
      }),
      client.on("powerOff", (code) => {
        if (code !== 0) setErrors((e) => [...e.slice(-4), `the guest powered off with code ${code}`]);
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }, [client]);

  useEffect(() => {
    // main.tsx booted the initial configuration before the first render; boot again only on a change.
    if (client.bootedConfig !== config) client.boot(config);
    // Every listener is subscribed by now (children's effects and this component's earlier ones ran first):
    // let the messages held since the boot through.
    client.ready();
  }, [client, config]);

  // A worker that stops reporting while it should be running is stuck (an emulator bug, or a
  // slice that never ends): say so in the page rather than leaving a frozen terminal.
  const [stalled, setStalled] = useState(false);
  useEffect(() => {
    lastReport.current = performance.now();
    const timer = setInterval(() => {
      setStalled(live && phase === "running" && performance.now() - lastReport.current > STALL_MS);
    }, 1000);
    return () => clearInterval(timer);
  }, [phase, live]);

  // Stable, so the memoised controls and panels do not re-render with every snapshot.
  const changeConfig = useCallback(
    (next: MachineConfig): void => {
      setErrors([]);
      setDownloads([]);
      const search = configToSearch(next, relayDefault);
      const ui = live ? "" : `${search === "" ? "?" : "&"}ui=off`;
      window.history.replaceState(null, "", `${search}${ui}` || window.location.pathname);
      setConfig({ ...next });
    },
    [live, relayDefault],
  );

  // Dropping kernel / initrd / firmware files on the console boots them (by name: see imageRoleForName).
  const dropImages = async (e: DragEvent<HTMLElement>): Promise<void> => {
    e.preventDefault();
    const dropped = [...e.dataTransfer.files];
    if (dropped.length === 0) return;
    const files = { ...config.files };
    for (const f of dropped) files[imageRoleForName(f.name)] = new Uint8Array(await f.arrayBuffer());
    changeConfig({ ...config, files });
  };

  // Snapshots carry the devices only while a panel shows them (taking them costs the guest time).
  const needDevices = panelTab !== "network";
  useEffect(() => {
    if (live) client.setSnapshots(true, needDevices);
  }, [client, live, needDevices]);
  const devices = snapshot?.devices ?? lastDevices.current;
  return (
    <div className="app">
      <header className="top">
        <h1>
          vireo <small>RISC-V 64 · virt</small>
        </h1>
        <Controls client={client} phase={phase} config={config} onConfig={changeConfig} />
      </header>
      <div className="status-row">
        <BootProgress phase={phase} downloads={downloads} stage={stage} />
        <MachineStatus phase={phase} snapshot={snapshot} />
      </div>
      <main className="workspace">
        <section
          className="console-pane"
          aria-label="consoles"
          onDragOver={(e) => e.preventDefault()}
          onDrop={(e) => void dropImages(e)}
        >
          <Tabs label="console" tabs={CONSOLE_TABS} active={consoleTab} onSelect={setConsoleTab} />
          <div className="terminals">
            <TerminalView client={client} port="uart" visible={consoleTab === "uart"} label="serial console ttyS0" />
            <TerminalView client={client} port="hvc0" visible={consoleTab === "hvc0"} label="virtio console hvc0" />
          </div>
          {(errors.length > 0 || stalled) && (
            <div className="errors" role="alert">
              {errors.map((e, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the list only grows at the end
                <p key={i}>{e}</p>
              ))}
              {stalled && <p>The machine has not reported for {STALL_MS / 1000} s: it may be stuck. Try Reset.</p>}
              <button type="button" onClick={() => setErrors([])} aria-label="dismiss messages">
                ×
              </button>
            </div>
          )}
        </section>
        <aside className="side-pane" aria-label="inspector">
          <Tabs label="inspector" tabs={PANEL_TABS} active={panelTab} onSelect={setPanelTab} />
          <div className="panel" role="tabpanel" aria-label={panelTab}>
            {!live && (
              <p className="empty">
                Live panels are off (<code>?ui=off</code>): the machine runs without sending snapshots.
              </p>
            )}
            {live && panelTab === "devices" && <DevicesPanel devices={devices} />}
            {live && panelTab === "queues" && <QueuesPanel client={client} devices={devices} />}
            {live && panelTab === "network" && (
              <NetworkPanel
                client={client}
                network={snapshot?.network}
                config={config}
                onConfig={changeConfig}
                throughput={throughput.current}
                throughputVersion={throughput.current.fed}
              />
            )}
          </div>
        </aside>
      </main>
    </div>
  );
}
