import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { tcp4Packet } from "../testing/net-packets.ts";
import { l4ChecksumValid } from "./offload/checksum-offload.ts";
import { GSO_NONE, GSO_TCPV4, type GsoInfo } from "./offload/gso.ts";
import { RelayBackend, type RelayBackendOptions, type RelaySocket, relayL2Url } from "./relay-backend.ts";
import { parseFrame } from "./wire/parse.ts";

const A = { ip: "10.0.2.15", port: 40000 };
const B = { ip: "10.0.2.2", port: 80 };

/** A socket the test opens, feeds and closes by hand; bufferedAmount is settable. */
class FakeSocket implements RelaySocket {
  binaryType = "blob";
  readyState = 0;
  bufferedAmount = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly sent: Uint8Array[] = [];
  closedWith: number | undefined;
  send(data: Uint8Array): void {
    this.sent.push(data.slice());
  }
  close(code?: number): void {
    this.closedWith = code ?? 1005;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  message(data: unknown): void {
    this.onmessage?.({ data });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }
}

function setup(o: Partial<RelayBackendOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const b = new RelayBackend({
    connect: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    ...o,
  });
  const links: boolean[] = [];
  b.onLinkChange((up) => links.push(up));
  return { b, sockets, links };
}

function frame(len: number): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(0xaa, 0, 6);
  f.fill(0x52, 6, 12);
  f[12] = 0x08;
  for (let i = 14; i < len; i++) f[i] = i & 0xff;
  return f;
}

