//! PyTorch 2.15's CPU `uniform_` and `normal_` kernels
//! (`ATen/native/cpu/DistributionTemplates.h`, `avx_mathfun.h`), element for
//! element. See the [module docs](super) for what is exact.

use std::f64::consts::PI;

use super::generator::{TorchGenerator, TorchKernel};

/// 2⁻²⁴: turns 24 random bits into a float in [0, 1).
const F32_SCALE: f32 = 1.0 / 16_777_216.0;
/// 2⁻⁵³: turns 53 random bits into a double in [0, 1).
const F64_SCALE: f64 = 1.0 / 9_007_199_254_740_992.0;
/// 53 low bits.
const F64_MASK: u64 = (1 << 53) - 1;

/// A float in [0, 1) from the low 24 bits of one word (`uniform_real_distribution<float>(0, 1)`).
#[inline(always)]
fn unit_f32(r: u32) -> f32 {
    (r & 0x00FF_FFFF) as f32 * F32_SCALE
}

/// A double in [0, 1) from the low 53 bits of `random64()`.
#[inline(always)]
fn unit_f64(r: u64) -> f64 {
    (r & F64_MASK) as f64 * F64_SCALE
}

// ---------------------------------------------------------------- uniform_

/// `uniform_(from, to)` on a float32 buffer. `from <= to`, both finite (checked by the caller).
pub(crate) fn uniform_f32(g: &mut TorchGenerator, out: &mut [f32], from: f64, to: f64) {
    let (f, t) = (from as f32, to as f32);
    match g.kernel() {
        TorchKernel::Avx2 => super::simd::uniform_f32_fused(g, out, f, t),
        TorchKernel::Default => {
            let range = t - f;
            for v in out.iter_mut() {
                let x = unit_f32(g.random()) * range + f;
                *v = if x == t { f } else { x };
            }
        }
    }
}

/// The body of the fused (AVX2-flavour) float32 `uniform_`, inlined into the
/// FMA-enabled and the portable wrappers of [`super::simd`].
#[inline(always)]
pub(crate) fn uniform_f32_fused_body(g: &mut TorchGenerator, out: &mut [f32], f: f32, t: f32) {
    let range = t - f;
    let one = |w: u32| {
        let x = unit_f32(w).mul_add(range, f);
        if x == t { f } else { x }
    };
    let (blocks, tail) = out.as_chunks_mut::<16>();
    for block in blocks {
        for (v, w) in block.iter_mut().zip(g.random16()) {
            *v = one(w);
        }
    }
    for v in tail {
        *v = one(g.random());
    }
}

/// `uniform_(from, to)` on a float64 buffer.
pub(crate) fn uniform_f64(g: &mut TorchGenerator, out: &mut [f64], from: f64, to: f64) {
    let range = to - from;
    let fused = g.kernel() == TorchKernel::Avx2;
    for v in out.iter_mut() {
        let x = unit_f64(g.random64());
        let x = if fused { x.mul_add(range, from) } else { x * range + from };
        *v = if x == to { from } else { x };
    }
}

// ---------------------------------------------------------------- normal_

/// `normal_(mean, std)` on a contiguous float32 buffer.
pub(crate) fn normal_f32(g: &mut TorchGenerator, out: &mut [f32], mean: f64, std: f64) {
    if out.len() < 16 {
        return scalar_normal(g, out, mean, std, |v| v as f32);
    }
    let (m, s) = (mean as f32, std as f32);
    match g.kernel() {
        TorchKernel::Avx2 => super::simd::normal_f32_avx2(g, out, m, s),
        TorchKernel::Default => {
            vector_normal(g, out, |g| unit_f32(g.random()), |block| fill16_f32_default(block, m, s))
        }
    }
}

/// `normal_(mean, std)` on a contiguous float64 buffer.
pub(crate) fn normal_f64(g: &mut TorchGenerator, out: &mut [f64], mean: f64, std: f64) {
    if out.len() < 16 {
        return scalar_normal(g, out, mean, std, |v| v);
    }
    vector_normal(g, out, |g| unit_f64(g.random64()), |block| fill16_f64(block, mean, std));
}

