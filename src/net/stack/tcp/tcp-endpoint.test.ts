import { describe, expect, it } from "vitest";
import { concatBytes, rng, TcpPair } from "./tcp-harness.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "./tcp-segment.ts";

/** Byte equality without the matcher's per-element diffing (slow on megabytes). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function pattern(n: number, seed = 7): Uint8Array {
  const r = rng(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

describe("TcpEndpoint handshake and options", () => {
  it("three-way handshake negotiates MSS, window scale, SACK and timestamps", () => {
    const p = new TcpPair({ mss: 1460 }, { mss: 1400 });
    p.connect();
    expect(p.a.ep.state).toBe("ESTABLISHED");
    expect(p.b.ep.state).toBe("ESTABLISHED");
    const syn = p.log[0]!.seg;
    expect(syn.flags).toBe(TCP_SYN);
    expect(syn.options).toMatchObject({ mss: 1460, wscale: 7, sackPermitted: true });
    const synAck = p.log.find((l) => l.from === "b")!.seg;
    expect(synAck.flags).toBe(TCP_SYN | TCP_ACK);
    expect(synAck.options).toMatchObject({ mss: 1400, wscale: 7, sackPermitted: true });
    expect(synAck.options.tsEcr).toBe(syn.options.tsVal);
    expect(p.a.ep.snapshot().sackOk).toBe(true);
    expect(p.a.ep.snapshot().tsOk).toBe(true);
    // Both sides use the smaller MSS less the 12 bytes of timestamp option.
    expect(p.a.ep.effMss).toBe(1388);
    expect(p.a.established && p.b.established).toBe(true);
  });

  it("the passive side only answers options the active side offered", () => {
    const p = new TcpPair();
    p.filter = (from, seg) => {
      if (from === "a" && seg.flags & TCP_SYN) seg.options = { mss: 1000 };
      return true;
    };
    p.connect();
    const synAck = p.log.find((l) => l.from === "b")!.seg;
    expect(synAck.options.wscale).toBeUndefined();
    expect(synAck.options.sackPermitted).toBeUndefined();
    expect(synAck.options.tsVal).toBeUndefined();
    expect(p.b.ep.effMss).toBe(1000);
  });

  it("refuse() answers the SYN with RST|ACK and reports refused", () => {
    const p = new TcpPair();
    p.a.ep.connect();
    const syn = p.toB.shift()!;
    p.b.ep.listen(syn);
    p.b.ep.refuse();
    p.flush();
    expect(p.log[1]!.seg.flags).toBe(TCP_RST | TCP_ACK);
    expect(p.log[1]!.seg.ack).toBe((syn.seq + 1) >>> 0);
    expect(p.a.closed).toBe("refused");
    expect(p.b.closed).toBe("refused");
  });

  it("a lost SYN-ACK is recovered by the SYN retransmission", () => {
    const p = new TcpPair();
    let dropped = 0;
    p.filter = (from, seg) => !(from === "b" && seg.flags & TCP_SYN && dropped++ === 0);
    p.connect();
    p.run(() => p.a.ep.state === "ESTABLISHED");
    expect(p.a.ep.state).toBe("ESTABLISHED");
    expect(p.b.ep.state).toBe("ESTABLISHED");
    expect(p.clock.ms).toBeGreaterThanOrEqual(1000); // the initial RTO
  });

  it("SYN-SENT gives up after repeated silence", () => {
    const p = new TcpPair();
    p.filter = () => false;
    p.a.ep.connect();
    p.run(() => p.a.closed !== undefined);
    expect(p.a.closed).toBe("timeout");
  });
});

describe("TcpEndpoint data, close and reset", () => {
  it("moves data both ways and closes in order (active close → TIME-WAIT)", () => {
    const p = new TcpPair();
    p.connect();
    const x = pattern(100_000, 1);
    const y = pattern(50_000, 2);
    p.a.ep.write(x);
    p.b.ep.write(y);
    p.run(() => p.b.receivedBytes === x.length && p.a.receivedBytes === y.length);
    expect(concatBytes(p.b.received)).toEqual(x);
    expect(concatBytes(p.a.received)).toEqual(y);
    p.a.ep.shutdown();
    expect(p.a.ep.state).toBe("FIN-WAIT-1");
    p.run(() => p.b.peerFin);
    expect(p.b.ep.state).toBe("CLOSE-WAIT");
    expect(p.a.ep.state).toBe("FIN-WAIT-2");
    // Half-close: b can still send after a's FIN.
    p.b.ep.write(pattern(1000, 3));
    p.run(() => p.a.receivedBytes === y.length + 1000);
    p.b.ep.shutdown();
    expect(p.b.ep.state).toBe("LAST-ACK");
    p.run(() => p.b.closed !== undefined);
    expect(p.b.closed).toBe("normal");
    expect(p.a.ep.state).toBe("TIME-WAIT");
    p.run(() => p.a.closed !== undefined);
    expect(p.a.closed).toBe("normal");
    expect(p.clock.ms).toBeGreaterThanOrEqual(60_000); // 2 MSL
  });

  it("simultaneous close passes through CLOSING", () => {
    const p = new TcpPair();
    p.connect();
    // Record each side's state after every segment it takes.
    const states = { a: [] as string[], b: [] as string[] };
    for (const side of ["a", "b"] as const) {
      const ep = p[side].ep;
      const input = ep.input.bind(ep);
      ep.input = (seg) => {
        input(seg);
        states[side].push(ep.state);
      };
    }
    p.a.ep.shutdown();
    p.b.ep.shutdown();
    expect(p.a.ep.state).toBe("FIN-WAIT-1");
    expect(p.b.ep.state).toBe("FIN-WAIT-1");
    p.flush();
    // Each FIN arrived before the other side's ACK of its own: FIN-WAIT-1 → CLOSING → TIME-WAIT.
    expect(states.a).toEqual(["CLOSING", "TIME-WAIT"]);
    expect(states.b).toEqual(["CLOSING", "TIME-WAIT"]);
    p.run(() => p.a.closed !== undefined && p.b.closed !== undefined);
    expect(p.a.closed).toBe("normal");
    expect(p.b.closed).toBe("normal");
  });

  it("RST with the exact sequence number resets; an in-window one only draws a challenge ACK", () => {
    const p = new TcpPair();
    p.connect();
    const next = p.log.filter((l) => l.from === "a").at(-1)!.seg;
    const rcvNxt = p.b.ep.snapshot().rcvNxt as number;
    p.b.ep.input({
      seq: (rcvNxt + 10) >>> 0,
      ack: 0,
      flags: TCP_RST,
      window: 0,
      options: {},
      payload: new Uint8Array(),
    });
    expect(p.b.ep.state).toBe("ESTABLISHED");
    expect(p.toA.at(-1)!.flags).toBe(TCP_ACK);
    p.b.ep.input({ seq: rcvNxt, ack: 0, flags: TCP_RST, window: 0, options: {}, payload: new Uint8Array() });
    expect(p.b.closed).toBe("reset");
    expect(next).toBeDefined();
  });

  it("a SYN in ESTABLISHED draws a challenge ACK and changes nothing", () => {
    const p = new TcpPair();
    p.connect();
    const before = p.b.ep.snapshot();
    p.b.ep.input({ seq: 5, ack: 0, flags: TCP_SYN, window: 1000, options: {}, payload: new Uint8Array() });
    expect(p.b.ep.snapshot()).toEqual(before);
    expect(p.toA.at(-1)!.flags).toBe(TCP_ACK);
  });

  it("abort() sends RST and the peer reports reset in every synchronized state", () => {
    for (const setup of ["ESTABLISHED", "CLOSE-WAIT", "FIN-WAIT-2"] as const) {
      const p = new TcpPair();
      p.connect();
      if (setup === "CLOSE-WAIT") {
        p.a.ep.shutdown();
        p.run(() => p.b.peerFin);
      }
      if (setup === "FIN-WAIT-2") {
        p.b.ep.shutdown();
        p.run(() => p.a.peerFin);
      }
      p.b.ep.abort();
      p.flush();
      expect(p.a.closed, setup).toBe("reset");
    }
  });

  it("an ACK for data never sent is answered and ignored", () => {
    const p = new TcpPair();
    p.connect();
    const s = p.b.ep.snapshot();
    p.b.ep.input({
      seq: s.rcvNxt as number,
      ack: ((s.sndNxt as number) + 5000) >>> 0,
      flags: TCP_ACK,
      window: 100,
      options: {},
      payload: new Uint8Array(),
    });
    expect(p.b.ep.snapshot().sndUna).toBe(s.sndUna);
  });
});

describe("TcpEndpoint loss recovery", () => {
  it("fast retransmit after three duplicate ACKs, before the RTO", () => {
    const p = new TcpPair();
    p.connect();
    let dropped = false;
    p.filter = (from, seg) => {
      if (from === "b" && seg.payload.length > 0 && !dropped) {
        dropped = true;
        return false;
      }
      return true;
    };
    const x = pattern(40_000);
    const t0 = p.clock.ms;
    p.b.ep.write(x);
    p.run(() => p.a.receivedBytes === x.length);
    expect(concatBytes(p.a.received)).toEqual(x);
    expect(p.clock.ms - t0).toBeLessThan(200); // no RTO needed
    const first = p.log.filter((l) => l.from === "b" && l.seg.payload.length > 0);
    expect(first.filter((l) => l.seg.seq === first[0]!.seg.seq).length).toBe(2);
  });

  it("SACK blocks let the sender repair several holes in one round trip", () => {
    const p = new TcpPair();
    p.connect();
    const firstSeq = p.b.ep.snapshot().sndNxt as number;
    const mss = p.b.ep.effMss;
    const lost = new Set([1, 3, 5].map((i) => (firstSeq + i * mss) >>> 0));
    const seen = new Set<number>();
    p.filter = (from, seg) => {
      if (from === "b" && lost.has(seg.seq) && !seen.has(seg.seq)) {
        seen.add(seg.seq);
        return false;
      }
      return true;
    };
    const x = pattern(20 * mss);
    p.b.ep.write(x);
    p.run(() => p.a.receivedBytes === x.length);
    expect(concatBytes(p.a.received)).toEqual(x);
    const acksWithSack = p.log.filter((l) => l.from === "a" && l.seg.options.sack);
    expect(acksWithSack.length).toBeGreaterThan(0);
    // Each hole was resent exactly once, and nothing else was resent.
    const dataSegs = p.log.filter((l) => l.from === "b" && l.seg.payload.length > 0);
    const counts = new Map<number, number>();
    for (const l of dataSegs) counts.set(l.seg.seq, (counts.get(l.seg.seq) ?? 0) + 1);
    for (const [seq, n] of counts) expect(n, `seq ${seq}`).toBe(lost.has(seq) ? 2 : 1);
  });

  it("RTO retransmits with exponential backoff and finally gives up", () => {
    const p = new TcpPair();
    p.connect();
    p.filter = (from) => from !== "b";
    p.b.ep.write(pattern(1000));
    const times: number[] = [];
    const orig = p.filter;
    p.filter = (from, seg) => {
      if (from === "b" && seg.payload.length > 0) times.push(p.clock.ms);
      return orig(from, seg);
    };
    p.run(() => p.b.closed !== undefined, 3_600_000);
    expect(p.b.closed).toBe("timeout");
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (let i = 1; i < Math.min(gaps.length, 6); i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]! * 2 - 1);
    expect(gaps.at(-1)).toBeLessThanOrEqual(60_000);
    expect(p.log.at(-1)!.seg.flags & TCP_RST).toBeTruthy();
  });

  it("zero window: the sender probes until the receiver's app drains, and never gives up meanwhile", () => {
    const p = new TcpPair({}, { rcvBuf: 64 * 1024 });
    p.connect();
    p.b.appRoom = 0; // b's uplink takes nothing
    const x = pattern(200_000);
    p.a.ep.write(x.subarray(0, 100_000));
    p.run(() => false, p.clock.ms + 120_000);
    expect(p.b.ep.snapshot().toApp).toBeGreaterThan(60_000);
    expect(p.b.ep.snapshot().toApp).toBeLessThanOrEqual(64 * 1024);
    expect(p.a.closed).toBeUndefined();
    const probes = p.log.filter((l) => l.from === "a" && l.seg.payload.length === 1);
    expect(probes.length).toBeGreaterThan(2);
    p.b.appRoom = Number.POSITIVE_INFINITY;
    p.b.ep.appDrained();
    p.a.ep.write(x.subarray(100_000));
    p.run(() => p.b.receivedBytes === x.length);
    expect(concatBytes(p.b.received)).toEqual(x);
  });

  it("keep-alive probes an idle peer and gives up when it is gone", () => {
    const p = new TcpPair({ keepIdleMs: 10_000, keepIntervalMs: 1_000, keepCount: 3 });
    p.connect();
    p.run(() => false, p.clock.ms + 15_000);
    expect(p.a.ep.state).toBe("ESTABLISHED"); // b answered the probe
    expect(p.log.filter((l) => l.from === "a" && l.seg.payload.length === 0).length).toBeGreaterThan(1);
    p.filter = (from) => from === "a";
    p.run(() => p.a.closed !== undefined, p.clock.ms + 60_000);
    expect(p.a.closed).toBe("timeout");
  });

  it("FIN is retransmitted when lost", () => {
    const p = new TcpPair();
    p.connect();
    let dropped = false;
    p.filter = (from, seg) => !(from === "a" && seg.flags & TCP_FIN && !dropped && (dropped = true));
    p.a.ep.shutdown();
    p.run(() => p.b.peerFin);
    expect(p.b.peerFin).toBe(true);
    expect(dropped).toBe(true);
  });
});

describe("TcpEndpoint over an impaired wire", () => {
  for (const seed of [1, 2, 3]) {
    it(`survives 5% loss, 2% duplication and reordering within 4 (seed ${seed})`, () => {
      const p = new TcpPair({}, {}, { loss: 0.05, duplicate: 0.02, reorderWindow: 4, seed });
      p.connect();
      p.run(() => p.a.established && p.b.established);
      const x = pattern(4 * 1024 * 1024, seed);
      let off = 0;
      // The "uplink" feeds b as its send queue frees up, as the stack does.
      const feed = () => {
        while (off < x.length && p.b.ep.sendSpace() > 0) {
          const n = Math.min(p.b.ep.sendSpace(), 32 * 1024, x.length - off);
          p.b.ep.write(x.subarray(off, off + n));
          off += n;
        }
        if (off === x.length) p.b.ep.shutdown();
      };
      feed();
      p.run(() => {
        feed();
        return p.a.peerFin;
      }, 3_600_000);
      expect(p.a.receivedBytes).toBe(x.length);
      expect(sameBytes(concatBytes(p.a.received), x)).toBe(true);
    });
  }
});
