// A disk image picked from a file, kept across reloads on request (issue 17 item 6): the File itself in
// IndexedDB (the browser keeps its bytes; the worker still reads only the slices the guest asks for), and a
// localStorage flag that says one is kept, so a page without one never opens the database. Its own database:
// "keep this machine" (keep.ts) clears its store whenever it forgets a machine.

import { flag, transact as idbTransact, setFlag } from "./idb.ts";

const DB = "vireo-disk";
const STORE = "picked-disk";
const KEY = "file";
const FLAG = "vireo.keepDisk";

function transact<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return idbTransact(DB, STORE, mode, fn);
}

/** Whether a picked disk is kept (the flag; the file may still be on its way into the database). */
export function diskKept(): boolean {
  return flag(FLAG);
}

/** Keeps `file` as the disk the next load attaches. */
export async function keepDisk(file: File): Promise<void> {
  await transact("readwrite", (s) => s.put(file, KEY));
  // Where storage is unavailable the file is stored but the next load will not look for it.
  setFlag(FLAG, true);
}

/** Forgets the kept disk, if any. */
export async function forgetDisk(): Promise<void> {
  setFlag(FLAG, false);
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
