import { describe, expect, it } from "vitest";
import { Bus } from "../../src/core/bus.ts";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { GuestAllocator } from "../../src/testing/virtio-driver.ts";
import { PciConfigAccess, VirtioPciDriver } from "../../src/testing/virtio-pci-driver.ts";
import { PciHost } from "../pci-host/pci-host.ts";
import {
  PCI_BASE_ADDRESS_0,
  PCI_CAP_ID_VNDR,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_PIN,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_INTERRUPT,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "../pci-host/pci-regs.ts";
import { VirtioRng } from "../virtio-rng/virtio-rng.ts";
import {
  featureMask,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
  VIRTIO_F_VERSION_1,
  VIRTIO_TRANSPORT_FEATURES,
} from "./features.ts";
import {
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_PCI_CAP_BAR,
  VIRTIO_PCI_CAP_CFG_TYPE,
  VIRTIO_PCI_CAP_LEN,
  VIRTIO_PCI_CAP_LENGTH,
  VIRTIO_PCI_CAP_OFFSET,
  VIRTIO_PCI_CFG_CAP_DATA,
  VIRTIO_PCI_COMMON_CFGGENERATION,
  VIRTIO_PCI_COMMON_DF,
  VIRTIO_PCI_COMMON_DFSELECT,
  VIRTIO_PCI_COMMON_MSIX,
  VIRTIO_PCI_COMMON_NUMQ,
  VIRTIO_PCI_COMMON_Q_DESCHI,
  VIRTIO_PCI_COMMON_Q_DESCLO,
  VIRTIO_PCI_COMMON_Q_ENABLE,
  VIRTIO_PCI_COMMON_Q_MSIX,
  VIRTIO_PCI_COMMON_Q_NOFF,
  VIRTIO_PCI_COMMON_Q_SELECT,
  VIRTIO_PCI_COMMON_Q_SIZE,
  VIRTIO_PCI_COMMON_STATUS,
  VIRTIO_PCI_NOTIFY_CAP_MULT,
  VirtioPciTransport,
  virtioPciClassCode,
} from "./pci-transport.ts";
import type { VirtioDevice, VirtioDeviceContext } from "./virtio-device.ts";

const ECAM = 0x30000000;
const MMIO32 = 0x40000000;
const MMIO64 = 0x4_0000_0000;
const SLOT = 1; // INTA of slot 1 lands on host input 1 (PLIC 33)

/** A device with 8 bytes of config, two queues and one device feature, recording what the transport does. */
class FakeDevice implements VirtioDevice {
  readonly deviceId = 3;
  readonly name = "fake";
  readonly features = VIRTIO_TRANSPORT_FEATURES | featureMask(0);
  readonly queues = [{ maxSize: 256 }, { maxSize: 64 }];
  readonly configSize = 8;
  config = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
  ctx: VirtioDeviceContext | undefined;
  notified: number[] = [];
  resets = 0;
  readConfig(offset: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[offset + i];
    return v;
  }
  writeConfig(offset: number, _size: 1 | 2 | 4, value: number): void {
    this.config[offset] = value & 0xff;
  }
  activate(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
  }
  notify(queue: number): void {
    this.notified.push(queue);
  }
  reset(): void {
    this.resets++;
    this.ctx = undefined;
  }
}

function setup(device: VirtioDevice = new VirtioRng("rng", (d) => d.fill(0xa5))) {
  const mem = new GuestMemory(0x80000000, 4 << 20);
  const bus = new Bus();
  const lines = [0, 1, 2, 3].map(() => new LevelIrq());
  const host = new PciHost({ intx: lines });
  bus.map(ECAM, 0x10000000, host.ecam, "ecam");
  bus.map(MMIO32, 0x40000000, host.memoryWindow(MMIO32, 0x40000000), "mmio32");
  bus.map(MMIO64, 0x4_0000_0000, host.memoryWindow(MMIO64, 0x4_0000_0000), "mmio64");
  const t = new VirtioPciTransport(device, mem);
  host.attach(SLOT, t);
  const cfg = new PciConfigAccess(bus, ECAM, SLOT);
  const bars = cfg.sizeAndAssign({ next: MMIO32 }, { next: MMIO64 });
  const line = lines[SLOT];
  return {
    mem,
    bus,
    host,
    t,
    cfg,
    bars,
    line,
    drv: () => new VirtioPciDriver(cfg, bars, mem, new GuestAllocator(mem)),
  };
}

describe("virtio-pci identity", () => {
  it("looks like QEMU's modern-only virtio-rng-pci", () => {
    const { cfg } = setup();
    expect(cfg.r16(PCI_VENDOR_ID)).toBe(0x1af4);
    expect(cfg.r16(PCI_DEVICE_ID)).toBe(0x1044);
    expect(cfg.r8(PCI_REVISION_ID)).toBe(1);
    expect(cfg.r32(PCI_REVISION_ID) >>> 8).toBe(0x00ff00);
    expect(cfg.r8(PCI_CLASS_PROG)).toBe(0);
    expect(cfg.r8(PCI_HEADER_TYPE)).toBe(0);
    expect(cfg.r16(PCI_SUBSYSTEM_VENDOR_ID)).toBe(0x1af4);
    expect(cfg.r16(PCI_SUBSYSTEM_ID)).toBeGreaterThanOrEqual(0x40);
    expect(cfg.r8(PCI_INTERRUPT_PIN)).toBe(1);
  });

  it("uses QEMU's class per device type", () => {
    expect(virtioPciClassCode(1)).toBe(0x020000); // net: ethernet
    expect(virtioPciClassCode(2)).toBe(0x010000); // blk: SCSI storage
    expect(virtioPciClassCode(3)).toBe(0x078000); // console: other communication
    expect(virtioPciClassCode(4)).toBe(0x00ff00); // rng: PCI_CLASS_OTHERS
    const { cfg } = setup(new FakeDevice());
    expect(cfg.r16(PCI_DEVICE_ID)).toBe(0x1043);
    expect(cfg.r32(PCI_REVISION_ID) >>> 8).toBe(0x078000);
  });

  it("has one 64-bit prefetchable 16 KiB BAR 4 and nothing else", () => {
    const { bars, cfg } = setup();
    expect(bars).toEqual([{ index: 4, base: MMIO64, size: 0x4000, is64: true }]);
    expect(cfg.r32(PCI_BASE_ADDRESS_0 + 16) & 0xf).toBe(0xc);
    for (const i of [0, 1, 2, 3]) expect(cfg.r32(PCI_BASE_ADDRESS_0 + 4 * i)).toBe(0);
  });
});

describe("capability chain (what vp_modern_probe walks)", () => {
  it("lists common, ISR, device, notify and PCI_CFG in QEMU's order and layout", () => {
    const { cfg } = setup(new FakeDevice());
    const caps = cfg.findCapabilities(PCI_CAP_ID_VNDR).map((pos) => ({
      type: cfg.r8(pos + VIRTIO_PCI_CAP_CFG_TYPE),
      len: cfg.r8(pos + VIRTIO_PCI_CAP_LEN),
      bar: cfg.r8(pos + VIRTIO_PCI_CAP_BAR),
      offset: cfg.r32(pos + VIRTIO_PCI_CAP_OFFSET),
      length: cfg.r32(pos + VIRTIO_PCI_CAP_LENGTH),
    }));
    expect(caps).toEqual([
      { type: 1, len: 16, bar: 4, offset: 0x0000, length: 0x1000 },
      { type: 3, len: 16, bar: 4, offset: 0x1000, length: 0x1000 },
      { type: 4, len: 16, bar: 4, offset: 0x2000, length: 0x1000 },
      { type: 2, len: 20, bar: 4, offset: 0x3000, length: 0x1000 },
      { type: 5, len: 20, bar: 0, offset: 0, length: 0 },
    ]);
    // No MSI-X (0x11): Linux must fall back to INTx.
    expect(cfg.findCapabilities(0x11)).toEqual([]);
  });

  it("passes Linux's map checks and reads notify_off_multiplier", () => {
    const { drv } = setup(new FakeDevice());
    const d = drv();
    expect(d.notifyMultiplier).toBe(4);
    expect(d.caps.device).toBeDefined();
  });

  it("leaves the device-config capability out for a device without config (rng)", () => {
    const { cfg, drv } = setup();
    const types = cfg.findCapabilities(PCI_CAP_ID_VNDR).map((p) => cfg.r8(p + VIRTIO_PCI_CAP_CFG_TYPE));
    expect(types).toEqual([1, 3, 2, 5]);
    expect(drv().caps.device).toBeUndefined();
  });

  it("makes the notify capability's multiplier read-only", () => {
    const { cfg } = setup();
    const notify = cfg.findCapabilities(PCI_CAP_ID_VNDR).find((p) => cfg.r8(p + VIRTIO_PCI_CAP_CFG_TYPE) === 2)!;
    cfg.w32(notify + VIRTIO_PCI_NOTIFY_CAP_MULT, 0);
    cfg.w32(notify + VIRTIO_PCI_CAP_OFFSET, 0x1234);
    expect(cfg.r32(notify + VIRTIO_PCI_NOTIFY_CAP_MULT)).toBe(4);
    expect(cfg.r32(notify + VIRTIO_PCI_CAP_OFFSET)).toBe(0x3000);
  });
});

describe("common configuration", () => {
  it("reports queues and NO_VECTOR and keeps NO_VECTOR whatever is written", () => {
    const { drv } = setup(new FakeDevice());
    const d = drv();
    expect(d.common16(VIRTIO_PCI_COMMON_NUMQ)).toBe(2);
    expect(d.common16(VIRTIO_PCI_COMMON_MSIX)).toBe(VIRTIO_MSI_NO_VECTOR);
    d.setCommon(VIRTIO_PCI_COMMON_MSIX, 2, 0);
    expect(d.common16(VIRTIO_PCI_COMMON_MSIX)).toBe(VIRTIO_MSI_NO_VECTOR);
    d.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    d.setCommon(VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_MSIX)).toBe(VIRTIO_MSI_NO_VECTOR);
  });

  it("offers the device's features in two words and nothing past them", () => {
    const dev = new FakeDevice();
    const { drv } = setup(dev);
    const d = drv();
    expect(d.deviceFeatures()).toBe(dev.features);
    d.setCommon(VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
    expect(d.common32(VIRTIO_PCI_COMMON_DF)).toBe(0);
    expect(d.common32(VIRTIO_PCI_COMMON_DFSELECT)).toBe(2);
  });

  it("refuses FEATURES_OK without VERSION_1 or with bits not offered, like MMIO", () => {
    const dev = new FakeDevice();
    const { drv } = setup(dev);
    const d = drv();
    const base = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
    for (const [accept, ok] of [
      [featureMask(0), false], // no VERSION_1
      [featureMask(VIRTIO_F_VERSION_1) | featureMask(5), false], // bit 5 not offered
      [featureMask(VIRTIO_F_VERSION_1) | featureMask(0), true],
    ] as const) {
      d.reset();
      d.setStatus(base);
      d.writeDriverFeatures(accept);
      d.setStatus(base | VIRTIO_CONFIG_S_FEATURES_OK);
      expect((d.status() & VIRTIO_CONFIG_S_FEATURES_OK) !== 0).toBe(ok);
    }
  });

  it("programs a queue: size, 64-bit addresses, enable, notify_off", () => {
    const { drv, t } = setup(new FakeDevice());
    const d = drv();
    d.reset();
    d.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_SIZE)).toBe(64);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_NOFF)).toBe(1);
    d.setCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2, 32);
    d.setCommon(VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0x80001000);
    d.setCommon(VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0x1);
    expect(d.common32(VIRTIO_PCI_COMMON_Q_DESCLO)).toBe(0x80001000);
    expect(d.common32(VIRTIO_PCI_COMMON_Q_DESCHI)).toBe(1);
    expect(t.core.queueAddress(1, "desc")).toBe(0x1_8000_1000);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_SIZE)).toBe(32);
    // A queue that does not exist reads size 0 (Linux: ENOENT).
    d.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_SIZE)).toBe(0);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_ENABLE)).toBe(0);
  });

  it("goes through the whole Linux handshake and activates the device", () => {
    const dev = new FakeDevice();
    const { drv } = setup(dev);
    const d = drv();
    expect(d.init(dev.features, [256, 64])).toBe(true);
    expect(d.status()).toBe(
      VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK,
    );
    expect(dev.ctx?.active).toBe(true);
    for (const q of [0, 1]) {
      d.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
      expect(d.common16(VIRTIO_PCI_COMMON_Q_ENABLE)).toBe(1);
    }
    dev.notified = [];
    d.kick(1);
    d.kick(0);
    expect(dev.notified).toEqual([1, 0]);
    // Status 0 resets everything, including queue_select.
    d.setStatus(0);
    expect(d.status()).toBe(0);
    expect(dev.ctx).toBeUndefined();
    expect(d.common16(VIRTIO_PCI_COMMON_Q_SELECT)).toBe(0);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_ENABLE)).toBe(0);
  });

  it("composes reads of any width and ignores writes of the wrong width", () => {
    const dev = new FakeDevice();
    const { drv } = setup(dev);
    const d = drv();
    d.reset();
    d.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    d.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
    // status | generation << 8 | queue_select << 16, as a struct read would see it.
    expect(d.common32(VIRTIO_PCI_COMMON_STATUS)).toBe(VIRTIO_CONFIG_S_ACKNOWLEDGE | (1 << 16));
    expect(d.common8(VIRTIO_PCI_COMMON_NUMQ)).toBe(2);
    d.setCommon(VIRTIO_PCI_COMMON_STATUS, 4, 0); // wrong width: no reset
    d.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 1, 0);
    expect(d.status()).toBe(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    expect(d.common16(VIRTIO_PCI_COMMON_Q_SELECT)).toBe(1);
    expect(d.common32(0x3c)).toBe(0);
    expect(d.common32(0xffc)).toBe(0);
  });

  it("bumps config_generation and raises a config interrupt on a config change", () => {
    const dev = new FakeDevice();
    const { drv, line } = setup(dev);
    const d = drv();
    d.init(dev.features, [256, 64]);
    const gen = d.common8(VIRTIO_PCI_COMMON_CFGGENERATION);
    dev.ctx!.signalConfig();
    expect(d.common8(VIRTIO_PCI_COMMON_CFGGENERATION)).toBe((gen + 1) & 0xff);
    expect(line.level).toBe(true);
    expect(d.readIsr()).toBe(2);
    expect(line.level).toBe(false);
  });

  it("serves the device config page with the device's bytes", () => {
    const dev = new FakeDevice();
    const { drv } = setup(dev);
    const d = drv();
    expect(d.deviceConfig(0, 4)).toBe(0x04030201);
    expect(d.deviceConfig(6, 2)).toBe(0x0807);
    expect(d.deviceConfig(8, 4)).toBe(0); // past configSize
  });
});

