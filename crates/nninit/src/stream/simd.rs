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

use super::kernels::{BlockMap, GROUP, Keys, TruncatedF32, drive};
use super::math32::{
    COS_P, LN_P, LN2_HI, LN2_LO, PPND7, PPND7_CONST1, PPND7_SPLIT, ROUND_MAGIC, SIN_P, SQRT_HALF, TAU_F32,
};
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

/// Writes elements `4·j .. 4·j + n` of the 32-bit truncated normal stream of `map`
/// into `out[..n]`, where `n` is `out.len()` rounded down to a multiple of
/// [`NORMAL_STEP`], and returns `n`; returns 0 (writing nothing) if the CPU lacks AVX2 or
/// FMA.
pub(crate) fn truncated_f32(map: TruncatedF32, keys: Keys, j: u64, out: &mut [f32]) -> usize {
    if out.len() < NORMAL_STEP || !avx2_fma_available() {
        return 0;
    }
    // SAFETY: `truncated_f32_avx2` enables AVX2 and FMA, which the check above found.
    unsafe { truncated_f32_avx2(map, keys, j, out) }
}

/// The constant vectors of the truncated normal kernel (read through `black_box`, as
/// [`Consts`] and for the same reason).
struct TruncConsts {
    /// 2⁻²³ and 2⁻²⁴: `u = fma(w >> 9, 2⁻²³, 2⁻²⁴)`.
    two_m23: __m256,
    two_m24: __m256,
    /// `p₀ − ½` and `p₁ − p₀`, each as two f32.
    q0: [__m256; 2],
    d: [__m256; 2],
    /// `p₀` and `1 − p₀`, each as two f32.
    p0: [__m256; 2],
    c0: [__m256; 2],
    /// All bits but the sign, and the sign.
    abs: __m256,
    sign: __m256,
    /// `PPND7`'s tail numerator and denominator, and the shift of its argument.
    c: [__m256; 4],
    dd: [__m256; 4],
    near: __m256,
    /// `ln`'s constants: [`LN_P`], ln 2 in two parts, √½, 1, −½, and for the reduction
    /// 0xff, the exponent bias less one (126), the mantissa bits and the bits of ½.
    ln_p: [__m256; 9],
    ln2_hi: __m256,
    ln2_lo: __m256,
    sqrt_half: __m256,
    one: __m256,
    neg_half: __m256,
    byte: __m256i,
    bias: __m256i,
    mantissa: __m256i,
    half_bits: __m256i,
    /// `PPND7`'s split, `0.425`, and `0.425²`.
    split: __m256,
    const1: __m256,
    /// `PPND7`'s central numerator and denominator.
    a: [__m256; 4],
    b: [__m256; 4],
    /// `σ` (signed), `μ` and the bounds.
    sigma: __m256,
    mean: __m256,
    low: __m256,
    high: __m256,
}

impl TruncConsts {
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn new(map: &TruncatedF32) -> Self {
        Self {
            two_m23: splat(1.0 / 8_388_608.0),
            two_m24: splat(1.0 / 16_777_216.0),
            q0: map.q0.map(|x| splat(x)),
            d: map.d.map(|x| splat(x)),
            p0: map.p0.map(|x| splat(x)),
            c0: map.c0.map(|x| splat(x)),
            abs: _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX)),
            sign: _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN)),
            c: PPND7.c.map(|x| splat(x)),
            dd: PPND7.d.map(|x| splat(x)),
            near: splat(1.6),
            ln_p: LN_P.map(|x| splat(x)),
            ln2_hi: splat(LN2_HI),
            ln2_lo: splat(LN2_LO),
            sqrt_half: splat(SQRT_HALF),
            one: splat(1.0),
            neg_half: splat(-0.5),
            byte: _mm256_set1_epi32(0xff),
            bias: _mm256_set1_epi32(126),
            mantissa: _mm256_set1_epi32(0x007f_ffff),
            half_bits: _mm256_set1_epi32(0x3f00_0000),
            split: splat(PPND7_SPLIT),
            const1: splat(PPND7_CONST1),
            a: PPND7.a.map(|x| splat(x)),
            b: PPND7.b.map(|x| splat(x)),
            sigma: splat(map.sigma),
            mean: splat(map.mean),
            low: splat(map.low),
            high: splat(map.high),
        }
    }
}

