//! The catalogue of initializers.
//!
//! Each initializer is a small validated type (its constructor checks every
//! parameter, after which filling cannot fail on parameters); [`Init`] lists
//! them all for configs, JSON and the CLI. Every rule can say what it will do
//! before doing it ([`Init::explain`]) and fills any element type from a
//! [`Philox`] stream, whole or by slice.
//!
//! | [`Init`] | PyTorch | JAX / Keras |
//! |---|---|---|
//! | `Constant`, `Zeros`, `Ones` | `constant_`, `zeros_`, `ones_` | `constant`, `zeros`, `ones` |
//! | `Uniform` | `uniform_(a, b)` | `uniform(scale)` = U(0, scale) |
//! | `Normal` | `normal_(mean, std)` | `normal(stddev)` |
//! | `TruncatedNormal` | `trunc_normal_(mean, std, a, b)` (absolute bounds) | `truncated_normal(stddev, lower, upper)` (in σ) |
//! | `VarianceScaling` | — | `variance_scaling(scale, mode, distribution)` |
//! | `XavierUniform`, `XavierNormal` | `xavier_uniform_`, `xavier_normal_` | `glorot_uniform`; (`glorot_normal` is truncated: `GlorotNormal`) |
//! | `KaimingUniform`, `KaimingNormal` | `kaiming_uniform_`, `kaiming_normal_` | `he_uniform`; (`he_normal` is truncated: `HeNormal`) |
//! | `LecunUniform`, `LecunNormal` | timm `lecun_normal_` | `lecun_uniform`, `lecun_normal` |
//! | `Orthogonal` | `orthogonal_(gain)` | `orthogonal(scale)` |
//! | `Eye`, `Dirac` | `eye_`, `dirac_(groups)` | `Identity` (Keras) |
//! | `DeltaOrthogonal` | — | `delta_orthogonal(scale)` |
//! | `Sparse` | `sparse_(sparsity, std)` | — |
//! | `Zero` (ZerO) | — | — |

mod elementwise;
pub(crate) mod sample;
pub(crate) mod structured;

use serde::{Deserialize, Serialize};

pub use elementwise::{
    Constant, Correction, Distribution, Normal, TRUNCATED_2SIGMA_STD, TruncatedNormal, Truncation, Uniform,
    VarianceScaling, truncated_unit_std,
};
pub use structured::{DeltaOrthogonal, Dirac, Orthogonal, Sparse};

use crate::activation::Activation;
use crate::error::{self, Error, Result};
use crate::fan::{Fan, FanMode};
use crate::spec::TensorSpec;
use crate::stream::Philox;
use crate::tensor::Element;
use sample::Sampler;

/// A validated gain (finite, > 0) for configs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Gain(f64);

