# F/D smoke tests (the FPU has its own exhaustive vector tests): loads/stores move raw bits, NaN-boxing
# of single values and the canonical-NaN rule for improperly boxed inputs, fmv/fcvt with sign
# extension and saturation, fflags accrual, rounding modes (static, dynamic, reserved → illegal), the
# IEEE 754-2008 min/max and compare rules, fclass, fused multiply-add, and mstatus.FS (Off → illegal,
# any FP write → Dirty).
# march: rv64g rv64gc
.include "test-macros.inc"

.equ NX, 0x01
.equ UF, 0x02
.equ OF, 0x04
.equ DZ, 0x08
.equ NV, 0x10

# Checks fflags == flags and clears them.
.macro CHECK_FLAGS flags
  fsflags t5, x0
  CHECK t5, \flags
.endm

# Loads the 32-bit pattern `bits` NaN-boxed into freg.
.macro LI_S freg, bits
  li t5, \bits
  fmv.w.x \freg, t5
.endm

.macro LI_D freg, bits
  li t5, \bits
  fmv.d.x \freg, t5
.endm

# Checks the raw 64 bits of freg.
.macro CHECK_FD freg, bits
  fmv.x.d t5, \freg
  CHECK t5, \bits
.endm

TEST_CODE_BEGIN
  csrw fcsr, zero

  # ---- loads, stores and moves: raw bits, NaN-boxing ----
  TESTNUM 1
  la a0, fdata
  flw ft0, 0(a0)
  fmv.x.w t0, ft0
  CHECK t0, 0x3fc00000
  CHECK_FD ft0, 0xffffffff3fc00000
  TESTNUM 2
  flw ft1, 4(a0)
  fmv.x.w t0, ft1
  CHECK t0, 0xffffffffbfc00000
  TESTNUM 3
  la a1, fbuf
  fsw ft1, 0(a1)
  ld t0, 0(a1)
  CHECK t0, 0x55555555bfc00000
  TESTNUM 4
  # A signalling NaN moves through fld/fsd/fmv untouched and raises nothing.
  fld ft2, 8(a0)
  CHECK_FD ft2, 0x7ff0000000000001
  fsd ft2, 8(a1)
  ld t0, 8(a1)
  CHECK t0, 0x7ff0000000000001
  CHECK_FLAGS 0
  TESTNUM 5
  li t0, 0x123456783f800000
  fmv.w.x ft3, t0
  CHECK_FD ft3, 0xffffffff3f800000
  TESTNUM 6
  # Improperly boxed single inputs read as the canonical NaN (no NV: it is quiet).
  LI_D ft4, 0x000000003f800000
  fadd.s ft5, ft4, ft4
  CHECK_FD ft5, 0xffffffff7fc00000
  CHECK_FLAGS 0
  fsgnj.s ft5, ft4, ft4
  CHECK_FD ft5, 0xffffffff7fc00000
  fmv.x.w t0, ft4
  CHECK t0, 0x3f800000
  fsw ft4, 16(a1)
  lwu t0, 16(a1)
  CHECK t0, 0x3f800000
  TESTNUM 7
  fclass.s t0, ft4
  CHECK t0, 0x200

  # ---- arithmetic and fflags ----
  TESTNUM 10
  fadd.s ft5, ft0, ft0
  CHECK_FD ft5, 0xffffffff40400000
  CHECK_FLAGS 0
  TESTNUM 11
  LI_D fa0, 0x3ff0000000000000
  LI_D fa1, 0x4000000000000000
  fadd.d fa2, fa0, fa1
  CHECK_FD fa2, 0x4008000000000000
  TESTNUM 12
  LI_S fa0, 0x3f800000
  LI_S fa1, 0x00000000
  fdiv.s fa2, fa0, fa1
  CHECK_FD fa2, 0xffffffff7f800000
  CHECK_FLAGS DZ
  TESTNUM 13
  LI_S fa1, 0x40400000
  fdiv.s fa2, fa0, fa1
  CHECK_FD fa2, 0xffffffff3eaaaaab
  CHECK_FLAGS NX
  TESTNUM 14
  LI_S fa0, 0xbf800000
  fsqrt.s fa2, fa0
  CHECK_FD fa2, 0xffffffff7fc00000
  CHECK_FLAGS NV
  TESTNUM 15
  # Flags accrue.
  LI_S fa0, 0x3f800000
  LI_S fa1, 0x00000000
  fdiv.s fa2, fa0, fa1
  LI_S fa1, 0x40400000
  fdiv.s fa2, fa0, fa1
  CHECK_FLAGS DZ | NX
  TESTNUM 16
  LI_D fa0, 0x7fefffffffffffff
  fmul.d fa2, fa0, fa0
  CHECK_FD fa2, 0x7ff0000000000000
  CHECK_FLAGS OF | NX
  TESTNUM 17
  LI_D fa0, 0x4000000000000000
  LI_D fa1, 0x4008000000000000
  LI_D fa2, 0x3ff0000000000000
  fmadd.d fa3, fa0, fa1, fa2
  CHECK_FD fa3, 0x401c000000000000
  fnmsub.d fa3, fa0, fa1, fa2
  CHECK_FD fa3, 0xc014000000000000
  TESTNUM 18
  LI_S fa0, 0x40000000
  LI_S fa1, 0x40400000
  LI_S fa2, 0x3f800000
  fmsub.s fa3, fa0, fa1, fa2
  CHECK_FD fa3, 0xffffffff40a00000
  fnmadd.s fa3, fa0, fa1, fa2
  CHECK_FD fa3, 0xffffffffc0e00000
  CHECK_FLAGS 0

  # ---- conversions ----
  TESTNUM 20
  LI_S fa0, 0x3fc00000          # 1.5
  fcvt.w.s t0, fa0, rtz
  CHECK t0, 1
  fcvt.w.s t0, fa0, rne
  CHECK t0, 2
  CHECK_FLAGS NX
  TESTNUM 21
  LI_S fa0, 0xbfc00000          # -1.5
  fcvt.w.s t0, fa0, rdn
  CHECK t0, -2
  fcvt.w.s t0, fa0, rup
  CHECK t0, -1
  LI_S fa0, 0x40200000          # 2.5
  fcvt.w.s t0, fa0, rmm
  CHECK t0, 3
  fcvt.w.s t0, fa0, rne
  CHECK t0, 2
  CHECK_FLAGS NX
  TESTNUM 22
  LI_S fa0, 0x7fc00000
  fcvt.w.s t0, fa0, rtz
  CHECK t0, 0x7fffffff
  CHECK_FLAGS NV
  TESTNUM 23
  LI_S fa0, 0xbf800000          # -1.0
  fcvt.wu.s t0, fa0, rtz
  CHECK t0, 0
  CHECK_FLAGS NV
  TESTNUM 24
  LI_S fa0, 0x4f32d05e          # 3e9: fits in u32; the 32-bit result is sign-extended
  fcvt.wu.s t0, fa0, rtz
  CHECK t0, 0xffffffffb2d05e00
  fcvt.w.s t0, fa0, rtz
  CHECK t0, 0x7fffffff
  CHECK_FLAGS NV
  TESTNUM 25
  LI_S fa0, 0xbf000000          # -0.5 rounds to 0: inexact, not invalid
  fcvt.wu.s t0, fa0, rtz
  CHECK t0, 0
  CHECK_FLAGS NX
  TESTNUM 26
  LI_D fa0, 0x43e0000000000000  # 2^63
  fcvt.l.d t0, fa0, rtz
  CHECK t0, 0x7fffffffffffffff
  CHECK_FLAGS NV
  LI_D fa0, 0xc3e0000000000000  # -2^63
  fcvt.l.d t0, fa0, rtz
  CHECK t0, 0x8000000000000000
  CHECK_FLAGS 0
  TESTNUM 27
  LI_D fa0, 0x43e158e460913d00  # 1e19
  fcvt.lu.d t0, fa0, rtz
  CHECK t0, 0x8ac7230489e80000
  TESTNUM 28
  li t0, -1
  fcvt.s.w fa0, t0
  CHECK_FD fa0, 0xffffffffbf800000
  li t0, 0x7fffffffffffffff
  fcvt.s.l fa0, t0
  CHECK_FD fa0, 0xffffffff5f000000
  CHECK_FLAGS NX
  TESTNUM 29
  li t0, 0x20000000000001       # 2^53 + 1: ties to even
  fcvt.d.l fa0, t0
  CHECK_FD fa0, 0x4340000000000000
  CHECK_FLAGS NX
  TESTNUM 30
  li t0, 0xabcdef00ffffffff     # only the low word counts
  fcvt.d.wu fa0, t0
  CHECK_FD fa0, 0x41efffffffe00000
  CHECK_FLAGS 0
  TESTNUM 31
  LI_S fa0, 0x3fc00000
  fcvt.d.s fa1, fa0
  CHECK_FD fa1, 0x3ff8000000000000
  LI_D fa0, 0x3ff0000000000001
  fcvt.s.d fa1, fa0
  CHECK_FD fa1, 0xffffffff3f800000
  CHECK_FLAGS NX
  TESTNUM 32
  LI_S fa0, 0x7f800001          # signalling NaN
  fcvt.d.s fa1, fa0
  CHECK_FD fa1, 0x7ff8000000000000
  CHECK_FLAGS NV

  # ---- sign injection ----
  TESTNUM 40
  LI_D fa0, 0x3ff0000000000000
  LI_D fa1, 0xc000000000000000
  fsgnj.d fa2, fa0, fa1
  CHECK_FD fa2, 0xbff0000000000000
  fsgnjn.d fa2, fa0, fa1
  CHECK_FD fa2, 0x3ff0000000000000
  fsgnjx.d fa2, fa1, fa1
  CHECK_FD fa2, 0x4000000000000000
  fneg.d fa2, fa0
  CHECK_FD fa2, 0xbff0000000000000
  fabs.d fa2, fa1
  CHECK_FD fa2, 0x4000000000000000
  TESTNUM 41
  LI_S fa0, 0x3f800000
  LI_S fa1, 0xc0000000
  fsgnjx.s fa2, fa0, fa1
  CHECK_FD fa2, 0xffffffffbf800000
  CHECK_FLAGS 0

  # ---- min/max/compare ----
  TESTNUM 50
  LI_S fa0, 0x80000000          # -0
  LI_S fa1, 0x00000000          # +0
  fmin.s fa2, fa0, fa1
  CHECK_FD fa2, 0xffffffff80000000
  fmax.s fa2, fa0, fa1
  CHECK_FD fa2, 0xffffffff00000000
  fmin.s fa2, fa1, fa0
  CHECK_FD fa2, 0xffffffff80000000
  TESTNUM 51
  LI_S fa0, 0x7fc00000          # quiet NaN
  LI_S fa1, 0x3f800000
  fmin.s fa2, fa0, fa1
  CHECK_FD fa2, 0xffffffff3f800000
  CHECK_FLAGS 0
  TESTNUM 52
  LI_S fa0, 0x7f800001          # signalling NaN
  fmax.s fa2, fa0, fa1
  CHECK_FD fa2, 0xffffffff3f800000
  CHECK_FLAGS NV
  TESTNUM 53
  LI_D fa0, 0x7ff8000000000001
  LI_D fa1, 0xfff0000000000001
  fmin.d fa2, fa0, fa1
  CHECK_FD fa2, 0x7ff8000000000000
  CHECK_FLAGS NV
  TESTNUM 54
  LI_S fa0, 0x7fc00000
  LI_S fa1, 0x3f800000
  feq.s t0, fa0, fa1
  CHECK t0, 0
  CHECK_FLAGS 0
  flt.s t0, fa0, fa1
  CHECK t0, 0
  CHECK_FLAGS NV
  fle.s t0, fa1, fa0
  CHECK t0, 0
  CHECK_FLAGS NV
  TESTNUM 55
  LI_S fa0, 0x7f800001
  feq.s t0, fa0, fa0
  CHECK t0, 0
  CHECK_FLAGS NV
  TESTNUM 56
  LI_D fa0, 0xbff0000000000000
  LI_D fa1, 0x3ff0000000000000
  flt.d t0, fa0, fa1
  CHECK t0, 1
  fle.d t0, fa1, fa1
  CHECK t0, 1
  feq.d t0, fa0, fa1
  CHECK t0, 0
  LI_D fa0, 0x8000000000000000
  LI_D fa1, 0x0000000000000000
  feq.d t0, fa0, fa1
  CHECK t0, 1
  flt.d t0, fa0, fa1
  CHECK t0, 0
  CHECK_FLAGS 0

  # ---- fclass ----
  TESTNUM 60
  LI_S fa0, 0xff800000
  fclass.s t0, fa0
  CHECK t0, 0x001
  LI_S fa0, 0x80000001
  fclass.s t0, fa0
  CHECK t0, 0x004
  LI_S fa0, 0x00000000
  fclass.s t0, fa0
  CHECK t0, 0x010
  LI_S fa0, 0x7f800000
  fclass.s t0, fa0
  CHECK t0, 0x080
  LI_S fa0, 0x7f800001
  fclass.s t0, fa0
  CHECK t0, 0x100
  LI_S fa0, 0x7fc00000
  fclass.s t0, fa0
  CHECK t0, 0x200
  LI_D fa0, 0x3ff0000000000000
  fclass.d t0, fa0
  CHECK t0, 0x040
  LI_D fa0, 0xbff0000000000000
  fclass.d t0, fa0
  CHECK t0, 0x002
  LI_D fa0, 0x8000000000000000
  fclass.d t0, fa0
  CHECK t0, 0x008
  CHECK_FLAGS 0

  # ---- rounding mode: dynamic, and reserved modes are illegal ----
  TESTNUM 70
  csrwi frm, 1                  # RTZ
  LI_S fa0, 0x3fc00000
  fcvt.w.s t0, fa0
  CHECK t0, 1
  csrwi frm, 3                  # RUP
  fcvt.w.s t0, fa0
  CHECK t0, 2
  CHECK_FLAGS NX
  csrwi frm, 7                  # reserved: dynamic-rm instructions become illegal
  TEST_TRAP 71, CAUSE_ILLEGAL, 0x0020f053, .word 0x0020f053     # fadd.s ft0, ft1, ft2, dyn
  csrwi frm, 0
  TEST_TRAP 72, CAUSE_ILLEGAL, 0x0020d053, .word 0x0020d053     # fadd.s with rm = 5
  TEST_TRAP 73, CAUSE_ILLEGAL, 0x0020e053, .word 0x0020e053     # fadd.s with rm = 6

  # ---- mstatus.FS ----
  TESTNUM 80
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 0x2000                 # Initial
  csrs mstatus, t0
  LI_S fa0, 0x3f800000
  csrr t0, mstatus
  srli t0, t0, 13
  andi t0, t0, 3
  CHECK t0, 3
  TESTNUM 81
  li t0, MSTATUS_FS
  csrc mstatus, t0
  li t0, 0x2000
  csrs mstatus, t0
  csrwi fflags, 0
  csrr t0, mstatus
  srli t0, t0, 13
  andi t0, t0, 3
  CHECK t0, 3
  TESTNUM 82
  li t0, MSTATUS_FS
  csrc mstatus, t0
  csrr t0, mstatus
  bltz t0, fail                 # SD clears with FS
  la a0, fdata
  la a1, fdata
  TEST_TRAP 83, CAUSE_ILLEGAL, 0x0020f053, fadd.s ft0, ft1, ft2
  TEST_TRAP 84, CAUSE_ILLEGAL, 0x00052007, .word 0x00052007       # flw ft0, 0(a0)
  TEST_TRAP 85, CAUSE_ILLEGAL, 0x001022f3, csrr t0, fflags
  TEST_TRAP 86, CAUSE_ILLEGAL, 0xe0000553, .word 0xe0000553       # fmv.x.w a0, ft0
  TEST_TRAP 87, CAUSE_ILLEGAL, 0x00000000000002188, .half 0x2188  # c.fld fa0, 0(a1): mtval is the 16-bit parcel
  li t0, MSTATUS_FS
  csrs mstatus, t0

TEST_CODE_END

  .data
  .align 3
fdata:
  .word 0x3fc00000              # 0: 1.5f
  .word 0xbfc00000              # 4: -1.5f
  .dword 0x7ff0000000000001     # 8: signalling NaN (double)
fbuf:
  .dword 0x5555555555555555, 0x5555555555555555, 0x5555555555555555
