// The machine configuration as URL query parameters, so a link reproduces a setup:
//   ?mem=256&transport=pci&transport.net=mmio&net=none&append=console%3DttyS0&kernel=https://…/Image&disk=https://…/root.img
// `image=debian` starts from a preset of the image chooser (images.ts); the other parameters apply on top of it.
// Unknown or invalid values fall back to the defaults and are reported, never thrown.

import {
  DEFAULT_IMAGES,
  DEFAULT_MEM_MIB,
  type ImageSources,
  type MachineConfig,
  type NetBackendKind,
  VIRTIO_DEVICE_ROLES,
  type VirtioTransportKind,
} from "../worker/protocol.ts";
import { applyPreset, IMAGE_PRESETS, isPresetName, presetDisks } from "./images.ts";

const TRANSPORTS: readonly VirtioTransportKind[] = ["mmio", "pci"];
const NETS: readonly NetBackendKind[] = ["stack", "fetch", "relay", "tab", "none"];
/** Query parameter → image role. */
const IMAGE_PARAMS: Record<string, keyof ImageSources> = { bios: "firmware", kernel: "kernel", initrd: "initrd" };
const MAX_MEM_MIB = 2048;

export interface ParsedConfig {
  config: MachineConfig;
  /** One line per ignored parameter, for the page to show. */
  warnings: string[];
}

/** The relay `npm start` runs beside the page (src/relay, port 8787, loopback). */
export function defaultRelayUrl(pageHostname: string): string {
  return `ws://${pageHostname}:8787/wisp/`;
}

