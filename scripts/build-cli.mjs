#!/usr/bin/env node
// Bundles the Node command line (src/cli/vm.ts and everything it imports from src/ and devices/) into
// dist/cli/vm.mjs with esbuild, so `npm run vm` (scripts/vm.mjs) starts without transpiling the project.
// npm packages stay external: they resolve from node_modules/ as before. The bundle sits two levels under
// the repository root like src/cli/vm.ts, so the CLI's REPO_ROOT still finds public/images/.
//
//   node scripts/build-cli.mjs     build now (`npm run build`, and `npm install` through "prepare")
//
// Under "prepare" a failure is a warning, never an error: `npm install` must succeed on a fresh clone
// (say with --omit=dev, no esbuild), and `npm run vm` rebuilds and reports it on its first run.
import { mkdirSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "..");
export const ENTRY = join(ROOT, "src/cli/vm.ts");
export const OUTFILE = join(ROOT, "dist/cli/vm.mjs");
/** The trees the bundle is built from; a newer source file anywhere in them makes the bundle stale. */
const SOURCE_DIRS = ["src", "devices"].map((d) => join(ROOT, d));
const SOURCE_RE = /\.(ts|tsx|json)$/;

/** Whether some .ts/.tsx/.json file under dir was modified after `since` (ms). Stops at the first one. */
function anyNewer(dir, since) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "node_modules" && !e.name.startsWith(".") && anyNewer(path, since)) return true;
    } else if (SOURCE_RE.test(e.name) && statSync(path, { throwIfNoEntry: false })?.mtimeMs > since) {
      return true;
    }
  }
  return false;
}

/**
 * Whether dist/cli/vm.mjs is missing or older than this script or any .ts/.tsx/.json file under src/ or
 * devices/ (about 250 stat calls: a few ms).
 */
export function cliBundleIsStale() {
  const built = statSync(OUTFILE, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) return true;
  if (statSync(fileURLToPath(import.meta.url)).mtimeMs > built) return true;
  return SOURCE_DIRS.some((dir) => anyNewer(dir, built));
}

/**
 * Keeps the repository's own scripts/*.mjs (e.g. build-core.mjs, which src/cli/core-module.ts imports) out of
 * the bundle: they find the repository from their own import.meta.url, which inside dist/cli/vm.mjs would
 * point one level too deep. The bundle imports them from scripts/ at run time instead.
 */
const scriptsStayExternal = {
  name: "scripts-stay-external",
  setup(build) {
    build.onResolve({ filter: /\.mjs$/ }, (args) => {
      const path = resolve(args.resolveDir, args.path);
      if (dirname(path) !== join(ROOT, "scripts")) return undefined;
      return { path: relative(dirname(OUTFILE), path).split(sep).join("/"), external: true };
    });
  },
};

/**
 * Builds dist/cli/vm.mjs (+ .map). Each file is written beside its final name and renamed over it, so a
 * concurrent `npm run vm` imports either the old bundle or the new one, never half of one. The bundle's
 * mtime is set to the build's start: a source saved while esbuild ran still counts as newer. esbuild
 * reports errors and warnings on stderr (stdout is the guest console under `npm run vm`).
 */
export async function buildCli() {
  let esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    throw new Error("esbuild is not installed (a devDependency): run `npm install`");
  }
  const started = new Date();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: OUTFILE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    plugins: [scriptsStayExternal],
    sourcemap: true,
    // Line mappings only (the sources are in the repository): the map is parsed at every start.
    sourcesContent: false,
    write: false,
    logLevel: "warning",
  });
  mkdirSync(dirname(OUTFILE), { recursive: true });
  // The map first: the bundle names it in its last line.
  const isMap = (f) => f.path.endsWith(".map");
  for (const f of [...result.outputFiles.filter(isMap), ...result.outputFiles.filter((f) => !isMap(f))]) {
    const tmp = join(dirname(f.path), `.${basename(f.path)}.${process.pid}.tmp`);
    writeFileSync(tmp, f.contents);
    utimesSync(tmp, started, started);
    renameSync(tmp, f.path);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const prepare = process.env.npm_lifecycle_event === "prepare";
  try {
    await buildCli();
  } catch (e) {
    // esbuild has already printed what failed to build; other errors are ours to show.
    const message = e?.errors !== undefined ? "the build failed (see above)" : String(e?.message ?? e);
    if (prepare) {
      process.stderr.write(`build-cli: warning: ${message}; \`npm run vm\` will bundle the CLI on its first run\n`);
    } else {
      process.stderr.write(`build-cli: ${message}\n`);
      process.exitCode = 1;
    }
  }
}
