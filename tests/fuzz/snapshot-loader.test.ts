// Seeded fuzz of the snapshot loader (issue 15): hostile `.vireo` files must be refused with a SnapshotError
// — never another exception, never a hang — and a mutated snapshot that is accepted must leave a machine that
// runs. 100 000 files in all:
//   - 90 000 with bytes damaged: bit flips, overwritten runs, truncation, insertion — the checksum left as is
//     (the common case: a corrupted download) or recomputed (so the header and sections are what gets tested);
//   - 10 000 with one to three values anywhere in the machine record or the device state replaced by extremes,
//     wrong types, or removed, then restored into a machine.
// The base is a small machine (1 MiB of RAM, no kernel) whose virtio devices a test driver has brought up,
// with buffers posted, so that live queues, held chains and device state are all in the file.
// Replay a failure with SNAPSHOT_FUZZ_SEED=<printed seed>; SNAPSHOT_FUZZ_SCALE=10 runs ten times as many.

import { describe, expect, it } from "vitest";
import { MemoryBlockBackend } from "../../devices/virtio-blk/block-backend.ts";
import { CowOverlay } from "../../devices/virtio-blk/cow-overlay.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { loadCoreModule } from "../../src/cli/core-module.ts";
import type { MmioDevice } from "../../src/core/bus.ts";
import { decodeSnapshot, type SnapshotContents } from "../../src/machine/snapshot-file.ts";
import { SnapshotError } from "../../src/machine/state-check.ts";
import { VirtMachine } from "../../src/machine/virt.ts";
import { VIRT_VIRTIO_BASE, VIRT_VIRTIO_SIZE } from "../../src/machine/virt-dt.ts";
import { rng } from "../../src/testing/rng.ts";
import { GuestAllocator, MmioDriver } from "../../src/testing/virtio-driver.ts";

const SEED = Number(process.env.SNAPSHOT_FUZZ_SEED ?? 0x5a17);
const SCALE = Number(process.env.SNAPSHOT_FUZZ_SCALE ?? 1);

class NamedDisk extends MemoryBlockBackend {
  readonly identity = "fuzz disk";
}

function machine(): VirtMachine {
  const disk = new VirtioBlk(new CowOverlay(new NamedDisk(new Uint8Array(256 << 10), { readOnly: true })), {
    name: "virtio-blk0",
  });
  return new VirtMachine({ wasmCore: loadCoreModule(), memMiB: 1, virtio: [{ device: disk }] });
}

/** A snapshot with every MMIO device live: net, console, rng, blk brought up, buffers posted and kicked. */
async function baseSnapshot(): Promise<Uint8Array> {
  const m = machine();
  const alloc = new GuestAllocator(m.mem, m.mem.base + 0x40000);
  for (let slot = 0; slot < 4; slot++) {
    const base = VIRT_VIRTIO_BASE + VIRT_VIRTIO_SIZE * slot;
    const window: MmioDevice = {
      read: (off, size) => m.bus.read(base + off, size) ?? 0,
      write: (off, size, v) => void m.bus.write(base + off, size, v),
    };
    const drv = new MmioDriver(window, m.mem, alloc, 8192);
    const queues = [8, 8, 8, 8].slice(0, slot === 0 ? 3 : slot === 1 ? 4 : 1);
    expect(drv.init((offered) => offered, queues)).toBe(true);
    for (const [i, q] of drv.queues.entries()) {
      for (let k = 0; k < 3; k++) q.add(i % 2 === 0 ? [{ write: 256 }] : [{ read: new Uint8Array(64).fill(k) }]);
      drv.kick(i);
    }
    drv.ackInterrupt();
  }
  m.sendVirtioConsoleInput(new TextEncoder().encode("typed ahead"));
  for (let i = 0; i < 20; i++) m.runSlice(1);
  return m.saveSnapshot({ fuzz: true });
}

/** Restores `file` into `m`; only a SnapshotError may come out, and an accepted file must run. */
async function tryRestore(m: VirtMachine, file: Uint8Array | SnapshotContents, what: string): Promise<boolean> {
  try {
    await m.restoreSnapshot(file);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw new Error(`${what}: ${(e as Error).stack ?? e}`);
    return false;
  }
  const t0 = performance.now();
  // Two chunks of the hart and every device update between them (a slice of 0 ms runs one chunk).
  for (let i = 0; i < 2; i++) m.runSlice(0);
  if (performance.now() - t0 > 2000) throw new Error(`${what}: the restored machine took ${performance.now() - t0} ms`);
  return true;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const EXTREMES: Json[] = [
  0,
  1,
  -1,
  255,
  256,
  65535,
  65536,
  0xffffffff,
  2 ** 32,
  2 ** 53,
  1.5,
  Number.MAX_VALUE,
  "",
  "0",
  "18446744073709551615",
  "18446744073709551616",
  "AAAA",
  "%%%",
  "a".repeat(5000),
  null,
  true,
  false,
  [],
  {},
  [0, 1, 2],
];

/** Every [container, key] under `v` (paths to leaves and inner nodes alike). */
function slots(v: Json, out: [Json[] | { [k: string]: Json }, string | number][] = []) {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([v, i]);
      slots(x, out);
    });
  } else if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) {
      out.push([v, k]);
      slots(v[k], out);
    }
  }
  return out;
}

