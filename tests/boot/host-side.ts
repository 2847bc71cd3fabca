// Host-side helpers for the guest networking boot tests: run the vireo CLI as a child process, and a
// TCP sink on 127.0.0.1 that hashes what a guest uploads.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { type AddressInfo, createServer } from "node:net";

export interface VmResult {
  status: number | null;
  out: string;
  err: string;
}

/** `tsx src/cli/vm.ts --timeout T --net NET …args`, collecting its output. */
export function runVm(net: string, args: string[], timeoutSec: number): Promise<VmResult> {
  return new Promise((resolve) => {
    const p = spawn("npx", ["tsx", "src/cli/vm.ts", "--timeout", String(timeoutSec), "--net", net, ...args]);
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.on("close", (status) => resolve({ status, out, err }));
  });
}

export interface HashSink {
  port: number;
  /** Bytes received so far and, once the sender ended its stream, their SHA-256 (hex). */
  bytes: number;
  digest: string;
  close(): void;
}

/** A TCP server on 127.0.0.1 that hashes each connection's bytes and ends its side at end of stream. */
export async function listenHashSink(): Promise<HashSink> {
  const sink: HashSink = { port: 0, bytes: 0, digest: "", close: () => server.close() };
  const server = createServer((s) => {
    const h = createHash("sha256");
    s.on("data", (d: Buffer) => {
      h.update(d);
      sink.bytes += d.length;
    });
    s.on("end", () => {
      sink.digest = h.digest("hex");
      s.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  sink.port = (server.address() as AddressInfo).port;
  return sink;
}
