// The page's figures for `npm run bench` (issue 8): boot to the prompt in headless chromium (from
// navigation, images served locally, as a person sees it) and the bench's CPU workload typed at the
// prompt, twice over: with the UI live (the Queues and Network panels showing, taking turns, fed by
// the worker's snapshots) and with `?ui=off` (same machine, worker and console, no snapshots and no
// live panels). The difference is the UI's cost to the guest; the rest of the gap to Node is the
// browser engine's. The guest's instruction rate is read in the worker (instret over its own clock).
// One more run switches the UI on and off every second during the workload, so that bursts of other
// load on a shared machine fall on both states alike. Beside the rates: how busy the page's main
// thread was (CDP Performance), the CPU each chromium thread used (/proc, Linux) and the worker time
// the snapshots took (the worker counts it). After each workload (JIT on): the worker's memory against
// issue 14's limit of guest RAM + 96 MiB (PageMemory says what is counted and how).
// `npx tsx e2e/page-bench.ts` prints them as JSON; bench/run.ts imports pageFigures().

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { openBrowser, PROMPT_AT_END, ROOT, typeLine, waitForTerminal } from "./harness.ts";
import { cliPromptSnapshot, RESTORED_NOTE, serveFile } from "./snapshots.ts";

export type PageUi = "live" | "off";

export interface PageRun {
  ui: PageUi;
  /** Navigation → `vireo: boot complete` in the terminal. */
  bannerMs: number;
  /** Navigation → the shell prompt. */
  promptMs: number;
  /** Enter → the workload's end marker in the terminal. */
  workloadMs: number | undefined;
  /** Guest instructions retired over the workload (the worker's instret). */
  instret: number | undefined;
  /** Guest MIPS over the workload: instret delta over the worker's clock. */
  mips: number | undefined;
  /** Share of the workload's wall time the page's main thread was busy (CDP Performance TaskDuration). */
  mainBusy: number | undefined;
  /** Snapshots the worker posted per second of the workload, and the share of its time they took. */
  snapshotHz: number | undefined;
  snapshotShare: number | undefined;
  /** Chromium's threads over the workload: CPU seconds per wall second, by process type/thread name. */
  threads?: Record<string, number>;
  /** CPU seconds per wall second the machine's worker thread got, and all of chromium's other threads. */
  workerCpu?: number;
  otherCpu?: number;
  /**
   * Guest MIPS per CPU second of the worker thread: the interpreter's speed while it runs, which other
   * load on the machine does not move (the snapshots' cost in the worker does).
   */
  mipsPerCpu?: number;
  /** The worker's memory after the workload (see PageMemory). */
  memory?: PageMemory;
}

/**
 * The machine worker's memory after the workload, against issue 14's limit of guest RAM + 96 MiB. The
 * worker's figure adds up what the worker holds: the WebAssembly.Memory's whole byteLength (guest RAM and
 * the hart's state after it, counted in full whether the guest touched it or not), the worker's V8 heap as
 * CDP's Runtime.getHeapUsage on the worker target reports it (committed heap totalSize, the embedder's
 * heap and the ArrayBuffer backing stores, e.g. the boot images it keeps for a reset), and the compiled
 * code: the resident anonymous executable mappings of the renderer process (Linux /proc smaps), which hold
 * the JIT code of the page and of the worker (the core, the guest's compiled blocks, JavaScript), so it is
 * an upper bound on the worker's. The renderer's whole RSS is beside it for comparison: the page's UI is in
 * the same process, and untouched guest RAM is not resident.
 */
export interface PageMemory {
  guestRamBytes: number;
  wasmMemoryBytes: number;
  /** Runtime.getHeapUsage on the worker: totalSize + embedderHeapUsedSize + backingStorageSize. */
  workerHeapBytes: number;
  /** Resident anonymous executable memory of the renderer (all its isolates' compiled code); undefined off Linux. */
  codeBytes: number | undefined;
  /** wasmMemoryBytes + workerHeapBytes + codeBytes: the figure compared with the limit. */
  workerBytes: number;
  /** guestRamBytes + 96 MiB. */
  limitBytes: number;
  /** The renderer process's VmRSS (page and worker); undefined off Linux. */
  rendererRssBytes: number | undefined;
  /** The hart's block compiler was on. */
  jit: boolean;
}

