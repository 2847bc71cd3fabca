// The `virt` board: guest RAM, every device at its QEMU address (spec riscv-platform.md §6), the
// PLIC wiring, the generated device tree, the QEMU boot placement and a run loop the host drives in
// time slices. No file or Node I/O here: the caller hands in the images as bytes, so the same board
// runs in a Web Worker and in Node (DESIGN.md §2, §4).

import { CLINT_TIMEBASE_HZ, Clint } from "../../devices/clint/clint.ts";
import type { PciHost } from "../../devices/pci-host/pci-host.ts";
import { PLIC_DEFAULT_SOURCES, Plic } from "../../devices/plic/plic.ts";
import { GoldfishRtc } from "../../devices/rtc-goldfish/rtc-goldfish.ts";
import { SifiveTest } from "../../devices/syscon/sifive-test.ts";
import { Uart16550 } from "../../devices/uart-16550/uart-16550.ts";
import type { VirtioMmioTransport } from "../../devices/virtio/mmio-transport.ts";
import { VirtioPciTransport } from "../../devices/virtio/pci-transport.ts";
import { CowOverlay } from "../../devices/virtio-blk/cow-overlay.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { Bus } from "../core/bus.ts";
import { type Clock, hostClock } from "../core/clock.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import { MIP_MEIP, MIP_SEIP, type TimeSource } from "../core/interrupts.ts";
import type { IrqLine } from "../core/irq.ts";
import { WASM_CORE_AUX_BYTES, WASM_CORE_MAX_MEM_MIB, WasmHart } from "../cpu/wasm-core.ts";
import { parseElf } from "./elf.ts";
import { HtifWatcher } from "./htif.ts";
import {
  type BootLayout,
  buildMrom,
  FW_DYNAMIC_INFO_OFFSET,
  LoaderError,
  loadBootImages,
  loadElfSegments,
  loadFdt,
  Rom,
  VIRT_MROM_BASE,
  VIRT_MROM_SIZE,
} from "./loader.ts";
import { type DeflateCodec, decodeRam, encodeRam, STREAM_CODEC } from "./ram-image.ts";
import { decodeSnapshot, encodeSnapshot, type SnapshotContents } from "./snapshot-file.ts";
import { record, SnapshotError } from "./state-check.ts";
import {
  buildVirtDtb,
  VIRT_CLINT_BASE,
  VIRT_CLINT_SIZE,
  VIRT_DRAM_BASE,
  VIRT_PLIC_BASE,
  VIRT_PLIC_SIZE,
  VIRT_RTC_BASE,
  VIRT_RTC_IRQ,
  VIRT_RTC_SIZE,
  VIRT_TEST_BASE,
  VIRT_TEST_SIZE,
  VIRT_UART0_BASE,
  VIRT_UART0_IRQ,
  VIRT_UART0_SIZE,
} from "./virt-dt.ts";
import { attachVirtioPci, attachVirtPci } from "./virt-pci.ts";
import { checkSameMachine, describeMachine, readSavedMachine, type SavedMachine } from "./virt-snapshot.ts";
import {
  attachVirtioMmio,
  type VirtioBoardOptions,
  VirtioDeviceSet,
  type VirtioTransportSnapshot,
} from "./virt-virtio.ts";

// Single letters, then the multi-letter extensions Linux acts on (riscv-platform.md §8.2): Sstc lets the
// kernel program its timer through stimecmp instead of an SBI call into OpenSBI.
export const VIRT_ISA = "rv64imafdc_zicsr_zifencei_sstc";
export const VIRT_MMU_TYPE = "riscv,sv39";
export const DEFAULT_BOOTARGS = "console=ttyS0 earlycon=sbi";
export const DEFAULT_MEM_MIB = 256;
/** Guest RAM and the hart's region share one 32-bit WebAssembly memory (wasm-core.ts). */
export const MAX_MEM_MIB = WASM_CORE_MAX_MEM_MIB;

const NS_PER_TICK = 1e9 / CLINT_TIMEBASE_HZ;
/** Instructions per hart.run() call between device updates; small enough that timers stay accurate. */
const DEFAULT_CHUNK = 32768;
/** A slice ends this early (host ns) when compiled code waits to be installed (WasmHart.compiling). */
const JIT_YIELD_NS = 2e6;
/** In a bare-metal HTIF run tohost is polled between chunks, so keep them short. */
const HTIF_CHUNK = 1000;

