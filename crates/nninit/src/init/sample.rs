//! Turning a resolved distribution into numbers: the one place where
//! element-wise initializers meet the stream.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gaussian;
use crate::stream::{self, Philox, TruncatedF32};
use crate::tensor::Element;

/// A distribution with every parameter fixed (fans already applied).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Sampler {
    Constant(f64),
    Uniform {
        low: f64,
        high: f64,
    },
    Normal {
        mean: f64,
        std: f64,
    },
    Truncated(TruncatedSampler),
    /// Mamba's time-step bias ([`super::InverseSoftplusLogUniform`]), by inversion of the
    /// open unit uniform stream in f64.
    InverseSoftplusLogUniform(super::InverseSoftplusLogUniform),
}

/// Elements per stack tile of the truncated normal's uniforms.
const CHUNK: usize = 1024;

impl Sampler {
    /// Fills `out` with elements `start..start + out.len()` of the stream.
    pub(crate) fn fill<E: Element>(&self, stream: &Philox, start: u64, out: &mut [E]) {
        match *self {
            Self::Constant(v) => {
                let v = E::from_f64(v);
                out.iter_mut().for_each(|x| *x = v);
            }
            Self::Uniform { low, high } => fill_kernel(
                stream,
                start,
                out,
                Bounds::Within(low, high),
                |s, o, u| s.uniform_f32(o, u, low as f32, high as f32),
                |s, o, u| s.uniform_f64(o, u, low, high),
            ),
            Self::Normal { mean, std } => fill_kernel(
                stream,
                start,
                out,
                Bounds::None,
                |s, o, u| s.normal_f32(o, u, mean as f32, std as f32),
                |s, o, u| s.normal_f64(o, u, mean, std),
            ),
            Self::Truncated(t) if t.holds_the_f32_normal() && E::as_f64_slice(out).is_none() => {
                let (mean, sigma) = (t.mu as f32, t.sigma as f32);
                let (low, high) = stream::inward_f32(t.low, t.high);
                fill_kernel(
                    stream,
                    start,
                    out,
                    Bounds::Within(t.low, t.high),
                    |s, o, u| {
                        s.normal_f32(o, u, mean, sigma);
                        u.iter_mut().for_each(|v| {
                            *v = if *v < low {
                                low
                            } else if *v > high {
                                high
                            } else {
                                *v
                            }
                        });
                    },
                    |s, o, u| t.fill_f64_path(s, o, u),
                )
            }
            Self::InverseSoftplusLogUniform(r) => {
                let (low, high) = r.bounds();
                stream::par_fill(start, out, |offset, chunk: &mut [E]| {
                    stream.fill_mapped(offset, chunk, |u| E::round_within(r.value(u), low, high));
                });
            }
            Self::Truncated(t) => match t.f32_map() {
                Some(map) if E::as_f64_slice(out).is_none() => fill_kernel(
                    stream,
                    start,
                    out,
                    Bounds::Within(t.low, t.high),
                    |s, o, u| s.truncated_normal_f32(o, u, map),
                    |s, o, u| t.fill_f64_path(s, o, u),
                ),
                _ => t.fill_f64_path(stream, start, out),
            },
        }
    }
}

/// Bounds a rounded result must respect.
#[derive(Clone, Copy)]
enum Bounds {
    None,
    Within(f64, f64),
}

/// Runs a 32-bit or 64-bit stream kernel over `out` in parallel, converting to
/// the element type where it is neither `f32` nor `f64`.
fn fill_kernel<E: Element>(
    stream: &Philox,
    start: u64,
    out: &mut [E],
    bounds: Bounds,
    narrow: impl Fn(&Philox, u64, &mut [f32]) + Sync,
    wide: impl Fn(&Philox, u64, &mut [f64]) + Sync,
) {
    if let Some(out) = E::as_f32_slice(out) {
        stream::par_fill(start, out, |offset, chunk| narrow(stream, offset, chunk));
    } else if let Some(out) = E::as_f64_slice(out) {
        stream::par_fill(start, out, |offset, chunk| wide(stream, offset, chunk));
    } else {
        // `round_within` of an f32 value is its `from_f32` rounding, stepped back inside.
        let convert = |src: &[f32], dst: &mut [E]| {
            E::from_f32_slice(src, dst);
            if let Bounds::Within(low, high) = bounds {
                dst.iter_mut().for_each(|d| *d = d.step_within(low, high));
            }
        };
        stream::par_fill(start, out, |offset, chunk: &mut [E]| {
            stream::via_f32(offset, chunk, |s, tile| narrow(stream, s, tile), convert);
        });
    }
}

