// The guest images the page offers (the image chooser, `?image=NAME`). A preset is a URL configuration: it
// expands into boot images, disks, the kernel command line and the memory size, and the other query parameters
// (kernel=, initrd=, disk=, append=, mem=) still apply on top of it, so a link says "Debian, but with 2 GiB".
// A custom image is no preset: its kernel=, initrd=, disk= and append= are in the URL as they are.

import { DEFAULT_IMAGES, DEFAULT_MEM_MIB, type ImageSources, type MachineConfig } from "../worker/protocol.ts";

export type ImagePresetName = "busybox" | "debian";

export interface ImagePreset {
  name: ImagePresetName;
  /** The chooser's words for it, with what it is and how long it takes to start. */
  label: string;
  /** Relative to the images folder (public/images/, imageBase). */
  images: ImageSources;
  /** Relative to the images folder: /dev/vda, … */
  disks: readonly string[];
  /** undefined: the images folder's manifest.json says (busybox's does). */
  bootargs: string | undefined;
  memMiB: number;
  /** Relative to the images folder: the file whose presence on the server says the preset can boot. */
  manifest: string;
  /** The command that builds it when it is not there. */
  build: string;
}

/**
 * Debian trixie from `npm run guest:debian`, served from guest/debian/out/ at images/debian/ (vite.config.ts).
 * Debian's stock kernel needs its initrd (the virtio and ext4 modules are in it) and the root on /dev/vda; the
 * command line and the memory are the ones its manifest and guest/debian/debian.test.ts boot it with.
 * A cold boot in the page took 75 s from picking it to the root shell (login prompt 74 s; 52 MiB of the disk
 * fetched), measured once by e2e/image-chooser.spec.ts under nice -n 10 on this 2-core machine at a load of ~2,
 * the kernel and initrd downloaded from the same machine; the CLI's boots here took 57–87 s.
 */
export const DEBIAN_COLD_BOOT = "boots in ≈ 75 s";

export const IMAGE_PRESETS: Record<ImagePresetName, ImagePreset> = {
  busybox: {
    name: "busybox",
    label: "busybox (initramfs, seconds)",
    images: DEFAULT_IMAGES,
    disks: [],
    bootargs: undefined,
    memMiB: DEFAULT_MEM_MIB,
    manifest: "manifest.json",
    build: "npm run guest",
  },
  debian: {
    name: "debian",
    label: `Debian trixie (disk, ${DEBIAN_COLD_BOOT})`,
    images: { firmware: DEFAULT_IMAGES.firmware, kernel: "debian/Image", initrd: "debian/initrd.img" },
    disks: ["debian/debian.img"],
    bootargs: "root=/dev/vda rw console=ttyS0",
    memMiB: 1024,
    manifest: "debian/manifest.json",
    build: "npm run guest:debian",
  },
};

export function isPresetName(name: string): name is ImagePresetName {
  return Object.hasOwn(IMAGE_PRESETS, name);
}

/** The preset's disks as absolute URLs (the configuration keeps disks absolute, like `?disk=`'s). */
export function presetDisks(preset: ImagePreset, imageBase: string): string[] {
  return preset.disks.map((d) => new URL(d, imageBase).href);
}

/**
 * `config` booting `name` instead of what it boots: its images, disks, command line and memory; the rest
 * (transport, network, share, …) stays. Images and disk files the person picked are dropped with the image.
 */
export function applyPreset(config: MachineConfig, name: ImagePresetName): MachineConfig {
  const p = IMAGE_PRESETS[name];
  return {
    ...config,
    image: name === "busybox" ? undefined : name,
    images: { ...p.images },
    disks: p.disks.length > 0 ? presetDisks(p, config.imageBase) : undefined,
    diskFiles: undefined,
    files: undefined,
    bootargs: p.bootargs,
    memMiB: p.memMiB,
  };
}

/** What the chooser shows for a configuration: its preset, or "custom" for other boot images. */
export function chosenImage(config: MachineConfig): ImagePresetName | "custom" {
  if (config.image !== undefined) return config.image;
  const d = DEFAULT_IMAGES;
  const i = config.images;
  const custom =
    i.kernel !== d.kernel || i.initrd !== d.initrd || i.firmware !== d.firmware || config.files !== undefined;
  return custom ? "custom" : "busybox";
}

/** The custom entry's fields: URLs, absolute or relative to the page's images folder. */
export interface CustomImage {
  kernel: string;
  initrd: string;
  disk: string;
  append: string;
}

/** The custom entry's fields for a configuration (what it boots now, so the person edits from there). */
export function customFields(config: MachineConfig): CustomImage {
  const abs = (ref: string) => new URL(ref, config.imageBase).href;
  return {
    kernel: abs(config.images.kernel),
    initrd: abs(config.images.initrd),
    disk: config.disks?.[0] ?? "",
    append: config.bootargs ?? "",
  };
}

/**
 * `config` booting the custom entry's URLs, or why it cannot: a kernel is needed, every URL must parse
 * (relative ones resolve against the images folder) and be http(s). An empty initrd keeps busybox's
 * initramfs, an empty disk attaches none, an empty command line takes the images folder's manifest's.
 */
export function applyCustom(config: MachineConfig, c: CustomImage): { config: MachineConfig } | { error: string } {
  const url = (what: string, v: string): string | { error: string } => {
    try {
      const u = new URL(v.trim(), config.imageBase);
      if (u.protocol !== "http:" && u.protocol !== "https:") return { error: `${what}: an http(s) URL, not ${v}` };
      return u.href;
    } catch {
      return { error: `${what}: not a URL: ${v}` };
    }
  };
  if (c.kernel.trim() === "") return { error: "kernel: a URL is needed" };
  const kernel = url("kernel", c.kernel);
  if (typeof kernel !== "string") return kernel;
  const initrd = c.initrd.trim() === "" ? DEFAULT_IMAGES.initrd : url("initrd", c.initrd);
  if (typeof initrd !== "string") return initrd;
  const disk = c.disk.trim() === "" ? undefined : url("disk", c.disk);
  if (typeof disk === "object") return disk;
  return {
    config: {
      ...config,
      image: undefined,
      images: { ...config.images, kernel, initrd },
      files: undefined,
      disks: disk === undefined ? undefined : [disk],
      diskFiles: undefined,
      bootargs: c.append.trim() === "" ? undefined : c.append.trim(),
    },
  };
}

export type PresetAvailability = "checking" | "available" | "missing";

/**
 * Whether the server has the preset: its manifest answers 200 with JSON (Vite's servers answer a missing file
 * with index.html; the Debian mount answers 404).
 */
export async function presetAvailable(
  preset: ImagePreset,
  imageBase: string,
  fetchFn: typeof fetch = fetch,
): Promise<boolean> {
  try {
    const r = await fetchFn(new URL(preset.manifest, imageBase), { cache: "no-cache" });
    await r.body?.cancel().catch(() => {});
    return r.ok && (r.headers.get("content-type") ?? "").includes("json");
  } catch {
    return false;
  }
}
