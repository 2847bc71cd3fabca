// The machine's dedicated Web Worker (DESIGN.md §4): fetches the boot images with progress and compiles
// the core while the machine's code loads (machine-parts.ts, its own chunk), builds the VirtMachine,
// runs it in time slices (run-loop.ts), batches console output to the page once per slice, and posts
// a snapshot four times a second. The page only renders; it talks to this file
// through the typed messages of protocol.ts.

import coreUrl from "../../build/core.wasm?url";
import type { MemoryShare } from "../../devices/virtio-9p/memory-share.ts";
import type { VirtMachine } from "../machine/virt.ts";
import type { PageDisk } from "./disks.ts";
import { fetchFile, fetchImages, fetchManifest, ImageFetchError, type ImageManifest } from "./image-fetch.ts";
import type { NetSetup } from "./network.ts";
import { pageHostRecord, planRestore } from "./page-snapshot.ts";
import type {
  ConsolePort,
  ErrorStage,
  FromWorker,
  MachineConfig,
  MachinePhase,
  QueueSnapshot,
  ToWorker,
} from "./protocol.ts";
import { RunLoop } from "./run-loop.ts";
import type { SnapshotTaker } from "./snapshot.ts";

/**
 * The machine's code (the board, devices, network stack: most of this worker's JavaScript), loaded in its
 * own chunk from the start, so that the first boot's downloads and the core's compile begin before it has
 * loaded and run instead of after.
 */
type Parts = typeof import("./machine-parts.ts");
const partsReady: Promise<Parts> = import("./machine-parts.ts");
partsReady.catch(() => {}); // a boot awaits it and reports the failure

/**
 * ≥ 4 Hz for the panels (issue 8) with a little margin for a late timer, and no more: every snapshot
 * costs the guest its taking and posting here, and the page's re-render beside it.
 */
const SNAPSHOT_INTERVAL_MS = 240;

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

/** One booted machine and everything that lives exactly as long as it. */
interface Session {
  parts: Parts;
  machine: VirtMachine;
  loop: RunLoop;
  snapshots: SnapshotTaker;
  timer: ReturnType<typeof setInterval>;
  config: MachineConfig;
  net: NetSetup;
}

let session: Session | undefined;
/** Off for a page that renders no live panels (`?ui=off`): no periodic or phase snapshots at all. */
let snapshotsOn = true;
/** Whether snapshots carry the virtio devices (the Devices and Queues panels need them). */
let snapshotDevices = true;
let phase: MachinePhase = "idle";
/** Bumped by every boot, so a download that finishes after a newer boot began is thrown away. */
let generation = 0;
const pending: Record<ConsolePort, Uint8Array[]> = { uart: [], hvc0: [] };
/** The page's hvc0 terminal size (its last "console-size"); every machine's hvc0 starts with it. */
let hvcSize: { cols: number; rows: number } | undefined;

/** The compiled core (build/core.wasm), kept across boots: compiling is the costly part. */
let coreModule: Promise<WebAssembly.Module> | undefined;

/**
 * Fetches and compiles the WebAssembly core (streaming, so compiling overlaps the download). The core is the
 * only hart: a host that cannot compile it (no WebAssembly, a CSP without 'wasm-unsafe-eval', a module the
 * engine rejects) rejects with a message for the page that says so and why.
 */
function compileCore(): Promise<WebAssembly.Module> {
  if (coreModule === undefined) {
    coreModule = (async () => {
      if (typeof WebAssembly !== "object") {
        throw new Error("this browser has no WebAssembly, and the machine's hart is a WebAssembly module");
      }
      const res = await fetch(coreUrl);
      if (!res.ok) throw new Error(`the WebAssembly core (${coreUrl}) did not download: HTTP ${res.status}`);
      try {
        if (
          typeof WebAssembly.compileStreaming === "function" &&
          res.headers.get("content-type") === "application/wasm"
        ) {
          return await WebAssembly.compileStreaming(res);
        }
        return await WebAssembly.compile(await res.arrayBuffer());
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        // Chromium: "Refused to compile or instantiate WebAssembly module because 'unsafe-eval' is not an
        // allowed source of script…"; Firefox and Safari word it differently.
        const csp = /Content.Security.Policy|unsafe-eval|CSP/i.test(why)
          ? " The page's Content-Security-Policy must allow 'wasm-unsafe-eval' in script-src."
          : "";
        throw new Error(`the machine's WebAssembly core could not be compiled: ${why.replace(/\.$/, "")}.${csp}`);
      }
    })();
    coreModule.catch(() => {
      coreModule = undefined; // try again at the next boot
    });
  }
  return coreModule;
}

