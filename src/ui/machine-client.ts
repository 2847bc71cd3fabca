// The page's handle on the machine worker: sends typed commands, and fans the worker's messages out
// to subscribers. Console bytes go straight to the terminals (never through React state, which would
// re-render per chunk); snapshots and phase changes go to React at their own pace.

import type {
  ConsolePort,
  DownloadProgress,
  FromWorker,
  HartStats,
  MachineConfig,
  MachinePhase,
  MachineSnapshot,
  RingPicture,
  ToWorker,
} from "../worker/protocol.ts";

export interface ClientEvents {
  console: (port: ConsolePort, bytes: Uint8Array) => void;
  phase: (phase: MachinePhase) => void;
  download: (files: DownloadProgress[]) => void;
  snapshot: (snapshot: MachineSnapshot) => void;
  error: (stage: string, message: string) => void;
  /** A fresh power cycle: reset, reboot by the guest, a new boot, or a machine restored from a snapshot. */
  restart: (why: "boot" | "reset" | "reboot" | "restore") => void;
  /** The person typed or pasted into a console (the page's keep-this-machine saves soon after). */
  typed: () => void;
  /** A snapshot was restored: the machine as rebuilt from it (bootedConfig is already this object). */
  restored: (config: MachineConfig, savedAt: number | undefined) => void;
  powerOff: (exitCode: number) => void;
  capture: (pcapng: Uint8Array) => void;
  ring: (device: string, queue: number, picture: RingPicture | undefined, note: string | undefined) => void;
  /** The in-page share's files (after an upload or a list request). */
  shareFiles: (files: { path: string; size: number }[]) => void;
}

type Listeners = { [K in keyof ClientEvents]: Set<ClientEvents[K]> };

export class MachineClient {
  private readonly worker: Worker;
  private readonly listeners: Listeners = {
    console: new Set(),
    phase: new Set(),
    download: new Set(),
    snapshot: new Set(),
    error: new Set(),
    restart: new Set(),
    powerOff: new Set(),
    ring: new Set(),
    capture: new Set(),
    restored: new Set(),
    typed: new Set(),
    shareFiles: new Set(),
  };
  private readonly shareGets = new Map<string, ((r: { bytes?: Uint8Array; message?: string }) => void)[]>();
  private nextSaveId = 1;
  private readonly saves = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  private readonly encoder = new TextEncoder();
  /**
   * The page boots before React has rendered (main.tsx): the worker's first messages (phase, progress,
   * console bytes, notices) are held here until the app has subscribed and calls ready(), then delivered in
   * order — none is lost to a listener that did not exist yet.
   */
  private held: FromWorker[] | undefined = [];
  private readonly statsWaiting: ((stats: HartStats) => void)[] = [];

