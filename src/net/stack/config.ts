// The virtual network's shape, as QEMU's user-mode networking (slirp) lays it out so guides written for
// it apply: 10.0.2.0/24, gateway 10.0.2.2 (which also stands for the host's loopback), DNS 10.0.2.3,
// the guest at 10.0.2.15.

export const NET_ADDR = 0x0a000200; // 10.0.2.0
export const NET_MASK = 0xffffff00; // /24
export const GATEWAY_ADDR = 0x0a000202; // 10.0.2.2
export const DNS_ADDR = 0x0a000203; // 10.0.2.3
export const GUEST_ADDR = 0x0a00020f; // 10.0.2.15
/** The gateway's MAC, as slirp's: 52:55 then the gateway address. */
export const GATEWAY_MAC = new Uint8Array([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);

export interface StackConfig {
  /** Link MTU offered by DHCP and used for our MSS. */
  mtu: number;
  /** Guest connections to the gateway address go to this host (the uplink's loopback); undefined: refused. */
  gatewayAlias: string | undefined;
  /** Where DNS queries to 10.0.2.3 are forwarded (through the uplink); undefined: use uplink.resolve. */
  dnsUpstream: { host: string; port: number } | undefined;
  /** DHCP lease time in seconds. */
  leaseSeconds: number;
  /** UDP flows with no traffic for this long are closed. */
  udpIdleMs: number;
  /** Most concurrent flows of each kind (the guest cannot exhaust the page). */
  maxTcpFlows: number;
  maxUdpFlows: number;
  /** Per-TCP-flow buffers each way. */
  tcpBuffer: number;
  /** Send superpackets (up to 64 KiB) toward the guest with GSO info. */
  guestTso: boolean;
}

export const STACK_DEFAULTS: StackConfig = {
  mtu: 1500,
  gatewayAlias: "127.0.0.1",
  dnsUpstream: undefined,
  leaseSeconds: 86400,
  udpIdleMs: 60_000,
  maxTcpFlows: 1024,
  maxUdpFlows: 256,
  tcpBuffer: 256 * 1024,
  guestTso: false,
};

export function inSubnet(a: number): boolean {
  return (a & NET_MASK) >>> 0 === NET_ADDR;
}

// IPv6: a ULA prefix for SLAAC, the gateway and DNS at ::2 and ::3 in it (as slirp does in fec0::/64),
// and the gateway's link-local address, the source of its router advertisements (RFC 4861 §4.2).
export const PREFIX6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
export const GATEWAY6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
export const DNS6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
export const GATEWAY6_LL = new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
export const ALL_NODES6 = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

export function sameAddr6(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One of the gateway's own IPv6 addresses (global, DNS, link-local). */
export function isGatewayAddr6(a: Uint8Array): boolean {
  return sameAddr6(a, GATEWAY6) || sameAddr6(a, DNS6) || sameAddr6(a, GATEWAY6_LL);
}
