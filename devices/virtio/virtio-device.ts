// The transport-independent virtio device contract (DESIGN.md §3). A device (net, blk, console, rng)
// knows its ID, its feature bits, its queues and its config space; a transport (virtio-mmio here,
// virtio-pci in pci-transport*.ts) owns the status handshake, feature negotiation, queue addresses and
// interrupt delivery, and drives the same device object through a `TransportCore` (transport-core.ts),
// so any device works on either transport. Modelled on rust-vmm's VirtioDevice / Firecracker (STYLE.md).
//
// Lifecycle, as a transport drives it:
//   construct → (driver negotiates; config reads/writes at any time) → activate(ctx) at DRIVER_OK
//   → notify(q) per kick → reset() when the driver writes status 0 (then maybe activate again).
// A device never throws on guest input; the TransportCore still catches whatever escapes a device call
// and turns it into DEVICE_NEEDS_RESET so nothing reaches the hart.
//
// For transport authors (MMIO here, PCI in pci-transport*.ts): do not drive a VirtioDevice directly;
// make one `new TransportCore(device, mem, sink, "pci")` (transport-core.ts) and map registers onto it:
//   features   deviceFeatureWord(sel) / driverFeatureWord(sel) / writeDriverFeatureWord(sel, v)
//   status     status / writeStatus(v)  (0 resets; FEATURES_OK refusal and DRIVER_OK activation inside)
//   queues     queues.length, queue(i)?.maxSize / .size / .ready, setQueueSize(i, n),
//              setQueueAddress(i, "desc"|"driver"|"device", high, v), queueAddress(i, field),
//              setQueueReady(i, on), notify(i)
//   config     configGeneration, readConfig(off, size) / writeConfig(off, size, v)  (bounds-checked)
//   interrupts the sink {raise(bits), clear()} you pass in; bits are VIRTIO_INT_VRING (1) and
//              VIRTIO_INT_CONFIG (2), the same values as the MMIO InterruptStatus and the PCI ISR byte.
//   UI         snapshot()

import type { GuestMemory } from "../../src/core/guest-memory.ts";
import type { Virtqueue } from "./virtqueue.ts";

/** A device's description of one of its queues. */
export interface VirtioQueueInfo {
  /** Largest size the driver may choose (QueueNumMax / queue_size on reset); a power of 2, ≤ 32768. */
  maxSize: number;
  /** For the UI: "receiveq", "transmitq", "requestq", … */
  name?: string;
}

/**
 * What the transport gives a device at activation (DRIVER_OK). Valid until the next reset or
 * DEVICE_NEEDS_RESET: after that `active` is false and the device must stop touching queues and memory
 * (an async completion that finishes late checks `active` and drops its result).
 */
export interface VirtioDeviceContext {
  readonly mem: GuestMemory;
  /** One per VirtioDevice.queues entry, same order; a queue the driver did not enable has `ready` false. */
  readonly queues: readonly Virtqueue[];
  /** The negotiated feature set (device-independent and device-specific bits). */
  readonly features: bigint;
  /** False once the device was reset or marked DEVICE_NEEDS_RESET. */
  readonly active: boolean;
  /**
   * After pushing one or more used buffers on queue `queue`: the transport asks the queue whether the
   * driver wants an interrupt (`Virtqueue.shouldInterrupt()`: NO_INTERRUPT / used_event) and if so
   * raises a used-buffer interrupt (MMIO: InterruptStatus bit 0 + IrqLine; PCI: ISR bit 0 + INTx).
   * Call it once per batch, not per buffer.
   */
  signalUsed(queue: number): void;
  /** The config space changed: bump the config generation and raise a configuration-change interrupt. */
  signalConfig(): void;
  /**
   * An unrecoverable guest error: set DEVICE_NEEDS_RESET, raise a config-change interrupt, stop every
   * queue and deactivate this context. `reason` is kept for the UI and logs.
   */
  needsReset(reason: string): void;
}

/** A device's own UI snapshot: a small plain object (structured-clone safe) of device-specific facts. */
export type VirtioDeviceSnapshot = Record<string, string | number | boolean | bigint | null>;

export interface VirtioDevice {
  /** Virtio device type ID (virtio-ids.ts), e.g. VIRTIO_ID_BLOCK = 2. */
  readonly deviceId: number;
  /** A short instance name for the UI and logs, e.g. "virtio-blk0". */
  readonly name: string;
  /**
   * Every feature bit the device offers, device-independent bits included (normally
   * `VIRTIO_TRANSPORT_FEATURES | device bits`). VIRTIO_F_VERSION_1 is required: both transports are
   * modern-only. Constant for the device's life.
   */
  readonly features: bigint;
  /** The device's queues in index order; their count is the number of queues. */
  readonly queues: readonly VirtioQueueInfo[];
  /** Bytes of device-specific config space (0 if none). */
  readonly configSize: number;
  /**
   * A config-space read of `size` bytes at `offset` (little-endian). The transport only calls it with
   * `offset + size <= configSize`; a device may still return 0 for anything it does not model.
   */
  readConfig(offset: number, size: 1 | 2 | 4): number;
  /** A config-space write; read-only fields ignore it. Same bounds guarantee as readConfig. */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  /**
   * Optional veto at FEATURES_OK beyond the transport's own checks (subset of the offer, VERSION_1):
   * return false to refuse a set that breaks a dependency (e.g. a net feature needing CTRL_VQ).
   */
  validateFeatures?(features: bigint): boolean;
  /** DRIVER_OK: start using the queues. The transport then calls notify() once per ready queue. */
  activate(ctx: VirtioDeviceContext): void;
  /** The driver kicked queue `queue` (an existing, ready queue of an active device). */
  notify(queue: number): void;
  /** Status 0 (or a power cycle): forget every queue and in-flight request; host-side state may stay. */
  reset(): void;
  /** Device-specific facts for the UI (e.g. blk capacity, console bytes in/out). */
  snapshot?(): VirtioDeviceSnapshot;
  /**
   * Snapshots (issue 15). quiesce(): finish in-flight asynchronous work (a disk read) so that what is saved is
   * complete; the hart does not run meanwhile. saveState(): the device's own state as plain JSON-safe data
   * (chains it holds by head index, input not delivered yet, control-queue settings). loadState(): restores
   * it on a device of the same configuration, called after activate() when the saved device was live (its
   * held chains come back through Virtqueue.chainAt), before any kick; throws a SnapshotError naming the field.
   */
  quiesce?(): Promise<void>;
  saveState?(): unknown;
  loadState?(state: unknown, path: string): void;
}
