// The `.vireo` snapshot file (issue 15): one self-describing, versioned container for a saved machine.
//
// Layout (little-endian):
//   0    "VIREOSNP"          magic, 8 bytes
//   8    u32 version         SNAPSHOT_VERSION
//   12   u32 header length   H: bytes of the JSON header that follows
//   16   header              UTF-8 JSON: { machine, state, sections: [{ name, length }] }
//   16+H sections            the binary sections in the header's order (hart bytes, RAM image, disk overlays)
//   end-32 SHA-256           over every byte before it
// A reader checks, in this order, the length, magic, version, checksum, then the header's shape and that the
// sections fill the file exactly — and refuses anything else with a SnapshotError saying which, before any of
// it reaches a machine. What the header's `machine` and `state` hold is the board's business (virt.ts).

import { record, SnapshotError, uint } from "./state-check.ts";

export const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_MAGIC = "VIREOSNP";
const FIXED = 16;
const DIGEST = 32;
/** A header larger than this is not one of ours (a few KiB in practice). */
const MAX_HEADER = 16 << 20;
const SECTION_NAME = /^[a-z][a-z0-9.-]{0,63}$/;

export interface SnapshotContents {
  /** The saved machine's configuration, checked against the machine it is restored into. */
  machine: unknown;
  /** Every device's JSON state. */
  state: unknown;
  /** Binary sections by name. */
  sections: Map<string, Uint8Array>;
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

/** Writes a snapshot file. */
export async function encodeSnapshot(c: SnapshotContents): Promise<Uint8Array> {
  const sections = [...c.sections].map(([name, data]) => {
    if (!SECTION_NAME.test(name)) throw new Error(`snapshot: bad section name "${name}"`);
    return { name, data };
  });
  const header = new TextEncoder().encode(
    JSON.stringify({
      machine: c.machine,
      state: c.state,
      sections: sections.map((s) => ({ name: s.name, length: s.data.length })),
    }),
  );
  const body = sections.reduce((n, s) => n + s.data.length, 0);
  const out = new Uint8Array(FIXED + header.length + body + DIGEST);
  out.set(new TextEncoder().encode(SNAPSHOT_MAGIC), 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, SNAPSHOT_VERSION, true);
  dv.setUint32(12, header.length, true);
  out.set(header, FIXED);
  let at = FIXED + header.length;
  for (const s of sections) {
    out.set(s.data, at);
    at += s.data.length;
  }
  out.set(await sha256(out.subarray(0, at)), at);
  return out;
}

/** Reads a snapshot file; throws a SnapshotError naming what is wrong (nothing else escapes). */
export async function decodeSnapshot(file: Uint8Array): Promise<SnapshotContents> {
  if (file.length < FIXED + DIGEST) throw new SnapshotError(`snapshot: ${file.length} bytes, too short to be one`);
  const magic = new TextDecoder().decode(file.subarray(0, 8));
  if (magic !== SNAPSHOT_MAGIC) throw new SnapshotError("snapshot: not a vireo snapshot (no VIREOSNP header)");
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(`snapshot: format version ${version}, this build reads version ${SNAPSHOT_VERSION}`);
  }
  const end = file.length - DIGEST;
  const digest = await sha256(file.subarray(0, end));
  for (let i = 0; i < DIGEST; i++) {
    if (digest[i] !== file[end + i]) throw new SnapshotError("snapshot: checksum mismatch (corrupted or truncated)");
  }
  const headerLength = dv.getUint32(12, true);
  if (headerLength > MAX_HEADER || FIXED + headerLength > end) {
    throw new SnapshotError(`snapshot: header length ${headerLength} does not fit the file`);
  }
  let header: Record<string, unknown>;
  try {
    header = record(
      JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file.subarray(FIXED, FIXED + headerLength))),
      "snapshot header",
    );
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(`snapshot: header is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(header.sections)) throw new SnapshotError("snapshot.sections: not a list");
  const sections = new Map<string, Uint8Array>();
  let at = FIXED + headerLength;
  header.sections.forEach((x, i) => {
    const s = record(x, `snapshot.sections[${i}]`);
    if (typeof s.name !== "string" || !SECTION_NAME.test(s.name) || sections.has(s.name)) {
      throw new SnapshotError(`snapshot.sections[${i}].name: not a new section name`);
    }
    const length = uint(s.length, `snapshot.sections[${i}].length`, Number.MAX_SAFE_INTEGER);
    if (at + length > end) throw new SnapshotError(`snapshot.sections[${i}] (${s.name}): runs past the end`);
    sections.set(s.name, file.subarray(at, at + length));
    at += length;
  });
  if (at !== end) throw new SnapshotError(`snapshot: ${end - at} bytes after the last section`);
  return { machine: header.machine, state: header.state, sections };
}
