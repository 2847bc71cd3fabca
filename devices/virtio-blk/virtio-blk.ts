// virtio-blk (virtio 1.2 §5.2): one request queue over a BlockBackend. Requests are
// {virtio_blk_outhdr (16 bytes, readable), data, status byte (last writable byte)}. The header, the
// sector and the lengths come from the guest: every request is range-checked against the disk and
// answered with a status byte — IOERR for a bad range or a write to a read-only disk, UNSUPP for an
// unknown type — and a chain without room for a status byte is returned empty. Requests run one at a
// time in ring order; a backend that answers with a Promise suspends the queue until it settles, so
// the run loop never blocks and overlapping requests never race.

import { copyFromReadable, copyToWritable } from "../virtio/chain-io.ts";
import {
  featureMaskOf,
  hasFeature,
  VIRTIO_BLK_F_BLK_SIZE,
  VIRTIO_BLK_F_DISCARD,
  VIRTIO_BLK_F_FLUSH,
  VIRTIO_BLK_F_RO,
  VIRTIO_BLK_F_SEG_MAX,
  VIRTIO_BLK_F_SIZE_MAX,
  VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_TRANSPORT_FEATURES,
} from "../virtio/features.ts";
import type { VirtioDevice, VirtioDeviceContext, VirtioDeviceSnapshot } from "../virtio/virtio-device.ts";
import { VIRTIO_ID_BLOCK } from "../virtio/virtio-ids.ts";
import type { DescriptorChain } from "../virtio/virtqueue.ts";
import { andThen, type BlockBackend, isPromise, type MaybePromise } from "./block-backend.ts";

// Request types and status values, §5.2.6.
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_GET_LIFETIME = 10;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_T_SECURE_ERASE = 14;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;
/** GET_ID answers with a serial of at most this many bytes (not NUL-terminated when full). */
export const VIRTIO_BLK_ID_BYTES = 20;
export const VIRTIO_BLK_SECTOR_SIZE = 512;
/** virtio_blk_outhdr: type le32, reserved (ioprio) le32, sector le64. */
export const VIRTIO_BLK_OUTHDR_SIZE = 16;
/** virtio_blk_discard_write_zeroes: sector le64, num_sectors le32, flags le32. */
export const VIRTIO_BLK_DWZ_SEGMENT_SIZE = 16;
export const VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1;

// struct virtio_blk_config offsets (§5.2.4).
export const VIRTIO_BLK_CFG_CAPACITY = 0x00;
export const VIRTIO_BLK_CFG_SIZE_MAX = 0x08;
export const VIRTIO_BLK_CFG_SEG_MAX = 0x0c;
export const VIRTIO_BLK_CFG_BLK_SIZE = 0x14;
export const VIRTIO_BLK_CFG_NUM_QUEUES = 0x22;
export const VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS = 0x24;
export const VIRTIO_BLK_CFG_MAX_DISCARD_SEG = 0x28;
export const VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT = 0x2c;
export const VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS = 0x30;
export const VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG = 0x34;
export const VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP = 0x38;
/** Through write_zeroes_may_unmap and its padding; secure-erase and zoned fields are not offered. */
export const VIRTIO_BLK_CONFIG_SIZE = 0x3c;

export const VIRTIO_BLK_QUEUE_SIZE = 256;
/** Data segments per request: the ring minus header and status (what QEMU advertises). */
const SEG_MAX = VIRTIO_BLK_QUEUE_SIZE - 2;
/** Bytes per data segment. Together with SEG_MAX this bounds a request to ~32 MiB. */
const SIZE_MAX = 128 * 1024;
/** Sectors one DISCARD / WRITE_ZEROES segment may cover (32 MiB), and segments per request. */
const MAX_DWZ_SECTORS = 65536;
const MAX_DWZ_SEG = 1;

export interface VirtioBlkOptions {
  name?: string;
  /** Offer VIRTIO_BLK_F_RO even if the backend can write. */
  readOnly?: boolean;
  /** GET_ID serial (ASCII, cut to 20 bytes). */
  serial?: string;
  /** Called when an async backend operation fails (the guest sees IOERR). */
  onError?: (err: unknown) => void;
}