/// A normal `N(μ, σ²)` truncated to `[low, high]`, sampled by the inverse CDF.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TruncatedSampler {
    mu: f64,
    sigma: f64,
    low: f64,
    high: f64,
    /// Which side of the mean the interval lies on, for tail precision.
    tail: Tail,
    /// `Φ(α)` and `Φ(β)` (lower tail or straddling) or `Q(α)` and `Q(β)` (upper tail).
    p_low: f64,
    p_high: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Tail {
    /// `α ≥ 0`: work with survival probabilities `Q = 1 − Φ`.
    Upper,
    /// `α < 0`: work with `Φ`.
    Lower,
}

impl TruncatedSampler {
    /// The bounds in units of σ from μ: `((low − μ)/σ, (high − μ)/σ)`.
    pub(crate) fn standardized_bounds(&self) -> (f64, f64) {
        ((self.low - self.mu) / self.sigma, (self.high - self.mu) / self.sigma)
    }

    /// # Errors
    /// [`Error::InvalidInterval`] if the interval holds no representable mass.
    pub(crate) fn new(mu: f64, sigma: f64, low: f64, high: f64) -> Result<Self> {
        let (alpha, beta) = ((low - mu) / sigma, (high - mu) / sigma);
        let (tail, p_low, p_high) = if alpha >= 0.0 {
            (Tail::Upper, gaussian::sf(alpha), gaussian::sf(beta))
        } else {
            (Tail::Lower, gaussian::cdf(alpha), gaussian::cdf(beta))
        };
        let mass = (p_high - p_low).abs();
        if !(mass > 0.0 && mass.is_finite() && alpha.is_finite() && beta.is_finite()) {
            return Err(Error::InvalidInterval { what: "truncation bounds (no probability mass)", low, high });
        }
        Ok(Self { mu, sigma, low, high, tail, p_low, p_high })
    }

    pub(crate) fn sigma(&self) -> f64 {
        self.sigma
    }

    pub(crate) fn bounds(&self) -> (f64, f64) {
        (self.low, self.high)
    }

    /// Whether the interval holds every value of the 32-bit normal stream, `|z| < 5.77`
    /// (24-bit Box–Muller), with room to spare: there the truncation is a clamp that does
    /// not act, and the f32 fill is the normal fill (PyTorch's default bounds ±2 around a
    /// std of 0.02, as timm and many others call `trunc_normal_`).
    fn holds_the_f32_normal(&self) -> bool {
        let (a, b) = self.alpha_beta();
        a <= -6.0 && b >= 6.0
    }

    /// The 32-bit kernel's parameters, or `None` where the interval lies too far out
    /// for f32 probabilities (the stream's specification says when).
    fn f32_map(&self) -> Option<TruncatedF32> {
        TruncatedF32::new(self.mu, self.sigma, self.low, self.high, self.p_low, self.p_high, self.tail == Tail::Upper)
    }

    /// The 53-bit path: [`Self::quantile`] of the open unit uniform, rounded to `E`
    /// inside the bounds (every f64 fill, and the intervals the f32 kernel refuses).
    fn fill_f64_path<E: Element>(&self, stream: &Philox, start: u64, out: &mut [E]) {
        stream::par_fill(start, out, |offset, chunk: &mut [E]| {
            let mut unit = [0.0f64; CHUNK];
            for (k, part) in chunk.chunks_mut(CHUNK).enumerate() {
                let u = &mut unit[..part.len()];
                stream.unit_open_f64(offset + (k * CHUNK) as u64, u);
                for (x, &u) in part.iter_mut().zip(u.iter()) {
                    *x = E::round_within(self.quantile(u), self.low, self.high);
                }
            }
        });
    }

