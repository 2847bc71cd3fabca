// The device tree of the virt board, in the shape QEMU 7.2's hw/riscv/virt.c writes (so images and
// configs made for QEMU boot unchanged), generated from the devices actually attached.
// Memory map and IRQ numbers: spec riscv-platform.md §6; INTx routing §7.3; node shapes §8.2.
// Deliberate differences from QEMU 7.2: riscv,ndev is 95 (QEMU writes 96 though source 96 does not
// exist), linux,initrd-* are u64 (QEMU 7.2 writes one cell), and there are no pmu, fw-cfg, flash or
// platform-bus nodes because the board has none of those.

import { Fdt, type FdtNode } from "./fdt.ts";

export const VIRT_TEST_BASE = 0x100000;
export const VIRT_TEST_SIZE = 0x1000;
export const VIRT_RTC_BASE = 0x101000;
export const VIRT_RTC_SIZE = 0x1000;
export const VIRT_RTC_IRQ = 11;
export const VIRT_CLINT_BASE = 0x2000000;
export const VIRT_CLINT_SIZE = 0x10000;
export const VIRT_PLIC_BASE = 0xc000000;
/** QEMU reserves room for 512 harts × 2 contexts whatever the hart count. */
export const VIRT_PLIC_SIZE = 0x600000;
/** Highest usable PLIC source id (96 sources, 0 reserved). */
export const VIRT_PLIC_NDEV = 95;
export const VIRT_UART0_BASE = 0x10000000;
export const VIRT_UART0_SIZE = 0x100;
export const VIRT_UART0_IRQ = 10;
export const VIRT_UART0_CLOCK_HZ = 3686400;
export const VIRT_VIRTIO_BASE = 0x10001000;
export const VIRT_VIRTIO_SIZE = 0x1000;
export const VIRT_VIRTIO_IRQ = 1;
export const VIRT_VIRTIO_COUNT = 8;
export const VIRT_PCIE_IRQ = 32;
export const VIRT_PCIE_INTX_PINS = 4;
export const VIRT_DRAM_BASE = 0x80000000;
/** The smallest ECAM window per bus (256 functions × 4 KiB config space). */
export const PCIE_MMCFG_SIZE_MIN = 0x100000;

/** mip / cause numbers the per-hart interrupt controller takes in interrupts-extended. */
const IRQ_M_SOFT = 3;
const IRQ_M_TIMER = 7;
const IRQ_S_EXT = 9;
const IRQ_M_EXT = 11;

/** ranges flags (phys.hi space code) of PCI bus addresses. */
const FDT_PCI_RANGE_IOPORT = 0x01000000;
const FDT_PCI_RANGE_MMIO = 0x02000000;
const FDT_PCI_RANGE_MMIO_64BIT = 0x03000000;

const SIFIVE_TEST_RESET = 0x7777;
const SIFIVE_TEST_PASS = 0x5555;

export interface VirtDtDesc {
  harts: number;
  /** e.g. "rv64imafdc"; advertise only extensions the hart implements (Linux acts on each). */
  isa: string;
  /** "riscv,sv39" or "riscv,sv48". */
  mmuType: string;
  ramBase: number;
  ramSize: number;
  bootargs: string;
  /** Exclusive end. */
  initrd?: { start: number; end: number };
  /** 10_000_000 for the CLINT. */
  timebaseFrequency: number;
  /** 32 bytes of entropy for the kernel's early RNG. */
  rngSeed?: Uint8Array;
  /** Only the slots actually in use. */
  virtioMmio: { base: number; irq: number }[];
  pci?: {
    ecamBase: number;
    ecamSize: number;
    mmio32: { base: number; size: number };
    mmio64: { base: number; size: number };
    pio: { base: number; size: number };
  };
}

const hi = (v: number) => Math.floor(v / 4294967296) >>> 0;
const lo = (v: number) => v >>> 0;
/** A 64-bit value as two cells. */
const u64 = (v: number): [number, number] => [hi(v), lo(v)];
/** A reg entry with #address-cells = #size-cells = 2. */
const reg2 = (base: number, size: number): number[] => [...u64(base), ...u64(size)];
const hex = (v: number) => v.toString(16);

