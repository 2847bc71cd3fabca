// The one typed message union between the page and the machine's Web Worker (DESIGN.md §4, STYLE.md
// "The page and the worker"). Everything here is structured-clone safe: plain objects, typed arrays,
// bigints for feature words. The UI imports only this file (types) from the worker side; the worker
// fills the snapshot sections from whichever device and network modules exist.

import type { VirtioQueueSnapshot, VirtioTransportSnapshot } from "../../devices/virtio/transport-core.ts";
import type { RingPicture } from "./ring-view.ts";

export type { RingPicture };

export type VirtioTransportKind = "mmio" | "pci";
export type NetBackendKind = "stack" | "fetch" | "relay" | "tab" | "none";
export type ConsolePort = "uart" | "hvc0";

/** Where each boot image comes from: a URL the worker fetches (relative ones resolve against imageBase). */
export interface ImageSources {
  firmware: string;
  kernel: string;
  initrd: string;
}

/** The virtio devices whose transport can be picked one by one (blk: every disk). */
export const VIRTIO_DEVICE_ROLES = ["net", "blk", "console", "rng"] as const;
export type VirtioDeviceRole = (typeof VIRTIO_DEVICE_ROLES)[number];

/** Everything that picks a machine; the page keeps it in the URL query so a link reproduces it. */
export interface MachineConfig {
  /**
   * The image chooser's preset this configuration started from (`?image=debian`; src/ui/images.ts); the page's
   * to keep in the URL. The worker boots `images`, `disks` and `bootargs`, which the preset filled in.
   */
  image?: "debian";
  memMiB: number;
  transport: VirtioTransportKind;
  /** Per-device transports over `transport` (URL: transport.net=pci&transport.blk=mmio). */
  transports?: Partial<Record<VirtioDeviceRole, VirtioTransportKind>>;
  net: NetBackendKind;
  /** Kernel command line; undefined takes the manifest's bootargs. */
  bootargs: string | undefined;
  images: ImageSources;
  /** The relay's Wisp endpoint, for net=stack (ws://…/wisp/). */
  relayUrl: string;
  /** virtio-net offer changes, e.g. "-HOST_TSO4,-MRG_RXBUF" (parseNetFeatures syntax). */
  offloads?: string;
  mac?: string;
  /** The tab network's name for net=tab (BroadcastChannel `vireo-l2-<name>`); undefined means "default". */
  tabNetwork?: string;
  /** Absolute URL of the images folder (the manifest lives there). */
  imageBase: string;
  /** Images the person picked or dropped, by role; they win over `images`. */
  files?: Partial<Record<keyof ImageSources, Uint8Array>>;
  /** virtio-blk disks (vda, vdb, …) read from URLs with HTTP range requests; guest writes stay in memory. */
  disks?: string[];
  /** Disk images the person picked, after the URL ones: read in place (a File clones by reference). */
  diskFiles?: File[];
  /**
   * ?share=memory: a virtio-9p share tagged "host" held in the worker's memory (the image's init mounts it at
   * /mnt/host). Its files are not in a snapshot, so a save is refused while the guest has it mounted.
   */
  share?: "memory";
}

// ---- page → worker ----

