// Structured logs: one JSON object per line per event. Callers pass identifiers, addresses, counts and
// reasons — never payload bytes — so a log can be shared without leaking what clients sent.

import { TokenBucket } from "./limits.ts";

export type LogFields = Record<string, string | number | boolean | null | undefined>;
export type Logger = (event: string, fields?: LogFields) => void;

export function jsonLogger(write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  return (event, fields) => {
    write(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`);
  };
}

export const silentLogger: Logger = () => {};

/**
 * A per-client logger a client cannot turn into a flood (e.g. thousands of refused CONNECTs a second):
 * past the budget, events are counted and the count is logged once the budget allows again.
 */
export function rateLimitedLogger(
  log: Logger,
  perSecond: number,
  burst: number,
  now: () => number = () => performance.now(),
): Logger {
  const bucket = new TokenBucket(perSecond, burst, now);
  let suppressed = 0;
  return (event, fields) => {
    if (!bucket.tryTake(suppressed > 0 ? 2 : 1)) {
      suppressed++;
      return;
    }
    if (suppressed > 0) {
      log("log.suppressed", { client: fields?.client, count: suppressed });
      suppressed = 0;
    }
    log(event, fields);
  };
}
