import { describe, expect, it } from "vitest";
import type { SavedMachine } from "../machine/virt-snapshot.ts";
import { pageHostRecord, planRestore, RestorePlanError } from "./page-snapshot.ts";
import type { MachineConfig } from "./protocol.ts";

const page: MachineConfig = {
  memMiB: 256,
  transport: "mmio",
  net: "stack",
  bootargs: undefined,
  images: { firmware: "fw_dynamic.bin", kernel: "Image", initrd: "initramfs.cpio" },
  relayUrl: "ws://127.0.0.1:8787/wisp/",
  imageBase: "http://127.0.0.1:5173/images/",
};

const dev = (name: string, deviceId: number, transport: string, disk: SavedMachine["devices"][0]["disk"] = null) => ({
  name,
  deviceId,
  transport,
  features: "123",
  disk,
});
const disk = { size: 8192, identity: "url http://h/d.img size 8192", readOnly: false, overlay: true };

function saved(devices: SavedMachine["devices"], host: unknown, memMiB = 128): SavedMachine {
  return { board: "virt", memMiB, devices, host };
}

describe("the page's host record", () => {
  it("keeps what rebuilds the machine and only names and sizes of picked files", () => {
    const file = new File([new Uint8Array(100)], "picked.img");
    const h = pageHostRecord(
      { ...page, disks: ["http://h/d.img"], diskFiles: [file], files: { kernel: new Uint8Array(7) } },
      "52:54:00:12:34:56",
      1234,
    );
    expect(h).toMatchObject({
      page: 1,
      savedAt: 1234,
      memMiB: 256,
      mac: "52:54:00:12:34:56",
      disks: ["http://h/d.img"],
      diskFiles: [{ name: "picked.img", size: 100 }],
      pickedImages: [{ role: "kernel", bytes: 7 }],
    });
    // It goes into the snapshot's JSON header: no File, no bytes.
    expect(JSON.parse(JSON.stringify(h))).toEqual(h);
  });
});

describe("planning a restore", () => {
  it("takes RAM, transports, the NIC's offer and MAC and disk URLs from the snapshot, the backend from the page", () => {
    const host = { ...pageHostRecord({ ...page, disks: ["http://h/d.img"], net: "tab" }, "52:54:00:aa:bb:cc", 99) };
    const plan = planRestore(
      saved(
        [
          dev("virtio-net0", 1, "pci"),
          dev("virtio-console0", 3, "mmio"),
          dev("virtio-rng0", 4, "mmio"),
          dev("virtio-blk0", 2, "pci", disk),
        ],
        host,
      ),
      { ...page, net: "relay" },
    );
    expect(plan.config).toMatchObject({ memMiB: 128, transport: "mmio", net: "relay", disks: ["http://h/d.img"] });
    expect(plan.config.transports).toEqual({ net: "pci", blk: "pci" });
    expect(plan.defaultTransports).toEqual({ net: "pci", console: "mmio", rng: "mmio" });
    expect(plan.nic).toEqual({ name: "virtio-net0", features: 123n, mac: "52:54:00:aa:bb:cc" });
    expect(plan.disks).toEqual([{ source: { url: "http://h/d.img" }, transport: "pci" }]);
    expect(plan.savedAt).toBe(99);
  });

  it("restores a command-line snapshot without disks, and keeps an unplugged NIC for net=none", () => {
    const plan = planRestore(
      saved([dev("virtio-net0", 1, "mmio"), dev("virtio-console0", 3, "mmio")], { cli: 1, disks: [], mac: null }),
      { ...page, net: "none" },
    );
    expect(plan.config.transport).toBe("mmio");
    expect(plan.nic).toMatchObject({ name: "virtio-net0", mac: undefined });
    expect(plan.config.net).toBe("none");
    expect(plan.notices.join()).toMatch(/unplugged/);
    expect(plan.savedAt).toBeUndefined();
  });

  it("has no NIC when the saved machine had none, whatever the page's choice", () => {
    const plan = planRestore(saved([dev("virtio-console0", 3, "pci"), dev("virtio-rng0", 4, "pci")], null), page);
    expect(plan.nic).toBeNull();
    expect(plan.config.net).toBe("none");
    expect(plan.config.transport).toBe("pci");
  });

  it("refuses a command-line disk by its path", () => {
    const s = saved([dev("virtio-blk0", 2, "mmio", disk)], {
      cli: 1,
      disks: [{ path: "/srv/root.img", readOnly: false, writeThrough: false }],
      mac: null,
    });
    expect(() => planRestore(s, page)).toThrow(RestorePlanError);
    expect(() => planRestore(s, page)).toThrow(/virtio-blk0: its disk was \/srv\/root\.img on the command line/);
  });

  it("uses a picked file of the same name and size for a saved local disk, and names it when there is none", () => {
    const host = pageHostRecord({ ...page, diskFiles: [new File([new Uint8Array(64)], "mine.img")] }, null);
    const s = saved([dev("virtio-blk0", 2, "mmio", disk)], host);
    expect(() => planRestore(s, page)).toThrow(/local file mine\.img \(64 bytes\).*pick that file/);
    const again = new File([new Uint8Array(64)], "mine.img");
    const plan = planRestore(s, { ...page, diskFiles: [again] });
    expect(plan.disks[0].source).toEqual({ file: again });
    expect(() => planRestore(s, { ...page, diskFiles: [new File([new Uint8Array(65)], "mine.img")] })).toThrow(
      /mine\.img/,
    );
  });

  it("refuses a disk whose source the snapshot does not give, and devices the page cannot build", () => {
    expect(() => planRestore(saved([dev("virtio-blk0", 2, "mmio", disk)], null), page)).toThrow(
      /does not say where its disk came from/,
    );
    expect(() => planRestore(saved([dev("virtio-gpu0", 16, "mmio")], null), page)).toThrow(/virtio-gpu0/);
  });
});
