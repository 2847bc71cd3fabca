// `npm run vm -- [options]`: boots the virt board headless with the console on stdin/stdout, or runs
// a bare-metal ELF under HTIF. The machine itself does no I/O (it also runs in a Web Worker); this
// file reads the images, drives runSlice() from Node's event loop, and owns the terminal.

import { constants as bufferConstants } from "node:buffer";
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from "node:fs";
import type { Server } from "node:net";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createInflate, deflateSync, inflateSync } from "node:zlib";
import {
  VIRTIO_ID_9P,
  VIRTIO_ID_BLOCK,
  VIRTIO_ID_CONSOLE,
  VIRTIO_ID_NET,
  VIRTIO_ID_RNG,
} from "../../devices/virtio/virtio-ids.ts";
import { VIRTIO_9P_MAX_TAG, Virtio9p } from "../../devices/virtio-9p/virtio-9p.ts";
import type { BlockBackend } from "../../devices/virtio-blk/block-backend.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { parseNetFeatures } from "../../devices/virtio-net/net-features.ts";
import { VirtioNet } from "../../devices/virtio-net/virtio-net.ts";
import { WASM_CORE_MAX_MEM_MIB as MAX_MEM_MIB } from "../cpu/wasm-core.ts";
import { type BootImageRole, checkBootImage } from "../machine/image-check.ts";
import type { RunState, VirtMachine, VirtMachineOptions } from "../machine/virt.ts";
import type { SavedDevice } from "../machine/virt-snapshot.ts";
import type { VirtioAttachment } from "../machine/virt-virtio.ts";
import { createNetBackend, isNetBackendKind, NET_BACKEND_KINDS, type NetBackendKind } from "../net/backend-select.ts";
import { PcapWriter } from "../net/link/pcap.ts";
import { StackBackend } from "../net/stack-backend.ts";
import { macToString, parseMac } from "../net/wire/bytes.ts";
import { consoleText, PROMPT_RE } from "./console-text.ts";
import { loadCoreModule } from "./core-module.ts";
import { openDiskImage } from "./file-block-backend.ts";
import { GuestProfiler, PROFILE_CHUNK } from "./guest-profile.ts";
import { HostShare } from "./host-share.ts";
import { nodeRelayOptions } from "./relay-connect.ts";
import { type ForwardSpec, listenForward, parseForwardSpec, SocketUplink } from "./socket-uplink.ts";
import { StandInTerminal } from "./stand-in-terminal.ts";

// Two levels up from src/cli/vm.ts and equally from its bundle dist/cli/vm.mjs (scripts/build-cli.mjs).
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const IMAGES_DIR = join(REPO_ROOT, "public/images");

/** Host time per runSlice(): short enough that stdin, timers and Ctrl-A stay responsive. */
const SLICE_MS = 10;
/** Upper bound on one sleep while the guest waits, so nothing can stall the loop for long. */
const MAX_SLEEP_MS = 1000;
const EXIT_TIMEOUT = 124;
const EXIT_USAGE = 2;
const CTRL_A = 0x01;
/**
 * The width of the screen the stand-in terminal plays (it becomes the guest's `stty cols` at login): a file
 * or a pipe has none, and a narrow one would have busybox's line editor wrap the echo of a long --exec
 * command line across lines, and ps and the like cut their output to it. 999: the most the image's size
 * question (ESC [ 999;999 H, as xterm's resize asks) can learn.
 */
const STAND_IN_COLS = 999;

export const USAGE = `Usage: npm run vm -- [options]
       tsx src/cli/vm.ts [options]

Boots the vireo RISC-V virt machine (OpenSBI + Linux) with its serial console on stdin/stdout,
or runs a bare-metal ELF test program (--elf). Exits with the guest's poweroff code.

Boot images (default: public/images/{fw_dynamic.bin,Image,initramfs.cpio} in the repository):
  --bios FILE        OpenSBI fw_dynamic (.bin or .elf); "none" starts the kernel directly in M-mode
  --kernel FILE      Linux kernel: a raw Image or an ELF vmlinux
  --initrd FILE      initramfs: a cpio archive, gzip-compressed or not; "none" for no initrd
  --append ARGS      kernel command line (replaces the default from public/images/manifest.json,
                     else "console=ttyS0 earlycon=sbi")
  --mem MiB          guest RAM in MiB (default 256)
  --console uart|hvc which console is on stdin/stdout (default uart): the 16550 UART (ttyS0) or the
                     virtio-console (hvc0). The other console's output goes to stderr, each line
                     prefixed "[hvc0] " or "[ttyS0] ". With hvc and without --exec or --append,
                     the kernel command line says console=hvc0 instead of console=ttyS0, so the
                     kernel log and the shell move to hvc0 (OpenSBI and earlycon stay on ttyS0)
  --transport mmio|pci
                     virtio transport for every device (default mmio): virtio-mmio slots, or
                     modern virtio-pci functions behind the PCIe host bridge
  --disk PATH[,ro][,writethrough][,transport=mmio|pci]
                     a virtio-blk disk from a raw image (repeatable: /dev/vda, /dev/vdb, …); the
                     guest's writes stay in memory and the file is never modified, unless
                     writethrough; ro gives the guest a read-only disk
  --share DIR[,ro][,tag=TAG][,transport=mmio|pci]
                     share the host directory DIR with the guest over virtio-9p (9P2000.L), mount
                     tag TAG (default host; repeatable with different tags). The committed image
                     mounts the tag "host" at /mnt/host; by hand:
                       mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host /mnt/host
                     The guest is confined to DIR: no .., no symlink is followed on the host (the
                     guest sees symlinks and resolves them itself; it cannot create new ones), no
                     FIFO or device file is opened, ownership changes are ignored. ro refuses
                     every change with EROFS. A snapshot records the guest's open files by path and
                     --restore reopens them in the same directory (a save is refused while the guest
                     holds open a file that was deleted or replaced since)
  --net stack|relay|loopback|none
                     the virtio-net device's backend. stack (default): the built-in gateway in
                     QEMU user-net shape (DHCP gives 10.0.2.15, gateway 10.0.2.2 = the host's
                     127.0.0.1, DNS 10.0.2.3) with real sockets behind it; relay: Ethernet frames
                     over a WebSocket to a relay's L2 switch (see --relay); loopback: an echo peer
                     that sends every frame back; none: no network device
  --relay URL        with --net relay: the relay's L2 endpoint, e.g. ws://127.0.0.1:8787/l2/test
                     (add ?token=T if the relay wants one). Guests on one network see each other;
                     the network's gateway gives DHCP, DNS and outbound access by the relay's policy.
                     The link is down while the socket is, and it reconnects on its own
  --forward tcp:HOSTPORT:GUESTPORT
                     with --net stack: connections to 127.0.0.1:HOSTPORT reach the guest's
                     GUESTPORT (repeatable)
  --dns HOST:PORT    with --net stack: forward the guest's DNS queries (to 10.0.2.3) to this
                     server instead of resolving with the host's resolver
  --net-features LIST
                     switch virtio-net feature bits off or on, e.g. -HOST_TSO4,-MRG_RXBUF (names as
                     in the spec, with or without VIRTIO_NET_F_; dependents follow their base bit)
  --mac MAC          the virtio-net MAC address (default 52:54:00:12:34:56)
  --pcap FILE        capture both directions of virtio-net to FILE (pcapng; classic pcap if FILE
                     ends in .pcap); superpackets are one record with a comment saying so

Running:
  --exec CMD         wait for the shell prompt, run CMD, power off; exit with CMD's exit status.
                     On the committed image CMD starts once the boot's DHCP has its lease
                     (or gave up; at most 5 s: vireo-netwait, typed first), so eth0 is configured
  --prompt REGEX     with --exec: the guest's shell prompt, a regular expression matched at the end
                     of the console (default: the committed image's "vireo:…# "), e.g.
                     --prompt 'root@debian:~#' for the Debian image
                     (always on the UART shell; with --console hvc its text goes to stderr and
                     stdin still feeds hvc0)
  --elf FILE         bare-metal: load FILE at its addresses, start at its entry in M-mode, no firmware
                     or device tree; exit 0 when it reports PASS through tohost (HTIF), else the
                     failing test number
  --trace FILE       write one line per executed instruction to FILE (slow)
  --jit on|off       on (default): hot guest code is compiled to WebAssembly in the background;
                     off: the hart (the WebAssembly core built from src/cpu/as/) interprets everything
  --guest-profile FILE
                     sample the guest's pc every 997 instructions; at exit write a table of
                     kernel functions (guest/build/linux-obj/System.map) and user/firmware time
  --save FILE        Ctrl-A s writes a snapshot of the running machine to FILE (a .vireo file: RAM,
                     hart, devices, disk overlays) and the machine runs on; Ctrl-A x writes it and
                     then quits. (A guest that powers itself off has nothing left to save.)
  --save-at TEXT     with --save: write the snapshot when TEXT first appears on the console, then
                     exit 0 (for scripts, e.g. --save-at "# " saves at the first shell prompt)
  --restore FILE     start from a snapshot instead of booting: RAM size, devices, transports,
                     disks and shared directories come from FILE (the disk files must be
                     unchanged); --net picks the network backend as usual (connections open at
                     the save are gone, the link comes back up to the guest). With --exec the
                     command is typed after a fresh prompt. A guest restored this way cannot
                     reboot (no boot images)
  --timeout SECONDS  give up after SECONDS of host time: exit 124
  --stats            at exit, print the guest instructions retired to stderr: "vireo: instret N"
                     (with --exec also "vireo: instret N when the command was typed")
  -h, --help         show this text

Console: on a terminal, keys go to the guest raw; Ctrl-A x quits (saving first with --save), Ctrl-A s
saves a snapshot (--save), Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h shows this help. Piped stdin is delivered
to the guest as-is.`;

