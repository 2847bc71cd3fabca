// Interop with a Wisp implementation we did not write, @mercuryworkshop/wisp-js 0.5, both ways and with auth on
// (issue 16, finding 4), over 127.0.0.1 only: its client against our relay (v1 and v2 clients; the token in the
// URL forms it can send: it insists the URL ends in "/"), and our WispUplink against its server (v1 and v2,
// behind a token gate, the way one would deploy it), including handshakes that fail: they must reach the
// stack as errors within seconds.

import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import * as net from "node:net";
import { client as wisp } from "@mercuryworkshop/wisp-js/client";
import { extensions, logging, server as wispServer } from "@mercuryworkshop/wisp-js/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { UplinkError } from "../../src/net/uplink/uplink.ts";
import { type WebSocketLike, WispUplink } from "../../src/net/uplink/wisp-uplink.ts";
import { CLOSE_REASON_BLOCKED, CLOSE_REASON_VOLUNTARY } from "../../src/relay/wisp/packet.ts";
import { type StartedRelay, startRelay, TestWispClient, tcpEchoServer, udpEchoServer } from "./wisp-test-client.ts";

const TOKEN = "interop-token-0123";

let r: StartedRelay;
let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
let uecho: Awaited<ReturnType<typeof udpEchoServer>>;

beforeAll(async () => {
  echo = await tcpEchoServer();
  uecho = await udpEchoServer();
  r = await startRelay({
    allow: ["127.0.0.1"],
    tune: (c) => {
      c.auth.noAuth = false;
      c.auth.tokens = [TOKEN];
    },
  });
});
afterAll(async () => {
  await r.stop();
  await echo.close();
  uecho.close();
});

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function connect(url: string, version: 1 | 2): Promise<wisp.ClientConnection> {
  return new Promise((resolve, reject) => {
    const conn = new wisp.ClientConnection(url, { wisp_version: version });
    conn.onopen = () => resolve(conn);
    conn.onerror = () => reject(new Error("wisp-js could not connect"));
  });
}

describe("the token in every URL form a client sends", () => {
  const forms = [
    "/wisp/?token=T",
    "/wisp?token=T",
    "/wisp/?token=T&/",
    "/wisp?token=T&/",
    "/wisp/?token=T/",
    "/wisp/?a=1&token=T",
    "/wisp/?a=1&token=T&/",
  ];
  for (const form of forms) {
    it(`${form} opens`, async () => {
      const c = await TestWispClient.connect(`ws://${r.base}${form.replace("T", TOKEN)}`);
      expect(c.initialCredit).toBe(128);
      c.close();
    });
  }
  it("a wrong token is refused with 401 in each of them", async () => {
    for (const form of forms)
      await expect(TestWispClient.connect(`ws://${r.base}${form.replace("T", "wrong-token-xx")}`)).rejects.toThrow(
        "HTTP 401",
      );
  });
});

