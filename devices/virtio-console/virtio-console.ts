// virtio-console (virtio 1.2 §5.3) with a single port: queue 0 = port 0 receiveq (host → guest),
// queue 1 = port 0 transmitq (guest → host), and with VIRTIO_CONSOLE_F_MULTIPORT queue 2 = control
// receiveq (device → driver) and queue 3 = control transmitq (driver → device). Linux makes port 0
// /dev/hvc0. Host input waits in an unbounded queue that never drops a byte, and goes out whenever the
// driver has posted receive buffers and is ready for it. Transmit is completed synchronously inside
// the kick: Linux's put_chars spins until the buffer is used. Reads guest-controlled descriptor chains
// through Virtqueue, which validates them.
//
// Why MULTIPORT, with one port: without it the device cannot tell when the driver is ready for input.
// Linux posts port 0's receive buffers (and kicks) before the port is on its list, and in_intr()
// frees — drops — any buffer used in that window, so host input typed before boot was lost. With
// MULTIPORT the driver announces the port (DEVICE_READY → PORT_ADD → PORT_READY → CONSOLE_PORT) and
// says PORT_OPEN once hvc0 exists; input waits for that, as in QEMU's virtio-serial. A driver that
// does not negotiate MULTIPORT gets input as soon as it posts buffers.

import { bytes, bytesText, flag, record, SnapshotError, uint } from "../../src/machine/state-check.ts";
import { copyFromReadable, copyToWritable } from "../virtio/chain-io.ts";
import {
  featureMaskOf,
  hasFeature,
  VIRTIO_CONSOLE_F_EMERG_WRITE,
  VIRTIO_CONSOLE_F_MULTIPORT,
  VIRTIO_CONSOLE_F_SIZE,
  VIRTIO_TRANSPORT_FEATURES,
} from "../virtio/features.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioDeviceSnapshot } from "../virtio/virtio-device.ts";
import { VIRTIO_ID_CONSOLE } from "../virtio/virtio-ids.ts";

export const VIRTIO_CONSOLE_RX_QUEUE = 0;
export const VIRTIO_CONSOLE_TX_QUEUE = 1;
/** MULTIPORT control queues (§5.3.2): device → driver, driver → device. */
export const VIRTIO_CONSOLE_CTRL_RX_QUEUE = 2;
export const VIRTIO_CONSOLE_CTRL_TX_QUEUE = 3;
export const VIRTIO_CONSOLE_QUEUE_SIZE = 128;

// struct virtio_console_config (§5.3.4): cols le16, rows le16, max_nr_ports le32, emerg_wr le32.
const CFG_COLS = 0;
const CFG_ROWS = 2;
const CFG_MAX_NR_PORTS = 4;
const CFG_EMERG_WR = 8;
export const VIRTIO_CONSOLE_CONFIG_SIZE = 12;

// struct virtio_console_control (§5.3.6.2): id le32, event le16, value le16; RESIZE adds cols, rows.
export const VIRTIO_CONSOLE_DEVICE_READY = 0;
export const VIRTIO_CONSOLE_DEVICE_ADD = 1;
export const VIRTIO_CONSOLE_DEVICE_REMOVE = 2;
export const VIRTIO_CONSOLE_PORT_READY = 3;
export const VIRTIO_CONSOLE_CONSOLE_PORT = 4;
export const VIRTIO_CONSOLE_RESIZE = 5;
export const VIRTIO_CONSOLE_PORT_OPEN = 6;
export const VIRTIO_CONSOLE_PORT_NAME = 7;
const CONTROL_SIZE = 8;
/** Device → driver control messages held for control receive buffers; more means a looping driver. */
const MAX_PENDING_CONTROL = 64;

