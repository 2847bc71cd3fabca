// The HTIF `tohost`/`fromhost` convention of riscv-tests (spec riscv-platform.md §11), for bare-metal
// runs. The program writes a 64-bit command word into RAM; the board polls it between hart chunks
// (the Bus sees only MMIO, and RAM stores go straight to the ArrayBuffer). The word is guest-written
// and hostile like any other: every value is decoded, unknown commands are acknowledged and dropped.

import type { GuestMemory } from "../core/guest-memory.ts";
import type { ElfFile } from "./elf.ts";
import { LoaderError } from "./loader.ts";

export const HTIF_DEV_SYSCALL = 0;
export const HTIF_DEV_CONSOLE = 1;
export const HTIF_CONSOLE_CMD_GETC = 0;
export const HTIF_CONSOLE_CMD_PUTC = 1;

export interface HtifHandlers {
  /** Device 0 command 0 with payload bit 0 set: code = payload >> 1 (0 = pass, else the failing TESTNUM). */
  exit(code: number): void;
  /** Device 1 command 1: one console byte. */
  console(byte: number): void;
}

export class HtifWatcher {
  /** Requests seen that we do not implement (proxied syscalls, console reads), for diagnostics. */
  unhandled = 0;

  constructor(
    private readonly mem: GuestMemory,
    readonly tohost: number,
    readonly fromhost: number | undefined,
    private readonly handlers: HtifHandlers,
  ) {
    if (!mem.contains(tohost, 8)) throw new LoaderError(`tohost at 0x${tohost.toString(16)} is outside guest RAM`);
    if (fromhost !== undefined && !mem.contains(fromhost, 8)) {
      throw new LoaderError(`fromhost at 0x${fromhost.toString(16)} is outside guest RAM`);
    }
  }

  /** A watcher on the ELF's `tohost`/`fromhost` symbols, or undefined when it has no `tohost`. */
  static fromElf(elf: ElfFile, mem: GuestMemory, handlers: HtifHandlers): HtifWatcher | undefined {
    const to = elf.findSymbol("tohost");
    if (to === undefined) return undefined;
    const from = elf.findSymbol("fromhost");
    return new HtifWatcher(mem, Number(to.value), from === undefined ? undefined : Number(from.value), handlers);
  }

  /** Handles a pending tohost command, if any. */
  poll(): void {
    const lo = this.mem.readU32(this.tohost);
    const hi = this.mem.readU32(this.tohost + 4);
    if (lo === 0 && hi === 0) return;
    const device = hi >>> 24;
    const cmd = (hi >>> 16) & 0xff;
    // payload = bits 47:0; exact as a JS number.
    const payload = (hi & 0xffff) * 4294967296 + lo;
    this.mem.writeU64(this.tohost, 0);
    if (device === HTIF_DEV_SYSCALL && cmd === 0 && payload % 2 === 1) {
      this.handlers.exit(Math.floor(payload / 2));
      return;
    }
    if (device === HTIF_DEV_CONSOLE && cmd === HTIF_CONSOLE_CMD_PUTC) {
      this.handlers.console(lo & 0xff);
    } else {
      this.unhandled++;
    }
    // Programs that print wait for fromhost ≠ 0 before their next request: answer with device and command.
    if (this.fromhost !== undefined) this.mem.writeU64(this.fromhost, device * 2 ** 56 + cmd * 2 ** 48);
  }
}
