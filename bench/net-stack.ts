// Guest download and upload through the in-page TCP/IP stack (issue 6), beside QEMU's user-mode
// networking (slirp) on the same guest image in the same run. The guest reaches an HTTP server and a
// TCP sink on the host's 127.0.0.1 as 10.0.2.2:PORT in both. Timing is host-side, at the servers:
// download from the HTTP request to the guest closing the connection (wget closes once it has every
// byte); upload from the connection to its end-of-stream. Then one more vireo run under the V8
// profiler, to report the CPU the stack itself (src/net/) and the device (devices/virtio-net/) spend
// per MiB moved.

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { NET_OFFLOADS_OFF } from "./net.ts";

const MIB = Number(process.env.BENCH_STACK_MIB ?? 64);
const RUNS = Number(process.env.BENCH_STACK_RUNS ?? 3);
const BYTES = MIB * 1024 * 1024;
const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[ -/]*[@-~]`, "g");
// Anywhere, not only at the end: kernel messages (link up) may follow the prompt.
const PROMPT = /vireo:[^#\n]*# /;
const DONE = "bench-net-done";

interface Servers {
  httpPort: number;
  sinkPort: number;
  closedPort: number;
  downloads: { ms: number; bytes: number }[];
  uploads: { ms: number; bytes: number }[];
  close(): void;
}

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

async function startServers(): Promise<Servers> {
  const body = Buffer.alloc(BYTES);
  for (let i = 0; i < BYTES; i += 4) body.writeUInt32LE(Math.imul(i, 2654435761) >>> 0, i);
  const downloads: Servers["downloads"] = [];
  const uploads: Servers["uploads"] = [];
  const http = createHttpServer((req, res) => {
    const t0 = performance.now();
    let bytes = 0;
    res.writeHead(200, { "content-length": body.length, connection: "close" });
    res.end(body, () => {
      bytes = body.length;
    });
    req.socket.on("close", () => downloads.push({ ms: performance.now() - t0, bytes }));
  });
  const sink = createServer((s) => {
    const t0 = performance.now();
    let bytes = 0;
    s.on("data", (d: Buffer) => {
      bytes += d.length;
    });
    s.on("end", () => {
      uploads.push({ ms: performance.now() - t0, bytes });
      s.end();
    });
    s.on("error", () => {});
  });
  // A port nobody listens on: a refused connect warms up Linux's first-connect port table.
  const probe = createServer();
  const closedPort = await listen(probe);
  probe.close();
  return {
    httpPort: await listen(http),
    sinkPort: await listen(sink),
    closedPort,
    downloads,
    uploads,
    close() {
      http.close();
      sink.close();
    },
  };
}

function guestCommand(s: Servers): string {
  return [
    "udhcpc -i eth0 -n -q -t 5 >/dev/null 2>&1",
    `nc 10.0.2.2 ${s.closedPort} </dev/null 2>/dev/null`,
    `dd if=/dev/zero of=/tmp/up bs=1M count=${MIB} 2>/dev/null`,
    `wget -q -O /dev/null http://10.0.2.2:${s.httpPort}/blob`,
    // cat behind nc -e writes the socket with sendfile, so TCP can build TSO superpackets.
    `nc 10.0.2.2 ${s.sinkPort} -e cat /tmp/up`,
    `echo bench-net-d''one`,
    "poweroff -f",
  ].join("; ");
}

/** Spawns a machine with its console on stdio, types `command` at the prompt, and waits for DONE. */
function drive(cmd: string, args: string[], command: string, env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    let text = "";
    let typed = false;
    let finished = false;
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`${cmd} timed out; console tail:\n${text.slice(-2000)}`));
    }, 300_000);
    p.stdout.on("data", (d: Buffer) => {
      text += d.toString("latin1").replace(CSI, "");
      if (text.length > 100_000) text = text.slice(-50_000);
      if (!typed && PROMPT.test(text)) {
        typed = true;
        p.stdin.write(`${command}\n`);
      } else if (typed && !finished && text.includes(DONE)) {
        // The guest powers off next, so the process exits by itself (and --cpu-prof writes its profile).
        finished = true;
        setTimeout(() => p.kill("SIGKILL"), 30_000).unref();
      }
    });
    p.stderr.on("data", () => {});
    p.on("exit", () => {
      clearTimeout(timer);
      if (finished) resolvePromise();
      else reject(new Error(`${cmd} exited before the transfer ended; console tail:\n${text.slice(-2000)}`));
    });
    p.on("error", reject);
  });
}

const ROOT = resolve(import.meta.dirname, "..");
const IMAGES = join(ROOT, "public/images");

