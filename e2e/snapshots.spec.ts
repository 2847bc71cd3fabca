// Snapshots (issue 15) in the page, one chain: Save in the booted shell, restore that file in a fresh tab,
// keep it across a reload; then `?snapshot=URL` of the command line's snapshot and the refusal of bad files.
// Serial: a step that fails leaves the ones after it without their input, and they are reported as not run.

import { join } from "node:path";
import type { BrowserContext, Page } from "@playwright/test";
import { test } from "./fixtures.ts";
import { ROOT } from "./harness.ts";
import {
  cliPromptSnapshot,
  corruptRefused,
  keepAcrossReload,
  restoreInFreshTab,
  saveInPage,
  snapshotFromUrl,
} from "./snapshots.ts";

test.describe.configure({ mode: "serial" });

let context: BrowserContext;
let savedFile: string;
let restored: Page;
let fromUrl: Page;
let cliSnapshot: Uint8Array;

test.beforeAll(async ({ browser }) => {
  context = await browser.newContext({
    viewport: { width: 1280, height: 720 },
    colorScheme: "dark",
    acceptDownloads: true,
  });
});
test.afterAll(async () => {
  await context.close();
});

test("Save downloads the running machine as vireo-YYYYMMDD-HHMMSS.vireo and it runs on", async ({ shell }) => {
  await shell.ready();
  savedFile = await saveInPage(shell.page);
});

test("a fresh tab restores that file from the file picker: the file written before the save is there, `echo $((6*7))` prints 42", async ({
  url,
}) => {
  restored = await restoreInFreshTab(context, url, savedFile);
});

test('"keep this machine" on, reload, "Resume saved machine": a file written before the reload is there', async () => {
  await keepAcrossReload(restored);
  await restored.close();
});

test("?snapshot=URL (the command line's snapshot at the prompt, from a loopback server) reaches a usable prompt", async ({
  url,
}) => {
  cliSnapshot = cliPromptSnapshot(join(ROOT, "test-results/prompt.vireo"));
  fromUrl = await snapshotFromUrl(context, url, cliSnapshot);
});

test("a corrupt snapshot and a foreign file are refused with the reason in the page; the running machine goes on", async () => {
  await corruptRefused(fromUrl, cliSnapshot);
});
