// The virt board's virtio devices: which ones exist (by default virtio-console and virtio-rng, plus
// whatever the caller adds, e.g. a virtio-blk per --disk), and on which transport. MMIO ones take the
// QEMU slots 0x10001000 + 0x1000·i with PLIC source 1 + i and appear in the device tree; PCI ones are
// handed to the PCIe host bridge (virt-pci.ts) as functions. The device objects outlive a power cycle
// (host-side state such as unread console input survives); their transports are rebuilt each time.

import type { Plic } from "../../devices/plic/plic.ts";
import { VirtioMmioTransport } from "../../devices/virtio/mmio-transport.ts";
import type { VirtioTransportSnapshot } from "../../devices/virtio/transport-core.ts";
import type { VirtioDevice } from "../../devices/virtio/virtio-device.ts";
import { VirtioConsole } from "../../devices/virtio-console/virtio-console.ts";
import { VirtioNet } from "../../devices/virtio-net/virtio-net.ts";
import { VirtioRng } from "../../devices/virtio-rng/virtio-rng.ts";
import type { Bus } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";
import type { IrqLine } from "../core/irq.ts";
import { LoaderError } from "./loader.ts";
import { VIRT_VIRTIO_BASE, VIRT_VIRTIO_COUNT, VIRT_VIRTIO_IRQ, VIRT_VIRTIO_SIZE } from "./virt-dt.ts";

export type VirtioTransportKind = "mmio" | "pci";

export interface VirtioAttachment {
  device: VirtioDevice;
  /** Default: the machine's `virtioTransport` option, else "mmio". */
  transport?: VirtioTransportKind;
}

export interface VirtioBoardOptions {
  /** Attach virtio-console (hvc0) and virtio-rng (default true). */
  defaultVirtio?: boolean;
  /** Transport for every device that does not name one (default "mmio"). */
  virtioTransport?: VirtioTransportKind;
  /** Transports for the default devices one by one, over `virtioTransport` (e.g. net on PCI, the rest MMIO). */
  defaultTransports?: Partial<Record<"net" | "console" | "rng", VirtioTransportKind>>;
  /**
   * The virtio-net device, attached first among the defaults (as on QEMU's command lines) on the board's
   * transport. Default: one with no backend behind it (link down); null: no network device.
   */
  net?: VirtioNet | null;
  /** More devices after the default ones (e.g. one virtio-blk per --disk). */
  virtio?: VirtioAttachment[];
  /** hvc0 output (the default virtio-console). */
  onVirtioConsoleOutput?: (bytes: Uint8Array) => void;
  /**
   * hvc0's terminal size, offered with VIRTIO_CONSOLE_F_SIZE (default 80×24 until the host says otherwise);
   * VirtMachine.setVirtioConsoleSize() changes it later.
   */
  virtioConsoleSize?: { cols: number; rows: number };
}

/** hvc0's size before a terminal says its own: the classic terminal's. */
export const DEFAULT_CONSOLE_SIZE = { cols: 80, rows: 24 } as const;

/** The board's virtio devices, fixed for the machine's life. */
export class VirtioDeviceSet {
  readonly console: VirtioConsole | undefined;
  readonly net: VirtioNet | undefined;
  readonly attachments: readonly Required<VirtioAttachment>[];

  constructor(o: VirtioBoardOptions, consoleOutput: (bytes: Uint8Array) => void) {
    const transport = o.virtioTransport ?? "mmio";
    const list: Required<VirtioAttachment>[] = [];
    if (o.defaultVirtio !== false) {
      if (o.net !== null) {
        this.net = o.net ?? new VirtioNet({ name: "virtio-net0" });
        list.push({ device: this.net, transport: o.defaultTransports?.net ?? transport });
      }
      this.console = new VirtioConsole({
        name: "virtio-console0",
        output: consoleOutput,
        size: o.virtioConsoleSize ?? DEFAULT_CONSOLE_SIZE,
      });
      list.push({ device: this.console, transport: o.defaultTransports?.console ?? transport });
      list.push({ device: new VirtioRng("virtio-rng0"), transport: o.defaultTransports?.rng ?? transport });
    }
    for (const a of o.virtio ?? []) list.push({ device: a.device, transport: a.transport ?? transport });
    const mmio = list.filter((a) => a.transport === "mmio").length;
    if (mmio > VIRT_VIRTIO_COUNT) {
      throw new LoaderError(`${mmio} virtio-mmio devices, but the virt board has ${VIRT_VIRTIO_COUNT} slots`);
    }
    this.attachments = list;
  }

  get mmio(): VirtioDevice[] {
    return this.attachments.filter((a) => a.transport === "mmio").map((a) => a.device);
  }
  get pci(): VirtioDevice[] {
    return this.attachments.filter((a) => a.transport === "pci").map((a) => a.device);
  }
}

export interface VirtioMmioSlots {
  transports: VirtioMmioTransport[];
  /** The device-tree entries of the slots in use. */
  dt: { base: number; irq: number }[];
}

/**
 * Maps each MMIO device in slot order. `wrapIrq` lets the machine watch the lines (to wake a sleeping
 * run loop when an async completion raises one).
 */
export function attachVirtioMmio(
  bus: Bus,
  plic: Plic,
  mem: GuestMemory,
  devices: readonly VirtioDevice[],
  wrapIrq: (line: IrqLine) => IrqLine = (l) => l,
): VirtioMmioSlots {
  const transports: VirtioMmioTransport[] = [];
  const dt: { base: number; irq: number }[] = [];
  devices.forEach((device, i) => {
    const base = VIRT_VIRTIO_BASE + VIRT_VIRTIO_SIZE * i;
    const irq = VIRT_VIRTIO_IRQ + i;
    const t = new VirtioMmioTransport(device, mem, wrapIrq(plic.irq(irq)));
    // A fresh transport over a device that may have lived through an earlier power cycle.
    t.reset();
    bus.map(base, VIRT_VIRTIO_SIZE, t, `virtio-mmio@${base.toString(16)}`);
    transports.push(t);
    dt.push({ base, irq });
  });
  return { transports, dt };
}

export type { VirtioTransportSnapshot };
