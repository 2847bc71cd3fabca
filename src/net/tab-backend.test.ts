import { afterEach, describe, expect, it } from "vitest";
import { MAC_A, MAC_B, tcp4Packet } from "../testing/net-packets.ts";
import { l4ChecksumValid } from "./offload/checksum-offload.ts";
import { GSO_NONE, GSO_TCPV4, type GsoInfo } from "./offload/gso.ts";
import { isTabNetworkName, randomTabMac, TabBackend, tabChannelName } from "./tab-backend.ts";
import { parseFrame } from "./wire/parse.ts";

const A = { ip: "10.0.3.1", port: 40000 };
const B = { ip: "10.0.3.2", port: 80 };

/** Real BroadcastChannels (Node ≥ 18): messages arrive asynchronously, so wait for them. */
function until(test: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (test()) resolve();
      else if (Date.now() > deadline) reject(new Error("timed out"));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

const open: TabBackend[] = [];
afterEach(() => {
  for (const b of open.splice(0)) b.close();
});

function port(mac: Uint8Array, network = "t1", accept = true) {
  const b = new TabBackend({ network, mac: () => mac });
  open.push(b);
  const got: Uint8Array[] = [];
  b.onReceive((f) => {
    if (!accept) return false;
    got.push(f);
    return true;
  });
  return { b, got };
}

function frameTo(dst: Uint8Array, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set([0x02, 0, 0, 0, 0, 9], 6);
  f[12] = 0x08;
  return f;
}

describe("TabBackend", () => {
  it("names the channel from the network and checks names", () => {
    expect(tabChannelName("lab")).toBe("vireo-l2-lab");
    expect(tabChannelName()).toBe("vireo-l2-default");
    expect(isTabNetworkName("a-b_1")).toBe(true);
    expect(isTabNetworkName("a/b")).toBe(false);
    expect(() => new TabBackend({ network: "../x", mac: () => MAC_A })).toThrow();
  });

  it("two ports on one channel exchange unicast and broadcast frames; link is up until close", async () => {
    const a = port(MAC_A);
    const b = port(MAC_B);
    expect(a.b.linkUp).toBe(true);
    const links: boolean[] = [];
    a.b.onLinkChange((up) => links.push(up));
    expect(a.b.transmit(frameTo(MAC_B, 64))).toBe(true);
    expect(a.b.transmit(frameTo(new Uint8Array([255, 255, 255, 255, 255, 255]), 42))).toBe(true);
    await until(() => b.got.length === 2);
    expect(b.got.map((f) => f.length)).toEqual([64, 42]);
    expect(b.got[0]!.subarray(0, 6)).toEqual(MAC_B);
    expect(a.got).toEqual([]); // no echo of our own frames
    expect(b.b.transmit(frameTo(MAC_A, 100))).toBe(true);
    await until(() => a.got.length === 1);
    expect(a.b.counters.txFrames).toBe(2);
    expect(a.b.counters.rxFrames).toBe(1);
    expect(b.b.counters.rxBytes).toBe(106);
    a.b.close();
    expect(a.b.linkUp).toBe(false);
    expect(links).toEqual([false]);
    expect(a.b.transmit(frameTo(MAC_B))).toBe(true);
    expect(a.b.counters.txDropped.get("link-down")).toBe(1);
  });

  it("drops unicast frames for other MACs (a shared medium), keeps multicast", async () => {
    const a = port(MAC_A);
    const b = port(MAC_B);
    const c = port(randomTabMac());
    a.b.transmit(frameTo(MAC_B));
    a.b.transmit(frameTo(new Uint8Array([0x33, 0x33, 0, 0, 0, 1])));
    await until(() => b.got.length === 2 && c.got.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.got.length).toBe(1);
    expect(c.b.counters.rxDropped.get("not-for-us")).toBe(1);
  });

  it("keeps separate networks apart", async () => {
    const a = port(MAC_A, "n1");
    const b = port(MAC_B, "n2");
    const b1 = port(MAC_B, "n1");
    a.b.transmit(frameTo(MAC_B));
    await until(() => b1.got.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(b.got.length).toBe(0);
  });

  it("splits superpackets and completes partial checksums before they go on the channel", async () => {
    const a = port(MAC_A);
    const b = port(MAC_B);
    const sp = tcp4Packet(A, B, 0, 4000, 1000, { partialChecksum: true });
    const gso: GsoInfo = { type: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 };
    a.b.transmit(sp, gso);
    const one = tcp4Packet(A, B, 0, 100, 1, { partialChecksum: true });
    a.b.transmit(one, { type: GSO_NONE, gsoSize: 0, hdrLen: 0, needsCsum: true, csumStart: 34, csumOffset: 16 });
    await until(() => b.got.length === 4);
    expect(b.got.map((f) => f.length)).toEqual([54 + 1448, 54 + 1448, 54 + 1104, 54 + 100]);
    for (const f of b.got) {
      const p = parseFrame(f);
      expect(p.ok && l4ChecksumValid(f, p.layout)).toBe(true);
    }
    expect(a.b.counters.gsoSplits).toBe(1);
    expect(a.b.counters.gsoSplitFrames).toBe(3);
    expect(a.b.counters.checksumsCompleted).toBe(1);
  });

  it("holds refused frames in a bounded queue until resumeReceive", async () => {
    const a = port(MAC_A);
    const b = new TabBackend({ network: "t1", mac: () => MAC_B, receiveQueueBytes: 200 });
    open.push(b);
    let room = false;
    const got: Uint8Array[] = [];
    b.onReceive((f) => {
      if (!room) return false;
      got.push(f);
      return true;
    });
    for (let i = 0; i < 5; i++) a.b.transmit(frameTo(MAC_B, 60));
    await until(() => b.counters.rxFrames === 5);
    expect(b.queued).toBe(3);
    expect(b.counters.rxDropped.get("rx-queue-full")).toBe(2);
    room = true;
    b.resumeReceive();
    expect(got.length).toBe(3);
    expect(b.queued).toBe(0);
  });

  it("drops runts, oversized frames and non-binary messages", async () => {
    const a = port(MAC_A);
    a.b.transmit(new Uint8Array(10));
    a.b.transmit(frameTo(MAC_B, 2000));
    expect(a.b.counters.txDropped.get("runt")).toBe(1);
    expect(a.b.counters.txDropped.get("too-large")).toBe(1);
    const b = port(MAC_B);
    const raw = new BroadcastChannel("vireo-l2-t1");
    raw.postMessage("hello");
    await until(() => b.b.counters.rxDropped.get("not-binary") === 1);
    raw.close();
  });

  it("randomTabMac is locally administered unicast", () => {
    const m = randomTabMac();
    expect(m[0]! & 3).toBe(2);
  });
});