function mutateJson(root: Json, next: () => number): void {
  const all = slots(root);
  const n = 1 + ((next() >>> 0) % 3);
  for (let i = 0; i < n && all.length > 0; i++) {
    const [holder, key] = all[(next() >>> 0) % all.length];
    const kind = (next() >>> 0) % 6;
    const cur = (holder as Record<string | number, Json>)[key];
    if (kind === 0 && !Array.isArray(holder)) delete (holder as Record<string, Json>)[key as string];
    else if (kind === 1 && Array.isArray(holder)) holder.splice(key as number, 1);
    else if (kind === 2 && Array.isArray(holder)) holder.push(cur);
    else if (kind === 3 && typeof cur === "number") (holder as Record<string | number, Json>)[key] = cur + (next() % 5);
    else (holder as Record<string | number, Json>)[key] = EXTREMES[(next() >>> 0) % EXTREMES.length];
  }
}

describe("the snapshot loader under hostile files", () => {
  it("byte-level damage: refused with a SnapshotError, never anything else", async () => {
    const base = await baseSnapshot();
    const next = rng(SEED);
    const rounds = 90_000 * SCALE;
    let accepted = 0;
    let restored = 0;
    const m = machine();
    for (let r = 0; r < rounds; r++) {
      let f = base.slice();
      const op = (next() >>> 0) % 4;
      const at = (next() >>> 0) % f.length;
      if (op === 0) f[at] ^= 1 << ((next() >>> 0) % 8);
      else if (op === 1) f.fill(next() & 0xff, at, at + 1 + ((next() >>> 0) % 64));
      else if (op === 2) f = f.slice(0, at);
      else {
        const g = new Uint8Array(f.length + 1);
        g.set(f.subarray(0, at));
        g[at] = next() & 0xff;
        g.set(f.subarray(at), at + 1);
        f = g;
      }
      // Half of them with the checksum made right again, so the parser behind it is what gets tested.
      const fix = r % 2 === 1 && f.length > 48;
      if (fix) {
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", f.subarray(0, f.length - 32)));
        f.set(digest, f.length - 32);
      }
      let contents: SnapshotContents;
      try {
        contents = await decodeSnapshot(f);
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw new Error(`seed ${SEED} round ${r}: ${(e as Error).stack}`);
        continue;
      }
      expect(fix || op === 3 || f.length === base.length, `round ${r}: damage got past the checksum`).toBe(true);
      // Sections and header decoded: the machine must refuse or run it. Damage in the header is restored every
      // time; damage in the binary sections (RAM, hart, overlays) one time in eight — a restore costs ~1.5 ms.
      const inHeader = at < 16 + new DataView(base.buffer).getUint32(12, true);
      if (!inHeader && r % 16 !== 1) continue;
      restored++;
      if (await tryRestore(m, contents, `seed ${SEED} round ${r}`)) accepted++;
    }
    console.log(`byte-level: ${rounds} files, ${restored} restored, ${accepted} accepted (damage still valid)`);
  }, 600_000);

  it("JSON-level damage: refused with a SnapshotError naming the field, or restored into a machine that runs", async () => {
    const base = await baseSnapshot();
    const good = await decodeSnapshot(base);
    const next = rng(SEED ^ 0x9e3779b9);
    const rounds = 10_000 * SCALE;
    const m = machine();
    let accepted = 0;
    for (let r = 0; r < rounds; r++) {
      const machineRec = structuredClone(good.machine) as Json;
      const state = structuredClone(good.state) as Json;
      mutateJson(r % 8 === 0 ? machineRec : state, next);
      // Straight to the machine (the container's own encoding is the byte-level test's part).
      if (await tryRestore(m, { machine: machineRec, state, sections: good.sections }, `seed ${SEED} round ${r}`)) {
        accepted++;
      }
    }
    console.log(`JSON-level: ${rounds} files, ${accepted} accepted (changes the loaders allow)`);
    // The unmutated file still restores into the machine the fuzz has been hammering.
    expect(await tryRestore(m, base, "the base snapshot")).toBe(true);
  }, 600_000);
});
