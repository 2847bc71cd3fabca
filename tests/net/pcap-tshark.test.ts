// The capture format against a real reader: Debian's tshark must read our golden pcapng and pcap files
// without complaint and decode the frames we put in (scripts/test.mjs installs tshark).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PcapWriter } from "../../src/net/link/pcap.ts";
import { gsoSplit } from "../../src/net/offload/gso-split.ts";
import { tcp4Packet, tcp6Packet, udpPacket } from "../../src/testing/net-packets.ts";

const A = { ip: "10.0.2.15", port: 40000 };
const B = { ip: "10.0.2.2", port: 80 };
const A6 = { ip: "fd00::15", port: 40000 };
const B6 = { ip: "fd00::2", port: 80 };
const GOLDEN = join(import.meta.dirname, "golden");

/** A fixed capture: a plain segment, a TSO superpacket (marked), its split frames, UDP and IPv6. */
function goldenCapture(format: "pcap" | "pcapng"): Uint8Array {
  const chunks: Uint8Array[] = [];
  let t = 1_700_000_000_000_000;
  const w = new PcapWriter((c) => chunks.push(c), { format, nowMicros: () => (t += 1000) });
  w.write(tcp4Packet(A, B, 0, 100, 1), "tx");
  const sp = tcp4Packet(A, B, 0x08, 4000, 101, { partialChecksum: true, ipId: 7 });
  const gso = { type: 1 as const, gsoSize: 1448, hdrLen: 54, needsCsum: true, csumStart: 34, csumOffset: 16 };
  w.write(sp, "tx", gso);
  const split = gsoSplit(sp, gso);
  if (split.result === "ok") for (const f of split.frames) w.write(f, "tx");
  w.write(tcp4Packet(B, A, 0, 0, 1, { ack: 4101 }), "rx");
  w.write(udpPacket(B, A, 64), "rx");
  w.write(tcp6Packet(A6, B6, 0, 200, 1), "tx");
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function tshark(file: string, ...args: string[]): { out: string; err: string } {
  const dir = mkdtempSync(join(tmpdir(), "vireo-tshark-"));
  const errFile = join(dir, "stderr");
  const out = execFileSync("sh", ["-c", `tshark -r "$0" "$@" 2>"${errFile}"`, file, ...args], {
    encoding: "utf8",
    env: { ...process.env, HOME: dir },
  });
  // Running as root only earns a warning about privileges, not about the file.
  const err = readFileSync(errFile, "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("Running as user"))
    .join("\n");
  return { out, err };
}

describe.each(["pcapng", "pcap"] as const)("golden %s read by tshark", (format) => {
  const file = join(GOLDEN, `virtio-net.${format}`);

  it("matches the committed golden bytes (set UPDATE_GOLDEN=1 to rewrite)", () => {
    const bytes = goldenCapture(format);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, bytes);
    expect(Buffer.compare(Buffer.from(bytes), readFileSync(file))).toBe(0);
  });

  it("tshark reads it without complaint", () => {
    const { out, err } = tshark(
      file,
      "-T",
      "fields",
      "-e",
      "frame.len",
      "-e",
      "ip.len",
      "-e",
      "tcp.seq_raw",
      "-e",
      "udp.length",
    );
    expect(err).toBe("");
    const rows = out.trim().split("\n");
    expect(rows.length).toBe(8);
    expect(rows[1]!.split("\t").slice(0, 2)).toEqual(["4054", "4040"]);
    expect(rows.slice(2, 5).map((r) => r.split("\t")[0])).toEqual(["1502", "1502", "1158"]);
  });

  if (format === "pcapng") {
    it("the superpacket record carries its GSO comment and direction", () => {
      const { out } = tshark(
        file,
        "-T",
        "fields",
        "-e",
        "frame.comment",
        "-e",
        "frame.p2p_dir",
        "-Y",
        "frame.number == 2",
      );
      expect(out).toContain("superpacket gso TCPV4 gso_size=1448");
    });
  }
});
