// virtio-console (virtio 1.2 §5.3) with a single port and no MULTIPORT: queue 0 = receiveq (host →
// guest), queue 1 = transmitq (guest → host). Linux makes it /dev/hvc0. Host input waits in an
// unbounded queue that never drops a byte, and goes out whenever the driver has posted receive
// buffers. Transmit is completed synchronously inside the kick: Linux's put_chars spins until the
// buffer is used. Reads guest-controlled descriptor chains through Virtqueue, which validates them.

import { copyFromReadable, copyToWritable } from "../virtio/chain-io.ts";
import {
  featureMaskOf,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_TRANSPORT_FEATURES,
} from "../virtio/features.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioDeviceSnapshot } from "../virtio/virtio-device.ts";
import { VIRTIO_ID_CONSOLE } from "../virtio/virtio-ids.ts";

export const VIRTIO_CONSOLE_RX_QUEUE = 0;
export const VIRTIO_CONSOLE_TX_QUEUE = 1;
export const VIRTIO_CONSOLE_QUEUE_SIZE = 128;

// struct virtio_console_config (§5.3.4): cols le16, rows le16, max_nr_ports le32, emerg_wr le32.
const CFG_COLS = 0;
const CFG_ROWS = 2;
const CFG_MAX_NR_PORTS = 4;
const CFG_EMERG_WR = 8;
export const VIRTIO_CONSOLE_CONFIG_SIZE = 12;

/** One transmit request larger than this is cut (the rest of the chain is still returned). */
const MAX_TX_BYTES = 1 << 20;

export interface VirtioConsoleOptions {
  name?: string;
  /** Guest output (hvc0 writes): a fresh copy per call. */
  output?: (bytes: Uint8Array) => void;
  /** Offer VIRTIO_CONSOLE_F_SIZE with this size. */
  size?: { cols: number; rows: number };
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly name: string;
  readonly features: bigint;
  readonly queues = [
    { maxSize: VIRTIO_CONSOLE_QUEUE_SIZE, name: "receiveq" },
    { maxSize: VIRTIO_CONSOLE_QUEUE_SIZE, name: "transmitq" },
  ];
  readonly configSize = VIRTIO_CONSOLE_CONFIG_SIZE;
  output: (bytes: Uint8Array) => void;
  private ctx: VirtioDeviceContext | undefined;
  private cols: number;
  private rows: number;
  /** Host input not yet delivered: chunks (copies) consumed from the front. */
  private pending: Uint8Array[] = [];
  private pendingOffset = 0;
  private pendingBytes = 0;
  private bytesIn = 0;
  private bytesOut = 0;

  constructor(opts: VirtioConsoleOptions = {}) {
    this.name = opts.name ?? "virtio-console";
    this.output = opts.output ?? (() => {});
    this.cols = opts.size?.cols ?? 0;
    this.rows = opts.size?.rows ?? 0;
    const own = opts.size !== undefined ? [VIRTIO_CONSOLE_F_SIZE] : [];
    this.features = VIRTIO_TRANSPORT_FEATURES | featureMaskOf(...own, VIRTIO_CONSOLE_F_EMERG_WRITE);
  }

  /** Bytes typed for the guest; kept (copied) until the driver has room, never dropped. */
  pushInput(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.pending.push(bytes.slice());
    this.pendingBytes += bytes.length;
    this.deliver();
  }

  /** Host bytes waiting for guest receive buffers. */
  get pendingInput(): number {
    return this.pendingBytes;
  }

  /** A terminal resize; the driver hears of it by a config interrupt when it negotiated F_SIZE. */
  setSize(cols: number, rows: number): void {
    this.cols = cols & 0xffff;
    this.rows = rows & 0xffff;
    this.ctx?.signalConfig();
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    const cfg = new DataView(new ArrayBuffer(VIRTIO_CONSOLE_CONFIG_SIZE));
    cfg.setUint16(CFG_COLS, this.cols, true);
    cfg.setUint16(CFG_ROWS, this.rows, true);
    cfg.setUint32(CFG_MAX_NR_PORTS, 1, true);
    cfg.setUint32(CFG_EMERG_WR, 0, true);
    if (size === 1) return cfg.getUint8(offset);
    if (size === 2) return offset + 2 <= VIRTIO_CONSOLE_CONFIG_SIZE ? cfg.getUint16(offset, true) : 0;
    return offset + 4 <= VIRTIO_CONSOLE_CONFIG_SIZE ? cfg.getUint32(offset, true) : 0;
  }

  writeConfig(offset: number, _size: 1 | 2 | 4, value: number): void {
    // emerg_wr: one character written straight out, usable before the queues exist (§5.3.4).
    if (offset === CFG_EMERG_WR) this.emit(Uint8Array.of(value & 0xff));
  }

  activate(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
  }

  notify(queue: number): void {
    if (queue === VIRTIO_CONSOLE_RX_QUEUE) this.deliver();
    else if (queue === VIRTIO_CONSOLE_TX_QUEUE) this.transmit();
  }

  reset(): void {
    // Host input survives a driver reset: it is the user's typing, not device state.
    this.ctx = undefined;
  }

  snapshot(): VirtioDeviceSnapshot {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      pendingInput: this.pendingBytes,
      cols: this.cols,
      rows: this.rows,
    };
  }

  private transmit(): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active) return;
    const vq = ctx.queues[VIRTIO_CONSOLE_TX_QUEUE];
    let pushed = false;
    for (let chain = vq.pop(); chain !== undefined; chain = vq.pop()) {
      const bytes = copyFromReadable(chain, 0, MAX_TX_BYTES);
      vq.push(chain, 0);
      pushed = true;
      if (bytes.length > 0) this.emit(bytes);
    }
    if (pushed) ctx.signalUsed(VIRTIO_CONSOLE_TX_QUEUE);
  }

  private deliver(): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active || this.pendingBytes === 0) return;
    const vq = ctx.queues[VIRTIO_CONSOLE_RX_QUEUE];
    let pushed = false;
    while (this.pendingBytes > 0) {
      const chain = vq.pop();
      if (chain === undefined) break; // wait for the driver's next kick on receiveq
      let written = 0;
      while (this.pendingBytes > 0 && written < chain.writableBytes) {
        const chunk = this.pending[0];
        const n = copyToWritable(chain, written, chunk.subarray(this.pendingOffset));
        written += n;
        this.pendingOffset += n;
        this.pendingBytes -= n;
        if (this.pendingOffset === chunk.length) {
          this.pending.shift();
          this.pendingOffset = 0;
        }
        if (n === 0) break;
      }
      this.bytesIn += written;
      vq.push(chain, written);
      pushed = true;
    }
    if (pushed) ctx.signalUsed(VIRTIO_CONSOLE_RX_QUEUE);
  }

  private emit(bytes: Uint8Array): void {
    this.bytesOut += bytes.length;
    try {
      this.output(bytes);
    } catch {
      // A failing host sink must not break the guest's console.
    }
  }
}
