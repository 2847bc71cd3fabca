// Honest status (issue 17, item 4): one state drives the status row's word, the progress bar's sentence,
// the page title and the run buttons — loading, booting, running, paused, powered off, failed — and the
// Network panel shows the guest's address whatever the backend.

import type { Page } from "@playwright/test";
import { bootToPrompt, COMMAND_TIMEOUT_MS, expect, test } from "./fixtures.ts";
import { typeLine, waitForTerminal } from "./harness.ts";
import { startRelay, stopRelay } from "./servers.ts";

/** Every (state word, progress sentence) pair the page shows, in order, recorded in the page from its start. */
const RECORD_STATES = `
  window.vireoStates = [];
  const look = () => {
    const word = document.querySelector('[data-testid="phase"]')?.textContent ?? "";
    const text = document.querySelector(".boot-progress-text")?.textContent ?? "";
    const last = window.vireoStates[window.vireoStates.length - 1];
    if (word !== "" && (last === undefined || last[0] !== word || last[1] !== text)) window.vireoStates.push([word, text]);
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });
`;

async function states(page: Page): Promise<[string, string][]> {
  return (await page.evaluate("window.vireoStates")) as [string, string][];
}

function statusOf(page: Page) {
  return {
    word: page.locator('[data-testid="phase"]'),
    text: page.locator(".boot-progress-text"),
    pause: page.getByRole("button", { name: "Pause" }),
    reset: page.getByRole("button", { name: "Reset" }),
    powerOff: page.getByRole("button", { name: "Power off" }),
    powerOn: page.getByRole("button", { name: "Power on" }),
  };
}

test("loading, then booting, then running: never idle while the images download, each state in its own words", async ({
  page,
  url,
}) => {
  await page.addInitScript(RECORD_STATES);
  // The kernel's download is held until the loading state has been read (a fixed delay raced a busy machine).
  let release = (): void => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  await page.route("**/images/Image", async (route) => {
    await released;
    await route.continue().catch(() => {});
  });
  await page.goto(url);
  const s = statusOf(page);
  await expect(s.word).toHaveText("loading", { timeout: 20_000 });
  await expect(s.text).toHaveText(/^(loading images…|downloading images: [\d.]+ \/ [\d.?]+ MiB)$/);
  await expect(s.pause).toBeDisabled();
  await expect(s.reset).toBeDisabled();
  await expect(s.powerOn).toBeDisabled();
  release();
  await bootToPrompt(page);
  await expect(s.word).toHaveText("running");
  await expect(s.text).toHaveText("running: the shell is ready");
  await expect(page).toHaveTitle("vireo · running");
  await expect(s.pause).toBeEnabled();
  const seen = await states(page);
  const words = seen.map(([w]) => w).filter((w, i, a) => i === 0 || a[i - 1] !== w);
  expect(words).toEqual(["loading", "booting", "running"]);
  for (const [w, t] of seen) {
    if (w === "booting") expect(t).toMatch(/^booting: (firmware|kernel|init|prompt)…$/);
    if (w === "loading") expect(t).toMatch(/^(loading|downloading) images/);
  }
});

test("Power off says powered off (not that the shell is ready), Power on boots again; pause says paused", async ({
  page,
  url,
}) => {
  await page.goto(url);
  await bootToPrompt(page);
  const s = statusOf(page);
  await s.pause.click();
  await expect(s.word).toHaveText("paused");
  await expect(s.text).toHaveText("paused: the hart is stopped (Resume goes on)");
  await expect(page.getByRole("button", { name: "Resume" })).toBeEnabled();
  await page.getByRole("button", { name: "Resume" }).click();
  await expect(s.word).toHaveText("running");
  await s.powerOff.click();
  await expect(s.word).toHaveText("powered off");
  await expect(s.text).toHaveText("powered off: Power on boots it again");
  await expect(page.locator(".boot-progress")).toHaveAttribute("data-state", "off");
  await expect(page).toHaveTitle("vireo · powered off");
  await expect(s.pause).toBeDisabled();
  await expect(s.powerOff).toHaveCount(0);
  await expect(s.powerOn).toBeEnabled();
  await s.powerOn.click();
  await waitForTerminal(page, (t) => t.includes("vireo: boot complete"), "a new boot", 90_000);
  await expect(s.word).toHaveText("running");
  await expect(s.text).toHaveText("running: the shell is ready");
});

test("a failure reads failed with its reason, not a boot stage; only Power on is offered", async ({ page, url }) => {
  await page.goto(`${url}?kernel=no-such-kernel`);
  const s = statusOf(page);
  // As long as the page's own "missing image" check allows: the worker starts and fetches first.
  await expect(s.word).toHaveText("failed", { timeout: 20_000 });
  await expect(s.text).toHaveText(/^failed: download: .*no-such-kernel/);
  await expect(page.locator(".boot-progress")).toHaveAttribute("data-state", "failed");
  await expect(page).toHaveTitle("vireo · failed");
  await expect(s.pause).toBeDisabled();
  await expect(s.reset).toBeDisabled();
  await expect(s.powerOn).toBeEnabled();
});

test("with ?net=relay (the relay's L2 switch and its DHCP) the Network panel shows the guest's address", async ({
  page,
  url,
}) => {
  const relay = await startRelay("127.0.0.1:9");
  try {
    await page.goto(`${url}?net=relay&relay=${encodeURIComponent(relay.url)}`);
    await bootToPrompt(page);
    await typeLine(
      page,
      "while ! ip -4 addr show eth0 | grep -q 'inet '; do sleep 0.2; done; echo addr=$(ip -4 -o addr show eth0 | sed 's/.*inet \\([0-9.]*\\).*/\\1/')=$((1+1))",
    );
    const text = await waitForTerminal(
      page,
      (t) => /^addr=[\d.]+=2\s*$/m.test(t),
      "the guest's address",
      COMMAND_TIMEOUT_MS,
    );
    const ip = /^addr=([\d.]+)=2\s*$/m.exec(text)?.[1] ?? "";
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await page.locator('[data-tab="network"]').click();
    await expect(page.locator(".network-panel dd", { hasText: /^relay$/ })).toHaveCount(1);
    const guestIp = page
      .locator(".network-panel div", { has: page.locator("dt", { hasText: "guest IP" }) })
      .locator("dd");
    await expect(guestIp).toHaveText(ip);
  } finally {
    await stopRelay(relay.child);
  }
});
