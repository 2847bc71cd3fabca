// `npm run bench:relay`: load on the Wisp relay over loopback only. The relay runs as its own process
// (`src/relay/main.ts`, as deployed), a TCP echo server in another; the well-behaved clients (a lean
// WebSocket client, bench/relay-client.ts) are spread over worker threads of this process (the load
// generator must not be one event loop), the garbage clients (ws) run on its main thread. Phase 1: N clients × M streams echo for S seconds, each stream keeping
// a window of chunks in flight, every byte checked by SHA-256 (see `runStream`). Phase 2: the same with a
// fraction of the clients replaced by ones sending garbage (malformed packets, text, oversized frames)
// and reconnecting whenever the relay throws them out. Reports throughput, round-trip latency, the
// relay's peak RSS, denials, and where the machine's CPU went; writes bench/relay-results.md.
//
//   npm run bench:relay -- [--clients 200] [--streams 10] [--seconds 30] [--chunk 65536] [--window 1]
//                          [--workers 2] [--garbage 0.05] [--out FILE] [--clean-only]

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { WebSocket } from "ws";
import { encodeConnect, encodeData, STREAM_TYPE_TCP, WISP_HEADER_SIZE } from "../src/relay/wisp/packet.ts";
import { type LeanStream, LeanWispClient } from "./relay-client.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Workers do not inherit tsx's loader: register it, then load this file (its worker half). */
const WORKER_BOOT = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))};
register();
await import(${JSON.stringify(import.meta.url)});`;

/** Child processes to kill if the bench dies. */
const children = new Set<ChildProcess>();
if (isMainThread)
  process.on("exit", () => {
    for (const c of children) c.kill("SIGKILL");
  });

/** Distinct chunk contents per worker (a prime, so every per-stream step walks all of them). */
const POOL = 61;

interface WorkerParams {
  url: string;
  echoPort: number;
  clients: number;
  streams: number;
  chunk: number;
  window: number;
}

/** What a worker reports after its streams have drained. */
interface WorkerResult {
  sent: number;
  received: number;
  chunksVerified: number;
  mismatches: number;
  /** Streams that ended with received !== sent. */
  short: number;
  rtts: Float64Array;
  error: string | null;
}

// ---------------------------------------------------------------------------------------------------
// Worker side: the well-behaved clients.

/**
 * One echo stream: keeps `window` chunks in flight until stopped, then drains. Chunk k of a stream is
 * pool[(first + k·step) mod POOL], so consecutive chunks differ and streams follow different sequences.
 * Every byte that comes back is fed to SHA-256, chunk by chunk, and each chunk's digest must equal the
 * digest of what was sent in that position (computed once per pool entry, as the sent bytes are the
 * pool's): every byte verified by hash, without hashing the same bytes again on the way out.
 */
function runStream(
  s: LeanStream,
  pool: Buffer[],
  digests: Buffer[],
  p: WorkerParams,
  stopped: () => boolean,
  out: { rtts: number[]; mismatches: number; chunksVerified: number },
): Promise<{ sent: number; received: number }> {
  const step = 1 + Math.floor(Math.random() * (POOL - 1));
  const first = Math.floor(Math.random() * POOL);
  const chunk = p.chunk;
  let sentChunks = 0;
  let recvChunks = 0;
  let inChunk = 0; // bytes of chunk `recvChunks` received so far
  let hash = createHash("sha256");
  let received = 0;
  const sendTimes: number[] = []; // of chunks recvChunks.. sentChunks-1
  const sendOne = () => {
    s.sendPacket(pool[(first + sentChunks * step) % POOL]!);
    sentChunks++;
    sendTimes.push(performance.now());
  };
  return new Promise((resolveRun, reject) => {
    s.onClose = (reason) => reject(new Error(reason));
    s.onData = (d) => {
      received += d.length;
      let off = 0;
      while (off < d.length) {
        const take = Math.min(chunk - inChunk, d.length - off);
        hash.update(off === 0 && take === d.length ? d : d.subarray(off, off + take));
        off += take;
        inChunk += take;
        if (inChunk === chunk) {
          const want = digests[(first + recvChunks * step) % POOL]!;
          if (!hash.digest().equals(want)) out.mismatches++;
          else out.chunksVerified++;
          recvChunks++;
          inChunk = 0;
          hash = createHash("sha256");
          out.rtts.push(performance.now() - sendTimes.shift()!);
        }
      }
      if (!stopped()) while (sentChunks - recvChunks < p.window) sendOne();
      else if (received >= sentChunks * chunk) resolveRun({ sent: sentChunks * chunk, received });
    };
    for (let i = 0; i < p.window; i++) sendOne();
  });
}

async function workerMain(p: WorkerParams): Promise<void> {
  const port = parentPort!;
  // Each pool entry is a DATA packet: 5 bytes of header room (filled per send), then the chunk.
  const pool = Array.from({ length: POOL }, () => randomBytes(WISP_HEADER_SIZE + p.chunk));
  const digests = pool.map((c) => createHash("sha256").update(c.subarray(WISP_HEADER_SIZE)).digest());
  const clients: LeanWispClient[] = [];
  for (let i = 0; i < p.clients; i += 50)
    clients.push(
      ...(await Promise.all(Array.from({ length: Math.min(50, p.clients - i) }, () => LeanWispClient.connect(p.url)))),
    );
  let stop = false;
  port.on("message", (m: string) => {
    if (m === "stop") stop = true;
  });
  await new Promise<void>((r) => {
    port.once("message", () => r());
    port.postMessage("ready");
  });
  const acc = { rtts: [] as number[], mismatches: 0, chunksVerified: 0 };
  const result: WorkerResult = {
    sent: 0,
    received: 0,
    chunksVerified: 0,
    mismatches: 0,
    short: 0,
    rtts: new Float64Array(),
    error: null,
  };
  try {
    const runs = await Promise.all(
      clients.flatMap((c) =>
        Array.from({ length: p.streams }, () =>
          runStream(c.open("127.0.0.1", p.echoPort), pool, digests, p, () => stop, acc),
        ),
      ),
    );
    for (const r of runs) {
      result.sent += r.sent;
      result.received += r.received;
      if (r.sent !== r.received) result.short++;
    }
  } catch (err) {
    result.error = (err as Error).message;
  }
  result.chunksVerified = acc.chunksVerified;
  result.mismatches = acc.mismatches;
  result.rtts = Float64Array.from(acc.rtts);
  for (const c of clients) c.close();
  port.postMessage(result, [result.rtts.buffer as ArrayBuffer]);
}

// ---------------------------------------------------------------------------------------------------
// Main thread: processes, workers, garbage clients, report.

interface Relay {
  child: ChildProcess;
  port: number;
}

function startRelay(clients: number, streams: number): Promise<Relay> {
  const child = spawn(
    process.execPath,
    [
      // e.g. RELAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the relay alone
      ...(process.env.RELAY_NODE_ARGS ?? "").split(" ").filter(Boolean),
      "--import",
      "tsx",
      join(ROOT, "src/relay/main.ts"),
      "--listen",
      "127.0.0.1:0",
      "--no-auth",
      "--allow",
      "127.0.0.1",
      "--max-clients",
      String(clients * 2 + 100),
      "--max-clients-per-ip",
      String(clients * 2 + 100),
      "--max-streams",
      String(streams + 8),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(child);
  child.once("exit", () => children.delete(child));
  const lines = createInterface({ input: child.stdout! });
  return new Promise<Relay>((res, rej) => {
    child.once("exit", (c) => rej(new Error(`relay exited ${c}`)));
    lines.on("line", (l) => {
      if (l.includes('"relay.listening"')) res({ child, port: JSON.parse(l).port });
      // e.g. RELAY_NODE_ARGS=--trace-gc: whatever the relay prints that is not a log line is shown
      else if (!l.startsWith("{")) console.log(`relay: ${l}`);
    });
  });
}

/** VmHWM: a process's peak resident set, from the kernel. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const [user, sys] = cpuSplit(pid);
  return user + sys;
}

/** [user, system] CPU seconds of a process. */
function cpuSplit(pid: number): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return [Number(fields[11]) / 100, Number(fields[12]) / 100];
}

/** Busy CPU seconds of the whole machine (all processes, all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)) / 100;
}

async function denials(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^relay_denials_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

/** A client that only sends junk, reconnecting each time the relay closes it. */
function garbageClient(url: string, stopAt: () => boolean): Promise<number> {
  let connections = 0;
  // Built once: the bench must not spend its own CPU making garbage, or it measures itself.
  const junk: (Uint8Array | string)[] = [
    ...Array.from({ length: 8 }, () => randomBytes(1 + Math.floor(Math.random() * 200))),
    Buffer.from([0x09, 1, 0, 0, 0]),
    encodeData(12345, Buffer.alloc(100)),
    encodeConnect(0, STREAM_TYPE_TCP, 80, "127.0.0.1"),
    encodeConnect(7, STREAM_TYPE_TCP, 80, "10.0.0.1"),
    Buffer.alloc(200_000), // over the frame limit
    "text is not allowed",
  ];
  return new Promise((done) => {
    const once = () => {
      if (stopAt()) return done(connections);
      connections++;
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.on("error", () => {});
      ws.on("close", () => setTimeout(once, 5));
      ws.on("open", () => {
        const t = setInterval(() => {
          if (stopAt() || ws.readyState !== WebSocket.OPEN) {
            clearInterval(t);
            ws.close();
            return;
          }
          for (let i = 0; i < 32 && ws.bufferedAmount < 1 << 20; i++)
            ws.send(junk[Math.floor(Math.random() * junk.length)]!);
        }, 1);
      });
    };
    once();
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : Number.NaN;
}

interface PhaseResult {
  good: number;
  bad: number;
  seconds: number;
  bytes: number;
  mbps: number;
  perClientMbps: number;
  p50: number;
  p99: number;
  peakRss: number;
  denials: number;
  verified: boolean;
  chunksVerified: number;
  badConnections: number;
  /** Share of one core each process used over the phase; `machine` is all processes on all cores. */
  relayCpu: number;
  benchCpu: number;
  echoCpu: number;
  machineCpu: number;
  /** The kernel's part (system time) of relayCpu, benchCpu, echoCpu. */
  relaySys: number;
  benchSys: number;
  echoSys: number;
  mbPerCpuSecond: number;
}

interface Options {
  clients: number;
  streams: number;
  seconds: number;
  chunk: number;
  window: number;
  workers: number;
}

async function phase(o: Options, garbageFraction: number, echo: Echo): Promise<PhaseResult> {
  const relay = await startRelay(o.clients, o.streams);
  const url = `ws://127.0.0.1:${relay.port}/wisp/`;
  const bad = Math.round(o.clients * garbageFraction);
  const good = o.clients - bad;
  const workers = Array.from({ length: o.workers }, (_, i) => {
    const share = Math.floor(good / o.workers) + (i < good % o.workers ? 1 : 0);
    const params: WorkerParams = {
      url,
      echoPort: echo.port,
      clients: share,
      streams: o.streams,
      chunk: o.chunk,
      window: o.window,
    };
    return new Worker(WORKER_BOOT, { eval: true, workerData: params });
  });
  const outcome = (w: Worker, kind: "ready" | "result") =>
    new Promise<WorkerResult | "ready">((res, rej) => {
      const onMsg = (m: WorkerResult | "ready") => {
        if ((kind === "ready") === (m === "ready")) {
          w.off("message", onMsg);
          res(m);
        }
      };
      w.on("message", onMsg);
      w.once("error", rej);
    });
  await Promise.all(workers.map((w) => outcome(w, "ready")));
  let stop = false;
  const stopAt = () => stop;
  const pid = relay.child.pid!;
  const cpu0 = {
    relaySys: cpuSplit(pid)[1],
    echoSys: cpuSplit(echo.pid)[1],
    relay: cpuSeconds(pid),
    echo: cpuSeconds(echo.pid),
    bench: process.cpuUsage(),
    m: machineBusySeconds(),
  };
  const results = workers.map((w) => outcome(w, "result") as Promise<WorkerResult>);
  const t0 = performance.now();
  for (const w of workers) w.postMessage("go");
  const garbage = Array.from({ length: bad }, () => garbageClient(url, stopAt));
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  stop = true;
  for (const w of workers) w.postMessage("stop");
  const rs = await Promise.all(results);
  const seconds = (performance.now() - t0) / 1000;
  const relayCpu = cpuSeconds(pid) - cpu0.relay;
  const echoCpu = cpuSeconds(echo.pid) - cpu0.echo;
  const relaySys = cpuSplit(pid)[1] - cpu0.relaySys;
  const echoSys = cpuSplit(echo.pid)[1] - cpu0.echoSys;
  const bu = process.cpuUsage(cpu0.bench);
  const machineCpu = machineBusySeconds() - cpu0.m;
  const badConnections = (await Promise.all(garbage)).reduce((a, b) => a + b, 0);
  await Promise.all(workers.map((w) => w.terminate()));
  for (const r of rs) if (r.error) throw new Error(`worker: ${r.error}`);
  const denied = await denials(relay.port);
  const peakRss = peakRssMiB(pid);
  relay.child.kill("SIGTERM");
  await new Promise((r) => relay.child.once("exit", r));
  const all = new Float64Array(rs.reduce((a, r) => a + r.rtts.length, 0));
  let at = 0;
  for (const r of rs) {
    all.set(r.rtts, at);
    at += r.rtts.length;
  }
  all.sort();
  // Echo: every byte crosses the relay twice (up and down).
  const bytes = rs.reduce((a, r) => a + r.sent + r.received, 0);
  const verified = rs.every((r) => r.mismatches === 0 && r.short === 0 && r.sent === r.received);
  return {
    good,
    bad,
    seconds,
    bytes,
    mbps: bytes / 1e6 / seconds,
    perClientMbps: bytes / 1e6 / seconds / good,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    peakRss,
    denials: denied,
    verified,
    chunksVerified: rs.reduce((a, r) => a + r.chunksVerified, 0),
    badConnections,
    relayCpu: relayCpu / seconds,
    benchCpu: (bu.user + bu.system) / 1e6 / seconds,
    relaySys: relaySys / seconds,
    benchSys: bu.system / 1e6 / seconds,
    echoSys: echoSys / seconds,
    echoCpu: echoCpu / seconds,
    machineCpu: machineCpu / seconds,
    mbPerCpuSecond: bytes / 1e6 / relayCpu,
  };
}

