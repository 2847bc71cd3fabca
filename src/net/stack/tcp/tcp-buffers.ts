// The two byte stores of a TCP endpoint: the send queue (bytes from the uplink not yet acknowledged by the
// guest) and the out-of-order receive queue (guest bytes above rcv.nxt, kept for SACK and reassembly).
// Both are bounded by their callers' windows; neither copies more than once.

import { seqAdd, seqDiff, seqGt, seqLe, seqLt } from "./tcp-seq.ts";

/** A FIFO of byte chunks addressed by offset from its head (the head is snd.una). */
export class SendQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  /** Offset into chunks[head] of the first unacknowledged byte. */
  private headOff = 0;
  length = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Drops `n` acknowledged bytes from the head. */
  drop(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[this.head]!;
      const left = c.length - this.headOff;
      if (n < left) {
        this.headOff += n;
        return;
      }
      n -= left;
      this.head++;
      this.headOff = 0;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** Copies bytes [offset, offset+len) of the queue into dst at dstOff. */
  copy(dst: Uint8Array, dstOff: number, offset: number, len: number): void {
    let ci = this.head;
    let co = this.headOff + offset;
    while (ci < this.chunks.length && co >= this.chunks[ci]!.length) {
      co -= this.chunks[ci]!.length;
      ci++;
    }
    while (len > 0 && ci < this.chunks.length) {
      const c = this.chunks[ci]!;
      const n = Math.min(len, c.length - co);
      dst.set(c.subarray(co, co + n), dstOff);
      dstOff += n;
      len -= n;
      ci++;
      co = 0;
    }
  }
}

interface Piece {
  seq: number;
  data: Uint8Array;
}

/** Out-of-order segments above rcv.nxt, kept sorted and non-overlapping. */
export class Reassembly {
  private pieces: Piece[] = [];
  bytes = 0;
  /** The block holding the most recently received segment, reported first in SACK (RFC 2018 §4). */
  private lastSeq: number | undefined;

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  /** Stores payload at seq (already trimmed to the receive window and above rcvNxt). */
  insert(seq: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.lastSeq = seq;
    let s = seq;
    let d = data;
    const out: Piece[] = [];
    for (const p of this.pieces) {
      const pEnd = seqAdd(p.seq, p.data.length);
      const dEnd = seqAdd(s, d.length);
      if (d.length === 0 || seqLe(pEnd, s) || seqLe(dEnd, p.seq)) {
        out.push(p);
        continue;
      }
      // Overlap: keep the existing bytes, store only what is new on either side.
      if (seqLt(s, p.seq)) out.push({ seq: s, data: d.slice(0, seqDiff(p.seq, s)) });
      out.push(p);
      if (seqGt(dEnd, pEnd)) {
        d = d.subarray(seqDiff(pEnd, s));
        s = pEnd;
      } else d = d.subarray(d.length);
    }
    if (d.length > 0) out.push({ seq: s, data: d.slice() });
    out.sort((a, b) => seqDiff(a.seq, b.seq));
    this.pieces = out;
    this.bytes = out.reduce((n, p) => n + p.data.length, 0);
  }

  /** Removes and returns the bytes now contiguous with rcvNxt (trimming anything below it). */
  takeContiguous(rcvNxt: number): Uint8Array[] {
    const got: Uint8Array[] = [];
    let nxt = rcvNxt;
    while (this.pieces.length > 0) {
      const p = this.pieces[0]!;
      if (seqGt(p.seq, nxt)) break;
      this.pieces.shift();
      this.bytes -= p.data.length;
      const skip = seqDiff(nxt, p.seq);
      if (skip < p.data.length) {
        const d = p.data.subarray(skip);
        got.push(d);
        nxt = seqAdd(nxt, d.length);
      }
    }
    return got;
  }

  /** Up to `max` SACK blocks, the one with the latest arrival first. */
  sackBlocks(max: number): Array<[number, number]> {
    const blocks: Array<[number, number]> = [];
    for (const p of this.pieces) {
      const end = seqAdd(p.seq, p.data.length);
      const last = blocks[blocks.length - 1];
      if (last !== undefined && last[1] === p.seq) last[1] = end;
      else blocks.push([p.seq, end]);
    }
    const ls = this.lastSeq;
    if (ls !== undefined) {
      const i = blocks.findIndex(([l, r]) => seqLe(l, ls) && seqLt(ls, r));
      if (i > 0) blocks.unshift(...blocks.splice(i, 1));
    }
    return blocks.slice(0, max);
  }
}

/** The peer's SACK scoreboard: ranges above snd.una it reported holding. */
export class SackScoreboard {
  ranges: Array<[number, number]> = [];

  add(l: number, r: number, una: number, sndNxt: number): void {
    if (!seqLt(l, r) || seqLe(r, una) || seqGt(r, sndNxt)) return; // bogus or stale block
    if (seqLt(l, una)) l = una;
    const out: Array<[number, number]> = [];
    for (const [a, b] of this.ranges) {
      if (seqLt(b, l) || seqGt(a, r)) out.push([a, b]);
      else {
        if (seqLt(a, l)) l = a;
        if (seqGt(b, r)) r = b;
      }
    }
    out.push([l, r]);
    out.sort((x, y) => seqDiff(x[0], y[0]));
    this.ranges = out.slice(-32); // bounded: a hostile peer cannot grow it
  }

  /** Forget everything at or below una. */
  advance(una: number): void {
    this.ranges = this.ranges.filter(([, r]) => seqGt(r, una)).map(([l, r]) => [seqLt(l, una) ? una : l, r]);
  }

  /** If seq lies inside a SACKed range, the range's end; otherwise undefined. */
  sackedEnd(seq: number): number | undefined {
    for (const [l, r] of this.ranges) if (seqLe(l, seq) && seqLt(seq, r)) return r;
    return undefined;
  }

  /** Next SACKed range starting above seq (to bound a retransmission), or undefined. */
  nextStart(seq: number): number | undefined {
    for (const [l] of this.ranges) if (seqGt(l, seq)) return l;
    return undefined;
  }

  highest(): number | undefined {
    return this.ranges[this.ranges.length - 1]?.[1];
  }

  clear(): void {
    this.ranges = [];
  }
}
