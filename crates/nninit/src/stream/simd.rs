//! The crate's only `unsafe` code: AVX2 kernels written with `std::arch` intrinsics, and
//! the run-time dispatch to code compiled with AVX2 enabled.
//!
//! Everything here computes exactly what the portable kernels compute (the parent
//! module's specification): the same IEEE operations in the same order, each rounded
//! once, with a fused multiply-add (`_mm256_fmadd_ps`) exactly where the portable code
//! calls `f32::mul_add` and a separate multiply and add everywhere else, so the results
//! are the same bits. The tests compare the two over millions of elements.
//!
//! The `unsafe` is of three kinds only:
//!
//! - calling a `#[target_feature(enable = "avx2,fma")]` function, always right after
//!   [`avx2_fma_available`] returned true;
//! - unaligned 256-bit stores into a slice chunk whose length is checked to be exactly
//!   the number of floats stored;
//! - empty `asm!` templates that only pin the compiler's instruction order (see
//!   [`fence`]) or hide a value's bits from it (see [`opaque`]); they emit nothing.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::kernels::{BlockMap, Keys, drive};
use super::math32::{COS_P, LN_P, LN2_HI, LN2_LO, ROUND_MAGIC, SIN_P, SQRT_HALF, TAU_F32};
use super::philox::{M0, M1, W0, W1};

/// Whether this CPU has AVX2 and FMA, which the fast kernels of the crate (these and
/// torch mode's) are compiled for: two cached atomic loads after the first call.
#[inline]
pub(crate) fn avx2_fma_available() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// [`drive`] compiled with AVX2 and FMA enabled.
#[target_feature(enable = "avx2,fma")]
fn drive_avx2<M: BlockMap>(map: M, keys: Keys, start: u64, out: &mut [M::Out]) {
    drive::<M, true>(map, keys, start, out);
}

/// The AVX2 build of [`drive`] where the CPU has AVX2 and FMA, else the baseline build.
pub(crate) fn drive_avx2_if_supported<M: BlockMap>(map: M, keys: Keys, start: u64, out: &mut [M::Out]) {
    if avx2_fma_available() {
        // SAFETY: `drive_avx2` enables two target features, AVX2 and FMA, and the check
        // just above found that this CPU supports both.
        unsafe { drive_avx2(map, keys, start, out) }
    } else {
        drive::<M, false>(map, keys, start, out);
    }
}

/// Blocks per set: one 32-bit lane of a 256-bit vector each.
const SET: usize = 8;
/// Sets per iteration of the normal kernel (independent chains for the out-of-order core).
const SETS: usize = 2;
/// Elements written per iteration of the normal kernel: 4 per block.
pub(crate) const NORMAL_STEP: usize = 4 * SET * SETS;

/// Writes elements `4·j .. 4·j + n` of the normal stream `mean + std·z` into
/// `out[..n]`, where `n` is `out.len()` rounded down to a multiple of [`NORMAL_STEP`],
/// and returns `n`; returns 0 (writing nothing) if the CPU lacks AVX2 or FMA.
pub(crate) fn normal_f32(keys: Keys, j: u64, mean: f32, std: f32, out: &mut [f32]) -> usize {
    if out.len() < NORMAL_STEP || !avx2_fma_available() {
        return 0;
    }
    // SAFETY: `normal_f32_avx2` enables AVX2 and FMA, which the check above found.
    unsafe { normal_f32_avx2(keys, j, mean, std, out) }
}

/// A Philox state of [`SET`] blocks in structure-of-arrays form: `c[k]` holds counter
/// word `k` of each block, one block per 32-bit lane.
type State = [__m256i; 4];

/// The Philox round keys broadcast to every lane, and the constants of round 0, where
/// counter words 2 and 3 are the name hash in every lane.
struct Schedule {
    /// `(k0, k1)` of round `r`.
    k: [[__m256i; 2]; 10],
    /// Round 0: `hi(M1·h_lo) ^ k0`, so that `c0' = c1 ^ this`.
    r0_c0: __m256i,
    /// Round 0: `c1' = lo(M1·h_lo)`.
    r0_c1: __m256i,
    /// Round 0: `h_hi ^ k1`, so that `c2' = hi(M0·c0) ^ this`.
    r0_c2: __m256i,
}

