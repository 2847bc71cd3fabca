// The page's side of snapshots (issue 15): what the page records about itself in a `.vireo` file (the
// `host` record VirtMachine.saveSnapshot stores as given), and the plan for rebuilding the saved machine in
// the page from a snapshot's machine record — RAM, each virtio device's transport, virtio-net's offered
// features and MAC as saved, disks by the URLs they were read from — with the page's current choice of
// network backend. A machine the page cannot rebuild (a disk from a local path or an unpicked local file)
// is refused with a message that names the disk, before anything is built.

import type { SavedMachine } from "../machine/virt-snapshot.ts";
import type { ImageSources, MachineConfig, VirtioDeviceRole, VirtioTransportKind } from "./protocol.ts";

const VIRTIO_ID_NET = 1;
const VIRTIO_ID_BLOCK = 2;
const VIRTIO_ID_CONSOLE = 3;
const VIRTIO_ID_RNG = 4;

/** What the page stores as a snapshot's `host`: its configuration minus what cannot be cloned or reopened. */
export interface PageHostRecord {
  page: 1;
  /** Date.now() at the save. */
  savedAt: number;
  memMiB: number;
  transport: VirtioTransportKind;
  transports?: Partial<Record<VirtioDeviceRole, VirtioTransportKind>>;
  net: MachineConfig["net"];
  bootargs: string | null;
  images: ImageSources;
  imageBase: string;
  offloads: string | null;
  /** The NIC's MAC at the save (the driver may have changed it); null without a NIC. */
  mac: string | null;
  tabNetwork: string | null;
  /** Disk URLs, in attachment order (vda, vdb, …). */
  disks: string[];
  /** Disks the person picked as local files, after the URL ones: only their names and sizes. */
  diskFiles: { name: string; size: number }[];
  /** Boot images the person picked (not stored: a restored machine needs no boot images). */
  pickedImages: { role: keyof ImageSources; bytes: number }[];
}

/** The host record for a save of a machine booted (or restored) with `config`. */
export function pageHostRecord(config: MachineConfig, mac: string | null, savedAt = Date.now()): PageHostRecord {
  return {
    page: 1,
    savedAt,
    memMiB: config.memMiB,
    transport: config.transport,
    ...(config.transports !== undefined ? { transports: { ...config.transports } } : {}),
    net: config.net,
    bootargs: config.bootargs ?? null,
    images: { ...config.images },
    imageBase: config.imageBase,
    offloads: config.offloads ?? null,
    mac,
    tabNetwork: config.tabNetwork ?? null,
    disks: [...(config.disks ?? [])],
    diskFiles: (config.diskFiles ?? []).map((f) => ({ name: f.name, size: f.size })),
    pickedImages: (Object.entries(config.files ?? {}) as [keyof ImageSources, Uint8Array][]).map(([role, b]) => ({
      role,
      bytes: b.length,
    })),
  };
}

/** A restore the page cannot carry out, with the reason for the person. */
export class RestorePlanError extends Error {}

