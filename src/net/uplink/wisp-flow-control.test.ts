// End-to-end flow control through a Wisp uplink: a scripted guest sends through the NetStack into a
// WispUplink whose (fake) server withholds CONTINUE credit. The guest's window must close and its sends
// stall with every buffer on the way bounded; once credit comes, the transfer finishes intact.

import { describe, expect, it } from "vitest";
import { GuestWorld } from "../stack/guest-harness.ts";
import { decodeWisp, encodeWisp, WISP_CONNECT, WISP_CONTINUE, WISP_DATA } from "./wisp-packet.ts";
import { type WebSocketLike, WispUplink } from "./wisp-uplink.ts";

/** A Wisp server on the far side of a fake WebSocket: a buffer of `cap` packets per stream it drains on demand. */
class FakeWispServer implements WebSocketLike {
  binaryType = "";
  bufferedAmount = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /** Per stream: packets received but not yet consumed (what the remaining credit is measured against). */
  readonly unconsumed = new Map<number, number>();
  readonly received: Uint8Array[] = [];
  receivedBytes = 0;
  dataPackets = 0;
  /** When true, every pump consumes what arrived and grants the full buffer again. */
  granting = false;
  private outbox: Uint8Array[] = [];

  constructor(readonly cap: number) {}

  send(d: Uint8Array): void {
    const p = decodeWisp(d)!;
    if (p.type === WISP_CONNECT) {
      this.unconsumed.set(p.stream, 0);
      this.outbox.push(this.credit(p.stream, this.cap)); // the stream is up, with the full buffer
    } else if (p.type === WISP_DATA) {
      const n = this.unconsumed.get(p.stream)!;
      expect(n).toBeLessThan(this.cap); // the client never sends past its credit
      this.unconsumed.set(p.stream, n + 1);
      this.received.push(p.payload.slice());
      this.receivedBytes += p.payload.length;
      this.dataPackets++;
    }
  }

  close(): void {}

  credit(stream: number, n: number): Uint8Array {
    return encodeWisp(WISP_CONTINUE, stream, new Uint8Array([n & 0xff, (n >>> 8) & 0xff, 0, 0]));
  }

  /** Delivers queued server packets (outside the client's send call, as a socket would). */
  pump(): boolean {
    if (this.granting) {
      for (const [id, n] of this.unconsumed) {
        if (n === 0) continue;
        this.unconsumed.set(id, 0);
        this.outbox.push(this.credit(id, this.cap));
      }
    }
    const out = this.outbox.splice(0);
    for (const b of out) this.onmessage?.({ data: b.buffer });
    return out.length > 0;
  }
}

async function spin(w: GuestWorld, server: FakeWispServer, done: () => boolean, forMs: number): Promise<void> {
  const until = w.clock.ms + forMs;
  for (let i = 0; i < 1_000_000; i++) {
    w.flush();
    const pumped = server.pump();
    await Promise.resolve(); // the uplink's queued microtasks (CONNECT of a new stream)
    w.flush();
    if (done()) return;
    if (pumped) continue;
    const d = w.stack.timers.nextDeadline();
    if (d === undefined || d > until) return;
    w.clock.ms = Math.max(w.clock.ms, d);
    w.stack.runTimers();
  }
}

describe("flow control end to end: the guest's window follows Wisp CONTINUE credit", () => {
  it("withheld credit closes the window and stalls the guest with bounded buffers; credit resumes it", async () => {
    const CAP = 8;
    const MAX_PACKET = 1024;
    const STREAM_BUFFER = 16 * 1024;
    const TCP_BUFFER = 32 * 1024;
    const server = new FakeWispServer(CAP);
    const up = new WispUplink({
      url: "ws://fake/",
      createSocket: () => server,
      maxPacket: MAX_PACKET,
      streamBuffer: STREAM_BUFFER,
      openGraceMs: 60_000,
    });
    try {
      server.onmessage?.({ data: server.credit(0, CAP).buffer });
      expect(up.connectionState).toBe("ready");
      const w = new GuestWorld({ uplink: up, tcpBuffer: TCP_BUFFER });
      const t = w.connect(0x01020304, 80, 41000);
      await spin(w, server, () => t.established, 10_000);
      expect(t.established).toBe(true);
      const iss = t.ep.snapshot().sndUna as number;
      const acked = () => ((t.ep.snapshot().sndUna as number) - iss) >>> 0;

      const data = new Uint8Array(1 << 20).map((_, i) => (i * 31 + (i >>> 10)) & 0xff);
      t.ep.write(data);
      await spin(w, server, () => false, 60_000);
      // The server took exactly its credit and no more.
      expect(server.dataPackets).toBe(CAP);
      expect(server.receivedBytes).toBeLessThanOrEqual(CAP * MAX_PACKET);
      // The stack advertises a zero window: the guest holds the rest (and keeps probing, not giving up).
      expect(t.ep.snapshot().sndWnd).toBe(0);
      expect(t.ep.snapshot().queued).toBeGreaterThan(data.length / 2);
      expect(t.closed).toBeUndefined();
      // What the guest got acknowledged sits in the server, the uplink's queue or the stack's buffer: bounded.
      const stalledAt = acked();
      expect(stalledAt).toBeGreaterThan(server.receivedBytes);
      expect(stalledAt - server.receivedBytes).toBeLessThanOrEqual(STREAM_BUFFER + TCP_BUFFER);
      // Another minute without credit moves nothing.
      await spin(w, server, () => false, 60_000);
      expect(acked()).toBe(stalledAt);
      expect(server.dataPackets).toBe(CAP);
      expect(t.closed).toBeUndefined();

      server.granting = true;
      await spin(w, server, () => server.receivedBytes === data.length, 600_000);
      expect(server.receivedBytes).toBe(data.length);
      const got = new Uint8Array(data.length);
      let o = 0;
      for (const p of server.received) {
        got.set(p, o);
        o += p.length;
      }
      let same = true;
      for (let i = 0; i < data.length && same; i++) same = got[i] === data[i];
      expect(same).toBe(true);
      expect(acked()).toBe(data.length);
    } finally {
      up.close();
    }
  });
});