export interface PageVariant {
  runs: number;
  /** Medians over the runs. */
  bannerMs: number;
  promptMs: number;
  workloadMs: number | undefined;
  mips: number | undefined;
  mainBusy: number | undefined;
  snapshotHz: number | undefined;
  snapshotShare: number | undefined;
  workerCpu: number | undefined;
  otherCpu: number | undefined;
  mipsPerCpu: number | undefined;
  /** The run with the largest worker figure (the limit is a ceiling, so the worst run counts). */
  memory: PageMemory | undefined;
}

/**
 * One run with the UI switched on and off in turns while the workload runs (snapshots on with a panel
 * switch, then snapshots off: a page that gets no snapshots renders nothing), so bursts of other load
 * on the machine fall on both alike. Each live window is compared with the mean of the off windows
 * either side of it.
 */
export interface PageInterleaved {
  windowMs: number;
  /** Whole windows of each kind. */
  liveWindows: number;
  offWindows: number;
  /** Median MIPS over the windows of each kind. */
  liveMips: number;
  offMips: number;
  /** Median over live windows of 1 − live MIPS / mean of its neighbouring off windows' MIPS. */
  uiCost: number;
}

export interface PageFigures {
  /** Median boot figures of the live runs (as before: the page as a person sees it). */
  bannerMs: number;
  promptMs: number;
  /** Median workload time with the UI live. */
  workloadMs: number | undefined;
  live: PageVariant;
  off: PageVariant;
  /**
   * The UI's cost to the guest: 1 − live MIPS / off MIPS (from the medians); undefined without a
   * workload.
   */
  uiCost: number | undefined;
  /**
   * The same from MIPS per worker CPU second: the UI's cost inside the worker alone, steady under other
   * load on the machine (the wall-clock figure above also holds the UI's threads competing for cores).
   */
  uiCostPerCpu: number | undefined;
  /** The interleaved run (with a workload only). */
  interleaved: PageInterleaved | undefined;
  /** The largest worker memory over every run with a workload (JIT on), against guest RAM + 96 MiB. */
  memory: PageMemory | undefined;
  /** Every run in the order they ran (alternating, ABBA), for the record. */
  all: PageRun[];
  /** Navigation with `?snapshot=` → a typed command's output (issue 15); undefined when left out. */
  snapshot: PageSnapshotFigures | undefined;
}

/**
 * `?snapshot=URL` (issue 15): a snapshot of the committed image at its first prompt, saved by `npm run vm --
 * --save FILE --save-at "vireo:~# "` with the page's default machine (256 MiB, net/console/rng on MMIO, a NIC
 * with the default offer), served by a loopback server, restored by the page with the UI live.
 */
export interface PageSnapshotFigures {
  runs: number;
  /** The snapshot's size in bytes. */
  bytes: number;
  /** Median: navigation → the page's "restored" line in the terminal (download, read, build, restore). */
  restoredMs: number;
  /** Median: navigation → the output of a command typed as soon as the restored line shows. */
  promptMs: number;
  /** Every run's navigation → output, in order. */
  allPromptMs: number[];
}

export interface PageBenchOptions {
  /** Runs of each variant (alternating live/off, ABBA order); default 2. */
  rounds?: number;
  timeoutMs?: number;
  /** The live runs switch between the Queues and Network panels this often; default 3 s. */
  panelSwitchMs?: number;
  /** The interleaved run's window (UI live, then off, …); default 1 s; 0 leaves that run out. */
  interleaveMs?: number;
  /** The panels its live windows show in turn; default Queues, Network. */
  interleavePanels?: string[];
  /** Runs of navigation → usable prompt with `?snapshot=` (issue 15); default `rounds` + 1; 0 leaves them out. */
  snapshotRuns?: number;
}

/**
 * Navigation to `?snapshot=URL` → the output of a command typed at the restored prompt, `runs` times. In
 * pageFigures they follow the boot runs, so the page's code and the core are in the browser's cache as they
 * were for every boot run but the first; run alone, the first run fetches them cold.
 */
