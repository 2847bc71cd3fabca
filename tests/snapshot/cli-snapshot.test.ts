// The command line's snapshots (issue 15): --save with --save-at writes one at a console marker, --restore
// starts from it (with --exec), a disk's overlay travels with it, and a snapshot that is corrupt, truncated,
// not one, or whose disk changed is refused with a message saying so.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSnapshot, encodeSnapshot } from "../../src/machine/snapshot-file.ts";
import { attachGateway } from "../../src/relay/l2/gateway.ts";
import { startRelay } from "../relay/wisp-test-client.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(join(tmpdir(), "vireo-snap-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function vm(input: string, ...args: string[]) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/vm.mjs"), "--net", "none", "--timeout", "60", ...args], {
    cwd: tmp,
    encoding: "latin1",
    input,
    timeout: 90_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

/**
 * Runs the CLI and types `line` once the shell's first prompt is on the console (typed-ahead input would reach
 * the shell before its line editor is ready), as a script driving it would.
 */
function vmTyping(line: string, ...args: string[]) {
  return vmAsync(line, "none", ...args);
}

function vmAsync(
  line: string,
  net: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [join(ROOT, "scripts/vm.mjs"), "--net", net, "--timeout", "60", ...args], {
      cwd: tmp,
    });
    let stdout = "";
    let stderr = "";
    let typed = false;
    p.stdout.on("data", (d: Buffer) => {
      stdout += d.toString("latin1");
      if (!typed && /vireo:[^#\n]*# /.test(stdout)) {
        typed = true;
        p.stdin.write(line);
      }
    });
    p.stderr.on("data", (d: Buffer) => {
      stderr += d.toString("latin1");
    });
    p.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe.each(["mmio", "pci"] as const)("--save / --restore over %s", (transport) => {
  it("saves at a console marker, and a restored run has the file written before it", async () => {
    const file = join(tmp, `${transport}.vireo`);
    const saved = await vmTyping(
      "echo written-before-the-save > /tmp/f; echo SAVE-$((40+2))\n",
      "--transport",
      transport,
      "--save",
      file,
      "--save-at",
      "SAVE-42",
    );
    expect(saved.stderr).toMatch(/vireo: saved .*\.vireo \(\d+\.\d MiB\)/);
    expect(saved.code).toBe(0);
    expect(statSync(file).size).toBeLessThanOrEqual(16 << 20);

    const back = vm("", "--restore", file, "--exec", "cat /tmp/f; echo $((6*7))");
    expect(back.stdout).toContain("written-before-the-save");
    expect(back.stdout).toMatch(/\n42\r?\n/);
    expect(back.code).toBe(0);
    // Typed while the snapshot loads: kept for the guest, not replaced by the saved console state.
    const typed = vm("echo typed-while-restoring-$((1+1)); poweroff -f\n", "--restore", file);
    expect(typed.stdout).toContain("typed-while-restoring-2");
    expect(typed.code).toBe(0);
  }, 120_000);
});

describe("--restore", () => {
  it.each(["mmio", "pci"] as const)(
    "carries a disk's copy-on-write overlay (--transport %s) and refuses the snapshot once the disk file changed",
    async (transport) => {
      const disk = join(tmp, `disk-${transport}.img`);
      writeFileSync(disk, new Uint8Array(1 << 20));
      const file = join(tmp, `disk-${transport}.vireo`);
      const saved = await vmTyping(
        "echo on-the-disk | dd of=/dev/vda conv=notrunc 2>/dev/null; sync; md5sum /dev/vda > /tmp/sum; echo SAVE-$((40+2))\n",
        "--transport",
        transport,
        "--disk",
        disk,
        "--save",
        file,
        "--save-at",
        "SAVE-42",
      );
      expect(saved.code).toBe(0);
      // The image file itself is untouched: the guest's write lives in the overlay, and the overlay in the snapshot.
      expect(readFileSync(disk).every((b) => b === 0)).toBe(true);
      // The machine-wide --transport is not in the disk list the CLI records: the disk comes back on the
      // transport the saved machine had it on.
      const back = vm(
        "",
        "--restore",
        file,
        "--exec",
        "head -c 11 /dev/vda; echo; md5sum /dev/vda | cmp - /tmp/sum && echo same-sum",
      );
      expect(back.stdout, back.stderr).toContain("on-the-disk");
      expect(back.stdout).toContain("same-sum");
      expect(back.code).toBe(0);

      const later = new Date(Date.now() + 5000);
      utimesSync(disk, later, later);
      const refused = vm("", "--restore", file, "--exec", "true");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/virtio-blk0: its disk's source changed since the save/);
    },
    120_000,
  );

  it("restores the page's snapshots (no disks); refuses a disk record naming something that is not a file", async () => {
    const good = new Uint8Array(readFileSync(join(tmp, "mmio.vireo"))); // written by the first test
    const c = await decodeSnapshot(good);
    const asPage = await encodeSnapshot({
      ...c,
      machine: { ...(c.machine as object), host: { page: 1, savedAt: 1, mac: null } },
    });
    writeFileSync(join(tmp, "page.vireo"), asPage);
    const back = vm("", "--restore", join(tmp, "page.vireo"), "--exec", "cat /tmp/f");
    expect(back.stdout).toContain("written-before-the-save");
    expect(back.code).toBe(0);

    // A hostile record: a FIFO as the disk of a machine with one (opening it would block for ever).
    const withDisk = await decodeSnapshot(new Uint8Array(readFileSync(join(tmp, "disk-mmio.vireo"))));
    const fifo = join(tmp, "fifo");
    spawnSync("mkfifo", [fifo]);
    const m = withDisk.machine as { host: { disks: { path: string }[] } };
    const hostile = await encodeSnapshot({
      ...withDisk,
      machine: { ...m, host: { ...m.host, disks: [{ ...m.host.disks[0], path: fifo }] } },
    });
    writeFileSync(join(tmp, "fifo.vireo"), hostile);
    const t0 = performance.now();
    const refused = vm("", "--restore", join(tmp, "fifo.vireo"), "--exec", "true");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`its disk ${fifo} is not a regular file here`);
    expect(performance.now() - t0).toBeLessThan(20_000);
  }, 120_000);

  it("the link as the restored machine has it: saved with the stack's link up, restored with --net none, down", () => {
    const file = join(tmp, "link.vireo");
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, "scripts/vm.mjs"), "--timeout", "60", ...args], {
        cwd: tmp,
        encoding: "latin1",
        input: "",
        timeout: 90_000,
      });
    const saved = run("--net", "stack", "--save", file, "--save-at", "# ");
    expect(saved.status, saved.stderr).toBe(0);
    const up = run("--restore", file, "--net", "stack", "--exec", "sleep 0.5; cat /sys/class/net/eth0/carrier");
    expect(up.stdout).toMatch(/\n1\r?\n/);
    // The NIC is there (the snapshot has it) with nothing behind it: the guest is told the cable is out.
    const down = run("--restore", file, "--net", "none", "--exec", "sleep 0.5; cat /sys/class/net/eth0/carrier");
    expect(down.status, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/\n0\r?\n/);
  }, 90_000);

  it("refuses corrupt, truncated and foreign files with a message, and options the snapshot decides", () => {
    const file = join(tmp, "mmio.vireo");
    const good = readFileSync(file); // written by the first test
    const flipped = Buffer.from(good);
    flipped[flipped.length >> 1] ^= 0x10;
    const cases: [string, Uint8Array, RegExp][] = [
      ["flipped bit", flipped, /checksum mismatch/],
      ["truncated", good.subarray(0, good.length - 100), /checksum mismatch/],
      [
        "foreign",
        new TextEncoder().encode("this is not a snapshot at all, only text, and long enough to be one\n"),
        /not a vireo snapshot/,
      ],
      ["short", Uint8Array.of(1, 2, 3), /too short/],
    ];
    for (const [name, bytes, why] of cases) {
      const bad = join(tmp, `bad-${name.replace(/ /g, "-")}.vireo`);
      writeFileSync(bad, bytes);
      const r = vm("", "--restore", bad, "--exec", "true");
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(why);
    }
    const kernel = vm("", "--restore", file, "--kernel", "x");
    expect(kernel.code).toBe(2);
    expect(kernel.stderr).toContain("--restore takes the machine from the snapshot; drop --kernel");
    expect(vm("", "--save-at", "x").stderr).toContain("--save-at needs --save FILE");
    expect(vm("", "--restore", join(tmp, "missing.vireo")).code).toBe(2);
  }, 120_000);
});

