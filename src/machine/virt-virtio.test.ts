// The board's virtio wiring: which devices exist by default, their MMIO slots, PLIC lines and
// device-tree nodes.

import { describe, expect, it } from "vitest";
import { VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_MAGIC } from "../../devices/virtio/mmio-transport.ts";
import { MemoryBlockBackend } from "../../devices/virtio-blk/block-backend.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { VirtioRng } from "../../devices/virtio-rng/virtio-rng.ts";
import { loadCoreModule } from "../cli/core-module.ts";
import { fdtWalk, parseFdt, propU32s } from "./fdt.ts";
import { LoaderError } from "./loader.ts";
import { VirtMachine } from "./virt.ts";
import { VirtioDeviceSet } from "./virt-virtio.ts";

const MiB = 1024 * 1024;

function machine(opts: Partial<ConstructorParameters<typeof VirtMachine>[0]> = {}): VirtMachine {
  const kernel = new Uint8Array(MiB);
  new DataView(kernel.buffer).setUint32(56, 0x05435352, true); // RISC-V Image magic
  return new VirtMachine({ kernel, bootargs: "console=ttyS0", wasmCore: loadCoreModule(), ...opts });
}

describe("virt board virtio", () => {
  it("attaches virtio-net, virtio-console and virtio-rng by default, in MMIO slots 0–2 on PLIC 1–3", () => {
    const m = machine();
    expect(m.bus.read(0x10001000, 4)).toBe(VIRTIO_MMIO_MAGIC);
    expect(m.bus.read(0x10001000 + VIRTIO_MMIO_DEVICE_ID, 4)).toBe(1);
    expect(m.bus.read(0x10002000 + VIRTIO_MMIO_DEVICE_ID, 4)).toBe(3);
    expect(m.bus.read(0x10003000 + VIRTIO_MMIO_DEVICE_ID, 4)).toBe(4);
    expect(m.bus.read(0x10004000, 4)).toBeUndefined();
    const nodes = fdtWalk(parseFdt(m.dtb!).root).filter((n) => n.name.startsWith("virtio_mmio@"));
    expect(nodes.map((n) => [n.name, propU32s(n.props.get("interrupts"))[0]])).toEqual([
      ["virtio_mmio@10001000", 1],
      ["virtio_mmio@10002000", 2],
      ["virtio_mmio@10003000", 3],
    ]);
    expect(m.virtioSnapshot().map((s) => s.name)).toEqual(["virtio-net0", "virtio-console0", "virtio-rng0"]);
    expect(machine({ net: null }).bus.read(0x10001000 + VIRTIO_MMIO_DEVICE_ID, 4)).toBe(3);
  });

  it("adds more devices after the defaults, or only them with defaultVirtio: false", () => {
    const blk = new VirtioBlk(new MemoryBlockBackend(MiB), { name: "virtio-blk0" });
    const m = machine({ virtio: [{ device: blk }] });
    expect(m.bus.read(0x10004000 + VIRTIO_MMIO_DEVICE_ID, 4)).toBe(2);
    const only = machine({ defaultVirtio: false, virtio: [{ device: new VirtioRng() }] });
    expect(only.bus.read(0x10001000 + VIRTIO_MMIO_DEVICE_ID, 4)).toBe(4);
    expect(only.bus.read(0x10002000, 4)).toBeUndefined();
  });

  it("keeps the device objects across a power cycle", () => {
    const m = machine();
    const con = m.virtio.console;
    m.sendVirtioConsoleInput(Uint8Array.of(0x61));
    m.reset();
    expect(m.virtio.console).toBe(con);
    expect(con?.pendingInput).toBe(1);
    expect(m.bus.read(0x10001000, 4)).toBe(VIRTIO_MMIO_MAGIC);
  });

  it("refuses more virtio-mmio devices than the board has slots", () => {
    const virtio = Array.from({ length: 7 }, () => ({ device: new VirtioRng() }));
    expect(() => new VirtioDeviceSet({ virtio }, () => {})).toThrow(LoaderError);
  });

  it("sorts devices by transport", () => {
    const set = new VirtioDeviceSet(
      { virtioTransport: "pci", virtio: [{ device: new VirtioRng(), transport: "mmio" }] },
      () => {},
    );
    expect(set.pci.map((d) => d.deviceId)).toEqual([1, 3, 4]);
    expect(set.mmio.map((d) => d.deviceId)).toEqual([4]);
  });

  it("puts each default device on its own transport when asked, the rest on the board's", () => {
    const set = new VirtioDeviceSet(
      { virtioTransport: "mmio", defaultTransports: { net: "pci", rng: "pci" } },
      () => {},
    );
    expect(set.pci.map((d) => d.deviceId)).toEqual([1, 4]);
    expect(set.mmio.map((d) => d.deviceId)).toEqual([3]);
    expect(set.attachments.map((a) => a.transport)).toEqual(["pci", "mmio", "pci"]);
  });
});
