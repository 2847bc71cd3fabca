#!/usr/bin/env node
// The README's test command (`npm install && npm test`) lands here: install the Debian tools the tests
// use when they are missing, lint, then run every test and print one closing "N passed, N failed" line.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";

/** Debian package → a command (or an absolute file path) it provides. */
const NEEDED = {
  "binutils-riscv64-unknown-elf": "riscv64-unknown-elf-as",
  "qemu-system-misc": "qemu-system-riscv64",
  "qemu-user": "qemu-riscv64",
  "device-tree-compiler": "dtc",
  opensbi: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf",
  chromium: "chromium",
  tshark: "tshark",
  haproxy: "haproxy", // tests/relay/scale-out.test.ts
};

function have(cmd) {
  if (cmd.startsWith("/")) return existsSync(cmd);
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

function ensureDebianPackages() {
  const missing = Object.entries(NEEDED)
    .filter(([, cmd]) => !have(cmd))
    .map(([pkg]) => pkg);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot) {
    console.error(
      `missing Debian packages: ${missing.join(" ")}\nrun as root, or: sudo apt-get install -y ${missing.join(" ")}`,
    );
    process.exit(1);
  }
  console.log(`installing Debian packages: ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { stdio: "inherit", env });
  const still = Object.entries(NEEDED).filter(([, cmd]) => !have(cmd));
  if (still.length > 0) {
    console.error(`still missing after apt-get: ${still.map(([p]) => p).join(" ")}`);
    process.exit(1);
  }
}

function run(cmd, args) {
  console.log(`\n$ ${cmd} ${args.join(" ")}`);
  return spawnSync(cmd, args, { stdio: "inherit" }).status ?? 1;
}

ensureDebianPackages();
let failed = 0;
let passed = 0;

const lint = run("npm", ["run", "--silent", "lint"]);
if (lint === 0) passed++;
else failed++;

// The hart's WebAssembly core (scripts/build-core.mjs): built once here, before the test files that load it.
const core = run("node", ["scripts/build-core.mjs"]);
if (core === 0) passed++;
else failed++;

mkdirSync("test-results", { recursive: true });
const vitest = run("npx", [
  "vitest",
  "run",
  "--reporter=default",
  "--reporter=json",
  "--outputFile.json=test-results/vitest.json",
]);
if (existsSync("test-results/vitest.json")) {
  const r = JSON.parse(readFileSync("test-results/vitest.json", "utf8"));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
} else if (vitest !== 0) failed++;
if (vitest !== 0 && failed === 0) failed++;

// The browser e2e (Playwright Test, playwright.config.ts): Debian's chromium against the built page. Its
// JSON reporter writes the counts; a test that did not run (a serial chain stopped by an earlier failure)
// counts as failed, since no test is meant to be skipped.
rmSync("test-results/e2e.json", { force: true });
const e2e = run("npx", ["playwright", "test"]);
if (existsSync("test-results/e2e.json")) {
  const s = JSON.parse(readFileSync("test-results/e2e.json", "utf8")).stats ?? {};
  const bad = (s.unexpected ?? 0) + (s.flaky ?? 0) + (s.skipped ?? 0) + (s.interrupted ?? 0);
  passed += s.expected ?? 0;
  failed += bad;
  if (e2e !== 0 && bad === 0) failed++;
} else failed++;

console.log(`\n${passed} passed, ${failed} failed (lint and the core build count as one each)`);
process.exit(failed === 0 ? 0 : 1);
