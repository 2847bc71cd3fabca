import { describe, expect, it } from "vitest";
import { createNetBackend } from "./backend-select.ts";
import { GATEWAY_ADDR } from "./stack/config.ts";
import { GuestWorld } from "./stack/guest-harness.ts";
import { StackBackend } from "./stack-backend.ts";
import { MemoryUplink } from "./uplink/memory-uplink.ts";

describe("createNetBackend", () => {
  it("stack: the host's onActivity hears about frames queued for the guest (a sleeping run loop must wake)", () => {
    let woken = 0;
    const b = createNetBackend("stack", { uplink: new MemoryUplink(), onActivity: () => woken++ });
    expect(b).toBeInstanceOf(StackBackend);
    b!.onReceive(() => true);
    b!.transmit(new GuestWorld().arpRequest(GATEWAY_ADDR));
    expect(woken).toBeGreaterThan(0);
    b!.close?.();
  });

  it("none gives no backend; stack without an uplink is an error", () => {
    expect(createNetBackend("none")).toBeUndefined();
    expect(() => createNetBackend("stack")).toThrow(/uplink/);
  });
});
