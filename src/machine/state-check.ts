// Reading device state back from a snapshot (issue 15): a device's saveState() returns plain JSON-safe data —
// numbers, booleans, arrays, plain objects, 64-bit values as decimal strings — and its loadState() reads it
// through these checks, which throw a SnapshotError naming the field and what was wrong. A device checks all
// of its input before it changes anything, so a refused state leaves the device as it was.

/** What a snapshot's reader throws: the field's path and the problem, e.g. "clint.mtimecmp[1]: not a u64". */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/** The plain object at `path`. */
export function record(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SnapshotError(`${path}: not an object`);
  return v as Record<string, unknown>;
}

/** An integer in [0, max]. */
export function uint(v: unknown, path: string, max = 0xffffffff): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new SnapshotError(`${path}: not an integer in 0…${max}`);
  }
  return v;
}

/** A boolean. */
export function flag(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") throw new SnapshotError(`${path}: not a boolean`);
  return v;
}

/** A u64 as saved: a decimal string. */
export function u64(v: unknown, path: string): bigint {
  if (typeof v !== "string" || !/^(0|[1-9][0-9]{0,19})$/.test(v) || BigInt(v) > 0xffffffffffffffffn) {
    throw new SnapshotError(`${path}: not a u64 (a decimal string)`);
  }
  return BigInt(v);
}

/** A u64 for saving. */
export function u64Text(v: bigint | number): string {
  return BigInt.asUintN(64, BigInt(v)).toString();
}

/** An array of exactly `length` items, each read by `item`. */
export function list<T>(v: unknown, path: string, length: number, item: (x: unknown, path: string) => T): T[] {
  if (!Array.isArray(v)) throw new SnapshotError(`${path}: not an array`);
  if (v.length !== length) throw new SnapshotError(`${path}: ${v.length} entries, this machine has ${length}`);
  return v.map((x, i) => item(x, `${path}[${i}]`));
}

/** Bytes for saving: base64. */
export function bytesText(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes as saved (base64), at most `max` of them. */
export function bytes(v: unknown, path: string, max: number): Uint8Array {
  let s: string | undefined;
  try {
    s = typeof v === "string" ? atob(v) : undefined;
  } catch {
    s = undefined;
  }
  if (s === undefined || s.length > max) throw new SnapshotError(`${path}: not base64 of at most ${max} bytes`);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
