// Failures the page must say in words: a missing image, and a Content-Security-Policy that forbids
// compiling WebAssembly (the core is the only hart: there is no fallback to hide behind).

import { BOOT_TIMEOUT_MS, test } from "./fixtures.ts";
import { waitForTerminal } from "./harness.ts";

test("a missing image is reported in the page", async ({ page, url }) => {
  await page.goto(`${url}?kernel=no-such-kernel`);
  const alert = page.getByRole("alert");
  await alert.waitFor({ timeout: 20_000 });
  const text = (await alert.textContent()) ?? "";
  if (!/no-such-kernel: (HTTP 404|the server sent an HTML page)/.test(text)) throw new Error(`alert says: ${text}`);
});

test("a page whose CSP forbids compiling WebAssembly says so in the page (the core is the only hart: no fallback)", async ({
  context,
  url,
}) => {
  // The server's responses get a Content-Security-Policy: the document's and the worker's.
  const withCsp = async (csp: string) => {
    const p = await context.newPage();
    await p.route("**/*", async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, headers: { ...res.headers(), "content-security-policy": csp } });
    });
    await p.goto(url);
    return p;
  };
  const bad = await withCsp("script-src 'self'");
  try {
    const alert = bad.getByRole("alert").filter({ hasText: /WebAssembly core could not be compiled/ });
    await alert.waitFor({ timeout: 30_000 });
    const text = (await alert.textContent()) ?? "";
    if (!text.includes("must allow 'wasm-unsafe-eval' in script-src")) throw new Error(`alert says: ${text}`);
    await bad.locator('[data-testid="phase"][data-phase="error"]', { hasText: "failed" }).waitFor({ timeout: 5000 });
  } finally {
    await bad.close();
  }
  // The policy the message asks for is enough.
  const good = await withCsp("script-src 'self' 'wasm-unsafe-eval'");
  try {
    await waitForTerminal(good, (t) => t.includes("vireo: boot complete"), "boot banner", BOOT_TIMEOUT_MS);
  } finally {
    await good.close();
  }
});
