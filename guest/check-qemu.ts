// npm run guest:check — boots the committed guest images under Debian's QEMU (TCG) as a reference:
// once with virtio-net on virtio-mmio, once on virtio-pci. A run passes when the init banner and the
// shell prompt appear and the guest lists a virtio device with device id 0x0001 (net) on the expected
// transport. Also measures boot-to-exit with vireo.poweroff=1. The check itself is exported
// (checkQemuBoot, measureQemuPoweroff) so guest/qemu-reference.test.ts runs the same code.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export type VirtioTransport = "mmio" | "pci";

export const BOOT_BANNER = "vireo: boot complete";
export const PROMPT = "vireo:~# ";
export const VIRTIO_ID_NET = "0x0001";

/** A QEMU `-cpu` value with only what vireo implements (RV64IMAFDC + Zicsr + Zifencei, no H, no Sstc). */
export const RV64GC_ONLY_CPU =
  "rv64,h=false,sstc=false,Zihintpause=false,svpbmt=false,svinval=false,svnapot=false,zba=false,zbb=false,zbc=false,zbs=false";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_IMAGES = join(REPO, "public", "images");

export interface QemuOptions {
  /** Folder holding fw_dynamic.bin, Image, initramfs.cpio and manifest.json. */
  imagesDir?: string;
  /** Limit for each phase (boot to prompt, command output, exit), in ms. Default 60 s. */
  phaseTimeoutMs?: number;
  /** QEMU binary. Default `qemu-system-riscv64`. */
  qemu?: string;
  /** QEMU `-cpu` value; QEMU's default (rv64 with H, Sstc, Zb*) when absent. */
  cpu?: string;
  /** Appended to the manifest's bootargs. */
  extraBootargs?: string;
}

export interface QemuBootResult {
  transport: VirtioTransport;
  /** Spawn to the first prompt. */
  bootToPromptMs: number;
  /** Spawn to QEMU's exit after `poweroff -f`. */
  totalMs: number;
  /** Every /sys/bus/virtio/devices entry: its name, device id and sysfs path. */
  devices: { name: string; id: string; path: string }[];
  console: string;
}

export class QemuCheckError extends Error {
  constructor(
    message: string,
    readonly console: string,
  ) {
    super(`${message}\n--- console tail ---\n${consoleTail(console)}\n--- end of console ---`);
    this.name = "QemuCheckError";
  }
}

export function consoleTail(text: string, lines = 40): string {
  // Strip terminal escapes so the tail reads cleanly in a test report.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
  const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
  return clean.split("\n").slice(-lines).join("\n");
}

export function readBootargs(imagesDir = DEFAULT_IMAGES): string {
  const manifest = JSON.parse(readFileSync(join(imagesDir, "manifest.json"), "utf8")) as { bootargs?: unknown };
  if (typeof manifest.bootargs !== "string") throw new Error(`${imagesDir}/manifest.json has no "bootargs" string`);
  return manifest.bootargs;
}

export function hasQemu(qemu = "qemu-system-riscv64"): boolean {
  return spawnSync(qemu, ["--version"], { stdio: "ignore" }).status === 0;
}

function qemuArgs(opts: QemuOptions, append: string, device: string | null): string[] {
  const dir = opts.imagesDir ?? DEFAULT_IMAGES;
  const args = ["-M", "virt", "-m", "256M", "-smp", "1"];
  if (opts.cpu) args.push("-cpu", opts.cpu);
  args.push(
    ...["-bios", join(dir, "fw_dynamic.bin"), "-kernel", join(dir, "Image"), "-initrd", join(dir, "initramfs.cpio")],
    ...["-append", append],
    // The serial port on our stdio, no monitor multiplexed into it; a reboot (panic) ends QEMU.
    ...["-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot"],
    ...["-netdev", "user,id=n0"],
  );
  // romfile= : a PCI NIC needs no option ROM on RISC-V, and Debian ships the ROMs in ipxe-qemu, a
  // package qemu-system-misc only recommends.
  if (device) args.push("-device", `${device},netdev=n0${device.endsWith("-pci") ? ",romfile=" : ""}`);
  return args;
}

