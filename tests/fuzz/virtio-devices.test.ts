// Seeded fuzz of whole virtio devices behind the MMIO transport: a hostile driver scribbles random
// rings and random register writes, then kicks. Nothing may throw out of the transport, no kick may
// take long, and the device must keep answering a well-formed request afterwards once reset.
// Replay a failure with VIRTIO_FUZZ_SEED=<printed seed>.

import { describe, expect, it } from "vitest";
import { VirtioMmioTransport } from "../../devices/virtio/mmio-transport.ts";
import type { VirtioDevice } from "../../devices/virtio/virtio-device.ts";
import { MemoryBlockBackend } from "../../devices/virtio-blk/block-backend.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { VirtioConsole } from "../../devices/virtio-console/virtio-console.ts";
import { VirtioRng } from "../../devices/virtio-rng/virtio-rng.ts";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { rng } from "../../src/testing/rng.ts";
import { MmioDriver } from "../../src/testing/virtio-driver.ts";

/** src/testing/rng.ts's xorshift32, as unsigned 32-bit values. */
function xorshift(seed: number): () => number {
  const next = rng(seed);
  return () => next() >>> 0;
}

const devices: [string, () => VirtioDevice, number[]][] = [
  ["virtio-rng", () => new VirtioRng(), [8]],
  ["virtio-console", () => new VirtioConsole(), [8, 8]],
  ["virtio-blk", () => new VirtioBlk(new MemoryBlockBackend(64 * 1024)), [8]],
];

describe("virtio devices under a hostile driver", () => {
  for (const [name, make, sizes] of devices) {
    it(`${name}: random rings and registers never throw or hang`, () => {
      const seed = Number(process.env.VIRTIO_FUZZ_SEED ?? 0xf00d);
      const rounds = Number(process.env.VIRTIO_FUZZ_ROUNDS ?? 3000);
      const rnd = xorshift(seed);
      const mem = new GuestMemory(0x80000000, 2 << 20);
      const dev = make();
      if (dev instanceof VirtioConsole) dev.pushInput(new Uint8Array(100000).fill(0x41));
      const t = new VirtioMmioTransport(dev, mem, new LevelIrq());
      const drv = new MmioDriver(t, mem);
      expect(drv.init(dev.features, sizes)).toBe(true);
      // Random bytes may only land in the rings and the first 64 KiB of buffers after them.
      const rings = drv.queues.map((q) => q.descAddr);
      const lo = Math.min(...rings) - 0x40000;
      const span = 0x50000;
      let slowest = 0;
      for (let round = 0; round < rounds; round++) {
        try {
          for (let i = 0; i < 64; i++) {
            const at = lo + (rnd() % span);
            const v = rnd();
            const r = rnd() % 8;
            // Small values make plausible request headers (blk types 0, 1, 4, 8, 11, 13; sector 0…).
            if (r === 0) mem.writeU32(at - (at % 4), rnd() % 2 === 0 ? v % 16 : v);
            else if (r < 6) {
              // Descriptors mostly pointing into RAM, with plausible lengths and flags.
              const q = drv.queues[rnd() % drv.queues.length];
              const d = q.descAddr + 16 * (rnd() % q.size);
              mem.writeU64(d, lo + (rnd() % span));
              mem.writeU32(d + 8, rnd() % 3 === 0 ? rnd() : rnd() % 1024);
              mem.writeU16(d + 12, rnd() % 8);
              mem.writeU16(d + 14, rnd() % (q.size + 2));
            } else {
              const q = drv.queues[rnd() % drv.queues.length];
              q.setAvailRing(rnd() % q.size, rnd() % (q.size + 1));
              if (rnd() % 2 === 0) q.setAvailIdx(q.availIndex + (rnd() % 3));
            }
          }
          if (rnd() % 16 === 0) t.write((rnd() % 0x140) & ~3, 4, rnd());
          // A broken device is re-probed, as Linux would after a reset, so the fuzz keeps reaching it.
          if ((t.core.status & 64) !== 0 || rnd() % 64 === 0) expect(drv.init(dev.features, sizes)).toBe(true);
          const start = performance.now();
          for (let k = 0; k < 3; k++) drv.kick(rnd() % (sizes.length + 1));
          t.read(rnd() % 0x140, 4);
          slowest = Math.max(slowest, performance.now() - start);
        } catch (e) {
          throw new Error(`${name} round ${round} (VIRTIO_FUZZ_SEED=${seed}): ${(e as Error).stack}`);
        }
      }
      expect(slowest).toBeLessThan(250);
      if (process.env.VIRTIO_FUZZ_DEBUG)
        console.log(
          name,
          JSON.stringify(t.core.snapshot(), (_k, v) => (typeof v === "bigint" ? String(v) : v)),
        );
      // Still a working device after a reset.
      expect(drv.init(dev.features, sizes)).toBe(true);
      expect(t.core.status & 64).toBe(0);
    });
  }
});
