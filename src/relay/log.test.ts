import { describe, expect, it } from "vitest";
import { jsonLogger, type LogFields, rateLimitedLogger } from "./log.ts";

describe("logs", () => {
  it("writes one JSON object per line", () => {
    const lines: string[] = [];
    jsonLogger((l) => lines.push(l))("wisp.connect", { client: "c1", port: 80 });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith("\n")).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: "wisp.connect", client: "c1", port: 80 });
  });

  it("caps a client's events and reports how many were dropped", () => {
    let t = 0;
    const got: [string, LogFields | undefined][] = [];
    const log = rateLimitedLogger(
      (e, f) => got.push([e, f]),
      10,
      5,
      () => t,
    );
    for (let i = 0; i < 100; i++) log("wisp.refused", { client: "c1" });
    expect(got).toHaveLength(5);
    t = 1000;
    log("wisp.refused", { client: "c1" });
    expect(got[5]).toEqual(["log.suppressed", { client: "c1", count: 95 }]);
    expect(got[6]![0]).toBe("wisp.refused");
  });
});
