// The top boundary of the in-page stack (DESIGN.md §3): the gateway terminates every guest flow itself and
// opens the real one through an Uplink — Wisp in the browser, sockets in Node, memory in tests. Nothing
// here knows about Ethernet or TCP segments; an uplink moves bytes (TCP) and datagrams (UDP) only.

/** Why an uplink flow failed or ended abnormally; the stack maps each to an RST or an ICMP error. */
export type UplinkError =
  /** The remote refused the connection (TCP RST / Wisp 0x44). */
  | "refused"
  /** No route, DNS failure (Wisp 0x42): ICMP host unreachable. */
  | "unreachable"
  /** Connect or transfer timed out (Wisp 0x43 / 0x47). */
  | "timeout"
  /** Denied by the uplink's destination policy (Wisp 0x48): ICMP administratively prohibited. */
  | "blocked"
  /** The established flow broke (Wisp 0x03, socket error, uplink lost). */
  | "reset";

export interface UplinkTcpHandlers {
  /** The remote accepted; bytes may flow. */
  onOpen(): void;
  /** Bytes from the remote. The uplink stops delivering after `pause()` until `resume()`. */
  onData(data: Uint8Array): void;
  /** The remote finished sending (TCP FIN / Wisp CLOSE 0x02 after its data). */
  onEnd(): void;
  /** The flow failed or was torn down; no further events follow. */
  onError(reason: UplinkError): void;
  /** `writableBytes()` grew after having been exhausted. */
  onDrain(): void;
}

export interface UplinkTcp {
  /** Queue bytes toward the remote. Callers keep within `writableBytes()` — that is the backpressure. */
  write(data: Uint8Array): void;
  /** How many more bytes the uplink will take without growing its buffers past its limit. */
  writableBytes(): number;
  /** No more bytes from us (half-close; uplinks without half-close may defer it until `close`). */
  end(): void;
  /** Tear the flow down now; no events follow. */
  close(): void;
  /** Stop delivering `onData` (the guest's window is full). */
  pause(): void;
  resume(): void;
}

export interface UplinkUdpHandlers {
  onMessage(data: Uint8Array): void;
  onError(reason: UplinkError): void;
}

export interface UplinkUdp {
  send(data: Uint8Array): void;
  close(): void;
}

/**
 * Where the gateway's flows go. `host` is an IP literal ("93.184.216.34", "::1") or a name; the stack
 * has already rewritten the gateway alias (10.0.2.2 → 127.0.0.1) so the uplink's policy decides about it.
 */
export interface Uplink {
  openTcp(host: string, port: number, handlers: UplinkTcpHandlers): UplinkTcp;
  openUdp(host: string, port: number, handlers: UplinkUdpHandlers): UplinkUdp;
  /** Optional name resolution the uplink provides (used by the DNS server when no upstream is set). */
  resolve?(name: string, family: 4 | 6): Promise<string[]>;
}
