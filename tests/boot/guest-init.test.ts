// The committed image as a person uses it through the CLI: busybox init and its inittab (poweroff and
// reboot without -f), --exec after the boot's DHCP (the README's wget line, and wget -T), and console
// output free of the terminal queries the guest sends (the CLI answers them when no terminal can).
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { runVm } from "./host-side.ts";

const ESC = "\x1b";

/**
 * Boots with stdin a pipe and types line i at the first prompt of boot i (input sent before the shell
 * has the console open is lost, and the prompt a shell prints just before a reboot kills it is not one).
 */
function typeAtPrompts(lines: string[], timeoutSec: number): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn("npx", ["tsx", "src/cli/vm.ts", "--timeout", String(timeoutSec), "--net", "none"]);
    let out = "";
    let typed = 0;
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const boots = out.split("vireo: boot complete");
      if (typed < lines.length && boots.length - 1 > typed && boots[boots.length - 1].includes("vireo:~# ")) {
        p.stdin.write(`${lines[typed++]}\n`);
      }
    });
    p.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.on("close", (status) => resolve({ status, out }));
  });
}

describe("the committed image's init and console (CLI)", () => {
  it("--exec runs the README's wget after DHCP: `wget -O- http://10.0.2.2:PORT/` reaches 127.0.0.1:PORT", async () => {
    const body = `hello from the host ${process.pid}`;
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await runVm("stack", ["--exec", `wget -O- http://10.0.2.2:${port}/`], 150);
      expect(r.status, r.out + r.err).toBe(0);
      expect(r.out).toContain(body);
      expect(r.out).not.toContain("Network is unreachable");
    } finally {
      server.close();
    }
  }, 200_000);

  it("`wget -T 5 -O- URL` fetches the body (busybox 1.35 built without FEATURE_WGET_TIMEOUT wrote -T's number through NULL)", async () => {
    const body = `timeout option ok ${process.pid}`;
    const server = createServer((_req, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await runVm("stack", ["--exec", `wget -T 5 -O- http://10.0.2.2:${port}/; echo "wget-status=$?"`], 150);
      expect(r.status, r.out + r.err).toBe(0);
      expect(r.out).toContain(body);
      expect(r.out).toMatch(/^wget-status=0\r?$/m);
      expect(r.out).not.toContain("Segmentation fault");
    } finally {
      server.close();
    }
  }, 200_000);

  it("--exec output carries no cursor-position query; the guest got the stand-in's answers (stty size)", async () => {
    const r = await runVm("none", ["--exec", "stty size"], 150);
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain("vireo: boot complete");
    expect(r.out).not.toContain("[6n");
    expect(r.out).not.toContain(`${ESC}7`);
    expect(r.out).not.toContain("[999;999H");
    // The login's question was answered (the CLI's screen: 24 rows, 999 columns), and the answer was not echoed.
    expect(r.out).toMatch(/^24 999\r?$/m);
    expect(r.out).not.toMatch(/\[\d+;\d+R/);
    // No 9p device: the boot says nothing about a mount_tag it could not open.
    expect(r.out).not.toContain("mount_tag");
  }, 200_000);

  it("reboot and poweroff (without -f) go through init: the machine restarts, then powers off", async () => {
    const r = await typeAtPrompts(["echo first-$((1+1)); reboot", "echo second-$((2+2)); poweroff"], 150);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/^first-2\r?$/m);
    expect(r.out).toContain("Requesting system reboot");
    expect(r.out.split("vireo: boot complete").length - 1).toBe(2);
    expect(r.out).toMatch(/^second-4\r?$/m);
    expect(r.out).toContain("Requesting system poweroff");
  }, 200_000);
});
