// `npm run bench`: vireo beside QEMU (Debian's qemu-system-riscv64, TCG) as a user meets them, in the
// same run, written to bench/results.md.
//
// The main figures are taken FROM PROCESS SPAWN: every run is a fresh `npm run vm -- …` (npm, Node, the
// CLI bundle and the WebAssembly core starting cold, as a person types it) or a fresh
// `qemu-system-riscv64 …`, timed from spawn to the banner `vireo: boot complete` on stdout, to the shell
// prompt, to a workload's end marker and to the process's exit. vireo and QEMU take turns on each figure
// (the order rotating every round); the tables show medians of BENCH_RUNS and list every run. Figures:
//   - the committed image (public/images/) booting to power-off (`vireo.poweroff=1`);
//   - the same with its initramfs gzip -9 compressed (the kernel inflates it);
//   - Debian trixie's stock riscv64 kernel (linux-image-riscv64's linux-image-<version>-riscv64 .deb,
//     fetched with apt-get through the machine's configured Debian mirror into bench/cache/, outside
//     git) with the committed initramfs, to the banner and power-off;
//   - the CPU workload (WORKLOAD: md5sum of 32 MiB of zeros and a shell loop) and a user-space compute
//     workload (USER_WORKLOAD: 16 MiB from /dev/urandom to tmpfs, gzip -9 | gunzip | sha256sum against
//     sha256sum of the file): `npm run vm -- --exec CMD` and, in QEMU, the same line typed at the prompt;
//     timed from the prompt appearing on stdout to the end marker, and spawn to exit.
// Instruction counts come from the CLI's `--stats` (instret at exit and when --exec typed its command).
// Extra rows, clearly labelled, keep the older warm in-process figures (a VirtMachine driven from this
// process after earlier runs warmed V8: not what a user sees). Then the network benchmarks
// (bench/net.ts, bench/net-stack.ts) and the page (e2e/page-bench.ts, timed from navigation).
//
// Environment switches (each part is on unless set to 0):
//   BENCH_RUNS=N     rounds of every figure (default 3); the warm in-process rows use BENCH_WARM_RUNS
//                    (default BENCH_RUNS)
//   BENCH_JITOFF=0   leave out the `--jit off` runs of the boots (the issue's "JIT never slower" check)
//   BENCH_GZIP=0     leave out the gzip-compressed initramfs rows
//   BENCH_DEBIAN=0   leave out Debian's stock kernel (and its download); BENCH_DEBIAN_REFRESH=1 fetches
//                    it again instead of using bench/cache/
//   BENCH_CPU=0      leave out the CPU workload rows
//   BENCH_USER=0     leave out the user-space compute workload rows
//   BENCH_WARM=0     leave out the warm in-process rows
//   BENCH_RESTORE=0  leave out restoring a snapshot (--restore → a command's output, beside a cold boot)
//   BENCH_NET=0      leave out guest-to-guest TCP (bench/net.ts)
//   BENCH_STACK=0    leave out the in-page stack beside QEMU's slirp (bench/net-stack.ts)
//   BENCH_9P=0       leave out files through virtio-9p beside QEMU's virtio-9p (bench/ninep.ts)
//   BENCH_PAGE=0     leave out the page in headless chromium (e2e/page-bench.ts)
//   BENCH_OUT=FILE   write the report there instead of bench/results.md
// Rough duration with the defaults on this 2-core machine (from BENCH_RUNS=1 trials under other load,
// times 3), measured while the bench still ran the TypeScript hart (`--core js`, removed since) beside
// them: the spawn figures ~15 min (most of it that hart on the two workloads), warm in-process ~4 min,
// bench/net.ts ~1 min, bench/net-stack.ts ~2 min, the page ~3 min: about 25 min in all, less now; the log
// prints each part's time. The spawn figures alone:
//   BENCH_WARM=0 BENCH_NET=0 BENCH_STACK=0 BENCH_PAGE=0 npm run bench

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { type PageMemory, pageFigures } from "../e2e/page-bench.ts";
import { loadCoreModule } from "../src/cli/core-module.ts";
import { ExecDriver } from "../src/cli/vm.ts";
import { VirtMachine, type VirtMachineOptions } from "../src/machine/virt.ts";
import { netBench } from "./net.ts";
import { stackBench } from "./net-stack.ts";
import { ninepBench } from "./ninep.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const IMAGES = join(ROOT, "public/images");
const CACHE = join(ROOT, "bench/cache");
const BOOTARGS = "console=ttyS0 earlycon=sbi";
const POWEROFF_ARGS = `${BOOTARGS} vireo.poweroff=1`;
// Debian's busybox asks the terminal for its size (ESC [ 6 n) right after the prompt.
const PROMPT = new RegExp(`vireo:[^#\\n]*# (${String.fromCharCode(27)}\\[6n)?$`);
const BANNER = "vireo: boot complete";
const ESC = String.fromCharCode(27);
/** The login's terminal-size question (guest/rootfs/etc/profile's resize): cursor to the far corner, ESC[6n. */
const SIZE_QUERY = `${ESC}[999;999H${ESC}[6n`;
const WORKLOAD =
  "dd if=/dev/zero bs=1M count=32 2>/dev/null | md5sum; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo wl-$((6*7))-end";
const WORKLOAD_END = "wl-42-end";
const USER_WORKLOAD =
  "dd if=/dev/urandom of=/tmp/r bs=1M count=16 2>/dev/null; gzip -9 < /tmp/r | gunzip | sha256sum; sha256sum /tmp/r; echo uw-$((6*7))-end";
const USER_WORKLOAD_END = "uw-42-end";
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? RUNS);
const on = (part: string): boolean => process.env[`BENCH_${part}`] !== "0";
const QEMU = "qemu-system-riscv64";

