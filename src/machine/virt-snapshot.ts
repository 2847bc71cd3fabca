// What a snapshot of the virt board records about the machine itself (issue 15), and the check that a machine
// being restored is the same one: RAM size, and every virtio device in order with its transport, the feature
// bits it offers and, for a disk, the source it reads. A snapshot is only ever restored into a machine built
// the same way; anything else is refused with a message naming the difference, before any state is loaded.

import type { VirtioDevice } from "../../devices/virtio/virtio-device.ts";
import { CowOverlay } from "../../devices/virtio-blk/cow-overlay.ts";
import { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { WASM_CORE_MAX_MEM_MIB } from "../cpu/wasm-core.ts";
import { list, record, SnapshotError, u64, u64Text, uint } from "./state-check.ts";

export interface SavedDevice {
  name: string;
  deviceId: number;
  transport: string;
  /** Offered features, a u64 as text. */
  features: string;
  /** A disk's source: size and identity (BlockBackend.identity). */
  disk: { size: number; identity: string; readOnly: boolean; overlay: boolean } | null;
}

export interface SavedMachine {
  board: "virt";
  memMiB: number;
  devices: SavedDevice[];
  /** The host's own description (the CLI's disk paths, the page's image choice), opaque to the board. */
  host: unknown;
}

/** A disk as a snapshot sees it; throws when its contents cannot be saved. */
function diskOf(device: VirtioDevice): SavedDevice["disk"] {
  if (!(device instanceof VirtioBlk)) return null;
  const b = device.backend;
  if (b.identity === undefined)
    throw new SnapshotError(`${device.name}: its source cannot be named, so it cannot be saved`);
  if (!(b instanceof CowOverlay) && b.readOnly !== true) {
    throw new SnapshotError(
      `${device.name}: the guest writes its disk in place (writethrough), which a snapshot cannot hold; ` +
        "use a copy-on-write or read-only disk",
    );
  }
  return { size: b.size, identity: b.identity, readOnly: device.readOnly, overlay: b instanceof CowOverlay };
}

export function describeMachine(
  memMiB: number,
  attachments: readonly { device: VirtioDevice; transport: string }[],
  host: unknown,
): SavedMachine {
  return {
    board: "virt",
    memMiB,
    devices: attachments.map(({ device, transport }) => ({
      name: device.name,
      deviceId: device.deviceId,
      transport,
      features: u64Text(device.features),
      disk: diskOf(device),
    })),
    host: host ?? null,
  };
}

/** Reads a snapshot's machine record (the host part unchecked), refusing what is not one. */
export function readSavedMachine(v: unknown): SavedMachine {
  const m = record(v, "machine");
  if (m.board !== "virt") throw new SnapshotError(`machine.board: ${JSON.stringify(m.board)}, not "virt"`);
  const memMiB = uint(m.memMiB, "machine.memMiB", WASM_CORE_MAX_MEM_MIB);
  if (memMiB < 1) throw new SnapshotError("machine.memMiB: 0");
  if (!Array.isArray(m.devices)) throw new SnapshotError("machine.devices: not a list");
  const devices = list(m.devices, "machine.devices", m.devices.length, (x, p) => {
    const d = record(x, p);
    if (typeof d.name !== "string") throw new SnapshotError(`${p}.name: not a string`);
    if (d.transport !== "mmio" && d.transport !== "pci") throw new SnapshotError(`${p}.transport: not mmio or pci`);
    u64(d.features, `${p}.features`);
    let disk: SavedDevice["disk"] = null;
    if (d.disk !== null) {
      const k = record(d.disk, `${p}.disk`);
      if (typeof k.identity !== "string") throw new SnapshotError(`${p}.disk.identity: not a string`);
      if (typeof k.readOnly !== "boolean" || typeof k.overlay !== "boolean") {
        throw new SnapshotError(`${p}.disk: readOnly and overlay must be booleans`);
      }
      disk = {
        size: uint(k.size, `${p}.disk.size`, Number.MAX_SAFE_INTEGER),
        identity: k.identity,
        readOnly: k.readOnly,
        overlay: k.overlay,
      };
    }
    return {
      name: d.name,
      deviceId: uint(d.deviceId, `${p}.deviceId`),
      transport: d.transport,
      features: d.features as string,
      disk,
    };
  });
  return { board: "virt", memMiB, devices, host: m.host ?? null };
}

/** Throws a SnapshotError naming the first difference between the saved machine and this one. */
export function checkSameMachine(saved: SavedMachine, current: SavedMachine): void {
  if (saved.memMiB !== current.memMiB) {
    throw new SnapshotError(`the snapshot has ${saved.memMiB} MiB of RAM, this machine ${current.memMiB} MiB`);
  }
  const names = (ds: SavedDevice[]) => ds.map((d) => `${d.name} (${d.transport})`).join(", ") || "none";
  if (saved.devices.length !== current.devices.length) {
    throw new SnapshotError(
      `the snapshot's virtio devices are ${names(saved.devices)}; this machine's are ${names(current.devices)}`,
    );
  }
  saved.devices.forEach((s, i) => {
    const c = current.devices[i];
    if (s.name !== c.name || s.deviceId !== c.deviceId || s.transport !== c.transport) {
      throw new SnapshotError(
        `virtio device ${i}: the snapshot has ${s.name} (${s.transport}), this machine ${c.name} (${c.transport})`,
      );
    }
    // The guest negotiated a subset of what the saved device offered (the transport's restore checks that this
    // device accepts it): a device that offers more since (virtio-console's F_SIZE) restores; one that no longer
    // offers a saved bit does not.
    const gone = BigInt(s.features) & ~BigInt(c.features);
    if (gone !== 0n) {
      throw new SnapshotError(
        `${s.name}: the saved device offered feature bits this one does not (0x${gone.toString(16)}; 0x${BigInt(s.features).toString(16)} saved, 0x${BigInt(c.features).toString(16)} here)`,
      );
    }
    if ((s.disk === null) !== (c.disk === null))
      throw new SnapshotError(`${s.name}: a disk in one machine, not the other`);
    if (s.disk !== null && c.disk !== null) {
      if (s.disk.size !== c.disk.size || s.disk.identity !== c.disk.identity) {
        throw new SnapshotError(
          `${s.name}: its disk's source changed since the save (saved: ${s.disk.identity}; now: ${c.disk.identity})`,
        );
      }
      if (s.disk.readOnly !== c.disk.readOnly || s.disk.overlay !== c.disk.overlay) {
        throw new SnapshotError(`${s.name}: opened otherwise than at the save (read-only or copy-on-write differs)`);
      }
    }
  });
}
