//! What a rule will do to a tensor, before it does it.

use serde::Serialize;

use super::{Distribution, Init, Truncation};
use crate::error::{Error, Result};
use crate::fan::FanMode;
use crate::spec::TensorSpec;

/// The numbers behind one initialization: formula, fans, gain, std and bound.
///
/// `std` is the standard deviation of the values the rule produces (the RMS
/// for deterministic and structured rules), `bound` the largest magnitude it
/// can produce, `None` where unbounded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The rule's canonical name.
    pub init: &'static str,
    /// The formula with this tensor's numbers substituted.
    pub formula: String,
    /// Inputs per output unit, where the fans are known.
    pub fan_in: Option<u64>,
    /// Outputs per input unit, where the fans are known.
    pub fan_out: Option<u64>,
    /// The gain, for rules that have one.
    pub gain: Option<f64>,
    /// Mean of the values.
    pub mean: Option<f64>,
    /// Standard deviation of the values.
    pub std: Option<f64>,
    /// Largest magnitude a value can take.
    pub bound: Option<f64>,
    /// The equivalent call in PyTorch and JAX, and any difference.
    pub equivalent: &'static str,
}

fn mode_formula(mode: FanMode) -> &'static str {
    match mode {
        FanMode::FanIn => "gain / √fan_in",
        FanMode::FanOut => "gain / √fan_out",
        FanMode::FanAvg => "gain · √(2 / (fan_in + fan_out))",
    }
}

