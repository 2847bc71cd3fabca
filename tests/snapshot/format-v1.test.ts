// Snapshots of format version 1 keep loading (issue 15): a file saved by an earlier build of this version is
// committed here and must restore into today's machine and run. Regenerate it only with a format version bump
// (VIREO_WRITE_FIXTURE=1 npx vitest run tests/snapshot/format-v1.test.ts), never to make this test pass.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryBlockBackend } from "../../devices/virtio-blk/block-backend.ts";
import { CowOverlay } from "../../devices/virtio-blk/cow-overlay.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { loadCoreModule } from "../../src/cli/core-module.ts";
import { SNAPSHOT_VERSION } from "../../src/machine/snapshot-file.ts";
import { VirtMachine } from "../../src/machine/virt.ts";

const FIXTURE = join(import.meta.dirname, "fixtures/v1-small.vireo");

class NamedDisk extends MemoryBlockBackend {
  readonly identity = "format fixture disk";
}

/** A kernel of two instructions: `1: addi x1, x1, 1; j 1b` — a counter the restored hart must go on with. */
const COUNTER = Uint8Array.of(0x93, 0x80, 0x10, 0x00, 0x6f, 0xf0, 0xdf, 0xff);

/** 4 MiB of RAM, the counter as kernel, net/console/rng on MMIO and a disk on PCI with a copy-on-write overlay. */
function machine(kernel?: Uint8Array): VirtMachine {
  const disk = new VirtioBlk(new CowOverlay(new NamedDisk(new Uint8Array(64 << 10), { readOnly: true })), {
    name: "virtio-blk0",
  });
  return new VirtMachine({
    wasmCore: loadCoreModule(),
    memMiB: 4,
    kernel,
    virtio: [{ device: disk, transport: "pci" }],
  });
}

describe("snapshot format version 1", () => {
  it("a committed version 1 file restores into this build and runs", async () => {
    if (process.env.VIREO_WRITE_FIXTURE === "1") {
      const m = machine(COUNTER);
      m.sendVirtioConsoleInput(new TextEncoder().encode("typed ahead"));
      for (let i = 0; i < 5; i++) m.runSlice(0);
      writeFileSync(FIXTURE, await m.saveSnapshot({ fixture: "v1" }));
    }
    expect(SNAPSHOT_VERSION).toBe(1);
    expect(existsSync(FIXTURE)).toBe(true);
    const file = new Uint8Array(readFileSync(FIXTURE));
    const { machine: saved } = await VirtMachine.readSnapshot(file);
    expect(saved.memMiB).toBe(4);
    expect(saved.devices.map((d) => `${d.name}/${d.transport}`)).toEqual([
      "virtio-net0/mmio",
      "virtio-console0/mmio",
      "virtio-rng0/mmio",
      "virtio-blk0/pci",
    ]);
    const m = machine();
    await m.restoreSnapshot(file);
    expect(m.virtio.console?.pendingInput).toBe("typed ahead".length);
    const count = m.hart.getX(1);
    expect(count).toBeGreaterThan(1000n);
    m.runSlice(0);
    expect(m.hart.getX(1)).toBeGreaterThan(count);
  });
});
