// Run controls and the machine configuration. Changing the configuration reboots with it and writes
// it into the URL (app.tsx), so the address bar always reproduces what runs.

import { type ChangeEvent, memo, useEffect, useRef, useState } from "react";
import {
  type ImageSources,
  type MachineConfig,
  type MachinePhase,
  MEM_CHOICES_MIB,
  type NetBackendKind,
  type VirtioTransportKind,
} from "../../../worker/protocol.ts";
import { chosenImage, type ImagePresetName } from "../../images.ts";
import { diskKept, forgetDisk, keepDisk } from "../../kept-disk.ts";
import type { MachineClient } from "../../machine-client.ts";
import type { RunButtons } from "../status/machine-state.ts";
import { DiskCache } from "./disk-cache.tsx";
import { CustomImageForm, ImageSelect } from "./image-chooser.tsx";

interface Props {
  client: MachineClient;
  phase: MachinePhase;
  /** Which run buttons show and work, from the page's MachineState. */
  buttons: RunButtons;
  config: MachineConfig;
  onConfig: (config: MachineConfig) => void;
  /** Save: download the running machine as a .vireo file. */
  onSave: () => void;
  /** Restore: start from a picked .vireo file. */
  onRestore: (file: File) => void;
  /** "keep this machine" (the tab's last state in IndexedDB, offered again at the next load). */
  keep: boolean;
  onKeep: (on: boolean) => void;
  /** When the kept state was last saved (ms). */
  keptAt: number | undefined;
  /** Why the last keep failed. */
  keepNote: string | undefined;
}

const NET_LABELS: Record<NetBackendKind, string> = {
  stack: "in-page stack (relay)",
  fetch: "fetch only",
  relay: "L2 relay",
  tab: "tab ↔ tab",
  none: "none",
};

/** The popover's summary names what boots. */
const IMAGE_SHORT: Record<ImagePresetName | "custom", string> = {
  busybox: "busybox",
  debian: "Debian",
  custom: "custom",
};

const IMAGE_ROLES: { role: keyof ImageSources; label: string }[] = [
  { role: "kernel", label: "kernel" },
  { role: "initrd", label: "initrd" },
  { role: "firmware", label: "firmware" },
];