/** A spawned QEMU whose console output can be awaited, pattern by pattern. */
class QemuConsole {
  readonly child: ChildProcess;
  readonly start = performance.now();
  text = "";
  exitCode: number | null = null;
  exited: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(qemu: string, args: string[]) {
    this.child = spawn(qemu, args, { stdio: ["pipe", "pipe", "pipe"] });
    const onData = (chunk: Buffer) => {
      this.text += chunk.toString("latin1");
      this.wake();
    };
    this.child.stdout?.on("data", onData);
    this.child.stderr?.on("data", onData);
    this.exited = new Promise((done) => {
      this.child.on("error", (err) => {
        this.text += `\n[spawn ${qemu} failed: ${err.message}]\n`;
        this.exitCode = -1;
        this.wake();
        done();
      });
      this.child.on("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : -1);
        this.wake();
        done();
      });
    });
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  elapsed(): number {
    return performance.now() - this.start;
  }

  /** Resolves with the index just past `needle` once it appears at or after `from`. */
  async waitFor(needle: string, from: number, timeoutMs: number, what: string): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const at = this.text.indexOf(needle, from);
      if (at >= 0) return at + needle.length;
      if (this.exitCode !== null) {
        throw new QemuCheckError(`QEMU exited (code ${this.exitCode}) before ${what}`, this.text);
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new QemuCheckError(`timed out after ${timeoutMs} ms waiting for ${what}`, this.text);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
  }

  async waitExit(timeoutMs: number, what: string): Promise<void> {
    const timeout = new Promise<"timeout">((done) => setTimeout(() => done("timeout"), timeoutMs).unref());
    if ((await Promise.race([this.exited.then(() => "exited" as const), timeout])) === "timeout") {
      throw new QemuCheckError(`timed out after ${timeoutMs} ms waiting for ${what}`, this.text);
    }
  }

  type(line: string) {
    this.child.stdin?.write(`${line}\n`);
  }

  kill() {
    if (this.exitCode === null && this.child.pid !== undefined) this.child.kill("SIGKILL");
  }
}

/**
 * Boots the images with virtio-net on `transport`, waits for the banner and the prompt, lists the
 * virtio devices, powers off, and throws a QemuCheckError (with the console tail) on any failure.
 */