function setPhase(p: MachinePhase): void {
  if (p === phase) return;
  phase = p;
  post({ type: "phase", phase: p });
}

function fail(stage: ErrorStage, e: unknown): void {
  const message = e instanceof Error ? (e instanceof ImageFetchError ? e.message : `${e.message}`) : String(e);
  if (stage === "run") console.error(e);
  setPhase("error");
  post({ type: "error", stage, message });
}

function flushConsole(): void {
  for (const port of ["uart", "hvc0"] as const) {
    const parts = pending[port];
    if (parts.length === 0) continue;
    let n = 0;
    for (const p of parts) n += p.length;
    const bytes = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    parts.length = 0;
    post({ type: "console", port, bytes }, [bytes.buffer]);
  }
}

/** What snapshots have cost this worker so far (answered in "stats"). */
const snapshotCost = { ms: 0, count: 0 };

function sendSnapshot(s: Session): void {
  if (!snapshotsOn) return;
  const t0 = performance.now();
  post({ type: "snapshot", snapshot: s.snapshots.take(phase, s.loop.takeSleptNs(), snapshotDevices) });
  snapshotCost.ms += performance.now() - t0;
  snapshotCost.count++;
}

function teardown(): void {
  if (session === undefined) return;
  session.loop.dispose();
  session.net.dispose();
  clearInterval(session.timer);
  flushConsole();
  session = undefined;
}

function resolveUrl(ref: string, base: string): string {
  return new URL(ref, base).href;
}

async function boot(config: MachineConfig): Promise<void> {
  teardown();
  const gen = ++generation;
  setPhase("downloading");
  // Everything the machine needs starts at once: the core's download and compile, the manifest and the boot
  // images (each its own request), and the machine's code (partsReady, already loading).
  // The core is the only hart: if it cannot compile, the boot fails with the reason (below, once the
  // downloads have settled).
  const coreReady: Promise<WebAssembly.Module | Error> = compileCore().catch((e: unknown) =>
    e instanceof Error ? e : new Error(String(e)),
  );
  const manifestReady = fetchManifest(config.imageBase);
  // The manifest's sizes serve the progress bar when a server sends no Content-Length (or a compressed
  // one); the images do not wait for it.
  const sizes = new Map<string, number>();
  void manifestReady.then((m) => {
    for (const f of m?.files ?? []) sizes.set(resolveUrl(f.name, config.imageBase), f.bytes ?? 0);
  });
  const roles = ["firmware", "kernel", "initrd"] as const;
  const given = roles.map((r) => config.files?.[r]);
  const urls = roles
    .filter((_, i) => given[i] === undefined)
    .map((r) => resolveUrl(config.images[r], config.imageBase));
  const imagesReady = fetchImages(
    urls,
    (u) => sizes.get(u) ?? 0,
    (files) => {
      if (gen === generation) post({ type: "download", files });
    },
  );
  imagesReady.catch(() => {}); // awaited below; this only keeps an early rejection from going unhandled
  let p: Parts;
  try {
    p = await partsReady;
  } catch (e) {
    if (gen === generation) fail("boot", new Error(`the machine's code did not load: ${(e as Error)?.message ?? e}`));
    return;
  }
  // Wakes the run loop when the network has something for a guest sleeping in WFI.
  const wake = (): void => session?.loop.wake();
  // The relay probe (up to 1.5 s when none answers) runs while the images download.
  const netReady = p.setupNetwork(config, wake);
  // Disk URLs are probed (size, range support) while the boot images download.
  const disksReady = p.openDisks(config, (message) => {
    if (gen === generation) post({ type: "notice", message });
  });
  disksReady.catch(() => {}); // awaited below; this only keeps an early rejection from going unhandled
  let manifest: ImageManifest | undefined;
  let images: Uint8Array[];
  let disks: PageDisk[];
  try {
    const fetched = await imagesReady;
    images = given.map((g) => g ?? (fetched.shift() as Uint8Array));
    manifest = await manifestReady;
    disks = await disksReady;
  } catch (e) {
    void netReady.then((n) => n.dispose());
    if (gen === generation) fail("download", e);
    return;
  }
  // A file that is not what its role needs (an HTML page, the kernel as the initrd…) is refused here, with what
  // it looks like, rather than booted into a guest that hangs without a word.
  const wrong = roles
    .map((r, i) => {
      const name =
        given[i] !== undefined ? `the picked ${r} file` : `the ${r} ${resolveUrl(config.images[r], config.imageBase)}`;
      return p.checkBootImage(r, images[i], name);
    })
    .find((m) => m !== undefined);
  if (wrong !== undefined) {
    void netReady.then((n) => n.dispose());
    if (gen === generation)
      fail("boot", new Error(`${wrong}. Pick the right file under Images, or rebuild them with \`npm run guest\``));
    return;
  }

  const net = await netReady;
  const core = await coreReady;
  if (gen !== generation) {
    net.dispose();
    return;
  }
  if (core instanceof Error) {
    net.dispose();
    fail("boot", core);
    return;
  }
  for (const message of net.warnings) post({ type: "notice", message });

  let machine: VirtMachine;
  try {
    machine = new p.VirtMachine({
      memMiB: config.memMiB,
      virtioTransport: config.transport,
      defaultTransports: config.transports,
      firmware: images[0],
      kernel: images[1],
      initrd: images[2],
      bootargs: config.bootargs ?? p.defaultBootargs(manifest),
      // The UART hands over a view of its own buffer: copy before queueing.
      onConsoleOutput: (bytes) => pending.uart.push(bytes.slice()),
      onVirtioConsoleOutput: (bytes) => pending.hvc0.push(bytes.slice()),
      virtioConsoleSize: hvcSize,
      onAsyncInterrupt: wake,
      net: net.device,
      wasmCore: core,
      // transport.blk= applies to every disk; disks.ts leaves theirs to the board's default.
      virtio: [
        ...disks.map((d) => ({ ...d, transport: config.transports?.blk ?? d.transport })),
        ...(config.share === "memory"
          ? [{ device: new p.Virtio9p((pageShare ??= new p.MemoryShare()), { name: "virtio-9p0", tag: "host" }) }]
          : []),
      ],
    });
  } catch (e) {
    net.dispose();
    fail("boot", e);
    return;
  }

  startSession(p, machine, config, net, disks);
}