interface BlkStats {
  reads: number;
  writes: number;
  flushes: number;
  bytesRead: number;
  bytesWritten: number;
  ioErrors: number;
  unsupported: number;
  badRequests: number;
}

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly name: string;
  readonly features: bigint;
  readonly queues = [{ maxSize: VIRTIO_BLK_QUEUE_SIZE, name: "requestq" }];
  readonly configSize = VIRTIO_BLK_CONFIG_SIZE;
  readonly readOnly: boolean;
  readonly sectors: number;
  private readonly config: DataView;
  private readonly serial: Uint8Array;
  private readonly onError: (err: unknown) => void;
  private ctx: VirtioDeviceContext | undefined;
  /** True while an async request is outstanding: the queue waits for it. */
  private busy = false;
  private readonly stats: BlkStats = {
    reads: 0,
    writes: 0,
    flushes: 0,
    bytesRead: 0,
    bytesWritten: 0,
    ioErrors: 0,
    unsupported: 0,
    badRequests: 0,
  };

  constructor(
    readonly backend: BlockBackend,
    opts: VirtioBlkOptions = {},
  ) {
    this.name = opts.name ?? "virtio-blk";
    this.readOnly = opts.readOnly === true || backend.readOnly === true;
    this.sectors = Math.floor(backend.size / VIRTIO_BLK_SECTOR_SIZE);
    this.onError = opts.onError ?? (() => {});
    this.serial = new TextEncoder().encode(opts.serial ?? this.name).subarray(0, VIRTIO_BLK_ID_BYTES);
    const bits = [VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH];
    if (this.readOnly) bits.push(VIRTIO_BLK_F_RO);
    else bits.push(VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES);
    this.features = VIRTIO_TRANSPORT_FEATURES | featureMaskOf(...bits);

    const c = new DataView(new ArrayBuffer(VIRTIO_BLK_CONFIG_SIZE));
    c.setBigUint64(VIRTIO_BLK_CFG_CAPACITY, BigInt(this.sectors), true);
    c.setUint32(VIRTIO_BLK_CFG_SIZE_MAX, SIZE_MAX, true);
    c.setUint32(VIRTIO_BLK_CFG_SEG_MAX, SEG_MAX, true);
    c.setUint32(VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR_SIZE, true);
    c.setUint16(VIRTIO_BLK_CFG_NUM_QUEUES, 1, true);
    c.setUint32(VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, MAX_DWZ_SECTORS, true);
    c.setUint32(VIRTIO_BLK_CFG_MAX_DISCARD_SEG, MAX_DWZ_SEG, true);
    c.setUint32(VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT, 1, true);
    c.setUint32(VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, MAX_DWZ_SECTORS, true);
    c.setUint32(VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, MAX_DWZ_SEG, true);
    c.setUint8(VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP, 0);
    this.config = c;
  }

  readConfig(offset: number, size: 1 | 2 | 4): number {
    if (size === 1) return this.config.getUint8(offset);
    if (size === 2) return this.config.getUint16(offset, true);
    return this.config.getUint32(offset, true);
  }

  writeConfig(): void {
    // Every field is read-only without CONFIG_WCE (not offered).
  }

  activate(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
    this.busy = false;
    // Header + data + status of the largest request we advertise; anything longer is hostile.
    ctx.queues[0].maxChainBytes = SEG_MAX * SIZE_MAX + 4096;
  }

  notify(queue: number): void {
    if (queue === 0) this.process();
  }

  reset(): void {
    // In-flight async requests see a dead context and drop their results.
    this.ctx = undefined;
    this.busy = false;
  }

  /** Before a save: lets the request the backend is working on (and any queued behind it) finish. */
  async quiesce(): Promise<void> {
    while (this.busy && this.ctx?.active === true) await new Promise((r) => setTimeout(r, 0));
  }

  snapshot(): VirtioDeviceSnapshot {
    return {
      capacitySectors: this.sectors,
      readOnly: this.readOnly,
      busy: this.busy,
      ...this.stats,
    };
  }

  /** Serves requests in ring order until the ring is empty or a request goes async. */
  private process(): void {
    const ctx = this.ctx;
    if (ctx === undefined || !ctx.active || this.busy) return;
    const vq = ctx.queues[0];
    let pushed = false;
    for (let chain = vq.pop(); chain !== undefined; chain = vq.pop()) {
      const result = this.handle(chain);
      if (isPromise(result)) {
        this.busy = true;
        result.then(
          (len) => this.finishAsync(ctx, chain, len),
          (err) => {
            // handle() turns backend failures into IOERR itself; this is only a safety net.
            this.onError(err);
            this.finishAsync(ctx, chain, this.status(chain, VIRTIO_BLK_S_IOERR, 0));
          },
        );
        break;
      }
      vq.push(chain, result);
      pushed = true;
    }
    if (pushed) ctx.signalUsed(0);
  }

  private finishAsync(ctx: VirtioDeviceContext, chain: DescriptorChain, len: number): void {
    if (ctx !== this.ctx || !this.live(chain)) return;
    this.busy = false;
    ctx.queues[0].push(chain, len);
    ctx.signalUsed(0);
    this.process();
  }

  /** Runs one request; resolves to the used length (data bytes written + the status byte). */
  private handle(chain: DescriptorChain): MaybePromise<number> {
    // No room for a status byte: nothing can be reported, return the chain empty.
    if (chain.writableBytes < 1) {
      this.stats.badRequests++;
      return 0;
    }
    const hdr = copyFromReadable(chain, 0, VIRTIO_BLK_OUTHDR_SIZE);
    if (hdr.length < VIRTIO_BLK_OUTHDR_SIZE) {
      this.stats.badRequests++;
      return this.status(chain, VIRTIO_BLK_S_IOERR, 0);
    }
    const h = new DataView(hdr.buffer);
    const type = h.getUint32(0, true);
    const sector = h.getUint32(8, true) + h.getUint32(12, true) * 4294967296;
    switch (type) {
      case VIRTIO_BLK_T_IN:
        return this.read(chain, sector);
      case VIRTIO_BLK_T_OUT:
        return this.write(chain, sector);
      case VIRTIO_BLK_T_FLUSH:
        this.stats.flushes++;
        return this.guard(chain, () => this.backend.flush(), 0);
      case VIRTIO_BLK_T_GET_ID: {
        // A short serial is NUL-padded to the 20-byte field.
        const id = new Uint8Array(Math.min(VIRTIO_BLK_ID_BYTES, chain.writableBytes - 1));
        id.set(this.serial.subarray(0, id.length));
        copyToWritable(chain, 0, id);
        return this.status(chain, VIRTIO_BLK_S_OK, id.length);
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        return this.discardOrZero(chain, type);
      default:
        this.stats.unsupported++;
        return this.status(chain, VIRTIO_BLK_S_UNSUPP, 0);
    }
  }

  private read(chain: DescriptorChain, sector: number): MaybePromise<number> {
    const len = chain.writableBytes - 1;
    const offset = sector * VIRTIO_BLK_SECTOR_SIZE;
    if (!this.inRange(sector, len)) return this.ioerr(chain);
    this.stats.reads++;
    if (len === 0) return this.status(chain, VIRTIO_BLK_S_OK, 0);
    return this.guard(
      chain,
      () =>
        andThen(this.backend.read(offset, len), (bytes) => {
          // An async read that outlived a reset must not write into memory the guest took back.
          if (!this.live(chain)) return;
          copyToWritable(chain, 0, bytes.subarray(0, len));
          this.stats.bytesRead += len;
        }),
      len,
    );
  }

  private write(chain: DescriptorChain, sector: number): MaybePromise<number> {
    const len = chain.readableBytes - VIRTIO_BLK_OUTHDR_SIZE;
    if (this.readOnly || !this.inRange(sector, len)) return this.ioerr(chain);
    this.stats.writes++;
    // A copy: the guest may rewrite its buffer while an async backend is still writing.
    const data = copyFromReadable(chain, VIRTIO_BLK_OUTHDR_SIZE, len);
    this.stats.bytesWritten += len;
    return this.guard(chain, () => this.backend.write(sector * VIRTIO_BLK_SECTOR_SIZE, data), 0);
  }

  private discardOrZero(chain: DescriptorChain, type: number): MaybePromise<number> {
    if (this.readOnly) return this.ioerr(chain);
    const body = copyFromReadable(chain, VIRTIO_BLK_OUTHDR_SIZE, VIRTIO_BLK_DWZ_SEGMENT_SIZE * (MAX_DWZ_SEG + 1));
    const segs = Math.floor(body.length / VIRTIO_BLK_DWZ_SEGMENT_SIZE);
    if (segs === 0 || segs > MAX_DWZ_SEG || body.length % VIRTIO_BLK_DWZ_SEGMENT_SIZE !== 0) {
      this.stats.badRequests++;
      return this.status(chain, VIRTIO_BLK_S_UNSUPP, 0);
    }
    const v = new DataView(body.buffer);
    const sector = v.getUint32(0, true) + v.getUint32(4, true) * 4294967296;
    const count = v.getUint32(8, true);
    const flags = v.getUint32(12, true);
    // Unknown flags, or UNMAP on a DISCARD, are not ours to guess at (§5.2.6.2).
    const allowed = type === VIRTIO_BLK_T_WRITE_ZEROES ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
    if ((flags & ~allowed) !== 0 || count > MAX_DWZ_SECTORS) {
      this.stats.badRequests++;
      return this.status(chain, VIRTIO_BLK_S_UNSUPP, 0);
    }
    const len = count * VIRTIO_BLK_SECTOR_SIZE;
    if (!this.inRange(sector, len)) return this.ioerr(chain);
    const offset = sector * VIRTIO_BLK_SECTOR_SIZE;
    const b = this.backend;
    return this.guard(
      chain,
      () => {
        if (type === VIRTIO_BLK_T_DISCARD && b.discard !== undefined) return b.discard(offset, len);
        if (b.writeZeroes !== undefined) return b.writeZeroes(offset, len);
        return b.write(offset, new Uint8Array(len));
      },
      0,
    );
  }

  /** The chain still belongs to the driver's current, working queue. */
  private live(chain: DescriptorChain): boolean {
    const ctx = this.ctx;
    return ctx?.active === true && ctx.queues[0].epoch === chain.epoch;
  }

  /** [sector, sector + len) is whole sectors inside the disk. */
  private inRange(sector: number, len: number): boolean {
    if (len < 0 || len % VIRTIO_BLK_SECTOR_SIZE !== 0) return false;
    return Number.isSafeInteger(sector) && sector + len / VIRTIO_BLK_SECTOR_SIZE <= this.sectors;
  }

  /** Runs a backend operation; a throw or a rejection becomes IOERR. Resolves to the used length. */
  private guard(chain: DescriptorChain, op: () => MaybePromise<void>, dataLen: number): MaybePromise<number> {
    const fail = (err: unknown) => {
      this.onError(err);
      return this.ioerr(chain);
    };
    try {
      const r = op();
      if (isPromise(r)) {
        return r.then(
          () => this.status(chain, VIRTIO_BLK_S_OK, dataLen),
          (err) => fail(err),
        );
      }
      return this.status(chain, VIRTIO_BLK_S_OK, dataLen);
    } catch (err) {
      return fail(err);
    }
  }

  private ioerr(chain: DescriptorChain): number {
    this.stats.ioErrors++;
    return this.status(chain, VIRTIO_BLK_S_IOERR, 0);
  }

  /**
   * Writes the status byte (the last writable byte) and returns the used length: `dataLen` bytes of
   * data plus the status byte.
   */
  private status(chain: DescriptorChain, status: number, dataLen: number): number {
    if (this.live(chain)) copyToWritable(chain, chain.writableBytes - 1, Uint8Array.of(status));
    return dataLen + 1;
  }

  /** For tests and the UI: the negotiated read-only state as the driver sees it. */
  static isReadOnly(features: bigint): boolean {
    return hasFeature(features, VIRTIO_BLK_F_RO);
  }
}