export class UsageError extends Error {}

/** One --disk PATH[,ro][,writethrough][,transport=mmio|pci]. */
export interface DiskSpec {
  path: string;
  readOnly: boolean;
  writeThrough: boolean;
  transport?: "mmio" | "pci";
}

export function parseDiskSpec(spec: string): DiskSpec {
  const [path, ...opts] = spec.split(",");
  if (path === "") throw new UsageError(`--disk needs a file name: "${spec}"`);
  const d: DiskSpec = { path, readOnly: false, writeThrough: false };
  for (const opt of opts) {
    if (opt === "ro") d.readOnly = true;
    else if (opt === "writethrough") d.writeThrough = true;
    else if (opt === "transport=mmio" || opt === "transport=pci")
      d.transport = opt === "transport=pci" ? "pci" : "mmio";
    else throw new UsageError(`--disk: unknown option "${opt}" (ro, writethrough, transport=mmio|pci)`);
  }
  if (d.readOnly && d.writeThrough) throw new UsageError("--disk: ro and writethrough exclude each other");
  return d;
}

/** One --share DIR[,ro][,tag=TAG][,transport=mmio|pci]. */
export interface ShareSpec {
  dir: string;
  readOnly: boolean;
  tag: string;
  transport?: "mmio" | "pci";
}

export function parseShareSpec(spec: string): ShareSpec {
  const [dir, ...opts] = spec.split(",");
  if (dir === "") throw new UsageError(`--share needs a directory: "${spec}"`);
  const s: ShareSpec = { dir, readOnly: false, tag: "host" };
  for (const opt of opts) {
    if (opt === "ro") s.readOnly = true;
    else if (opt.startsWith("tag=")) s.tag = opt.slice(4);
    else if (opt === "transport=mmio" || opt === "transport=pci")
      s.transport = opt === "transport=pci" ? "pci" : "mmio";
    else throw new UsageError(`--share: unknown option "${opt}" (ro, tag=TAG, transport=mmio|pci)`);
  }
  const bytes = new TextEncoder().encode(s.tag).length;
  if (bytes < 1 || bytes > VIRTIO_9P_MAX_TAG) {
    throw new UsageError(`--share: a mount tag has 1 to ${VIRTIO_9P_MAX_TAG} bytes, not "${s.tag}"`);
  }
  return s;
}

export interface CliOptions {
  bios?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  memMiB: number;
  transport: "mmio" | "pci";
  /** --console: which console is on stdio; absent means "uart". */
  console?: "uart" | "hvc";
  /** --disk, in order; absent when none was given. */
  disks?: DiskSpec[];
  /** --share, in order; absent when none was given. */
  shares?: ShareSpec[];
  net: NetBackendKind;
  /** Offered virtio-net features (from --net-features), undefined for the default offer. */
  netFeatures?: bigint;
  mac?: Uint8Array;
  pcap?: string;
  /** --forward tcp:HOSTPORT:GUESTPORT, for --net stack. */
  forwards?: ForwardSpec[];
  /** --dns HOST:PORT, for --net stack. */
  dns?: { host: string; port: number };
  /** --relay URL, for --net relay. */
  relay?: string;
  exec?: string;
  /** --prompt REGEX: the shell prompt --exec waits for (default PROMPT_RE, the committed image's). */
  prompt?: RegExp;
  elf?: string;
  trace?: string;
  guestProfile?: string;
  jit: boolean;
  timeoutSec?: number;
  /** --stats: print instret at exit. */
  stats?: boolean;
  /** --save FILE, --save-at TEXT, --restore FILE. */
  save?: string;
  saveAt?: string;
  restore?: string;
  help: boolean;
}