const secs = (ms: number | undefined): string => (ms === undefined ? "—" : `${(ms / 1000).toFixed(2)} s`);
const mipsText = (m: number | undefined): string => (m === undefined || !Number.isFinite(m) ? "—" : m.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? "—" : `${(a / b).toFixed(1)}×`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
/** The median of the defined values, undefined when there are none. */
function med(xs: (number | undefined)[]): number | undefined {
  const d = xs.filter((x): x is number => x !== undefined);
  return d.length === 0 ? undefined : median(d);
}

// ---- one spawned run ------------------------------------------------------------------------------

/** What one process showed on its stdout, in ms from spawn. */
interface SpawnRun {
  bannerMs?: number;
  /** The first shell prompt. */
  promptMs?: number;
  /** The command's end marker. */
  endMs?: number;
  /** Prompt → end marker: the command's time, seen from outside. */
  workMs?: number;
  exitMs: number;
  code: number | null;
  /** vireo --stats: instret at exit, and when --exec typed the command. */
  instret?: number;
  typedInstret?: number;
  /** The CLI bundle or the core was rebuilt during the run (its time is then not a user's usual start). */
  rebuilt: boolean;
  stdout: string;
  stderr: string;
}

interface SpawnSpec {
  cmd: string;
  args: string[];
  /** A line to type at the first prompt (QEMU); vireo's --exec types its own. */
  typeAtPrompt?: string;
  endMarker?: string;
  /**
   * Take the end marker whenever it shows, prompt seen or not (a restored shell's prompt and the typed
   * command can arrive in one piece of output, so no prompt ends the output).
   */
  endAnyTime?: boolean;
  timeoutMs: number;
}

function killTree(p: ChildProcess): void {
  if (p.pid === undefined) return;
  try {
    process.kill(-p.pid, "SIGKILL"); // its own process group (detached): npm, sh and node alike
  } catch {
    p.kill("SIGKILL");
  }
}

function spawnTimed(spec: SpawnSpec): Promise<SpawnRun> {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const p = spawn(spec.cmd, spec.args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const run: SpawnRun = { exitMs: 0, code: null, rebuilt: false, stdout: "", stderr: "" };
    let stdout = "";
    let stderr = "";
    let sizeAnswered = false;
    let exitAt = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(p);
    }, spec.timeoutMs);
    p.stdin.on("error", () => {});
    p.stdout.on("data", (d: Buffer) => {
      const now = performance.now() - t0;
      const from = Math.max(0, stdout.length - 64);
      stdout += d.toString("latin1");
      if (run.bannerMs === undefined && stdout.indexOf(BANNER, from) >= 0) run.bannerMs = now;
      // The image's login asks the terminal for its size (guest/rootfs/etc/profile: the cursor sent to the far
      // corner, then ESC[6n) and waits 0.5 s for an answer. vireo's CLI answers it itself when stdout is not
      // a terminal (src/cli/stand-in-terminal.ts); QEMU's serial on a pipe does not, so answer for it as a
      // person's terminal would, or QEMU's runs would carry a wait no user sees.
      if (!sizeAnswered && stdout.indexOf(SIZE_QUERY, from) >= 0) {
        sizeAnswered = true;
        p.stdin.write(`${ESC}[24;80R`);
      }
      if (run.promptMs === undefined && PROMPT.test(stdout.slice(-256))) {
        run.promptMs = now;
        if (spec.typeAtPrompt !== undefined) p.stdin.write(spec.typeAtPrompt);
      }
      if (
        (run.promptMs !== undefined || spec.endAnyTime === true) &&
        run.endMs === undefined &&
        spec.endMarker !== undefined &&
        stdout.indexOf(spec.endMarker, from) >= 0
      ) {
        run.endMs = now;
        if (run.promptMs !== undefined) run.workMs = now - run.promptMs;
      }
    });
    p.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("latin1");
    });
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on("exit", (code) => {
      exitAt = performance.now() - t0;
      run.code = code;
    });
    p.on("close", () => {
      clearTimeout(timer);
      p.stdin.destroy();
      run.exitMs = exitAt || performance.now() - t0;
      run.stdout = stdout;
      run.stderr = stderr;
      // scripts/vm.mjs says "vireo: bundling…" and scripts/build-core.mjs "core: …" when they rebuild.
      run.rebuilt = /^(vireo: bundling|core: )/m.test(stderr);
      const total = /^vireo: instret (\d+)$/m.exec(stderr);
      const typed = /^vireo: instret (\d+) when the command was typed$/m.exec(stderr);
      if (total !== null) run.instret = Number(total[1]);
      if (typed !== null) run.typedInstret = Number(typed[1]);
      if (timedOut) {
        reject(new Error(`${spec.cmd} ${spec.args.join(" ")}: timed out; stdout tail:\n${tail(stdout)}`));
      } else resolveRun(run);
    });
  });
}

function tail(s: string, n = 2000): string {
  return s.slice(-n);
}

// ---- scenarios ------------------------------------------------------------------------------------

type Variant = "vireo" | "qemu" | "off";
const VARIANT_NAME: Record<Variant, string> = {
  vireo: "vireo",
  qemu: "QEMU",
  off: "vireo --jit off",
};

interface Scenario {
  id: string;
  /** Row names in the tables. */
  title: string;
  kernel: string;
  initrd: string;
  /** A command to run at the prompt (--exec / typed), else boot with vireo.poweroff=1. */
  command?: string;
  endMarker?: string;
  timeoutMs: number;
  /** Checks a finished run's console; returns an error text or undefined. */
  check?: (stdout: string) => string | undefined;
}

function vireoArgs(s: Scenario, jitOff = false): string[] {
  const args = ["run", "vm", "--", "--stats"];
  if (jitOff) args.push("--jit", "off");
  if (s.kernel !== join(IMAGES, "Image")) args.push("--kernel", s.kernel);
  if (s.initrd !== join(IMAGES, "initramfs.cpio")) args.push("--initrd", s.initrd);
  if (s.command !== undefined) args.push("--exec", s.command);
  else args.push("--append", POWEROFF_ARGS);
  return args;
}

function qemuArgs(kernel: string, initrd: string, append: string): string[] {
  return [
    ...["-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-nodefaults", "-serial", "stdio"],
    // A virtio-net on virtio-mmio with user networking, as vireo's default `--net stack` gives the guest.
    ...["-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"],
    ...["-bios", join(IMAGES, "fw_dynamic.bin"), "-kernel", kernel],
    ...["-initrd", initrd, "-append", append],
  ];
}

async function runScenario(s: Scenario, v: Variant): Promise<SpawnRun> {
  const spec: SpawnSpec =
    v === "qemu"
      ? {
          cmd: QEMU,
          args: qemuArgs(s.kernel, s.initrd, s.command !== undefined ? BOOTARGS : POWEROFF_ARGS),
          // The same line vireo's --exec types: the command, its status, power-off.
          typeAtPrompt: s.command !== undefined ? new ExecDriver(s.command).line : undefined,
          endMarker: s.endMarker,
          timeoutMs: s.timeoutMs,
        }
      : {
          cmd: "npm",
          args: vireoArgs(s, v === "off"),
          endMarker: s.endMarker,
          timeoutMs: s.timeoutMs,
        };
  const r = await spawnTimed(spec);
  const where = `${s.id}, ${VARIANT_NAME[v]}`;
  if (r.bannerMs === undefined) throw new Error(`${where}: no banner; stdout tail:\n${tail(r.stdout)}\n${r.stderr}`);
  if (s.command !== undefined) {
    if (r.endMs === undefined) throw new Error(`${where}: no end marker; stdout tail:\n${tail(r.stdout)}\n${r.stderr}`);
    if (!/vireo-exit=0\D/.test(r.stdout)) throw new Error(`${where}: the command failed:\n${tail(r.stdout)}`);
  }
  if (v !== "qemu" && r.code !== 0) throw new Error(`${where}: exit code ${r.code}:\n${tail(r.stderr)}`);
  const bad = s.check?.(r.stdout);
  if (bad !== undefined) throw new Error(`${where}: ${bad}`);
  return r;
}

