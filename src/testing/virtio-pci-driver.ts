// A fake guest for virtio-pci tests: it enumerates bus 0 through ECAM, sizes and assigns BARs the way
// Linux's PCI core does, walks the vendor capabilities like virtio_pci_modern_dev.c's vp_modern_probe(),
// and drives the common config / notify / ISR structures like virtio_pci_modern.c, all through a real
// Bus so accesses go ECAM → PciHost → function and window → BAR → transport, as the hart's would.

import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_ID_VNDR,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_NUM_BARS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
} from "../../devices/pci-host/pci-regs.ts";
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
} from "../../devices/virtio/features.ts";
import {
  VIRTIO_PCI_CAP_BAR,
  VIRTIO_PCI_CAP_CFG_TYPE,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_LENGTH,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_OFFSET,
  VIRTIO_PCI_COMMON_DF,
  VIRTIO_PCI_COMMON_DFSELECT,
  VIRTIO_PCI_COMMON_GF,
  VIRTIO_PCI_COMMON_GFSELECT,
  VIRTIO_PCI_COMMON_Q_AVAILHI,
  VIRTIO_PCI_COMMON_Q_AVAILLO,
  VIRTIO_PCI_COMMON_Q_DESCHI,
  VIRTIO_PCI_COMMON_Q_DESCLO,
  VIRTIO_PCI_COMMON_Q_ENABLE,
  VIRTIO_PCI_COMMON_Q_NOFF,
  VIRTIO_PCI_COMMON_Q_SELECT,
  VIRTIO_PCI_COMMON_Q_SIZE,
  VIRTIO_PCI_COMMON_Q_USEDHI,
  VIRTIO_PCI_COMMON_Q_USEDLO,
  VIRTIO_PCI_COMMON_STATUS,
  VIRTIO_PCI_NOTIFY_CAP_MULT,
} from "../../devices/virtio/pci-transport.ts";
import type { Bus } from "../core/bus.ts";
import type { GuestMemory } from "../core/guest-memory.ts";
import { DriverQueue, GuestAllocator } from "./virtio-driver.ts";

/** sizeof(struct virtio_pci_common_cfg) in Linux 6.1: what vp_modern_probe maps at least. */
const LINUX_COMMON_CFG_MINLEN = 0x38;
/** Linux's virtio_pci_find_capability loop bound (PCI_FIND_CAP_TTL). */
const PCI_FIND_CAP_TTL = 48;

export interface FoundCap {
  /** Config-space offset of the capability. */
  pos: number;
  bar: number;
  offset: number;
  length: number;
}

export interface AssignedBar {
  index: number;
  base: number;
  size: number;
  is64: boolean;
}

/** One function on bus 0 seen through ECAM on a Bus. */
export class PciConfigAccess {
  constructor(
    readonly bus: Bus,
    readonly ecamBase: number,
    readonly slot: number,
    readonly func = 0,
  ) {}
  private addr(reg: number): number {
    return this.ecamBase + ((this.slot << 15) | (this.func << 12) | reg);
  }
  r8(reg: number): number {
    return (this.bus.read(this.addr(reg), 1) ?? 0xff) & 0xff;
  }
  r16(reg: number): number {
    return (this.bus.read(this.addr(reg), 2) ?? 0xffff) & 0xffff;
  }
  r32(reg: number): number {
    return (this.bus.read(this.addr(reg), 4) ?? 0xffffffff) >>> 0;
  }
  w8(reg: number, v: number): void {
    this.bus.write(this.addr(reg), 1, v & 0xff);
  }
  w16(reg: number, v: number): void {
    this.bus.write(this.addr(reg), 2, v & 0xffff);
  }
  w32(reg: number, v: number): void {
    this.bus.write(this.addr(reg), 4, v >>> 0);
  }

  /** pci_find_capability / pci_find_next_capability: every capability of `id`, in list order. */
  findCapabilities(id: number): number[] {
    if ((this.r16(PCI_STATUS) & PCI_STATUS_CAP_LIST) === 0) return [];
    const out: number[] = [];
    let pos = this.r8(PCI_CAPABILITY_LIST);
    for (let ttl = PCI_FIND_CAP_TTL; ttl > 0 && pos >= 0x40; ttl--) {
      pos &= ~3;
      if (this.r8(pos) === id) out.push(pos);
      pos = this.r8(pos + PCI_CAP_LIST_NEXT);
    }
    return out;
  }

