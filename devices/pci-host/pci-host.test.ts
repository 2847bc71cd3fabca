import { describe, expect, it } from "vitest";
import type { MmioDevice } from "../../src/core/bus.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { PciFunction } from "./pci-function.ts";
import { PciHost, pciSwizzle } from "./pci-host.ts";
import {
  PCI_BASE_ADDRESS_0,
  PCI_CAPABILITY_LIST,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from "./pci-regs.ts";

/** A BAR target that records accesses and answers offset + 0x1000 · size. */
class Probe implements MmioDevice {
  writes: [number, number, number][] = [];
  read(offset: number, size: 1 | 2 | 4): number {
    return offset + 0x1000 * size;
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.writes.push([offset, size, value]);
  }
}

const ecamAddr = (bus: number, slot: number, fn: number, reg: number) =>
  bus * 2 ** 20 + ((slot << 15) | (fn << 12) | reg);

function setup() {
  const lines = [0, 1, 2, 3].map(() => new LevelIrq());
  const host = new PciHost({ intx: lines });
  const mem32 = host.memoryWindow(0x40000000, 0x40000000);
  const mem64 = host.memoryWindow(0x4_0000_0000, 0x4_0000_0000);
  const io = host.ioWindow(0x10000);
  const cfg = {
    r: (slot: number, reg: number, size: 1 | 2 | 4 = 4) => host.ecam.read(ecamAddr(0, slot, 0, reg), size) >>> 0,
    w: (slot: number, reg: number, v: number, size: 1 | 2 | 4 = 4) =>
      host.ecam.write(ecamAddr(0, slot, 0, reg), size, v),
  };
  return { lines, host, mem32, mem64, io, cfg };
}

function testFunction(pin = 1) {
  return new PciFunction({ vendorId: 0x1af4, deviceId: 0x1044, classCode: 0x00ff00, revision: 1, interruptPin: pin });
}

describe("ECAM decode", () => {
  it("presents QEMU's gpex host bridge at 00:00.0", () => {
    const { cfg } = setup();
    expect(cfg.r(0, PCI_VENDOR_ID, 2)).toBe(0x1b36);
    expect(cfg.r(0, PCI_DEVICE_ID, 2)).toBe(0x0008);
    expect(cfg.r(0, PCI_REVISION_ID) >>> 8).toBe(0x060000);
    expect(cfg.r(0, PCI_HEADER_TYPE, 1)).toBe(0);
    expect(cfg.r(0, PCI_INTERRUPT_PIN, 1)).toBe(0);
    expect(cfg.r(0, PCI_SUBSYSTEM_VENDOR_ID, 2)).toBe(0x1af4);
    expect(cfg.r(0, PCI_SUBSYSTEM_ID, 2)).toBe(0x1100);
  });

  it("reads all-ones for empty slots, other functions and other buses", () => {
    const { host, cfg } = setup();
    expect(cfg.r(5, 0)).toBe(0xffffffff);
    expect(host.ecam.read(ecamAddr(0, 0, 1, 0), 2)).toBe(0xffff);
    expect(host.ecam.read(ecamAddr(1, 0, 0, 0), 4) >>> 0).toBe(0xffffffff);
    expect(host.ecam.read(ecamAddr(255, 31, 7, 0xffc), 1)).toBe(0xff);
    host.ecam.write(ecamAddr(3, 1, 0, PCI_COMMAND), 2, 0xffff); // vanishes
  });

  it("addresses bus << 20 | dev << 15 | fn << 12 | reg", () => {
    const { host, cfg } = setup();
    host.attach(3, testFunction());
    expect(cfg.r(3, 0)).toBe(0x10441af4);
    expect(cfg.r(3, PCI_VENDOR_ID + 1, 1)).toBe(0x1a);
    expect(cfg.r(3, PCI_DEVICE_ID, 2)).toBe(0x1044);
    expect(cfg.r(3, PCI_CLASS_PROG, 1)).toBe(0);
    expect(cfg.r(3, PCI_REVISION_ID, 1)).toBe(1);
  });

  it("reads 0 past the 256-byte conventional space (no extended capabilities)", () => {
    const { host, cfg } = setup();
    host.attach(1, testFunction());
    expect(cfg.r(1, 0x100)).toBe(0);
    expect(cfg.r(1, 0xffc)).toBe(0);
    expect(cfg.r(1, 0xfe, 4)).toBe(0); // straddles the end of the 256 bytes
  });
});

describe("config space fields", () => {
  it("ignores writes to read-only fields", () => {
    const { host, cfg } = setup();
    host.attach(1, testFunction());
    const before = [0, 4, 8, 0x0c, 0x2c, 0x34, 0x3c].map((r) => cfg.r(1, r));
    for (const r of [PCI_VENDOR_ID, PCI_REVISION_ID, PCI_SUBSYSTEM_VENDOR_ID, PCI_CAPABILITY_LIST]) {
      cfg.w(1, r, 0xdeadbeef);
    }
    expect(cfg.r(1, 0)).toBe(before[0]);
    expect(cfg.r(1, 8)).toBe(before[2]);
    expect(cfg.r(1, 0x2c)).toBe(before[4]);
    expect(cfg.r(1, 0x34)).toBe(before[5]);
    expect(cfg.r(1, PCI_INTERRUPT_PIN, 1)).toBe(1);
  });

  it("keeps the writable command bits and the interrupt line", () => {
    const { host, cfg } = setup();
    host.attach(1, testFunction());
    cfg.w(1, PCI_COMMAND, 0xffff, 2);
    expect(cfg.r(1, PCI_COMMAND, 2)).toBe(0x547); // IO MEM MASTER PARITY SERR INTX_DISABLE
    cfg.w(1, PCI_INTERRUPT_LINE, 0x21, 1);
    expect(cfg.r(1, PCI_INTERRUPT_LINE, 1)).toBe(0x21);
    expect(cfg.r(1, PCI_INTERRUPT_PIN, 1)).toBe(1);
  });

  it("links capabilities from 0x34 on dword boundaries and sets the status bit", () => {
    const fn = testFunction();
    expect(fn.readConfig(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST).toBe(0);
    const a = fn.addCapability(0x09, 16);
    const b = fn.addCapability(0x09, 19);
    const c = fn.addCapability(0x05, 10);
    expect([a, b, c]).toEqual([0x40, 0x50, 0x64]);
    expect(fn.readConfig(PCI_CAPABILITY_LIST, 1)).toBe(0x40);
    expect(fn.readConfig(a + 1, 1)).toBe(b);
    expect(fn.readConfig(b + 1, 1)).toBe(c);
    expect(fn.readConfig(c + 1, 1)).toBe(0);
    expect(fn.readConfig(c, 1)).toBe(0x05);
    expect(fn.readConfig(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST).toBe(PCI_STATUS_CAP_LIST);
    expect(() => fn.addCapability(0x09, 200)).toThrow(RangeError);
  });
});

describe("BARs", () => {
  it("sizes a 32-bit memory BAR: all-ones reads back ~(size - 1) with the type bits", () => {
    const fn = testFunction();
    fn.defineBar(0, { kind: "mem32", size: 0x1000, device: new Probe() });
    expect(fn.readConfig(PCI_BASE_ADDRESS_0, 4)).toBe(0);
    fn.writeConfig(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
    expect(fn.readConfig(PCI_BASE_ADDRESS_0, 4)).toBe(0xfffff000);
    fn.writeConfig(PCI_BASE_ADDRESS_0, 4, 0x40001234);
    expect(fn.readConfig(PCI_BASE_ADDRESS_0, 4)).toBe(0x40001000);
  });

  it("sizes a 64-bit prefetchable BAR across two slots", () => {
    const fn = testFunction();
    fn.defineBar(4, { kind: "mem64", size: 0x4000, prefetchable: true, device: new Probe() });
    const lo = PCI_BASE_ADDRESS_0 + 16;
    expect(fn.readConfig(lo, 4)).toBe(0xc); // 64-bit | prefetchable
    fn.writeConfig(lo, 4, 0xffffffff);
    fn.writeConfig(lo + 4, 4, 0xffffffff);
    expect(fn.readConfig(lo, 4)).toBe(0xffffc00c);
    expect(fn.readConfig(lo + 4, 4)).toBe(0xffffffff);
    fn.writeConfig(lo, 4, 0);
    fn.writeConfig(lo + 4, 4, 4);
    expect(fn.readConfig(lo, 4)).toBe(0xc);
    expect(fn.readConfig(lo + 4, 4)).toBe(4);
  });

  it("sizes an I/O BAR and leaves unused BARs reading 0 after sizing", () => {
    const fn = testFunction();
    fn.defineBar(1, { kind: "io", size: 0x20, device: new Probe() });
    for (let i = 0; i < 6; i++) fn.writeConfig(PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
    expect(fn.readConfig(PCI_BASE_ADDRESS_0 + 4, 4)).toBe(0xffffffe1);
    for (const i of [0, 2, 3, 4, 5]) expect(fn.readConfig(PCI_BASE_ADDRESS_0 + 4 * i, 4)).toBe(0);
  });

  it("rejects impossible BAR declarations (wiring bugs)", () => {
    const fn = testFunction();
    const device = new Probe();
    expect(() => fn.defineBar(5, { kind: "mem64", size: 0x1000, device })).toThrow(RangeError);
    expect(() => fn.defineBar(0, { kind: "mem32", size: 0x1800, device })).toThrow(RangeError);
    expect(() => fn.defineBar(0, { kind: "mem32", size: 8, device })).toThrow(RangeError);
    fn.defineBar(0, { kind: "mem64", size: 0x1000, device });
    expect(() => fn.defineBar(0, { kind: "mem32", size: 0x1000, device })).toThrow(RangeError);
  });

  it("decodes an assigned 32-bit BAR through the window only while memory space is enabled", () => {
    const { host, mem32, cfg } = setup();
    const fn = testFunction();
    const probe = new Probe();
    fn.defineBar(0, { kind: "mem32", size: 0x1000, device: probe });
    host.attach(1, fn);
    cfg.w(1, PCI_BASE_ADDRESS_0, 0x40002000);
    expect(mem32.read(0x2010, 4) >>> 0).toBe(0xffffffff); // memory decode still off
    cfg.w(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    expect(mem32.read(0x2010, 4)).toBe(0x4010);
    expect(mem32.read(0x2ffe, 2)).toBe(0x2ffe);
    expect(mem32.read(0x2ffe, 4) >>> 0).toBe(0xffffffff); // runs off the end of the BAR
    mem32.write(0x2004, 1, 0x5a);
    expect(probe.writes).toEqual([[4, 1, 0x5a]]);
    // Moving the BAR moves the decode.
    cfg.w(1, PCI_BASE_ADDRESS_0, 0x40010000);
    expect(mem32.read(0x2010, 4) >>> 0).toBe(0xffffffff);
    expect(mem32.read(0x10010, 4)).toBe(0x4010);
    cfg.w(1, PCI_COMMAND, 0, 2);
    expect(mem32.read(0x10010, 4) >>> 0).toBe(0xffffffff);
  });

  it("decodes a 64-bit BAR in the high window and not in the low one", () => {
    const { host, mem32, mem64, cfg } = setup();
    const fn = testFunction();
    fn.defineBar(4, { kind: "mem64", size: 0x4000, prefetchable: true, device: new Probe() });
    host.attach(2, fn);
    cfg.w(2, PCI_BASE_ADDRESS_0 + 16, 0x00008000);
    cfg.w(2, PCI_BASE_ADDRESS_0 + 20, 0x4);
    cfg.w(2, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    expect(fn.barAddress(4)).toBe(0x4_0000_8000);
    expect(mem64.read(0x8000 + 0x3000, 2)).toBe(0x5000);
    expect(mem32.read(0x8000, 2)).toBe(0xffff);
    // The same BAR placed below 4 GiB is reachable through the 32-bit window instead.
    cfg.w(2, PCI_BASE_ADDRESS_0 + 20, 0);
    cfg.w(2, PCI_BASE_ADDRESS_0 + 16, 0x40100000);
    expect(mem32.read(0x100000, 1)).toBe(0x1000);
    expect(mem64.read(0x8000, 1)).toBe(0xff);
  });

  it("treats address 0 and a sizing pattern left with decode on as not decoding anywhere reachable", () => {
    const { host, mem32, cfg } = setup();
    const fn = testFunction();
    fn.defineBar(0, { kind: "mem32", size: 0x1000, device: new Probe() });
    host.attach(1, fn);
    cfg.w(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    expect(fn.barAddress(0)).toBeUndefined();
    cfg.w(1, PCI_BASE_ADDRESS_0, 0xffffffff);
    expect(fn.barAddress(0)).toBeUndefined(); // reaches 0xffffffff: QEMU does not decode it either
    expect(mem32.read(0x3ffff000, 4) >>> 0).toBe(0xffffffff);
  });

  it("decodes I/O BARs through the I/O window only with command.IO", () => {
    const { host, io, cfg } = setup();
    const fn = testFunction();
    fn.defineBar(0, { kind: "io", size: 0x40, device: new Probe() });
    host.attach(1, fn);
    cfg.w(1, PCI_BASE_ADDRESS_0, 0x1000);
    expect(io.read(0x1004, 1)).toBe(0xff);
    cfg.w(1, PCI_COMMAND, PCI_COMMAND_IO, 2);
    expect(io.read(0x1004, 1)).toBe(0x1004);
  });

  it("returns to power-on state on resetConfig", () => {
    const fn = testFunction();
    fn.defineBar(0, { kind: "mem32", size: 0x1000, device: new Probe() });
    fn.writeConfig(PCI_BASE_ADDRESS_0, 4, 0x40000000);
    fn.writeConfig(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    fn.writeConfig(PCI_INTERRUPT_LINE, 1, 7);
    fn.resetConfig();
    expect(fn.readConfig(PCI_BASE_ADDRESS_0, 4)).toBe(0);
    expect(fn.readConfig(PCI_COMMAND, 2)).toBe(0);
    expect(fn.readConfig(PCI_INTERRUPT_LINE, 1)).toBe(0);
    expect(fn.readConfig(PCI_VENDOR_ID, 2)).toBe(0x1af4);
  });
});

describe("INTx", () => {
  it("swizzles pin and slot onto PLIC 32 + ((pin - 1 + slot) mod 4) like QEMU's interrupt-map", () => {
    // Rows: slot; columns: INTA…INTD → host input (PLIC source − 32).
    const table = [
      [0, 1, 2, 3],
      [1, 2, 3, 0],
      [2, 3, 0, 1],
      [3, 0, 1, 2],
      [0, 1, 2, 3], // slot 4 folds onto slot 0 (interrupt-map-mask 0x1800)
      [1, 2, 3, 0],
    ];
    table.forEach((row, slot) => {
      row.forEach((input, i) => {
        expect(pciSwizzle(slot, i + 1)).toBe(input);
      });
    });
  });

  it("drives the swizzled line, shows status.INTERRUPT and honours INTx disable", () => {
    const { host, lines, cfg } = setup();
    const fn = testFunction(1);
    host.attach(2, fn); // INTA of slot 2 → input 2 (PLIC 34)
    fn.setIntx(true);
    expect(lines.map((l) => l.level)).toEqual([false, false, true, false]);
    expect(cfg.r(2, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT);
    cfg.w(2, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    expect(lines[2].level).toBe(false);
    expect(cfg.r(2, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(PCI_STATUS_INTERRUPT); // still pending
    cfg.w(2, PCI_COMMAND, 0, 2);
    expect(lines[2].level).toBe(true);
    fn.setIntx(false);
    expect(lines[2].level).toBe(false);
    expect(cfg.r(2, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT).toBe(0);
  });

  it("ORs functions that share a source", () => {
    const { host, lines } = setup();
    const a = testFunction(1); // slot 1 INTA → input 1
    const b = testFunction(1); // slot 5 INTA → input 1 as well
    host.attach(1, a);
    host.attach(5, b);
    a.setIntx(true);
    b.setIntx(true);
    a.setIntx(false);
    expect(lines[1].level).toBe(true);
    b.setIntx(false);
    expect(lines[1].level).toBe(false);
  });

  it("refuses taken or impossible slots", () => {
    const { host } = setup();
    expect(() => host.attach(0, testFunction())).toThrow(RangeError);
    expect(() => host.attach(32, testFunction())).toThrow(RangeError);
    expect(host.freeSlot()).toBe(1);
    host.attach(1, testFunction());
    expect(host.freeSlot()).toBe(2);
  });
});

describe("hostile config traffic", () => {
  it("never throws on random ECAM and window accesses (seeded)", () => {
    let seed = 0x5eed1234;
    const rnd = () => {
      // xorshift32: deterministic, printed on failure through the test name's seed.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const { host, mem32, mem64, io } = setup();
    for (let s = 1; s <= 3; s++) {
      const fn = testFunction((s % 4) + 1);
      fn.defineBar(0, { kind: "mem32", size: 0x1000, device: new Probe() });
      fn.defineBar(1, { kind: "io", size: 0x20, device: new Probe() });
      fn.defineBar(4, { kind: "mem64", size: 0x4000, prefetchable: true, device: new Probe() });
      fn.addCapability(0x09, 16);
      host.attach(s, fn);
    }
    const sizes = [1, 2, 4] as const;
    const values = [0, 0xffffffff, 0x80000000, -1, 2 ** 40, Number.NaN, 0.5];
    expect(() => {
      for (let i = 0; i < 200_000; i++) {
        const size = sizes[rnd() % 3];
        const r = rnd();
        const off = r % 4 === 0 ? ecamAddr(0, rnd() % 5, rnd() % 2, rnd() % 0x1000) : rnd() % 0x10000000;
        const v = rnd() % 8 === 0 ? values[rnd() % values.length] : rnd();
        if (rnd() % 2 === 0) host.ecam.write(off, size, v);
        else host.ecam.read(off, size);
        const w = [mem32, mem64, io][rnd() % 3];
        const wo = rnd() % w.size;
        if (rnd() % 2 === 0) w.read(wo, size);
        else w.write(wo, size, rnd());
      }
    }, `seed 0x5eed1234`).not.toThrow();
    // The host bridge's identity survived.
    expect(host.ecam.read(0, 4) >>> 0).toBe(0x00081b36);
  });
});

describe("PCI function state (snapshots)", () => {
  it("round-trips the writable config bits through JSON; BARs decode again and INTx is driven again", () => {
    const make = () => {
      const fn = testFunction();
      fn.defineBar(0, { kind: "mem32", size: 0x1000, device: new Probe() });
      fn.defineBar(4, { kind: "mem64", size: 0x4000, prefetchable: true, device: new Probe() });
      const irq = new LevelIrq();
      fn.connectIntx(irq);
      let decodes = 0;
      fn.onDecodeChange = () => decodes++;
      return { fn, irq, decodes: () => decodes };
    };
    const a = make();
    a.fn.writeConfig(PCI_BASE_ADDRESS_0, 4, 0x40000000);
    a.fn.writeConfig(PCI_BASE_ADDRESS_0 + 16, 4, 0x00100000);
    a.fn.writeConfig(PCI_BASE_ADDRESS_0 + 20, 4, 0x1);
    a.fn.writeConfig(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    a.fn.writeConfig(PCI_INTERRUPT_LINE, 1, 33);
    a.fn.setIntx(true);
    const saved = JSON.parse(JSON.stringify(a.fn.saveState()));
    const b = make();
    b.fn.loadState(saved);
    expect(b.decodes()).toBe(1);
    for (let off = 0; off < 256; off += 4)
      expect(b.fn.readConfig(off, 4), `config +${off}`).toBe(a.fn.readConfig(off, 4));
    expect(b.fn.barMappings().map((m) => [m.bar, m.base, m.size])).toEqual([
      [0, 0x40000000, 0x1000],
      [4, 0x1_0010_0000, 0x4000],
    ]);
    expect(b.irq.level).toBe(true);
    expect(b.fn.saveState()).toEqual(saved);
  });

  it("keeps its own read-only bits and refuses a config that is not 256 bytes", () => {
    const fn = testFunction();
    const st = fn.saveState();
    // Another device's IDs in the saved bytes do not change this function's (they are read-only).
    const other = new PciFunction({ vendorId: 0x8086, deviceId: 0x1234, classCode: 0x020000 }).saveState();
    fn.loadState(other);
    expect(fn.readConfig(PCI_VENDOR_ID, 2)).toBe(0x1af4);
    expect(fn.saveState()).toEqual(st);
    expect(() => fn.loadState({ ...st, config: btoa("short") }, "pci.fn0")).toThrow(
      /pci\.fn0\.config: not base64 of 256 bytes/,
    );
    expect(() => fn.loadState({ ...st, config: "%%%" })).toThrow(/pci\.config/);
    expect(() => fn.loadState({ ...st, intx: 1 })).toThrow(/pci\.intx: not a boolean/);
    expect(fn.saveState()).toEqual(st);
  });
});
