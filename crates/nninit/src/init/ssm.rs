//! The state-space initializers of Mamba (Gu & Dao 2023): the S4D-Real
//! diagonal state matrix, stored as `A_log`, and the time-step bias whose
//! softplus is log-uniform.

use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};
use crate::spec::TensorSpec;
use crate::stream::{Stream, TorchCall};
use crate::tensor::Element;
use crate::torch::{TorchFloat, TorchGenerator};

use super::explain::Explanation;
use super::rule::{
    Elementwise, Equivalent, Initializer, doc_list, equivalent, fill_elementwise, fill_structured, no_torch,
};
use super::sample::Sampler;

macro_rules! s4d_real_log_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "—", "—")
    };
}
macro_rules! inverse_softplus_log_uniform_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "—", "—")
    };
}
pub(crate) use {inverse_softplus_log_uniform_equivalent, s4d_real_log_equivalent};

/// S4D-Real's diagonal state matrix `A = −(n + 1)`, stored as Mamba stores
/// it, `A_log = ln(n + 1)`, for every channel.
///
/// # Formula
/// `w[..., n] = ln(n + 1)`, `n = 0..N−1` along the last axis (`N = d_state`);
/// deterministic. Mean `(1/N)·Σ ln(n+1)`, RMS `√((1/N)·Σ ln²(n+1))`. In PyTorch:
/// `torch.log(torch.arange(1, N + 1)).expand(D, N)` (no `torch.nn.init` call).
///
/// # Equivalent to
#[doc = s4d_real_log_equivalent!(doc_list)]
///
/// Reference: Gu, Gupta, Goel & Ré 2022, *On the Parameterization and
/// Initialization of Diagonal State Space Models* (S4D-Real); `state-spaces/mamba`
/// `mamba_ssm/modules/mamba_simple.py` (`Mamba.__init__`, "S4D real
/// initialization") and transformers' `MambaPreTrainedModel._init_weights`.
///
/// # Example
/// ```
/// use nninit::init::{Initializer, S4dRealLog};
/// use nninit::stream::Philox;
/// use nninit::{Shape, TensorSpec};
/// let spec = TensorSpec::new(Shape::new(vec![2, 4])?);
/// let mut a = vec![0.0f64; 8];
/// S4dRealLog.fill(&spec, &Philox::new(0, "A_log"), &mut a)?;
/// assert_eq!(a[3], 4f64.ln());
/// assert_eq!(a[4], 0.0);
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct S4dRealLog;

impl S4dRealLog {
    fn generate<E: Element>(spec: &TensorSpec, out: &mut [E]) -> Result<()> {
        let n = Self::states(spec);
        for row in out.chunks_mut(n) {
            for (k, x) in row.iter_mut().enumerate() {
                *x = E::from_f64(((k + 1) as f64).ln());
            }
        }
        Ok(())
    }

    /// The number of states N: the size of the last axis.
    fn states(spec: &TensorSpec) -> usize {
        spec.shape().dims().last().copied().unwrap_or(1)
    }
}

impl Initializer for S4dRealLog {
    fn name(&self) -> &'static str {
        "s4d_real_log"
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_structured(self, spec, stream, start, out, |_, whole| Self::generate(spec, whole))
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let n = Self::states(spec);
        let logs = (1..=n).map(|k| (k as f64).ln());
        let mean = logs.clone().sum::<f64>() / n as f64;
        let rms = (logs.map(|l| l * l).sum::<f64>() / n as f64).sqrt();
        x.formula = format!("w[..., n] = ln(n + 1), n = 0..{} (S4D-Real A = −(n + 1), stored as A_log)", n - 1);
        (x.mean, x.std, x.bound) = (Some(mean), Some(rms), Some((n as f64).ln()));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        s4d_real_log_equivalent!(equivalent)
    }
}

impl TorchCall for S4dRealLog {
    fn call<T: TorchFloat>(&self, _: &mut TorchGenerator, _: &TensorSpec, _: &mut [T]) -> Result<()> {
        Err(no_torch(self))
    }
}

