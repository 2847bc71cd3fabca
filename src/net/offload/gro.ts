// GRO: coalesce in-order TCP segments of one flow from a batch of Ethernet frames into superpackets for a
// driver that negotiated GUEST_TSO4/6 (virtio 1.2 §5.1.6.4, spec/virtio-net.md §7.4; the merge rules are
// Linux's tcp_gro_receive / inet_gro_receive). A pure function over an array, like wireguard-go's
// tcpGRO: no I/O, a per-packet result enum for the counters, and the output keeps each flow's order.

import { bytesEqual, get16, get32, set16 } from "../wire/bytes.ts";
import { internetChecksum } from "../wire/checksum.ts";
import { IPPROTO_TCP } from "../wire/ipv4.ts";
import { type FrameLayout, parseFrame } from "../wire/parse.ts";
import {
  TCP_CSUM_OFFSET,
  TCP_FLAG_CWR,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_FLAG_URG,
} from "../wire/tcp.ts";
import { l4ChecksumValid, pseudoSumFor } from "./checksum-offload.ts";
import { GSO_MAX_SIZE, GSO_TCPV4, GSO_TCPV6, type GsoInfo } from "./gso.ts";

export interface GroOptions {
  tso4: boolean;
  tso6: boolean;
  /** Cap on a superpacket's IP packet bytes (default and maximum 65535). */
  maxBytes?: number;
  /** Check each segment's TCP checksum before merging it (default true): a merged bad segment would pass. */
  verifyChecksums?: boolean;
}

/** Why a frame was or was not merged (for counters and tests). */
export type GroVerdict =
  | "merged"
  | "flow-start"
  | "not-tcp"
  | "ip-options-or-ext"
  | "no-payload"
  | "flags"
  | "bad-checksum"
  | "disabled";

export interface GroPacket {
  frame: Uint8Array;
  /** Present for a superpacket of ≥ 2 segments. */
  gso?: GsoInfo;
  /** Segments in this packet. */
  segments: number;
}

export interface GroResult {
  packets: GroPacket[];
  /** One verdict per input frame, same order. */
  verdicts: GroVerdict[];
}

const NO_MERGE_FLAGS = TCP_FLAG_SYN | TCP_FLAG_RST | TCP_FLAG_URG | TCP_FLAG_CWR;
const END_FLAGS = TCP_FLAG_PSH | TCP_FLAG_FIN;

interface Item {
  first: Uint8Array;
  layout: FrameLayout;
  hdrEnd: number;
  payloads: Uint8Array[];
  payloadLen: number;
  segSize: number;
  nextSeq: number;
  lastIpId: number;
  endFlags: number;
  closed: boolean;
}

type Slot = { item: Item } | { frame: Uint8Array };

function flowKey(f: Uint8Array, l: FrameLayout): string {
  const a = l.l3Off + (l.ipVersion === 4 ? 12 : 8);
  const n = l.ipVersion === 4 ? 8 : 32;
  let k = l.ipVersion === 4 ? "4" : "6";
  for (let i = 0; i < n; i += 4) k += `.${get32(f, a + i)}`;
  return `${k}.${get32(f, l.l4Off)}`;
}

/** True when `f` may follow `it`'s last segment in one superpacket. */
function canAppend(it: Item, f: Uint8Array, l: FrameLayout, payloadLen: number, maxBytes: number): boolean {
  const a = it.first;
  const al = it.layout;
  if (it.closed || l.l4HeaderLen !== al.l4HeaderLen || l.l3Off !== al.l3Off) return false;
  const t = l.l4Off;
  const at = al.l4Off;
  if (get32(f, t + 4) !== it.nextSeq) return false;
  // ack number, data offset, flags (except PSH/FIN), window: one comparison of bytes 8..16.
  if (get32(f, t + 8) !== get32(a, at + 8) || get16(f, t + 14) !== get16(a, at + 14)) return false;
  if (f[t + 12] !== a[at + 12] || (f[t + 13]! & ~END_FLAGS) !== (a[at + 13]! & ~END_FLAGS)) return false;
  if (!bytesEqual(f, t + 20, a, at + 20, l.l4HeaderLen - 20)) return false;
  if (payloadLen > it.segSize) return false;
  const ip = l.l3Off;
  if (l.ipVersion === 4) {
    // TOS, DF/fragment word, TTL must match; ids consecutive.
    if (f[ip + 1] !== a[ip + 1] || get16(f, ip + 6) !== get16(a, ip + 6) || f[ip + 8] !== a[ip + 8]) return false;
    if (get16(f, ip + 4) !== ((it.lastIpId + 1) & 0xffff)) return false;
  } else if (get32(f, ip) !== get32(a, ip) || f[ip + 7] !== a[ip + 7]) {
    return false;
  }
  const l4Total = l.l4HeaderLen + it.payloadLen + payloadLen;
  const ipTotal = l.ipVersion === 4 ? l.l3Len + l4Total : l4Total;
  return ipTotal <= maxBytes && ipTotal <= GSO_MAX_SIZE;
}

