// Offload metadata that travels with a frame between the virtio-net device, the offload functions and a
// NetBackend: the virtio_net_hdr's meaning without its byte layout (virtio 1.2 §5.1.6, spec/virtio-net.md
// §5–7). Type numbers are the virtio ones, so conversion to and from a NetHdr is a copy.

export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_TCPV6 = 4;
/** USO: UDP segmentation, every segment a full datagram (virtio GSO_UDP_L4). */
export const GSO_UDP_L4 = 5;

export type GsoType = typeof GSO_NONE | typeof GSO_TCPV4 | typeof GSO_TCPV6 | typeof GSO_UDP_L4;

export interface GsoInfo {
  /** GSO_NONE for a single packet that only carries a partial checksum. */
  type: GsoType;
  /** Payload bytes per segment (the MSS); 0 when type is GSO_NONE. */
  gsoSize: number;
  /** Eth + IP + L4 header bytes (a hint; receivers parse for themselves). */
  hdrLen: number;
  /**
   * The L4 checksum field at csumStart + csumOffset holds only the folded pseudo-header sum
   * (NEEDS_CSUM); always true for a superpacket.
   */
  needsCsum: boolean;
  csumStart: number;
  csumOffset: number;
  /** The superpacket had CWR set (virtio GSO_ECN). */
  ecn?: boolean;
}

/** Largest IP packet a superpacket may carry (IPv4 total length / IPv6 payload length are 16-bit). */
export const GSO_MAX_SIZE = 65535;
/** Segments one superpacket may produce: 64 KiB of 64-byte segments; beyond that it is hostile. */
export const GSO_MAX_SEGS = 1024;
/** Linux's UDP_MAX_SEGMENTS: a USO superpacket never has more. */
export const UDP_MAX_SEGMENTS = 64;

export function isSuperpacket(g: GsoInfo | undefined): boolean {
  return g !== undefined && g.type !== GSO_NONE;
}
