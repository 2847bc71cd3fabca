// Types for the parts of @mercuryworkshop/wisp-js (untyped JavaScript) the interop test uses.
declare module "@mercuryworkshop/wisp-js/server" {
  import type { IncomingMessage } from "node:http";
  import type { Duplex } from "node:stream";
  export const server: {
    options: Record<string, unknown>;
    routeRequest(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  };
  export const logging: { NONE: number; set_level(level: number): void };
}
