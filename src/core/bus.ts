// The physical address space outside RAM: devices answer (offset, size) reads and writes. A device
// never sees an absolute address, a hart, or a PLIC — only its own registers (STYLE.md, TinyEMU).

/** A memory-mapped device. size is 1, 2 or 4; 8-byte accesses are split by the Bus into two 4-byte ones (low first). */
export interface MmioDevice {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

export interface MmioRegion {
  readonly base: number;
  readonly size: number;
  readonly name: string;
  readonly device: MmioDevice;
}

export class Bus {
  private regions: MmioRegion[] = [];
  private last: MmioRegion | undefined;

  map(base: number, size: number, device: MmioDevice, name: string): void {
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) {
        throw new Error(`MMIO region ${name} @0x${base.toString(16)} overlaps ${r.name}`);
      }
    }
    this.regions.push({ base, size, device, name });
    this.regions.sort((a, b) => a.base - b.base);
  }

  find(addr: number): MmioRegion | undefined {
    const l = this.last;
    if (l !== undefined && addr >= l.base && addr < l.base + l.size) return l;
    for (const r of this.regions) {
      if (addr >= r.base && addr < r.base + r.size) {
        this.last = r;
        return r;
      }
    }
    return undefined;
  }

  list(): readonly MmioRegion[] {
    return this.regions;
  }

  /** Returns undefined for an unmapped address so the hart can raise an access fault. */
  read(addr: number, size: 1 | 2 | 4 | 8): number | undefined {
    const r = this.find(addr);
    if (r === undefined || addr + size > r.base + r.size) return undefined;
    const off = addr - r.base;
    if (size === 8) {
      const lo = r.device.read(off, 4) >>> 0;
      const hi = r.device.read(off + 4, 4) >>> 0;
      return hi * 4294967296 + lo;
    }
    return r.device.read(off, size);
  }

  /** Reads an 8-byte value as two 32-bit halves (no 2^53 limit). */
  read64(addr: number): [number, number] | undefined {
    const r = this.find(addr);
    if (r === undefined || addr + 8 > r.base + r.size) return undefined;
    const off = addr - r.base;
    return [r.device.read(off, 4) | 0, r.device.read(off + 4, 4) | 0];
  }

  /** Returns false for an unmapped address. For size 8, value is the low half and hi the high half. */
  write(addr: number, size: 1 | 2 | 4 | 8, value: number, hi = 0): boolean {
    const r = this.find(addr);
    if (r === undefined || addr + size > r.base + r.size) return false;
    const off = addr - r.base;
    if (size === 8) {
      r.device.write(off, 4, value >>> 0);
      r.device.write(off + 4, 4, hi >>> 0);
    } else {
      r.device.write(off, size, value);
    }
    return true;
  }
}
