import { describe, expect, it } from "vitest";
import { ip4ToString, set16, set32 } from "../net/wire/bytes.ts";
import { dhcpAckAddress, GuestAddress, guestIp4 } from "./guest-address.ts";

const MAC = Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56);
const OTHER = Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x57);

function arp(from: Uint8Array, senderIp: number): Uint8Array {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set(from, 6);
  set16(f, 12, 0x0806);
  set16(f, 14, 1);
  set16(f, 16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  set16(f, 20, 1);
  f.set(from, 22);
  set32(f, 28, senderIp);
  return f;
}

function ipv4(from: Uint8Array, src: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(from, 6);
  set16(f, 12, 0x0800);
  f[14] = 0x45;
  set32(f, 26, src);
  set32(f, 30, 0x0a000202);
  return f;
}

/** A DHCP reply from a server to `to`, handing out `yiaddr`, with message type `type` (5 = ACK). */
function dhcpReply(to: Uint8Array, yiaddr: number, type: number, ipOptions = 0): Uint8Array {
  const udp = 14 + 20 + ipOptions;
  const bootp = udp + 8;
  const f = new Uint8Array(bootp + 240 + 6);
  f.set(to, 0);
  f.set(OTHER, 6);
  set16(f, 12, 0x0800);
  f[14] = 0x40 | (5 + ipOptions / 4);
  f[23] = 17;
  set32(f, 26, 0x0a000202);
  set32(f, 30, 0xffffffff);
  set16(f, udp, 67);
  set16(f, udp + 2, 68);
  f[bootp] = 2;
  f[bootp + 1] = 1;
  f[bootp + 2] = 6;
  set32(f, bootp + 16, yiaddr);
  f.set(to, bootp + 28);
  set32(f, bootp + 236, 0x63825363);
  f.set([0, 53, 1, type, 255], bootp + 240);
  return f;
}

const ip = (s: string) => s.split(".").reduce((a, b) => (a << 8) | Number(b), 0) >>> 0;

describe("guestIp4: the address in the guest's own frames", () => {
  const rows: [string, Uint8Array, string | undefined][] = [
    ["ARP request from the guest (gateway lookup after DHCP)", arp(MAC, ip("10.0.2.15")), "10.0.2.15"],
    ["IPv4 packet from the guest", ipv4(MAC, ip("10.0.3.1")), "10.0.3.1"],
    ["DHCP discover: source 0.0.0.0", ipv4(MAC, 0), undefined],
    ["another machine's frame on a shared segment", arp(OTHER, ip("10.0.3.2")), undefined],
    ["multicast source", ipv4(MAC, ip("224.0.0.1")), undefined],
    ["broadcast source", ipv4(MAC, 0xffffffff), undefined],
    ["truncated frame", arp(MAC, ip("10.0.2.15")).subarray(0, 30), undefined],
    [
      "IPv6 frame",
      (() => {
        const f = ipv4(MAC, ip("10.0.2.15"));
        set16(f, 12, 0x86dd);
        return f;
      })(),
      undefined,
    ],
    [
      "ARP for another protocol",
      (() => {
        const f = arp(MAC, ip("10.0.2.15"));
        set16(f, 16, 0x86dd);
        return f;
      })(),
      undefined,
    ],
    [
      "IPv4 ethertype, version 6 in the header",
      (() => {
        const f = ipv4(MAC, ip("10.0.2.15"));
        f[14] = 0x60;
        return f;
      })(),
      undefined,
    ],
  ];
  for (const [name, frame, want] of rows) {
    it(name, () => {
      const got = guestIp4(frame, MAC);
      expect(got === undefined ? undefined : ip4ToString(got)).toBe(want);
    });
  }

  const acks: [string, Uint8Array, string | undefined][] = [
    ["a DHCP ACK to the guest", dhcpReply(MAC, ip("10.0.2.15"), 5), "10.0.2.15"],
    ["an ACK behind an IP header with options", dhcpReply(MAC, ip("10.0.2.16"), 5, 4), "10.0.2.16"],
    ["an OFFER is not yet the address", dhcpReply(MAC, ip("10.0.2.15"), 2), undefined],
    ["an ACK for another machine", dhcpReply(OTHER, ip("10.0.2.16"), 5), undefined],
    ["an ACK cut short", dhcpReply(MAC, ip("10.0.2.15"), 5).subarray(0, 200), undefined],
    [
      "an option whose length runs past the end",
      (() => {
        const f = dhcpReply(MAC, ip("10.0.2.15"), 5);
        f[f.length - 5] = 99;
        f[f.length - 4] = 200;
        return f;
      })(),
      undefined,
    ],
  ];
  for (const [name, frame, want] of acks) {
    it(`dhcpAckAddress: ${name}`, () => {
      const got = dhcpAckAddress(frame, MAC);
      expect(got === undefined ? undefined : ip4ToString(got)).toBe(want);
    });
  }

  it("GuestAddress keeps the last address the guest sent from, and ignores what it receives", () => {
    const g = new GuestAddress(() => MAC);
    g.tap("tx", ipv4(MAC, 0));
    expect(g.ip).toBeUndefined();
    g.tap("rx", ipv4(MAC, ip("10.0.2.15")));
    expect(g.ip).toBeUndefined();
    g.tap("rx", dhcpReply(MAC, ip("10.0.2.14"), 5));
    expect(g.ip).toBe(ip("10.0.2.14"));
    g.tap("tx", arp(MAC, ip("10.0.2.15")));
    expect(g.ip).toBe(ip("10.0.2.15"));
    g.tap("tx", ipv4(MAC, ip("10.0.3.9")));
    expect(g.ip).toBe(ip("10.0.3.9"));
  });

  it("never throws on random frames (seeded)", () => {
    let seed = 17;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let i = 0; i < 2000; i++) {
      const f = new Uint8Array(rnd() % 80);
      for (let j = 0; j < f.length; j++) f[j] = rnd();
      if (f.length >= 12 && i % 2 === 0) f.set(MAC, 6);
      for (const got of [guestIp4(f, MAC), dhcpAckAddress(f, MAC)]) if (got !== undefined) expect(got >>> 0).toBe(got);
    }
  });
});
