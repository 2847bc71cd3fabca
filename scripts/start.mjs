#!/usr/bin/env node
// `npm start`: the page on Vite's dev server (COOP/COEP set in vite.config.ts) and the relay beside it,
// supervised as one. Both ports are tried before either child starts, so a taken one is named with what to do
// and nothing is left running. If either child exits, the other is stopped and this exits 1 saying which; Ctrl-C,
// SIGTERM or SIGHUP stop both (exit 0). `npm start -- --port N --relay-port M` moves them.
//
// Each child is Node itself (no npx or shell in between, so a signal reaches the server, not a wrapper that
// leaves it running) in a process group of its own, and the whole group gets the signal: nothing a child
// started outlives it. A child that has not gone 5 s after SIGTERM (the relay drains its clients) gets SIGKILL.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildCore } from "./build-core.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const KILL_AFTER_MS = 5000;

function fail(message, code = 1) {
  console.error(`vireo: ${message}`);
  process.exit(code);
}

function portOption(values, name, fallback) {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 65535) fail(`--${name}: expected a port number 1–65535, got "${raw}"`, 2);
  return n;
}

let values;
try {
  ({ values } = parseArgs({ options: { port: { type: "string" }, "relay-port": { type: "string" } } }));
} catch (e) {
  fail(`${e.message}\nusage: npm start [-- --port N] [-- --relay-port N]`, 2);
}
const port = portOption(values, "port", 5173);
const relayPort = portOption(values, "relay-port", 8787);
const withRelay = existsSync(join(ROOT, "src/relay/main.ts"));

/** Resolves when `port` can be listened on at HOST; otherwise with the reason (EADDRINUSE, EACCES). */
function tryPort(p) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", (e) => resolve(e.code ?? e.message));
    s.listen({ host: HOST, port: p, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

const wanted = [{ port, what: "the page (Vite)", option: "--port" }];
if (withRelay) wanted.push({ port: relayPort, what: "the relay", option: "--relay-port" });
if (port === relayPort && withRelay) fail(`--port and --relay-port are both ${port}`, 2);
for (const w of wanted) {
  const why = await tryPort(w.port);
  if (why === undefined) continue;
  const other = w.port === 65535 ? w.port - 1 : w.port + 1;
  fail(
    why === "EADDRINUSE"
      ? `port ${w.port} on ${HOST}, for ${w.what}, is already in use: is another \`npm start\` still running? ` +
          `Stop it (\`ss -ltnp 'sport = :${w.port}'\` names the process), or pick another port: ` +
          `npm start -- ${w.option} ${other}`
      : `cannot listen on ${HOST}:${w.port} for ${w.what} (${why}); pick another port: npm start -- ${w.option} ${other}`,
  );
}

// The hart's WebAssembly core, which the page loads as an asset (rebuilt only when its sources changed).
buildCore();

const children = [];
let stopping = false;
let exitCode = 0;
let killTimer;

/** The child's whole process group (see the top); the child alone if the group is gone. */
function signal(child, sig) {
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      // Already gone.
    }
  }
}

function stopAll(code, why) {
  if (why !== undefined) console.error(`vireo: ${why}`);
  if (stopping) {
    // A second Ctrl-C: no more waiting.
    for (const c of children) if (!c.gone) signal(c, "SIGKILL");
    return;
  }
  stopping = true;
  exitCode = code;
  for (const c of children) if (!c.gone) signal(c, "SIGTERM");
  killTimer = setTimeout(() => {
    for (const c of children) {
      if (c.gone) continue;
      console.error(`vireo: ${c.name} did not stop in ${KILL_AFTER_MS / 1000} s: killing it`);
      signal(c, "SIGKILL");
    }
  }, KILL_AFTER_MS);
  finishIfAllGone();
}

function finishIfAllGone() {
  if (!children.every((c) => c.gone)) return;
  clearTimeout(killTimer);
  process.exit(exitCode);
}

function start(name, args) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: "inherit", detached: true });
  child.name = name;
  child.gone = false;
  const gone = (how) => {
    if (child.gone) return;
    child.gone = true;
    const others = children.filter((c) => c !== child && !c.gone).map((c) => c.name);
    if (!stopping) {
      stopAll(1, `${name} ${how}${others.length > 0 ? `: stopping ${others.join(" and ")}` : ""}`);
    }
    finishIfAllGone();
  };
  child.on("exit", (code, sig) => gone(sig !== null ? `was stopped by ${sig}` : `exited with code ${code}`));
  child.on("error", (e) => gone(`could not start: ${e.message}`));
  children.push(child);
  return child;
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () =>
    stopAll(0, stopping ? undefined : `${sig}: stopping ${children.map((c) => c.name).join(" and ")}`),
  );
}

// The relay listens on loopback only, so the page may use it without a token; its Origin check still
// keeps other web pages out, and its destination policy still refuses loopback and private addresses.
const relay = withRelay
  ? start("the relay", ["--import", "tsx", "src/relay/main.ts", "--no-auth", "--listen", `${HOST}:${relayPort}`])
  : undefined;
const vite = start("Vite", [join(ROOT, "node_modules/vite/bin/vite.js"), "--port", String(port), "--strictPort"]);
const page = `http://${HOST}:${port}/${relayPort === 8787 ? "" : `?relay=${encodeURIComponent(`ws://${HOST}:${relayPort}/wisp/`)}`}`;
console.log(
  `vireo: open ${page}  (Vite pid ${vite.pid}${relay !== undefined ? `, relay pid ${relay.pid} on ${HOST}:${relayPort}` : ""}; Ctrl-C stops both)`,
);
