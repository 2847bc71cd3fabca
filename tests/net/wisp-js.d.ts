// Types for the parts of @mercuryworkshop/wisp-js's server (untyped JavaScript) the interop tests use
// (tests/net/wisp-interop.test.ts, tests/relay/wisp-js-interop.test.ts).
declare module "@mercuryworkshop/wisp-js/server" {
  import type { IncomingMessage } from "node:http";
  import type { Duplex } from "node:stream";
  export const server: {
    options: Record<string, unknown>;
    /** `connOptions.wisp_extensions` replaces the extensions a v2 connection offers. */
    routeRequest(req: IncomingMessage, socket: Duplex, head: Buffer, connOptions?: Record<string, unknown>): void;
  };
  export const extensions: {
    PasswordAuthExtension: new (o: { server_config?: { required: number } }) => unknown;
  };
  export const logging: { NONE: number; ERROR: number; set_level(level: number): void };
}