function startItem(f: Uint8Array, l: FrameLayout, payloadLen: number): Item {
  const hdrEnd = l.l4Off + l.l4HeaderLen;
  const flags = f[l.l4Off + 13]!;
  return {
    first: f,
    layout: l,
    hdrEnd,
    payloads: [f.subarray(hdrEnd, l.ipEnd)],
    payloadLen,
    segSize: payloadLen,
    nextSeq: (get32(f, l.l4Off + 4) + payloadLen) >>> 0,
    lastIpId: l.ipVersion === 4 ? get16(f, l.l3Off + 4) : 0,
    endFlags: flags & END_FLAGS,
    closed: (flags & END_FLAGS) !== 0,
  };
}

/** Coalesces `frames` (in arrival order) into packets; frames that cannot merge pass through unchanged. */
export function groCoalesce(frames: readonly Uint8Array[], o: GroOptions): GroResult {
  const slots: Slot[] = [];
  const verdicts: GroVerdict[] = [];
  const open = new Map<string, Item>();
  const maxBytes = Math.min(o.maxBytes ?? GSO_MAX_SIZE, GSO_MAX_SIZE);
  const verify = o.verifyChecksums ?? true;
  for (const f of frames) {
    const p = parseFrame(f);
    if (!p.ok || p.layout.protocol !== IPPROTO_TCP) {
      slots.push({ frame: f });
      verdicts.push("not-tcp");
      continue;
    }
    const l = p.layout;
    const key = flowKey(f, l);
    // Anything unmergeable ends its flow's open item, so later segments cannot overtake it.
    const pass = (v: GroVerdict) => {
      const it = open.get(key);
      if (it) it.closed = true;
      slots.push({ frame: f });
      verdicts.push(v);
    };
    if (l.ipVersion === 4 ? !o.tso4 : !o.tso6) {
      pass("disabled");
      continue;
    }
    if (l.l3Len !== (l.ipVersion === 4 ? 20 : 40)) {
      pass("ip-options-or-ext");
      continue;
    }
    const payloadLen = l.ipEnd - l.l4Off - l.l4HeaderLen;
    if (payloadLen === 0) {
      pass("no-payload");
      continue;
    }
    if ((f[l.l4Off + 13]! & NO_MERGE_FLAGS) !== 0) {
      pass("flags");
      continue;
    }
    if (verify && !l4ChecksumValid(f, l)) {
      pass("bad-checksum");
      continue;
    }
    const it = open.get(key);
    if (it && canAppend(it, f, l, payloadLen, maxBytes)) {
      it.payloads.push(f.subarray(l.l4Off + l.l4HeaderLen, l.ipEnd));
      it.payloadLen += payloadLen;
      it.nextSeq = (it.nextSeq + payloadLen) >>> 0;
      it.lastIpId = l.ipVersion === 4 ? get16(f, l.l3Off + 4) : 0;
      it.endFlags = f[l.l4Off + 13]! & END_FLAGS;
      if (it.endFlags !== 0 || payloadLen < it.segSize) it.closed = true;
      verdicts.push("merged");
      continue;
    }
    const item = startItem(f, l, payloadLen);
    open.set(key, item);
    slots.push({ item });
    verdicts.push("flow-start");
  }
  return { packets: slots.map(finish), verdicts };
}

function finish(s: Slot): GroPacket {
  if ("frame" in s) return { frame: s.frame, segments: 1 };
  const it = s.item;
  if (it.payloads.length === 1) return { frame: it.first, segments: 1 };
  const l = it.layout;
  const out = new Uint8Array(it.hdrEnd + it.payloadLen);
  out.set(it.first.subarray(0, it.hdrEnd));
  let pos = it.hdrEnd;
  for (const p of it.payloads) {
    out.set(p, pos);
    pos += p.length;
  }
  const ip = l.l3Off;
  const l4Len = l.l4HeaderLen + it.payloadLen;
  if (l.ipVersion === 4) {
    set16(out, ip + 2, l.l3Len + l4Len);
    set16(out, ip + 10, 0);
    set16(out, ip + 10, internetChecksum(out, ip, l.l3Len));
  } else {
    set16(out, ip + 4, l4Len);
  }
  out[l.l4Off + 13] = (out[l.l4Off + 13]! & ~END_FLAGS) | it.endFlags;
  // NEEDS_CSUM: the field holds the folded pseudo-header sum over the superpacket's L4 length.
  set16(out, l.l4Off + TCP_CSUM_OFFSET, pseudoSumFor(out, l, l4Len));
  return {
    frame: out,
    segments: it.payloads.length,
    gso: {
      type: l.ipVersion === 4 ? GSO_TCPV4 : GSO_TCPV6,
      gsoSize: it.segSize,
      hdrLen: it.hdrEnd,
      needsCsum: true,
      csumStart: l.l4Off,
      csumOffset: TCP_CSUM_OFFSET,
    },
  };
}
