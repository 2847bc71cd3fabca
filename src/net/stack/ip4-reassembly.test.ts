import { describe, expect, it } from "vitest";
import { parseIp4 } from "../wire/bytes.ts";
import { ETH_HLEN } from "../wire/ethernet.ts";
import { IPV4_FLAG_MF, Ipv4View } from "../wire/ipv4.ts";
import { GuestWorld } from "./guest-harness.ts";
import { Ip4Reassembly } from "./ip4-reassembly.ts";
import { ManualNetClock, TimerQueue } from "./timers.ts";

/** Cuts a guest UDP frame into IPv4 fragments of `size` payload bytes (a multiple of 8). */
function fragment(frame: Uint8Array, size: number): Uint8Array[] {
  const ip = new Ipv4View(frame, ETH_HLEN);
  const hl = ip.headerLength;
  const payload = frame.subarray(ETH_HLEN + hl, ETH_HLEN + ip.totalLength);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const piece = payload.subarray(off, off + size);
    const f = new Uint8Array(ETH_HLEN + hl + piece.length);
    f.set(frame.subarray(0, ETH_HLEN + hl));
    f.set(piece, ETH_HLEN + hl);
    const v = new Ipv4View(f, ETH_HLEN);
    v.id = 0x4242;
    v.totalLength = hl + piece.length;
    v.flagsFragment = (off / 8) | (off + size < payload.length ? IPV4_FLAG_MF : 0);
    v.updateChecksum();
    out.push(f);
  }
  return out;
}

describe("IPv4 reassembly", () => {
  it("reassembles out-of-order fragments into the datagram the uplink sees", () => {
    const w = new GuestWorld();
    const got: Uint8Array[] = [];
    w.uplink.listenUdp("1.2.3.4", 9, (d) => got.push(d));
    const data = new Uint8Array(3000).map((_, i) => i & 0xff);
    const frags = fragment(w.udp(parseIp4("1.2.3.4")!, 1000, 9, data), 1232);
    w.send(frags[2]!);
    w.send(frags[1]!);
    w.send(frags[1]!.slice()); // a duplicate is harmless
    w.send(frags[0]!);
    w.flush();
    expect(got.length).toBe(1);
    expect(got[0]).toEqual(data);
    expect(w.stack.reassembly.pending).toBe(0);
  });

  it("drops overlapping fragments and times out incomplete datagrams", () => {
    const w = new GuestWorld();
    const got: Uint8Array[] = [];
    w.uplink.listenUdp("1.2.3.4", 9, (d) => got.push(d));
    const frags = fragment(w.udp(parseIp4("1.2.3.4")!, 1000, 9, new Uint8Array(3000)), 1232);
    const bad = frags[1]!.slice();
    const v = new Ipv4View(bad, ETH_HLEN);
    v.flagsFragment = (v.flagsFragment & ~0x1fff) | (1200 / 8);
    v.updateChecksum();
    w.send(frags[0]!);
    w.send(bad);
    w.flush();
    expect(w.stack.counters.dropped["frag-overlap"]).toBe(1);
    w.send(frags[0]!.slice());
    w.flush();
    expect(w.stack.reassembly.pending).toBe(1);
    w.run(() => w.stack.reassembly.pending === 0);
    expect(w.stack.counters.dropped["frag-timeout"]).toBe(1);
    expect(got).toEqual([]);
  });

  it("bounds the number of datagrams in progress", () => {
    const w = new GuestWorld();
    for (let i = 0; i < 200; i++) {
      const [first] = fragment(w.udp(parseIp4("1.2.3.4")!, 1000 + i, 9, new Uint8Array(2000)), 1000);
      const v = new Ipv4View(first!, ETH_HLEN);
      v.id = i;
      v.updateChecksum();
      w.send(first!);
    }
    w.flush();
    expect(w.stack.reassembly.pending).toBe(64);
  });

  it("holds at most maxBytes: datagrams beyond it are dropped and counted (frag-memory)", () => {
    const w = new GuestWorld();
    const dropped: string[] = [];
    const r = new Ip4Reassembly(
      new TimerQueue(new ManualNetClock()),
      { maxDatagrams: 64, maxBytes: 4096, timeoutMs: 30_000 },
      (why) => dropped.push(why),
    );
    const datagram = (id: number) => {
      const frags = fragment(w.udp(parseIp4("1.2.3.4")!, 1000 + id, 9, new Uint8Array(2000).fill(id)), 1000);
      for (const f of frags) {
        const v = new Ipv4View(f, ETH_HLEN);
        v.id = id;
        v.updateChecksum();
      }
      return frags; // 1000 + 1000 + 8 payload bytes
    };
    const held = Array.from({ length: 10 }, (_, i) => datagram(i));
    // First fragments of ten datagrams: four fit in 4096 bytes, the other six are refused.
    for (const frags of held) {
      expect(r.add(frags[0]!)).toBeUndefined();
      expect(r.heldBytes).toBeLessThanOrEqual(4096);
    }
    expect(r.pending).toBe(4);
    expect(r.heldBytes).toBe(4000);
    expect(dropped).toEqual(Array(6).fill("frag-memory"));
    // Later pieces of a refused datagram are refused too while memory is short.
    expect(r.add(held[9]![1]!)).toBeUndefined();
    expect(dropped.length).toBe(7);
    // A piece that would overflow discards its whole datagram and frees what that held.
    expect(r.add(held[0]![1]!)).toBeUndefined();
    expect(dropped.at(-1)).toBe("frag-memory");
    expect(r.pending).toBe(3);
    expect(r.heldBytes).toBe(3000);
    // Held datagrams still complete, and completing one frees its bytes for the next.
    expect(r.add(held[1]![1]!)).toBeUndefined();
    expect(r.add(held[1]![2]!)).toBeDefined();
    expect(r.heldBytes).toBe(2000);
    let whole: Uint8Array | undefined;
    for (const f of datagram(20)) whole = r.add(f) ?? whole;
    expect(whole).toBeDefined();
    expect(new Ipv4View(whole!, ETH_HLEN).totalLength).toBe(20 + 8 + 2000);
    expect(r.heldBytes).toBeLessThanOrEqual(4096);
  });

  it("the stack's reassembler stays within its memory limit under a flood of large first fragments", () => {
    const w = new GuestWorld();
    for (let i = 0; i < 40; i++) {
      const [first] = fragment(w.udp(parseIp4("1.2.3.4")!, 2000 + i, 9, new Uint8Array(60_000)), 59_992);
      const v = new Ipv4View(first!, ETH_HLEN);
      v.id = 0x1000 + i;
      v.updateChecksum();
      w.send(first!);
    }
    w.flush();
    expect(w.stack.reassembly.heldBytes).toBeLessThanOrEqual(1 << 20);
    expect(w.stack.reassembly.pending).toBe(17); // 17 × 59 992 bytes fit in 1 MiB
    expect(w.stack.counters.dropped["frag-memory"]).toBe(23);
  });
});
