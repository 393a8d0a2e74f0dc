//! The statistical test of a tensor's values against one rule.
//!
//! Under the hypothesis "these n values were drawn i.i.d. from the rule",
//! with the rule's mean μ, std σ and standardized central moments κ = μ₄,
//! μ₆, μ₈ (computed for the rule's exact distribution: normal, uniform or
//! truncated normal), the estimators are asymptotically normal with:
//!
//! - sample mean: `z_mean = (x̄ − μ) / (σ/√n)`;
//! - sample variance: `z_std = (s²/σ² − 1) / √((κ − 1)/n)`;
//! - sample kurtosis `k = m₄/m₂²` (delta method, symmetric distribution):
//!   `Var(k) ≈ [4κ²(κ − 1) + μ₈ − κ² − 4κ(μ₆ − κ)] / n` (24/n for a normal),
//!   tested only when n ≥ [`SHAPE_MIN_COUNT`], where its
//!   distribution is close enough to normal.
//!
//! A tensor is consistent with the rule when every |z| ≤ [`Z_LIMIT`].
//! Constant rules (zeros, ones) must hold every value exactly, up to the
//! storage type's rounding; structured rules (orthogonal, ZerO, identity)
//! must have the rule's RMS within 0.1%.

use serde::Serialize;

use super::stats::Stats;
use super::{SHAPE_MIN_COUNT, Z_LIMIT};
use crate::error::Result;
use crate::gaussian;
use crate::init::Init;
use crate::init::sample::Sampler;
use crate::io::StoredDType;
use crate::spec::TensorSpec;

/// The outcome of testing one tensor against one rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleTest {
    /// The scheme whose rule this is.
    pub scheme: String,
    /// The rule's formula for this tensor.
    pub rule: String,
    /// The mean the rule gives.
    pub expected_mean: f64,
    /// The std the rule gives.
    pub expected_std: f64,
    /// z-score of the sample mean (random rules).
    pub z_mean: Option<f64>,
    /// z-score of the sample variance (random rules).
    pub z_std: Option<f64>,
    /// z-score of the sample kurtosis (random rules, n large enough).
    pub z_kurtosis: Option<f64>,
    /// Whether the values are consistent with the rule.
    pub consistent: bool,
    /// Why not, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

/// Standardized central moments (μ₄, μ₆, μ₈) of a distribution with unit variance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Moments {
    pub(crate) m4: f64,
    pub(crate) m6: f64,
    pub(crate) m8: f64,
}

impl Moments {
    pub(crate) const NORMAL: Self = Self { m4: 3.0, m6: 15.0, m8: 105.0 };
    pub(crate) const UNIFORM: Self = Self { m4: 9.0 / 5.0, m6: 27.0 / 7.0, m8: 9.0 };

    /// The standard normal truncated to `[a, b]` (in σ units), re-standardized.
    pub(crate) fn truncated_normal(a: f64, b: f64) -> Self {
        let z = gaussian::cdf(b) - gaussian::cdf(a);
        // Raw moments E[X^k], k = 0..8, by E[X^k] = (k−1)E[X^(k−2)] − (b^(k−1)φ(b) − a^(k−1)φ(a))/Z.
        let edge = |x: f64, p: i32| if x.is_finite() { x.powi(p) * gaussian::pdf(x) } else { 0.0 };
        let mut raw = [0.0f64; 9];
        raw[0] = 1.0;
        raw[1] = -(edge(b, 0) - edge(a, 0)) / z;
        for k in 2..9 {
            raw[k] = (k as f64 - 1.0) * raw[k - 2] - (edge(b, k as i32 - 1) - edge(a, k as i32 - 1)) / z;
        }
        let mean = raw[1];
        let central =
            |k: usize| -> f64 { (0..=k).map(|j| binomial(k, j) * raw[j] * (-mean).powi((k - j) as i32)).sum() };
        let var = central(2);
        Self { m4: central(4) / var.powi(2), m6: central(6) / var.powi(3), m8: central(8) / var.powi(4) }
    }