impl Schedule {
    #[target_feature(enable = "avx2,fma")]
    fn new(keys: Keys) -> Self {
        let [mut k0, mut k1] = keys.key;
        let mut k = [[_mm256_setzero_si256(); 2]; 10];
        for kr in &mut k {
            *kr = [_mm256_set1_epi32(k0 as i32), _mm256_set1_epi32(k1 as i32)];
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let [k0, k1] = keys.key;
        let p = u64::from(M1) * (keys.hash & 0xffff_ffff);
        Self {
            k,
            r0_c0: _mm256_set1_epi32(((p >> 32) as u32 ^ k0) as i32),
            r0_c1: _mm256_set1_epi32(p as u32 as i32),
            r0_c2: _mm256_set1_epi32(((keys.hash >> 32) as u32 ^ k1) as i32),
        }
    }
}

/// `(hi(c·m), lo(c·m))` per 32-bit lane, with the lanes of `hi` permuted by
/// [`SIGMA`] in each 128-bit half (`lo` keeps the order of `c`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn mul_hi_lo(c: __m256i, m: __m256i) -> (__m256i, __m256i) {
    // 64-bit products of the even lanes, then of the odd lanes.
    let even = _mm256_castsi256_ps(_mm256_mul_epu32(c, m));
    let odd = _mm256_castsi256_ps(_mm256_mul_epu32(_mm256_srli_epi64::<32>(c), m));
    // Per 128-bit half: (hi e0, hi e2, hi o1, hi o3).
    let hi = _mm256_castps_si256(_mm256_shuffle_ps::<0b11_01_11_01>(even, odd));
    (hi, _mm256_mullo_epi32(c, m))
}

/// The lane order `(0, 2, 1, 3)` of each 128-bit half (an involution) that
/// [`mul_hi_lo`] leaves its high halves in, as a `_mm256_shuffle_epi32` immediate.
const SIGMA: i32 = 0b11_01_10_00;

/// One Philox round, `(c0, c1, c2, c3) → (hi(M1·c2) ^ c1 ^ k0, lo(M1·c2),
/// hi(M0·c0) ^ c3 ^ k1, lo(M0·c0))`, on every set.
///
/// Lane orders: `c0` and `c2` are in one order and `c1` and `c3` in that order permuted
/// by [`SIGMA`], which is what the high products come in, so no lane moves besides the
/// one shuffle in [`mul_hi_lo`]; the invariant carries over to the next round (the new
/// `c0` is in the old `c1`'s order, the new `c1` in the old `c2`'s, and so on).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn round(kc: &Consts, c: &mut [State; SETS], k: [__m256i; 2]) {
    let (m0, m1) = (kc.m0, kc.m1);
    for c in c.iter_mut() {
        let (hi0, lo0) = mul_hi_lo(c[0], m0);
        let (hi2, lo2) = mul_hi_lo(c[2], m1);
        *c = [
            _mm256_xor_si256(_mm256_xor_si256(hi2, c[1]), k[0]),
            lo2,
            _mm256_xor_si256(_mm256_xor_si256(hi0, c[3]), k[1]),
            lo0,
        ];
    }
}

/// Round 0 of Philox4x32-10 on the counters `(c0, c1, h_lo, h_hi)`, one block per lane,
/// with `c1` given in `c0`'s lane order permuted by [`SIGMA`]. Rounds 1 to 9 follow with
/// [`round`] and the key `s.k[r]`, and [`to_counter_order`] ends the bijection.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn round0(kc: &Consts, s: &Schedule, ctr: [[__m256i; 2]; SETS]) -> [State; SETS] {
    let m0 = kc.m0;
    let mut c = [[_mm256_setzero_si256(); 4]; SETS];
    for (c, [c0, c1]) in c.iter_mut().zip(ctr) {
        // Words 2 and 3 are the same in every lane (so in any lane order).
        let (hi0, lo0) = mul_hi_lo(c0, m0);
        *c = [_mm256_xor_si256(c1, s.r0_c0), s.r0_c1, _mm256_xor_si256(hi0, s.r0_c2), lo0];
    }
    c
}

/// After round 9: words 1 and 3 back into the counter's lane order.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn to_counter_order(mut c: [State; SETS]) -> [State; SETS] {
    for c in &mut c {
        c[1] = _mm256_shuffle_epi32::<SIGMA>(c[1]);
        c[3] = _mm256_shuffle_epi32::<SIGMA>(c[3]);
    }
    c
}

/// Philox4x32-10 of the counters, as [`round0`] takes them; the result is in `c0`'s order.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn philox(kc: &Consts, s: &Schedule, ctr: [[__m256i; 2]; SETS]) -> [State; SETS] {
    let mut c = round0(kc, s, ctr);
    for k in &s.k[1..] {
        round(kc, &mut c, *k);
    }
    to_counter_order(c)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn splat(x: f32) -> __m256 {
    _mm256_set1_ps(x)
}

