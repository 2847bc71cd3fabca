// The page's layout stability (issue 8: "no layout jumps while the guest runs"): Cumulative Layout
// Shift measured in the page with a buffered PerformanceObserver while the guest boots and then runs a
// command with the inspector panels updating. e2e/layout.spec.ts asserts it; `npx tsx e2e/layout-shift.ts`
// prints every shift as JSON.

import { pathToFileURL } from "node:url";
import type { BrowserContext } from "@playwright/test";
import { openBrowser, PROMPT_AT_END, typeLine, waitForTerminal } from "./harness.ts";

/** The web-vitals "good" bar is 0.1; the page holds a stricter one. */
export const CLS_LIMIT = 0.02;

/**
 * Sums every layout shift not caused by recent input (Layout Instability API, buffered from the
 * navigation) into window.vireoCls, with what moved, so a failure names the culprit. A string: the
 * init script must not depend on helpers the TypeScript loader adds to functions.
 */
const CLS_OBSERVER = `
  window.vireoCls = { value: 0, shifts: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.hadRecentInput) continue;
      window.vireoCls.value += e.value;
      window.vireoCls.shifts.push({
        value: e.value,
        at: Math.round(e.startTime),
        sources: (e.sources || []).map((s) => {
          const n = s.node;
          if (!n) return "?";
          const el = n.nodeType === 1 ? n : n.parentElement;
          const cls = el && typeof el.className === "string" && el.className ? "." + el.className.split(" ").join(".") : "";
          const r = (x) => [x.x, x.y, x.width, x.height].map(Math.round).join(",");
          const what = (el ? el.tagName.toLowerCase() + cls : "#text") + (n.nodeType === 3 ? ' "' + n.textContent.slice(0, 20) + '"' : "");
          return what + " (" + r(s.previousRect) + " → " + r(s.currentRect) + ")";
        }),
      });
    }
  }).observe({ type: "layout-shift", buffered: true });
`;

export interface ClsReport {
  value: number;
  shifts: { value: number; at: number; sources: string[] }[];
}

/**
 * Boots a fresh page at 1280×720 with the Devices panel showing, then runs a command that prints and
 * sends packets for a few seconds with the Queues and then the Network panel live; returns the CLS.
 */
export async function layoutShifts(
  url: string,
  context: BrowserContext,
  bootTimeoutMs: number,
  commandTimeoutMs: number,
): Promise<ClsReport> {
  const p = await context.newPage();
  try {
    await p.setViewportSize({ width: 1280, height: 720 });
    await p.addInitScript(CLS_OBSERVER);
    await p.goto(url);
    await waitForTerminal(p, (t) => PROMPT_AT_END.test(t), "prompt", bootTimeoutMs);
    await p.locator('[data-tab="queues"]').click();
    await typeLine(
      p,
      "while ! ip -4 addr show eth0 | grep -q 10.0.2.15; do sleep 0.2; done; for i in 1 2 3 4 5 6 7 8; do echo tick $i $(ping -c 1 -W 1 10.0.2.2 | grep -c ttl); sleep 0.3; done; echo cls-$((40+2))",
    );
    await waitForTerminal(p, (t) => t.includes("tick 3 "), "tick 3", commandTimeoutMs);
    await p.locator('[data-tab="network"]').click();
    await waitForTerminal(p, (t) => t.includes("cls-42"), "cls-42", commandTimeoutMs);
    // A few more snapshots with the Network panel up and the guest idle at the prompt.
    await p.waitForTimeout(1500);
    return (await p.evaluate("window.vireoCls")) as ClsReport;
  } finally {
    await p.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const browser = await openBrowser();
  try {
    console.log(JSON.stringify(await layoutShifts(browser.url, browser.context, 90_000, 30_000), null, 1));
  } finally {
    await browser.close();
  }
}
