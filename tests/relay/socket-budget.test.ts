// Issue 16, finding 2, as the review measured it: the relay as its own process, a destination that accepts and
// never reads, and clients that CONNECT, send 60 KB and CLOSE 0x02, round after round. Every socket the relay
// holds is charged to its client until it is really closed, so the relay's open descriptors (/proc/PID/fd)
// stay within --max-streams (+ a small constant) per client however many rounds a client plays.

import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import * as net from "node:net";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { CLOSE_REASON_THROTTLED } from "../../src/relay/wisp/packet.ts";
import { TestWispClient } from "./wisp-test-client.ts";

const MAX_STREAMS = 16;
const CLIENTS = 2;
const ROUNDS = 20;
const PER_ROUND = 64;
/** Descriptors a client may cost beyond its streams: its WebSocket, and a socket being accepted or torn down. */
const SLACK_PER_CLIENT = 3;

let child: ChildProcess | null = null;
afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
});

async function startRelayProcess(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const c = spawn(process.execPath, ["--import", "tsx", "src/relay/main.ts", "--listen", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = createInterface({ input: c.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    c.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
    lines.on("line", (l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      if (e.event === "relay.listening") resolve(e.port as number);
    });
  });
  return { child: c, port };
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe("per-client socket budget under the CLOSE-0x02 drain pattern (issue 16, finding 2)", () => {
  it(`${CLIENTS} clients × ${ROUNDS} rounds × ${PER_ROUND} streams: descriptors stay ≤ max-streams + ${SLACK_PER_CLIENT} per client`, async () => {
    const held = new Set<net.Socket>();
    let acceptedMax = 0;
    // Accepts and never reads: what the relay writes stays queued on its side, and its sockets drain forever.
    const sink = net.createServer((sock) => {
      sock.pause();
      sock.on("error", () => {});
      held.add(sock);
      sock.on("close", () => held.delete(sock));
      acceptedMax = Math.max(acceptedMax, held.size);
    });
    await new Promise<void>((ok) => sink.listen(0, "127.0.0.1", ok));
    const sinkPort = (sink.address() as net.AddressInfo).port;
    // --connect-timeout is also the drain timeout: long enough that nothing drains away during the test.
    const started = await startRelayProcess([
      "--no-auth",
      "--allow",
      "127.0.0.1",
      "--max-streams",
      String(MAX_STREAMS),
      "--connect-timeout",
      "60",
    ]);
    child = started.child;
    const pid = child.pid!;
    try {
      const baseline = fdCount(pid);
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, fdCount(pid));
      }, 5);
      const payload = new Uint8Array(60 * 1024).fill(7);
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, () => TestWispClient.connect(`ws://127.0.0.1:${started.port}/wisp/`)),
      );
      const reasons: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const streams = clients.flatMap((c) =>
          Array.from({ length: PER_ROUND }, () => {
            const s = c.open("127.0.0.1", sinkPort);
            s.closed.then((r) => reasons.push(r));
            return s;
          }),
        );
        // Streams the relay accepted connect, get 60 KB they cannot deliver, and are closed by the client.
        await new Promise((ok) => setTimeout(ok, 40));
        const live = streams.filter((s) => s.closeReason === null);
        for (const s of live) s.send(payload);
        await new Promise((ok) => setTimeout(ok, 20));
        for (const s of live) if (s.closeReason === null) s.close(0x02);
        await new Promise((ok) => setTimeout(ok, 20));
      }
      await new Promise((ok) => setTimeout(ok, 300));
      clearInterval(sampler);
      peak = Math.max(peak, fdCount(pid));
      const growth = peak - baseline;
      // Without the budget this grows by ~one descriptor per stream played (2560 here).
      expect(growth).toBeLessThanOrEqual(CLIENTS * (MAX_STREAMS + SLACK_PER_CLIENT));
      // The destination sees a closed socket go a moment after the relay has, so it may briefly count one more.
      expect(acceptedMax).toBeLessThanOrEqual(CLIENTS * (MAX_STREAMS + SLACK_PER_CLIENT));
      console.log(`relay descriptors: ${baseline} before, peak ${peak}; destination held at most ${acceptedMax}`);
      // The budget was reached and the rest refused with 0x49.
      expect(reasons.filter((r) => r === CLOSE_REASON_THROTTLED).length).toBeGreaterThan(
        CLIENTS * ROUNDS * PER_ROUND * 0.8,
      );
      for (const c of clients) c.close();
      await Promise.all(clients.map((c) => c.wsClosed));
      // Gone with their clients: the descriptors come back.
      const t0 = performance.now();
      while (fdCount(pid) > baseline + 2 && performance.now() - t0 < 5000)
        await new Promise((ok) => setTimeout(ok, 50));
      expect(fdCount(pid)).toBeLessThanOrEqual(baseline + 2);
    } finally {
      for (const s of held) s.destroy();
      sink.close();
      child.kill("SIGKILL");
    }
  }, 60_000);
});
