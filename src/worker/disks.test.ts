import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { VirtioBlk } from "../../devices/virtio-blk/virtio-blk.ts";
import { openDisks } from "./disks.ts";
import type { MachineConfig } from "./protocol.ts";

const base: MachineConfig = {
  memMiB: 64,
  transport: "mmio",
  net: "none",
  bootargs: undefined,
  images: { firmware: "f", kernel: "k", initrd: "i" },
  relayUrl: "ws://127.0.0.1:1/wisp/",
  imageBase: "http://127.0.0.1:1/images/",
};

const image = new Uint8Array(8192).map((_, i) => i & 0xff);
let close: (() => void) | undefined;
afterEach(() => close?.());

/** A server that honours single ranges of `image` at /root%20disk.img, and ignores them at /plain.img. */
async function serve(): Promise<string> {
  const server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (req.url === "/plain.img" || m === null) {
      res.writeHead(200).end(image);
      return;
    }
    const [a, b] = [Number(m[1]), Math.min(Number(m[2]), image.length - 1)];
    res.writeHead(206, { "content-range": `bytes ${a}-${b}/${image.length}` }).end(image.subarray(a, b + 1));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  close = () => {
    server.closeAllConnections();
    server.close();
  };
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("openDisks", () => {
  it("gives URL disks first, then picked files, each writable over an overlay", async () => {
    const origin = await serve();
    const file = new File([new Uint8Array(4096).fill(7)], "picked.img");
    const disks = await openDisks({ ...base, disks: [`${origin}/root%20disk.img`], diskFiles: [file] }, () => {});
    const devs = disks.map((d) => d.device as VirtioBlk);
    expect(devs.map((d) => [d.name, d.sectors, d.readOnly])).toEqual([
      ["virtio-blk0", 16, false],
      ["virtio-blk1", 8, false],
    ]);
    expect(disks.every((d) => d.transport === undefined)).toBe(true);
    expect([...(await devs[0].backend.read(510, 4))]).toEqual([254, 255, 0, 1]);
    await devs[1].backend.write(0, Uint8Array.of(1));
    expect([...(await devs[1].backend.read(0, 2))]).toEqual([1, 7]);
  });

  it("fails the boot with the server's problem in the message", async () => {
    const origin = await serve();
    await expect(openDisks({ ...base, disks: [`${origin}/plain.img`] }, () => {})).rejects.toThrow(
      /plain\.img: the server ignores HTTP range requests/,
    );
  });
});
