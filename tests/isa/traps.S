# Synchronous exceptions and privilege transitions: illegal instructions (mtval = the instruction
# bits, 16-bit ones included), ecall from M/S/U, ebreak, misaligned LR/SC/AMO, load/store/fetch access
# faults on unmapped addresses, delegation to S through medeleg (and never from M), MRET/SRET mode
# and status-bit transitions, CSR privilege (U/S touching higher CSRs, counter enables, TVM, TSR, TW).
# (Misaligned fetch cannot happen on an RV64GC hart: jalr/mepc/sepc clear bit 0 and IALIGN = 16.)
# march: rv64g
.include "test-macros.inc"

.equ RAM_END, 0x81000000        # 16 MiB of RAM in the test runner (and `-m 16M` under QEMU)

# A misaligned AMO raises store/AMO address-misaligned or store/AMO access fault. QEMU 7.2 reports a
# *load* misaligned (cause 4) instead; its cross-check accepts that.
# Likewise an AMO to an unmapped address: QEMU 7.2 reports a load access fault (5), not 7.
.ifdef QEMU_SPIKE
.equ AMO_MISALIGNED_ALT, CAUSE_MISALIGNED_LOAD
.equ AMO_ACCESS_ALT, CAUSE_LOAD_ACCESS
.else
.equ AMO_MISALIGNED_ALT, CAUSE_STORE_ACCESS
.equ AMO_ACCESS_ALT, CAUSE_STORE_ACCESS
.endif

TEST_CODE_BEGIN

  # ---- illegal instructions: mtval holds the instruction bits ----
  TEST_TRAP 1, CAUSE_ILLEGAL, 0xfe000033, .word 0xfe000033     # OP with funct7 = 0x7f
  TEST_TRAP 2, CAUSE_ILLEGAL, 0x0200129b, .word 0x0200129b     # slliw with shamt[5] = 1
  TEST_TRAP 3, CAUSE_ILLEGAL, 0x04001293, .word 0x04001293     # slli with shamt >= 64
  TEST_TRAP 4, CAUSE_ILLEGAL, 0x000000f3, .word 0x000000f3     # ecall with rd != 0
  TEST_TRAP 5, CAUSE_ILLEGAL, 0x0000707b, .word 0x0000707b     # custom-3 opcode
  TEST_TRAP 6, CAUSE_ILLEGAL, 0x400012bb, .word 0x400012bb     # OP-32 funct7 = 0x20 funct3 = 1
  TEST_TRAP 7, CAUSE_ILLEGAL, 0, .half 0x0000                  # the all-zero parcel
  TEST_TRAP 8, CAUSE_ILLEGAL, 0x0004, .half 0x0004             # c.addi4spn with nzuimm = 0
  TEST_TRAP 9, CAUSE_ILLEGAL, 0x6081, .half 0x6081             # c.lui with imm = 0
  TEST_TRAP 10, CAUSE_ILLEGAL, 0x6002, .half 0x6002            # c.ldsp with rd = 0
  TEST_TRAP 11, CAUSE_ILLEGAL, 0x8002, .half 0x8002            # c.jr with rs1 = 0
  TEST_TRAP 12, CAUSE_ILLEGAL, 0x00051007, .word 0x00051007    # FP load of width 16 (no Zfh)

  # ---- ecall / ebreak from M ----
  TEST_TRAP 20, CAUSE_ECALL_M, 0, ecall
  TEST_TRAP_TVAL_PC 21, CAUSE_BREAKPOINT, ebreak

  # ---- misaligned LR/SC/AMO always trap (misaligned or access fault), mtval = the address ----
  la a0, abuf
  addi a1, a0, 2
  TEST_TRAP_A1 30, CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS, lr.w t0, (a1)
  addi a1, a0, 4
  TEST_TRAP_A1 31, CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS, lr.d t0, (a1)
  # A misaligned SC traps even though it would fail (QEMU 7.2 fails it silently: skipped there).
.ifndef QEMU_SPIKE
  addi a1, a0, 1
  TEST_TRAP_A1 32, CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS, sc.w t0, t1, (a1)
  addi a1, a0, 4
  TEST_TRAP_A1 33, CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS, sc.d t0, t1, (a1)
