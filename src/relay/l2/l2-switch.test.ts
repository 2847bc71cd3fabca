import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type StartedRelay, startRelay } from "../../../tests/relay/wisp-test-client.ts";
import { silentLogger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { DEFAULT_L2_LIMITS, type L2Port, L2Switch } from "./l2-switch.ts";

const BCAST = "ff:ff:ff:ff:ff:ff";
const mac = (s: string) => s.split(":").map((h) => Number.parseInt(h, 16));
/** An Ethernet II frame dst ← src with a short payload; `len` pads or truncates it. */
function frame(dst: string, src: string, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set([...mac(dst), ...mac(src), 0x08, 0x00].slice(0, len));
  return f;
}

class FakeHost implements L2Port {
  readonly got: Uint8Array[] = [];
  constructor(readonly id: string) {}
  send(f: Uint8Array): void {
    this.got.push(f);
  }
}

function setup(limits = DEFAULT_L2_LIMITS) {
  const metrics = new Metrics();
  const sw = new L2Switch(limits, metrics, silentLogger);
  const join = (net: string, id: string) => {
    const h = new FakeHost(id);
    const j = sw.join(net, h);
    if (!j.ok) throw new Error(j.reason);
    return { h, net: j.network };
  };
  return { sw, metrics, join };
}

const A = "02:00:00:00:00:0a";
const B = "02:00:00:00:00:0b";
const C = "02:00:00:00:00:0c";

describe("L2Switch", () => {
  it("floods broadcast and unknown unicast, then learns and forwards unicast", () => {
    const { join, metrics } = setup();
    const a = join("n", "a");
    const b = join("n", "b");
    const c = join("n", "c");
    a.net.input(a.h, frame(BCAST, A)); // a is learned
    expect([a.h.got.length, b.h.got.length, c.h.got.length]).toEqual([0, 1, 1]);
    b.net.input(b.h, frame(A, B)); // known: only a
    expect([a.h.got.length, b.h.got.length, c.h.got.length]).toEqual([1, 1, 1]);
    a.net.input(a.h, frame(C, A)); // c unknown yet: flood
    expect([a.h.got.length, b.h.got.length, c.h.got.length]).toEqual([1, 2, 2]);
    expect(metrics.get("relay_frames_switched_total")).toBe(5);
  });

  it("keeps networks apart", () => {
    const { join } = setup();
    const a = join("red", "a");
    const b = join("blue", "b");
    a.net.input(a.h, frame(BCAST, A));
    b.net.input(b.h, frame(A, B));
    expect([a.h.got.length, b.h.got.length]).toEqual([0, 0]);
  });

  const drops: [string, Uint8Array, string][] = [
    ["runt", frame(BCAST, A, 13), "runt"],
    ["over the limit", frame(BCAST, A, 1519), "too-large"],
    ["multicast source", frame(BCAST, "01:00:5e:00:00:01"), "bad-source"],
    ["zero source", frame(BCAST, "00:00:00:00:00:00"), "bad-source"],
  ];
  for (const [name, f, reason] of drops) {
    it(`drops and counts: ${name}`, () => {
      const { join, metrics } = setup();
      const a = join("n", "a");
      const b = join("n", "b");
      expect(a.net.input(a.h, f)).toBe(0);
      expect(b.h.got.length).toBe(0);
      expect(metrics.get("relay_frames_dropped_total", { reason })).toBe(1);
    });
  }

  it("accepts a maximum-size frame", () => {
    const { join } = setup();
    const a = join("n", "a");
    join("n", "b");
    expect(a.net.input(a.h, frame(BCAST, A, 1518))).toBe(1);
  });

  it("bounds the MACs one port may claim", () => {
    const { join, metrics } = setup({ ...DEFAULT_L2_LIMITS, maxMacsPerPort: 2 });
    const a = join("n", "a");
    join("n", "b");
    for (const src of [A, B, C]) a.net.input(a.h, frame(BCAST, src));
    expect(metrics.get("relay_frames_dropped_total", { reason: "mac-limit" })).toBe(1);
  });

  it("moves a MAC that shows up on another port, but never a pinned one", () => {
    const { join, metrics } = setup();
    const a = join("n", "a");
    const b = join("n", "b");
    const gw = new FakeHost("gw");
    a.net.attach(gw, [0x020000000001]);
    a.net.input(a.h, frame(BCAST, A));
    b.net.input(b.h, frame(BCAST, A)); // b now owns A
    a.net.input(gw, frame(A, "02:00:00:00:00:01"));
    expect([a.h.got.length, b.h.got.length]).toEqual([1, 2]); // a: b's broadcast; b: a's broadcast + gw's unicast
    expect(a.net.input(a.h, frame(BCAST, "02:00:00:00:00:01"))).toBe(0);
    expect(metrics.get("relay_frames_dropped_total", { reason: "mac-spoof" })).toBe(1);
  });

  it("removes a network when its last client leaves, and limits networks and ports", () => {
    const { sw, metrics } = setup({ ...DEFAULT_L2_LIMITS, maxNetworks: 1, maxPortsPerNetwork: 1 });
    const h = new FakeHost("a");
    const j = sw.join("one", h);
    expect(j.ok).toBe(true);
    expect(sw.join("two", new FakeHost("b"))).toEqual({ ok: false, reason: "max-networks" });
    expect(sw.join("one", new FakeHost("c"))).toEqual({ ok: false, reason: "network-full" });
    if (j.ok) sw.leave(j.network, h);
    expect(sw.networks.size).toBe(0);
    expect(metrics.get("relay_l2_networks_active")).toBe(0);
  });
});

describe("/l2 over WebSockets", () => {
  let r: StartedRelay;
  beforeAll(async () => {
    r = await startRelay();
  });
  afterAll(() => r.stop());

  async function client(net: string) {
    const ws = new WebSocket(`ws://${r.base}/l2/${net}`);
    const got: Buffer[] = [];
    ws.on("message", (d: Buffer) => got.push(d));
    await new Promise((res) => ws.on("open", res));
    return { ws, got };
  }
  const settle = () => new Promise((res) => setTimeout(res, 50));

  it("two clients on one network exchange frames; a third network sees nothing", async () => {
    const a = await client("lab");
    const b = await client("lab");
    const other = await client("elsewhere");
    a.ws.send(frame(BCAST, A));
    await settle();
    b.ws.send(frame(A, B, 1514));
    await settle();
    expect(b.got.map((f) => f.length)).toEqual([60]);
    expect(a.got.map((f) => f.length)).toEqual([1514]);
    expect(Buffer.from(a.got[0]!.subarray(6, 12))).toEqual(Buffer.from(mac(B)));
    expect(other.got).toEqual([]);
    for (const c of [a, b, other]) c.ws.close();
  });

  it("drops oversized frames and closes text senders", async () => {
    const a = await client("lab2");
    const b = await client("lab2");
    const before = r.relay.metrics.get("relay_frames_dropped_total", { reason: "too-large" });
    a.ws.send(frame(BCAST, A, 4000));
    await settle();
    expect(b.got).toEqual([]);
    expect(r.relay.metrics.get("relay_frames_dropped_total", { reason: "too-large" })).toBe(before + 1);
    const code = new Promise((res) => a.ws.on("close", res));
    a.ws.send("not a frame");
    expect(await code).toBe(1003);
    b.ws.close();
  });
});

describe("/l2 client limits", () => {
  it("drops frames over the byte rate and closes idle clients", async () => {
    const r = await startRelay({
      tune: (c) => {
        c.wisp.bytesPerSecond = 1000;
        c.wisp.idleTimeoutMs = 300;
      },
    });
    const open = (net: string) =>
      new Promise<WebSocket>((res) => {
        const ws = new WebSocket(`ws://${r.base}/l2/${net}`);
        ws.on("open", () => res(ws));
      });
    const a = await open("rl");
    const b = await open("rl");
    let got = 0;
    b.on("message", () => got++);
    for (let i = 0; i < 40; i++) a.send(frame(BCAST, A, 100)); // 4000 B against a 1000 B/s budget
    await new Promise((res) => setTimeout(res, 100));
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(40);
    expect(r.relay.metrics.get("relay_frames_dropped_total", { reason: "rate" })).toBe(40 - got);
    const closed = await new Promise<number>((res) => a.on("close", (code) => res(code)));
    expect(closed).toBe(1000);
    b.close();
    await r.stop();
  });
});