for (const version of [1, 2] as const) {
  describe(`wisp-js client (asks for v${version}) against the relay, token in the URL`, () => {
    const url = () => `ws://${r.base}/wisp/?token=${TOKEN}&/`;

    it("gets the v1 buffer announcement, with the token in either form wisp-js accepts", async () => {
      for (const u of [url(), `ws://${r.base}/wisp/?token=${TOKEN}/`]) {
        const conn = await connect(u, version);
        expect(conn.max_buffer_size).toBe(128);
        expect(conn.wisp_version).toBe(1); // our server speaks v1, and a v2 client falls back
        conn.close();
      }
    });

    it("is refused, not left hanging, with a wrong token", async () => {
      const t0 = performance.now();
      await expect(connect(`ws://${r.base}/wisp/?token=wrong-token-xx&/`, version)).rejects.toThrow();
      expect(performance.now() - t0).toBeLessThan(2000);
    });

    it("echoes 2 MB over TCP", async () => {
      const conn = await connect(url(), version);
      const data = randomBytes(2 << 20);
      const got: Uint8Array[] = [];
      let n = 0;
      const s = conn.create_stream("127.0.0.1", echo.port);
      const done = new Promise<void>((resolve, reject) => {
        s.onclose = (reason) => reject(new Error(`stream closed: ${reason}`));
        s.onmessage = (d) => {
          got.push(Uint8Array.from(d));
          n += d.length;
          if (n >= data.length) resolve();
        };
      });
      for (let off = 0; off < data.length; off += 32 * 1024) s.send(data.subarray(off, off + 32 * 1024));
      await done;
      expect(sha(Buffer.concat(got))).toBe(sha(data));
      conn.close();
    });

    it("echoes a UDP datagram", async () => {
      const conn = await connect(url(), version);
      const s = conn.create_stream("127.0.0.1", uecho.port, "udp");
      const got = new Promise<string>((resolve) => {
        s.onmessage = (d) => resolve(Buffer.from(d).toString());
      });
      const timer = setInterval(() => s.send(Buffer.from("ping")), 20); // until the relay's socket is up
      expect(await got).toBe("ping");
      clearInterval(timer);
      conn.close();
    });

    it("sees policy refusals as CLOSE 0x48 and remote ends as 0x02", async () => {
      const conn = await connect(url(), version);
      const denied = conn.create_stream("169.254.169.254", 80);
      expect(await new Promise((res) => (denied.onclose = res))).toBe(CLOSE_REASON_BLOCKED);
      // A server that answers once and hangs up: the relay must pass its data, then CLOSE 0x02.
      const srv = net.createServer((sock) => sock.once("data", (d) => sock.end(d)));
      srv.listen(0, "127.0.0.1");
      await once(srv, "listening");
      const s = conn.create_stream("127.0.0.1", (srv.address() as net.AddressInfo).port);
      let text = "";
      s.onmessage = (d) => {
        text += Buffer.from(d).toString();
      };
      const closed = new Promise((res) => (s.onclose = res));
      s.send(Buffer.from("bye"));
      expect(await closed).toBe(CLOSE_REASON_VOLUNTARY);
      expect(text).toBe("bye");
      srv.close();
      conn.close();
    });
  });
}

/**
 * wisp-js's server behind a token gate (query `?token=` or subprotocol `vireo-token.T`, else 401), as our relay
 * checks it. `mode` "silent" accepts the WebSocket and never says anything (a broken server).
 */
async function wispJsServer(
  connOptions: Record<string, unknown> = {},
  mode: "wisp" | "silent" = "wisp",
): Promise<{ base: string; server: Server; close(): Promise<void> }> {
  wispServer.options.allow_loopback_ips = true;
  wispServer.options.allow_private_ips = true;
  logging.set_level(logging.ERROR);
  const silent = new (await import("ws")).WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req: IncomingMessage, socket: net.Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://x");
    const protocols = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (url.searchParams.get("token") !== TOKEN && !protocols.includes(`vireo-token.${TOKEN}`)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    if (mode === "silent") silent.handleUpgrade(req, socket, head, () => {});
    else wispServer.routeRequest(req, socket, head, { ...connOptions });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    base: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise((res) => server.close(res));
    },
  };
}

const wsFactory = (url: string, protocols: string[]) => {
  const ws = new WebSocket(url, protocols);
  ws.on("error", () => {});
  return ws as unknown as WebSocketLike;
};

interface TcpProbe {
  opened: Promise<void>;
  error: Promise<UplinkError>;
  data: Uint8Array[];
  received: () => number;
}

function tcpProbe(up: WispUplink, host: string, port: number, payload?: Uint8Array): TcpProbe {
  const data: Uint8Array[] = [];
  let n = 0;
  let onOpen = () => {};
  let onError = (_e: UplinkError) => {};
  const opened = new Promise<void>((res) => (onOpen = res));
  const error = new Promise<UplinkError>((res) => (onError = res));
  const tcp = up.openTcp(host, port, {
    onOpen: () => onOpen(),
    onData: (d) => {
      data.push(d.slice());
      n += d.length;
    },
    onEnd: () => {},
    onError: (e) => onError(e),
    onDrain: () => {},
  });
  if (payload) tcp.write(payload);
  return { opened, error, data, received: () => n };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error("timed out");
    await new Promise((res) => setTimeout(res, 10));
  }
}

