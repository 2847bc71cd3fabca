import { describe, expect, it } from "vitest";
import { type AuthConfig, authorize, originAllowed, tokenMatches } from "./auth.ts";

const cfg = (over: Partial<AuthConfig> = {}): AuthConfig => ({
  tokens: ["s3cret"],
  noAuth: false,
  origins: [],
  ...over,
});
const url = (q = "") => new URL(`http://relay/wisp/${q}`);

describe("authorize", () => {
  const rows: { name: string; c: AuthConfig; q?: string; proto?: string; origin?: string; want: string }[] = [
    { name: "no token", c: cfg(), want: "401:no-token" },
    { name: "query token", c: cfg(), q: "?token=s3cret", want: "ok:null" },
    { name: "wrong query token", c: cfg(), q: "?token=s3cre", want: "401:bad-token" },
    // wisp-js needs the URL to end in "/": these are the forms it can send
    { name: "query token, then &/", c: cfg(), q: "?token=s3cret&/", want: "ok:null" },
    { name: "query token ending in /", c: cfg(), q: "?token=s3cret/", want: "ok:null" },
    { name: "query token after another parameter", c: cfg(), q: "?a=1&token=s3cret&/", want: "ok:null" },
    { name: "only one trailing / is forgiven", c: cfg(), q: "?token=s3cret//", want: "401:bad-token" },
    { name: "a / alone is not a token", c: cfg(), q: "?token=/", want: "401:bad-token" },
    { name: "empty query token", c: cfg(), q: "?token=", want: "401:bad-token" },
    { name: "subprotocol token", c: cfg(), proto: "vireo-token.s3cret", want: "ok:vireo-token.s3cret" },
    // the other protocol is echoed so the token is not reflected when it need not be
    { name: "token beside wisp-v2", c: cfg(), proto: "wisp-v2, vireo-token.s3cret", want: "ok:wisp-v2" },
    { name: "wrong subprotocol token", c: cfg(), proto: "vireo-token.nope", want: "401:bad-token" },
    { name: "no tokens configured", c: cfg({ tokens: [] }), q: "?token=", want: "401:bad-token" },
    { name: "no-auth", c: cfg({ noAuth: true }), want: "ok:null" },
    { name: "no-auth echoes protocol", c: cfg({ noAuth: true }), proto: "wisp-v2", want: "ok:wisp-v2" },
    { name: "loopback origin", c: cfg(), q: "?token=s3cret", origin: "http://127.0.0.1:5173", want: "ok:null" },
    { name: "foreign origin", c: cfg(), q: "?token=s3cret", origin: "https://evil.example", want: "403:origin" },
    // origin is checked even when auth is off: --no-auth must not let any web page in
    { name: "foreign origin, no-auth", c: cfg({ noAuth: true }), origin: "https://evil.example", want: "403:origin" },
    {
      name: "listed origin",
      c: cfg({ origins: ["https://vireo.example"] }),
      q: "?token=s3cret",
      origin: "https://vireo.example",
      want: "ok:null",
    },
    {
      name: "listed origins replace loopback default",
      c: cfg({ origins: ["https://vireo.example"] }),
      q: "?token=s3cret",
      origin: "http://127.0.0.1:5173",
      want: "403:origin",
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const v = authorize(r.c, url(r.q), r.proto, r.origin);
      expect(v.ok ? `ok:${v.protocol}` : `${v.status}:${v.reason}`).toBe(r.want);
    });
  }
});

describe("originAllowed", () => {
  it.each([
    [undefined, [], true],
    ["http://localhost:5173", [], true],
    ["http://[::1]:8080", [], true],
    ["http://127.0.0.1.evil.example", [], false],
    ["null", [], false],
    ["https://anything", ["*"], true],
  ] as [string | undefined, string[], boolean][])("%s with %j -> %s", (o, list, want) => {
    expect(originAllowed(o, list)).toBe(want);
  });
});

describe("tokenMatches", () => {
  it("matches any configured token and nothing else", () => {
    expect(tokenMatches("b", ["a", "b"])).toBe(true);
    expect(tokenMatches("c", ["a", "b"])).toBe(false);
    expect(tokenMatches("", [])).toBe(false);
  });
});
