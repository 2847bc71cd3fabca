import { describe, expect, it } from "vitest";
import { type Lookup, LookupBusyError, LookupTimeoutError, resolveDestination } from "./destination.ts";
import { DEFAULT_POLICY, type PolicyConfig, parseAllowRule } from "./policy.ts";

const zone: Record<string, string[]> = {
  "public.test": ["93.184.216.34"],
  "rebind.test": ["127.0.0.1"],
  "mixed.test": ["93.184.216.34", "10.0.0.1"],
  "v6.test": ["2606:4700::1111", "93.184.216.34"],
  "v6only.test": ["2606:4700::1111"],
  "metadata.test": ["169.254.169.254"],
  "junk.test": ["not-an-address"],
};
let calls = 0;
const lookup: Lookup = async (host) => {
  calls++;
  const a = zone[host];
  if (!a) throw new Error("ENOTFOUND");
  return a;
};
const never: Lookup = () => new Promise(() => {});

describe("resolveDestination", () => {
  const rows: [string, string, PolicyConfig, string][] = [
    ["public name", "public.test", DEFAULT_POLICY, "93.184.216.34"],
    ["upper-case name", "PUBLIC.test", DEFAULT_POLICY, "93.184.216.34"],
    ["name to loopback", "rebind.test", DEFAULT_POLICY, "blocked:loopback"],
    ["one bad answer spoils the name", "mixed.test", DEFAULT_POLICY, "blocked:private"],
    ["IPv4 answer preferred", "v6.test", DEFAULT_POLICY, "93.184.216.34"],
    ["IPv6-only name", "v6only.test", DEFAULT_POLICY, "2606:4700::1111"],
    ["name to metadata", "metadata.test", DEFAULT_POLICY, "blocked:metadata"],
    ["unknown name", "nx.test", DEFAULT_POLICY, "unreachable"],
    ["resolver returns junk", "junk.test", DEFAULT_POLICY, "unreachable"],
    ["literal", "10.0.0.1", DEFAULT_POLICY, "blocked:private"],
    ["hex literal", "0x7f000001", DEFAULT_POLICY, "blocked:loopback"],
    ["bracketed v6", "[::1]", DEFAULT_POLICY, "blocked:loopback"],
    ["mapped literal", "::ffff:127.0.0.1", DEFAULT_POLICY, "blocked:loopback"],
    ["numeric-looking non-address", "1.2.3.999", DEFAULT_POLICY, "invalid"],
    ["bad characters", "a b.test", DEFAULT_POLICY, "invalid"],
    ["empty label", "a..test", DEFAULT_POLICY, "invalid"],
    ["allowed literal", "127.0.0.1", { allow: [parseAllowRule("127.0.0.1")!], denyPorts: new Set() }, "127.0.0.1"],
  ];
  for (const [name, host, policy, want] of rows) {
    it(name, async () => {
      const d = await resolveDestination(policy, host, 80, lookup, 1000);
      const got = d.ok ? d.address : d.error === "blocked" ? `blocked:${d.reason}` : d.error;
      expect(got).toBe(want);
    });
  }

  it("literals never reach the resolver", async () => {
    calls = 0;
    await resolveDestination(DEFAULT_POLICY, "0x7f.1", 80, lookup, 1000);
    await resolveDestination(DEFAULT_POLICY, "1.2.3.999", 80, lookup, 1000);
    expect(calls).toBe(0);
  });

  it("a resolver that never answers times out", async () => {
    const d = await resolveDestination(DEFAULT_POLICY, "slow.test", 80, never, 20);
    expect(d).toEqual({ ok: false, error: "timeout" });
  });

  it("a resolver's busy and timeout errors keep their meaning", async () => {
    const busy: Lookup = async () => {
      throw new LookupBusyError();
    };
    const slow: Lookup = async () => {
      throw new LookupTimeoutError();
    };
    expect(await resolveDestination(DEFAULT_POLICY, "slow.test", 80, busy, 50)).toEqual({ ok: false, error: "busy" });
    expect(await resolveDestination(DEFAULT_POLICY, "slow.test", 80, slow, 50)).toEqual({
      ok: false,
      error: "timeout",
    });
  });
});
