// Issue 16, "scale-out with standard parts": Debian's haproxy with the repo's config (src/relay/deploy/haproxy.cfg)
// in front of three relay processes, all on 127.0.0.1. /wisp/ connections spread over the relays; two scripted
// L2 clients of one network meet on one relay through the balancer and exchange frames; that relay is killed,
// and the others keep serving: Wisp streams still echo, and the two clients, reconnecting, meet again.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { freePort } from "../../src/testing/ports.ts";
import { TestWispClient, tcpEchoServer } from "./wisp-test-client.ts";

const TOKEN = "scale-out-token-42";
const CONFIG = "src/relay/deploy/haproxy.cfg";
/** A local experimental EtherType (IEEE 802): the relays' gateways ignore it, the switch carries it. */
const ETHERTYPE_TEST = 0x88b5;

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

interface RelayProcess {
  child: ChildProcess;
  port: number;
  /** Its log events, as they come. */
  events: Record<string, unknown>[];
}

async function startRelayProcess(): Promise<RelayProcess> {
  const child = spawn(
    process.execPath,
    [
      ...["--import", "tsx", "src/relay/main.ts", "--listen", "127.0.0.1:0", "--token", TOKEN, "--allow", "127.0.0.1"],
      // haproxy reaches the relays from 127.0.0.1; the test's clients come from other loopback addresses.
      ...["--trust-proxy", "127.0.0.1"],
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  children.add(child);
  const lines = createInterface({ input: child.stdout! });
  const events: Record<string, unknown>[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
    lines.on("line", (l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      events.push(e);
      if (e.event === "relay.listening") resolve(e.port as number);
    });
  });
  return { child, port, events };
}

async function metric(port: number, line: RegExp): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const m = line.exec(await res.text());
  return m ? Number(m[1]) : 0;
}

const l2Active = (port: number) => metric(port, /^relay_l2_networks_active (\d+)$/m);
const wispAccepted = (port: number) => metric(port, /^relay_connections_total\{endpoint="wisp"\} (\d+)$/m);

/** A scripted guest on /l2/<network>: sends frames of the test EtherType and collects the ones it gets. */
class L2Guest {
  readonly got: string[] = [];
  private constructor(
    readonly ws: WebSocket,
    readonly mac: Uint8Array,
  ) {
    ws.on("message", (d: Buffer) => {
      if (d.length > 14 && d.readUInt16BE(12) === ETHERTYPE_TEST) this.got.push(d.subarray(14).toString());
    });
  }

  static async join(url: string, macByte: number): Promise<L2Guest> {
    const ws = new WebSocket(url);
    ws.on("error", () => {});
    await once(ws, "open");
    return new L2Guest(ws, Uint8Array.from([0x02, 0, 0, 0, 0x16, macByte]));
  }

  send(to: Uint8Array, text: string): void {
    const f = Buffer.alloc(14 + text.length);
    f.set(to, 0);
    f.set(this.mac, 6);
    f.writeUInt16BE(ETHERTYPE_TEST, 12);
    f.write(text, 14);
    this.ws.send(f);
  }

