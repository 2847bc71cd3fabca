// virtio-9p (device ID 9; Linux's net/9p/trans_virtio.c is the driver): a 9P2000.L share over one request
// queue. A request chain is {T-message (readable), room for the R-message (writable)}; the device copies the
// readable part out once (guest-controlled; bounded by the negotiated msize), lets the P9Server answer it, and
// writes the reply into the writable part. Config space: tag_len (le16) and the mount tag, with
// VIRTIO_9P_MOUNT_TAG. A chain the server cannot answer (no tag, no room) is returned empty and counted.

import { record, SnapshotError } from "../../src/machine/state-check.ts";
import { copyFromReadable, copyToWritable } from "../virtio/chain-io.ts";
import { featureMaskOf, VIRTIO_9P_MOUNT_TAG, VIRTIO_TRANSPORT_FEATURES } from "../virtio/features.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioDeviceSnapshot } from "../virtio/virtio-device.ts";
import { VIRTIO_ID_9P } from "../virtio/virtio-ids.ts";
import { P9_MAX_MSIZE, P9Server, type P9ServerOptions } from "./p9-server.ts";
import type { ShareBackend } from "./share-backend.ts";

export const VIRTIO_9P_QUEUE_SIZE = 256;
/** Linux's MAX_TAG_LEN is 31 bytes (without a NUL); QEMU allows more, Linux reads what tag_len says. */
export const VIRTIO_9P_MAX_TAG = 31;

export interface Virtio9pOptions extends P9ServerOptions {
  name?: string;
  /** The mount tag the guest names in `mount -t 9p <tag>` (default "host"). */
  tag?: string;
}

export class Virtio9p implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_9P;
  readonly name: string;
  readonly features = VIRTIO_TRANSPORT_FEATURES | featureMaskOf(VIRTIO_9P_MOUNT_TAG);
  readonly queues = [{ maxSize: VIRTIO_9P_QUEUE_SIZE, name: "requests" }];
  readonly configSize: number;
  readonly tag: string;
  readonly server: P9Server;
  private readonly config: Uint8Array;
  private ctx: VirtioDeviceContext | undefined;
  private chains = 0;
  private droppedChains = 0;

  constructor(
    readonly backend: ShareBackend,
    opts: Virtio9pOptions = {},
  ) {
    this.name = opts.name ?? "virtio-9p";
    this.tag = opts.tag ?? "host";
    const tag = new TextEncoder().encode(this.tag);
    if (tag.length === 0 || tag.length > VIRTIO_9P_MAX_TAG) {
      throw new RangeError(`a 9p mount tag has 1 to ${VIRTIO_9P_MAX_TAG} bytes: "${this.tag}"`);
    }
    this.config = new Uint8Array(2 + tag.length);
    this.config[0] = tag.length;
    this.config.set(tag, 2);
    this.configSize = this.config.length;
    this.server = new P9Server(backend, opts);
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.config[offset + i] ?? 0);
    return v;
  }

  writeConfig(): void {
    // The tag is read-only.
  }

  activate(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
    // A T-message and its reply are each at most msize; anything longer is hostile.
    ctx.queues[0].maxChainBytes = 2 * P9_MAX_MSIZE + 4096;
  }

  notify(queue: number): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active || queue !== 0) return;
    const vq = ctx.queues[0];
    let pushed = false;
    for (let chain = vq.pop(); chain !== undefined; chain = vq.pop()) {
      this.chains++;
      const req = copyFromReadable(chain, 0, this.server.msize);
      const reply = this.server.handle(req, chain.writableBytes);
      let written = 0;
      if (reply === undefined) this.droppedChains++;
      else written = copyToWritable(chain, 0, reply);
      vq.push(chain, written);
      pushed = true;
      // A backend error may have reset the device meanwhile.
      if (!ctx.active) return;
    }
    if (pushed) ctx.signalUsed(0);
  }

  reset(): void {
    this.ctx = undefined;
    // The driver's fids die with it: close whatever it left open.
    this.server.reset();
  }

  snapshot(): VirtioDeviceSnapshot {
    const out: VirtioDeviceSnapshot = {
      mountTag: this.tag,
      share: this.backend.description,
      readOnly: this.backend.readOnly,
      msize: this.server.msize,
      fids: this.server.fidCount,
      chains: this.chains,
      droppedChains: this.droppedChains,
      ...this.server.stats,
    };
    for (const [k, v] of Object.entries(this.server.counts)) out[`T${k}`] = v;
    return out;
  }

  /**
   * The 9P session (fids by path, msize) and the mount tag; the share's files themselves are not in the
   * snapshot — a restore reopens them by path (P9Server.saveState refuses what that could not restore).
   */
  saveState(): unknown {
    try {
      return { tag: this.tag, server: this.server.saveState() };
    } catch (e) {
      if (e instanceof SnapshotError) throw new SnapshotError(`${this.name} (tag "${this.tag}"): ${e.message}`);
      throw e;
    }
  }

  /** After activate(); a snapshot of another tag's device is refused. */
  loadState(state: unknown, path: string): void {
    const s = record(state, path);
    if (s.tag !== this.tag) {
      throw new SnapshotError(
        `${path}.tag: the saved share is tagged ${JSON.stringify(s.tag)}, this one "${this.tag}"`,
      );
    }
    this.server.loadState(s.server, `${path}.server`);
  }
}
