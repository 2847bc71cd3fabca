import { describe, expect, it } from "vitest";
import { MAC_A, MAC_B, tcp4Packet } from "../../testing/net-packets.ts";
import type { GsoInfo } from "../offload/gso.ts";
import { createLoopbackPair, EchoBackend } from "./loopback.ts";

const A = { ip: "10.0.2.15", port: 1 };
const B = { ip: "10.0.2.2", port: 2 };

describe("loopback pair", () => {
  it("delivers frames and GSO info to the other end", () => {
    const [a, b] = createLoopbackPair();
    const got: [Uint8Array, GsoInfo | undefined][] = [];
    b.onReceive((f, g) => {
      got.push([f, g]);
      return true;
    });
    const f = tcp4Packet(A, B, 0, 10, 1);
    const gso: GsoInfo = { type: 1, gsoSize: 5, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 };
    expect(a.transmit(f, gso)).toBe(true);
    expect(got).toEqual([[f, gso]]);
  });
  it("passes backpressure through and wakes the sender", () => {
    const [a, b] = createLoopbackPair();
    let room = false;
    b.onReceive(() => room);
    let woken = 0;
    a.onWritable(() => woken++);
    expect(a.transmit(new Uint8Array(60))).toBe(false);
    expect(b.refused).toBe(1);
    room = true;
    b.resumeReceive();
    expect(woken).toBe(1);
    expect(a.transmit(new Uint8Array(60))).toBe(true);
  });
  it("link changes reach both ends", () => {
    const [a, b] = createLoopbackPair();
    const seen: string[] = [];
    a.onLinkChange((up) => seen.push(`a:${up}`));
    b.onLinkChange((up) => seen.push(`b:${up}`));
    a.setLink(false);
    expect([a.linkUp, b.linkUp]).toEqual([false, false]);
    a.setLink(true);
    expect(seen).toEqual(["a:false", "b:false", "a:true", "b:true"]);
  });
});

describe("echo backend", () => {
  it("reflects with MACs swapped, holding one frame under backpressure", () => {
    const e = new EchoBackend();
    let room = false;
    const got: Uint8Array[] = [];
    e.onReceive((f) => {
      if (room) got.push(f);
      return room;
    });
    const f = tcp4Packet(A, B, 0, 10, 1);
    expect(e.transmit(f)).toBe(true);
    expect(e.transmit(f)).toBe(false);
    room = true;
    e.resumeReceive();
    expect(got.length).toBe(1);
    expect(got[0]!.subarray(0, 6)).toEqual(MAC_A);
    expect(got[0]!.subarray(6, 12)).toEqual(MAC_B);
  });
});
