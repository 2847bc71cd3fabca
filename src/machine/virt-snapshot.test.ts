import { describe, expect, it } from "vitest";
import { checkSameMachine, type SavedMachine } from "./virt-snapshot.ts";

const machine = (features: bigint): SavedMachine => ({
  board: "virt",
  memMiB: 256,
  devices: [{ name: "virtio-console0", deviceId: 3, transport: "mmio", features: features.toString(), disk: null }],
  host: null,
});

describe("checkSameMachine: offered feature bits", () => {
  it("restores into a device that offers more than the saved one (the guest negotiated a subset of the saved offer)", () => {
    // A snapshot from before the console offered VIRTIO_CONSOLE_F_SIZE (bit 0).
    expect(() => checkSameMachine(machine(0x130000006n), machine(0x130000007n))).not.toThrow();
    expect(() => checkSameMachine(machine(0x130000007n), machine(0x130000007n))).not.toThrow();
  });

  it("refuses a device that no longer offers a bit the saved one did, naming the bits", () => {
    expect(() => checkSameMachine(machine(0x130000007n), machine(0x130000006n))).toThrow(
      /virtio-console0: the saved device offered feature bits this one does not \(0x1;/,
    );
  });
});