/// Every constant vector of the normal kernel, built once per call.
///
/// The kernel reads them through `black_box`, so LLVM does not know their values: it keeps
/// them in memory and folds them into the arithmetic as memory operands. Known constants it
/// would instead re-broadcast from the constant pool each time the sixteen registers run
/// out (41 `vbroadcastss` per 64 values), and a broadcast from memory takes a slot on the
/// FP pipes the arithmetic needs, where a folded operand only takes a load port. Same
/// values, faster (BENCHMARKS.md).
struct Consts {
    /// Philox's multipliers.
    m0: __m256i,
    m1: __m256i,
    /// `ln`'s polynomial [`LN_P`], coefficient `k` scaled by `2^(k−10)` (see [`Ln`]).
    ln_p: [__m256; 9],
    /// The sine and cosine polynomials, [`SIN_P`] and [`COS_P`].
    sin_p: [__m256; 3],
    cos_p: [__m256; 3],
    one: __m256,
    half: __m256,
    two: __m256,
    neg_quarter: __m256,
    /// 2·ln 2 in two parts, `2·`[`LN2_HI`] and `2·`[`LN2_LO`].
    ln2_hi_2: __m256,
    ln2_lo_2: __m256,
    /// 2π·2⁻²⁴: the angle from `f·2²⁴`.
    angle_scale: __m256,
    /// 2⁻²² and 2²²: the quadrant from `k`, and back.
    inv_two22: __m256,
    two22: __m256,
    /// 1.5·2²³ ([`ROUND_MAGIC`]): adding and subtracting it rounds to the nearest integer.
    round_magic: __m256,
    /// 2²⁴, as an integer.
    two24: __m256i,
    /// The mantissa bits of an f32.
    mantissa: __m256i,
    /// The bits of 1 minus those of [`SQRT_HALF`], which, added to an f32's bits, carries
    /// into the exponent exactly when the mantissa is at least √½'s, less the exponent
    /// bias of `n·2⁻²⁴`, `127 + 24`, in the exponent field (see [`Ln`]).
    ln_shift: __m256i,
    /// The bits of `2·`[`SQRT_HALF`].
    sqrt_two_bits: __m256i,
    /// The sign bit.
    sign: __m256i,
}

impl Consts {
    /// [`Consts::new`] after checking that the CPU has AVX2 and FMA (tests only).
    #[cfg(test)]
    fn new_checked() -> Self {
        assert!(avx2_fma_available());
        // SAFETY: AVX2 and FMA were found just above.
        unsafe { Self::new() }
    }

    /// The constants, each in all eight lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn new() -> Self {
        Self {
            m0: _mm256_set1_epi32(M0 as i32),
            m1: _mm256_set1_epi32(M1 as i32),
            ln_p: core::array::from_fn(|k| splat(LN_P[k] * f32::powi(2.0, k as i32 - 10))),
            sin_p: SIN_P.map(|c| splat(c)),
            cos_p: COS_P.map(|c| splat(c)),
            one: splat(1.0),
            half: splat(0.5),
            two: splat(2.0),
            neg_quarter: splat(-0.25),
            ln2_hi_2: splat(2.0 * LN2_HI),
            ln2_lo_2: splat(2.0 * LN2_LO),
            angle_scale: splat(TAU_F32 / 16_777_216.0),
            inv_two22: splat(1.0 / 4_194_304.0),
            two22: splat(4_194_304.0),
            round_magic: splat(ROUND_MAGIC),
            two24: _mm256_set1_epi32(1 << 24),
            mantissa: _mm256_set1_epi32(0x007f_ffff),
            ln_shift: _mm256_set1_epi32(
                1f32.to_bits().wrapping_sub(SQRT_HALF.to_bits()).wrapping_sub((127 + 24) << 23) as i32,
            ),
            sqrt_two_bits: _mm256_set1_epi32((2.0 * SQRT_HALF).to_bits() as i32),
            sign: _mm256_set1_epi32(i32::MIN),
        }
    }
}

/// Vectors of pairs in one iteration of the normal kernel: pair A and pair B of each set.
const V: usize = 2 * SETS;

/// `f` applied to each vector of an array.
#[inline(always)]
fn each<T: Copy, U, const N: usize>(x: [T; N], f: impl FnMut(T) -> U) -> [U; N] {
    x.map(f)
}

