// Seeded fuzz: the JS-number fast paths (fpu-fast.ts and the number-domain conversions in fpu.ts) must agree
// bit for bit, flags included, with the exact BigInt path (fpu-soft.ts), itself checked against QEMU in
// fpu.test.ts. Operands are skewed towards where the fast paths' range guards and exactness checks decide.

import { describe, expect, it } from "vitest";
import { Fpu } from "./fpu.ts";
import { F32, F64, type FpFormat, SoftFloat } from "./fpu-soft.ts";
import { HartState } from "./state.ts";

const SEED = Number(process.env.FPU_FUZZ_SEED ?? 0x5eed1234);
const ITERATIONS = 20_000;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Random bits of a value in format f, exponent skewed to the interesting ranges. */
function randomBits(f: FpFormat, next: () => number): bigint {
  const fracBits = f.p - 1;
  let frac = ((BigInt(next()) << 32n) | BigInt(next())) & f.fracMask;
  const shape = next() % 8;
  if (shape === 0) frac &= ~((1n << BigInt(next() % (fracBits + 1))) - 1n) & f.fracMask; // trailing zeros
  if (shape === 1) frac |= (1n << BigInt(next() % (fracBits + 1))) - 1n; // trailing ones
  const maxBiased = 2 * f.bias + 1;
  let biased: number;
  const r = next() % 16;
  if (r < 8) biased = f.bias - 30 + (next() % 60);
  else if (r < 10)
    biased = next() % 4; // subnormal and the first normals
  else if (r < 12) biased = maxBiased - 1 - (next() % 4);
  else if (r < 13)
    biased = maxBiased; // inf / NaN
  else if (r < 14)
    biased = f.bias + (next() % 2 ? 1 : -1) * (f.p + (next() % 40)); // ties to huge/tiny exponents
  else biased = next() % (maxBiased + 1);
  if (biased === maxBiased && next() % 2) frac = 0n;
  return (BigInt(next() & 1) << BigInt(f.width - 1)) | (BigInt(biased) << BigInt(fracBits)) | (frac & f.fracMask);
}

/** A partner close to a: same or nearby exponent, so sums cancel and quotients land near 1. */
function nearby(f: FpFormat, a: bigint, next: () => number): bigint {
  const delta = BigInt((next() % 9) - 4);
  let b = (a + delta) & ((1n << BigInt(f.width)) - 1n);
  if (next() % 2) b ^= f.signBit;
  if (next() % 3 === 0) b ^= BigInt(next() % 64) << BigInt(f.p - 1);
  return b;
}

