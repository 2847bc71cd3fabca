// Save and restore a running machine (issue 15): the committed image booted to its shell prompt, saved,
// restored into a fresh machine built the same way (without boot images), and used there — over MMIO and PCI,
// with a disk written before the save, hvc0 open, and two saves from one run.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryBlockBackend } from "../../devices/virtio-blk/block-backend.ts";
import { CowOverlay } from "../../devices/virtio-blk/cow-overlay.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { consoleText, PROMPT_RE } from "../../src/cli/console-text.ts";
import { loadCoreModule } from "../../src/cli/core-module.ts";
import { VirtMachine, type VirtMachineOptions } from "../../src/machine/virt.ts";

const IMAGES = join(import.meta.dirname, "../../public/images");
const image = (name: string) => new Uint8Array(readFileSync(join(IMAGES, name)));

/** A disk image whose source is named (a snapshot needs that) under a copy-on-write overlay. */
class NamedDisk extends MemoryBlockBackend {
  readonly identity = "test disk 1";
}

interface Rig {
  m: VirtMachine;
  out: string[];
  hvc: string[];
}

function build(transport: "mmio" | "pci", boot: boolean): Rig {
  const out: string[] = [];
  const hvc: string[] = [];
  const disk = new VirtioBlk(new CowOverlay(new NamedDisk(new Uint8Array(4 << 20), { readOnly: true })), {
    name: "virtio-blk0",
  });
  const opts: VirtMachineOptions = {
    wasmCore: loadCoreModule(),
    virtioTransport: transport,
    virtio: [{ device: disk }],
    onConsoleOutput: (b) => out.push(Buffer.from(b).toString("latin1")),
    onVirtioConsoleOutput: (b) => hvc.push(Buffer.from(b).toString("latin1")),
  };
  if (boot) {
    opts.firmware = image("fw_dynamic.bin");
    opts.kernel = image("Image");
    opts.initrd = image("initramfs.cpio");
  }
  return { m: new VirtMachine(opts), out, hvc };
}

async function runUntil(r: Rig, done: (text: string) => boolean, ms = 60_000): Promise<string> {
  const end = performance.now() + ms;
  for (;;) {
    const text = consoleText(r.out.join(""));
    if (done(text)) return text;
    if (performance.now() > end) throw new Error(`timed out; console ends: ${JSON.stringify(text.slice(-300))}`);
    const st = r.m.runSlice(20);
    if (st === "poweroff" || st === "reset") throw new Error(`machine stopped: ${st}`);
    if (st === "waiting") await new Promise((res) => setTimeout(res, 1));
  }
}

async function command(r: Rig, cmd: string, marker: string): Promise<string> {
  const from = r.out.join("").length;
  r.m.sendConsoleInput(new TextEncoder().encode(`${cmd}\n`));
  const since = () => consoleText(r.out.join("").slice(from));
  await runUntil(r, () => since().includes(marker) && PROMPT_RE.test(since().slice(-200)));
  return since();
}

describe.each(["mmio", "pci"] as const)("snapshots of the committed image over %s", (transport) => {
  it("saves at the prompt and restores into a fresh machine that goes on working", async () => {
    const a = build(transport, true);
    await runUntil(a, (t) => PROMPT_RE.test(t.slice(-200)));
    await command(
      a,
      "echo before-save > /tmp/f; dd if=/dev/urandom of=/dev/vda bs=4096 count=64 2>/dev/null; sync; md5sum /dev/vda | cut -c1-32 > /tmp/sum; echo done-$((6*7))",
      "done-42",
    );
    const snap = await a.m.saveSnapshot();
    expect(snap.length).toBeLessThanOrEqual(16 << 20);

    const b = build(transport, false);
    await b.m.restoreSnapshot(snap);
    if (transport === "mmio") {
      // virtio-net (MMIO slot 0: PLIC source 1) told its driver the link changed while it loaded: that
      // interrupt must survive the PLIC's own restore, or the guest never hears of it.
      expect((b.m.plic.saveState().level[0]! >>> 1) & 1).toBe(1);
      expect((b.m.plic.saveState().pending[0]! >>> 1) & 1).toBe(1);
    }
    const text = await command(
      b,
      "cat /tmp/f; md5sum /dev/vda | cut -c1-32 | cmp - /tmp/sum && echo disk-same-$((6*7))",
      "disk-same-42",
    );
    expect(text).toContain("before-save");
    // The source machine goes on too, unaffected by the save.
    const again = await command(a, "echo still-$((2+2))", "still-4");
    expect(again).toContain("still-4");
  }, 120_000);
});

describe.each(["mmio", "pci"] as const)("snapshots with hvc0 open, twice from one run (%s)", (transport) => {
  it("hvc0 carries data both ways after a restore; each of two saves restores its own instant", async () => {
    const a = build(transport, true);
    await runUntil(a, (t) => PROMPT_RE.test(t.slice(-200)));
    // A reader holds hvc0 open (the port is open to the device), and the guest has written to it.
    await command(
      a,
      "cat /dev/hvc0 > /tmp/hvc-in & sleep 0.2; echo guest-to-host-1 > /dev/hvc0; echo first > /tmp/one; echo ok-$((1+1))",
      "ok-2",
    );
    expect(a.hvc.join("")).toContain("guest-to-host-1");
    const first = await a.m.saveSnapshot();
    await command(a, "echo second > /tmp/two; echo ok-$((2+2))", "ok-4");
    const second = await a.m.saveSnapshot();

    const b = build(transport, false);
    await b.m.restoreSnapshot(second);
    b.m.sendVirtioConsoleInput(new TextEncoder().encode("host-to-guest-after-restore\n"));
    const text = await command(
      b,
      "sleep 0.3; cat /tmp/hvc-in; cat /tmp/one /tmp/two; echo guest-to-host-2 > /dev/hvc0; echo ok-$((3+3))",
      "ok-6",
    );
    expect(text).toContain("host-to-guest-after-restore");
    expect(text).toMatch(/first\r?\nsecond/);
    expect(b.hvc.join("")).toContain("guest-to-host-2");

    const c = build(transport, false);
    await c.m.restoreSnapshot(first);
    const early = await command(c, "cat /tmp/one; ls /tmp/two 2>&1; echo ok-$((4+4))", "ok-8");
    expect(early).toContain("first");
    expect(early).toMatch(/\/tmp\/two: No such file/);
  }, 120_000);
});
