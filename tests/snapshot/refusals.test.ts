// Hostile or mismatched snapshots are refused before anything runs, with a message naming what is wrong
// (issue 15, "Bad input"): another format version, a machine with another RAM size or other devices, queue
// indices beyond the queue, rings outside RAM, features the device never offered.

import { describe, expect, it } from "vitest";
import { loadCoreModule } from "../../src/cli/core-module.ts";
import type { MmioDevice } from "../../src/core/bus.ts";
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_VERSION } from "../../src/machine/snapshot-file.ts";
import { SnapshotError } from "../../src/machine/state-check.ts";
import { VirtMachine } from "../../src/machine/virt.ts";
import { VIRT_VIRTIO_BASE, VIRT_VIRTIO_SIZE } from "../../src/machine/virt-dt.ts";
import { GuestAllocator, MmioDriver } from "../../src/testing/virtio-driver.ts";

function machine(memMiB = 4, defaultVirtio = true): VirtMachine {
  return new VirtMachine({ wasmCore: loadCoreModule(), memMiB, defaultVirtio });
}

/** A 4 MiB machine whose virtio-console (MMIO slot 1) a test driver brought up, saved. */
async function liveSnapshot(): Promise<Uint8Array> {
  const m = machine();
  const base = VIRT_VIRTIO_BASE + VIRT_VIRTIO_SIZE;
  const window: MmioDevice = {
    read: (off, size) => m.bus.read(base + off, size) ?? 0,
    write: (off, size, v) => void m.bus.write(base + off, size, v),
  };
  const drv = new MmioDriver(window, m.mem, new GuestAllocator(m.mem, m.mem.base + 0x100000), 8192);
  expect(drv.init((offered) => offered, [8, 8, 8, 8])).toBe(true);
  m.runSlice(0);
  return m.saveSnapshot();
}

type Json = Record<string, unknown>;

/** The snapshot with its state (or machine record) edited, re-encoded with a valid checksum. */
async function edited(file: Uint8Array, edit: (state: Json, machineRec: Json) => void): Promise<Uint8Array> {
  const c = await decodeSnapshot(file);
  const state = structuredClone(c.state) as Json;
  const machineRec = structuredClone(c.machine) as Json;
  edit(state, machineRec);
  return encodeSnapshot({ machine: machineRec, state, sections: c.sections });
}

/** The console's transport state in the saved state (MMIO slot 1: net, console, rng). */
function consoleCore(state: Json): { queues: Json[]; negotiated: string; driverFeatures: string } {
  return ((state.virtioMmio as Json[])[1] as Json).core as never;
}

async function refused(file: Uint8Array, into: VirtMachine = machine()): Promise<string> {
  try {
    await into.restoreSnapshot(file);
  } catch (e) {
    expect(e).toBeInstanceOf(SnapshotError);
    return (e as Error).message;
  }
  throw new Error("the snapshot was accepted");
}

describe("snapshots that must be refused", () => {
  it("the live base snapshot itself restores (so the refusals below are the edits')", async () => {
    const file = await liveSnapshot();
    const m = machine();
    await m.restoreSnapshot(file);
    const q = m.virtioSnapshot().find((t) => t.name === "virtio-console0")?.queues;
    expect(q?.every((x) => x.ready)).toBe(true);
  });

  it("another format version, by number", async () => {
    const file = (await liveSnapshot()).slice();
    new DataView(file.buffer).setUint32(8, SNAPSHOT_VERSION + 1, true);
    expect(await refused(file)).toMatch(`format version ${SNAPSHOT_VERSION + 1}, this build reads version 1`);
  });

  it("a machine with another RAM size or other devices", async () => {
    const file = await liveSnapshot();
    expect(await refused(file, machine(8))).toMatch("the snapshot has 4 MiB of RAM, this machine 8 MiB");
    expect(await refused(file, machine(4, false))).toMatch(
      /virtio devices are virtio-net0 \(mmio\), virtio-console0 \(mmio\), virtio-rng0 \(mmio\); this machine's are none/,
    );
  });

  it("queue positions beyond the queue, rings outside RAM or misaligned, features never offered", async () => {
    const file = await liveSnapshot();
    const cases: [string, (s: Json, m: Json) => void, RegExp][] = [
      [
        "lastAvail beyond the queue",
        (s) => void (consoleCore(s).queues[0].lastAvail = 100),
        /virtioMmio\[1\]\.core\.queues\[0\]\.lastAvail: 100 is more than the queue's size past used\.idx/,
      ],
      [
        "used index not the ring's",
        (s) => void (consoleCore(s).queues[1].usedIdx = 7),
        /queues\[1\]\.usedIdx: 7, but the ring in RAM says 0/,
      ],
      [
        "descriptor table outside RAM",
        (s) => void (consoleCore(s).queues[0].desc = 0x90000000),
        /queues\[0\]: rings outside RAM/,
      ],
      [
        "misaligned ring",
        (s) => void (consoleCore(s).queues[0].desc = (consoleCore(s).queues[0].desc as number) + 8),
        /queues\[0\]: rings misaligned/,
      ],
      [
        "size not a power of 2",
        (s) => void (consoleCore(s).queues[0].size = 6),
        /queues\[0\]\.size: 6 is not a power of 2/,
      ],
      [
        "features never offered",
        (s) => {
          const c = consoleCore(s);
          c.negotiated = c.driverFeatures = String(BigInt(c.negotiated) | (1n << 50n));
        },
        /virtioMmio\[1\]\.core\.negotiated: features this device does not offer or accept/,
      ],
      ["hart section missing", () => {}, /no "hart" section/],
    ];
    for (const [name, edit, why] of cases) {
      let bad = await edited(file, edit);
      if (name === "hart section missing") {
        const c = await decodeSnapshot(file);
        c.sections.delete("hart");
        bad = await encodeSnapshot(c);
      }
      expect(await refused(bad), name).toMatch(why);
    }
  });
});