/** Parses argv (without node and script); throws UsageError with a message for the user. */
export function parseCli(argv: string[]): CliOptions {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        bios: { type: "string" },
        kernel: { type: "string" },
        initrd: { type: "string" },
        append: { type: "string" },
        mem: { type: "string" },
        transport: { type: "string" },
        console: { type: "string" },
        disk: { type: "string", multiple: true },
        share: { type: "string", multiple: true },
        net: { type: "string" },
        "net-features": { type: "string" },
        mac: { type: "string" },
        pcap: { type: "string" },
        forward: { type: "string", multiple: true },
        dns: { type: "string" },
        relay: { type: "string" },
        exec: { type: "string" },
        prompt: { type: "string" },
        elf: { type: "string" },
        trace: { type: "string" },
        "guest-profile": { type: "string" },
        jit: { type: "string" },
        // Removed with the TypeScript hart; still parsed so that using it says so.
        core: { type: "string" },
        timeout: { type: "string" },
        stats: { type: "boolean" },
        save: { type: "string" },
        "save-at": { type: "string" },
        restore: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const str = (k: string) => values[k] as string | undefined;
  const o: CliOptions = {
    bios: str("bios"),
    kernel: str("kernel"),
    initrd: str("initrd"),
    append: str("append"),
    memMiB: 256,
    transport: "mmio",
    net: "stack",
    pcap: str("pcap"),
    exec: str("exec"),
    elf: str("elf"),
    trace: str("trace"),
    guestProfile: str("guest-profile"),
    jit: true,
    help: values.help === true,
  };
  if (values.stats === true) o.stats = true;
  if (values.core !== undefined) {
    throw new UsageError(
      "--core was removed with the TypeScript hart: the WebAssembly core (src/cpu/as/) is the only hart; drop --core",
    );
  }
  const jit = str("jit");
  if (jit !== undefined) {
    if (jit === "wasm") {
      throw new UsageError(
        "--jit wasm was the TypeScript hart's block compiler, removed with that hart: use --jit on (the default) or off",
      );
    }
    if (jit !== "on" && jit !== "off") throw new UsageError(`--jit takes on or off, not "${jit}"`);
    o.jit = jit === "on";
  }
  const mem = str("mem");
  if (mem !== undefined) {
    if (!/^\d+$/.test(mem) || Number(mem) < 1 || Number(mem) > MAX_MEM_MIB) {
      throw new UsageError(`--mem takes a whole number of MiB in 1…${MAX_MEM_MIB}, not "${mem}"`);
    }
    o.memMiB = Number(mem);
  }
  const disks = values.disk as string[] | undefined;
  if (disks !== undefined) o.disks = disks.map(parseDiskSpec);
  const shares = values.share as string[] | undefined;
  if (shares !== undefined) {
    o.shares = shares.map(parseShareSpec);
    const tags = o.shares.map((x) => x.tag);
    const twice = tags.find((t, i) => tags.indexOf(t) !== i);
    if (twice !== undefined) throw new UsageError(`--share: the tag "${twice}" is given twice`);
  }
  const transport = str("transport");
  if (transport !== undefined) {
    if (transport !== "mmio" && transport !== "pci") {
      throw new UsageError(`--transport takes mmio or pci, not "${transport}"`);
    }
    o.transport = transport;
  }
  const net = str("net");
  if (net !== undefined) {
    if (!isNetBackendKind(net)) throw new UsageError(`--net takes ${NET_BACKEND_KINDS.join(" or ")}, not "${net}"`);
    o.net = net;
  }
  const forwards = values.forward as string[] | undefined;
  if (forwards !== undefined) {
    o.forwards = forwards.map((f) => {
      const spec = parseForwardSpec(f);
      if (spec === undefined) throw new UsageError(`--forward takes tcp:HOSTPORT:GUESTPORT, not "${f}"`);
      return spec;
    });
  }
  const dns = str("dns");
  if (dns !== undefined) {
    const m = /^(.+):(\d{1,5})$/.exec(dns);
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new UsageError(`--dns takes HOST:PORT, not "${dns}"`);
    o.dns = { host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: Number(m[2]) };
  }
  if ((o.forwards !== undefined || o.dns !== undefined) && o.net !== "stack")
    throw new UsageError("--forward and --dns need --net stack");
  const relay = str("relay");
  if (relay !== undefined) {
    if (o.net !== "relay") throw new UsageError("--relay needs --net relay");
    if (!/^wss?:\/\/[^/]+\/l2\/[A-Za-z0-9_-]{1,64}\/?(\?.*)?$/.test(relay))
      throw new UsageError(`--relay takes a ws:// or wss:// URL ending in /l2/NETWORK, not "${relay}"`);
    o.relay = relay;
  }
  if (o.net === "relay" && o.relay === undefined)
    throw new UsageError("--net relay needs --relay ws://HOST:PORT/l2/NETWORK");
  const features = str("net-features");
  if (features !== undefined) {
    const r = parseNetFeatures(features);
    if (!r.ok) throw new UsageError(`--net-features: ${r.error}`);
    o.netFeatures = r.features;
  }
  const mac = str("mac");
  if (mac !== undefined) {
    const m = parseMac(mac);
    if (m === undefined || (m[0]! & 1) !== 0)
      throw new UsageError(`--mac takes a unicast MAC like 52:54:00:12:34:56, not "${mac}"`);
    o.mac = m;
  }
  const stdioConsole = str("console");
  if (stdioConsole !== undefined) {
    if (stdioConsole !== "uart" && stdioConsole !== "hvc")
      throw new UsageError(`--console takes uart or hvc, not "${stdioConsole}"`);
    o.console = stdioConsole;
  }
  const timeout = str("timeout");
  if (timeout !== undefined) {
    const t = Number(timeout);
    if (!/^\d+(\.\d+)?$/.test(timeout) || !(t > 0)) {
      throw new UsageError(`--timeout takes a positive number of seconds, not "${timeout}"`);
    }
    o.timeoutSec = t;
  }
  if (o.elf !== undefined) {
    for (const k of ["bios", "kernel", "initrd", "append", "exec", "disks", "shares", "console"] as const) {
      if (o[k] !== undefined)
        throw new UsageError(
          `--elf runs a bare-metal program; it cannot be combined with --${k === "disks" ? "disk" : k === "shares" ? "share" : k}`,
        );
    }
  }
  if (o.exec !== undefined && o.exec.trim() === "") throw new UsageError("--exec needs a command");
  const prompt = str("prompt");
  if (prompt !== undefined) {
    if (o.exec === undefined) throw new UsageError("--prompt is what --exec waits for; give --exec too");
    try {
      // At the end of the console text, as the default is: "root@debian:~# " matches as typed.
      o.prompt = new RegExp(`(?:${prompt})\\s*$`);
    } catch (e) {
      throw new UsageError(`--prompt takes a regular expression: ${(e as Error).message}`);
    }
  }
  o.save = str("save");
  o.saveAt = str("save-at");
  o.restore = str("restore");
  if (o.saveAt !== undefined && o.save === undefined) throw new UsageError("--save-at needs --save FILE");
  if (o.saveAt === "") throw new UsageError("--save-at needs the text to wait for");
  if ((o.save !== undefined || o.restore !== undefined) && o.elf !== undefined) {
    throw new UsageError("--elf runs a bare-metal program, which cannot be saved or restored");
  }
  if (o.restore !== undefined) {
    const fromSnapshot: [string, unknown][] = [
      ["bios", o.bios],
      ["kernel", o.kernel],
      ["initrd", o.initrd],
      ["append", o.append],
      ["mem", mem],
      ["transport", transport],
      ["disk", o.disks],
      ["share", o.shares],
      ["net-features", features],
      ["mac", mac],
    ];
    for (const [k, v] of fromSnapshot) {
      if (v !== undefined) throw new UsageError(`--restore takes the machine from the snapshot; drop --${k}`);
    }
  }
  return o;
}

