// The browser end-to-end test (`npm test` runs it after vitest): builds the page with Vite, serves it
// with `vite preview` (COOP/COEP headers), drives Debian's chromium through playwright-core (never a
// downloaded browser), boots the default image to the shell prompt in the xterm, runs a command, and
// saves screenshots. Prints one line per check and "e2e: N passed, N failed"; the counts also go to
// test-results/e2e.json for scripts/test.mjs.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { CHROMIUM, openBrowser, PROMPT_AT_END, ROOT, terminalText, typeLine, waitForTerminal } from "./harness.ts";
import { CLS_LIMIT, layoutShifts } from "./layout-shift.ts";
import {
  cliPromptSnapshot,
  corruptRefused,
  keepAcrossReload,
  restoreInFreshTab,
  saveInPage,
  snapshotFromUrl,
} from "./snapshots.ts";

/** The README's picture, worth committing. */
const SCREENSHOTS = join(ROOT, "e2e/screenshots");
/** One per panel, rewritten every run: test artifacts, not committed. */
const ARTIFACTS = join(ROOT, "test-results/screenshots");
const RESULTS = join(ROOT, "test-results/e2e.json");
/** The boot in an interpreter on a shared 2-core machine: generous, but the whole run stays < 3 min. */
const BOOT_TIMEOUT_MS = 90_000;
const COMMAND_TIMEOUT_MS = 20_000;

let passed = 0;
let failed = 0;

async function check(name: string, fn: () => Promise<void>): Promise<boolean> {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`  ✓ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return true;
  } catch (e) {
    failed++;
    console.log(`  ✗ ${name}: ${(e as Error).message.split("\n")[0]}`);
    return false;
  }
}

async function instret(page: Page): Promise<string | null> {
  return page.locator(".machine-status .instret").getAttribute("title");
}

/** A loopback HTTP server with one random file, for the guest to download through the relay. */
async function fileServer(): Promise<{ server: Server; port: number; sha256: string }> {
  const body = randomBytes(300 * 1024);
  const server = createServer((req, res) => {
    if (req.url !== "/blob") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    sha256: createHash("sha256").update(body).digest("hex"),
  };
}

/**
 * A loopback server for one random raw disk image that honours single byte ranges, with the CORS
 * headers a cross-origin worker needs (Range allowed, Content-Range exposed). /plain.img is the same
 * image from a server that ignores Range.
 */
async function diskServer(): Promise<{
  server: Server;
  url: string;
  md5(at: number, n: number): string;
  partials: number;
}> {
  const image = randomBytes(2 * 1024 * 1024);
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "range",
    "access-control-expose-headers": "content-range",
  };
  const d = {
    server: createServer((req, res) => {
      if (req.method === "OPTIONS") {
        res.writeHead(204, cors).end();
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      if (req.url === "/plain.img" || (req.url === "/disk.img" && m === null)) {
        res.writeHead(200, { ...cors, "content-length": image.length }).end(image);
        return;
      }
      if (req.url !== "/disk.img" || m === null) {
        res.writeHead(404, cors).end();
        return;
      }
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), image.length - 1);
      d.partials++;
      res
        .writeHead(206, { ...cors, "content-range": `bytes ${a}-${b}/${image.length}`, "content-length": b - a + 1 })
        .end(image.subarray(a, b + 1));
    }),
    url: "",
    md5: (at: number, n: number) =>
      createHash("md5")
        .update(image.subarray(at, at + n))
        .digest("hex"),
    partials: 0,
  };
  await new Promise<void>((r) => d.server.listen(0, "127.0.0.1", r));
  d.url = `http://127.0.0.1:${(d.server.address() as AddressInfo).port}/disk.img`;
  return d;
}

/** The project's relay (src/relay) on a free port, allowed to reach `allow` on loopback. */
async function startRelay(allow: string): Promise<{ child: ChildProcess; url: string }> {
  // Node itself with tsx as a loader (not npx): one process, so kill() really stops the relay.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/relay/main.ts", "--no-auth", "--listen", "127.0.0.1:0", "--allow", allow],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`the relay did not start: ${err}`)), 30_000);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (ws:\/\/[^ ]+\/wisp\/)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`the relay exited (${code}): ${err}`)));
  });
  return { child, url };
}