function checkDesc(d: VirtDtDesc): void {
  const bad = (what: string) => {
    throw new RangeError(`virt device tree: ${what}`);
  };
  if (!Number.isInteger(d.harts) || d.harts < 1 || d.harts > 512) bad(`hart count ${d.harts}`);
  if (!d.isa.startsWith("rv")) bad(`riscv,isa "${d.isa}" must start with "rv"`);
  if (d.ramSize <= 0 || !Number.isSafeInteger(d.ramBase + d.ramSize)) bad("RAM range");
  if (d.initrd !== undefined && !(d.initrd.start <= d.initrd.end)) bad("initrd end before start");
  if (d.rngSeed !== undefined && d.rngSeed.length === 0) bad("empty rng-seed");
  for (const v of d.virtioMmio) if (v.irq < 1 || v.irq > VIRT_PLIC_NDEV) bad(`virtio irq ${v.irq}`);
}

/** Builds the board's DTB (version 17). Throws RangeError on an impossible description (a board bug). */
export function buildVirtDtb(d: VirtDtDesc): Uint8Array {
  checkDesc(d);
  const fdt = new Fdt();
  const root = fdt.root;
  root.setCells("#address-cells", 2).setCells("#size-cells", 2);
  root.setString("compatible", "riscv-virtio").setString("model", "riscv-virtio,qemu");

  const uartPath = `/soc/serial@${hex(VIRT_UART0_BASE)}`;
  const chosen = root.addNode("chosen");
  if (d.bootargs.length > 0) chosen.setString("bootargs", d.bootargs);
  chosen.setString("stdout-path", uartPath);
  if (d.initrd !== undefined) {
    chosen.setU64("linux,initrd-start", d.initrd.start).setU64("linux,initrd-end", d.initrd.end);
  }
  if (d.rngSeed !== undefined) chosen.setBytes("rng-seed", d.rngSeed);

  root
    .addNode(`memory@${hex(d.ramBase)}`)
    .setString("device_type", "memory")
    .setCells("reg", ...reg2(d.ramBase, d.ramSize));

  const intcs = addCpus(root, d);

  const soc = root.addNode("soc");
  soc.setCells("#address-cells", 2).setCells("#size-cells", 2);
  soc.setString("compatible", "simple-bus").setEmpty("ranges");

  soc
    .addNode(`clint@${hex(VIRT_CLINT_BASE)}`)
    .setStrings("compatible", "sifive,clint0", "riscv,clint0")
    .setCells("reg", ...reg2(VIRT_CLINT_BASE, VIRT_CLINT_SIZE))
    .setCells("interrupts-extended", ...intcs.flatMap((i) => [i, IRQ_M_SOFT, i, IRQ_M_TIMER]));

  const plic = soc.addNode(`plic@${hex(VIRT_PLIC_BASE)}`);
  plic.phandle();
  plic
    .setStrings("compatible", "sifive,plic-1.0.0", "riscv,plic0")
    .setCells("reg", ...reg2(VIRT_PLIC_BASE, VIRT_PLIC_SIZE))
    .setCells("#address-cells", 0)
    .setCells("#interrupt-cells", 1)
    .setEmpty("interrupt-controller")
    // Context 2h is hart h's M mode, 2h+1 its S mode (§7.2).
    .setCells("interrupts-extended", ...intcs.flatMap((i) => [i, IRQ_M_EXT, i, IRQ_S_EXT]))
    .setCells("riscv,ndev", VIRT_PLIC_NDEV);

  const onPlic = (n: FdtNode, irq: number) => n.setCells("interrupt-parent", plic).setCells("interrupts", irq);

  const uart = soc
    .addNode(`serial@${hex(VIRT_UART0_BASE)}`)
    .setString("compatible", "ns16550a")
    .setCells("reg", ...reg2(VIRT_UART0_BASE, VIRT_UART0_SIZE))
    .setCells("clock-frequency", VIRT_UART0_CLOCK_HZ);
  onPlic(uart, VIRT_UART0_IRQ);

  for (const v of d.virtioMmio) {
    const n = soc
      .addNode(`virtio_mmio@${hex(v.base)}`)
      .setString("compatible", "virtio,mmio")
      .setCells("reg", ...reg2(v.base, VIRT_VIRTIO_SIZE));
    onPlic(n, v.irq);
  }

  const rtc = soc
    .addNode(`rtc@${hex(VIRT_RTC_BASE)}`)
    .setString("compatible", "google,goldfish-rtc")
    .setCells("reg", ...reg2(VIRT_RTC_BASE, VIRT_RTC_SIZE));
  onPlic(rtc, VIRT_RTC_IRQ);

  const test = soc.addNode(`test@${hex(VIRT_TEST_BASE)}`);
  test.phandle();
  test
    .setStrings("compatible", "sifive,test1", "sifive,test0", "syscon")
    .setCells("reg", ...reg2(VIRT_TEST_BASE, VIRT_TEST_SIZE));

  if (d.pci !== undefined) addPci(soc, plic, d.pci);

  root
    .addNode("reboot")
    .setString("compatible", "syscon-reboot")
    .setCells("regmap", test)
    .setCells("offset", 0)
    .setCells("value", SIFIVE_TEST_RESET);
  root
    .addNode("poweroff")
    .setString("compatible", "syscon-poweroff")
    .setCells("regmap", test)
    .setCells("offset", 0)
    .setCells("value", SIFIVE_TEST_PASS);

  return fdt.build();
}

