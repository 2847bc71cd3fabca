# RV64I: every base instruction, including the W forms and shifts by 0/31/32/63, carries and borrows
# across bit 31 (the hart keeps registers as 32-bit halves), sign extension of every narrow result,
# rd = rs1 / rd = rs2 overlap, x0 as a destination, and self-modifying code behind fence.i.
# march: rv64g rv64gc
.include "test-macros.inc"

.macro TEST_BR_TAKEN num, inst, a, b
  li gp, \num
  li t0, \a
  li t1, \b
  \inst t0, t1, .Ltaken\@
  j fail
.Ltaken\@:
.endm

.macro TEST_BR_NOT_TAKEN num, inst, a, b
  li gp, \num
  li t0, \a
  li t1, \b
  \inst t0, t1, .Lbad\@
  j .Lok\@
.Lbad\@:
  j fail
.Lok\@:
.endm

# rd = load(base_label + off)
.macro TEST_LD num, inst, exp, label, off
  li gp, \num
  la t0, \label
  \inst t2, \off(t0)
  CHECK t2, \exp
.endm

TEST_CODE_BEGIN

  # ---- LUI / AUIPC ----
  TESTNUM 1
  lui t0, 0x80000
  CHECK t0, 0xffffffff80000000
  TESTNUM 2
  lui t0, 0x7ffff
  CHECK t0, 0x7ffff000
  TESTNUM 3
  lui t0, 0xfffff
  CHECK t0, 0xfffffffffffff000
  TESTNUM 4
  lui t0, 0
  CHECK t0, 0
  TESTNUM 5
1:
  auipc t0, 0
  la t1, 1b
  bne t0, t1, fail
  TESTNUM 6
1:
  auipc t0, 0x1
  la t1, 1b
  li t2, 0x1000
  add t1, t1, t2
  bne t0, t1, fail
  TESTNUM 7
  # A negative upper immediate: pc - 2 GiB (carry out of the low word into the high word).