function vireoArgs(features: string, profileDir?: string): string[] {
  return [
    ...(profileDir !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
    "--import",
    "tsx",
    join(ROOT, "src/cli/vm.ts"),
    "--net",
    "stack",
    ...(features !== "" ? [`--net-features=${features}`] : []),
  ];
}

function qemuArgs(): string[] {
  return [
    ...["-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-nodefaults", "-serial", "stdio"],
    ...["-bios", join(IMAGES, "fw_dynamic.bin"), "-kernel", join(IMAGES, "Image")],
    ...["-initrd", join(IMAGES, "initramfs.cpio"), "-append", "console=ttyS0"],
    ...["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"],
  ];
}

interface Row {
  label: string;
  downMBs: number;
  upMBs: number;
  /** Runs that ended short and were repeated. */
  short: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * RUNS download+upload runs. `retries` incomplete runs are tolerated and repeated (the reference only:
 * QEMU's slirp has been seen to end an upload short, once in many runs; for vireo a short transfer is a
 * bug and fails the bench).
 */
async function measure(s: Servers, label: string, run: () => Promise<void>, retries = 0): Promise<Row> {
  const down: number[] = [];
  const up: number[] = [];
  let short = 0;
  while (down.length < RUNS) {
    const d0 = s.downloads.length;
    const u0 = s.uploads.length;
    await run();
    const d = s.downloads[d0];
    const u = s.uploads[u0];
    const problem =
      d === undefined || d.bytes !== BYTES
        ? `the download moved ${d?.bytes ?? 0} bytes`
        : u === undefined || u.bytes !== BYTES
          ? `the upload moved ${u?.bytes ?? 0} bytes`
          : undefined;
    if (problem !== undefined) {
      if (++short > retries) throw new Error(`${label}: ${problem} (of ${BYTES})`);
      console.log(`${label}: ${problem} (of ${BYTES}); run repeated`);
      continue;
    }
    down.push(BYTES / (d as { ms: number }).ms / 1e3);
    up.push(BYTES / (u as { ms: number }).ms / 1e3);
  }
  return { label, downMBs: median(down), upMBs: median(up), short };
}

interface CpuShare {
  stackMsPerMiB: number;
  deviceMsPerMiB: number;
  totalMs: number;
}

/** Self time of the functions under src/net/ and devices/virtio-net/ in a V8 profile of one vireo run. */
function cpuShare(dir: string, mibMoved: number): CpuShare {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error("no V8 profile was written");
  const prof = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
    nodes: { id: number; callFrame: { url: string } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const url = new Map(prof.nodes.map((n) => [n.id, n.callFrame.url]));
  let stack = 0;
  let device = 0;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    const u = url.get(prof.samples[i]) ?? "";
    total += dt;
    if (u.includes("/src/net/")) stack += dt;
    else if (u.includes("/devices/virtio-net/")) device += dt;
  }
  return { stackMsPerMiB: stack / 1e3 / mibMoved, deviceMsPerMiB: device / 1e3 / mibMoved, totalMs: total / 1e3 };
}

export async function stackBench(): Promise<{ markdown: string }> {
  const s = await startServers();
  try {
    const cmd = guestCommand(s);
    const rows: Row[] = [];
    const qemu = await measure(
      s,
      "QEMU user networking (slirp)",
      () => drive("qemu-system-riscv64", qemuArgs(), cmd),
      2,
    );
    rows.push(await measure(s, "vireo, offloads on", () => drive(process.execPath, vireoArgs(""), cmd)));
    rows.push(await measure(s, "vireo, offloads off", () => drive(process.execPath, vireoArgs(NET_OFFLOADS_OFF), cmd)));
    rows.push(qemu);
    const dir = mkdtempSync(join(tmpdir(), "vireo-prof-"));
    let share: CpuShare;
    try {
      await drive(process.execPath, vireoArgs("", dir), cmd);
      share = cpuShare(dir, 2 * MIB);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const on = rows[0];
    const table = rows
      .map(
        (r) =>
          `| ${r.label} | ${r.downMBs.toFixed(1)} MB/s | ${r.upMBs.toFixed(1)} MB/s | ${((100 * r.downMBs) / qemu.downMBs).toFixed(0)}% | ${((100 * r.upMBs) / qemu.upMBs).toFixed(0)}% |`,
      )
      .join("\n");
    const markdown = `## Through the in-page stack, beside QEMU's slirp (issue 6)

One guest (\`--net stack\`, MMIO) against an HTTP server and a TCP sink on the host's 127.0.0.1, reached as
10.0.2.2:PORT; QEMU the same with \`-netdev user\` and virtio-net-device. Download: \`wget -q -O /dev/null\` of
${MIB} MiB, timed at the server from the request to the guest closing the connection. Upload: \`nc 10.0.2.2 PORT -e cat FILE\`
of ${MIB} MiB from tmpfs, timed at the sink from accept to end of stream. Median of ${RUNS}; MB = 10⁶ bytes.${qemu.short > 0 ? ` QEMU runs that ended short and were repeated: ${qemu.short}.` : ""}

| run | download | upload | download / QEMU | upload / QEMU |
|---|---:|---:|---:|---:|
${table}

Target (issue 6): with offloads on, ≥ 50% of QEMU slirp's throughput: download ${((100 * on.downMBs) / qemu.downMBs).toFixed(0)}%, upload ${((100 * on.upMBs) / qemu.upMBs).toFixed(0)}%.

CPU in the stack itself (one more offloads-on run under V8's sampling profiler; self time of the functions in
\`src/net/\` and in \`devices/virtio-net/\` over the whole run, divided by the ${2 * MIB} MiB moved; the rest is the
guest's interpreter, the virtqueues, the sockets and V8): stack ${share.stackMsPerMiB.toFixed(2)} ms/MiB,
virtio-net device ${share.deviceMsPerMiB.toFixed(2)} ms/MiB (run total ${(share.totalMs / 1000).toFixed(2)} s of CPU profile).
`;
    return { markdown };
  } finally {
    s.close();
  }
}

if (process.argv[1] === import.meta.filename) {
  const { markdown } = await stackBench();
  console.log(markdown);
}