pub(super) fn explain(init: &Init, spec: &TensorSpec) -> Result<Explanation> {
    let fan = match spec.fan() {
        Ok(fan) => Some(fan),
        Err(e @ Error::RankTooSmall { .. }) if init.needs_fan() => return Err(e),
        Err(Error::RankTooSmall { .. }) => None,
        Err(e) => return Err(e),
    };
    let mut x = Explanation {
        init: init.name(),
        formula: String::new(),
        fan_in: fan.map(|f| f.fan_in()),
        fan_out: fan.map(|f| f.fan_out()),
        gain: None,
        mean: Some(0.0),
        std: None,
        bound: None,
        equivalent: equivalent(init),
    };
    let deterministic_rms = |nonzeros: f64, value: f64| value * (nonzeros / spec.numel() as f64).sqrt();
    match init {
        Init::Constant(c) => {
            x.formula = format!("w = {}", c.value());
            (x.mean, x.std, x.bound) = (Some(c.value()), Some(0.0), Some(c.value().abs()));
        }
        Init::Zeros => (x.formula, x.std, x.bound) = ("w = 0".into(), Some(0.0), Some(0.0)),
        Init::Ones => {
            (x.formula, x.mean, x.std, x.bound) = ("w = 1".into(), Some(1.0), Some(0.0), Some(1.0));
        }
        Init::Uniform(u) => {
            x.formula = format!("w ~ U({}, {}); std = (b − a) / √12", u.low(), u.high());
            x.mean = Some((u.low() + u.high()) / 2.0);
            x.std = Some(u.std());
            x.bound = Some(u.low().abs().max(u.high().abs()));
        }
        Init::Normal(n) => {
            x.formula = format!("w ~ N({}, {}²)", n.mean(), n.std());
            (x.mean, x.std) = (Some(n.mean()), Some(n.std()));
        }
        Init::TruncatedNormal(t) => {
            let (low, high) = t.bounds();
            let convention = match t.truncation() {
                Truncation::Absolute { .. } => "absolute bounds (PyTorch's a, b)".to_string(),
                Truncation::Std { lower, upper, correction } => {
                    format!("bounds at μ + [{lower}, {upper}]·σ, correction {correction:?}")
                }
            };
            x.formula = format!(
                "w ~ N({}, σ²) truncated to [{low}, {high}], σ = {}; {convention}; sample std = {}",
                t.mean(),
                t.sigma(),
                t.sample_std()
            );
            x.mean = Some(t.sample_mean());
            x.std = Some(t.sample_std());
            x.bound = Some(low.abs().max(high.abs()));
        }
        _ if init.variance_scaling().is_some() => {
            let vs = init.variance_scaling().expect("checked");
            let fan = fan.expect("variance scaling needs fans, checked above");
            let std = vs.std(fan);
            let gain_note = match init {
                Init::KaimingUniform { nonlinearity, .. } | Init::KaimingNormal { nonlinearity, .. } => {
                    match nonlinearity.torch_gain() {
                        Some(_) => format!(" (PyTorch's calculate_gain('{}'))", nonlinearity.name()),
                        None => format!(" (second-moment gain of {}: PyTorch has none)", nonlinearity.name()),
                    }
                }
                _ => String::new(),
            };
            let std_formula = format!("std = {} = {std}", mode_formula(vs.mode()));
            x.formula = match vs.distribution() {
                Distribution::Normal => format!("w ~ N(0, std²), {std_formula}; gain = {}{gain_note}", vs.gain()),
                Distribution::Uniform => format!(
                    "w ~ U(−bound, bound), bound = √3 · std = {}, {std_formula}; gain = {}{gain_note}",
                    vs.bound(fan).unwrap_or_default(),
                    vs.gain()
                ),
                Distribution::TruncatedNormal => format!(
                    "w ~ N(0, σ²) truncated at ±2σ, σ = std / 0.87962566103423978 = {}, {std_formula}; gain = {}",
                    std / super::TRUNCATED_2SIGMA_STD,
                    vs.gain()
                ),
            };
            (x.gain, x.std, x.bound) = (Some(vs.gain()), Some(std), vs.bound(fan));
        }
        Init::Orthogonal(o) => {
            let view = spec.matrix_view()?;
            let (r, c) = (view.rows(), view.cols());
            x.formula = format!(
                "W = gain · Q · sign(diag R) with G = QR, G ~ N(0,1) of shape [{r}, {c}]; {} = gain²·I; RMS = gain / √max(rows, cols)",
                if r <= c { "W·Wᵀ" } else { "Wᵀ·W" }
            );
            x.gain = Some(o.gain());
            x.std = Some(o.gain() / (r.max(c) as f64).sqrt());
            x.bound = Some(o.gain());
        }
        Init::Eye => {
            if spec.shape().rank() != 2 {
                return Err(Error::UnsupportedShape {
                    init: "eye",
                    shape: spec.shape().dims().to_vec(),
                    reason: "needs a 2-D matrix".into(),
                });
            }
            let view = spec.matrix_view()?;
            let n = view.rows().min(view.inputs()) as f64;
            x.formula = "w[o, i] = 1 if o == i else 0".into();
            (x.mean, x.std, x.bound) = (Some(n / spec.numel() as f64), Some(deterministic_rms(n, 1.0)), Some(1.0));
        }
        Init::Dirac(d) => {
            let view = d.check(spec)?;
            let n = (d.groups() * (view.rows() / d.groups()).min(view.inputs())) as f64;
            x.formula =
                format!("w[g·out/groups + d, d, centre] = 1 for d < min(out/groups, in), groups = {}", d.groups());
            (x.mean, x.std, x.bound) = (Some(n / spec.numel() as f64), Some(deterministic_rms(n, 1.0)), Some(1.0));
        }
        Init::DeltaOrthogonal(d) => {
            let view = super::DeltaOrthogonal::check(spec)?;
            x.formula = format!(
                "w[o, i, centre] = gain · H[i, o], H: [{}, {}] with orthonormal rows; other taps 0",
                view.inputs(),
                view.rows()
            );
            x.gain = Some(d.gain());
            x.std = Some(deterministic_rms(view.inputs() as f64, d.gain()));
            x.bound = Some(d.gain());
        }
        Init::Sparse(s) => {
            let view = super::Sparse::check(spec)?;
            let zeros = s.zeros_per_column(view.rows());
            x.formula = format!(
                "w ~ N(0, {}²), then {zeros} of {} entries per column set to 0 (⌈sparsity · rows⌉)",
                s.std(),
                view.rows()
            );
            let kept = (view.rows() - zeros) as f64 / view.rows() as f64;
            x.std = Some(s.std() * kept.sqrt());
        }
        Init::Zero => {
            let view = spec.matrix_view()?;
            let (m, n) = (view.rows(), view.inputs());
            let numel = spec.numel() as f64;
            if m <= n {
                x.formula = format!("partial identity [{m}, {n}] at the centre tap");
                (x.mean, x.std, x.bound) = (Some(m as f64 / numel), Some(deterministic_rms(m as f64, 1.0)), Some(1.0));
            } else {
                let c = usize::BITS - (m - 1).leading_zeros();
                let scale = super::structured::hadamard_scale(c);
                x.formula =
                    format!("w = I[{m}×{p}] · H_{p} / 2^({c}/2) · I[{p}×{n}], H Sylvester–Hadamard", p = 1u64 << c);
                let sum: i64 = (0..m).map(|i| hadamard_row_sum(i, n)).sum();
                x.mean = Some(sum as f64 * scale / numel);
                x.std = Some(deterministic_rms((m * n) as f64, scale));
                x.bound = Some(scale);
            }
        }
        _ => unreachable!("every variance-scaling rule is handled above"),
    }
    Ok(x)
}

