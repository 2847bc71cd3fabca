import { describe, expect, it } from "vitest";
import { DEFAULT_IMAGES } from "../worker/protocol.ts";
import {
  configToSearch,
  imageRoleForName,
  isSnapshotFile,
  parseConfig,
  parseSnapshotUrl,
  parseUiLive,
  snapshotFileName,
} from "./config.ts";

const BASE = "http://127.0.0.1:4173/images/";

describe("parseConfig", () => {
  it("gives the defaults for an empty query", () => {
    const { config, warnings } = parseConfig("", BASE);
    expect(config).toEqual({
      memMiB: 256,
      transport: "mmio",
      net: "stack",
      bootargs: undefined,
      images: DEFAULT_IMAGES,
      imageBase: BASE,
      relayUrl: "ws://127.0.0.1:8787/wisp/",
    });
    expect(warnings).toEqual([]);
    expect(configToSearch(config)).toBe("");
  });

  const rows: { name: string; search: string; warn: RegExp }[] = [
    { name: "memory not a number", search: "?mem=lots", warn: /^mem=lots ignored/ },
    { name: "memory too small", search: "?mem=1", warn: /^mem=1 ignored/ },
    { name: "unknown transport", search: "?transport=isa", warn: /^transport=isa ignored/ },
    { name: "unknown backend", search: "?net=carrier-pigeon", warn: /^net=carrier-pigeon ignored/ },
    { name: "relay not a WebSocket URL", search: "?relay=http://x/", warn: /^relay=http:\/\/x\/ ignored/ },
    { name: "tab network name with a slash", search: "?tabnet=a/b", warn: /^tabnet=a\/b ignored/ },
    // The TypeScript hart it chose was removed.
    { name: "a hart", search: "?core=js", warn: /^core=js ignored: the WebAssembly core is the only hart/ },
  ];
  for (const r of rows) {
    it(`warns and keeps the default: ${r.name}`, () => {
      const { config, warnings } = parseConfig(r.search, BASE);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(r.warn);
      expect(configToSearch(config)).toBe("");
    });
  }

  it("round-trips a full configuration through the query string", () => {
    const search =
      "?mem=512&transport=pci&net=none&append=console%3DttyS0+quiet&kernel=https%3A%2F%2Fexample.org%2FImage" +
      "&relay=ws%3A%2F%2Frelay.test%3A9%2Fwisp%2F&offloads=-HOST_TSO4%2C-MRG_RXBUF&mac=52%3A54%3A00%3A00%3A00%3A02";
    const { config, warnings } = parseConfig(search, BASE);
    expect(warnings).toEqual([]);
    expect(config.memMiB).toBe(512);
    expect(config.transport).toBe("pci");
    expect(config.net).toBe("none");
    expect(config.bootargs).toBe("console=ttyS0 quiet");
    expect(config.images.kernel).toBe("https://example.org/Image");
    expect(config.relayUrl).toBe("ws://relay.test:9/wisp/");
    expect(config.offloads).toBe("-HOST_TSO4,-MRG_RXBUF");
    expect(config.mac).toBe("52:54:00:00:00:02");
    expect(parseConfig(configToSearch(config), BASE).config).toEqual(config);
  });

  it("takes net=tab with a tab network name, and leaves the default name out of links", () => {
    const { config, warnings } = parseConfig("?net=tab&tabnet=lab-1", BASE);
    expect(warnings).toEqual([]);
    expect(config.net).toBe("tab");
    expect(config.tabNetwork).toBe("lab-1");
    expect(configToSearch(config)).toBe("?net=tab&tabnet=lab-1");
    expect(configToSearch({ ...config, tabNetwork: "default" })).toBe("?net=tab");
  });

  it("takes per-device transports over the machine's and keeps them in links", () => {
    const { config, warnings } = parseConfig("?transport.net=pci&transport.blk=mmio&transport.rng=isa", BASE);
    expect(warnings).toEqual(["transport.rng=isa ignored: mmio or pci"]);
    expect(config.transport).toBe("mmio");
    expect(config.transports).toEqual({ net: "pci", blk: "mmio" });
    expect(configToSearch(config)).toBe("?transport.net=pci&transport.blk=mmio");
    expect(parseConfig(configToSearch(config), BASE).config).toEqual(config);
  });

  it("takes transport.console= and transport.rng= (the README's other two) the same way", () => {
    const { config, warnings } = parseConfig("?transport=pci&transport.console=mmio&transport.rng=mmio", BASE);
    expect(warnings).toEqual([]);
    expect(config.transport).toBe("pci");
    expect(config.transports).toEqual({ console: "mmio", rng: "mmio" });
    expect(parseConfig(configToSearch(config), BASE).config).toEqual(config);
  });

  it("resolves a relative image URL against the images folder", () => {
    expect(parseConfig("?initrd=custom.cpio", BASE).config.images.initrd).toBe(`${BASE}custom.cpio`);
  });

  it("takes share=memory (a virtio-9p share in the worker) and writes it back", () => {
    const { config, warnings } = parseConfig("?share=memory", BASE);
    expect(warnings).toEqual([]);
    expect(config.share).toBe("memory");
    expect(configToSearch(config)).toBe("?share=memory");
    expect(parseConfig("", BASE).config.share).toBeUndefined();
    const bad = parseConfig("?share=/etc", BASE);
    expect(bad.config.share).toBeUndefined();
    expect(bad.warnings).toEqual(["share=/etc ignored: memory"]);
  });

  it("takes repeated disk URLs in order, resolved like the images, and writes them back", () => {
    const { config, warnings } = parseConfig("?disk=root.img&disk=https%3A%2F%2Fexample.org%2Fdata.img&disk=", BASE);
    expect(warnings).toEqual([]);
    expect(config.disks).toEqual([`${BASE}root.img`, "https://example.org/data.img"]);
    expect(parseConfig(configToSearch(config), BASE).config.disks).toEqual(config.disks);
    expect(parseConfig("?disk=http%3A%2F%2F%5B", BASE).warnings[0]).toMatch(/^disk=http:\/\/\[ ignored/);
  });
});

describe("imageRoleForName", () => {
  const rows: [string, string][] = [
    ["fw_dynamic.bin", "firmware"],
    ["opensbi-fw_jump.elf", "firmware"],
    ["initramfs.cpio", "initrd"],
    ["rootfs.cpio.gz", "initrd"],
    ["initrd.img-6.1.0-riscv64", "initrd"],
    ["Image", "kernel"],
    ["vmlinux", "kernel"],
  ];
  for (const [name, role] of rows) {
    it(`${name} is the ${role}`, () => expect(imageRoleForName(name)).toBe(role));
  }
});

describe("parseUiLive", () => {
  it("is live unless ui=off, and ui=off is no machine setting", () => {
    expect(parseUiLive("")).toBe(true);
    expect(parseUiLive("?ui=on")).toBe(true);
    expect(parseUiLive("?mem=128&ui=off")).toBe(false);
    expect(parseConfig("?ui=off", BASE).warnings).toEqual([]);
  });
});

describe("snapshots in the page's address and files", () => {
  it("reads ?snapshot= relative to the page", () => {
    expect(parseSnapshotUrl("?snapshot=s/a.vireo", "http://h:1/app/?x")).toBe("http://h:1/app/s/a.vireo");
    expect(parseSnapshotUrl("?snapshot=", "http://h:1/")).toBeUndefined();
    expect(parseSnapshotUrl("?mem=64", "http://h:1/")).toBeUndefined();
  });

  it("names a download by its local time", () => {
    expect(snapshotFileName(new Date(2026, 11, 7, 9, 5, 3))).toBe("vireo-20261207-090503.vireo");
  });

  it("knows a snapshot by its name or its magic", () => {
    const magic = new TextEncoder().encode("VIREOSNP");
    expect(isSnapshotFile("x.VIREO", new Uint8Array(0))).toBe(true);
    expect(isSnapshotFile("download.bin", magic)).toBe(true);
    expect(isSnapshotFile("Image", new Uint8Array(8))).toBe(false);
  });
});