export { PROMPT_RE };

const EXIT_MARK_RE = /vireo-exit=(\d+)(?=\D)/g;

/**
 * What --exec types at the first prompt, before the command: the committed image's vireo-netwait returns
 * once the DHCP lease its boot asked for is in (or DHCP gave up; at most 5 s), so a command that uses the
 * network finds eth0 configured. Another guest has no such command and says nothing (2>/dev/null). A line
 * of its own: busybox's line editor takes at most 1023 characters, and the command line keeps them all.
 */
export const EXEC_NET_WAIT = "vireo-netwait 2>/dev/null\n";

/**
 * --exec: watches console output for the first prompt and says when to type EXEC_NET_WAIT, then at the next
 * prompt the command; then picks the exit status out of the `vireo-exit=N` line (which may arrive split
 * across output chunks).
 */
export class ExecDriver {
  private tail = "";
  /** Lines typed so far: EXEC_NET_WAIT, then the command. */
  private typed = 0;
  status: number | undefined;

  /** `prompt`: what the guest's shell prompt looks like at the end of the console text (--prompt). */
  constructor(
    readonly command: string,
    readonly prompt: RegExp = PROMPT_RE,
  ) {}

  /** The command's line, typed at the second prompt. */
  get line(): string {
    return `(${this.command}); echo vireo-exit=$?; poweroff -f\n`;
  }

  /** Feeds console output; returns the line to type when a prompt has just appeared. */
  feed(bytes: Uint8Array): string | undefined {
    let chunk = "";
    for (const b of bytes) chunk += String.fromCharCode(b);
    const text = this.tail + chunk;
    if (this.typed < 2) {
      if (this.prompt.test(consoleText(text))) {
        this.typed++;
        // The next prompt must come after what was just typed: the one seen stays at the end of the text
        // until the echo arrives (busybox's cursor-position query after it may come in a chunk of its own).
        this.tail = "";
        return this.typed === 1 ? EXEC_NET_WAIT : this.line;
      }
    } else {
      for (const m of text.matchAll(EXIT_MARK_RE)) this.status = Number(m[1]);
    }
    // Keep enough to see a prompt or a marker split across chunks, and no more.
    this.tail = text.slice(-1024);
    return undefined;
  }
}

/**
 * The kernel command line for --console hvc: console=ttyS0 becomes console=hvc0 (added when no
 * console is named), so /dev/console — the shell — and the kernel log are on hvc0.
 */
export function hvcBootargs(bootargs: string): string {
  const words = bootargs.split(/\s+/).filter((w) => w !== "" && !/^console=ttyS\d/.test(w));
  const i = bootargs.split(/\s+/).findIndex((w) => /^console=ttyS\d/.test(w));
  if (!words.includes("console=hvc0")) words.splice(i < 0 ? words.length : i, 0, "console=hvc0");
  return words.join(" ");
}

/** The console that is not on stdio: its bytes, each line starting with a prefix such as "[hvc0] ". */
export class PrefixedLines {
  private atLineStart = true;
  private readonly prefix: Uint8Array;

  constructor(
    prefix: string,
    private readonly write: (bytes: Uint8Array) => void,
  ) {
    this.prefix = new TextEncoder().encode(prefix);
  }

  feed(bytes: Uint8Array): void {
    const out: number[] = [];
    for (const b of bytes) {
      if (this.atLineStart) out.push(...this.prefix);
      out.push(b);
      this.atLineStart = b === 0x0a;
    }
    if (out.length > 0) this.write(Uint8Array.from(out));
  }
}

/**
 * Opens an output file named by `--option path` before the guest runs: a path that cannot be written is a usage
 * error, not a stack trace or a crash after the whole run.
 */
function outFile<T>(option: string, path: string, open: () => T): T {
  try {
    return open();
  } catch (e) {
    throw new UsageError(`cannot write --${option} ${path}: ${(e as Error).message}`);
  }
}

/** Buffers trace lines and writes them in large blocks; a stream would queue without bound. */
class TraceWriter {
  private parts: string[] = [];
  private bytes = 0;
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, "w");
  }
  /** The write that failed (a full disk): tracing stops, the run ends, and close() throws it. */
  failed: Error | undefined;
  line = (s: string): void => {
    if (this.failed !== undefined) return;
    this.parts.push(s, "\n");
    this.bytes += s.length + 1;
    if (this.bytes >= 1 << 20) this.flush();
  };
  flush(): void {
    if (this.parts.length === 0 || this.failed !== undefined) return;
    const text = this.parts.join("");
    this.parts = [];
    this.bytes = 0;
    try {
      writeSync(this.fd, text);
    } catch (e) {
      this.failed = e as Error;
    }
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
    if (this.failed !== undefined) throw this.failed;
  }
}

function readImage(option: string, path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "is a directory" : err.message;
    throw new UsageError(`cannot read ${option} ${path}: ${why}`);
  }
}

/** An explicit file, "none", or the default under public/images with a hint when it is not built. */
function imageOption(option: string, given: string | undefined, defaultName: string): Uint8Array | undefined {
  if (given === "none") return undefined;
  if (given !== undefined) return checkedImage(option, given, readImage(option, given));
  const path = join(IMAGES_DIR, defaultName);
  if (!existsSync(path)) {
    throw new UsageError(
      `${relative(process.cwd(), path) || path} does not exist: build the guest images with \`npm run guest\` ` +
        `(or pass ${option} FILE${option === "--kernel" ? "" : ` or ${option} none`})`,
    );
  }
  return checkedImage(option, relative(process.cwd(), path) || path, readImage(option, path));
}

/** A file that is not what the option needs is refused before boot, saying what it looks like. */
function checkedImage(option: string, path: string, bytes: Uint8Array): Uint8Array {
  const role: BootImageRole = option === "--bios" ? "firmware" : option === "--kernel" ? "kernel" : "initrd";
  const wrong = checkBootImage(role, bytes, `${option} ${path}`);
  if (wrong !== undefined) throw new UsageError(wrong);
  return bytes;
}