/// The `ln` half of Box–Muller on [`V`] vectors of eight word pairs `(a, b)`, as
/// [`box_muller_f32`](super::kernels::box_muller_f32) computes it, cut into steps so that
/// the normal kernel can interleave them with the Philox rounds of its next blocks; the
/// other half is [`SinCos`], and [`normal_pairs`] joins them.
///
/// The steps are [`start`](Self::start), the [`step`](Self::step)s of `LN_P[1..]` in
/// order, then [`finish`](Self::finish), which gives `r = sqrt(−2·ln)`. `ln` is
/// [`math32::ln`](super::math32::ln)`(n·2⁻²⁴)` of the integer `n = 2²⁴ − (a >> 8)` in
/// `[1, 2²⁴]`, computed with fewer operations and the same bits:
///
/// - **Reduction.** `n` converts to f32 exactly, with the mantissa of `n·2⁻²⁴` and an
///   exponent larger by 24. The specification's mantissa `m` in `[½, 1)`, its test
///   `m < √½`, the doubling `2m` and the exponent `e − 1` come from one integer addition
///   instead (as in musl's `logf`): adding `bits(1) − bits(√½)` to the bits carries into
///   the exponent exactly when the mantissa is at least `√½`'s, so the exponent field of
///   the sum, less `127 + 24`, is the specification's exponent, and its mantissa bits
///   plus `bits(√½)` are those of the reduced `m` or `2m`, in `[√½, √2)`. The bias is
///   subtracted in the same addition (in the exponent field, which leaves the mantissa
///   bits alone), and an arithmetic shift then reads the signed exponent.
/// - **Scaling.** The kernel carries `X = 2x` for the specification's `x = m − 1` (both
///   exact) and scales every later value by a power of two, which changes no rounding:
///   Horner value `k` is `2^(k−10)` times the specification's (so is coefficient `k`),
///   `Z = X² = 4z`, `Y = 2y`, `X + Y = 2(x + y)`, and the last step
///   `−(2·LN2_HI·e) − (X + Y)` is `−2·ln` rounded once (round-to-nearest is symmetric),
///   so the multiplication by −2 disappears into it. No value comes near the subnormal
///   range, and the one exact zero, `ln 1`, gets the sign the specification gives it
///   (`−2·(+0) = −0`).
///
/// The test `box_muller_is_the_specification_for_every_word` checks all 2²⁴ inputs.
struct Ln<'a> {
    /// The constants.
    k: &'a Consts,
    /// `X = 2x`, twice `ln`'s reduced argument.
    x: [__m256; V],
    /// `ln`'s polynomial so far, scaled as above.
    p: [__m256; V],
    /// `ln`'s exponent, as f32.
    fe: [__m256; V],
}

impl<'a> Ln<'a> {
    /// The argument reduction of `ln` of the words `a`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn start(kc: &'a Consts, a: [__m256i; V]) -> Self {
        // ln: u1·2²⁴ = 2²⁴ − (a >> 8), an integer in [1, 2²⁴].
        let n = each(a, |w| _mm256_sub_epi32(kc.two24, _mm256_srli_epi32::<8>(w)));
        let bits = each(n, |n| _mm256_add_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(n)), kc.ln_shift));
        // The exponent, in [−24, 0], is the sum's top nine bits read as a signed integer.
        let fe = each(bits, |b| _mm256_cvtepi32_ps(_mm256_srai_epi32::<23>(b)));
        // 2m (or 2·2m) in [√2, 2√2), then X = 2m − 2 exactly.
        let x = each(bits, |b| {
            let m2 = _mm256_add_epi32(_mm256_and_si256(b, kc.mantissa), kc.sqrt_two_bits);
            _mm256_sub_ps(_mm256_castsi256_ps(m2), kc.two)
        });
        Self { k: kc, x, p: [kc.ln_p[0]; V], fe }
    }

    /// One Horner step of `ln`'s polynomial: `p = fma(p, X, c)`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn step(&mut self, step: usize) {
        let c = self.k.ln_p[step];
        for (p, &x) in self.p.iter_mut().zip(&self.x) {
            *p = _mm256_fmadd_ps(*p, x, c);
        }
    }

    /// The end of `ln`, and `r = sqrt(−2·ln)`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn finish(&self) -> [__m256; V] {
        let kc = self.k;
        core::array::from_fn(|i| {
            let (x, fe) = (self.x[i], self.fe[i]);
            let z = _mm256_mul_ps(x, x);
            let mut y = _mm256_mul_ps(_mm256_mul_ps(self.p[i], x), z);
            y = _mm256_fmadd_ps(kc.ln2_lo_2, fe, y);
            y = _mm256_fmadd_ps(kc.neg_quarter, z, y);
            _mm256_sqrt_ps(_mm256_fnmsub_ps(kc.ln2_hi_2, fe, _mm256_add_ps(x, y)))
        })
    }
}

