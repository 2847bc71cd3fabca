// Interop with a Wisp implementation we did not write: @mercuryworkshop/wisp-js's client against our
// server, over 127.0.0.1 only.

import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import * as net from "node:net";
import { client as wisp } from "@mercuryworkshop/wisp-js/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_REASON_BLOCKED, CLOSE_REASON_VOLUNTARY } from "../../src/relay/wisp/packet.ts";
import { type StartedRelay, startRelay, tcpEchoServer, udpEchoServer } from "./wisp-test-client.ts";

let r: StartedRelay;
let echo: Awaited<ReturnType<typeof tcpEchoServer>>;
let uecho: Awaited<ReturnType<typeof udpEchoServer>>;

beforeAll(async () => {
  echo = await tcpEchoServer();
  uecho = await udpEchoServer();
  r = await startRelay({ allow: ["127.0.0.1"] });
});
afterAll(async () => {
  await r.stop();
  await echo.close();
  uecho.close();
});

function connect(version: 1 | 2): Promise<wisp.ClientConnection> {
  return new Promise((resolve, reject) => {
    const conn = new wisp.ClientConnection(r.url, { wisp_version: version });
    conn.onopen = () => resolve(conn);
    conn.onerror = () => reject(new Error("wisp-js could not connect"));
  });
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

for (const version of [1, 2] as const) {
  describe(`wisp-js client (asks for v${version})`, () => {
    it("gets the v1 buffer announcement", async () => {
      const conn = await connect(version);
      expect(conn.max_buffer_size).toBe(128);
      expect(conn.wisp_version).toBe(1); // our server speaks v1, and a v2 client falls back
      conn.close();
    });

    it("echoes 2 MB over TCP", async () => {
      const conn = await connect(version);
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
      const conn = await connect(version);
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
      const conn = await connect(version);
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
