//! Run-time dispatch of the float32 AVX2-flavour kernels to a build with
//! hardware FMA.
//!
//! The kernels call `f32::mul_add`, which is correctly rounded everywhere, so
//! both builds return the same bits; without the `fma` target feature each
//! call is a library call, which keeps the 16-wide Box–Muller from being
//! vectorised (about 5× slower). This is the only `unsafe` in the module: the
//! call into a `#[target_feature]` function after checking that the CPU has
//! the feature.
#![allow(unsafe_code)]

use super::generator::TorchGenerator;
use super::kernels;

#[cfg(target_arch = "x86_64")]
use crate::stream::simd::avx2_fma_available as has_avx2_fma;

/// The AVX2-flavour float32 vectorised `normal_` (see [`kernels::normal_f32_avx2_body`]).
pub(crate) fn normal_f32_avx2(g: &mut TorchGenerator, out: &mut [f32], mean: f32, std: f32) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: `normal_f32_avx2_fma` only needs the CPU to support AVX2 and
        // FMA, which `has_avx2_fma` has just checked.
        unsafe { normal_f32_avx2_fma(g, out, mean, std) };
        return;
    }
    kernels::normal_f32_avx2_body(g, out, mean, std);
}

/// The fused float32 `uniform_` (see [`kernels::uniform_f32_fused_body`]).
pub(crate) fn uniform_f32_fused(g: &mut TorchGenerator, out: &mut [f32], from: f32, to: f32) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: as above, the CPU supports AVX2 and FMA.
        unsafe { uniform_f32_fma(g, out, from, to) };
        return;
    }
    kernels::uniform_f32_fused_body(g, out, from, to);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn normal_f32_avx2_fma(g: &mut TorchGenerator, out: &mut [f32], mean: f32, std: f32) {
    kernels::normal_f32_avx2_body(g, out, mean, std);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn uniform_f32_fma(g: &mut TorchGenerator, out: &mut [f32], from: f32, to: f32) {
    kernels::uniform_f32_fused_body(g, out, from, to);
}