/// `Σ_{j<n} (−1)^popcount(i & j)`, the sum of the first `n` entries of row
/// `i` of a Sylvester–Hadamard matrix, in O(log n) instead of O(n): split
/// `0..n` into the blocks `prefix + [0, 2^b)` of the set bits b of n; over a
/// block the low bits run through all 2^b patterns, which sum to 2^b when `i`
/// has no bit below b and cancel otherwise.
fn hadamard_row_sum(i: usize, n: usize) -> i64 {
    let mut sum = 0i64;
    let mut prefix = 0usize;
    for b in (0..usize::BITS).rev() {
        let bit = 1usize << b;
        if n & bit != 0 {
            if i & (bit - 1) == 0 {
                let sign = if (i & prefix).count_ones().is_multiple_of(2) { 1 } else { -1 };
                sum += sign * bit as i64;
            }
            prefix |= bit;
        }
    }
    sum
}

#[cfg(test)]
#[test]
fn hadamard_row_sum_matches_the_direct_sum() {
    for i in 0..70 {
        for n in 0..70 {
            let direct: i64 = (0..n).map(|j: usize| if (i & j).count_ones().is_multiple_of(2) { 1 } else { -1 }).sum();
            assert_eq!(hadamard_row_sum(i, n), direct, "i = {i}, n = {n}");
        }
    }
}

fn equivalent(init: &Init) -> &'static str {
    match init {
        Init::Constant(_) => "torch.nn.init.constant_; jax.nn.initializers.constant",
        Init::Zeros => "torch.nn.init.zeros_; jax.nn.initializers.zeros",
        Init::Ones => "torch.nn.init.ones_; jax.nn.initializers.ones",
        Init::Uniform(_) => "torch.nn.init.uniform_(a, b); JAX's uniform(scale) is U(0, scale)",
        Init::Normal(_) => "torch.nn.init.normal_(mean, std); jax.nn.initializers.normal(stddev)",
        Init::TruncatedNormal(_) => {
            "torch.nn.init.trunc_normal_ (absolute bounds); jax.nn.initializers.truncated_normal (bounds in σ); never outside the bounds"
        }
        Init::VarianceScaling(_) => {
            "jax.nn.initializers.variance_scaling(scale, mode, distribution); keras VarianceScaling"
        }
        Init::XavierUniform { .. } => "torch.nn.init.xavier_uniform_(gain); jax glorot_uniform (gain 1)",
        Init::XavierNormal { .. } => {
            "torch.nn.init.xavier_normal_(gain) (untruncated; JAX's glorot_normal is truncated)"
        }
        Init::GlorotNormal => {
            "jax.nn.initializers.glorot_normal / keras GlorotNormal (truncated at ±2σ, std corrected)"
        }
        Init::KaimingUniform { .. } => {
            "torch.nn.init.kaiming_uniform_(a, mode, nonlinearity); jax he_uniform (fan_in, relu)"
        }
        Init::KaimingNormal { .. } => {
            "torch.nn.init.kaiming_normal_(a, mode, nonlinearity) (untruncated; JAX's he_normal is truncated)"
        }
        Init::HeNormal => "jax.nn.initializers.he_normal / keras HeNormal (truncated at ±2σ, std corrected)",
        Init::LecunUniform => "jax.nn.initializers.lecun_uniform / keras LecunUniform",
        Init::LecunNormal => "jax.nn.initializers.lecun_normal / keras LecunNormal / timm lecun_normal_ (truncated)",
        Init::Orthogonal(_) => "torch.nn.init.orthogonal_(gain); jax.nn.initializers.orthogonal(scale)",
        Init::Eye => "torch.nn.init.eye_; keras Identity",
        Init::Dirac(_) => "torch.nn.init.dirac_(groups)",
        Init::DeltaOrthogonal(_) => "jax.nn.initializers.delta_orthogonal(scale); TF ConvolutionDeltaOrthogonal",
        Init::Sparse(_) => "torch.nn.init.sparse_(sparsity, std)",
        Init::Zero => "ZerO (Zhao et al. 2022); no PyTorch/JAX equivalent",
    }
}
