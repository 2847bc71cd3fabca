import { describe, expect, it } from "vitest";
import { GuestMemory } from "../../src/core/guest-memory.ts";
import { LevelIrq } from "../../src/core/irq.ts";
import { MmioDriver } from "../../src/testing/virtio-driver.ts";
import { featureMask, VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_SIZE } from "../virtio/features.ts";
import {
  VIRTIO_MMIO_CONFIG,
  VIRTIO_MMIO_CONFIG_GENERATION,
  VIRTIO_MMIO_INTERRUPT_STATUS,
  VirtioMmioTransport,
} from "../virtio/mmio-transport.ts";
import { VIRTIO_INT_CONFIG } from "../virtio/transport-core.ts";
import {
  VIRTIO_CONSOLE_CONSOLE_PORT,
  VIRTIO_CONSOLE_DEVICE_ADD,
  VIRTIO_CONSOLE_DEVICE_READY,
  VIRTIO_CONSOLE_PORT_OPEN,
  VIRTIO_CONSOLE_PORT_READY,
  VIRTIO_CONSOLE_RESIZE,
  VirtioConsole,
  type VirtioConsoleOptions,
} from "./virtio-console.ts";

function setup(opts: VirtioConsoleOptions = {}) {
  const out: number[] = [];
  const con = new VirtioConsole({ output: (b) => out.push(...b), ...opts });
  const mem = new GuestMemory(0x80000000, 4 << 20);
  const t = new VirtioMmioTransport(con, mem, new LevelIrq());
  const drv = new MmioDriver(t, mem);
  return { con, drv, out, t };
}

const text = (s: string) => new TextEncoder().encode(s);
/** A driver that leaves MULTIPORT out: one port, input as soon as receive buffers exist. */
const single = (offered: bigint) => offered & ~featureMask(VIRTIO_CONSOLE_F_MULTIPORT);

/** struct virtio_console_control: id le32, event le16, value le16. */
function control(id: number, event: number, value: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, id, true);
  v.setUint16(4, event, true);
  v.setUint16(6, value, true);
  return b;
}

/** Control messages the device wrote into control receiveq buffers since the last call. */
function takeControl(drv: MmioDriver): number[][] {
  const q = drv.queues[2];
  return q.takeUsed().map((u) => {
    const b = q.written(u.chain!, 0).subarray(0, u.len);
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    const msg = [v.getUint32(0, true), v.getUint16(4, true), v.getUint16(6, true)];
    for (let o = 8; o + 2 <= b.length; o += 2) msg.push(v.getUint16(o, true));
    return msg;
  });
}

/** The driver sends one control message on the control transmitq and the device completes it. */
function sendControl(drv: MmioDriver, id: number, event: number, value: number): void {
  drv.queues[3].add([{ read: control(id, event, value) }]);
  drv.kick(3);
  expect(drv.queues[3].takeUsed().map((u) => u.len)).toEqual([0]);
}

