import { describe, expect, it, vi } from "vitest";
import type { UplinkError, UplinkTcpHandlers } from "./uplink.ts";
import {
  decodeWisp,
  encodeWisp,
  WISP_CLOSE,
  WISP_CLOSE_BLOCKED,
  WISP_CLOSE_CLIENT_ERROR,
  WISP_CLOSE_NETWORK_ERROR,
  WISP_CLOSE_REFUSED,
  WISP_CLOSE_VOLUNTARY,
  WISP_CONNECT,
  WISP_CONTINUE,
  WISP_DATA,
  WISP_INFO,
} from "./wisp-packet.ts";
import { type WebSocketLike, WispUplink, wispReasonToError } from "./wisp-uplink.ts";

class FakeSocket implements WebSocketLike {
  binaryType = "";
  bufferedAmount = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: Array<{ type: number; stream: number; payload: Uint8Array }> = [];
  closed = false;
  send(d: Uint8Array): void {
    const p = decodeWisp(d)!;
    this.sent.push({ ...p, payload: p.payload.slice() });
  }
  close(): void {
    this.closed = true;
  }
  /** Server → client packet. */
  push(type: number, stream: number, payload: number[] | Uint8Array): void {
    const b = encodeWisp(type, stream, Uint8Array.from(payload));
    this.onmessage?.({ data: b.buffer });
  }
  credit(stream: number, n: number): void {
    this.push(WISP_CONTINUE, stream, [n & 0xff, (n >>> 8) & 0xff, 0, 0]);
  }
}

function setup(opts: { openGraceMs?: number; pausedLimit?: number } = {}) {
  const sockets: FakeSocket[] = [];
  const up = new WispUplink({
    url: "ws://x/",
    createSocket: () => {
      const s = new FakeSocket();
      sockets.push(s);
      return s;
    },
    openGraceMs: opts.openGraceMs ?? 10,
    pausedLimit: opts.pausedLimit,
    maxPacket: 1000,
    reconnectMinMs: 5,
  });
  return { up, sockets };
}