/** USER_WORKLOAD's check: the gzip round trip gave back the file (both hashes equal). */
function sameHashes(stdout: string): string | undefined {
  const piped = /\b([0-9a-f]{64}) {2}-/.exec(stdout)?.[1];
  const file = /\b([0-9a-f]{64}) {2}\/tmp\/r/.exec(stdout)?.[1];
  if (piped === undefined || file === undefined) return "no sha256sum lines in the output";
  return piped === file ? undefined : `gzip | gunzip changed the data: ${piped} ≠ ${file}`;
}

// ---- setup: the files every variant boots -----------------------------------------------------------

function gzipInitramfs(dir: string): string {
  const out = join(dir, "initramfs.cpio.gz");
  // gzip -9, as the command line would (zlib's level 9 is gzip -9's deflate; the header differs only in
  // the name and time fields, which the kernel ignores).
  try {
    execFileSync("sh", ["-c", `gzip -9 -n -c "$1" > "$2"`, "sh", join(IMAGES, "initramfs.cpio"), out]);
  } catch {
    writeFileSync(out, gzipSync(readFileSync(join(IMAGES, "initramfs.cpio")), { level: 9 }));
  }
  return out;
}

interface DebianKernel {
  /** The raw Image (decompressed when the package's was gzip-compressed), absolute. */
  path: string;
  /** Its name in bench/cache/ (the record keeps this, so the checkout may move). */
  file: string;
  package: string;
  version: string;
  suite: string;
  codename: string;
  mirror: string;
  /** The file in the package it came from, and what it was. */
  source: string;
  sha256: string;
  fetched: string;
}

/** The first Debian archive URI in the machine's apt sources (not -security or other archives). */
function aptMirror(): string {
  const files: string[] = [];
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  const d = "/etc/apt/sources.list.d";
  if (existsSync(d)) {
    for (const f of readdirSync(d).sort()) if (/\.(list|sources)$/.test(f)) files.push(join(d, f));
  }
  const isDebian = (u: string): boolean => /^https?:\/\/[^ ]+\/debian\/?$/.test(u);
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+/gm)) if (isDebian(m[1])) return m[1];
    for (const para of text.split(/\n\s*\n/)) {
      if (!/^Types:.*\bdeb\b/m.test(para)) continue;
      const uris = /^URIs:\s*(.+)$/m.exec(para)?.[1].split(/\s+/) ?? [];
      for (const u of uris) if (isDebian(u)) return u.replace(/\/$/, "");
    }
  }
  return "http://deb.debian.org/debian";
}

/**
 * Debian trixie's stock riscv64 kernel: the package linux-image-riscv64 depends on, fetched with
 * apt-get from the machine's Debian mirror through a private apt configuration (riscv64 only, its own
 * lists and cache under bench/cache/apt), its /boot/vmlinu[xz]-* kept as a raw Image in bench/cache/.
 */
function debianKernel(): DebianKernel {
  const record = join(CACHE, "debian-kernel.json");
  if (process.env.BENCH_DEBIAN_REFRESH !== "1" && existsSync(record)) {
    const k = JSON.parse(readFileSync(record, "utf8")) as DebianKernel;
    k.path = join(CACHE, k.file ?? "");
    if (k.file !== undefined && existsSync(k.path)) return k;
  }
  const apt = join(CACHE, "apt");
  for (const sub of ["sources.list.d", "preferences.d", "lists/partial", "cache/archives/partial", "state", "debs"]) {
    mkdirSync(join(apt, sub), { recursive: true });
  }
  writeFileSync(join(apt, "state/status"), "");
  const mirror = aptMirror();
  const options = [
    `Dir::Etc::SourceList=${apt}/sources.list`,
    `Dir::Etc::SourceParts=${apt}/sources.list.d`,
    `Dir::Etc::Preferences=${apt}/preferences`,
    `Dir::Etc::PreferencesParts=${apt}/preferences.d`,
    `Dir::State=${apt}/state`,
    `Dir::State::Lists=${apt}/lists`,
    `Dir::State::status=${apt}/state/status`,
    `Dir::Cache=${apt}/cache`,
    "APT::Architecture=riscv64",
    "APT::Architectures::=riscv64",
    "Acquire::Languages=none",
    ...(process.getuid?.() === 0 ? ["APT::Sandbox::User=root"] : []),
  ].flatMap((o) => ["-o", o]);
  const run = (cmd: string, args: string[], cwd = apt): string =>
    execFileSync(cmd, [...options, ...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  // trixie by name; `stable` is the same release today on the mirrors this was written against.
  let suite = "";
  let updateError = "";
  for (const s of ["trixie", "stable"]) {
    writeFileSync(
      join(apt, "sources.list"),
      `deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror} ${s} main\n`,
    );
    try {
      run("apt-get", ["-q", "update"]);
      suite = s;
      break;
    } catch (e) {
      updateError = (e as { stderr?: string }).stderr ?? String(e);
    }
  }
  if (suite === "") throw new Error(`apt-get update (riscv64, ${mirror} trixie/stable) failed: ${updateError}`);
  const release = readdirSync(join(apt, "lists")).find((f) => f.endsWith("_InRelease") || f.endsWith("_Release"));
  const codename =
    release === undefined
      ? "?"
      : (/^Codename:\s*(\S+)/m.exec(readFileSync(join(apt, "lists", release), "utf8"))?.[1] ?? "?");
  const depends = run("apt-cache", ["depends", "linux-image-riscv64"]);
  const pkg = /Depends:\s*(linux-image-\S+-riscv64)\b/.exec(depends)?.[1];
  if (pkg === undefined) throw new Error(`linux-image-riscv64 depends on no linux-image-*-riscv64:\n${depends}`);
  const version = /^Version:\s*(\S+)/m.exec(run("apt-cache", ["show", "--no-all-versions", pkg]))?.[1] ?? "?";
  const debs = join(apt, "debs");
  for (const f of readdirSync(debs)) rmSync(join(debs, f), { recursive: true, force: true });
  run("apt-get", ["-q", "download", pkg], debs);
  const deb = readdirSync(debs).find((f) => f.endsWith(".deb"));
  if (deb === undefined) throw new Error(`apt-get download ${pkg} left no .deb`);
  const x = join(debs, "x");
  mkdirSync(x);
  execFileSync("sh", [
    "-c",
    `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinu*'`,
    "sh",
    join(debs, deb),
    x,
  ]);
  const boot = join(x, "boot");
  const file = readdirSync(boot).find((f) => /^vmlinu[xz]-/.test(f));
  if (file === undefined) throw new Error(`${deb} has no /boot/vmlinux-* or /boot/vmlinuz-*`);
  let image = new Uint8Array(readFileSync(join(boot, file)));
  let what = "a raw Image (with its EFI stub header)";
  if (image[0] === 0x1f && image[1] === 0x8b) {
    image = new Uint8Array(gunzipSync(image));
    what = "gzip-compressed; decompressed to the raw Image";
  }
  // RISC-V Linux Image header: magic2 "RSC\x05" at offset 0x38.
  if (Buffer.from(image.subarray(0x38, 0x3c)).toString("latin1") !== "RSC\x05") {
    throw new Error(`/boot/${file} of ${deb} is not a RISC-V Linux Image`);
  }
  const imageFile = `Image-${pkg.replace(/^linux-image-/, "")}`;
  const path = join(CACHE, imageFile);
  writeFileSync(path, image);
  rmSync(debs, { recursive: true, force: true });
  const k: DebianKernel = {
    path,
    file: imageFile,
    package: pkg,
    version,
    suite,
    codename,
    mirror,
    source: `/boot/${file}, ${what}`,
    sha256: createHash("sha256").update(image).digest("hex"),
    fetched: new Date().toISOString(),
  };
  writeFileSync(record, `${JSON.stringify({ ...k, path: undefined }, null, 2)}\n`);
  return k;
}

// ---- warm, in-process (the older figures: not what a user sees) -----------------------------------

interface WarmFigures {
  bannerMs: number;
  bootInstr: number;
  workMs?: number;
  workInstr?: number;
}

interface WarmVariant {
  name: string;
  opts: Partial<VirtMachineOptions>;
}

function image(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(IMAGES, name)));
}

