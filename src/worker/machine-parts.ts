// The machine's code for the worker, loaded with a dynamic import (machine-worker.ts): the board, its
// devices, the network stack, disks and the snapshot taker are most of the worker's JavaScript, and the
// worker starts downloading the boot images and compiling the core before this chunk has loaded and run.

export { MemoryShare } from "../../devices/virtio-9p/memory-share.ts";
export { Virtio9p } from "../../devices/virtio-9p/virtio-9p.ts";
export { checkBootImage } from "../machine/image-check.ts";
export { defaultBootargs, VirtMachine } from "../machine/virt.ts";
export { macToString } from "../net/wire/bytes.ts";
export { openDiskSources, openDisks } from "./disks.ts";
export { setupNetwork } from "./network.ts";
export { readRing } from "./ring-view.ts";
export { SnapshotTaker } from "./snapshot.ts";
