// The host-directory share: the common backend suite, then confinement — every way a guest could try to
// reach outside the shared directory (.., names with slashes, symlinks to directories and files outside,
// absolute symlinks, a directory swapped for a symlink after it was walked, FIFOs) fails, and a listing of
// everything outside the share (names, sizes, contents, mtimes) is the same before and after.

import { execFileSync } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  EACCES,
  ELOOP,
  ENOENT,
  ENOTDIR,
  EPERM,
  P9_AT_REMOVEDIR,
  P9_DOTL_RDWR,
  P9_DOTL_WRONLY,
  P9_SETATTR_MODE,
  P9_SETATTR_SIZE,
} from "../../devices/virtio-9p/p9-proto.ts";
import { P9Server } from "../../devices/virtio-9p/p9-server.ts";
import { errnoOf, P9Client } from "../testing/p9-client.ts";
import { shareBackendSuite } from "../testing/p9-share-suite.ts";
import { HostShare } from "./host-share.ts";

const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "vireo-9p-"));
  made.push(d);
  return d;
}

describe("9P server over a host directory", () => {
  shareBackendSuite((readOnly) => {
    const root = tempDir();
    return {
      backend: new HostShare(root, { readOnly }),
      readHost(path: string) {
        try {
          return new Uint8Array(readFileSync(join(root, path)));
        } catch {
          return undefined;
        }
      },
      writeHost(path: string, data: Uint8Array) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), data);
      },
    };
  });
});

/** Everything under `dir`: path → size, mtime and a content digest, symlinks by target. */
function inventory(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out[p] = `dir ${st.mtimeMs} ${st.mode}`;
        walk(p);
      } else if (st.isFile()) out[p] = `file ${st.size} ${st.mtimeMs} ${st.mode} ${readFileSync(p).toString("base64")}`;
      else out[p] = `other ${st.mode}`;
    }
  };
  walk(dir);
  return out;
}

