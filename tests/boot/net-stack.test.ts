// Linux on the vireo hart with the built-in network stack behind virtio-net (`--net stack`): the
// guest's own tools (udhcpc, ping, nslookup, wget, nc) against servers this test runs on 127.0.0.1,
// reached through the gateway as QEMU user networking does (10.0.2.2:PORT → 127.0.0.1:PORT).

import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, connect, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { listenHashSink, runVm, type VmResult } from "./host-side.ts";

function vm(args: string[], timeoutSec = 150): Promise<VmResult> {
  return runVm("stack", args, timeoutSec);
}

const DHCP = "udhcpc -i eth0 -n -q -t 5 >/dev/null 2>&1";

describe("Linux with --net stack (Node)", () => {
  it("udhcpc gets 10.0.2.15 with the gateway as router; ping 10.0.2.2 answers", async () => {
    const r = await vm(["--exec", `${DHCP}; ip -4 addr show eth0; ip route; ping -c 3 10.0.2.2`]);
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain("inet 10.0.2.15/24");
    expect(r.out).toContain("default via 10.0.2.2");
    expect(r.out).toContain("3 packets transmitted, 3 packets received");
  }, 200_000);

  it("wget of 64 MiB from an HTTP server on the host's 127.0.0.1 arrives with the right sha256", async () => {
    const body = new Uint8Array(64 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-length": body.length });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    // sha256sum of 64 MiB is ~2 G guest instructions: most of this test's time is the hash, not the network.
    const r = await vm(["--exec", `${DHCP}; wget -q -O - http://10.0.2.2:${port}/blob | sha256sum`], 400);
    server.close();
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain(createHash("sha256").update(body).digest("hex"));
  }, 450_000);

  it("an upload from the guest (TSO superpackets toward the stack) arrives whole", async () => {
    const sink = await listenHashSink();
    const port = sink.port;
    const cmd = `${DHCP}; dd if=/dev/urandom of=/tmp/up bs=1024 count=4096 2>/dev/null; sha256sum /tmp/up; nc 10.0.2.2 ${port} < /tmp/up`;
    const r = await vm(["--exec", cmd]);
    sink.close();
    expect(r.status, r.out + r.err).toBe(0);
    expect(sink.bytes).toBe(4 * 1024 * 1024);
    expect(r.out).toContain(sink.digest);
  }, 200_000);

  it("IPv6: SLAAC in fd00::/64 from the gateway's RA, ping fd00::2, wget of 64 MiB over IPv6 with the right sha256", async () => {
    const body = new Uint8Array(64 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (Math.imul(i + 7, 2246822519) >>> 24) & 0xff;
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-length": body.length });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const cmd = `ip link set eth0 up; sleep 3; ip -6 addr show eth0; ip -6 route; ping -c 2 fd00::2; wget -q -O - 'http://[fd00::2]:${port}/' | sha256sum`;
    const r = await vm(["--exec", cmd], 400);
    server.close();
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/inet6 fd00::[0-9a-f:]+\/64 scope global/);
    expect(r.out).toContain("default via fe80::2");
    expect(r.out).toContain("2 packets transmitted, 2 packets received");
    expect(r.out).toContain(createHash("sha256").update(body).digest("hex"));
  }, 450_000);

  it("nslookup through 10.0.2.3 reaches the DNS server given with --dns", async () => {
    const dns = createSocket("udp4");
    dns.on("message", (q, rinfo) => {
      // Answer every A query with 192.0.2.77: header (id copied, QR|RD|RA), the question, one record.
      let i = 12;
      while (i < q.length && q[i] !== 0) i += q[i]! + 1;
      const qend = i + 5;
      const qtype = q.readUInt16BE(i + 1);
      const ans = qtype === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 77]) : Buffer.alloc(0);
      const h = Buffer.from(q.subarray(0, 12));
      h.writeUInt16BE(0x8180, 2);
      h.writeUInt16BE(qtype === 1 ? 1 : 0, 6);
      h.writeUInt16BE(0, 8);
      h.writeUInt16BE(0, 10);
      dns.send(Buffer.concat([h, q.subarray(12, qend), ans]), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => dns.bind(0, "127.0.0.1", r));
    const r = await vm(["--dns", `127.0.0.1:${dns.address().port}`, "--exec", `${DHCP}; nslookup vireo.test`]);
    dns.close();
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain("192.0.2.77");
  }, 200_000);

  it("--forward tcp:HOSTPORT:GUESTPORT reaches a guest nc -l", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const hostPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const run = vm(["--forward", `tcp:${hostPort}:8080`, "--exec", `${DHCP}; echo hello-from-guest | nc -l -p 8080`]);
    // Keep trying until the guest has booted and nc listens (a refused or reset try just repeats).
    let got = "";
    for (let i = 0; i < 300 && !got.includes("hello-from-guest"); i++) {
      got = await new Promise<string>((resolve) => {
        const c = connect(hostPort, "127.0.0.1");
        let data = "";
        c.on("data", (d: Buffer) => {
          data += d.toString();
        });
        c.on("error", () => resolve(""));
        c.on("close", () => resolve(data));
        c.write("hi\n");
        setTimeout(() => c.destroy(), 3000);
      });
      if (!got.includes("hello-from-guest")) await new Promise((r) => setTimeout(r, 300));
    }
    const r = await run;
    expect(got).toContain("hello-from-guest");
    expect(r.status, r.out + r.err).toBe(0);
  }, 200_000);
});
