// What the specs share: the served page's address, and `shell`, one page per worker booted to the prompt
// once and used by the tests that only look at a running machine (a failing test ends its worker, so the
// next test gets a fresh boot rather than a broken page).

import { test as base, type Page } from "@playwright/test";
import { PROMPT_AT_END, typeLine, waitForTerminal } from "./harness.ts";

/** The boot in an interpreter on a shared 2-core machine: generous, but a boot takes a few seconds. */
export const BOOT_TIMEOUT_MS = 90_000;
export const COMMAND_TIMEOUT_MS = 20_000;

export interface Shell {
  page: Page;
  /** Uncaught errors of the page since it opened. */
  errors: string[];
  /**
   * Waits for the boot banner and the prompt, then quiets the kernel's console messages (`dmesg -n 1`)
   * so a late one (DHCP's "link becomes ready") cannot land inside a typed command; once per boot.
   */
  ready(): Promise<void>;
  /** After a reboot the next ready() waits for the prompt again. */
  rebooted(): void;
}

/** `dmesg -n 1` with a computed marker, so the echoed command itself never matches. */
export async function quietConsole(page: Page): Promise<void> {
  await typeLine(page, "dmesg -n 1; echo quiet-$((40+2))");
  await waitForTerminal(page, (t) => /^quiet-42\s*$/m.test(t), "quiet-42", COMMAND_TIMEOUT_MS);
}

export async function bootToPrompt(page: Page): Promise<void> {
  await waitForTerminal(page, (t) => t.includes("vireo: boot complete"), "boot banner", BOOT_TIMEOUT_MS);
  await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", COMMAND_TIMEOUT_MS);
}

function vireoUrl(): string {
  const url = process.env.VIREO_E2E_URL;
  if (url === undefined) throw new Error("VIREO_E2E_URL is unset: run the specs with `npx playwright test`");
  return url;
}

export const test = base.extend<{ url: string }, { shell: Shell }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern
  url: async ({}, use) => {
    await use(vireoUrl());
  },
  shell: [
    async ({ browser }, use) => {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 720 },
        colorScheme: "dark",
        acceptDownloads: true,
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(vireoUrl());
      let booted: Promise<void> | undefined;
      await use({
        page,
        errors,
        ready: () => {
          booted ??= bootToPrompt(page).then(() => quietConsole(page));
          return booted;
        },
        rebooted: () => {
          booted = undefined;
        },
      });
      await context.close();
    },
    { scope: "worker", timeout: 60_000 },
  ],
});

export { expect } from "@playwright/test";
