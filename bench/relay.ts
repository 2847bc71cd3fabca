// `npm run bench:relay`: load on the Wisp relay over loopback only. The relay runs as its own process
// (`src/relay/main.ts`, as deployed); this process runs a TCP echo server and the clients. Phase 1:
// N clients × M streams echo for S seconds, each stream keeping a window of chunks in flight, every
// byte checked by SHA-256 (sent vs echoed, per stream). Phase 2: the same with a fraction of the
// clients replaced by ones sending garbage (malformed packets, text, oversized frames) and reconnecting
// whenever the relay throws them out. Reports throughput, round-trip latency, the relay's peak RSS
// and denials, and writes bench/relay-results.md.
//
//   npm run bench:relay -- [--clients 200] [--streams 10] [--seconds 30] [--chunk 16384] [--window 4]

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, type Hash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { encodeConnect, encodeData, STREAM_TYPE_TCP } from "../src/relay/wisp/packet.ts";
import { type TestStream, TestWispClient } from "../tests/relay/wisp-test-client.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const { values: opt } = parseArgs({
  options: {
    clients: { type: "string", default: "200" },
    streams: { type: "string", default: "10" },
    seconds: { type: "string", default: "30" },
    chunk: { type: "string", default: "16384" },
    window: { type: "string", default: "4" },
    garbage: { type: "string", default: "0.05" },
    out: { type: "string", default: join(ROOT, "bench/relay-results.md") },
  },
});
const CLIENTS = Number(opt.clients);
const STREAMS = Number(opt.streams);
const SECONDS = Number(opt.seconds);
const CHUNK = Number(opt.chunk);
const WINDOW = Number(opt.window);
const GARBAGE = Number(opt.garbage);

interface Relay {
  child: ChildProcess;
  port: number;
}

async function startRelay(): Promise<Relay> {
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
      String(CLIENTS * 2 + 100),
      "--max-clients-per-ip",
      String(CLIENTS * 2 + 100),
      "--max-streams",
      String(STREAMS + 8),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((res, rej) => {
    child.once("exit", (c) => rej(new Error(`relay exited ${c}`)));
    lines.on("line", (l) => {
      if (l.includes('"relay.listening"')) res(JSON.parse(l).port);
    });
  });
  return { child, port };
}

/** VmHWM: the relay process's peak resident set, from the kernel. */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user + system) the relay process has used, from /proc/<pid>/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function denials(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^relay_denials_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

interface StreamRun {
  sent: number;
  received: number;
  sentHash: Hash;
  recvHash: Hash;
  rtts: number[];
}

/** One echo stream: keeps WINDOW chunks in flight until `stop()`, then drains. */
function runStream(s: TestStream, pattern: Buffer, stopAt: () => boolean): Promise<StreamRun> {
  const run: StreamRun = {
    sent: 0,
    received: 0,
    sentHash: createHash("sha256"),
    recvHash: createHash("sha256"),
    rtts: [],
  };
  const inflight: { end: number; t: number }[] = [];
  let k = 0;
  const sendOne = () => {
    const off = (k++ * 7919) % (pattern.length - CHUNK);
    const chunk = pattern.subarray(off, off + CHUNK);
    run.sentHash.update(chunk);
    run.sent += CHUNK;
    inflight.push({ end: run.sent, t: performance.now() });
    s.send(chunk);
  };
  return new Promise((resolveRun, reject) => {
    s.closed.then((reason) => reject(new Error(`stream closed by relay: 0x${reason.toString(16)}`)));
    s.onData = (d) => {
      run.recvHash.update(d);
      run.received += d.length;
      const now = performance.now();
      while (inflight.length > 0 && inflight[0]!.end <= run.received) run.rtts.push(now - inflight.shift()!.t);
      if (!stopAt()) while (inflight.length < WINDOW) sendOne();
      else if (run.received === run.sent) resolveRun(run);
    };
    for (let i = 0; i < WINDOW; i++) sendOne();
  });
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
          // A burst per tick: the bench's event loop is busy with the good clients, and a garbage
          // client that only got one message out per turn would hardly be a load.
          for (let i = 0; i < 32 && ws.bufferedAmount < 1 << 20; i++)
            ws.send(junk[Math.floor(Math.random() * junk.length)]!);
        }, 1);
      });
    };
    once();
  });
}

function percentile(sorted: number[], p: number): number {
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
  badConnections: number;
  /** Share of one core the relay used, and MB it moved per CPU-second: its cost apart from the clients'. */
  relayCpu: number;
  mbPerCpuSecond: number;
}