/// The `sincos` half of Box–Muller: [`start`](Self::start), the four
/// [`step`](Self::step)s in order, then [`finish`](Self::finish). It is
/// [`math32::sincos_turns`](super::math32::sincos_turns)`(s)` with `s = (b >> 8)·2⁻²⁴`,
/// reduced on `k = b >> 8` sign-extended from 24 bits (an arithmetic shift): that is
/// `t·2²⁴` with `t = s − round(s)` except at `s = ½`, where it gives `t = −½` instead of
/// `½`; both give `q ≡ 2 (mod 4)` and `f = +0`, so the same result. Then `q = round(4t)`
/// from `k·2⁻²²`, `f·2²⁴ = k − q·2²²`, and `x = (f·2²⁴)·(2π·2⁻²⁴)`: all exact but the last
/// product, which rounds the same real number as `f·2π` (scaling by a power of two), so
/// every bit is as specified.
struct SinCos<'a> {
    /// The constants.
    k: &'a Consts,
    /// The reduced angle `x` of the specification.
    angle: [__m256; V],
    /// Its square, `z`.
    angle2: [__m256; V],
    /// The sine polynomial so far; after [`finish`](Self::finish), the sine.
    sin: [__m256; V],
    /// The cosine polynomial so far; after [`finish`](Self::finish), the cosine.
    cos: [__m256; V],
    /// `round(4t) + 1.5·2²³`, whose low bits are the quadrant.
    qm: [__m256; V],
}

impl<'a> SinCos<'a> {
    /// The argument reduction of `sincos` of the words `b`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn start(kc: &'a Consts, b: [__m256i; V]) -> Self {
        // k = b >> 8 sign-extended, q = round(k·2⁻²²), f·2²⁴ = k − q·2²².
        let rm = kc.round_magic;
        let k = each(b, |w| _mm256_cvtepi32_ps(_mm256_srai_epi32::<8>(w)));
        let qm = each(k, |k| _mm256_fmadd_ps(k, kc.inv_two22, rm));
        let angle: [__m256; V] = core::array::from_fn(|i| {
            let q = _mm256_sub_ps(qm[i], rm);
            let f = _mm256_fnmadd_ps(q, kc.two22, k[i]);
            _mm256_mul_ps(f, kc.angle_scale)
        });
        let angle2 = each(angle, |x| _mm256_mul_ps(x, x));
        let zero = [_mm256_setzero_ps(); V];
        Self { k: kc, angle, angle2, sin: zero, cos: zero, qm }
    }

    /// Step `k` (0 to 3) of the polynomials `fma(fma(S0, z, S1), z, S2)` and
    /// `fma(fma(C0, z, C1), z, C2)`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn step(&mut self, k: usize) {
        let kc = self.k;
        for i in 0..V {
            let z = self.angle2[i];
            match k {
                0 => self.sin[i] = _mm256_fmadd_ps(kc.sin_p[0], z, kc.sin_p[1]),
                1 => self.cos[i] = _mm256_fmadd_ps(kc.cos_p[0], z, kc.cos_p[1]),
                2 => self.sin[i] = _mm256_fmadd_ps(self.sin[i], z, kc.sin_p[2]),
                _ => self.cos[i] = _mm256_fmadd_ps(self.cos[i], z, kc.cos_p[2]),
            }
        }
    }

    /// `sin x = fma(S·z, x, x)`, `cos x = fma(C·z, z, fma(−0.5, z, 1))`, rotated into the
    /// quadrant.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn finish(&mut self) {
        let kc = self.k;
        for i in 0..V {
            let (x, z) = (self.angle[i], self.angle2[i]);
            let sin_x = _mm256_fmadd_ps(_mm256_mul_ps(self.sin[i], z), x, x);
            let cos_x = _mm256_fmadd_ps(_mm256_mul_ps(self.cos[i], z), z, _mm256_fnmadd_ps(kc.half, z, kc.one));
            // Odd quadrants swap sin and cos; sin is negated in quadrants 2 and 3 (bit 1),
            // cos in quadrants 1 and 2 (bit 1 xor bit 0). Bit 0 moved to the sign bit, with
            // nothing else, is the swap mask (blendv reads the sign bit) and the difference
            // between the two signs.
            let quadrant = _mm256_castps_si256(self.qm[i]);
            let swap = opaque(_mm256_castsi256_ps(_mm256_slli_epi32::<31>(quadrant)));
            let sin_sign = _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32::<30>(quadrant), kc.sign));
            let cos_sign = _mm256_xor_ps(sin_sign, swap);
            self.sin[i] = _mm256_xor_ps(_mm256_blendv_ps(sin_x, cos_x, swap), sin_sign);
            self.cos[i] = _mm256_xor_ps(_mm256_blendv_ps(cos_x, sin_x, swap), cos_sign);
        }
    }
}

