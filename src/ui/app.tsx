// The page: controls and hart status on top, the boot progress bar, the guest consoles on the left
// and the Devices / Queues / Network panels on the right (and Files, the in-page 9p share, with ?share=memory).
// All machine state arrives from the worker through MachineClient; this component only keeps what React must render.

import { type DragEvent, useCallback, useEffect, useRef, useState } from "react";
import type {
  DeviceSnapshot,
  DownloadProgress,
  MachineConfig,
  MachinePhase,
  MachineSnapshot,
} from "../worker/protocol.ts";
import { configToSearch, imageRoleForName, isSnapshotFile, snapshotFileName } from "./config.ts";
import { download } from "./download.ts";
import { BootProgress } from "./features/console/boot-progress.tsx";
import { type BootStage, BootStageTracker } from "./features/console/boot-stages.ts";
import { BootWatchdog, watchdogSeconds } from "./features/console/boot-watchdog.ts";
import { LEAVE_HINT, TerminalView } from "./features/console/terminal-view.tsx";
import { Controls } from "./features/controls/controls.tsx";
import { MachineStatus } from "./features/controls/machine-status.tsx";
import { DevicesPanel } from "./features/devices/devices-panel.tsx";
import { NetworkPanel } from "./features/network/network-panel.tsx";
import { ThroughputHistory } from "./features/network/throughput.ts";
import { QueuesPanel } from "./features/queues/queues-panel.tsx";
import { SharePanel } from "./features/share/share-panel.tsx";
import { machineState, runButtons, stateLabel } from "./features/status/machine-state.ts";
import { WelcomeNote } from "./features/welcome/welcome-note.tsx";
import { forget, type KeptMeta, keep, keepWanted, keptSnapshot, setKeepWanted } from "./keep.ts";
import type { MachineClient } from "./machine-client.ts";
import { Tabs, tabId, tabPanelId, tabPanelProps } from "./tabs.tsx";

interface Props {
  client: MachineClient;
  initialConfig: MachineConfig;
  warnings: string[];
  relayDefault: string;
  /** false for `?ui=off`: no snapshots from the worker, no live panels (see parseUiLive). */
  live: boolean;
  /** A machine kept by "keep this machine" on an earlier visit: main.tsx did not boot, the person chooses. */
  kept?: KeptMeta;
  /** The page started by restoring `?snapshot=URL` (main.tsx asked the worker). */
  restoring?: boolean;
}

/** While "keep this machine" is on: a save this long after the last keystroke, and at least this often. */
const KEEP_AFTER_INPUT_MS = 1500;
const KEEP_EVERY_MS = 30_000;
/** The screen-reader switch, remembered in this browser. */
const SCREEN_READER_KEY = "vireo.screenReader";

function storedFlag(key: string): boolean {
  try {
    return localStorage.getItem(key) === "1";
  } catch {
    return false;
  }
}

