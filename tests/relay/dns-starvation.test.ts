// Issue 16, finding 1: one client must not be able to stop name resolution for everyone. A DNS server on
// 127.0.0.1 answers good.test, says NXDOMAIN for gone.test and swallows every other query; the relay is
// pointed at it (--dns-server). A hostile client sends 64 CONNECTs to names that never resolve; meanwhile
// another client's CONNECTs end on their own merits within the lookup timeout, and once the attacker is gone
// nothing of its lookups is left. Many clients do no better: lookups are capped per client address (the relay
// trusts X-Forwarded-For from 127.0.0.1 here, so a test client can be any address) and per domain, so only many
// addresses asking under many domains reach the global cap.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRelayArgs, type RelayConfig } from "../../src/relay/config.ts";
import {
  CLOSE_REASON_CONNECT_TIMEOUT,
  CLOSE_REASON_THROTTLED,
  CLOSE_REASON_UNREACHABLE,
} from "../../src/relay/wisp/packet.ts";
import { type DnsTestServer, dnsTestServer } from "./dns-test-server.ts";
import { type StartedRelay, startRelay, TestWispClient, tcpEchoServer } from "./wisp-test-client.ts";

const LOOKUP_TIMEOUT_MS = 2000;

let dns: DnsTestServer;
let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
let r: StartedRelay;

beforeAll(async () => {
  dns = await dnsTestServer({ "good.test": ["127.0.0.1"] }, ["gone.test"]);
  echo = await tcpEchoServer();
  // The options as a user gives them; startRelay adds --no-auth on loopback and --allow 127.0.0.1.
  const parsed = parseRelayArgs([
    ...["--dns-server", dns.address, "--lookup-timeout", String(LOOKUP_TIMEOUT_MS / 1000)],
    ...["--trust-proxy", "127.0.0.1"],
  ]);
  const opts = parsed as RelayConfig;
  r = await startRelay({
    allow: ["127.0.0.1"],
    tune: (c) => {
      c.dns = opts.dns;
      c.wisp.lookupTimeoutMs = opts.wisp.lookupTimeoutMs;
      c.trustProxy = opts.trustProxy;
    },
  });
});
afterAll(async () => {
  await r.stop();
  await echo.close();
  dns.close();
});

/** A client as if from `address` (behind the trusted balancer). */
const from = (address: string) => TestWispClient.connect(r.url, { headers: { "x-forwarded-for": address } });

/** Waits until no lookup is in flight (the clients that held them have gone). */
async function drained(): Promise<void> {
  const t0 = performance.now();
  while (r.relay.lookupsInFlight > 0 && performance.now() - t0 < 10_000)
    await new Promise((res) => setTimeout(res, 20));
  expect(r.relay.lookupsInFlight).toBe(0);
}

/** Opens a stream to `host` on the echo port; resolves with "open" once bytes echo back, or the CLOSE reason. */
async function attempt(c: TestWispClient, host: string): Promise<{ result: "open" | number; ms: number }> {
  const t0 = performance.now();
  const s = c.open(host, echo.port);
  s.send(Buffer.from("ping"));
  const result = await Promise.race([s.waitForBytes(4).then(() => "open" as const), s.closed]);
  if (result === "open") s.close();
  return { result, ms: performance.now() - t0 };
}