    /// The value at probability `u ∈ (0, 1)` of the truncated distribution.
    #[inline]
    pub(crate) fn quantile(&self, u: f64) -> f64 {
        let p = self.p_low + u * (self.p_high - self.p_low);
        let z = match self.tail {
            Tail::Lower => gaussian::inverse_cdf(p),
            Tail::Upper => -gaussian::inverse_cdf(p),
        };
        (self.mu + self.sigma * z).clamp(self.low, self.high)
    }

    fn alpha_beta(&self) -> (f64, f64) {
        ((self.low - self.mu) / self.sigma, (self.high - self.mu) / self.sigma)
    }

    fn mass(&self) -> f64 {
        (self.p_high - self.p_low).abs()
    }

    /// The CDF at `x`.
    pub(crate) fn cdf(&self, x: f64) -> f64 {
        if x <= self.low {
            return 0.0;
        }
        if x >= self.high {
            return 1.0;
        }
        let z = (x - self.mu) / self.sigma;
        let f = match self.tail {
            Tail::Lower => (gaussian::cdf(z) - self.p_low) / self.mass(),
            Tail::Upper => (self.p_low - gaussian::sf(z)) / self.mass(),
        };
        f.clamp(0.0, 1.0)
    }

    /// The mean of the samples.
    pub(crate) fn mean(&self) -> f64 {
        let (a, b) = self.alpha_beta();
        let shift = match self.tail {
            Tail::Lower => gaussian::pdf(a) - gaussian::pdf(b),
            Tail::Upper => gaussian::pdf(a) - gaussian::pdf(b),
        };
        self.mu + self.sigma * shift / self.mass()
    }