describe("RelayBackend", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("advertises no offloads and brings the link up only when the socket opens", () => {
    const { b, sockets, links } = setup();
    expect(b.capabilities).toEqual({ csum: false, tso4: false, tso6: false, uso: false });
    expect(b.linkUp).toBe(false);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.binaryType).toBe("arraybuffer");
    expect(b.transmit(frame(60))).toBe(true);
    expect(b.counters.txDropped.get("link-down")).toBe(1);
    sockets[0]!.open();
    expect(b.linkUp).toBe(true);
    expect(links).toEqual([true]);
    expect(b.status).toBe("open");
  });

  it("sends one binary message per frame and delivers received frames", () => {
    const { b, sockets } = setup();
    const got: Uint8Array[] = [];
    b.onReceive((f) => {
      got.push(f);
      return true;
    });
    sockets[0]!.open();
    const f = frame(100);
    expect(b.transmit(f)).toBe(true);
    expect(sockets[0]!.sent).toEqual([f]);
    expect(b.counters.txFrames).toBe(1);
    expect(b.counters.txBytes).toBe(100);
    const inbound = frame(80);
    sockets[0]!.message(inbound.buffer.slice(0));
    sockets[0]!.message(Uint8Array.from(frame(70))); // ws delivers Buffers unless told otherwise
    expect(got.map((g) => g.length)).toEqual([80, 70]);
    expect(got[0]).toEqual(inbound);
    expect(b.counters.rxFrames).toBe(2);
  });

  it("enforces the frame size limit both ways and refuses text", () => {
    const { b, sockets } = setup({ maxFrameBytes: 1518 });
    b.onReceive(() => true);
    sockets[0]!.open();
    b.transmit(frame(1519));
    b.transmit(frame(10));
    expect(sockets[0]!.sent).toHaveLength(0);
    expect(b.counters.txDropped.get("too-large")).toBe(1);
    expect(b.counters.txDropped.get("runt")).toBe(1);
    sockets[0]!.message(frame(2000).buffer);
    sockets[0]!.message(new ArrayBuffer(5));
    sockets[0]!.message("hello");
    expect(b.counters.rxDropped.get("too-large")).toBe(1);
    expect(b.counters.rxDropped.get("runt")).toBe(1);
    expect(b.counters.rxDropped.get("not-binary")).toBe(1);
    expect(b.counters.rxFrames).toBe(0);
  });

  it("splits a TSO superpacket into wire frames with valid checksums", () => {
    const { b, sockets } = setup();
    sockets[0]!.open();
    const sp = tcp4Packet(A, B, 0, 4000, 1000, { partialChecksum: true });
    const gso: GsoInfo = { type: GSO_TCPV4, gsoSize: 1448, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 };
    expect(b.transmit(sp, gso)).toBe(true);
    const sent = sockets[0]!.sent;
    expect(sent.map((s) => s.length)).toEqual([54 + 1448, 54 + 1448, 54 + 1104]);
    for (const s of sent) {
      const p = parseFrame(s);
      expect(p.ok).toBe(true);
      if (p.ok) expect(l4ChecksumValid(s, p.layout)).toBe(true);
    }
    expect(b.counters.gsoSplits).toBe(1);
    expect(b.counters.gsoSplitFrames).toBe(3);
  });

  it("completes a partial checksum on a single frame", () => {
    const { b, sockets } = setup();
    sockets[0]!.open();
    const f = tcp4Packet(A, B, 0, 100, 1, { partialChecksum: true });
    b.transmit(f, { type: GSO_NONE, gsoSize: 0, hdrLen: 0, needsCsum: true, csumStart: 34, csumOffset: 16 });
    const s = sockets[0]!.sent[0]!;
    const p = parseFrame(s);
    expect(p.ok && l4ChecksumValid(s, p.layout)).toBe(true);
    expect(b.counters.checksumsCompleted).toBe(1);
  });

  it("queues behind a full socket, refuses when the queue is full, and wakes the writer when it drains", () => {
    const { b, sockets } = setup({ socketHighWater: 1000, sendQueueBytes: 3000 });
    const s = sockets[0]!;
    s.open();
    let woken = 0;
    b.onWritable(() => woken++);
    s.bufferedAmount = 5000; // the socket is backed up
    let accepted = 0;
    while (b.transmit(frame(1000))) accepted++;
    expect(accepted).toBe(3);
    expect(s.sent).toHaveLength(0);
    expect(b.counters.txBackpressure).toBe(1);
    expect(b.queued.send).toBe(3);
    vi.advanceTimersByTime(10);
    expect(woken).toBe(0); // still backed up: keep polling, nothing sent
    s.bufferedAmount = 0;
    vi.advanceTimersByTime(10);
    expect(s.sent).toHaveLength(3); // under the mark at each check: the fake's buffer never grows
    expect(b.queued.send).toBe(0);
    expect(woken).toBe(1);
    expect(b.transmit(frame(1000))).toBe(true);
  });

  it("holds refused received frames (bounded) until resumeReceive", () => {
    const { b, sockets } = setup({ receiveQueueBytes: 250 });
    let room = false;
    const got: number[] = [];
    b.onReceive((f) => {
      if (!room) return false;
      got.push(f.length);
      return true;
    });
    sockets[0]!.open();
    for (const n of [100, 101, 102]) sockets[0]!.message(frame(n).buffer);
    expect(b.queued.receive).toBe(2);
    expect(b.counters.rxDropped.get("rx-queue-full")).toBe(1);
    room = true;
    b.resumeReceive();
    expect(got).toEqual([100, 101]);
    expect(b.queued.receive).toBe(0);
  });

  it("takes the link down on disconnect, drops queued frames, and reconnects with backoff", () => {
    const { b, sockets, links } = setup({ initialBackoffMs: 100, maxBackoffMs: 400, socketHighWater: 0 });
    let woken = 0;
    b.onWritable(() => woken++);
    sockets[0]!.open();
    b.transmit(frame(60)); // socket "full" at 0 bytes: stays queued
    expect(b.queued.send).toBe(1);
    sockets[0]!.drop();
    expect(b.linkUp).toBe(false);
    expect(b.status).toBe("waiting");
    expect(b.lastError).toContain("1006");
    expect(b.counters.txDropped.get("disconnected")).toBe(1);
    expect(b.queued.send).toBe(0);
    // Attempts at ~100, ~200, ~400, ~400 ms (±20% jitter), each failing before it opens.
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(2);
    sockets[1]!.drop();
    vi.advanceTimersByTime(150);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(50);
    expect(sockets).toHaveLength(3);
    sockets[2]!.drop();
    vi.advanceTimersByTime(400);
    expect(sockets).toHaveLength(4);
    sockets[3]!.drop();
    vi.advanceTimersByTime(400);
    expect(sockets).toHaveLength(5);
    sockets[4]!.open();
    expect(b.linkUp).toBe(true);
    expect(links).toEqual([true, false, true]);
    expect(b.counters.connects).toBe(2);
    expect(b.counters.disconnects).toBe(1);
    // Events from an abandoned socket are ignored.
    sockets[0]!.message(frame(60).buffer);
    expect(b.counters.rxFrames).toBe(0);
    // Backoff restarts after a successful open.
    sockets[4]!.drop();
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(6);
    expect(woken).toBe(0);
  });

  it("gives up on a socket that never opens and tries again", () => {
    const { sockets } = setup({ connectTimeoutMs: 1000, initialBackoffMs: 100 });
    vi.advanceTimersByTime(1000);
    expect(sockets[0]!.closedWith).toBeDefined();
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(2);
  });

  it("retries when the socket cannot even be made", () => {
    let n = 0;
    const s = new FakeSocket();
    const b = new RelayBackend({
      connect: () => {
        if (n++ === 0) throw new Error("bad url");
        return s;
      },
      initialBackoffMs: 50,
    });
    expect(b.lastError).toContain("bad url");
    vi.advanceTimersByTime(50);
    s.open();
    expect(b.linkUp).toBe(true);
    b.close();
  });

  it("close() closes the socket, stops reconnecting and takes the link down", () => {
    const { b, sockets, links } = setup({ initialBackoffMs: 10 });
    sockets[0]!.open();
    b.close();
    expect(sockets[0]!.closedWith).toBe(1000);
    expect(b.linkUp).toBe(false);
    expect(b.status).toBe("closed");
    expect(links).toEqual([true, false]);
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(1);
    expect(b.transmit(frame(60))).toBe(true);
  });
});

