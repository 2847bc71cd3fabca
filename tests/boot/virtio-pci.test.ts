// Boots the committed guest image with every virtio device behind the PCIe host bridge
// (`--transport pci`) and checks Linux's own view: the functions it enumerated through ECAM, the BARs
// it assigned, the virtio devices its virtio_pci driver bound, INTx on PLIC 32…35 (no MSI-X on this
// board), busybox lspci, and that the devices work (rng bytes, hvc0 both ways, a disk round trip and
// an ext2 file system). The same guest over MMIO shows only the host bridge on PCI, and one disk can sit on PCI
// while the other devices stay on MMIO.
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

function vm(...args: string[]) {
  return vmWithInput("", ...args);
}

/** The CLI with `input` on its stdin (the UART's, or hvc0's with --console hvc). */
function vmWithInput(input: string, ...args: string[]) {
  const r = spawnSync("npx", ["tsx", "src/cli/vm.ts", "--timeout", "150", ...args], {
    encoding: "utf8",
    input,
    timeout: 180_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

// One line per PCI function and per virtio device, in a shape the assertions can parse.
const PROBE = [
  "for d in /sys/bus/pci/devices/*; do",
  '  echo "pci $(basename $d) $(cat $d/vendor) $(cat $d/device) $(cat $d/class) $(cat $d/irq) $(head -5 $d/resource | tail -1)";',
  "done;",
  "for v in /sys/bus/virtio/devices/*; do",
  '  echo "virtio $(basename $v) $(cat $v/device) $(basename $(readlink $v/driver)) $(basename $(readlink -f $v/..)) $(cat $v/features)";',
  "done;",
  'grep virtio /proc/interrupts | sed "s/^/irq /";',
  'echo "hwrng $(head -c 16 /dev/hwrng | hexdump -v -e \'16/1 "%02x"\')";',
  'lspci | sed "s/^/lspci /";',
  "echo hvc0-out > /dev/hvc0 && echo hvc-ok",
].join(" ");

// The disk: its PCI parent, then a write/read round trip and a file system made, mounted and read back.
const DISK = [
  'echo "vda $(basename $(readlink -f /sys/block/vda/device/..))";',
  "dd if=/dev/urandom of=/tmp/a bs=4096 count=64 2>/dev/null;",
  "dd if=/tmp/a of=/dev/vda bs=4096 2>/dev/null; echo 3 > /proc/sys/vm/drop_caches;",
  'echo "md5 $(dd if=/dev/vda bs=4096 count=64 2>/dev/null | md5sum) $(md5sum < /tmp/a)";',
  "mkfs.ext2 -q /dev/vda && mount /dev/vda /mnt && echo ext2-ok > /mnt/f && umount /mnt &&",
  'mount -o ro /dev/vda /mnt && echo "fs $(cat /mnt/f)" && umount /mnt',
].join(" ");

const dir = mkdtempSync(join(tmpdir(), "vireo-pci-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A blank raw image (sparse); the guest's writes stay in the CLI's overlay. */
function blankDisk(name: string): string {
  const path = join(dir, name);
  const fd = openSync(path, "w");
  ftruncateSync(fd, 16 << 20);
  closeSync(fd);
  return path;
}

function expectDiskWorks(out: string, parent: RegExp): void {
  expect(rows(out, "vda")[0]?.[0], out).toMatch(parent);
  const md5 = rows(out, "md5")[0];
  expect(md5?.[0], out).toMatch(/^[0-9a-f]{32}$/);
  expect(md5[0]).toBe(md5[2]); // "<sum> - <sum> -"
  expect(rows(out, "fs")[0]).toEqual(["ext2-ok"]);
}

/** Lines starting with `tag `, split on whitespace (the console adds \r). */
function rows(out: string, tag: string): string[][] {
  return out
    .split("\n")
    .map((l) => l.replace(/\r$/, "").trim())
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => l.split(/\s+/).slice(1));
}

describe("virtio over PCI in Linux 6.1 (--transport pci)", () => {
  it("enumerates, binds and uses the devices through the ECAM host bridge with INTx", () => {
    const r = vm("--transport", "pci", "--disk", blankDisk("all-pci.img"), "--exec", `${PROBE}; ${DISK}`);
    expect(r.status, r.out + r.err).toBe(0);

    const pci = rows(r.out, "pci");
    // 00:00.0 is QEMU's gpex host bridge; the virtio functions follow in slots 1, 2, …
    expect(pci[0].slice(0, 4)).toEqual(["0000:00:00.0", "0x1b36", "0x0008", "0x060000"]);
    const fns = new Map(pci.slice(1).map((p) => [`${p[1]}:${p[2]}`, p]));
    const console = fns.get("0x1af4:0x1043");
    const rng = fns.get("0x1af4:0x1044");
    const blk = fns.get("0x1af4:0x1042");
    expect(console, r.out).toBeDefined();
    expect(rng, r.out).toBeDefined();
    expect(blk, r.out).toBeDefined();
    expect(console![3]).toBe("0x078000");
    expect(rng![3]).toBe("0x00ff00");
    expect(blk![3]).toBe("0x010000");
    for (const p of pci.slice(1)) {
      // BAR 4: 16 KiB, 64-bit prefetchable memory (flags 0x14220c), placed in one of the PCI windows.
      const [start, end, flags] = [Number(p[5]), Number(p[6]), Number(p[7])];
      expect(end - start + 1, p.join(" ")).toBe(0x4000);
      expect(flags & 0x2000).toBe(0x2000); // IORESOURCE_PREFETCH
      expect((start >= 0x40000000 && end < 0x80000000) || (start >= 0x4_0000_0000 && end < 0x8_0000_0000)).toBe(true);
      // INTx through the swizzle: INTA of slot s is PLIC source 32 + s mod 4 (Linux reports the virq).
      expect(Number(p[4])).toBeGreaterThan(0);
    }

    const virtio = rows(r.out, "virtio");
    const byId = new Map(virtio.map((v) => [v[1], v]));
    expect(byId.get("0x0003")?.[2]).toBe("virtio_console");
    expect(byId.get("0x0004")?.[2]).toBe("virtio_rng");
    expect(byId.get("0x0002")?.[2]).toBe("virtio_blk");
    for (const v of virtio) {
      expect(v[3], v.join(" ")).toMatch(/^0000:00:[0-9a-f]{2}\.0$/); // the parent is a PCI function
      expect(v[4][32], "VIRTIO_F_VERSION_1").toBe("1");
    }

    // No MSI-X: one shared INTx handler per device ("virtioN", not "virtioN-config" / "-virtqueues"),
    // on PLIC sources 32…35.
    const irqs = rows(r.out, "irq");
    expect(irqs.length).toBe(virtio.length);
    for (const line of irqs) {
      const src = Number(line[line.length - 3]);
      expect(src, line.join(" ")).toBeGreaterThanOrEqual(32);
      expect(src).toBeLessThanOrEqual(35);
      expect(line[line.length - 1]).toMatch(/^virtio\d+$/);
    }
    const rngIrq = irqs.find((l) => l[l.length - 1] === byId.get("0x0004")?.[0]);
    expect(Number(rngIrq?.[1]), "the rng answered by interrupt").toBeGreaterThan(0);

    // busybox lspci sees the same functions: "00:01.0 Class 0780: 1af4:1043".
    const lspci = rows(r.out, "lspci");
    expect(lspci.map((l) => `0000:${l[0]}`).sort()).toEqual(pci.map((p) => p[0]).sort());
    expect(lspci.find((l) => l[0] === "00:00.0")?.slice(1)).toEqual(["Class", "0600:", "1b36:0008"]);
    const virtioFns = lspci.filter((l) => l[3].startsWith("1af4:"));
    expect(virtioFns.map((l) => l[3]).sort()).toEqual(
      pci
        .filter((p) => p[1] === "0x1af4")
        .map((p) => `1af4:${p[2].slice(2)}`)
        .sort(),
    );
    for (const [id, cls] of [
      ["1af4:1043", "0780:"],
      ["1af4:1044", "00ff:"],
      ["1af4:1042", "0100:"],
    ]) {
      expect(virtioFns.find((l) => l[3] === id)?.[2], `${id} in lspci:\n${r.out}`).toBe(cls);
    }

    const hw = rows(r.out, "hwrng");
    expect(hw[0]?.[0], r.out).toMatch(/^[0-9a-f]{32}$/);
    // hvc0 (not hvc1: no SBI hvc console) is the virtio-console; the CLI shows it on stderr.
    expect(r.out).toMatch(/^hvc-ok\r?$/m);
    expect(r.err).toMatch(/^\[hvc0\] hvc0-out\r?$/m);
    expectDiskWorks(r.out, /^0000:00:[0-9a-f]{2}\.0$/);
  }, 200_000);

  it("hvc0 over PCI carries text both ways (--console hvc: stdin → hvc0 → stdout)", () => {
    const r = vmWithInput(
      "from-stdin\n",
      "--transport",
      "pci",
      "--console",
      "hvc",
      "--exec",
      "basename $(readlink -f /sys/class/virtio-ports/vport*p0/device/..); head -n 1 /dev/hvc0; echo to-hvc0 > /dev/hvc0",
    );
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.err).toMatch(/^\[ttyS0\] 0000:00:[0-9a-f]{2}\.0\r?$/m); // the port's virtio device sits on PCI
    expect(r.err).toMatch(/^\[ttyS0\] from-stdin\r?$/m);
    expect(r.out).toMatch(/^from-stdin\r?\nto-hvc0\r?\n$/);
  }, 200_000);

  it("keeps the host bridge alone on PCI when the devices use MMIO", () => {
    const r = vm("--exec", PROBE);
    expect(r.status, r.out + r.err).toBe(0);
    expect(rows(r.out, "pci").map((p) => p[0])).toEqual(["0000:00:00.0"]);
    expect(rows(r.out, "lspci")).toEqual([["00:00.0", "Class", "0600:", "1b36:0008"]]);
    for (const v of rows(r.out, "virtio")) expect(v[3]).toMatch(/^10\d{3}000\.virtio_mmio$/);
  }, 200_000);

  it("puts one disk on PCI while the other devices stay on MMIO (--disk …,transport=pci)", () => {
    const r = vm("--disk", `${blankDisk("mixed.img")},transport=pci`, "--exec", `${PROBE}; ${DISK}`);
    expect(r.status, r.out + r.err).toBe(0);
    const pci = rows(r.out, "pci");
    expect(pci.map((p) => p.slice(0, 4))).toEqual([
      ["0000:00:00.0", "0x1b36", "0x0008", "0x060000"],
      ["0000:00:01.0", "0x1af4", "0x1042", "0x010000"],
    ]);
    expectDiskWorks(r.out, /^0000:00:01\.0$/);
  }, 200_000);
});
