// src/net/ runs in the page, in a worker and in Node alike (DESIGN.md §3): no DOM and no Node built-ins
// inside it. The uplinks that need a platform get it injected (a WebSocket factory, a socket module) or
// live at the edges (src/cli/). This guard scans every non-test source file under src/net/.

import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, ".");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const builtins = new Set(builtinModules.filter((m) => !m.startsWith("_")));

/** The platform dependencies one file's text shows, one string per finding. */
function platformUses(text: string): string[] {
  const found: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const at = `line ${i + 1}: ${line.trim()}`;
    if (/from\s+["']node:/.test(line) || /import\(\s*["']node:/.test(line)) found.push(at);
    else if (/\brequire\s*\(/.test(line)) found.push(at);
    else if (/\bdocument\.[A-Za-z_$]/.test(line) || /\bwindow\.[A-Za-z_$]/.test(line)) found.push(at);
    else {
      const m = /from\s+["']([^"'./][^"']*)["']/.exec(line);
      if (m && builtins.has(m[1]!.split("/")[0]!)) found.push(at);
    }
  });
  return found;
}

describe("src/net/ is platform-free", () => {
  it("the scanner catches each kind of platform dependency", () => {
    expect(platformUses('import { createHash } from "node:crypto";')).toHaveLength(1);
    expect(platformUses('const fs = await import("node:fs");')).toHaveLength(1);
    expect(platformUses('const net = require("net");')).toHaveLength(1);
    expect(platformUses("document.title = 'x';")).toHaveLength(1);
    expect(platformUses("const w = window.innerWidth;")).toHaveLength(1);
    expect(platformUses('import { Socket } from "dgram";')).toHaveLength(1);
    expect(platformUses('import { x } from "./ok.ts";\n// the window. closes\nconst y = 1;')).toEqual([]);
  });

  it("no source file under src/net/ imports a Node built-in or touches the DOM", () => {
    const files = sources(ROOT);
    expect(files.length).toBeGreaterThan(20);
    const bad: string[] = [];
    for (const f of files) for (const u of platformUses(readFileSync(f, "utf8"))) bad.push(`${relative(ROOT, f)} ${u}`);
    expect(bad).toEqual([]);
  });
});