/** Drives a VirtMachine in this process; `onOutput` sees console output, may type, and stops the run with true. */
async function vireoRun(
  bootargs: string,
  opts: Partial<VirtMachineOptions>,
  onOutput: (text: string, m: VirtMachine) => boolean,
  timeoutMs = 600_000,
): Promise<void> {
  let stopped = false;
  const m = new VirtMachine({
    wasmCore: loadCoreModule(),
    ...opts,
    firmware: image("fw_dynamic.bin"),
    kernel: image("Image"),
    initrd: image("initramfs.cpio"),
    bootargs,
    onConsoleOutput: (b) => {
      if (onOutput(Buffer.from(b).toString("latin1"), m)) stopped = true;
    },
    onPowerOff: () => {
      stopped = true;
    },
  });
  const t0 = performance.now();
  while (!stopped) {
    const s = m.runSlice(20);
    if (s === "poweroff" || s === "reset") break;
    if (s === "waiting") {
      const waitMs = Math.min(10, Math.max(0, (m.nextEventNs() - m.clock.nowNs()) / 1e6));
      await new Promise((r) => setTimeout(r, waitMs));
    } else await new Promise((r) => setImmediate(r));
    if (performance.now() - t0 > timeoutMs) throw new Error("vireo run timed out");
  }
}

/** Boot to the banner, then the CPU workload typed at the prompt, in one machine. */
async function warmRun(v: WarmVariant, workload: boolean): Promise<WarmFigures> {
  const t0 = performance.now();
  let text = "";
  let typedAt = 0;
  let startInstr = 0;
  const r: WarmFigures = { bannerMs: 0, bootInstr: 0 };
  await vireoRun(workload ? BOOTARGS : POWEROFF_ARGS, v.opts, (s, m) => {
    text += s;
    if (r.bannerMs === 0 && text.includes(BANNER)) {
      r.bannerMs = performance.now() - t0;
      r.bootInstr = m.hart.instret;
      if (!workload) return true;
    }
    if (!workload) return false;
    if (typedAt === 0 && PROMPT.test(text.slice(-256))) {
      typedAt = performance.now();
      startInstr = m.hart.instret;
      text = "";
      m.sendConsoleInput(new TextEncoder().encode(`${WORKLOAD}\n`));
    } else if (typedAt !== 0 && text.includes(WORKLOAD_END)) {
      r.workMs = performance.now() - typedAt;
      r.workInstr = m.hart.instret - startInstr;
      return true;
    }
    return false;
  });
  if (r.bannerMs === 0) throw new Error(`warm ${v.name}: no banner:\n${tail(text)}`);
  if (workload && r.workMs === undefined)
    throw new Error(`warm ${v.name}: the workload did not finish:\n${tail(text)}`);
  return r;
}

// ---- report --------------------------------------------------------------------------------------

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m !== null) return m[1].trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? "unknown CPU";
}

const loadNow = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");

/** One figure's row: a time picked from each run of each variant. */
interface Row {
  label: string;
  pick: (r: SpawnRun) => number | undefined;
}