export type RunState = "running" | "waiting" | "poweroff" | "reset";

export interface VirtMachineOptions extends VirtioBoardOptions {
  /** Guest RAM in MiB (default 256). */
  memMiB?: number;
  /** OpenSBI fw_dynamic (.bin or .elf); omit to start the kernel directly in M-mode (`-bios none`). */
  firmware?: Uint8Array;
  /** Raw Image, ELF vmlinux or flat binary. */
  kernel?: Uint8Array;
  /** cpio or gzip'ed cpio, passed to Linux as-is. */
  initrd?: Uint8Array;
  /**
   * Bare-metal ELF (riscv-tests style): loaded at its addresses, started at its entry in M-mode with
   * no firmware or device tree; `tohost` writes end the run (HTIF, spec §11). Excludes the three above.
   */
  elf?: Uint8Array;
  /** Kernel command line (default: the caller's manifest bootargs, else DEFAULT_BOOTARGS). */
  bootargs?: string;
  clock?: Clock;
  /** /chosen/rng-seed bytes; 32 random bytes when omitted. */
  rngSeed?: Uint8Array;
  instructionsPerChunk?: number;
  /** The hart's block compiler (WasmHartOptions.jit): false interprets only; a number is the threshold. */
  jit?: boolean | number;
  /**
   * The hart: the WebAssembly core (build/core.wasm), compiled by the host — src/cli/core-module.ts in Node,
   * the worker in the page — and instantiated here (src/cpu/wasm-core.ts).
   */
  wasmCore: WebAssembly.Module;
  /** Called with the hart's pc (low, high 32 bits) and privilege after every chunk (a sampling profiler; see --guest-profile). */
  onChunk?: (pcLo: number, pcHi: number, priv: number) => void;
  /** One line per retired instruction (see WasmHart.trace); survives reset(). */
  trace?: (line: string) => void;
  onConsoleOutput?: (bytes: Uint8Array) => void;
  /** Snapshots' deflate (RAM, disk overlays): CompressionStream unless the host has a faster one (Node's zlib). */
  snapshotCodec?: DeflateCodec;
  onPowerOff?: (exitCode: number) => void;
  onReset?: () => void;
  /**
   * A device raised an interrupt outside runSlice() (an async virtio-blk completion): a run loop
   * sleeping in "waiting" should run again.
   */
  onAsyncInterrupt?: () => void;
}

/** The bootargs a `public/images/manifest.json` asks for, or DEFAULT_BOOTARGS. */
export function defaultBootargs(manifest?: unknown): string {
  if (typeof manifest === "object" && manifest !== null && "bootargs" in manifest) {
    const b = (manifest as { bootargs: unknown }).bootargs;
    if (typeof b === "string" && b.length > 0) return b;
  }
  return DEFAULT_BOOTARGS;
}

/** Everything one power cycle builds; reset() throws it away and builds a fresh one. */
interface Board {
  mem: GuestMemory;
  bus: Bus;
  hart: WasmHart;
  clint: Clint;
  plic: Plic;
  uart: Uart16550;
  rtc: GoldfishRtc;
  test: SifiveTest;
  layout: BootLayout;
  /** Undefined in a bare-metal run. */
  dtb: Uint8Array | undefined;
  fdtAddr: number;
  htif: HtifWatcher | undefined;
  virtioMmio: VirtioMmioTransport[];
  virtioPci: VirtioPciTransport[];
  pci: PciHost;
}

export class VirtMachine {
  onConsoleOutput: (bytes: Uint8Array) => void;
  onPowerOff: (exitCode: number) => void;
  onReset: () => void;
  onVirtioConsoleOutput: (bytes: Uint8Array) => void;
  onAsyncInterrupt: () => void;
  readonly clock: Clock;
  /** The virtio devices (console, rng, disks…), kept across power cycles. */
  readonly virtio: VirtioDeviceSet;
  readonly ramSize: number;
  readonly bootargs: string;
  private readonly opts: VirtMachineOptions;
  private readonly chunk: number;
  private readonly onChunk?: (pcLo: number, pcHi: number, priv: number) => void;
  private readonly rngSeed: Uint8Array;
  private board: Board;
  private stopState: "poweroff" | "reset" | undefined;
  private exit: number | undefined;
  private inSlice = false;
  private wasRestored = false;
  /** RAM may hold more than the loader put there: the hart has run, or a restore has written it. */
  private ramDirty = false;