/// `c[0]·x³ + c[1]·x² + c[2]·x + c[3]` by Horner's rule, as `math32`'s `horner3`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn horner3(c: &[__m256; 4], x: __m256) -> __m256 {
    _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_fmadd_ps(c[0], x, c[1]), x, c[2]), x, c[3])
}

/// The words' uniforms `u = fma(w >> 9, 2⁻²³, 2⁻²⁴)` and their probabilities less ½,
/// `q = fma(u, D.hi, Q0.hi) + fma(u, D.lo, Q0.lo)`, as `TruncatedF32::value` has them.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn uniform_and_q(k: &TruncConsts, w: __m256i) -> (__m256, __m256) {
    let u = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32::<9>(w)), k.two_m23, k.two_m24);
    (u, _mm256_add_ps(_mm256_fmadd_ps(u, k.d[0], k.q0[0]), _mm256_fmadd_ps(u, k.d[1], k.q0[1])))
}

/// `math32::ln` of eight positive normal floats, operation for operation.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn ln_ps(k: &TruncConsts, x: __m256) -> __m256 {
    let bits = _mm256_castps_si256(x);
    let e = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32::<23>(bits), k.byte), k.bias);
    let m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, k.mantissa), k.half_bits));
    // Where m < √½: 2m and e − 1 (the mask is −1 as an integer).
    let small = _mm256_cmp_ps::<_CMP_LT_OQ>(m, k.sqrt_half);
    let e = _mm256_add_epi32(e, _mm256_castps_si256(small));
    let x = _mm256_sub_ps(_mm256_add_ps(m, _mm256_and_ps(small, m)), k.one);
    let fe = _mm256_cvtepi32_ps(e);
    let z = _mm256_mul_ps(x, x);
    let mut p = k.ln_p[0];
    for c in &k.ln_p[1..] {
        p = _mm256_fmadd_ps(p, x, *c);
    }
    let mut y = _mm256_mul_ps(_mm256_mul_ps(p, x), z);
    y = _mm256_fmadd_ps(k.ln2_lo, fe, y);
    y = _mm256_fmadd_ps(k.neg_half, z, y);
    _mm256_fmadd_ps(k.ln2_hi, fe, _mm256_add_ps(x, y))
}

/// The truncated normal's value of eight words that lie in `PPND7`'s tails but not its
/// far tail (`TruncatedF32::value` where the interval never reaches it: `PPND7`'s tail
/// branch with its near coefficients), operation for operation.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn truncated_near_tail(k: &TruncConsts, w: __m256i) -> __m256 {
    let (u, q) = uniform_and_q(k, w);
    // Below ½ the tail distance is p = p₀ + u·d, above it 1 − p = (1 − p₀) − u·d.
    let lower = _mm256_cmp_ps::<_CMP_LT_OQ>(q, _mm256_setzero_ps());
    let a = [_mm256_blendv_ps(k.c0[0], k.p0[0], lower), _mm256_blendv_ps(k.c0[1], k.p0[1], lower)];
    let v = _mm256_blendv_ps(_mm256_xor_ps(u, k.sign), u, lower);
    let t = _mm256_add_ps(_mm256_fmadd_ps(v, k.d[0], a[0]), _mm256_fmadd_ps(v, k.d[1], a[1]));
    let y = _mm256_sub_ps(_mm256_sqrt_ps(_mm256_xor_ps(ln_ps(k, t), k.sign)), k.near);
    let m = _mm256_or_ps(_mm256_and_ps(q, k.sign), k.one);
    let z = _mm256_div_ps(_mm256_mul_ps(m, horner3(&k.c, y)), horner3(&k.dd, y));
    let v = _mm256_max_ps(k.low, _mm256_fmadd_ps(k.sigma, z, k.mean));
    _mm256_min_ps(k.high, v)
}

/// The truncated normal's value of eight words through `PPND7`'s central rational
/// function, and the bit mask of the lanes that lie in its tails instead (`|q| > 0.425`),
/// whose values the caller replaces: the specification's steps for the centre, operation
/// for operation (`TruncatedF32::value`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn truncated_centre(k: &TruncConsts, w: __m256i) -> (__m256, u32) {
    let (_, q) = uniform_and_q(k, w);
    let tails = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_and_ps(q, k.abs), k.split)) as u32;
    let r = _mm256_fnmadd_ps(q, q, k.const1);
    let z = _mm256_div_ps(_mm256_mul_ps(q, horner3(&k.a, r)), horner3(&k.b, r));
    // `if v < low { low }`, then `if v > high { high }`: `max(a, b)` is `a > b ? a : b`.
    let v = _mm256_max_ps(k.low, _mm256_fmadd_ps(k.sigma, z, k.mean));
    (_mm256_min_ps(k.high, v), tails)
}

