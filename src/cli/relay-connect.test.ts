import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { nodeRelayOptions, relayTlsOptions } from "./relay-connect.ts";

// `npm run vm` starts Node without NODE_EXTRA_CA_CERTS (scripts/vm.mjs says why) and the relay connection reads
// that file itself: a wss:// relay whose certificate only that file vouches for must still be reached.

let dir: string;
let certPath: string;
let server: Server;
let wss: WebSocketServer;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vireo-relay-tls-"));
  certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  // A self-signed certificate for 127.0.0.1: trusted only through NODE_EXTRA_CA_CERTS.
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=vireo test relay",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyPath,
      "-out",
      certPath,
    ],
    { stdio: "ignore" },
  );
  server = createServer({ cert: readFileSync(certPath), key: readFileSync(keyPath) });
  wss = new WebSocketServer({ server });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/l2/test`;
});

afterAll(async () => {
  wss.close();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the relay socket the CLI would open; resolves "open" or the error's message. */
function tryConnect(env: NodeJS.ProcessEnv): Promise<string> {
  const o = nodeRelayOptions(
    url,
    () => {},
    () => {},
    env,
  );
  const ws = o.connect() as unknown as import("ws").WebSocket;
  return new Promise((resolve) => {
    ws.on("open", () => {
      ws.close();
      resolve("open");
    });
    ws.on("error", (e) => resolve(e.message));
  });
}

describe("the relay connection's certificates", () => {
  it("adds NODE_EXTRA_CA_CERTS to Node's roots for wss:// only", () => {
    const reports: string[] = [];
    const env = { NODE_EXTRA_CA_CERTS: certPath };
    const o = relayTlsOptions(url, (m) => reports.push(m), env);
    expect(o.ca?.length).toBe(rootCertificates.length + 1);
    expect(o.ca?.at(-1)).toBe(readFileSync(certPath, "utf8"));
    expect(relayTlsOptions("ws://127.0.0.1:1/l2/x", (m) => reports.push(m), env)).toEqual({});
    expect(relayTlsOptions(url, (m) => reports.push(m), {})).toEqual({});
    expect(relayTlsOptions(url, (m) => reports.push(m), { NODE_EXTRA_CA_CERTS: "" })).toEqual({});
    expect(reports).toEqual([]);
  });

  it("reports an unreadable file and keeps Node's roots", () => {
    const reports: string[] = [];
    const o = relayTlsOptions(url, (m) => reports.push(m), { NODE_EXTRA_CA_CERTS: join(dir, "missing.pem") });
    expect(o).toEqual({});
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/cannot read NODE_EXTRA_CA_CERTS .*missing\.pem/);
  });

  it("reaches a wss:// relay that only NODE_EXTRA_CA_CERTS vouches for, and not without it", async () => {
    expect(await tryConnect({ NODE_EXTRA_CA_CERTS: certPath })).toBe("open");
    expect(await tryConnect({})).toMatch(/self[- ]signed/i);
  });
});
