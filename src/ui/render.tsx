// The React side of the page, loaded by main.tsx after it has started the machine: React, xterm and the app
// download and parse while the worker fetches the images and boots the guest.

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import type { MachineConfig } from "../worker/protocol.ts";
import { App } from "./app.tsx";
import "./app.css";
import type { KeptMeta } from "./keep.ts";
import type { MachineClient } from "./machine-client.ts";

export function render(
  root: HTMLElement,
  client: MachineClient,
  config: MachineConfig,
  warnings: string[],
  relayUrl: string,
  live: boolean,
  kept: KeptMeta | undefined,
  restoring: boolean,
): void {
  createRoot(root).render(
    <StrictMode>
      <App
        client={client}
        initialConfig={config}
        warnings={warnings}
        relayDefault={relayUrl}
        live={live}
        kept={kept}
        restoring={restoring}
      />
    </StrictMode>,
  );
}
