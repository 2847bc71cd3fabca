import { describe, expect, it } from "vitest";
import { GuestWorld } from "../stack/guest-harness.ts";
import { FETCH_PLACEHOLDER_ADDR, FetchUplink, parseRequestHead } from "./fetch-uplink.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function until(w: GuestWorld, done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) {
    w.flush();
    await new Promise((r) => setTimeout(r, 0));
  }
}

describe("FetchUplink", () => {
  it("parses request heads strictly", () => {
    const ok = parseRequestHead(te.encode("GET /a?b HTTP/1.1\r\nHost: x.test\r\nContent-Length: 3\r\n\r\nabc"));
    expect(ok).toMatchObject({ method: "GET", target: "/a?b", contentLength: 3 });
    expect(parseRequestHead(te.encode("GET / HTTP/1.1\r\nHost: x"))).toBe("incomplete");
    expect(parseRequestHead(te.encode("GET / SPDY\r\n\r\n"))).toBe("bad");
    expect(parseRequestHead(te.encode("GET / HTTP/1.1\r\nBad Header\r\n\r\n"))).toBe("bad");
    expect(parseRequestHead(te.encode("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"))).toBe("bad");
    expect(parseRequestHead(new Uint8Array(20000).fill(65))).toBe("bad");
  });

  it("turns a guest's HTTP request into fetch() and streams the response back", async () => {
    const calls: Array<{ url: string; init?: RequestInit }> = [];
    const fake = (async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init });
      return new Response("hello from the web\n", { status: 200, headers: { "content-type": "text/plain" } });
    }) as typeof fetch;
    const w = new GuestWorld({ uplink: new FetchUplink({ fetch: fake }) });
    const t = w.connect(0xc6120001, 80, 44000);
    await until(w, () => t.established);
    t.ep.write(
      te.encode("GET /index.txt HTTP/1.1\r\nHost: example.test\r\nUser-Agent: wget\r\nConnection: close\r\n\r\n"),
    );
    await until(w, () => t.peerFin);
    const text = t.data.map((d) => td.decode(d)).join("");
    expect(calls[0]!.url).toBe("https://example.test/index.txt");
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain("content-type: text/plain");
    expect(text.endsWith("hello from the web\n")).toBe(true);
    expect(FETCH_PLACEHOLDER_ADDR).toBe("198.18.0.1");
  });

  it("refuses other ports and reports fetch failures as 502", async () => {
    const fake = (async () => {
      throw new TypeError("Failed to fetch");
    }) as typeof fetch;
    const w = new GuestWorld({ uplink: new FetchUplink({ fetch: fake }) });
    const refused = w.connect(0xc6120001, 443, 44001);
    await until(w, () => refused.closed !== undefined);
    expect(refused.closed).toBe("refused");
    const t = w.connect(0xc6120001, 80, 44002);
    await until(w, () => t.established);
    t.ep.write(te.encode("GET / HTTP/1.1\r\nHost: blocked.test\r\n\r\n"));
    await until(w, () => t.peerFin);
    expect(t.data.map((d) => td.decode(d)).join("")).toMatch(/^HTTP\/1\.1 502 /);
  });
});