function handlers() {
  const ev: string[] = [];
  const data: Uint8Array[] = [];
  const h: UplinkTcpHandlers = {
    onOpen: () => ev.push("open"),
    onData: (d) => data.push(d),
    onEnd: () => ev.push("end"),
    onError: (e: UplinkError) => ev.push(`error:${e}`),
    onDrain: () => ev.push("drain"),
  };
  return { h, ev, data };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("WispUplink", () => {
  it("waits for the stream-0 CONTINUE, then CONNECTs; sends DATA only while credit lasts", async () => {
    const { up, sockets } = setup();
    const ws = sockets[0]!;
    const { h, ev } = handlers();
    const t = up.openTcp("example.com", 443, h);
    await tick();
    expect(ws.sent).toEqual([]); // not before the server's first CONTINUE
    ws.credit(0, 2);
    await tick();
    expect(ws.sent[0]!.type).toBe(WISP_CONNECT);
    expect([...ws.sent[0]!.payload.subarray(0, 3)]).toEqual([1, 0xbb, 0x01]);
    expect(new TextDecoder().decode(ws.sent[0]!.payload.subarray(3))).toBe("example.com");
    t.write(new Uint8Array(3500)); // 4 packets of ≤ 1000 bytes
    expect(ws.sent.filter((p) => p.type === WISP_DATA).length).toBe(2);
    ws.credit(ws.sent[0]!.stream, 5); // replaces the count
    expect(ws.sent.filter((p) => p.type === WISP_DATA).length).toBe(4);
    await new Promise((r) => setTimeout(r, 20));
    expect(ev).toContain("open");
    up.close();
  });

  it("maps CLOSE reasons: before open a network error is a refusal; 0x02 is an orderly end", async () => {
    expect(wispReasonToError(WISP_CLOSE_REFUSED, false)).toBe("refused");
    expect(wispReasonToError(WISP_CLOSE_BLOCKED, true)).toBe("blocked");
    expect(wispReasonToError(WISP_CLOSE_NETWORK_ERROR, false)).toBe("refused");
    expect(wispReasonToError(WISP_CLOSE_NETWORK_ERROR, true)).toBe("reset");
    const { up, sockets } = setup({ openGraceMs: 1000 });
    const ws = sockets[0]!;
    ws.credit(0, 8);
    const a = handlers();
    const b = handlers();
    up.openTcp("a", 1, a.h);
    up.openTcp("b", 2, b.h);
    await tick();
    const [ia, ib] = ws.sent.map((p) => p.stream);
    ws.push(WISP_CLOSE, ia!, [WISP_CLOSE_NETWORK_ERROR]);
    ws.push(WISP_DATA, ib!, [1, 2, 3]);
    ws.push(WISP_CLOSE, ib!, [WISP_CLOSE_VOLUNTARY]);
    expect(a.ev).toEqual(["error:refused"]);
    expect(b.ev).toEqual(["open", "end"]);
    expect(b.data.map((d) => [...d])).toEqual([[1, 2, 3]]);
    up.close();
  });

  it("buffers while paused, delivers on resume, and gives up past the cap with 0x81", async () => {
    const { up, sockets } = setup({ pausedLimit: 10 });
    const ws = sockets[0]!;
    ws.credit(0, 8);
    const a = handlers();
    const t = up.openTcp("a", 1, a.h);
    await tick();
    const id = ws.sent[0]!.stream;
    t.pause();
    ws.push(WISP_DATA, id, [1, 2, 3]);
    expect(a.data).toEqual([]);
    t.resume();
    expect(a.data.length).toBe(1);
    t.pause();
    ws.push(WISP_DATA, id, new Uint8Array(20));
    expect(ws.sent.at(-1)).toMatchObject({ type: WISP_CLOSE, stream: id });
    expect([...ws.sent.at(-1)!.payload]).toEqual([WISP_CLOSE_CLIENT_ERROR]);
    expect(a.ev.at(-1)).toBe("error:reset");
    up.close();
  });

  it("a dropped WebSocket resets live streams; streams opened meanwhile wait for the reconnection", async () => {
    vi.useFakeTimers();
    try {
      const { up, sockets } = setup();
      sockets[0]!.credit(0, 8);
      const a = handlers();
      up.openTcp("a", 1, a.h);
      await vi.advanceTimersByTimeAsync(1);
      sockets[0]!.onclose?.({});
      expect(a.ev.at(-1)).toBe("error:reset");
      const b = handlers();
      up.openTcp("b", 2, b.h);
      await vi.advanceTimersByTimeAsync(10);
      expect(sockets.length).toBe(2);
      expect(b.ev).toEqual([]);
      sockets[1]!.credit(0, 8);
      await vi.advanceTimersByTimeAsync(1);
      expect(sockets[1]!.sent[0]!.type).toBe(WISP_CONNECT);
      up.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it("reconnects with a delay that doubles up to the cap, and starts over after a good connection", () => {
    vi.useFakeTimers();
    try {
      const sockets: FakeSocket[] = [];
      const up = new WispUplink({
        url: "ws://x/",
        createSocket: () => {
          const s = new FakeSocket();
          sockets.push(s);
          return s;
        },
        reconnectMinMs: 100,
        reconnectMaxMs: 1000,
      });
      /** Drops the newest socket and returns how long until the next one is made. */
      const dropAndTime = () => {
        const n = sockets.length;
        sockets[n - 1]!.onclose?.({});
        let waited = 0;
        while (sockets.length === n && waited < 10_000) {
          vi.advanceTimersByTime(1);
          waited++;
        }
        expect(sockets.length).toBe(n + 1);
        return waited;
      };
      const delays = Array.from({ length: 7 }, dropAndTime);
      expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
      // A connection that completes the handshake (stream-0 CONTINUE) resets the backoff.
      sockets.at(-1)!.credit(0, 8);
      expect(up.connectionState).toBe("ready");
      expect([dropAndTime(), dropAndTime()]).toEqual([100, 200]);
      up.close();
      vi.advanceTimersByTime(5000);
      expect(sockets.length).toBe(10); // no reconnection once closed
    } finally {
      vi.useRealTimers();
    }
  });

  it("ignores garbage from the server", () => {
    const { up, sockets } = setup();
    const ws = sockets[0]!;
    ws.onmessage?.({ data: new Uint8Array([1, 2]).buffer });
    ws.onmessage?.({ data: "text" });
    ws.push(WISP_DATA, 999, [1]);
    ws.push(WISP_CONTINUE, 0, [1]);
    expect(up.connectionState).toBe("connecting");
    up.close();
  });

  it("offers wisp-v2 only when asked, answers a v2 server's INFO, and opens on the CONTINUE after it", async () => {
    const offered: string[][] = [];
    const sockets: FakeSocket[] = [];
    const make = (wispVersion: 1 | 2) =>
      new WispUplink({
        url: "ws://x/",
        wispVersion,
        protocols: ["vireo-token.t"],
        createSocket: (_u, protocols) => {
          offered.push(protocols);
          const s = new FakeSocket();
          sockets.push(s);
          return s;
        },
      });
    make(1).close();
    const up = make(2);
    expect(offered).toEqual([["vireo-token.t"], ["wisp-v2", "vireo-token.t"]]);
    const ws = sockets[1]!;
    // Server INFO 2.0 listing UDP (id 1, empty) and a MOTD (id 4, "hi").
    ws.push(WISP_INFO, 0, [2, 0, 1, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0x68, 0x69]);
    expect(ws.sent).toEqual([{ type: WISP_INFO, stream: 0, payload: Uint8Array.from([2, 0, 1, 0, 0, 0, 0]) }]);
    expect(up.connectionState).toBe("connecting");
    const a = handlers();
    up.openTcp("a", 1, a.h);
    ws.credit(0, 8);
    expect(up.connectionState).toBe("ready");
    await tick();
    expect(ws.sent[1]!.type).toBe(WISP_CONNECT);
    up.close();
  });

  it("a v2 handshake that fails reaches waiting streams as an error at once", () => {
    const cases: [string, (ws: FakeSocket) => void, string][] = [
      ["server closes stream 0 (0xc2: credentials required)", (ws) => ws.push(WISP_CLOSE, 0, [0xc2]), "error:blocked"],
      ["password required", (ws) => ws.push(WISP_INFO, 0, [2, 0, 2, 1, 0, 0, 0, 1]), "error:blocked"],
      ["malformed INFO", (ws) => ws.push(WISP_INFO, 0, [2, 0, 9, 200, 0, 0, 0]), "error:unreachable"],
      ["socket closes before CONTINUE", (ws) => ws.onclose?.({}), "error:unreachable"],
    ];
    for (const [name, act, want] of cases) {
      const { up, sockets } = setup();
      const a = handlers();
      up.openTcp("a", 1, a.h);
      act(sockets[0]!);
      expect([name, a.ev]).toEqual([name, [want]]);
      up.close();
    }
  });

  it("a v2 server without the UDP extension: UDP streams fail, TCP works", async () => {
    const { up, sockets } = setup();
    const ws = sockets[0]!;
    ws.push(WISP_INFO, 0, [2, 0]);
    expect(ws.sent[0]!.payload).toEqual(Uint8Array.from([2, 0])); // we list nothing it did not
    ws.credit(0, 8);
    const errors: string[] = [];
    up.openUdp("a", 53, { onMessage: () => {}, onError: (e) => errors.push(e) });
    const t = handlers();
    up.openTcp("b", 80, t.h);
    await tick();
    expect(errors).toEqual(["unreachable"]);
    expect(ws.sent.filter((p) => p.type === WISP_CONNECT).length).toBe(1);
    up.close();
  });

  it("no CONTINUE within handshakeTimeoutMs: the attempt fails, and so do streams that waited that long", async () => {
    vi.useFakeTimers();
    try {
      const sockets: FakeSocket[] = [];
      const up = new WispUplink({
        url: "ws://x/",
        handshakeTimeoutMs: 1000,
        reconnectMinMs: 5000,
        createSocket: () => {
          const s = new FakeSocket();
          sockets.push(s);
          return s;
        },
      });
      const a = handlers();
      up.openTcp("a", 1, a.h);
      await vi.advanceTimersByTimeAsync(999);
      expect(a.ev).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(a.ev).toEqual(["error:unreachable"]);
      expect(sockets[0]!.closed).toBe(true);
      // Opened while down (the next attempt is 5 s away): it fails after 1 s, not after the reconnection.
      const b = handlers();
      up.openTcp("b", 2, b.h);
      await vi.advanceTimersByTimeAsync(1000);
      expect(b.ev).toEqual(["error:unreachable"]);
      up.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