  async waitFor(text: string, ms = 3000): Promise<void> {
    const t0 = performance.now();
    while (!this.got.includes(text)) {
      if (performance.now() - t0 > ms) throw new Error(`no frame "${text}" (got ${JSON.stringify(this.got)})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** A ping from a to b and the pong back, as frames through the switch (b learns a's MAC from the ping). */
async function pingPong(a: L2Guest, b: L2Guest, n: number): Promise<void> {
  a.send(b.mac, `ping ${n}`);
  await b.waitFor(`ping ${n}`);
  b.send(a.mac, `pong ${n}`);
  await a.waitFor(`pong ${n}`);
}

async function echoThrough(url: string, port: number, text: string): Promise<string> {
  const c = await TestWispClient.connect(url);
  const s = c.open("127.0.0.1", port);
  s.send(Buffer.from(text));
  await Promise.race([s.waitForBytes(text.length), s.closed.then((r) => Promise.reject(new Error(`CLOSE ${r}`)))]);
  c.close();
  return s.text();
}

const relays: RelayProcess[] = [];
let lb = 0;
let echo: Awaited<ReturnType<typeof tcpEchoServer>>;

beforeAll(async () => {
  const check = spawnSync("haproxy", ["-v"]);
  if (check.status !== 0) throw new Error("haproxy is not installed (npm test installs it: apt-get install haproxy)");
  echo = await tcpEchoServer();
  relays.push(...(await Promise.all([startRelayProcess(), startRelayProcess(), startRelayProcess()])));
  lb = await freePort();
  const haproxy = spawn("haproxy", ["-db", "-f", CONFIG], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      VIREO_LB_BIND: `127.0.0.1:${lb}`,
      VIREO_RELAY1: `127.0.0.1:${relays[0]!.port}`,
      VIREO_RELAY2: `127.0.0.1:${relays[1]!.port}`,
      VIREO_RELAY3: `127.0.0.1:${relays[2]!.port}`,
    },
  });
  children.add(haproxy);
  let haproxyErr = "";
  haproxy.stderr!.on("data", (d: Buffer) => {
    haproxyErr += d.toString();
  });
  // Up once /healthz answers through it.
  const t0 = performance.now();
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${lb}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (haproxy.exitCode !== null) throw new Error(`haproxy exited ${haproxy.exitCode}: ${haproxyErr}`);
    if (performance.now() - t0 > 10_000) throw new Error("haproxy did not come up");
    await new Promise((r) => setTimeout(r, 50));
  }
}, 60_000);

afterAll(async () => {
  await echo?.close();
});

describe("three relays behind haproxy (src/relay/deploy/haproxy.cfg)", () => {
  const wispUrl = () => `ws://127.0.0.1:${lb}/wisp/?token=${TOKEN}`;
  const l2Url = (network: string) => `ws://127.0.0.1:${lb}/l2/${network}?token=${TOKEN}`;
  let host = -1;

  it("spreads /wisp/ connections over the relays, and each one relays", async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => TestWispClient.connect(wispUrl())));
    const counts = await Promise.all(relays.map((r) => wispAccepted(r.port)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(counts.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    for (const [i, c] of clients.entries()) {
      const s = c.open("127.0.0.1", echo.port);
      s.send(Buffer.from(`hello ${i}`));
      await s.waitForBytes(`hello ${i}`.length);
      expect(s.text()).toBe(`hello ${i}`);
      c.close();
    }
  });

  it("keys clients on the address haproxy saw (X-Forwarded-For from a trusted proxy), not on a header they send", async () => {
    // From 127.0.0.2 (any 127/8 address is this host's), claiming to be 198.51.100.7: haproxy appends 127.0.0.2.
    const ws = new WebSocket(wispUrl(), { localAddress: "127.0.0.2", headers: { "x-forwarded-for": "198.51.100.7" } });
    ws.on("error", () => {});
    await once(ws, "open");
    const t0 = performance.now();
    const opened = () => relays.flatMap((r) => r.events).filter((e) => e.event === "relay.client-open");
    while (!opened().some((e) => e.remote === "127.0.0.2") && performance.now() - t0 < 3000)
      await new Promise((r) => setTimeout(r, 20));
    expect(opened().map((e) => e.remote)).toContain("127.0.0.2");
    expect(opened().map((e) => e.remote)).not.toContain("198.51.100.7");
    ws.close();
  });

  it("puts two guests of one network on the same relay, where they exchange frames", async () => {
    const a = await L2Guest.join(l2Url("office"), 0xa1);
    const b = await L2Guest.join(l2Url("office"), 0xb2);
    for (let n = 0; n < 3; n++) await pingPong(a, b, n);
    const active = await Promise.all(relays.map((r) => l2Active(r.port)));
    expect(active.filter((n) => n === 1).length).toBe(1);
    host = active.indexOf(1);
    a.ws.close();
    b.ws.close();
  });

  it("with that relay killed, the others keep serving: Wisp streams, and the network's guests meet again", async () => {
    expect(host).toBeGreaterThanOrEqual(0);
    const a = await L2Guest.join(l2Url("office"), 0xa1);
    const b = await L2Guest.join(l2Url("office"), 0xb2);
    await pingPong(a, b, 10);
    const aClosed = once(a.ws, "close");
    const bClosed = once(b.ws, "close");
    relays[host]!.child.kill("SIGKILL");
    await Promise.all([aClosed, bClosed]);
    // Health checks every 500 ms, two failures: down within about a second.
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 4; i++) expect(await echoThrough(wispUrl(), echo.port, `after ${i}`)).toBe(`after ${i}`);
    const a2 = await L2Guest.join(l2Url("office"), 0xa1);
    const b2 = await L2Guest.join(l2Url("office"), 0xb2);
    for (let n = 20; n < 23; n++) await pingPong(a2, b2, n);
    const survivors = relays.filter((_r, i) => i !== host);
    const active = await Promise.all(survivors.map((r) => l2Active(r.port)));
    expect(active.filter((n) => n === 1).length).toBe(1);
    a2.ws.close();
    b2.ws.close();
  });
});
