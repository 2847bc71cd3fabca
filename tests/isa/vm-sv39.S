# Sv39 virtual memory: 4 KiB / 2 MiB / 1 GiB pages, the upper half, canonical-address and misaligned
# superpage faults, A/D bits set by the hart, R/W/X/U permissions with MXR and SUM, fetch/load/store
# page faults with the right stval, a walk leaving RAM (access fault), sfence.vma, MPRV, delegation
# of page faults to S, and misaligned accesses across differently mapped pages. See vm-common.inc.
# march: rv64g
.equ SV48, 0
.include "vm-common.inc"