    /// The standard deviation of the samples.
    pub(crate) fn std(&self) -> f64 {
        let (a, b) = self.alpha_beta();
        let z = self.mass();
        let (pa, pb) = (gaussian::pdf(a), gaussian::pdf(b));
        let term = |x: f64, p: f64| if x.is_finite() { x * p } else { 0.0 };
        let d = (pa - pb) / z;
        let var = 1.0 + (term(a, pa) - term(b, pb)) / z - d * d;
        self.sigma * var.max(0.0).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_stays_inside_and_is_monotone() {
        for &(lo, hi) in &[(-2.0, 2.0), (1.0, 3.0), (5.0, 5.5), (-30.0, -29.0), (-1.0, 40.0)] {
            let t = TruncatedSampler::new(0.0, 1.0, lo, hi).unwrap();
            let mut prev = f64::NEG_INFINITY;
            for k in 1..1000 {
                let x = t.quantile(k as f64 / 1000.0);
                assert!(x >= lo && x <= hi, "{x} outside [{lo}, {hi}]");
                assert!(x >= prev);
                prev = x;
            }
            assert!(t.quantile(1e-300) >= lo && t.quantile(1.0 - 1e-16) <= hi);
            // The quantile inverts the CDF.
            let x = t.quantile(0.3);
            assert!((t.cdf(x) - 0.3).abs() < 1e-9, "cdf(quantile(0.3)) = {}", t.cdf(x));
        }
    }

    /// Largest error of the f32 kernel against the f64 sampler's exact quantile of the same
    /// uniform, in f32 ulps of the value (μ = 0: see the test), over the whole 2²³-point grid:
    /// measured 6.77 (σ = 0.02 on [−2σ, 2σ]; 5.5 at σ = 1), of which PPND7 itself is 4.9.
    const F32_KERNEL_MAX_ULP: f64 = 7.0;

    fn f32_kernel_max_ulp_error(sigma: f64, lo: f64, hi: f64) -> f64 {
        let t = TruncatedSampler::new(0.0, sigma, lo, hi).unwrap();
        let map = t.f32_map().expect("an interval the f32 kernel takes");
        let mut worst = 0.0f64;
        for k in 0..(1u32 << 23) {
            let v = map.value(k << 9);
            assert!(f64::from(v) >= lo && f64::from(v) <= hi, "{v} outside [{lo}, {hi}]");
            let exact = t.quantile(f64::from(2 * k + 1) / 16_777_216.0);
            worst = worst.max(crate::stream::math32::ulp_error(v, exact));
        }
        worst
    }

    /// Every uniform of the f32 kernel's grid, for intervals straddling the mean, one-sided,
    /// narrow, in the far tails on either side: inside the bounds, and within
    /// `F32_KERNEL_MAX_ULP` of the exact quantile. (With μ ≠ 0 the final `fma(σ, z, μ)` adds
    /// the usual cancellation near 0; the error is then this bound in ulps of σ·z.)
    #[test]
    fn f32_kernel_is_within_its_ulp_bound_over_the_whole_grid() {
        let intervals = [
            (1.0, -2.0, 2.0),
            (1.0, -1.0, 2.0),
            (1.0, -1.0, 6.0),
            (1.0, 0.0, 10.0),
            (1.0, 1.0, 1.001),
            (1.0, 5.0, 5.5),
            (1.0, 8.0, 9.0),
            (1.0, -9.0, -8.0),
            (0.02, -0.04, 0.04),
            (0.02, -2.0, 2.0),
        ];
        for (sigma, lo, hi) in intervals {
            let err = f32_kernel_max_ulp_error(sigma, lo, hi);
            eprintln!("N(0, {sigma}²) on [{lo}, {hi}]: max error {err:.3} ulp");
            assert!(err <= F32_KERNEL_MAX_ULP, "[{lo}, {hi}], σ {sigma}: {err} ulp");
        }
    }

    /// The twin of the bound: an interval whose f32 probabilities were off by 1 % (the
    /// kernel for [−2, 2.02] compared with the quantile for [−2, 2]) is far outside it.
    #[test]
    fn f32_kernel_bound_sees_a_one_percent_error() {
        let exact = TruncatedSampler::new(0.0, 1.0, -2.0, 2.0).unwrap();
        let off = TruncatedSampler::new(0.0, 1.0, -2.0, 2.02).unwrap().f32_map().unwrap();
        let worst = (0..1u32 << 23)
            .step_by(997)
            .map(|k| {
                let exact = exact.quantile(f64::from(2 * k + 1) / 16_777_216.0);
                crate::stream::math32::ulp_error(off.value(k << 9), exact)
            })
            .fold(0.0f64, f64::max);
        assert!(worst > 100.0 * F32_KERNEL_MAX_ULP, "{worst}");
    }

    #[test]
    fn far_intervals_use_the_f64_path() {
        for (lo, hi) in [(20.0, 21.0), (-30.0, -29.0), (12.0, 12.5)] {
            let t = TruncatedSampler::new(0.0, 1.0, lo, hi).unwrap();
            assert!(t.f32_map().is_none(), "[{lo}, {hi}]");
        }
        for (lo, hi) in [(-100.0, 100.0), (-2.0, 2.0), (8.0, 9.0)] {
            assert!(TruncatedSampler::new(0.0, 1.0, lo, hi).unwrap().f32_map().is_some(), "[{lo}, {hi}]");
        }
    }

    #[test]
    fn far_upper_tail_keeps_precision() {
        // 20σ out: Φ(20) rounds to 1, the survival function does not.
        let t = TruncatedSampler::new(0.0, 1.0, 20.0, 21.0).unwrap();
        let median = t.quantile(0.5);
        assert!(median > 20.0 && median < 20.1, "{median}");
        assert!(t.mean() > 20.0 && t.mean() < 20.1);
    }

    #[test]
    fn symmetric_moments() {
        let t = TruncatedSampler::new(0.0, 1.0, -2.0, 2.0).unwrap();
        assert!(t.mean().abs() < 1e-15);
        assert!((t.std() - 0.879_625_661_034_239_8).abs() < 1e-15);
    }
}
