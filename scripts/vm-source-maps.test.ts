// The README's `VIREO_SOURCE_MAPS=1 npm run vm …`: the CLI runs from its esbuild bundle, so a stack trace it
// prints names dist/cli/vm.mjs by default; with the variable set, scripts/vm.mjs turns Node's source maps on
// and the same trace names the src/ files and lines. Runs `npm run vm` as a user types it, with an argument
// that makes a write fail while the guest runs, which the CLI reports with the error's stack (exit 1): a --trace
// file on a full disk (/dev/full opens, and the first write of trace lines fails with ENOSPC).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const tmp = mkdtempSync(join(tmpdir(), "vireo-srcmaps-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** `[VIREO_SOURCE_MAPS=…] npm run vm -- ARGS` from the repository, as the README writes it. */
function npmRunVm(sourceMaps: string | undefined, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // A plain shell: nothing else turns source maps on.
  delete env.NODE_OPTIONS;
  delete env.VIREO_SOURCE_MAPS;
  if (sourceMaps !== undefined) env.VIREO_SOURCE_MAPS = sourceMaps;
  const r = spawnSync("npm", ["run", "vm", "--", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: "",
    timeout: 120_000,
    env,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The 1-based line of src/cli/vm.ts that holds `text` (once). */
function srcLine(text: string): number {
  const lines = readFileSync(join(ROOT, "src/cli/vm.ts"), "utf8").split("\n");
  const at = lines.flatMap((l, i) => (l.includes(text) ? [i + 1] : []));
  expect(at, `src/cli/vm.ts holds ${JSON.stringify(text)} once`).toHaveLength(1);
  return at[0];
}

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("VIREO_SOURCE_MAPS=1 npm run vm … (scripts/vm.mjs)", () => {
  const full = "/dev/full";

  it("without it, the CLI's stack trace names the bundle dist/cli/vm.mjs", () => {
    const r = npmRunVm(undefined, "--trace", full);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("vireo: writing --trace /dev/full failed: Error: ENOSPC: no space left on device");
    expect(r.stderr).toMatch(/at TraceWriter\.flush \(file:\/\/\S*\/dist\/cli\/vm\.mjs:\d+:\d+\)/);
    expect(r.stderr).not.toContain("src/cli/vm.ts");
  });

  it("with VIREO_SOURCE_MAPS=1, the same trace names src/cli/vm.ts at the lines that threw", () => {
    const r = npmRunVm("1", "--trace", full);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("vireo: writing --trace /dev/full failed: Error: ENOSPC: no space left on device");
    const src = reEscape(join(ROOT, "src/cli/vm.ts"));
    // TraceWriter.flush writes the buffered lines.
    const write = srcLine("writeSync(this.fd, text);");
    expect(r.stderr).toMatch(new RegExp(`at TraceWriter\\.flush \\(${src}:${write}:\\d+\\)`));
    expect(r.stderr).not.toMatch(/dist\/cli\/vm\.mjs:\d+/);
  });
});
