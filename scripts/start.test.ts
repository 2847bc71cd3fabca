// `npm start` (scripts/start.mjs) as a supervisor: a taken port is named before anything starts, a child that
// exits takes the other down with it, SIGTERM stops both, and every time the ports end up free and no child
// is left running. Runs the real script (the relay and Vite's dev server) on free loopback ports.

import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../src/testing/ports.ts";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "start.mjs");

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Whether something accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(true));
    s.listen({ host: "127.0.0.1", port, exclusive: true }, () => s.close(() => resolve(false)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

const runs: Run[] = [];

function run(args: string[]): Run {
  const child = spawn(process.execPath, [SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const r = { child, out: () => out, err: () => err, exited };
  runs.push(r);
  return r;
}

// A failing test (a broken script) must not leave servers behind: the script and the process groups of the
// children it named are killed.
afterEach(() => {
  for (const r of runs.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    const m = /Vite pid (\d+)(?:, relay pid (\d+))?/.exec(r.out());
    for (const pid of [m?.[1], m?.[2]]) {
      if (pid === undefined) continue;
      try {
        process.kill(-Number(pid), "SIGKILL");
      } catch {
        // Gone, as it should be.
      }
    }
  }
});

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the script and waits until both servers listen; answers their pids. */
async function started(): Promise<{ r: Run; port: number; relayPort: number; vite: number; relay: number }> {
  const port = await freePort();
  const relayPort = await freePort();
  const r = run(["--port", String(port), "--relay-port", String(relayPort)]);
  try {
    await until("the pids", () => /Vite pid \d+, relay pid \d+/.test(r.out()));
    await until("both ports", async () => (await listening(port)) && (await listening(relayPort)));
  } catch (e) {
    r.child.kill("SIGKILL");
    throw new Error(`${(e as Error).message}\nstdout: ${r.out()}\nstderr: ${r.err()}`);
  }
  const m = /Vite pid (\d+), relay pid (\d+)/.exec(r.out()) as RegExpExecArray;
  return { r, port, relayPort, vite: Number(m[1]), relay: Number(m[2]) };
}

/** Within the script's own SIGKILL grace (5 s) and some. */
const GONE_MS = 10_000;

describe("npm start (scripts/start.mjs)", () => {
  for (const which of ["page", "relay"] as const) {
    it(`names a taken ${which} port, says what to do, and starts nothing`, async () => {
      const held = await holdPort();
      const other = await freePort();
      try {
        const [port, relayPort] = which === "page" ? [held.port, other] : [other, held.port];
        const r = run(["--port", String(port), "--relay-port", String(relayPort)]);
        expect(await r.exited).toBe(1);
        const option = which === "page" ? "--port" : "--relay-port";
        expect(r.err()).toContain(`port ${held.port} on 127.0.0.1, for ${which === "page" ? "the page" : "the relay"}`);
        expect(r.err()).toContain("already in use");
        expect(r.err()).toContain(`npm start -- ${option} `);
        expect(r.out()).not.toContain("pid");
        expect(await listening(other)).toBe(false);
      } finally {
        held.server.close();
      }
    });
  }

  it("refuses a bad port option with usage", async () => {
    const r = run(["--port", "http"]);
    expect(await r.exited).toBe(2);
    expect(r.err()).toContain('--port: expected a port number 1–65535, got "http"');
  });

  for (const victim of ["relay", "vite"] as const) {
    it(`when ${victim === "vite" ? "Vite" : "the relay"} dies, the other is stopped, the ports are freed, exit 1`, async () => {
      const s = await started();
      const [dead, other] = victim === "relay" ? [s.relay, s.vite] : [s.vite, s.relay];
      process.kill(dead, "SIGKILL");
      const code = await Promise.race([
        s.r.exited,
        new Promise<string>((r) => setTimeout(() => r("still running"), GONE_MS)),
      ]);
      if (code !== 1) s.r.child.kill("SIGKILL");
      expect(code).toBe(1);
      expect(s.r.err()).toContain(
        victim === "relay"
          ? "the relay was stopped by SIGKILL: stopping Vite"
          : "Vite was stopped by SIGKILL: stopping the relay",
      );
      await until("the other child to go", () => !alive(other), GONE_MS);
      expect(await listening(s.port)).toBe(false);
      expect(await listening(s.relayPort)).toBe(false);
    });
  }

  it("SIGTERM stops both children and frees both ports (exit 0)", async () => {
    const s = await started();
    s.r.child.kill("SIGTERM");
    expect(await s.r.exited).toBe(0);
    expect(s.r.err()).toContain("SIGTERM: stopping the relay and Vite");
    await until("both children to go", () => !alive(s.vite) && !alive(s.relay), GONE_MS);
    expect(await listening(s.port)).toBe(false);
    expect(await listening(s.relayPort)).toBe(false);
  });
});
