import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BOOTARGS, MEM_MIB } from "../../guest/debian/serial.ts";
import { DEFAULT_IMAGES, type MachineConfig } from "../worker/protocol.ts";
import { configToSearch, parseConfig } from "./config.ts";
import { applyCustom, applyPreset, chosenImage, customFields, IMAGE_PRESETS, presetAvailable } from "./images.ts";

const BASE = "http://127.0.0.1:4173/images/";
const DEBIAN = {
  kernel: "debian/Image",
  initrd: "debian/initrd.img",
  disk: `${BASE}debian/debian.img`,
};

function base(): MachineConfig {
  return parseConfig("", BASE).config;
}

describe("?image=", () => {
  it("debian expands into Debian's kernel, initrd, disk, command line and memory", () => {
    const { config, warnings } = parseConfig("?image=debian", BASE);
    expect(warnings).toEqual([]);
    expect(config.image).toBe("debian");
    expect(config.images).toEqual({ firmware: DEFAULT_IMAGES.firmware, kernel: DEBIAN.kernel, initrd: DEBIAN.initrd });
    expect(config.disks).toEqual([DEBIAN.disk]);
    expect(config.bootargs).toBe("root=/dev/vda rw console=ttyS0");
    expect(config.memMiB).toBe(1024);
    // The worker resolves the images against the images folder: the URLs the Debian mount serves.
    expect(new URL(config.images.kernel, BASE).href).toBe(`${BASE}debian/Image`);
    expect(configToSearch(config)).toBe("?image=debian");
  });

  it("boots Debian as guest/debian/debian.test.ts does, with what build.sh writes into the manifest", () => {
    const d = IMAGE_PRESETS.debian;
    expect(d.bootargs).toBe(BOOTARGS);
    expect(d.memMiB).toBe(MEM_MIB);
    const build = readFileSync(new URL("../../guest/debian/build.sh", import.meta.url), "utf8");
    expect(build).toContain(`BOOTARGS="${d.bootargs}"`);
    const manifest = new URL("../../guest/debian/out/manifest.json", import.meta.url);
    if (existsSync(manifest)) {
      const m = JSON.parse(readFileSync(manifest, "utf8")) as { bootargs: string; files: { name: string }[] };
      expect(m.bootargs).toBe(d.bootargs);
      const names = m.files.map((f) => f.name);
      for (const ref of [d.images.kernel, d.images.initrd, ...d.disks])
        expect(names).toContain(ref.slice("debian/".length));
    }
  });

  it("other parameters apply on top of the preset, and survive the round trip", () => {
    const search = "?image=debian&mem=2048&transport=pci&append=root%3D%2Fdev%2Fvda+ro&disk=%2Fextra.img";
    const { config, warnings } = parseConfig(search, BASE);
    expect(warnings).toEqual([]);
    expect(config.memMiB).toBe(2048);
    expect(config.transport).toBe("pci");
    expect(config.bootargs).toBe("root=/dev/vda ro");
    // The preset's disk stays /dev/vda; disk= comes after it.
    expect(config.disks).toEqual([DEBIAN.disk, "http://127.0.0.1:4173/extra.img"]);
    const again = parseConfig(configToSearch(config), BASE).config;
    expect(again).toEqual(config);
    expect(configToSearch(config)).toBe(
      "?image=debian&mem=2048&transport=pci&append=root%3D%2Fdev%2Fvda+ro&disk=http%3A%2F%2F127.0.0.1%3A4173%2Fextra.img",
    );
  });

  it("busybox is the default; an unknown name is reported and ignored", () => {
    expect(parseConfig("?image=busybox", BASE).config).toEqual(base());
    const { config, warnings } = parseConfig("?image=windows&mem=512", BASE);
    expect(warnings).toEqual(["image=windows ignored: busybox or debian"]);
    expect(config).toEqual({ ...base(), memMiB: 512 });
    expect(parseConfig("?image=__proto__", BASE).warnings).toEqual(["image=__proto__ ignored: busybox or debian"]);
  });
});

