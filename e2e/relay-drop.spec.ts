// Issue 17 item 5: a relay that drops while the guest uses it shows in the status row and the Network panel, the
// guest's connection through it ends with a reset at once (not minutes later), and the page reconnects, with
// backoff, to a relay that comes back on the same address. Both backends that go through the relay: ?net=relay
// (its L2 switch) and the default in-page stack (its Wisp endpoint).

import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { bootToPrompt, COMMAND_TIMEOUT_MS, expect, quietConsole, test } from "./fixtures.ts";
import { typeLine, waitForTerminal } from "./harness.ts";
import { startRelay, stopRelay } from "./servers.ts";

/** A server whose /hold sends a little and then holds the connection open for ever. */
async function holdingServer() {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url !== "/hold") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": 1 << 30 });
    res.write(Buffer.alloc(4096, 7));
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, held, port: (server.address() as AddressInfo).port };
}

for (const net of ["relay", "stack"] as const) {
  test(`net=${net}: a relay that drops shows in the status row and the Network panel, resets the guest's connection, and is reconnected`, async ({
    page,
    url,
  }) => {
    const files = await holdingServer();
    let relay = await startRelay(`127.0.0.1:${files.port}`);
    const relayPort = new URL(relay.url).port;
    try {
      await page.goto(`${url}?net=${net}&relay=${encodeURIComponent(relay.url)}`);
      await bootToPrompt(page);
      await quietConsole(page);
      const status = page.getByTestId("relay");
      await expect(status).toHaveAttribute("data-state", "up", { timeout: 10_000 });
      await typeLine(
        page,
        `while ! ip -4 addr show eth0 | grep -q 'inet '; do sleep 0.2; done; wget -O /dev/null http://10.0.2.2:${files.port}/hold 2>/dev/null; echo "wget-ended-$?"`,
      );
      await expect.poll(() => files.held.length, { timeout: 30_000 }).toBe(1);
      const t0 = Date.now();
      await stopRelay(relay.child);
      // The guest's wget fails at once with the reset, rather than waiting on a peer that is gone.
      await waitForTerminal(page, (t) => /^wget-ended-[1-9]\d*\s*$/m.test(t), "wget ends", COMMAND_TIMEOUT_MS);
      expect(Date.now() - t0).toBeLessThan(15_000);
      await expect(status).toHaveAttribute("data-state", "down");
      await expect(status).toHaveText(/down/);
      await page.locator('[data-tab="network"]').click();
      await expect(page.getByTestId("network-relay")).toHaveText(/down \(reconnecting with backoff\)/);
      await expect(page.locator(".network-panel .note")).toContainText(/reconnecting with backoff.*reset/);
      // The relay comes back on its address: the page reconnects by itself.
      relay = await startRelay(`127.0.0.1:${files.port}`, Number(relayPort));
      await expect(status).toHaveAttribute("data-state", "up", { timeout: 40_000 });
      await expect(page.getByTestId("network-relay")).toHaveText("up");
      await expect(page.locator(".network-panel .note")).toHaveCount(0);
    } finally {
      await stopRelay(relay.child);
      for (const r of files.held) r.destroy();
      files.server.close();
    }
  });
}
