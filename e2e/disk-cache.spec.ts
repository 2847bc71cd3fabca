// The page's lasting cache of disk ranges (src/worker/disk-cache.ts): a disk read from a URL with range
// requests is fetched once; the next load of the page reads the same ranges from this browser's IndexedDB
// and asks the server only for the probe. An image changed on the server (another ETag and Last-Modified)
// is fetched again and the guest reads the new bytes. The image's server counts every range it answers.

import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "@playwright/test";
import { bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
import { typeLine, waitForTerminal } from "./harness.ts";

/** A loopback server for one versioned image: ETag, Last-Modified, `Cache-Control: no-cache`, CORS. */
async function versionedDisk() {
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "range",
    "access-control-expose-headers": "content-range, etag, last-modified",
  };
  const d = {
    image: randomBytes(2 * 1024 * 1024),
    version: 1,
    /** Every Range answered, as [first, last] byte, the probe (`bytes=0-0`) included. */
    ranges: [] as [number, number][],
    url: "",
  };
  const server = createServer((req, res) => {
    if (req.method === "OPTIONS") {
      res.writeHead(204, cors).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (req.url !== "/disk.img" || m === null) {
      res.writeHead(404, cors).end();
      return;
    }
    const a = Number(m[1]);
    const b = Math.min(Number(m[2]), d.image.length - 1);
    d.ranges.push([a, b]);
    res
      .writeHead(206, {
        ...cors,
        etag: `"v${d.version}"`,
        "last-modified": new Date(Date.UTC(2026, 10, d.version)).toUTCString(),
        "cache-control": "no-cache",
        "content-range": `bytes ${a}-${b}/${d.image.length}`,
        "content-length": b - a + 1,
      })
      .end(d.image.subarray(a, b + 1));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  d.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/disk.img`;
  return { d, server };
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

/** Bytes the page's disk cache holds, summed over its images (read from IndexedDB as the page sees it). */
function cachedBytes(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const r = indexedDB.open("vireo-disk-cache");
        r.onerror = () => resolve(-1);
        r.onsuccess = () => {
          const db = r.result;
          if (!db.objectStoreNames.contains("images")) {
            db.close();
            resolve(0);
            return;
          }
          const all = db.transaction("images").objectStore("images").getAll();
          all.onsuccess = () => {
            db.close();
            resolve((all.result as { bytes: number }[]).reduce((a, x) => a + x.bytes, 0));
          };
        };
      }),
  );
}

test("a disk URL's fetched ranges last across page loads in IndexedDB; a changed image is fetched again", async ({
  page,
  url,
}) => {
  test.setTimeout(300_000);
  const { d, server } = await versionedDisk();
  // Sector 0 and 192 KiB from 1 MiB: the guest reads them on every load.
  const read =
    "echo disk-$((40+2)) $(dd if=/dev/vda bs=512 count=1 2>/dev/null | md5sum) $(dd if=/dev/vda bs=4096 skip=256 count=48 2>/dev/null | md5sum)";
  const want = () =>
    `disk-42 ${md5(d.image.subarray(0, 512))} - ${md5(d.image.subarray(1 << 20, (1 << 20) + 48 * 4096))} -`;
  const boot = async (load: () => Promise<unknown>): Promise<[number, number][]> => {
    const from = d.ranges.length;
    await load();
    await bootToPrompt(page);
    await quietConsole(page);
    await typeLine(page, read);
    const w = want();
    await waitForTerminal(page, (t) => t.includes(w), w, COMMAND_TIMEOUT_MS);
    return d.ranges.slice(from);
  };
  const overlaps = (a: [number, number][], b: [number, number][]) =>
    a.some(([x, y]) => b.some(([u, v]) => x <= v && u <= y));
  const PROBE: [number, number] = [0, 0];
  const reads = (rs: [number, number][]) => rs.filter(([a, b]) => !(a === 0 && b === 0));
  try {
    // 1. A cold cache: everything the guest reads comes from the server, and is kept.
    const first = await boot(() => page.goto(`${url}?disk=${encodeURIComponent(d.url)}`));
    expect(first).toContainEqual(PROBE);
    expect(reads(first).length).toBeGreaterThan(0);
    // The chunks are put after they are read: wait until the cache holds all of them.
    const fetchedBytes = reads(first).reduce((a, [x, y]) => a + y - x + 1, 0);
    await expect.poll(() => cachedBytes(page), { timeout: 20_000 }).toBe(fetchedBytes);

    // 2. The next load: the same reads, served from the cache; the server sees the probe and nothing it sent before.
    const second = await boot(() => page.reload());
    expect(second).toContainEqual(PROBE);
    expect(overlaps(reads(second), reads(first)), JSON.stringify({ first, second })).toBe(false);
    expect(reads(second).length).toBeLessThan(reads(first).length);
    const disk = page.locator(".machine-status .disk");
    await expect.poll(async () => Number(await disk.getAttribute("data-stored"))).toBeGreaterThan(0);

    // 3. The image changes on the server: the next load fetches what it reads again, and reads the new bytes.
    d.image = randomBytes(d.image.length);
    d.version = 2;
    const third = await boot(() => page.reload());
    expect(reads(third).length).toBeGreaterThan(0);
    expect(overlaps(reads(third), [[1 << 20, (1 << 20) + 48 * 4096 - 1]]), JSON.stringify(third)).toBe(true);
    expect(Number(await disk.getAttribute("data-stored"))).toBe(0);

    // 4. "Clear" in the image popover empties the cache.
    await page.locator("details.images summary").click();
    await expect.poll(() => cachedBytes(page), { timeout: 20_000 }).toBeGreaterThan(0);
    await page.locator(".disk-cache").getByRole("button", { name: "Clear" }).click();
    await expect(page.locator(".disk-cache")).toHaveAttribute("data-bytes", "0");
    expect(await cachedBytes(page)).toBe(0);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