/** /cpus with one cpu node and cpu-intc per hart, and a flat cpu-map; returns the intc nodes in hart order. */
function addCpus(root: FdtNode, d: VirtDtDesc): FdtNode[] {
  const cpus = root.addNode("cpus");
  cpus.setCells("#address-cells", 1).setCells("#size-cells", 0);
  cpus.setCells("timebase-frequency", d.timebaseFrequency); // Linux reads it here, not from the CLINT
  const cpuNodes: FdtNode[] = [];
  const intcs: FdtNode[] = [];
  for (let h = 0; h < d.harts; h++) {
    const cpu = cpus.addNode(`cpu@${hex(h)}`);
    cpu.phandle();
    cpu
      .setString("device_type", "cpu")
      .setCells("reg", h)
      .setString("status", "okay")
      .setString("compatible", "riscv")
      .setString("riscv,isa", d.isa)
      .setString("mmu-type", d.mmuType);
    const intc = cpu.addNode("interrupt-controller");
    intc.phandle();
    intc.setCells("#interrupt-cells", 1).setEmpty("interrupt-controller").setString("compatible", "riscv,cpu-intc");
    cpuNodes.push(cpu);
    intcs.push(intc);
  }
  const cluster = cpus.addNode("cpu-map").addNode("cluster0");
  for (let h = 0; h < cpuNodes.length; h++) cluster.addNode(`core${h}`).setCells("cpu", cpuNodes[h]);
  return intcs;
}

/** The generic ECAM host bridge with its windows and the INTx swizzle onto PLIC sources 32…35 (§7.3). */
function addPci(soc: FdtNode, plic: FdtNode, p: NonNullable<VirtDtDesc["pci"]>): void {
  const buses = Math.min(256, Math.max(1, Math.floor(p.ecamSize / PCIE_MMCFG_SIZE_MIN)));
  const map: (number | FdtNode)[] = [];
  for (let slot = 0; slot < VIRT_PCIE_INTX_PINS; slot++) {
    for (let pin = 1; pin <= VIRT_PCIE_INTX_PINS; pin++) {
      const source = VIRT_PCIE_IRQ + ((pin - 1 + slot) % VIRT_PCIE_INTX_PINS);
      // child unit address (phys.hi with the device number at bits 15:11, mid, lo), pin, parent, source
      map.push(slot << 11, 0, 0, pin, plic, source);
    }
  }
  soc
    .addNode(`pci@${hex(p.ecamBase)}`)
    .setString("compatible", "pci-host-ecam-generic")
    .setString("device_type", "pci")
    .setCells("#address-cells", 3)
    .setCells("#size-cells", 2)
    .setCells("#interrupt-cells", 1)
    .setCells("reg", ...reg2(p.ecamBase, p.ecamSize))
    .setCells("bus-range", 0, buses - 1)
    .setCells("linux,pci-domain", 0)
    .setEmpty("dma-coherent")
    .setCells(
      "ranges",
      // I/O space starts at bus address 0; the memory windows are identity-mapped, as in QEMU.
      ...[FDT_PCI_RANGE_IOPORT, 0, 0, ...u64(p.pio.base), ...u64(p.pio.size)],
      ...[FDT_PCI_RANGE_MMIO, ...u64(p.mmio32.base), ...u64(p.mmio32.base), ...u64(p.mmio32.size)],
      ...[FDT_PCI_RANGE_MMIO_64BIT, ...u64(p.mmio64.base), ...u64(p.mmio64.base), ...u64(p.mmio64.size)],
    )
    .setCells("interrupt-map-mask", 0x1800, 0, 0, 7)
    .setCells("interrupt-map", ...map);
}