describe("our WispUplink against wisp-js's server, with a token", () => {
  const rows: { name: string; version: 1 | 2; token: "query" | "subprotocol" }[] = [
    { name: "v1, token in the URL", version: 1, token: "query" },
    // Any subprotocol makes wisp-js speak v2: the uplink must complete v2's handshake even when it did not ask.
    { name: "v1, token as a subprotocol (the server answers v2)", version: 1, token: "subprotocol" },
    { name: "v2, token as a subprotocol", version: 2, token: "subprotocol" },
    { name: "v2, token in the URL", version: 2, token: "query" },
  ];
  for (const row of rows) {
    it(`${row.name}: TCP echo of 1 MB and a UDP datagram`, async () => {
      const srv = await wispJsServer();
      const up = new WispUplink({
        url: `ws://${srv.base}/wisp/${row.token === "query" ? `?token=${TOKEN}&/` : ""}`,
        createSocket: wsFactory,
        wispVersion: row.version,
        protocols: row.token === "subprotocol" ? [`vireo-token.${TOKEN}`] : [],
      });
      try {
        const payload = randomBytes(1 << 20);
        const p = tcpProbe(up, "127.0.0.1", echo.port, payload);
        await p.opened;
        await until(() => p.received() >= payload.length, 10_000);
        expect(sha(Buffer.concat(p.data))).toBe(sha(payload));
        const got = new Promise<string>((res) => {
          const u = up.openUdp("127.0.0.1", uecho.port, {
            onMessage: (d) => res(Buffer.from(d).toString()),
            onError: (e) => res(`error:${e}`),
          });
          u.send(Buffer.from("ping"));
        });
        expect(await got).toBe("ping");
      } finally {
        up.close();
        await srv.close();
      }
    });
  }

  it("a wrong token (401): the stream fails within seconds, not after the reconnections", async () => {
    const srv = await wispJsServer();
    const up = new WispUplink({ url: `ws://${srv.base}/wisp/?token=nope-nope-nope&/`, createSocket: wsFactory });
    const t0 = performance.now();
    const p = tcpProbe(up, "127.0.0.1", echo.port);
    expect(await p.error).toBe("unreachable");
    expect(performance.now() - t0).toBeLessThan(2000);
    up.close();
    await srv.close();
  });

  it("a v2 server that requires a password we do not have: blocked, within seconds", async () => {
    const srv = await wispJsServer({
      wisp_extensions: [new extensions.PasswordAuthExtension({ server_config: { required: 1 } })],
    });
    const up = new WispUplink({
      url: `ws://${srv.base}/wisp/?token=${TOKEN}&/`,
      createSocket: wsFactory,
      wispVersion: 2,
    });
    const t0 = performance.now();
    const p = tcpProbe(up, "127.0.0.1", echo.port);
    expect(await p.error).toBe("blocked");
    expect(performance.now() - t0).toBeLessThan(2000);
    up.close();
    await srv.close();
  });

  it("a server that accepts the WebSocket and never speaks: unreachable after handshakeTimeoutMs", async () => {
    const srv = await wispJsServer({}, "silent");
    const up = new WispUplink({
      url: `ws://${srv.base}/wisp/?token=${TOKEN}&/`,
      createSocket: wsFactory,
      handshakeTimeoutMs: 1000,
    });
    const t0 = performance.now();
    const p = tcpProbe(up, "127.0.0.1", echo.port);
    expect(await p.error).toBe("unreachable");
    const took = performance.now() - t0;
    expect(took).toBeGreaterThan(900);
    expect(took).toBeLessThan(2500);
    up.close();
    await srv.close();
  });
});
