#!/usr/bin/env node
// `npm start`: the page on Vite's dev server (COOP/COEP set in vite.config.ts) and, once it exists, the
// relay beside it. Ctrl-C stops both.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { buildCore } from "./build-core.mjs";

// The hart's WebAssembly core, which the page loads as an asset (rebuilt only when its sources changed).
buildCore();

const children = [];
function start(name, cmd, args) {
  const child = spawn(cmd, args, { stdio: "inherit" });
  child.on("exit", (code) => {
    console.log(`${name} exited (${code ?? "signal"})`);
    for (const c of children) if (c !== child) c.kill("SIGTERM");
    process.exit(code ?? 0);
  });
  children.push(child);
}

// The relay listens on loopback only, so the page may use it without a token; its Origin check still
// keeps other web pages out, and its destination policy still refuses loopback and private addresses.
if (existsSync("src/relay/main.ts")) start("relay", "npx", ["tsx", "src/relay/main.ts", "--no-auth"]);
start("vite", "npx", ["vite", "--strictPort"]);
console.log("vireo: open http://127.0.0.1:5173/");
for (const sig of ["SIGINT", "SIGTERM"])
  process.on(sig, () => {
    for (const c of children) c.kill("SIGTERM");
  });
