import { describe, expect, it } from "vitest";
import { errnoOf, P9Client } from "../../src/testing/p9-client.ts";
import { shareBackendSuite } from "../../src/testing/p9-share-suite.ts";
import { MemoryShare } from "./memory-share.ts";
import { ENOSPC, P9_DOTL_WRONLY } from "./p9-proto.ts";
import { P9Server } from "./p9-server.ts";

describe("9P server over the in-memory share", () => {
  shareBackendSuite((readOnly) => {
    // Files are put in before a read-only share is sealed, as the page's upload does.
    const backend = new MemoryShare();
    const fx = {
      backend,
      readHost(path: string) {
        try {
          return backend.getFile(path);
        } catch {
          return undefined;
        }
      },
      writeHost(path: string, data: Uint8Array) {
        (backend as unknown as { readOnly: boolean }).readOnly = false;
        backend.putFile(path, data);
        (backend as unknown as { readOnly: boolean }).readOnly = readOnly;
      },
    };
    (backend as unknown as { readOnly: boolean }).readOnly = readOnly;
    return fx;
  });

  it("supports symlinks as objects the guest resolves", () => {
    const server = new P9Server(new MemoryShare());
    const c = new P9Client((req) => server.handle(req, 65536)).mount();
    c.symlink(1, "l", "../../etc/passwd");
    c.walkTo(2, "l");
    expect(c.readlink(2)).toBe("../../etc/passwd");
    expect(errnoOf(() => c.lopen(2, 0))).toBe(40); // ELOOP: never followed by the server
  });

  it("host side: lists its files and refuses names that are not file names", () => {
    const share = new MemoryShare();
    share.putFile("b.txt", new Uint8Array(3));
    share.putFile("d/a.bin", new Uint8Array(10));
    const server = new P9Server(share);
    const c = new P9Client((req) => server.handle(req, 65536)).mount();
    c.writeFile("from-guest", new Uint8Array(7));
    expect(share.list()).toEqual([
      { path: "b.txt", size: 3 },
      { path: "d/a.bin", size: 10 },
      { path: "from-guest", size: 7 },
    ]);
    for (const bad of ["..", "d/../x", ".", "", "a\0b"]) expect(() => share.putFile(bad, new Uint8Array(1))).toThrow();
    expect(share.list().length).toBe(3);
  });

  it("clones a fid whose file is gone, and a walk of a fid onto itself with no names keeps it open", () => {
    const share = new MemoryShare();
    share.putFile("f", new Uint8Array(4).fill(9));
    const server = new P9Server(share);
    const c = new P9Client((req) => server.handle(req, 65536)).mount();
    c.walkTo(2, "f");
    c.lopen(2, 0);
    c.unlinkat(1, "f");
    expect(c.walk(2, 3, [])).toEqual([]); // the clone exists although "f" does not
    expect(errnoOf(() => c.getattr(3))).toBe(2); // ENOENT by its path
    expect(c.walk(2, 2, [])).toEqual([]);
    expect(Array.from(c.read(2, 0, 10))).toEqual([9, 9, 9, 9]); // still open, still reading the unlinked file
  });

  it("keeps to its byte budget", () => {
    const server = new P9Server(new MemoryShare({ maxBytes: 64 * 1024 }));
    const c = new P9Client((req) => server.handle(req, 1 << 20)).mount(1 << 20);
    c.walk(1, 2, []);
    c.lcreate(2, "f", P9_DOTL_WRONLY);
    expect(c.write(2, 0, new Uint8Array(60 * 1024))).toBe(60 * 1024);
    expect(errnoOf(() => c.write(2, 60 * 1024, new Uint8Array(8 * 1024)))).toBe(ENOSPC);
  });

  it("counts each message type and closes what a Tversion abandons", () => {
    const share = new MemoryShare();
    const server = new P9Server(share);
    const c = new P9Client((req) => server.handle(req, 65536)).mount();
    c.writeFile("a", new Uint8Array(10));
    expect(server.counts.version).toBe(1);
    expect(server.counts.lcreate).toBe(1);
    expect(server.counts.write).toBe(1);
    c.walkTo(2, "a");
    c.lopen(2, 0);
    expect(server.fidCount).toBe(2);
    c.version();
    expect(server.fidCount).toBe(0);
    expect((share as unknown as { handles: Map<number, unknown> }).handles.size).toBe(0);
  });
});