  /**
   * __pci_read_base for every BAR, then an assignment like pci_bus_assign_resources: 64-bit BARs from
   * `mem64`, 32-bit ones from `mem32`, each aligned to its size. Decode is off while sizing, on after
   * (memory space + bus master, as pci_enable_device + pci_set_master leave it).
   */
  sizeAndAssign(mem32: { next: number }, mem64: { next: number }): AssignedBar[] {
    this.w16(PCI_COMMAND, 0);
    const bars: AssignedBar[] = [];
    for (let i = 0; i < PCI_NUM_BARS; i++) {
      const reg = PCI_BASE_ADDRESS_0 + 4 * i;
      const orig = this.r32(reg);
      this.w32(reg, 0xffffffff);
      const lo = this.r32(reg);
      this.w32(reg, orig);
      if (lo === 0 || (lo & PCI_BASE_ADDRESS_SPACE_IO) !== 0) continue;
      const is64 = (lo & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64;
      let size: number;
      if (is64) {
        const origHi = this.r32(reg + 4);
        this.w32(reg + 4, 0xffffffff);
        const hi = this.r32(reg + 4);
        this.w32(reg + 4, origHi);
        const mask = hi * 4294967296 + ((lo & ~0xf) >>> 0);
        size = 2 ** 64 - mask;
      } else {
        size = 2 ** 32 - ((lo & ~0xf) >>> 0);
      }
      const pool = is64 ? mem64 : mem32;
      const base = Math.ceil(pool.next / size) * size;
      pool.next = base + size;
      this.w32(reg, base >>> 0);
      if (is64) this.w32(reg + 4, Math.floor(base / 4294967296));
      bars.push({ index: i, base, size, is64 });
      if (is64) i++;
    }
    this.w16(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    return bars;
  }
}

/** Linux's modern virtio-pci driver against one function (probe, negotiation, queues, kicks, ISR). */
export class VirtioPciDriver {
  readonly queues: DriverQueue[] = [];
  readonly caps: { common: FoundCap; isr: FoundCap; notify: FoundCap; device: FoundCap | undefined };
  readonly notifyMultiplier: number;
  private readonly barBase = new Map<number, number>();

  constructor(
    readonly cfg: PciConfigAccess,
    readonly bars: AssignedBar[],
    readonly mem: GuestMemory,
    readonly alloc: GuestAllocator = new GuestAllocator(mem),
  ) {
    for (const b of bars) this.barBase.set(b.index, b.base);
    const find = (type: number): FoundCap | undefined => {
      // virtio_pci_find_capability: first vendor cap of this type whose BAR exists and has a length.
      for (const pos of cfg.findCapabilities(PCI_CAP_ID_VNDR)) {
        const bar = cfg.r8(pos + VIRTIO_PCI_CAP_BAR);
        if (bar > 5) continue;
        if (cfg.r8(pos + VIRTIO_PCI_CAP_CFG_TYPE) !== type || !this.barBase.has(bar)) continue;
        return {
          pos,
          bar,
          offset: cfg.r32(pos + VIRTIO_PCI_CAP_OFFSET),
          length: cfg.r32(pos + VIRTIO_PCI_CAP_LENGTH),
        };
      }
      return undefined;
    };
    const common = find(VIRTIO_PCI_CAP_COMMON_CFG);
    const isr = find(VIRTIO_PCI_CAP_ISR_CFG);
    const notify = find(VIRTIO_PCI_CAP_NOTIFY_CFG);
    if (common === undefined) throw new Error("virtio_pci: leaving for legacy driver");
    if (isr === undefined || notify === undefined) throw new Error("virtio_pci: missing capabilities");
    // vp_modern_map_capability's checks.
    this.checkMap(common, LINUX_COMMON_CFG_MINLEN, 4);
    this.checkMap(isr, 1, 1);
    this.checkMap(notify, 2, 2);
    const device = find(VIRTIO_PCI_CAP_DEVICE_CFG);
    if (device !== undefined) this.checkMap(device, 0, 4);
    this.caps = { common, isr, notify, device };
    this.notifyMultiplier = cfg.r32(notify.pos + VIRTIO_PCI_NOTIFY_CAP_MULT);
  }

  private checkMap(cap: FoundCap, minlen: number, align: number): void {
    const bar = this.bars.find((b) => b.index === cap.bar);
    if (cap.length < minlen || cap.length === 0) throw new Error(`bad capability len ${cap.length}`);
    if (cap.offset % align !== 0) throw new Error(`offset ${cap.offset} not aligned to ${align}`);
    if (bar === undefined || cap.offset + minlen > bar.size) throw new Error("map out of range on bar");
  }

  private at(cap: FoundCap, off: number): number {
    return this.barBase.get(cap.bar)! + cap.offset + off;
  }
  private get bus(): Bus {
    return this.cfg.bus;
  }

  common8(off: number): number {
    return (this.bus.read(this.at(this.caps.common, off), 1) ?? 0) & 0xff;
  }
  common16(off: number): number {
    return (this.bus.read(this.at(this.caps.common, off), 2) ?? 0) & 0xffff;
  }
  common32(off: number): number {
    return (this.bus.read(this.at(this.caps.common, off), 4) ?? 0) >>> 0;
  }
  setCommon(off: number, size: 1 | 2 | 4, v: number): void {
    this.bus.write(this.at(this.caps.common, off), size, v >>> 0);
  }

  status(): number {
    return this.common8(VIRTIO_PCI_COMMON_STATUS);
  }
  setStatus(v: number): void {
    this.setCommon(VIRTIO_PCI_COMMON_STATUS, 1, v);
  }

  /** vp_reset: write 0, then poll until it reads 0. */
  reset(): void {
    this.setStatus(0);
    for (let i = 0; i < 100 && this.status() !== 0; i++);
    if (this.status() !== 0) throw new Error("device did not reset");
  }

  deviceFeatures(): bigint {
    this.setCommon(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    const lo = BigInt(this.common32(VIRTIO_PCI_COMMON_DF));
    this.setCommon(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    const hi = BigInt(this.common32(VIRTIO_PCI_COMMON_DF));
    return (hi << 32n) | lo;
  }

  writeDriverFeatures(f: bigint): void {
    this.setCommon(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    this.setCommon(VIRTIO_PCI_COMMON_GF, 4, Number(f & 0xffffffffn));
    this.setCommon(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    this.setCommon(VIRTIO_PCI_COMMON_GF, 4, Number((f >> 32n) & 0xffffffffn));
  }

  /** Reset, ACK, DRIVER, negotiate, FEATURES_OK (false if refused), queues, enable all, DRIVER_OK. */
  init(wanted: bigint, queueSizes: number[]): boolean {
    this.reset();
    this.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE);
    this.setStatus(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    this.writeDriverFeatures(this.deviceFeatures() & wanted);
    let s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK;
    this.setStatus(s);
    if ((this.status() & VIRTIO_CONFIG_S_FEATURES_OK) === 0) return false;
    queueSizes.forEach((size, i) => {
      this.setupQueue(i, size);
    });
    // find_vqs enables every queue at the end, still before DRIVER_OK.
    queueSizes.forEach((_, i) => {
      this.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, i);
      this.setCommon(VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    });
    s |= VIRTIO_CONFIG_S_DRIVER_OK;
    this.setStatus(s);
    return true;
  }

  /** virtio_pci_modern.c setup_vq (without the enable). */
  setupQueue(i: number, size: number): DriverQueue {
    this.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, i);
    const max = this.common16(VIRTIO_PCI_COMMON_Q_SIZE);
    if (max === 0 || this.common16(VIRTIO_PCI_COMMON_Q_ENABLE) !== 0) throw new Error(`queue ${i}: ENOENT`);
    if ((max & (max - 1)) !== 0) throw new Error(`queue ${i}: bad queue size ${max}`);
    const q = new DriverQueue(this.mem, this.alloc, Math.min(size, max));
    this.setCommon(VIRTIO_PCI_COMMON_Q_SIZE, 2, q.size);
    const two = (lo: number, hi: number, v: number) => {
      this.setCommon(lo, 4, v >>> 0);
      this.setCommon(hi, 4, Math.floor(v / 4294967296));
    };
    two(VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_DESCHI, q.descAddr);
    two(VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_AVAILHI, q.availAddr);
    two(VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_Q_USEDHI, q.usedAddr);
    const off = this.common16(VIRTIO_PCI_COMMON_Q_NOFF);
    if (off * this.notifyMultiplier + 2 > this.caps.notify.length) throw new Error("notify offset out of range");
    this.queues[i] = q;
    return q;
  }

  /** vp_notify: a 16-bit write of the queue index at its notify address. */
  kick(i: number): void {
    this.setCommon(VIRTIO_PCI_COMMON_Q_SELECT, 2, i);
    const off = this.common16(VIRTIO_PCI_COMMON_Q_NOFF);
    this.bus.write(this.at(this.caps.notify, off * this.notifyMultiplier), 2, i);
  }

  /** vp_interrupt's first step: read (and thereby clear) the ISR byte. */
  readIsr(): number {
    return (this.bus.read(this.at(this.caps.isr, 0), 1) ?? 0) & 0xff;
  }

  deviceConfig(off: number, size: 1 | 2 | 4): number {
    if (this.caps.device === undefined) return 0;
    return (this.bus.read(this.at(this.caps.device, off), size) ?? 0) >>> 0;
  }
}
