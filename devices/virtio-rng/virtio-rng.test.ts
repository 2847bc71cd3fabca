import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { MmioDriver } from "../../src/testing/virtio-driver.ts";
import { VirtioMmioTransport } from "../virtio/mmio-transport.ts";
import { VirtioRng } from "./virtio-rng.ts";

function setup(rng = new VirtioRng()) {
  const mem = new GuestMemory(0x80000000, 1 << 20);
  const irq = new LevelIrq();
  const drv = new MmioDriver(new VirtioMmioTransport(rng, mem, irq), mem);
  expect(drv.init(rng.features, [8])).toBe(true);
  return { drv, q: drv.queues[0], irq, rng };
}

describe("virtio-rng", () => {
  it("fills every writable byte from the entropy source and interrupts", () => {
    let calls = 0;
    const { drv, q, irq } = setup(
      new VirtioRng("rng", (dst) => {
        calls++;
        dst.fill(0x42);
      }),
    );
    const c = q.add([{ write: 16 }, { write: 48 }]);
    drv.kick(0);
    expect(q.takeUsed().map((u) => u.len)).toEqual([64]);
    expect(q.written(c, 0).every((b) => b === 0x42)).toBe(true);
    expect(q.written(c, 1).every((b) => b === 0x42)).toBe(true);
    expect(calls).toBe(2);
    expect(irq.level).toBe(true);
  });

  it("gives different bytes from crypto.getRandomValues", () => {
    const { drv, q } = setup();
    const a = q.add([{ write: 32 }]);
    const b = q.add([{ write: 32 }]);
    drv.kick(0);
    expect(q.takeUsed().length).toBe(2);
    expect(q.written(a, 0)).not.toEqual(q.written(b, 0));
  });

  it("returns a request without writable buffers empty", () => {
    const { drv, q, rng } = setup();
    q.add([{ read: Uint8Array.of(1, 2) }]);
    drv.kick(0);
    expect(q.takeUsed().map((u) => u.len)).toEqual([0]);
    expect(rng.snapshot().emptyRequests).toBe(1);
  });
});