export const Controls = memo(function Controls({
  client,
  phase,
  buttons,
  config,
  onConfig,
  onSave,
  onRestore,
  keep,
  onKeep,
  keptAt,
  keepNote,
}: Props) {
  const snapshotInput = useRef<HTMLInputElement>(null);
  const imagesPopover = useRef<HTMLDetailsElement>(null);
  const customKernel = useRef<HTMLInputElement>(null);
  // "custom URLs…" in the image select: the keyboard goes to the kernel's URL in the form below it.
  const openCustom = (): void => {
    if (imagesPopover.current !== null) imagesPopover.current.open = true;
    customKernel.current?.focus();
  };
  const live = phase === "running" || phase === "paused";
  const memChoices = (MEM_CHOICES_MIB as readonly number[]).includes(config.memMiB)
    ? MEM_CHOICES_MIB
    : [...MEM_CHOICES_MIB, config.memMiB].sort((a, b) => a - b);

  const pickImage = (role: keyof ImageSources) => async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file === undefined) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    onConfig({ ...config, files: { ...config.files, [role]: bytes } });
  };

  // Kept as a File: the worker reads the slices the guest asks for, never the whole image. On request it is
  // kept in this browser too (kept-disk.ts), and main.tsx attaches it again at the next load.
  const [keepDiskOn, setKeepDiskOn] = useState(() => diskKept());
  const [keepDiskNote, setKeepDiskNote] = useState<string | undefined>(undefined);
  const storeDisk = (file: File): void => {
    setKeepDiskNote(undefined);
    keepDisk(file).catch((err: unknown) => {
      setKeepDiskOn(false);
      setKeepDiskNote(`not kept: ${(err as Error)?.message ?? err}`);
    });
  };
  const pickDisk = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    if (file === undefined) return;
    if (keepDiskOn) storeDisk(file);
    onConfig({ ...config, diskFiles: [file] });
  };
  const diskFile = config.diskFiles?.[0];
  // No picked disk any more (removed, another image chosen, or the browser lost the kept one): nothing is kept.
  useEffect(() => {
    if (diskFile !== undefined || !keepDiskOn) return;
    setKeepDiskOn(false);
    void forgetDisk();
  }, [diskFile, keepDiskOn]);
  const toggleKeepDisk = (on: boolean): void => {
    setKeepDiskOn(on);
    if (on && diskFile !== undefined) storeDisk(diskFile);
    if (!on) void forgetDisk();
  };

  return (
    <div className="controls" role="toolbar" aria-label="machine controls">
      <div className="control-group">
        {buttons.pause === "resume" ? (
          <button type="button" onClick={() => client.resume()}>
            Resume
          </button>
        ) : (
          <button type="button" onClick={() => client.pause()} disabled={buttons.pause === "disabled"}>
            Pause
          </button>
        )}
        <button type="button" onClick={() => client.reset()} disabled={!buttons.reset}>
          Reset
        </button>
        {buttons.power === "off" ? (
          <button type="button" onClick={() => client.powerOff()}>
            Power off
          </button>
        ) : (
          <button type="button" onClick={() => onConfig(config)} disabled={buttons.power === "on-disabled"}>
            Power on
          </button>
        )}
      </div>
      <div className="control-group">
        <label>
          memory
          <select
            value={config.memMiB}
            onChange={(e) => onConfig({ ...config, memMiB: Number(e.target.value) })}
            aria-label="guest memory (MiB)"
          >
            {memChoices.map((m) => (
              <option key={m} value={m}>
                {m} MiB
              </option>
            ))}
          </select>
        </label>
        <label>
          virtio
          <select
            value={config.transport}
            onChange={(e) => onConfig({ ...config, transport: e.target.value as VirtioTransportKind })}
            aria-label="virtio transport"
          >
            <option value="mmio">MMIO</option>
            <option value="pci">PCI</option>
          </select>
        </label>
        <label>
          network
          <select
            value={config.net}
            onChange={(e) => onConfig({ ...config, net: e.target.value as NetBackendKind })}
            aria-label="network backend"
          >
            {(Object.keys(NET_LABELS) as NetBackendKind[]).map((n) => (
              <option key={n} value={n}>
                {NET_LABELS[n]}
              </option>
            ))}
          </select>
        </label>
      </div>
      <details className="control-group snapshots">
        <summary>snapshot…</summary>
        <button type="button" onClick={onSave} disabled={!live} title="download the running machine as a .vireo file">
          Save
        </button>
        <button
          type="button"
          onClick={() => snapshotInput.current?.click()}
          title="start from a .vireo snapshot (or drop one on the console)"
        >
          Restore…
        </button>
        <input
          ref={snapshotInput}
          type="file"
          accept=".vireo"
          hidden
          aria-label="snapshot file to restore"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = "";
            if (file !== undefined) onRestore(file);
          }}
        />
        <label title="keep the machine's last state in this browser and offer to resume it at the next visit">
          <input type="checkbox" checked={keep} onChange={(e) => onKeep(e.target.checked)} />
          keep this machine
        </label>
        <span
          className="kept"
          data-kept-at={keptAt}
          title={keepNote ?? (keptAt !== undefined ? new Date(keptAt).toLocaleString() : undefined)}
        >
          {keep
            ? keepNote !== undefined
              ? keepNote
              : keptAt !== undefined
                ? `kept at ${new Date(keptAt).toLocaleTimeString()}`
                : "keeping…"
            : ""}
        </span>
        <p className="hint">
          Or drop a <code>.vireo</code> file on the console, or start from one with <code>?snapshot=URL</code>
        </p>
      </details>
      {/* The image chooser is this popover: the toolbar has no room for its long option names at 1280 px. */}
      <details className="control-group images" ref={imagesPopover}>
        <summary>image: {IMAGE_SHORT[chosenImage(config)]}…</summary>
        <ImageSelect config={config} onConfig={onConfig} onCustom={openCustom} />
        <CustomImageForm config={config} onConfig={onConfig} kernelRef={customKernel} />
        {IMAGE_ROLES.map(({ role, label }) => (
          <label key={role}>
            {label}
            <input type="file" onChange={pickImage(role)} aria-label={`${label} file`} />
            {config.files?.[role] !== undefined && <span className="picked">{config.files[role].length} bytes</span>}
          </label>
        ))}
        <label>
          disk image
          <input type="file" onChange={pickDisk} aria-label="disk image file" />
          {diskFile !== undefined && (
            <span className="picked">
              {diskFile.name}, {diskFile.size} bytes{" "}
              <button
                type="button"
                onClick={() => onConfig({ ...config, diskFiles: undefined })}
                aria-label="remove disk image"
              >
                ×
              </button>
            </span>
          )}
        </label>
        {diskFile !== undefined && (
          <label title="keep the picked disk image in this browser and attach it again when the page is reloaded">
            <input type="checkbox" checked={keepDiskOn} onChange={(e) => toggleKeepDisk(e.target.checked)} />
            keep the disk after reload
            {keepDiskNote !== undefined && <span className="picked">{keepDiskNote}</span>}
          </label>
        )}
        <DiskCache />
        <p className="hint">
          In the address bar: <code>?image=debian</code>,{" "}
          <code>?kernel=…&amp;initrd=…&amp;bios=…&amp;append=…&amp;disk=…</code> (a disk URL is read with HTTP range
          requests; guest writes stay in memory)
        </p>
      </details>
    </div>
  );
});
