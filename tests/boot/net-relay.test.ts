// Linux behind `--net relay` (issue 7's acceptance test): the guest's Ethernet frames go over a WebSocket
// to the relay's L2 switch, whose gateway (our stack with the relay's policy as its uplink) gives DHCP
// and carries TCP to 10.0.2.2:PORT → 127.0.0.1:PORT, which the relay allows here with --allow 127.0.0.1.
// The relay runs in this process (the same Relay and gateway main.ts wires); each guest is a child vm.

import { createHash, randomBytes } from "node:crypto";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachGateway } from "../../src/relay/l2/gateway.ts";
import { type StartedRelay, startRelay } from "../relay/wisp-test-client.ts";
import { listenHashSink, runVm, type VmResult } from "./host-side.ts";

function vm(args: string[], timeoutSec = 90): Promise<VmResult> {
  return runVm("relay", args, timeoutSec);
}

const DHCP = "udhcpc -i eth0 -n -q -t 10 >/dev/null 2>&1";

let relay: StartedRelay;
let http: Server;
let httpPort: number;
const body = randomBytes(3 * 1024 * 1024 + 12345);

beforeAll(async () => {
  relay = await startRelay({ allow: ["127.0.0.1"], deps: { l2Gateway: attachGateway } });
  http = createHttpServer((_req, res) => {
    res.writeHead(200, { "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  httpPort = (http.address() as AddressInfo).port;
});

afterAll(async () => {
  http?.close();
  await relay?.stop();
});

describe("Linux with --net relay (Node, ws)", () => {
  it("gets a lease from the network's gateway and downloads a file with the right sha256", async () => {
    const url = `ws://${relay.base}/l2/t1`;
    const cmd = `${DHCP}; ip -4 addr show eth0; ip route; wget -q -O /tmp/f http://10.0.2.2:${httpPort}/f; sha256sum /tmp/f`;
    const r = await vm(["--relay", url, "--exec", cmd]);
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain("inet 10.0.2.15/24");
    expect(r.out).toContain("default via 10.0.2.2");
    expect(r.out).toContain(`${createHash("sha256").update(body).digest("hex")}  /tmp/f`);
    // Everything crossed the switch as plain frames: nothing over the 1518-byte limit was dropped.
    expect(relay.relay.metrics.get("relay_frames_dropped_total", { reason: "too-large" })).toBe(0);
    expect(relay.logs.some((l) => l.event === "l2.join" && l.fields?.network === "t1")).toBe(true);
  }, 60_000);

  it("an upload from the guest (TSO superpackets, split before the wire) arrives whole", async () => {
    const sink = await listenHashSink();
    const port = sink.port;
    const cmd = `${DHCP}; dd if=/dev/urandom of=/tmp/up bs=1024 count=2048 2>/dev/null; sha256sum /tmp/up; nc 10.0.2.2 ${port} < /tmp/up`;
    const r = await vm(["--relay", `ws://${relay.base}/l2/t3`, "--exec", cmd]);
    sink.close();
    expect(r.status, r.out + r.err).toBe(0);
    expect(sink.bytes).toBe(2 * 1024 * 1024);
    expect(r.out).toContain(sink.digest);
  }, 60_000);

  it("two guests on one network ping each other", async () => {
    const url = `ws://${relay.base}/l2/t2`;
    // Whoever leases first is .15, the other .16; each pings the other, then stays up a little so the
    // slower one still gets its replies.
    const cmd =
      `${DHCP}; if ip -4 addr show eth0 | grep -q 'inet 10.0.2.15/'; then p=10.0.2.16; else p=10.0.2.15; fi; ` +
      "ping -c 3 -w 30 $p; sleep 3";
    const [a, b] = await Promise.all([
      vm(["--relay", url, "--mac", "52:54:00:00:00:a1", "--exec", cmd]),
      vm(["--relay", url, "--mac", "52:54:00:00:00:b2", "--exec", cmd]),
    ]);
    for (const r of [a, b]) {
      expect(r.status, r.out + r.err).toBe(0);
      expect(r.out).toMatch(/3 packets received/);
    }
  }, 60_000);
});
