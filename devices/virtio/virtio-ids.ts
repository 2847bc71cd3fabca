// Virtio device type IDs, virtio 1.2 §5 "Device Types" (spec/virtio.md §1). The PCI device ID of a
// modern device is 0x1040 + ID (§4.1.2).

export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;
export const VIRTIO_ID_BALLOON = 5;
export const VIRTIO_ID_SCSI = 8;
export const VIRTIO_ID_9P = 9;
export const VIRTIO_ID_GPU = 16;
export const VIRTIO_ID_INPUT = 18;
export const VIRTIO_ID_VSOCK = 19;
export const VIRTIO_ID_FS = 26;

/** Short names for the UI and logs. */
export const VIRTIO_DEVICE_NAMES: Readonly<Record<number, string>> = {
  [VIRTIO_ID_NET]: "net",
  [VIRTIO_ID_BLOCK]: "blk",
  [VIRTIO_ID_CONSOLE]: "console",
  [VIRTIO_ID_RNG]: "rng",
  [VIRTIO_ID_BALLOON]: "balloon",
  [VIRTIO_ID_SCSI]: "scsi",
  [VIRTIO_ID_9P]: "9p",
  [VIRTIO_ID_GPU]: "gpu",
  [VIRTIO_ID_INPUT]: "input",
  [VIRTIO_ID_VSOCK]: "vsock",
  [VIRTIO_ID_FS]: "fs",
};

/** The modern virtio-pci device ID of a virtio device type. */
export function virtioPciDeviceId(deviceId: number): number {
  return 0x1040 + deviceId;
}
