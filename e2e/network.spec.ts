// Networking in the page: the default in-page stack reaching a loopback server through the project's relay
// (the guest's download, the virtqueue counters and the packet capture checked), and two tabs on one
// Ethernet segment over BroadcastChannel (and `tabnet=NAME` keeping a named segment apart from `default`).

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { BrowserContext, Page } from "@playwright/test";
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, expect, test } from "./fixtures.ts";
import { PROMPT_AT_END, ROOT, typeLine, waitForTerminal } from "./harness.ts";
import { fileServer, startRelay, stopRelay } from "./servers.ts";

const ARTIFACTS = join(ROOT, "test-results/screenshots");

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

test("wget through the in-page stack and the relay: right sha256, tx kicks and used.idx rise, tshark reads the capture", async ({
  page,
  url,
}) => {
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
    const http = execFileSync("tshark", ["-r", pcap, "-Y", "http.request", "-T", "fields", "-e", "http.request.uri"], {
      encoding: "utf8",
    });
    if (!http.includes("/blob")) throw new Error(`tshark sees no GET /blob in the capture: ${http}`);
    await page.screenshot({ path: join(ARTIFACTS, "network-wget.png") });
  } finally {
    await stopRelay(relay.child);
    files.server.close();
  }
});

test("two tabs with ?net=tab share an Ethernet segment over BroadcastChannel: 10.0.3.1 pings 10.0.3.2", async ({
  context,
  page,
  url,
}) => {
  await tabNetworkPing(url, context, page);
});

// The README's `tabnet=NAME`: `?net=tab&tabnet=NAME` joins the tab network NAME instead of `default`. Two tabs on
// `lab` reach each other; a third on the default network, same subnet, is not on their segment.
test("?net=tab&tabnet=lab: two tabs on the network `lab` ping each other, a tab on `default` is not on their segment", async ({
  context,
  page,
  url,
}) => {
  const pages = [page, await context.newPage(), await context.newPage()];
  const queries = ["?net=tab&tabnet=lab", "?net=tab&tabnet=lab", "?net=tab"];
  try {
    await Promise.all(pages.map((p, i) => p.goto(`${url}${queries[i]}`)));
    await Promise.all(pages.map((p) => waitForTerminal(p, (t) => /^vireo:~# /m.test(t), "prompt", BOOT_TIMEOUT_MS)));
    for (const [i, p] of pages.entries()) {
      await typeLine(
        p,
        `dmesg -n 1; while pidof udhcpc >/dev/null; do sleep 0.2; done; ip addr add 10.0.3.${i + 1}/24 dev eth0; ip link set eth0 up; echo tabnet-up-$((${i + 1}))`,
      );
    }
    for (const [i, p] of pages.entries()) {
      await waitForTerminal(p, (t) => t.includes(`tabnet-up-${i + 1}\n`), `tabnet-up-${i + 1}`, COMMAND_TIMEOUT_MS);
    }
    // The Network panel names each tab's channel.
    const channels = ["vireo-l2-lab", "vireo-l2-lab", "vireo-l2-default"];
    for (const [i, p] of pages.entries()) {
      await p.locator('[data-tab="network"]').click();
      await p.locator(".network-panel dd", { hasText: `BroadcastChannel ${channels[i]}` }).waitFor({ timeout: 5000 });
    }
    // On `lab`: 10.0.3.1 reaches 10.0.3.2. Not 10.0.3.3, on `default` (its ARP requests never get there).
    await typeLine(page, "ping -c 2 -W 5 10.0.3.2; ping -c 2 -W 2 10.0.3.3; echo pinged-$((40+2))");
    const text = await waitForTerminal(page, (t) => /^pinged-42\s*$/m.test(t), "both pings", 40_000);
    const results = [
      ...text.matchAll(/^--- (10\.0\.3\.\d) ping statistics ---\n(\d+) packets transmitted, (\d+) packets received/gm),
    ].map((m) => `${m[1]}: ${m[3]}/${m[2]}`);
    expect(results).toEqual(["10.0.3.2: 2/2", "10.0.3.3: 0/2"]);
  } finally {
    for (const p of pages.slice(1)) await p.close();
  }
});
