// Driving the Debian image's serial console from Node: start a VM (vireo's CLI as `npm run vm` runs it,
// or QEMU) as a child process, watch ttyS0 for the login prompt and the root shell that agetty's
// autologin starts, and run commands in that shell with their output and exit status.

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OUT = join(ROOT, "guest/debian/out");
export const IMAGE = { kernel: join(OUT, "Image"), initrd: join(OUT, "initrd.img"), disk: join(OUT, "debian.img") };

/** Debian's defaults: nothing on the command line raises a systemd or udev timeout. */
export const BOOTARGS = "root=/dev/vda rw console=ttyS0";
export const MEM_MIB = 1024;

/** The image has been built: the three files and the manifest are there. */
export function imageBuilt(): boolean {
  return [...Object.values(IMAGE), join(OUT, "manifest.json")].every((f) => existsSync(f));
}

export function manifest(): { packages: Record<string, string>; bootargs: string } {
  return JSON.parse(readFileSync(join(OUT, "manifest.json"), "utf8"));
}

export type Engine = "vireo" | "qemu";
export type Transport = "mmio" | "pci";

/** The command line that boots the image: `npm run vm` (scripts/vm.mjs) or Debian's qemu-system-riscv64. */
export function bootCommand(engine: Engine, transport: Transport, extra: string[] = []): [string, string[]] {
  if (engine === "vireo") {
    return [
      process.execPath,
      [
        join(ROOT, "scripts/vm.mjs"),
        "--kernel",
        IMAGE.kernel,
        "--initrd",
        IMAGE.initrd,
        "--disk",
        IMAGE.disk,
        "--transport",
        transport,
        "--mem",
        String(MEM_MIB),
        "--append",
        BOOTARGS,
        ...extra,
      ],
    ];
  }
  const dev = (kind: "blk" | "net") => `virtio-${kind}-${transport === "mmio" ? "device" : "pci"}`;
  return [
    "qemu-system-riscv64",
    [
      "-M",
      "virt",
      "-m",
      String(MEM_MIB),
      "-nographic",
      "-kernel",
      IMAGE.kernel,
      "-initrd",
      IMAGE.initrd,
      "-append",
      BOOTARGS,
      // snapshot=on: writes go to a temporary file, the image stays as built (like vireo's disks).
      "-drive",
      `file=${IMAGE.disk},format=raw,if=none,id=d0,snapshot=on`,
      "-device",
      `${dev("blk")},drive=d0`,
      "-netdev",
      "user,id=n0",
      "-device",
      // romfile=: the PCI NIC's option ROM (iPXE, for firmware that boots from it) is not needed here.
      `${dev("net")},netdev=n0${transport === "pci" ? ",romfile=" : ""}`,
      ...extra,
    ],
  ];
}

const CSI_RE = new RegExp(`${String.fromCharCode(0x1b)}(?:\\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-B])`, "g");

/** The root shell's prompt at the end of the console (bash, PS1 as Debian's /root/.bashrc leaves it). */
export const SHELL_PROMPT_RE = /root@[\w-]+:[^\n#]*# $/;
/** agetty's login prompt (with autologin it is followed by "root (automatic login)"). */
export const LOGIN_RE = /\n[\w-]+ login: /;

export interface Run {
  out: string;
  status: number;
}

/** A VM on a serial console: output accumulates in `raw`; wait for patterns, type lines, run commands. */
export class SerialVm {
  readonly child: ChildProcessWithoutNullStreams;
  readonly t0: number;
  raw = "";
  stderr = "";
  exited: number | null | undefined;
  private waiters = new Set<() => void>();
  private seq = 0;

  constructor(cmd: string, args: string[], cwd = ROOT) {
    this.t0 = performance.now();
    this.child = spawn(cmd, args, { cwd, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", (d: Buffer) => {
      this.raw += d.toString("latin1");
      for (const w of this.waiters) w();
    });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr += d.toString("latin1");
    });
    this.child.on("exit", (code) => {
      this.exited = code;
      for (const w of this.waiters) w();
    });
  }

  /** The console as text: control sequences and CRs removed. */
  text(from = 0): string {
    return this.raw.slice(from).replace(CSI_RE, "").replace(/\r/g, "");
  }

  /** Seconds since spawn. */
  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Resolves with the match once `re` matches the console text from raw offset `from` on. */
  waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return new Promise((ok, fail) => {
      const check = (): boolean => {
        const m = re.exec(this.text(from));
        if (m !== null) {
          done();
          ok(m);
          return true;
        }
        if (this.exited !== undefined) {
          done();
          fail(
            new Error(
              `the VM exited (${this.exited}) before ${re} appeared; stderr:\n${this.stderr.slice(-2000)}\nconsole tail:\n${this.tail()}`,
            ),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        fail(new Error(`${re} did not appear within ${timeoutMs / 1000} s; console tail:\n${this.tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => {
        check();
      };
      if (!check()) this.waiters.add(waiter);
    });
  }

  tail(chars = 3000): string {
    const t = this.text();
    return t.slice(Math.max(0, t.length - chars));
  }

  type(s: string): void {
    this.child.stdin.write(s);
  }

  /**
   * Runs `cmd` in the shell and returns what it printed and its exit status. The markers are typed
   * with an empty quote inside ("__V""B_1") so the echo of the typed line never matches them.
   */
  async run(cmd: string, timeoutMs = 120_000): Promise<Run> {
    const n = ++this.seq;
    const from = this.raw.length;
    this.type(`echo __V""B_${n}; ${cmd}; echo __V""E_${n} $?\n`);
    const m = await this.waitFor(new RegExp(`\\n__VB_${n}\\n([\\s\\S]*?)__VE_${n} (\\d+)\\n`), timeoutMs, from);
    return { out: m[1] ?? "", status: Number(m[2]) };
  }

  kill(): void {
    if (this.exited === undefined) this.child.kill("SIGKILL");
  }
}

export function loadavg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}