  constructor() {
    this.worker = new Worker(new URL("../worker/machine-worker.ts", import.meta.url), {
      type: "module",
      name: "vireo-machine",
    });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (this.held !== undefined) this.held.push(e.data);
      else this.dispatch(e.data);
    };
    this.worker.onerror = (e) => {
      for (const l of this.listeners.error) l("worker", e.message || "the machine worker failed to start");
    };
  }

  /** The app has subscribed: deliver what was held, and everything from now on as it comes. */
  ready(): void {
    const held = this.held;
    this.held = undefined;
    for (const msg of held ?? []) this.dispatch(msg);
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    (this.listeners[event] as Set<ClientEvents[K]>).add(listener);
    return () => {
      (this.listeners[event] as Set<ClientEvents[K]>).delete(listener);
    };
  }

  /** The configuration of the last boot asked for (the page boots before React renders). */
  bootedConfig: MachineConfig | undefined;

  boot(config: MachineConfig): void {
    this.bootedConfig = config;
    for (const l of this.listeners.restart) l("boot");
    const transfer: Transferable[] = [];
    this.send({ type: "boot", config }, transfer);
  }

  /**
   * Starts from a snapshot (its bytes or a URL) instead of booting; `config` is the page's configuration now
   * (its network backend is used). Until the worker answers "restored", the running machine (if any) stays.
   */
  restore(source: { bytes: Uint8Array; name: string } | { url: string }, config: MachineConfig): void {
    // The page must not boot `config` meanwhile (app.tsx boots whatever differs from bootedConfig).
    this.bootedConfig = config;
    this.send({ type: "restore", source, config }, "bytes" in source ? [source.bytes.buffer] : []);
  }

  /** Saves the running machine; resolves with the `.vireo` file, rejects with the reason it could not. */
  save(): Promise<Uint8Array> {
    const id = this.nextSaveId++;
    return new Promise((resolve, reject) => {
      this.saves.set(id, { resolve, reject });
      this.send({ type: "save", id });
    });
  }

  input(port: ConsolePort, data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? this.encoder.encode(data) : data;
    this.send({ type: "input", port, bytes });
    for (const l of this.listeners.typed) l();
  }

  /** The hvc0 terminal's size (after each fit): the guest's hvc0 tty gets it. */
  consoleSize(cols: number, rows: number): void {
    this.send({ type: "console-size", cols, rows });
  }
  pause(): void {
    this.send({ type: "pause" });
  }
  resume(): void {
    this.send({ type: "resume" });
  }
  reset(): void {
    for (const l of this.listeners.restart) l("reset");
    this.send({ type: "reset" });
  }
  capture(on: boolean): void {
    this.send({ type: "capture", on });
  }
  setLink(up: boolean): void {
    this.send({ type: "link", up });
  }
  powerOff(): void {
    this.send({ type: "power-off" });
  }

  /** Uploads files to the in-page share's root (?share=memory); the new listing arrives as "shareFiles". */
  async sharePut(files: readonly File[]): Promise<void> {
    const read = await Promise.all(
      files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })),
    );
    this.send(
      { type: "share-put", files: read },
      read.map((f) => f.bytes.buffer),
    );
  }

  /** Asks for the share's listing; it arrives as a "shareFiles" event. */
  shareList(): void {
    this.send({ type: "share-list" });
  }

  /** One file of the share; rejects with the reason it could not be read. */
  shareGet(path: string): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const waiting = this.shareGets.get(path) ?? [];
      waiting.push((r) => (r.bytes !== undefined ? resolve(r.bytes) : reject(new Error(r.message ?? "unreadable"))));
      this.shareGets.set(path, waiting);
      this.send({ type: "share-get", path });
    });
  }

  /** Asks for a picture of one queue's rings; it arrives as a "ring" event. */
  requestRing(device: string, queue: number): void {
    this.send({ type: "ring", device, queue });
  }

  /**
   * Periodic snapshots on or off (`?ui=off` turns them off before the first boot), with or without
   * the virtio devices (only the Devices and Queues panels show them). Turning them on sends one now.
   */
  setSnapshots(on: boolean, devices = true): void {
    this.send({ type: "snapshots", on, devices });
  }

  /** The hart's instret now, read in the worker between slices (for benchmarks; needs no snapshots). */
  stats(): Promise<HartStats> {
    return new Promise((resolve) => {
      this.statsWaiting.push(resolve);
      this.send({ type: "stats" });
    });
  }

  dispose(): void {
    this.worker.terminate();
  }

  private send(msg: ToWorker, transfer: Transferable[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  private dispatch(msg: FromWorker): void {
    switch (msg.type) {
      case "console":
        for (const l of this.listeners.console) l(msg.port, msg.bytes);
        return;
      case "phase":
        for (const l of this.listeners.phase) l(msg.phase);
        return;
      case "download":
        for (const l of this.listeners.download) l(msg.files);
        return;
      case "snapshot":
        for (const l of this.listeners.snapshot) l(msg.snapshot);
        return;
      case "error":
        for (const l of this.listeners.error) l(msg.stage, msg.message);
        return;
      case "notice":
        for (const l of this.listeners.error) l("note", msg.message);
        return;
      case "reboot":
        for (const l of this.listeners.restart) l("reboot");
        return;
      case "power-off":
        for (const l of this.listeners.powerOff) l(msg.exitCode);
        return;
      case "capture":
        for (const l of this.listeners.capture) l(msg.pcapng);
        return;
      case "ring":
        for (const l of this.listeners.ring) l(msg.device, msg.queue, msg.picture, msg.note);
        return;
      case "stats":
        this.statsWaiting.shift()?.(msg.stats);
        return;
      case "saved":
        this.saves.get(msg.id)?.resolve(msg.bytes);
        this.saves.delete(msg.id);
        return;
      case "save-failed":
        this.saves.get(msg.id)?.reject(new Error(msg.message));
        this.saves.delete(msg.id);
        return;
      case "share-files":
        for (const l of this.listeners.shareFiles) l(msg.files);
        return;
      case "share-file": {
        const waiting = this.shareGets.get(msg.path);
        const next = waiting?.shift();
        if (waiting?.length === 0) this.shareGets.delete(msg.path);
        next?.({ bytes: msg.bytes, message: msg.message });
        return;
      }
      case "restored":
        this.bootedConfig = msg.config;
        for (const l of this.listeners.restart) l("restore");
        for (const l of this.listeners.restored) l(msg.config, msg.savedAt);
        return;
    }
  }
}