export type ToWorker =
  | { type: "boot"; config: MachineConfig }
  | { type: "input"; port: ConsolePort; bytes: Uint8Array }
  /**
   * The size of the page's hvc0 terminal, now and at every refit: the guest's hvc0 follows it
   * (VIRTIO_CONSOLE_F_SIZE). Kept for later boots and restores. ttyS0 has no such channel.
   */
  | { type: "console-size"; cols: number; rows: number }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "reset" }
  | { type: "power-off" }
  /** Plug or pull the virtio-net cable: the guest sees carrier change. */
  | { type: "link"; up: boolean }
  /** Start or stop the packet capture; stopping answers with a "capture" message. */
  | { type: "capture"; on: boolean }
  /** A frozen picture of one virtqueue's rings (read from guest RAM once, on demand). */
  | { type: "ring"; device: string; queue: number }
  /**
   * Periodic snapshots on (the default) or off (`?ui=off`: the page renders no live panels);
   * `devices: false` leaves the virtio devices out while no panel shows them (default true).
   */
  | { type: "snapshots"; on: boolean; devices?: boolean }
  /** The hart's retired-instruction count now, answered with a "stats" message (benchmarks). */
  | { type: "stats" }
  /**
   * Save the running machine as a `.vireo` file (issue 15): the worker pauses between slices, saves, answers
   * with "saved" (the bytes transferred) or "save-failed", and runs on. `id` pairs the answer with the ask.
   */
  | { type: "save"; id: number }
  /**
   * Start from a snapshot instead of booting: its bytes, or a URL the worker downloads (with "download"
   * progress). The snapshot says the machine (RAM, devices, transports, NIC offer and MAC, disks); `config`
   * is the page's configuration now, whose network backend, relay and picked disk files are used. The
   * running machine, if any, runs on until the new one is restored; a refused snapshot leaves it running.
   */
  | { type: "restore"; source: { bytes: Uint8Array; name: string } | { url: string }; config: MachineConfig }
  /** ?share=memory: put files at the share's root (replacing same-named ones); answered with "share-files". */
  | { type: "share-put"; files: { name: string; bytes: Uint8Array }[] }
  /** The share's files, answered with "share-files". */
  | { type: "share-list" }
  /** One file of the share, answered with "share-file". */
  | { type: "share-get"; path: string };

// ---- worker → page ----

/** The worker's life cycle as the page shows it. */
export type MachinePhase = "idle" | "downloading" | "running" | "paused" | "off" | "error";

export interface DownloadProgress {
  file: string;
  loaded: number;
  /** Bytes expected (manifest size or Content-Length); 0 when unknown. */
  total: number;
}

export type ErrorStage = "download" | "boot" | "run" | "restore";

export type FromWorker =
  | { type: "phase"; phase: MachinePhase }
  | { type: "download"; files: DownloadProgress[] }
  | { type: "console"; port: ConsolePort; bytes: Uint8Array }
  | { type: "snapshot"; snapshot: MachineSnapshot }
  /** The guest powered itself off (sifive-test), with its exit code. */
  | { type: "power-off"; exitCode: number }
  /** The guest rebooted; the console starts over. */
  | { type: "reboot" }
  | { type: "error"; stage: ErrorStage; message: string }
  /** Something the person should know that is not an error (a fallback taken, a setting ignored). */
  | { type: "notice"; message: string }
  /** A finished capture as a pcapng file. */
  | { type: "capture"; pcapng: Uint8Array }
  | { type: "ring"; device: string; queue: number; picture: RingPicture | undefined; note: string | undefined }
  | { type: "stats"; stats: HartStats }
  | { type: "saved"; id: number; bytes: Uint8Array }
  | { type: "save-failed"; id: number; message: string }
  /**
   * A snapshot was restored and runs: the machine's configuration as rebuilt from it, and when it was saved
   * (ms since the epoch; undefined when the file does not say, e.g. one the command line wrote).
   */
  | { type: "restored"; config: MachineConfig; savedAt: number | undefined }
  /** The in-page share's regular files (paths from /mnt/host), after share-put or share-list. */
  | { type: "share-files"; files: { path: string; size: number }[] }
  /** A file of the share (share-get), or why it could not be read. */
  | { type: "share-file"; path: string; bytes: Uint8Array | undefined; message: string | undefined };

