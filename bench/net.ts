// Guest-to-guest TCP throughput over the loopback backend (issue 5): two vireo machines in this process,
// `nc -e cat` moving a file from one to the other, once with every offload and once with TSO, checksum offload
// and merged receive buffers switched off. Host wall time of the transfer, measured around the command.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseNetFeatures } from "../devices/virtio-net/net-features.ts";
import { loadCoreModule } from "../src/cli/core-module.ts";
import { MachinePair } from "../src/testing/machine-pair.ts";

export const NET_OFFLOADS_OFF = "-CSUM,-GUEST_CSUM,-MRG_RXBUF";
const MIB = Number(process.env.BENCH_NET_MIB ?? 16);
/** The small transfer whose time (starting nc and cat, connecting, closing) is subtracted out. */
const SMALL_MIB = 1;

export interface NetFigures {
  label: string;
  features: string;
  mib: number;
  seconds: number;
  mibPerSecond: number;
  txSuperpackets: number;
  rxSuperpackets: number;
  /** Data-phase throughput: (MIB − SMALL_MIB) over the difference of the two transfer times (median). */
  steadyMibPerSecond?: number;
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
    { features: f.features, wasmCore: loadCoreModule() },
  );
  await p.boot();
  await p.exec(p.a, "ip addr add 10.0.0.1/24 dev eth0; ip link set eth0 up");
  await p.exec(p.b, "ip addr add 10.0.0.2/24 dev eth0; ip link set eth0 up");
  await p.exec(
    p.a,
    `dd if=/dev/zero of=/tmp/f bs=1M count=${MIB} 2>/dev/null; dd if=/dev/zero of=/tmp/s bs=1M count=${SMALL_MIB} 2>/dev/null; ping -c 1 -W 5 10.0.0.2`,
    300_000,
  );
  return { label, features: features || "(all offered)", pair: p, transfers: 0 };
}

/** One timed transfer of `file` (`mib` MiB) from a to b. */
async function transfer(r: Rig, file = "/tmp/f", mib = MIB): Promise<NetFigures> {
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
  p.a.type(`nc 10.0.0.2 5000 -e cat ${file}\n`);
  await p.runUntil(() => p.b.take(done) !== undefined, 900_000, "the receiver");
  const seconds = (performance.now() - t0) / 1000;
  if (p.b.net.counters.rxBytes - bytes0 < mib * 1048576) throw new Error("the receiver got less than was sent");
  return {
    label: r.label,
    features: r.features,
    mib,
    seconds,
    mibPerSecond: mib / seconds,
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
  const onSteady: number[] = [];
  const offSteady: number[] = [];
  const onSmall: number[] = [];
  const offSmall: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? ["on", "off"] : ["off", "on"];
    for (const k of order) {
      const r = k === "on" ? onRig : offRig;
      const small = await transfer(r, "/tmp/s", SMALL_MIB);
      const big = await transfer(r, "/tmp/f", MIB);
      // Throughput of the data phase: the fixed part of a transfer (the shells start nc, nc starts cat
      // and dd, connect, close) is in both timings and cancels.
      const steady = (MIB - SMALL_MIB) / Math.max(1e-3, big.seconds - small.seconds);
      (k === "on" ? ons : offs).push(big);
      (k === "on" ? onSteady : offSteady).push(steady);
      (k === "on" ? onSmall : offSmall).push(small.seconds);
    }
  }
  const pick = (runs: NetFigures[]): NetFigures => {
    const m = median(runs.map((r) => r.seconds));
    return runs.find((r) => r.seconds === m) ?? runs[0];
  };
  const on = pick(ons);
  const off = pick(offs);
  on.steadyMibPerSecond = median(onSteady);
  off.steadyMibPerSecond = median(offSteady);
  const rows = [on, off]
    .map(
      (x) =>
        `| ${x.label} | \`${x.features}\` | ${x.seconds.toFixed(2)} s | ${x.mibPerSecond.toFixed(2)} MiB/s | ${(x.steadyMibPerSecond ?? 0).toFixed(2)} MiB/s | ${x.txSuperpackets} / ${x.rxSuperpackets} |`,
    )
    .join("\n");
  const each = (runs: NetFigures[]) => runs.map((r) => r.seconds.toFixed(2)).join(", ");
  const eachN = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(", ");
  const steadyRatio = (on.steadyMibPerSecond ?? 0) / (off.steadyMibPerSecond ?? 1);
  const markdown = `## Guest-to-guest TCP over the loopback backend (issue 5)

Two vireo machines in one Node process (the WebAssembly core with its block compiler), virtio-net back to back; \`nc HOST PORT -e cat FILE\` moves a file from one guest to
the other. One pair boots with every offload, one with them off; each moves the ${MIB} MiB file once untimed (warm-up), then
${RUNS} times it moves a ${SMALL_MIB} MiB file and the ${MIB} MiB file, the two pairs alternating. Host wall time of each transfer,
from typing the command to the receiver's shell printing its marker. "End to end" is ${MIB} MiB over that time, so it includes
what does not depend on the size: the shells start \`nc\`, \`nc\` starts \`cat\` and \`dd\`, TCP connects and closes
(${SMALL_MIB} MiB takes ${median(onSmall).toFixed(2)} s with offloads, ${median(offSmall).toFixed(2)} s without). "TCP throughput" is the data phase alone:
${MIB - SMALL_MIB} MiB over the difference of the two times. Medians.

| run | --net-features | ${MIB} MiB time | end to end | TCP throughput | superpackets tx / rx |
|---|---|---:|---:|---:|---:|
${rows}

Offloads on / off, TCP throughput: **${steadyRatio.toFixed(2)}×** (target ≥ 4×); end to end ${(on.mibPerSecond / off.mibPerSecond).toFixed(2)}×.
Every run: ${MIB} MiB (s) on ${each(ons)}; off ${each(offs)}. TCP throughput (MiB/s) on ${eachN(onSteady)}; off ${eachN(offSteady)}.
`;
  return { figures: [on, off], markdown };
}
