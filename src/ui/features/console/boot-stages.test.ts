import { describe, expect, it } from "vitest";
import { BootStageTracker } from "./boot-stages.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("BootStageTracker", () => {
  it("follows a boot from firmware to prompt", () => {
    const t = new BootStageTracker();
    expect(t.feed(enc("\r\nOpenSBI v1.1\r\n"))).toBe("firmware");
    expect(t.feed(enc("[    0.000000] Linux version 6.1.192 (gcc)\r\n"))).toBe("kernel");
    expect(t.feed(enc("[    1.2] Run /init as init process\r\n"))).toBe("init");
    expect(t.feed(enc("vireo: boot complete\r\n"))).toBeUndefined();
    expect(t.feed(enc("vireo:~# "))).toBe("prompt");
    expect(t.stage).toBe("prompt");
  });

  it("follows Debian's boot (initramfs, systemd, autologin) to its root prompt", () => {
    const t = new BootStageTracker();
    expect(
      t.feed(enc("[    0.000000] Linux version 6.12.117+deb13-riscv64 (debian-kernel@lists.debian.org)\r\n")),
    ).toBe("kernel");
    expect(t.feed(enc("[    9.1] Run /init as init process\r\n"))).toBe("init");
    expect(t.feed(enc("debian login: root (automatic login)\r\n\r\nLinux debian 6.12.117\r\n"))).toBeUndefined();
    expect(t.feed(enc("root@debian:~# "))).toBe("prompt");
  });

  it("sees a marker split across chunks", () => {
    const t = new BootStageTracker();
    t.feed(enc("Open"));
    expect(t.feed(enc("SBI v1.1"))).toBe("firmware");
  });

  it("jumps ahead when early markers were missed, and never goes back", () => {
    const t = new BootStageTracker();
    expect(t.feed(enc("Linux version 6.1"))).toBe("kernel");
    expect(t.feed(enc("OpenSBI v1.1"))).toBeUndefined();
    expect(t.stage).toBe("kernel");
  });

  it("starts over on restart", () => {
    const t = new BootStageTracker();
    t.feed(enc("vireo:~# "));
    t.restart();
    expect(t.stage).toBe("download");
  });
});