describe("host share confinement", () => {
  const top = tempDir();
  const outside = join(top, "outside");
  const share = join(top, "share");
  mkdirSync(outside);
  mkdirSync(share);
  writeFileSync(join(outside, "secret.txt"), "do not touch");
  mkdirSync(join(outside, "dir"));
  writeFileSync(join(top, "sibling.txt"), "also outside");
  symlinkSync("../outside", join(share, "link-dir"));
  symlinkSync(join(outside, "secret.txt"), join(share, "link-file"));
  symlinkSync("/etc", join(share, "abs"));
  mkdirSync(join(share, "inner"));
  writeFileSync(join(share, "inner", "ok.txt"), "inside");
  execFileSync("mkfifo", [join(share, "fifo")]);

  const before = inventory(top);
  const backend = new HostShare(share);
  const server = new P9Server(backend);
  const c = new P9Client((req) => server.handle(req, 1 << 20)).mount();
  const escapes = [EACCES, ENOENT, ENOTDIR, ELOOP, EPERM];

  it("keeps .. at the root and treats a slash in a name as no such file", () => {
    const root = c.getattr(1).qid.path;
    const q = c.walk(1, 2, ["..", "..", "outside"]);
    expect(q.length).toBe(2); // "..", ".." stay at the root; "outside" is not in the share
    expect(q.every((x) => x.path === root)).toBe(true);
    expect(errnoOf(() => c.getattr(2))).toBe(EBADF_);
    expect(errnoOf(() => c.walk(1, 2, ["../outside"]))).toBe(ENOENT);
    expect(errnoOf(() => c.walk(1, 2, ["..", "sibling.txt"]))).toBe(0); // a partial walk: one qid
    c.walkTo(3, "inner");
    expect(c.walk(3, 4, ["..", ".."]).map((x) => x.path)).toEqual([root, root]);
    expect(errnoOf(() => c.lcreate(1, "../escape.txt", P9_DOTL_WRONLY))).toBe(ENOENT);
    expect(errnoOf(() => c.mkdir(1, "../escape"))).toBe(ENOENT);
    c.clunk(3);
    c.clunk(4);
  });

  it("never follows a symlink to a directory outside", () => {
    expect(c.walk(1, 5, ["link-dir", "secret.txt"]).length).toBe(1); // stops at the link
    expect(c.walk(1, 5, ["abs", "passwd"]).length).toBe(1);
    c.walkTo(6, "link-dir");
    expect(c.readlink(6)).toBe("../outside"); // the guest resolves it in its own namespace
    expect(escapes).toContain(errnoOf(() => c.lcreate(6, "planted", P9_DOTL_WRONLY)));
    expect(escapes).toContain(errnoOf(() => c.mkdir(6, "planted")));
    expect(escapes).toContain(errnoOf(() => c.unlinkat(6, "secret.txt")));
    expect(escapes).toContain(errnoOf(() => c.unlinkat(6, "dir", P9_AT_REMOVEDIR)));
    expect(escapes).toContain(errnoOf(() => c.renameat(6, "secret.txt", 1, "stolen")));
    expect(escapes).toContain(errnoOf(() => c.renameat(1, "inner", 6, "moved")));
    expect(escapes).toContain(errnoOf(() => c.lopen(6, 0)));
    // Straight to the backend, as a server bug would: refused by the realpath check.
    expect(errnoOf9(() => backend.lstat(["link-dir", "secret.txt"]))).toBe(EACCES);
    expect(errnoOf9(() => backend.readdir(["link-dir"]))).toBe(EACCES);
    expect(errnoOf9(() => backend.open(["abs", "passwd"], { access: 0, truncate: false, append: false }))).toBe(EACCES);
    c.clunk(6);
  });

  it("never opens, truncates or chmods through a symlink to a file outside", () => {
    c.walkTo(7, "link-file");
    expect(escapes).toContain(errnoOf(() => c.lopen(7, P9_DOTL_RDWR)));
    expect(escapes).toContain(errnoOf(() => c.setattr(7, { valid: P9_SETATTR_SIZE, size: 0 })));
    expect(escapes).toContain(errnoOf(() => c.setattr(7, { valid: P9_SETATTR_MODE, mode: 0o777 })));
    expect(errnoOf9(() => backend.open(["link-file"], { access: 2, truncate: true, append: false }))).toBe(EACCES);
    // Unlinking the link removes the link, not its target.
    c.unlinkat(1, "link-file");
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("do not touch");
    symlinkSync(join(outside, "secret.txt"), join(share, "link-file"));
    c.clunk(7);
  });

  it("refuses a directory that became a symlink after it was walked", () => {
    mkdirSync(join(share, "swap"));
    c.walkTo(8, "swap");
    renameSync(join(share, "swap"), join(share, "swap-old"));
    symlinkSync(outside, join(share, "swap"));
    expect(escapes).toContain(errnoOf(() => c.lcreate(8, "planted", P9_DOTL_WRONLY)));
    expect(escapes).toContain(errnoOf(() => c.mkdir(8, "planted")));
    c.clunk(8);
  });

  it("does not open FIFOs, and symlinks cannot be created", () => {
    c.walkTo(9, "fifo");
    expect(errnoOf(() => c.lopen(9, 0))).toBe(EPERM);
    expect(errnoOf9(() => backend.open(["fifo"], { access: 0, truncate: false, append: false }))).toBe(EACCES);
    expect(errnoOf(() => c.symlink(1, "new-link", "/etc/shadow"))).toBe(EPERM);
    c.clunk(9);
  });

  it("left everything outside the share as it was", () => {
    const after = inventory(top);
    for (const [p, v] of Object.entries(before)) {
      if (!p.startsWith(share)) expect(after[p], p).toBe(v);
    }
    expect(Object.keys(after).filter((p) => !p.startsWith(share))).toEqual(
      Object.keys(before).filter((p) => !p.startsWith(share)),
    );
    expect(readFileSync(join(share, "inner", "ok.txt"), "utf8")).toBe("inside");
  });
});

