import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { assemble, htifProgram } from "../testing/riscv-asm.ts";
import { EXEC_NET_WAIT, ExecDriver, hvcBootargs, PROMPT_RE, PrefixedLines, parseCli, UsageError } from "./vm.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const tmp = mkdtempSync(join(tmpdir(), "vireo-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI from another directory, as `npm run vm` would from anywhere, so repo-relative paths are tested. */
function vm(...args: string[]) {
  return vmWith({}, ...args);
}

function vmWith(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(TSX, [join(ROOT, "src/cli/vm.ts"), ...args], {
    cwd: tmp,
    encoding: "utf8",
    input: "",
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const bytes = (s: string) => new TextEncoder().encode(s);

describe("parseCli", () => {
  it("--share DIR[,ro][,tag=TAG][,transport=…]", () => {
    expect(parseCli(["--share", "/srv/x"]).shares).toEqual([{ dir: "/srv/x", readOnly: false, tag: "host" }]);
    expect(parseCli(["--share", "d,ro,tag=data,transport=pci", "--share", "e"]).shares).toEqual([
      { dir: "d", readOnly: true, tag: "data", transport: "pci" },
      { dir: "e", readOnly: false, tag: "host" },
    ]);
    expect(() => parseCli(["--share", "d,rw"])).toThrow(/unknown option "rw"/);
    expect(() => parseCli(["--share", ",ro"])).toThrow(/needs a directory/);
    expect(() => parseCli(["--share", `d,tag=${"t".repeat(32)}`])).toThrow(/1 to 31 bytes/);
    expect(() => parseCli(["--share", "a", "--share", "b"])).toThrow(/"host" is given twice/);
    expect(() => parseCli(["--elf", "x", "--share", "a"])).toThrow(/--share/);
  });

  it("defaults and every option", () => {
    expect(parseCli([])).toEqual({
      memMiB: 256,
      transport: "mmio",
      net: "stack",
      help: false,
      jit: true,
    });
    expect(parseCli(["--stats"]).stats).toBe(true);
    expect(parseCli([]).stats).toBeUndefined();
    expect(parseCli(["--jit", "off"]).jit).toBe(false);
    expect(parseCli(["--jit", "on"]).jit).toBe(true);
    const o = parseCli([
      "--kernel=k",
      "--initrd",
      "i",
      "--bios",
      "none",
      "--mem",
      "512",
      "--append",
      "console=ttyS0 quiet",
      "--exec",
      "uname -a",
      "--trace",
      "t.log",
      "--timeout",
      "2.5",
      "--transport",
      "pci",
    ]);
    expect(o).toMatchObject({
      kernel: "k",
      initrd: "i",
      bios: "none",
      memMiB: 512,
      append: "console=ttyS0 quiet",
      exec: "uname -a",
      trace: "t.log",
      timeoutSec: 2.5,
      transport: "pci",
    });
    expect(parseCli(["-h"]).help).toBe(true);
    const n = parseCli([
      "--net",
      "none",
      "--net-features=-MRG_RXBUF",
      "--mac",
      "52:54:00:00:00:07",
      "--pcap",
      "x.pcap",
    ]);
    expect(n).toMatchObject({ net: "none", mac: Uint8Array.of(0x52, 0x54, 0, 0, 0, 7), pcap: "x.pcap" });
    expect((n.netFeatures ?? 0n) & (1n << 15n)).toBe(0n);
    const r = parseCli(["--net", "relay", "--relay", "wss://relay.example/l2/lab?token=t"]);
    expect(r).toMatchObject({ net: "relay", relay: "wss://relay.example/l2/lab?token=t" });
  });

  it.each([
    [["--bogus"], /Unknown option '--bogus'/],
    [["stray"], /Unexpected argument 'stray'/],
    [["--kernel"], /argument missing/],
    [["--mem", "lots"], /--mem takes a whole number/],
    [["--net", "wifi"], /--net takes loopback or /],
    [["--net", "relay"], /--net relay needs --relay/],
    [["--relay", "ws://127.0.0.1:8787/l2/a"], /--relay needs --net relay/],
    [["--net", "relay", "--relay", "http://127.0.0.1:8787/l2/a"], /--relay takes a ws:\/\/ or wss:\/\/ URL/],
    [["--net", "relay", "--relay", "ws://127.0.0.1:8787/wisp/"], /ending in \/l2\/NETWORK/],
    [["--net-features=-NOPE"], /unknown virtio-net feature/],
    [["--mac", "ff:ff:ff:ff:ff:ff"], /--mac takes a unicast MAC/],
    [["--mem", "0"], /--mem takes a whole number/],
    [["--mem", "1e3"], /--mem takes a whole number/],
    // Guest RAM and the hart's region share one 32-bit WebAssembly memory.
    [["--mem", "4091"], /--mem takes a whole number of MiB in 1…4090, not "4091"/],
    [["--jit", "maybe"], /--jit takes on or off, not "maybe"/],
    // The TypeScript hart and its compilers are gone: the options that chose them say so.
    [["--jit", "wasm"], /--jit wasm was the TypeScript hart's block compiler, removed with that hart/],
    [["--core", "js"], /--core was removed with the TypeScript hart: the WebAssembly core .* is the only hart/],
    [["--core", "wasm"], /--core was removed with the TypeScript hart/],
    [["--timeout", "0"], /--timeout takes a positive number/],
    [["--transport", "usb"], /--transport takes mmio or pci/],
    [["--timeout=-3"], /--timeout takes a positive number/],
    [["--elf", "x", "--kernel", "k"], /cannot be combined with --kernel/],
    [["--elf", "x", "--exec", "ls"], /cannot be combined with --exec/],
    [["--exec", " "], /--exec needs a command/],
    [["--prompt", "x"], /--prompt is what --exec waits for; give --exec too/],
    [["--exec", "ls", "--prompt", "(x"], /--prompt takes a regular expression/],
  ])("rejects %j", (argv, msg) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(msg);
  });
});

describe("ExecDriver", () => {
  it("types the network wait at the first prompt and the command once, at the next, even in pieces", () => {
    const d = new ExecDriver("uname -a");
    expect(d.feed(bytes("Run /init as init process\r\n"))).toBeUndefined();
    expect(d.feed(bytes("vireo:"))).toBeUndefined();
    expect(d.feed(bytes("~# "))).toBe(EXEC_NET_WAIT);
    // The prompt it answered is still the end of the text until the echo comes: not a second prompt.
    expect(d.feed(bytes("\x1b[6n"))).toBeUndefined();
    expect(d.feed(bytes("vireo-netwait 2>/dev/null\r\nvireo:"))).toBeUndefined();
    expect(d.feed(bytes("~# "))).toBe("(uname -a); echo vireo-exit=$?; poweroff -f\n");
    expect(d.feed(bytes("\r\nvireo:~# "))).toBeUndefined();
  });

  it("sees the prompt through busybox's cursor-position query, even split", () => {
    const d = new ExecDriver("true");
    expect(d.feed(bytes("vireo:~# \x1b["))).toBeUndefined();
    expect(d.feed(bytes("6n"))).toBe(EXEC_NET_WAIT);
  });

  it("sees the prompt when a kernel log line follows it", () => {
    const d = new ExecDriver("true");
    expect(
      d.feed(bytes("vireo:~# \x1b[6n[    3.452234] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready\r\n")),
    ).toBe(EXEC_NET_WAIT);
    const e = new ExecDriver("true");
    expect(e.feed(bytes("vireo:~# [    3.45] half a kernel li"))).toBe(EXEC_NET_WAIT);
    expect(e.feed(bytes("ne\r\nvireo-netwait 2>/dev/null\r\nvireo:~# [    3.46] another"))).toBe(
      "(true); echo vireo-exit=$?; poweroff -f\n",
    );
    const f = new ExecDriver("true");
    expect(f.feed(bytes("vireo:~# ls\r\n[    3.45] eth0: link becomes ready\r\n"))).toBeUndefined();
  });

  it("does not mistake a prompt in the middle of the output", () => {
    const d = new ExecDriver("true");
    expect(d.feed(bytes("vireo:~# echo\r\n"))).toBeUndefined();
    expect(PROMPT_RE.test("vireo:/tmp# ")).toBe(true);
  });

  it("reads the exit status, also when the marker is split across chunks", () => {
    const d = new ExecDriver("false");
    d.feed(bytes("vireo:~# "));
    d.feed(bytes("vireo-netwait 2>/dev/null\r\nvireo:~# "));
    // The echoed command line has `vireo-exit=$?`, which must not count.
    d.feed(bytes("(false); echo vireo-exit=$?; poweroff -f\r\n"));
    expect(d.status).toBeUndefined();
    d.feed(bytes("vireo-ex"));
    d.feed(bytes("it=1"));
    expect(d.status).toBeUndefined(); // more digits might follow
    d.feed(bytes("27\r\n[   12.3] reboot: Power down\r\n"));
    expect(d.status).toBe(127);
  });
});

describe("the vm command", () => {
  it("--help prints the usage and exits 0", () => {
    const r = vm("--help");
    expect(r.code).toBe(0);
    for (const opt of [
      "--kernel",
      "--initrd",
      "--bios",
      "--mem",
      "--append",
      "--exec",
      "--elf",
      "--trace",
      "--timeout",
    ]) {
      expect(r.stdout).toContain(opt);
    }
    expect(r.stdout).toContain("Ctrl-A x");
  });

  it.each([
    [["--bogus"], /Unknown option '--bogus'/],
    [["--mem", "abc"], /--mem takes a whole number/],
    [
      ["--bios", "none", "--kernel", "/nonexistent/vmlinux"],
      /cannot read --kernel \/nonexistent\/vmlinux: no such file/,
    ],
    [["--elf", "/nonexistent.elf"], /cannot read --elf \/nonexistent.elf: no such file/],
    // Output files are opened before the guest runs (--guest-profile used to crash after the whole run).
    [["--trace", "/nonexistent/t.trace"], /cannot write --trace \/nonexistent\/t.trace: ENOENT/],
    [["--guest-profile", "/nonexistent/p.txt"], /cannot write --guest-profile \/nonexistent\/p.txt: ENOENT/],
  ])("%j exits 2 with a message", (argv, msg) => {
    const r = vm(...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).toContain("--help");
  });

  it("names a missing image file and exits 2", () => {
    const r = vm("--kernel", join(tmp, "no-such-Image"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no-such-Image");
  });

  it.each([
    ["--kernel", "<!DOCTYPE html><html>404</html>", /--kernel \S+ is an HTML page, not a RISC-V Linux kernel/],
    ["--initrd", "not a cpio", /--initrd \S+ is a text file \("not a cpio"\), not an initramfs/],
    ["--bios", "070701000002D1", /--bios \S+ is a cpio archive \(an initramfs\), not an OpenSBI firmware/],
  ])("%s with the wrong kind of file is refused before boot (exit 2)", (option, content, msg) => {
    const f = join(tmp, `bad${option}`);
    writeFileSync(f, content);
    const r = vm(option, f);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr).toContain("refused before boot");
  });

  it("a file that is not an ELF is refused with the reason", () => {
    const f = join(tmp, "not.elf");
    writeFileSync(f, "hello");
    const r = vm("--elf", f);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ELF: .*shorter than the 64-byte ELF64 header/);
  });

  it("a host without WebAssembly is told so, and the CLI exits 1 (the hart is a WebAssembly module)", () => {
    const f = join(tmp, "nowasm.elf");
    writeFileSync(f, assemble(htifProgram(0, "hello\n")).elf);
    // V8 without its compilers (--jitless) has no WebAssembly object at all.
    const r = vmWith({ NODE_OPTIONS: "--jitless" }, "--elf", f, "--timeout", "30");
    expect(r.stderr).toContain("vireo: this Node has no WebAssembly");
    expect(r.stdout).toBe("");
    expect(r.code).toBe(1);
  });

  describe("--elf (HTIF)", () => {
    it("PASS → exit 0, console text on stdout", () => {
      const f = join(tmp, "pass.elf");
      writeFileSync(f, assemble(htifProgram(0, "hello\n")).elf);
      const r = vm("--elf", f, "--timeout", "30");
      expect(r.stdout).toBe("hello\n");
      expect(r.stderr).toContain("vireo: PASS");
      expect(r.code).toBe(0);
    });

    it("--stats prints the instructions retired at exit", () => {
      const f = join(tmp, "stats.elf");
      writeFileSync(f, assemble(htifProgram(0, "hi\n")).elf);
      const r = vm("--elf", f, "--timeout", "30", "--stats");
      expect(r.code).toBe(0);
      const n = /^vireo: instret (\d+)$/m.exec(r.stderr);
      expect(Number(n?.[1])).toBeGreaterThan(10);
      expect(r.stdout).toBe("hi\n");
      expect(vm("--elf", f, "--timeout", "30").stderr).not.toContain("instret");
    });

    it("a failing test → exit with its number", () => {
      const f = join(tmp, "fail.elf");
      writeFileSync(f, assemble(htifProgram(5)).elf);
      const r = vm("--elf", f, "--timeout", "30");
      expect(r.stderr).toContain("FAIL (test 5)");
      expect(r.code).toBe(5);
    });

    it("--timeout → exit 124; --trace writes one line per instruction", () => {
      const f = join(tmp, "loop.elf");
      writeFileSync(f, assemble("  .section .text.init\n  .globl _start\n_start:\n  nop\n1: j 1b\n").elf);
      const trace = join(tmp, "trace.log");
      const r = vm("--elf", f, "--timeout", "0.5", "--trace", trace);
      expect(r.code).toBe(124);
      expect(r.stderr).toContain("no tohost symbol");
      expect(r.stderr).toContain("vireo: timeout after 0.5 s");
      const lines = readFileSync(trace, "utf8").split("\n");
      expect(lines.length).toBeGreaterThan(100);
      expect(lines[0]).toMatch(/80000000/);
    });
  });
});

describe("npm run vm (scripts/vm.mjs: the esbuild bundle, rebuilt when stale)", () => {
  const launch = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/vm.mjs"), ...args], {
      cwd: tmp,
      encoding: "utf8",
      input: "",
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("passes argv through; stdout is the guest's alone; the exit code is the CLI's", () => {
    const pass = join(tmp, "launch-pass.elf");
    writeFileSync(pass, assemble(htifProgram(0, "hello\n")).elf);
    const ok = launch("--elf", pass, "--timeout", "30");
    expect(ok.stdout).toBe("hello\n");
    expect(ok.stderr).toContain("vireo: PASS");
    expect(ok.code).toBe(0);
    const fail = join(tmp, "launch-fail.elf");
    writeFileSync(fail, assemble(htifProgram(5)).elf);
    expect(launch("--elf", fail, "--timeout", "30").code).toBe(5);
    expect(launch("--mem", "x").code).toBe(2);
  });
});

describe("--console", () => {
  it("parses uart or hvc (absent means uart) and refuses anything else or with --elf", () => {
    expect(parseCli([]).console).toBeUndefined();
    expect(parseCli(["--console", "hvc"]).console).toBe("hvc");
    expect(parseCli(["--console=uart"]).console).toBe("uart");
    expect(() => parseCli(["--console", "hvc1"])).toThrow(/--console takes uart or hvc, not "hvc1"/);
    expect(() => parseCli(["--elf", "x", "--console", "hvc"])).toThrow(UsageError);
  });

  it("moves the kernel console to hvc0 in the command line", () => {
    expect(hvcBootargs("console=ttyS0 earlycon=sbi")).toBe("console=hvc0 earlycon=sbi");
    expect(hvcBootargs("earlycon=sbi console=ttyS0,115200 quiet")).toBe("earlycon=sbi console=hvc0 quiet");
    expect(hvcBootargs("quiet")).toBe("quiet console=hvc0");
    expect(hvcBootargs("console=hvc0 console=ttyS0")).toBe("console=hvc0");
  });

  it("prefixes each line of the other console, across chunks", () => {
    const out: string[] = [];
    const p = new PrefixedLines("[hvc0] ", (b) => out.push(new TextDecoder().decode(b)));
    p.feed(bytes("one\r\ntw"));
    p.feed(bytes("o\n"));
    p.feed(bytes(""));
    p.feed(bytes("three"));
    expect(out.join("")).toBe("[hvc0] one\r\n[hvc0] two\n[hvc0] three");
  });

  it("--help documents it", () => {
    expect(vm("--help").stdout).toMatch(/--console uart\|hvc/);
  });
});
