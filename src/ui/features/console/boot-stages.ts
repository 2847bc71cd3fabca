// Boot stages read from the serial console, for the progress bar: OpenSBI's banner means the
// firmware runs, "Linux version" the kernel, "Run /init" userspace, and the shell prompt the end (busybox's
// "vireo:/# ", or a root prompt like Debian's "root@debian:~# ").
// Markers may arrive split across console chunks, so a short tail of earlier text is kept.

export type BootStage = "download" | "firmware" | "kernel" | "init" | "prompt";

export const BOOT_STAGES: readonly { stage: BootStage; label: string }[] = [
  { stage: "download", label: "download" },
  { stage: "firmware", label: "firmware" },
  { stage: "kernel", label: "kernel" },
  { stage: "init", label: "init" },
  { stage: "prompt", label: "prompt" },
];

/** Markers in the order they appear in a boot (guest/rootfs/etc/init.d/rcS prints the banner, PS1 the prompt). */
const MARKERS: readonly { stage: BootStage; re: RegExp }[] = [
  { stage: "firmware", re: /OpenSBI v\d/ },
  { stage: "kernel", re: /Linux version \d/ },
  { stage: "init", re: /Run \/init as init process|vireo: boot complete/ },
  { stage: "prompt", re: /vireo:[^#\n]*# |root@[\w.-]+:[^#\n]*# / },
];

export function stageIndex(stage: BootStage): number {
  return BOOT_STAGES.findIndex((s) => s.stage === stage);
}

export class BootStageTracker {
  stage: BootStage = "download";
  private tail = "";
  private readonly decoder = new TextDecoder();

  /** Feeds console bytes; returns the new stage when it advanced, else undefined. */
  feed(bytes: Uint8Array): BootStage | undefined {
    if (this.stage === "prompt") return undefined;
    const text = this.tail + this.decoder.decode(bytes, { stream: true });
    let advanced: BootStage | undefined;
    for (const m of MARKERS) {
      if (stageIndex(m.stage) <= stageIndex(this.stage)) continue;
      if (m.re.test(text)) {
        this.stage = m.stage;
        advanced = m.stage;
      }
    }
    this.tail = text.slice(-128);
    return advanced;
  }

  /** A machine restored from a snapshot: past every stage. */
  restored(): void {
    this.stage = "prompt";
    this.tail = "";
  }

  restart(): void {
    this.stage = "download";
    this.tail = "";
  }
}