describe("relayL2Url", () => {
  it("turns the relay's Wisp URL into its L2 URL, keeping the token", () => {
    expect(relayL2Url("ws://127.0.0.1:8787/wisp/")).toBe("ws://127.0.0.1:8787/l2/default");
    expect(relayL2Url("wss://r.example/wisp/?token=abc", "lab")).toBe("wss://r.example/l2/lab?token=abc");
    expect(relayL2Url("ws://127.0.0.1:8787/l2/mine")).toBe("ws://127.0.0.1:8787/l2/mine");
    expect(relayL2Url("http://127.0.0.1:8787/wisp/")).toBeUndefined();
    expect(relayL2Url("not a url")).toBeUndefined();
  });
});

describe("a relay that drops: the guest's TCP connections", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("each gets a RST from the gateway's side (at what the guest acked and at the gateway's end), before the link goes down", () => {
    const { b, sockets } = setup();
    const got: { f: Uint8Array; up: boolean }[] = [];
    b.onReceive((f) => {
      got.push({ f: f.slice(), up: b.linkUp });
      return true;
    });
    sockets[0]!.open();
    b.transmit(tcp4Packet(A, B, 0, 100, 5000, { ack: 9000 }));
    // The gateway sent 200 bytes the guest has not acknowledged yet.
    sockets[0]!.message(tcp4Packet(B, A, 0, 200, 9000, { ack: 5100 }).buffer);
    expect(got).toHaveLength(1);
    sockets[0]!.drop();
    const rsts = got.slice(1);
    expect(rsts).toHaveLength(2);
    const seen = rsts.map(({ f, up }) => {
      const p = parseFrame(f);
      if (!p.ok) throw new Error(p.reason);
      const t = p.layout.l4Off;
      const dv = new DataView(f.buffer, f.byteOffset);
      expect(l4ChecksumValid(f, p.layout)).toBe(true);
      expect(up).toBe(true); // delivered while the device still takes frames
      return [dv.getUint16(t), dv.getUint16(t + 2), dv.getUint32(t + 4), dv.getUint32(t + 8), f[t + 13]];
    });
    expect(seen).toEqual([
      [80, 40000, 9000, 5100, 0x14],
      [80, 40000, 9200, 5100, 0x14],
    ]);
    expect(b.counters.tcpResets).toBe(1);
    expect(b.linkUp).toBe(false);
    // Forgotten once reset: the next drop resets nothing.
    vi.advanceTimersByTime(1000);
    sockets[1]!.open();
    sockets[1]!.drop();
    expect(got).toHaveLength(3);
    b.close();
  });
});

describe("snapshots: the guest's TCP connections across a restore", () => {
  it("records them from the guest's frames and, on a restored backend, sends each an old ACK once the link is up", () => {
    const { b, sockets } = setup();
    sockets[0]!.open();
    // Guest A talks to B: 100 bytes at seq 5000, acknowledging 9000; then another connection that ends (FIN).
    b.transmit(tcp4Packet(A, B, 0, 100, 5000, { ack: 9000 }));
    b.transmit(tcp4Packet(A, B, 0, 0, 5100, { ack: 9500 }));
    const C = { ip: "10.0.2.15", port: 40001 };
    b.transmit(tcp4Packet(C, B, 0, 0, 77, { ack: 88 }));
    b.transmit(tcp4Packet(C, B, 0x01, 0, 77, { ack: 88 }));
    const saved = b.saveState() as { tcp: { guestPort: number; seqNext: number; ack: number }[] };
    expect(saved.tcp.map((c) => [c.guestPort, c.seqNext, c.ack])).toEqual([[40000, 5100, 9500]]);
    b.close();

    const r = setup();
    const got: Uint8Array[] = [];
    r.b.onReceive((f) => {
      got.push(f.slice());
      return true;
    });
    r.b.restoreState(JSON.parse(JSON.stringify(saved)));
    expect(got).toHaveLength(0); // not while the link is down
    r.sockets[0]!.open();
    expect(got).toHaveLength(1);
    const f = got[0]!;
    const p = parseFrame(f);
    if (!p.ok) throw new Error(p.reason);
    const t = p.layout.l4Off;
    const dv = new DataView(f.buffer, f.byteOffset);
    expect([dv.getUint16(t), dv.getUint16(t + 2)]).toEqual([80, 40000]);
    expect(dv.getUint32(t + 4)).toBe(9499); // before the guest's window: it answers with its own ACK
    expect(dv.getUint32(t + 8)).toBe(5100);
    expect(f[t + 13]).toBe(0x10); // ACK alone
    expect(l4ChecksumValid(f, p.layout)).toBe(true);
    // Hostile saved state is skipped, not thrown.
    expect(() => r.b.restoreState({ kind: "relay", tcp: [{ guestMac: "x" }, null, 7] })).not.toThrow();
    r.b.close();
  });
});
