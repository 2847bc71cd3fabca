// Files through virtio-9p (issue 18), beside QEMU's virtio-9p (`-fsdev local` + virtio-9p-device) on the same
// guest image, the same host file and the same guest commands, in the same run. The image's init mounts the
// share tagged "host" at /mnt/host in both (trans=virtio, version=9p2000.L, msize=512000). At the prompt the
// guest reads a 64 MiB file of random bytes from the share with `cat` (what a person types) and with
// `dd bs=1M`, then writes 64 MiB of zeros to it with `dd bs=1M`; each step prints a marker the shell computes
// (so the typed line does not contain it) and the host times from marker to marker as the console shows
// them. Both machines use virtio-mmio; `npm run bench` runs this part unless BENCH_9P=0, and
// `tsx bench/ninep.ts` alone prints the section.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const MIB = Number(process.env.BENCH_9P_MIB ?? 64);
const RUNS = Number(process.env.BENCH_9P_RUNS ?? 3);
const BYTES = MIB * 1024 * 1024;
const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[ -/]*[@-~]`, "g");
const PROMPT = /vireo:[^#\n]*# /;
const STEPS = ["start", "cat", "ddread", "ddwrite"] as const;

const ROOT = resolve(import.meta.dirname, "..");
const IMAGES = join(ROOT, "public/images");

/** The guest's line: each marker is `9p-<n>-<step>` with n computed by the shell. */
function guestCommand(): string {
  const mark = (i: number) => `echo 9p-$((${i}+1))-${STEPS[i]}`;
  return [
    "cd /mnt/host",
    mark(0),
    "cat big.bin >/dev/null",
    mark(1),
    "dd if=big.bin of=/dev/null bs=1M 2>/dev/null",
    mark(2),
    `dd if=/dev/zero of=written.bin bs=1M count=${MIB} 2>/dev/null`,
    mark(3),
    "cd /",
    "poweroff -f",
  ].join("; ");
}

/** Spawns a machine, types the line at the prompt, and returns when each marker was seen (ms). */
function drive(cmd: string, args: string[]): Promise<number[]> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let text = "";
    let typed = false;
    const seen: number[] = [];
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`${cmd} timed out; console tail:\n${text.slice(-2000)}`));
    }, 600_000);
    p.stdout.on("data", (d: Buffer) => {
      const now = performance.now();
      text += d.toString("latin1").replace(CSI, "");
      if (text.length > 100_000) text = text.slice(-50_000);
      if (!typed && PROMPT.test(text)) {
        typed = true;
        text = "";
        p.stdin.write(`${guestCommand()}\n`);
      }
      while (typed && seen.length < STEPS.length && text.includes(`9p-${seen.length + 1}-${STEPS[seen.length]}`)) {
        seen.push(now);
      }
      if (seen.length === STEPS.length) setTimeout(() => p.kill("SIGKILL"), 30_000).unref();
    });
    p.stderr.on("data", () => {});
    p.on("exit", () => {
      clearTimeout(timer);
      if (seen.length === STEPS.length) resolvePromise(seen);
      else
        reject(
          new Error(`${cmd} exited after ${seen.length} of ${STEPS.length} steps; console:\n${text.slice(-2000)}`),
        );
    });
    p.on("error", reject);
  });
}

function vireoArgs(dir: string): string[] {
  return ["--import", "tsx", join(ROOT, "src/cli/vm.ts"), "--net", "none", "--share", dir];
}

function qemuArgs(dir: string): string[] {
  return [
    ...["-M", "virt", "-m", "256M", "-smp", "1", "-nographic", "-nodefaults", "-serial", "stdio"],
    ...["-bios", join(IMAGES, "fw_dynamic.bin"), "-kernel", join(IMAGES, "Image")],
    ...["-initrd", join(IMAGES, "initramfs.cpio"), "-append", "console=ttyS0"],
    ...["-fsdev", `local,id=f0,path=${dir},security_model=none`],
    ...["-device", "virtio-9p-device,fsdev=f0,mount_tag=host"],
  ];
}

interface Row {
  label: string;
  /** MB/s (10⁶ bytes) of each step, medians. */
  cat: number;
  ddRead: number;
  ddWrite: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export const NINEP_QEMU_COMMAND =
  "qemu-system-riscv64 -M virt … -fsdev local,id=f0,path=DIR,security_model=none -device virtio-9p-device,fsdev=f0,mount_tag=host";

export async function ninepBench(): Promise<{ markdown: string }> {
  const dir = mkdtempSync(join(tmpdir(), "vireo-bench-9p-"));
  try {
    writeFileSync(join(dir, "big.bin"), randomBytes(BYTES));
    const runs = new Map<string, number[][]>([
      ["vireo (`--share DIR`, virtio-mmio)", []],
      ["QEMU virtio-9p-device (`-fsdev local`)", []],
    ]);
    const machines: [string, () => Promise<number[]>][] = [
      ["vireo (`--share DIR`, virtio-mmio)", () => drive(process.execPath, vireoArgs(dir))],
      ["QEMU virtio-9p-device (`-fsdev local`)", () => drive("qemu-system-riscv64", qemuArgs(dir))],
    ];
    for (let round = 0; round < RUNS; round++) {
      // Taking turns, the order rotating every round.
      const order = round % 2 === 0 ? machines : [...machines].reverse();
      for (const [label, run] of order) {
        const t = await run();
        const written = statSync(join(dir, "written.bin")).size;
        if (written !== BYTES) throw new Error(`${label}: the guest wrote ${written} bytes of ${BYTES}`);
        unlinkSync(join(dir, "written.bin"));
        runs.get(label)?.push(t);
      }
    }
    const rows: Row[] = [...runs].map(([label, ts]) => {
      const rate = (i: number) => median(ts.map((t) => BYTES / (t[i + 1] - t[i]) / 1e3));
      return { label, cat: rate(0), ddRead: rate(1), ddWrite: rate(2) };
    });
    const q = rows[1];
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
    const table = rows
      .map(
        (r) =>
          `| ${r.label} | ${r.cat.toFixed(1)} MB/s | ${r.ddRead.toFixed(1)} MB/s | ${r.ddWrite.toFixed(1)} MB/s | ${pct(r.cat, q.cat)} / ${pct(r.ddRead, q.ddRead)} / ${pct(r.ddWrite, q.ddWrite)} |`,
      )
      .join("\n");
    const markdown = `## Files through virtio-9p, beside QEMU's virtio-9p (issue 18)

One guest with the host's temporary directory shared (vireo: \`--share DIR --net none\`, MMIO; QEMU:
\`${NINEP_QEMU_COMMAND}\`), the committed image's init mounting it at /mnt/host
(\`trans=virtio,version=9p2000.L,msize=512000\`). At the prompt the guest reads a ${MIB} MiB file of random bytes
with \`cat big.bin >/dev/null\` and with \`dd if=big.bin of=/dev/null bs=1M\`, then writes ${MIB} MiB with
\`dd if=/dev/zero of=written.bin bs=1M\` (its size checked on the host after each run), timed on the host
between markers the guest prints. Median of ${RUNS}, taking turns; MB = 10⁶ bytes.

| run | read (cat) | read (dd bs=1M) | write (dd bs=1M) | / QEMU (cat / dd read / dd write) |
|---|---:|---:|---:|---:|
${table}
`;
    return { markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  const { markdown } = await ninepBench();
  console.log(markdown);
}
