import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { DriverQueue, MmioDriver } from "../../src/testing/virtio-driver.ts";
import { copyFromReadable, copyToWritable } from "./chain-io.ts";
import {
  featureMask,
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
  VIRTIO_F_RING_EVENT_IDX,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_VERSION_1,
  VIRTIO_TRANSPORT_FEATURES,
} from "./features.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
  VIRTIO_MMIO_DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_INTERRUPT_ACK,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_READY,
  VIRTIO_MMIO_QUEUE_SEL,
  VIRTIO_MMIO_SHM_LEN_LOW,
  VIRTIO_MMIO_STATUS,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VENDOR_QEMU,
  VIRTIO_MMIO_VERSION,
  VirtioMmioTransport,
} from "./mmio-transport.ts";
import { VIRTIO_INT_CONFIG, VIRTIO_INT_VRING } from "./transport-core.ts";
import type { VirtioDevice, VirtioDeviceContext } from "./virtio-device.ts";

/** A one-queue test device that echoes each request's readable bytes into its writable part. */
class EchoDevice implements VirtioDevice {
  readonly deviceId = 42;
  readonly name = "echo";
  readonly queues = [{ maxSize: 16 }];
  readonly configSize = 8;
  features = VIRTIO_TRANSPORT_FEATURES | featureMask(3);
  ctx: VirtioDeviceContext | undefined;
  notifies: number[] = [];
  resets = 0;
  veto = false;
  throwOnNotify = false;
  config = Uint8Array.from([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);

  readConfig(offset: number, size: 1 | 2 | 4): number {
    const v = new DataView(this.config.buffer);
    return size === 1 ? v.getUint8(offset) : size === 2 ? v.getUint16(offset, true) : v.getUint32(offset, true);
  }
  writeConfig(offset: number, _size: 1 | 2 | 4, value: number): void {
    this.config[offset] = value;
  }
  validateFeatures(): boolean {
    return !this.veto;
  }
  activate(ctx: VirtioDeviceContext): void {
    this.ctx = ctx;
  }
  notify(queue: number): void {
    this.notifies.push(queue);
    if (this.throwOnNotify) throw new Error("device bug");
    const ctx = this.ctx!;
    const vq = ctx.queues[queue];
    let any = false;
    for (let c = vq.pop(); c !== undefined; c = vq.pop()) {
      const n = copyToWritable(c, 0, copyFromReadable(c, 0, c.readableBytes));
      vq.push(c, n);
      any = true;
    }
    if (any) ctx.signalUsed(queue);
  }
  reset(): void {
    this.resets++;
    this.ctx = undefined;
  }
}

function setup() {
  const mem = new GuestMemory(0x80000000, 1 << 20);
  const dev = new EchoDevice();
  const irq = new LevelIrq();
  const t = new VirtioMmioTransport(dev, mem, irq);
  const drv = new MmioDriver(t, mem);
  return { mem, dev, irq, t, drv };
}

const ALL_OK =
  VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;

describe("virtio-mmio: identity and feature words", () => {
  it("reads magic, version 2, device and vendor IDs", () => {
    const { drv } = setup();
    expect(drv.r(VIRTIO_MMIO_MAGIC_VALUE)).toBe(VIRTIO_MMIO_MAGIC);
    expect(drv.r(VIRTIO_MMIO_VERSION)).toBe(2);
    expect(drv.r(VIRTIO_MMIO_DEVICE_ID)).toBe(42);
    expect(drv.r(VIRTIO_MMIO_VENDOR_ID)).toBe(VIRTIO_MMIO_VENDOR_QEMU);
  });

  it("pages the offered features by DeviceFeaturesSel; words ≥ 2 read 0", () => {
    const { drv, dev } = setup();
    expect(drv.deviceFeatures()).toBe(dev.features);
    drv.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    expect(drv.r(VIRTIO_MMIO_DEVICE_FEATURES)).toBe(1); // VERSION_1 = bit 32
    drv.w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    expect(drv.r(VIRTIO_MMIO_DEVICE_FEATURES)).toBe(0);
  });

  it("ignores control-register accesses of the wrong width or alignment, and reports no SHM regions", () => {
    const { t, drv } = setup();
    expect(t.read(VIRTIO_MMIO_MAGIC_VALUE, 2)).toBe(0);
    expect(t.read(VIRTIO_MMIO_MAGIC_VALUE + 1, 4)).toBe(0);
    t.write(VIRTIO_MMIO_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    expect(drv.r(VIRTIO_MMIO_STATUS)).toBe(0);
    expect(drv.r(VIRTIO_MMIO_SHM_LEN_LOW)).toBe(0xffffffff);
    expect(drv.r(0x0f0)).toBe(0);
  });
});

describe("virtio-mmio: the status state machine", () => {
  it("walks ACKNOWLEDGE → DRIVER → FEATURES_OK → DRIVER_OK and activates the device", () => {
    const { drv, dev, t } = setup();
    expect(drv.init(dev.features, [8])).toBe(true);
    expect(drv.r(VIRTIO_MMIO_STATUS)).toBe(ALL_OK);
    expect(dev.ctx?.features).toBe(dev.features);
    expect(dev.ctx?.active).toBe(true);
    expect(t.core.queues[0].eventIdx).toBe(true);
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 0);
    expect(drv.r(VIRTIO_MMIO_QUEUE_READY)).toBe(1);
  });

  const refusals: { name: string; accept(offered: bigint): bigint; veto?: boolean }[] = [
    { name: "a bit that was not offered", accept: (o) => o | featureMask(VIRTIO_F_RING_PACKED) },
    { name: "VERSION_1 dropped", accept: (o) => o & ~featureMask(VIRTIO_F_VERSION_1) },
    { name: "the device's own check", accept: (o) => o, veto: true },
  ];
  for (const r of refusals) {
    it(`refuses FEATURES_OK: ${r.name}`, () => {
      const { drv, dev, t } = setup();
      dev.veto = r.veto === true;
      expect(drv.init(r.accept, [8])).toBe(false);
      expect(drv.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK).toBe(0);
      expect(t.core.stats.featuresRefused).toBe(1);
      // DRIVER_OK cannot follow a refused FEATURES_OK.
      drv.w(VIRTIO_MMIO_STATUS, ALL_OK);
      expect(drv.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK).toBe(0);
      expect(dev.ctx).toBeUndefined();
    });
  }

  it("freezes driver features once FEATURES_OK is set", () => {
    const { drv, dev, t } = setup();
    const accepted = dev.features & ~featureMask(VIRTIO_F_RING_EVENT_IDX);
    drv.init(accepted, [8]);
    drv.writeDriverFeatures(dev.features);
    expect(t.core.features).toBe(accepted);
    expect(t.core.queues[0].eventIdx).toBe(false);
  });

  it("writing 0 resets: status, queues, interrupt status, the line and the device", () => {
    const { drv, dev, irq, t } = setup();
    drv.init(dev.features, [8]);
    drv.queues[0].add([{ read: Uint8Array.of(1) }, { write: 1 }]);
    drv.kick(0);
    expect(irq.level).toBe(true);
    const resetsBefore = dev.resets;
    drv.w(VIRTIO_MMIO_STATUS, 0);
    expect(drv.r(VIRTIO_MMIO_STATUS)).toBe(0);
    expect(drv.r(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(0);
    expect(irq.level).toBe(false);
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 0);
    expect(drv.r(VIRTIO_MMIO_QUEUE_READY)).toBe(0);
    expect(drv.r(VIRTIO_MMIO_QUEUE_NUM_MAX)).toBe(16);
    expect(dev.resets).toBe(resetsBefore + 1);
    expect(t.core.features).toBe(0n);
  });

  it("keeps FAILED as the driver wrote it and does nothing else", () => {
    const { drv } = setup();
    drv.w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_FAILED);
    expect(drv.r(VIRTIO_MMIO_STATUS)).toBe(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_FAILED);
  });
});

describe("virtio-mmio: queues, kicks and interrupts", () => {
  it("echoes a request, raises InterruptStatus bit 0 and the line until acknowledged", () => {
    const { drv, dev, irq } = setup();
    drv.init(dev.features, [8]);
    const c = drv.queues[0].add([{ read: Uint8Array.of(7, 8, 9) }, { write: 3 }]);
    drv.kick(0);
    const used = drv.queues[0].takeUsed();
    expect(used.map((u) => u.len)).toEqual([3]);
    expect([...drv.queues[0].written(c, 1)]).toEqual([7, 8, 9]);
    expect(irq.level).toBe(true);
    expect(drv.ackInterrupt()).toBe(VIRTIO_INT_VRING);
    expect(irq.level).toBe(false);
  });

  it("ignores kicks before DRIVER_OK, then scans every ready queue at DRIVER_OK", () => {
    const { drv, dev, t } = setup();
    drv.w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    drv.writeDriverFeatures(dev.features);
    drv.w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    const q = drv.setupQueue(0, 8);
    q.add([{ read: Uint8Array.of(1) }, { write: 1 }]);
    drv.kick(0);
    expect(dev.notifies).toEqual([]);
    expect(t.core.stats.ignoredNotifies).toBe(1);
    drv.w(VIRTIO_MMIO_STATUS, ALL_OK);
    expect(dev.notifies).toEqual([0]);
    expect(q.takeUsed().length).toBe(1);
  });

  it("counts kicks for queues that do not exist and ignores them", () => {
    const { drv, dev, t } = setup();
    drv.init(dev.features, [8]);
    drv.kick(5);
    drv.kick(0xffffffff);
    expect(t.core.stats.unknownQueueNotifies).toBe(2);
    expect(dev.notifies).toEqual([0]); // only the DRIVER_OK scan
  });

  it("reports QueueNumMax 0 for queues past the last", () => {
    const { drv } = setup();
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 1);
    expect(drv.r(VIRTIO_MMIO_QUEUE_NUM_MAX)).toBe(0);
  });

  it("ignores queue address writes while the queue is ready", () => {
    const { drv, dev, t } = setup();
    drv.init(dev.features, [8]);
    const before = t.core.queues[0].descAddr;
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 0);
    drv.w(VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
    expect(t.core.queues[0].descAddr).toBe(before);
  });

  it("refuses to enable a queue whose size is not a power of two: DEVICE_NEEDS_RESET", () => {
    const { drv, t } = setup();
    drv.w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    const q = new DriverQueue(drv.mem, drv.alloc, 8);
    drv.w(VIRTIO_MMIO_QUEUE_SEL, 0);
    drv.w(VIRTIO_MMIO_QUEUE_NUM, 6);
    drv.w(VIRTIO_MMIO_QUEUE_DESC_LOW, q.descAddr);
    drv.w(VIRTIO_MMIO_QUEUE_READY, 1);
    expect(drv.r(VIRTIO_MMIO_QUEUE_READY)).toBe(0);
    expect(drv.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET).toBe(VIRTIO_CONFIG_S_NEEDS_RESET);
    expect(t.core.queues[0].stats.errors["bad-queue-size"]).toBe(1);
  });

  it("a broken ring after DRIVER_OK sets DEVICE_NEEDS_RESET with a config interrupt and deactivates the device", () => {
    const { drv, dev, irq, t } = setup();
    drv.init(dev.features, [8]);
    drv.ackInterrupt();
    const ctx = dev.ctx!;
    drv.queues[0].setAvailIdx(100); // jumps by more than the queue size
    drv.kick(0);
    expect(drv.r(VIRTIO_MMIO_STATUS)).toBe(ALL_OK | VIRTIO_CONFIG_S_NEEDS_RESET);
    expect(drv.r(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(VIRTIO_INT_CONFIG);
    expect(irq.level).toBe(true);
    expect(ctx.active).toBe(false);
    expect(t.core.needsResetReason).toMatch(/avail-index-jump/);
    // Kicks are ignored until reset; a reset brings the device back.
    drv.kick(0);
    expect(dev.notifies).toEqual([0, 0]);
    expect(drv.init(dev.features, [8])).toBe(true);
    expect(drv.r(VIRTIO_MMIO_STATUS)).toBe(ALL_OK);
  });

  it("turns an exception out of a device into DEVICE_NEEDS_RESET instead of throwing to the hart", () => {
    const { drv, dev, t } = setup();
    drv.init(dev.features, [8]);
    dev.throwOnNotify = true;
    expect(() => drv.kick(0)).not.toThrow();
    expect(drv.r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET).not.toBe(0);
    expect(t.core.stats.deviceExceptions).toBe(1);
  });
});

describe("virtio-mmio: config space", () => {
  it("reads and writes the device config at 0x100 with natural widths; outside it reads 0", () => {
    const { t } = setup();
    expect(t.read(VIRTIO_MMIO_CONFIG, 1)).toBe(0x11);
    expect(t.read(VIRTIO_MMIO_CONFIG + 2, 2)).toBe(0x4433);
    expect(t.read(VIRTIO_MMIO_CONFIG + 4, 4)).toBe(0x88776655);
    expect(t.read(VIRTIO_MMIO_CONFIG + 6, 4)).toBe(0);
    expect(t.read(VIRTIO_MMIO_CONFIG + 0x800, 4)).toBe(0);
    t.write(VIRTIO_MMIO_CONFIG + 1, 1, 0xab);
    expect(t.read(VIRTIO_MMIO_CONFIG + 1, 1)).toBe(0xab);
    t.write(VIRTIO_MMIO_CONFIG + 100, 4, 1);
  });

  it("bumps ConfigGeneration and raises bit 1 when the device signals a config change", () => {
    const { drv, dev } = setup();
    drv.init(dev.features, [8]);
    drv.ackInterrupt();
    const g = drv.r(VIRTIO_MMIO_CONFIG_GENERATION);
    dev.ctx!.signalConfig();
    expect(drv.r(VIRTIO_MMIO_CONFIG_GENERATION)).toBe(g + 1);
    expect(drv.r(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(VIRTIO_INT_CONFIG);
    drv.w(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
    expect(drv.r(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(0);
  });
});