function opfp(funct5: number, fmt: number, rs2: number, rs1: number, rm: number, rd: number): number {
  return ((funct5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | 0x53) >>> 0;
}

class Harness {
  readonly state = new HartState();
  readonly fpu = new Fpu(this.state);

  setF(f: FpFormat, i: number, v: bigint): void {
    this.state.f[2 * i] = Number(v & 0xffffffffn) | 0;
    this.state.f[2 * i + 1] = f === F32 ? -1 : Number(v >> 32n) | 0;
  }

  getF(f: FpFormat, i: number): bigint {
    const lo = BigInt(this.state.f[2 * i]! >>> 0);
    if (f === F32) {
      expect(this.state.f[2 * i + 1]).toBe(-1);
      return lo;
    }
    return (BigInt(this.state.f[2 * i + 1]! >>> 0) << 32n) | lo;
  }

  getX(i: number): bigint {
    return BigInt.asIntN(64, (BigInt(this.state.x[2 * i + 1]! >>> 0) << 32n) | BigInt(this.state.x[2 * i]! >>> 0));
  }

  run(insn: number): number {
    this.fpu.fflags = 0;
    expect(this.fpu.exec(insn)).toBe(true);
    return this.fpu.fflags;
  }
}

function hex(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16)}`;
}

const FORMATS: [string, FpFormat, number][] = [
  ["s", F32, 0],
  ["d", F64, 1],
];

describe(`fast paths agree with the exact path (seed ${SEED}, FPU_FUZZ_SEED to change)`, () => {
  for (const [name, f, fmt] of FORMATS) {
    for (const [opName, funct5] of [
      ["fadd", 0],
      ["fsub", 1],
      ["fmul", 2],
      ["fdiv", 3],
    ] as const) {
      it(`${opName}.${name}`, () => {
        const next = rng(SEED + funct5 * 7 + fmt);
        const h = new Harness();
        const soft = new SoftFloat();
        for (let n = 0; n < ITERATIONS; n++) {
          const a = randomBits(f, next);
          const b = next() % 3 === 0 ? nearby(f, a, next) : randomBits(f, next);
          h.setF(f, 1, a);
          h.setF(f, 2, b);
          const flags = h.run(opfp(funct5, fmt, 2, 1, 0, 3));
          soft.flags = 0;
          const want =
            funct5 <= 1
              ? soft.add(f, a, b, 0, funct5 === 1)
              : funct5 === 2
                ? soft.mul(f, a, b, 0)
                : soft.div(f, a, b, 0);
          const got = h.getF(f, 3);
          if (got !== want || flags !== soft.flags)
            expect.fail(
              `${opName}.${name} ${hex(a)} ${hex(b)}: want ${hex(want)}/${soft.flags} got ${hex(got)}/${flags}`,
            );
        }
      });
    }

    it(`fsqrt.${name}`, () => {
      const next = rng(SEED + 99 + fmt);
      const h = new Harness();
      const soft = new SoftFloat();
      for (let n = 0; n < ITERATIONS; n++) {
        const a = randomBits(f, next);
        h.setF(f, 1, a);
        const flags = h.run(opfp(0x0b, fmt, 0, 1, 0, 3));
        soft.flags = 0;
        const want = soft.sqrt(f, a, 0);
        const got = h.getF(f, 3);
        if (got !== want || flags !== soft.flags)
          expect.fail(`fsqrt.${name} ${hex(a)}: want ${hex(want)}/${soft.flags} got ${hex(got)}/${flags}`);
      }
    });

    it(`fcvt.{w,wu,l,lu}.${name} in every rounding mode`, () => {
      const next = rng(SEED + 7 + fmt);
      const h = new Harness();
      const soft = new SoftFloat();
      for (let n = 0; n < ITERATIONS; n++) {
        let a = randomBits(f, next);
        if (n % 2) {
          // near the integer range boundaries
          const e = next() % 70;
          a = (BigInt(next() & 1) << BigInt(f.width - 1)) | (BigInt(f.bias + e) << BigInt(f.p - 1)) | (a & f.fracMask);
        }
        const type = next() % 4;
        const rm = next() % 5;
        h.setF(f, 1, a);
        const flags = h.run(opfp(0x18, fmt, type, 1, rm, 5));
        soft.flags = 0;
        let want = soft.toInt(f, a, type < 2 ? 32 : 64, type % 2 === 0, rm);
        if (type < 2) want = BigInt.asIntN(32, want); // 32-bit results are sign-extended
        want = BigInt.asIntN(64, want);
        const got = h.getX(5);
        if (got !== want || flags !== soft.flags)
          expect.fail(`fcvt type ${type} rm ${rm} ${hex(a)}: want ${hex(want)}/${soft.flags} got ${hex(got)}/${flags}`);
      }
    });

    it(`fcvt.${name}.{w,wu,l,lu} in every rounding mode`, () => {
      const next = rng(SEED + 13 + fmt);
      const h = new Harness();
      const soft = new SoftFloat();
      for (let n = 0; n < ITERATIONS; n++) {
        const bits = 1 + (next() % 64);
        let v = ((BigInt(next()) << 32n) | BigInt(next())) >> BigInt(64 - bits);
        if (next() % 2) v = -v;
        v = BigInt.asUintN(64, v);
        const type = next() % 4;
        const rm = next() % 5;
        h.state.x[12] = Number(v & 0xffffffffn) | 0;
        h.state.x[13] = Number(v >> 32n) | 0;
        const flags = h.run(opfp(0x1a, fmt, type, 6, rm, 3));
        const value = [BigInt.asIntN(32, v), BigInt.asUintN(32, v), BigInt.asIntN(64, v), v][type]!;
        soft.flags = 0;
        const want = soft.fromInt(f, value, rm);
        const got = h.getF(f, 3);
        if (got !== want || flags !== soft.flags)
          expect.fail(
            `fcvt from type ${type} rm ${rm} ${hex(v)}: want ${hex(want)}/${soft.flags} got ${hex(got)}/${flags}`,
          );
      }
    });
  }

  for (const [name, f, fmt] of FORMATS) {
    it(`fmadd/fmsub/fnmsub/fnmadd.${name}`, () => {
      const next = rng(SEED + 55 + fmt);
      const h = new Harness();
      const soft = new SoftFloat();
      for (let n = 0; n < ITERATIONS * 2; n++) {
        const a = randomBits(f, next);
        const b = next() % 2 ? nearby(f, a, next) : randomBits(f, next);
        let c = randomBits(f, next);
        if (n % 3 === 0) {
          // cancel against the rounded product, the case a separate multiply and add gets wrong
          soft.flags = 0;
          c = nearby(f, soft.mul(f, a, b, 0) ^ f.signBit, next);
        } else if (n % 3 === 1) {
          // an addend far below the product: only its sticky bits matter
          const shift = BigInt(next() % (2 * f.p + 8)) << BigInt(f.p - 1);
          const pe = soft.mul(f, a, b, 0) & ~f.signBit;
          if (pe > shift) c = (pe - shift) ^ (BigInt(next() & 1) << BigInt(f.width - 1));
        }
        const variant = next() % 4;
        const opcode = [0x43, 0x47, 0x4b, 0x4f][variant]!;
        h.setF(f, 1, a);
        h.setF(f, 2, b);
        h.setF(f, 4, c);
        const flags = h.run(((4 << 27) | (fmt << 25) | (2 << 20) | (1 << 15) | (3 << 7) | opcode) >>> 0);
        soft.flags = 0;
        const want = soft.fma(f, a, b, c, variant >= 2, variant === 1 || variant === 3, 0);
        const got = h.getF(f, 3);
        if (got !== want || flags !== soft.flags)
          expect.fail(
            `fma.${name} ${opcode.toString(16)} ${hex(a)} ${hex(b)} ${hex(c)}: want ${hex(want)}/${soft.flags} got ${hex(got)}/${flags}`,
          );
      }
    });
  }

  it("fcvt.s.d and fcvt.d.s", () => {
    const next = rng(SEED + 77);
    const h = new Harness();
    const soft = new SoftFloat();
    for (let n = 0; n < ITERATIONS; n++) {
      let a = randomBits(F64, next);
      if (n % 2) a = (a & ~(0x7ffn << 52n)) | (BigInt(1023 - 160 + (next() % 300)) << 52n); // single's range
      h.setF(F64, 1, a);
      let flags = h.run(opfp(0x08, 0, 1, 1, 0, 3));
      soft.flags = 0;
      let want = soft.convert(F32, F64, a, 0);
      let got = h.getF(F32, 3);
      if (got !== want || flags !== soft.flags)
        expect.fail(`fcvt.s.d ${hex(a)}: want ${hex(want)}/${soft.flags} got ${hex(got)}/${flags}`);
      const s = randomBits(F32, next);
      h.setF(F32, 1, s);
      flags = h.run(opfp(0x08, 1, 0, 1, 0, 3));
      soft.flags = 0;
      want = soft.convert(F64, F32, s, 0);
      got = h.getF(F64, 3);
      if (got !== want || flags !== soft.flags)
        expect.fail(`fcvt.d.s ${hex(s)}: want ${hex(want)}/${soft.flags} got ${hex(got)}/${flags}`);
    }
  });
});
