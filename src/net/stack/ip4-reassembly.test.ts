import { describe, expect, it } from "vitest";
import { parseIp4 } from "../wire/bytes.ts";
import { ETH_HLEN } from "../wire/ethernet.ts";
import { IPV4_FLAG_MF, Ipv4View } from "../wire/ipv4.ts";
import { GuestWorld } from "./guest-harness.ts";

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
});