/** An HTTP server on 127.0.0.1: /small at once, anything else 64 MiB slowly (1 MiB per 40 ms). */
async function slowServer() {
  const BIG = 64 << 20;
  const state = { bigSent: 0, BIG, port: 0, close: () => {} };
  const server = createServer((req, res) => {
    if (req.url === "/small") {
      res.end("small-file-after-restore\n");
      return;
    }
    res.writeHead(200, { "content-length": String(BIG) });
    const chunk = new Uint8Array(1 << 20);
    const timer = setInterval(() => {
      if (state.bigSent >= BIG || res.destroyed) {
        clearInterval(timer);
        res.end();
        return;
      }
      state.bigSent += chunk.length;
      res.write(chunk);
    }, 40);
    res.on("close", () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as AddressInfo).port;
  state.close = () => {
    server.closeAllConnections();
    server.close();
  };
  return state;
}

describe.each(["stack", "relay"] as const)("networking across a restore (--net %s)", (net) => {
  it("a download in flight at the save ends at once after the restore, and a new one works", async () => {
    const srv = await slowServer();
    const relay =
      net === "relay" ? await startRelay({ allow: ["127.0.0.1"], deps: { l2Gateway: attachGateway } }) : undefined;
    const netArgs = relay !== undefined ? ["--relay", `ws://${relay.base}/l2/snap`] : [];
    const dhcp = net === "relay" ? "udhcpc -i eth0 -n -q -t 10 >/dev/null 2>&1; " : "";
    try {
      const file = join(tmp, `wget-${net}.vireo`);
      const saved = await vmAsync(
        `${dhcp}until ip -4 addr show eth0 | grep -q inet; do sleep 0.2; done; ` +
          `(wget -O /dev/null http://10.0.2.2:${srv.port}/big; echo wget-done-$?) > /tmp/w.log 2>&1 & ` +
          "sleep 1; echo SAVE-$((40+2))\n",
        net,
        ...netArgs,
        "--save",
        file,
        "--save-at",
        "SAVE-42",
      );
      expect(saved.code, saved.stderr).toBe(0);
      expect(srv.bigSent).toBeGreaterThan(0);
      expect(srv.bigSent).toBeLessThan(srv.BIG);

      const t0 = performance.now();
      const back = await vmAsync(
        "",
        net,
        ...netArgs,
        "--restore",
        file,
        "--exec",
        "for i in $(seq 1 40); do grep -q wget-done /tmp/w.log && break; sleep 0.25; done; cat /tmp/w.log; " +
          `wget -q -O - http://10.0.2.2:${srv.port}/small`,
      );
      const ms = performance.now() - t0;
      // The old transfer ended (failed: its connection went with the saved session) instead of hanging.
      expect(back.stdout).toMatch(/wget-done-[1-9]/);
      expect(back.stdout).toContain("small-file-after-restore");
      expect(back.code, back.stderr).toBe(0);
      // "At once": well before the guest's own timeouts (minutes), within the seconds the run takes.
      expect(ms).toBeLessThan(30_000);
    } finally {
      srv.close();
      await relay?.stop();
    }
  }, 120_000);
});

describe("the terminal's escapes (a pty through script(1))", () => {
  it("Ctrl-A s saves and runs on; Ctrl-A x saves again, then quits; each file restores", async () => {
    const file = join(tmp, "tty.vireo");
    const cmd = `${process.execPath} ${join(ROOT, "scripts/vm.mjs")} --net none --timeout 60 --save ${file}`;
    const r = await new Promise<{ code: number | null; out: string }>((done) => {
      const p = spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: tmp });
      let out = "";
      let step = 0;
      p.stdout.on("data", (d: Buffer) => {
        out += d.toString("latin1");
        if (step === 0 && /vireo:[^#\n]*# /.test(out)) {
          step = 1;
          p.stdin.write("\x01s");
        } else if (step === 1 && /vireo: saved .*tty\.vireo/.test(out)) {
          step = 2;
          p.stdin.write("echo after-$((20+22)) > /tmp/after\r");
          setTimeout(() => p.stdin.write("\x01x"), 1500);
        }
      });
      p.on("close", (code) => done({ code, out }));
    });
    expect(r.out.match(/vireo: saved .*tty\.vireo/g)?.length, r.out.slice(-500)).toBe(2);
    expect(r.out).not.toContain("terminated");
    expect(r.code).toBe(0);
    // The second save (at Ctrl-A x) has the file written after the first.
    const back = vm("", "--restore", file, "--exec", "cat /tmp/after");
    expect(back.stdout).toContain("after-42");
    expect(back.code).toBe(0);
  }, 120_000);
});