/// The inverse softplus of a log-uniform time step: Mamba's `dt_proj.bias`,
/// so that `softplus(bias)` starts log-uniform in `[min, max]`.
///
/// # Formula
/// `u ~ U(0, 1)`, `dt = max(floor, exp(ln min + u·(ln max − ln min)))`,
/// `w = dt + ln(1 − e^(−dt))` (= softplus⁻¹(dt)). Mean, std and the higher
/// moments are computed by quadrature over `u` (Simpson, 2¹⁴ intervals). In PyTorch (no
/// `torch.nn.init` call): `dt = torch.exp(torch.rand(n) * (log(max) − log(min)) + log(min)).clamp(min=floor)`,
/// `w = dt + torch.log(-torch.expm1(-dt))`.
/// Values lie in `[softplus⁻¹(max(min, floor)), softplus⁻¹(max)]`.
///
/// # Parameters
/// - `0 < min < max`, finite; `floor ≥ 0`, finite (Mamba: `dt_min = 0.001`,
///   `dt_max = 0.1`, `dt_init_floor = 1e-4`).
///
/// # Equivalent to
#[doc = inverse_softplus_log_uniform_equivalent!(doc_list)]
///
/// The reference draws `dt` in the parameter's dtype (f32) and nninit in f64
/// before rounding: the same distribution, not the same values.
///
/// Reference: `state-spaces/mamba` `mamba_ssm/modules/mamba_simple.py`
/// (`Mamba.__init__`, "Initialize dt bias so that F.softplus(dt_bias) is
/// between dt_min and dt_max"), transformers' `MambaPreTrainedModel._init_weights`
/// (`time_step_min`, `time_step_max`, `time_step_floor`).
///
/// # Example
/// ```
/// use nninit::init::{Initializer, InverseSoftplusLogUniform};
/// use nninit::stream::Philox;
/// use nninit::{Shape, TensorSpec};
/// let dt = InverseSoftplusLogUniform::new(0.001, 0.1, 1e-4)?;
/// let spec = TensorSpec::new(Shape::new(vec![1536])?);
/// let mut b = vec![0.0f32; 1536];
/// dt.fill(&spec, &Philox::new(0, "dt_proj.bias"), &mut b)?;
/// let softplus = |x: f32| (1.0 + (x as f64).exp()).ln();
/// assert!(b.iter().all(|&x| (0.000999..=0.100001).contains(&softplus(x))));
/// assert!(InverseSoftplusLogUniform::new(0.1, 0.001, 1e-4).is_err());
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInterval`] unless `0 < min < max` (finite),
/// [`Error::InvalidParameter`] for a negative or non-finite floor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LogUniformRaw", into = "LogUniformRaw")]
pub struct InverseSoftplusLogUniform {
    min: f64,
    max: f64,
    floor: f64,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogUniformRaw {
    min: f64,
    max: f64,
    #[serde(default)]
    floor: f64,
}

/// Simpson intervals of the moment quadrature.
const QUADRATURE: usize = 1 << 14;

impl InverseSoftplusLogUniform {
    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidInterval`] unless `0 < min < max` (finite),
    /// [`Error::InvalidParameter`] for a negative or non-finite floor.
    pub fn new(min: f64, max: f64, floor: f64) -> Result<Self> {
        let (min, max) = error::interval("inverse_softplus_log_uniform", min, max)?;
        if min <= 0.0 {
            return Err(Error::InvalidInterval {
                what: "inverse_softplus_log_uniform (min must be > 0)",
                low: min,
                high: max,
            });
        }
        let floor = error::non_negative("floor", floor)?;
        Ok(Self { min, max, floor })
    }

    /// The smallest time step drawn (before the floor).
    pub fn min(&self) -> f64 {
        self.min
    }

    /// The largest time step drawn.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// The floor the time step is clamped to.
    pub fn floor(&self) -> f64 {
        self.floor
    }

    /// The value at `u ∈ (0, 1)`.
    #[inline]
    pub(crate) fn value(&self, u: f64) -> f64 {
        let dt = (self.min.ln() + u * (self.max.ln() - self.min.ln())).exp().max(self.floor);
        inverse_softplus(dt)
    }

    /// The smallest and largest value.
    pub(crate) fn bounds(&self) -> (f64, f64) {
        (inverse_softplus(self.min.max(self.floor)), inverse_softplus(self.max.max(self.floor)))
    }

    /// Mean and the central moments `E[(x − μ)^k]`, k = 2, 4, 6, 8, by Simpson's rule over `u`.
    pub(crate) fn moments(&self) -> (f64, [f64; 4]) {
        let weight = |i: usize| match i {
            0 => 1.0,
            i if i == QUADRATURE => 1.0,
            i if i % 2 == 1 => 4.0,
            _ => 2.0,
        };
        let h = 1.0 / QUADRATURE as f64;
        let integrate = |f: &dyn Fn(f64) -> f64| {
            (0..=QUADRATURE).map(|i| weight(i) * f(self.value(i as f64 * h))).sum::<f64>() * h / 3.0
        };
        let mean = integrate(&|x| x);
        let central = [2, 4, 6, 8].map(|k| integrate(&|x| (x - mean).powi(k)));
        (mean, central)
    }
}

/// softplus⁻¹(y) = y + ln(1 − e^(−y)) = ln(e^y − 1), written as PyTorch issue 72759 does.
fn inverse_softplus(y: f64) -> f64 {
    y + (-(-y).exp_m1()).ln()
}

impl TryFrom<LogUniformRaw> for InverseSoftplusLogUniform {
    type Error = Error;
    fn try_from(raw: LogUniformRaw) -> Result<Self> {
        Self::new(raw.min, raw.max, raw.floor)
    }
}

