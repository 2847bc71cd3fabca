// A sampling profiler for the guest: the machine reports the hart's pc after every chunk of
// instructions (a fixed instruction count, so samples are spread over retired instructions, not host
// time), and this file turns the samples into a table of kernel symbols (from the kernel build's
// System.map) plus user-mode and firmware buckets. `npm run vm -- --guest-profile FILE …`.

import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

/** Instructions per sample: prime, so a loop of fixed length cannot alias with the sampling. */
export const PROFILE_CHUNK = 997;

interface Sym {
  addr: number; // low 32 bits of a kernel address (the kernel lives at 0xffffffff8…)
  name: string;
}

function loadSymbols(path: string | undefined): Sym[] {
  if (path === undefined) return [];
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const syms: Sym[] = [];
  for (const line of text.split("\n")) {
    const [addr, type, name] = line.split(" ");
    if (name === undefined || !/^[tTwW]$/.test(type)) continue;
    if (!addr.startsWith("ffffffff")) continue;
    syms.push({ addr: Number.parseInt(addr.slice(8), 16), name });
  }
  syms.sort((a, b) => a.addr - b.addr);
  return syms;
}

export class GuestProfiler {
  private readonly kernel = new Map<number, number>();
  private user = 0;
  private machine = 0;
  private otherSupervisor = 0;
  private total = 0;

  /** The output, opened (created or emptied) at once: a path it cannot write fails before the guest runs. */
  private readonly fd: number;

  constructor(
    outPath: string,
    private readonly systemMap: string | undefined,
  ) {
    this.fd = openSync(outPath, "w");
  }

  sample = (pcLo: number, pcHi: number, priv: number): void => {
    this.total++;
    if (priv === 3) this.machine++;
    else if (priv === 0) this.user++;
    else if (pcHi === -1) this.kernel.set(pcLo >>> 0, (this.kernel.get(pcLo >>> 0) ?? 0) + 1);
    else this.otherSupervisor++;
  };

  /** Writes the table: one line per bucket, most samples first. */
  write(): void {
    const syms = loadSymbols(this.systemMap);
    const bySym = new Map<string, number>();
    for (const [pc, n] of this.kernel) {
      let lo = 0;
      let hi = syms.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (syms[mid].addr <= pc) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      const name = found >= 0 ? syms[found].name : `0xffffffff${pc.toString(16).padStart(8, "0")}`;
      bySym.set(name, (bySym.get(name) ?? 0) + n);
    }
    bySym.set("[user mode]", this.user);
    bySym.set("[machine mode: OpenSBI]", this.machine);
    if (this.otherSupervisor > 0) bySym.set("[supervisor, outside the kernel image]", this.otherSupervisor);
    const rows = [...bySym].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const pct = (n: number) => ((100 * n) / Math.max(1, this.total)).toFixed(2).padStart(6);
    const lines = [
      `# vireo guest profile: ${this.total} samples, one per ${PROFILE_CHUNK} instructions` +
        (syms.length > 0 ? ` (symbols: ${this.systemMap})` : " (no System.map: raw addresses)"),
      ...rows.map(([name, n]) => `${pct(n)}%  ${String(n).padStart(8)}  ${name}`),
    ];
    const hot = [...this.kernel].sort((a, b) => b[1] - a[1]).slice(0, 30);
    lines.push("", "# hottest kernel addresses (objdump -d vmlinux --start-address=…)");
    for (const [pc, n] of hot)
      lines.push(`${pct(n)}%  ${String(n).padStart(8)}  ffffffff${pc.toString(16).padStart(8, "0")}`);
    writeSync(this.fd, `${lines.join("\n")}\n`);
    closeSync(this.fd);
  }
}