/** SIGTERM (the relay drains its clients), then SIGKILL if it has not gone in 5 s. */
async function stopRelay(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(timer);
}

/**
 * Two VMs in two pages of one origin on the tab network: no DHCP server there, so each takes a static
 * address once its boot-time udhcpc has given up; then the first pings the second.
 */
async function tabNetworkPing(url: string, context: BrowserContext, page: Page): Promise<void> {
  const second = await context.newPage();
  try {
    const pages = [page, second];
    await Promise.all(pages.map((p) => p.goto(`${url}?net=tab`)));
    // The prompt on a line of its own, not necessarily the last: udhcpc bringing eth0 up can make the
    // kernel log "link becomes ready" right after it.
    await Promise.all(pages.map((p) => waitForTerminal(p, (t) => /^vireo:~# /m.test(t), "prompt", BOOT_TIMEOUT_MS)));
    for (const [i, p] of pages.entries()) {
      // $((N)) so the typed line itself does not match what we wait for.
      await typeLine(
        p,
        `while pidof udhcpc >/dev/null; do sleep 0.2; done; ip addr add 10.0.3.${i + 1}/24 dev eth0; ip link set eth0 up; echo tabnet-up-$((${i + 1}))`,
      );
    }
    for (const [i, p] of pages.entries()) {
      await waitForTerminal(p, (t) => t.includes(`tabnet-up-${i + 1}\n`), `tabnet-up-${i + 1}`, COMMAND_TIMEOUT_MS);
    }
    await typeLine(page, "ping -c 2 -W 5 10.0.3.2");
    await waitForTerminal(
      page,
      (t) => /2 packets transmitted, 2 packets received/.test(t),
      "two ping replies",
      COMMAND_TIMEOUT_MS,
    );
    await page.locator('[data-tab="network"]').click();
    await page.locator(".network-panel dd", { hasText: /^tab$/ }).waitFor({ timeout: 5000 });
    await page
      .locator(".network-panel dd", { hasText: "BroadcastChannel vireo-l2-default" })
      .waitFor({ timeout: 5000 });
    await page.screenshot({ path: join(ARTIFACTS, "network-tab.png") });
  } finally {
    await second.close();
  }
}

async function main(): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  console.log(`e2e: vite build, vite preview, ${CHROMIUM}`);
  const browser = await openBrowser();
  const { url, context, page } = browser;
  try {
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(url);

    await check("the page is cross-origin isolated", async () => {
      const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
      if (isolated !== true) throw new Error(`crossOriginIsolated is ${isolated}`);
    });

    const booted = await check("the default image boots to the shell prompt", async () => {
      await waitForTerminal(page, (t) => t.includes("vireo: boot complete"), "boot banner", BOOT_TIMEOUT_MS);
      await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", COMMAND_TIMEOUT_MS);
    });

    if (booted) {
      await check("`uname -m` typed into the terminal prints riscv64", async () => {
        await typeLine(page, "uname -m");
        await waitForTerminal(page, (t) => /uname -m\s*\n\s*riscv64\s*\n/.test(t), "riscv64", COMMAND_TIMEOUT_MS);
      });
    } else {
      failed++;
      console.log("  ✗ `uname -m` prints riscv64: skipped, the guest did not boot");
    }

    await check("the boot progress bar reached the prompt stage", async () => {
      const stage = await page.locator(".boot-progress").getAttribute("data-stage");
      if (stage !== "prompt") throw new Error(`stage is ${stage}`);
    });

    await check("the devices panel lists the virtio devices with their negotiated features", async () => {
      await page.locator('[data-tab="devices"]').click();
      const names = await page
        .locator("[data-device]")
        .evaluateAll((els) => els.map((e) => e.getAttribute("data-device")));
      if (!names.some((n) => n?.startsWith("virtio-console"))) throw new Error(`devices: ${names.join(", ")}`);
      const accepted = page.locator('[data-device^="virtio-console"] [data-feature="VIRTIO_F_VERSION_1"]');
      if ((await accepted.getAttribute("data-accepted")) !== "true") throw new Error("VERSION_1 not accepted");
      await page.screenshot({ path: join(ARTIFACTS, "devices.png") });
    });

    await check("the queues panel shows live counters and a ring view on demand", async () => {
      await page.locator('[data-tab="queues"]').click();
      const rows = await page.locator("[data-queue]").count();
      if (rows === 0) throw new Error("no queue rows");
      await page.locator('[data-queue^="virtio-rng"] button').first().click();
      await page.locator(".ring-view").waitFor({ timeout: 5000 });
      await page.screenshot({ path: join(ARTIFACTS, "queues.png") });
    });

    await check("the hart reports its instruction rate", async () => {
      const mips = Number(await page.locator('[data-testid="mips"]').textContent());
      const instret = await page.locator(".machine-status").textContent();
      if (!(mips >= 0) || instret === null) throw new Error(`MIPS reads ${mips}`);
    });

    await check("virtio-net negotiated GUEST_TSO4, HOST_TSO4, CSUM and MRG_RXBUF", async () => {
      await page.locator('[data-tab="devices"]').click();
      for (const f of ["GUEST_TSO4", "HOST_TSO4", "CSUM", "MRG_RXBUF"]) {
        const row = page.locator(`[data-device="virtio-net0"] [data-feature="VIRTIO_NET_F_${f}"]`);
        if ((await row.getAttribute("data-accepted")) !== "true") throw new Error(`${f} not accepted`);
      }
    });

    await check("the guest got 10.0.2.15 from the in-page stack's DHCP", async () => {
      await typeLine(page, "ip -4 addr show eth0");
      await waitForTerminal(page, (t) => /inet 10\.0\.2\.15\/24/.test(t), "10.0.2.15", COMMAND_TIMEOUT_MS);
      await page.locator('[data-tab="network"]').click();
      await page.locator(".network-panel dd", { hasText: "10.0.2.15" }).waitFor({ timeout: 5000 });
      await page.screenshot({ path: join(ARTIFACTS, "network.png") });
    });

    // The README's picture: the console after the command, with the devices panel beside it.
    await page.locator('[data-tab="devices"]').click();
    const dismiss = page.getByRole("button", { name: "dismiss messages" });
    if ((await dismiss.count()) > 0) await dismiss.click();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SCREENSHOTS, "boot.png") });

    await check("pause stops the hart and resume starts it again", async () => {
      await page.getByRole("button", { name: "Pause" }).click();
      await page.locator('[data-testid="phase"]', { hasText: "paused" }).waitFor({ timeout: 5000 });
      const before = await instret(page);
      await page.waitForTimeout(600);
      const after = await instret(page);
      if (after !== before) throw new Error(`instret moved while paused: ${before} → ${after}`);
      await page.getByRole("button", { name: "Resume" }).click();
      await page.locator('[data-testid="phase"]', { hasText: "running" }).waitFor({ timeout: 5000 });
      await typeLine(page, "echo resumed-$((6*7))");
      await waitForTerminal(page, (t) => t.includes("resumed-42"), "echo output", COMMAND_TIMEOUT_MS);
    });

    // Snapshots (issue 15), from the prompt the checks above left.
    let savedFile: string | undefined;
    await check("Save downloads the running machine as vireo-YYYYMMDD-HHMMSS.vireo and it runs on", async () => {
      savedFile = await saveInPage(page);
    });
    let restored: Page | undefined;
    await check(
      "a fresh tab restores that file from the file picker: the file written before the save is there, `echo $((6*7))` prints 42",
      async () => {
        if (savedFile === undefined) throw new Error("skipped: nothing was saved");
        restored = await restoreInFreshTab(context, url, savedFile);
      },
    );
    await check(
      '"keep this machine" on, reload, "Resume saved machine": a file written before the reload is there',
      async () => {
        if (restored === undefined) throw new Error("skipped: no restored tab");
        await keepAcrossReload(restored);
      },
    );
    await restored?.close();
    let fromUrl: Page | undefined;
    let cliSnapshot: Uint8Array | undefined;
    await check(
      "?snapshot=URL (the command line's snapshot at the prompt, from a loopback server) reaches a usable prompt",
      async () => {
        cliSnapshot = cliPromptSnapshot(join(ROOT, "test-results/prompt.vireo"));
        fromUrl = await snapshotFromUrl(context, url, cliSnapshot);
      },
    );
    await check(
      "a corrupt snapshot and a foreign file are refused with the reason in the page; the running machine goes on",
      async () => {
        if (fromUrl === undefined || cliSnapshot === undefined) throw new Error("skipped: no page restored from a URL");
        await corruptRefused(fromUrl, cliSnapshot);
      },
    );
    await fromUrl?.close();

    await check("reset reboots to a fresh prompt", async () => {
      await page.getByRole("button", { name: "Reset" }).click();
      await waitForTerminal(
        page,
        (t) => !t.includes("resumed-42") && t.includes("vireo: boot complete") && PROMPT_AT_END.test(t),
        "prompt after reset",
        BOOT_TIMEOUT_MS,
      );
    });

    await check("a missing image is reported in the page", async () => {
      const bad = await context.newPage();
      await bad.goto(`${url}?kernel=no-such-kernel`);
      const alert = bad.getByRole("alert");
      await alert.waitFor({ timeout: 20_000 });
      const text = (await alert.textContent()) ?? "";
      if (!/no-such-kernel: (HTTP 404|the server sent an HTML page)/.test(text)) throw new Error(`alert says: ${text}`);
      await bad.close();
    });

    await check(
      "a page whose CSP forbids compiling WebAssembly says so in the page (the core is the only hart: no fallback)",
      async () => {
        // The server's responses get a Content-Security-Policy: the document's and the worker's.
        const withCsp = async (csp: string) => {
          const p = await context.newPage();
          await p.route("**/*", async (route) => {
            const res = await route.fetch();
            await route.fulfill({ response: res, headers: { ...res.headers(), "content-security-policy": csp } });
          });
          await p.goto(url);
          return p;
        };
        const bad = await withCsp("script-src 'self'");
        try {
          const alert = bad.getByRole("alert").filter({ hasText: /WebAssembly core could not be compiled/ });
          await alert.waitFor({ timeout: 30_000 });
          const text = (await alert.textContent()) ?? "";
          if (!text.includes("must allow 'wasm-unsafe-eval' in script-src")) throw new Error(`alert says: ${text}`);
          await bad.locator('[data-testid="phase"]', { hasText: "error" }).waitFor({ timeout: 5000 });
        } finally {
          await bad.close();
        }
        // The policy the message asks for is enough.
        const good = await withCsp("script-src 'self' 'wasm-unsafe-eval'");
        try {
          await waitForTerminal(good, (t) => t.includes("vireo: boot complete"), "boot banner", BOOT_TIMEOUT_MS);
        } finally {
          await good.close();
        }
      },
    );

    await check("the same boot with every virtio device on PCI", async () => {
      await page.goto(`${url}?transport=pci`);
      await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
      await page.locator('[data-tab="devices"]').click();
      const location = page.locator('[data-device="virtio-net0"] .location');
      await location.filter({ hasText: /virtio-pci 00:01\.0, INTA → PLIC IRQ 33, BAR4 mem64 pref 0x/ }).waitFor({
        timeout: 5000,
      });
      await page.screenshot({ path: join(ARTIFACTS, "devices-pci.png") });
    });

    await check(
      "per-device transport: ?transport.net=pci puts virtio-net on PCI, the console stays on MMIO",
      async () => {
        await page.goto(`${url}?transport.net=pci`);
        await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
        await page.locator('[data-tab="devices"]').click();
        await page
          .locator('[data-device="virtio-net0"] .location')
          .filter({ hasText: /virtio-pci 00:01\.0/ })
          .waitFor({ timeout: 5000 });
        const consoleAt = (await page.locator('[data-device="virtio-console0"] .location').textContent()) ?? "";
        if (consoleAt.includes("virtio-pci")) throw new Error(`virtio-console0 is at ${consoleAt}`);
        await typeLine(
          page,
          "while ! ip -4 addr show eth0 | grep -q 10.0.2.15; do sleep 0.2; done; echo pci-net-$((40+2))",
        );
        await waitForTerminal(page, (t) => t.includes("pci-net-42"), "DHCP over the PCI NIC", COMMAND_TIMEOUT_MS);
      },
    );

    await check("?share=memory: the guest mounts the in-page 9p share; the devices panel shows 9p", async () => {
      await page.goto(`${url}?share=memory`);
      await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
      await typeLine(page, "echo in-page-9p > /mnt/host/f && cat /mnt/host/f | tr a-z A-Z");
      await waitForTerminal(page, (t) => t.includes("IN-PAGE-9P"), "a file through the share", COMMAND_TIMEOUT_MS);
      await page.locator('[data-tab="devices"]').click();
      const dev = page.locator('[data-device="virtio-9p0"]');
      await dev.locator('[data-feature="VIRTIO_9P_MOUNT_TAG"][data-accepted="true"]').waitFor({ timeout: 10_000 });
      // The device's facts: its mount tag and a counter per 9P message type. The panel's first picture after
      // the tab opens may predate the command, so read until the counters show it (10 s at most).
      const shows = (t: string) => /mountTag\s*host/.test(t) && /Twrite\s*[1-9]/.test(t) && /Twalk\s*[1-9]/.test(t);
      let text = "";
      for (const until = Date.now() + 10_000; Date.now() < until; await page.waitForTimeout(250)) {
        text = (await dev.textContent()) ?? "";
        if (shows(text)) break;
      }
      if (!shows(text)) throw new Error(`virtio-9p0 shows: ${text.slice(text.indexOf("mountTag"), 600)}`);
      // The picture: the 9p section with its facts unfolded.
      const more = dev.locator("details.device-facts-more summary");
      if ((await more.count()) > 0) await more.click();
      await dev.scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(ARTIFACTS, "devices-9p.png") });
    });

    await check(
      "?share=memory: files uploaded in the page (picker, drop on the console) are read in the guest; a guest file downloads whole",
      async () => {
        // The page is still on ?share=memory from the check above.
        const up = randomBytes(200_000);
        await page.locator('[data-tab="files"]').click();
        await page.getByLabel("Upload to /mnt/host").setInputFiles({
          name: "uploaded.bin",
          mimeType: "application/octet-stream",
          buffer: up,
        });
        await page.locator('[data-share-file="uploaded.bin"]').waitFor({ timeout: 10_000 });
        const upMd5 = createHash("md5").update(up).digest("hex");
        await typeLine(page, "md5sum /mnt/host/uploaded.bin");
        await waitForTerminal(
          page,
          (t) => t.includes(`${upMd5}  /mnt/host/uploaded.bin`),
          "md5 of the upload",
          COMMAND_TIMEOUT_MS,
        );
        await typeLine(
          page,
          "head -c 150000 /dev/urandom > /mnt/host/guest.bin && echo gmd5-$(md5sum < /mnt/host/guest.bin | cut -c1-32)",
        );
        await waitForTerminal(page, (t) => /gmd5-[0-9a-f]{32}/.test(t), "the guest's file", COMMAND_TIMEOUT_MS);
        const guestMd5 = /gmd5-([0-9a-f]{32})/.exec(await terminalText(page))?.[1];
        await page.getByRole("button", { name: "Refresh" }).click();
        await page.locator('[data-share-file="guest.bin"]').waitFor({ timeout: 10_000 });
        const [dl] = await Promise.all([
          page.waitForEvent("download", { timeout: 10_000 }),
          page.getByRole("button", { name: "Download guest.bin" }).click(),
        ]);
        const got = readFileSync(await dl.path());
        if (got.length !== 150_000 || createHash("md5").update(got).digest("hex") !== guestMd5) {
          throw new Error(
            `downloaded ${got.length} bytes, md5 ${createHash("md5").update(got).digest("hex")}, guest says ${guestMd5}`,
          );
        }
        // A file dropped on the console lands in the share too.
        const dropped = await page.evaluateHandle(() => {
          const d = new DataTransfer();
          d.items.add(new File(["dropped-on-the-console\n"], "dropped.txt"));
          return d;
        });
        await page.locator(".console-pane").dispatchEvent("drop", { dataTransfer: dropped });
        await page.locator('[data-share-file="dropped.txt"]').waitFor({ timeout: 10_000 });
        await typeLine(page, "tr a-z A-Z < /mnt/host/dropped.txt");
        await waitForTerminal(
          page,
          (t) => t.includes("DROPPED-ON-THE-CONSOLE"),
          "the dropped file",
          COMMAND_TIMEOUT_MS,
        );
        await page.screenshot({ path: join(ARTIFACTS, "files-9p.png") });
      },
    );

    await check("HOST_TSO4 switched off in the controls is offered-off and not accepted after the reboot", async () => {
      await page.goto(url);
      await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
      await page.locator('[data-tab="network"]').click();
      await page.locator('[data-offload="HOST_TSO4"]').uncheck();
      await waitForTerminal(
        page,
        (t) => !t.includes("uname") && PROMPT_AT_END.test(t),
        "prompt after reboot",
        BOOT_TIMEOUT_MS,
      );
      if (!page.url().includes("offloads=-HOST_TSO4")) throw new Error(`the URL does not carry it: ${page.url()}`);
      await page.locator('[data-tab="devices"]').click();
      const net = page.locator('[data-device="virtio-net0"]');
      // Show every bit, so the withdrawn one has a row to read.
      await net.locator(".toggle input").check();
      await net
        .locator('[data-feature="VIRTIO_NET_F_HOST_TSO4"][data-offered="false"][data-accepted="false"]')
        .waitFor({ timeout: 10_000 });
      // The driver negotiated again (GUEST_TSO4 accepted), and still without HOST_TSO4.
      await net.locator('[data-feature="VIRTIO_NET_F_GUEST_TSO4"][data-accepted="true"]').waitFor({ timeout: 10_000 });
      await page.screenshot({ path: join(ARTIFACTS, "devices-no-host-tso4.png") });
    });

    await check(
      "wget through the in-page stack and the relay: right sha256, tx kicks and used.idx rise, tshark reads the capture",
      async () => {
        const files = await fileServer();
        const relay = await startRelay(`127.0.0.1:${files.port}`);
        try {
          await page.goto(`${url}?relay=${encodeURIComponent(relay.url)}`);
          await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
          await page.locator('[data-tab="network"]').click();
          await page.locator(".network-panel dd", { hasText: `wisp ${relay.url}` }).waitFor({ timeout: 5000 });
          await page.getByRole("button", { name: "Start packet capture" }).click();
          await page.getByRole("button", { name: /Stop capture/ }).waitFor({ timeout: 5000 });
          await page.locator('[data-tab="queues"]').click();
          const tx = page.locator('[data-queue="virtio-net0/transmitq1"]');
          const txCounters = async () =>
            [
              await tx.locator('[data-col="kicks"]').textContent(),
              await tx.locator('[data-col="usedIdx"]').textContent(),
            ].map(Number);
          const before = await txCounters();
          // DHCP runs in the background at boot; wait for the address before downloading.
          await typeLine(
            page,
            `while ! ip -4 addr show eth0 | grep -q 10.0.2.15; do sleep 0.2; done; wget -q -O /tmp/blob http://10.0.2.2:${files.port}/blob && sha256sum /tmp/blob`,
          );
          await waitForTerminal(page, (t) => t.includes(`${files.sha256}  /tmp/blob`), "sha256", 60_000);
          await page.screenshot({ path: join(ARTIFACTS, "queues-wget.png") });
          await page.waitForTimeout(500);
          const after = await txCounters();
          if (!(after[0] > before[0] && after[1] !== before[1])) {
            throw new Error(`transmitq1 kicks/used.idx did not move: ${before} → ${after}`);
          }
          await page.locator('[data-tab="network"]').click();
          const download = page.waitForEvent("download", { timeout: 10_000 });
          await page.getByRole("button", { name: /Stop capture/ }).click();
          const pcap = join(ROOT, "test-results/capture.pcapng");
          await (await download).saveAs(pcap);
          const http = execFileSync(
            "tshark",
            ["-r", pcap, "-Y", "http.request", "-T", "fields", "-e", "http.request.uri"],
            {
              encoding: "utf8",
            },
          );
          if (!http.includes("/blob")) throw new Error(`tshark sees no GET /blob in the capture: ${http}`);
          await page.screenshot({ path: join(ARTIFACTS, "network-wget.png") });
        } finally {
          await stopRelay(relay.child);
          files.server.close();
        }
      },
    );

    await check(
      "?disk=URL attaches virtio-blk (on PCI by transport.blk) over HTTP ranges; /dev/vda reads the image, writes stay in memory",
      async () => {
        const disk = await diskServer();
        try {
          const plain = await context.newPage();
          await plain.goto(`${url}?disk=${encodeURIComponent(disk.url.replace("disk.img", "plain.img"))}`);
          await plain
            .getByRole("alert")
            .filter({ hasText: /ignores HTTP range requests/ })
            .waitFor({ timeout: 20_000 });
          await plain.close();
          // transport.blk=pci: the disks on PCI, everything else on the board's MMIO.
          await page.goto(`${url}?disk=${encodeURIComponent(disk.url)}&transport.blk=pci`);
          await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", BOOT_TIMEOUT_MS);
          await page.locator('[data-tab="devices"]').click();
          await page
            .locator('[data-device="virtio-blk0"] .location')
            .filter({ hasText: /virtio-pci 00:01\.0/ })
            .waitFor({ timeout: 5000 });
          // Sector 0, and 256 KiB from an offset that is no multiple of the backend's 64 KiB chunks.
          await typeLine(
            page,
            "echo vda $(dd if=/dev/vda bs=512 count=1 2>/dev/null | md5sum) $(dd if=/dev/vda bs=4096 skip=9 count=64 2>/dev/null | md5sum)",
          );
          const want = `vda ${disk.md5(0, 512)} - ${disk.md5(9 * 4096, 64 * 4096)} -`;
          await waitForTerminal(page, (t) => t.includes(want), want, COMMAND_TIMEOUT_MS);
          await typeLine(
            page,
            "echo overlay-ok | dd of=/dev/vda bs=512 seek=3 conv=sync 2>/dev/null; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=3 count=1 2>/dev/null | head -c 10; echo",
          );
          await waitForTerminal(page, (t) => /\noverlay-ok\s*\n/.test(t), "overlay-ok", COMMAND_TIMEOUT_MS);
          if (disk.partials === 0) throw new Error("the server saw no range requests");
          // A picked file becomes the next disk (/dev/vdb) after a reboot with it.
          const picked = randomBytes(64 * 1024);
          await page.locator("details.images summary").click();
          await page.getByLabel("disk image file").setInputFiles({
            name: "picked.img",
            mimeType: "application/octet-stream",
            buffer: picked,
          });
          await waitForTerminal(
            page,
            (t) => !t.includes("overlay-ok") && PROMPT_AT_END.test(t),
            "prompt",
            BOOT_TIMEOUT_MS,
          );
          await typeLine(page, "echo vdb $(dd if=/dev/vdb bs=512 skip=7 count=9 2>/dev/null | md5sum)");
          const md5 = createHash("md5")
            .update(picked.subarray(7 * 512, 16 * 512))
            .digest("hex");
          await waitForTerminal(page, (t) => t.includes(`vdb ${md5} -`), "vdb md5", COMMAND_TIMEOUT_MS);
        } finally {
          disk.server.closeAllConnections();
          disk.server.close();
        }
      },
    );

    await check(
      "two tabs with ?net=tab share an Ethernet segment over BroadcastChannel: 10.0.3.1 pings 10.0.3.2",
      async () => {
        await tabNetworkPing(url, context, page);
      },
    );

    await check(
      `no layout jumps at 1280×720 while the guest boots and runs with the panels live (CLS < ${CLS_LIMIT})`,
      async () => {
        const cls = await layoutShifts(url, context, BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS);
        console.log(`    CLS ${cls.value.toFixed(4)} over ${cls.shifts.length} shift(s)`);
        if (!(cls.value < CLS_LIMIT)) {
          const worst = [...cls.shifts]
            .sort((a, b) => b.value - a.value)
            .slice(0, 4)
            .map((sh) => `${sh.value.toFixed(4)} at ${sh.at} ms: ${sh.sources.join(", ")}`)
            .join("; ");
          throw new Error(`CLS ${cls.value.toFixed(4)}; worst: ${worst}`);
        }
      },
    );

    await check("no uncaught errors in the page", async () => {
      if (pageErrors.length > 0) throw new Error(pageErrors.join("; "));
    });
    console.log(`e2e: screenshots in ${SCREENSHOTS} and ${ARTIFACTS}`);
  } finally {
    await browser.close();
  }
}

const t0 = Date.now();
try {
  await main();
} catch (e) {
  failed++;
  console.log(`  ✗ e2e harness: ${(e as Error).stack ?? String(e)}`);
}
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, JSON.stringify({ passed, failed }));
console.log(`e2e: ${passed} passed, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
process.exit(failed === 0 ? 0 : 1);
