// The page's figures for `npm run bench` (issue 8): boot to the prompt in headless chromium (from
// navigation, images served locally, as a person sees it) and the bench's CPU workload typed at
// the prompt, so the guest's instruction rate in the worker can be compared with Node's.
// `npx tsx e2e/page-bench.ts` prints them as JSON; bench/run.ts can import pageFigures().

import { pathToFileURL } from "node:url";
import { openBrowser, PROMPT_AT_END, typeLine, waitForTerminal } from "./harness.ts";

export interface PageFigures {
  /** Navigation → `vireo: boot complete` in the terminal. */
  bannerMs: number;
  /** Navigation → the shell prompt. */
  promptMs: number;
  /** Enter → the workload's end marker. */
  workloadMs: number | undefined;
}

const BANNER = "vireo: boot complete";

/** Boots the page once; runs `workload` at the prompt when given, waiting for `workloadEnd`. */
export async function pageFigures(workload?: string, workloadEnd?: string, timeoutMs = 300_000): Promise<PageFigures> {
  const browser = await openBrowser();
  try {
    const { page, url } = browser;
    const t0 = performance.now();
    await page.goto(url);
    await waitForTerminal(page, (t) => t.includes(BANNER), "banner", timeoutMs, 20);
    const bannerMs = performance.now() - t0;
    await waitForTerminal(page, (t) => PROMPT_AT_END.test(t), "prompt", timeoutMs, 20);
    const promptMs = performance.now() - t0;
    let workloadMs: number | undefined;
    if (workload !== undefined && workloadEnd !== undefined) {
      await typeLine(page, workload);
      const t1 = performance.now();
      // The marker on a line of its own (the typed command line also contains the text).
      const done = new RegExp(`^${workloadEnd}\\s*$`, "m");
      await waitForTerminal(page, (t) => done.test(t), "workload end marker", timeoutMs, 50);
      workloadMs = performance.now() - t1;
    }
    return { bannerMs, promptMs, workloadMs };
  } finally {
    await browser.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const loop = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo wl-$((6*7))-end";
  console.log(JSON.stringify(await pageFigures(loop, "wl-42-end")));
}
