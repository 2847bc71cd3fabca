// "Keep this machine" (issue 15): the tab's last snapshot in IndexedDB, so the next load of the page can offer
// to resume it. The choice itself is a localStorage flag; the snapshot (a few MiB) and its small description
// are two records of one object store, so the offer is shown without reading the snapshot.

const DB = "vireo";
const STORE = "kept-machine";
const FLAG = "vireo.keep";

export interface KeptMeta {
  /** Date.now() when it was saved. */
  savedAt: number;
  bytes: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("IndexedDB did not open"));
  });
}

async function transact<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T> | undefined): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req?.result as T);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  } finally {
    db.close();
  }
}

export function keepWanted(): boolean {
  try {
    return localStorage.getItem(FLAG) === "1";
  } catch {
    return false;
  }
}

export function setKeepWanted(on: boolean): void {
  try {
    if (on) localStorage.setItem(FLAG, "1");
    else localStorage.removeItem(FLAG);
  } catch {
    // storage unavailable (private mode): the toggle lasts for this page only
  }
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