async function snapshotRuns(page: Page, url: string, runs: number, timeoutMs: number): Promise<PageSnapshotFigures> {
  const file = join(ROOT, "test-results/bench-prompt.vireo");
  const bytes = cliPromptSnapshot(file);
  const served = await serveFile(bytes, "prompt.vireo");
  try {
    const restored: number[] = [];
    const prompt: number[] = [];
    for (let i = 0; i < runs; i++) {
      await page.goto("about:blank");
      const t0 = performance.now();
      await page.goto(`${url}?snapshot=${encodeURIComponent(served.url)}`);
      await waitForTerminal(page, (t) => t.includes(RESTORED_NOTE), "the restored line", timeoutMs, 10);
      restored.push(performance.now() - t0);
      await typeLine(page, `echo snap-$((${i}+42))-end`);
      await waitForMarker(page, `snap-${i + 42}-end`, timeoutMs, 10);
      prompt.push(performance.now() - t0);
      if (process.env.PAGE_BENCH_VERBOSE === "1") {
        console.error(JSON.stringify({ snapshotRestoredMs: restored.at(-1), snapshotPromptMs: prompt.at(-1) }));
      }
    }
    return {
      runs,
      bytes: bytes.length,
      restoredMs: median(restored),
      promptMs: median(prompt),
      allPromptMs: prompt.map((ms) => Math.round(ms)),
    };
  } finally {
    served.close();
  }
}

/**
 * In the page: every `ms`, read the worker's instret and switch the UI the other way (live windows
 * show the Queues and Network panels in turns). A string, so the TypeScript loader adds no helpers.
 */
const INTERLEAVE = (ms: number, panels: string[]): string => `
  (() => {
    const w = window;
    const marks = [];
    let live = true;
    let n = 0;
    const tabs = ${JSON.stringify(panels)};
    w.vireoInterleave = { marks, stop: false };
    w.vireo.stats().then((s) => marks.push({ live: undefined, instret: s.instret, t: s.takenMs }));
    const timer = setInterval(() => {
      if (w.vireoInterleave.stop) {
        clearInterval(timer);
        w.vireo.setSnapshots(true, true);
        return;
      }
      const ended = live;
      w.vireo.stats().then((s) => marks.push({ live: ended, instret: s.instret, t: s.takenMs }));
      live = !live;
      if (live) {
        const tab = tabs[n++ % tabs.length];
        w.vireo.setSnapshots(true, tab !== "network");
        document.querySelector('[data-tab="' + tab + '"]').click();
      } else w.vireo.setSnapshots(false);
    }, ${ms});
  })();
`;

interface Mark {
  live: boolean | undefined;
  instret: number;
  t: number;
}

async function interleavedRun(
  page: Page,
  url: string,
  workload: string,
  workloadEnd: string,
  timeoutMs: number,
  windowMs: number,
  panels: string[],
): Promise<PageInterleaved> {
  await page.goto(url);
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", timeoutMs, 20);
  await page.locator(`[data-tab="${panels[0]}"]`).click();
  await typeLine(page, workload);
  await page.evaluate(INTERLEAVE(windowMs, panels));
  await waitForMarker(page, workloadEnd, timeoutMs);
  const marks = (await page.evaluate(
    "window.vireoInterleave.stop = true, window.vireoInterleave.marks.sort((a, b) => a.t - b.t)",
  )) as Mark[];
  // Windows between consecutive marks, labelled by the state they ran in; the last one (cut short by
  // the end marker, which comes before the next mark) is not among them.
  const windows: { live: boolean; mips: number }[] = [];
  for (let i = 1; i < marks.length; i++) {
    const live = marks[i].live;
    if (live === undefined) continue;
    windows.push({ live, mips: (marks[i].instret - marks[i - 1].instret) / (marks[i].t - marks[i - 1].t) / 1000 });
  }
  // The guest finished its workload during the last window or two: leave them out.
  windows.splice(-2);
  const costs: number[] = [];
  for (let i = 1; i + 1 < windows.length; i++) {
    const w = windows[i];
    if (!w.live || windows[i - 1].live || windows[i + 1].live) continue;
    costs.push(1 - w.mips / ((windows[i - 1].mips + windows[i + 1].mips) / 2));
  }
  const live = windows.filter((w) => w.live).map((w) => w.mips);
  const off = windows.filter((w) => !w.live).map((w) => w.mips);
  return {
    windowMs,
    liveWindows: live.length,
    offWindows: off.length,
    liveMips: median(live),
    offMips: median(off),
    uiCost: median(costs),
  };
}

const BANNER = "vireo: boot complete";

/**
 * CPU seconds by thread name of every chromium process of the harness's profile (Linux /proc; empty
 * elsewhere): which of the browser's threads the UI keeps busy beside the machine's worker.
 */
function chromiumThreadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  const hz = 100;
  for (const pid of pids) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("vireo-e2e-chromium-")) continue;
      const type = /--type=([a-z-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, "latin1"))?.[1] ?? "browser";
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "latin1");
        const close = stat.lastIndexOf(")");
        const name = stat.slice(stat.indexOf("(") + 1, close).replace(/\d+$/, "");
        const f = stat.slice(close + 2).split(" ");
        const cpu = (Number(f[11]) + Number(f[12])) / hz;
        const key = `${type}/${name}`;
        out.set(key, (out.get(key) ?? 0) + cpu);
      }
    } catch {
      // the process or thread ended meanwhile
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface HartStats {
  instret: number;
  takenMs: number;
  snapshotMs: number;
  snapshots: number;
  guestRamBytes: number;
  wasmMemoryBytes: number;
  jit: boolean;
}

/** The allowance over guest RAM for everything else the worker holds. */
export const WORKER_OVERHEAD_LIMIT_BYTES = 96 * 1048576;

/** The pid of the chromium renderer (of the harness's profile) that runs a dedicated worker (Linux /proc). */
function workerRendererPid(): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "latin1");
      if (!cmd.includes("vireo-e2e-chromium-") || !cmd.includes("--type=renderer")) continue;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        if (readFileSync(`/proc/${pid}/task/${tid}/comm`, "latin1").startsWith("DedicatedWorker")) return Number(pid);
      }
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** VmRSS and the resident anonymous executable mappings (JIT code) of a process, in bytes. */
function processMemory(pid: number): { rss: number; code: number } | undefined {
  try {
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1] ?? Number.NaN);
    let code = 0;
    let exec = false;
    for (const line of readFileSync(`/proc/${pid}/smaps`, "latin1").split("\n")) {
      const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
      if (head !== null) {
        // Anonymous (no inode, no file; maybe a named [anon:…] region) and executable.
        exec = head[1].includes("x") && head[2] === "0" && (head[3] === "" || head[3].startsWith("[anon"));
      } else if (exec && line.startsWith("Rss:")) code += Number(/(\d+) kB/.exec(line)?.[1] ?? 0) * 1024;
    }
    return Number.isFinite(rss) ? { rss: rss * 1024, code } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The machine worker's JS heap through CDP: the page's session auto-attaches to its worker (non-flat
 * sessions, which Playwright's CDPSession can drive) and asks Runtime.getHeapUsage there.
 */
async function workerHeapBytes(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  try {
    type Attached = { sessionId: string; targetInfo: { type: string } };
    const worker = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no worker target attached within 10 s")), 10_000);
      cdp.on("Target.attachedToTarget", (e) => {
        const a = e as unknown as Attached;
        if (a.targetInfo.type !== "worker") return;
        clearTimeout(timer);
        resolve(a.sessionId);
      });
    });
    await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    const sessionId = await worker;
    const reply = new Promise<Record<string, number>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the worker did not answer Runtime.getHeapUsage")), 10_000);
      cdp.on("Target.receivedMessageFromTarget", (e) => {
        const m = JSON.parse((e as { message: string }).message) as { id?: number; result?: Record<string, number> };
        if (m.id !== 1) return;
        clearTimeout(timer);
        if (m.result === undefined) reject(new Error(`Runtime.getHeapUsage failed: ${JSON.stringify(m)}`));
        else resolve(m.result);
      });
    });
    await cdp.send("Target.sendMessageToTarget", {
      sessionId,
      message: JSON.stringify({ id: 1, method: "Runtime.getHeapUsage", params: {} }),
    });
    const h = await reply;
    return (h.totalSize ?? 0) + (h.embedderHeapUsedSize ?? 0) + (h.backingStorageSize ?? 0);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** The worker's memory now (after a workload): see PageMemory. */
async function pageMemory(page: Page): Promise<PageMemory> {
  const s = await stats(page);
  const heap = await workerHeapBytes(page);
  const pid = workerRendererPid();
  const proc = pid !== undefined ? processMemory(pid) : undefined;
  return {
    guestRamBytes: s.guestRamBytes,
    wasmMemoryBytes: s.wasmMemoryBytes,
    workerHeapBytes: heap,
    codeBytes: proc?.code,
    workerBytes: s.wasmMemoryBytes + heap + (proc?.code ?? 0),
    limitBytes: s.guestRamBytes + WORKER_OVERHEAD_LIMIT_BYTES,
    rendererRssBytes: proc?.rss,
    jit: s.jit,
  };
}

function stats(page: Page): Promise<HartStats> {
  return page.evaluate(() => (window as unknown as { vireo: { stats(): Promise<HartStats> } }).vireo.stats());
}