/** A --disk as a virtio-blk device; a missing or unreadable file is the user's error. */
function openDisk(d: DiskSpec, index: number): VirtioAttachment {
  let backend: BlockBackend;
  try {
    backend = openDiskImage(d.path, d);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "is a directory" : err.message;
    throw new UsageError(`cannot open --disk ${d.path}: ${why}`);
  }
  const name = `virtio-blk${index}`;
  const device = new VirtioBlk(backend, { name, readOnly: d.readOnly, serial: basename(d.path) });
  return { device, transport: d.transport };
}

/** A --share as a virtio-9p device over the host directory; a missing directory is the user's error. */
function openShare(s: ShareSpec, index: number): VirtioAttachment {
  let backend: HostShare;
  try {
    backend = new HostShare(s.dir, { readOnly: s.readOnly });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "ENOENT" ? "no such directory" : err.message;
    throw new UsageError(`cannot share ${s.dir}: ${why}`);
  }
  const device = new Virtio9p(backend, { name: `virtio-9p${index}`, tag: s.tag });
  return { device, transport: s.transport };
}

/** The virtio-net device for --net/--net-features/--mac, with its --pcap capture; undefined for --net none. */
function createNet(o: CliOptions, wake: () => void = () => {}): { device: VirtioNet; close(): void } | undefined {
  const report = (m: string) => process.stderr.write(`\r\nvireo: ${m}\r\n`);
  const backend = createNetBackend(
    o.net,
    o.net === "stack"
      ? { uplink: new SocketUplink(), config: { dnsUpstream: o.dns }, onActivity: wake }
      : o.net === "relay" && o.relay !== undefined
        ? { relay: nodeRelayOptions(o.relay, report, wake) }
        : undefined,
  );
  if (backend === undefined) return undefined;
  const device = new VirtioNet({ name: "virtio-net0", backend, features: o.netFeatures, mac: o.mac });
  let fd: number | undefined;
  if (o.pcap !== undefined) {
    const path = o.pcap;
    fd = outFile("pcap", path, () => openSync(path, "w"));
    const out = fd;
    const writer = new PcapWriter((chunk) => writeSync(out, chunk), {
      format: o.pcap.endsWith(".pcap") ? "pcap" : "pcapng",
    });
    device.tap = (dir, frame, gso) => writer.write(frame, dir, gso);
  }
  // --forward: host listeners whose connections the stack carries into the guest.
  const servers: Server[] = [];
  let closed = false;
  if (backend instanceof StackBackend) {
    for (const f of o.forwards ?? []) {
      listenForward(backend.stack, f).then(
        (srv) => (closed ? srv.close() : servers.push(srv)),
        (e: Error) => process.stderr.write(`vireo: --forward tcp:${f.hostPort}:${f.guestPort}: ${e.message}\n`),
      );
    }
  }
  return {
    device,
    close: () => {
      closed = true;
      for (const srv of servers) srv.close();
      device.tap = undefined;
      backend.close();
      if (fd !== undefined) closeSync(fd);
    },
  };
}

