# Interrupts: vectored vs direct mtvec, priority (MEI MSI MTI SEI SSI STI), global enables per mode
# (M interrupts always taken below M; delegated ones never taken in M, taken in S only with SIE, always
# in U), taking an interrupt right at an xRET, sie/sip as views of mie/mip through mideleg, WFI with
# an interrupt pending, and the CLINT: a timer interrupt through mtimecmp that wakes WFI, and MSIP.
# march: rv64g
.include "test-macros.inc"

.equ CLINT_MSIP, 0x2000000
.equ CLINT_MTIMECMP, 0x2004000
.equ CLINT_MTIME, 0x200bff8
.equ IRQ_S_SOFT, 0x8000000000000001
.equ IRQ_M_SOFT, 0x8000000000000003
.equ IRQ_S_TIMER, 0x8000000000000005
.equ IRQ_M_TIMER, 0x8000000000000007
.equ IRQ_S_EXT, 0x8000000000000009
.equ MIP_SSIP, 0x2
.equ MIP_MSIP, 0x8
.equ MIP_STIP, 0x20
.equ MIP_MTIP, 0x80
.equ MIP_SEIP, 0x200

# Takes the pending interrupt by setting mstatus.MIE; checks mcause and that mepc is the next
# instruction.
.macro TAKE_M_IRQ num, cause
  li gp, \num
  ARM_TRAP .Ltaken\@
  csrsi mstatus, MSTATUS_MIE
.Lnext\@:
  j fail
.Ltaken\@:
  CHECK s2, \cause
  la t6, .Lnext\@
  bne s4, t6, fail
.endm

TEST_CODE_BEGIN
  csrw mip, zero

  # ---- vectored mtvec: exceptions at BASE, interrupt N at BASE + 4N ----
  TESTNUM 1
  la t0, vec_table
  ori t0, t0, 1
  csrw mtvec, t0
  li t5, -1
  ARM_TRAP 1f
  ecall
  j fail
1:
  CHECK s2, CAUSE_ECALL_M
  CHECK t5, 0
  TESTNUM 2
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mip, t0
  li t5, -1
  TAKE_M_IRQ 2, IRQ_S_SOFT
  CHECK t5, 1
  csrw mip, zero
  TESTNUM 3
  li t0, MIP_STIP
  csrw mie, t0
  csrs mip, t0
  li t5, -1
  TAKE_M_IRQ 3, IRQ_S_TIMER
  CHECK t5, 5
  csrw mip, zero
  TESTNUM 4
  li t0, MIP_SEIP
  csrw mie, t0
  csrs mip, t0
  li t5, -1
  TAKE_M_IRQ 4, IRQ_S_EXT
  CHECK t5, 9
  csrw mip, zero

  # ---- priority among pending interrupts (QEMU 7.2 without AIA takes the lowest-numbered one
  # first, against the privileged spec's MEI MSI MTI SEI SSI STI: skipped there) ----
.ifndef QEMU_SPIKE
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrw mie, t0
  csrw mip, t0
  TAKE_M_IRQ 10, IRQ_S_EXT
  li t0, MIP_SEIP
  csrc mip, t0
  TAKE_M_IRQ 11, IRQ_S_SOFT
  li t0, MIP_SSIP
  csrc mip, t0
  TAKE_M_IRQ 12, IRQ_S_TIMER
  csrw mip, zero
  csrw mie, zero
.endif

  # ---- direct mode: interrupts go to BASE too ----
  la t0, trap_vector
  csrw mtvec, t0
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mip, t0
  li t5, -1
  TAKE_M_IRQ 20, IRQ_S_SOFT
  CHECK t5, -1
  csrw mip, zero

  # ---- an undelegated interrupt is taken in S even with mstatus.MIE = 0 ----
  TESTNUM 30
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mip, t0
  ARM_TRAP 1f
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  li t6, MSTATUS_MPP_S
  csrs mstatus, t6
  la t6, 2f
  csrw mepc, t6
  mret
2:
  j fail
1:
  CHECK s2, IRQ_S_SOFT
  la t0, 2b
  bne s4, t0, fail
  srli t0, s5, 11
  andi t0, t0, 3
  CHECK t0, 1
  csrw mip, zero

  # ---- an interrupt enabled by MRET itself (MPIE = 1) is taken at the MRET target ----
  TESTNUM 31
  li t0, MIP_SSIP
  csrs mip, t0
  li t0, MSTATUS_MPP | MSTATUS_MPIE
  csrs mstatus, t0
  la t0, 2f
  csrw mepc, t0
  ARM_TRAP 1f
  mret
2:
  j fail
