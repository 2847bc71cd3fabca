// Entry point: reads the configuration from the URL, starts the machine worker once for the page's
// life (outside React, so StrictMode's double effects never start two machines) and renders the app.

import { defaultRelayUrl, parseConfig, parseUiLive } from "./config.ts";
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
  client.boot(config);
  import("./render.tsx")
    .then(({ render }) => render(root, client, config, warnings, relayUrl, live))
    .catch((e: unknown) => {
      root.textContent = `vireo: the page failed to load: ${(e as Error)?.message ?? e}`;
    });
}
