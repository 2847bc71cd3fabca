// Command-line options for `npm run relay`. Defaults are the safe ones for a relay reachable from the
// internet; every loosening (open a destination, drop auth) is an explicit flag.

import { parseArgs } from "node:util";
import type { AuthConfig } from "./auth.ts";
import { parseTrustedProxies } from "./client-address.ts";
import { DEFAULT_L2_LIMITS, type L2Limits } from "./l2/l2-switch.ts";
import { type Cidr, parseIpLiteral } from "./policy/ip.ts";
import { type AllowRule, classifyAddress, type PolicyConfig, parseAllowRule } from "./policy/policy.ts";
import { DEFAULT_RESOLVER_CONFIG, parseDnsServer, type ResolverConfig } from "./policy/resolver.ts";
import { DEFAULT_WISP_LIMITS, type WispLimits } from "./wisp/wisp-limits.ts";

export interface RelayConfig {
  host: string;
  port: number;
  auth: AuthConfig;
  policy: PolicyConfig;
  wisp: WispLimits;
  l2: L2Limits;
  /** Name resolution for /wisp CONNECTs and the L2 gateways (policy/resolver.ts). */
  dns: ResolverConfig;
  maxClients: number;
  /** Sockets held for all clients together: Wisp streams and L2 gateway flows share this one budget. */
  maxSockets: number;
  /** WebSocket clients from one remote address, so one host cannot take every slot. */
  maxClientsPerAddress: number;
  /** Peers (load balancers) whose X-Forwarded-For names the real client (client-address.ts); empty = none. */
  trustProxy: Cidr[];
  /** Connections from trustProxy peers open with a PROXY protocol header (v1 or v2) naming the client. */
  proxyProtocol: boolean;
  /** From TCP accept to a completed WebSocket upgrade. */
  handshakeTimeoutMs: number;
  /** Largest WebSocket message accepted on /wisp (a Wisp header plus payload). */
  maxWispMessageBytes: number;
}

export const DEFAULT_PORT = 8787;

export function defaultConfig(): RelayConfig {
  return {
    host: "127.0.0.1",
    port: DEFAULT_PORT,
    auth: { tokens: [], noAuth: false, origins: [] },
    policy: { allow: [], denyPorts: new Set([25]) },
    wisp: { ...DEFAULT_WISP_LIMITS },
    l2: { ...DEFAULT_L2_LIMITS },
    dns: { ...DEFAULT_RESOLVER_CONFIG, servers: [] },
    maxClients: 1000,
    maxSockets: 8192,
    maxClientsPerAddress: 256,
    trustProxy: [],
    proxyProtocol: false,
    handshakeTimeoutMs: 10_000,
    maxWispMessageBytes: 64 * 1024 + 5,
  };
}

