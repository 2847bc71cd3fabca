// Reference-vector generator for src/cpu/fpu.ts. Built for riscv64 Linux and run under qemu-riscv64 (see
// gen.sh): every F/D OP-FP and fused instruction is executed for real, under each static rounding mode and
// under rm=dyn with frm set, over a table of edge operands and seeded random ones. It prints JSON: per
// instruction the encodings it ran and, per operand tuple, the destination bits and fflags.
//
// Fixed registers, so the recorded encodings are simple: fp sources ft0/ft1/ft2 (f0..f2), integer source
// t1 (x6), fp destination ft3 (f3), integer destination t3 (x28).

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*insn_fn)(const uint64_t *in, uint64_t *out);

// in: [0..2] = ft0..ft2 bits, [3] = t1, [4] = frm. out: [0] = ft3, [1] = t3, [2] = fflags, [3] = encoding.
#define FN(ID, TEXT)                                                                                    \
  static void ID(const uint64_t *in, uint64_t *out) {                                                   \
    __asm__ volatile("fld ft0, 0(%0)\n\tfld ft1, 8(%0)\n\tfld ft2, 16(%0)\n\tld t1, 24(%0)\n\t"          \
                     "ld t0, 32(%0)\n\tfsrm t0\n\tfsflags zero\n\t"                                     \
                     "1: " TEXT "\n\t"                                                                  \
                     "frflags t2\n\tfsd ft3, 0(%1)\n\tsd t3, 8(%1)\n\tsd t2, 16(%1)\n\t"                \
                     "la t4, 1b\n\tlwu t4, 0(t4)\n\tsd t4, 24(%1)\n\t"                                  \
                     :                                                                                  \
                     : "r"(in), "r"(out)                                                                \
                     : "t0", "t1", "t2", "t3", "t4", "ft0", "ft1", "ft2", "ft3", "memory");             \
  }