  constructor(opts: VirtMachineOptions) {
    const memMiB = opts.memMiB ?? DEFAULT_MEM_MIB;
    if (!Number.isInteger(memMiB) || memMiB < 1 || memMiB > MAX_MEM_MIB) {
      throw new LoaderError(`guest memory must be a whole number of MiB in 1…${MAX_MEM_MIB}, not ${memMiB}`);
    }
    if (opts.elf !== undefined && (opts.firmware ?? opts.kernel ?? opts.initrd) !== undefined) {
      throw new LoaderError("a bare-metal ELF run takes no firmware, kernel or initrd");
    }
    this.opts = opts;
    this.ramSize = memMiB * 1024 * 1024;
    this.clock = opts.clock ?? hostClock;
    this.bootargs = opts.bootargs ?? DEFAULT_BOOTARGS;
    this.rngSeed = opts.rngSeed ?? globalThis.crypto.getRandomValues(new Uint8Array(32));
    this.onConsoleOutput = opts.onConsoleOutput ?? (() => {});
    this.onPowerOff = opts.onPowerOff ?? (() => {});
    this.onReset = opts.onReset ?? (() => {});
    this.onVirtioConsoleOutput = opts.onVirtioConsoleOutput ?? (() => {});
    this.onAsyncInterrupt = opts.onAsyncInterrupt ?? (() => {});
    this.virtio = new VirtioDeviceSet(opts, (bytes) => this.onVirtioConsoleOutput(bytes));
    this.board = this.build();
    this.onChunk = opts.onChunk;
    this.chunk = opts.instructionsPerChunk ?? (this.board.htif !== undefined ? HTIF_CHUNK : DEFAULT_CHUNK);
  }

  get hart(): WasmHart {
    return this.board.hart;
  }
  get mem(): GuestMemory {
    return this.board.mem;
  }
  get bus(): Bus {
    return this.board.bus;
  }
  get plic(): Plic {
    return this.board.plic;
  }
  get uart(): Uart16550 {
    return this.board.uart;
  }
  get clint(): Clint {
    return this.board.clint;
  }
  get layout(): BootLayout {
    return this.board.layout;
  }
  /** The generated device tree blob (undefined in a bare-metal run). */
  get dtb(): Uint8Array | undefined {
    return this.board.dtb;
  }
  get fdtAddr(): number {
    return this.board.fdtAddr;
  }
  /** True in a bare-metal run whose ELF has a `tohost` symbol (HTIF ends the run). */
  get hasHtif(): boolean {
    return this.board.htif !== undefined;
  }
  /** The guest's exit code once runSlice() has returned "poweroff". */
  get exitCode(): number | undefined {
    return this.exit;
  }

  /** Keystrokes or pasted text for hvc0 (the default virtio-console); never dropped. */
  sendVirtioConsoleInput(bytes: Uint8Array): void {
    this.hart.consoleInput();
    this.virtio.console?.pushInput(bytes);
  }

  /**
   * hvc0's terminal size (the page's xterm, the CLI's tty): the guest hears of it by VIRTIO_CONSOLE_F_SIZE
   * (a config interrupt, or a RESIZE control message with MULTIPORT) and its tty gets SIGWINCH.
   */
  setVirtioConsoleSize(cols: number, rows: number): void {
    this.virtio.console?.setSize(cols, rows);
  }

  /** Each virtio device's transport state, queues and counters, for the UI. */
  virtioSnapshot(): VirtioTransportSnapshot[] {
    return [...this.board.virtioMmio, ...this.board.virtioPci].map((t) => t.snapshot());
  }

  /** Keystrokes or pasted text for the UART; never dropped. */
  sendConsoleInput(bytes: Uint8Array): void {
    this.hart.consoleInput();
    this.board.uart.pushInput(bytes);
  }

  /**
   * Runs the hart for up to maxMs of host time, in chunks with device updates between them.
   * "waiting": the hart sits in WFI with nothing to do — sleep until nextEventNs() or console input.
   * "poweroff" / "reset": the guest asked for it (the onPowerOff / onReset events have fired); after
   * "reset" call reset() to power-cycle, after "poweroff" the machine stays stopped.
   */
  runSlice(maxMs: number): RunState {
    if (this.stopState !== undefined) return this.stopState;
    const b = this.board;
    const deadline = this.clock.nowNs() + maxMs * 1e6;
    this.inSlice = true;
    this.ramDirty = true;
    try {
      return this.runChunks(b, deadline);
    } finally {
      this.inSlice = false;
    }
  }

