// public/images/manifest.json must describe exactly the files beside it (see guest/build.sh).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const IMAGES = resolve(dirname(fileURLToPath(import.meta.url)), "..", "public", "images");

interface ManifestEntry {
  name: string;
  bytes: number;
  sha256: string;
  debian: { package: string; version: string }[];
}
interface Manifest {
  bootargs: string;
  files: ManifestEntry[];
}

const manifest = JSON.parse(readFileSync(join(IMAGES, "manifest.json"), "utf8")) as Manifest;

describe("public/images/manifest.json", () => {
  it("records the kernel command line the images expect", () => {
    expect(typeof manifest.bootargs).toBe("string");
    expect(manifest.bootargs).toMatch(/console=ttyS0/);
  });

  it("lists every file in public/images/ except itself, once", () => {
    const onDisk = readdirSync(IMAGES)
      .filter((f) => f !== "manifest.json" && statSync(join(IMAGES, f)).isFile())
      .sort();
    const listed = manifest.files.map((f) => f.name).sort();
    expect(listed).toEqual(onDisk);
  });

  it.each(manifest.files.map((f) => [f.name, f] as const))("%s matches its size and sha256", (name, entry) => {
    const data = readFileSync(join(IMAGES, name));
    expect(data.length).toBe(entry.bytes);
    expect(createHash("sha256").update(data).digest("hex")).toBe(entry.sha256);
  });

  it.each(manifest.files.map((f) => [f.name, f] as const))("%s names the Debian packages it came from", (_, entry) => {
    expect(entry.debian.length).toBeGreaterThan(0);
    for (const pkg of entry.debian) {
      expect(pkg.package).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
      expect(pkg.version).toMatch(/^[0-9]/);
    }
  });
});
