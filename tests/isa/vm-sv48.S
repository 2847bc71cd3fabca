# Sv48 virtual memory: the Sv39 checks of vm-common.inc under a fourth level, plus 512 GiB pages,
# a misaligned 512 GiB page, and the Sv48 canonical-address rule (bit 47, not bit 38).
# march: rv64g
.equ SV48, 1
.include "vm-common.inc"