interface Echo {
  port: number;
  pid: number;
  close(): Promise<void>;
}

/** The echo server in its own process: each socket piped to itself, nothing else. */
async function startEcho(): Promise<Echo> {
  const src = `const s=require("node:net").createServer((c)=>{c.on("error",()=>{});c.pipe(c)});
s.listen(0,"127.0.0.1",()=>console.log(s.address().port));`;
  const child = spawn(process.execPath, ["-e", src], { stdio: ["ignore", "pipe", "inherit"] });
  children.add(child);
  const port = await new Promise<number>((res) => child.stdout!.once("data", (d) => res(Number(`${d}`.trim()))));
  return {
    port,
    pid: child.pid!,
    close: async () => {
      child.kill();
      await new Promise((r) => child.once("exit", r));
    },
  };
}

async function main(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      clients: { type: "string", default: "200" },
      streams: { type: "string", default: "10" },
      seconds: { type: "string", default: "30" },
      chunk: { type: "string", default: "65536" },
      window: { type: "string", default: "1" },
      workers: { type: "string", default: "2" },
      garbage: { type: "string", default: "0.05" },
      // For iteration: the clean phase only, printed, no results file.
      "clean-only": { type: "boolean", default: false },
      out: { type: "string", default: join(ROOT, "bench/relay-results.md") },
    },
  });
  const o: Options = {
    clients: Number(opt.clients),
    streams: Number(opt.streams),
    seconds: Number(opt.seconds),
    chunk: Number(opt.chunk),
    window: Number(opt.window),
    workers: Number(opt.workers),
  };
  const GARBAGE = Number(opt.garbage);
  const load = loadavg();
  const echo = await startEcho();
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const line = (name: string, r: PhaseResult) =>
    `| ${name} | ${r.good} + ${r.bad} | ${r.mbps.toFixed(1)} | ${r.perClientMbps.toFixed(3)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.peakRss.toFixed(0)} | ${r.denials} | ${r.verified ? "yes" : "**NO**"} | ${pct(r.relayCpu)} | ${r.mbPerCpuSecond.toFixed(0)} | ${pct(r.benchCpu)} | ${pct(r.echoCpu)} | ${pct(r.machineCpu)} |`;
  console.log(
    `relay bench: ${o.clients} clients × ${o.streams} streams, ${o.seconds} s per phase, ${o.chunk} B chunks, window ${o.window}, ${o.workers} workers; load average ${load.map((l) => l.toFixed(2)).join(" ")}`,
  );
  const sys = (r: PhaseResult) =>
    `  system time: relay ${pct(r.relaySys)}, bench ${pct(r.benchSys)}, echo ${pct(r.echoSys)}; MB per CPU-s of the three: ${(r.mbps / (r.relayCpu + r.benchCpu + r.echoCpu)).toFixed(0)}`;
  const clean = await phase(o, 0, echo);
  console.log(line("clean", clean));
  console.log(sys(clean));
  if (opt["clean-only"]) {
    await echo.close();
    return;
  }
  const dirty = await phase(o, GARBAGE, echo);
  console.log(line(`${(GARBAGE * 100).toFixed(0)}% garbage`, dirty));
  console.log(sys(dirty));
  await echo.close();
  const drop = 1 - dirty.perClientMbps / clean.perClientMbps;
  const n = cpus().length;
  const ownCores = (r: PhaseResult) => r.relayCpu + r.benchCpu + r.echoCpu;
  const ours = (r: PhaseResult) => ownCores(r).toFixed(2);
  const md = `# Relay benchmark

Written by \`npm run bench:relay\` (bench/relay.ts). Loopback only: the relay (\`src/relay/main.ts\`) in its own
process, a TCP echo server (each socket piped to itself) in another, the well-behaved Wisp clients spread
over ${o.workers} worker threads of the bench process, the garbage clients on its main thread — all sharing the
machine's ${n} cores (and, on the shared build machine, with whatever else runs).

The well-behaved clients speak WebSocket through a client written for the bench (bench/relay-client.ts),
not the \`ws\` package: what the relay receives is the same (an RFC 6455 upgrade, then binary frames, each
masked with a fresh random key), but the client reads into one buffer per thread and hashes payload where
it lands, masks into reused send buffers, and sends what one read triggers in one writev. It replaced \`ws\`
(2026-11-23) because the load generator shares the cores with the relay: with \`ws\` it used 56% of a core at
347 MB/s (per-message allocations, copies and GC), CPU the relay then could not have.

Each stream keeps ${o.window} chunk${o.window === 1 ? "" : "s"} of ${o.chunk} B in flight (one Wisp DATA packet each, far below the relay's
CONTINUE credit). Every byte is checked: what comes back on a stream is fed to SHA-256 chunk by chunk, and
each chunk's digest must equal the SHA-256 of the chunk sent in that position (streams draw their chunks
from a pool of ${POOL} random ones, each in its own order, so the sent side's digests are computed once, not
per send). A stream also fails the run if it gets any CLOSE or ends with fewer bytes than it sent.
Throughput counts payload bytes through the relay both ways (up + down: each echoed byte counts twice),
over the phase including the final drain; latency is from sending a chunk to the last byte of its echo
(includes queueing behind the other ${o.clients * o.streams} streams).

- date: ${new Date().toISOString().slice(0, 10)}
- machine: ${n} × ${cpus()[0]?.model.trim() ?? "?"}, Node ${process.version}
- load average at start (1, 5, 15 min): ${load.map((l) => l.toFixed(2)).join(", ")}
- load: ${o.clients} clients × ${o.streams} streams, ${o.seconds} s per phase, ${o.chunk} B chunks, window ${o.window}, ${o.workers} client workers

| phase | clients (good + garbage) | MB/s | MB/s per good client | p50 RTT ms | p99 RTT ms | relay peak RSS MiB | denials | all bytes verified | relay CPU | MB per relay CPU-s | bench CPU | echo CPU | machine CPU |
|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|
${line("clean", clean)}
${line(`${(GARBAGE * 100).toFixed(0)}% garbage`, dirty)}

CPU per phase (cores): relay + bench + echo = ${ours(clean)} (clean), ${ours(dirty)} (garbage); everything
else on the machine (other tenants, kernel threads) = ${(clean.machineCpu - ownCores(clean)).toFixed(2)} and ${(dirty.machineCpu - ownCores(dirty)).toFixed(2)}. The three
processes together moved ${(clean.mbps / ownCores(clean)).toFixed(0)} MB per CPU-second in the clean phase: the target (500 MB/s) needs
${(500 / (clean.mbps / ownCores(clean))).toFixed(2)} cores at that cost. Of each process's CPU, the kernel's part (system time: mostly
loopback TCP, which every byte crosses four times) was, clean / garbage: relay ${pct(clean.relaySys)} / ${pct(dirty.relaySys)}, bench
${pct(clean.benchSys)} / ${pct(dirty.benchSys)}, echo ${pct(clean.echoSys)} / ${pct(dirty.echoSys)}.

Chunks verified by digest: ${clean.chunksVerified} (clean), ${dirty.chunksVerified} (garbage phase); mismatches: 0 unless
"all bytes verified" says NO. Denials in the garbage phase are the garbage clients' own CONNECTs to
10.0.0.1 (refused on purpose); a well-behaved stream that got any CLOSE would have failed the run.
CPU columns are shares of one core over the phase (relay process, bench process with all its threads,
echo process; "machine" is every process on all ${n} cores, ${n * 100}% = saturated). "MB per relay CPU-s" is
the relay's cost apart from the clients and echo server sharing the machine: the throughput one dedicated
core would sustain. Garbage clients reconnected ${dirty.badConnections} times. Per-good-client throughput change with
garbage: ${(-drop * 100).toFixed(1)}% (target: no worse than −20%). Targets (issue 7): ≥ 500 MB/s, 0 bytes lost,
RSS ≤ 300 MB, 0 denials.
`;
  writeFileSync(opt.out!, md);
  console.log(`wrote ${opt.out}`);
  if (!clean.verified || !dirty.verified) process.exitCode = 1;
}

if (isMainThread)
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
else
  workerMain(workerData as WorkerParams).catch((err) => {
    parentPort!.postMessage({ error: (err as Error).message });
  });