1:
  auipc t0, 0x80000
  la t1, 1b
  li t2, 0x80000000
  sub t1, t1, t2
  bne t0, t1, fail

  # ---- ADD / SUB / ADDI ----
  TEST_RR 10, add, 0, 0, 0
  TEST_RR 11, add, 2, 1, 1
  TEST_RR 12, add, 10, 3, 7
  TEST_RR 13, add, 0x7fffffffffffffff, 0x8000000000000000, -1
  TEST_RR 14, add, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RR 15, add, 0x100000000, 0xffffffff, 1
  TEST_RR 16, add, 0xfffffffffffffffe, -1, -1
  TEST_RR 17, add, 0x100000000, 0x80000000, 0x80000000
  TEST_RR 18, add, 0, -1, 1
  TEST_RR_SRC1 19, add, 0x123456789, 0x123456788, 1
  TEST_RR_SRC2 20, add, 0x1fffffffe, 0xffffffff, 0xffffffff

  TEST_RR 21, sub, 0, 0, 0
  TEST_RR 22, sub, 0xfffffffffffffffc, 3, 7
  TEST_RR 23, sub, -1, 0, 1
  TEST_RR 24, sub, 0xffffffff, 0x100000000, 1
  TEST_RR 25, sub, 0x7fffffffffffffff, 0x8000000000000000, 1
  TEST_RR 26, sub, 0x8000000000000000, 0, 0x8000000000000000
  TEST_RR 27, sub, 0x100000001, 0x200000000, 0xffffffff
  TEST_RR_SRC1 28, sub, 4, 7, 3
  TEST_RR_SRC2 29, sub, 4, 7, 3

  TEST_RI 30, addi, 0, 0, 0
  TEST_RI 31, addi, 2, 1, 1
  TEST_RI 32, addi, 0x8000000000000000, 0x7fffffffffffffff, 1
  TEST_RI 33, addi, 0xfffffffffffff800, 0, -2048
  TEST_RI 34, addi, 0x804, 5, 2047
  TEST_RI 35, addi, 0x100000000, 0xffffffff, 1
  TEST_RI 36, addi, -1, 0, -1
  TEST_RI 37, addi, 0x7fffffffffffffff, 0x8000000000000000, -1
  TEST_RI 38, addi, 0xffffffff, 0x100000000, -1
  TESTNUM 39
  li t0, 5
  addi t0, t0, -6
  CHECK t0, -1

  # ---- ADDW / SUBW / ADDIW ----
  TEST_RR 40, addw, 0xffffffff80000000, 0x7fffffff, 1
  TEST_RR 41, addw, 0, 0xffffffff, 1
  TEST_RR 42, addw, 0x23456789, 0x123456789, 0
  TEST_RR 43, addw, 0, 0xffffffff80000000, 0xffffffff80000000
  TEST_RR 44, addw, 0xfffffffffffffffe, 0x7fffffff, 0x7fffffff
  TEST_RR 45, addw, 3, 0xabcdef0000000001, 0x1234560000000002
  TEST_RR 46, subw, -1, 0, 1
  TEST_RR 47, subw, 0x7fffffff, 0xffffffff80000000, 1
  TEST_RR 48, subw, 0, 0x100000000, 0
  TEST_RR 49, subw, 2, 0x100000005, 3
  TEST_RR 50, subw, 0xffffffff80000000, 0x7fffffff, -1
  TEST_RI 51, addiw, 0xffffffff80000000, 0x7fffffff, 1
  TEST_RI 52, addiw, 0, 0xffffffff, 1
  TEST_RI 53, addiw, 0xfffffffffffff800, 0, -2048
  TEST_RI 54, addiw, 0x23456789, 0x123456789, 0
  TEST_RI 55, addiw, 0x7fffffff, 0x80000000, -1
  TEST_RI 56, addiw, 0xffffffff80000000, 0x80000000, 0
  TEST_RI 57, addiw, 0x7ff, 0xffffffff00000000, 2047

  # ---- SLT / SLTU / SLTI / SLTIU ----
  TEST_RR 60, slt, 1, -1, 1
  TEST_RR 61, slt, 0, 1, -1
  TEST_RR 62, slt, 1, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 63, slt, 0, 5, 5
  TEST_RR 64, slt, 1, 0xffffffff00000000, 0x00000000ffffffff
  TEST_RR 65, slt, 1, 0x100000000, 0x180000000
  TEST_RR 66, slt, 0, 0x180000000, 0x100000000
  TEST_RR 67, slt, 1, 0xffffffff7fffffff, 0xffffffff80000000
  TEST_RR 68, sltu, 0, -1, 1
  TEST_RR 69, sltu, 1, 1, -1
  TEST_RR 70, sltu, 0, 0x8000000000000000, 0x7fffffffffffffff
  TEST_RR 71, sltu, 0, 0, 0
  TEST_RR 72, sltu, 1, 0xffffffff, 0x100000000
  TEST_RR 73, sltu, 1, 0x7fffffff, 0x80000000
  TEST_RI 74, slti, 1, -1, 0
  TEST_RI 75, slti, 0, 0, -2048
  TEST_RI 76, slti, 0, 0x7ff, 0x7ff
  TEST_RI 77, slti, 1, 0x8000000000000000, -1
  TEST_RI 78, slti, 0, 0x80000000, 0
  TEST_RI 79, slti, 1, 0xfffffffffffff7ff, -2048
  TEST_RI 80, sltiu, 1, 0, -1
  TEST_RI 81, sltiu, 1, 0xfffffffffffffffe, -1
  TEST_RI 82, sltiu, 0, -1, -1
  TEST_RI 83, sltiu, 1, 5, 6
  TEST_RI 84, sltiu, 0, 0x100000000, 0x7ff
  TEST_RI 85, sltiu, 1, 0, 1
  TEST_RI 86, sltiu, 0, 0x100000000, 1
  TEST_RI 87, sltiu, 0, 0x80000000, 0x7ff

  # ---- logic ----
  TEST_RR 90, xor, 0xf0f0f0f0f0f0f0f0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
  TEST_RR 91, or, 0xfff0fff0fff0fff0, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
  TEST_RR 92, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0
  TEST_RR_SRC1 93, xor, 0, 0x123456789abcdef0, 0x123456789abcdef0
  TEST_RR_SRC2 94, or, -1, 0xff00ff00ff00ff00, 0x00ff00ff00ff00ff
  TEST_RI 95, xori, 0xff00ff00ff00ff00, 0x00ff00ff00ff00ff, -1
  TEST_RI 96, xori, 0x00ff080f, 0x00ff0f00, 0x70f
  TEST_RI 97, xori, 0xfffffffffffff800, 0, -2048
  TEST_RI 98, ori, 0xff00ff0f, 0xff00ff00, 0x70f
  TEST_RI 99, ori, -1, 0, -1
  TEST_RI 100, ori, 0x80000000000007ff, 0x8000000000000000, 0x7ff
  TEST_RI 101, andi, 0x700, 0xff00ff00ff00ff00, 0x7f0
  TEST_RI 104, andi, 0x123456789abcdef0, 0x123456789abcdeff, -16
  TEST_RI 102, andi, 0x123456789abcdef0, 0x123456789abcdef0, -1
  TEST_RI 103, andi, 0x123456789abcd800, 0x123456789abcdef0, -2048

  # ---- shifts (register amount uses the low 6 bits / 5 bits for W forms) ----
  TEST_RR 110, sll, 1, 1, 0
  TEST_RR 111, sll, 0x80000000, 1, 31
  TEST_RR 112, sll, 0x100000000, 1, 32
  TEST_RR 113, sll, 0x8000000000000000, 1, 63
  TEST_RR 114, sll, 1, 1, 64
  TEST_RR 115, sll, 2, 1, 0xffffffffffffffc1
  TEST_RR 116, sll, 0xfffffffffffffffe, -1, 1
  TEST_RR 117, sll, 0x123456789abcdef0, 0x0123456789abcdef, 4
  TEST_RR 118, sll, 0x9abcdef000000000, 0x0123456789abcdef, 36
  TEST_RR 119, sll, 0x89abcdef00000000, 0x0123456789abcdef, 32
  TEST_RR 120, srl, 0x8000000000000000, 0x8000000000000000, 0
  TEST_RR 121, srl, 0x4000000000000000, 0x8000000000000000, 1
  TEST_RR 122, srl, 0x100000000, 0x8000000000000000, 31
  TEST_RR 123, srl, 0x80000000, 0x8000000000000000, 32
  TEST_RR 124, srl, 1, 0x8000000000000000, 63
  TEST_RR 125, srl, 0x00123456789abcde, 0x0123456789abcdef, 4
  TEST_RR 126, srl, 0x0123456, 0x0123456789abcdef, 36
  TEST_RR 127, srl, 0x8000000000000000, 0x8000000000000000, 64
  TEST_RR 128, sra, 0xc000000000000000, 0x8000000000000000, 1
  TEST_RR 129, sra, 0xffffffff00000000, 0x8000000000000000, 31
  TEST_RR 130, sra, 0xffffffff80000000, 0x8000000000000000, 32
  TEST_RR 131, sra, -1, 0x8000000000000000, 63
  TEST_RR 132, sra, 0, 0x7fffffffffffffff, 63
  TEST_RR 133, sra, 0xfffffffff8123456, 0x8123456789abcdef, 36
  TEST_RR 134, sra, 0xf8123456789abcde, 0x8123456789abcdef, 4
  TEST_RR 135, sra, 0x8123456789abcdef, 0x8123456789abcdef, 0
  TEST_RR 136, sra, 0x000000007fffffff, 0x7fffffff00000000, 32

  TEST_RI 140, slli, 1, 1, 0
  TEST_RI 141, slli, 0x80000000, 1, 31
  TEST_RI 142, slli, 0x100000000, 1, 32
  TEST_RI 143, slli, 0x8000000000000000, 1, 63
  TEST_RI 144, slli, 0x9abcdef000000000, 0x0123456789abcdef, 36
  TEST_RI 145, slli, 0xfffffffe00000000, 0xffffffffffffffff, 33
  TEST_RI 146, srli, 0x8000000000000000, 0x8000000000000000, 0
  TEST_RI 147, srli, 0x100000000, 0x8000000000000000, 31
  TEST_RI 148, srli, 0x80000000, 0x8000000000000000, 32
  TEST_RI 149, srli, 1, 0x8000000000000000, 63
  TEST_RI 150, srli, 0x0123456, 0x0123456789abcdef, 36
  TEST_RI 151, srai, 0x8000000000000000, 0x8000000000000000, 0
  TEST_RI 152, srai, 0xffffffff00000000, 0x8000000000000000, 31
  TEST_RI 153, srai, 0xffffffff80000000, 0x8000000000000000, 32
  TEST_RI 154, srai, -1, 0x8000000000000000, 63
  TEST_RI 155, srai, 0xfffffffff8123456, 0x8123456789abcdef, 36
  TEST_RI 156, srai, 0, 0x7fffffffffffffff, 63

  TEST_RR 160, sllw, 0xffffffff80000000, 1, 31
  TEST_RR 161, sllw, 1, 1, 32
  TEST_RR 162, sllw, -1, 0xffffffff, 0
  TEST_RR 163, sllw, 0x23456780, 0x12345678, 4
  TEST_RR 164, sllw, 0x12345678, 0x112345678, 0
  TEST_RR 165, sllw, 0xffffffff80000000, 0xffffffffffffffff, 63
  TEST_RR 166, srlw, 0xffffffff80000000, 0xffffffff80000000, 0
  TEST_RR 167, srlw, 0x40000000, 0xffffffff80000000, 1
  TEST_RR 168, srlw, 1, 0xffffffff80000000, 31
  TEST_RR 169, srlw, 0xffffffff80000000, 0xffffffff80000000, 32
  TEST_RR 170, srlw, 0x0fffffff, -1, 4
  TEST_RR 171, srlw, 0x00876543, 0x1234567887654321, 8
  TEST_RR 172, sraw, 0xffffffffc0000000, 0xffffffff80000000, 1
  TEST_RR 173, sraw, -1, 0xffffffff80000000, 31
  TEST_RR 174, sraw, 0xffffffff80000000, 0xffffffff80000000, 32
  TEST_RR 175, sraw, 0, 0x7fffffff, 31
  TEST_RR 176, sraw, 0xffffffffff876543, 0x1234567887654321, 8
  TEST_RR 177, sraw, 0x12345678, 0xffffffff12345678, 0
  TEST_RI 180, slliw, 0xffffffff80000000, 1, 31
  TEST_RI 181, slliw, 0x23456780, 0x12345678, 4
  TEST_RI 182, slliw, 0xffffffff87654321, 0x0000000087654321, 0
  TEST_RI 183, srliw, 1, 0xffffffff80000000, 31
  TEST_RI 184, srliw, 0xffffffff80000000, 0xffffffff80000000, 0
  TEST_RI 185, srliw, 0x00876543, 0x1234567887654321, 8
  TEST_RI 186, sraiw, -1, 0xffffffff80000000, 31
  TEST_RI 187, sraiw, 0xffffffff80000000, 0x80000000, 0
  TEST_RI 188, sraiw, 0, 0x7fffffff, 31
  TEST_RI 189, sraiw, 0xffffffffff876543, 0x1234567887654321, 8

  # ---- branches ----
  TEST_BR_TAKEN 200, beq, 0, 0
  TEST_BR_TAKEN 201, beq, -1, -1
  TEST_BR_NOT_TAKEN 202, beq, 0, 1
  TEST_BR_NOT_TAKEN 203, beq, 0x100000000, 0
  TEST_BR_TAKEN 204, bne, 0x100000000, 0
  TEST_BR_TAKEN 205, bne, 1, 0
  TEST_BR_NOT_TAKEN 206, bne, 7, 7
  TEST_BR_NOT_TAKEN 207, bne, 0x8000000000000000, 0x8000000000000000
  TEST_BR_TAKEN 208, blt, -1, 0
  TEST_BR_NOT_TAKEN 209, blt, 0, -1
  TEST_BR_TAKEN 210, blt, 0x8000000000000000, 0x7fffffffffffffff
  TEST_BR_NOT_TAKEN 211, blt, 1, 1
  TEST_BR_TAKEN 212, blt, 0x100000000, 0x180000000
  TEST_BR_TAKEN 213, blt, 0xffffffff, 0x100000000
  TEST_BR_TAKEN 214, bge, 1, 1
  TEST_BR_TAKEN 215, bge, 0, -1
  TEST_BR_NOT_TAKEN 216, bge, -1, 0
  TEST_BR_TAKEN 217, bge, 0x7fffffffffffffff, 0x8000000000000000
  TEST_BR_NOT_TAKEN 218, bge, 0x100000000, 0x180000000
  TEST_BR_TAKEN 219, bltu, 0, -1
  TEST_BR_NOT_TAKEN 220, bltu, -1, 0
  TEST_BR_NOT_TAKEN 221, bltu, 1, 1
  TEST_BR_TAKEN 222, bltu, 0x7fffffffffffffff, 0x8000000000000000
  TEST_BR_NOT_TAKEN 223, bltu, 0x80000000, 0x7fffffff
  TEST_BR_TAKEN 224, bltu, 0x17fffffff, 0x180000000
  TEST_BR_TAKEN 225, bgeu, -1, 0
  TEST_BR_TAKEN 226, bgeu, 1, 1
  TEST_BR_NOT_TAKEN 227, bgeu, 0, -1
  TEST_BR_TAKEN 228, bgeu, 0x80000000, 0x7fffffff
  TEST_BR_NOT_TAKEN 229, bgeu, 0x7fffffffffffffff, 0x8000000000000000
  # A backward branch: a counted loop.
  TESTNUM 230
  li t0, 10
  li t1, 0
