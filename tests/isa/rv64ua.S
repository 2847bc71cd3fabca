# RV64A: LR/SC (success, failure, every SC clears the reservation, SC to another address fails, a
# failed SC stores nothing), and every AMO in .W and .D forms: the old value comes back (sign-extended
# for .W), the new one lands in memory without touching neighbours, min/max compare signed vs unsigned,
# and .W forms ignore the upper half of rs2.
# march: rv64g rv64gc
.include "test-macros.inc"

# mem64[a0] = init; inst rd, rs2=val, (a0); check rd == old and mem64[a0] == new.
.macro TEST_AMO_D num, inst, init, val, old, new
  li gp, \num
  la a0, amo_buf
  li t0, \init
  sd t0, 0(a0)
  li t1, \val
  \inst t2, t1, (a0)
  CHECK t2, \old
  ld t3, 0(a0)
  CHECK t3, \new
.endm

# The .W form works on the low word of a dword whose high word must stay 0x5a5a5a5a.
.macro TEST_AMO_W num, inst, init, val, old, new
  li gp, \num
  la a0, amo_buf
  li t0, 0x5a5a5a5a00000000 | (\init & 0xffffffff)
  sd t0, 0(a0)
  li t1, \val
  \inst t2, t1, (a0)
  CHECK t2, \old
  lwu t3, 0(a0)
  CHECK t3, \new
  lwu t3, 4(a0)
  CHECK t3, 0x5a5a5a5a
.endm

