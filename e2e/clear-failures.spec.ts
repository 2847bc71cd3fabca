// Issue 17 item 5, clear failures: a disk URL that is missing, not range-capable, cross-origin without CORS or
// not there at all is refused with a message that says which and what to do; a boot image that is not what it
// claims is refused before boot; a guest that goes quiet before its prompt is reported by the watchdog, with
// Reset beside the message (and `?watchdog=0` turns it off). Every failing server here is one the test starts
// on 127.0.0.1.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.ts";
import { waitForTerminal } from "./harness.ts";
import { diskServer } from "./servers.ts";

const CORS = { "access-control-allow-origin": "*", "access-control-allow-headers": "range" };

/** Serves `files` on 127.0.0.1 (with CORS headers unless `cors` is false; ranges answered for the disk). */
async function serveFiles(files: Record<string, Uint8Array>, cors = true): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ""];
    const h = cors ? CORS : {};
    if (body === undefined) return void res.writeHead(404, h).end();
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (m === null) return void res.writeHead(200, { ...h, "content-type": "application/octet-stream" }).end(body);
    const [a, b] = [Number(m[1]), Math.min(Number(m[2]), body.length - 1)];
    res.writeHead(206, { ...h, "content-range": `bytes ${a}-${b}/${body.length}` }).end(body.subarray(a, b + 1));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (s: Server) => {
  s.closeAllConnections();
  s.close();
};

/** Opens `query` and waits for the alert matching `re`; the machine must be in its failed state, not booting. */
async function refused(page: Page, url: string, query: string, re: RegExp): Promise<string> {
  await page.goto(`${url}${query}`);
  const alert = page.getByRole("alert").filter({ hasText: re });
  await alert.waitFor({ timeout: 30_000 });
  await expect(page.locator('[data-testid="phase"]')).toHaveAttribute("data-phase", "error");
  await expect(page.locator('[data-testid="phase"]')).toHaveText(/failed/);
  return (await alert.textContent()) ?? "";
}

test("a disk URL that is missing, ignores ranges, lacks CORS or has no server is refused, saying which (as far as the browser tells) and what to do", async ({
  page,
  url,
}) => {
  const disk = await diskServer();
  const image = new Uint8Array(64 * 1024).fill(1);
  const corsless = await serveFiles({ "/disk.img": image }, false);
  const gone = await serveFiles({});
  const gonePort = (gone.server.address() as AddressInfo).port;
  close(gone.server);
  try {
    const q = (u: string) => `?disk=${encodeURIComponent(u)}`;
    // Same origin, no such file: Vite answers with the page's index.html.
    await refused(
      page,
      url,
      "?disk=/nope.img",
      /nope\.img: the server sent an HTML page, not a disk image: there is no such file/,
    );
    await refused(
      page,
      url,
      q(disk.url.replace("disk.img", "nope.img")),
      /nope\.img: HTTP 404: there is no disk image at this address; check the path/,
    );
    await refused(
      page,
      url,
      q(disk.url.replace("disk.img", "plain.img")),
      /ignores HTTP range requests.*serve it from one that does/,
    );
    // The page is cross-origin isolated: the browser gives it the same "Failed to fetch" for both, so both
    // causes are named with the command that tells them apart (and the CORS headers to send).
    for (const u of [`${corsless.base}/disk.img`, `http://127.0.0.1:${gonePort}/disk.img`]) {
      const text = await refused(
        page,
        url,
        q(u),
        /either nothing answers at http:\/\/127\.0\.0\.1:\d+, or that server is another origin than this page and sends no CORS headers/,
      );
      expect(text).toContain(`curl -sI -H 'Origin: ${new URL(url).origin}' ${u}`);
      expect(text).toContain("Access-Control-Allow-Origin");
    }
  } finally {
    close(disk.server);
    close(corsless.server);
  }
});