/**
 * The in-page share (?share=memory): one per worker, so its files outlive a reset or reboot of the machine
 * (the guest sees them again at /mnt/host); created by the first boot that asks for it.
 */
let pageShare: MemoryShare | undefined;

/** The page's Files panel: upload into the share, list it, download a file of it. */
function shareMessage(msg: Extract<ToWorker, { type: "share-put" | "share-list" | "share-get" }>): void {
  const share = pageShare;
  if (share === undefined) {
    if (msg.type === "share-get") post({ type: "share-file", path: msg.path, bytes: undefined, message: "no share" });
    else post({ type: "share-files", files: [] });
    if (msg.type === "share-put")
      post({ type: "notice", message: "no share to upload to: open the page with ?share=memory" });
    return;
  }
  if (msg.type === "share-get") {
    try {
      const bytes = share.getFile(msg.path);
      post({ type: "share-file", path: msg.path, bytes, message: undefined }, [bytes.buffer]);
    } catch (e) {
      post({ type: "share-file", path: msg.path, bytes: undefined, message: (e as Error).message });
    }
    return;
  }
  if (msg.type === "share-put") {
    for (const f of msg.files) {
      try {
        // A picked file's own name, at the root: never a path of the person's choosing.
        share.putFile(f.name.replaceAll("/", "_"), f.bytes);
      } catch (e) {
        post({ type: "notice", message: `upload of ${f.name}: ${(e as Error).message}` });
      }
    }
  }
  post({ type: "share-files", files: share.list() });
}

/** Runs a built (or restored) machine as the page's session. */
function startSession(p: Parts, machine: VirtMachine, config: MachineConfig, net: NetSetup, disks: PageDisk[]): void {
  const s: Session = {
    parts: p,
    machine,
    config,
    net,
    loop: new RunLoop(machine, {
      afterSlice: flushConsole,
      poweredOff: () => {
        setPhase("off");
        post({ type: "power-off", exitCode: machine.exitCode ?? 0 });
        sendSnapshot(s);
      },
      reset: () => {
        post({ type: "reboot" });
        // A restored machine has no boot images: its reboot is a fresh boot of the same configuration.
        if (machine.restored) void boot(config);
        else machine.reset();
      },
      failed: (e) => {
        fail("run", e);
        sendSnapshot(s);
      },
    }),
    snapshots: new p.SnapshotTaker(
      machine,
      config.transport,
      config.memMiB,
      () => net.snapshot(),
      () => disks.flatMap((d) => (d.fetched === undefined ? [] : [d.fetched()])),
    ),
    timer: setInterval(() => {
      if (snapshotsOn && session === s && (phase === "running" || phase === "paused")) sendSnapshot(s);
    }, SNAPSHOT_INTERVAL_MS),
  };
  session = s;
  setPhase("running");
  sendSnapshot(s);
  s.loop.start();
}

