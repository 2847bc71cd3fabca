import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type StartedRelay, startRelay } from "../../tests/relay/wisp-test-client.ts";
import { clientAddress, parseTrustedProxies } from "./client-address.ts";
import { parseRelayArgs, type RelayConfig } from "./config.ts";

describe("parseTrustedProxies", () => {
  it.each([
    ["127.0.0.1", 1],
    ["10.0.0.0/8, ::1", 2],
    ["fd00::/8,192.0.2.1", 2],
    ["127.1", null], // inet_aton spellings are for destinations, not for configuration
    ["lb.example", null],
    ["10.0.0.0/33", null],
    ["127.0.0.1,", null],
  ])("%s", (s, n) => {
    const r = parseTrustedProxies(s);
    expect(r === null ? null : r.length).toBe(n);
  });

  it("--trust-proxy takes lists, repeats, and refuses anything else with a message", () => {
    const c = parseRelayArgs(["--trust-proxy", "127.0.0.1,10.0.0.0/8", "--trust-proxy", "::1"]) as RelayConfig;
    expect(c.trustProxy.length).toBe(3);
    expect(() => parseRelayArgs(["--trust-proxy", "haproxy"])).toThrow(/--trust-proxy: expected IP or CIDR/);
  });
});

describe("clientAddress", () => {
  const lb = parseTrustedProxies("10.0.0.5,10.1.0.0/16")!;
  it.each<[string, string | undefined, string | string[] | undefined, string]>([
    ["no header: the peer", "203.0.113.9", undefined, "203.0.113.9"],
    ["untrusted peer: its header is ignored", "203.0.113.9", "198.51.100.1", "203.0.113.9"],
    ["trusted peer: the address it appended", "10.0.0.5", "198.51.100.1", "198.51.100.1"],
    ["a spoofed entry loses to the appended one", "10.0.0.5", "1.2.3.4, 198.51.100.1", "198.51.100.1"],
    ["through two trusted hops", "10.0.0.5", "198.51.100.1, 10.1.2.3", "198.51.100.1"],
    ["every hop trusted: the left-most", "10.0.0.5", "10.1.0.1", "10.1.0.1"],
    ["garbage ends the walk at the last vouched hop", "10.0.0.5", "198.51.100.1, bogus, 10.1.2.3", "10.1.2.3"],
    ["inet_aton spellings are garbage here", "10.0.0.5", "127.1", "10.0.0.5"],
    ["headers sent twice are one list", "10.0.0.5", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"],
    ["IPv6 client, bracketed", "10.0.0.5", "[2001:db8::1]", "2001:db8::1"],
    ["an IPv4-mapped peer is its IPv4 address", "::ffff:10.0.0.5", "198.51.100.1", "198.51.100.1"],
    ["an IPv4-mapped untrusted peer is logged as IPv4", "::ffff:203.0.113.9", undefined, "203.0.113.9"],
    ["no peer address (a closed socket)", undefined, "198.51.100.1", "?"],
  ])("%s", (_name, peer, xff, want) => {
    expect(clientAddress(peer, xff, lb)).toBe(want);
  });

  it("trusts nobody when no proxy is configured", () => {
    expect(clientAddress("127.0.0.1", "198.51.100.1", [])).toBe("127.0.0.1");
  });
});

describe("per-address limits behind a balancer", () => {
  let r: StartedRelay | undefined;
  afterEach(async () => {
    await r?.stop();
    r = undefined;
  });

  /** A /wisp client from 127.0.0.1 claiming `xff`; resolves to the close code if refused, else 0. */
  async function connect(relay: StartedRelay, xff: string): Promise<{ ws: WebSocket; refused: Promise<number> }> {
    const ws = new WebSocket(relay.url, { headers: { "x-forwarded-for": xff } });
    ws.on("error", () => {});
    await once(ws, "open");
    const refused = new Promise<number>((resolve) => {
      ws.once("close", (code) => resolve(code));
      setTimeout(() => resolve(0), 300);
    });
    return { ws, refused };
  }

  const opened = (relay: StartedRelay) =>
    relay.logs.filter((l) => l.event === "relay.client-open").map((l) => l.fields?.remote);

  it("from an untrusted peer, a forged X-Forwarded-For changes nothing: every client is 127.0.0.1", async () => {
    r = await startRelay({ tune: (c) => (c.maxClientsPerAddress = 2) });
    const a = await connect(r, "198.51.100.1");
    const b = await connect(r, "198.51.100.2");
    const c = await connect(r, "198.51.100.3");
    expect([await a.refused, await b.refused, await c.refused]).toEqual([0, 0, 1013]);
    expect(opened(r)).toEqual(["127.0.0.1", "127.0.0.1"]);
    expect(r.relay.metrics.get("relay_connections_refused_total", { reason: "max-clients-per-address" })).toBe(1);
    for (const x of [a, b, c]) x.ws.close();
  });

  it("from a trusted proxy, each client is the address it forwarded: the cap is per real client", async () => {
    r = await startRelay({
      tune: (c) => {
        c.maxClientsPerAddress = 2;
        c.trustProxy = parseTrustedProxies("127.0.0.1")!;
      },
    });
    const a = await connect(r, "198.51.100.1");
    const b = await connect(r, "198.51.100.1");
    const c = await connect(r, "198.51.100.1");
    const d = await connect(r, "198.51.100.2");
    expect([await a.refused, await b.refused, await c.refused, await d.refused]).toEqual([0, 0, 1013, 0]);
    expect(opened(r)).toEqual(["198.51.100.1", "198.51.100.1", "198.51.100.2"]);
    const refusal = r.logs.find((l) => l.event === "relay.refused");
    expect(refusal?.fields?.remote).toBe("198.51.100.1");
    for (const x of [a, b, c, d]) x.ws.close();
  });
});
