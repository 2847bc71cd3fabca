# RV64C: every compressed form (written with explicit c.* mnemonics; build.sh checks with objdump that
# each one really was emitted as a 16-bit encoding), with immediate extremes, sign extension and
# the RV64-only forms (c.addiw, c.subw, c.addw, c.ld/c.sd, 6-bit shift amounts).
# march: rv64gc
.include "test-macros.inc"

TEST_CODE_BEGIN

  # ---- constants ----
  TESTNUM 1
  c.li a0, -32
  CHECK a0, -32
  TESTNUM 2
  c.li a0, 31
  CHECK a0, 31
  TESTNUM 3
  c.lui a0, 1
  CHECK a0, 0x1000
  TESTNUM 4
  c.lui a0, 0x1f
  CHECK a0, 0x1f000
  TESTNUM 5
  c.lui a0, 0xfffe0
  CHECK a0, 0xfffffffffffe0000
  TESTNUM 6
  c.lui a0, 0xfffff
  CHECK a0, 0xfffffffffffff000

  # ---- c.addi / c.addiw / c.nop ----
  TESTNUM 10
  li a0, 100
  c.addi a0, -32
  CHECK a0, 68
  TESTNUM 11
  c.addi a0, 31
  CHECK a0, 99
  TESTNUM 12
  li a0, 0xffffffff
  c.addi a0, 1
  CHECK a0, 0x100000000
  TESTNUM 13
  li a0, 0x7fffffff
  c.addiw a0, 1
  CHECK a0, 0xffffffff80000000
  TESTNUM 14
  li a0, 0x180000000
  c.addiw a0, 0
  CHECK a0, 0xffffffff80000000
  TESTNUM 15
  li a0, 0
  c.addiw a0, -1
  CHECK a0, -1
  TESTNUM 16
  li a0, 5
  c.nop
  CHECK a0, 5

  # ---- stack-pointer forms ----
  TESTNUM 20
  la sp, cstack_mid
  mv s1, sp
  c.addi16sp sp, -512
  sub t0, s1, sp
  CHECK t0, 512
  TESTNUM 21
  c.addi16sp sp, 496
  sub t0, s1, sp
  CHECK t0, 16
  c.addi16sp sp, 16
  TESTNUM 22
  c.addi4spn a0, sp, 1020
  sub t0, a0, s1
  CHECK t0, 1020
  TESTNUM 23
  c.addi4spn s0, sp, 4
  sub t0, s0, s1
  CHECK t0, 4

  # ---- shifts and c.andi (6-bit shift amounts on RV64) ----
  TESTNUM 30
  li a0, 1
  c.slli a0, 63
  CHECK a0, 0x8000000000000000
  TESTNUM 31
  li a0, 0x0123456789abcdef
  c.slli a0, 36
  CHECK a0, 0x9abcdef000000000
  TESTNUM 32
  li a0, 0x8000000000000000
  c.srli a0, 63
  CHECK a0, 1
  TESTNUM 33
  li a0, 0x8000000000000000
  c.srli a0, 32
  CHECK a0, 0x80000000
  TESTNUM 34
  li a1, 0x8000000000000000
  c.srai a1, 32
  CHECK a1, 0xffffffff80000000
  TESTNUM 35
  li a1, 0x8000000000000000
  c.srai a1, 63
  CHECK a1, -1
  TESTNUM 36
  li a2, 0x8123456789abcdef
  c.srai a2, 4
  CHECK a2, 0xf8123456789abcde
  TESTNUM 37
  li a0, 0xff
  c.andi a0, 0x1f
  CHECK a0, 0x1f
  TESTNUM 38
  li a0, 0x123456789abcdeff
  c.andi a0, -32
  CHECK a0, 0x123456789abcdee0
  TESTNUM 39
  li a0, 0x1234
  c.andi a0, 0
  CHECK a0, 0

  # ---- register-register ----
  TESTNUM 40
  li a1, 0x123456789
  c.mv a0, a1
  CHECK a0, 0x123456789
  TESTNUM 41
  li a0, 0xffffffff
  li a1, 1
  c.add a0, a1
  CHECK a0, 0x100000000
  TESTNUM 42
  li a0, 0x100000000
  li a1, 1
  c.sub a0, a1
  CHECK a0, 0xffffffff
  TESTNUM 43
  li a0, 0xff00ff00ff00ff00
  li a1, 0x0ff00ff00ff00ff0
  c.xor a0, a1
  CHECK a0, 0xf0f0f0f0f0f0f0f0
  TESTNUM 44
  li a0, 0xff00ff00ff00ff00
  c.or a0, a1
  CHECK a0, 0xfff0fff0fff0fff0
  TESTNUM 45
  li a0, 0xff00ff00ff00ff00
  c.and a0, a1
  CHECK a0, 0x0f000f000f000f00
  TESTNUM 46
  li a0, 0x7fffffff
  li a1, 1
  c.addw a0, a1
  CHECK a0, 0xffffffff80000000
  TESTNUM 47
  li a0, 0x100000000
  li a1, 1
  c.subw a0, a1
  CHECK a0, -1
  TESTNUM 48
  li a0, 0x12345678ffffffff
  li a1, 0x0000000100000001
  c.addw a0, a1
  CHECK a0, 0

  # ---- loads and stores, register based (x8..x15 only) ----
  TESTNUM 50
  la a1, cdata
  c.lw a0, 0(a1)
  CHECK a0, 0xffffffff89abcdef
  TESTNUM 51
  c.lw a0, 124(a1)
  CHECK a0, 0x7eadbeef
  TESTNUM 52
  c.ld a0, 0(a1)
  CHECK a0, 0x0123456789abcdef
  TESTNUM 53
  c.ld a0, 248(a1)
  CHECK a0, 0xfedcba9876543210
  TESTNUM 54
  la a2, cbuf
  li a3, 0x1122334455667788
  c.sd a3, 8(a2)
  ld t0, 8(a2)
  CHECK t0, 0x1122334455667788
  TESTNUM 55
  li a3, 0xaabbccdd
  c.sw a3, 12(a2)
  ld t0, 8(a2)
  CHECK t0, 0xaabbccdd55667788
  TESTNUM 56
  c.fld fa0, 16(a1)
  fmv.x.d t0, fa0
  CHECK t0, 0x400921fb54442d18
  TESTNUM 57
  c.fsd fa0, 16(a2)
  ld t0, 16(a2)
  CHECK t0, 0x400921fb54442d18

  # ---- loads and stores, sp based ----
  TESTNUM 60
  la sp, cdata
  c.lwsp a0, 0(sp)
  CHECK a0, 0xffffffff89abcdef
  TESTNUM 61
  c.lwsp t0, 124(sp)
  CHECK t0, 0x7eadbeef
  TESTNUM 62
  c.ldsp ra, 248(sp)
  CHECK ra, 0xfedcba9876543210
  TESTNUM 63
  c.ldsp t1, 504(sp)
  CHECK t1, 0x0badc0de0badc0de
  TESTNUM 64
  c.fldsp ft0, 16(sp)
  fmv.x.d t0, ft0
  CHECK t0, 0x400921fb54442d18
  TESTNUM 65
  la sp, cbuf
  li t2, 0x0102030405060708
  c.sdsp t2, 24(sp)
  ld t0, 24(sp)
  CHECK t0, 0x0102030405060708
  TESTNUM 66
  li t2, 0xdeadbeef
  c.swsp t2, 28(sp)
  ld t0, 24(sp)
  CHECK t0, 0xdeadbeef05060708
  TESTNUM 67
  c.fsdsp ft0, 504(sp)
  ld t0, 504(sp)
  CHECK t0, 0x400921fb54442d18

  # ---- control transfer ----
  TESTNUM 70
  c.j 1f
  j fail
