import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { MmioDriver } from "../../src/testing/virtio-driver.ts";
import { featureMask, VIRTIO_CONSOLE_F_SIZE } from "../virtio/features.ts";
import { VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_INTERRUPT_STATUS, VirtioMmioTransport } from "../virtio/mmio-transport.ts";
import { VIRTIO_INT_CONFIG } from "../virtio/transport-core.ts";
import { VirtioConsole, type VirtioConsoleOptions } from "./virtio-console.ts";

function setup(opts: VirtioConsoleOptions = {}) {
  const out: number[] = [];
  const con = new VirtioConsole({ output: (b) => out.push(...b), ...opts });
  const mem = new GuestMemory(0x80000000, 4 << 20);
  const t = new VirtioMmioTransport(con, mem, new LevelIrq());
  const drv = new MmioDriver(t, mem);
  return { con, drv, out, t };
}

const text = (s: string) => new TextEncoder().encode(s);

describe("virtio-console", () => {
  it("sends transmitq buffers to the output callback and completes them at once", () => {
    const { con, drv, out } = setup();
    drv.init(con.features, [8, 8]);
    drv.queues[1].add([{ read: text("hel") }, { read: text("lo") }]);
    drv.kick(1);
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe("hello");
    expect(drv.queues[1].takeUsed().map((u) => u.len)).toEqual([0]);
  });

  it("keeps host input until receive buffers exist, splits it across buffers, never drops a byte", () => {
    const { con, drv } = setup();
    con.pushInput(text("typed before the driver was up; "));
    drv.init(con.features, [8, 8]);
    con.pushInput(text("and after."));
    expect(con.pendingInput).toBe(42);
    const rx = drv.queues[0];
    const bufs = [rx.add([{ write: 16 }]), rx.add([{ write: 16 }])];
    drv.kick(0);
    const used = rx.takeUsed();
    expect(used.map((u) => u.len)).toEqual([16, 16]);
    expect(con.pendingInput).toBe(10);
    const got = bufs.map((c) => new TextDecoder().decode(rx.written(c, 0)));
    const third = rx.add([{ write: 64 }]);
    drv.kick(0);
    expect(rx.takeUsed().map((u) => u.len)).toEqual([10]);
    got.push(new TextDecoder().decode(rx.written(third, 0).subarray(0, 10)));
    expect(got.join("")).toBe("typed before the driver was up; and after.");
  });

  it("host input survives a driver reset", () => {
    const { con, drv } = setup();
    drv.init(con.features, [8, 8]);
    con.pushInput(text("abc"));
    drv.w(0x070, 0);
    expect(con.pendingInput).toBe(3);
    drv.init(con.features, [8, 8]);
    drv.queues[0].add([{ write: 8 }]);
    drv.kick(0);
    expect(drv.queues[0].takeUsed().map((u) => u.len)).toEqual([3]);
  });

  it("offers F_SIZE with cols/rows in config and signals a resize", () => {
    const { con, drv, t } = setup({ size: { cols: 80, rows: 24 } });
    expect(con.features & featureMask(VIRTIO_CONSOLE_F_SIZE)).not.toBe(0n);
    expect(t.read(VIRTIO_MMIO_CONFIG, 2)).toBe(80);
    expect(t.read(VIRTIO_MMIO_CONFIG + 2, 2)).toBe(24);
    expect(t.read(VIRTIO_MMIO_CONFIG + 4, 4)).toBe(1);
    drv.init(con.features, [8, 8]);
    drv.ackInterrupt();
    con.setSize(132, 43);
    expect(t.read(VIRTIO_MMIO_CONFIG, 2)).toBe(132);
    expect(drv.r(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(VIRTIO_INT_CONFIG);
  });

  it("writes an emerg_wr character straight out", () => {
    const { t, out } = setup();
    t.write(VIRTIO_MMIO_CONFIG + 8, 4, 0x21);
    expect(out).toEqual([0x21]);
  });
});