impl Gain {
    /// Validates a gain.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless finite and > 0.
    pub fn new(gain: f64) -> Result<Self> {
        Ok(Self(error::positive("gain", gain)?))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for Gain {
    fn default() -> Self {
        Self(1.0)
    }
}

impl TryFrom<f64> for Gain {
    type Error = Error;
    fn try_from(v: f64) -> Result<Self> {
        Self::new(v)
    }
}

impl From<Gain> for f64 {
    fn from(g: Gain) -> f64 {
        g.0
    }
}

fn default_kaiming_activation() -> Activation {
    Activation::LeakyRelu { negative_slope: 0.0 }
}

/// Every initializer nninit knows, as a serializable value.
///
/// JSON form: `{"init": "kaiming_normal", "mode": "fan_out", "nonlinearity": {"name": "relu"}}`,
/// `{"init": "truncated_normal", "std": 0.02, "truncation": {"kind": "absolute", "low": -0.04, "high": 0.04}}`.
/// Every value is validated when it is built or deserialized.
///
/// # Example
/// ```
/// use nninit::{Init, Shape, TensorSpec, stream::Philox};
/// let init: Init = serde_json::from_str(r#"{"init": "xavier_uniform", "gain": 1.0}"#)?;
/// let spec = TensorSpec::new(Shape::new(vec![256, 128])?);
/// let mut w = vec![0.0f32; 256 * 128];
/// init.fill(&spec, &Philox::new(42, "encoder.fc1.weight"), &mut w)?;
/// let bound = init.explain(&spec)?.bound.unwrap();
/// assert!(w.iter().all(|v| v.abs() as f64 <= bound));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "init", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Init {
    /// A constant ([`Constant`]).
    Constant(Constant),
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Uniform on an interval ([`Uniform`]).
    Uniform(Uniform),
    /// Normal ([`Normal`]).
    Normal(Normal),
    /// Truncated normal in either convention ([`TruncatedNormal`]).
    #[serde(alias = "trunc_normal")]
    TruncatedNormal(TruncatedNormal),
    /// General variance scaling ([`VarianceScaling`]).
    VarianceScaling(VarianceScaling),
    /// PyTorch `xavier_uniform_` = JAX `glorot_uniform` ([`VarianceScaling::xavier_uniform`]).
    #[serde(alias = "glorot_uniform")]
    XavierUniform {
        /// The gain (default 1).
        #[serde(default)]
        gain: Gain,
    },
    /// PyTorch `xavier_normal_`, untruncated ([`VarianceScaling::xavier_normal`]).
    XavierNormal {
        /// The gain (default 1).
        #[serde(default)]
        gain: Gain,
    },
    /// JAX/Keras `glorot_normal`, truncated ([`VarianceScaling::glorot_normal`]).
    GlorotNormal,
    /// PyTorch `kaiming_uniform_` = JAX `he_uniform` for ReLU ([`VarianceScaling::kaiming_uniform`]).
    #[serde(alias = "he_uniform")]
    KaimingUniform {
        /// Fan mode (default fan_in).
        #[serde(default)]
        mode: FanMode,
        /// Activation (default PyTorch's: leaky_relu with slope 0, gain √2).
        #[serde(default = "default_kaiming_activation")]
        nonlinearity: Activation,
    },
    /// PyTorch `kaiming_normal_`, untruncated ([`VarianceScaling::kaiming_normal`]).
    KaimingNormal {
        /// Fan mode (default fan_in).
        #[serde(default)]
        mode: FanMode,
        /// Activation (default PyTorch's: leaky_relu with slope 0, gain √2).
        #[serde(default = "default_kaiming_activation")]
        nonlinearity: Activation,
    },
    /// JAX/Keras `he_normal`, truncated ([`VarianceScaling::he_normal`]).
    HeNormal,
    /// JAX/Keras `lecun_uniform` ([`VarianceScaling::lecun_uniform`]).
    LecunUniform,
    /// JAX/Keras `lecun_normal`, truncated ([`VarianceScaling::lecun_normal`]).
    LecunNormal,
    /// Haar-orthogonal ([`Orthogonal`]).
    Orthogonal(Orthogonal),
    /// Identity matrix (`torch.nn.init.eye_`; 2-D only).
    #[serde(alias = "identity")]
    Eye,
    /// Dirac delta kernel ([`Dirac`]).
    Dirac(Dirac),
    /// Delta-orthogonal kernel ([`DeltaOrthogonal`]).
    DeltaOrthogonal(DeltaOrthogonal),
    /// Sparse normal ([`Sparse`]).
    Sparse(Sparse),
    /// ZerO: identities and Hadamard matrices, deterministic (Zhao et al. 2022).
    #[serde(alias = "zer_o")]
    Zero,
}

/// Optional parameters by name, for building an [`Init`] from a name and
/// command-line style options (`--gain`, `--std`, ...). Unset values take the
/// reference framework's defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InitParams {
    /// Gain (xavier, orthogonal, delta-orthogonal) or explicit gain for kaiming.
    pub gain: Option<f64>,
    /// Scale (variance_scaling).
    pub scale: Option<f64>,
    /// Fan mode (kaiming, variance_scaling).
    pub mode: Option<FanMode>,
    /// Activation (kaiming).
    pub nonlinearity: Option<Activation>,
    /// Distribution (variance_scaling).
    pub distribution: Option<Distribution>,
    /// Mean (normal, truncated_normal).
    pub mean: Option<f64>,
    /// Standard deviation (normal, truncated_normal, sparse).
    pub std: Option<f64>,
    /// Lower end (uniform) or absolute lower bound (truncated_normal).
    pub low: Option<f64>,
    /// Upper end (uniform) or absolute upper bound (truncated_normal).
    pub high: Option<f64>,
    /// Lower bound in σ (truncated_normal).
    pub lower: Option<f64>,
    /// Upper bound in σ (truncated_normal).
    pub upper: Option<f64>,
    /// Variance correction (truncated_normal in σ units).
    pub correction: Option<Correction>,
    /// Value (constant).
    pub value: Option<f64>,
    /// Sparsity (sparse).
    pub sparsity: Option<f64>,
    /// Groups (dirac).
    pub groups: Option<usize>,
}

