// The page's snapshots in the browser test (issue 15): Save downloads a .vireo file, a fresh tab restores it
// through the file picker and runs on; "keep this machine" survives a reload; `?snapshot=URL` starts from a
// snapshot the command line saved, served by a loopback server of this test; a corrupt file is refused with a
// message naming the problem while the running machine goes on.

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { BrowserContext, Page } from "@playwright/test";
import { ROOT, typeLine, waitForTerminal } from "./harness.ts";

const COMMAND_TIMEOUT_MS = 20_000;
const RESTORE_TIMEOUT_MS = 30_000;
const RESULTS = join(ROOT, "test-results");
/** The line the page writes into the serial terminal after a restore. */
export const RESTORED_NOTE = "[vireo: restored from a snapshot";

/** A loopback server for one file, cross-origin to the page, so it sends the CORS header the worker needs. */
export async function serveFile(
  bytes: Uint8Array,
  name: string,
): Promise<{ server: Server; url: string; close(): void }> {
  const server = createServer((req, res) => {
    if (req.url !== `/${name}`) {
      res.writeHead(404, { "access-control-allow-origin": "*" }).end();
      return;
    }
    res
      .writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": bytes.length,
        "access-control-allow-origin": "*",
      })
      .end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * A snapshot of the committed image at its first prompt, saved by the command line with the page's default
 * machine (256 MiB, net/console/rng on MMIO, the in-page stack's NIC). `npm run vm` rebuilds its bundle when
 * stale.
 */
export function cliPromptSnapshot(file: string): Uint8Array {
  execFileSync("npm", ["run", "--silent", "vm", "--", "--save", file, "--save-at", "vireo:~# ", "--timeout", "120"], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  return readFileSync(file);
}

/** Opens the controls' snapshot… panel (Save, Restore…, keep this machine) unless it is open. */
export async function openSnapshotPanel(page: Page): Promise<void> {
  const panel = page.locator("details.snapshots");
  if ((await panel.getAttribute("open")) === null) await panel.locator("summary").click();
}

/** In `page` (at its prompt): a marker file, then Save; returns the downloaded file's path. */
export async function saveInPage(page: Page): Promise<string> {
  await typeLine(page, "echo saved-$((6*7)) > /tmp/mark; echo mark-$((1+1))-written");
  await waitForTerminal(page, (t) => t.includes("mark-2-written"), "the marker written", COMMAND_TIMEOUT_MS);
  const download = page.waitForEvent("download", { timeout: 30_000 });
  await openSnapshotPanel(page);
  await page.getByRole("button", { name: "Save", exact: true }).click();
  const d = await download;
  const name = d.suggestedFilename();
  if (!/^vireo-\d{8}-\d{6}\.vireo$/.test(name)) throw new Error(`the download is named ${name}`);
  const path = join(RESULTS, name);
  await d.saveAs(path);
  await page.screenshot({ path: join(RESULTS, "screenshots/snapshot-panel.png") });
  const head = readFileSync(path).subarray(0, 8).toString("latin1");
  if (head !== "VIREOSNP") throw new Error(`the download starts with ${JSON.stringify(head)}`);
  // The saved machine goes on.
  await typeLine(page, "echo after-save-$((5*5))");
  await waitForTerminal(page, (t) => t.includes("after-save-25"), "output after the save", COMMAND_TIMEOUT_MS);
  return path;
}

/** A fresh tab restores `file` with the file picker: the marker is there and a typed command runs. */
export async function restoreInFreshTab(context: BrowserContext, url: string, file: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel("snapshot file to restore").setInputFiles(file);
  await waitForTerminal(page, (t) => t.includes(RESTORED_NOTE), "the restored note", RESTORE_TIMEOUT_MS);
  await page.locator('.boot-progress[data-restored="true"]').waitFor({ timeout: 5000 });
  await typeLine(page, "cat /tmp/mark; echo $((6*7))");
  await waitForTerminal(
    page,
    (t) => /\nsaved-42\s*\n42\s*\n/.test(t),
    "saved-42 and 42 from the restored guest",
    COMMAND_TIMEOUT_MS,
  );
  return page;
}

/** "keep this machine" on, a file written, reload, resume: the file is there. Leaves keep switched off. */
export async function keepAcrossReload(page: Page): Promise<void> {
  const keptAt = async (): Promise<number> =>
    Number((await page.locator(".snapshots .kept").getAttribute("data-kept-at")) ?? 0);
  try {
    await openSnapshotPanel(page);
    await page.getByLabel("keep this machine").check();
    await page.waitForFunction(() => document.querySelector(".snapshots .kept")?.hasAttribute("data-kept-at"), null, {
      timeout: 30_000,
    });
    await typeLine(page, "echo kept-$((6*7)) > /tmp/kept; echo kept-$((2+2))-written");
    await waitForTerminal(page, (t) => t.includes("kept-4-written"), "the kept file written", COMMAND_TIMEOUT_MS);
    const typedAt = Date.now();
    // Kept again soon after the typing stopped.
    const deadline = Date.now() + 30_000;
    while ((await keptAt()) < typedAt) {
      if (Date.now() > deadline) throw new Error("no keep after the command");
      await page.waitForTimeout(200);
    }
    await page.reload();
    const resume = page.getByRole("button", { name: /^Resume saved machine from / });
    await resume.waitFor({ timeout: 20_000 });
    // The worker has not started a machine, and the status row says the page waits.
    const phase = await page.locator('[data-testid="phase"]').getAttribute("data-phase");
    if (phase !== "idle") throw new Error(`the page did not wait for the choice: its machine is ${phase}`);
    const word = await page.locator('[data-testid="phase"]').textContent();
    if (word !== "waiting") throw new Error(`while the page waits for the choice its status says "${word}"`);
    const progress = await page.locator(".boot-progress-text").textContent();
    if (!/a kept machine is waiting/.test(progress ?? "")) {
      throw new Error(`while the page waits for the choice its progress line says "${progress}"`);
    }
    await page.screenshot({ path: join(RESULTS, "screenshots/resume-offer.png") });
    await resume.click();
    await waitForTerminal(page, (t) => t.includes(RESTORED_NOTE), "the restored note", RESTORE_TIMEOUT_MS);
    await typeLine(page, "cat /tmp/kept /tmp/mark");
    await waitForTerminal(
      page,
      (t) => /\nkept-42\s*\nsaved-42\s*\n/.test(t),
      "kept-42 from the resumed guest",
      COMMAND_TIMEOUT_MS,
    );
  } finally {
    // The rest of the run boots pages of this origin: they must not find a kept machine.
    await openSnapshotPanel(page).catch(() => {});
    await page
      .getByLabel("keep this machine")
      .uncheck({ timeout: 5000 })
      .catch(() => {});
    await page.evaluate(() => localStorage.removeItem("vireo.keep")).catch(() => {});
  }
}

/** `?snapshot=URL` of the command line's snapshot: the progress bar shows the download, a command runs. */
export async function snapshotFromUrl(context: BrowserContext, url: string, snapshot: Uint8Array): Promise<Page> {
  const served = await serveFile(snapshot, "prompt.vireo");
  const page = await context.newPage();
  try {
    await page.goto(`${url}?snapshot=${encodeURIComponent(served.url)}`);
    await waitForTerminal(page, (t) => t.includes(RESTORED_NOTE), "the restored note", RESTORE_TIMEOUT_MS);
    await typeLine(page, "echo from-url-$((6*7))");
    await waitForTerminal(page, (t) => t.includes("from-url-42"), "from-url-42", COMMAND_TIMEOUT_MS);
    if (!page.url().includes("snapshot=")) throw new Error(`the address lost its snapshot: ${page.url()}`);
    const text = (await page.locator(".boot-progress-text").textContent()) ?? "";
    if (!text.startsWith("restored from a snapshot")) throw new Error(`the progress bar says: ${text}`);
    return page;
  } catch (e) {
    await page.close();
    throw e;
  } finally {
    served.close();
  }
}

/**
 * A file with one flipped byte (picked) is refused with the reason in the page's alert, and so is a file that
 * is no snapshot (dropped on the console); the machine that ran goes on.
 */
export async function corruptRefused(page: Page, good: Uint8Array): Promise<void> {
  const bad = good.slice();
  bad[bad.length >> 1] ^= 0x40;
  const badPath = join(RESULTS, "corrupt.vireo");
  writeFileSync(badPath, bad);
  await page.getByLabel("snapshot file to restore").setInputFiles(badPath);
  const alert = page.getByRole("alert").filter({ hasText: /corrupt\.vireo: snapshot: checksum mismatch/ });
  await alert.waitFor({ timeout: 20_000 });
  // Dropped on the console, as a person would drag it there.
  const dropped = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(
      new File(["#!/bin/sh\necho this is no snapshot, just a shell script of some length\n"], "not-a-snapshot.vireo"),
    );
    return d;
  });
  await page.locator(".console-pane").dispatchEvent("drop", { dataTransfer: dropped });
  await page
    .getByRole("alert")
    .filter({ hasText: /not-a-snapshot\.vireo: snapshot: not a vireo snapshot/ })
    .waitFor({ timeout: 20_000 });
  const phase = await page.locator('[data-testid="phase"]').textContent();
  if (phase !== "running") throw new Error(`after the refused files the machine is ${phase}`);
  await typeLine(page, "echo still-$((7*6))");
  await waitForTerminal(page, (t) => t.includes("still-42"), "the running machine's output", COMMAND_TIMEOUT_MS);
}
