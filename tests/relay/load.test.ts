// Load: many clients × streams of echo traffic through one relay, every byte checked, in bounded time
// and memory. Everything (clients, relay, echo server) shares this process on 127.0.0.1.

import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedRelay, startRelay, TestWispClient, tcpEchoServer } from "./wisp-test-client.ts";

const CLIENTS = 200;
const STREAMS = 5;
const BYTES_PER_STREAM = 64 * 1024;
const CHUNK = 8 * 1024;

let r: StartedRelay;
let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
beforeAll(async () => {
  echo = await tcpEchoServer();
  r = await startRelay({ allow: ["127.0.0.1"] });
});
afterAll(async () => {
  await r.stop();
  await echo.close();
});

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("load", () => {
  it(`${CLIENTS} clients × ${STREAMS} streams of echo, all bytes correct`, async () => {
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 25);
    const t0 = performance.now();
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => TestWispClient.connect(r.url)));
    const payload = randomBytes(BYTES_PER_STREAM);
    const want = sha(payload);
    const results = await Promise.all(
      clients.flatMap((c) =>
        Array.from({ length: STREAMS }, async () => {
          const s = c.open("127.0.0.1", echo.port);
          for (let off = 0; off < payload.length; off += CHUNK) s.send(payload.subarray(off, off + CHUNK));
          await s.waitForBytes(BYTES_PER_STREAM);
          s.close();
          return sha(Buffer.concat(s.chunks)) === want && s.received === BYTES_PER_STREAM;
        }),
      ),
    );
    const secs = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    for (const c of clients) c.close();
    const total = CLIENTS * STREAMS * BYTES_PER_STREAM;
    console.log(
      `load: ${CLIENTS * STREAMS} streams, ${(total / 2 ** 20).toFixed(0)} MiB each way in ${secs.toFixed(2)} s ` +
        `(${((2 * total) / 2 ** 20 / secs).toFixed(1)} MiB/s through the relay), peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(results.every(Boolean)).toBe(true);
    expect(r.relay.metrics.get("relay_bytes_total", { direction: "up" })).toBe(total);
    expect(r.relay.metrics.get("relay_bytes_total", { direction: "down" })).toBe(total);
    expect(r.relay.metrics.get("relay_denials_total", { reason: "credit-exceeded" })).toBe(0);
    expect(secs).toBeLessThan(30);
    expect(peakRss).toBeLessThan(1024 * 2 ** 20);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.relay.metrics.get("relay_streams_active", { type: "tcp" })).toBe(0);
  });
});
