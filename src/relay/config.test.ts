import { describe, expect, it } from "vitest";
import { parseRelayArgs, type RelayConfig } from "./config.ts";

const parse = (args: string[], env = {}) => parseRelayArgs(args, env) as RelayConfig;

describe("parseRelayArgs", () => {
  it("defaults are the safe ones", () => {
    const c = parse([]);
    expect([c.host, c.port, c.auth.noAuth, c.auth.tokens, c.policy.allow]).toEqual(["127.0.0.1", 8787, false, [], []]);
    expect([...c.policy.denyPorts]).toEqual([25]);
  });
  it("reads listen, tokens, allow, deny-port and limits", () => {
    const c = parse(
      [
        "--listen",
        "0.0.0.0:9000",
        "--token",
        "abcdefgh12",
        "--allow",
        "127.0.0.1",
        "--allow",
        "localhost:8080",
        "--deny-port",
        "25,465",
        "--deny-port",
        "587",
        "--max-streams",
        "5",
        "--rate",
        "1000",
        "--idle-timeout",
        "3",
      ],
      { VIREO_RELAY_TOKEN: "from-env-token" },
    );
    expect([c.host, c.port]).toEqual(["0.0.0.0", 9000]);
    expect(c.auth.tokens).toEqual(["abcdefgh12", "from-env-token"]);
    expect(c.policy.allow.map((a) => a.kind)).toEqual(["cidr", "host-port"]);
    expect([...c.policy.denyPorts]).toEqual([25, 465, 587]);
    expect([c.wisp.maxStreams, c.wisp.bytesPerSecond, c.wisp.idleTimeoutMs]).toEqual([5, 1000, 3000]);
  });
  it("reads the resolver's options", () => {
    const c = parse(["--dns-server", "127.0.0.1:5353", "--dns-server", "::1", "--lookup-timeout", "2"]);
    expect(c.dns.servers).toEqual(["127.0.0.1:5353", "::1"]);
    expect([c.dns.timeoutMs, c.wisp.lookupTimeoutMs]).toEqual([2000, 2000]);
    const d = parse(["--max-lookups", "100", "--max-lookups-per-client", "4"]);
    expect([d.dns.maxInFlight, d.dns.maxPerClient, d.dns.servers]).toEqual([100, 4, []]);
    expect(parse([]).dns.servers).toEqual([]);
  });
  it("reads the socket budgets (--max-sockets spans Wisp and the L2 gateways)", () => {
    expect(parse([]).maxSockets).toBe(8192);
    const c = parse(["--max-sockets", "300", "--max-gateway-sockets", "100"]);
    expect([c.maxSockets, c.l2.maxGatewaySockets]).toEqual([300, 100]);
  });
  it("--proxy-protocol with --trust-proxy", () => {
    expect(parse([]).proxyProtocol).toBe(false);
    const c = parse(["--trust-proxy", "127.0.0.1", "--proxy-protocol"]);
    expect([c.proxyProtocol, c.trustProxy.length]).toEqual([true, 1]);
  });
  it("takes [v6]:port and a bare port", () => {
    expect(parse(["--listen", "[::1]:1234"]).host).toBe("::1");
    expect(parse(["--listen", "1234"]).port).toBe(1234);
  });
  it.each([
    [["--no-auth", "--listen", "0.0.0.0:8787"], /loopback/],
    [["--allow", "nonsense"], /--allow/],
    [["--deny-port", "0"], /--deny-port/],
    [["--max-streams", "-1"], /--max-streams/],
    [["--token", "short"], /8 characters/],
    [["--listen", "host:99999"], /range/],
    [["--bogus"], /Unknown option/],
    [["--dns-server", "dns.example"], /--dns-server/],
    [["--max-sockets", "0"], /--max-sockets/],
    [["--proxy-protocol"], /--proxy-protocol: needs --trust-proxy/],
    [["--max-lookups", "4", "--max-lookups-per-client", "8"], /--max-lookups-per-client/],
  ])("refuses %j", (args, msg) => {
    expect(() => parseRelayArgs(args)).toThrow(msg);
  });
  it("--no-auth on loopback is fine", () => {
    expect(parse(["--no-auth", "--listen", "localhost:1"]).auth.noAuth).toBe(true);
  });
});
