// The worker's network: the virtio-net device with the backend the page asked for, and the Network
// panel's section of the snapshot. "stack" is the in-page TCP/IP stack with the local relay's Wisp
// endpoint as its uplink; when no relay answers it falls back to the fetch uplink (HTTP only) and
// says so. "fetch" uses the fetch uplink directly. "relay" puts the guest's frames on the relay's L2
// switch (/l2/default beside the Wisp URL, or the /l2/<network> URL given as relay=). "tab" is an
// Ethernet segment between the tabs of this origin over a BroadcastChannel (vireo-l2-<tabnet>): no
// gateway and no DHCP there, so guests take static addresses; each tab gets a random MAC unless mac=.

import { parseNetFeatures } from "../../devices/virtio-net/net-features.ts";
import { VirtioNet } from "../../devices/virtio-net/virtio-net.ts";
import { PcapWriter } from "../net/link/pcap.ts";
import { RelayBackend, relayL2Url } from "../net/relay-backend.ts";
import { StackBackend } from "../net/stack-backend.ts";
import { randomTabMac, TabBackend } from "../net/tab-backend.ts";
import { FetchUplink } from "../net/uplink/fetch-uplink.ts";
import type { Uplink } from "../net/uplink/uplink.ts";
import { WispUplink } from "../net/uplink/wisp-uplink.ts";
import { ip4ToString, macToString, parseMac } from "../net/wire/bytes.ts";
import { GuestAddress } from "./guest-address.ts";
import type { MachineConfig, NetworkSnapshot } from "./protocol.ts";

/** How long the page waits for the relay before falling back to fetch. */
const RELAY_PROBE_MS = 1500;

export interface NetSetup {
  /** null: no network device at all (net=none). */
  device: VirtioNet | null;
  /** Warnings for the page (bad offload list, relay fallback). */
  warnings: string[];
  snapshot(): NetworkSnapshot | undefined;
  /** Starts a pcapng capture of both directions at the device↔backend boundary. */
  startCapture(): void;
  /** Ends the capture and hands back the file (undefined when none ran). */
  stopCapture(): Uint8Array | undefined;
  dispose(): void;
}

/** Caps a capture held in the worker's memory; past it, frames are counted but not kept. */
const CAPTURE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Whether a WebSocket server answers at `url` within `ms`. */
function probe(url: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      resolve(false);
      return;
    }
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      ws.onopen = ws.onerror = ws.onclose = null;
      ws.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    ws.onopen = () => done(true);
    ws.onerror = () => done(false);
    ws.onclose = () => done(false);
  });
}

/** A restored machine's NIC: exactly the saved offer and MAC, whatever the page's offload settings say. */
export interface SavedNic {
  name: string;
  features: bigint;
  mac: string | undefined;
}