1:
  addi t1, t1, 3
  addi t0, t0, -1
  bnez t0, 1b
  CHECK t1, 30

  # ---- JAL / JALR ----
  TESTNUM 240
  jal t0, 1f
2:
  j fail
1:
  la t1, 2b
  bne t0, t1, fail
  TESTNUM 241
  j 2f            # forward, then backward
1:
  j 3f
2:
  j 1b
3:
  TESTNUM 242
  la t1, 1f
  jalr t0, 0(t1)
2:
  j fail
1:
  la t2, 2b
  bne t0, t2, fail
  TESTNUM 243
  # jalr clears bit 0 of the target; a positive and a negative offset.
  la t1, 1f
  addi t1, t1, 1
  jalr t0, 0(t1)
  j fail
1:
  la t1, 1f
  addi t1, t1, 16
  jalr t0, -16(t1)
  j fail
1:
  TESTNUM 244
  # rd = rs1: the target uses the old rs1.
  la t1, 1f
  jalr t1, 0(t1)
2:
  j fail
1:
  la t2, 2b
  bne t1, t2, fail
  TESTNUM 245
  # jal/jalr with rd = x0 do not write x0.
  jal x0, 1f
  j fail
1:
  la t1, 1f
  jalr x0, 0(t1)
  j fail