TEST_CODE_BEGIN

  # ---- AMO .W ----
  TEST_AMO_W 1, amoswap.w, 0x80000000, 0x12345678, 0xffffffff80000000, 0x12345678
  TEST_AMO_W 2, amoswap.w, 0x7fffffff, 0xffffffff, 0x7fffffff, 0xffffffff
  TEST_AMO_W 3, amoadd.w, 0x7fffffff, 1, 0x7fffffff, 0x80000000
  TEST_AMO_W 4, amoadd.w, 0xffffffff, 1, -1, 0
  TEST_AMO_W 5, amoadd.w, 0x80000000, 0x1234567880000000, 0xffffffff80000000, 0
  TEST_AMO_W 6, amoxor.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xf0f0f0f0
  TEST_AMO_W 7, amoand.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0x0f000f00
  TEST_AMO_W 8, amoor.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xfff0fff0
  TEST_AMO_W 9, amomin.w, 0x80000000, 1, 0xffffffff80000000, 0x80000000
  TEST_AMO_W 10, amomin.w, 1, 0x80000000, 1, 0x80000000
  TEST_AMO_W 11, amomin.w, 1, 0x00000000ffffffff, 1, 0xffffffff
  TEST_AMO_W 12, amomax.w, 0x80000000, 1, 0xffffffff80000000, 1
  TEST_AMO_W 13, amomax.w, 0xffffffff, 0xfffffffe, -1, 0xffffffff
  TEST_AMO_W 14, amomax.w, 5, 0x7fffffff00000003, 5, 5
  TEST_AMO_W 15, amominu.w, 0x80000000, 1, 0xffffffff80000000, 1
  TEST_AMO_W 16, amominu.w, 2, 0xffffffff00000001, 2, 1
  TEST_AMO_W 17, amominu.w, 0xffffffff, 0xfffffffe, -1, 0xfffffffe
  TEST_AMO_W 18, amomaxu.w, 0x80000000, 1, 0xffffffff80000000, 0x80000000
  TEST_AMO_W 19, amomaxu.w, 1, 0x80000000, 1, 0x80000000
  TEST_AMO_W 20, amomaxu.w, 3, 0x0000000100000002, 3, 3

  # ---- AMO .D ----
  TEST_AMO_D 30, amoswap.d, 0x8000000000000000, 0x123456789abcdef0, 0x8000000000000000, 0x123456789abcdef0
  TEST_AMO_D 31, amoadd.d, 0xffffffff, 1, 0xffffffff, 0x100000000
  TEST_AMO_D 32, amoadd.d, -1, 1, -1, 0
  TEST_AMO_D 33, amoadd.d, 0x7fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff, 0xfffffffffffffffe
  TEST_AMO_D 34, amoxor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0
  TEST_AMO_D 35, amoand.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0x0f000f000f000f00
  TEST_AMO_D 36, amoor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xfff0fff0fff0fff0
  TEST_AMO_D 37, amomin.d, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000
  TEST_AMO_D 38, amomin.d, 1, -1, 1, -1
  TEST_AMO_D 39, amomin.d, 0x100000000, 0x1ffffffff, 0x100000000, 0x100000000
  TEST_AMO_D 40, amomin.d, 0x1ffffffff, 0x100000000, 0x1ffffffff, 0x100000000
  TEST_AMO_D 41, amomax.d, 0x8000000000000000, 1, 0x8000000000000000, 1
  TEST_AMO_D 42, amomax.d, 0x100000000, 0x1ffffffff, 0x100000000, 0x1ffffffff
  TEST_AMO_D 43, amominu.d, 0x8000000000000000, 1, 0x8000000000000000, 1
  TEST_AMO_D 44, amominu.d, 0xffffffff, 0x100000000, 0xffffffff, 0xffffffff
  TEST_AMO_D 45, amomaxu.d, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000
  TEST_AMO_D 46, amomaxu.d, 0xffffffff, 0x100000000, 0xffffffff, 0x100000000
  # Ordering bits do not change the result.
  TEST_AMO_D 47, amoadd.d.aqrl, 40, 2, 40, 42
  TEST_AMO_W 48, amoor.w.aq, 0x10, 0x01, 0x10, 0x11

  # ---- AMO with rd = x0, and rd = rs2 ----
  TESTNUM 50
  la a0, amo_buf
  li t0, 10
  sd t0, 0(a0)
  li t1, 5
  amoadd.d x0, t1, (a0)
  ld t3, 0(a0)
  CHECK t3, 15
  bnez x0, fail
  TESTNUM 51
  li t1, 77
  amoswap.d t1, t1, (a0)
  CHECK t1, 15
  ld t3, 0(a0)
  CHECK t3, 77
  TESTNUM 52
  # An AMO on the high word of a dword leaves the low word alone.
  li t0, 0x0000000100000002
  sd t0, 0(a0)
  li t1, 0x10
  addi a1, a0, 4
  amoadd.w t2, t1, (a1)
  CHECK t2, 1
  ld t3, 0(a0)
  CHECK t3, 0x0000001100000002

  # ---- LR / SC ----
  TESTNUM 60
  la a0, amo_buf
  li t0, 0x1111111122222222
  sd t0, 0(a0)
  lr.d t1, (a0)
  CHECK t1, 0x1111111122222222
  li t2, 0x3333333344444444
  sc.d t3, t2, (a0)
  CHECK t3, 0
  ld t4, 0(a0)
  CHECK t4, 0x3333333344444444
  TESTNUM 61
  # The SC above cleared the reservation: this one fails and stores nothing.
  li t2, 0x5555
  sc.d t3, t2, (a0)
  beqz t3, fail
  ld t4, 0(a0)
  CHECK t4, 0x3333333344444444
  TESTNUM 62
  # LR.W sign-extends; SC.W stores 32 bits only.
  li t0, 0x7777777780000000
  sd t0, 0(a0)
  lr.w t1, (a0)
  CHECK t1, 0xffffffff80000000
  li t2, 0xaaaaaaaa12345678
  sc.w t3, t2, (a0)
  CHECK t3, 0
  ld t4, 0(a0)
  CHECK t4, 0x7777777712345678
  TESTNUM 63
  # SC to an address outside the reservation (another page) fails; so does a later SC to the
  # reserved address, because every SC clears the reservation.
  lr.d t1, (a0)
  la a1, amo_far
  li t2, 99
  sc.d t3, t2, (a1)
  beqz t3, fail
  ld t4, 0(a1)
  CHECK t4, 0
  sc.d t3, t2, (a0)
  beqz t3, fail
  ld t4, 0(a0)
  CHECK t4, 0x7777777712345678
  TESTNUM 64
  # A later LR replaces the reservation.
  lr.d t1, (a1)
  lr.d t1, (a0)
  li t2, 5
  sc.d t3, t2, (a0)
  CHECK t3, 0
  ld t4, 0(a0)
  CHECK t4, 5
  TESTNUM 65
  # A plain LR/SC increment loop terminates.
  li t5, 0
  li t0, 100
  sd t0, 0(a0)
1:
  lr.d t1, (a0)
  addi t1, t1, 1
  sc.d t3, t1, (a0)
  addi t5, t5, 1
  li t6, 16
  bgeu t5, t6, fail
  bnez t3, 1b
  ld t4, 0(a0)
  CHECK t4, 101
  TESTNUM 66
  # SC with rd = rs2.
  lr.w t1, (a0)
  li t2, 9
  sc.w t2, t2, (a0)
  CHECK t2, 0
  lwu t4, 0(a0)
  CHECK t4, 9
  TESTNUM 67
  # lr/sc with ordering bits.
  lr.d.aq t1, (a0)
  sc.d.rl t3, t1, (a0)
  CHECK t3, 0

TEST_CODE_END

  .data
  .align 4
amo_buf:
  .dword 0, 0
  .align 12
amo_far:
  .dword 0
