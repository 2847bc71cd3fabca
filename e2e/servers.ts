// Loopback servers and the project's relay for the specs that move bytes through the guest: a file to
// download, a raw disk image served with (or without) HTTP ranges, and src/relay on a free port.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ROOT } from "./harness.ts";

/** A loopback HTTP server with one random file, for the guest to download through the relay. */
export async function fileServer(): Promise<{ server: Server; port: number; sha256: string }> {
  const body = randomBytes(300 * 1024);
  const server = createServer((req, res) => {
    if (req.url !== "/blob") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    sha256: createHash("sha256").update(body).digest("hex"),
  };
}

/**
 * A loopback server for one random raw disk image that honours single byte ranges, with the CORS
 * headers a cross-origin worker needs (Range allowed, Content-Range exposed). /plain.img is the same
 * image from a server that ignores Range.
 */
export async function diskServer(): Promise<{
  server: Server;
  url: string;
  md5(at: number, n: number): string;
  partials: number;
}> {
  const image = randomBytes(2 * 1024 * 1024);
  const cors = {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "range",
    "access-control-expose-headers": "content-range",
  };
  const d = {
    server: createServer((req, res) => {
      if (req.method === "OPTIONS") {
        res.writeHead(204, cors).end();
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      if (req.url === "/plain.img" || (req.url === "/disk.img" && m === null)) {
        res.writeHead(200, { ...cors, "content-length": image.length }).end(image);
        return;
      }
      if (req.url !== "/disk.img" || m === null) {
        res.writeHead(404, cors).end();
        return;
      }
      const a = Number(m[1]);
      const b = Math.min(Number(m[2]), image.length - 1);
      d.partials++;
      res
        .writeHead(206, { ...cors, "content-range": `bytes ${a}-${b}/${image.length}`, "content-length": b - a + 1 })
        .end(image.subarray(a, b + 1));
    }),
    url: "",
    md5: (at: number, n: number) =>
      createHash("md5")
        .update(image.subarray(at, at + n))
        .digest("hex"),
    partials: 0,
  };
  await new Promise<void>((r) => d.server.listen(0, "127.0.0.1", r));
  d.url = `http://127.0.0.1:${(d.server.address() as AddressInfo).port}/disk.img`;
  return d;
}

/** The project's relay (src/relay) on a free port (or `port`: a relay started again), allowed to reach `allow` on loopback. */
export async function startRelay(allow: string, port = 0): Promise<{ child: ChildProcess; url: string }> {
  // Node itself with tsx as a loader (not npx): one process, so kill() really stops the relay.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/relay/main.ts", "--no-auth", "--listen", `127.0.0.1:${port}`, "--allow", allow],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`the relay did not start: ${err}`)), 30_000);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (ws:\/\/[^ ]+\/wisp\/)/.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`the relay exited (${code}): ${err}`)));
  });
  return { child, url };
}

/** SIGTERM (the relay drains its clients), then SIGKILL if it has not gone in 5 s. */
export async function stopRelay(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await gone;
  clearTimeout(timer);
}
