// The image chooser, in the toolbar's "image:" popover: a select of the presets (src/ui/images.ts) and "custom",
// whose URL form sits below it, above the file pickers. Debian is offered only when the server has it (its manifest answers),
// and otherwise shown disabled with the command that builds it.

import { type FormEvent, useEffect, useState } from "react";
import type { MachineConfig } from "../../../worker/protocol.ts";
import {
  applyCustom,
  applyPreset,
  type CustomImage,
  chosenImage,
  customFields,
  IMAGE_PRESETS,
  type PresetAvailability,
  presetAvailable,
} from "../../images.ts";

interface SelectProps {
  config: MachineConfig;
  onConfig: (config: MachineConfig) => void;
  /** "custom" was picked: the form for its URLs should open. */
  onCustom: () => void;
}

const debian = IMAGE_PRESETS.debian;

export function ImageSelect({ config, onConfig, onCustom }: SelectProps) {
  const [available, setAvailable] = useState<PresetAvailability>("checking");
  const imageBase = config.imageBase;
  useEffect(() => {
    let live = true;
    void presetAvailable(debian, imageBase).then((ok) => {
      if (live) setAvailable(ok ? "available" : "missing");
    });
    return () => {
      live = false;
    };
  }, [imageBase]);
  const chosen = chosenImage(config);
  const debianLabel =
    available === "available"
      ? debian.label
      : available === "checking"
        ? "Debian trixie (looking…)"
        : `Debian: ${debian.build}`;
  return (
    <label
      title={
        available === "missing"
          ? `The Debian image is not on the server: \`${debian.build}\` builds it into guest/debian/out/`
          : "the guest the machine boots (?image=)"
      }
    >
      boot
      <select
        value={chosen}
        aria-label="guest image"
        onChange={(e) => {
          const v = e.target.value;
          if (v === "custom") onCustom();
          else if (v === "busybox" || v === "debian") onConfig(applyPreset(config, v));
        }}
      >
        <option value="busybox">{IMAGE_PRESETS.busybox.label}</option>
        <option value="debian" disabled={available !== "available"}>
          {debianLabel}
        </option>
        <option value="custom">custom URLs…</option>
      </select>
    </label>
  );
}

interface FormProps {
  config: MachineConfig;
  onConfig: (config: MachineConfig) => void;
  /** Set on the kernel field, so picking "custom" can put the keyboard there. */
  kernelRef: React.RefObject<HTMLInputElement | null>;
}

const FIELDS: { key: keyof CustomImage; label: string; hint: string }[] = [
  { key: "kernel", label: "kernel URL", hint: "a RISC-V Image" },
  { key: "initrd", label: "initrd URL", hint: "empty: busybox's initramfs" },
  { key: "disk", label: "disk URL", hint: "empty: no disk; read with range requests" },
  { key: "append", label: "append", hint: "empty: the manifest's command line" },
];

/** The custom entry: kernel, initrd, disk and command line by URL, filled with what boots now. */
export function CustomImageForm({ config, onConfig, kernelRef }: FormProps) {
  const [fields, setFields] = useState<CustomImage>(() => customFields(config));
  const [error, setError] = useState<string | undefined>(undefined);
  // A new configuration (a preset picked, a restore) refills the form with what it boots.
  useEffect(() => {
    setFields(customFields(config));
    setError(undefined);
  }, [config]);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const r = applyCustom(config, fields);
    if ("error" in r) setError(r.error);
    else onConfig(r.config);
  };
  return (
    <form className="custom-image" aria-label="custom image" onSubmit={submit}>
      {FIELDS.map(({ key, label, hint }) => (
        <label key={key}>
          {label}
          <input
            ref={key === "kernel" ? kernelRef : undefined}
            type="text"
            inputMode="url"
            spellCheck={false}
            placeholder={hint}
            value={fields[key]}
            onChange={(e) => setFields({ ...fields, [key]: e.target.value })}
          />
        </label>
      ))}
      <button type="submit">Boot these</button>
      {error !== undefined && (
        <p className="hint" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
