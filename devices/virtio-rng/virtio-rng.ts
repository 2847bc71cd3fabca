// virtio-rng (entropy device, virtio 1.2 §5.4): one request queue; every writable byte the driver
// offers is filled from the host's CSPRNG (crypto.getRandomValues, available in browsers, workers and
// Node). No config space, no device feature bits. Reads guest-controlled descriptor chains through
// Virtqueue, which validates them.

import { VIRTIO_TRANSPORT_FEATURES } from "../virtio/features.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioDeviceSnapshot } from "../virtio/virtio-device.ts";
import { VIRTIO_ID_RNG } from "../virtio/virtio-ids.ts";

export const VIRTIO_RNG_QUEUE_SIZE = 64;
/** getRandomValues fills at most 65536 bytes per call (WebCrypto QuotaExceededError above). */
const GET_RANDOM_MAX = 65536;
/** Bytes given per request: Linux asks for up to a page at a time; cap what one chain can demand. */
const MAX_BYTES_PER_REQUEST = 64 * 1024;

export type EntropySource = (dst: Uint8Array) => void;

/**
 * Fills through a private buffer: guest RAM may be a SharedArrayBuffer, whose views getRandomValues
 * refuses in browsers.
 */
function cryptoEntropy(): EntropySource {
  const scratch = new Uint8Array(GET_RANDOM_MAX);
  return (dst) => {
    for (let off = 0; off < dst.length; off += GET_RANDOM_MAX) {
      const n = Math.min(GET_RANDOM_MAX, dst.length - off);
      globalThis.crypto.getRandomValues(scratch.subarray(0, n));
      dst.set(scratch.subarray(0, n), off);
    }
  };
}

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = VIRTIO_TRANSPORT_FEATURES;
  readonly queues = [{ maxSize: VIRTIO_RNG_QUEUE_SIZE, name: "requestq" }];
  readonly configSize = 0;
  private ctx: VirtioDeviceContext | undefined;
  private bytesGiven = 0;
  private requests = 0;
  private dropped = 0;

  constructor(
    readonly name = "virtio-rng",
    private readonly entropy: EntropySource = cryptoEntropy(),
  ) {}

  readConfig(): number {
    return 0;
  }
  writeConfig(): void {}

  activate(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
  }

  notify(queue: number): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active || queue !== 0) return;
    const vq = ctx.queues[0];
    let pushed = false;
    for (let chain = vq.pop(); chain !== undefined; chain = vq.pop()) {
      let left = MAX_BYTES_PER_REQUEST;
      let written = 0;
      for (const seg of chain.writable) {
        if (left === 0) break;
        const part = seg.length <= left ? seg : seg.subarray(0, left);
        this.entropy(part);
        written += part.length;
        left -= part.length;
      }
      // A request with no writable buffer is meaningless: return it empty.
      if (written === 0) this.dropped++;
      this.requests++;
      this.bytesGiven += written;
      vq.push(chain, written);
      pushed = true;
    }
    if (pushed) ctx.signalUsed(0);
  }

  reset(): void {
    this.ctx = undefined;
  }

  snapshot(): VirtioDeviceSnapshot {
    return { requests: this.requests, bytesGiven: this.bytesGiven, emptyRequests: this.dropped };
  }
}
