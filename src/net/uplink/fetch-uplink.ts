// The browser's uplink when no relay is configured (no server at all): guest HTTP on port 80 becomes
// fetch() requests. It is bound by what a page may fetch — CORS decides which responses are readable,
// mixed-content rules force https (so http:// URLs are upgraded), and response headers are the ones the
// browser exposes — so it is a convenience for `wget`/`curl` of public resources, not a network. Other
// ports and UDP are refused. Every name resolves to one placeholder address; the request's Host header
// names the real destination.
//
// The request bytes come from the guest: the head is bounded, parsed strictly, and anything malformed is
// answered with 400; one request per connection (the response says Connection: close).

import type { Uplink, UplinkTcp, UplinkTcpHandlers, UplinkUdp, UplinkUdpHandlers } from "./uplink.ts";

/** Every name resolves here (TEST-NET-2 benchmark space, never routed). */
export const FETCH_PLACEHOLDER_ADDR = "198.18.0.1";
const MAX_HEAD = 16 * 1024;
const MAX_BODY = 8 * 1024 * 1024;
/** Request headers fetch() refuses or that describe the guest's connection rather than the request. */
const DROP_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "upgrade",
  "te",
  "proxy-connection",
]);

export interface FetchUplinkOptions {
  fetch?: typeof fetch;
  /** Rewrite http:// to https:// (a page served over https may not fetch http). Default true. */
  upgradeToHttps?: boolean;
}

interface ParsedHead {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  contentLength: number;
  headEnd: number;
}

/** Parses an HTTP/1.x request head; "incomplete" until the blank line arrives. */
export function parseRequestHead(b: Uint8Array): ParsedHead | "incomplete" | "bad" {
  let end = -1;
  for (let i = 3; i < b.length; i++) {
    if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) {
      end = i + 1;
      break;
    }
  }
  if (end < 0) return b.length > MAX_HEAD ? "bad" : "incomplete";
  let text = "";
  for (let i = 0; i < end - 4; i++) {
    const c = b[i]!;
    if (c > 0x7e || (c < 0x20 && c !== 13 && c !== 10 && c !== 9)) return "bad";
    text += String.fromCharCode(c);
  }
  const lines = text.split("\r\n");
  const m = /^([A-Z]{1,16}) (\S{1,8000}) HTTP\/1\.[01]$/.exec(lines[0] ?? "");
  if (!m) return "bad";
  const headers: Array<[string, string]> = [];
  let contentLength = 0;
  for (const line of lines.slice(1)) {
    const c = line.indexOf(":");
    if (c <= 0) return "bad";
    const name = line.slice(0, c).trim().toLowerCase();
    const value = line.slice(c + 1).trim();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) return "bad";
    if (name === "transfer-encoding") return "bad"; // chunked uploads are not supported
    if (name === "content-length") {
      if (!/^\d{1,9}$/.test(value) || Number(value) > MAX_BODY) return "bad";
      contentLength = Number(value);
    }
    headers.push([name, value]);
  }
  return { method: m[1]!, target: m[2]!, headers, contentLength, headEnd: end };
}

const te = new TextEncoder();

export class FetchUplink implements Uplink {
  private readonly fetchFn: typeof fetch;
  private readonly https: boolean;

  constructor(o: FetchUplinkOptions = {}) {
    this.fetchFn = o.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
    this.https = o.upgradeToHttps ?? true;
  }

  async resolve(_name: string, family: 4 | 6): Promise<string[]> {
    return family === 4 ? [FETCH_PLACEHOLDER_ADDR] : [];
  }

  openUdp(_host: string, _port: number, h: UplinkUdpHandlers): UplinkUdp {
    let told = false;
    return {
      send: () => {
        if (!told) queueMicrotask(() => h.onError("unreachable"));
        told = true;
      },
      close() {},
    };
  }

  openTcp(_host: string, port: number, h: UplinkTcpHandlers): UplinkTcp {
    let dead = false;
    if (port !== 80) {
      queueMicrotask(() => h.onError("refused"));
      return { write() {}, writableBytes: () => 0, end() {}, close() {}, pause() {}, resume() {} };
    }
    queueMicrotask(() => !dead && h.onOpen());
    let buf = new Uint8Array(0);
    let started = false;
    let paused = false;
    let wake: (() => void) | undefined;
    const abort = new AbortController();
    const reply = (status: string, body: string) => {
      if (dead) return;
      h.onData(
        te.encode(
          `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        ),
      );
      h.onEnd();
    };
    const run = async (head: ParsedHead, body: Uint8Array) => {
      const host = head.headers.find(([n]) => n === "host")?.[1];
      let url: string;
      if (/^https?:\/\//i.test(head.target)) url = head.target;
      else if (host && head.target.startsWith("/")) url = `http://${host}${head.target}`;
      else return reply("400 Bad Request", "vireo fetch uplink: a Host header is required\n");
      if (this.https) url = url.replace(/^http:/i, "https:");
      const headers: Array<[string, string]> = head.headers.filter(([n]) => !DROP_HEADERS.has(n));
      let res: Response;
      try {
        res = await this.fetchFn(url, {
          method: head.method,
          headers,
          body:
            head.method === "GET" || head.method === "HEAD" ? undefined : new Blob([body as Uint8Array<ArrayBuffer>]),
          redirect: "follow",
          signal: abort.signal,
        });
      } catch (e) {
        return reply("502 Bad Gateway", `vireo fetch uplink: ${(e as Error).message} (blocked by CORS?)\n`);
      }
      if (dead) return;
      let out = `HTTP/1.1 ${res.status} ${res.statusText || "OK"}\r\n`;
      res.headers.forEach((v, k) => {
        if (k !== "content-length" && k !== "connection" && k !== "transfer-encoding" && k !== "content-encoding")
          out += `${k}: ${v}\r\n`;
      });
      // The body arrives decoded, so its length is unknown up front: the close delimits it.
      out += "Connection: close\r\n\r\n";
      h.onData(te.encode(out));
      const reader = res.body?.getReader();
      while (reader && !dead) {
        while (paused && !dead) await new Promise<void>((r) => (wake = r));
        const { value, done } = await reader.read();
        if (done || dead) break;
        h.onData(value);
      }
      if (!dead) h.onEnd();
    };
    return {
      write: (data) => {
        if (dead || started) return;
        const merged = new Uint8Array(buf.length + data.length);
        merged.set(buf);
        merged.set(data, buf.length);
        buf = merged;
        const head = parseRequestHead(buf);
        if (head === "incomplete") return;
        if (head === "bad") {
          started = true;
          reply("400 Bad Request", "vireo fetch uplink: malformed request\n");
          return;
        }
        if (buf.length - head.headEnd < head.contentLength) return;
        started = true;
        void run(head, buf.slice(head.headEnd, head.headEnd + head.contentLength));
      },
      writableBytes: () => (dead || started ? 0 : MAX_HEAD + MAX_BODY - buf.length),
      end() {},
      close: () => {
        dead = true;
        abort.abort();
        wake?.();
      },
      pause: () => {
        paused = true;
      },
      resume: () => {
        paused = false;
        wake?.();
        wake = undefined;
      },
    };
  }
}
