// "Keep this machine" (issue 15): the tab's last snapshot in IndexedDB, so the next load of the page can offer
// to resume it. The choice itself is a localStorage flag; the snapshot (a few MiB) and its small description
// are two records of one object store, so the offer is shown without reading the snapshot.

import { flag, transact as idbTransact, setFlag } from "./idb.ts";

const DB = "vireo";
const STORE = "kept-machine";
const FLAG = "vireo.keep";

export interface KeptMeta {
  /** Date.now() when it was saved. */
  savedAt: number;
  bytes: number;
}

function transact<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T> | undefined): Promise<T> {
  return idbTransact(DB, STORE, mode, fn);
}

export function keepWanted(): boolean {
  return flag(FLAG);
}

/** The toggle; where storage is unavailable (private mode) it lasts for this page only. */
export function setKeepWanted(on: boolean): void {
  setFlag(FLAG, on);
}

/** The kept machine's description, or undefined when none is kept (or IndexedDB is unavailable). */
export async function keptMeta(): Promise<KeptMeta | undefined> {
  try {
    const m = await transact<unknown>("readonly", (s) => s.get("meta"));
    const x = m as Partial<KeptMeta> | undefined;
    return typeof x?.savedAt === "number" && typeof x.bytes === "number"
      ? { savedAt: x.savedAt, bytes: x.bytes }
      : undefined;
  } catch {
    return undefined;
  }
}

export async function keptSnapshot(): Promise<Uint8Array | undefined> {
  const b = await transact<unknown>("readonly", (s) => s.get("snapshot"));
  return b instanceof Uint8Array ? b : b instanceof ArrayBuffer ? new Uint8Array(b) : undefined;
}

export async function keep(bytes: Uint8Array, savedAt: number): Promise<void> {
  await transact("readwrite", (s) => {
    s.put(bytes, "snapshot");
    s.put({ savedAt, bytes: bytes.length } satisfies KeptMeta, "meta");
    return undefined;
  });
}

export async function forget(): Promise<void> {
  await transact("readwrite", (s) => s.clear());
}