/// The stream position within an iteration of lane `i % 8` of vector `i / 8` of the
/// truncated normal kernel: word `v % 4` of block `8·(v / 4) + OFFSET[l]`.
const fn soa_position(i: usize) -> usize {
    let (v, l) = (i / SET, i % SET);
    4 * SET * (v / 4) + 4 * OFFSET[l] as usize + v % 4
}

/// [`soa_position`] of every lane.
const SOA_POSITIONS: [i32; NORMAL_STEP] = {
    let mut p = [0i32; NORMAL_STEP];
    let mut i = 0;
    while i < NORMAL_STEP {
        p[i] = soa_position(i) as i32;
        i += 1;
    }
    p
};

/// For each 8-bit lane mask, the indices of its set lanes in order, then zeros, one per
/// byte: the permutation that packs the selected lanes of a vector at its start.
const COMPRESS: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let (mut l, mut n) = (0, 0);
        while l < 8 {
            if m & (1 << l) != 0 {
                t[m] |= (l as u64) << (8 * n);
                n += 1;
            }
            l += 1;
        }
        m += 1;
    }
    t
};

/// Iterations of the truncated normal kernel whose tail lanes are gathered and computed
/// together.
const BATCH: usize = 16;
/// Room for every lane of a batch in the tail buffers, and a vector's slack.
const TAIL_ROOM: usize = BATCH * NORMAL_STEP + SET;

