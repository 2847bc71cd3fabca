// Guest RAM: one ArrayBuffer (a WebAssembly.Memory buffer once the JIT lands) shared by the hart's
// fast path and every device. Devices reach it only through slice()/read*/write*, which bounds-check
// guest-physical addresses that come from guest-controlled structures (DESIGN.md §3, §6).

export class GuestMemoryError extends Error {
  constructor(
    readonly gpa: number,
    readonly len: number,
    reason = "outside guest RAM",
  ) {
    super(`guest memory access ${reason}: gpa=0x${gpa.toString(16)} len=${len}`);
    this.name = "GuestMemoryError";
  }
}

/** Called when a device writes guest RAM by DMA, so the hart can drop LR reservations and decoded code. */
export type DmaWriteListener = (gpa: number, len: number) => void;

export class GuestMemory {
  readonly base: number;
  readonly size: number;
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly view: DataView;
  private dmaListeners: DmaWriteListener[] = [];

  /**
   * RAM at address 0 of a WebAssembly.Memory with `extra` bytes after it (the hart's JIT-visible
   * state, cpu/state.ts AUX) when the host has WebAssembly and the total fits in 4 GiB; a plain
   * ArrayBuffer of `size` otherwise. `wasmMemory` says which.
   */
  static withExtra(base: number, size: number, extra: number): GuestMemory {
    const total = size + extra;
    if (typeof WebAssembly === "object" && total <= 0x1_0000_0000 - 65536) {
      try {
        const pages = Math.ceil(total / 65536);
        const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
        const m = new GuestMemory(base, size, memory.buffer);
        m.wasmMemory = memory;
        return m;
      } catch {
        // Too big for this host's wasm memory: fall through to a plain buffer.
      }
    }
    return new GuestMemory(base, size);
  }

  /** The WebAssembly.Memory whose buffer this is (withExtra), if any. */
  wasmMemory: WebAssembly.Memory | undefined;

  constructor(base: number, size: number, buffer?: ArrayBuffer) {
    if (size <= 0 || size % 4096 !== 0) throw new RangeError(`guest RAM size must be a positive multiple of 4096`);
    this.base = base;
    this.size = size;
    try {
      this.buffer = buffer ?? new ArrayBuffer(size);
      if (this.buffer.byteLength < size) throw new RangeError("buffer smaller than guest RAM");
      this.u8 = new Uint8Array(this.buffer, 0, size);
      this.i32 = new Int32Array(this.buffer, 0, size >>> 2);
      this.view = new DataView(this.buffer, 0, size);
    } catch (e) {
      // A host limit (typed arrays of at most 4 GiB in Node 20, less in some browsers): say so plainly.
      throw new RangeError(
        `${size / 1048576} MiB of guest RAM are more than this host can hold (${(e as Error).message})`,
      );
    }
  }

  /** True when [gpa, gpa+len) lies wholly in RAM. */
  contains(gpa: number, len: number): boolean {
    return Number.isFinite(gpa) && len >= 0 && gpa >= this.base && gpa + len <= this.base + this.size;
  }

  private offset(gpa: number, len: number): number {
    if (!this.contains(gpa, len)) throw new GuestMemoryError(gpa, len);
    return gpa - this.base;
  }

  /** A zero-copy view of guest RAM; throws GuestMemoryError when any byte is outside RAM. */
  slice(gpa: number, len: number): Uint8Array {
    const off = this.offset(gpa, len);
    return this.u8.subarray(off, off + len);
  }

  readU8(gpa: number): number {
    return this.u8[this.offset(gpa, 1)];
  }
  readU16(gpa: number): number {
    return this.view.getUint16(this.offset(gpa, 2), true);
  }
  readU32(gpa: number): number {
    return this.view.getUint32(this.offset(gpa, 4), true);
  }
  /** A 64-bit value as a JS number; exact up to 2^53, which covers every guest-physical address we model. */
  readU64(gpa: number): number {
    const off = this.offset(gpa, 8);
    return this.view.getUint32(off + 4, true) * 4294967296 + this.view.getUint32(off, true);
  }
  readBigU64(gpa: number): bigint {
    return this.view.getBigUint64(this.offset(gpa, 8), true);
  }

  writeU8(gpa: number, v: number): void {
    this.u8[this.offset(gpa, 1)] = v;
    this.notifyDma(gpa, 1);
  }
  writeU16(gpa: number, v: number): void {
    this.view.setUint16(this.offset(gpa, 2), v, true);
    this.notifyDma(gpa, 2);
  }
  writeU32(gpa: number, v: number): void {
    this.view.setUint32(this.offset(gpa, 4), v >>> 0, true);
    this.notifyDma(gpa, 4);
  }
  writeU64(gpa: number, v: number): void {
    const off = this.offset(gpa, 8);
    this.view.setUint32(off, (v % 4294967296) >>> 0, true);
    this.view.setUint32(off + 4, Math.floor(v / 4294967296) >>> 0, true);
    this.notifyDma(gpa, 8);
  }
  /** Copies bytes into guest RAM (device DMA or the loader). */
  write(gpa: number, data: Uint8Array): void {
    const off = this.offset(gpa, data.length);
    this.u8.set(data, off);
    this.notifyDma(gpa, data.length);
  }

  onDmaWrite(listener: DmaWriteListener): void {
    this.dmaListeners.push(listener);
  }
  /** Devices that write through slice() views call this so the hart sees the change. */
  notifyDma(gpa: number, len: number): void {
    for (const l of this.dmaListeners) l(gpa, len);
  }
}
