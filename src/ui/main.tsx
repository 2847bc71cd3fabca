// Entry point: reads the configuration from the URL, starts the machine worker once for the page's
// life (outside React, so StrictMode's double effects never start two machines) and renders the app.

import { defaultRelayUrl, parseConfig, parseSnapshotUrl, parseUiLive } from "./config.ts";
import { type KeptMeta, keepWanted, keptMeta } from "./keep.ts";
import { keptDisk } from "./kept-disk.ts";
import { MachineClient } from "./machine-client.ts";

const root = document.getElementById("root");
if (root) {
  const imageBase = new URL(`${import.meta.env.BASE_URL}images/`, window.location.href).href;
  const relayUrl = defaultRelayUrl(window.location.hostname);
  const { config, warnings } = parseConfig(window.location.search, imageBase, relayUrl);
  if (!globalThis.crossOriginIsolated) {
    warnings.push("the page is not cross-origin isolated (COOP/COEP headers missing): serve it with `npm start`");
  }
  const live = parseUiLive(window.location.search);
  const client = new MachineClient();
  // Before the first boot message, so a page without live panels never gets a snapshot.
  if (!live) client.setSnapshots(false);
  // For benchmarks and the curious: the hart's instret, read in the worker (no snapshots needed), and
  // the snapshots switched on and off while the page runs (e2e/page-bench.ts alternates them).
  (window as unknown as { vireo: Pick<MachineClient, "stats" | "setSnapshots"> }).vireo = {
    stats: () => client.stats(),
    setSnapshots: (on, devices) => client.setSnapshots(on, devices),
  };
  // Boot now: the worker downloads the images, compiles the core and starts the hart while React, xterm and
  // the app load (a separate chunk) and render. The client holds the worker's messages until the app is ready.
  // `?snapshot=URL` restores that snapshot instead; a kept machine ("keep this machine") waits for the
  // person's choice between resuming it and a fresh boot.
  const snapshotUrl = parseSnapshotUrl(window.location.search, window.location.href);
  const start = async (): Promise<KeptMeta | undefined> => {
    // A disk picked from a file and kept on request (the images popover's "keep after reload") is attached again.
    const disk = await keptDisk();
    if (disk !== undefined && config.diskFiles === undefined) config.diskFiles = [disk];
    if (snapshotUrl !== undefined) {
      client.restore({ url: snapshotUrl }, config);
      return undefined;
    }
    const kept = keepWanted() ? await keptMeta() : undefined;
    if (kept !== undefined) client.bootedConfig = config;
    else client.boot(config);
    return kept;
  };
  const rendered = import("./render.tsx");
  start()
    .then(async (kept) => {
      const { render } = await rendered;
      render(root, client, config, warnings, relayUrl, live, kept, snapshotUrl !== undefined);
    })
    .catch((e: unknown) => {
      root.textContent = `vireo: the page failed to load: ${(e as Error)?.message ?? e}`;
    });
}
