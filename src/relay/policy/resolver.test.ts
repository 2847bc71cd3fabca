import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DnsTestServer, dnsTestServer } from "../../../tests/relay/dns-test-server.ts";
import { LookupBusyError, LookupTimeoutError, resolveDestination } from "./destination.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import {
  DEFAULT_RESOLVER_CONFIG,
  domainOf,
  LookupFailedError,
  NameResolver,
  parseDnsServer,
  parseHosts,
  type ResolverConfig,
} from "./resolver.ts";

describe("parseHosts", () => {
  it("reads every address of every line, lower-cased, comments and zones stripped", () => {
    const h = parseHosts(
      [
        "127.0.0.1 localhost Local.Test # a comment",
        "# 10.0.0.9 commented.test",
        "::1 localhost ip6-localhost",
        "fe80::1%eth0 link.test",
        "10.1.2.3\tintranet.test. db",
        "not-an-address broken.test",
        "93.184.216.34",
      ].join("\n"),
    );
    expect(Object.fromEntries(h)).toEqual({
      localhost: ["127.0.0.1", "::1"],
      "local.test": ["127.0.0.1"],
      "ip6-localhost": ["::1"],
      "link.test": ["fe80::1"],
      "intranet.test": ["10.1.2.3"],
      db: ["10.1.2.3"],
    });
  });
});

describe("domainOf", () => {
  it.each([
    ["a.b.example.com", "example.com"],
    ["example.com", "example.com"],
    ["intranet", "intranet"],
    ["x.y.example.co.uk", "example.co.uk"],
    ["www.example.com.au", "example.com.au"],
    ["co.uk", "co.uk"],
    ["a.b.de", "b.de"],
    ["evil-1.black.test", "black.test"],
  ])("%s -> %s", (name, want) => {
    expect(domainOf(name)).toBe(want);
  });
});

describe("parseDnsServer", () => {
  it.each([
    ["1.1.1.1", "1.1.1.1"],
    ["127.0.0.1:5353", "127.0.0.1:5353"],
    ["::1", "::1"],
    ["[::1]:53", "[::1]:53"],
    ["example.com", null],
    ["127.0.0.1:0", null],
    ["127.0.0.1:70000", null],
    ["", null],
  ])("%s", (input, want) => {
    expect(parseDnsServer(input)).toBe(want);
  });
});

