# RV64M: MUL/MULH/MULHSU/MULHU, DIV/DIVU/REM/REMU and the W forms, with division by zero,
# INT_MIN / -1 overflow, operand signs, and garbage in the upper half of W-form sources.
# march: rv64g rv64gc
.include "test-macros.inc"

TEST_CODE_BEGIN

  TEST_RR 1, mul, 0, 0, 0
  TEST_RR 2, mul, 21, 3, 7
  TEST_RR 3, mul, 1, -1, -1
  TEST_RR 4, mul, 0xfffffffffffffffe, 0x7fffffffffffffff, 2
  TEST_RR 5, mul, 0, 0x100000000, 0x100000000
  TEST_RR 6, mul, 0xfffffffe00000001, 0xffffffff, 0xffffffff
  TEST_RR 7, mul, 0x8000000000000000, 0x8000000000000000, -1
  TEST_RR 8, mul, 0x2236d88fe5618cf0, 0x123456789abcdef0, 0x0fedcba987654321
  TEST_RR 9, mul, 0xffffffffffffffeb, -3, 7
  TEST_RR_SRC1 10, mul, 42, 6, 7
  TEST_RR_SRC2 11, mul, 42, 6, 7

  TEST_RR 20, mulh, 0, -1, -1
  TEST_RR 21, mulh, 0x4000000000000000, 0x8000000000000000, 0x8000000000000000
  TEST_RR 22, mulh, -1, 0x8000000000000000, 1
  TEST_RR 23, mulh, -1, -1, 1
  TEST_RR 24, mulh, 0x121fa00ad77d742, 0x123456789abcdef0, 0x0fedcba987654321
  TEST_RR 25, mulh, 0xffeb49923cc09532, 0x123456789abcdef0, 0xfedcba9876543210
  TEST_RR 26, mulh, 0, 0, -1
  TEST_RR 30, mulhsu, -1, -1, -1
  TEST_RR 31, mulhsu, 0x8000000000000000, 0x8000000000000000, -1
  TEST_RR 32, mulhsu, 1, 2, -1
  TEST_RR 33, mulhsu, 0x121fa00ad77d7422, 0x123456789abcdef0, 0xfedcba9876543210
  TEST_RR 34, mulhsu, 0, 0x7fffffffffffffff, 1
  TEST_RR 40, mulhu, 0xfffffffffffffffe, -1, -1
  TEST_RR 41, mulhu, 1, 0x8000000000000000, 2
  TEST_RR 42, mulhu, 0x121fa00ad77d7422, 0x123456789abcdef0, 0xfedcba9876543210
  TEST_RR 43, mulhu, 0, 0xffffffff, 0xffffffff

  TEST_RR 50, div, 3, 20, 6
  TEST_RR 51, div, -3, -20, 6
  TEST_RR 52, div, -3, 20, -6
  TEST_RR 53, div, 3, -20, -6
  TEST_RR 54, div, -1, 20, 0
  TEST_RR 55, div, -1, 0, 0
  TEST_RR 56, div, 0x8000000000000000, 0x8000000000000000, -1
  TEST_RR 57, div, 0xfd663cca33099703, 0x123456789abcdef0, -7
  TEST_RR 58, div, 0xffffffff80000000, 0xffffffff80000000, 1
  TEST_RR 59, div, 0x80000000, 0xffffffff80000000, -1
  TEST_RR 60, divu, 3, 20, 6
  TEST_RR 61, divu, 0x2aaaaaaaaaaaaaa7, -20, 6
  TEST_RR 62, divu, -1, 20, 0
  TEST_RR 63, divu, 0xe0004fa01c4d, 0xfedcba9876543210, 0x12345
  TEST_RR 64, divu, 0, 5, -1
  TEST_RR 65, divu, 0x80000000, 0x80000000, 1
  TEST_RR 70, rem, 2, 20, 6
  TEST_RR 71, rem, -2, -20, 6
  TEST_RR 72, rem, 2, 20, -6
  TEST_RR 73, rem, -2, -20, -6
  TEST_RR 74, rem, 20, 20, 0
  TEST_RR 75, rem, 0x8000000000000000, 0x8000000000000000, 0
  TEST_RR 76, rem, 0, 0x8000000000000000, -1
  TEST_RR 77, rem, 5, 0x123456789abcdef0, -7
  TEST_RR 78, rem, 0, 0xffffffff80000000, -1
  TEST_RR 80, remu, 2, 20, 6
  TEST_RR 81, remu, 2, -20, 6
  TEST_RR 82, remu, -20, -20, 0
  TEST_RR 83, remu, 0x10a4f, 0xfedcba9876543210, 0x12345
  TEST_RR 84, remu, 5, 5, -1
  TEST_RR_SRC1 85, div, 7, 49, 7
  TEST_RR_SRC2 86, rem, 0, 49, 7

  TEST_RR 100, mulw, 0xfffffffffffffffe, 0x7fffffff, 2
  TEST_RR 101, mulw, 3, 0x100000001, 0x100000003
  TEST_RR 102, mulw, 1, -1, -1
  TEST_RR 103, mulw, 0xffffffff80000000, 0x80000000, -1
  TEST_RR 104, mulw, 0x242d2080, 0x12345678, 0x9abcdef0
  TEST_RR 110, divw, 3, 20, 6
  TEST_RR 111, divw, -3, -20, 6
  TEST_RR 112, divw, -1, 20, 0
  TEST_RR 113, divw, 0xffffffff80000000, 0xffffffff80000000, -1
  TEST_RR 114, divw, 3, 0x500000014, 6
  TEST_RR 115, divw, 0xffffffff80000000, 0x80000000, 0xffffffff
  TEST_RR 120, divuw, 0x2aaaaaa7, 0xffffffec, 6
  TEST_RR 121, divuw, -1, 20, 0
  TEST_RR 122, divuw, 0xffffffff80000000, 0x80000000, 1
  TEST_RR 123, divuw, 0x7fffffff, 0x1ffffffff, 0x100000002
  TEST_RR 124, divuw, -1, 0xffffffff, 0x100000000
  TEST_RR 130, remw, -2, -20, 6
  TEST_RR 131, remw, 0xffffffff80000000, 0x80000000, 0
  TEST_RR 132, remw, 0, 0xffffffff80000000, -1
  TEST_RR 133, remw, 2, 0x100000014, 0x300000006
  TEST_RR 140, remuw, 2, 0xffffffec, 6
  TEST_RR 141, remuw, 0xffffffff80000001, 0x80000001, 0
  TEST_RR 142, remuw, 0xffffffff80000001, 0x180000001, 0xffffffff00000000
  TEST_RR 143, remuw, 5, 5, 0xffffffff

TEST_CODE_END
