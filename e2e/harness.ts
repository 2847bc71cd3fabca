// What the e2e specs and the page benchmark share: Debian's chromium and its flags (playwright.config.ts
// launches it for the specs), reading the guest's terminal out of xterm.js and typing into it; and, for
// the benchmark and `npx tsx e2e/layout-shift.ts` outside Playwright Test, openBrowser(): build the page,
// serve it with `vite preview` (COOP/COEP from vite.config.ts) and start chromium through playwright-core
// with a fresh profile (never a downloaded browser).

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { build, type PreviewServer, preview } from "vite";
// @ts-expect-error: a plain .mjs build script without type declarations
import { buildCore } from "../scripts/build-core.mjs";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const CHROMIUM = process.env.VIREO_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/**
 * The shell prompt at the end of a terminal line (guest/ sets PS1), or followed on its line only by a
 * kernel message that came just after it (e.g. "[    2.50] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link
 * becomes ready" once DHCP brings the link up), which is not the shell's output.
 */
export const PROMPT_AT_END = /vireo:~# *(\[ *\d+\.\d+\] [^\n]*)?$/m;

export interface Browser {
  url: string;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Builds the page, serves it and opens chromium on an empty tab; close() undoes all of it. */
export async function openBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  buildCore();
  await build({ root: ROOT, logLevel: "warn", build: { chunkSizeWarningLimit: 2048 } });
  const profile = mkdtempSync(join(tmpdir(), "vireo-e2e-chromium-"));
  let server: PreviewServer | undefined;
  let context: BrowserContext | undefined;
  const close = async (): Promise<void> => {
    await context?.close().catch(() => {});
    await server?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    server = await preview({ root: ROOT, logLevel: "warn", preview: { port: 4180, strictPort: false } });
    const url = server.resolvedUrls?.local[0];
    if (url === undefined) throw new Error("vite preview did not report a URL");
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 720 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return { url, context, page, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Everything a console terminal shows (scrollback included), one line per line. */
export async function terminalText(page: Page, port = "uart"): Promise<string> {
  return page.evaluate((p) => {
    type Line = { translateToString(trim: boolean): string };
    type Term = { buffer: { active: { length: number; getLine(i: number): Line | undefined } } };
    const box = document.querySelector(`[data-port="${p}"]`) as (Element & { vireoTerminal?: Term }) | null;
    const buf = box?.vireoTerminal?.buffer.active;
    if (buf === undefined) return "";
    const out: string[] = [];
    for (let i = 0; i < buf.length; i++) out.push(buf.getLine(i)?.translateToString(true) ?? "");
    return out.join("\n");
  }, port);
}

export async function waitForTerminal(
  page: Page,
  test: (text: string) => boolean,
  what: string,
  timeoutMs: number,
  pollMs = 250,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = "";
  while (Date.now() < deadline) {
    text = await terminalText(page);
    if (test(text)) return text;
    await page.waitForTimeout(pollMs);
  }
  const tail = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(-6)
    .join(" | ");
  throw new Error(`no ${what} after ${timeoutMs / 1000} s; the terminal ends with: ${tail}`);
}

/** Types a line into the serial terminal as a person would. */
export async function typeLine(page: Page, line: string): Promise<void> {
  await page.locator('[data-port="uart"] .xterm-helper-textarea').focus();
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
}