impl InitParams {
    /// Sets one parameter from its name and its text value, as a config file or a
    /// command line gives them: `gain`, `scale`, `mean`, `std`, `low`, `high`,
    /// `lower`, `upper`, `value`, `sparsity` (numbers), `groups` (an integer),
    /// `mode` (`fan_in`, `fan_out`, `fan_avg`), `nonlinearity` (an activation name as
    /// [`Activation`]'s `FromStr` reads it), `distribution` and `correction`.
    ///
    /// ```
    /// use nninit::{Init, InitParams};
    /// let mut p = InitParams::default();
    /// p.set("mode", "fan_out")?;
    /// p.set("nonlinearity", "relu")?;
    /// let init = Init::parse("kaiming_normal", &p)?;
    /// assert_eq!(init.name(), "kaiming_normal");
    /// # Ok::<(), nninit::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an unknown name or a value that does not parse.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let number = || {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| Error::InvalidConfig { reason: format!("`{key}` must be a number, not `{value}`") })
        };
        match key.to_ascii_lowercase().replace('-', "_").as_str() {
            "gain" => self.gain = Some(number()?),
            "scale" => self.scale = Some(number()?),
            "mean" => self.mean = Some(number()?),
            "std" => self.std = Some(number()?),
            "low" | "a" => self.low = Some(number()?),
            "high" | "b" => self.high = Some(number()?),
            "lower" => self.lower = Some(number()?),
            "upper" => self.upper = Some(number()?),
            "value" => self.value = Some(number()?),
            "sparsity" => self.sparsity = Some(number()?),
            "groups" => {
                self.groups = Some(value.trim().parse::<usize>().map_err(|_| Error::InvalidConfig {
                    reason: format!("`groups` must be a positive integer, not `{value}`"),
                })?)
            }
            "mode" => self.mode = Some(FanMode::parse(value)?),
            "nonlinearity" => self.nonlinearity = Some(value.parse::<Activation>()?),
            "distribution" => self.distribution = Some(Distribution::parse(value)?),
            "correction" => self.correction = Some(Correction::parse(value)?),
            other => {
                return Err(Error::InvalidConfig {
                    reason: format!(
                        "unknown initializer parameter `{other}` (known: gain, scale, mode, nonlinearity, \
                         distribution, mean, std, low, high, lower, upper, correction, value, sparsity, groups)"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The names [`Init::parse`] accepts.
pub const INIT_NAMES: &str = "constant, zeros, ones, uniform, normal, truncated_normal (trunc_normal), \
variance_scaling, xavier_uniform (glorot_uniform), xavier_normal, glorot_normal, kaiming_uniform (he_uniform), \
kaiming_normal, he_normal, lecun_uniform, lecun_normal, orthogonal, eye (identity), dirac, delta_orthogonal, \
sparse, zero (zer_o)";

impl InitParams {
    /// The names of the parameters that are set.
    fn given(&self) -> Vec<&'static str> {
        let set = [
            ("gain", self.gain.is_some()),
            ("scale", self.scale.is_some()),
            ("mode", self.mode.is_some()),
            ("nonlinearity", self.nonlinearity.is_some()),
            ("distribution", self.distribution.is_some()),
            ("mean", self.mean.is_some()),
            ("std", self.std.is_some()),
            ("low", self.low.is_some()),
            ("high", self.high.is_some()),
            ("lower", self.lower.is_some()),
            ("upper", self.upper.is_some()),
            ("correction", self.correction.is_some()),
            ("value", self.value.is_some()),
            ("sparsity", self.sparsity.is_some()),
            ("groups", self.groups.is_some()),
        ];
        set.into_iter().filter(|(_, on)| *on).map(|(name, _)| name).collect()
    }
}

/// The parameters each rule takes (by canonical name).
fn accepted(name: &str) -> &'static [&'static str] {
    match name {
        "constant" => &["value"],
        "uniform" => &["low", "high"],
        "normal" => &["mean", "std"],
        "truncated_normal" => &["mean", "std", "low", "high", "lower", "upper", "correction"],
        "variance_scaling" => &["scale", "mode", "distribution"],
        "xavier_uniform" | "xavier_normal" | "orthogonal" | "delta_orthogonal" => &["gain"],
        "kaiming_uniform" | "kaiming_normal" => &["mode", "nonlinearity"],
        "dirac" => &["groups"],
        "sparse" => &["sparsity", "std"],
        _ => &[],
    }
}

impl Init {
    /// Builds an initializer from its name and optional parameters, with the
    /// reference framework's defaults for unset ones (PyTorch's for PyTorch
    /// names, JAX's for JAX names).
    ///
    /// # Errors
    /// [`Error::UnknownInit`] for an unknown name, [`Error::InvalidConfig`]
    /// for a missing required parameter or one the rule does not take, and
    /// each constructor's errors.
    pub fn parse(name: &str, p: &InitParams) -> Result<Self> {
        let init = Self::parse_unchecked(name, p)?;
        let takes = accepted(init.name());
        if let Some(extra) = p.given().into_iter().find(|g| !takes.contains(g) && *g != "groups") {
            let takes =
                if takes.is_empty() { "no parameters".to_string() } else { format!("--{}", takes.join(", --")) };
            return Err(Error::InvalidConfig {
                reason: format!("`{}` does not take --{extra} (it takes {takes})", init.name()),
            });
        }
        Ok(init)
    }

    fn parse_unchecked(name: &str, p: &InitParams) -> Result<Self> {
        let gain = || p.gain.map_or(Ok(Gain::default()), Gain::new);
        let kaiming = |p: &InitParams| -> Result<(FanMode, Activation)> {
            Ok((p.mode.unwrap_or_default(), p.nonlinearity.unwrap_or_else(default_kaiming_activation)))
        };
        let required = |value: Option<f64>, what: &str| {
            value.ok_or_else(|| Error::InvalidConfig { reason: format!("`{name}` needs --{what}") })
        };
        let key = name.to_ascii_lowercase().replace('-', "_");
        Ok(match key.as_str() {
            "constant" => Self::Constant(Constant::new(required(p.value, "value")?)?),
            "zeros" => Self::Zeros,
            "ones" => Self::Ones,
            "uniform" => Self::Uniform(Uniform::new(p.low.unwrap_or(0.0), p.high.unwrap_or(1.0))?),
            "normal" => Self::Normal(Normal::new(p.mean.unwrap_or(0.0), p.std.unwrap_or(1.0))?),
            "truncated_normal" | "trunc_normal" => {
                let truncation = match (p.low, p.high, p.lower, p.upper) {
                    (Some(low), Some(high), None, None) => Truncation::Absolute { low, high },
                    (None, None, lower, upper) => Truncation::Std {
                        lower: lower.unwrap_or(-2.0),
                        upper: upper.unwrap_or(2.0),
                        correction: p.correction.unwrap_or_default(),
                    },
                    _ => {
                        return Err(Error::InvalidConfig {
                            reason:
                                "truncated_normal takes either absolute bounds (--low and --high, PyTorch's a and b) \
                                     or bounds in std units (--lower/--upper, JAX's), not a mix"
                                    .into(),
                        });
                    }
                };
                Self::TruncatedNormal(TruncatedNormal::new(p.mean.unwrap_or(0.0), p.std.unwrap_or(1.0), truncation)?)
            }
            "variance_scaling" => Self::VarianceScaling(VarianceScaling::new(
                p.scale.unwrap_or(1.0),
                p.mode.unwrap_or_default(),
                p.distribution.unwrap_or(Distribution::TruncatedNormal),
            )?),
            "xavier_uniform" | "glorot_uniform" => Self::XavierUniform { gain: gain()? },
            "xavier_normal" => Self::XavierNormal { gain: gain()? },
            "glorot_normal" => Self::GlorotNormal,
            "kaiming_uniform" | "he_uniform" => {
                let (mode, nonlinearity) = kaiming(p)?;
                Self::KaimingUniform { mode, nonlinearity }
            }
            "kaiming_normal" => {
                let (mode, nonlinearity) = kaiming(p)?;
                Self::KaimingNormal { mode, nonlinearity }
            }
            "he_normal" => Self::HeNormal,
            "lecun_uniform" => Self::LecunUniform,
            "lecun_normal" => Self::LecunNormal,
            "orthogonal" => Self::Orthogonal(Orthogonal::new(gain()?.get())?),
            "eye" | "identity" => Self::Eye,
            "dirac" => Self::Dirac(Dirac::new(p.groups.unwrap_or(1))?),
            "delta_orthogonal" => Self::DeltaOrthogonal(DeltaOrthogonal::new(gain()?.get())?),
            "sparse" => Self::Sparse(Sparse::new(required(p.sparsity, "sparsity")?, p.std.unwrap_or(0.01))?),
            "zero" | "zer_o" => Self::Zero,
            _ => return Err(Error::UnknownInit { name: name.to_string(), known: INIT_NAMES }),
        })
    }

    /// The canonical snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Constant(_) => "constant",
            Self::Zeros => "zeros",
            Self::Ones => "ones",
            Self::Uniform(_) => "uniform",
            Self::Normal(_) => "normal",
            Self::TruncatedNormal(_) => "truncated_normal",
            Self::VarianceScaling(_) => "variance_scaling",
            Self::XavierUniform { .. } => "xavier_uniform",
            Self::XavierNormal { .. } => "xavier_normal",
            Self::GlorotNormal => "glorot_normal",
            Self::KaimingUniform { .. } => "kaiming_uniform",
            Self::KaimingNormal { .. } => "kaiming_normal",
            Self::HeNormal => "he_normal",
            Self::LecunUniform => "lecun_uniform",
            Self::LecunNormal => "lecun_normal",
            Self::Orthogonal(_) => "orthogonal",
            Self::Eye => "eye",
            Self::Dirac(_) => "dirac",
            Self::DeltaOrthogonal(_) => "delta_orthogonal",
            Self::Sparse(_) => "sparse",
            Self::Zero => "zero",
        }
    }

    /// The general [`VarianceScaling`] form of a variance-scaling preset.
    pub fn variance_scaling(&self) -> Option<VarianceScaling> {
        // The constructors below cannot fail: their gains were validated or are constants.
        let ok = |r: Result<VarianceScaling>| r.ok();
        match *self {
            Self::VarianceScaling(v) => Some(v),
            Self::XavierUniform { gain } => ok(VarianceScaling::xavier_uniform(gain.get())),
            Self::XavierNormal { gain } => ok(VarianceScaling::xavier_normal(gain.get())),
            Self::GlorotNormal => Some(VarianceScaling::glorot_normal()),
            Self::KaimingUniform { mode, nonlinearity } => ok(VarianceScaling::kaiming_uniform(mode, nonlinearity)),
            Self::KaimingNormal { mode, nonlinearity } => ok(VarianceScaling::kaiming_normal(mode, nonlinearity)),
            Self::HeNormal => Some(VarianceScaling::he_normal()),
            Self::LecunUniform => Some(VarianceScaling::lecun_uniform()),
            Self::LecunNormal => Some(VarianceScaling::lecun_normal()),
            _ => None,
        }
    }

    /// Whether the rule draws each element independently (so any slice is
    /// generated alone, in time proportional to its length).
    pub fn is_elementwise(&self) -> bool {
        self.elementwise_sampler(None).is_some()
    }

    /// The element-wise distribution, given the fans where the rule needs them.
    pub(crate) fn elementwise_sampler(&self, fan: Option<Fan>) -> Option<Result<Sampler>> {
        Some(Ok(match self {
            Self::Constant(c) => c.sampler(),
            Self::Zeros => Sampler::Constant(0.0),
            Self::Ones => Sampler::Constant(1.0),
            Self::Uniform(u) => u.sampler(),
            Self::Normal(n) => n.sampler(),
            Self::TruncatedNormal(t) => t.sampler(),
            _ => {
                let vs = self.variance_scaling()?;
                return Some(match fan {
                    Some(fan) => vs.sampler(fan),
                    None => Ok(Sampler::Constant(0.0)),
                });
            }
        }))
    }

    /// Whether the rule needs fans (so a rank < 2 tensor needs explicit ones).
    pub fn needs_fan(&self) -> bool {
        self.variance_scaling().is_some()
    }

    /// Checks that the rule can initialize `spec`, without drawing anything.
    ///
    /// # Errors
    /// What [`Init::fill`] would return for this tensor.
    pub fn check(&self, spec: &TensorSpec) -> Result<()> {
        self.explain(spec).map(|_| ())
    }

    /// Fills `out` (the whole tensor, row-major) from `stream`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `out` does not hold `spec.numel()`
    /// elements; the shape errors of [`Init::check`].
    pub fn fill<E: Element>(&self, spec: &TensorSpec, stream: &Philox, out: &mut [E]) -> Result<()> {
        if out.len() as u64 != spec.numel() {
            return Err(Error::LengthMismatch { expected: spec.numel(), got: out.len() as u64 });
        }
        self.fill_slice(spec, stream, 0, out)
    }

    /// Fills `out` with the flattened elements `start..start + out.len()` of
    /// the tensor, identical to the same elements of [`Init::fill`].
    /// Element-wise rules generate only the slice; structured ones
    /// (orthogonal, sparse, ...) compute the whole tensor and copy the slice.
    ///
    /// # Errors
    /// [`Error::InvalidSlice`] if the range is outside the tensor; the shape
    /// errors of [`Init::check`].
    pub fn fill_slice<E: Element>(&self, spec: &TensorSpec, stream: &Philox, start: u64, out: &mut [E]) -> Result<()> {
        let numel = spec.numel();
        let end = start.checked_add(out.len() as u64).filter(|&e| e <= numel);
        let Some(end) = end else {
            return Err(Error::InvalidSlice { start, end: start.saturating_add(out.len() as u64), len: numel });
        };
        let fan = if self.needs_fan() { Some(spec.fan()?) } else { None };
        if let Some(sampler) = self.elementwise_sampler(fan) {
            sampler?.fill(stream, start, out);
            return Ok(());
        }
        if start == 0 && end == numel {
            return self.generate(spec, stream, out);
        }
        let mut whole = vec![E::default(); numel as usize];
        self.generate(spec, stream, &mut whole)?;
        out.copy_from_slice(&whole[start as usize..end as usize]);
        Ok(())
    }

    /// Builds a whole structured tensor.
    fn generate<E: Element>(&self, spec: &TensorSpec, stream: &Philox, out: &mut [E]) -> Result<()> {
        match self {
            Self::Orthogonal(o) => o.generate(spec, stream, out),
            Self::Eye => structured::eye(spec, out),
            Self::Dirac(d) => d.generate(spec, out),
            Self::DeltaOrthogonal(d) => d.generate(spec, stream, out),
            Self::Sparse(s) => s.generate(spec, stream, out),
            Self::Zero => structured::zero_init(spec, out),
            _ => unreachable!("element-wise rules are sampled directly"),
        }
    }

    /// What the rule will do to `spec`: formula, fans, gain, std and bound.
    ///
    /// # Errors
    /// [`Error::RankTooSmall`] when the rule needs fans and `spec` has rank
    /// < 2 without explicit ones; [`Error::UnsupportedShape`] for a shape the
    /// rule cannot fill.
    pub fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        explain::explain(self, spec)
    }
}

mod explain;
pub use explain::Explanation;

#[cfg(test)]
mod tests;