.endif
  addi a1, a0, 2
  TEST_TRAP_A1 34, CAUSE_MISALIGNED_STORE, AMO_MISALIGNED_ALT, amoadd.w t0, t1, (a1)
  addi a1, a0, 4
  TEST_TRAP_A1 35, CAUSE_MISALIGNED_STORE, AMO_MISALIGNED_ALT, amoswap.d t0, t1, (a1)
  addi a1, a0, 1
  TEST_TRAP_A1 36, CAUSE_MISALIGNED_STORE, AMO_MISALIGNED_ALT, amomaxu.d t0, t1, (a1)
  TESTNUM 37
  # Nothing was written by the faulting AMOs.
  ld t0, 0(a0)
  CHECK t0, 0x1122334455667788
  ld t0, 8(a0)
  CHECK t0, 0x99aabbccddeeff00

  # ---- access faults: nothing at UNMAPPED, nothing past the end of RAM ----
  li a1, UNMAPPED
  TEST_TRAP_A1 40, CAUSE_LOAD_ACCESS, CAUSE_LOAD_ACCESS, lw t0, 0(a1)
  TEST_TRAP_A1 41, CAUSE_LOAD_ACCESS, CAUSE_LOAD_ACCESS, lbu t0, 0(a1)
  TEST_TRAP_A1 42, CAUSE_STORE_ACCESS, CAUSE_STORE_ACCESS, sd t0, 0(a1)
  TEST_TRAP_A1 43, CAUSE_STORE_ACCESS, CAUSE_STORE_ACCESS, sb t0, 0(a1)
  TEST_TRAP_A1 44, CAUSE_STORE_ACCESS, AMO_ACCESS_ALT, amoadd.w t0, t1, (a1)
  TEST_TRAP_A1 45, CAUSE_LOAD_ACCESS, CAUSE_LOAD_ACCESS, lr.d t0, (a1)
  TESTNUM 46
  # An SC to an unmapped address either faults like a store or just fails (both are allowed; the
  # hart faults, QEMU 7.2 fails it).
  ARM_TRAP 1f
  sc.d t0, t1, (a1)
  li s10, 0
  beqz t0, fail
  j 2f
1:
  CHECK s2, CAUSE_STORE_ACCESS
  bne s3, a1, fail
2:
  TEST_TRAP_A1 47, CAUSE_LOAD_ACCESS, CAUSE_LOAD_ACCESS, fld ft0, 0(a1)
  li a1, RAM_END
  TEST_TRAP_A1 48, CAUSE_LOAD_ACCESS, CAUSE_LOAD_ACCESS, ld t0, 0(a1)
  li a1, RAM_END - 4
  TEST_TRAP 49, CAUSE_LOAD_ACCESS, RAM_END, ld t0, 4(a1)     # mtval = base + offset
  TESTNUM 50
  # Fetch from an unmapped address: mepc = mtval = the target.
  li a1, UNMAPPED
  ARM_TRAP 1f
  jalr t0, 0(a1)
  j fail
1:
  CHECK s2, CAUSE_FETCH_ACCESS
  CHECK s3, UNMAPPED
  CHECK s4, UNMAPPED
  # A 32-bit instruction whose second half lies past the end of RAM: access fault, mepc = its start.
  # (QEMU 7.2 aborts on an assertion here: not in its cross-check.)
.ifndef QEMU_SPIKE
  TESTNUM 51
  li a1, RAM_END - 2
  li t0, 0x0013                  # low half of addi x0, x0, 0
  sh t0, 0(a1)
  fence.i
  ARM_TRAP 1f
  jalr t0, 0(a1)
  j fail
1:
  CHECK s2, CAUSE_FETCH_ACCESS
  CHECK s4, RAM_END - 2
  li t0, RAM_END - 2
  beq s3, t0, 2f
  CHECK s3, RAM_END
2:
.endif

  # ---- ecall from S and U ----
  la t0, strap_vector
  csrw stvec, t0
  TESTNUM 60
  ENTER_MODE 1
  ARM_TRAP 1f
2:
  ecall
  j fail
1:
  CHECK s2, CAUSE_ECALL_S
  la t0, 2b
  bne s4, t0, fail
  CHECK s3, 0
  # MPP recorded S.
  srli t0, s5, 11
  andi t0, t0, 3
  CHECK t0, 1
  TESTNUM 61
  ENTER_MODE 0
  ARM_TRAP 1f
2:
  ecall
  j fail
1:
  CHECK s2, CAUSE_ECALL_U
  la t0, 2b
  bne s4, t0, fail
  srli t0, s5, 11
  andi t0, t0, 3
  CHECK t0, 0

  # ---- delegation to S ----
  TESTNUM 70
  # Illegal instruction delegated: S sees cause, the instruction bits and sepc; SPP = S, SPIE = old SIE.
  li t0, 1 << CAUSE_ILLEGAL
  csrw medeleg, t0
  li s7, -1
  ENTER_MODE 1
  ARM_TRAP 1f
