//! AVX2 builds of the doctor's statistics passes, written with `std::arch` intrinsics
//! (the compiler does not vectorize the portable loops well: it keeps them 4 lanes wide
//! and spills). Beside `stream/simd.rs`, the crate's only other `unsafe` code.
//!
//! Each kernel computes exactly what the portable loop in the parent module computes:
//! eight lanes, lane `k` taking elements `8·i + k` in order, each operation rounded once,
//! no fused multiply-adds, so the results are the same bits (the tests compare them).
//! The `unsafe` is of two kinds only: calling a `#[target_feature(enable = "avx2")]`
//! function right after [`available`] returned true, and unaligned 256-bit loads from a
//! slice chunk of exactly eight floats.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

/// Whether this CPU has AVX2 (one cached atomic load after the first call).
#[inline]
pub(super) fn available() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// The lanes of the first statistics pass over the chunks of eight: per-lane sums,
/// minima (`if x < min { x } else { min }`) and maxima, then whether any value is NaN or
/// ±∞, and whether any value's magnitude is below `tiny` (zeros and subnormals).
pub(super) type FirstPass = ([[f32; 8]; 3], bool, bool);

#[inline]
#[target_feature(enable = "avx2")]
fn load(c: &[f32]) -> __m256 {
    assert_eq!(c.len(), 8);
    // SAFETY: `c` holds exactly eight floats (checked above); the load is unaligned.
    unsafe { _mm256_loadu_ps(c.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store(v: __m256) -> [f32; 8] {
    let mut out = [0.0f32; 8];
    // SAFETY: `out` holds exactly eight floats; the store is unaligned.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
    out
}

/// The exponent field of every lane: all ones exactly for NaN and ±∞.
#[inline]
#[target_feature(enable = "avx2")]
fn non_finite(x: __m256) -> __m256i {
    let exp = _mm256_set1_epi32(0x7f80_0000);
    _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(x), exp), exp)
}

/// Sums, extremes and the rare-value flags over the chunks of eight of `xs`, or `None`
/// where the CPU lacks AVX2.
pub(super) fn first_lanes(xs: &[f32], tiny: f32) -> Option<FirstPass> {
    if !available() {
        return None;
    }
    // SAFETY: `first_lanes_avx2` enables AVX2, which the check above found.
    Some(unsafe { first_lanes_avx2(xs, tiny) })
}

#[target_feature(enable = "avx2")]
fn first_lanes_avx2(xs: &[f32], tiny: f32) -> FirstPass {
    let (mut s, mut min, mut max) =
        (_mm256_setzero_ps(), _mm256_set1_ps(f32::INFINITY), _mm256_set1_ps(f32::NEG_INFINITY));
    let (mut bad, mut small) = (_mm256_setzero_si256(), _mm256_setzero_ps());
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let tiny = _mm256_set1_ps(tiny);
    for c in xs.chunks_exact(8) {
        let x = load(c);
        bad = _mm256_or_si256(bad, non_finite(x));
        small = _mm256_or_ps(small, _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_and_ps(x, abs_mask), tiny));
        s = _mm256_add_ps(s, x);
        // MINPS/MAXPS return the second operand unless the first is smaller/larger:
        // `if x < min { x } else { min }`, NaN and signed zeros included.
        min = _mm256_min_ps(x, min);
        max = _mm256_max_ps(x, max);
    }
    ([store(s), store(min), store(max)], _mm256_testz_si256(bad, bad) == 0, _mm256_movemask_ps(small) != 0)
}

/// The per-lane sums `Σd²`, `Σd³`, `Σd⁴` of `d = x − m` over the chunks of eight, or
/// `None` where the CPU lacks AVX2.
pub(super) fn central_lanes(xs: &[f32], m: f32) -> Option<[[f32; 8]; 3]> {
    if !available() {
        return None;
    }
    // SAFETY: `central_lanes_avx2` enables AVX2, which the check above found.
    Some(unsafe { central_lanes_avx2(xs, m) })
}

