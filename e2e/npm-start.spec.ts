// The README's quick start as written: `npm start` (scripts/start.mjs: Vite's dev server and the relay, on free
// loopback ports here) serves a page that boots to the shell, and an image put in public/ is a same-origin
// `?disk=/…` whose every request the dev server answers with a 206 (issue 17 item 6: both bundled servers;
// disk.spec.ts does `vite preview`). Ctrl-C's SIGTERM then stops both children and frees both ports.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { freePort } from "../src/testing/ports.ts";
import { bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
import { ROOT, typeLine, waitForTerminal } from "./harness.ts";

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(true));
    s.listen({ host: "127.0.0.1", port, exclusive: true }, () => s.close(() => resolve(false)));
  });
}

test("`npm start` serves the page that boots, and a same-origin `?disk=/…` from public/ over ranges", async ({
  page,
}) => {
  const [port, relayPort] = [await freePort(), await freePort()];
  const name = `e2e-start-disk-${process.pid}.img`;
  const file = join(ROOT, "public", name);
  const image = randomBytes(512 * 1024);
  writeFileSync(file, image);
  const md5 = (at: number, n: number) =>
    createHash("md5")
      .update(image.subarray(at, at + n))
      .digest("hex");
  let child: ChildProcess | undefined;
  let out = "";
  try {
    child = spawn(process.execPath, ["scripts/start.mjs", "--port", String(port), "--relay-port", String(relayPort)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child?.once("exit", (code) => r(code)));
    // What it tells the person to open: the page, and (the relay not on its default port) the relay's address.
    await expect.poll(() => /vireo: open (\S+)/.exec(out)?.[1], { timeout: 60_000 }).toBeDefined();
    const open = new URL(/vireo: open (\S+)/.exec(out)?.[1] ?? "");
    expect(open.origin).toBe(`http://127.0.0.1:${port}`);
    expect(open.searchParams.get("relay")).toBe(`ws://127.0.0.1:${relayPort}/wisp/`);
    await expect.poll(() => listening(port), { timeout: 60_000 }).toBe(true);

    const statuses: number[] = [];
    page.context().on("response", (r) => {
      if (new URL(r.url()).pathname === `/${name}`) statuses.push(r.status());
    });
    open.searchParams.set("disk", `/${name}`);
    await page.goto(open.href);
    await bootToPrompt(page);
    await quietConsole(page);
    // The relay is up: the default stack reached it.
    await expect(page.getByTestId("relay")).toHaveAttribute("data-state", "up", { timeout: 20_000 });
    await typeLine(
      page,
      "echo vda-$((40+2)) $(cat /sys/block/vda/size) $(dd if=/dev/vda bs=4096 skip=17 count=30 2>/dev/null | md5sum)",
    );
    const want = `vda-42 ${image.length / 512} ${md5(17 * 4096, 30 * 4096)} -`;
    await waitForTerminal(page, (t) => t.includes(want), want, COMMAND_TIMEOUT_MS);
    expect(statuses.length).toBeGreaterThan(0);
    expect(
      statuses.every((s) => s === 206),
      statuses.join(" "),
    ).toBe(true);
    await page.close();

    // Ctrl-C in the terminal sends the group SIGINT; SIGTERM is the same path in start.mjs: both stop, exit 0.
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await listening(port)).toBe(false);
    expect(await listening(relayPort)).toBe(false);
  } finally {
    // A failure above: start.mjs stops its children (their own process groups) on SIGTERM.
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
    }
    rmSync(file, { force: true });
  }
});