export async function checkQemuBoot(transport: VirtioTransport, opts: QemuOptions = {}): Promise<QemuBootResult> {
  const phase = opts.phaseTimeoutMs ?? 60_000;
  const append = [readBootargs(opts.imagesDir), opts.extraBootargs].filter(Boolean).join(" ");
  const device = transport === "mmio" ? "virtio-net-device" : "virtio-net-pci";
  const vm = new QemuConsole(opts.qemu ?? "qemu-system-riscv64", qemuArgs(opts, append, device));
  try {
    const afterBanner = await vm.waitFor(BOOT_BANNER, 0, phase, `"${BOOT_BANNER}"`);
    const afterPrompt = await vm.waitFor(PROMPT, afterBanner, phase, `the prompt "${PROMPT}"`);
    const bootToPromptMs = vm.elapsed();

    // The markers are computed by the guest shell, so the echoed command line cannot match them.
    vm.type(
      "echo VIREO-$((6*7))-BEGIN; for d in /sys/bus/virtio/devices/*; do " +
        'echo "DEV $(basename $d) $(cat $d/device) $(readlink -f $d)"; done; echo VIREO-$((6*7))-END',
    );
    const begin = await vm.waitFor("VIREO-42-BEGIN", afterPrompt, phase, "the device listing to start");
    const end = await vm.waitFor("VIREO-42-END", begin, phase, "the device listing to end");
    const devices = vm.text
      .slice(begin, end)
      .split(/\r?\n/)
      .map((l) => l.trim().match(/^DEV (\S+) (\S+) (\S+)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => ({ name: m[1], id: m[2], path: m[3] }));

    vm.type("poweroff -f");
    await vm.waitExit(phase, "QEMU to exit after poweroff -f");
    const totalMs = vm.elapsed();

    // MMIO devices sit under /sys/devices/platform/soc/<addr>.virtio_mmio, PCI ones under pci0000:00.
    const onTransport = (path: string) =>
      transport === "mmio" ? /virtio_mmio/.test(path) : /\/pci[0-9a-f]{4}:/.test(path);
    const net = devices.find((d) => d.id === VIRTIO_ID_NET && onTransport(d.path));
    if (!net) {
      const seen = devices.map((d) => `${d.name} id=${d.id} at ${d.path}`).join("; ") || "none";
      throw new QemuCheckError(`no virtio-net (device id ${VIRTIO_ID_NET}) on ${transport}; devices: ${seen}`, vm.text);
    }
    return { transport, bootToPromptMs, totalMs, devices, console: vm.text };
  } finally {
    vm.kill();
    await vm.exited;
  }
}

/** Boots with `vireo.poweroff=1` (init powers off right after the banner); returns spawn-to-exit ms. */
export async function measureQemuPoweroff(
  opts: QemuOptions = {},
): Promise<{ bannerMs: number; exitMs: number; console: string }> {
  const phase = opts.phaseTimeoutMs ?? 60_000;
  const append = [readBootargs(opts.imagesDir), opts.extraBootargs, "vireo.poweroff=1"].filter(Boolean).join(" ");
  const vm = new QemuConsole(opts.qemu ?? "qemu-system-riscv64", qemuArgs(opts, append, null));
  try {
    await vm.waitFor(BOOT_BANNER, 0, phase, `"${BOOT_BANNER}"`);
    const bannerMs = vm.elapsed();
    await vm.waitExit(phase, "QEMU to exit (vireo.poweroff=1)");
    if (vm.exitCode !== 0) throw new QemuCheckError(`QEMU exited with code ${vm.exitCode}`, vm.text);
    return { bannerMs, exitMs: vm.elapsed(), console: vm.text };
  } finally {
    vm.kill();
    await vm.exited;
  }
}

async function main(argv: string[]): Promise<number> {
  const opts: QemuOptions = {};
  for (const arg of argv) {
    if (arg === "--rv64gc") opts.cpu = RV64GC_ONLY_CPU;
    else if (arg.startsWith("--cpu=")) opts.cpu = arg.slice("--cpu=".length);
    else if (arg.startsWith("--images=")) opts.imagesDir = resolve(arg.slice("--images=".length));
    else {
      console.error(
        "usage: guest/check-qemu.sh [--rv64gc | --cpu=<qemu -cpu value>] [--images=<dir>]\n" +
          "  --rv64gc  give QEMU a hart with only what vireo implements (no H, Sstc, Zb*, Zihintpause)",
      );
      return 2;
    }
  }
  if (!hasQemu(opts.qemu)) {
    console.error("qemu-system-riscv64 not found: apt-get install qemu-system-misc");
    return 1;
  }
  console.log(`bootargs: ${readBootargs(opts.imagesDir)}${opts.cpu ? `\ncpu: ${opts.cpu}` : ""}`);
  let failed = 0;
  for (const transport of ["mmio", "pci"] as const) {
    try {
      const r = await checkQemuBoot(transport, opts);
      const net = r.devices.filter((d) => d.id === VIRTIO_ID_NET).map((d) => d.path);
      console.log(
        `PASS ${transport.padEnd(4)}  prompt after ${(r.bootToPromptMs / 1000).toFixed(2)} s, ` +
          `exit after ${(r.totalMs / 1000).toFixed(2)} s  virtio-net: ${net.join(", ")}`,
      );
    } catch (err) {
      failed++;
      console.error(`FAIL ${transport}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    const p = await measureQemuPoweroff(opts);
    console.log(
      `PASS poweroff  vireo.poweroff=1: banner after ${(p.bannerMs / 1000).toFixed(2)} s, ` +
        `exit after ${(p.exitMs / 1000).toFixed(2)} s`,
    );
  } catch (err) {
    failed++;
    console.error(`FAIL poweroff: ${err instanceof Error ? err.message : String(err)}`);
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