  private runChunks(b: Board, deadline: number): RunState {
    const soonest = this.clock.nowNs() + JIT_YIELD_NS;
    for (;;) {
      // Devices are brought up to date right before every run(), so a hart that retires nothing and
      // still waits has truly nothing to do until the next event.
      b.clint.update();
      b.rtc.update();
      const ran = b.hart.run(this.chunk);
      if (this.onChunk !== undefined && ran > 0) this.onChunk(b.hart.pcLo, b.hart.pcHi, b.hart.priv);
      b.uart.flush();
      b.htif?.poll();
      if (this.stopState !== undefined) return this.stopState;
      if (ran === 0 && b.hart.waiting) return "waiting";
      const now = this.clock.nowNs();
      if (now >= deadline) return "running";
      // Code for blocks that got hot is being compiled in the background, and only the host's event loop can
      // install it: end the slice early instead of interpreting hot code for the rest of it (a 20 ms slice
      // kept compiled code ~25 ms late; 44 M of a Debian kernel boot's instructions were interpreted waiting).
      if (b.hart.compiling && now >= soonest) return "running";
    }
  }

  /** The host-clock time (Clock.nowNs) of the next timer event (CLINT, Sstc, RTC alarm); Infinity if none. */
  nextEventNs(): number {
    const b = this.board;
    let next = Math.min(b.clint.nextDeadlineNs(), b.rtc.nextDeadlineNs());
    const sstc = b.hart.nextTimerDeadline();
    if (Number.isFinite(sstc)) {
      const ticks = Math.max(0, sstc - b.clint.mtime());
      next = Math.min(next, this.clock.nowNs() + ticks * NS_PER_TICK);
    }
    return next;
  }

  /**
   * Power-cycles the board: fresh RAM, devices and hart from the same images (a warm reboot reloads
   * them, as QEMU's system reset re-copies its ROM blobs). Console input not yet read is dropped.
   */
  reset(): void {
    this.board = this.build();
    this.ramDirty = false;
    this.stopState = undefined;
    this.exit = undefined;
  }

