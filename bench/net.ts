// Guest-to-guest TCP throughput over the loopback backend (issue 5): two vireo machines in this process,
// `nc -e cat` moving a file from one to the other, once with every offload and once with TSO, checksum offload
// and merged receive buffers switched off. Host wall time of the transfer, measured around the command.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseNetFeatures } from "../devices/virtio-net/net-features.ts";
import { MachinePair } from "../src/testing/machine-pair.ts";

export const NET_OFFLOADS_OFF = "-CSUM,-GUEST_CSUM,-MRG_RXBUF";
const MIB = Number(process.env.BENCH_NET_MIB ?? 16);

export interface NetFigures {
  label: string;
  features: string;
  mib: number;
  seconds: number;
  mibPerSecond: number;
  txSuperpackets: number;
  rxSuperpackets: number;
}

/** A booted pair with one configuration, its file written, ready for transfers. */
interface Rig {
  label: string;
  features: string;
  pair: MachinePair;
  transfers: number;
}

async function rig(images: string, label: string, features: string): Promise<Rig> {
  const f = parseNetFeatures(features);
  if (!f.ok) throw new Error(f.error);
  const img = (n: string) => new Uint8Array(readFileSync(join(images, n)));
  const p = new MachinePair(
    { firmware: img("fw_dynamic.bin"), kernel: img("Image"), initrd: img("initramfs.cpio"), bootargs: "console=ttyS0" },
    { features: f.features },
  );
  await p.boot();
  await p.exec(p.a, "ip addr add 10.0.0.1/24 dev eth0; ip link set eth0 up");
  await p.exec(p.b, "ip addr add 10.0.0.2/24 dev eth0; ip link set eth0 up");
  await p.exec(p.a, `dd if=/dev/zero of=/tmp/f bs=1M count=${MIB} 2>/dev/null; ping -c 1 -W 5 10.0.0.2`, 300_000);
  return { label, features: features || "(all offered)", pair: p, transfers: 0 };
}

/** One timed transfer of the file from a to b. */
async function transfer(r: Rig): Promise<NetFigures> {
  const p = r.pair;
  const k = ++r.transfers;
  const tx0 = p.a.net.counters.txSuperpackets;
  const rx0 = p.b.net.counters.rxSuperpackets;
  const bytes0 = p.b.net.counters.rxBytes;
  // The receiver reads in 64 KiB steps too (dd behind nc -e), so syscalls do not hide the network, and
  // prints a marker (that the shell's echo of the command cannot contain) once everything arrived.
  p.b.type(`nc -l -p 5000 -e dd of=/dev/null bs=64k 2>/dev/null; echo rx-$((40+${k}))-done\n`);
  await p.exec(p.a, "sleep 1");
  // cat behind nc -e writes the socket with sendfile in 64 KiB steps, so TCP can build TSO superpackets
  // (nc itself copies through a small buffer). The clock stops when the receiver has it all.
  const done = new RegExp(`rx-${40 + k}-done`);
  const t0 = performance.now();
  p.a.type("nc 10.0.0.2 5000 -e cat /tmp/f\n");
  await p.runUntil(() => p.b.take(done) !== undefined, 900_000, "the receiver");
  const seconds = (performance.now() - t0) / 1000;
  if (p.b.net.counters.rxBytes - bytes0 < MIB * 1048576) throw new Error("the receiver got less than was sent");
  return {
    label: r.label,
    features: r.features,
    mib: MIB,
    seconds,
    mibPerSecond: MIB / seconds,
    txSuperpackets: p.a.net.counters.txSuperpackets - tx0,
    rxSuperpackets: p.b.net.counters.rxSuperpackets - rx0,
  };
}

const RUNS = Number(process.env.BENCH_NET_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Boots one pair with every offload and one with them off, warms each up with one untimed transfer
 * (Linux's first connect fills a 256 KiB port table, TCP starts in slow start, caches are cold), then
 * times RUNS transfers on each, alternating (on, off, off, on, on, off, …), and returns a markdown
 * section for bench/results.md with the medians and every run: one transfer is noisy (guest time is
 * host time, so a busier host also changes TCP's pacing and TSO sizes in the guests).
 */
export async function netBench(images: string): Promise<{ figures: NetFigures[]; markdown: string }> {
  const onRig = await rig(images, "offloads on", "");
  const offRig = await rig(images, "offloads off", NET_OFFLOADS_OFF);
  await transfer(onRig);
  await transfer(offRig);
  const ons: NetFigures[] = [];
  const offs: NetFigures[] = [];
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? ["on", "off"] : ["off", "on"];
    for (const k of order) {
      if (k === "on") ons.push(await transfer(onRig));
      else offs.push(await transfer(offRig));
    }
  }
  const pick = (runs: NetFigures[]): NetFigures => {
    const m = median(runs.map((r) => r.seconds));
    return runs.find((r) => r.seconds === m) ?? runs[0];
  };
  const on = pick(ons);
  const off = pick(offs);
  const rows = [on, off]
    .map(
      (x) =>
        `| ${x.label} | \`${x.features}\` | ${x.seconds.toFixed(2)} s | ${x.mibPerSecond.toFixed(2)} MiB/s | ${x.txSuperpackets} / ${x.rxSuperpackets} |`,
    )
    .join("\n");
  const each = (runs: NetFigures[]) => runs.map((r) => r.seconds.toFixed(2)).join(", ");
  const markdown = `## Guest-to-guest TCP over the loopback backend (issue 5)

Two vireo machines in one Node process, virtio-net back to back; \`nc HOST PORT -e cat FILE\` moves ${MIB} MiB from one guest to
the other. One pair boots with every offload, one with them off; each moves the file once untimed (warm-up), then ${RUNS}
timed times, the two pairs alternating. Host wall time of each transfer; medians.

| run | --net-features | time | throughput | superpackets tx / rx |
|---|---|---:|---:|---:|
${rows}

Offloads on / off: ${(on.mibPerSecond / off.mibPerSecond).toFixed(2)}× (target ≥ 4×). Every run (s): on ${each(ons)}; off ${each(offs)}.
`;
  return { figures: [on, off], markdown };
}