/// The vectorised path's order of work. PyTorch first writes a uniform into
/// every element, transforms each full 16-block with Box–Muller, and then, if
/// the length is not a multiple of 16, writes 16 fresh uniforms over the last
/// 16 elements and transforms those (overwriting up to 15 finished outputs).
///
/// Here each full block draws its 16 uniforms just before its transform, the
/// `n % 16` uniforms PyTorch writes into the leftover elements are drawn and
/// dropped (the tail overwrites them), and then the tail is drawn: the same
/// words in the same order, so the same result, with the buffer touched once.
#[inline(always)]
pub(crate) fn vector_normal<T: Copy>(
    g: &mut TorchGenerator,
    out: &mut [T],
    mut draw: impl FnMut(&mut TorchGenerator) -> T,
    fill16: impl Fn(&mut [T; 16]),
) {
    let n = out.len();
    debug_assert!(n >= 16);
    let (blocks, _) = out.as_chunks_mut::<16>();
    for block in blocks {
        for slot in block.iter_mut() {
            *slot = draw(g);
        }
        fill16(block);
    }
    if !n.is_multiple_of(16) {
        for _ in 0..n % 16 {
            draw(g);
        }
        if let Some(tail) = out.last_chunk_mut::<16>() {
            for slot in tail.iter_mut() {
                *slot = draw(g);
            }
            fill16(tail);
        }
    }
}

/// The scalar path (`numel < 16` or not contiguous): each element is
/// `normal_distribution<double>` with the generator's persistent cache, cast
/// to the element type.
fn scalar_normal<T>(g: &mut TorchGenerator, out: &mut [T], mean: f64, std: f64, cast: impl Fn(f64) -> T) {
    let fused = g.kernel() == TorchKernel::Avx2;
    for slot in out.iter_mut() {
        let v = match g.take_cached_normal() {
            Some(v) => v,
            None => {
                let u1 = unit_f64(g.random64());
                let u2 = unit_f64(g.random64());
                let r = (-2.0 * (-u2).ln_1p()).sqrt();
                let theta = 2.0 * PI * u1;
                g.set_cached_normal(r * theta.sin());
                r * theta.cos()
            }
        };
        // `val * std + mean`: GCC fused it in the AVX2 build only.
        *slot = cast(if fused { v.mul_add(std, mean) } else { v * std + mean });
    }
}

/// `NormalFill16<double>`: glibc `log`, `cos`, `sin` and an explicit `fma`.
#[inline(always)]
fn fill16_f64(d: &mut [f64; 16], mean: f64, std: f64) {
    for j in 0..8 {
        let u1 = 1.0 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * PI * u2;
        d[j] = (radius * theta.cos()).mul_add(std, mean);
        d[j + 8] = (radius * theta.sin()).mul_add(std, mean);
    }
}

/// `NormalFill16<float>` of the DEFAULT build: glibc `logf`, `cosf`/`sinf`,
/// θ rounded from double, and `fmaf`.
#[inline(always)]
fn fill16_f32_default(d: &mut [f32; 16], mean: f32, std: f32) {
    for j in 0..8 {
        let u1 = 1.0f32 - d[j];
        let u2 = d[j + 8];
        let radius = (-2.0f32 * u1.ln()).sqrt();
        let theta = (2.0 * PI * f64::from(u2)) as f32;
        d[j] = (radius * theta.cos()).mul_add(std, mean);
        d[j + 8] = (radius * theta.sin()).mul_add(std, mean);
    }
}

// ------------------------------------------- AVX2 flavour: avx_mathfun.h as GCC 13.3 compiled it

/// The constants of `avx_mathfun.h`, written as there (rounded to `f32`
/// when compiled, as in C).
#[allow(clippy::excessive_precision, clippy::approx_constant)]
mod cephes {
    pub(super) const MIN_NORM_POS: f32 = f32::MIN_POSITIVE; // 0x00800000
    pub(super) const SQRTHF: f32 = 0.707_106_781_186_547_524;
    pub(super) const LOG_P: [f32; 9] = [
        7.037_683_629_2E-2,
        -1.151_461_031_0E-1,
        1.167_699_874_0E-1,
        -1.242_014_084_6E-1,
        1.424_932_278_7E-1,
        -1.666_805_766_5E-1,
        2.000_071_476_5E-1,
        -2.499_999_399_3E-1,
        3.333_333_117_4E-1,
    ];
    pub(super) const LOG_Q1: f32 = -2.121_944_40e-4;
    pub(super) const LOG_Q2: f32 = 0.693_359_375;
    pub(super) const FOPI: f32 = 1.273_239_544_735_16;
    pub(super) const DP1: f32 = -0.785_156_25;
    pub(super) const DP2: f32 = -2.418_756_484_985_351_562_5e-4;
    pub(super) const DP3: f32 = -3.774_894_977_445_941_08e-8;
    pub(super) const SINCOF: [f32; 3] = [-1.951_529_589_1E-4, 8.332_160_873_6E-3, -1.666_665_461_1E-1];
    pub(super) const COSCOF: [f32; 3] = [2.443_315_711_809_948E-5, -1.388_731_625_493_765E-3, 4.166_664_568_298_827E-2];
}
use cephes::*;