const EBADF_ = 9;

/** The errno of a backend call that throws a P9Error, or 0. */
function errnoOf9(f: () => unknown): number {
  try {
    f();
    return 0;
  } catch (e) {
    return (e as { errno: number }).errno;
  }
}

describe("a host share's 9P session in a snapshot", () => {
  const dir = tempDir();
  const enc = (s: string) => new TextEncoder().encode(s);
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);

  it("saves fids by path and reopens them on a fresh server", () => {
    writeFileSync(join(dir, "log.txt"), "first\n");
    mkdirSync(join(dir, "sub"));
    const a = new P9Server(new HostShare(dir));
    const ca = new P9Client((req) => a.handle(req, 1 << 20)).mount(65536);
    ca.walkTo(2, "log.txt");
    ca.lopen(2, P9_DOTL_RDWR);
    ca.walkTo(3, "sub");
    ca.lopen(3, 0);
    const saved = JSON.parse(JSON.stringify(a.saveState()));
    expect(saved.fids.length).toBe(3);

    const b = new P9Server(new HostShare(dir));
    b.loadState(saved, "p9");
    expect(b.msize).toBe(65536);
    const cb = new P9Client((req) => b.handle(req, 1 << 20));
    cb.msize = 65536;
    expect(dec(cb.read(2, 0, 100))).toBe("first\n");
    cb.write(2, 6, enc("second\n"));
    expect(readFileSync(join(dir, "log.txt"), "utf8")).toBe("first\nsecond\n");
    expect(cb.listAll(3)).toContain(".");
    cb.writeFile("sub/new.txt", enc("x")); // fid 1, the root, came back too
    expect(readFileSync(join(dir, "sub", "new.txt"), "utf8")).toBe("x");
  });

  it("refuses to save a file held open after it was deleted, and to load one that is gone", () => {
    writeFileSync(join(dir, "tmp.txt"), "t");
    const a = new P9Server(new HostShare(dir));
    const c = new P9Client((req) => a.handle(req, 1 << 20)).mount();
    c.walkTo(2, "tmp.txt");
    c.lopen(2, 0);
    const ok = a.saveState();
    rmSync(join(dir, "tmp.txt"));
    expect(() => a.saveState()).toThrow(/\/tmp.txt open .* deleted or replaced/);
    const b = new P9Server(new HostShare(dir));
    expect(() => b.loadState(ok, "p9")).toThrow(/p9.fids\[1\]: \/tmp.txt cannot be reopened/);
    expect(b.fidCount).toBe(0);
  });

  it("refuses hostile saved sessions by field", () => {
    const b = new P9Server(new HostShare(dir));
    const bad: [unknown, RegExp][] = [
      [null, /p9: not an object|p9/],
      [{ msize: 100, fids: [] }, /p9.msize/],
      [{ msize: 8192, fids: [{ id: 1, uid: 0, path: [".."], open: null }] }, /p9.fids\[0\].path\[0\]: not a file name/],
      [{ msize: 8192, fids: [{ id: 1, uid: 0, path: ["a/b"], open: null }] }, /p9.fids\[0\].path\[0\]/],
      [{ msize: 8192, fids: [{ id: 1, uid: 0, path: [], open: { dir: false, access: 3, append: false } }] }, /access/],
      [
        {
          msize: 8192,
          fids: [
            { id: 1, uid: 0, path: [], open: null },
            { id: 1, uid: 0, path: [], open: null },
          ],
        },
        /an id twice/,
      ],
    ];
    for (const [state, re] of bad) expect(() => b.loadState(state, "p9"), JSON.stringify(state)).toThrow(re);
    expect(b.fidCount).toBe(0);
  });
});