/** Waits in the page (no round trip per poll) for `marker` on a line of its own among the last lines with text. */
async function waitForMarker(page: Page, marker: string, timeoutMs: number, pollMs = 50): Promise<void> {
  await page.waitForFunction(
    (m) => {
      type Line = { translateToString(trim: boolean): string };
      type Term = { buffer: { active: { length: number; getLine(i: number): Line | undefined } } };
      const box = document.querySelector('[data-port="uart"]') as (Element & { vireoTerminal?: Term }) | null;
      const buf = box?.vireoTerminal?.buffer.active;
      if (buf === undefined) return false;
      // The last 12 lines with text (a terminal that has not scrolled yet ends in empty rows).
      for (let i = buf.length - 1, seen = 0; i >= 0 && seen < 12; i--) {
        const line = buf.getLine(i)?.translateToString(true).trim() ?? "";
        if (line === "") continue;
        if (line === m) return true;
        seen++;
      }
      return false;
    },
    marker,
    { polling: pollMs, timeout: timeoutMs },
  );
}

async function runOnce(
  page: Page,
  url: string,
  ui: PageUi,
  workload: string | undefined,
  workloadEnd: string | undefined,
  timeoutMs: number,
  panelSwitchMs: number,
): Promise<PageRun> {
  const t0 = performance.now();
  await page.goto(ui === "off" ? `${url}?ui=off` : url);
  await waitForTerminal(page, (t) => t.includes(BANNER), "banner", timeoutMs, 20);
  const bannerMs = performance.now() - t0;
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", timeoutMs, 20);
  const promptMs = performance.now() - t0;
  const run: PageRun = {
    ui,
    bannerMs,
    promptMs,
    workloadMs: undefined,
    instret: undefined,
    mips: undefined,
    mainBusy: undefined,
    snapshotHz: undefined,
    snapshotShare: undefined,
  };
  if (workload === undefined || workloadEnd === undefined) return run;
  if (ui === "live") {
    // The two most expensive panels take turns while the workload runs (clicked from inside the page).
    await page.locator('[data-tab="queues"]').click();
    await page.locator("[data-queue]").first().waitFor({ timeout: 10_000 });
    await page.evaluate((ms) => {
      let n = 0;
      const w = window as unknown as { vireoBenchTimer?: number };
      w.vireoBenchTimer = window.setInterval(() => {
        const tab = ++n % 2 === 1 ? "network" : "queues";
        (document.querySelector(`[data-tab="${tab}"]`) as HTMLElement | null)?.click();
      }, ms);
    }, panelSwitchMs);
  }
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const busy = async (): Promise<number> =>
    (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration")?.value ?? 0;
  await typeLine(page, workload);
  const t1 = performance.now();
  const before = await stats(page);
  const busy0 = await busy();
  const cpu0 = chromiumThreadCpu();
  await waitForMarker(page, workloadEnd, timeoutMs);
  run.workloadMs = performance.now() - t1;
  const after = await stats(page);
  run.mainBusy = ((await busy()) - busy0) / (run.workloadMs / 1000);
  const threads: Record<string, number> = {};
  for (const [k, v] of chromiumThreadCpu()) {
    const share = (v - (cpu0.get(k) ?? 0)) / (run.workloadMs / 1000);
    if (share >= 0.005) threads[k] = Math.round(share * 1000) / 1000;
  }
  run.threads = threads;
  let worker = 0;
  let other = 0;
  for (const [k, v] of chromiumThreadCpu()) {
    const d = v - (cpu0.get(k) ?? 0);
    if (k.endsWith("/DedicatedWorker")) worker += d;
    else other += d;
  }
  if (worker > 0) {
    run.workerCpu = worker / (run.workloadMs / 1000);
    run.otherCpu = other / (run.workloadMs / 1000);
  }
  await cdp.detach();
  if (ui === "live") {
    await page.evaluate(() => clearInterval((window as unknown as { vireoBenchTimer?: number }).vireoBenchTimer));
  }
  run.instret = after.instret - before.instret;
  const workerMs = after.takenMs - before.takenMs;
  run.mips = run.instret / workerMs / 1000;
  run.snapshotHz = (after.snapshots - before.snapshots) / (workerMs / 1000);
  run.snapshotShare = (after.snapshotMs - before.snapshotMs) / workerMs;
  if (run.workerCpu !== undefined) run.mipsPerCpu = run.mips / run.workerCpu;
  run.memory = await pageMemory(page);
  return run;
}

function variant(runs: PageRun[]): PageVariant {
  const opt = (xs: (number | undefined)[]): number | undefined =>
    xs.every((x) => x !== undefined) && xs.length > 0 ? median(xs as number[]) : undefined;
  return {
    runs: runs.length,
    bannerMs: median(runs.map((r) => r.bannerMs)),
    promptMs: median(runs.map((r) => r.promptMs)),
    workloadMs: opt(runs.map((r) => r.workloadMs)),
    mips: opt(runs.map((r) => r.mips)),
    mainBusy: opt(runs.map((r) => r.mainBusy)),
    snapshotHz: opt(runs.map((r) => r.snapshotHz)),
    snapshotShare: opt(runs.map((r) => r.snapshotShare)),
    workerCpu: opt(runs.map((r) => r.workerCpu)),
    otherCpu: opt(runs.map((r) => r.otherCpu)),
    mipsPerCpu: opt(runs.map((r) => r.mipsPerCpu)),
    memory: largestMemory(runs),
  };
}

function largestMemory(runs: PageRun[]): PageMemory | undefined {
  let worst: PageMemory | undefined;
  for (const r of runs) {
    if (r.memory !== undefined && (worst === undefined || r.memory.workerBytes > worst.workerBytes)) worst = r.memory;
  }
  return worst;
}

/**
 * Boots the page `rounds` times with the UI live and as many with `?ui=off`, alternating (ABBA), in
 * one browser; runs `workload` at the prompt each time when given, waiting for `workloadEnd`.
 */
export async function pageFigures(
  workload?: string,
  workloadEnd?: string,
  options: PageBenchOptions = {},
): Promise<PageFigures> {
  const rounds = options.rounds ?? 2;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const panelSwitchMs = options.panelSwitchMs ?? 3000;
  const browser = await openBrowser();
  try {
    const { page, url } = browser;
    const all: PageRun[] = [];
    for (let i = 0; i < rounds; i++) {
      const order: PageUi[] = i % 2 === 0 ? ["live", "off"] : ["off", "live"];
      for (const ui of order) {
        all.push(await runOnce(page, url, ui, workload, workloadEnd, timeoutMs, panelSwitchMs));
        if (process.env.PAGE_BENCH_VERBOSE === "1") console.error(JSON.stringify(all[all.length - 1]));
      }
    }
    const interleaveMs = options.interleaveMs ?? 1000;
    const interleaved =
      workload !== undefined && workloadEnd !== undefined && interleaveMs > 0
        ? await interleavedRun(
            page,
            url,
            workload,
            workloadEnd,
            timeoutMs,
            interleaveMs,
            options.interleavePanels ?? ["queues", "network"],
          )
        : undefined;
    if (interleaved !== undefined && process.env.PAGE_BENCH_VERBOSE === "1") console.error(JSON.stringify(interleaved));
    const nSnapshot = options.snapshotRuns ?? rounds + 1;
    const snapshot = nSnapshot > 0 ? await snapshotRuns(page, url, nSnapshot, timeoutMs) : undefined;
    await page.goto("about:blank");
    const live = variant(all.filter((r) => r.ui === "live"));
    const off = variant(all.filter((r) => r.ui === "off"));
    const uiCost = live.mips !== undefined && off.mips !== undefined ? 1 - live.mips / off.mips : undefined;
    const uiCostPerCpu =
      live.mipsPerCpu !== undefined && off.mipsPerCpu !== undefined ? 1 - live.mipsPerCpu / off.mipsPerCpu : undefined;
    return {
      bannerMs: live.bannerMs,
      promptMs: live.promptMs,
      workloadMs: live.workloadMs,
      live,
      off,
      uiCost,
      uiCostPerCpu,
      interleaved,
      memory: largestMemory(all),
      all,
      snapshot,
    };
  } finally {
    await browser.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // PAGE_BENCH_ONLY=snapshot: only the ?snapshot= runs (a quick check of that row).
  if (process.env.PAGE_BENCH_ONLY === "snapshot") {
    const browser = await openBrowser();
    try {
      console.log(JSON.stringify(await snapshotRuns(browser.page, browser.url, 5, 120_000)));
    } finally {
      await browser.close();
    }
  } else {
    const loop = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo wl-$((6*7))-end";
    console.log(JSON.stringify(await pageFigures(loop, "wl-42-end", { rounds: 1 })));
  }
}