    /// n·Var(sample kurtosis) for large n (delta method; symmetric distributions).
    pub(crate) fn kurtosis_variance(&self) -> f64 {
        let k = self.m4;
        4.0 * k * k * (k - 1.0) + self.m8 - k * k - 4.0 * k * (self.m6 - k)
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The largest relative rounding error of one value stored in `dtype`.
pub(crate) fn rounding(dtype: StoredDType) -> f64 {
    match dtype {
        StoredDType::BF16 => 2f64.powi(-8),
        StoredDType::F16 => 2f64.powi(-11),
        StoredDType::F32 => 2f64.powi(-24),
        _ => 2f64.powi(-24), // values are compared after decoding to f32
    }
}

/// The element-wise distribution `init` draws on `spec`, if it draws each
/// value independently (`None` for structured rules and for shape errors).
pub(crate) fn sampler(init: &Init, spec: &TensorSpec) -> Option<Sampler> {
    let fan = if init.needs_fan() { Some(spec.fan().ok()?) } else { None };
    init.elementwise_sampler(fan)?.ok()
}

/// Tests `stats` (of a tensor stored as `dtype`) against `init` on `spec`.
///
/// # Errors
/// The rule's shape errors ([`Init::explain`]).
pub(crate) fn test(
    scheme: &str,
    init: &Init,
    spec: &TensorSpec,
    dtype: StoredDType,
    stats: &Stats,
) -> Result<RuleTest> {
    let e = init.explain(spec)?;
    let expected_mean = e.mean.unwrap_or(0.0);
    let expected_std = e.std.unwrap_or(0.0);
    let mut t = RuleTest {
        scheme: scheme.to_string(),
        rule: e.formula,
        expected_mean,
        expected_std,
        z_mean: None,
        z_std: None,
        z_kurtosis: None,
        consistent: false,
        why_not: None,
    };
    if stats.nan + stats.inf > 0 {
        t.why_not = Some(format!("{} NaN and {} infinite values", stats.nan, stats.inf));
        return Ok(t);
    }
    let fan = if init.needs_fan() { Some(spec.fan()?) } else { None };
    let moments = match init.elementwise_sampler(fan).transpose()? {
        Some(Sampler::Constant(c)) => {
            let tol = c.abs() * rounding(dtype);
            let off = (stats.min - c).abs().max((stats.max - c).abs());
            t.consistent = off <= tol;
            if !t.consistent {
                t.why_not = Some(format!("values in [{:.6}, {:.6}], the rule gives exactly {c}", stats.min, stats.max));
            }
            return Ok(t);
        }
        Some(Sampler::Normal { .. }) => Moments::NORMAL,
        Some(Sampler::Uniform { .. }) => Moments::UNIFORM,
        Some(Sampler::InverseSoftplusLogUniform(r)) => {
            let (low, high) = r.bounds();
            let tol = low.abs().max(high.abs()) * rounding(dtype);
            if stats.min < low - tol || stats.max > high + tol {
                t.why_not = Some(format!(
                    "values in [{:.6}, {:.6}], outside the rule's range [{low:.6}, {high:.6}]",
                    stats.min, stats.max
                ));
                return Ok(t);
            }
            let (_, c) = r.moments();
            Moments { m4: c[1] / c[0].powi(2), m6: c[2] / c[0].powi(3), m8: c[3] / c[0].powi(4) }
        }
        Some(Sampler::Truncated(s)) => {
            // A value outside the bounds is impossible under the rule (up to the storage type's rounding).
            let (low, high) = s.bounds();
            let tol = low.abs().max(high.abs()) * rounding(dtype);
            if stats.min < low - tol || stats.max > high + tol {
                t.why_not = Some(format!(
                    "values in [{:.6}, {:.6}], outside the rule's bounds [{low:.6}, {high:.6}]",
                    stats.min, stats.max
                ));
                return Ok(t);
            }
            let (a, b) = s.standardized_bounds();
            Moments::truncated_normal(a, b)
        }
        None => {
            // Structured and deterministic: the RMS is fixed by the rule.
            let rel = if expected_std > 0.0 { stats.rms / expected_std - 1.0 } else { stats.rms };
            t.consistent = rel.abs() <= 1e-3;
            if !t.consistent {
                t.why_not = Some(format!("RMS {:.6}, the rule gives {expected_std:.6}", stats.rms));
            }
            return Ok(t);
        }
    };
    let n = stats.count as f64;
    if expected_std <= 0.0 || stats.count < 2 {
        t.why_not = Some("too few values to test".into());
        return Ok(t);
    }
    let z_mean = (stats.mean - expected_mean) / (expected_std / n.sqrt());
    let z_std = ((stats.std / expected_std).powi(2) - 1.0) / ((moments.m4 - 1.0) / n).sqrt();
    let z_kurt = (stats.count >= SHAPE_MIN_COUNT)
        .then(|| (stats.excess_kurtosis + 3.0 - moments.m4) / (moments.kurtosis_variance() / n).sqrt());
    t.z_mean = Some(z_mean);
    t.z_std = Some(z_std);
    t.z_kurtosis = z_kurt;
    let mut why = Vec::new();
    if z_std.abs() > Z_LIMIT {
        why.push(format!("std {:.6} vs {expected_std:.6} (z = {z_std:.1})", stats.std));
    }
    if z_mean.abs() > Z_LIMIT {
        why.push(format!("mean {:.3e} vs {expected_mean:.3e} (z = {z_mean:.1})", stats.mean));
    }
    if let Some(z) = z_kurt.filter(|z| z.abs() > Z_LIMIT) {
        why.push(format!("excess kurtosis {:.3} vs {:.3} (z = {z:.1})", stats.excess_kurtosis, moments.m4 - 3.0));
    }
    t.consistent = why.is_empty();
    if !why.is_empty() {
        t.why_not = Some(why.join("; "));
    }
    Ok(t)
}

/// Tests a fused tensor whose parts have rules of their own: each part's values
/// (gathered from `bytes`, the tensor stored as `dtype`) against its rule. The
/// tensor is consistent when every part is; the z-scores are the largest of the
/// parts', the expected mean and std those of the parts pooled.
///
/// # Errors
/// A part's rule's shape errors ([`Init::explain`]).
pub(crate) fn test_parts(
    scheme: &str,
    t: &crate::plan::PlannedTensor,
    dtype: StoredDType,
    bytes: &[u8],
) -> Result<RuleTest> {
    let size = dtype.size();
    let dims = t.spec.shape().dims();
    let mut tests = Vec::with_capacity(t.parts.len());
    for p in &t.parts {
        let Some(init) = &p.init else { continue };
        let mut part = Vec::with_capacity(p.spec.numel() as usize * size);
        for (at, _, len) in p.runs(dims) {
            part.extend_from_slice(&bytes[at as usize * size..(at + len) as usize * size]);
        }
        let s = super::stats::stats(dtype, &part);
        tests.push((p.name, p.len as f64, test(scheme, init, &p.spec, dtype, &s)?));
    }
    let total: f64 = tests.iter().map(|x| x.1).sum();
    let mean = tests.iter().map(|(_, w, x)| w * x.expected_mean).sum::<f64>() / total;
    let second = tests.iter().map(|(_, w, x)| w * (x.expected_std.powi(2) + x.expected_mean.powi(2))).sum::<f64>();
    let worst = |f: fn(&RuleTest) -> Option<f64>| {
        tests.iter().filter_map(|(_, _, x)| f(x)).max_by(|a, b| a.abs().total_cmp(&b.abs()))
    };
    let why: Vec<String> =
        tests.iter().filter_map(|(n, _, x)| x.why_not.as_ref().map(|w| format!("part {n}: {w}"))).collect();
    Ok(RuleTest {
        scheme: scheme.to_string(),
        rule: tests.iter().map(|(n, _, x)| format!("{n}: {}", x.rule)).collect::<Vec<_>>().join("; "),
        expected_mean: mean,
        expected_std: (second / total - mean * mean).max(0.0).sqrt(),
        z_mean: worst(|x| x.z_mean),
        z_std: worst(|x| x.z_std),
        z_kurtosis: worst(|x| x.z_kurtosis),
        consistent: !tests.is_empty() && tests.iter().all(|(_, _, x)| x.consistent),
        why_not: (!why.is_empty()).then(|| why.join("; ")),
    })
}
