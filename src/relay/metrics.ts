// Counters and gauges for /metrics in the Prometheus text format (version 0.0.4). Label values come from
// fixed vocabularies in the relay (reasons, endpoints), never from client input, so the series count
// stays bounded whatever a client sends.

type Kind = "counter" | "gauge";

interface Cell {
  value: number;
}

interface Family {
  help: string;
  kind: Kind;
  values: Map<string, Cell>;
}

export const METRICS = {
  relay_connections_total: ["counter", "WebSocket clients accepted, by endpoint"],
  relay_connections_active: ["gauge", "WebSocket clients connected now, by endpoint"],
  relay_connections_refused_total: ["counter", "Upgrades refused, by reason"],
  relay_streams_total: ["counter", "Wisp streams opened, by type"],
  relay_streams_active: ["gauge", "Wisp streams open now, by type"],
  relay_stream_closes_total: ["counter", "Wisp streams closed, by close reason"],
  relay_bytes_total: ["counter", "Bytes relayed: up/down = Wisp payload to/from destinations, l2 = frame bytes"],
  relay_denials_total: ["counter", "Destinations and requests refused by policy or limits, by reason"],
  relay_protocol_errors_total: ["counter", "Malformed or out-of-protocol client input, by error"],
  relay_udp_dropped_total: ["counter", "UDP datagrams dropped, by reason"],
  relay_frames_switched_total: ["counter", "Ethernet frames delivered by the L2 switch (one per receiving port)"],
  relay_frames_dropped_total: ["counter", "Ethernet frames dropped by the L2 switch, by reason"],
  relay_l2_networks_active: ["gauge", "L2 networks with at least one client"],
  relay_l2_flows_refused_total: ["counter", "L2 gateway flows refused over a socket budget, by proto and reason"],
  relay_l2_gateway_sockets: ["gauge", "Sockets (and flows being checked) the L2 gateways hold now"],
  relay_sockets: ["gauge", "Sockets held for clients now, Wisp streams and L2 gateway flows (--max-sockets)"],
} as const satisfies Record<string, [Kind, string]>;

export type MetricName = keyof typeof METRICS;
export type Labels = Record<string, string>;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]!.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

export class Metrics {
  private readonly families = new Map<MetricName, Family>();

  constructor() {
    for (const [name, [kind, help]] of Object.entries(METRICS)) {
      this.families.set(name as MetricName, { kind, help, values: new Map() });
    }
  }

  private cell(name: MetricName, labels: Labels | undefined): Cell {
    const v = this.families.get(name)!.values;
    const k = labelKey(labels);
    let c = v.get(k);
    if (!c) v.set(k, (c = { value: 0 }));
    return c;
  }

  /** A pre-resolved series for hot paths (bytes relayed), so counting costs no label formatting. */
  counter(name: MetricName, labels?: Labels): Cell {
    return this.cell(name, labels);
  }

  inc(name: MetricName, labels?: Labels, by = 1): void {
    this.cell(name, labels).value += by;
  }

  dec(name: MetricName, labels?: Labels, by = 1): void {
    this.inc(name, labels, -by);
  }

  set(name: MetricName, value: number, labels?: Labels): void {
    this.cell(name, labels).value = value;
  }

  get(name: MetricName, labels?: Labels): number {
    return this.families.get(name)!.values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.kind}`);
      if (f.values.size === 0 && f.kind === "gauge") out.push(`${name} 0`);
      for (const [k, c] of f.values) out.push(`${name}${k} ${c.value}`);
    }
    return `${out.join("\n")}\n`;
  }
}
