// A first visit (issue 17, item 8): a one-line note says what this is, what to type, where the inspector is and
// links the README, until dismissed (remembered in this browser); the tab has an icon, and its title says the
// machine's state as the status row does.

import { imageBuilt } from "../guest/debian/serial.ts";
import { bootToPrompt, expect, test } from "./fixtures.ts";

/**
 * The image chooser asks the server for the Debian image's manifest (issue 18): until `npm run guest:debian` has
 * built it the answer is a 404, which is how the page learns it is missing — the one failed request expected.
 */
const DEBIAN_PROBE = /\/images\/debian\/manifest\.json$/;
const expectedFailure = (url: string): boolean => !imageBuilt() && DEBIAN_PROBE.test(url);

/** Every title the tab shows, in order, recorded in the page from its start. */
const RECORD_TITLES = `
  window.vireoTitles = [];
  const look = () => {
    const t = document.title;
    if (t !== "" && window.vireoTitles[window.vireoTitles.length - 1] !== t) window.vireoTitles.push(t);
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });
`;

test("first visit: the note, the README link, the icon, the title through the states; dismissed for good", async ({
  page,
  url,
}) => {
  const failed: string[] = [];
  page.on("response", (r) => {
    if (r.status() >= 400 && !expectedFailure(r.url())) failed.push(`${r.status()} ${r.url()}`);
  });
  page.on("console", (m) => {
    if (
      m.type() === "error" &&
      /404|favicon|Failed to load resource/.test(m.text()) &&
      !expectedFailure(m.location().url)
    )
      failed.push(m.text());
  });
  await page.addInitScript(RECORD_TITLES);
  await page.goto(url);
  const note = page.getByRole("complementary", { name: "welcome" });
  await expect(note).toBeVisible();
  await expect(note).toContainText("runs a RISC-V Linux machine in this tab");
  await expect(note).toContainText("uname -a");
  // What is on screen: innerText leaves out the narrow screen's words, which CSS hides here.
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point
  expect(await note.innerText()).toContain("the inspector on the right shows its virtio devices live");

  const readme = note.getByRole("link", { name: "README" });
  const href = await readme.getAttribute("href");
  const doc = await page.request.get(new URL(href ?? "", url).href);
  expect(doc.status()).toBe(200);
  expect(await doc.text()).toMatch(/^# vireo\n/);

  const icon = page.locator('link[rel="icon"]');
  const iconHref = await icon.getAttribute("href");
  const svg = await page.request.get(new URL(iconHref ?? "", url).href);
  expect(svg.status()).toBe(200);
  expect(svg.headers()["content-type"]).toContain("image/svg+xml");
  expect(await svg.text()).toContain("<svg");

  await bootToPrompt(page);
  await expect(page).toHaveTitle("vireo · running");
  const titles = (await page.evaluate("window.vireoTitles")) as string[];
  // The first is index.html's own, before the app renders.
  const states = titles.filter((t) => t.startsWith("vireo · "));
  expect(states.indexOf("vireo · booting"), titles.join(" | ")).toBeGreaterThanOrEqual(0);
  expect(states.indexOf("vireo · booting")).toBeLessThan(states.indexOf("vireo · running"));
  await page.getByRole("button", { name: "Power off" }).click();
  await expect(page).toHaveTitle("vireo · powered off");

  await note.getByRole("button", { name: "dismiss the welcome note" }).click();
  await expect(note).toHaveCount(0);
  await page.reload();
  await expect(page.locator('[data-testid="phase"]')).toBeVisible();
  await expect(page.getByRole("complementary", { name: "welcome" })).toHaveCount(0);
  expect(failed).toEqual([]);
});

test("on a phone-sized screen the note names the Inspector view and fits the width", async ({ browser, url }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "light" });
  try {
    const page = await context.newPage();
    await page.goto(url);
    const note = page.getByRole("complementary", { name: "welcome" });
    await expect(note).toBeVisible();
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point (CSS picks the words)
    const text = await note.innerText();
    expect(text).toContain("the inspector (the Inspector view) shows");
    expect(text).not.toContain("on the right");
    const box = await note.boundingBox();
    expect(box).not.toBeNull();
    expect((box?.x ?? -1) >= 0 && (box?.x ?? 0) + (box?.width ?? 0) <= 390).toBe(true);
    // The note leaves the console most of the screen.
    expect(box?.height ?? 999).toBeLessThan(120);
  } finally {
    await context.close();
  }
});