2:
  .word 0xfe000033
  j fail
1:
  CHECK s2, CAUSE_ECALL_S      # S's handler reported up with ecall
  CHECK s7, CAUSE_ILLEGAL
  CHECK s8, 0xfe000033
  la t0, 2b
  bne s9, t0, fail
  andi t0, s5, MSTATUS_SPP
  beqz t0, fail
  TESTNUM 71
  # The same trap taken in M stays in M (traps never go to a less privileged mode).
  li s7, -1
  TEST_TRAP 72, CAUSE_ILLEGAL, 0xfe000033, .word 0xfe000033
  CHECK s7, -1
  TESTNUM 73
  # U ecall delegated: SPP = U.
  li t0, (1 << CAUSE_ECALL_U) | (1 << CAUSE_BREAKPOINT)
  csrw medeleg, t0
  ENTER_MODE 0
  ARM_TRAP 1f
2:
  ecall
  j fail
1:
  CHECK s2, CAUSE_ECALL_S
  CHECK s7, CAUSE_ECALL_U
  la t0, 2b
  bne s9, t0, fail
  andi t0, s5, MSTATUS_SPP
  bnez t0, fail
  TESTNUM 74
  # ebreak from S delegated: stval = pc (or 0, which is also allowed).
  ENTER_MODE 1
  ARM_TRAP 1f
2:
  ebreak
  j fail
1:
  CHECK s7, CAUSE_BREAKPOINT
  la t0, 2b
  bne s9, t0, fail
  beqz s8, 3f
  bne s8, t0, fail
3:
  TESTNUM 75
  # SIE is cleared on entry to S and its old value kept in SPIE.
  li t0, MSTATUS_SIE
  csrs mstatus, t0
  ENTER_MODE 1
  ARM_TRAP 1f
  ebreak
  j fail
1:
  andi t0, s5, MSTATUS_SIE
  bnez t0, fail
  andi t0, s5, MSTATUS_SPIE
  beqz t0, fail
  li t0, MSTATUS_SIE | MSTATUS_SPIE
  csrc mstatus, t0
  csrw medeleg, zero

  # ---- MRET / SRET ----
  TESTNUM 80
  # MRET: MIE <- MPIE, MPIE <- 1, MPP <- U (here MPP = M so we stay in M).
  li t0, MSTATUS_MIE
  csrc mstatus, t0
  li t0, MSTATUS_MPIE | MSTATUS_MPP
  csrs mstatus, t0
  la t0, 1f
  csrw mepc, t0
  mret
  j fail
1:
  csrr t0, mstatus
  li t1, MSTATUS_MIE
  csrc mstatus, t1
  andi t1, t0, MSTATUS_MIE
  beqz t1, fail
  andi t1, t0, MSTATUS_MPIE
  beqz t1, fail
  li t1, MSTATUS_MPP
  and t1, t0, t1
  bnez t1, fail
  # MRET to S clears MPRV (priv 1.12; QEMU 7.2 predates that: skipped there).
.ifndef QEMU_SPIKE
  TESTNUM 81
  li t0, MSTATUS_MPRV
  csrs mstatus, t0
  ENTER_MODE 1
  BACK_TO_M
  csrr t0, mstatus
  li t1, MSTATUS_MPRV
  and t0, t0, t1
  bnez t0, fail
.endif
  TESTNUM 82
  # SRET from M: mode <- SPP (S), SIE <- SPIE, SPIE <- 1, SPP <- U.
  li t0, MSTATUS_SPP | MSTATUS_SPIE
  csrs mstatus, t0
  li t0, MSTATUS_SIE
  csrc mstatus, t0
  la t0, 1f
  csrw sepc, t0
  sret
  j fail
1:
  csrr t0, sstatus             # legal: we are in S now
  andi t1, t0, MSTATUS_SIE
  beqz t1, fail
  andi t1, t0, MSTATUS_SPIE
  beqz t1, fail
  andi t1, t0, MSTATUS_SPP
  bnez t1, fail
  li t1, MSTATUS_SIE
  csrc sstatus, t1
  # Prove the mode: an M CSR is illegal here, and the trap records MPP = S.
  TEST_TRAP 83, CAUSE_ILLEGAL, 0x340022f3, csrr t0, mscratch
  srli t0, s5, 11
  andi t0, t0, 3
  CHECK t0, 1
  TESTNUM 84
  # SRET from S to U (SPP = 0): then an ecall reports cause 8.
  ENTER_MODE 1
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  la t0, 1f
  csrw sepc, t0
  sret
  j fail
