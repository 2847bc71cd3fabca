// npx tsx guest/debian/boot-time.ts [vireo-mmio] [vireo-pci] [qemu-mmio] [qemu-pci]
//
// Boots the built Debian image (guest/debian/out/) with Debian's default timeouts, one run after the
// other, each a fresh process timed from spawn: vireo's CLI as `npm run vm` runs it, and Debian's
// qemu-system-riscv64 (TCG, -M virt, its default OpenSBI) on the same kernel, initrd, disk and -m.
// For each: seconds from spawn to agetty's login prompt on ttyS0, to the autologin root shell, and to
// `systemctl is-system-running --wait` answering (with its answer), the guest's own `systemd-analyze`
// and /proc/loadavg before and after. Prints a table; writes guest/debian/out/boot-times.json and each
// run's console text to guest/debian/out/console-RUN.log.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  bootCommand,
  type Engine,
  imageBuilt,
  LOGIN_RE,
  loadavg,
  OUT,
  SerialVm,
  SHELL_PROMPT_RE,
  type Transport,
} from "./serial.ts";

interface Result {
  run: string;
  loginS?: number;
  shellS?: number;
  systemdS?: number;
  state?: string;
  failed?: string;
  analyze?: string;
  loadBefore: string;
  loadAfter?: string;
  error?: string;
}

const LIMIT_MS = Number(process.env.BOOT_LIMIT_S ?? 1800) * 1000;

async function measure(engine: Engine, transport: Transport): Promise<Result> {
  const r: Result = { run: `${engine}-${transport}`, loadBefore: loadavg() };
  const [cmd, args] = bootCommand(engine, transport);
  const vm = new SerialVm(cmd, args);
  try {
    await vm.waitFor(LOGIN_RE, LIMIT_MS);
    r.loginS = vm.elapsed();
    await vm.waitFor(SHELL_PROMPT_RE, LIMIT_MS);
    r.shellS = vm.elapsed();
    await vm.run("dmesg -n 1");
    const st = await vm.run("systemctl is-system-running --wait", LIMIT_MS);
    r.systemdS = vm.elapsed();
    r.state = st.out.trim().split("\n").pop();
    if (r.state !== "running")
      r.failed = (await vm.run("systemctl --failed --no-legend --plain --no-pager")).out.trim();
    r.analyze = (await vm.run("systemd-analyze 2>&1 | head -n 2")).out.trim();
  } catch (e) {
    r.error = (e as Error).message;
  } finally {
    r.loadAfter = loadavg();
    vm.kill();
    writeFileSync(join(OUT, `console-${r.run}.log`), vm.text());
  }
  return r;
}

if (!imageBuilt()) {
  console.error("guest/debian/out/ has no image: npm run guest:debian");
  process.exit(1);
}
const wanted = process.argv.slice(2);
const runs = (wanted.length > 0 ? wanted : ["vireo-mmio", "vireo-pci", "qemu-mmio", "qemu-pci"]).map((w) => {
  const [engine, transport] = w.split("-") as [Engine, Transport];
  if (!["vireo", "qemu"].includes(engine) || !["mmio", "pci"].includes(transport)) {
    throw new Error(`unknown run ${w}: vireo-mmio, vireo-pci, qemu-mmio or qemu-pci`);
  }
  return { engine, transport };
});
const results: Result[] = [];
const s = (x?: number) => (x === undefined ? "-" : `${x.toFixed(1)} s`);
for (const { engine, transport } of runs) {
  console.error(`booting ${engine} over ${transport}…`);
  const r = await measure(engine, transport);
  results.push(r);
  console.error(JSON.stringify(r, null, 2));
}
console.log("| run | login prompt | root shell | is-system-running | state | loadavg before → after |");
console.log("|---|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.run} | ${s(r.loginS)} | ${s(r.shellS)} | ${s(r.systemdS)} | ${r.state ?? r.error?.split("\n")[0]} | ${r.loadBefore} → ${r.loadAfter} |`,
  );
}
writeFileSync(
  join(OUT, "boot-times.json"),
  `${JSON.stringify({ when: new Date().toISOString(), results }, null, 2)}\n`,
);
