// Boots the committed image with `--share DIR` over MMIO and over PCI: its init mounts the 9p share tagged
// "host" at /mnt/host by itself, the guest reads a file the host wrote, writes one the host reads, makes,
// lists, renames and deletes files and directories, and copies a 64 MiB file of random bytes through the
// share (read by the guest, written back by the guest: the host compares SHA-256s), and hashes it itself.
// Then a read-only share refuses the guest's writes, and a machine saved with the share mounted is restored
// with it.

import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runVm } from "./host-side.ts";

const top = mkdtempSync(join(tmpdir(), "vireo-9p-boot-"));
afterAll(() => rmSync(top, { recursive: true, force: true }));

const BIG = 64 << 20;
const big = randomBytes(BIG);
const bigSha = createHash("sha256").update(big).digest("hex");
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Lines starting with `tag `, the rest of the line (the console adds \r). */
function rows(out: string, tag: string): string[] {
  return out
    .split("\n")
    .map((l) => l.replace(/\r$/, "").trim())
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => l.slice(tag.length + 1));
}

describe("virtio-9p in Linux 6.1 (--share)", () => {
  for (const transport of ["mmio", "pci"] as const) {
    it(`${transport}: files both ways, directories, rename, delete and 64 MiB through the share`, async () => {
      const share = join(top, transport);
      mkdirSync(share);
      writeFileSync(join(share, "from-host.txt"), `hello from the host over ${transport}\n`);
      writeFileSync(join(share, "big.bin"), big);
      const script = [
        'echo "mount $(grep " /mnt/host " /proc/mounts)";',
        "cd /mnt/host;",
        'echo "host-file $(cat from-host.txt)";',
        `echo "written by the guest over ${transport}" > from-guest.txt;`,
        "mkdir -p d/e && echo inner > d/e/f && mv d/e/f d/g && rmdir d/e && mkdir gone && rmdir gone;",
        'echo "ls $(ls d | tr "\\n" " ")";',
        "echo tmp > tmp.txt && rm tmp.txt;",
        "cp big.bin copy.bin && mv copy.bin big-copy.bin &&",
        'echo "guest-sha $(sha256sum big.bin)";',
        'echo "stat $(stat -c %s big-copy.bin)"',
      ].join(" ");
      const r = await runVm("none", ["--transport", transport, "--share", share, "--exec", script], 600);
      const log = `${r.out}\n${r.err}`;
      expect(r.status, log).toBe(0);
      expect(rows(r.out, "mount")[0], log).toMatch(/^host \/mnt\/host 9p .*trans=virtio/);
      expect(rows(r.out, "host-file")).toEqual([`hello from the host over ${transport}`]);
      expect(readFileSync(join(share, "from-guest.txt"), "utf8")).toBe(`written by the guest over ${transport}\n`);
      expect(rows(r.out, "ls")).toEqual(["g"]);
      expect(readFileSync(join(share, "d", "g"), "utf8")).toBe("inner\n");
      expect(readdirSync(join(share, "d"))).toEqual(["g"]);
      expect(existsSync(join(share, "tmp.txt"))).toBe(false);
      expect(existsSync(join(share, "gone"))).toBe(false);
      // 64 MiB read by the guest and written back by it, equal on the host; and the guest's own hash.
      expect(rows(r.out, "stat")).toEqual([String(BIG)]);
      expect(sha(readFileSync(join(share, "big-copy.bin")))).toBe(bigSha);
      expect(rows(r.out, "guest-sha")[0]?.split(/\s+/)[0]).toBe(bigSha);
      expect(readdirSync(share).sort()).toEqual(["big-copy.bin", "big.bin", "d", "from-guest.txt", "from-host.txt"]);
    }, 700_000);
  }

  it("the guest's escape attempts through the mounted share fail, and nothing outside it changes", async () => {
    // Beside the share on the host: a directory the guest must not reach. In the share, symlinks the host made
    // pointing there (relative and absolute), which the guest resolves in its own namespace, never the host's.
    const base = join(top, "confined");
    const outside = join(base, "outside");
    const share = join(base, "share");
    mkdirSync(join(outside, "dir"), { recursive: true });
    mkdirSync(join(share, "inner"), { recursive: true });
    writeFileSync(join(outside, "secret.txt"), "do not touch\n");
    writeFileSync(join(share, "inner", "ok.txt"), "inside\n");
    symlinkSync("../outside", join(share, "link-dir"));
    symlinkSync(join(outside, "secret.txt"), join(share, "link-file"));
    symlinkSync(outside, join(share, "abs-dir"));
    // Each attempt in a child shell (t TAG CMD): its status and its error message (busybox's words for the
    // errno). Short: the whole script is one line typed into the guest's console, which takes about 1000 characters.
    const attempts: [string, string][] = [
      ["r1", "cat link-file"],
      ["r2", "cat link-dir/secret.txt"],
      ["r3", "cat abs-dir/secret.txt"],
      ["w1", "echo p >link-dir/p"],
      ["w2", "echo p >abs-dir/p"],
      ["w3", "echo p >link-file"],
      ["w4", ": >link-file"],
      ["rm", "rm -f link-dir/secret.txt&&ls link-dir/secret.txt"],
      ["md", "mkdir link-dir/d"],
      ["mv", "mv inner/ok.txt link-dir/s"],
      ["sl", "ln -s / l"],
      ["hl", "ln inner/ok.txt h"],
      ["mn", "mknod n c 1 3"],
      ["mf", "mkfifo f"],
    ];
    const script = [
      'cd /mnt/host; t(){ n=$1; shift; sh -c "$*" >/dev/null 2>/tmp/e; echo "E-$n $? $(tail -n1 /tmp/e)"; };',
      ...attempts.map(([tag, cmd]) => `t ${tag} '${cmd}';`),
      'echo "ok$((1+1)) $(cat inner/ok.txt)"',
    ].join(" ");
    expect(script.length).toBeLessThan(900);
    const r = await runVm("none", ["--share", share, "--exec", script], 300);
    const log = `${r.out}\n${r.err}`;
    expect(r.status, log).toBe(0);
    const result = (tag: string): { status: number; err: string } => {
      // (E-TAG and ok2 are printed, never typed: a wrapped piece of the typed line cannot pass for a row.)
      const row = rows(r.out, `E-${tag}`)[0];
      if (row === undefined) throw new Error(`no ${tag} row in:\n${log}`);
      const [status, ...err] = row.split(" ");
      return { status: Number(status), err: err.join(" ") };
    };
    // Through the host's symlinks: the guest resolves them to paths of its own that do not exist (ENOENT).
    for (const tag of ["r1", "r2", "r3", "w1", "w2", "w3", "w4", "rm", "md", "mv"]) {
      const { status, err } = result(tag);
      expect(status, `${tag}: ${log}`).not.toBe(0);
      // (busybox's sh words ENOENT on a redirection as "nonexistent directory".)
      expect(err, `${tag}: ${log}`).toMatch(/No such file or directory|nonexistent directory/);
    }
    // What the share refuses itself: new symlinks, hard links, device files and FIFOs (EPERM).
    for (const tag of ["sl", "hl", "mn", "mf"]) {
      const { status, err } = result(tag);
      expect(status, `${tag}: ${log}`).not.toBe(0);
      expect(err, `${tag}: ${log}`).toMatch(/Operation not permitted/);
    }
    expect(rows(r.out, "ok2")).toEqual(["inside"]);
    // Outside: the same two entries, the secret unchanged. Inside: only what the host put there.
    expect(readdirSync(outside).sort()).toEqual(["dir", "secret.txt"]);
    expect(readdirSync(join(outside, "dir"))).toEqual([]);
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("do not touch\n");
    expect(readdirSync(base).sort()).toEqual(["outside", "share"]);
    expect(readdirSync(share).sort()).toEqual(["abs-dir", "inner", "link-dir", "link-file"]);
    expect(readdirSync(join(share, "inner"))).toEqual(["ok.txt"]);
    expect(lstatSync(join(share, "link-file")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(share, "link-dir"))).toBe("../outside");
  }, 400_000);

  it("a read-only share refuses writes; a snapshot with the share mounted restores with it", async () => {
    const share = join(top, "ro");
    mkdirSync(share);
    writeFileSync(join(share, "keep.txt"), "unchanged\n");
    const script = [
      'echo "read $(cat /mnt/host/keep.txt)";',
      // (The shell reports a failed redirection itself: run it in a child whose stderr is kept.)
      "sh -c 'echo x > /mnt/host/new.txt' 2>/tmp/e1; echo \"create $(cat /tmp/e1)\";",
      'rm /mnt/host/keep.txt 2>/tmp/e2; echo "rm $(cat /tmp/e2)"',
    ].join(" ");
    const r = await runVm("none", ["--share", `${share},ro`, "--exec", script], 300);
    const log = `${r.out}\n${r.err}`;
    expect(r.status, log).toBe(0);
    expect(rows(r.out, "read")).toEqual(["unchanged"]);
    expect(rows(r.out, "create")[0], log).toMatch(/Read-only file system/);
    expect(rows(r.out, "rm")[0], log).toMatch(/Read-only file system/);
    expect(readdirSync(share)).toEqual(["keep.txt"]);

    // Saved at the prompt with /mnt/host mounted (the root fid held), restored in a new process: the share
    // comes back from the snapshot's record and the guest's mount works on, both ways.
    const rw = join(top, "snap");
    mkdirSync(rw);
    const snap = join(top, "m.vireo");
    const s = await runVm("none", ["--share", rw, "--save", snap, "--save-at", "# "], 300);
    expect(s.status, `${s.out}\n${s.err}`).toBe(0);
    writeFileSync(join(rw, "after-save.txt"), "written on the host after the save\n");
    const restoreScript = 'echo "after $(cat /mnt/host/after-save.txt)"; echo restored > /mnt/host/from-restored.txt';
    const t = await runVm("none", ["--restore", snap, "--exec", restoreScript], 300);
    expect(t.status, `${t.out}\n${t.err}`).toBe(0);
    expect(rows(t.out, "after")).toEqual(["written on the host after the save"]);
    expect(readFileSync(join(rw, "from-restored.txt"), "utf8")).toBe("restored\n");
  }, 700_000);
});