export const USAGE = `usage: npm run relay -- [options]
  --listen HOST:PORT       where to listen (default 127.0.0.1:${DEFAULT_PORT})
  --token T                accepted token (repeatable; also VIREO_RELAY_TOKEN); clients send ?token=T
                           or Sec-WebSocket-Protocol vireo-token.T. Without one, a random token is printed.
  --no-auth                no token (only on a loopback listener)
  --origin URL             allowed browser Origin (repeatable, "*" = any; default: loopback origins)
  --allow CIDR|HOST:PORT   open a destination the policy denies (repeatable)
  --deny-port N[,N...]     refuse these destination ports (default 25)
  --max-clients N          WebSocket clients per server (default 1000)
  --max-clients-per-ip N   WebSocket clients from one address (default 256)
  --trust-proxy ADDR[,ADDR]  load balancers (addresses or CIDRs) whose X-Forwarded-For gives the client's
                           address for limits and logs (repeatable; default: none, the header is ignored)
  --proxy-protocol         connections from --trust-proxy peers must open with a PROXY protocol header
                           (v1 or v2, HAProxy's send-proxy / send-proxy-v2) naming the client's address
  --max-streams N          sockets per client: Wisp streams, or an L2 client's flows at the gateway (default 64)
  --max-gateway-sockets N  sockets all L2 gateways hold for guests' flows together (default 4096)
  --max-sockets N          sockets the relay holds for all clients, Wisp streams and L2 gateway flows
                           together (default 8192; keep it under the descriptor limit, ulimit -n)
  --rate BYTES             per-client bytes/s each way (default 0 = unlimited)
  --max-bytes BYTES        per-client total bytes (default 0 = unlimited)
  --idle-timeout S         close a client idle this long (default 300)
  --handshake-timeout S    time to complete the WebSocket upgrade (default 10)
  --connect-timeout S      TCP connect timeout (default 10)
  --dns-server IP[:PORT]   DNS server for names (repeatable; default: the system's, /etc/resolv.conf);
                           /etc/hosts is read first either way
  --lookup-timeout S       time for one name lookup, then it is cancelled (default 5)
  --max-lookups N          name lookups in flight across the relay (default 256)
  --max-lookups-per-client N  name lookups in flight for one client (default 8; over it: 0x49)
  --max-lookups-per-ip N   name lookups in flight for the clients of one address (default 32)
  --max-lookups-per-domain N  name lookups in flight under one domain, all clients (default 16; one at a
                           time for 3 s after one of them timed out)
  --buffer N               Wisp per-stream buffer in packets (CONTINUE credit, default 128)
  --max-frame BYTES        largest /wisp message (default 65541)
  --help`;

function positiveInt(name: string, v: string, min = 0): number {
  if (!/^[0-9]{1,12}$/.test(v) || Number(v) < min) throw new Error(`${name}: expected an integer >= ${min}, got ${v}`);
  return Number(v);
}

export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  const a = parseIpLiteral(host);
  return a !== null && classifyAddress(a) === "loopback";
}