/** Saving now: a second ask waits for it (both get the same file). */
let saving: Promise<Uint8Array> | undefined;

/**
 * Saves the session's machine between slices: the loop is paused while the snapshot is taken (a save is
 * async: disk requests in flight finish first, RAM is deflated) and goes on afterwards unless the page paused
 * it meanwhile.
 */
async function save(id: number): Promise<void> {
  const s = session;
  if (s === undefined || (phase !== "running" && phase !== "paused")) {
    post({ type: "save-failed", id, message: `there is no running machine to save (it is ${phase})` });
    return;
  }
  if (saving === undefined) {
    const wasRunning = s.loop.isRunning;
    s.loop.pause();
    flushConsole();
    const mac = s.net.device !== null ? s.parts.macToString(s.net.device.mac) : null;
    let resumed = false;
    const resume = (): void => {
      if (resumed) return;
      resumed = true;
      if (wasRunning && session === s && phase === "running") s.loop.start();
    };
    // The guest runs on once its state is copied: compressing a large RAM image must not freeze it.
    saving = s.machine.saveSnapshot(pageHostRecord(s.config, mac), { onCaptured: resume });
    void saving
      .catch(() => {})
      .finally(() => {
        saving = undefined;
        resume();
      });
  }
  try {
    // Every asker gets its own copy to transfer.
    const bytes = (await saving).slice();
    post({ type: "saved", id, bytes }, [bytes.buffer]);
  } catch (e) {
    post({ type: "save-failed", id, message: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * Restores a snapshot into a freshly built machine. The snapshot is read and checked, and the machine it
 * describes built and loaded, before the running one (if any) is let go: a snapshot that is refused leaves
 * the page's machine as it was, with an error naming what is wrong.
 */
async function restore(msg: Extract<ToWorker, { type: "restore" }>): Promise<void> {
  const gen = ++generation;
  const refuse = (stage: ErrorStage, e: unknown): void => {
    if (gen !== generation) return;
    const message = e instanceof Error ? e.message : String(e);
    if (session !== undefined && (phase === "running" || phase === "paused")) post({ type: "error", stage, message });
    else fail(stage, e);
  };
  const coreReady: Promise<WebAssembly.Module | Error> = compileCore().catch((e: unknown) =>
    e instanceof Error ? e : new Error(String(e)),
  );
  let bytes: Uint8Array;
  const source = msg.source;
  if ("url" in source) {
    if (session === undefined) setPhase("downloading");
    try {
      bytes = await fetchFile(
        source.url,
        (file) => {
          if (gen === generation) post({ type: "download", files: [file] });
        },
        "a snapshot",
      );
    } catch (e) {
      refuse("download", e);
      return;
    }
  } else bytes = source.bytes;
  let p: Parts;
  try {
    p = await partsReady;
  } catch (e) {
    refuse("restore", new Error(`the machine's code did not load: ${(e as Error)?.message ?? e}`));
    return;
  }
  const name = "url" in source ? source.url : source.name;
  let read: Awaited<ReturnType<typeof p.VirtMachine.readSnapshot>>;
  let plan: ReturnType<typeof planRestore>;
  try {
    read = await p.VirtMachine.readSnapshot(bytes);
    plan = planRestore(read.machine, msg.config);
  } catch (e) {
    refuse("restore", new Error(`${name}: ${(e as Error).message}`));
    return;
  }
  if (gen !== generation) return;
  const wake = (): void => session?.loop.wake();
  const notice = (message: string): void => {
    if (gen === generation) post({ type: "notice", message });
  };
  let disks: PageDisk[];
  try {
    disks = await p.openDiskSources(
      plan.disks.map((d) => d.source),
      notice,
    );
  } catch (e) {
    refuse("restore", new Error(`${name}: a disk of the saved machine: ${(e as Error).message}`));
    return;
  }
  const core = await coreReady;
  if (core instanceof Error) {
    refuse("restore", core);
    return;
  }
  if (gen !== generation) return;
  const net = await p.setupNetwork(plan.config, wake, plan.nic ?? undefined);
  let machine: VirtMachine;
  try {
    machine = new p.VirtMachine({
      memMiB: plan.config.memMiB,
      defaultTransports: plan.defaultTransports,
      onConsoleOutput: (b) => pending.uart.push(b.slice()),
      onVirtioConsoleOutput: (b) => pending.hvc0.push(b.slice()),
      onAsyncInterrupt: wake,
      net: net.device,
      wasmCore: core,
      virtio: disks.map((d, i) => ({ ...d, transport: plan.disks[i].transport })),
    });
    await machine.restoreSnapshot(read.contents);
    // The snapshot has the size of the terminal it was saved from; the guest gets this page's.
    if (hvcSize !== undefined) machine.setVirtioConsoleSize(hvcSize.cols, hvcSize.rows);
  } catch (e) {
    net.dispose();
    refuse("restore", new Error(`${name}: ${(e as Error).message}`));
    return;
  }
  if (gen !== generation) {
    net.dispose();
    return;
  }
  teardown();
  for (const pending of [...net.warnings, ...plan.notices]) post({ type: "notice", message: pending });
  post({ type: "restored", config: plan.config, savedAt: plan.savedAt });
  startSession(p, machine, plan.config, net, disks);
}

function ringPicture(s: Session, device: string, queue: number): FromWorker {
  const reply = { type: "ring", device, queue } as const;
  const q = s.machine.virtioSnapshot().find((d) => d.name === device)?.queues[queue] as QueueSnapshot | undefined;
  if (q === undefined) return { ...reply, picture: undefined, note: `${device} has no queue ${queue}` };
  if (q.descAddr === undefined || q.driverAddr === undefined || q.deviceAddr === undefined) {
    return { ...reply, picture: undefined, note: "this build's virtio transports do not report ring addresses yet" };
  }
  if (!q.ready) return { ...reply, picture: undefined, note: "the driver has not enabled this queue" };
  const picture = s.parts.readRing(s.machine.mem, {
    size: q.size,
    descAddr: q.descAddr,
    driverAddr: q.driverAddr,
    deviceAddr: q.deviceAddr,
  });
  return { ...reply, picture, note: picture.note };
}

function handle(msg: ToWorker): void {
  const s = session;
  switch (msg.type) {
    case "share-put":
    case "share-list":
    case "share-get":
      shareMessage(msg);
      return;
    case "boot":
      void boot(msg.config);
      return;
    case "save":
      void save(msg.id);
      return;
    case "restore":
      void restore(msg);
      return;
    case "console-size":
      hvcSize = { cols: msg.cols, rows: msg.rows };
      if (s === undefined) return;
      s.machine.setVirtioConsoleSize(msg.cols, msg.rows);
      s.loop.wake();
      return;
    case "input":
      if (s === undefined) return;
      if (msg.port === "uart") s.machine.sendConsoleInput(msg.bytes);
      else s.machine.sendVirtioConsoleInput(msg.bytes);
      s.loop.wake();
      return;
    case "pause":
      if (s === undefined || phase !== "running") return;
      s.loop.pause();
      setPhase("paused");
      sendSnapshot(s);
      return;
    case "resume":
      if (s === undefined || phase !== "paused") return;
      setPhase("running");
      s.loop.start();
      return;
    case "reset":
      if (s === undefined) return;
      // A restored machine has no boot images: its reset is a fresh boot of the same configuration.
      if (s.machine.restored) {
        post({ type: "reboot" });
        void boot(s.config);
        return;
      }
      // A reset from "off" or "error" powers the same configuration back on.
      s.machine.reset();
      post({ type: "reboot" });
      setPhase("running");
      s.loop.start();
      return;
    case "link":
      s?.net.device?.setLink(msg.up);
      s?.loop.wake();
      return;
    case "capture": {
      if (s === undefined) return;
      if (msg.on) {
        s.net.startCapture();
        return;
      }
      const pcapng = s.net.stopCapture();
      if (pcapng !== undefined) post({ type: "capture", pcapng }, [pcapng.buffer]);
      return;
    }
    case "ring":
      if (s === undefined) return;
      post(ringPicture(s, msg.device, msg.queue));
      return;
    case "snapshots":
      snapshotsOn = msg.on;
      snapshotDevices = msg.devices ?? true;
      if (snapshotsOn && s !== undefined) sendSnapshot(s);
      return;
    case "stats":
      post({
        type: "stats",
        stats: {
          instret: s?.machine.hart.instret ?? 0,
          takenMs: performance.now(),
          snapshotMs: snapshotCost.ms,
          snapshots: snapshotCost.count,
          guestRamBytes: s !== undefined ? s.config.memMiB * 1048576 : 0,
          wasmMemoryBytes: s?.machine.mem.buffer.byteLength ?? 0,
          jit: s?.machine.hart.jit !== undefined,
        },
      });
      return;
    case "power-off":
      if (s === undefined) return;
      s.loop.pause();
      flushConsole();
      setPhase("off");
      sendSnapshot(s);
      return;
  }
}

scope.onmessage = (e: MessageEvent<ToWorker>) => handle(e.data);
