// Issue 16: the PROXY protocol for balancers that pass the client's address that way instead of X-Forwarded-For
// (any mode tcp balancer; HAProxy's send-proxy / send-proxy-v2). Debian's haproxy, in mode tcp so it could not add
// a header if it wanted to, in front of a relay with --trust-proxy 127.0.0.1 --proxy-protocol: clients from
// 127.0.0.2 and 127.0.0.3 are keyed and logged as themselves through either version; a client that sends a PROXY
// line itself is not believed; the trusted address without a header is refused.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { parseTrustedProxies } from "../../src/relay/client-address.ts";
import { freePort } from "../../src/testing/ports.ts";
import { type StartedRelay, startRelay, TestWispClient, tcpEchoServer } from "./wisp-test-client.ts";

let haproxy: ChildProcess | null = null;
let dir = "";
let r: StartedRelay;
let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
const lb = { v1: 0, v2: 0 };

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** One Wisp stream through `port` from `localAddress`: what the echo server sent back. */
async function echoVia(port: number, localAddress: string, text: string): Promise<string> {
  const c = await TestWispClient.connect(`ws://127.0.0.1:${port}/wisp/`, { localAddress });
  const s = c.open("127.0.0.1", echo.port);
  s.send(Buffer.from(text));
  await Promise.race([s.waitForBytes(text.length), s.closed.then((x) => Promise.reject(new Error(`CLOSE ${x}`)))]);
  c.close();
  return s.text();
}

/** What a raw TCP connection from `localAddress` gets back for `bytes` (until the relay closes it). */
async function rawExchange(localAddress: string, bytes: string): Promise<string> {
  const s = net.connect({ host: "127.0.0.1", port: r.relay.port, localAddress });
  s.on("error", () => {});
  await once(s, "connect");
  s.write(bytes);
  let got = "";
  s.on("data", (d: Buffer) => {
    got += d.toString("latin1");
  });
  await Promise.race([once(s, "close"), sleep(5000)]);
  s.destroy();
  return got;
}

const opened = () => r.logs.filter((e) => e.event === "relay.client-open").map((e) => e.fields?.remote);
const refusedProxy = () => r.relay.metrics.get("relay_connections_refused_total", { reason: "proxy-protocol" });

beforeAll(async () => {
  if (spawnSync("haproxy", ["-v"]).status !== 0)
    throw new Error("haproxy is not installed (npm test installs it: apt-get install haproxy)");
  echo = await tcpEchoServer();
  r = await startRelay({
    allow: ["127.0.0.1"],
    tune: (c) => {
      c.trustProxy = parseTrustedProxies("127.0.0.1")!;
      c.proxyProtocol = true;
      c.maxClientsPerAddress = 2;
      c.handshakeTimeoutMs = 2000;
    },
  });
  lb.v1 = await freePort();
  lb.v2 = await freePort();
  dir = mkdtempSync(join(tmpdir(), "vireo-proxy-protocol-"));
  const backend = (name: string, send: string) => `
backend ${name}
    option httpchk GET /healthz
    http-check expect string ok
    server relay 127.0.0.1:${r.relay.port} check inter 200ms fall 1 rise 1 ${send}`;
  writeFileSync(
    join(dir, "haproxy.cfg"),
    `global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend v1
    bind 127.0.0.1:${lb.v1}
    default_backend relay_v1
frontend v2
    bind 127.0.0.1:${lb.v2}
    default_backend relay_v2
${backend("relay_v1", "send-proxy")}
${backend("relay_v2", "send-proxy-v2")}
`,
  );
  haproxy = spawn("haproxy", ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  haproxy.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  // Up once a health check (itself sent with the PROXY header) has passed on both backends.
  const t0 = performance.now();
  for (;;) {
    const up = await Promise.all(
      [lb.v1, lb.v2].map((p) =>
        fetch(`http://127.0.0.1:${p}/healthz`).then(
          (res) => res.ok,
          () => false,
        ),
      ),
    );
    if (up.every(Boolean)) break;
    if (haproxy.exitCode !== null) throw new Error(`haproxy exited ${haproxy.exitCode}: ${err}`);
    if (performance.now() - t0 > 10_000) throw new Error(`haproxy did not come up: ${err}`);
    await sleep(50);
  }
}, 30_000);

afterAll(async () => {
  if (haproxy && haproxy.exitCode === null) haproxy.kill("SIGKILL");
  await r?.stop();
  await echo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("--proxy-protocol behind haproxy (mode tcp, send-proxy and send-proxy-v2)", () => {
  it("the balancer's health checks pass with the header (none refused)", () => {
    expect(refusedProxy()).toBe(0);
  });

  it.each([
    ["send-proxy (v1)", "v1", "127.0.0.2"],
    ["send-proxy-v2", "v2", "127.0.0.3"],
  ] as const)("through %s a client is keyed and logged as itself", async (_name, version, from) => {
    expect(await echoVia(lb[version], from, `hello ${version}`)).toBe(`hello ${version}`);
    expect(opened()).toContain(from);
    expect(opened()).not.toContain("127.0.0.1");
  });

  it("--max-clients-per-ip counts the address from the header, not the balancer's", async () => {
    const hold = await Promise.all([
      TestWispClient.connect(`ws://127.0.0.1:${lb.v2}/wisp/`, { localAddress: "127.0.0.4" }),
      TestWispClient.connect(`ws://127.0.0.1:${lb.v1}/wisp/`, { localAddress: "127.0.0.4" }),
    ]);
    // A third from 127.0.0.4 is over its 2 (accepted, then closed 1013); one from 127.0.0.5, through the same
    // balancer, is not.
    const third = new WebSocket(`ws://127.0.0.1:${lb.v2}/wisp/`, { localAddress: "127.0.0.4" });
    third.on("error", () => {});
    const code = await Promise.race([once(third, "close").then(([c]) => c as number), sleep(5000).then(() => "open")]);
    third.terminate();
    expect(code).toBe(1013);
    expect(await echoVia(lb.v2, "127.0.0.5", "other")).toBe("other");
    for (const c of hold) c.close();
  });

  it("a PROXY line from a peer that is not a trusted balancer is not read: 400, and its claim is not logged", async () => {
    const before = opened().length;
    const got = await rawExchange(
      "127.0.0.2",
      "PROXY TCP4 198.51.100.7 127.0.0.1 5000 80\r\nGET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n",
    );
    expect(got).toMatch(/^HTTP\/1\.1 400/);
    expect(JSON.stringify(r.logs)).not.toContain("198.51.100.7");
    expect(opened().length).toBe(before);
  });

  it("the trusted balancer's address without a valid header is refused and counted", async () => {
    const before = refusedProxy();
    expect(await rawExchange("127.0.0.1", "GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")).toBe("");
    expect(await rawExchange("127.0.0.1", "PROXY TCP4 127.1 127.0.0.1 1 2\r\nGET /healthz HTTP/1.1\r\n\r\n")).toBe("");
    expect(refusedProxy()).toBe(before + 2);
    // With a header (v1, the request in the same write) the same request is answered.
    const ok = await rawExchange(
      "127.0.0.1",
      "PROXY TCP4 198.51.100.9 127.0.0.1 5000 80\r\nGET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
    );
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    expect(ok.split("\r\n\r\n")[1]).toContain("ok");
  });
});