async function main(): Promise<void> {
  const loadAtStart = loadNow();
  const startedAt = new Date();
  const qemuVer = execFileSync(QEMU, ["--version"]).toString().split("\n")[0];
  const variants: Variant[] = ["vireo", "qemu"];

  // Setup, untimed: the CLI bundle and the wasm core built (as `npm install` leaves them), the gzip
  // initramfs, Debian's kernel.
  console.log("setup: building the CLI bundle and the core (npm run vm -- --help)…");
  execFileSync("npm", ["run", "--silent", "vm", "--", "--help"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  const tmp = mkdtempSync(join(tmpdir(), "vireo-bench-"));
  const plain = { kernel: join(IMAGES, "Image"), initrd: join(IMAGES, "initramfs.cpio") };
  const scenarios: Scenario[] = [{ id: "boot", title: "committed image", ...plain, timeoutMs: 300_000 }];
  let gzipBytes = 0;
  if (on("GZIP")) {
    const gz = gzipInitramfs(tmp);
    gzipBytes = readFileSync(gz).length;
    scenarios.push({ id: "gzip", title: "initramfs gzip -9", kernel: plain.kernel, initrd: gz, timeoutMs: 300_000 });
  }
  let debian: DebianKernel | undefined;
  let debianError: string | undefined;
  if (on("DEBIAN")) {
    console.log("setup: Debian's stock riscv64 kernel (bench/cache/)…");
    try {
      debian = debianKernel();
      scenarios.push({
        id: "debian",
        title: `Debian ${debian.codename} kernel ${debian.version}`,
        kernel: debian.path,
        initrd: plain.initrd,
        timeoutMs: 600_000,
      });
    } catch (e) {
      debianError = (e as Error).message;
      console.error(`setup: Debian's kernel left out: ${debianError}`);
    }
  }
  if (on("CPU")) {
    scenarios.push({
      id: "cpu",
      title: "CPU workload",
      ...plain,
      command: WORKLOAD,
      endMarker: WORKLOAD_END,
      timeoutMs: 1_200_000,
    });
  }
  if (on("USER")) {
    scenarios.push({
      id: "user",
      title: "user-space compute",
      ...plain,
      command: USER_WORKLOAD,
      endMarker: USER_WORKLOAD_END,
      timeoutMs: 1_800_000,
      check: sameHashes,
    });
  }

  // Startup alone: `npm run vm -- --help` from spawn to exit (npm, Node, the bundle loading).
  const startup: number[] = [];
  const spawnStart = performance.now();
  const runs = new Map<string, SpawnRun[]>();
  const key = (s: Scenario, v: Variant) => `${s.id}/${v}`;
  for (let i = 0; i < RUNS; i++) {
    startup.push((await spawnTimed({ cmd: "npm", args: ["run", "vm", "--", "--help"], timeoutMs: 60_000 })).exitMs);
    for (const s of scenarios) {
      // The order rotates every round, so a drift in the machine's load falls on each variant alike. The
      // boots also run with `--jit off` (the workloads would take minutes each interpreted).
      const vs: Variant[] = s.command === undefined && on("JITOFF") ? [...variants, "off"] : variants;
      const order = vs.map((_, j) => vs[(i + j) % vs.length]);
      for (const v of order) {
        const r = await runScenario(s, v);
        runs.set(key(s, v), [...(runs.get(key(s, v)) ?? []), r]);
        const parts = [`banner ${secs(r.bannerMs)}`, `exit ${secs(r.exitMs)}`];
        if (r.workMs !== undefined) parts.push(`prompt → end ${secs(r.workMs)}`);
        if (r.instret !== undefined) parts.push(`instret ${(r.instret / 1e6).toFixed(0)} M`);
        if (r.rebuilt) parts.push("(REBUILT the bundle or core during this run)");
        console.log(`run ${i + 1}/${RUNS} ${s.id.padEnd(6)} ${VARIANT_NAME[v].padEnd(15)} ${parts.join(", ")}`);
      }
    }
  }
  rmSync(tmp, { recursive: true, force: true });

  // ---- the spawn tables
  const get = (s: Scenario, v: Variant) => runs.get(key(s, v)) ?? [];
  const fig = (s: Scenario, v: Variant, pick: (r: SpawnRun) => number | undefined) => med(get(s, v).map(pick));
  const rowsFor = (s: Scenario): Row[] =>
    s.command === undefined
      ? [
          { label: `${s.title}: spawn → \`${BANNER}\``, pick: (r) => r.bannerMs },
          { label: `${s.title}: spawn → power-off (process exit)`, pick: (r) => r.exitMs },
        ]
      : [
          { label: `${s.title}: prompt → end marker`, pick: (r) => r.workMs },
          { label: `${s.title}: spawn → exit`, pick: (r) => r.exitMs },
        ];
  const head = "| figure (median, from spawn) | vireo | QEMU | vireo / QEMU |\n|---|---:|---:|---:|";
  const tableRows: string[] = [];
  const everyRun: string[] = [];
  for (const s of scenarios) {
    for (const row of rowsFor(s)) {
      const vv = fig(s, "vireo", row.pick);
      const q = fig(s, "qemu", row.pick);
      const cells = [row.label, secs(vv), secs(q), ratio(vv, q)];
      tableRows.push(`| ${cells.join(" | ")} |`);
      const list = (v: Variant) =>
        get(s, v)
          .map((r) => {
            const x = row.pick(r);
            return x === undefined ? "—" : (x / 1000).toFixed(2);
          })
          .join(", ");
      const vs: Variant[] = get(s, "off").length > 0 ? [...variants, "off"] : variants;
      everyRun.push(`- ${row.label} (s): ${vs.map((v) => `${VARIANT_NAME[v]} ${list(v)}`).join("; ")}`);
    }
  }
  // The block compiler against the interpreter alone, on the boots (mostly code that runs a few times).
  const jitOffRows: string[] = [];
  for (const s of scenarios) {
    if (get(s, "off").length === 0) continue;
    for (const row of rowsFor(s)) {
      const withJit = fig(s, "vireo", row.pick);
      const off = fig(s, "off", row.pick);
      jitOffRows.push(`| ${row.label} | ${secs(withJit)} | ${secs(off)} | ${ratio(withJit, off)} |`);
    }
  }
  const jitOffTable =
    jitOffRows.length === 0
      ? ""
      : `\nThe block compiler against the interpreter alone on the boots (\`npm run vm -- --jit off\`, the same runs'
rounds; a ratio above 1.0× means the compiler made the boot slower):

| figure (median, from spawn) | vireo (JIT on) | vireo \`--jit off\` | on / off |
|---|---:|---:|---:|
${jitOffRows.join("\n")}
`;
  // Instructions: vireo's own count (--stats); QEMU's MIPS are that count over QEMU's time.
  const instrRows: string[] = [];
  for (const s of scenarios) {
    const count = (r: SpawnRun): number | undefined =>
      s.command === undefined
        ? r.instret
        : r.instret !== undefined && r.typedInstret !== undefined
          ? r.instret - r.typedInstret
          : undefined;
    const time = (r: SpawnRun): number | undefined => (s.command === undefined ? r.exitMs : r.workMs);
    const mipsOf = (v: Variant): number | undefined =>
      med(
        get(s, v).map((r) => {
          const n = count(r);
          const t = time(r);
          return n === undefined || t === undefined ? undefined : n / t / 1e3;
        }),
      );
    const n = med(get(s, "vireo").map(count));
    const qt = fig(s, "qemu", time);
    const what = s.command === undefined ? "spawn → power-off" : "prompt → end marker";
    const cells = [
      `${s.title} (${what})`,
      n === undefined ? "—" : `${(n / 1e6).toFixed(1)} M`,
      mipsText(mipsOf("vireo")),
      mipsText(n !== undefined && qt !== undefined ? n / qt / 1e3 : undefined),
    ];
    instrRows.push(`| ${cells.join(" | ")} |`);
  }
  console.log(`spawn figures: ${((performance.now() - spawnStart) / 1000).toFixed(0)} s`);
  const rebuilt = [...runs.values()].flat().filter((r) => r.rebuilt).length;
  const startupMs = median(startup);

  // ---- restoring a snapshot (issue 15): from spawn to the output of a command typed at once
  let restoreSection = "";
  if (on("RESTORE")) {
    const snapDir = mkdtempSync(join(tmpdir(), "vireo-bench-snap-"));
    const snap = join(snapDir, "prompt.vireo");
    console.log("setup: a snapshot of the committed image at its prompt (npm run vm -- --save … --save-at '# ')…");
    execFileSync("npm", ["run", "--silent", "vm", "--", "--save", snap, "--save-at", "# ", "--timeout", "120"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
    });
    const snapBytes = statSync(snap).size;
    const restoreMs: number[] = [];
    const bootMs: number[] = [];
    const helpMs: number[] = [];
    const cmd = "echo rs-$((6*7))-ok";
    const timed = async (args: string[]): Promise<number | undefined> => {
      const r = await spawnTimed({
        cmd: "npm",
        args: ["run", "vm", "--", ...args, "--exec", cmd],
        endMarker: "rs-42-ok",
        endAnyTime: true,
        timeoutMs: 120_000,
      });
      return r.endMs;
    };
    for (let i = 0; i < RUNS; i++) {
      helpMs.push((await spawnTimed({ cmd: "npm", args: ["run", "vm", "--", "--help"], timeoutMs: 60_000 })).exitMs);
      const r = await timed(["--restore", snap]);
      if (r !== undefined) restoreMs.push(r);
      const b = await timed([]);
      if (b !== undefined) bootMs.push(b);
      console.log(
        `restore ${i + 1}/${RUNS}: --help ${secs(helpMs.at(-1))}, --restore → output ${secs(r)}, boot → output ${secs(b)}`,
      );
    }
    rmSync(snapDir, { recursive: true, force: true });
    const r = med(restoreMs);
    const h = median(helpMs);
    restoreSection = `
## Restoring a snapshot

A snapshot of the committed image saved at its shell prompt (\`npm run vm -- --save FILE --save-at "# "\`,
${(snapBytes / 1048576).toFixed(1)} MiB with 256 MiB of guest RAM), then fresh processes \`npm run vm -- --restore FILE
--exec "${cmd}"\` (it types a newline, waits for the prompt that brings, types the command) timed from spawn until
the command's output is on stdout; beside it the same \`--exec\` on a cold boot (\`npm run vm -- --exec …\`), and
\`npm run vm -- --help\` (npm, Node, the bundle: process start). Median of ${RUNS} rounds.

| figure (median) | time |
|---|---:|
| \`--restore\` → command output, from spawn | ${secs(r)} |
| process start (\`--help\` → exit) | ${secs(h)} |
| \`--restore\` → command output, process start excluded (target ≤ 0.30 s) | ${secs(r === undefined ? undefined : r - h)} |
| cold boot → the same command's output, from spawn | ${secs(med(bootMs))} |

Every run (s): restore ${restoreMs.map((x) => (x / 1000).toFixed(2)).join(", ")}; --help ${helpMs.map((x) => (x / 1000).toFixed(2)).join(", ")}; boot ${bootMs.map((x) => (x / 1000).toFixed(2)).join(", ")}
`;
  }

  // ---- warm, in-process (extra rows)
  let warmSection = "";
  if (on("WARM")) {
    const warmVariants: WarmVariant[] = [
      { name: "wasm core (src/cpu/as/) with its block compiler, the CLI's default", opts: {} },
    ];
    const warmStart = performance.now();
    const warm = new Map<string, WarmFigures[]>();
    for (let i = 0; i < WARM_RUNS; i++) {
      for (const v of warmVariants) {
        const r = await warmRun(v, on("CPU"));
        warm.set(v.name, [...(warm.get(v.name) ?? []), r]);
        console.log(`warm ${i + 1}/${WARM_RUNS} ${v.name}: banner ${secs(r.bannerMs)}, workload ${secs(r.workMs)}`);
      }
    }
    console.log(`warm in-process: ${((performance.now() - warmStart) / 1000).toFixed(0)} s`);
    const lines = warmVariants.map((v) => {
      const rs = warm.get(v.name) ?? [];
      const b = med(rs.map((r) => r.bannerMs));
      const bi = med(rs.map((r) => r.bootInstr));
      const w = med(rs.map((r) => r.workMs));
      const wm = med(rs.map((r) => (r.workInstr !== undefined && r.workMs ? r.workInstr / r.workMs / 1e3 : undefined)));
      return `| warm, in-process (not what a user sees): ${v.name} | ${secs(b)} | ${mipsText(bi !== undefined && b !== undefined ? bi / b / 1e3 : undefined)} | ${secs(w)} | ${mipsText(wm)} |`;
    });
    warmSection = `
### Warm, in-process (not what a user sees)

The older figures, kept for comparison: a \`VirtMachine\` driven from the bench's own Node process (no
npm, no Node start, no bundle or core loading; V8 already warm from the runs before it), timed from
\`new VirtMachine\` to the banner, and from typing the CPU workload at the prompt to its end marker.
Median of ${WARM_RUNS}.

| variant | boot to banner | boot MIPS | CPU workload | workload MIPS |
|---|---:|---:|---:|---:|
${lines.join("\n")}
`;
  }

  const cpuSpawn = scenarios.find((s) => s.id === "cpu");
  const bootSpawn = scenarios[0];
  const nodeBanner = fig(bootSpawn, "vireo", (r) => r.bannerMs);
  const nodeWork = cpuSpawn === undefined ? undefined : fig(cpuSpawn, "vireo", (r) => r.workMs);
  // Spawn → the prompt: the CPU workload's runs see it (the boot rows power off at the banner).
  const nodePrompt = cpuSpawn === undefined ? undefined : fig(cpuSpawn, "vireo", (r) => r.promptMs);
  const nodeWorkMips =
    cpuSpawn === undefined
      ? undefined
      : med(
          get(cpuSpawn, "vireo").map((r) =>
            r.instret !== undefined && r.typedInstret !== undefined && r.workMs !== undefined
              ? (r.instret - r.typedInstret) / r.workMs / 1e3
              : undefined,
          ),
        );

  const timed = async <T>(part: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    console.log(`${part}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return r;
  };
  const net = on("NET") ? await timed("net (bench/net.ts)", () => netBench(IMAGES)) : undefined;
  // Issue 6: one guest through the in-page stack, beside QEMU's slirp, download and upload.
  const stack = on("STACK") ? await timed("stack (bench/net-stack.ts)", () => stackBench()) : undefined;
  // Issue 18: a 64 MiB file read and written through virtio-9p, beside QEMU's virtio-9p.
  const ninep = on("9P") ? await timed("9p (bench/ninep.ts)", () => ninepBench()) : undefined;
  // The page (issue 8): the same boot and workload in headless Debian chromium, machine in a Web Worker,
  // RUNS times with the UI live and RUNS times with ?ui=off, alternating; the worker counts instret.
  const page = on("PAGE")
    ? await timed("page (e2e/page-bench.ts)", () => pageFigures(WORKLOAD, WORKLOAD_END, { rounds: RUNS }))
    : undefined;
  const pct = (x: number | undefined): string => (x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
  const mib = (b: number | undefined): string => (b === undefined ? "—" : `${(b / 1048576).toFixed(0)} MiB`);
  // Issue 14: the page's worker stays within guest RAM + 96 MiB with the JIT on, after the workload.
  const memoryText = (m: PageMemory | undefined): string =>
    m === undefined
      ? ""
      : `
**Memory** (issue 14: the page's worker stays within guest RAM + 96 MiB, measured with the JIT on after the
workload): after each run's workload the bench adds up what the machine's worker holds: its
WebAssembly.Memory in full (${mib(m.wasmMemoryBytes)}: the ${mib(m.guestRamBytes)} of guest RAM and the hart's
state after it, counted whole whether the guest touched it or not), the worker's V8 heap from CDP's
\`Runtime.getHeapUsage\` on the worker target (committed heap, embedder heap and ArrayBuffer backing stores,
the boot images kept for a reset among them: ${mib(m.workerHeapBytes)}) and the compiled code: the resident
anonymous executable mappings of the renderer process (/proc smaps: ${mib(m.codeBytes)}), which hold the page's
JavaScript code too, so this part is an upper bound on the worker's. The largest over the runs is
**${mib(m.workerBytes)}** against a limit of **${mib(m.limitBytes)}** (guest RAM + 96 MiB): ${m.workerBytes <= m.limitBytes ? "within it" : "**over it**"}, by
${mib(Math.abs(m.limitBytes - m.workerBytes))}${m.jit ? "" : " (**the JIT was off**)"}. That comparison uses the worker's figure. The renderer's whole RSS
(${mib(m.rendererRssBytes)} in that run) is beside it: it holds the page's UI as well, but counts only the guest
RAM pages the guest touched.
`;
  const il = page?.interleaved;
  const interleaved =
    il === undefined
      ? ""
      : ` One more run switches the UI on and off every ${il.windowMs / 1000} s while the workload runs
(${il.liveWindows} live windows at a median ${mipsText(il.liveMips)} MIPS, ${il.offWindows} off at ${mipsText(il.offMips)}), so bursts of other load fall
on both alike: each live window against the off windows either side of it, the UI costs **${pct(il.uiCost)}** (median).`;
  const pageSection =
    page === undefined
      ? ""
      : `
## The page (issue 8)

Headless Debian chromium against the built page (\`vite preview\`), machine in a Web Worker, the page's
default core. Each variant boots and runs the workload ${page.live.runs} times, alternating (live, off, off, live, …), medians:
**UI live** is the page as a person sees it, the Queues and Network panels taking turns every 3 s, fed by
the worker's snapshots (${page.live.snapshotHz?.toFixed(1) ?? "—"} Hz); **\`?ui=off\`** is the same machine, worker and
console with no snapshots and no live panels. Boot is timed **from navigation** (\`page.goto\`; fetching
the images from the local server included; e2e/page-bench.ts already measured it so, unchanged; one
browser for all runs, so after the first its HTTP cache may hold the images). The workload is timed from
Enter to the end marker; the page's MIPS are the worker's own instret over the worker's clock across it.
Node is \`npm run vm\` from the table above (boot: from spawn, the banner from the boot runs, the prompt from
the CPU workload's runs; workload: prompt → end marker).

| figure | page, UI live | page, \`?ui=off\` | Node | live / Node |
|---|---:|---:|---:|---:|
| boot to \`${BANNER}\` | ${secs(page.live.bannerMs)} | ${secs(page.off.bannerMs)} | ${secs(nodeBanner)} | ${ratio(page.live.bannerMs, nodeBanner)} |
| boot to the shell prompt | ${secs(page.live.promptMs)} | ${secs(page.off.promptMs)} | ${secs(nodePrompt)} | ${ratio(page.live.promptMs, nodePrompt)} |
| CPU workload | ${secs(page.live.workloadMs)} | ${secs(page.off.workloadMs)} | ${secs(nodeWork)} | ${ratio(page.live.workloadMs, nodeWork)} |
| workload MIPS | ${mipsText(page.live.mips)} | ${mipsText(page.off.mips)} | ${mipsText(nodeWorkMips)} | |
| page main thread busy | ${pct(page.live.mainBusy)} | ${pct(page.off.mainBusy)} | | |
| worker time taking and posting snapshots | ${pct(page.live.snapshotShare)} | ${pct(page.off.snapshotShare)} | | |
| CPU the worker thread got / chromium's other threads used | ${pct(page.live.workerCpu)} / ${pct(page.live.otherCpu)} | ${pct(page.off.workerCpu)} / ${pct(page.off.otherCpu)} | | |
| MIPS per CPU second of the worker | ${mipsText(page.live.mipsPerCpu)} | ${mipsText(page.off.mipsPerCpu)} | | |
| worker memory after the workload (wasm memory + worker heap + compiled code) | ${mib(page.live.memory?.workerBytes)} | ${mib(page.off.memory?.workerBytes)} | | |
| renderer process RSS after the workload (page and worker) | ${mib(page.live.memory?.rendererRssBytes)} | ${mib(page.off.memory?.rendererRssBytes)} | | |
${
  page.snapshot === undefined
    ? ""
    : `| navigation → usable prompt with \`?snapshot=\` (issue 15: ≤ 1.0 s) | ${secs(page.snapshot.promptMs)} | | | |
`
}

The UI costs the guest **${pct(page.uiCost)}** of its instruction rate (1 − live MIPS / off MIPS; issue 8
wants < 5%); inside the worker alone (MIPS per CPU second, which other load on the machine does not
move) ${pct(page.uiCostPerCpu)}.${interleaved} Page timings are noisy on a shared 2-core machine: the UI's own threads and
other work compete with the worker for cores. The rest of the gap to Node (\`?ui=off\` MIPS / Node MIPS = ${page.off.mips === undefined || nodeWorkMips === undefined ? "—" : (page.off.mips / nodeWorkMips).toFixed(2)})
is the browser engine's. Per run (MIPS): ${page.all.map((r) => `${r.ui} ${mipsText(r.mips)}`).join(", ")}.${
          page.snapshot === undefined
            ? ""
            : `
\`?snapshot=\` (issue 15): a snapshot of the committed image at its first prompt, saved by \`npm run vm -- --save FILE
--save-at "vireo:~# "\` (the page's default machine: 256 MiB, net/console/rng on MMIO; ${(page.snapshot.bytes / 1048576).toFixed(1)} MiB),
served by a loopback server; timed from navigation (\`page.goto\`) to the output of \`echo\` typed as soon as the page
says the machine is restored (download, check, build, restore, typing and the guest's answer included), median of
${page.snapshot.runs} runs with the UI live (${page.snapshot.allPromptMs.map((ms) => `${(ms / 1000).toFixed(2)}`).join(", ")} s); to the page's
"restored" line: ${secs(page.snapshot.restoredMs)}.`
        }
${memoryText(page.memory)}`;

  const loadAtEnd = loadNow();
  const workloadText = [
    ...(on("CPU") ? [`The CPU workload: \`${WORKLOAD}\``] : []),
    ...(on("USER") ? [`The user-space compute workload (tmpfs; the two hashes must match): \`${USER_WORKLOAD}\``] : []),
    "",
  ].join("\n\n");
  const debianLine =
    debian !== undefined
      ? `- Debian's stock kernel: \`${debian.package}\` ${debian.version} (Debian ${debian.codename}, suite \`${debian.suite}\`, riscv64), the
  dependency of \`linux-image-riscv64\`, fetched with \`apt-get download\` from ${debian.mirror} on ${debian.fetched.slice(0, 10)};
  ${debian.source}; sha256 ${debian.sha256.slice(0, 16)}…; cached as \`${relative(ROOT, debian.path)}\`. It boots the
  committed initramfs (busybox is static, so no modules are needed to reach the banner). QEMU's default
  \`-cpu\` offers extensions vireo does not (Zba/Zbb/…, H); a stock kernel patches itself for what it finds,
  so on this row the two run somewhat different instructions`
      : on("DEBIAN")
        ? `- Debian's stock kernel: **left out**: ${debianError ?? "?"}`
        : "- Debian's stock kernel: left out (BENCH_DEBIAN=0)";
  const report = `# Benchmarks

Written by \`npm run bench\` (bench/run.ts) on ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC.
vireo and QEMU on the same files, in the same run, taking turns (never concurrently).

- machine: ${cpus().length} × ${cpuModel()}
- load average (1 / 5 / 15 min) at the start ${loadAtStart}, at the end ${loadAtEnd} (other work on the
  machine slows every column; compare ratios)
- Node ${process.version}; reference ${qemuVer} (TCG)${
    process.env.NODE_EXTRA_CA_CERTS
      ? `
- the environment sets NODE_EXTRA_CA_CERTS (${process.env.NODE_EXTRA_CA_CERTS}): npm's own Node parses those
  certificates while it starts (~55 ms here); \`npm run vm\` starts vireo's Node without it (scripts/vm.mjs)`
      : ""
  }
