// `npm run relay` as a real process: it logs JSON lines, and SIGTERM closes streams cleanly before exit.

import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { CLOSE_REASON_VOLUNTARY } from "../../src/relay/wisp/packet.ts";
import { TestWispClient, tcpEchoServer } from "./wisp-test-client.ts";

let child: ChildProcess | null = null;
afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
});

describe("relay process", () => {
  it("serves, then on SIGTERM sends CLOSE on every stream, 1001 to clients, and exits 0", async () => {
    const echo = await tcpEchoServer();
    child = spawn(
      process.execPath,
      ["--import", "tsx", "src/relay/main.ts", "--listen", "127.0.0.1:0", "--no-auth", "--allow", "127.0.0.1"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const events: Record<string, unknown>[] = [];
    const lines = createInterface({ input: child.stdout! });
    const port = await new Promise<number>((resolve, reject) => {
      child!.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
      lines.on("line", (l) => {
        const e = JSON.parse(l) as Record<string, unknown>; // every stdout line must be one JSON object
        events.push(e);
        if (e.event === "relay.listening") resolve(e.port as number);
      });
    });
    const c = await TestWispClient.connect(`ws://127.0.0.1:${port}/wisp/`);
    const s = c.open("127.0.0.1", echo.port);
    s.send(Buffer.from("hello"));
    await s.waitForBytes(5);
    const exited = new Promise<number | null>((res) => child!.once("exit", (code) => res(code)));
    child.kill("SIGTERM");
    expect(await s.closed).toBe(CLOSE_REASON_VOLUNTARY);
    expect((await c.wsClosed).code).toBe(1001);
    expect(await exited).toBe(0);
    const names = events.map((e) => e.event);
    expect(names).toEqual(
      expect.arrayContaining(["relay.client-open", "wisp.connect", "relay.signal", "relay.stopped"]),
    );
    // Logs carry no payload: the bytes we sent never appear.
    expect(JSON.stringify(events)).not.toContain("hello");
    await echo.close();
  });
});
