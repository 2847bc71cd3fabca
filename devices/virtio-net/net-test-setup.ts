// Shared by the virtio-net device tests: a VirtioNet on a ChannelBackend behind a virtio-mmio transport,
// driven by the scripted driver (src/testing/virtio-driver.ts), plus helpers to send a packet with a
// virtio_net_hdr and a control command the way Linux 6.1 lays them out.

import { expect } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { type NetCapabilities, NO_OFFLOADS } from "../../src/net/backend.ts";
import { ChannelBackend } from "../../src/net/link/channel.ts";
import { MAC_B } from "../../src/testing/net-packets.ts";
import { type DriverQueue, MmioDriver } from "../../src/testing/virtio-driver.ts";
import { featureMask, VIRTIO_F_VERSION_1 } from "../virtio/features.ts";
import { VirtioMmioTransport } from "../virtio/mmio-transport.ts";
import { NET_FEATURE_BITS, parseNetFeatures } from "./net-features.ts";
import { encodeNetHdr, type NetHdr } from "./net-hdr.ts";
import { VirtioNet } from "./virtio-net.ts";

export const bit = (n: string): bigint => featureMask(NET_FEATURE_BITS[n]!);
/** virtio-mmio config space offset. */
export const MMIO_CONFIG = 0x100;

export interface NetSetupOptions {
  /** --net-features string applied to the default offer. */
  features?: string;
  /** Bits the driver accepts (VERSION_1 is always added); default: everything offered. */
  accept?: string[];
  caps?: NetCapabilities;
  pairs?: number;
  mtu?: number;
}

export function setup(o: NetSetupOptions = {}) {
  const mem = new GuestMemory(0x80000000, 8 << 20);
  const irq = new LevelIrq();
  const backend = new ChannelBackend(o.caps ?? NO_OFFLOADS);
  const offer = parseNetFeatures(o.features ?? "");
  if (!offer.ok) throw new Error(offer.error);
  const dev = new VirtioNet({
    backend,
    features: offer.features,
    queuePairs: o.pairs ?? 1,
    mac: MAC_B,
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
  });
  const drv = new MmioDriver(new VirtioMmioTransport(dev, mem, irq), mem);
  const want = o.accept ? o.accept.reduce((m, n) => m | bit(n), featureMask(VIRTIO_F_VERSION_1)) : offer.features;
  const ctrl = (want & bit("CTRL_VQ")) !== 0n;
  const pairs = (want & bit("MQ")) !== 0n ? dev.maxPairs : 1;
  const sizes = Array.from({ length: 2 * pairs }, () => 64);
  if (ctrl) sizes.push(16);
  expect(drv.init(want, sizes)).toBe(true);
  const rx = drv.queues[0]!;
  const tx = drv.queues[1]!;
  return { mem, irq, backend, dev, drv, rx, tx, ctrlIndex: 2 * pairs, ctrlq: ctrl ? drv.queues[2 * pairs] : undefined };
}

export function txPacket(tx: DriverQueue, hdr: Partial<NetHdr>, frame: Uint8Array) {
  const h = encodeNetHdr({
    flags: 0,
    gsoType: 0,
    hdrLen: 0,
    gsoSize: 0,
    csumStart: 0,
    csumOffset: 0,
    numBuffers: 0,
    ...hdr,
  });
  // Linux 6.1 puts the header and the linear part in separate descriptors.
  return tx.add([{ read: h }, { read: frame }]);
}

export function ctrlCmd(q: DriverQueue, cls: number, cmd: number, data: number[]) {
  return q.add([{ read: Uint8Array.of(cls, cmd) }, { read: Uint8Array.from(data) }, { write: 1 }]);
}

/** Sends one control command, kicks, and returns the device's ack byte (0 OK, 1 ERR). */
export function ctrlSend(
  s: { drv: MmioDriver; ctrlq: DriverQueue | undefined; ctrlIndex: number },
  cls: number,
  cmd: number,
  data: number[],
): number {
  const q = s.ctrlq!;
  const c = ctrlCmd(q, cls, cmd, data);
  s.drv.kick(s.ctrlIndex);
  expect(q.takeUsed().map((u) => u.len)).toEqual([1]);
  return q.written(c, 2)[0]!;
}