/** A RISC-V Image header ("RSC\x05" at 0x38) over code that is `j .` everywhere: it boots and says nothing. */
function silentKernel(): Uint8Array {
  const b = new Uint8Array(8192);
  const v = new DataView(b.buffer);
  for (let i = 0; i < b.length; i += 4) v.setUint32(i, 0x0000006f, true); // j .
  v.setBigUint64(8, 0x200000n, true); // text_offset
  v.setBigUint64(16, BigInt(b.length), true); // image_size
  v.setBigUint64(24, 0n, true);
  b.set(new TextEncoder().encode("RISCV\0\0\0RSC\x05"), 0x30);
  return b;
}

test("a kernel or initrd that is not what it claims is refused before boot, saying what it is", async ({
  page,
  url,
}) => {
  const files = await serveFiles({
    "/zeros": new Uint8Array(4096),
    "/html": new TextEncoder().encode("<!DOCTYPE html><html><body>Not found</body></html>"),
    "/Image": silentKernel(),
  });
  try {
    await refused(
      page,
      url,
      `?kernel=${files.base}/zeros`,
      /the kernel \S+\/zeros is data of no known format, not a RISC-V Linux kernel.*refused before boot/,
    );
    await refused(
      page,
      url,
      `?initrd=${files.base}/Image`,
      /the initrd \S+\/Image is a RISC-V Linux kernel Image, not an initramfs.*is it the kernel\?/,
    );
    // Served as octet-stream (the worker's own HTML check does not see it): the magic does.
    await refused(
      page,
      url,
      `?bios=${files.base}/html`,
      /the firmware \S+\/html is an HTML page, not an OpenSBI firmware/,
    );
  } finally {
    close(files.server);
  }
});

test("a kernel that dies silently is reported by the watchdog, which offers Reset", async ({ page, url }) => {
  const files = await serveFiles({ "/Image": silentKernel() });
  try {
    await page.goto(`${url}?kernel=${encodeURIComponent(`${files.base}/Image`)}&watchdog=4`);
    const bark = page.getByTestId("watchdog");
    // OpenSBI prints its banner, then the "kernel" says nothing.
    await expect(bark).toContainText(/no output from the kernel for [4-9] s/, { timeout: 60_000 });
    await expect(page.getByRole("alert")).toContainText("Reset");
    await bark.getByRole("button", { name: "Reset" }).click();
    await expect(bark).toHaveCount(0);
    // The reset machine goes quiet again the same way.
    await expect(bark).toContainText(/no output from the kernel/, { timeout: 60_000 });
  } finally {
    close(files.server);
  }
});

// The README's `watchdog=N` seconds, `0` off: with `?watchdog=0` the same silent kernel is never reported, however
// long it stays quiet. The page's clock is Playwright's, moved a minute on (past the default 30 s) once the
// firmware has spoken; the same page without the parameter, moved on the same way, does report it, so the wait
// is long enough for the watchdog to have barked if `watchdog=0` were ignored.
test("?watchdog=0 turns the watchdog off: a silent kernel is not reported after a minute, as it is by default", async ({
  page,
  url,
}) => {
  const files = await serveFiles({ "/Image": silentKernel() });
  const kernel = `kernel=${encodeURIComponent(`${files.base}/Image`)}`;
  const bark = page.getByTestId("watchdog");
  /** Opens `query`, waits for OpenSBI's banner and the machine running, then moves the page's clock a minute on. */
  const quietMinute = async (query: string): Promise<void> => {
    await page.goto(`${url}${query}`);
    await waitForTerminal(page, (t) => t.includes("OpenSBI"), "OpenSBI's banner", 60_000);
    await expect(page.locator('[data-testid="phase"]')).toHaveAttribute("data-phase", "running");
    await page.clock.fastForward("01:00");
    // The watchdog looks once a second (the page's clock runs on at its own pace after the jump).
    await page.waitForTimeout(3000);
  };
  try {
    await page.clock.install();
    await quietMinute(`?${kernel}&watchdog=0`);
    await expect(bark).toHaveCount(0);
    await expect(page.locator('[data-testid="phase"]')).toHaveAttribute("data-phase", "running");
    // The control: the default watchdog (30 s) does bark at the same silence.
    await quietMinute(`?${kernel}`);
    await expect(bark).toContainText(/no output from the kernel for (6\d|[7-9]\d) s/);
  } finally {
    close(files.server);
  }
});