describe("ISR and INTx", () => {
  it("moves random bytes end to end and clears the interrupt on ISR read", () => {
    const { drv, line, cfg } = setup();
    const d = drv();
    expect(d.init(VIRTIO_TRANSPORT_FEATURES, [64])).toBe(true);
    const q = d.queues[0];
    const chain = q.add([{ write: 16 }]);
    expect(line.level).toBe(false);
    d.kick(0);
    const used = q.takeUsed();
    expect(used).toHaveLength(1);
    expect(used[0].len).toBe(16);
    expect([...q.written(chain, 0)]).toEqual(new Array(16).fill(0xa5));
    expect(line.level).toBe(true);
    expect(cfg.r16(PCI_STATUS) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT);
    expect(d.readIsr()).toBe(1);
    expect(line.level).toBe(false);
    expect(d.readIsr()).toBe(0); // read-to-clear
    expect(cfg.r16(PCI_STATUS) & PCI_STATUS_INTERRUPT).toBe(0);
  });

  it("masks the line with INTx disable but keeps the ISR", () => {
    const { drv, line, cfg, t } = setup();
    const d = drv();
    d.init(VIRTIO_TRANSPORT_FEATURES, [64]);
    cfg.w16(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    d.queues[0].add([{ write: 4 }]);
    d.kick(0);
    expect(t.isrStatus).toBe(1);
    expect(line.level).toBe(false);
    cfg.w16(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    expect(line.level).toBe(true);
  });

  it("drops kicks while bus mastering is off", () => {
    const { drv, cfg, t } = setup();
    const d = drv();
    d.init(VIRTIO_TRANSPORT_FEATURES, [64]);
    cfg.w16(PCI_COMMAND, PCI_COMMAND_MEMORY);
    const q = d.queues[0];
    q.add([{ write: 4 }]);
    d.kick(0);
    expect(q.takeUsed()).toHaveLength(0);
    expect(t.kicksWithoutBusMaster).toBe(1);
    cfg.w16(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    d.kick(0);
    expect(q.takeUsed()).toHaveLength(1);
  });

  it("clears the ISR and the line on device reset", () => {
    const { drv, line, t } = setup();
    const d = drv();
    d.init(VIRTIO_TRANSPORT_FEATURES, [64]);
    d.queues[0].add([{ write: 4 }]);
    d.kick(0);
    expect(line.level).toBe(true);
    d.setStatus(0);
    expect(t.isrStatus).toBe(0);
    expect(line.level).toBe(false);
  });

  it("raises DEVICE_NEEDS_RESET with a config interrupt for a broken ring", () => {
    const { drv, line } = setup();
    const d = drv();
    d.init(VIRTIO_TRANSPORT_FEATURES, [64]);
    d.queues[0].setAvailIdx(200); // jumps by more than the queue size
    d.kick(0);
    expect(d.status() & VIRTIO_CONFIG_S_NEEDS_RESET).toBe(VIRTIO_CONFIG_S_NEEDS_RESET);
    expect(line.level).toBe(true);
    expect(d.readIsr() & 2).toBe(2);
  });
});

describe("BAR decoding", () => {
  it("answers only while memory space is enabled, and follows the BAR when it moves", () => {
    const { bus, cfg } = setup();
    const common = MMIO64 + VIRTIO_PCI_COMMON_NUMQ;
    expect(bus.read(common, 2)).toBe(1);
    cfg.w16(PCI_COMMAND, 0);
    expect(bus.read(common, 2)).toBe(0xffff);
    // Linux may as well put it in the 32-bit window.
    cfg.w32(PCI_BASE_ADDRESS_0 + 16, 0x40004000);
    cfg.w32(PCI_BASE_ADDRESS_0 + 20, 0);
    cfg.w16(PCI_COMMAND, PCI_COMMAND_MEMORY);
    expect(bus.read(0x40004000 + VIRTIO_PCI_COMMON_NUMQ, 2)).toBe(1);
    expect(bus.read(common, 2)).toBe(0xffff);
  });

  it("reaches the BAR through the PCI_CFG capability window without a mapping", () => {
    const { cfg } = setup();
    cfg.w16(PCI_COMMAND, 0);
    const pos = cfg.findCapabilities(PCI_CAP_ID_VNDR).find((p) => cfg.r8(p + VIRTIO_PCI_CAP_CFG_TYPE) === 5)!;
    cfg.w8(pos + VIRTIO_PCI_CAP_BAR, 4);
    cfg.w32(pos + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_COMMON_NUMQ);
    cfg.w32(pos + VIRTIO_PCI_CAP_LENGTH, 2);
    expect(cfg.r32(pos + VIRTIO_PCI_CFG_CAP_DATA) & 0xffff).toBe(1);
    cfg.w32(pos + VIRTIO_PCI_CAP_OFFSET, VIRTIO_PCI_COMMON_STATUS);
    cfg.w32(pos + VIRTIO_PCI_CAP_LENGTH, 1);
    cfg.w32(pos + VIRTIO_PCI_CFG_CAP_DATA, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    expect(cfg.r8(pos + VIRTIO_PCI_CFG_CAP_DATA)).toBe(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    // Misaligned or odd-length requests do nothing.
    cfg.w32(pos + VIRTIO_PCI_CAP_LENGTH, 3);
    cfg.w32(pos + VIRTIO_PCI_CFG_CAP_DATA, 0);
    cfg.w32(pos + VIRTIO_PCI_CAP_LENGTH, 1);
    expect(cfg.r8(pos + VIRTIO_PCI_CFG_CAP_DATA)).toBe(VIRTIO_CONFIG_S_ACKNOWLEDGE);
  });
});

describe("hostile driver", () => {
  it("never throws on random config, BAR and notify traffic (seeded)", () => {
    for (const seed0 of [1, 0xdecafbad, 0x12345678]) {
      let seed = seed0;
      const rnd = () => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return seed >>> 0;
      };
      const { bus, drv } = setup(new FakeDevice());
      const d = drv();
      d.init(VIRTIO_TRANSPORT_FEATURES, [256, 64]);
      const sizes = [1, 2, 4, 8] as const;
      expect(
        () => {
          for (let i = 0; i < 50_000; i++) {
            const size = sizes[rnd() % 4];
            const r = rnd() % 10;
            // Mostly the BAR (common/ISR/device/notify), sometimes config space, sometimes anywhere.
            const addr =
              r < 6 ? MMIO64 + (rnd() % 0x4000) : r < 9 ? ECAM + (SLOT << 15) + (rnd() % 0x1000) : MMIO32 + rnd();
            if (rnd() % 2 === 0) bus.write(addr, size, rnd(), rnd());
            else bus.read(addr, size);
          }
        },
        `seed ${seed0.toString(16)}`,
      ).not.toThrow();
    }
  });
});
