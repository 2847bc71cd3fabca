import { describe, expect, it } from "vitest";
import { Metrics } from "./metrics.ts";

describe("Metrics", () => {
  it("renders Prometheus text with HELP, TYPE and escaped labels", () => {
    const m = new Metrics();
    m.inc("relay_denials_total", { reason: "loopback" });
    m.inc("relay_denials_total", { reason: "loopback" }, 2);
    m.counter("relay_bytes_total", { direction: "up" }).value += 10;
    m.inc("relay_protocol_errors_total", { error: 'a"b\\c' });
    const text = m.render();
    expect(text).toContain("# HELP relay_denials_total ");
    expect(text).toContain("# TYPE relay_denials_total counter");
    expect(text).toContain('relay_denials_total{reason="loopback"} 3');
    expect(text).toContain('relay_bytes_total{direction="up"} 10');
    expect(text).toContain('relay_protocol_errors_total{error="a\\"b\\\\c"} 1');
    expect(text).toContain("relay_l2_networks_active 0"); // gauges always have a value
    expect(text.endsWith("\n")).toBe(true);
  });
  it("gauges go up and down", () => {
    const m = new Metrics();
    m.inc("relay_streams_active", { type: "tcp" });
    m.inc("relay_streams_active", { type: "tcp" });
    m.dec("relay_streams_active", { type: "tcp" });
    expect(m.get("relay_streams_active", { type: "tcp" })).toBe(1);
  });
});