/** How the page rebuilds a saved machine. */
export interface RestorePlan {
  /** The configuration of the rebuilt machine (for the controls, the URL and a later fresh boot). */
  config: MachineConfig;
  /** Transports of the default devices, from the snapshot. */
  defaultTransports: Partial<Record<"net" | "console" | "rng", VirtioTransportKind>>;
  /** The saved NIC (null: the saved machine had none). */
  nic: { name: string; features: bigint; mac: string | undefined } | null;
  /** Every disk in order: a URL, or one of the page's picked files; with its saved transport. */
  disks: { source: { url: string } | { file: File }; transport: VirtioTransportKind }[];
  /** When the snapshot was saved (ms since the epoch), if it says. */
  savedAt: number | undefined;
  /** Things the person should know (e.g. the saved machine had no NIC, so the network choice is moot). */
  notices: string[];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function transportOf(v: unknown): VirtioTransportKind | undefined {
  return v === "mmio" || v === "pci" ? v : undefined;
}

/**
 * Plans the machine for a snapshot's record. `current` is the page's configuration now: its network backend,
 * relay and tab network are used; its picked disk files may stand in for the saved machine's (same name and
 * size; the disk's identity is checked again by the restore itself).
 */
export function planRestore(saved: SavedMachine, current: MachineConfig): RestorePlan {
  const h = (typeof saved.host === "object" && saved.host !== null ? saved.host : {}) as Record<string, unknown>;
  const fromPage = h.page === 1;
  const fromCli = h.cli === 1;
  const notices: string[] = [];
  const devices = saved.devices;
  const nicSaved = devices.find((d) => d.deviceId === VIRTIO_ID_NET);
  const diskDevices = devices.filter((d) => d.disk !== null);
  const byId = (id: number) => transportOf(devices.find((d) => d.deviceId === id)?.transport);
  const defaultTransports = { net: byId(VIRTIO_ID_NET), console: byId(VIRTIO_ID_CONSOLE), rng: byId(VIRTIO_ID_RNG) };
  const known = new Set([VIRTIO_ID_NET, VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG]);
  const odd = devices.find((d) => !known.has(d.deviceId) || (d.deviceId === VIRTIO_ID_BLOCK && d.disk === null));
  if (odd !== undefined) throw new RestorePlanError(`the snapshot has a device the page cannot build: ${odd.name}`);

  // Disks: by URL from a page's record; a picked file when the page has one of the same name and size.
  const urls = fromPage && Array.isArray(h.disks) ? h.disks.filter((u): u is string => typeof u === "string") : [];
  const files =
    fromPage && Array.isArray(h.diskFiles)
      ? h.diskFiles.map((f) => {
          const x = (typeof f === "object" && f !== null ? f : {}) as Record<string, unknown>;
          return { name: str(x.name) ?? "?", size: typeof x.size === "number" ? x.size : -1 };
        })
      : [];
  const cliDisks =
    fromCli && Array.isArray(h.disks)
      ? h.disks.map((d) => str((d as Record<string, unknown> | null)?.path) ?? "?")
      : [];
  const disks: RestorePlan["disks"] = diskDevices.map((d, i) => {
    const transport = transportOf(d.transport) ?? "mmio";
    if (i < urls.length) return { source: { url: urls[i] }, transport };
    const f = files[i - urls.length];
    if (f !== undefined) {
      const picked = current.diskFiles?.find((p) => p.name === f.name && p.size === f.size);
      if (picked !== undefined) return { source: { file: picked }, transport };
      throw new RestorePlanError(
        `${d.name}: its disk was the local file ${f.name} (${f.size} bytes), which the page cannot open again by itself; ` +
          "pick that file under image: → disk image, then restore again",
      );
    }
    if (cliDisks[i] !== undefined) {
      throw new RestorePlanError(
        `${d.name}: its disk was ${cliDisks[i]} on the command line, a local path the page cannot open; ` +
          "restore this snapshot with npm run vm -- --restore, or save one with the disk served over HTTP",
      );
    }
    throw new RestorePlanError(`${d.name}: the snapshot does not say where its disk came from`);
  });

  const net = nicSaved === undefined ? "none" : current.net;
  if (nicSaved === undefined && current.net !== "none") {
    notices.push("the saved machine has no network card: the network choice does not apply to it");
  }
  if (nicSaved !== undefined && current.net === "none") {
    notices.push("network: none — the restored network card stays unplugged (link down)");
  }
  const mac = str(h.mac) ?? undefined;

  // The configuration for the controls: one transport when every device agrees, else MMIO with exceptions.
  const all = devices.map((d) => transportOf(d.transport) ?? "mmio");
  const transport: VirtioTransportKind = all.length > 0 && all.every((t) => t === "pci") ? "pci" : "mmio";
  const transports: Partial<Record<VirtioDeviceRole, VirtioTransportKind>> = {};
  for (const [role, t] of Object.entries(defaultTransports) as [VirtioDeviceRole, VirtioTransportKind | undefined][]) {
    if (t !== undefined && t !== transport) transports[role] = t;
  }
  const blk = disks.map((d) => d.transport);
  if (blk.length > 0 && blk.every((t) => t === blk[0]) && blk[0] !== transport) transports.blk = blk[0];
  const images = fromPage && typeof h.images === "object" && h.images !== null ? (h.images as ImageSources) : undefined;
  const config: MachineConfig = {
    memMiB: saved.memMiB,
    transport,
    ...(Object.keys(transports).length > 0 ? { transports } : {}),
    net,
    bootargs: fromPage ? (str(h.bootargs) ?? undefined) : undefined,
    images:
      images !== undefined && typeof images.firmware === "string" && typeof images.kernel === "string"
        ? { firmware: images.firmware, kernel: images.kernel, initrd: str(images.initrd) ?? current.images.initrd }
        : { ...current.images },
    relayUrl: current.relayUrl,
    imageBase: (fromPage ? str(h.imageBase) : undefined) ?? current.imageBase,
    ...(fromPage && str(h.offloads) !== undefined ? { offloads: str(h.offloads) } : {}),
    ...(mac !== undefined ? { mac } : {}),
    ...(current.tabNetwork !== undefined ? { tabNetwork: current.tabNetwork } : {}),
    ...(urls.length > 0 ? { disks: urls.slice(0, diskDevices.length) } : {}),
    ...(disks.some((d) => "file" in d.source)
      ? { diskFiles: disks.flatMap((d) => ("file" in d.source ? [d.source.file] : [])) }
      : {}),
  };
  return {
    config,
    defaultTransports,
    nic: nicSaved === undefined ? null : { name: nicSaved.name, features: BigInt(nicSaved.features), mac },
    disks,
    savedAt: fromPage && typeof h.savedAt === "number" ? h.savedAt : undefined,
    notices,
  };
}