describe("virtio-console", () => {
  it("sends transmitq buffers to the output callback and completes them at once", () => {
    const { drv, out } = setup();
    drv.init(single, [8, 8]);
    drv.queues[1].add([{ read: text("hel") }, { read: text("lo") }]);
    drv.kick(1);
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe("hello");
    expect(drv.queues[1].takeUsed().map((u) => u.len)).toEqual([0]);
  });

  it("keeps host input until receive buffers exist, splits it across buffers, never drops a byte", () => {
    const { con, drv } = setup();
    con.pushInput(text("typed before the driver was up; "));
    drv.init(single, [8, 8]);
    con.pushInput(text("and after."));
    expect(con.pendingInput).toBe(42);
    const rx = drv.queues[0];
    const bufs = [rx.add([{ write: 16 }]), rx.add([{ write: 16 }])];
    drv.kick(0);
    const used = rx.takeUsed();
    expect(used.map((u) => u.len)).toEqual([16, 16]);
    expect(con.pendingInput).toBe(10);
    const got = bufs.map((c) => new TextDecoder().decode(rx.written(c, 0)));
    const third = rx.add([{ write: 64 }]);
    drv.kick(0);
    expect(rx.takeUsed().map((u) => u.len)).toEqual([10]);
    got.push(new TextDecoder().decode(rx.written(third, 0).subarray(0, 10)));
    expect(got.join("")).toBe("typed before the driver was up; and after.");
  });

  it("host input survives a driver reset", () => {
    const { con, drv } = setup();
    drv.init(single, [8, 8]);
    con.pushInput(text("abc"));
    drv.w(0x070, 0);
    expect(con.pendingInput).toBe(3);
    drv.init(single, [8, 8]);
    drv.queues[0].add([{ write: 8 }]);
    drv.kick(0);
    expect(drv.queues[0].takeUsed().map((u) => u.len)).toEqual([3]);
  });

  it("offers F_SIZE with cols/rows in config and signals a resize", () => {
    const { con, drv, t } = setup({ size: { cols: 80, rows: 24 } });
    expect(con.features & featureMask(VIRTIO_CONSOLE_F_SIZE)).not.toBe(0n);
    expect(t.read(VIRTIO_MMIO_CONFIG, 2)).toBe(80);
    expect(t.read(VIRTIO_MMIO_CONFIG + 2, 2)).toBe(24);
    expect(t.read(VIRTIO_MMIO_CONFIG + 4, 4)).toBe(1);
    drv.init(single, [8, 8]);
    drv.ackInterrupt();
    con.setSize(132, 43);
    expect(t.read(VIRTIO_MMIO_CONFIG, 2)).toBe(132);
    expect(drv.r(VIRTIO_MMIO_INTERRUPT_STATUS)).toBe(VIRTIO_INT_CONFIG);
  });

  it("offers MULTIPORT and holds host input until the driver says PORT_OPEN (Linux posts port 0's receive buffers before the port exists, and drops what lands there)", () => {
    const { con, drv } = setup();
    expect(con.features & featureMask(VIRTIO_CONSOLE_F_MULTIPORT)).not.toBe(0n);
    con.pushInput(text("typed at boot\n"));
    // Linux's virtcons_probe with MULTIPORT: DRIVER_OK, fill the control receiveq, DEVICE_READY.
    drv.init(con.features, [8, 8, 8, 8]);
    for (let i = 0; i < 4; i++) drv.queues[2].add([{ write: 64 }]);
    drv.kick(2);
    expect(takeControl(drv)).toEqual([]);
    sendControl(drv, 0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1);
    expect(takeControl(drv)).toEqual([[0, VIRTIO_CONSOLE_DEVICE_ADD, 0]]);
    // add_port(): receive buffers first (and a kick) — the input must not go out yet.
    const rx = drv.queues[0];
    rx.add([{ write: 64 }]);
    drv.kick(0);
    expect(rx.takeUsed()).toEqual([]);
    expect(con.pendingInput).toBe(14);
    sendControl(drv, 0, VIRTIO_CONSOLE_PORT_READY, 1);
    expect(takeControl(drv)).toEqual([
      [0, VIRTIO_CONSOLE_CONSOLE_PORT, 1],
      [0, VIRTIO_CONSOLE_PORT_OPEN, 1],
    ]);
    expect(rx.takeUsed()).toEqual([]);
    // init_port_console(): hvc0 exists, guest_connected, PORT_OPEN — now the input is delivered.
    sendControl(drv, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    const used = rx.takeUsed();
    expect(used.map((u) => u.len)).toEqual([14]);
    expect(new TextDecoder().decode(rx.written(used[0].chain!, 0).subarray(0, 14))).toBe("typed at boot\n");
    expect(con.pendingInput).toBe(0);
    // Output on port 0's transmitq works as without MULTIPORT.
    drv.queues[1].add([{ read: text("out") }]);
    drv.kick(1);
    expect(drv.queues[1].takeUsed().map((u) => u.len)).toEqual([0]);
  });

  it("with MULTIPORT: ignores other port ids, sends the size in a RESIZE message, and starts over after a reset", () => {
    const { con, drv } = setup({ size: { cols: 80, rows: 24 } });
    drv.init(con.features, [8, 8, 8, 8]);
    for (let i = 0; i < 8; i++) drv.queues[2].add([{ write: 64 }]);
    drv.kick(2);
    sendControl(drv, 0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1);
    sendControl(drv, 5, VIRTIO_CONSOLE_PORT_READY, 1);
    sendControl(drv, 0, VIRTIO_CONSOLE_PORT_READY, 1);
    expect(takeControl(drv)).toEqual([
      [0, VIRTIO_CONSOLE_DEVICE_ADD, 0],
      [0, VIRTIO_CONSOLE_CONSOLE_PORT, 1],
      [0, VIRTIO_CONSOLE_RESIZE, 0, 80, 24],
      [0, VIRTIO_CONSOLE_PORT_OPEN, 1],
    ]);
    sendControl(drv, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    con.setSize(132, 43);
    expect(takeControl(drv)).toEqual([[0, VIRTIO_CONSOLE_RESIZE, 0, 132, 43]]);
    // A reset forgets the handshake: input waits for the next PORT_OPEN.
    drv.w(0x070, 0);
    con.pushInput(text("x"));
    drv.init(con.features, [8, 8, 8, 8]);
    drv.queues[0].add([{ write: 8 }]);
    drv.kick(0);
    expect(drv.queues[0].takeUsed()).toEqual([]);
    expect(con.pendingInput).toBe(1);
  });

  it("with MULTIPORT and F_SIZE: a resize between PORT_READY and the driver's PORT_OPEN still reaches the driver, one before the port exists rides on the first RESIZE, and config follows every resize", () => {
    const { con, drv, t } = setup({ size: { cols: 80, rows: 24 } });
    drv.init(con.features, [8, 8, 8, 8]);
    for (let i = 0; i < 8; i++) drv.queues[2].add([{ write: 64 }]);
    drv.kick(2);
    sendControl(drv, 0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1);
    expect(takeControl(drv)).toEqual([[0, VIRTIO_CONSOLE_DEVICE_ADD, 0]]);
    // Before the port is announced: no message yet (Linux would drop it), but config and generation change.
    drv.ackInterrupt();
    const gen = t.read(VIRTIO_MMIO_CONFIG_GENERATION, 4);
    con.setSize(100, 30);
    expect(takeControl(drv)).toEqual([]);
    expect(t.read(VIRTIO_MMIO_CONFIG, 2)).toBe(100);
    expect(t.read(VIRTIO_MMIO_CONFIG + 2, 2)).toBe(30);
    expect(t.read(VIRTIO_MMIO_CONFIG_GENERATION, 4)).not.toBe(gen);
    expect(drv.r(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG).toBe(VIRTIO_INT_CONFIG);
    sendControl(drv, 0, VIRTIO_CONSOLE_PORT_READY, 1);
    expect(takeControl(drv)).toEqual([
      [0, VIRTIO_CONSOLE_CONSOLE_PORT, 1],
      [0, VIRTIO_CONSOLE_RESIZE, 0, 100, 30],
      [0, VIRTIO_CONSOLE_PORT_OPEN, 1],
    ]);
    // Announced, the driver has not said PORT_OPEN yet: the resize goes out now.
    con.setSize(152, 40);
    expect(takeControl(drv)).toEqual([[0, VIRTIO_CONSOLE_RESIZE, 0, 152, 40]]);
  });

  it("with MULTIPORT but without F_SIZE negotiated: no RESIZE message", () => {
    const { con, drv } = setup({ size: { cols: 80, rows: 24 } });
    drv.init(con.features & ~featureMask(VIRTIO_CONSOLE_F_SIZE), [8, 8, 8, 8]);
    for (let i = 0; i < 8; i++) drv.queues[2].add([{ write: 64 }]);
    drv.kick(2);
    sendControl(drv, 0xffffffff, VIRTIO_CONSOLE_DEVICE_READY, 1);
    sendControl(drv, 0, VIRTIO_CONSOLE_PORT_READY, 1);
    sendControl(drv, 0, VIRTIO_CONSOLE_PORT_OPEN, 1);
    expect(takeControl(drv).map((m) => m[1])).not.toContain(VIRTIO_CONSOLE_RESIZE);
    con.setSize(132, 43);
    expect(takeControl(drv)).toEqual([]);
  });

  it("writes an emerg_wr character straight out", () => {
    const { t, out } = setup();
    t.write(VIRTIO_MMIO_CONFIG + 8, 4, 0x21);
    expect(out).toEqual([0x21]);
  });
});