export function parseConfig(search: string, imageBase: string, relayUrl = defaultRelayUrl("127.0.0.1")): ParsedConfig {
  const q = new URLSearchParams(search);
  const warnings: string[] = [];
  let config: MachineConfig = {
    memMiB: DEFAULT_MEM_MIB,
    transport: "mmio",
    net: "stack",
    bootargs: undefined,
    images: { ...DEFAULT_IMAGES },
    imageBase,
    relayUrl,
  };
  const image = q.get("image");
  if (image !== null && image !== "") {
    if (isPresetName(image)) config = applyPreset(config, image);
    else warnings.push(`image=${image} ignored: ${Object.keys(IMAGE_PRESETS).join(" or ")}`);
  }
  const relay = q.get("relay");
  if (relay !== null && relay !== "") {
    if (/^wss?:\/\//.test(relay)) config.relayUrl = relay;
    else warnings.push(`relay=${relay} ignored: a ws:// or wss:// URL`);
  }
  const offloads = q.get("offloads");
  if (offloads !== null && offloads !== "") config.offloads = offloads;
  const mac = q.get("mac");
  if (mac !== null && mac !== "") config.mac = mac;
  const tabnet = q.get("tabnet");
  if (tabnet !== null && tabnet !== "") {
    if (/^[A-Za-z0-9_-]{1,64}$/.test(tabnet)) config.tabNetwork = tabnet;
    else warnings.push(`tabnet=${tabnet} ignored: up to 64 of A-Z a-z 0-9 _ -`);
  }
  const mem = q.get("mem");
  if (mem !== null) {
    const n = Number(mem);
    if (/^\d+$/.test(mem) && n >= 16 && n <= MAX_MEM_MIB) config.memMiB = n;
    else warnings.push(`mem=${mem} ignored: a whole number of MiB in 16…${MAX_MEM_MIB}`);
  }
  const transport = q.get("transport");
  if (transport !== null) {
    if ((TRANSPORTS as readonly string[]).includes(transport)) config.transport = transport as VirtioTransportKind;
    else warnings.push(`transport=${transport} ignored: mmio or pci`);
  }
  for (const role of VIRTIO_DEVICE_ROLES) {
    const t = q.get(`transport.${role}`);
    if (t === null) continue;
    if ((TRANSPORTS as readonly string[]).includes(t)) {
      config.transports = { ...config.transports, [role]: t as VirtioTransportKind };
    } else warnings.push(`transport.${role}=${t} ignored: mmio or pci`);
  }
  const net = q.get("net");
  if (net !== null) {
    if ((NETS as readonly string[]).includes(net)) config.net = net as NetBackendKind;
    else warnings.push(`net=${net} ignored: ${NETS.join(", ")}`);
  }
  // core=js chose the TypeScript hart, removed since: the WebAssembly core is the only hart.
  const core = q.get("core");
  if (core !== null) warnings.push(`core=${core} ignored: the WebAssembly core is the only hart`);
  const append = q.get("append");
  if (append !== null && append.trim() !== "") config.bootargs = append;
  for (const [param, role] of Object.entries(IMAGE_PARAMS)) {
    const v = q.get(param);
    if (v === null || v === "") continue;
    try {
      config.images[role] = new URL(v, imageBase).href;
    } catch {
      warnings.push(`${param}=${v} ignored: not a URL`);
    }
  }
  // Repeatable: /dev/vda, /dev/vdb, … in order, after the preset's. Relative URLs resolve like the boot images'.
  for (const v of q.getAll("disk")) {
    if (v === "") continue;
    try {
      config.disks = [...(config.disks ?? []), new URL(v, imageBase).href];
    } catch {
      warnings.push(`disk=${v} ignored: not a URL`);
    }
  }
  const share = q.get("share");
  if (share !== null && share !== "") {
    if (share === "memory") config.share = "memory";
    else warnings.push(`share=${share} ignored: memory`);
  }
  return { config, warnings };
}

/**
 * `?ui=off` keeps the machine, worker and consoles as they are but renders no live panels and asks the
 * worker for no snapshots, so a benchmark can compare the guest's speed with and without the UI.
 */
export function parseUiLive(search: string): boolean {
  return new URLSearchParams(search).get("ui") !== "off";
}

/**
 * The query string for a configuration: only what differs from the defaults (its preset's, for the image
 * settings), so links stay short.
 */
export function configToSearch(config: MachineConfig, relayDefault = defaultRelayUrl("127.0.0.1")): string {
  const q = new URLSearchParams();
  const preset = IMAGE_PRESETS[config.image ?? "busybox"];
  if (config.image !== undefined) q.set("image", config.image);
  if (config.memMiB !== preset.memMiB) q.set("mem", String(config.memMiB));
  if (config.transport !== "mmio") q.set("transport", config.transport);
  for (const role of VIRTIO_DEVICE_ROLES) {
    const t = config.transports?.[role];
    if (t !== undefined) q.set(`transport.${role}`, t);
  }
  if (config.net !== "stack") q.set("net", config.net);
  if (config.bootargs !== preset.bootargs && config.bootargs !== undefined) q.set("append", config.bootargs);
  if (config.relayUrl !== relayDefault) q.set("relay", config.relayUrl);
  if (config.offloads !== undefined && config.offloads !== "") q.set("offloads", config.offloads);
  if (config.mac !== undefined) q.set("mac", config.mac);
  if (config.tabNetwork !== undefined && config.tabNetwork !== "default") q.set("tabnet", config.tabNetwork);
  for (const [param, role] of Object.entries(IMAGE_PARAMS)) {
    const v = config.images[role];
    if (v !== preset.images[role]) q.set(param, v);
  }
  // The preset's own disks lead the list when it is unchanged: only the ones after them are parameters.
  const own = presetDisks(preset, config.imageBase);
  const disks = config.disks ?? [];
  const extra = own.every((d, i) => disks[i] === d) ? disks.slice(own.length) : disks;
  for (const d of extra) q.append("disk", d);
  if (config.share !== undefined) q.set("share", config.share);
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

/**
 * Which boot image a dropped file most likely is, by its name: OpenSBI builds are fw_*.bin/.elf,
 * initramfs archives end in .cpio (maybe compressed) or say initrd/initramfs, anything else is a kernel.
 */
export function imageRoleForName(name: string): keyof ImageSources {
  const n = name.toLowerCase();
  if (/^fw_|opensbi|bios/.test(n)) return "firmware";
  if (/initr|\.cpio(\.\w+)?$|rootfs/.test(n)) return "initrd";
  return "kernel";
}

/**
 * `?snapshot=URL`: the page starts from the snapshot at URL (relative to the page) instead of booting.
 * Undefined when absent or not a URL.
 */
export function parseSnapshotUrl(search: string, pageUrl: string): string | undefined {
  const v = new URLSearchParams(search).get("snapshot");
  if (v === null || v === "") return undefined;
  try {
    return new URL(v, pageUrl).href;
  } catch {
    return undefined;
  }
}

/** A download name for a snapshot taken at `when`: vireo-YYYYMMDD-HHMMSS.vireo (local time). */
export function snapshotFileName(when: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `vireo-${when.getFullYear()}${p(when.getMonth() + 1)}${p(when.getDate())}-${p(when.getHours())}${p(when.getMinutes())}${p(when.getSeconds())}.vireo`;
}

/** Whether a dropped file is a snapshot: by its name, or by the file's magic (VIREOSNP). */
export function isSnapshotFile(name: string, head: Uint8Array): boolean {
  if (/\.vireo$/i.test(name)) return true;
  return new TextDecoder().decode(head.subarray(0, 8)) === "VIREOSNP";
}