/// The pairs `(fma(std, r·cos, mean), fma(std, r·sin, mean))` of `r` from [`Ln`] and a
/// finished [`SinCos`].
#[inline]
#[target_feature(enable = "avx2,fma")]
fn normal_pairs(r: [__m256; V], sc: &SinCos<'_>, mean: __m256, std: __m256) -> [(__m256, __m256); V] {
    core::array::from_fn(|i| {
        let zc = _mm256_fmadd_ps(std, _mm256_mul_ps(r[i], sc.cos[i]), mean);
        let zs = _mm256_fmadd_ps(std, _mm256_mul_ps(r[i], sc.sin[i]), mean);
        (zc, zs)
    })
}

/// Lane `l` of a set holds block `j + OFFSET[l]`: then the transposition at the end
/// yields the 32 elements of the set in order.
const OFFSET: [u32; 8] = [0, 2, 4, 6, 1, 3, 5, 7];
/// [`OFFSET`] with the lanes of each 128-bit half in the order [`SIGMA`] gives.
const OFFSET_SIGMA: [u32; 8] = [0, 4, 2, 6, 1, 5, 3, 7];

/// The counters of blocks `j + OFFSET[l]` of each set, as [`round0`] takes them.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn counters(j: u64) -> [[__m256i; 2]; SETS] {
    let lanes = |v: [u32; 8]| {
        let v = v.map(|x| x as i32);
        _mm256_setr_epi32(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
    };
    core::array::from_fn(|set| {
        let first = j.wrapping_add((SET * set) as u64);
        if (first as u32).checked_add(SET as u32 - 1).is_some() {
            // No carry into the high word within the set.
            [
                _mm256_add_epi32(_mm256_set1_epi32(first as u32 as i32), lanes(OFFSET)),
                _mm256_set1_epi32((first >> 32) as u32 as i32),
            ]
        } else {
            let block = |o: u32| first.wrapping_add(u64::from(o));
            // The high word in the order permuted by SIGMA (see `round0`).
            [lanes(OFFSET.map(|o| block(o) as u32)), lanes(OFFSET_SIGMA.map(|o| (block(o) >> 32) as u32))]
        }
    })
}

/// Writes the [`NORMAL_STEP`] values of one iteration in stream order: lane `l` of set
/// `s` holds block `j + 8s + OFFSET[l]`, whose values are `(ca, sa, cb, sb)[l]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn store(z: [(__m256, __m256); V], out: &mut [f32]) {
    for (set, o) in out.chunks_exact_mut(4 * SET).enumerate() {
        let ((ca, sa), (cb, sb)) = (z[2 * set], z[2 * set + 1]);
        let a_lo = _mm256_castps_pd(_mm256_unpacklo_ps(ca, sa));
        let a_hi = _mm256_castps_pd(_mm256_unpackhi_ps(ca, sa));
        let b_lo = _mm256_castps_pd(_mm256_unpacklo_ps(cb, sb));
        let b_hi = _mm256_castps_pd(_mm256_unpackhi_ps(cb, sb));
        let rows = [
            _mm256_unpacklo_pd(a_lo, b_lo),
            _mm256_unpackhi_pd(a_lo, b_lo),
            _mm256_unpacklo_pd(a_hi, b_hi),
            _mm256_unpackhi_pd(a_hi, b_hi),
        ];
        for (row, o) in rows.into_iter().zip(o.chunks_exact_mut(8)) {
            assert!(o.len() == 8);
            // SAFETY: `o` is exactly 8 floats (checked above); `storeu` needs no
            // alignment.
            unsafe { _mm256_storeu_ps(o.as_mut_ptr(), _mm256_castpd_ps(row)) };
        }
    }
}

/// `v`, unchanged, but hidden from the optimizer: no instruction.
///
/// For the swap mask of [`SinCos::finish`], which holds nothing but the sign bit. Knowing
/// that, LLVM rewrites each `blendv` on it as a `blendv` on a comparison with zero: one
/// more vector operation per 16 values, for a select that reads the same sign bit.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn opaque(mut v: __m256) -> __m256 {
    // SAFETY: an empty template on one register that it leaves unchanged (`pure`,
    // `nomem`, `nostack`, `preserves_flags`: nothing else is touched).
    unsafe {
        core::arch::asm!("/* {0} */", inout(ymm_reg) v, options(pure, nomem, nostack, preserves_flags));
    }
    v
}

