import { describe, expect, it } from "vitest";
import { GATEWAY_ADDR } from "./stack/config.ts";
import { GuestWorld } from "./stack/guest-harness.ts";
import { StackBackend } from "./stack-backend.ts";
import { MemoryUplink } from "./uplink/memory-uplink.ts";
import { get16, get32 } from "./wire/bytes.ts";

describe("StackBackend", () => {
  it("passes guest frames to the stack and queues replies until the device takes them", () => {
    const b = new StackBackend({ uplink: new MemoryUplink() });
    const helper = new GuestWorld();
    let accept = false;
    const got: Uint8Array[] = [];
    b.onReceive((f) => {
      if (!accept) return false;
      got.push(f);
      return true;
    });
    expect(b.transmit(helper.arpRequest(GATEWAY_ADDR))).toBe(true);
    expect(b.transmit(helper.icmpEcho(GATEWAY_ADDR, 1, 1, new Uint8Array(4)))).toBe(true);
    expect(b.queued).toBe(2);
    accept = true;
    b.resumeReceive();
    expect(b.queued).toBe(0);
    expect(get16(got[0]!, 12)).toBe(0x0806);
    expect(get32(got[1]!, 26)).toBe(GATEWAY_ADDR);
    b.close();
  });

  it("drives the stack's timers from a host timer (UDP flow expiry)", async () => {
    const up = new MemoryUplink();
    up.listenUdp("1.2.3.4", 7, () => {});
    const b = new StackBackend({ uplink: up, udpIdleMs: 20 });
    const helper = new GuestWorld();
    b.onReceive(() => true);
    b.transmit(helper.udp(0x01020304, 5000, 7, new Uint8Array(1)));
    expect(b.stack.udp.size).toBe(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(b.stack.udp.size).toBe(0);
    b.close();
  });
});