async function phase(garbageFraction: number, echoPort: number): Promise<PhaseResult> {
  const relay = await startRelay();
  const url = `ws://127.0.0.1:${relay.port}/wisp/`;
  const bad = Math.round(CLIENTS * garbageFraction);
  const good = CLIENTS - bad;
  const clients: TestWispClient[] = [];
  for (let i = 0; i < good; i += 50)
    clients.push(
      ...(await Promise.all(Array.from({ length: Math.min(50, good - i) }, () => TestWispClient.connect(url)))),
    );
  const pattern = randomBytes(1 << 20);
  let stop = false;
  const stopAt = () => stop;
  const cpu0 = cpuSeconds(relay.child.pid!);
  const t0 = performance.now();
  const runs = clients.flatMap((c) =>
    Array.from({ length: STREAMS }, () => runStream(c.open("127.0.0.1", echoPort), pattern, stopAt)),
  );
  const garbage = Array.from({ length: bad }, () => garbageClient(url, stopAt));
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  stop = true;
  const results = await Promise.all(runs);
  const seconds = (performance.now() - t0) / 1000;
  const badConnections = (await Promise.all(garbage)).reduce((a, b) => a + b, 0);
  const cpu = cpuSeconds(relay.child.pid!) - cpu0;
  const denied = await denials(relay.port);
  const peakRss = peakRssMiB(relay.child.pid!);
  for (const c of clients) c.close();
  relay.child.kill("SIGTERM");
  await new Promise((r) => relay.child.once("exit", r));
  const rtts = results.flatMap((r) => r.rtts).sort((a, b) => a - b);
  // Echo: every byte crosses the relay twice (up and down).
  const bytes = results.reduce((a, r) => a + r.sent + r.received, 0);
  const verified = results.every((r) => r.sent === r.received && r.sentHash.digest("hex") === r.recvHash.digest("hex"));
  return {
    good,
    bad,
    seconds,
    bytes,
    mbps: bytes / 1e6 / seconds,
    perClientMbps: bytes / 1e6 / seconds / good,
    p50: percentile(rtts, 50),
    p99: percentile(rtts, 99),
    peakRss,
    denials: denied,
    verified,
    badConnections,
    relayCpu: cpu / seconds,
    mbPerCpuSecond: bytes / 1e6 / cpu,
  };
}

/** The echo server in its own process, so it does not share an event loop with the clients. */
async function startEcho(): Promise<{ port: number; close(): Promise<void> }> {
  const src = `const s=require("node:net").createServer((c)=>{c.on("error",()=>{});c.pipe(c)});
s.listen(0,"127.0.0.1",()=>console.log(s.address().port));`;
  const child = spawn(process.execPath, ["-e", src], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((res) => child.stdout!.once("data", (d) => res(Number(`${d}`.trim()))));
  return {
    port,
    close: async () => {
      child.kill();
      await new Promise((r) => child.once("exit", r));
    },
  };
}

async function main(): Promise<void> {
  const echo = await startEcho();
  const line = (name: string, r: PhaseResult) =>
    `| ${name} | ${r.good} + ${r.bad} | ${r.mbps.toFixed(1)} | ${r.perClientMbps.toFixed(3)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.peakRss.toFixed(0)} | ${r.denials} | ${r.verified ? "yes" : "**NO**"} | ${(r.relayCpu * 100).toFixed(0)}% | ${r.mbPerCpuSecond.toFixed(0)} |`;
  console.log(
    `relay bench: ${CLIENTS} clients × ${STREAMS} streams, ${SECONDS} s per phase, ${CHUNK} B chunks, window ${WINDOW}`,
  );
  const clean = await phase(0, echo.port);
  console.log(line("clean", clean));
  const dirty = await phase(GARBAGE, echo.port);
  console.log(line(`${(GARBAGE * 100).toFixed(0)}% garbage`, dirty));
  await echo.close();
  const drop = 1 - dirty.perClientMbps / clean.perClientMbps;
  const md = `# Relay benchmark

Written by \`npm run bench:relay\` (bench/relay.ts). Loopback only: the relay (\`src/relay/main.ts\`) in its own
process, a TCP echo server in another, all Wisp clients in the bench process — they share the machine's cores
(and, on the shared build machine, with whatever else runs).
Each stream keeps ${WINDOW} chunks of ${CHUNK} B in flight; every byte is checked (SHA-256 of what a stream
sent vs what came back). Throughput counts bytes through the relay both ways (up + down); latency is
from sending a chunk to the last byte of its echo (includes queueing behind the window).

- date: ${new Date().toISOString().slice(0, 10)}
- machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? "?"}, Node ${process.version}
- load: ${CLIENTS} clients × ${STREAMS} streams, ${SECONDS} s per phase

| phase | clients (good + garbage) | MB/s | MB/s per good client | p50 RTT ms | p99 RTT ms | relay peak RSS MiB | denials | all bytes verified | relay CPU | MB per relay CPU-s |
|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|
${line("clean", clean)}
${line(`${(GARBAGE * 100).toFixed(0)}% garbage`, dirty)}

Denials in the garbage phase are the garbage clients' own CONNECTs to 10.0.0.1 (refused on purpose); a
well-behaved stream that got any CLOSE would have failed the run. "MB per relay CPU-s" is the relay's
cost apart from the clients and echo server sharing the machine: the throughput one dedicated core
would sustain. Garbage clients reconnected ${dirty.badConnections} times. Per-good-client throughput change with garbage:
${(-drop * 100).toFixed(1)}% (target: no worse than −20%). Targets (issue 7): ≥ 500 MB/s, 0 bytes lost, RSS ≤ 300 MB, 0 denials.
`;
  writeFileSync(opt.out!, md);
  console.log(`wrote ${opt.out}`);
  if (!clean.verified || !dirty.verified) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