/// Keeps the compiler from separating the two chains the normal kernel interleaves: the
/// Box–Muller vectors being computed (`v`: the `ln` polynomials, then the `sincos` ones)
/// and the words that the next Philox round multiplies pass through here together, so
/// that every step of each chain stays between the same two fences in program order.
/// Emits no instruction.
///
/// Without it LLVM's scheduler gathers the rounds into one block and the polynomial steps
/// into another, or not, depending on unrelated inlining decisions, so the same source
/// gave fast and slow builds; with it the order is the written one.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn fence(v: &mut [__m256; V], c: &mut [State; SETS]) {
    let [p0, p1, p2, p3] = v;
    let [[c00, _, c02, _], [c10, _, c12, _]] = c;
    // SAFETY: an empty template; the operands are registers that it leaves unchanged
    // (`pure`, `nomem`, `nostack`, `preserves_flags`: nothing else is touched).
    unsafe {
        core::arch::asm!(
            "/* {0} {1} {2} {3} {4} {5} {6} {7} */",
            inout(ymm_reg) * p0,
            inout(ymm_reg) * p1,
            inout(ymm_reg) * p2,
            inout(ymm_reg) * p3,
            inout(ymm_reg) * c00,
            inout(ymm_reg) * c02,
            inout(ymm_reg) * c10,
            inout(ymm_reg) * c12,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
}

/// The normal kernel: [`NORMAL_STEP`] elements per iteration, software-pipelined.
///
/// Iteration `t` turns the blocks that iteration `t − 1` made into values while it makes
/// the blocks of iteration `t + 1`, one Philox round beside each pair of Box–Muller
/// steps. Alone, either chain is mostly waiting on the latency of the one before (a
/// Horner step depends on the previous one; a round on the previous round), and the
/// core's reorder window, a few hundred instructions, is too short to reach the other
/// on its own; interleaved in program order they fill each other's gaps.
///
/// `ln` runs beside rounds 1–5 and `sincos` beside rounds 5–9, rather than the two side
/// by side in the middle rounds, with `sincos`'s reduction made only when it starts:
/// same values, and a shorter schedule, although the loop touches the stack a little
/// more (the gain is in the schedule, not in fewer spills).
///
/// [`Ln`]'s one-addition reduction and power-of-two scaling and [`SinCos`]'s cheaper
/// quadrant signs take 6 vector operations off each 16 values (of about 150), and two
/// live vectors off each group, with the same values.
///
/// The last iteration makes blocks that are never used; the values are those of the plain
/// order.
#[target_feature(enable = "avx2,fma")]
fn normal_f32_avx2(keys: Keys, j: u64, mean: f32, std: f32, out: &mut [f32]) -> usize {
    let s = Schedule::new(keys);
    let consts = Consts::new();
    let kc = core::hint::black_box(&consts);
    let (mean, std) = (splat(mean), splat(std));
    let n = out.len() - out.len() % NORMAL_STEP;
    let mut j = j;
    let mut blocks = philox(kc, &s, counters(j));
    for chunk in out[..n].chunks_exact_mut(NORMAL_STEP) {
        j = j.wrapping_add((SET * SETS) as u64);
        // Pair A of each block is (w0, w1), pair B is (w2, w3): vector 2·set is pair A
        // of the set, 2·set + 1 pair B.
        let a: [__m256i; V] = core::array::from_fn(|i| blocks[i / 2][2 * (i % 2)]);
        let b: [__m256i; V] = core::array::from_fn(|i| blocks[i / 2][2 * (i % 2) + 1]);
        // The schedule is written out rather than looped: a closure or a loop over `r` would
        // lose the target feature or leave the indices to run time in this hot loop.
        let mut next = round0(kc, &s, counters(j));
        let mut ln = Ln::start(kc, a);
        fence(&mut ln.p, &mut next);
        round(kc, &mut next, s.k[1]);
        ln.step(1);
        ln.step(2);
        fence(&mut ln.p, &mut next);
        round(kc, &mut next, s.k[2]);
        ln.step(3);
        ln.step(4);
        fence(&mut ln.p, &mut next);
        round(kc, &mut next, s.k[3]);
        ln.step(5);
        ln.step(6);
        fence(&mut ln.p, &mut next);
        round(kc, &mut next, s.k[4]);
        ln.step(7);
        ln.step(8);
        fence(&mut ln.p, &mut next);
        round(kc, &mut next, s.k[5]);
        let r = ln.finish();
        let mut sc = SinCos::start(kc, b);
        fence(&mut sc.angle2, &mut next);
        round(kc, &mut next, s.k[6]);
        sc.step(0);
        sc.step(1);
        fence(&mut sc.sin, &mut next);
        round(kc, &mut next, s.k[7]);
        sc.step(2);
        sc.step(3);
        fence(&mut sc.sin, &mut next);
        round(kc, &mut next, s.k[8]);
        sc.finish();
        fence(&mut sc.sin, &mut next);
        round(kc, &mut next, s.k[9]);
        store(normal_pairs(r, &sc, mean, std), chunk);
        blocks = to_counter_order(next);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::kernels::{NormalF32, box_muller_f32};

    /// The kernel's Box–Muller steps in the kernel's order, on the given words.
    #[target_feature(enable = "avx2,fma")]
    fn box_muller(kc: &Consts, a: [__m256i; V], b: [__m256i; V], mean: f32, std: f32) -> [(__m256, __m256); V] {
        let mut ln = Ln::start(kc, a);
        for k in 1..LN_P.len() {
            ln.step(k);
        }
        let r = ln.finish();
        let mut sc = SinCos::start(kc, b);
        for k in 0..4 {
            sc.step(k);
        }
        sc.finish();
        normal_pairs(r, &sc, splat(mean), splat(std))
    }

    /// The eight lanes of `v`.
    #[target_feature(enable = "avx2,fma")]
    fn lanes(v: __m256) -> [f32; 8] {
        let mut out = [0.0f32; 8];
        // SAFETY: `out` holds 8 floats; `storeu` needs no alignment.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        out
    }

    /// The word pair `(a, b)` of test input `v`: over `v` in `0..2²⁴`, both halves of
    /// Box–Muller see each 24-bit input once (`b` runs through them in another order), with
    /// the low 8 bits, which the specification drops, set to something else each time.
    fn words(v: u32) -> (u32, u32) {
        let b = v.wrapping_mul(0x9e_3779) & 0xff_ffff;
        (v << 8 | (v & 0xff), b << 8 | (v >> 8 & 0xff))
    }

    /// The AVX2 arithmetic of [`normal_f32`] against the portable specification on all
    /// 2²⁴ inputs of `ln` and of `sincos` (everything the kernel computes from a word pair;
    /// the Philox part is compared with the portable one over a few million blocks in the
    /// parent module's tests). With `mean = −0` and `std = 1` the outputs are `r·cos` and
    /// `r·sin` exactly, signs of zero included.
    #[test]
    fn box_muller_is_the_specification_for_every_word() {
        if !avx2_fma_available() {
            crate::stream::tests::skipped(
                "simd::box_muller_is_the_specification_for_every_word",
                "no AVX2 and FMA on this CPU: the AVX2 arithmetic cannot run",
            );
            return;
        }
        let normal = NormalF32 { mean: -0.0, std: 1.0 };
        let kc = Consts::new_checked();
        let mut mismatches = 0u64;
        let mut first = None;
        for base in (0..1u32 << 24).step_by(8 * V) {
            let pair: [(u32, u32); 8 * V] = core::array::from_fn(|l| words(base + l as u32));
            let vector = |i: usize, word: fn(&(u32, u32)) -> u32| {
                let w: [i32; 8] = core::array::from_fn(|l| word(&pair[8 * i + l]) as i32);
                // SAFETY: plain lane construction; AVX2 was found above.
                unsafe { _mm256_setr_epi32(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]) }
            };
            let a: [__m256i; V] = core::array::from_fn(|i| vector(i, |p| p.0));
            let b: [__m256i; V] = core::array::from_fn(|i| vector(i, |p| p.1));
            // SAFETY: AVX2 and FMA were found above.
            let z = unsafe { box_muller(&kc, a, b, normal.mean, normal.std) };
            for (i, (zc, zs)) in z.into_iter().enumerate() {
                // SAFETY: as above.
                let (zc, zs) = unsafe { (lanes(zc), lanes(zs)) };
                for l in 0..8 {
                    let (wa, wb) = pair[8 * i + l];
                    let (c, s) = box_muller_f32(wa, wb);
                    let want = (normal.scale(c), normal.scale(s));
                    if (zc[l].to_bits(), zs[l].to_bits()) != (want.0.to_bits(), want.1.to_bits()) {
                        mismatches += 1;
                        first.get_or_insert((wa, wb, zc[l], zs[l], want));
                    }
                }
            }
        }
        assert_eq!(mismatches, 0, "first mismatch (a, b, cos, sin, wanted): {first:?}");
    }
}