  private build(): Board {
    const o = this.opts;
    const clock = this.clock;
    const mem = GuestMemory.withExtra(VIRT_DRAM_BASE, this.ramSize, WASM_CORE_AUX_BYTES);
    const bus = new Bus();

    // The CLINT drives the hart at construction, and the hart reads time from the CLINT: break the
    // cycle with a time source that forwards once the CLINT exists.
    let clint: Clint | undefined;
    const time: TimeSource = { mtime: () => clint!.mtime() };
    // The core needs RAM and its region in one WebAssembly memory; a host that cannot give one that large
    // gets an error that says so (WasmHart's constructor).
    const hart = new WasmHart({ hartId: 0, mem, bus, time, module: o.wasmCore, jit: o.jit });
    if (o.trace !== undefined) hart.trace = o.trace;
    clint = new Clint(clock, [hart]);
    // Context numbering on virt: 2·h = hart h M-mode, 2·h + 1 = hart h S-mode (spec §7.2).
    const plic = new Plic(
      [
        { target: hart, bit: MIP_MEIP },
        { target: hart, bit: MIP_SEIP },
      ],
      PLIC_DEFAULT_SOURCES,
    );
    const uart = new Uart16550(plic.irq(VIRT_UART0_IRQ), (bytes) => this.onConsoleOutput(bytes));
    const rtc = new GoldfishRtc(clock, plic.irq(VIRT_RTC_IRQ));
    rtc.reset();
    const test = new SifiveTest(
      (code) => this.stop("poweroff", code),
      () => this.stop("reset"),
    );

    bus.map(VIRT_TEST_BASE, VIRT_TEST_SIZE, test, "test");
    bus.map(VIRT_RTC_BASE, VIRT_RTC_SIZE, rtc, "rtc");
    bus.map(VIRT_CLINT_BASE, VIRT_CLINT_SIZE, clint, "clint");
    bus.map(VIRT_PLIC_BASE, VIRT_PLIC_SIZE, plic, "plic");
    bus.map(VIRT_UART0_BASE, VIRT_UART0_SIZE, uart, "uart0");
    // A line raised outside runSlice() (an async completion) must wake a run loop sleeping in "waiting".
    const wake = (line: IrqLine): IrqLine => ({
      set: (level: boolean) => {
        line.set(level);
        if (level && !this.inSlice) this.onAsyncInterrupt();
      },
    });
    const pci = attachVirtPci(bus, plic, this.ramSize, wake);

    if (o.elf !== undefined) {
      return this.buildBareMetal(
        { mem, bus, hart, clint, plic, uart, rtc, test, virtioMmio: [], virtioPci: [], pci: pci.host },
        o.elf,
      );
    }

    // Virtio: MMIO slots 0x10001000 + 0x1000·i on PLIC source 1 + i, listed in the device tree below.
    const virtioMmio = attachVirtioMmio(bus, plic, mem, this.virtio.mmio, wake);
    // Virtio over PCI: functions at 00:01.0, 00:02.0, … behind the host bridge (always in the tree).
    const virtioPci = attachVirtioPci(pci.host, mem, this.virtio.pci);

    const layout = loadBootImages(mem, { firmware: o.firmware, kernel: o.kernel, initrd: o.initrd });
    const dtb = buildVirtDtb({
      harts: 1,
      isa: VIRT_ISA,
      mmuType: VIRT_MMU_TYPE,
      ramBase: VIRT_DRAM_BASE,
      ramSize: this.ramSize,
      bootargs: this.bootargs,
      initrd: layout.initrd,
      timebaseFrequency: CLINT_TIMEBASE_HZ,
      rngSeed: this.rngSeed,
      virtioMmio: virtioMmio.dt,
      pci: pci.dt,
    });
    const fdtAddr = loadFdt(mem, dtb, layout);
    // QEMU: the reset vector jumps to the firmware (the DRAM base); without one, to the kernel.
    const startAddr = layout.firmware?.entry ?? layout.kernel?.entry ?? VIRT_DRAM_BASE;
    const mrom = buildMrom({ startAddr, fdtAddr, nextAddr: layout.kernel?.entry ?? 0 });
    bus.map(VIRT_MROM_BASE, VIRT_MROM_SIZE, new Rom(mrom, VIRT_MROM_SIZE), "mrom");

    // The MROM code sets these too; setting them here lets a debugger see them from instruction 0.
    hart.setPc(VIRT_MROM_BASE);
    hart.setX(10, 0);
    hart.setX(11, fdtAddr);
    hart.setX(12, VIRT_MROM_BASE + FW_DYNAMIC_INFO_OFFSET);
    return {
      mem,
      bus,
      hart,
      clint,
      plic,
      uart,
      rtc,
      test,
      layout,
      dtb,
      fdtAddr,
      htif: undefined,
      virtioMmio: virtioMmio.transports,
      virtioPci,
      pci: pci.host,
    };
  }

  private buildBareMetal(parts: Omit<Board, "layout" | "dtb" | "fdtAddr" | "htif">, bytes: Uint8Array): Board {
    const elf = parseElf(bytes);
    const image = loadElfSegments(parts.mem, elf, 0n, "program");
    // Keep the MROM mapped (jumping to the program) so a reset through 0x1000 lands in the program too.
    const mrom = buildMrom({ startAddr: image.entry, fdtAddr: 0, nextAddr: 0 });
    parts.bus.map(VIRT_MROM_BASE, VIRT_MROM_SIZE, new Rom(mrom, VIRT_MROM_SIZE), "mrom");
    parts.hart.setPc(image.entry);
    const htif = HtifWatcher.fromElf(elf, parts.mem, {
      exit: (code) => this.stop("poweroff", code),
      console: (byte) => this.onConsoleOutput(Uint8Array.of(byte)),
    });
    return { ...parts, layout: { kernel: { ...image, format: "elf" } }, dtb: undefined, fdtAddr: 0, htif };
  }

  /** True after restoreSnapshot(): RAM came from a snapshot, not from this machine's boot images. */
  get restored(): boolean {
    return this.wasRestored;
  }