#[target_feature(enable = "avx2")]
fn central_lanes_avx2(xs: &[f32], m: f32) -> [[f32; 8]; 3] {
    let m = _mm256_set1_ps(m);
    let (mut m2, mut m3, mut m4) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
    for c in xs.chunks_exact(8) {
        let d = _mm256_sub_ps(load(c), m);
        let d2 = _mm256_mul_ps(d, d);
        m2 = _mm256_add_ps(m2, d2);
        m3 = _mm256_add_ps(m3, _mm256_mul_ps(d2, d));
        m4 = _mm256_add_ps(m4, _mm256_mul_ps(d2, d2));
    }
    [store(m2), store(m3), store(m4)]
}

/// The per-lane counts of finite values with `(x − mean)² > limit2` over the chunks of
/// eight, or `None` where the CPU lacks AVX2.
pub(super) fn beyond_lanes(xs: &[f32], mean: f32, limit2: f32) -> Option<[u32; 8]> {
    if !available() {
        return None;
    }
    // SAFETY: `beyond_lanes_avx2` enables AVX2, which the check above found.
    Some(unsafe { beyond_lanes_avx2(xs, mean, limit2) })
}

#[target_feature(enable = "avx2")]
fn beyond_lanes_avx2(xs: &[f32], mean: f32, limit2: f32) -> [u32; 8] {
    let (mean, limit2) = (_mm256_set1_ps(mean), _mm256_set1_ps(limit2));
    let mut count = _mm256_setzero_si256();
    for c in xs.chunks_exact(8) {
        let x = load(c);
        let d = _mm256_sub_ps(x, mean);
        let far = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_mul_ps(d, d), limit2));
        // A true lane is all ones (−1): subtracting it counts one.
        count = _mm256_sub_epi32(count, _mm256_andnot_si256(non_finite(x), far));
    }
    let mut out = [0u32; 8];
    // SAFETY: `out` holds exactly eight 32-bit lanes; the store is unaligned.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), count) };
    out
}

/// One row of a spectral pass over the chunks of eight: the per-lane products
/// `x[8i+k]·v[8i+k]` summed per lane, or `None` where the CPU lacks AVX2.
pub(super) fn dot_lanes(x: &[f32], v: &[f32]) -> Option<[f32; 8]> {
    if !available() {
        return None;
    }
    // SAFETY: `dot_lanes_avx2` enables AVX2, which the check above found.
    Some(unsafe { dot_lanes_avx2(x, v) })
}

#[target_feature(enable = "avx2")]
fn dot_lanes_avx2(x: &[f32], v: &[f32]) -> [f32; 8] {
    let mut acc = _mm256_setzero_ps();
    for (a, b) in x.chunks_exact(8).zip(v.chunks_exact(8)) {
        acc = _mm256_add_ps(acc, _mm256_mul_ps(load(a), load(b)));
    }
    store(acc)
}

/// `y[i] += t·x[i]` (a multiply, then an add) over the chunks of eight; returns how many
/// elements it did (0 where the CPU lacks AVX2).
pub(super) fn axpy(t: f32, x: &[f32], y: &mut [f32]) -> usize {
    if !available() {
        return 0;
    }
    // SAFETY: `axpy_avx2` enables AVX2, which the check above found.
    unsafe { axpy_avx2(t, x, y) }
}

#[target_feature(enable = "avx2")]
fn axpy_avx2(t: f32, x: &[f32], y: &mut [f32]) -> usize {
    let t8 = _mm256_set1_ps(t);
    let mut done = 0;
    for (a, b) in x.chunks_exact(8).zip(y.chunks_exact_mut(8)) {
        let sum = _mm256_add_ps(load(b), _mm256_mul_ps(t8, load(a)));
        b.copy_from_slice(&store(sum));
        done += 8;
    }
    done
}