- vireo: \`npm run vm\` (scripts/vm.mjs → the CLI's esbuild bundle: the WebAssembly core from src/cpu/as/
  with its block compiler, as the CLI defaults them), with \`--stats\` for the instruction count
- QEMU: \`${QEMU} ${qemuArgs("<Image>", "<initramfs>", "…")
    .map((a) => (a.includes(" ") ? `"${a}"` : a))
    .join(" ")
    .replace(`${join(IMAGES, "fw_dynamic.bin")}`, "fw_dynamic.bin")}\`
  (a virtio-net with user networking, like vireo's default \`--net stack\`)
${debianLine}

## From process spawn, as a user meets it

Every run is a fresh process, timed from spawn: \`npm run vm -- --append "${POWEROFF_ARGS}"\`
(and \`--initrd\`/\`--kernel\` for the rows that change them) to the banner on stdout and to the process's exit;
QEMU the same way with \`-append "${POWEROFF_ARGS}"\`. The workloads: \`npm run vm -- --exec CMD\`, which
types \`vireo-netwait\` at the first prompt (it returns once the boot's DHCP lease is in, at most 5 s) and
\`(CMD); echo vireo-exit=$?; poweroff -f\` at the next; QEMU gets the command's line typed at its first
prompt. "prompt → end marker" is the time between the (first) prompt and the end marker appearing on stdout,
for vireo with the vireo-netwait line in it. Median
of ${RUNS} round${RUNS === 1 ? "" : "s"}; the variants take turns in every round, the order rotating.
${gzipBytes > 0 ? `The gzip row boots the committed initramfs compressed with \`gzip -9\` (${(gzipBytes / 1024).toFixed(0)} KiB from ${(readFileSync(plain.initrd).length / 1024).toFixed(0)} KiB), passed with \`--initrd\`/\`-initrd\`: the kernel inflates it.\n` : ""}
${head}
${tableRows.join("\n")}

