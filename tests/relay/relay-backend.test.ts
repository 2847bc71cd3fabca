// The `--net relay` backend over real `ws` sockets against the real relay: two backends on one network
// exchange frames through the switch, another network does not hear them, and a relay restart takes the
// link down and back up on its own.

import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { RelayBackend } from "../../src/net/relay-backend.ts";
import { type StartedRelay, startRelay } from "./wisp-test-client.ts";

const relays: StartedRelay[] = [];
const backends: RelayBackend[] = [];

afterEach(async () => {
  for (const b of backends.splice(0)) b.close();
  for (const r of relays.splice(0)) await r.stop();
});

function backend(url: string): { b: RelayBackend; got: Uint8Array[] } {
  const got: Uint8Array[] = [];
  const b = new RelayBackend({
    connect: () => new WebSocket(url, { perMessageDeflate: false }),
    initialBackoffMs: 50,
    maxBackoffMs: 200,
  });
  b.onReceive((f) => {
    got.push(f.slice());
    return true;
  });
  backends.push(b);
  return { b, got };
}

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function frame(src: number, dst: number, len = 100): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x52, 0x54, 0, 0, 0, dst], 0);
  f.set([0x52, 0x54, 0, 0, 0, src], 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental EtherType: nobody on the switch interprets it
  f.fill(src, 14);
  return f;
}

describe("RelayBackend against the relay's L2 switch", () => {
  it("carries frames between two backends on one network and not to another", async () => {
    const relay = await startRelay();
    relays.push(relay);
    const a = backend(`ws://${relay.base}/l2/n1`);
    const b = backend(`ws://${relay.base}/l2/n1`);
    const c = backend(`ws://${relay.base}/l2/n2`);
    await until(() => a.b.linkUp && b.b.linkUp && c.b.linkUp);
    // b announces itself (flooded), so the switch learns its MAC; then a sends to it directly.
    expect(b.b.transmit(frame(2, 0xff))).toBe(true);
    await until(() => a.got.length === 1);
    expect(a.b.transmit(frame(1, 2, 1514))).toBe(true);
    await until(() => b.got.length === 1);
    expect(b.got[0]).toEqual(frame(1, 2, 1514));
    expect(a.b.counters.txFrames).toBe(1);
    expect(b.b.counters.rxFrames).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.got).toHaveLength(0);
  });

  it("follows a relay restart: link down while it is gone, back up when it returns", async () => {
    const first = await startRelay();
    const port = first.relay.port;
    const a = backend(`ws://${first.base}/l2/n1`);
    const links: boolean[] = [];
    a.b.onLinkChange((up) => links.push(up));
    await until(() => a.b.linkUp);
    await first.stop();
    await until(() => !a.b.linkUp);
    expect(a.b.status).toBe("waiting");
    expect(a.b.transmit(frame(1, 2))).toBe(true); // eaten while down, and counted
    expect(a.b.counters.txDropped.get("link-down")).toBe(1);
    const second = await startRelay({
      tune: (c) => {
        c.port = port;
      },
    });
    relays.push(second);
    await until(() => a.b.linkUp);
    expect(links).toEqual([true, false, true]);
    expect(a.b.counters.connects).toBe(2);
    expect(a.b.counters.disconnects).toBe(1);
  });
});