function clock(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

type ConsoleTab = "uart" | "hvc0";
/** Snapshots come four times a second; this long without one means the worker is stuck. */
const STALL_MS = 5000;
type PanelTab = "devices" | "queues" | "network" | "files";
/** At 700 px and less the console and the inspector take turns on the whole width (app.css). */
type NarrowView = "console" | "inspector";
const VIEW_TABS: { id: NarrowView; label: string }[] = [
  { id: "console", label: "Console" },
  { id: "inspector", label: "Inspector" },
];
const CONSOLE_TABS: { id: ConsoleTab; label: string }[] = [
  { id: "uart", label: "ttyS0 (UART)" },
  { id: "hvc0", label: "hvc0 (virtio-console)" },
];
const PANEL_TABS: { id: PanelTab; label: string }[] = [
  { id: "devices", label: "Devices" },
  { id: "queues", label: "Queues" },
  { id: "network", label: "Network" },
];
/** With ?share=memory, the share's files too. */
const PANEL_TABS_SHARE: { id: PanelTab; label: string }[] = [...PANEL_TABS, { id: "files", label: "Files" }];

export function App({ client, initialConfig, warnings, relayDefault, live, kept, restoring }: Props) {
  const [config, setConfig] = useState(initialConfig);
  const [phase, setPhase] = useState<MachinePhase>("idle");
  const [downloads, setDownloads] = useState<DownloadProgress[]>([]);
  const [stage, setStage] = useState<BootStage>("download");
  const [snapshot, setSnapshot] = useState<MachineSnapshot | undefined>(undefined);
  const [errors, setErrors] = useState<string[]>(warnings);
  const [consoleTab, setConsoleTab] = useState<ConsoleTab>("uart");
  const [panelTab, setPanelTab] = useState<PanelTab>("devices");
  const [view, setView] = useState<NarrowView>("console");
  const [screenReader, setScreenReader] = useState(() => storedFlag(SCREEN_READER_KEY));
  const changeScreenReader = (on: boolean): void => {
    setScreenReader(on);
    try {
      localStorage.setItem(SCREEN_READER_KEY, on ? "1" : "0");
    } catch {
      // Storage refused (a private window's policy): the switch holds for this visit only.
    }
  };
  const tracker = useRef(new BootStageTracker());
  const watchdog = useRef<BootWatchdog | undefined>(undefined);
  watchdog.current ??= new BootWatchdog(watchdogSeconds(window.location.search) * 1000);
  const lastReport = useRef(performance.now());
  const throughput = useRef(new ThroughputHistory());
  /** The last devices a snapshot carried: the Network panel asks for snapshots without them. */
  const lastDevices = useRef<DeviceSnapshot[]>([]);
  /** A kept machine the person may resume (until they choose, or the machine starts otherwise). */
  const [offer, setOffer] = useState<KeptMeta | undefined>(kept);
  /** Restoring a snapshot: the progress bar speaks of it. */
  const [restoringNow, setRestoringNow] = useState(restoring === true);
  /** When the running machine's snapshot was saved (null: it booted; undefined: the snapshot does not say). */
  const [restoredFrom, setRestoredFrom] = useState<number | undefined | null>(null);
  const [keepOn, setKeepOn] = useState(() => keepWanted());
  const [keptAt, setKeptAt] = useState<number | undefined>(kept?.savedAt);
  const [keepNote, setKeepNote] = useState<string | undefined>(undefined);
  /** The last failure's message and the guest's power-off code, since the machine last started. */
  const [failure, setFailure] = useState<string | undefined>(undefined);
  const [exitCode, setExitCode] = useState<number | undefined>(undefined);
  const configRef = useRef(config);
  configRef.current = config;

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
      client.on("error", (stage, message) => {
        if (stage === "restore" || stage === "download") setRestoringNow(false);
        setErrors((e) => [...e.slice(-4), `${stage}: ${message}`]);
        setFailure(`${stage}: ${message}`);
      }),
      client.on("console", (port, bytes) => {
        watchdog.current?.output(performance.now());
        if (port !== "uart") return;
        const advanced = tracker.current.feed(bytes);
        if (advanced !== undefined) setStage(advanced);
      }),
      client.on("restart", (why) => {
        watchdog.current?.arm(performance.now());
        setSilent(undefined);
        setFailure(undefined);
        setExitCode(undefined);
        if (why === "restore") {
          // The restored guest is where it was saved (at its prompt, most likely): no boot stages to watch.
          tracker.current.restored();
          setStage("prompt");
          return;
        }
        tracker.current.restart();
        setStage("download");
        setRestoredFrom(null);
      }),
      client.on("restored", (restoredConfig, savedAt) => {
        setRestoringNow(false);
        setOffer(undefined);
        setRestoredFrom(savedAt);
        setConfig(restoredConfig);
        // The address bar shows the restored machine's configuration, except a ?snapshot= link, which stays.
        if (!new URLSearchParams(window.location.search).has("snapshot")) {
          const search = configToSearch(restoredConfig, relayDefault);
          const ui = live ? "" : `${search === "" ? "?" : "&"}ui=off`;
          window.history.replaceState(null, "", `${search}${ui}` || window.location.pathname);
        }
      }),
      client.on("powerOff", (code) => {
        setExitCode(code);
        if (code !== 0) setErrors((e) => [...e.slice(-4), `the guest powered off with code ${code}`]);
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }, [client, live, relayDefault]);

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

  // The boot's watchdog: silence on the consoles before the prompt means a guest that died early.
  const [silent, setSilent] = useState<string | undefined>(undefined);
  useEffect(() => {
    const w = watchdog.current;
    if (w === undefined) return;
    if (phase !== "running") {
      w.disarm();
      setSilent(undefined);
      return;
    }
    w.arm(performance.now());
    const timer = setInterval(() => setSilent(w.check(performance.now(), tracker.current.stage)), 1000);
    return () => clearInterval(timer);
  }, [phase]);

  // Stable, so the memoised controls and panels do not re-render with every snapshot.
  const changeConfig = useCallback(
    (next: MachineConfig): void => {
      setErrors([]);
      setDownloads([]);
      setOffer(undefined);
      const search = configToSearch(next, relayDefault);
      const ui = live ? "" : `${search === "" ? "?" : "&"}ui=off`;
      window.history.replaceState(null, "", `${search}${ui}` || window.location.pathname);
      setConfig({ ...next });
    },
    [live, relayDefault],
  );

  // Snapshots: Save downloads one; Restore (file picker, drop) starts from one instead of booting.
  const saveToFile = useCallback(async (): Promise<void> => {
    try {
      download(await client.save(), snapshotFileName(new Date()));
    } catch (e) {
      setErrors((x) => [...x.slice(-4), `save: ${(e as Error).message}`]);
    }
  }, [client]);
  const restoreBytes = useCallback(
    (bytes: Uint8Array, name: string): void => {
      setErrors([]);
      setDownloads([]);
      setOffer(undefined);
      setRestoringNow(true);
      client.restore({ bytes, name }, configRef.current);
    },
    [client],
  );
  const restoreFile = useCallback(
    async (file: File): Promise<void> => restoreBytes(new Uint8Array(await file.arrayBuffer()), file.name),
    [restoreBytes],
  );

  // "keep this machine": the last state in IndexedDB, saved soon after typing, every KEEP_EVERY_MS and when
  // the tab is hidden or left (a save is async: one that a closing tab cuts short keeps the previous state).
  const keeping = useRef(false);
  const keepNow = useCallback(async (): Promise<void> => {
    if (keeping.current) return;
    keeping.current = true;
    try {
      const bytes = await client.save();
      const at = Date.now();
      await keep(bytes, at);
      setKeptAt(at);
      setKeepNote(undefined);
    } catch (e) {
      setKeepNote(`not kept: ${(e as Error).message}`);
    } finally {
      keeping.current = false;
    }
  }, [client]);
  const alive = phase === "running" || phase === "paused";
  useEffect(() => {
    if (!keepOn || !alive) return;
    void keepNow();
    const every = setInterval(() => void keepNow(), KEEP_EVERY_MS);
    let soon: ReturnType<typeof setTimeout> | undefined;
    const offTyped = client.on("typed", () => {
      clearTimeout(soon);
      soon = setTimeout(() => void keepNow(), KEEP_AFTER_INPUT_MS);
    });
    const hidden = (): void => {
      if (document.visibilityState === "hidden") void keepNow();
    };
    const leaving = (): void => void keepNow();
    document.addEventListener("visibilitychange", hidden);
    window.addEventListener("pagehide", leaving);
    return () => {
      clearInterval(every);
      clearTimeout(soon);
      offTyped();
      document.removeEventListener("visibilitychange", hidden);
      window.removeEventListener("pagehide", leaving);
    };
  }, [client, keepOn, alive, keepNow]);
  const changeKeep = useCallback((on: boolean): void => {
    setKeepWanted(on);
    setKeepOn(on);
    if (!on) {
      setKeptAt(undefined);
      setKeepNote(undefined);
      void forget().catch(() => {});
    }
  }, []);
  const resumeKept = async (): Promise<void> => {
    setOffer(undefined);
    try {
      const bytes = await keptSnapshot();
      if (bytes === undefined) throw new Error("the kept machine is gone from this browser's storage");
      restoreBytes(bytes, "the kept machine");
    } catch (e) {
      setErrors((x) => [...x.slice(-4), `restore: ${(e as Error).message}`]);
      client.boot(configRef.current);
    }
  };
  const startFresh = (): void => {
    setOffer(undefined);
    client.boot(configRef.current);
  };

  // Dropping kernel / initrd / firmware files on the console boots them (by name: see imageRoleForName); a
  // dropped snapshot (.vireo) is restored.
  const dropImages = async (e: DragEvent<HTMLElement>): Promise<void> => {
    e.preventDefault();
    const dropped = [...e.dataTransfer.files];
    if (dropped.length === 0) return;
    for (const f of dropped) {
      if (isSnapshotFile(f.name, new Uint8Array(await f.slice(0, 8).arrayBuffer()))) {
        await restoreFile(f);
        return;
      }
    }
    // With the in-page share on, dropped files go to /mnt/host (the Files panel says so).
    if (config.share === "memory") {
      await client.sharePut(dropped);
      return;
    }
    const files = { ...config.files };
    for (const f of dropped) files[imageRoleForName(f.name)] = new Uint8Array(await f.arrayBuffer());
    changeConfig({ ...config, files });
  };

  // Snapshots carry the devices only while a panel shows them (taking them costs the guest time).
  const needDevices = panelTab === "devices" || panelTab === "queues";
  useEffect(() => {
    if (live) client.setSnapshots(true, needDevices);
  }, [client, live, needDevices]);
  const devices = snapshot?.devices ?? lastDevices.current;
  const state = machineState({
    phase,
    downloads,
    stage,
    restoring: restoringNow,
    restoredFrom,
    choosing: offer !== undefined && phase === "idle",
    failure,
    exitCode,
  });
  const label = stateLabel(state);
  useEffect(() => {
    document.title = `vireo · ${label}`;
  }, [label]);
  return (
    <div className="app">
      <header className="top">
        <h1>
          vireo <small>RISC-V 64 · virt</small>
        </h1>
        <Controls
          client={client}
          phase={phase}
          buttons={runButtons(state)}
          config={config}
          onConfig={changeConfig}
          onSave={saveToFile}
          onRestore={restoreFile}
          keep={keepOn}
          onKeep={changeKeep}
          keptAt={keptAt}
          keepNote={keepNote}
        />
      </header>
      <section className="status-row" aria-label="machine state">
        <BootProgress state={state} stage={stage} />
        <MachineStatus state={state} phase={phase} snapshot={snapshot} />
      </section>
      <WelcomeNote />
      {/* Shown only on narrow screens (app.css). */}
      <nav className="view-switch" aria-label="view">
        <Tabs label="view" tabs={VIEW_TABS} active={view} onSelect={setView} />
      </nav>
      <main className="workspace" id={tabPanelId("view")} data-view={view}>
        <section
          className="console-pane"
          aria-label="consoles"
          onDragOver={(e) => e.preventDefault()}
          onDrop={(e) => void dropImages(e)}
        >
          <div className="console-bar">
            <Tabs label="console" tabs={CONSOLE_TABS} active={consoleTab} onSelect={setConsoleTab} />
            <label className="screen-reader-toggle" title="xterm's screen-reader mode: the terminal's rows as text">
              <input type="checkbox" checked={screenReader} onChange={(e) => changeScreenReader(e.target.checked)} />
              screen reader
            </label>
          </div>
          {offer !== undefined && phase === "idle" && (
            <fieldset className="resume-offer" aria-label="kept machine">
              <p>This tab kept a machine ({(offer.bytes / 1048576).toFixed(1)} MiB snapshot).</p>
              {/* biome-ignore lint/a11y/noAutofocus: the page waits for this choice; the keyboard starts here */}
              <button type="button" autoFocus onClick={() => void resumeKept()}>
                Resume saved machine from {clock(offer.savedAt)}
              </button>
              <button type="button" onClick={startFresh}>
                Start fresh
              </button>
            </fieldset>
          )}
          {/* No tabIndex: the terminal inside takes the focus. */}
          <div
            className="terminals"
            id={tabPanelId("console")}
            role="tabpanel"
            aria-labelledby={tabId("console", consoleTab)}
          >
            <TerminalView
              client={client}
              port="uart"
              visible={consoleTab === "uart"}
              label="serial console ttyS0"
              screenReader={screenReader}
              describedBy="terminal-hint"
            />
            <TerminalView
              client={client}
              port="hvc0"
              visible={consoleTab === "hvc0"}
              label="virtio console hvc0"
              screenReader={screenReader}
              describedBy="terminal-hint"
            />
          </div>
          <p className="terminal-hint" id="terminal-hint">
            {LEAVE_HINT}
          </p>
          {(errors.length > 0 || stalled || silent !== undefined) && (
            <div className="errors" role="alert">
              {errors.map((e, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the list only grows at the end
                <p key={i}>{e}</p>
              ))}
              {stalled && <p>The machine has not reported for {STALL_MS / 1000} s: it may be stuck. Try Reset.</p>}
              {silent !== undefined && (
                <p data-testid="watchdog">
                  {silent}{" "}
                  <button type="button" className="inline-action" onClick={() => client.reset()}>
                    Reset
                  </button>
                </p>
              )}
              <button type="button" onClick={() => setErrors([])} aria-label="dismiss messages">
                ×
              </button>
            </div>
          )}
        </section>
        <aside className="side-pane" aria-label="inspector">
          <Tabs
            label="inspector"
            tabs={config.share === "memory" ? PANEL_TABS_SHARE : PANEL_TABS}
            active={panelTab}
            onSelect={setPanelTab}
          />
          <div className="panel" {...tabPanelProps("inspector", panelTab)}>
            {!live && (
              <p className="empty">
                Live panels are off (<code>?ui=off</code>): the machine runs without sending snapshots.
              </p>
            )}
            {live && panelTab === "devices" && <DevicesPanel devices={devices} />}
            {live && panelTab === "queues" && <QueuesPanel client={client} devices={devices} />}
            {panelTab === "files" && config.share === "memory" && <SharePanel client={client} />}
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