${jitOffTable}
Starting alone, \`npm run vm -- --help\` from spawn to exit (npm, Node, loading the bundle): ${secs(startupMs)} (median).${rebuilt > 0 ? `\n**${rebuilt} run(s) rebuilt the CLI bundle or the core while timed** (a source changed during the bench).` : ""}

Instruction counts are vireo's own (\`--stats\`: instret at exit, and when --exec typed the command); a
boot's MIPS are its instructions over spawn → power-off, Node's start included; a workload's are the
instructions from typing the command to exit over prompt → end marker. QEMU's MIPS are vireo's count over
QEMU's time, an estimate (the runs differ a little in timer-driven work).

| figure | guest instructions | vireo MIPS | QEMU MIPS (est.) |
|---|---:|---:|---:|
${instrRows.join("\n")}

Every run, in order:
${everyRun.join("\n")}
${restoreSection}

${workloadText}Targets (issue 3): boot to prompt ≤ 3 s in Node, ≥ 80 MIPS sustained on the workload.
${warmSection}${net ? `\n${net.markdown}` : ""}${stack ? `\n${stack.markdown}` : ""}${ninep ? `\n${ninep.markdown}` : ""}${pageSection}`;
  const out = process.env.BENCH_OUT ?? join(ROOT, "bench/results.md");
  writeFileSync(out, report);
  console.log(`\n${report}`);
}

await main();
