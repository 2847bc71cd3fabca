// `npm run relay`: the relay server on one port (see server.ts), structured logs on stdout, graceful
// shutdown on SIGTERM/SIGINT. Exit codes: 0 after a clean shutdown, 2 for bad options, 1 otherwise.

import { randomBytes } from "node:crypto";
import { parseRelayArgs, USAGE } from "./config.ts";
import { jsonLogger } from "./log.ts";
import { Relay } from "./server.ts";

const EXIT_USAGE = 2;

async function main(): Promise<void> {
  let config: ReturnType<typeof parseRelayArgs>;
  try {
    config = parseRelayArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`relay: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(EXIT_USAGE);
  }
  if (config === "help") {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = jsonLogger();
  if (!config.auth.noAuth && config.auth.tokens.length === 0) {
    // Deny by default also means no open relay by accident: without a configured token, make one up.
    const token = randomBytes(18).toString("base64url");
    config.auth.tokens = [token];
    process.stderr.write(`relay: no --token given; clients must use ?token=${token}\n`);
  }
  // The gateway pulls in the whole src/net stack; if that cannot load, /wisp still serves and /l2
  // networks run as a plain switch (logged), rather than the relay not starting at all.
  const gateway = await import("./l2/gateway.ts").then(
    (m) => m.attachGateway,
    (err: Error) => {
      log("relay.no-gateway", { error: err.message.slice(0, 300) });
      return undefined;
    },
  );
  const relay = new Relay(config, { log, l2Gateway: gateway });
  const addr = await relay.listen();
  process.stderr.write(`relay: listening on ws://${config.host}:${addr.port}/wisp/ and /l2/<network>\n`);
  let stopping = false;
  for (const sig of ["SIGTERM", "SIGINT"] as const)
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log("relay.signal", { signal: sig });
      relay.shutdown().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
}

main().catch((err: Error) => {
  process.stderr.write(`relay: ${err.message}\n`);
  process.exit(1);
});