function manifestBootargs(): unknown {
  const path = join(IMAGES_DIR, "manifest.json");
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** The terminal side: raw mode and the Ctrl-A escape on a TTY, plain delivery from a pipe. */
class HostConsole {
  private escape = false;
  private readonly raw: boolean;

  constructor(
    private readonly send: (bytes: Uint8Array) => void,
    private readonly quit: () => void,
    private readonly save: () => void = () => {},
  ) {
    const stdin = process.stdin;
    this.raw = stdin.isTTY === true;
    if (this.raw) stdin.setRawMode(true);
    stdin.on("data", (d: Buffer) => this.input(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    stdin.on("error", () => {});
    stdin.resume();
  }

  private input(bytes: Uint8Array): void {
    if (!this.raw) {
      this.send(bytes.slice());
      return;
    }
    const out: number[] = [];
    for (const b of bytes) {
      if (this.escape) {
        this.escape = false;
        if (b === 0x78 || b === 0x58) {
          this.quit();
          return;
        }
        if (b === CTRL_A) out.push(CTRL_A);
        else if (b === 0x73 || b === 0x53) this.save();
        else if (b === 0x68 || b === 0x48) process.stderr.write(`\r\n${USAGE.replaceAll("\n", "\r\n")}\r\n`);
      } else if (b === CTRL_A) {
        this.escape = true;
      } else {
        out.push(b);
      }
    }
    if (out.length > 0) this.send(Uint8Array.from(out));
  }

  close(): void {
    if (this.raw) process.stdin.setRawMode(false);
    process.stdin.pause();
  }
}

/** Boots (or runs the ELF) and resolves with the process exit code. */
export async function runVm(o: CliOptions): Promise<number> {
  const elf = o.elf !== undefined ? readImage("--elf", o.elf) : undefined;
  const images = new Map<string, Uint8Array | undefined>();
  const { VirtMachine, defaultBootargs } = await import("../machine/virt.ts");
  let restore: Awaited<ReturnType<typeof VirtMachine.readSnapshot>> | undefined;
  if (o.restore !== undefined) {
    try {
      restore = await VirtMachine.readSnapshot(readImage("--restore", o.restore));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      process.stderr.write(`vireo: cannot restore ${o.restore}: ${(e as Error).message}\n`);
      return 1;
    }
    let host: SavedHost;
    try {
      host = savedHost(restore.machine.host, restore.machine.devices);
    } catch (e) {
      process.stderr.write(`vireo: cannot restore ${o.restore}: ${(e as Error).message}\n`);
      return 1;
    }
    o.memMiB = restore.machine.memMiB;
    o.disks = host.disks;
    o.shares = host.shares;
    if (host.mac !== null) o.mac = parseMac(host.mac);
    const savedNet = restore.machine.devices.find((d) => d.deviceId === VIRTIO_ID_NET);
    if (savedNet !== undefined) o.netFeatures = BigInt(savedNet.features);
  } else if (elf === undefined) {
    const specs: [string, string | undefined, string][] = [
      ["--bios", o.bios, "fw_dynamic.bin"],
      ["--kernel", o.kernel, "Image"],
      ["--initrd", o.initrd, "initramfs.cpio"],
    ];
    // Files named on the command line first: a typo there matters more than a default not built yet.
    specs.sort((a, b) => Number(a[1] === undefined) - Number(b[1] === undefined));
    for (const [option, given, name] of specs) images.set(option, imageOption(option, given, name));
  }
  const disks = (o.disks ?? []).map((d, i) => openDisk(d, i));
  const shares = (o.shares ?? []).map((s, i) => openShare(s, i));
  // Frames from the relay arrive on their own: they must wake a loop sleeping while the guest idles.
  let wakeLoop = (): void => {};
  let net = elf === undefined ? createNet(o, () => wakeLoop()) : undefined;
  // A restored machine has the devices it was saved with: a network device with no backend (link down) for
  // --net none, none at all when the saved machine had none.
  const savedDevices = restore?.machine.devices;
  if (savedDevices !== undefined) {
    const savedNet = savedDevices.find((d) => d.deviceId === VIRTIO_ID_NET);
    if (savedNet === undefined) {
      net?.close();
      net = undefined;
    } else if (net === undefined) {
      const device = new VirtioNet({ name: savedNet.name, features: o.netFeatures, mac: o.mac });
      net = { device, close: () => {} };
    }
  }
  // Output files are opened before the guest runs (outFile).
  const trace = o.trace !== undefined ? outFile("trace", o.trace, () => new TraceWriter(o.trace as string)) : undefined;
  const profiler =
    o.guestProfile !== undefined
      ? outFile(
          "guest-profile",
          o.guestProfile,
          () => new GuestProfiler(o.guestProfile as string, join(REPO_ROOT, "guest/build/linux-obj/System.map")),
        )
      : undefined;
  const exec = o.exec !== undefined ? new ExecDriver(o.exec, o.prompt) : undefined;

  return new Promise<number>((resolveExit) => {
    let done = false;
    /** Whether the guest's output ended a line, so our own messages start on a fresh one. */
    let atLineStart = true;
    let immediate: NodeJS.Immediate | undefined;
    let sleep: NodeJS.Timeout | undefined;
    let host: HostConsole | undefined;
    let machine: VirtMachine;
    /** --stats: instret when --exec typed its command. */
    let typedInstret: number | undefined;
    /** The loop does not run the hart while a snapshot is read or written. */
    let paused = false;
    /** Ctrl-A s or --save-at asked for a snapshot: written between slices. */
    let saveRequested = false;
    let saveAtSeen = false;
    /** Ctrl-A x with --save: the snapshot is written, then the run ends. */
    let quitAfterSave = false;
    let saveAtTail = "";

    const finish = (exitCode: number, message?: string): void => {
      if (done) return;
      let code = exitCode;
      /** Writes out an output file; a failure (a full disk) is reported and fails the run, not the process. */
      const writeOut = (what: string, write: () => void): void => {
        try {
          write();
        } catch (e) {
          process.stderr.write(
            `${atLineStart ? "" : "\r\n"}vireo: writing ${what} failed: ${(e as Error).stack ?? e}\n`,
          );
          atLineStart = true;
          if (code === 0) code = 1;
        }
      };
      done = true;
      if (immediate !== undefined) clearImmediate(immediate);
      if (sleep !== undefined) clearTimeout(sleep);
      clearTimeout(deadline);
      machine?.uart.flush();
      if (o.stats === true && machine !== undefined) {
        const typed = typedInstret !== undefined ? `vireo: instret ${typedInstret} when the command was typed\n` : "";
        process.stderr.write(`${atLineStart ? "" : "\r\n"}${typed}vireo: instret ${machine.hart.instret}\n`);
        atLineStart = true;
      }
      if (trace !== undefined) writeOut(`--trace ${o.trace}`, () => trace.close());
      if (profiler !== undefined) writeOut(`--guest-profile ${o.guestProfile}`, () => profiler.write());
      net?.close();
      host?.close();
      process.stdout.off("resize", hvcResized);
      if (message !== undefined) process.stderr.write(`${atLineStart ? "" : "\r\n"}${message}\n`);
      resolveExit(code);
    };

    const deadline = setTimeout(
      () => finish(EXIT_TIMEOUT, `vireo: timeout after ${o.timeoutSec} s`),
      o.timeoutSec !== undefined ? o.timeoutSec * 1000 : 2 ** 31 - 1,
    );
    if (o.timeoutSec === undefined) deadline.unref();

    const schedule = (): void => {
      if (done || immediate !== undefined) return;
      if (sleep !== undefined) {
        clearTimeout(sleep);
        sleep = undefined;
      }
      immediate = setImmediate(step);
    };
    // Only a sleeping loop needs waking; a running one picks the interrupt up in its next slice.
    wakeLoop = () => {
      if (sleep !== undefined) schedule();
    };

    // --console: one console on stdout, the other's lines prefixed on stderr.
    const hvcOnStdio = o.console === "hvc";
    const other = new PrefixedLines(hvcOnStdio ? "[ttyS0] " : "[hvc0] ", (b) => process.stderr.write(b));
    // A terminal answers the guest's cursor-position queries only on the console it shows and types into:
    // stdin and stdout both the terminal, and stdin reaching that console (--exec types into ttyS0 itself).
    // Every other console gets a stand-in that answers and keeps the queries out of the output.
    const terminalOnStdio = process.stdin.isTTY === true && process.stdout.isTTY === true;
    const answered = (onStdio: boolean): boolean => onStdio && terminalOnStdio && (exec === undefined || hvcOnStdio);
    const standIn = (hvc: boolean): StandInTerminal | undefined =>
      answered(hvc === hvcOnStdio)
        ? undefined
        : new StandInTerminal((answer) => {
            if (hvc) machine.sendVirtioConsoleInput(answer);
            else machine.sendConsoleInput(answer);
            schedule();
          }, STAND_IN_COLS);
    const uartStandIn = standIn(false);
    const hvcStandIn = standIn(true);
    // hvc0 on a terminal has that terminal's size, and follows it (VIRTIO_CONSOLE_F_SIZE); elsewhere the
    // stand-in's screen, so the size the guest reads and the one its queries get agree.
    const hvcSize = (): { cols: number; rows: number } =>
      hvcStandIn === undefined
        ? { cols: process.stdout.columns, rows: process.stdout.rows }
        : { cols: hvcStandIn.cols, rows: hvcStandIn.rows };
    function hvcResized(): void {
      const { cols, rows } = hvcSize();
      machine?.setVirtioConsoleSize(cols, rows);
      schedule();
    }
    if (hvcStandIn === undefined) process.stdout.on("resize", hvcResized);
    const show = (bytes: Uint8Array, onStdio: boolean, terminal: StandInTerminal | undefined): void => {
      const shown = terminal?.filter(bytes) ?? bytes;
      if (onStdio) process.stdout.write(shown);
      else other.feed(shown);
      if (shown.length > 0) atLineStart = shown[shown.length - 1] === 0x0a;
    };

    const imageBootargs = defaultBootargs(manifestBootargs());
    const bootargs = hvcOnStdio && exec === undefined ? hvcBootargs(imageBootargs) : imageBootargs;

    const onOutput = (bytes: Uint8Array): void => {
      show(bytes, !hvcOnStdio, uartStandIn);
      watchSaveAt(bytes);
      const line = exec?.feed(bytes);
      if (line !== undefined) {
        typedInstret = machine.hart.instret;
        machine.sendConsoleInput(new TextEncoder().encode(line));
      }
    };

    const onPowerOff = (code: number): void => {
      if (elf !== undefined) {
        const verdict = code === 0 ? "PASS" : `FAIL (test ${code})`;
        finish(Math.min(code, 255), `vireo: ${verdict}`);
      } else if (exec !== undefined) {
        if (exec.status === undefined) finish(1, "vireo: the guest powered off before the command finished");
        else finish(exec.status);
      } else {
        finish(Math.min(code, 255), code === 0 ? undefined : `vireo: guest powered off with code ${code}`);
      }
    };

    const note = (message: string): void => {
      process.stderr.write(`${atLineStart ? "" : "\r\n"}${message}\r\n`);
      atLineStart = true;
    };

    // What the CLI needs to rebuild the machine at --restore (disk paths are made absolute).
    const hostRecord: SavedHost & { cli: 1 } = {
      cli: 1,
      disks: (o.disks ?? []).map((d) => ({ ...d, path: resolve(d.path) })),
      shares: (o.shares ?? []).map((x) => ({ ...x, dir: resolve(x.dir) })),
      mac: o.mac !== undefined ? macToString(o.mac) : null,
    };

    /** Writes the snapshot (the loop paused meanwhile); --save-at then ends the run. */
    const save = (): void => {
      saveRequested = false;
      const file = o.save;
      if (file === undefined) {
        note("vireo: Ctrl-A s saves a snapshot, but no --save FILE was given");
        return;
      }
      paused = true;
      const exitAfter = saveAtSeen || quitAfterSave;
      // The guest runs on once its state is copied, while the file is compressed and written.
      const runOn = (): void => {
        if (exitAfter || done) return;
        paused = false;
        schedule();
      };
      machine.saveSnapshot(hostRecord, { onCaptured: runOn }).then(
        (bytes) => {
          try {
            // Beside it, then renamed over it: a crash mid-write never destroys the previous snapshot.
            const part = `${file}.${process.pid}.part`;
            writeFileSync(part, bytes);
            renameSync(part, file);
          } catch (e) {
            finish(1, `vireo: cannot write --save ${file}: ${(e as Error).message}`);
            return;
          }
          const message = `vireo: saved ${file} (${(bytes.length / 1048576).toFixed(1)} MiB)`;
          if (exitAfter) {
            finish(0, message);
            return;
          }
          note(message);
          paused = false;
          schedule();
        },
        (e: Error) => {
          if (exitAfter) {
            finish(1, `vireo: cannot save: ${e.message}`);
            return;
          }
          note(`vireo: cannot save: ${e.message}`);
          paused = false;
          schedule();
        },
      );
    };

    /** --save-at: watches console text (both consoles) for the marker. */
    const watchSaveAt = (bytes: Uint8Array): void => {
      if (o.saveAt === undefined || saveAtSeen) return;
      let chunk = "";
      for (const b of bytes) chunk += String.fromCharCode(b);
      const text = consoleText(saveAtTail + chunk);
      if (text.includes(o.saveAt)) {
        saveAtSeen = true;
        saveRequested = true;
      }
      saveAtTail = (saveAtTail + chunk).slice(-Math.max(1024, 2 * o.saveAt.length));
    };

    function step(): void {
      immediate = undefined;
      if (done || paused) return;
      if (saveRequested) {
        save();
        return;
      }
      let state: RunState;
      try {
        state = machine.runSlice(SLICE_MS);
      } catch (e) {
        finish(1, `vireo: emulator error: ${(e as Error).stack ?? String(e)}`);
        return;
      }
      // The trace could not be written (finish reports why).
      if (trace?.failed !== undefined) {
        finish(1);
        return;
      }
      if (state === "poweroff") {
        onPowerOff(machine.exitCode ?? 0);
      } else if (state === "reset") {
        if (restore !== undefined) {
          finish(1, "vireo: the guest rebooted; a machine restored from a snapshot has no boot images to boot again");
          return;
        }
        machine.reset();
        schedule();
      } else if (state === "waiting") {
        const ms = (machine.nextEventNs() - machine.clock.nowNs()) / 1e6;
        if (ms < 1) schedule();
        else
          sleep = setTimeout(
            () => {
              sleep = undefined;
              schedule();
            },
            Math.min(ms, MAX_SLEEP_MS),
          );
      } else {
        schedule();
      }
    }

    try {
      machine = new VirtMachine({
        memMiB: o.memMiB,
        virtioTransport: o.transport,
        defaultTransports: savedDevices !== undefined ? savedTransports(savedDevices) : undefined,
        virtio: [...disks, ...shares],
        net: net?.device ?? null,
        firmware: images.get("--bios"),
        kernel: images.get("--kernel"),
        initrd: images.get("--initrd"),
        elf,
        bootargs: o.append ?? bootargs,
        trace: trace?.line,
        onChunk: profiler?.sample,
        onAsyncInterrupt: () => wakeLoop(),
        jit: o.jit,
        wasmCore: loadCoreModule(),
        instructionsPerChunk: profiler !== undefined ? PROFILE_CHUNK : undefined,
        onConsoleOutput: onOutput,
        snapshotCodec: ZLIB_CODEC,
        onVirtioConsoleOutput: (bytes) => {
          show(bytes, hvcOnStdio, hvcStandIn);
          watchSaveAt(bytes);
        },
        virtioConsoleSize: hvcSize(),
      });
    } catch (e) {
      finish(1, `vireo: ${(e as Error).message}`);
      return;
    }
    // stdin feeds the console on stdio; --exec types into the UART itself, so only hvc0 takes stdin then.
    // With --restore it starts once the snapshot is in: the restore replaces the consoles' unread input, and
    // stdin holds what was typed meanwhile.
    const openHost = (): void => {
      if (exec !== undefined && !hvcOnStdio) return;
      host = new HostConsole(
        (bytes) => {
          if (hvcOnStdio) machine.sendVirtioConsoleInput(bytes);
          else machine.sendConsoleInput(bytes);
          schedule(); // wake a sleeping loop: the guest has input
        },
        () => {
          if (o.save === undefined || quitAfterSave) {
            finish(0, "vireo: terminated");
            return;
          }
          // With --save, quitting keeps the machine: save it, then end.
          quitAfterSave = true;
          saveRequested = true;
          schedule();
        },
        () => {
          saveRequested = true;
          schedule();
        },
      );
    };
    if (elf !== undefined && !machine.hasHtif) {
      process.stderr.write(
        "vireo: note: the ELF has no tohost symbol; it can only stop through the sifive-test device\n",
      );
    }
    if (restore === undefined) {
      openHost();
      schedule();
      return;
    }
    paused = true;
    machine.restoreSnapshot(restore.contents).then(
      () => {
        paused = false;
        if (!done) openHost();
        // --exec waits for a prompt: a restored shell prints none until it gets a line.
        if (exec !== undefined) machine.sendConsoleInput(Uint8Array.of(0x0a));
        schedule();
      },
      (e: Error) => finish(1, `vireo: cannot restore ${o.restore}: ${e.message}`),
    );
  });
}

/**
 * Node's zlib for snapshots: the same deflate format as CompressionStream, at about twice the speed of Node's
 * web-stream wrapper around it (inflating a 3.9 MiB RAM image: ~60 ms instead of ~140).
 */
const ZLIB_CODEC = {
  deflate: async (data: Uint8Array) => {
    const out = deflateSync(data);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
  inflate: async (data: Uint8Array, maxBytes: number) => {
    try {
      const out = inflateSync(data, { maxOutputLength: Math.max(1, Math.min(maxBytes, bufferConstants.MAX_LENGTH)) });
      // A view, not a copy: a whole RAM image is large enough once.
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(
        code === "ERR_BUFFER_TOO_LARGE" ? `inflates to more than ${maxBytes} bytes` : (e as Error).message,
      );
    }
  },
  inflateStream: (data: Uint8Array, take: (piece: Uint8Array) => void) =>
    new Promise<void>((resolveIt, rejectIt) => {
      // 1 MiB pieces: zlib's default 16 KiB ones cost an event each (a 256 MiB restore: ~140 ms instead of ~60).
      const z = createInflate({ chunkSize: 1 << 20 });
      let failed = false;
      z.on("data", (piece: Buffer) => {
        if (failed) return;
        try {
          take(new Uint8Array(piece.buffer, piece.byteOffset, piece.byteLength));
        } catch (e) {
          failed = true;
          z.destroy();
          rejectIt(e);
        }
      });
      z.on("error", (e) => {
        if (!failed) rejectIt(e);
        failed = true;
      });
      z.on("end", () => {
        if (!failed) resolveIt();
      });
      z.end(data);
    }),
};

/** What the CLI records about itself in a snapshot (VirtMachine.saveSnapshot's `host`), to rebuild the machine. */
interface SavedHost {
  disks: DiskSpec[];
  shares: ShareSpec[];
  mac: string | null;
}

/** The --share directories of a saved machine, one per virtio-9p device; each must be a directory here. */
function savedShares(v: unknown, devices: readonly SavedDevice[]): ShareSpec[] {
  const ninep = devices.filter((d) => d.deviceId === VIRTIO_ID_9P);
  const list = v === undefined ? [] : v;
  if (!Array.isArray(list)) throw new Error("host.shares: not a list");
  if (list.length !== ninep.length) {
    throw new Error(`its record names ${list.length} shared directory(ies) for ${ninep.length} virtio-9p device(s)`);
  }
  return list.map((x: unknown, i: number): ShareSpec => {
    const s = x as Partial<ShareSpec> | null;
    if (typeof s !== "object" || s === null || typeof s.dir !== "string" || typeof s.readOnly !== "boolean") {
      throw new Error(`host.shares[${i}]: not a shared directory`);
    }
    if (typeof s.tag !== "string") throw new Error(`host.shares[${i}]: no mount tag`);
    let dir = false;
    try {
      dir = statSync(s.dir).isDirectory();
    } catch {
      dir = false;
    }
    if (!dir) throw new Error(`its shared directory ${s.dir} is not a directory here`);
    return { dir: s.dir, readOnly: s.readOnly, tag: s.tag, transport: ninep[i].transport as "mmio" | "pci" };
  });
}

function savedHost(v: unknown, devices: readonly SavedDevice[]): SavedHost {
  const h = v as {
    cli?: unknown;
    page?: unknown;
    disks?: unknown;
    shares?: unknown;
    diskFiles?: unknown;
    mac?: unknown;
  } | null;
  const blk = devices.filter((d) => d.deviceId === VIRTIO_ID_BLOCK);
  const mac = typeof h?.mac === "string" && parseMac(h.mac) !== undefined ? h.mac : null;
  if (typeof h === "object" && h !== null && h.page === 1) {
    // Saved by the page: its disks are URLs or picked files, which this command line does not open.
    if (blk.length > 0) {
      throw new Error(
        `the page saved it with ${blk.length} disk(s) read from URLs or picked files; the command line opens only files`,
      );
    }
    return { disks: [], shares: savedShares(undefined, devices), mac };
  }
  if (typeof h !== "object" || h === null || h.cli !== 1 || !Array.isArray(h.disks)) {
    throw new Error("the snapshot was saved by neither this command line nor the page (no disk list)");
  }
  if (h.disks.length !== blk.length) {
    throw new Error(`its record names ${h.disks.length} disk file(s) for ${blk.length} virtio-blk device(s)`);
  }
  const disks = h.disks.map((d: unknown, i: number): DiskSpec => {
    const x = d as Partial<DiskSpec> | null;
    if (typeof x !== "object" || x === null || typeof x.path !== "string" || typeof x.readOnly !== "boolean") {
      throw new Error(`host.disks[${i}]: not a disk`);
    }
    // A snapshot never holds a writethrough disk (the save refuses one): a record saying so is not ours.
    if (x.writeThrough !== false) throw new Error(`host.disks[${i}]: not a copy-on-write or read-only disk`);
    // Only a regular file: a FIFO or a device named by a hostile file would block or be read as a disk.
    let regular = false;
    try {
      regular = statSync(x.path).isFile();
    } catch {
      regular = false;
    }
    if (!regular) throw new Error(`its disk ${x.path} is not a regular file here`);
    // The transport the saved machine had it on (a machine-wide --transport is not in the record).
    return { path: x.path, readOnly: x.readOnly, writeThrough: false, transport: blk[i].transport as "mmio" | "pci" };
  });
  return { disks, shares: savedShares(h.shares, devices), mac };
}

/** The transports of a saved machine's default devices (net, console, rng). */
function savedTransports(devices: { deviceId: number; transport: string }[]): VirtMachineOptions["defaultTransports"] {
  const t = (id: number) => devices.find((d) => d.deviceId === id)?.transport as "mmio" | "pci" | undefined;
  return { net: t(VIRTIO_ID_NET), console: t(VIRTIO_ID_CONSOLE), rng: t(VIRTIO_ID_RNG) };
}

/**
 * The command line's entry: parses argv (without node and script), runs, and exits the process with the
 * code. Called below when this file is the main module (`tsx src/cli/vm.ts`, `node dist/cli/vm.mjs`) and
 * by scripts/vm.mjs (`npm run vm`), which imports the bundle.
 */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  let code: number;
  try {
    const o = parseCli(argv);
    if (o.help) {
      process.stdout.write(`${USAGE}\n`);
      code = 0;
    } else {
      code = await runVm(o);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`vireo: ${e.message}\nTry \`npm run vm -- --help\`.\n`);
      code = EXIT_USAGE;
    } else {
      process.stderr.write(`vireo: ${(e as Error).stack ?? String(e)}\n`);
      code = 1;
    }
  }
  // Let stdout drain (a pipe to a test) before leaving; stdin or timers must not keep us alive.
  process.stdout.write("", () => process.exit(code));
}

// Run as a script, not imported: true for src/cli/vm.ts under tsx and for the bundle dist/cli/vm.mjs run by
// node (import.meta.url is then the bundle's own URL); false under scripts/vm.mjs, which calls main() itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void main();
}
