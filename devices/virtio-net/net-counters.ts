// Counters of the virtio-net device for the UI (per pair and device-wide): packets and bytes each way,
// superpackets, GSO splits, GRO merges, checksums completed, and drops by reason.

export type NetDropReason =
  | "tx-runt"
  | "tx-oversize"
  | "tx-gso-not-negotiated"
  | "tx-ecn-not-negotiated"
  | "tx-bad-gso"
  | "tx-bad-csum-offsets"
  | "tx-link-down"
  | "tx-backend-full"
  | "rx-not-ready"
  | "rx-link-down"
  | "rx-filtered"
  | "rx-runt"
  | "rx-oversize"
  | "rx-bad-gso"
  | "rx-bad-csum-offsets"
  | "rx-bad-buffer"
  | "rx-buffer-too-small"
  | "rx-reset";

export class NetCounters {
  txPackets = 0;
  txBytes = 0;
  rxPackets = 0;
  rxBytes = 0;
  /** Superpackets from the driver passed to the backend whole. */
  txSuperpackets = 0;
  /** Superpackets handed to the driver (from the backend or built by GRO). */
  rxSuperpackets = 0;
  /** Superpackets cut into frames (either direction) and the frames that produced. */
  gsoSplits = 0;
  gsoSplitFrames = 0;
  /** Superpackets GRO built and the segments merged into them. */
  groSuperpackets = 0;
  groMerged = 0;
  checksumsCompleted = 0;
  /** Times the backend said "not now" (tx) / the device refused a frame from the backend (rx). */
  txBackpressure = 0;
  rxBackpressure = 0;
  readonly drops: Partial<Record<NetDropReason, number>> = {};
  /** Per queue pair. */
  readonly pairTx: number[];
  readonly pairRx: number[];

  constructor(pairs: number) {
    this.pairTx = new Array<number>(pairs).fill(0);
    this.pairRx = new Array<number>(pairs).fill(0);
  }

  drop(reason: NetDropReason): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  get totalDrops(): number {
    let n = 0;
    for (const v of Object.values(this.drops)) n += v ?? 0;
    return n;
  }

  /** A flat record for VirtioDevice.snapshot(). */
  flat(): Record<string, number> {
    const out: Record<string, number> = {
      txPackets: this.txPackets,
      txBytes: this.txBytes,
      rxPackets: this.rxPackets,
      rxBytes: this.rxBytes,
      txSuperpackets: this.txSuperpackets,
      rxSuperpackets: this.rxSuperpackets,
      gsoSplits: this.gsoSplits,
      gsoSplitFrames: this.gsoSplitFrames,
      groSuperpackets: this.groSuperpackets,
      groMerged: this.groMerged,
      checksumsCompleted: this.checksumsCompleted,
      txBackpressure: this.txBackpressure,
      rxBackpressure: this.rxBackpressure,
      drops: this.totalDrops,
    };
    for (const [k, v] of Object.entries(this.drops)) out[`drop:${k}`] = v ?? 0;
    this.pairTx.forEach((v, i) => {
      out[`pair${i}:tx`] = v;
      out[`pair${i}:rx`] = this.pairRx[i]!;
    });
    return out;
  }
}
