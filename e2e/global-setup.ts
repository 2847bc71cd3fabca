// Builds the page once (the hart's core, then Vite) and serves it with `vite preview` on a free loopback
// port for the whole run; the specs read its address from VIREO_E2E_URL (fixtures.ts).

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { build, preview } from "vite";
// @ts-expect-error: a plain .mjs build script without type declarations
import { buildCore } from "../scripts/build-core.mjs";
import { CHROMIUM, ROOT } from "./harness.ts";

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  // The specs' screenshots and saved files (Playwright's own outputDir is test-results/playwright).
  mkdirSync(join(ROOT, "test-results/screenshots"), { recursive: true });
  buildCore();
  await build({ root: ROOT, logLevel: "warn", build: { chunkSizeWarningLimit: 2048 } });
  const server = await preview({ root: ROOT, logLevel: "warn", preview: { port: 4180, strictPort: false } });
  const url = server.resolvedUrls?.local[0];
  if (url === undefined) throw new Error("vite preview did not report a URL");
  process.env.VIREO_E2E_URL = url;
  return async () => {
    await server.close();
  };
}