describe("name resolution under a starvation attack", () => {
  it("the relay resolves through --dns-server", async () => {
    const c = await TestWispClient.connect(r.url);
    expect((await attempt(c, "good.test")).result).toBe("open");
    c.close();
  });

  it("one client's 64 never-resolving CONNECTs leave other clients' lookups alone", async () => {
    const attacker = await TestWispClient.connect(r.url);
    const evil = Array.from({ length: 64 }, (_, i) => attacker.open(`evil-${i}.black.test`, 80));
    // Give the relay the whole burst before the bystander asks.
    await new Promise((res) => setTimeout(res, 200));
    expect(dns.swallowed).toBeGreaterThan(0);

    const bystander = await TestWispClient.connect(r.url);
    const [good, gone, silent] = await Promise.all([
      attempt(bystander, "good.test"),
      attempt(bystander, "gone.test"),
      attempt(bystander, "never.black.test"),
    ]);
    expect(good.result).toBe("open");
    expect(good.ms).toBeLessThan(1000);
    expect(gone.result).toBe(CLOSE_REASON_UNREACHABLE);
    expect(gone.ms).toBeLessThan(1000);
    // A name that does not answer fails by itself, on time, with a timeout (not 0x49: no slot was taken from it).
    expect(silent.result).toBe(CLOSE_REASON_CONNECT_TIMEOUT);
    expect(silent.ms).toBeLessThan(LOOKUP_TIMEOUT_MS + 1000);

    // The attacker itself: a few lookups in flight (its own cap), the rest refused at once with 0x49.
    const reasons = await Promise.all(evil.map((s) => s.closed));
    const throttled = reasons.filter((x) => x === CLOSE_REASON_THROTTLED).length;
    expect(throttled).toBeGreaterThanOrEqual(64 - r.relay.config.dns.maxPerClient);
    expect(reasons.filter((x) => x === CLOSE_REASON_CONNECT_TIMEOUT).length).toBe(64 - throttled);
    bystander.close();
    attacker.close();
  });

  it("an attacker that leaves mid-attack leaves no lookup behind, and names resolve again at once", async () => {
    const attacker = await TestWispClient.connect(r.url);
    for (let i = 0; i < 64; i++) attacker.open(`gone-${i}.black.test`, 80);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.relay.lookupsInFlight).toBeGreaterThan(0);
    attacker.close();
    await attacker.wsClosed;
    const t0 = performance.now();
    while (r.relay.lookupsInFlight > 0 && performance.now() - t0 < 10_000)
      await new Promise((res) => setTimeout(res, 20));
    expect(r.relay.lookupsInFlight).toBe(0);
    expect(performance.now() - t0).toBeLessThan(1000);
    const c = await TestWispClient.connect(r.url);
    const good = await attempt(c, "good.test");
    expect(good.result).toBe("open");
    expect(good.ms).toBeLessThan(1000);
    c.close();
  });

  it("many clients of one address hold at most --max-lookups-per-ip; other addresses still resolve", async () => {
    const same = await Promise.all(Array.from({ length: 6 }, () => TestWispClient.connect(r.url)));
    for (const [n, a] of same.entries()) for (let i = 0; i < 8; i++) a.open(`ip-${i}.black-ip${n}.test`, 80);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.relay.lookupsInFlight).toBe(r.relay.config.dns.maxPerAddress);
    // One more client of that address is refused at once; a client of another address is served.
    const sameAgain = await TestWispClient.connect(r.url);
    const refused = await attempt(sameAgain, "good.test");
    expect(refused.result).toBe(CLOSE_REASON_THROTTLED);
    expect(refused.ms).toBeLessThan(500);
    const elsewhere = await from("198.51.100.99");
    expect((await attempt(elsewhere, "good.test")).result).toBe("open");
    for (const c of [...same, sameAgain, elsewhere]) c.close();
    await Promise.all(same.map((a) => a.wsClosed));
    await drained();
  });

  it("many addresses asking names of one domain hold at most --max-lookups-per-domain", async () => {
    const attackers = await Promise.all(Array.from({ length: 10 }, (_, n) => from(`198.51.100.${n + 1}`)));
    for (const [n, a] of attackers.entries()) for (let i = 0; i < 8; i++) a.open(`flood-${n}-${i}.wide.test`, 80);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.relay.lookupsInFlight).toBe(r.relay.config.dns.maxPerDomain);
    // A bystander: a good name opens, and a silent name of another domain times out on its own (no 0x49).
    const bystander = await from("203.0.113.1");
    const [good, silent] = await Promise.all([attempt(bystander, "good.test"), attempt(bystander, "x.quiet.test")]);
    expect(good.result).toBe("open");
    expect(silent.result).toBe(CLOSE_REASON_CONNECT_TIMEOUT);
    for (const a of [...attackers, bystander]) a.close();
    await Promise.all(attackers.map((a) => a.wsClosed));
    await drained();
  });

  it("only many addresses and many domains fill the global cap: then lookups are refused at once, and work once they go", async () => {
    // 40 addresses × 8 lookups, each address under its own domain = 320, over the global cap (256): the surplus
    // is refused, and so is a bystander's lookup while the cap is full (0x49, at once: a clear answer, not a
    // stall); when they leave, it is free.
    const attackers = await Promise.all(Array.from({ length: 40 }, (_, n) => from(`198.51.101.${n + 1}`)));
    for (const [n, a] of attackers.entries()) for (let i = 0; i < 8; i++) a.open(`mass-${i}.black${n}.test`, 80);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.relay.lookupsInFlight).toBe(r.relay.config.dns.maxInFlight);
    const bystander = await from("203.0.113.2");
    const busy = await attempt(bystander, "good.test");
    expect(busy.result).toBe(CLOSE_REASON_THROTTLED);
    expect(busy.ms).toBeLessThan(500);
    for (const a of attackers) a.close();
    await Promise.all(attackers.map((a) => a.wsClosed));
    const t0 = performance.now();
    await drained();
    const good = await attempt(bystander, "good.test");
    expect(good.result).toBe("open");
    expect(performance.now() - t0).toBeLessThan(10_000);
    bystander.close();
  });
});
