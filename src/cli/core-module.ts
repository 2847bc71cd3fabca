// Node: the hart's WebAssembly core (build/core.wasm), built from src/cpu/as/ when missing or stale
// (scripts/build-core.mjs) and compiled once per process.

import { readFileSync } from "node:fs";
// @ts-expect-error: a plain .mjs build script without type declarations
import { buildCore } from "../../scripts/build-core.mjs";

let compiled: WebAssembly.Module | undefined;

/**
 * The compiled core module (synchronous: building it, when needed, runs asc in a child process). The core is
 * the only hart, so a host that cannot build or compile it gets an error that says so (the CLI prints it and
 * exits 1).
 */
export function loadCoreModule(): WebAssembly.Module {
  if (compiled === undefined) {
    if (typeof WebAssembly !== "object") {
      throw new Error("this Node has no WebAssembly (started with --jitless?): the hart is a WebAssembly module");
    }
    let path: string;
    try {
      path = (buildCore as (o?: { force?: boolean }) => string)();
    } catch (e) {
      throw new Error(`building the WebAssembly core (scripts/build-core.mjs) failed: ${(e as Error).message}`);
    }
    try {
      compiled = new WebAssembly.Module(readFileSync(path));
    } catch (e) {
      throw new Error(`the WebAssembly core (${path}) could not be compiled: ${(e as Error).message}`);
    }
  }
  return compiled;
}
