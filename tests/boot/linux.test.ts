// Boots the committed guest image (OpenSBI + Linux 6.1 + busybox) on our own hart, through the CLI a
// user runs, and checks the guest's own view of the machine.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

function vm(...args: string[]) {
  const r = spawnSync("npx", ["tsx", "src/cli/vm.ts", "--timeout", "150", ...args], {
    encoding: "utf8",
    timeout: 180_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("Linux boots on the vireo hart (Node)", () => {
  it("reports rv64imafdc in /proc/cpuinfo and the host's date", () => {
    const before = Math.floor(Date.now() / 1000);
    const r = vm("--exec", "grep isa /proc/cpuinfo; grep mmu /proc/cpuinfo; echo guest-date=$(date +%s)");
    const after = Math.floor(Date.now() / 1000);
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain("vireo: boot complete");
    expect(r.out).toMatch(/isa\s*:\s*rv64imafdc/);
    const m = /guest-date=(\d+)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    const guest = Number(m?.[1]);
    // The goldfish RTC gives Linux the wall clock at boot; allow for the boot itself.
    expect(guest).toBeGreaterThanOrEqual(before - 2);
    expect(guest).toBeLessThanOrEqual(after + 2);
  }, 200_000);

  it("returns the exit status of the command it ran", () => {
    const r = vm("--exec", "echo about-to-fail; exit 3");
    expect(r.out).toContain("about-to-fail");
    expect(r.status, r.out + r.err).toBe(3);
  }, 200_000);

  it("--prompt tells --exec what the guest's prompt looks like (another guest's shell)", () => {
    const ok = vm("--prompt", "vireo:~#", "--exec", "echo prompt-$((6*7))");
    expect(ok.status, ok.out + ok.err).toBe(0);
    expect(ok.out).toContain("prompt-42");
    // A prompt that never shows: --exec never types, and the run ends at its timeout.
    const never = spawnSync(
      "npx",
      ["tsx", "src/cli/vm.ts", "--timeout", "8", "--prompt", "root@debian:~#", "--exec", "true"],
      {
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(never.status).toBe(124);
    expect(never.stdout).not.toContain("vireo-exit=");
  }, 200_000);

  it("exits 0 when the guest powers off by itself", () => {
    const r = vm("--append", "console=ttyS0 earlycon=sbi vireo.poweroff=1");
    expect(r.out).toContain("vireo: boot complete");
    expect(r.status, r.out + r.err).toBe(0);
  }, 200_000);

  it("runs user programs that use the MMU, FPU and atomics (busybox awk, md5sum, sort)", () => {
    const r = vm(
      "--exec",
      "awk 'BEGIN { printf \"%.6f\\n\", 1 / 3 + 2.5 * 1.5 }'; echo abc | md5sum; seq 1 200 | sort -rn | head -1",
    );
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain("4.083333"); // double-precision arithmetic in busybox awk
    expect(r.out).toContain("0bee89b07a248e27c83fc3d5951213c1"); // md5 of "abc\n"
    expect(r.out).toMatch(/^200\r?$/m);
  }, 200_000);

  it("runs the same with the hart interpreting everything (--jit off)", () => {
    const r = vm(
      "--jit",
      "off",
      "--exec",
      "awk 'BEGIN { printf \"%.6f\\n\", 1 / 3 + 2.5 * 1.5 }'; echo abc | md5sum; seq 1 200 | sort -rn | head -1; i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; echo loop=$i",
    );
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toContain("4.083333");
    expect(r.out).toContain("0bee89b07a248e27c83fc3d5951213c1");
    expect(r.out).toMatch(/^200\r?$/m);
    expect(r.out).toContain("loop=3000");
  }, 200_000);
});