/// One lane of `log256_ps`, with the multiply-adds GCC fused.
#[inline(always)]
fn log_lane(u: f32) -> f32 {
    let invalid = u <= 0.0;
    let x = if u > MIN_NORM_POS { u } else { MIN_NORM_POS };
    let bits = x.to_bits();
    let mut e = ((bits >> 23) as i32 - 0x7f) as f32 + 1.0;
    let mut x = f32::from_bits((bits & 0x807F_FFFF) | 0x3F00_0000);
    let mask = x < SQRTHF;
    let tmp = if mask { x } else { 0.0 };
    x -= 1.0;
    e -= if mask { 1.0 } else { 0.0 };
    x += tmp;
    let z = x * x;
    let mut y = LOG_P[0];
    for &p in &LOG_P[1..] {
        y = y.mul_add(x, p);
    }
    y = (y * x).mul_add(z, e * LOG_Q1);
    y = (-z).mul_add(0.5, y);
    x += y;
    x = e.mul_add(LOG_Q2, x);
    if invalid { f32::from_bits(u32::MAX) } else { x }
}

/// One lane of `sincos256_ps`, with the multiply-adds GCC fused: `(sin, cos)`.
#[inline(always)]
fn sincos_lane(th: f32) -> (f32, f32) {
    let sign_in = th.to_bits() & 0x8000_0000;
    let a = f32::from_bits(th.to_bits() & 0x7FFF_FFFF);
    let scaled = a * FOPI;
    // cvttps2dq: truncation, and 0x80000000 for anything out of range.
    let j0 = if scaled < 2_147_483_648.0 { scaled as i32 } else { i32::MIN };
    let j = j0.wrapping_add(1) & !1;
    let y = j as f32;
    let swap_sign_sin = ((j & 4) as u32) << 29;
    let poly = (j & 2) == 0;
    let mut x = y.mul_add(DP1, a);
    x = y.mul_add(DP2, x);
    x = y.mul_add(DP3, x);
    let sign_cos = ((!j.wrapping_sub(2) & 4) as u32) << 29;
    let sign_sin = sign_in ^ swap_sign_sin;
    let z = x * x;
    let c = z.mul_add(z * COSCOF[0].mul_add(z, COSCOF[1]).mul_add(z, COSCOF[2]), -(z * 0.5)) + 1.0;
    let s = x.mul_add(z * SINCOF[0].mul_add(z, SINCOF[1]).mul_add(z, SINCOF[2]), x);
    // Select with masks and additions, as the vector code does (this decides the sign of zeros).
    let (ysin2, ysin1) = if poly { (s, 0.0) } else { (0.0, c) };
    let sin = ysin1 + ysin2;
    let cos = (c - ysin1) + (s - ysin2);
    (f32::from_bits(sin.to_bits() ^ sign_sin), f32::from_bits(cos.to_bits() ^ sign_cos))
}

/// `NormalFill16<float>` of the AVX2 build, on one block of uniforms.
#[inline(always)]
pub(crate) fn fill16_f32_avx2(d: &mut [f32; 16], mean: f32, std: f32) {
    let two_pi = (2.0 * PI) as f32;
    let mut radius = [0.0f32; 8];
    let mut sin = [0.0f32; 8];
    let mut cos = [0.0f32; 8];
    for l in 0..8 {
        radius[l] = (-2.0f32 * log_lane(1.0 - d[l])).sqrt();
        let (s, c) = sincos_lane(two_pi * d[l + 8]);
        sin[l] = s;
        cos[l] = c;
    }
    for l in 0..8 {
        d[l] = (radius[l] * cos[l]).mul_add(std, mean);
        d[l + 8] = (radius[l] * sin[l]).mul_add(std, mean);
    }
}

/// The body of the AVX2-flavour float32 vectorised `normal_`, inlined into
/// the wrappers of [`super::simd`]. The same steps as [`vector_normal`],
/// written out without closures so that everything inlines into the
/// FMA-enabled wrapper.
#[inline(always)]
pub(crate) fn normal_f32_avx2_body(g: &mut TorchGenerator, out: &mut [f32], mean: f32, std: f32) {
    let n = out.len();
    let (blocks, _) = out.as_chunks_mut::<16>();
    for block in blocks {
        let words = g.random16();
        for (slot, w) in block.iter_mut().zip(words) {
            *slot = unit_f32(w);
        }
        fill16_f32_avx2(block, mean, std);
    }
    if !n.is_multiple_of(16) {
        for _ in 0..n % 16 {
            g.random();
        }
        if let Some(tail) = out.last_chunk_mut::<16>() {
            for slot in tail.iter_mut() {
                *slot = unit_f32(g.random());
            }
            fill16_f32_avx2(tail, mean, std);
        }
    }
}
