#!/usr/bin/env node
// `npm run vm -- [options]`: runs the CLI from its esbuild bundle dist/cli/vm.mjs in this same process,
// rebuilding the bundle first when it is missing or older than the sources (scripts/build-cli.mjs), so
// a start costs Node's startup plus a few ms of stat calls instead of transpiling the project with tsx.
// Arguments, stdin/stdout and the exit code are the CLI's own. stdout is the guest console: the build
// steps here only ever write to stderr.
//
// package.json starts it with `node --v8-pool-size=1`: one V8 background thread. The hart is single-threaded
// and V8 compiles its block compiler's regions on the background threads; with Node's default of four, on a
// 2-core machine they took the guest's core (TurboFan spends ~4 ms per KB of region code). Measured from spawn,
// the committed image to power-off, interleaved: median 0.90 s -> 0.83 s (8 rounds) and 1.00 s -> 0.81 s (6
// rounds; --jit off 0.97 s, so the compiler no longer slows this boot); the CPU workload's --exec 9.3 s -> 8.2 s
// (3 rounds).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildCli, cliBundleIsStale, OUTFILE, ROOT } from "./build-cli.mjs";

// package.json also starts it with NODE_EXTRA_CA_CERTS emptied and its value in VIREO_EXTRA_CA_CERTS: Node 20
// reads and parses that file's certificates while it starts, before any of this runs — with Debian's bundle
// (/etc/ssl/certs/ca-certificates.crt, set in some environments, this machine's among them) ~55 ms of every
// start, measured from spawn: node -e 0 0.08 s with it, 0.03 s without; the committed image to power-off, median
// of 6 interleaved, 0.74 s -> 0.64 s. The CLI's only TLS is a wss:// relay, which takes the extra certificates
// when it connects (src/cli/relay-connect.ts). The variable is put back here, for that and for child processes.
if (process.env.VIREO_EXTRA_CA_CERTS !== undefined) {
  if (process.env.VIREO_EXTRA_CA_CERTS !== "") process.env.NODE_EXTRA_CA_CERTS = process.env.VIREO_EXTRA_CA_CERTS;
  else if (process.env.NODE_EXTRA_CA_CERTS === "") delete process.env.NODE_EXTRA_CA_CERTS;
  delete process.env.VIREO_EXTRA_CA_CERTS;
}

/** Runs fn with process.stdout.write sent to stderr, so a build step cannot write into the guest console. */
async function withStdoutOnStderr(fn) {
  const write = process.stdout.write;
  process.stdout.write = process.stderr.write.bind(process.stderr);
  try {
    return await fn();
  } finally {
    process.stdout.write = write;
  }
}

function fail(what, e) {
  process.stderr.write(`vireo: ${what}: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

// The WebAssembly core, when its build script is there: built first, since the CLI bundle may embed it.
const buildCoreScript = join(ROOT, "scripts/build-core.mjs");
if (existsSync(buildCoreScript)) {
  try {
    const { buildCore } = await import(pathToFileURL(buildCoreScript).href);
    if (typeof buildCore === "function") await withStdoutOnStderr(() => buildCore());
  } catch (e) {
    fail("building the core (scripts/build-core.mjs) failed", e);
  }
}

if (cliBundleIsStale()) {
  const t0 = performance.now();
  process.stderr.write("vireo: bundling the CLI with esbuild (dist/cli/vm.mjs)…\n");
  try {
    await withStdoutOnStderr(buildCli);
  } catch (e) {
    fail("bundling the CLI failed", e?.errors !== undefined ? "see the errors above" : e);
  }
  process.stderr.write(`vireo: bundled in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
}

// Stack traces name src/ files and lines with VIREO_SOURCE_MAPS=1 (or NODE_OPTIONS=--enable-source-maps):
// not by default, since reading the bundle's map costs every start ~10-15 ms (node --cpu-prof: lineLengths and
// maybeCacheSourceMap), about 2% of the committed image's boot.
if (process.env.VIREO_SOURCE_MAPS === "1") process.setSourceMapsEnabled(true);
const cli = await import(pathToFileURL(OUTFILE).href);
await cli.main(process.argv.slice(2));
