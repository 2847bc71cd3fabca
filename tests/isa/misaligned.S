# Misaligned loads and stores are done in hardware (no trap): every width at every odd offset that
# matters, sign/zero extension, FP loads/stores, and accesses that straddle a 4 KiB page boundary.
# (Misaligned LR/SC/AMO must trap: see traps.S. Straddling two differently mapped virtual pages: see
# vm-sv39.S.)
# march: rv64g rv64gc
.include "test-macros.inc"

.macro TEST_MLD num, inst, exp, label, off
  li gp, \num
  la a0, \label
  \inst t2, \off(a0)
  CHECK t2, \exp
.endm

TEST_CODE_BEGIN

  TEST_MLD 1, lh, 0x0201, mbuf, 1
  TEST_MLD 2, lhu, 0x0807, mbuf, 7
  TEST_MLD 3, lw, 0x04030201, mbuf, 1
  TEST_MLD 4, lw, 0x06050403, mbuf, 3
  TEST_MLD 5, lwu, 0x08070605, mbuf, 5
  TEST_MLD 6, lw, 0x100f0e0d, mbuf, 13
  TEST_MLD 7, ld, 0x0807060504030201, mbuf, 1
  TEST_MLD 8, ld, 0x0c0b0a0908070605, mbuf, 5
  TEST_MLD 9, ld, 0x0e0d0c0b0a090807, mbuf, 7
  TEST_MLD 10, lh, 0xffffffffffff8281, nbuf, 1
  TEST_MLD 11, lhu, 0x8281, nbuf, 1
  TEST_MLD 12, lw, 0xffffffff86858483, nbuf, 3
  TEST_MLD 13, lwu, 0x86858483, nbuf, 3
  TEST_MLD 14, ld, 0x8887868584838281, nbuf, 1

  # ---- stores ----
  TESTNUM 20
  la a0, sbuf
  li t0, 0x1122
  sh t0, 1(a0)
  ld t1, 0(a0)
  CHECK t1, 0x0000000000112200
  TESTNUM 21
  li t0, 0x33445566
  sw t0, 3(a0)
  ld t1, 0(a0)
  CHECK t1, 0x0033445566112200
  ld t1, 8(a0)
  CHECK t1, 0
  TESTNUM 22
  li t0, 0x0102030405060708
  sd t0, 5(a0)
  ld t1, 0(a0)
  CHECK t1, 0x0607085566112200
  ld t1, 8(a0)
  CHECK t1, 0x0000000102030405
  TESTNUM 23
  li t0, 0xa1a2a3a4a5a6a7a8
  sd t0, 15(a0)
  ld t1, 8(a0)
  CHECK t1, 0xa800000102030405
  ld t1, 16(a0)
  CHECK t1, 0x00a1a2a3a4a5a6a7

  # ---- floating-point loads/stores ----
  TESTNUM 30
  la a0, mbuf
  fld ft0, 1(a0)
  fmv.x.d t0, ft0
  CHECK t0, 0x0807060504030201
  flw ft1, 2(a0)
  fmv.x.w t0, ft1
  CHECK t0, 0x05040302
  TESTNUM 31
  la a1, sbuf
  fsd ft0, 33(a1)
  ld t0, 32(a1)
  CHECK t0, 0x0706050403020100
  ld t0, 40(a1)
  CHECK t0, 0x08
  fsw ft1, 49(a1)
  ld t0, 48(a1)
  CHECK t0, 0x0000000504030200

  # ---- across a 4 KiB page boundary ----
  TESTNUM 40
  la a0, page_b
  ld t0, -3(a0)
  CHECK t0, 0x1514131211f8f9fa
  lw t0, -1(a0)
  CHECK t0, 0x131211f8
  lh t0, -1(a0)
  CHECK t0, 0x11f8
  TESTNUM 41
  li t0, 0xc1c2c3c4c5c6c7c8
  sd t0, -5(a0)
  ld t1, -8(a0)
  CHECK t1, 0xc4c5c6c7c8fdfeff
  ld t1, 0(a0)
  CHECK t1, 0x1817161514c1c2c3
  TESTNUM 42
  li t0, 0x5a5b
  sh t0, -1(a0)
  lbu t1, -1(a0)
  CHECK t1, 0x5b
  lbu t1, 0(a0)
  CHECK t1, 0x5a

TEST_CODE_END

  .data
  .align 3
mbuf:
  .dword 0x0706050403020100, 0x0f0e0d0c0b0a0908, 0x1716151413121110
nbuf:
  .dword 0x8786858483828180, 0x8f8e8d8c8b8a8988
sbuf:
  .fill 8, 8, 0
  .balign 4096
page_a:
  .fill 4088, 1, 0
  .dword 0xf8f9fafbfcfdfeff
page_b:
  .dword 0x1817161514131211