// One function per rounding mode: rne rtz rdn rup rmm, then dyn (rm=7, frm from in[4]).
#define RM6(ID, TEXT)                                                                                  \
  FN(ID##_0, TEXT ", rne") FN(ID##_1, TEXT ", rtz") FN(ID##_2, TEXT ", rdn") FN(ID##_3, TEXT ", rup") \
      FN(ID##_4, TEXT ", rmm") FN(ID##_7, TEXT ", dyn")
// binutils 2.40 refuses an rm operand on the exact conversions (fcvt.d.s, fcvt.d.w[u]), so spell them raw.
#define RM6I(ID, PRE, POST)                                                                             \
  FN(ID##_0, PRE "0" POST) FN(ID##_1, PRE "1" POST) FN(ID##_2, PRE "2" POST) FN(ID##_3, PRE "3" POST) \
      FN(ID##_4, PRE "4" POST) FN(ID##_7, PRE "7" POST)
#define FNS6(ID) {ID##_0, ID##_1, ID##_2, ID##_3, ID##_4, ID##_7}
#define FNS1(ID) {ID, 0, 0, 0, 0, 0}

#define FP_OPS(F)                                                            \
  RM6(fadd_##F, "fadd." #F " ft3, ft0, ft1")                                 \
  RM6(fsub_##F, "fsub." #F " ft3, ft0, ft1")                                 \
  RM6(fmul_##F, "fmul." #F " ft3, ft0, ft1")                                 \
  RM6(fdiv_##F, "fdiv." #F " ft3, ft0, ft1")                                 \
  RM6(fsqrt_##F, "fsqrt." #F " ft3, ft0")                                    \
  RM6(fmadd_##F, "fmadd." #F " ft3, ft0, ft1, ft2")                          \
  RM6(fmsub_##F, "fmsub." #F " ft3, ft0, ft1, ft2")                          \
  RM6(fnmsub_##F, "fnmsub." #F " ft3, ft0, ft1, ft2")                        \
  RM6(fnmadd_##F, "fnmadd." #F " ft3, ft0, ft1, ft2")                        \
  FN(fsgnj_##F, "fsgnj." #F " ft3, ft0, ft1")                                \
  FN(fsgnjn_##F, "fsgnjn." #F " ft3, ft0, ft1")                              \
  FN(fsgnjx_##F, "fsgnjx." #F " ft3, ft0, ft1")                              \
  FN(fmin_##F, "fmin." #F " ft3, ft0, ft1")                                  \
  FN(fmax_##F, "fmax." #F " ft3, ft0, ft1")                                  \
  FN(feq_##F, "feq." #F " t3, ft0, ft1")                                     \
  FN(flt_##F, "flt." #F " t3, ft0, ft1")                                     \
  FN(fle_##F, "fle." #F " t3, ft0, ft1")                                     \
  FN(fclass_##F, "fclass." #F " t3, ft0")                                    \
  RM6(fcvt_w_##F, "fcvt.w." #F " t3, ft0")                                   \
  RM6(fcvt_wu_##F, "fcvt.wu." #F " t3, ft0")                                 \
  RM6(fcvt_l_##F, "fcvt.l." #F " t3, ft0")                                   \
  RM6(fcvt_lu_##F, "fcvt.lu." #F " t3, ft0")                                 \
  RM6(fcvt_##F##_l, "fcvt." #F ".l ft3, t1")                                 \
  RM6(fcvt_##F##_lu, "fcvt." #F ".lu ft3, t1")

FP_OPS(s)
FP_OPS(d)
RM6(fcvt_s_w, "fcvt.s.w ft3, t1")
RM6(fcvt_s_wu, "fcvt.s.wu ft3, t1")
RM6(fcvt_s_d, "fcvt.s.d ft3, ft0")
// FCVT.D.W: funct7 1101001, rs2 = 0 (W) / 1 (WU); FCVT.D.S: funct7 0100001, rs2 = 0.
RM6I(fcvt_d_w, ".insn r 0x53, ", ", 0x69, ft3, t1, x0")
RM6I(fcvt_d_wu, ".insn r 0x53, ", ", 0x69, ft3, t1, x1")
RM6I(fcvt_d_s, ".insn r 0x53, ", ", 0x21, ft3, ft0, x0")
FN(fmv_x_w, "fmv.x.w t3, ft0")
FN(fmv_w_x, "fmv.w.x ft3, t1")
FN(fmv_x_d, "fmv.x.d t3, ft0")
FN(fmv_d_x, "fmv.d.x ft3, t1")

// Operand categories decide which tuples an instruction is run over.
enum cat { ARITH, SQRT, FMA, SGNJ, CMP, CLASS, CVT_FX, CVT_XF, CVT_FF, MV_FX, MV_XF };

struct op {
  const char *name;
  const char *kind;  // "dst:srcs": d = double f reg, s = single f reg, x = integer reg
  enum cat cat;
  char fmt;          // fmt of the fp sources ('s' or 'd'), or of the destination for CVT_XF / MV_XF
  char sub;          // per-category detail: '+','-','*','/' for ARITH; 'w','W','l','L' for int width
  insn_fn fn[6];     // rne rtz rdn rup rmm dyn, or only fn[0] for instructions without rm
};

#define OPS_OF(F)                                                                \
  {"fadd." #F, #F ":" #F #F, ARITH, #F[0], '+', FNS6(fadd_##F)},                 \
      {"fsub." #F, #F ":" #F #F, ARITH, #F[0], '-', FNS6(fsub_##F)},             \
      {"fmul." #F, #F ":" #F #F, ARITH, #F[0], '*', FNS6(fmul_##F)},             \
      {"fdiv." #F, #F ":" #F #F, ARITH, #F[0], '/', FNS6(fdiv_##F)},             \
      {"fsqrt." #F, #F ":" #F, SQRT, #F[0], 0, FNS6(fsqrt_##F)},                 \
      {"fmadd." #F, #F ":" #F #F #F, FMA, #F[0], 0, FNS6(fmadd_##F)},            \
      {"fmsub." #F, #F ":" #F #F #F, FMA, #F[0], 1, FNS6(fmsub_##F)},            \
      {"fnmsub." #F, #F ":" #F #F #F, FMA, #F[0], 1, FNS6(fnmsub_##F)},          \
      {"fnmadd." #F, #F ":" #F #F #F, FMA, #F[0], 1, FNS6(fnmadd_##F)},          \
      {"fsgnj." #F, #F ":" #F #F, SGNJ, #F[0], 0, FNS1(fsgnj_##F)},              \
      {"fsgnjn." #F, #F ":" #F #F, SGNJ, #F[0], 0, FNS1(fsgnjn_##F)},            \
      {"fsgnjx." #F, #F ":" #F #F, SGNJ, #F[0], 0, FNS1(fsgnjx_##F)},            \
      {"fmin." #F, #F ":" #F #F, CMP, #F[0], 0, FNS1(fmin_##F)},                 \
      {"fmax." #F, #F ":" #F #F, CMP, #F[0], 0, FNS1(fmax_##F)},                 \
      {"feq." #F, "x:" #F #F, CMP, #F[0], 0, FNS1(feq_##F)},                     \
      {"flt." #F, "x:" #F #F, CMP, #F[0], 0, FNS1(flt_##F)},                     \
      {"fle." #F, "x:" #F #F, CMP, #F[0], 0, FNS1(fle_##F)},                     \
      {"fclass." #F, "x:" #F, CLASS, #F[0], 0, FNS1(fclass_##F)},                \
      {"fcvt.w." #F, "x:" #F, CVT_FX, #F[0], 'w', FNS6(fcvt_w_##F)},             \
      {"fcvt.wu." #F, "x:" #F, CVT_FX, #F[0], 'W', FNS6(fcvt_wu_##F)},           \
      {"fcvt.l." #F, "x:" #F, CVT_FX, #F[0], 'l', FNS6(fcvt_l_##F)},             \
      {"fcvt.lu." #F, "x:" #F, CVT_FX, #F[0], 'L', FNS6(fcvt_lu_##F)},           \
      {"fcvt." #F ".w", #F ":x", CVT_XF, #F[0], 'w', FNS6(fcvt_##F##_w)},        \
      {"fcvt." #F ".wu", #F ":x", CVT_XF, #F[0], 'W', FNS6(fcvt_##F##_wu)},      \
      {"fcvt." #F ".l", #F ":x", CVT_XF, #F[0], 'l', FNS6(fcvt_##F##_l)},        \
      {"fcvt." #F ".lu", #F ":x", CVT_XF, #F[0], 'L', FNS6(fcvt_##F##_lu)}

static const struct op OPS[] = {
    OPS_OF(s),
    OPS_OF(d),
    {"fcvt.s.d", "s:d", CVT_FF, 'd', 0, FNS6(fcvt_s_d)},
    {"fcvt.d.s", "d:s", CVT_FF, 's', 0, FNS6(fcvt_d_s)},
    {"fmv.x.w", "x:s", MV_FX, 's', 0, FNS1(fmv_x_w)},
    {"fmv.w.x", "s:x", MV_XF, 's', 0, FNS1(fmv_w_x)},
    {"fmv.x.d", "x:d", MV_FX, 'd', 0, FNS1(fmv_x_d)},
    {"fmv.d.x", "d:x", MV_XF, 'd', 0, FNS1(fmv_d_x)},
};

// ---- seeded randomness (xorshift64*) so regenerating gives the same file ----

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}
static int rndn(int n) { return (int)(rnd() % (uint64_t)n); }

#define BOX 0xffffffff00000000ull

// Format parameters: precision (with hidden bit), exponent bias, emax, field widths.
struct fmt {
  int p, bias, emin, emax, ebits;
};
static const struct fmt FMT_S = {24, 127, -126, 127, 8};
static const struct fmt FMT_D = {53, 1023, -1022, 1023, 11};

// A significand pattern: random, or with a run of trailing zeros (exact results, halfway cases), or ones.
static uint64_t rand_frac(const struct fmt *f) {
  int fb = f->p - 1;
  uint64_t mask = (1ull << fb) - 1;
  uint64_t m = rnd() & mask;
  switch (rndn(6)) {
    case 0:
    case 1:
      return m;
    case 2:
      return m & ~((1ull << rndn(fb + 1)) - 1) & mask;  // trailing zeros
    case 3:
      return (m | ((1ull << rndn(fb + 1)) - 1)) & mask;  // trailing ones
    case 4:
      return rndn(2) ? 0 : mask;
    default:
      return (1ull << rndn(fb)) | (rndn(2) ? 1 : 0);
  }
}

// A value with the given unbiased exponent (clamped into the format; below emin it becomes subnormal).
static uint64_t make_fp(const struct fmt *f, int sign, int exp, uint64_t frac) {
  int fb = f->p - 1;
  uint64_t bits;
  if (exp > f->emax) exp = f->emax;
  if (exp >= f->emin) {
    bits = ((uint64_t)(exp + f->bias) << fb) | frac;
  } else {
    int sh = f->emin - exp;
    if (sh > fb) sh = fb;
    bits = ((frac | (1ull << fb)) >> sh);
    if (bits == 0) bits = 1;
  }
  bits |= (uint64_t)sign << (fb + f->ebits);
  return f == &FMT_S ? (bits | BOX) : bits;
}

static int rand_exp(const struct fmt *f) {
  switch (rndn(5)) {
    case 0:
      return f->emin - f->p + rndn(2 * f->p + 2);  // subnormal / min-normal neighbourhood
    case 1:
      return f->emax - rndn(4);
    case 2:
      return rndn(2 * f->emax + f->p) - f->emax - f->p + 1;  // anywhere
    default:
      return rndn(16) - 8;
  }
}

static uint64_t rand_fp(const struct fmt *f) {
  int r = rndn(40);
  uint64_t nanbits = f == &FMT_S ? 0x7f800000ull : 0x7ff0000000000000ull;
  if (r == 0) return (f == &FMT_S ? BOX : 0) | nanbits | (rnd() & ((1ull << (f->p - 1)) - 1)) | 1;  // NaN
  if (r == 1) return make_fp(f, rndn(2), f->emax + 1, 0) | (f == &FMT_S ? BOX : 0) | nanbits;      // inf
  return make_fp(f, rndn(2), rand_exp(f), rand_frac(f));
}

static int exp_of(const struct fmt *f, uint64_t v) {
  int fb = f->p - 1;
  int e = (int)((v >> fb) & ((1u << f->ebits) - 1));
  return e == 0 ? f->emin : e - f->bias;
}

static int is_nan_or_zero(const struct fmt *f, uint64_t v) {
  int fb = f->p - 1;
  if (f == &FMT_S && (v >> 32) != 0xffffffffu) return 1;  // not NaN-boxed: reads as NaN
  uint64_t e = (v >> fb) & ((1u << f->ebits) - 1), m = v & ((1ull << fb) - 1);
  return (e == (1u << f->ebits) - 1 && m != 0) || (e == 0 && m == 0);
}

// ---- operand tables ----

static const uint64_t D_SPECIAL[] = {
    0x0000000000000000, 0x8000000000000000,  // ±0
    0x0000000000000001, 0x8000000000000001,  // ±min subnormal
    0x000fffffffffffff, 0x800fffffffffffff,  // ±max subnormal
    0x0010000000000000, 0x8010000000000000,  // ±min normal
    0x0018000000000000,                      // 1.5 × min normal
    0x3ff0000000000000, 0xbff0000000000000,  // ±1
    0x3ff0000000000001, 0x3fefffffffffffff,  // 1 + ulp, 1 - ulp/2
    0x3ff8000000000000, 0x4000000000000000,  // 1.5, 2
    0x4008000000000000, 0xc008000000000000,  // ±3
    0x3fd5555555555555, 0x3fb999999999999a,  // 1/3, 0.1
    0x7fe0000000000000,                      // 2^1023
    0x7fefffffffffffff, 0xffefffffffffffff,  // ±max
    0x7ff0000000000000, 0xfff0000000000000,  // ±inf
    0x7ff8000000000000, 0xfff8000000000123,  // qNaN, negative qNaN with payload
    0x7ff0000000000001, 0x7ff4000000000000,  // sNaN
};
static const uint64_t S_SPECIAL[] = {
    BOX | 0x00000000, BOX | 0x80000000, BOX | 0x00000001, BOX | 0x80000001, BOX | 0x007fffff, BOX | 0x807fffff,
    BOX | 0x00800000, BOX | 0x80800000, BOX | 0x00c00000, BOX | 0x3f800000, BOX | 0xbf800000, BOX | 0x3f800001,
    BOX | 0x3f7fffff, BOX | 0x3fc00000, BOX | 0x40000000, BOX | 0x40400000, BOX | 0xc0400000, BOX | 0x3eaaaaab,
    BOX | 0x3dcccccd, BOX | 0x7f000000, BOX | 0x7f7fffff, BOX | 0xff7fffff, BOX | 0x7f800000, BOX | 0xff800000,
    BOX | 0x7fc00000, BOX | 0xffc00123, BOX | 0x7f800001, BOX | 0x7fa00000,
    0x000000003f800000,  // 1.0 not NaN-boxed: reads as the canonical NaN
    0xfffffffe3f800000,  // upper half not all ones
};
#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

// Small tables for triples (fused ops) so the cube stays small.
static const uint64_t D_FMA3[] = {0x0000000000000000, 0x8000000000000000, 0x0000000000000001,
                                  0x3ff0000000000000, 0xbff0000000000001, 0x7fefffffffffffff,
                                  0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0x7ff0000000000001};
static const uint64_t S_FMA3[] = {BOX | 0x00000000, BOX | 0x80000000, BOX | 0x00000001, BOX | 0x3f800000,
                                  BOX | 0xbf800001, BOX | 0x7f7fffff, BOX | 0x7f800000, BOX | 0xff800000,
                                  BOX | 0x7fc00000, BOX | 0x7f800001, 0x3f800000};

// Float→int boundaries: around ±2^31, 2^32, ±2^63, 2^64, halves.
static const uint64_t D_CVT[] = {
    0x41dfffffffc00000, 0x41dfffffffe00000, 0x41dfffffffffffff, 0x41e0000000000000, 0x41e0000000100000,
    0xc1e0000000000000, 0xc1e0000000100000, 0xc1e0000000000001, 0xc1dfffffffe00000, 0x41efffffffe00000,
    0x41efffffffffffff, 0x41f0000000000000, 0x41effffffff00000, 0x43dfffffffffffff, 0x43e0000000000000,
    0xc3e0000000000000, 0xc3e0000000000001, 0x43efffffffffffff, 0x43f0000000000000, 0x3fe0000000000000,
    0xbfe0000000000000, 0x3ff8000000000000, 0xbff8000000000000, 0x4004000000000000, 0xc004000000000000,
    0x3fdfffffffffffff, 0xbfeccccccccccccd, 0xbff0000000000000, 0xbff0000000000001, 0x4202a05f20000000,
    0x4330000000000001, 0x4340000000000001, 0x3ff0000000000000,
};
static const uint64_t S_CVT[] = {
    0x4effffff, 0x4f000000, 0x4f000001, 0xcf000000, 0xcf000001, 0xceffffff, 0x4f7fffff, 0x4f800000, 0x5effffff,
    0x5f000000, 0xdf000000, 0xdf000001, 0x5f7fffff, 0x5f800000, 0x3f000000, 0xbf000000, 0x3fc00000, 0xbfc00000,
    0x40200000, 0xc0200000, 0x3effffff, 0xbf666666, 0xbf800000, 0xbf800001, 0x4b000001, 0x4b800001, 0x3f800000,
};
static const uint64_t X_SPECIAL[] = {
    0,
    1,
    2,
    0xffffffffffffffff,
    0x7fffffff,
    0x80000000,
    0xffffffff80000000,
    0xffffffff,
    0x100000000,
    0x7fffffffffffffff,
    0x8000000000000000,
    0x8000000000000001,
    0x1000001,           // 2^24 + 1: single halfway
    0x1000003,           // 2^24 + 3
    0x20000000000001,    // 2^53 + 1: double halfway
    0x20000000000003,    // 2^53 + 3
    0x7fffffc0,          // rounds up to 2^31 as single
    0xffffffffffffff80,  // -128
    0x123456789abcdef0,  // high garbage for the W forms
    0xfedcba9876543210,
    0xffffffffff000001,
};

// ---- tuple generation ----

#define MAXT 8192
static uint64_t tuples[MAXT][3];
static int ntuples;

static void add_tuple(uint64_t a, uint64_t b, uint64_t c) {
  if (ntuples >= MAXT) {
    fprintf(stderr, "too many tuples\n");
    exit(1);
  }
  tuples[ntuples][0] = a;
  tuples[ntuples][1] = b;
  tuples[ntuples][2] = c;
  ntuples++;
}

static const uint64_t *special(char fmt, int *n) {
  *n = fmt == 's' ? N(S_SPECIAL) : N(D_SPECIAL);
  return fmt == 's' ? S_SPECIAL : D_SPECIAL;
}

// A second operand whose exponent is chosen relative to a's, so results land near overflow, near the
// subnormal range, on cancellation or on ties — the places where rounding modes and flags differ.
static uint64_t partner(const struct fmt *f, uint64_t a, char op) {
  int ea = exp_of(f, a), eb;
  int r = rndn(4);
  int target = r == 0 ? f->emin - rndn(f->p + 2) : r == 1 ? f->emax - rndn(2) : r == 2 ? f->emin + rndn(3) : rndn(8);
  switch (op) {
    case '+':
    case '-':
      if (rndn(3) == 0) {
        // near-cancellation: same magnitude, a few ulps away
        uint64_t b = a + (uint64_t)(rndn(5) - 2);
        return rndn(2) ? b : b ^ (1ull << (f->p - 1 + f->ebits));
      }
      eb = ea - rndn(f->p + 4) + 2;
      break;
    case '*':
      eb = target - ea;
      break;
    case '/':
      eb = ea - target;
      break;
    default:
      eb = rand_exp(f);
  }
  return make_fp(f, rndn(2), eb, rand_frac(f));
}

static void gen_tuples(const struct op *o) {
  const struct fmt *f = o->fmt == 's' ? &FMT_S : &FMT_D;
  int ns, i, j, k;
  const uint64_t *sp = special(o->fmt, &ns);
  ntuples = 0;
  switch (o->cat) {
    case ARITH:
      for (i = 0; i < ns; i++)
        for (j = 0; j < ns; j++) add_tuple(sp[i], sp[j], 0);
      for (i = 0; i < 380; i++) {
        uint64_t a = rand_fp(f);
        add_tuple(a, partner(f, a, o->sub), 0);
      }
      break;
    case SQRT:
      for (i = 0; i < ns; i++) add_tuple(sp[i], 0, 0);
      for (i = 0; i < 500; i++) add_tuple(rand_fp(f), 0, 0);
      for (i = 0; i < 100; i++) {
        // perfect squares (m has at most p/2 bits) and their neighbours
        uint64_t m = (rnd() >> (64 - f->p / 2)) | 1;
        uint64_t sq = m * m;
        int bl = 63 - __builtin_clzll(sq);
        uint64_t frac = (sq << (f->p - 1 - bl)) & ((1ull << (f->p - 1)) - 1);
        int k = rndn(f->emax) - f->emax / 2;
        add_tuple(make_fp(f, 0, bl + 2 * k, frac) + (uint64_t)(rndn(3) - 1), 0, 0);
      }
      break;
    case FMA: {
      const uint64_t *t3 = o->fmt == 's' ? S_FMA3 : D_FMA3;
      int n3 = o->fmt == 's' ? N(S_FMA3) : N(D_FMA3);
      if (o->sub == 0) {
        for (i = 0; i < n3; i++)
          for (j = 0; j < n3; j++)
            for (k = 0; k < n3; k++) add_tuple(t3[i], t3[j], t3[k]);
      } else {
        // the negated forms share the arithmetic; a slice of the cube checks the sign handling
        for (i = 0; i < n3; i++)
          for (j = 0; j < n3; j += 3)
            for (k = 0; k < n3; k++) add_tuple(t3[i], t3[j], t3[k]);
      }
      for (i = 0; i < (o->sub == 0 ? 450 : 160); i++) {
        uint64_t a = rand_fp(f), b = partner(f, a, rndn(2) ? '*' : '+'), c;
        int ep = exp_of(f, a) + exp_of(f, b);
        switch (rndn(4)) {
          case 0:
            // c close to -(a*b): massive cancellation, the case a multiply-then-add gets wrong
            if (o->fmt == 'd') {
              double x, y, p;
              memcpy(&x, &a, 8);
              memcpy(&y, &b, 8);
              p = -(x * y);
              memcpy(&c, &p, 8);
            } else {
              float x, y, p;
              uint32_t ua = (uint32_t)a, ub = (uint32_t)b, uc;
              memcpy(&x, &ua, 4);
              memcpy(&y, &ub, 4);
              p = -(x * y);
              memcpy(&uc, &p, 4);
              c = BOX | uc;
            }
            c += (uint64_t)(rndn(3) - 1);
            if (o->sub != 0 && rndn(2)) c ^= 1ull << (f->p - 1 + f->ebits);
            break;
          case 1:
            c = make_fp(f, rndn(2), ep - rndn(2 * f->p + 4), rand_frac(f));  // tiny addend: sticky bits
            break;
          case 2:
            c = make_fp(f, rndn(2), ep + rndn(f->p + 2), rand_frac(f));
            break;
          default:
            c = rand_fp(f);
        }
        add_tuple(a, b, c);
      }
      break;
    }
    case SGNJ:
      // sign injection only moves bits: every other special is plenty
      for (i = 0; i < ns; i += 2)
        for (j = 1; j < ns; j += 2) add_tuple(sp[i], sp[j], 0);
      for (i = 0; i < 40; i++) add_tuple(rand_fp(f), rand_fp(f), 0);
      break;
    case CMP:
      // both orders only where order matters beyond the obvious (NaNs, zeros)
      for (i = 0; i < ns; i++)
        for (j = 0; j < ns; j++)
          if (i <= j || is_nan_or_zero(f, sp[i]) || is_nan_or_zero(f, sp[j])) add_tuple(sp[i], sp[j], 0);
      for (i = 0; i < 60; i++) {
        uint64_t a = rand_fp(f);
        add_tuple(a, rndn(3) ? rand_fp(f) : a + (uint64_t)(rndn(3) - 1), 0);
      }
      break;
    case CLASS:
      for (i = 0; i < ns; i++) add_tuple(sp[i], 0, 0);
      for (i = 0; i < 60; i++) add_tuple(rand_fp(f), 0, 0);
      break;
    case CVT_FX: {
      const uint64_t *cv = o->fmt == 's' ? S_CVT : D_CVT;
      int nc = o->fmt == 's' ? N(S_CVT) : N(D_CVT);
      for (i = 0; i < ns; i++) add_tuple(sp[i], 0, 0);
      for (i = 0; i < nc; i++) {
        uint64_t v = cv[i] | (o->fmt == 's' ? BOX : 0);
        add_tuple(v, 0, 0);
        add_tuple(v + 1, 0, 0);
        add_tuple(v - 1, 0, 0);
      }
      for (i = 0; i < 200; i++) {
        int e = rndn(3) ? rndn(70) - 3 : rand_exp(f);
        add_tuple(make_fp(f, rndn(2), e, rand_frac(f)), 0, 0);
      }
      break;
    }
    case CVT_XF:
      for (i = 0; i < N(X_SPECIAL); i++) {
        add_tuple(0, 0, X_SPECIAL[i]);
        add_tuple(0, 0, X_SPECIAL[i] + 1);
        add_tuple(0, 0, -X_SPECIAL[i]);
      }
      for (i = 0; i < 200; i++) {
        int bits = 1 + rndn(64);
        uint64_t x = rnd() >> (64 - bits);
        if (rndn(2)) x &= ~((1ull << rndn(bits)) - 1);
        if (rndn(3) == 0) x = -x;
        add_tuple(0, 0, x);
      }
      break;
    case CVT_FF: {
      const struct fmt *g = o->fmt == 's' ? &FMT_S : &FMT_D;
      for (i = 0; i < ns; i++) add_tuple(sp[i], 0, 0);
      for (i = 0; i < 400; i++) {
        uint64_t v = rand_fp(g);
        if (g == &FMT_D && rndn(2)) {
          // doubles in and around the single range: overflow, subnormal singles, ties
          int e = rndn(3) == 0 ? 124 + rndn(6) : -155 + rndn(35);
          uint64_t frac = rand_frac(g);
          if (rndn(2)) frac = (frac & ~((1ull << 29) - 1)) | (rndn(2) ? 1ull << 28 : 0);
          v = make_fp(g, rndn(2), e, frac);
        }
        add_tuple(v, 0, 0);
      }
      break;
    }
    case MV_FX:
      for (i = 0; i < ns; i++) add_tuple(sp[i], 0, 0);
      for (i = 0; i < 30; i++) add_tuple(rnd(), 0, 0);
      break;
    case MV_XF:
      for (i = 0; i < N(X_SPECIAL); i++) add_tuple(0, 0, X_SPECIAL[i]);
      for (i = 0; i < 30; i++) add_tuple(0, 0, rnd());
      break;
  }
}

// ---- output ----

// Destination bits as hex: singles drop their all-ones box (the test checks it is there), integers and
// doubles use 16 digits.
static void put_bits(char *buf, char dst, uint64_t v) {
  if (dst == 's' && (v >> 32) == 0xffffffffu)
    sprintf(buf, "%08x", (uint32_t)v);
  else
    sprintf(buf, "%016llx", (unsigned long long)v);
}

static void put_operand(char kind, uint64_t v, int first) {
  if (!first) putchar(',');
  if (kind == 's' && (v >> 32) == 0xffffffffu)
    printf("\"%08x\"", (uint32_t)v);
  else
    printf("\"%016llx\"", (unsigned long long)v);
}

static void run(const struct op *o, insn_fn fn, uint64_t a, uint64_t b, uint64_t c, int frm, uint64_t out[4]) {
  uint64_t in[5];
  const char *srcs = o->kind + 2;
  int fi = 0;
  memset(in, 0, sizeof in);
  // fp sources take ft0, ft1, ft2 in order; an integer source is t1 (its value carried in c)
  for (const char *s = srcs; *s; s++) {
    if (*s == 'x') {
      in[3] = c;
    } else {
      in[fi] = fi == 0 ? a : fi == 1 ? b : c;
      fi++;
    }
  }
  in[4] = (uint64_t)frm;
  fn(in, out);
}

int main(void) {
  int first_op = 1;
  printf("{\"comment\":\"generated by src/cpu/fpu-vectors/gen.sh under qemu-riscv64; do not edit\",\"ops\":[\n");
  for (int oi = 0; oi < N(OPS); oi++) {
    const struct op *o = &OPS[oi];
    int nrm = o->fn[1] ? 5 : 1;
    char dst = o->kind[0];
    uint64_t out[4], enc[6];
    gen_tuples(o);
    // encodings: one probe run per variant
    for (int r = 0; r < (nrm == 5 ? 6 : 1); r++) {
      uint64_t in[5] = {0, 0, 0, 0, 0};
      o->fn[r](in, out);
      enc[r] = out[3];
    }
    printf("%s{\"name\":\"%s\",\"kind\":\"%s\",\"insn\":[", first_op ? "" : ",\n", o->name, o->kind);
    first_op = 0;
    for (int r = 0; r < (nrm == 5 ? 6 : 1); r++) printf("%s%llu", r ? "," : "", (unsigned long long)enc[r]);
    printf("],\"vectors\":[\n");
    for (int t = 0; t < ntuples; t++) {
      uint64_t a = tuples[t][0], b = tuples[t][1], c = tuples[t][2];
      char res[5][48];
      int same = 1;
      for (int r = 0; r < nrm; r++) {
        char bits[24];
        // static rm with frm set to some other mode: the static field must win
        run(o, o->fn[r], a, b, c, (r + 2) % 5, out);
        put_bits(bits, dst, dst == 'x' ? out[1] : out[0]);
        sprintf(res[r], "%s/%d", bits, (int)out[2]);
        if (nrm == 5) {
          uint64_t dyn[4];
          run(o, o->fn[5], a, b, c, r, dyn);
          if ((dst == 'x' ? dyn[1] : dyn[0]) != (dst == 'x' ? out[1] : out[0]) || dyn[2] != out[2]) {
            fprintf(stderr, "%s: dyn rm %d disagrees with static\n", o->name, r);
            return 1;
          }
        }
        if (r && strcmp(res[r], res[0]) != 0) same = 0;
      }
      printf("%s[", t ? ",\n" : "");
      int first = 1;
      const char *srcs = o->kind + 2;
      int fi = 0;
      for (const char *s = srcs; *s; s++) {
        put_operand(*s, *s == 'x' ? c : fi == 0 ? a : fi == 1 ? b : c, first);
        if (*s != 'x') fi++;
        first = 0;
      }
      if (same) {
        printf(",\"%s\"]", res[0]);
      } else {
        printf(",[");
        for (int r = 0; r < nrm; r++) printf("%s\"%s\"", r ? "," : "", res[r]);
        printf("]]");
      }
    }
    printf("]}");
  }
  printf("\n]}\n");
  return 0;
}