/** Host input a snapshot may carry for the guest (typed ahead, not read yet). */
const MAX_SAVED_INPUT = 16 << 20;

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
    { maxSize: 32, name: "control receiveq" },
    { maxSize: 32, name: "control transmitq" },
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
  /** MULTIPORT was negotiated: input waits for the driver's PORT_OPEN. */
  private multiport = false;
  /** The driver said PORT_OPEN for port 0 (always true without MULTIPORT). */
  private guestOpen = false;
  /** MULTIPORT: port 0 was announced as the console (after the driver's PORT_READY), so RESIZE applies. */
  private consoleAnnounced = false;
  /** Device → driver control messages waiting for control receive buffers. */
  private controlOut: Uint8Array[] = [];

  constructor(opts: VirtioConsoleOptions = {}) {
    this.name = opts.name ?? "virtio-console";
    this.output = opts.output ?? (() => {});
    this.cols = opts.size?.cols ?? 0;
    this.rows = opts.size?.rows ?? 0;
    const own = opts.size !== undefined ? [VIRTIO_CONSOLE_F_SIZE] : [];
    this.features =
      VIRTIO_TRANSPORT_FEATURES | featureMaskOf(...own, VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_EMERG_WRITE);
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
    // The config fields changed: a new generation and a config interrupt (Linux reads cols/rows from them
    // without MULTIPORT). With MULTIPORT Linux ignores that interrupt and takes a RESIZE message, once port 0
    // is the console; before that, the RESIZE that follows CONSOLE_PORT carries the new size.
    this.ctx?.signalConfig();
    if (this.multiport && this.consoleAnnounced && hasFeature(this.ctx?.features ?? 0n, VIRTIO_CONSOLE_F_SIZE)) {
      this.sendResize();
    }
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
    this.multiport = hasFeature(ctx.features, VIRTIO_CONSOLE_F_MULTIPORT);
    this.guestOpen = !this.multiport;
    this.consoleAnnounced = false;
    this.controlOut = [];
  }

  notify(queue: number): void {
    if (queue === VIRTIO_CONSOLE_RX_QUEUE) this.deliver();
    else if (queue === VIRTIO_CONSOLE_TX_QUEUE) this.transmit();
    else if (!this.multiport) return;
    else if (queue === VIRTIO_CONSOLE_CTRL_RX_QUEUE) this.deliverControl();
    else if (queue === VIRTIO_CONSOLE_CTRL_TX_QUEUE) this.receiveControl();
  }

  reset(): void {
    // Host input survives a driver reset: it is the user's typing, not device state.
    this.ctx = undefined;
    this.multiport = false;
    this.guestOpen = false;
    this.consoleAnnounced = false;
    this.controlOut = [];
  }

  snapshot(): VirtioDeviceSnapshot {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      pendingInput: this.pendingBytes,
      multiport: this.multiport,
      guestOpen: this.guestOpen,
      cols: this.cols,
      rows: this.rows,
    };
  }

  /** For a snapshot: terminal size, the port's state, input not delivered yet, control messages waiting. */
  saveState(): unknown {
    const input = new Uint8Array(this.pendingBytes);
    let at = 0;
    this.pending.forEach((c, i) => {
      const part = i === 0 ? c.subarray(this.pendingOffset) : c;
      input.set(part, at);
      at += part.length;
    });
    return {
      cols: this.cols,
      rows: this.rows,
      guestOpen: this.guestOpen,
      input: bytesText(input),
      controlOut: this.controlOut.map(bytesText),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
  }

  /** Restores saveState()'s output (after activate() when the driver was live); SnapshotError otherwise. */
  loadState(state: unknown, path: string): void {
    const s = record(state, path);
    const cols = uint(s.cols, `${path}.cols`, 0xffff);
    const rows = uint(s.rows, `${path}.rows`, 0xffff);
    const guestOpen = flag(s.guestOpen, `${path}.guestOpen`);
    const input = bytes(s.input, `${path}.input`, MAX_SAVED_INPUT);
    if (!Array.isArray(s.controlOut) || s.controlOut.length > MAX_PENDING_CONTROL) {
      throw new SnapshotError(`${path}.controlOut: not a list of at most ${MAX_PENDING_CONTROL} messages`);
    }
    const controlOut = s.controlOut.map((m, i) => bytes(m, `${path}.controlOut[${i}]`, CONTROL_SIZE + 4));
    const bytesIn = uint(s.bytesIn, `${path}.bytesIn`, Number.MAX_SAFE_INTEGER);
    const bytesOut = uint(s.bytesOut, `${path}.bytesOut`, Number.MAX_SAFE_INTEGER);
    if (guestOpen && this.ctx === undefined) throw new SnapshotError(`${path}.guestOpen: open without a live driver`);
    this.cols = cols;
    this.rows = rows;
    if (this.ctx !== undefined) {
      this.guestOpen = guestOpen;
      // Not in the file: a driver that opened port 0 had it announced as the console first.
      this.consoleAnnounced = this.multiport && guestOpen;
      this.controlOut = controlOut;
    }
    this.pending = input.length > 0 ? [input] : [];
    this.pendingOffset = 0;
    this.pendingBytes = input.length;
    this.bytesIn = bytesIn;
    this.bytesOut = bytesOut;
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

  /** Driver → device control messages (MULTIPORT): the port handshake. */
  private receiveControl(): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active) return;
    const vq = ctx.queues[VIRTIO_CONSOLE_CTRL_TX_QUEUE];
    let pushed = false;
    for (let chain = vq.pop(); chain !== undefined; chain = vq.pop()) {
      const msg = copyFromReadable(chain, 0, CONTROL_SIZE);
      vq.push(chain, 0);
      pushed = true;
      if (msg.length === CONTROL_SIZE) this.handleControl(msg);
    }
    if (pushed) ctx.signalUsed(VIRTIO_CONSOLE_CTRL_TX_QUEUE);
    this.deliverControl();
    this.deliver();
  }

  private handleControl(msg: Uint8Array): void {
    const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const id = v.getUint32(0, true);
    const event = v.getUint16(4, true);
    const value = v.getUint16(6, true);
    if (event === VIRTIO_CONSOLE_DEVICE_READY) {
      // The driver is up (value 1); announce our one port.
      if (value === 1) this.queueControl(0, VIRTIO_CONSOLE_DEVICE_ADD, 0);
    } else if (id !== 0) {
      // Only port 0 exists; anything else is a confused driver: ignore it.
    } else if (event === VIRTIO_CONSOLE_PORT_READY) {
      if (value === 1) {
        this.queueControl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
        this.consoleAnnounced = true;
        if (hasFeature(this.ctx?.features ?? 0n, VIRTIO_CONSOLE_F_SIZE)) this.sendResize();
        this.queueControl(0, VIRTIO_CONSOLE_PORT_OPEN, 1); // the host end is always connected
      }
    } else if (event === VIRTIO_CONSOLE_PORT_OPEN) {
      this.guestOpen = value === 1;
    }
  }

  private sendResize(): void {
    this.queueControl(0, VIRTIO_CONSOLE_RESIZE, 0, [this.cols, this.rows]);
    this.deliverControl();
  }

  private queueControl(id: number, event: number, value: number, extra: number[] = []): void {
    if (this.controlOut.length >= MAX_PENDING_CONTROL) return;
    const msg = new Uint8Array(CONTROL_SIZE + 2 * extra.length);
    const v = new DataView(msg.buffer);
    v.setUint32(0, id, true);
    v.setUint16(4, event, true);
    v.setUint16(6, value, true);
    for (const [i, x] of extra.entries()) v.setUint16(CONTROL_SIZE + 2 * i, x, true);
    this.controlOut.push(msg);
  }

  /** Device → driver control messages, one per control receive buffer. */
  private deliverControl(): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active || this.controlOut.length === 0) return;
    const vq = ctx.queues[VIRTIO_CONSOLE_CTRL_RX_QUEUE];
    let pushed = false;
    while (this.controlOut.length > 0) {
      const chain = vq.pop();
      if (chain === undefined) break;
      const msg = this.controlOut.shift() as Uint8Array;
      vq.push(chain, copyToWritable(chain, 0, msg));
      pushed = true;
    }
    if (pushed) ctx.signalUsed(VIRTIO_CONSOLE_CTRL_RX_QUEUE);
  }

  private deliver(): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active || !this.guestOpen || this.pendingBytes === 0) return;
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
