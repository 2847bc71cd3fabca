// A raw disk image file as a virtio-blk BlockBackend (Node only: it needs node:fs, so it lives in the
// CLI, not under devices/). Reads and writes are synchronous: a local file answers in microseconds,
// and a synchronous backend lets the device complete requests inside the guest's kick. By default the
// file is opened read-only and the guest's writes go to an in-memory copy-on-write overlay, so the
// image is never modified; `writeThrough` writes the file itself.

import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { type BlockBackend, BlockBackendError } from "../../devices/virtio-blk/block-backend.ts";
import { CowOverlay } from "../../devices/virtio-blk/cow-overlay.ts";

export class FileBlockBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  readonly identity: string;
  private fd: number | undefined;

  constructor(
    readonly path: string,
    opts: { writable?: boolean } = {},
  ) {
    this.readOnly = opts.writable !== true;
    this.fd = openSync(path, this.readOnly ? "r" : "r+");
    const st = fstatSync(this.fd);
    if (!st.isFile() && !st.isBlockDevice()) {
      this.close();
      throw new BlockBackendError(`${path} is not a file`);
    }
    this.size = st.size;
    this.identity = `file ${resolve(path)} size ${st.size} mtime ${Math.floor(st.mtimeMs)}`;
  }

  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.handle(), out, done, length - done, offset + done);
      if (n === 0) throw new BlockBackendError(`${this.path}: short read at ${offset + done}`);
      done += n;
    }
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockBackendError(`${this.path} is open read-only`);
    let done = 0;
    while (done < data.length) done += writeSync(this.handle(), data, done, data.length - done, offset + done);
  }

  flush(): void {
    if (!this.readOnly) fsyncSync(this.handle());
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private handle(): number {
    if (this.fd === undefined) throw new BlockBackendError(`${this.path} is closed`);
    return this.fd;
  }
}

export interface DiskImageOptions {
  /** The guest sees a read-only disk (VIRTIO_BLK_F_RO). */
  readOnly?: boolean;
  /** Guest writes modify the file itself instead of an in-memory overlay. */
  writeThrough?: boolean;
}

/** The backend for `--disk PATH`: the file under a copy-on-write overlay, or the file itself with writeThrough. */
export function openDiskImage(path: string, opts: DiskImageOptions = {}): BlockBackend {
  if (opts.readOnly === true) return new FileBlockBackend(path);
  if (opts.writeThrough === true) return new FileBlockBackend(path, { writable: true });
  return new CowOverlay(new FileBlockBackend(path));
}
