// The sifive_test "finisher" of QEMU's virt board: the guest powers off or resets the machine by
// writing a command to offset 0. Reads a guest-controlled value: unknown commands, offsets and sizes
// are ignored, nothing throws. Commands: spec riscv-platform.md §7.4.

import type { MmioDevice } from "../../src/core/bus.ts";

export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;

export class SifiveTest implements MmioDevice {
  constructor(
    private readonly onPowerOff: (exitCode: number) => void,
    private readonly onReset: () => void,
  ) {}

  read(_offset: number, _size: 1 | 2 | 4): number {
    return 0;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    // QEMU accepts 16- and 32-bit writes only; a 16-bit write carries no exit code.
    if (offset !== 0 || size === 1) return;
    const status = value & 0xffff;
    const code = size === 4 ? (value >>> 16) & 0xffff : 0;
    if (status === FINISHER_FAIL) this.onPowerOff(code);
    else if (status === FINISHER_PASS) this.onPowerOff(0);
    else if (status === FINISHER_RESET) this.onReset();
  }
}
