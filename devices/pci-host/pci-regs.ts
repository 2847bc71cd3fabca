// PCI configuration-space constants, spelled as in Linux's include/uapi/linux/pci_regs.h (PCI Local
// Bus 3.0 §6.1 "Configuration Space Organization"; type-0 header). Only what the models here use.

/** Conventional config space; ECAM gives each function 4 KiB, the rest reads 0 (no extended caps). */
export const PCI_CFG_SPACE_SIZE = 256;
export const PCI_CFG_SPACE_EXP_SIZE = 4096;
/** Capabilities live after the 64-byte standard header. */
export const PCI_STD_HEADER_SIZEOF = 64;

export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_PARITY = 0x40;
export const PCI_COMMAND_SERR = 0x100;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS = 0x06;
export const PCI_STATUS_INTERRUPT = 0x08;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_MFD = 0x80;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_BASE_ADDRESS_5 = 0x24;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;

export const PCI_CAP_LIST_ID = 0;
export const PCI_CAP_LIST_NEXT = 1;
/** Vendor-specific capability (what virtio uses). */
export const PCI_CAP_ID_VNDR = 0x09;

/** Six BAR slots in a type-0 header. */
export const PCI_NUM_BARS = 6;

/** Interrupt pin register values. */
export const PCI_INTERRUPT_INTA = 1;
export const PCI_INTERRUPT_INTD = 4;

/** IDs QEMU gives its generic PCIe host (hw/pci-host/gpex.c, include/hw/pci/pci_ids.h). */
export const PCI_VENDOR_ID_REDHAT = 0x1b36;
export const PCI_DEVICE_ID_REDHAT_PCIE_HOST = 0x0008;
export const PCI_CLASS_BRIDGE_HOST = 0x060000;
/** QEMU's default subsystem ids for devices that set none (hw/pci/pci.c). */
export const PCI_SUBVENDOR_ID_REDHAT_QUMRANET = 0x1af4;
export const PCI_SUBDEVICE_ID_QEMU = 0x1100;

/** ECAM: bus << 20 | device << 15 | function << 12 | register (PCIe base spec §7.2.2). */
export const PCIE_ECAM_BUS_SHIFT = 20;
export const PCIE_ECAM_DEVFN_SHIFT = 12;
export const PCI_SLOTS_PER_BUS = 32;
export const PCI_FUNCTIONS_PER_SLOT = 8;