  /**
   * Saves the running machine as a `.vireo` file (snapshot-file.ts; issue 15): the configuration (RAM size,
   * devices, transports, offered features, disk sources), the hart through the core's saveState(), every
   * device, the disks' copy-on-write overlays and guest RAM (sparse, deflated). Call it between slices, not
   * from inside runSlice(); disk requests in flight finish first (the hart does not run meanwhile). `host` is
   * stored as given (the caller's own description, e.g. the CLI's disk paths). Compiled code is not state.
   * Throws a SnapshotError for a machine that cannot be saved (a bare-metal run, a writethrough disk, one
   * that has powered off). `onCaptured` is called once the state is copied: the machine may run on from then.
   */
  async saveSnapshot(host?: unknown, opts: { onCaptured?: () => void } = {}): Promise<Uint8Array> {
    if (this.inSlice) throw new SnapshotError("saveSnapshot() was called from inside runSlice()");
    const b = this.board;
    if (b.htif !== undefined || this.opts.elf !== undefined) {
      throw new SnapshotError("a bare-metal ELF run cannot be saved");
    }
    if (this.stopState !== undefined) throw new SnapshotError(`the machine has stopped (${this.stopState})`);
    const machine = describeMachine(this.ramSize / 1048576, this.virtio.attachments, host);
    await Promise.all([...b.virtioMmio, ...b.virtioPci].map((t) => t.core.quiesce()));
    if (this.stopState !== undefined) throw new SnapshotError(`the machine has stopped (${this.stopState})`);
    // From here on nothing awaits until every piece is taken: the state is one instant's.
    b.uart.flush();
    const state = {
      clint: b.clint.saveState(),
      plic: b.plic.saveState(),
      uart: b.uart.saveState(),
      rtc: b.rtc.saveState(),
      pci: b.pci
        .functions()
        .filter((f) => !(f.fn instanceof VirtioPciTransport))
        .map((f) => ({ slot: f.slot, func: f.func, state: f.fn.saveState() })),
      virtioMmio: b.virtioMmio.map((t) => t.saveState()),
      virtioPci: b.virtioPci.map((t) => t.saveState()),
    };
    const sections = new Map<string, Uint8Array>([["hart", b.hart.saveState()]]);
    const codec = this.opts.snapshotCodec ?? STREAM_CODEC;
    const ram = encodeRam(b.mem.u8, codec);
    const disks = this.virtio.attachments.map((a, i) =>
      a.device instanceof VirtioBlk && a.device.backend instanceof CowOverlay
        ? codec.deflate(a.device.backend.exportChunks()).then((d) => [`disk${i}`, d] as const)
        : undefined,
    );
    // Everything is copied (encodeRam and exportChunks copy before they compress): the caller may run the
    // machine again while the rest is compressed and checksummed.
    opts.onCaptured?.();
    sections.set("ram", await ram);
    for (const d of disks) {
      const got = await d;
      if (got !== undefined) sections.set(got[0], got[1]);
    }
    return encodeSnapshot({ machine, state, sections });
  }

  /** The machine a snapshot file describes (its configuration and the host's record), checked, without its state. */
  static async readSnapshot(file: Uint8Array): Promise<{ machine: SavedMachine; contents: SnapshotContents }> {
    const contents = await decodeSnapshot(file);
    return { machine: readSavedMachine(contents.machine), contents };
  }