/** The answer to a "stats" request: instret at a moment of the worker's clock. */
export interface HartStats {
  /** Instructions retired since the machine was built; 0 before a machine exists. */
  instret: number;
  /** performance.now() in the worker when read. */
  takenMs: number;
  /** Worker time spent taking and posting snapshots since the worker started (their cost to the guest). */
  snapshotMs: number;
  /** Snapshots posted since the worker started. */
  snapshots: number;
  /** The machine's configured guest RAM in bytes; 0 before a machine exists. */
  guestRamBytes: number;
  /**
   * The byteLength of the WebAssembly.Memory holding guest RAM and the hart's state after it (all of it,
   * touched or not); 0 before a machine exists.
   */
  wasmMemoryBytes: number;
  /** Whether the hart compiles hot guest code to WebAssembly (the block compiler is on). */
  jit: boolean;
}

// ---- snapshots (≥ 4 Hz while running; cheap: counters copied, nothing read from guest RAM) ----

export interface HartSnapshot {
  /** Instructions retired since the machine was built. */
  instret: number;
  /** Million instructions per second of host time over the last interval. */
  mips: number;
  /** Share of the last interval the hart slept in WFI (0…1). */
  idle: number;
  pc: string;
  /** 0 U, 1 S, 3 M. */
  privilege: number;
  waiting: boolean;
}

/** Where a virtio device sits on the board. */
export type DeviceLocation =
  | { kind: "mmio"; base: number; size: number; irq: number }
  | { kind: "pci"; bdf: string; intxIrq: number; bars: { bar: number; kind: string; base: number; size: number }[] };

/**
 * A virtqueue as the transports report it, plus the ring addresses and event-index values when the
 * virtio module exposes them (optional so older device modules still fill the rest).
 */
export type QueueSnapshot = VirtioQueueSnapshot & {
  descAddr?: number;
  driverAddr?: number;
  deviceAddr?: number;
  availIdx?: number;
  usedEvent?: number;
  availEvent?: number;
};

export type DeviceSnapshot = Omit<VirtioTransportSnapshot, "queues"> & {
  location: DeviceLocation | undefined;
  queues: QueueSnapshot[];
};

/** Counters of the network path; every field optional until the net modules fill it. */
export interface NetworkSnapshot {
  backend: NetBackendKind;
  /** e.g. "wisp ws://127.0.0.1:8080/wisp/" or "fetch"; a note when the relay did not answer. */
  uplink: string | undefined;
  note: string | undefined;
  linkUp: boolean | undefined;
  mac: string | undefined;
  guestIp: string | undefined;
  /** A packet capture is running. */
  capturing: boolean;
  /**
   * The relay's connection, for the backends that go through one (net=stack over Wisp, net=relay): up,
   * connecting (the first time), or down (it dropped or never came; reconnecting with backoff). `detail` says why.
   */
  relay?: { state: "up" | "connecting" | "down"; detail: string | undefined };
  counters: Record<string, number>;
}

/** A disk read from a URL: what its range requests have fetched so far (devices/virtio-blk/http-block-backend.ts). */
export interface DiskFetchSnapshot {
  /** virtio-blk0, … */
  name: string;
  url: string;
  /** The image's size in bytes. */
  size: number;
  /** Bytes the range requests brought (a chunk evicted from the cache and read again counts twice). */
  fetched: number;
  requests: number;
  /** Bytes read from the page's lasting cache of fetched ranges instead (src/worker/disk-cache.ts). */
  stored: number;
}

export interface MachineSnapshot {
  /** performance.now() in the worker when taken. */
  takenMs: number;
  phase: MachinePhase;
  memMiB: number;
  transport: VirtioTransportKind;
  hart: HartSnapshot;
  /** Undefined when the page asked for snapshots without them (no panel shows devices). */
  devices: DeviceSnapshot[] | undefined;
  network: NetworkSnapshot | undefined;
  /** The disks read from URLs (none: empty). */
  disks: DiskFetchSnapshot[];
}

/** Boot images by role, the file names in public/images. */
export const DEFAULT_IMAGES: ImageSources = {
  firmware: "fw_dynamic.bin",
  kernel: "Image",
  initrd: "initramfs.cpio",
};

export const DEFAULT_MEM_MIB = 256;
export const MEM_CHOICES_MIB = [64, 128, 256, 512, 1024] as const;