export async function setupNetwork(config: MachineConfig, wake: () => void, saved?: SavedNic): Promise<NetSetup> {
  if (config.net === "none" && saved !== undefined) {
    // The saved machine has a NIC the guest's driver knows: keep it, with nothing behind it (link down).
    const device = new VirtioNet({ name: saved.name, features: saved.features, mac: parseMac(saved.mac ?? "") });
    return {
      device,
      warnings: [],
      snapshot: () => ({
        backend: "none",
        uplink: undefined,
        note: "no backend: the restored network card stays unplugged",
        linkUp: device.linkUp,
        mac: macToString(device.mac),
        guestIp: undefined,
        capturing: false,
        counters: {},
      }),
      startCapture: () => {},
      stopCapture: () => undefined,
      dispose: () => {},
    };
  }
  if (config.net === "none") {
    return {
      device: null,
      warnings: [],
      snapshot: () => undefined,
      startCapture: () => {},
      stopCapture: () => undefined,
      dispose: () => {},
    };
  }
  const warnings: string[] = [];
  let features: bigint | undefined = saved?.features;
  if (saved === undefined && config.offloads !== undefined && config.offloads !== "") {
    const r = parseNetFeatures(config.offloads);
    if (r.ok) {
      features = r.features;
      if (r.withdrawn.length > 0) warnings.push(`also switched off (they depend on it): ${r.withdrawn.join(", ")}`);
    } else warnings.push(`offloads ignored: ${r.error}`);
  }
  const macText = saved !== undefined ? saved.mac : config.mac;
  let mac = macText !== undefined ? parseMac(macText) : undefined;
  if (macText !== undefined && mac === undefined) warnings.push(`mac=${macText} ignored: not a MAC address`);
  // Every VM's default MAC is the same, which is fine alone behind the stack but not on a shared segment.
  if (config.net === "tab" && mac === undefined) mac = randomTabMac();

  let uplink: Uplink | undefined;
  /** Times the Wisp uplink's connection dropped, and when it was last up (for the note). */
  const wisp = { drops: 0, wasUp: false };
  let uplinkLabel: string | undefined;
  let note: string | undefined;
  let relay: RelayBackend | undefined;
  let l2Url: string | undefined;
  let tab: TabBackend | undefined;
  if (config.net === "stack") {
    if (await probe(config.relayUrl, RELAY_PROBE_MS)) {
      const w = new WispUplink({ url: config.relayUrl });
      w.onState = (state) => {
        if (state === "ready") wisp.wasUp = true;
        else if (state === "down" && wisp.wasUp) wisp.drops++;
      };
      uplink = w;
      uplinkLabel = `wisp ${config.relayUrl}`;
    } else {
      uplink = new FetchUplink();
      uplinkLabel = "fetch (HTTP on port 80 only; sites must allow CORS)";
      note = `no relay answered at ${config.relayUrl} (start it with \`npm start\` or \`npm run relay\`): using the fetch uplink, which carries only HTTP on port 80, and only to sites that allow cross-origin requests (CORS)`;
      warnings.push(note);
    }
  } else if (config.net === "fetch") {
    uplink = new FetchUplink();
    uplinkLabel = "fetch (HTTP on port 80 only; sites must allow CORS)";
  } else if (config.net === "relay") {
    l2Url = relayL2Url(config.relayUrl);
    if (l2Url !== undefined) {
      const url = l2Url;
      relay = new RelayBackend({ connect: () => new WebSocket(url), onActivity: wake });
      uplinkLabel = `L2 ${url}`;
    } else warnings.push(`relay=${config.relayUrl} is not a ws:// or wss:// URL: the NIC's link stays down`);
  } else if (config.net === "tab") {
    const network = config.tabNetwork ?? "default";
    // The driver may change the MAC, so the filter asks the device each time (frames arrive only
    // asynchronously, after `device` below exists).
    tab = new TabBackend({ network, mac: () => device.mac, onActivity: wake });
    uplinkLabel = `tab network "${network}" (BroadcastChannel ${tab.channelName})`;
    note = "no gateway or DHCP on a tab network: give the guest a static address (ip addr add 10.0.3.N/24 dev eth0)";
  }
  const backend = uplink !== undefined ? new StackBackend({ uplink, onActivity: wake }) : undefined;
  const device = new VirtioNet({ name: saved?.name ?? "virtio-net0", backend: backend ?? relay ?? tab, features, mac });
  let capture: { chunks: Uint8Array[]; bytes: number; frames: number } | undefined;
  // The guest's address as its frames show it: the in-page stack's lease says it only for net=stack/fetch.
  const address = new GuestAddress(() => device.mac);
  device.tap = address.tap;

  /** The relay's connection as the page shows it (status row and Network panel). */
  const relayLink = (): NetworkSnapshot["relay"] => {
    if (relay !== undefined) {
      if (relay.status === "open") return { state: "up", detail: undefined };
      const why = relay.lastError ?? relay.status;
      if (relay.status === "connecting" && relay.counters.connects === 0 && relay.lastError === undefined) {
        return { state: "connecting", detail: undefined };
      }
      if (relay.counters.connects === 0) {
        return { state: "down", detail: `no relay answers at ${l2Url} (${why}): retrying with backoff` };
      }
      const reset = relay.counters.tcpResets > 0 ? "; the guest's open TCP connections were reset" : "";
      return { state: "down", detail: `the relay at ${l2Url} is gone (${why}): reconnecting with backoff${reset}` };
    }
    if (uplink instanceof WispUplink) {
      const s = uplink.connectionState;
      if (s === "ready") return { state: "up", detail: undefined };
      if (!wisp.wasUp && s === "connecting") return { state: "connecting", detail: undefined };
      return {
        state: "down",
        detail: wisp.wasUp
          ? `the relay at ${config.relayUrl} dropped (${wisp.drops}×): reconnecting with backoff; the guest's open connections were reset, new ones wait for it`
          : `no relay answers at ${config.relayUrl}: retrying with backoff`,
      };
    }
    return undefined;
  };

  return {
    device,
    warnings,
    snapshot: () => {
      const s = device.snapshot();
      const counters: Record<string, number> = {};
      for (const [k, v] of Object.entries(s)) if (typeof v === "number") counters[k] = v;
      if (backend !== undefined) {
        counters["stack:framesIn"] = backend.stack.counters.framesIn;
        counters["stack:framesOut"] = backend.stack.counters.framesOut;
        counters["stack:rxDropped"] = backend.rxDropped;
      }
      if (relay !== undefined) {
        for (const [k, v] of Object.entries(relay.counters.toRecord())) counters[`relay:${k}`] = v;
      }
      if (tab !== undefined) {
        for (const [k, v] of Object.entries(tab.counters.toRecord())) counters[`tab:${k}`] = v;
      }
      if (capture !== undefined) {
        counters["capture:frames"] = capture.frames;
        counters["capture:bytes"] = capture.bytes;
      }
      const macBytes = typeof s.mac === "string" ? parseMac(s.mac) : undefined;
      const lease = macBytes !== undefined ? backend?.stack.dhcp.leaseFor(macBytes) : undefined;
      const link = relayLink();
      return {
        backend: config.net,
        uplink: uplinkLabel,
        // The relay's trouble (refused, unreachable, reconnecting) is live, so it is read each time.
        note: link !== undefined && link.state === "down" ? link.detail : note,
        relay: link,
        linkUp: device.linkUp,
        mac: typeof s.mac === "string" ? s.mac : undefined,
        guestIp:
          lease !== undefined ? ip4ToString(lease) : address.ip !== undefined ? ip4ToString(address.ip) : undefined,
        capturing: capture !== undefined,
        counters,
      };
    },
    startCapture: () => {
      const c = { chunks: [] as Uint8Array[], bytes: 0, frames: 0 };
      capture = c;
      const writer = new PcapWriter((chunk) => {
        if (c.bytes + chunk.length > CAPTURE_LIMIT_BYTES) return;
        c.chunks.push(chunk.slice());
        c.bytes += chunk.length;
      });
      device.tap = (dir, frame, gso) => {
        address.tap(dir, frame);
        c.frames++;
        writer.write(frame, dir, gso);
      };
    },
    stopCapture: () => {
      device.tap = address.tap;
      const c = capture;
      capture = undefined;
      if (c === undefined) return undefined;
      const out = new Uint8Array(c.bytes);
      let off = 0;
      for (const chunk of c.chunks) {
        out.set(chunk, off);
        off += chunk.length;
      }
      return out;
    },
    dispose: () => {
      backend?.close();
      relay?.close();
      tab?.close();
      if (uplink instanceof WispUplink) uplink.close();
    },
  };
}
