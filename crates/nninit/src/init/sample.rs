//! Turning a resolved distribution into numbers: the one place where
//! element-wise initializers meet the stream.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gaussian;
use crate::stream::{self, Philox};
use crate::tensor::Element;

/// A distribution with every parameter fixed (fans already applied).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Sampler {
    Constant(f64),
    Uniform { low: f64, high: f64 },
    Normal { mean: f64, std: f64 },
    Truncated(TruncatedSampler),
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
            Self::Truncated(t) => {
                stream::par_fill(start, out, |offset, chunk: &mut [E]| {
                    let mut unit = [0.0f64; CHUNK];
                    for (k, part) in chunk.chunks_mut(CHUNK).enumerate() {
                        let u = &mut unit[..part.len()];
                        stream.unit_open_f64(offset + (k * CHUNK) as u64, u);
                        for (x, &u) in part.iter_mut().zip(u.iter()) {
                            *x = E::round_within(t.quantile(u), t.low, t.high);
                        }
                    }
                });
            }
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
        let convert = |v: f32| match bounds {
            Bounds::None => E::from_f32(v),
            Bounds::Within(low, high) => E::round_within(f64::from(v), low, high),
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