1:
  CHECK s2, IRQ_S_SOFT
  la t0, 2b
  bne s4, t0, fail
  csrw mip, zero

  # ---- delegated interrupts ----
  la t0, strap_vector
  csrw stvec, t0
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, t0
  TESTNUM 40
  # Never taken in M, even with MIE = 1.
  csrsi mstatus, MSTATUS_MIE
  nop
  nop
  csrci mstatus, MSTATUS_MIE
  TESTNUM 41
  # In S: held while SIE = 0, taken as soon as SIE is set (sepc = next instruction).
  li t0, MSTATUS_SIE
  csrc mstatus, t0
  ENTER_MODE 1
  nop
  nop
  ARM_TRAP 1f
  csrsi sstatus, MSTATUS_SIE
2:
  j fail
1:
  CHECK s7, IRQ_S_SOFT
  la t0, 2b
  bne s9, t0, fail
  CHECK s2, CAUSE_ECALL_S
  andi t0, s5, MSTATUS_SPP
  beqz t0, fail
  andi t0, s5, MSTATUS_SPIE
  beqz t0, fail
  TESTNUM 42
  # In U: taken whatever SIE says.
  li t0, MSTATUS_SIE
  csrc mstatus, t0
  li s7, -1
  ARM_TRAP 1f
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  la t6, 2f
  csrw mepc, t6
  mret
2:
  j fail
1:
  CHECK s7, IRQ_S_SOFT
  la t0, 2b
  bne s9, t0, fail
  andi t0, s5, MSTATUS_SPP
  bnez t0, fail
  TESTNUM 43
  # Vectored stvec: a delegated interrupt lands at BASE + 4 * cause.
  la t0, svec_table
  ori t0, t0, 1
  csrw stvec, t0
  li t5, -1
  li s7, -1
  ARM_TRAP 1f
  li t6, MSTATUS_MPP
  csrc mstatus, t6
  la t6, 2f
  csrw mepc, t6
  mret
2:
  j fail
1:
  CHECK s7, IRQ_S_SOFT
  CHECK t5, 101
  la t0, strap_vector
  csrw stvec, t0
  csrw mip, zero

  # ---- sie / sip are mie / mip seen through mideleg ----
  TESTNUM 50
  li t0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrw mie, t0
  li t0, MIP_SSIP
  csrw mideleg, t0
  csrr t1, sie
  CHECK t1, MIP_SSIP
  csrw sie, zero
  csrr t1, mie
  CHECK t1, MIP_STIP | MIP_SEIP
  TESTNUM 51
  li t0, MIP_SSIP | MIP_STIP
  csrs mip, t0
  csrr t1, sip
  CHECK t1, MIP_SSIP
  csrw mideleg, zero
  csrr t1, sip
  CHECK t1, 0
  csrw mip, zero
  csrw mie, zero

  # ---- WFI with an interrupt pending and enabled in mie completes, even with MIE = 0 ----
  TESTNUM 60
  li t0, MIP_SSIP
  csrw mie, t0
  csrs mip, t0
  wfi
  csrw mip, zero
  csrw mie, zero

  # ---- CLINT: mip.MTIP/MSIP are read-only to software ----
  TESTNUM 70
  li a0, CLINT_MTIMECMP
  li t0, -1
  sd t0, 0(a0)
  li t0, MIP_MTIP | MIP_MSIP
  csrs mip, t0
  csrr t1, mip
  and t1, t1, t0
  bnez t1, fail
  li a1, CLINT_MTIME
  # The time CSR follows mtime (QEMU's spike board has no time CSR: skipped there).
.ifndef QEMU_SPIKE
  TESTNUM 71
  csrr t0, time
  ld t1, 0(a1)
  bltu t1, t0, fail
.endif

  # ---- a timer interrupt wakes WFI ----
  TESTNUM 72
  ld t1, 0(a1)
  addi t1, t1, 500
  sd t1, 0(a0)
  li t0, MIP_MTIP
  csrw mie, t0
  ARM_TRAP 1f
  csrsi mstatus, MSTATUS_MIE
3:
  wfi
2:
  j fail
1:
  CHECK s2, IRQ_M_TIMER
  # Normally wfi+4; a slow host may take the interrupt before reaching wfi.
  la t0, 2b
  beq s4, t0, 4f
  la t0, 3b
  bne s4, t0, fail
