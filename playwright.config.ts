// The browser e2e suite (`npx playwright test`, and `npm test` after vitest): Playwright Test driving
// Debian's chromium (never a downloaded browser) against the built page, served by `vite preview` from
// e2e/global-setup.ts. One worker: every spec boots Linux in the page, and the machine's cores are shared.

import { defineConfig } from "@playwright/test";
import { CHROMIUM, CHROMIUM_ARGS } from "./e2e/harness.ts";

export default defineConfig({
  testDir: "e2e",
  testMatch: "*.spec.ts",
  globalSetup: "./e2e/global-setup.ts",
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  /** A test that boots waits ≤ 90 s for the prompt (an interpreter on a shared 2-core machine), then runs commands. */
  timeout: 180_000,
  expect: { timeout: 10_000 },
  /** Playwright empties its output folder at the start of a run: its own, not test-results/ (vitest writes there). */
  outputDir: "test-results/playwright",
  reporter: [
    ["list"],
    ["html", { open: "never", outputFolder: "playwright-report" }],
    // scripts/test.mjs reads the counts from here.
    ["json", { outputFile: "test-results/e2e.json" }],
  ],
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 720 },
    // The page follows prefers-color-scheme; the README's picture is the dark theme (responsive.spec.ts checks both).
    colorScheme: "dark",
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
    acceptDownloads: true,
    // A failed test keeps its trace (actions, console, network, sources; `npx playwright show-trace FILE`) and
    // a screenshot of each of its pages. No DOM snapshots or screencast in the trace: xterm repaints its rows
    // all the time, and recording them doubled the suite's time.
    trace: { mode: "retain-on-failure", snapshots: false, screenshots: false, sources: true },
    screenshot: "only-on-failure",
  },
});
