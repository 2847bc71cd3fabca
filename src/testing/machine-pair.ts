// Two vireo machines in one process, each with a virtio-net device, joined back to back by a loopback
// backend pair: for boot tests and the network benchmark. Drives both run loops alternately and gives
// each console a tiny expect-style interface (wait for text, type a command, read its exit status).

import { VirtioNet } from "../../devices/virtio-net/virtio-net.ts";
import { consoleText, PROMPT_RE } from "../cli/console-text.ts";
import { loadCoreModule } from "../cli/core-module.ts";
import { VirtMachine } from "../machine/virt.ts";
import { createLoopbackPair } from "../net/link/loopback.ts";

export interface BootImages {
  firmware: Uint8Array;
  kernel: Uint8Array;
  initrd: Uint8Array;
  bootargs: string;
}

export interface PairNodeOptions {
  /** Offered virtio-net features (default: everything). */
  features?: bigint;
  transport?: "mmio" | "pci";
  memMiB?: number;
  /** The harts' block compiler (default on). */
  jit?: boolean;
  /** The compiled core (VirtMachineOptions.wasmCore); default: loadCoreModule(). */
  wasmCore?: WebAssembly.Module;
}

/** Host time per machine per turn: short, so a packet's round trip through both guests stays short. */
const SLICE_MS = Number(process.env.VIREO_PAIR_SLICE_MS ?? 5);

/** One machine of the pair and its console. */
export class PairNode {
  readonly machine: VirtMachine;
  readonly net: VirtioNet;
  /** Console output since the last run() (CSI sequences removed). */
  private out = "";
  /** Everything, for failure messages. */
  log = "";
  state: "running" | "waiting" | "poweroff" | "reset" = "running";
  /** An interrupt arrived from outside (the peer's frame) since the last step: do not sleep. */
  woken = false;

  constructor(
    readonly name: string,
    images: BootImages,
    net: VirtioNet,
    o: PairNodeOptions,
  ) {
    this.net = net;
    this.machine = new VirtMachine({
      memMiB: o.memMiB ?? 256,
      jit: o.jit,
      wasmCore: o.wasmCore ?? loadCoreModule(),
      virtioTransport: o.transport ?? "mmio",
      net,
      firmware: images.firmware,
      kernel: images.kernel,
      initrd: images.initrd,
      bootargs: images.bootargs,
      onAsyncInterrupt: () => {
        this.woken = true;
      },
      onConsoleOutput: (b) => {
        let s = "";
        for (const x of b) s += String.fromCharCode(x);
        this.out += s;
        this.log += s;
        if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
      },
    });
  }

  step(ms: number): void {
    if (this.state === "poweroff") return;
    this.woken = false;
    this.state = this.machine.runSlice(ms);
    if (this.state === "reset") this.machine.reset();
  }

  type(text: string): void {
    this.machine.sendConsoleInput(new TextEncoder().encode(text));
  }

  /** Takes the output collected so far if it matches `re`. */
  take(re: RegExp): RegExpMatchArray | undefined {
    const clean = consoleText(this.out);
    const m = clean.match(re);
    if (m) this.out = clean.slice((m.index ?? 0) + m[0].length);
    return m ?? undefined;
  }

  get atPrompt(): boolean {
    return PROMPT_RE.test(consoleText(this.out));
  }
}

export class MachinePair {
  readonly a: PairNode;
  readonly b: PairNode;

  constructor(images: BootImages, oa: PairNodeOptions = {}, ob: PairNodeOptions = oa) {
    const [la, lb] = createLoopbackPair();
    const mac = (n: number) => Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, n);
    this.a = new PairNode(
      "a",
      images,
      new VirtioNet({ name: "virtio-net0", backend: la, features: oa.features, mac: mac(1) }),
      oa,
    );
    this.b = new PairNode(
      "b",
      images,
      new VirtioNet({ name: "virtio-net0", backend: lb, features: ob.features, mac: mac(2) }),
      ob,
    );
  }

  /** Runs both machines until `done()` or `timeoutMs` of host time; yields to the event loop now and then. */
  async runUntil(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    let lastYield = Date.now();
    while (!done()) {
      if (Date.now() > end) {
        throw new Error(
          `timeout waiting for ${what}\n--- a ---\n${this.a.log.slice(-3000)}\n--- b ---\n${this.b.log.slice(-3000)}`,
        );
      }
      this.a.step(SLICE_MS);
      this.b.step(SLICE_MS);
      const idle = this.a.state !== "running" && this.b.state !== "running" && !this.a.woken && !this.b.woken;
      if (idle || Date.now() - lastYield > 50) {
        await new Promise((r) => setTimeout(r, idle ? 1 : 0));
        lastYield = Date.now();
      }
    }
  }

  /** Waits until both shells show their prompt. */
  async boot(timeoutMs = 120_000): Promise<void> {
    await this.runUntil(() => this.a.atPrompt && this.b.atPrompt, timeoutMs, "both prompts");
    this.a.take(PROMPT_RE);
    this.b.take(PROMPT_RE);
  }

  /**
   * Types `cmd` on `node`, waits for it to finish, returns its output and exit status. Commands on the
   * other node keep running meanwhile (start a background job there first).
   */
  async exec(node: PairNode, cmd: string, timeoutMs = 120_000): Promise<{ status: number; out: string }> {
    const mark = `vx${Math.floor(Math.random() * 1e9)}`;
    node.type(`${cmd}; echo ${mark}=$?\n`);
    let m: RegExpMatchArray | undefined;
    const re = new RegExp(`([\\s\\S]*)\\n${mark}=(\\d+)\\r?\\n`);
    await this.runUntil(() => (m = node.take(re)) !== undefined, timeoutMs, `"${cmd}" on ${node.name}`);
    return { status: Number(m![2]), out: m![1]! };
  }
}
