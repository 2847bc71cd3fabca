// The acceptance test for TCP: a 32 MiB download through the stack over a link that loses 5% of
// frames, duplicates some and reorders within a window of 4, must arrive with the same SHA-256.

import { describe, expect, it } from "vitest";
import { parseIp4 } from "../wire/bytes.ts";
import { GuestWorld } from "./guest-harness.ts";
import { rng } from "./tcp/tcp-harness.ts";

async function sha256(parts: Uint8Array[]): Promise<string> {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const d = await crypto.subtle.digest("SHA-256", all);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function payload(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const b = new Uint8Array(n);
  const w = new Uint32Array(b.buffer);
  for (let i = 0; i < w.length; i++) w[i] = (r() * 0x100000000) >>> 0;
  return b;
}

describe("NetStack over an impaired link", () => {
  for (const [size, seed, tso] of [
    [32 * 1024 * 1024, 1, false],
    [8 * 1024 * 1024, 2, true],
  ] as const) {
    it(`${size >> 20} MiB download, 5% loss, 1% duplication, reorder window 4 (seed ${seed}, guest TSO ${tso})`, async () => {
      const w = new GuestWorld({ guestTso: tso }, { loss: 0.05, duplicate: 0.01, reorderWindow: 4, seed });
      const data = payload(size, seed);
      w.uplink.listenTcp("10.9.8.7", 80, (c) => {
        for (let o = 0; o < data.length; o += 65536) c.write(data.subarray(o, o + 65536));
        c.end();
      });
      const t = w.connect(parseIp4("10.9.8.7")!, 80, 40100, { tsoMax: tso ? 65000 : undefined });
      const t0 = performance.now();
      w.run(() => t.peerFin, w.clock.ms + 3_600_000);
      const ms = performance.now() - t0;
      expect(w.lost).toBeGreaterThan(50); // the link really did lose frames
      expect(t.bytes).toBe(size);
      expect(await sha256(t.data)).toBe(await sha256([data]));
      // Not a benchmark, but a guard against accidental quadratic behaviour.
      expect(ms).toBeLessThan(60_000);
    });
  }
});
