// WispUplink against Wisp servers: @mercuryworkshop/wisp-js's (an implementation we did not write) and
// our relay's, both with a token required (wisp-js behind a gate that checks it as our relay does), the uplink
// offering Wisp v1 or v2 and sending its token in the URL or as a subprotocol. A scripted guest behind the
// NetStack downloads through each, checks the bytes, gets a refusal as RST, and round-trips UDP.

import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { type AddressInfo, createServer, type Server } from "node:net";
import { logging, server as wispServer } from "@mercuryworkshop/wisp-js/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { GATEWAY_ADDR } from "../../src/net/stack/config.ts";
import { GuestWorld } from "../../src/net/stack/guest-harness.ts";
import { type WebSocketLike, WispUplink } from "../../src/net/uplink/wisp-uplink.ts";
import { type StartedRelay, startRelay } from "../relay/wisp-test-client.ts";

async function until(w: GuestWorld, done: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error("timed out");
    w.flush();
    if (done()) return;
    await new Promise((r) => setTimeout(r, 1));
    w.clock.ms += 1;
    w.stack.runTimers();
  }
}

const body = new Uint8Array(2 * 1024 * 1024);
for (let i = 0; i < body.length; i++) body[i] = (Math.imul(i, 2654435761) >>> 23) & 0xff;
const bodySha = createHash("sha256").update(body).digest("hex");

let tcp: Server;
let tcpPort: number;
let udp: ReturnType<typeof createSocket>;
let closedPort: number;

beforeAll(async () => {
  tcp = createServer((s) => {
    s.once("data", (d) => {
      if (d.toString().startsWith("GET")) s.end(body);
      else {
        s.write(d);
        s.pipe(s);
      }
    });
    s.on("error", () => {});
  });
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  tcpPort = (tcp.address() as AddressInfo).port;
  udp = createSocket("udp4");
  udp.on("message", (m, r) => udp.send(Buffer.concat([Buffer.from("re:"), m]), r.port, r.address));
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
});

afterAll(() => {
  tcp.close();
  udp.close();
});

const TOKEN = "interop-token-0123";

interface Way {
  version: 1 | 2;
  token: "query" | "subprotocol";
}

function suite(name: string, way: Way, start: () => Promise<{ url: string; stop(): Promise<void> | void }>) {
  describe(`WispUplink (v${way.version}, token as ${way.token}) ↔ ${name}`, () => {
    let url = "";
    let stop: () => Promise<void> | void = () => {};
    const uplinks: WispUplink[] = [];
    beforeAll(async () => {
      ({ url, stop } = await start());
    });
    afterAll(async () => {
      for (const u of uplinks) u.close();
      await stop();
    });
    const world = () => {
      const up = new WispUplink({
        url: way.token === "query" ? `${url}?token=${TOKEN}&/` : url,
        createSocket: (u, protocols) => new WebSocket(u, protocols) as unknown as WebSocketLike,
        wispVersion: way.version,
        protocols: way.token === "subprotocol" ? [`vireo-token.${TOKEN}`] : [],
      });
      uplinks.push(up);
      return new GuestWorld({ uplink: up });
    };

    it("a guest download through the Wisp stream arrives intact", async () => {
      const w = world();
      const t = w.connect(GATEWAY_ADDR, tcpPort, 42000);
      await until(w, () => t.established);
      t.ep.write(new TextEncoder().encode("GET /\r\n"));
      await until(w, () => t.bytes >= body.length);
      const h = createHash("sha256");
      for (const d of t.data) h.update(d);
      expect(h.digest("hex")).toBe(bodySha);
    });

    it("guest data reaches the remote under CONTINUE credits (echo of 1 MiB)", async () => {
      const w = world();
      const t = w.connect(GATEWAY_ADDR, tcpPort, 42001);
      await until(w, () => t.established);
      const msg = body.subarray(0, 1024 * 1024);
      t.ep.write(msg.slice(0, 200_000));
      await until(w, () => t.bytes >= 200_000);
      t.ep.write(msg.slice(200_000));
      await until(w, () => t.bytes >= msg.length);
      const h = createHash("sha256");
      for (const d of t.data) h.update(d);
      expect(h.digest("hex")).toBe(createHash("sha256").update(msg).digest("hex"));
    });

    it("a refused destination reaches the guest as a refusal", async () => {
      const w = world();
      const t = w.connect(GATEWAY_ADDR, closedPort, 42002);
      await until(w, () => t.closed !== undefined || w.received.length > 0);
      expect(t.established).toBe(false);
      // The guest's connect fails as "connection refused" (RST|ACK to its SYN), not with an ICMP error.
      expect(t.closed).toBe("refused");
      expect(w.received).toEqual([]);
    });

    it("UDP round trip", async () => {
      const w = world();
      await until(w, () => true);
      // Like a real UDP client, resend until answered: a server may drop a datagram that arrives
      // before its socket is ready (our relay does, for DATA right after CONNECT).
      for (let i = 0; i < 20 && w.received.length === 0; i++) {
        w.send(w.udp(GATEWAY_ADDR, 5555, udp.address().port, new TextEncoder().encode("hi")));
        await until(w, () => w.received.length > 0, 250).catch(() => {});
      }
      expect(new TextDecoder().decode(w.received[0]!.frame.subarray(42))).toBe("re:hi");
      w.stack.udp.closeAll();
    });
  });
}

const WAYS: Way[] = [
  { version: 1, token: "query" },
  { version: 2, token: "subprotocol" },
  { version: 1, token: "subprotocol" },
];

for (const way of WAYS) {
  suite("@mercuryworkshop/wisp-js server", way, async () => {
    logging.set_level(logging.NONE);
    wispServer.options.allow_loopback_ips = true;
    wispServer.options.allow_private_ips = true;
    const http: HttpServer = createHttpServer((_q, r) => r.end());
    // wisp-js has no tokens of its own: a gate in front checks ours (query or subprotocol), as the relay does.
    http.on("upgrade", (req, socket, head) => {
      const query = new URL(req.url ?? "/", "http://x").searchParams.get("token");
      const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
      if (query !== TOKEN && !offered.includes(`vireo-token.${TOKEN}`)) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      wispServer.routeRequest(req, socket, head);
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const port = (http.address() as AddressInfo).port;
    return {
      url: `ws://127.0.0.1:${port}/wisp/`,
      stop: () => {
        http.closeAllConnections();
        http.close();
      },
    };
  });

  suite("the vireo relay", way, async () => {
    const r: StartedRelay = await startRelay({
      allow: ["127.0.0.0/8"],
      tune: (c) => {
        c.auth.noAuth = false;
        c.auth.tokens = [TOKEN];
      },
    });
    return { url: r.url, stop: () => r.stop() };
  });
}
