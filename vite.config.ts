import { readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vite";
import { staticRanges } from "./scripts/static-ranges.ts";

// The page must be cross-origin isolated (SharedArrayBuffer, precise timers): DESIGN.md §4.
const isolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

/**
 * `vite preview` answers every file with `Cache-Control: no-cache`, so each visit revalidates the page's
 * scripts, styles and core one request after another (index → worker → its chunk) before the machine can
 * start. The build names everything under assets/ by its content's hash: those never change under their
 * name and may be cached for good, as any host of the built page should serve them. index.html and the
 * boot images (public/images/, not hashed) keep revalidating.
 */
function immutableAssets(): Plugin {
  return {
    name: "vireo-immutable-assets",
    configurePreviewServer(server) {
      server.middlewares.use((req, res, next) => {
        if (req.url?.startsWith("/assets/")) res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
        next();
      });
    },
  };
}

/**
 * The page's first-visit note links to README.md beside index.html: the dev server serves the project's own,
 * and the build carries a copy, so `vite preview` and any host of dist/ have it too.
 */
function readme(): Plugin {
  return {
    name: "vireo-readme",
    apply: "build",
    generateBundle() {
      this.emitFile({
        type: "asset",
        fileName: "README.md",
        source: readFileSync(new URL("README.md", import.meta.url)),
      });
    },
  };
}

/**
 * The Debian image (`npm run guest:debian`, not committed) where the page's `?image=debian` looks for it, read
 * from guest/debian/out/ in place by both servers; a 404 until it is built (src/ui/images.ts).
 */
const debianImage = {
  prefix: "/images/debian/",
  dir: "guest/debian/out",
  files: ["manifest.json", "Image", "initrd.img", "debian.img"],
};

export default defineConfig({
  // staticRanges: a same-origin `?disk=/disk.img` needs HTTP ranges, which Vite's own file serving gets wrong.
  plugins: [immutableAssets(), staticRanges([debianImage]), readme()],
  server: { headers: isolation, host: "127.0.0.1", port: 5173 },
  preview: { headers: isolation, host: "127.0.0.1", port: 4173 },
  worker: { format: "es" },
  build: { target: "es2022" },
});