  /**
   * Loads a snapshot into this machine, which must be built like the saved one (same RAM size, virtio devices,
   * transports, feature offers and disk sources; boot images are not needed). Everything is checked as it is
   * read; a SnapshotError names what is wrong — a refused snapshot leaves this machine unusable, so build a
   * fresh one for the next try. After it the machine runs on from the saved instant.
   */
  async restoreSnapshot(file: Uint8Array | SnapshotContents): Promise<void> {
    if (this.inSlice) throw new SnapshotError("restoreSnapshot() was called from inside runSlice()");
    if (this.opts.elf !== undefined) throw new SnapshotError("a bare-metal ELF machine cannot take a snapshot");
    const c = file instanceof Uint8Array ? await decodeSnapshot(file) : file;
    const saved = readSavedMachine(c.machine);
    checkSameMachine(saved, describeMachine(this.ramSize / 1048576, this.virtio.attachments, null));
    const section = (name: string): Uint8Array => {
      const s = c.sections.get(name);
      if (s === undefined) throw new SnapshotError(`snapshot: no "${name}" section`);
      return s;
    };
    const known = new Set(["hart", "ram", ...this.virtio.attachments.map((_, i) => `disk${i}`)]);
    for (const name of c.sections.keys()) {
      if (!known.has(name)) throw new SnapshotError(`snapshot: a section "${name}" this machine has no use for`);
    }
    const st = record(c.state, "state");
    const b = this.board;
    const codec = this.opts.snapshotCodec ?? STREAM_CODEC;
    // Disk overlays and RAM first (everything after reads the rings in RAM), then the hart, then the devices.
    const overlays: [CowOverlay, Uint8Array][] = [];
    for (const [i, a] of this.virtio.attachments.entries()) {
      const data = c.sections.get(`disk${i}`);
      const overlay =
        a.device instanceof VirtioBlk && a.device.backend instanceof CowOverlay ? a.device.backend : undefined;
      if (overlay === undefined && data !== undefined)
        throw new SnapshotError(`snapshot: disk${i} has no overlay here`);
      if (overlay === undefined) continue;
      if (data === undefined) throw new SnapshotError(`snapshot: no "disk${i}" section for ${a.device.name}`);
      const chunks = Math.ceil(overlay.size / overlay.chunkSize);
      overlays.push([overlay, await inflateSection(codec, data, `disk${i}`, 16 + chunks * (8 + overlay.chunkSize))]);
    }
    // A machine that has not run holds only what the loader put in RAM: clear that, and the RAM image need not
    // write the zero pages (writing all of a fresh 256 MiB would make the host commit it).
    const zeroed = !this.ramDirty;
    this.ramDirty = true;
    if (zeroed) {
      const base = b.mem.base;
      const ranges = [b.layout.firmware, b.layout.kernel, b.layout.initrd];
      for (const r of ranges) if (r !== undefined) b.mem.u8.fill(0, r.start - base, r.end - base);
      if (b.dtb !== undefined) b.mem.u8.fill(0, b.fdtAddr - base, b.fdtAddr - base + b.dtb.length);
    }
    try {
      await decodeRam(section("ram"), b.mem.u8, { codec, zeroed });
    } catch (e) {
      const why = (e as Error).message;
      throw new SnapshotError(
        /inflates to more than/.test(why)
          ? `RAM image: larger than this machine's ${this.ramSize / 1048576} MiB of RAM (the image does not match the machine record, or the file is damaged)`
          : why,
      );
    }
    for (const [overlay, data] of overlays) {
      try {
        overlay.importChunks(data);
      } catch (e) {
        throw new SnapshotError((e as Error).message);
      }
    }
    try {
      b.hart.loadState(section("hart"));
    } catch (e) {
      throw new SnapshotError((e as Error).message);
    }
    b.clint.loadState(st.clint);
    // The PLIC before the devices: its pending and claimed sources as saved, and then whatever a device raises
    // while it loads on top (virtio-net's link coming back up, with ANNOUNCE) reaches the guest.
    b.plic.loadState(st.plic);
    b.rtc.loadState(st.rtc);
    b.uart.loadState(st.uart);
    const pci = st.pci;
    const others = b.pci.functions().filter((f) => !(f.fn instanceof VirtioPciTransport));
    if (!Array.isArray(pci) || pci.length !== others.length) {
      throw new SnapshotError(`state.pci: not a list of ${others.length} functions`);
    }
    others.forEach((f, i) => {
      const s = record(pci[i], `state.pci[${i}]`);
      if (s.slot !== f.slot || s.func !== f.func)
        throw new SnapshotError(`state.pci[${i}]: not function ${f.slot}.${f.func}`);
      f.fn.loadState(s.state, `state.pci[${i}].state`);
    });
    const transports = (v: unknown, path: string, ts: { loadState(s: unknown, p: string): void }[]): void => {
      if (!Array.isArray(v) || v.length !== ts.length)
        throw new SnapshotError(`${path}: not a list of ${ts.length} devices`);
      for (const [i, t] of ts.entries()) t.loadState(v[i], `${path}[${i}]`);
    };
    transports(st.virtioMmio, "state.virtioMmio", b.virtioMmio);
    transports(st.virtioPci, "state.virtioPci", b.virtioPci);
    this.wasRestored = true;
  }

  private stop(state: "poweroff" | "reset", code = 0): void {
    if (this.stopState !== undefined) return;
    this.stopState = state;
    // Called from inside hart.run() (a syscon write): end the chunk at the next instruction.
    this.board.hart.stopRequested = true;
    if (state === "poweroff") {
      this.exit = code;
      this.onPowerOff(code);
    } else {
      this.onReset();
    }
  }
}

async function inflateSection(
  codec: DeflateCodec,
  data: Uint8Array,
  name: string,
  maxBytes: number,
): Promise<Uint8Array> {
  try {
    return await codec.inflate(data, maxBytes);
  } catch (e) {
    throw new SnapshotError(`snapshot: section "${name}" does not inflate (${(e as Error).message})`);
  }
}