1:
  ARM_TRAP 2f
  ecall
  j fail
2:
  CHECK s2, CAUSE_ECALL_U
  # xRET in a mode that may not use it.
  ENTER_MODE 1
  TEST_TRAP 85, CAUSE_ILLEGAL, 0x30200073, mret
  ENTER_MODE 0
  TEST_TRAP 86, CAUSE_ILLEGAL, 0x10200073, sret
  ENTER_MODE 0
  TEST_TRAP 87, CAUSE_ILLEGAL, 0x30200073, mret
  li t0, MSTATUS_TSR
  csrs mstatus, t0
  ENTER_MODE 1
  TEST_TRAP 88, CAUSE_ILLEGAL, 0x10200073, sret
  li t0, MSTATUS_TSR
  csrc mstatus, t0

  # ---- CSR privilege ----
  ENTER_MODE 0
  TEST_TRAP 90, CAUSE_ILLEGAL, 0x300022f3, csrr t0, mstatus
  ENTER_MODE 0
  TEST_TRAP 91, CAUSE_ILLEGAL, 0x100022f3, csrr t0, sstatus
  ENTER_MODE 0
  TEST_TRAP 92, CAUSE_ILLEGAL, 0x180022f3, csrr t0, satp
  ENTER_MODE 1
  TEST_TRAP 93, CAUSE_ILLEGAL, 0xf14022f3, csrr t0, mhartid
  ENTER_MODE 1
  TEST_TRAP 94, CAUSE_ILLEGAL, 0x30529073, csrw mtvec, t0
  TESTNUM 95
  # User CSRs are fine in U (FS is on).
  ENTER_MODE 0
  csrr t0, fcsr
  frflags t0
  BACK_TO_M
  CHECK s2, CAUSE_ECALL_U
  # Counters: cycle/instret below M need mcounteren (and scounteren for U).
  csrw mcounteren, zero
  csrw scounteren, zero
  ENTER_MODE 1
  TEST_TRAP 96, CAUSE_ILLEGAL, 0xc00022f3, csrr t0, cycle
  ENTER_MODE 0
  TEST_TRAP 97, CAUSE_ILLEGAL, 0xc02022f3, csrr t0, instret
  TESTNUM 98
  csrwi mcounteren, 5          # CY, IR
  ENTER_MODE 1
  csrr t0, cycle
  csrr t0, instret
  BACK_TO_M
  CHECK s2, CAUSE_ECALL_S
  ENTER_MODE 0
  TEST_TRAP 99, CAUSE_ILLEGAL, 0xc00022f3, csrr t0, cycle
  TESTNUM 100
  csrwi scounteren, 5
  ENTER_MODE 0
  csrr t0, cycle
  csrr t0, instret
  BACK_TO_M
  CHECK s2, CAUSE_ECALL_U
  csrw mcounteren, zero
  csrw scounteren, zero
  # TVM: satp and sfence.vma in S trap.
  li t0, MSTATUS_TVM
  csrs mstatus, t0
  ENTER_MODE 1
  TEST_TRAP 101, CAUSE_ILLEGAL, 0x180022f3, csrr t0, satp
  ENTER_MODE 1
  TEST_TRAP 102, CAUSE_ILLEGAL, 0x12000073, sfence.vma
  li t0, MSTATUS_TVM
  csrc mstatus, t0
  TESTNUM 103
  ENTER_MODE 1
  csrr t0, satp
  sfence.vma
  BACK_TO_M
  CHECK s2, CAUSE_ECALL_S
  ENTER_MODE 0
  TEST_TRAP 104, CAUSE_ILLEGAL, 0x12000073, sfence.vma
  ENTER_MODE 0
  TEST_TRAP 105, CAUSE_ILLEGAL, 0x10500073, wfi
  li t0, MSTATUS_TW
  csrs mstatus, t0
  ENTER_MODE 1
  TEST_TRAP 106, CAUSE_ILLEGAL, 0x10500073, wfi
  li t0, MSTATUS_TW
  csrc mstatus, t0
  # A delegated illegal CSR access from U lands in S with the instruction in stval.
  li t0, 1 << CAUSE_ILLEGAL
  csrw medeleg, t0
  TESTNUM 107
  ENTER_MODE 0
  ARM_TRAP 1f
  csrr t0, sscratch
  j fail
1:
  CHECK s7, CAUSE_ILLEGAL
  CHECK s8, 0x140022f3
  csrw medeleg, zero

TEST_CODE_END

  .data
  .align 4
abuf:
  .dword 0x1122334455667788
  .dword 0x99aabbccddeeff00
