// The README's `VIREO_SOURCE_MAPS=1 npm run vm …`: the CLI runs from its esbuild bundle, so a stack trace it
// prints names dist/cli/vm.mjs by default; with the variable set, scripts/vm.mjs turns Node's source maps on
// and the same trace names the src/ files and lines. Runs `npm run vm` as a user types it, with the one
// argument that makes the CLI print a stack today: a --trace file it cannot create (an unexpected error,
// which main() reports with its stack, exit 1). If that error ever becomes a plain message, this test needs
// another way to reach main()'s catch-all.

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
  const unwritable = () => join(tmp, "no-such-dir", "t.trace");

  it("without it, the CLI's stack trace names the bundle dist/cli/vm.mjs", () => {
    const r = npmRunVm(undefined, "--trace", unwritable());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("vireo: Error: ENOENT: no such file or directory");
    expect(r.stderr).toMatch(/at new TraceWriter \(file:\/\/\S*\/dist\/cli\/vm\.mjs:\d+:\d+\)/);
    expect(r.stderr).toMatch(/at runVm \(file:\/\/\S*\/dist\/cli\/vm\.mjs:\d+:\d+\)/);
    expect(r.stderr).not.toContain("src/cli/vm.ts");
  });

  it("with VIREO_SOURCE_MAPS=1, the same trace names src/cli/vm.ts at the lines that threw", () => {
    const r = npmRunVm("1", "--trace", unwritable());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("vireo: Error: ENOENT: no such file or directory");
    const src = reEscape(join(ROOT, "src/cli/vm.ts"));
    // TraceWriter's constructor opens the file; runVm constructs it.
    const open = srcLine('this.fd = openSync(path, "w");');
    const construct = srcLine("new TraceWriter(o.trace)");
    expect(r.stderr).toMatch(new RegExp(`at new TraceWriter \\(${src}:${open}:\\d+\\)`));
    expect(r.stderr).toMatch(new RegExp(`at runVm \\(${src}:${construct}:\\d+\\)`));
    expect(r.stderr).toMatch(new RegExp(`at async (?:Module\\.)?main \\(${src}:\\d+:\\d+\\)`));
    expect(r.stderr).not.toMatch(/dist\/cli\/vm\.mjs:\d+/);
  });
});
