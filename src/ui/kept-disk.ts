// A disk image picked from a file, kept across reloads on request (issue 17 item 6): the File itself in
// IndexedDB (the browser keeps its bytes; the worker still reads only the slices the guest asks for), and a
// localStorage flag that says one is kept, so a page without one never opens the database. Its own database:
// "keep this machine" (keep.ts) clears its store whenever it forgets a machine.

const DB = "vireo-disk";
const STORE = "picked-disk";
const KEY = "file";
const FLAG = "vireo.keepDisk";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("IndexedDB did not open"));
  });
}

async function transact<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  } finally {
    db.close();
  }
}

/** Whether a picked disk is kept (the flag; the file may still be on its way into the database). */
export function diskKept(): boolean {
  try {
    return localStorage.getItem(FLAG) === "1";
  } catch {
    return false;
  }
}

/** Keeps `file` as the disk the next load attaches. */
export async function keepDisk(file: File): Promise<void> {
  await transact("readwrite", (s) => s.put(file, KEY));
  try {
    localStorage.setItem(FLAG, "1");
  } catch {
    // storage unavailable: the file is stored but the next load will not look for it
  }
}

/** Forgets the kept disk, if any. */
export async function forgetDisk(): Promise<void> {
  try {
    localStorage.removeItem(FLAG);
  } catch {
    // storage unavailable
  }
  await transact("readwrite", (s) => s.delete(KEY)).catch(() => {});
}

/** The kept disk, or undefined when none is kept or the browser no longer has it. */
export async function keptDisk(): Promise<File | undefined> {
  if (!diskKept()) return undefined;
  try {
    const f = await transact<unknown>("readonly", (s) => s.get(KEY));
    return f instanceof File ? f : undefined;
  } catch {
    return undefined;
  }
}
