// Finds the first instruction where vireo and QEMU part ways.
//
//   qemu-system-riscv64 … -singlestep -d exec,cpu,nochain -D qemu.log
//   npm run vm -- … --trace vireo.trace
//   npm run trace-diff -- qemu.log vireo.trace
//
// QEMU logs the whole register file *before* each single-instruction block; vireo logs one line per
// retired instruction ("pc insn [xN=value]") and "trap …" lines. The two are walked in step: pc k must
// match, and vireo's written register after step k must equal QEMU's value before step k+1. Both files
// are streamed, so multi-gigabyte QEMU logs are fine.

import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

interface QemuState {
  pc: bigint;
  x: bigint[];
}

async function* qemuStates(path: string): AsyncGenerator<QemuState> {
  let cur: QemuState | undefined;
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    if (line.startsWith("Trace ")) {
      if (cur) yield cur;
      cur = { pc: 0n, x: new Array<bigint>(32).fill(0n) };
      continue;
    }
    if (!cur) continue;
    const t = line.trim();
    if (t.startsWith("pc ")) cur.pc = BigInt(`0x${t.split(/\s+/)[1]}`);
    else if (t.startsWith("x")) {
      for (const m of t.matchAll(/x(\d+)\/\S+\s+([0-9a-f]{16})/g)) cur.x[Number(m[1])] = BigInt(`0x${m[2]}`);
    }
  }
  if (cur) yield cur;
}

interface VireoStep {
  pc: bigint;
  insn: string;
  rd?: number;
  value?: bigint;
  line: string;
}

async function* vireoSteps(path: string): AsyncGenerator<VireoStep> {
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    const m = /^(0x[0-9a-f]+) ([0-9a-f]{8})(?: x(\d+)=(0x[0-9a-f]+))?/.exec(line);
    if (!m) continue; // trap lines: QEMU shows the handler's first instruction as the next state
    yield {
      pc: BigInt(m[1]),
      insn: m[2],
      rd: m[3] ? Number(m[3]) : undefined,
      value: m[4] ? BigInt(m[4]) : undefined,
      line,
    };
  }
}

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, "0")}`;

async function main(): Promise<number> {
  const [qemuPath, vireoPath] = process.argv.slice(2);
  if (!qemuPath || !vireoPath) {
    console.error("usage: npm run trace-diff -- QEMU_LOG VIREO_TRACE");
    return 2;
  }
  const q = qemuStates(qemuPath);
  const v = vireoSteps(vireoPath);
  const recent: string[] = [];
  let prev = await q.next();
  let step = 0;
  for (;;) {
    const vs = await v.next();
    if (vs.done || prev.done) {
      console.log(`no divergence in ${step} instructions (${vs.done ? "vireo" : "QEMU"} trace ended)`);
      return 0;
    }
    const s = vs.value;
    if (s.pc !== prev.value.pc) {
      console.log(`step ${step}: pc differs — vireo ${hex(s.pc)}, QEMU ${hex(prev.value.pc)}`);
      for (const r of recent) console.log(`  ${r}`);
      return 1;
    }
    const next = await q.next();
    if (!next.done && s.rd !== undefined && s.value !== undefined && next.value.x[s.rd] !== s.value) {
      console.log(`step ${step}: ${s.line}`);
      console.log(`  x${s.rd}: vireo ${hex(s.value)}, QEMU ${hex(next.value.x[s.rd])}`);
      for (const r of recent) console.log(`  ${r}`);
      return 1;
    }
    recent.push(s.line);
    if (recent.length > 8) recent.shift();
    prev = next;
    step++;
  }
}

process.exit(await main());
