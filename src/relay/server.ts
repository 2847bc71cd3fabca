// The relay's one HTTP port: `/wisp` (Wisp v1 streams), `/l2/<network>` (Ethernet frames, one per
// message), `/healthz`, `/metrics`. Everything before a WebSocket exists — handshake time, Origin, token,
// client count — is decided here; what happens on a socket after that belongs to the session objects.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { authorize, tokenMatches } from "./auth.ts";
import { clientAddress, isTrustedPeer } from "./client-address.ts";
import type { RelayConfig } from "./config.ts";
import type { GatewayContext } from "./l2/gateway.ts";
import { acceptL2Client } from "./l2/l2-client.ts";
import { type L2Network, L2Switch } from "./l2/l2-switch.ts";
import { SocketBudget } from "./limits.ts";
import { type Logger, silentLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import type { Lookup } from "./policy/destination.ts";
import { type ClientLookup, NameResolver } from "./policy/resolver.ts";
import { parseProxyHeader } from "./proxy-protocol.ts";
import { WispSession } from "./wisp/wisp-session.ts";
import { acceptWispUpgrade, WispSocket } from "./wisp/wisp-socket.ts";

export interface RelayDeps {
  log?: Logger;
  /** Replaces the resolver (config.dns) for every client: tests answer names themselves. */
  lookup?: Lookup;
  /** Attaches a gateway host to a new L2 network; returns its cleanup. main.ts passes l2/gateway.ts's. */
  l2Gateway?: (network: L2Network, ctx: GatewayContext) => (() => void) | undefined;
}

/** WebSocket close codes (RFC 6455 §7.4.1). */
const WS_GOING_AWAY = 1001;
const WS_TRY_AGAIN_LATER = 1013;

const NETWORK_NAME = /^[A-Za-z0-9_-]{1,64}$/;

type Route = { kind: "wisp" } | { kind: "l2"; network: string } | null;

/** A connection whose balancer named the client in a PROXY header (null: the header named none). */
type ProxiedSocket = Socket & { vireoProxySource?: string | null };

/**
 * A request path for the logs: the query's values are secrets as often as not (`?token=…`), so each is replaced
 * by `***` (the names stay, to say what was sent), and the whole is cut to 80 characters after that.
 */
export function redactedPath(raw: string): string {
  const q = raw.indexOf("?");
  if (q < 0) return raw.slice(0, 80);
  const query = raw
    .slice(q + 1)
    .split("&")
    .map((kv) => {
      const eq = kv.indexOf("=");
      return eq < 0 ? kv : `${kv.slice(0, eq)}=***`;
    })
    .join("&");
  return `${raw.slice(0, q)}?${query}`.slice(0, 80);
}

function route(pathname: string): Route {
  if (pathname === "/wisp" || pathname === "/wisp/") return { kind: "wisp" };
  const m = /^\/l2\/([^/]*)\/?$/.exec(pathname);
  if (m && NETWORK_NAME.test(m[1]!)) return { kind: "l2", network: m[1]! };
  return null;
}

function reject(socket: Socket, status: number, text: string): void {
  // Plain HTTP answer on the raw socket: the client gets a reason, and no WebSocket is ever created.
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`,
  );
  // end() lets the answer leave first; a peer that never reads it is cut off shortly after.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class Relay {
  readonly metrics = new Metrics();
  private readonly http: Server;
  /** With --proxy-protocol: the listener, which reads trusted peers' PROXY headers before HTTP sees a byte. */
  private readonly front: NetServer | null;
  private readonly l2wss: WebSocketServer;
  private readonly log: Logger;
  private readonly resolver: NameResolver;
  private readonly fixedLookup: Lookup | undefined;
  /** Sockets held for all clients (--max-sockets); the Wisp sessions and the L2 gateways' budget take from it. */
  private readonly sockets: SocketBudget;
  private readonly switch: L2Switch;
  private readonly wispSessions = new Set<WispSession>();
  private readonly l2Clients = new Set<WebSocket>();
  private readonly rawSockets = new Set<Socket>();
  private clients = 0;
  private readonly perAddress = new Map<string, number>();
  private shuttingDown = false;

  constructor(
    readonly config: RelayConfig,
    deps: RelayDeps = {},
  ) {
    this.log = deps.log ?? silentLogger;
    this.resolver = new NameResolver(config.dns);
    // One budget for every socket held for clients: Wisp streams and L2 gateway flows together (--max-sockets).
    this.sockets = new SocketBudget(Number.POSITIVE_INFINITY, config.maxSockets, undefined, (n) =>
      this.metrics.set("relay_sockets", n),
    );
    this.fixedLookup = deps.lookup;
    const gateway = deps.l2Gateway;
    const ctx: GatewayContext = {
      policy: config.policy,
      newLookup: () => this.newLookup(),
      sockets: new SocketBudget(config.wisp.maxStreams, config.l2.maxGatewaySockets, this.sockets),
      metrics: this.metrics,
      log: this.log,
    };
    this.switch = new L2Switch(config.l2, this.metrics, this.log, gateway && ((net) => gateway(net, ctx)));
    const common = {
      noServer: true,
      perMessageDeflate: false, // compression is CPU and memory an attacker could make us spend
      clientTracking: false,
      // Answer with the protocol authorize() picked (stashed on the request in onUpgrade).
      handleProtocols: (_offered: Set<string>, req: IncomingMessage) =>
        (req as IncomingMessage & { vireoProtocol?: string | null }).vireoProtocol ?? false,
    };
    // Oversized frames are the switch's to drop and count; the WebSocket limit only bounds memory.
    this.l2wss = new WebSocketServer({ ...common, maxPayload: 64 * 1024 });
    // Node checks headersTimeout/requestTimeout every connectionsCheckingInterval (30 s by default): check each
    // second, so a request trickled in on a kept-alive connection is cut off near the timeout, not 20 s after.
    this.http = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => this.onRequest(req, res));
    this.http.on("connection", (socket: Socket) => this.onConnection(socket));
    this.http.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on("clientError", (_err, socket: Socket) => reject(socket, 400, "Bad Request"));
    this.http.headersTimeout = config.handshakeTimeoutMs;
    this.http.requestTimeout = config.handshakeTimeoutMs;
    // A kept-alive connection serves a bounded number of requests (health checks, metrics scrapes).
    this.http.maxRequestsPerSocket = 100;
    this.front = config.proxyProtocol ? createNetServer((socket) => this.onProxyConnection(socket)) : null;
  }

  /**
   * --proxy-protocol: a connection from a --trust-proxy peer must open with a PROXY header (v1 or v2), read here
   * and handed to the HTTP server without it; the header's source is then the client's address. Any other peer's
   * bytes go to the HTTP server as they are (a PROXY line from a client is a malformed request: 400).
   */
  private onProxyConnection(socket: ProxiedSocket): void {
    if (!isTrustedPeer(socket.remoteAddress, this.config.trustProxy)) {
      this.http.emit("connection", socket);
      return;
    }
    this.rawSockets.add(socket);
    socket.once("close", () => this.rawSockets.delete(socket));
    const refuse = (why: string) => {
      this.metrics.inc("relay_connections_refused_total", { reason: "proxy-protocol" });
      this.log("relay.refused", {
        reason: "proxy-protocol",
        remote: clientAddress(socket.remoteAddress, undefined, []),
        why,
      });
      socket.destroy();
    };
    const onError = () => socket.destroy();
    const timer = setTimeout(() => refuse("timeout"), this.config.handshakeTimeoutMs);
    let got: Buffer = Buffer.alloc(0);
    const onReadable = () => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null)
        got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const h = parseProxyHeader(got);
      if (h.kind === "partial") return;
      socket.off("readable", onReadable);
      socket.off("error", onError);
      clearTimeout(timer);
      if (h.kind === "invalid") {
        refuse(h.why);
        return;
      }
      if (got.length > h.length) socket.unshift(got.subarray(h.length));
      socket.vireoProxySource = h.source;
      this.http.emit("connection", socket);
    };
    socket.on("error", onError);
    socket.once("close", () => clearTimeout(timer));
    socket.on("readable", onReadable);
  }

  /** What listens: the PROXY-header reader with --proxy-protocol, else the HTTP server itself. */
  private get listener(): NetServer {
    return this.front ?? this.http;
  }

  /**
   * Lookups charged to one client (a Wisp connection, an L2 network's gateway) until close(), and to the address
   * it comes from (none for a gateway: it asks for a whole network's guests).
   */
  private newLookup(address?: string): ClientLookup {
    const fixed = this.fixedLookup;
    return fixed ? { lookup: fixed, close: () => {}, inFlight: 0 } : this.resolver.forClient(address);
  }

  /** The client's address (the real one behind a trusted balancer), read once per request. */
  private remoteOf(req: IncomingMessage): string {
    const r = req as IncomingMessage & { vireoRemote?: string };
    // A PROXY header's source (a balancer on the --trust-proxy list wrote it) is the client; else X-Forwarded-For.
    const source = (req.socket as ProxiedSocket).vireoProxySource;
    r.vireoRemote ??= source
      ? clientAddress(source, undefined, [])
      : clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], this.config.trustProxy);
    return r.vireoRemote;
  }

  /** Name lookups in flight now (all clients). */
  get lookupsInFlight(): number {
    return this.resolver.inFlight;
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const server = this.listener;
      server.once("error", reject);
      server.listen(this.config.port, this.config.host, () => {
        server.off("error", reject);
        const addr = server.address() as AddressInfo;
        this.log("relay.listening", { host: addr.address, port: addr.port });
        resolve(addr);
      });
    });
  }

  get port(): number {
    return (this.listener.address() as AddressInfo).port;
  }

  /** Stops accepting, closes every stream with a CLOSE and every client with 1001, then the port. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.log("relay.shutdown", { clients: this.clients });
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    // Not listening itself with --proxy-protocol, but its timers and kept-alive connections end here too.
    if (this.front) this.http.close();
    for (const s of this.wispSessions) s.shutdown(WS_GOING_AWAY, "server shutting down");
    for (const ws of this.l2Clients) ws.close(WS_GOING_AWAY, "server shutting down");
    // Give close frames a moment to leave, then drop whatever is still open.
    await new Promise((r) => setTimeout(r, 200));
    for (const s of this.rawSockets) s.destroy();
    this.http.closeAllConnections();
    await closed;
    this.log("relay.stopped", {});
  }

  private onConnection(socket: Socket): void {
    this.rawSockets.add(socket);
    socket.on("close", () => {
      this.rawSockets.delete(socket);
      const t = (socket as Socket & { handshakeTimer?: NodeJS.Timeout }).handshakeTimer;
      if (t) clearTimeout(t);
    });
    this.armHandshake(socket);
  }

  /**
   * A peer that connects and never finishes a request (slowloris) is cut off: at the connection's start, and
   * again after every plain request it was answered on a kept-alive connection (the next one gets the same time).
   */
  private armHandshake(socket: Socket): void {
    const old = (socket as Socket & { handshakeTimer?: NodeJS.Timeout }).handshakeTimer;
    if (old) clearTimeout(old);
    if (socket.destroyed) return;
    const t = setTimeout(() => {
      if (!(socket as Socket & { upgraded?: boolean }).upgraded) {
        this.metrics.inc("relay_connections_refused_total", { reason: "handshake-timeout" });
        socket.destroy();
      }
    }, this.config.handshakeTimeoutMs);
    (socket as Socket & { handshakeTimer?: NodeJS.Timeout }).handshakeTimer = t;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const timer = (req.socket as Socket & { handshakeTimer?: NodeJS.Timeout }).handshakeTimer;
    if (timer) clearTimeout(timer);
    // The next request on this connection (keep-alive) gets its own time, from the end of this answer.
    res.once("finish", () => this.armHandshake(req.socket));
    const url = new URL(req.url ?? "/", "http://relay");
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    if (url.pathname === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end(this.shuttingDown ? "shutting down\n" : "ok\n");
      return;
    }
    if (url.pathname === "/metrics") {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? url.searchParams.get("token");
      if (!this.config.auth.noAuth && (bearer === null || !tokenMatches(bearer, this.config.auth.tokens))) {
        res.writeHead(401, { "content-type": "text/plain" }).end("token required\n");
        return;
      }
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(this.metrics.render());
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }

  private refuse(socket: Socket, status: number, text: string, reason: string, req: IncomingMessage): void {
    this.metrics.inc("relay_connections_refused_total", { reason });
    this.log("relay.refused", { reason, remote: this.remoteOf(req), path: redactedPath(req.url ?? "") });
    reject(socket, status, text);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // Node's HTTP server stops listening for the raw socket's errors once it emits 'upgrade': without this a
    // reset on a refused (or not yet accepted) upgrade would be an unhandled 'error' and end the process.
    socket.on("error", () => socket.destroy());
    const refusal = this.upgradeRefusal(req, socket, head);
    if (refusal) this.refuse(socket, refusal[0], refusal[1], refusal[2], req);
  }

  /** Null once the upgrade is under way; otherwise [status, text, reason] to refuse it with. */
  private upgradeRefusal(req: IncomingMessage, socket: Socket, head: Buffer): [number, string, string] | null {
    const url = new URL(req.url ?? "/", "http://relay");
    const r = route(url.pathname);
    if (!r) return [404, "Not Found", "bad-path"];
    if (this.shuttingDown) return [503, "Service Unavailable", "shutting-down"];
    const verdict = authorize(this.config.auth, url, req.headers["sec-websocket-protocol"], req.headers.origin);
    if (!verdict.ok) return [verdict.status, verdict.status === 401 ? "Unauthorized" : "Forbidden", verdict.reason];
    (socket as Socket & { upgraded?: boolean }).upgraded = true;
    const timer = (socket as Socket & { handshakeTimer?: NodeJS.Timeout }).handshakeTimer;
    if (timer) clearTimeout(timer);
    if (r.kind === "wisp") {
      // /wisp has its own WebSocket implementation (wisp/wisp-socket.ts); /l2 uses ws.
      if (!socket.readable || !socket.writable) {
        socket.destroy();
        return null;
      }
      const ws = acceptWispUpgrade(req, socket, head, verdict.protocol, this.config.maxWispMessageBytes);
      if (!(ws instanceof WispSocket)) return [ws.status, ws.text, "bad-handshake"];
      this.accept(ws, r, req);
      return null;
    }
    (req as IncomingMessage & { vireoProtocol?: string | null }).vireoProtocol = verdict.protocol;
    this.l2wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, r, req));
    return null;
  }

  private accept(ws: WebSocket | WispSocket, r: NonNullable<Route>, req: IncomingMessage): void {
    const endpoint = r.kind;
    // Over capacity: the upgrade completed so a browser can see why (close code and reason), then it ends.
    const remote = this.remoteOf(req);
    const fromRemote = this.perAddress.get(remote) ?? 0;
    const full = this.clients >= this.config.maxClients ? "max-clients" : null;
    const greedy = fromRemote >= this.config.maxClientsPerAddress ? "max-clients-per-address" : null;
    if (full || greedy) {
      this.metrics.inc("relay_connections_refused_total", { reason: (full ?? greedy)! });
      this.log("relay.refused", { reason: full ?? greedy, remote });
      ws.close(WS_TRY_AGAIN_LATER, full ? "server full" : "too many connections from this address");
      return;
    }
    this.clients++;
    this.perAddress.set(remote, fromRemote + 1);
    const clientId = randomUUID().slice(0, 8);
    this.metrics.inc("relay_connections_total", { endpoint });
    this.metrics.inc("relay_connections_active", { endpoint });
    this.log("relay.client-open", { client: clientId, endpoint, remote });
    const onClose = (code: number): void => {
      this.clients--;
      const n = (this.perAddress.get(remote) ?? 1) - 1;
      if (n > 0) this.perAddress.set(remote, n);
      else this.perAddress.delete(remote);
      this.metrics.dec("relay_connections_active", { endpoint });
      this.log("relay.client-close", { client: clientId, endpoint, code });
    };
    // (Two calls: the two 'close' events differ in their reason's type, a string or a Buffer.)
    if (ws instanceof WispSocket) ws.on("close", onClose);
    else ws.on("close", onClose);
    if (ws instanceof WispSocket) {
      // The client's lookups are cancelled when it goes: names it left unresolved hold nothing of ours.
      const lookup = this.newLookup(remote);
      ws.on("close", () => lookup.close());
      const session = new WispSession(ws, {
        policy: this.config.policy,
        lookup: lookup.lookup,
        limits: this.config.wisp,
        sockets: this.sockets,
        metrics: this.metrics,
        log: this.log,
        clientId,
      });
      this.wispSessions.add(session);
      ws.on("close", () => this.wispSessions.delete(session));
    } else if (r.kind === "l2") this.acceptL2(ws, r.network, clientId);
  }

  private acceptL2(ws: WebSocket, network: string, clientId: string): void {
    const { bytesPerSecond, maxTotalBytes, idleTimeoutMs } = this.config.wisp;
    const limits = { bytesPerSecond, maxTotalBytes, idleTimeoutMs };
    if (!acceptL2Client(ws, this.switch, network, clientId, limits, this.metrics, this.log)) return;
    this.l2Clients.add(ws);
    ws.on("close", () => this.l2Clients.delete(ws));
  }
}
