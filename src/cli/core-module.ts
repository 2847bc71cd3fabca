// Node: the hart's WebAssembly core (build/core.wasm), built from src/cpu/as/ when missing or stale
// (scripts/build-core.mjs) and compiled once per process.

import { readFileSync } from "node:fs";
// @ts-expect-error: a plain .mjs build script without type declarations
import { buildCore } from "../../scripts/build-core.mjs";

let compiled: WebAssembly.Module | undefined;

/** The compiled core module (synchronous: building it, when needed, runs asc in a child process). */
export function loadCoreModule(): WebAssembly.Module {
  if (compiled === undefined) {
    const path = (buildCore as (o?: { force?: boolean }) => string)();
    compiled = new WebAssembly.Module(readFileSync(path));
  }
  return compiled;
}