describe("NameResolver against a DNS server on 127.0.0.1", () => {
  let dns: DnsTestServer;
  let hostsFile: string;
  beforeAll(async () => {
    const zone = {
      "good.test": ["93.184.216.34", "2606:4700::1111"],
      "v4.test": ["93.184.216.35"],
      "www.mixed.test": ["93.184.216.36"],
    };
    dns = await dnsTestServer(zone, ["gone.test", "gone2.test"]);
    hostsFile = join(mkdtempSync(join(tmpdir(), "vireo-hosts-")), "hosts");
    writeFileSync(hostsFile, "10.1.2.3 intranet.test\n93.184.216.99 good.test.override\n");
  });
  afterAll(() => dns.close());

  const config = (over: Partial<ResolverConfig> = {}): ResolverConfig => ({
    ...DEFAULT_RESOLVER_CONFIG,
    servers: [dns.address],
    hostsFile,
    timeoutMs: 1000,
    ...over,
  });

  it("asks for both families and returns every answer", async () => {
    const c = new NameResolver(config()).forClient();
    expect((await c.lookup("GOOD.test")).sort()).toEqual(["2606:4700::1111", "93.184.216.34"]);
    expect(await c.lookup("v4.test.")).toEqual(["93.184.216.35"]);
  });

  it("answers from the hosts file without asking DNS, and the policy still refuses what it maps to", async () => {
    const c = new NameResolver(config()).forClient();
    expect(await c.lookup("intranet.test")).toEqual(["10.1.2.3"]);
    expect(dns.asked.has("intranet.test")).toBe(false);
    expect(await resolveDestination(DEFAULT_POLICY, "intranet.test", 80, c.lookup, 1000)).toEqual({
      ok: false,
      error: "blocked",
      reason: "private",
    });
  });

  it("localhost never reaches DNS and is loopback", async () => {
    const c = new NameResolver(config({ hostsFile: null })).forClient();
    const d = await resolveDestination(DEFAULT_POLICY, "foo.localhost", 80, c.lookup, 1000);
    expect(d).toEqual({ ok: false, error: "blocked", reason: "loopback" });
    expect(dns.asked.has("foo.localhost")).toBe(false);
  });

  it("a name that does not exist fails, and is remembered for negativeTtlMs", async () => {
    let now = 0;
    const c = new NameResolver(config({ negativeTtlMs: 3000 }), () => now).forClient();
    await expect(c.lookup("gone.test")).rejects.toBeInstanceOf(LookupFailedError);
    const asked = dns.asked.get("gone.test");
    now = 2000;
    await expect(c.lookup("gone.test")).rejects.toBeInstanceOf(LookupFailedError);
    expect(dns.asked.get("gone.test")).toBe(asked);
    now = 3500;
    await expect(c.lookup("gone.test")).rejects.toBeInstanceOf(LookupFailedError);
    expect(dns.asked.get("gone.test")).toBeGreaterThan(asked!);
  });

  it("a server that never answers: the lookup times out near timeoutMs and frees its slot", async () => {
    const r = new NameResolver(config({ timeoutMs: 600 }));
    const c = r.forClient();
    const t0 = performance.now();
    await expect(c.lookup("silent-1.test")).rejects.toBeInstanceOf(LookupTimeoutError);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThan(400);
    expect(took).toBeLessThan(1500);
    expect(r.inFlight).toBe(0);
    // Remembered: asking again answers at once, without a slot or a query.
    const t1 = performance.now();
    await expect(c.lookup("silent-1.test")).rejects.toBeInstanceOf(LookupTimeoutError);
    expect(performance.now() - t1).toBeLessThan(50);
  });

  it("caps one client's lookups in flight, under a global cap another client still gets into", async () => {
    const r = new NameResolver(config({ timeoutMs: 5000, maxPerClient: 3, maxInFlight: 5 }));
    const greedy = r.forClient();
    const held = [1, 2, 3].map((i) => greedy.lookup(`silent-cap-${i}.test`).catch((e: Error) => e));
    await expect(greedy.lookup("silent-cap-4.test")).rejects.toBeInstanceOf(LookupBusyError);
    expect(r.inFlight).toBe(3);
    // Another client resolves a real name while the greedy one is at its cap.
    const other = r.forClient();
    expect(await other.lookup("v4.test")).toEqual(["93.184.216.35"]);
    // Global cap: two more in flight fill it; a third client is refused.
    const third = r.forClient();
    const more = [1, 2].map((i) => third.lookup(`silent-cap-x${i}.test`).catch((e: Error) => e));
    expect(r.inFlight).toBe(5);
    await expect(r.forClient().lookup("v4.test")).rejects.toBeInstanceOf(LookupBusyError);
    // Closing a client cancels its lookups at once.
    const t0 = performance.now();
    greedy.close();
    third.close();
    const results = await Promise.all([...held, ...more]);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(results.every((e) => e instanceof LookupFailedError && e.code === "ECANCELLED")).toBe(true);
    expect(r.inFlight).toBe(0);
    // Cancelled lookups are not remembered as failures.
    expect(await other.lookup("v4.test")).toEqual(["93.184.216.35"]);
    await expect(greedy.lookup("v4.test")).rejects.toBeInstanceOf(LookupBusyError);
  });

  it("caps lookups per client address across that address's clients, not another address's", async () => {
    const r = new NameResolver(config({ timeoutMs: 5000, maxPerClient: 3, maxPerAddress: 5 }));
    const a1 = r.forClient("198.51.100.1");
    const a2 = r.forClient("198.51.100.1");
    const held = [
      ...[1, 2, 3].map((i) => a1.lookup(`silent-ip-${i}.test`).catch((e: Error) => e)),
      ...[4, 5].map((i) => a2.lookup(`silent-ip-${i}.test`).catch((e: Error) => e)),
    ];
    // a2 is under its own cap (2 of 3) but its address is at 5.
    await expect(a2.lookup("v4.test")).rejects.toMatchObject({ cap: "address" });
    await expect(r.forClient("198.51.100.1").lookup("v4.test")).rejects.toBeInstanceOf(LookupBusyError);
    expect(await r.forClient("198.51.100.2").lookup("v4.test")).toEqual(["93.184.216.35"]);
    // A gateway has no address: only the other caps apply to it.
    expect(await r.forClient().lookup("v4.test")).toEqual(["93.184.216.35"]);
    a1.close();
    a2.close();
    await Promise.all(held);
    expect(await r.forClient("198.51.100.1").lookup("v4.test")).toEqual(["93.184.216.35"]);
  });

  it("caps lookups under one domain for every client together; other domains are not touched", async () => {
    const r = new NameResolver(config({ timeoutMs: 5000, maxPerDomain: 4 }));
    const clients = [r.forClient("198.51.100.1"), r.forClient("198.51.100.2")];
    const held = [0, 1, 2, 3].map((i) => clients[i % 2]!.lookup(`n${i}.hostile.test`).catch((e: Error) => e));
    expect(r.inFlightFor("hostile.test")).toBe(4);
    // A third address, a name of that domain: refused at once; any other domain still resolves.
    const other = r.forClient("198.51.100.3");
    await expect(other.lookup("n9.hostile.test")).rejects.toMatchObject({ cap: "domain" });
    expect(await other.lookup("v4.test")).toEqual(["93.184.216.35"]);
    for (const c of clients) c.close();
    await Promise.all(held);
    expect(r.inFlightFor("hostile.test")).toBe(0);
  });

  it("a domain whose lookup timed out is asked one name at a time, until it answers again", async () => {
    const r = new NameResolver(config({ timeoutMs: 300, maxPerDomain: 8 }));
    const c = r.forClient("198.51.100.1");
    await expect(c.lookup("dead.mixed.test")).rejects.toBeInstanceOf(LookupTimeoutError);
    // Slow now: one lookup in flight under it, the next refused; other clients' other domains are not affected.
    const probe = c.lookup("dead2.mixed.test").catch((e: Error) => e);
    await expect(r.forClient("198.51.100.2").lookup("dead3.mixed.test")).rejects.toMatchObject({ cap: "domain" });
    expect(await r.forClient("198.51.100.2").lookup("v4.test")).toEqual(["93.184.216.35"]);
    expect(await probe).toBeInstanceOf(LookupTimeoutError);
    // A name of it that answers (the probe slot is free again) ends the slow period: many at once again.
    expect(await c.lookup("www.mixed.test")).toEqual(["93.184.216.36"]);
    const many = [4, 5, 6].map((i) => c.lookup(`dead${i}.mixed.test`).catch((e: Error) => e));
    expect(r.inFlightFor("mixed.test")).toBe(3);
    c.close();
    await Promise.all(many);
  });
});