1:
  bnez x0, fail

  # ---- loads ----
  TEST_LD 250, lb, 0xffffffffffffff87, ldata, 0
  TEST_LD 251, lbu, 0x87, ldata, 0
  TEST_LD 252, lb, 0xffffffffffffff80, ldata, 7
  TEST_LD 253, lh, 0xffffffffffff8687, ldata, 0
  TEST_LD 254, lhu, 0x8687, ldata, 0
  TEST_LD 255, lh, 0xffffffffffff8081, ldata, 6
  TEST_LD 256, lw, 0xffffffff84858687, ldata, 0
  TEST_LD 257, lwu, 0x84858687, ldata, 0
  TEST_LD 258, lw, 0xffffffff80818283, ldata, 4
  TEST_LD 259, ld, 0x8081828384858687, ldata, 0
  TEST_LD 260, lb, 0x0f, ldata, 8
  TEST_LD 261, lh, 0x1f0f, ldata, 8
  TEST_LD 262, lw, 0x3f2f1f0f, ldata, 8
  TEST_LD 263, lb, 0x7f, ldata, 15
  TEST_LD 264, ld, 0x7f6f5f4f3f2f1f0f, ldata, 8
  TEST_LD 265, lwu, 0x7f6f5f4f, ldata, 12
  TEST_LD 266, lhu, 0x7f6f, ldata, 14
  TEST_LD 267, lbu, 0x80, ldata, 7
  # negative offsets
  TEST_LD 268, ld, 0x8081828384858687, ldata + 8, -8
  TEST_LD 269, lw, 0xffffffff80818283, ldata + 8, -4
  TEST_LD 270, lbu, 0x82, ldata + 2048, -2043
  # A load into x0 is performed but leaves x0 alone.
  TESTNUM 271
  la t0, ldata
  ld x0, 0(t0)
  bnez x0, fail

  # ---- stores ----
  TESTNUM 280
  la t0, sdata
  li t1, 0x0123456789abcdef
  sd t1, 0(t0)
  ld t2, 0(t0)
  bne t1, t2, fail
  TESTNUM 281
  li t1, 0x12345678aabbccdd
  sb t1, 1(t0)
  ld t2, 0(t0)
  CHECK t2, 0x0123456789abddef
  TESTNUM 282
  sh t1, 2(t0)
  ld t2, 0(t0)
  CHECK t2, 0x01234567ccddddef
  TESTNUM 283
  sw t1, 4(t0)
  ld t2, 0(t0)
  CHECK t2, 0xaabbccddccddddef
  TESTNUM 284
  # Neighbours untouched.
  ld t2, 8(t0)
  CHECK t2, 0x5555555555555555
  ld t2, -8(t0)
  CHECK t2, 0x5555555555555555
  TESTNUM 285
  addi t3, t0, 16
  sw t1, -4(t3)
  sh t1, -6(t3)
  sb t1, -7(t3)
  ld t2, 8(t0)
  CHECK t2, 0xaabbccddccdddd55

  # ---- W-form edge: results of 32-bit ops always sign-extend bit 31 ----
  TESTNUM 290
  li t0, 0x0000000180000000
  addiw t1, t0, 0
  CHECK t1, 0xffffffff80000000

  # ---- x0 is hard-wired ----
  TESTNUM 300
  addi x0, x0, 5
  lui x0, 0x12345
  auipc x0, 1
  add x0, t1, t1
  bnez x0, fail

  # ---- FENCE, FENCE.I with self-modifying code ----
  TESTNUM 310
  fence
  fence rw, rw
  fence.i
  TESTNUM 311
  la t0, smc_slot
  li t1, 0x02a00513          # addi a0, x0, 42
  sw t1, 0(t0)
  fence.i
  li a0, 0
smc_slot:
  .option push
  .option norvc
  addi a0, x0, 1
  .option pop
  CHECK a0, 42

TEST_CODE_END

  .data
  .align 3
ldata:
  .dword 0x8081828384858687
  .dword 0x7f6f5f4f3f2f1f0f
  .align 3
  .dword 0x5555555555555555
sdata:
  .dword 0
  .dword 0x5555555555555555
