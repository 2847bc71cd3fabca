// A read-only disk image from a Blob: in the page, a File the person picked (handed to the worker by
// structured clone, which passes a reference to the file, not its bytes). Reads slice the Blob, so a
// large image is never loaded whole. It sits under a CowOverlay for writes. A file that vanished or
// changed on disk makes arrayBuffer() reject; that becomes a BlockBackendError, which the device
// answers as VIRTIO_BLK_S_IOERR.

import { type BlockBackend, BlockBackendError } from "./block-backend.ts";

export class BlobBlockBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly = true;
  readonly identity: string;

  constructor(
    readonly blob: Blob,
    /** For messages: the file name, or whatever names the source. */
    readonly label = "disk image",
  ) {
    this.size = blob.size;
    const modified = (blob as { lastModified?: number }).lastModified;
    this.identity = `blob ${label} size ${blob.size}${modified !== undefined ? ` modified ${modified}` : ""}`;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new BlockBackendError(`bad range ${offset}+${length}`);
    }
    if (offset + length > this.size) throw new BlockBackendError(`range ${offset}+${length} past the end`);
    let buf: ArrayBuffer;
    try {
      buf = await this.blob.slice(offset, offset + length).arrayBuffer();
    } catch (e) {
      throw new BlockBackendError(`${this.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (buf.byteLength !== length) throw new BlockBackendError(`${this.label}: short read at ${offset}`);
    return new Uint8Array(buf);
  }

  write(): never {
    throw new BlockBackendError(`${this.label} is read-only`);
  }

  flush(): void {
    // Nothing is ever written here.
  }
}