/// The truncated normal kernel: [`NORMAL_STEP`] elements per iteration, in batches of
/// [`BATCH`] iterations. Every lane goes through the centre's rational function in
/// vectors and is stored; the lanes in the tails (about one in nine at ±2σ) are packed,
/// without branches, into a buffer of words and positions, and once per batch go through
/// [`truncated_near_tail`] eight at a time (or, for an interval that reaches `PPND7`'s far
/// tail, [`TruncatedF32::value`]), whose values overwrite theirs. Packing
/// them keeps the tails' logarithm and square root to full vectors, and deferring them to
/// the end of the batch lets consecutive tail vectors overlap (each is one long chain of
/// dependent operations) instead of stalling each iteration. Same values: the
/// specification's.
#[target_feature(enable = "avx2,fma")]
fn truncated_f32_avx2(map: TruncatedF32, keys: Keys, j: u64, out: &mut [f32]) -> usize {
    let s = Schedule::new(keys);
    let consts = Consts::new();
    let kc = core::hint::black_box(&consts);
    let tconsts = TruncConsts::new(&map);
    let tk = core::hint::black_box(&tconsts);
    let positions: [__m256i; 4 * SETS] = {
        let mut p = [_mm256_setzero_si256(); 4 * SETS];
        for (v, p) in p.iter_mut().enumerate() {
            let l = &SOA_POSITIONS[SET * v..SET * (v + 1)];
            *p = _mm256_setr_epi32(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]);
        }
        p
    };
    let n = out.len() - out.len() % NORMAL_STEP;
    let mut j = j;
    if map.near_tail_only() {
        for chunk in out[..n].chunks_exact_mut(NORMAL_STEP) {
            let blocks = philox(kc, &s, counters(j));
            j = j.wrapping_add((SET * SETS) as u64);
            let mut z = [_mm256_setzero_ps(); 4 * SETS];
            for v in 0..4 * SETS {
                z[v] = truncated_near_tail(tk, blocks[v / 4][v % 4]);
            }
            store([(z[0], z[1]), (z[2], z[3]), (z[4], z[5]), (z[6], z[7])], chunk);
        }
        return n;
    }
    let (mut tail_words, mut tail_at) = ([0u32; TAIL_ROOM], [0u32; TAIL_ROOM]);
    let mut next = philox(kc, &s, counters(j));
    for batch in out[..n].chunks_mut(BATCH * NORMAL_STEP) {
        let mut tails = 0;
        for (c, chunk) in batch.chunks_exact_mut(NORMAL_STEP).enumerate() {
            // The next iteration's blocks first: their rounds are one chain of dependent
            // multiplications, which the centre's arithmetic below fills in beside.
            let blocks = next;
            j = j.wrapping_add((SET * SETS) as u64);
            next = philox(kc, &s, counters(j));
            let base = _mm256_set1_epi32((c * NORMAL_STEP) as i32);
            // Vector v = 4·set + k: word k of the set's blocks. (Loops, not `from_fn`,
            // whose closure is not inlined here.)
            let mut z = [_mm256_setzero_ps(); 4 * SETS];
            let mut masks = [0u32; 4 * SETS];
            for v in 0..4 * SETS {
                (z[v], masks[v]) = truncated_centre(tk, blocks[v / 4][v % 4]);
            }
            store([(z[0], z[1]), (z[2], z[3]), (z[4], z[5]), (z[6], z[7])], chunk);
            // Whole iterations without a tail lane are the rule where the interval lies
            // within about ±1.4σ, and the exception beyond: a predictable branch.
            if masks.iter().all(|&m| m == 0) {
                continue;
            }
            for v in 0..4 * SETS {
                let (w, mask) = (blocks[v / 4][v % 4], masks[v]);
                let idx = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(COMPRESS[mask as usize] as i64));
                let packed_words = _mm256_permutevar8x32_epi32(w, idx);
                let packed_at = _mm256_permutevar8x32_epi32(_mm256_add_epi32(base, positions[v]), idx);
                let (ow, oa) = (&mut tail_words[tails..tails + SET], &mut tail_at[tails..tails + SET]);
                // SAFETY: `ow` and `oa` are exactly 8 u32 (sliced just above); `storeu`
                // needs no alignment.
                unsafe {
                    _mm256_storeu_si256(ow.as_mut_ptr().cast(), packed_words);
                    _mm256_storeu_si256(oa.as_mut_ptr().cast(), packed_at);
                }
                tails += mask.count_ones() as usize;
            }
        }
        for (w, at) in tail_words[..tails].chunks(GROUP).zip(tail_at[..tails].chunks(GROUP)) {
            let mut tw = [0u32; GROUP];
            tw[..w.len()].copy_from_slice(w);
            let mut tz = [0f32; GROUP];
            if map.reaches_far_tail() {
                // Rare (intervals beyond about 6.7σ): the per-word definition.
                for (z, &w) in tz.iter_mut().zip(&tw) {
                    *z = map.value(w);
                }
            } else {
                // SAFETY: `tz` holds 8 floats; `storeu` needs no alignment.
                unsafe { _mm256_storeu_ps(tz.as_mut_ptr(), truncated_near_tail(tk, lanes_u32(tw))) };
            }
            for (&a, &z) in at.iter().zip(&tz) {
                batch[a as usize] = z;
            }
        }
    }
    n
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
    // Loops rather than `from_fn` and `map`: their closures are not always inlined into
    // the kernels, and a call per iteration costs more than the counters themselves.
    let mut c = [[_mm256_setzero_si256(); 2]; SETS];
    for (set, c) in c.iter_mut().enumerate() {
        let first = j.wrapping_add((SET * set) as u64);
        *c = if (first as u32).checked_add(SET as u32 - 1).is_some() {
            // No carry into the high word within the set.
            [
                _mm256_add_epi32(_mm256_set1_epi32(first as u32 as i32), lanes_u32(OFFSET)),
                _mm256_set1_epi32((first >> 32) as u32 as i32),
            ]
        } else {
            // The high word in the order permuted by SIGMA (see `round0`).
            let (mut lo, mut hi) = ([0u32; 8], [0u32; 8]);
            for l in 0..8 {
                lo[l] = first.wrapping_add(u64::from(OFFSET[l])) as u32;
                hi[l] = (first.wrapping_add(u64::from(OFFSET_SIGMA[l])) >> 32) as u32;
            }
            [lanes_u32(lo), lanes_u32(hi)]
        };
    }
    c
}

/// The vector of eight u32 lanes `v`, lane 0 first.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lanes_u32(v: [u32; 8]) -> __m256i {
    _mm256_setr_epi32(
        v[0] as i32,
        v[1] as i32,
        v[2] as i32,
        v[3] as i32,
        v[4] as i32,
        v[5] as i32,
        v[6] as i32,
        v[7] as i32,
    )
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