impl From<InverseSoftplusLogUniform> for LogUniformRaw {
    fn from(r: InverseSoftplusLogUniform) -> Self {
        Self { min: r.min, max: r.max, floor: r.floor }
    }
}

impl Initializer for InverseSoftplusLogUniform {
    fn name(&self) -> &'static str {
        "inverse_softplus_log_uniform"
    }
    fn is_elementwise(&self) -> bool {
        true
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_elementwise(self, spec, stream, start, out)
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let (mean, central) = self.moments();
        let (low, high) = self.bounds();
        x.formula = format!(
            "dt = max({}, exp(U(ln {}, ln {}))), w = dt + ln(1 − e^(−dt)) (softplus⁻¹), w in [{low:.6}, {high:.6}]",
            self.floor, self.min, self.max
        );
        (x.mean, x.std, x.bound) = (Some(mean), Some(central[0].sqrt()), Some(low.abs().max(high.abs())));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        inverse_softplus_log_uniform_equivalent!(equivalent)
    }
}

impl Elementwise for InverseSoftplusLogUniform {
    fn sampler(&self, _: &TensorSpec) -> Result<Sampler> {
        Ok(Sampler::InverseSoftplusLogUniform(*self))
    }
}

impl TorchCall for InverseSoftplusLogUniform {
    fn call<T: TorchFloat>(&self, _: &mut TorchGenerator, _: &TensorSpec, _: &mut [T]) -> Result<()> {
        Err(no_torch(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Philox;
    use crate::tensor::Shape;

    #[test]
    fn a_log_is_the_log_of_one_to_n_in_every_row_and_any_slice() {
        let spec = TensorSpec::new(Shape::new(vec![3, 16]).unwrap());
        let mut w = vec![0.0f32; 48];
        S4dRealLog.fill(&spec, &Philox::new(1, "A_log"), &mut w).unwrap();
        for (i, v) in w.iter().enumerate() {
            assert_eq!(*v, (((i % 16) + 1) as f64).ln() as f32);
        }
        let mut part = vec![0.0f32; 5];
        S4dRealLog.fill_slice(&spec, &Philox::new(1, "A_log"), 14, &mut part).unwrap();
        assert_eq!(part, w[14..19]);
        let x = S4dRealLog.explain(&spec).unwrap();
        let rms = (w.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / 48.0).sqrt();
        assert!((x.std.unwrap() - rms).abs() < 1e-6);
    }

    /// The draws' sample mean and variance lie within 5 standard errors of the
    /// quadrature's (n = 2²²); the twin moves max by 1 % and must be rejected.
    #[test]
    fn dt_bias_moments_match_the_draws_and_a_one_percent_shift_is_seen() {
        let rule = InverseSoftplusLogUniform::new(0.001, 0.1, 1e-4).unwrap();
        let n = 1usize << 22;
        let spec = TensorSpec::new(Shape::new(vec![n]).unwrap());
        let mut w = vec![0.0f64; n];
        rule.fill(&spec, &Philox::new(7, "dt_proj.bias"), &mut w).unwrap();
        let z = |r: &InverseSoftplusLogUniform| {
            let (mean, c) = r.moments();
            let sample_mean = w.iter().sum::<f64>() / n as f64;
            let var = w.iter().map(|x| (x - sample_mean).powi(2)).sum::<f64>() / n as f64;
            let z_mean = (sample_mean - mean) / (c[0] / n as f64).sqrt();
            let z_var = (var - c[0]) / ((c[1] - c[0] * c[0]) / n as f64).sqrt();
            z_mean.abs().max(z_var.abs())
        };
        assert!(z(&rule) < 5.0, "{}", z(&rule));
        let off = InverseSoftplusLogUniform::new(0.001, 0.101, 1e-4).unwrap();
        assert!(z(&off) > 5.0, "{}", z(&off));
        let (low, high) = rule.bounds();
        assert!(w.iter().all(|&x| (low..=high).contains(&x)));
        // softplus of the bias is log-uniform: its log is uniform on [ln 0.001, ln 0.1].
        let logs: Vec<f64> = w.iter().map(|&x| x.exp().ln_1p().ln()).collect();
        let mean_log = logs.iter().sum::<f64>() / n as f64;
        let want = 0.5 * (0.001f64.ln() + 0.1f64.ln());
        let se = (0.1f64.ln() - 0.001f64.ln()) / 12f64.sqrt() / (n as f64).sqrt();
        assert!((mean_log - want).abs() < 5.0 * se);
    }

    #[test]
    fn dt_bias_rejects_bad_intervals_and_floors() {
        assert!(InverseSoftplusLogUniform::new(0.0, 0.1, 1e-4).is_err());
        assert!(InverseSoftplusLogUniform::new(0.1, 0.1, 1e-4).is_err());
        assert!(InverseSoftplusLogUniform::new(0.001, 0.1, -1.0).is_err());
        assert!(InverseSoftplusLogUniform::new(0.001, f64::INFINITY, 0.0).is_err());
    }
}
