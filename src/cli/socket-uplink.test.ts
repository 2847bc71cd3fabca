import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { type AddressInfo, connect, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { GATEWAY_ADDR } from "../net/stack/config.ts";
import { GuestWorld } from "../net/stack/guest-harness.ts";
import { listenForward, parseForwardSpec, SocketUplink } from "./socket-uplink.ts";

/** Pumps the in-process guest world while real sockets do their work. */
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

describe("SocketUplink", () => {
  it("a guest download from 127.0.0.1 reached as 10.0.2.2:PORT arrives intact", async () => {
    const body = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;
    const server = createServer((s) => s.end(body));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const w = new GuestWorld({ uplink: new SocketUplink() });
    const t = w.connect(GATEWAY_ADDR, port, 41000);
    await until(w, () => t.peerFin);
    const h = createHash("sha256");
    for (const d of t.data) h.update(d);
    expect(t.bytes).toBe(body.length);
    expect(h.digest("hex")).toBe(createHash("sha256").update(body).digest("hex"));
    t.ep.shutdown();
    await until(w, () => t.closed !== undefined);
    expect(t.closed).toBe("normal");
    server.close();
  });

  it("a refused connection reaches the guest as RST", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const w = new GuestWorld({ uplink: new SocketUplink() });
    const t = w.connect(GATEWAY_ADDR, port, 41001);
    await until(w, () => t.closed !== undefined);
    expect(t.closed).toBe("refused");
  });

  it("a blocked destination becomes ICMP administratively prohibited", async () => {
    const w = new GuestWorld({ uplink: new SocketUplink(() => false) });
    const t = w.connect(0x01020304, 80, 41002);
    await until(w, () => w.received.length > 0);
    const f = w.received[0]!.frame;
    expect(f[34]).toBe(3);
    expect(f[35]).toBe(13);
    expect(t.established).toBe(false);
  });

  it("UDP round trip to a datagram server on the host", async () => {
    const s = createSocket("udp4");
    s.on("message", (m, r) => s.send(Buffer.concat([Buffer.from("re:"), m]), r.port, r.address));
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
    const w = new GuestWorld({ uplink: new SocketUplink() });
    w.send(w.udp(GATEWAY_ADDR, 5555, s.address().port, new TextEncoder().encode("hi")));
    await until(w, () => w.received.length > 0);
    expect(new TextDecoder().decode(w.received[0]!.frame.subarray(42))).toBe("re:hi");
    w.stack.udp.closeAll();
    s.close();
  });

  it("--forward carries a host connection into a guest listener", async () => {
    expect(parseForwardSpec("tcp:8080:80")).toEqual({ proto: "tcp", hostPort: 8080, guestPort: 80 });
    expect(parseForwardSpec("udp:1:2")).toBeUndefined();
    expect(parseForwardSpec("tcp:0:80")).toBeUndefined();
    const w = new GuestWorld({ uplink: new SocketUplink() });
    const l = w.listen(80);
    const server = await listenForward(w.stack, { proto: "tcp", hostPort: 0, guestPort: 80 });
    const port = (server.address() as AddressInfo).port;
    const c = connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    c.on("data", (d: Buffer) => got.push(d));
    c.write("ping");
    await until(w, () => (l.accepted?.bytes ?? 0) >= 4);
    expect(new TextDecoder().decode(l.accepted!.data[0])).toBe("ping");
    l.accepted!.ep.write(new TextEncoder().encode("pong"));
    await until(w, () => got.length > 0);
    expect(Buffer.concat(got as Uint8Array[]).toString()).toBe("pong");
    c.destroy();
    server.close();
  });
});