4:
  TESTNUM 73
  # MTIP stays pending until mtimecmp moves.
  csrr t1, mip
  andi t1, t1, MIP_MTIP
  beqz t1, fail
  li t0, -1
  sd t0, 0(a0)
  csrr t1, mip
  andi t1, t1, MIP_MTIP
  bnez t1, fail
  TESTNUM 75
  # WFI wakes on a pending timer even with mstatus.MIE = 0, and then just continues (no trap).
  ld t1, 0(a1)
  addi t1, t1, 500
  sd t1, 0(a0)
  li t0, MIP_MTIP
  csrw mie, t0
  wfi
  csrr t1, mip
  andi t1, t1, MIP_MTIP
  beqz t1, fail
  li t0, -1
  sd t0, 0(a0)
  csrw mie, zero
  TESTNUM 74
  # Machine software interrupt through the CLINT msip register.
  li a2, CLINT_MSIP
  li t0, 1
  sw t0, 0(a2)
  li t0, MIP_MSIP
  csrw mie, t0
  TAKE_M_IRQ 74, IRQ_M_SOFT
  sw zero, 0(a2)
  csrr t1, mip
  andi t1, t1, MIP_MSIP
  bnez t1, fail
  csrw mie, zero

  # ---- an interrupt that a CSR write makes takeable is taken before the next instruction, however
  # short the window: a loop sets MIE and clears it again at once (as Linux's idle loop does with SIE
  # around WFI), 100000 passes with nothing pending (the blocks get hot, and compiled over many runs of
  # the hart), then SSIP is made pending; it must be taken at the very next csrsi, with mepc at the
  # csrci after it ----
  TESTNUM 76
  csrw mip, zero
  li t0, MIP_SSIP
  csrw mie, t0
  li t1, 0
  li t2, 200000
  ARM_TRAP 1f
3:
  csrsi mstatus, MSTATUS_MIE
5:
  csrci mstatus, MSTATUS_MIE
  addi t1, t1, 1
  li t0, 100000
  bne t1, t0, 4f
  li t0, MIP_SSIP
  csrs mip, t0
4:
  bne t1, t2, 3b
  j fail
1:
  CHECK s2, IRQ_S_SOFT
  la t0, 5b
  bne s4, t0, fail
  CHECK t1, 100000
  csrw mip, zero
  csrw mie, zero

  # ---- Sstc: stimecmp drives STIP (QEMU's spike board has no time CSR, so no Sstc: skipped) ----
.ifndef QEMU_SPIKE
  TESTNUM 80
  li t0, 1 << 63
  csrs menvcfg, t0               # STCE
  csrwi mcounteren, 2            # TM: S may use time/stimecmp
  li t0, -1
  csrw stimecmp, t0
  li t0, MIP_STIP
  csrs mip, t0                   # read-only while STCE = 1: no effect
  csrr t1, mip
  and t1, t1, t0
  bnez t1, fail
  TESTNUM 81
  csrr t1, time
  addi t1, t1, 50
  csrw stimecmp, t1
  li t2, 1000000
1:
  addi t2, t2, -1
  beqz t2, fail
  csrr t1, mip
  andi t1, t1, MIP_STIP
  beqz t1, 1b
  TESTNUM 82
  # Delegated and enabled: taken as soon as S runs with SIE = 1.
  li t0, MIP_STIP
  csrw mideleg, t0
  csrw mie, t0
  li t0, MSTATUS_SIE
  csrs mstatus, t0
  li s7, -1
  ARM_TRAP 1f
  ENTER_MODE 1
  j fail
1:
  CHECK s7, IRQ_S_TIMER
  TESTNUM 83
  # S rearms it through stimecmp: STIP drops.
  ENTER_MODE 1
  li t0, -1
  csrw stimecmp, t0
  csrr t1, sip
  andi t1, t1, MIP_STIP
  bnez t1, fail
  BACK_TO_M
  csrw mideleg, zero
  csrw mie, zero
  csrw mcounteren, zero
  li t0, 1 << 63
  csrc menvcfg, t0
.endif

TEST_CODE_END

  .section .text.init
  # Vectored table: entry N records N in t5 and continues in the common handler.
  .balign 256
vec_table:
  j vec_0
  j vec_1
  j vec_other
  j vec_other
  j vec_other
  j vec_5
  j vec_other
  j vec_other
  j vec_other
  j vec_9
  j vec_other
  j vec_other
vec_0:
  li t5, 0
  j trap_vector
vec_1:
  li t5, 1
  j trap_vector
vec_5:
  li t5, 5
  j trap_vector
vec_9:
  li t5, 9
  j trap_vector
vec_other:
  li t5, 99
  j trap_vector

  # Vectored stvec table: entry 1 (supervisor software interrupt) records 101 in t5.
  .balign 256
svec_table:
  j strap_vector
  j svec_1
  j strap_vector
  j strap_vector
  j strap_vector
  j strap_vector
svec_1:
  li t5, 101
  j strap_vector
