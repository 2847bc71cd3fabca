// One behaviour suite for every ShareBackend, run through a P9Server with the test client: the in-memory
// share (devices/virtio-9p) and the host directory (src/cli) must answer the same 9P2000.L conversation
// the same way — the operations Linux's 9p client uses to create, write, read, list, rename and delete.

import { expect, it } from "vitest";
import {
  EBADF,
  EEXIST,
  EINVAL,
  EISDIR,
  ENOENT,
  ENOTEMPTY,
  EOPNOTSUPP,
  EPERM,
  EROFS,
  P9_AT_REMOVEDIR,
  P9_DOTL_RDWR,
  P9_DOTL_TRUNC,
  P9_DOTL_WRONLY,
  P9_QTDIR,
  P9_SETATTR_MODE,
  P9_SETATTR_SIZE,
} from "../../devices/virtio-9p/p9-proto.ts";
import { P9_MAX_MSIZE, P9Server } from "../../devices/virtio-9p/p9-server.ts";
import { S_IFDIR, S_IFMT, S_IFREG, type ShareBackend } from "../../devices/virtio-9p/share-backend.ts";
import { errnoOf, P9Client } from "./p9-client.ts";

export interface ShareFixture {
  backend: ShareBackend;
  /** Host-side view of the share, to check what the server did. */
  readHost(path: string): Uint8Array | undefined;
  writeHost(path: string, data: Uint8Array): void;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function clientFor(backend: ShareBackend): { c: P9Client; server: P9Server } {
  const server = new P9Server(backend);
  const c = new P9Client((req) => server.handle(req, 1 << 21));
  return { c, server };
}

/** Registers the suite's tests; `make(readOnly)` builds a fresh, empty share. */
export function shareBackendSuite(make: (readOnly: boolean) => ShareFixture): void {
  it("negotiates the version and msize, and refuses a tiny msize", () => {
    const { c } = clientFor(make(false).backend);
    expect(c.version(512000)).toEqual({ msize: 512000, version: "9P2000.L" });
    expect(c.version(64 << 20).msize).toBe(P9_MAX_MSIZE);
    expect(c.version(8192, "9P2000.u").version).toBe("unknown");
    expect(errnoOf(() => c.version(100))).toBe(EINVAL);
  });

  it("attaches to a directory root", () => {
    const { c } = clientFor(make(false).backend);
    c.version();
    const q = c.attach(1);
    expect(q.type).toBe(P9_QTDIR);
    expect(c.getattr(1).mode & S_IFMT).toBe(S_IFDIR);
    expect(errnoOf(() => c.attach(1))).toBe(EBADF); // fid in use
  });

  it("creates, writes, reads back and stats a file; the host sees the bytes", () => {
    const fx = make(false);
    const { c } = clientFor(fx.backend);
    c.mount();
    c.walk(1, 2, []);
    c.lcreate(2, "hello.txt", P9_DOTL_RDWR, 0o640);
    expect(c.write(2, 0, enc("hello, "))).toBe(7);
    expect(c.write(2, 7, enc("world"))).toBe(5);
    expect(dec(c.read(2, 0, 100))).toBe("hello, world");
    expect(dec(c.read(2, 7, 3))).toBe("wor");
    expect(c.read(2, 100, 10).length).toBe(0);
    const a = c.getattr(2);
    expect(a.size).toBe(12);
    expect(a.mode & S_IFMT).toBe(S_IFREG);
    expect(a.mode & 0o777).toBe(0o640);
    c.clunk(2);
    expect(dec(fx.readHost("hello.txt") ?? new Uint8Array())).toBe("hello, world");
    expect(errnoOf(() => c.read(2, 0, 1))).toBe(EBADF); // clunked
  });

  it("reads a host file in msize pieces, byte for byte", () => {
    const fx = make(false);
    const data = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    fx.writeHost("big.bin", data);
    const { c } = clientFor(fx.backend);
    c.mount(65536);
    const back = c.readFile("big.bin");
    expect(back.length).toBe(data.length);
    expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
    // And written back from the guest side.
    c.writeFile("copy.bin", back);
    expect(Buffer.from(fx.readHost("copy.bin") ?? []).equals(Buffer.from(data))).toBe(true);
  });

  it("makes directories and lists them with . and .., across several Treaddir calls", () => {
    const { c } = clientFor(make(false).backend);
    c.mount();
    c.mkdir(1, "d");
    c.walkTo(2, "d");
    const names = Array.from({ length: 40 }, (_, i) => `file-${String(i).padStart(3, "0")}`);
    for (const n of names) {
      c.walk(2, 3, []);
      c.lcreate(3, n, P9_DOTL_WRONLY);
      c.clunk(3);
    }
    c.mkdir(2, "sub");
    c.lopen(2, 0);
    const all = c.listAll(2, 200); // a few entries per call
    expect(all.sort()).toEqual([".", "..", ...names, "sub"].sort());
    const entries = c.readdir(2, 0, 8192);
    expect(entries.find((e) => e.name === "sub")?.type).toBe(4);
    expect(entries.find((e) => e.name === "file-000")?.type).toBe(8);
    expect(errnoOf(() => c.mkdir(1, "d"))).toBe(EEXIST);
    // A directory opened for writing is refused.
    c.walkTo(4, "d");
    expect(errnoOf(() => c.lopen(4, P9_DOTL_WRONLY))).toBe(EISDIR);
  });

  it("renames a file across directories; an open fid follows it", () => {
    const fx = make(false);
    const { c } = clientFor(fx.backend);
    c.mount();
    c.mkdir(1, "a");
    c.mkdir(1, "b");
    c.writeFile("a/f", enc("payload"));
    c.walkTo(5, "a/f");
    c.lopen(5, 0);
    c.walkTo(2, "a");
    c.walkTo(3, "b");
    c.renameat(2, "f", 3, "g");
    expect(dec(c.read(5, 0, 100))).toBe("payload");
    expect(c.getattr(5).size).toBe(7);
    expect(c.walkTo(6, "a/f").length).toBe(1); // "a" still exists, "f" no longer
    expect(errnoOf(() => c.walk(2, 6, ["f"]))).toBe(ENOENT);
    expect(dec(c.readFile("b/g"))).toBe("payload");
    expect(fx.readHost("a/f")).toBeUndefined();
    expect(dec(fx.readHost("b/g") ?? new Uint8Array())).toBe("payload");
    // Renaming a directory carries fids inside it along.
    c.walkTo(7, "b/g");
    c.renameat(1, "b", 1, "c");
    expect(c.getattr(7).size).toBe(7);
    expect(dec(c.readFile("c/g"))).toBe("payload");
  });

  it("unlinks files and directories with the right errors", () => {
    const fx = make(false);
    const { c } = clientFor(fx.backend);
    c.mount();
    c.mkdir(1, "d");
    c.writeFile("d/f", enc("x"));
    expect(errnoOf(() => c.unlinkat(1, "d", P9_AT_REMOVEDIR))).toBe(ENOTEMPTY);
    expect(errnoOf(() => c.unlinkat(1, "d", 0))).toBe(EISDIR);
    c.walkTo(2, "d");
    c.unlinkat(2, "f", 0);
    expect(fx.readHost("d/f")).toBeUndefined();
    expect(errnoOf(() => c.unlinkat(2, "f", 0))).toBe(ENOENT);
    c.unlinkat(1, "d", P9_AT_REMOVEDIR);
    expect(errnoOf(() => c.walkTo(3, "d"))).toBe(ENOENT);
    // Tremove clunks the fid.
    c.writeFile("r", enc("y"));
    c.walkTo(4, "r");
    c.remove(4);
    expect(fx.readHost("r")).toBeUndefined();
    expect(errnoOf(() => c.getattr(4))).toBe(EBADF);
  });

  it("truncates and chmods with Tsetattr, and truncates on open", () => {
    const fx = make(false);
    const { c } = clientFor(fx.backend);
    c.mount();
    c.writeFile("t", enc("0123456789"));
    c.walkTo(2, "t");
    c.setattr(2, { valid: P9_SETATTR_SIZE, size: 4 });
    expect(dec(fx.readHost("t") ?? new Uint8Array())).toBe("0123");
    c.setattr(2, { valid: P9_SETATTR_MODE, mode: 0o600 });
    expect(c.getattr(2).mode & 0o777).toBe(0o600);
    c.walkTo(3, "t");
    c.lopen(3, P9_DOTL_WRONLY | P9_DOTL_TRUNC);
    expect(c.getattr(3).size).toBe(0);
  });

  it("walks partially, caps walks at 16 names, and keeps .. at the root", () => {
    const { c } = clientFor(make(false).backend);
    c.mount();
    c.mkdir(1, "a");
    const qids = c.walk(1, 2, ["a", "missing", "x"]);
    expect(qids.length).toBe(1); // the prefix that exists; newfid not made
    expect(errnoOf(() => c.getattr(2))).toBe(EBADF);
    expect(errnoOf(() => c.walk(1, 2, ["missing"]))).toBe(ENOENT);
    expect(errnoOf(() => c.walk(1, 2, Array(17).fill("a")))).toBe(EINVAL);
    const root = c.getattr(1).qid;
    expect(c.walk(1, 3, ["..", "..", ".."]).map((q) => q.path)).toEqual([root.path, root.path, root.path]);
    expect(errnoOf(() => c.walk(1, 4, ["a/.."]))).toBe(ENOENT);
    expect(errnoOf(() => c.walk(99, 4, []))).toBe(EBADF);
  });

  it("refuses hard links, xattrs and bad names; answers statfs and fsync", () => {
    const { c } = clientFor(make(false).backend);
    c.mount();
    c.writeFile("f", enc("1"));
    c.walkTo(2, "f");
    expect(errnoOf(() => c.link(1, 2, "g"))).toBe(EPERM);
    expect(errnoOf(() => c.xattrwalk(2, 3, "user.x"))).toBe(EOPNOTSUPP);
    expect(errnoOf(() => c.mkdir(1, ".."))).toBe(EINVAL);
    expect(errnoOf(() => c.mkdir(1, ""))).toBe(EINVAL);
    expect(errnoOf(() => c.mkdir(1, "x".repeat(256)))).toBe(36);
    expect(c.statfs(1).bsize).toBeGreaterThan(0);
    c.lopen(2, 0);
    c.fsync(2);
  });

  it("a read-only share serves reads and answers every change with EROFS", () => {
    const fx = make(true);
    fx.writeHost("ro.txt", enc("read me"));
    const { c } = clientFor(fx.backend);
    c.mount();
    expect(dec(c.readFile("ro.txt"))).toBe("read me");
    c.walkTo(2, "ro.txt");
    expect(errnoOf(() => c.lopen(2, P9_DOTL_WRONLY))).toBe(EROFS);
    expect(errnoOf(() => c.lcreate(1, "new", P9_DOTL_WRONLY))).toBe(EROFS);
    expect(errnoOf(() => c.mkdir(1, "d"))).toBe(EROFS);
    expect(errnoOf(() => c.unlinkat(1, "ro.txt"))).toBe(EROFS);
    expect(errnoOf(() => c.renameat(1, "ro.txt", 1, "x"))).toBe(EROFS);
    expect(errnoOf(() => c.setattr(2, { valid: P9_SETATTR_SIZE, size: 0 }))).toBe(EROFS);
    expect(dec(fx.readHost("ro.txt") ?? new Uint8Array())).toBe("read me");
  });
}