describe("applyPreset / chosenImage", () => {
  it("switches between the presets, keeping the machine's other settings", () => {
    const start = { ...base(), transport: "pci" as const, net: "none" as const, share: "memory" as const };
    const debian = applyPreset(start, "debian");
    expect(chosenImage(debian)).toBe("debian");
    expect({
      ...debian,
      image: undefined,
      images: start.images,
      disks: undefined,
      bootargs: undefined,
      memMiB: 256,
    }).toEqual({ ...start, image: undefined, diskFiles: undefined, files: undefined });
    const back = applyPreset(debian, "busybox");
    expect(chosenImage(back)).toBe("busybox");
    expect(configToSearch(back)).toBe("?transport=pci&net=none&share=memory");
  });

  it("names other boot images custom", () => {
    expect(chosenImage(base())).toBe("busybox");
    expect(chosenImage({ ...base(), disks: ["http://x/d.img"] })).toBe("busybox");
    expect(chosenImage(parseConfig("?kernel=http://x/Image", BASE).config)).toBe("custom");
    expect(chosenImage({ ...base(), files: { kernel: new Uint8Array(4) } })).toBe("custom");
  });
});

describe("applyCustom", () => {
  it("boots the URLs given, relative ones against the images folder", () => {
    const r = applyCustom(applyPreset(base(), "debian"), {
      kernel: " https://example.test/k/Image ",
      initrd: "mine/initrd.img",
      disk: "/root.img",
      append: " root=/dev/vda console=ttyS0 ",
    });
    if ("error" in r) throw new Error(r.error);
    expect(chosenImage(r.config)).toBe("custom");
    expect(r.config.images).toEqual({
      firmware: DEFAULT_IMAGES.firmware,
      kernel: "https://example.test/k/Image",
      initrd: `${BASE}mine/initrd.img`,
    });
    expect(r.config.disks).toEqual(["http://127.0.0.1:4173/root.img"]);
    expect(r.config.bootargs).toBe("root=/dev/vda console=ttyS0");
    // The URL says it all, and gives the same machine back.
    expect(parseConfig(configToSearch(r.config), BASE).config).toEqual({ ...r.config, image: undefined });
  });

  it("fills the form with what boots now, and those fields boot the same images", () => {
    const debian = applyPreset(base(), "debian");
    const f = customFields(debian);
    expect(f).toEqual({
      kernel: `${BASE}debian/Image`,
      initrd: `${BASE}debian/initrd.img`,
      disk: DEBIAN.disk,
      append: "root=/dev/vda rw console=ttyS0",
    });
    const r = applyCustom(debian, f);
    if ("error" in r) throw new Error(r.error);
    expect(r.config.disks).toEqual(debian.disks);
  });

  const bad: [string, Partial<Parameters<typeof applyCustom>[1]>, RegExp][] = [
    ["no kernel", { kernel: "  " }, /^kernel: a URL is needed$/],
    ["a kernel that is no URL", { kernel: "http://[::1" }, /^kernel: not a URL/],
    ["a file: URL", { kernel: "file:///etc/passwd" }, /^kernel: an http\(s\) URL/],
    ["a javascript: initrd", { initrd: "javascript:alert(1)" }, /^initrd: an http\(s\) URL/],
    ["a disk that is no URL", { disk: "http://%zz:1/" }, /^disk: /],
  ];
  for (const [name, change, want] of bad) {
    it(`refuses ${name} with a reason`, () => {
      const r = applyCustom(base(), { kernel: "Image", initrd: "", disk: "", append: "", ...change });
      expect("error" in r ? r.error : "accepted").toMatch(want);
    });
  }

  it("empty initrd, disk and append: busybox's initramfs, no disk, the manifest's command line", () => {
    const r = applyCustom(applyPreset(base(), "debian"), {
      kernel: "http://x/Image",
      initrd: "",
      disk: "",
      append: "",
    });
    if ("error" in r) throw new Error(r.error);
    expect(r.config.images.initrd).toBe(DEFAULT_IMAGES.initrd);
    expect(r.config.disks).toBeUndefined();
    expect(r.config.bootargs).toBeUndefined();
  });
});

describe("presetAvailable", () => {
  const answer = (status: number, type: string) => async () =>
    new Response(status === 404 ? "no" : "{}", { status, headers: { "content-type": type } });
  it("is true only for a manifest served as JSON", async () => {
    const d = IMAGE_PRESETS.debian;
    expect(await presetAvailable(d, BASE, answer(200, "application/json"))).toBe(true);
    // Vite's answer for a missing file: its index.html.
    expect(await presetAvailable(d, BASE, answer(200, "text/html"))).toBe(false);
    expect(await presetAvailable(d, BASE, answer(404, "text/plain"))).toBe(false);
    const refused = async (): Promise<Response> => {
      throw new TypeError("fetch failed");
    };
    expect(await presetAvailable(d, BASE, refused)).toBe(false);
  });
});
