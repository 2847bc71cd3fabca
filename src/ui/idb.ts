// The small IndexedDB and localStorage helpers the page's "keep" features share (keep.ts: the last snapshot;
// kept-disk.ts: a picked disk): one object store per database, opened for each transaction and closed after
// it, and a localStorage flag that says something is kept (so a page without one never opens the database).

/** Runs `fn` on object store `store` of database `db` (created on first use) in one transaction. */
export async function transact<T>(
  db: string,
  store: string,
  mode: IDBTransactionMode,
  fn: (s: IDBObjectStore) => IDBRequest<T> | undefined,
): Promise<T> {
  const d = await new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open(db, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(store);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("IndexedDB did not open"));
  });
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = d.transaction(store, mode);
      const req = fn(tx.objectStore(store));
      tx.oncomplete = () => resolve(req?.result as T);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  } finally {
    d.close();
  }
}

/** Whether localStorage flag `name` is set (false where storage is unavailable). */
export function flag(name: string): boolean {
  try {
    return localStorage.getItem(name) === "1";
  } catch {
    return false;
  }
}

/** Sets or clears localStorage flag `name`; where storage is unavailable (private mode) nothing lasts. */
export function setFlag(name: string, on: boolean): void {
  try {
    if (on) localStorage.setItem(name, "1");
    else localStorage.removeItem(name);
  } catch {
    // storage unavailable
  }
}
