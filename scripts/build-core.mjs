#!/usr/bin/env node
// Builds the hart's WebAssembly core (src/cpu/as/, AssemblyScript) into build/core.wasm with asc and
// Binaryen's -O3. Called by `npm install` (prepare), `npm start`, `npm run build`, `npm test`, the CLI
// launcher and the Node-side loader (src/cli/core-module.ts); it rebuilds only when a source is newer than
// the module. `node scripts/build-core.mjs --force` rebuilds unconditionally.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src/cpu/as");
export const CORE_WASM = join(ROOT, "build/core.wasm");

/**
 * asc's flags: no runtime (no managed objects), imported memory (guest RAM at 0, no data segments), imported
 * table (compiled blocks are put there and called with call_indirect).
 */
export const ASC_FLAGS = [
  "-O3",
  "--runtime",
  "stub",
  "--importMemory",
  "--importTable",
  "--noAssert",
  "--use",
  "abort=",
];

function newestSource() {
  let t = 0;
  for (const f of readdirSync(SRC)) {
    if (f.endsWith(".ts")) t = Math.max(t, statSync(join(SRC, f)).mtimeMs);
  }
  return Math.max(t, statSync(fileURLToPath(import.meta.url)).mtimeMs);
}

/** Builds build/core.wasm when it is missing or older than its sources; returns its path. */
export function buildCore({ force = false, quiet = true } = {}) {
  if (!force && existsSync(CORE_WASM) && statSync(CORE_WASM).mtimeMs >= newestSource()) return CORE_WASM;
  mkdirSync(dirname(CORE_WASM), { recursive: true });
  const asc = join(ROOT, "node_modules/assemblyscript/bin/asc.js");
  if (!existsSync(asc)) throw new Error("assemblyscript is not installed: run npm install");
  const tmp = `${CORE_WASM}.${process.pid}.tmp`;
  execFileSync(process.execPath, [asc, join(SRC, "index.ts"), ...ASC_FLAGS, "-o", tmp], {
    stdio: quiet ? ["ignore", "ignore", "inherit"] : "inherit",
    cwd: ROOT,
  });
  // Rename into place so a concurrent reader never sees half a module.
  execFileSync("mv", ["-f", tmp, CORE_WASM]);
  return CORE_WASM;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const out = buildCore({ force: process.argv.includes("--force"), quiet: false });
  console.error(`core: ${out} (${statSync(out).size} bytes, ${Math.round(performance.now() - t0)} ms)`);
}
