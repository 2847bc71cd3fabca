// The page's virtio-blk disks: each URL becomes an HttpBlockBackend (range requests, probed here so a
// bad URL fails the boot with a clear message), each picked File a BlobBlockBackend, and both sit
// under a CowOverlay so the guest can write without the source changing. They attach on the
// machine's transport, after the default devices: /dev/vda, /dev/vdb, … in this order. A URL's fetched
// chunks are kept in the page's IndexedDB (disk-cache.ts), so the next load reads them from there.

import { BlobBlockBackend } from "../../devices/virtio-blk/blob-block-backend.ts";
import type { BlockBackend } from "../../devices/virtio-blk/block-backend.ts";
import { CowOverlay } from "../../devices/virtio-blk/cow-overlay.ts";
import { HttpBlockBackend } from "../../devices/virtio-blk/http-block-backend.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import type { VirtioAttachment } from "../machine/virt-virtio.ts";
import { lastingChunks } from "./disk-cache.ts";
import type { DiskFetchSnapshot, MachineConfig } from "./protocol.ts";

/** A disk of the page's machine. */
export interface PageDisk extends VirtioAttachment {
  /** For a disk read from a URL: what its range requests have fetched so far (the page shows it while it boots). */
  fetched?: () => DiskFetchSnapshot;
}

/** A failing disk reports this many times, then stays quiet (the guest logs its own I/O errors too). */
const NOTICES_PER_DISK = 3;

/** The last path segment, for GET_ID (the device cuts it to 20 bytes). */
function serialOf(url: string): string {
  const path = new URL(url).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf("/") + 1)) || "disk";
}

/** Opens every disk of the configuration; rejects with the first that cannot be read. */
export function openDisks(config: MachineConfig, notice: (message: string) => void): Promise<PageDisk[]> {
  return openDiskSources(
    [...(config.disks ?? []).map((url) => ({ url })), ...(config.diskFiles ?? []).map((file) => ({ file }))],
    notice,
  );
}

/** Opens disks from URLs and picked files, in this order (a restored machine's, in its saved order). */
export async function openDiskSources(
  list: ({ url: string } | { file: File })[],
  notice: (message: string) => void,
): Promise<PageDisk[]> {
  const sources: Promise<{ backend: BlockBackend; serial: string; http?: HttpBlockBackend }>[] = list.map(async (s) => {
    if (!("url" in s)) return { backend: new BlobBlockBackend(s.file, s.file.name), serial: s.file.name };
    const http = await HttpBlockBackend.open(s.url, { persist: (v) => lastingChunks(v) }).catch((e: unknown) => {
      throw new Error(`the disk ${e instanceof Error ? e.message : String(e)}`);
    });
    return { backend: http, serial: serialOf(s.url), http };
  });
  const opened = await Promise.all(sources);
  return opened.map(({ backend, serial, http }, i) => {
    const name = `virtio-blk${i}`;
    let told = 0;
    const device = new VirtioBlk(new CowOverlay(backend), {
      name,
      serial,
      onError: (e) => {
        if (told++ < NOTICES_PER_DISK) notice(`${name}: I/O error: ${e instanceof Error ? e.message : String(e)}`);
      },
    });
    const fetched =
      http === undefined
        ? undefined
        : (): DiskFetchSnapshot => ({
            name,
            url: http.url,
            size: http.size,
            fetched: http.stats.bytesFetched,
            requests: http.stats.requests,
            stored: http.stats.bytesStored,
          });
    return { device, fetched };
  });
}
