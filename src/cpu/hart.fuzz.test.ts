// The guest is hostile: random instruction streams, random register and CSR values, and traps into
// garbage must never make the hart throw a JS exception or stop making progress.
import { describe, expect, it } from "vitest";
import { Bus } from "../core/bus.ts";
import { GuestMemory } from "../core/guest-memory.ts";
import { rng } from "../testing/rng.ts";
import { Hart } from "./hart.ts";

const RAM_BASE = 0x8000_0000;

function fuzzOnce(seed: number, instructions: number): { retired: number; traps: number } {
  const next = rng(seed);
  const mem = new GuestMemory(RAM_BASE, 1 << 20);
  // Mostly random words; some valid-looking opcodes so execution goes deeper than the first decode.
  const common = [0x13, 0x33, 0x03, 0x23, 0x63, 0x6f, 0x67, 0x73, 0x2f, 0x3b, 0x1b, 0x53, 0x07, 0x27, 0x43, 0x0f];
  for (let i = 0; i < mem.i32.length; i++) {
    const r = next();
    mem.i32[i] = (i & 3) === 0 ? (r & ~0x7f) | common[(r >>> 7) & 15] : r;
  }
  const hart = new Hart({ hartId: 0, mem, bus: new Bus(), time: { mtime: () => 0 } });
  for (let r = 1; r < 32; r++) {
    // Half the registers point into RAM so loads, stores and jumps hit something.
    const v = next();
    hart.setX(r, (v & 1) === 0 ? RAM_BASE + (v >>> 12) * 4 : BigInt(v) * BigInt(next()));
  }
  hart.setPc(RAM_BASE);
  // Traps land in random code too (mtvec/stvec inside RAM), so the run goes on through handlers,
  // CSR writes, xRETs and mode changes instead of faulting at address 0 forever.
  hart.csr[0x305 * 2] = RAM_BASE + 0x400;
  hart.csr[0x105 * 2] = RAM_BASE + 0x800;
  let traps = 0;
  hart.trace = (line) => {
    if (line.startsWith("trap")) traps++;
  };
  let retired = 0;
  for (let i = 0; i < 50; i++) {
    retired += hart.run(instructions / 50);
    if (hart.waiting) hart.setPending(7, true);
  }
  return { retired, traps };
}

describe("hart under random programs", () => {
  const base = Number(process.env.HART_FUZZ_SEED ?? 0x5eed);
  for (let k = 0; k < 24; k++) {
    const seed = base + k * 7919;
    it(`seed ${seed} never throws and always returns`, () => {
      const r = fuzzOnce(seed, 20_000);
      // run() returned every time (no hang) and work happened: instructions retired or traps taken.
      expect(r.retired + r.traps, `seed ${seed}`).toBeGreaterThan(0);
      expect(r.retired, `seed ${seed}`).toBeLessThanOrEqual(20_000);
    });
  }
});