1:
  TESTNUM 71
  c.j 2f
1:
  c.j 3f
2:
  c.j 1b
3:
  TESTNUM 72
  li a0, 0
  c.beqz a0, 1f
  j fail
1:
  TESTNUM 73
  li a0, 0x100000000
  c.beqz a0, 1f
  c.j 2f
1:
  j fail
2:
  TESTNUM 74
  c.bnez a0, 1f
  j fail
1:
  TESTNUM 75
  li a0, 0
  c.bnez a0, 1f
  c.j 2f
1:
  j fail
2:
  TESTNUM 76
  # Backward compressed branch loop.
  li a0, 5
  li a1, 0
1:
  c.addi a1, 3
  c.addi a0, -1
  c.bnez a0, 1b
  CHECK a1, 15
  TESTNUM 77
  la a1, 1f
  c.jr a1
  j fail
1:
  TESTNUM 78
  la a1, 1f
2:
  c.jalr a1
  j fail
1:
  la t0, 2b
  addi t0, t0, 2
  bne ra, t0, fail

  # ---- c.ebreak: breakpoint with mepc at the 2-byte instruction ----
  TEST_TRAP_TVAL_PC 80, CAUSE_BREAKPOINT, c.ebreak

TEST_CODE_END

  .data
  .align 3
cdata:
  .dword 0x0123456789abcdef     # 0
  .dword 0                      # 8
  .dword 0x400921fb54442d18     # 16: pi
  .fill 12, 8, 0                # 24..119
  .word 0                       # 120
  .word 0x7eadbeef              # 124
  .fill 15, 8, 0                # 128..247
  .dword 0xfedcba9876543210     # 248
  .fill 31, 8, 0                # 256..503
  .dword 0x0badc0de0badc0de     # 504
  .align 3
cbuf:
  .fill 66, 8, 0x55
  .align 4
  .fill 128, 8, 0
cstack_mid:
  .fill 128, 8, 0