/** Parses argv (without node and script); throws an Error whose message is fit for the user. */
export function parseRelayArgs(argv: string[], env: Record<string, string | undefined> = {}): RelayConfig | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      listen: { type: "string" },
      token: { type: "string", multiple: true },
      "no-auth": { type: "boolean" },
      origin: { type: "string", multiple: true },
      allow: { type: "string", multiple: true },
      "deny-port": { type: "string", multiple: true },
      "max-clients": { type: "string" },
      "max-clients-per-ip": { type: "string" },
      "trust-proxy": { type: "string", multiple: true },
      "proxy-protocol": { type: "boolean" },
      "max-streams": { type: "string" },
      "max-gateway-sockets": { type: "string" },
      "max-sockets": { type: "string" },
      rate: { type: "string" },
      "max-bytes": { type: "string" },
      "idle-timeout": { type: "string" },
      "handshake-timeout": { type: "string" },
      "connect-timeout": { type: "string" },
      "dns-server": { type: "string", multiple: true },
      "lookup-timeout": { type: "string" },
      "max-lookups": { type: "string" },
      "max-lookups-per-client": { type: "string" },
      "max-lookups-per-ip": { type: "string" },
      "max-lookups-per-domain": { type: "string" },
      buffer: { type: "string" },
      "max-frame": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return "help";
  const c = defaultConfig();
  if (values.listen !== undefined) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(values.listen) ?? /^()()([0-9]{1,5})$/.exec(values.listen);
    if (!m) throw new Error(`--listen: expected HOST:PORT, got ${values.listen}`);
    c.host = m[1] || m[2] || c.host;
    c.port = positiveInt("--listen", m[3]!);
    if (c.port > 65535) throw new Error("--listen: port out of range");
  }
  c.auth.tokens = [...(values.token ?? []), ...(env.VIREO_RELAY_TOKEN ? [env.VIREO_RELAY_TOKEN] : [])];
  if (c.auth.tokens.some((t) => t.length < 8)) throw new Error("--token: tokens must be at least 8 characters");
  c.auth.noAuth = values["no-auth"] ?? false;
  if (c.auth.noAuth && !isLoopbackHost(c.host)) throw new Error("--no-auth is only allowed on a loopback listener");
  c.auth.origins = values.origin ?? [];
  const allow: AllowRule[] = [];
  for (const a of values.allow ?? []) {
    const r = parseAllowRule(a);
    if (!r) throw new Error(`--allow: expected CIDR or HOST:PORT, got ${a}`);
    allow.push(r);
  }
  c.policy = { allow, denyPorts: c.policy.denyPorts };
  if (values["deny-port"]) {
    const ports = new Set<number>();
    for (const v of values["deny-port"])
      for (const p of v.split(",")) {
        const n = positiveInt("--deny-port", p.trim(), 1);
        if (n > 65535) throw new Error(`--deny-port: ${n} out of range`);
        ports.add(n);
      }
    c.policy = { allow, denyPorts: ports };
  }
  if (values["max-clients"]) c.maxClients = positiveInt("--max-clients", values["max-clients"], 1);
  if (values["max-clients-per-ip"])
    c.maxClientsPerAddress = positiveInt("--max-clients-per-ip", values["max-clients-per-ip"], 1);
  for (const t of values["trust-proxy"] ?? []) {
    const proxies = parseTrustedProxies(t);
    if (!proxies) throw new Error(`--trust-proxy: expected IP or CIDR addresses separated by commas, got ${t}`);
    c.trustProxy.push(...proxies);
  }
  c.proxyProtocol = values["proxy-protocol"] ?? false;
  if (c.proxyProtocol && c.trustProxy.length === 0)
    throw new Error("--proxy-protocol: needs --trust-proxy (the balancers whose header is read)");
  if (values["max-streams"]) c.wisp.maxStreams = positiveInt("--max-streams", values["max-streams"], 1);
  if (values["max-gateway-sockets"])
    c.l2.maxGatewaySockets = positiveInt("--max-gateway-sockets", values["max-gateway-sockets"], 1);
  if (values["max-sockets"]) c.maxSockets = positiveInt("--max-sockets", values["max-sockets"], 1);
  if (values.rate) c.wisp.bytesPerSecond = positiveInt("--rate", values.rate);
  if (values["max-bytes"]) c.wisp.maxTotalBytes = positiveInt("--max-bytes", values["max-bytes"]);
  if (values["idle-timeout"]) c.wisp.idleTimeoutMs = positiveInt("--idle-timeout", values["idle-timeout"]) * 1000;
  if (values["handshake-timeout"])
    c.handshakeTimeoutMs = positiveInt("--handshake-timeout", values["handshake-timeout"], 1) * 1000;
  if (values["connect-timeout"])
    c.wisp.connectTimeoutMs = positiveInt("--connect-timeout", values["connect-timeout"], 1) * 1000;
  for (const d of values["dns-server"] ?? []) {
    const server = parseDnsServer(d);
    if (!server) throw new Error(`--dns-server: expected IP or IP:PORT, got ${d}`);
    c.dns.servers.push(server);
  }
  if (values["lookup-timeout"])
    c.dns.timeoutMs = c.wisp.lookupTimeoutMs = positiveInt("--lookup-timeout", values["lookup-timeout"], 1) * 1000;
  if (values["max-lookups"]) c.dns.maxInFlight = positiveInt("--max-lookups", values["max-lookups"], 1);
  if (values["max-lookups-per-client"])
    c.dns.maxPerClient = positiveInt("--max-lookups-per-client", values["max-lookups-per-client"], 1);
  if (values["max-lookups-per-ip"])
    c.dns.maxPerAddress = positiveInt("--max-lookups-per-ip", values["max-lookups-per-ip"], 1);
  if (values["max-lookups-per-domain"])
    c.dns.maxPerDomain = positiveInt("--max-lookups-per-domain", values["max-lookups-per-domain"], 1);
  if (c.dns.maxPerClient > c.dns.maxInFlight) throw new Error("--max-lookups-per-client: more than --max-lookups");
  if (values.buffer) c.wisp.bufferPackets = positiveInt("--buffer", values.buffer, 1);
  if (values["max-frame"]) c.maxWispMessageBytes = positiveInt("--max-frame", values["max-frame"], 64);
  return c;
}
