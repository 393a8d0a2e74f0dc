//! Initializers that draw every element independently from one distribution.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::error::{self, Error, Result};
use crate::fan::{Fan, FanMode};
use crate::spec::TensorSpec;
use crate::stream::{Stream, TorchCall};
use crate::tensor::Element;
use crate::torch::{self as nn, TorchFloat, TorchGenerator};

use super::explain::{Explanation, mode_formula};
use super::rule::{Elementwise, Equivalent, Initializer, equivalent, fill_elementwise, no_torch};
use super::sample::{Sampler, TruncatedSampler};

// Each rule's counterparts, written once: the type's docs, `Initializer::equivalent`
// and the table in `Init`'s docs expand these (`$then!` is `equivalent!`,
// `table_row!` or `doc_list!`).
macro_rules! constant_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`constant_(w, value)`, `zeros_`, `ones_`", "`constant(value)`, `zeros`, `ones`",
            "`Constant(value)`, `Zeros`, `Ones`")
    };
}
macro_rules! uniform_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`uniform_(w, a=low, b=high)`", "`uniform(scale)` is U(0, scale)",
            "`RandomUniform(minval, maxval)`")
    };
}
macro_rules! normal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`normal_(w, mean, std)`", "`normal(stddev)` (mean 0)", "`RandomNormal(mean, stddev)`")
    };
}
macro_rules! truncated_normal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`trunc_normal_(w, mean, std, a, b)` (absolute bounds)",
            "`truncated_normal(stddev, lower, upper)` (bounds in σ)", "`TruncatedNormal(mean, stddev)` (±2σ)")
    };
}
macro_rules! variance_scaling_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "`variance_scaling(scale, mode, distribution)`",
            "`VarianceScaling(scale, mode, distribution)`")
    };
}
macro_rules! xavier_uniform_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`xavier_uniform_(w, gain)`", "`glorot_uniform()` (gain 1)", "`GlorotUniform()` (gain 1)")
    };
}
macro_rules! xavier_normal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`xavier_normal_(w, gain)` (untruncated)",
            "`variance_scaling(gain², \"fan_avg\", \"normal\")` (`glorot_normal` is truncated)", "—")
    };
}
macro_rules! glorot_normal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "`glorot_normal()` (truncated at ±2σ, std corrected)",
            "`GlorotNormal()` (truncated at ±2σ, std corrected)")
    };
}
macro_rules! kaiming_uniform_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`kaiming_uniform_(w, a, mode, nonlinearity)`", "`he_uniform()` (fan_in, relu)",
            "`HeUniform()` (fan_in, relu)")
    };
}
macro_rules! kaiming_normal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`kaiming_normal_(w, a, mode, nonlinearity)` (untruncated)",
            "`variance_scaling(2, mode, \"normal\")` for relu (`he_normal` is truncated)", "—")
    };
}
macro_rules! he_normal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "`he_normal()` (truncated at ±2σ, std corrected)",
            "`HeNormal()` (truncated at ±2σ, std corrected)")
    };
}
macro_rules! lecun_uniform_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "`lecun_uniform()`", "`LecunUniform()`")
    };
}
macro_rules! lecun_normal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "`lecun_normal()` (truncated; timm's `lecun_normal_` too)", "`LecunNormal()` (truncated)")
    };
}
use super::rule::doc_list;
pub(crate) use {
    constant_equivalent, glorot_normal_equivalent, he_normal_equivalent, kaiming_normal_equivalent,
    kaiming_uniform_equivalent, lecun_normal_equivalent, lecun_uniform_equivalent, normal_equivalent,
    truncated_normal_equivalent, uniform_equivalent, variance_scaling_equivalent, xavier_normal_equivalent,
    xavier_uniform_equivalent,
};

/// Fills with one value.
///
/// # Formula
/// `w = value`
///
/// # Parameters
/// - `value`: any finite number.
///
/// # Equivalent to
#[doc = constant_equivalent!(doc_list)]
///
/// [`Init::Zeros`](super::Init::Zeros) and [`Init::Ones`](super::Init::Ones)
/// are [`Constant::ZEROS`] and [`Constant::ONES`].
///
/// # Example
/// ```
/// use nninit::init::Constant;
/// assert_eq!(Constant::new(0.5)?.value(), 0.5);
/// assert!(Constant::new(f64::NAN).is_err());
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a NaN or infinite value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ConstantRaw", into = "ConstantRaw")]
pub struct Constant {
    value: f64,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantRaw {
    value: f64,
}

impl Constant {
    /// All zeros ([`Init::Zeros`](super::Init::Zeros)).
    pub const ZEROS: Self = Self { value: 0.0 };
    /// All ones ([`Init::Ones`](super::Init::Ones)).
    pub const ONES: Self = Self { value: 1.0 };

    /// Validates `value`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `value` is not finite.
    pub fn new(value: f64) -> Result<Self> {
        Ok(Self { value: error::finite("value", value)? })
    }

    /// The value.
    pub fn value(&self) -> f64 {
        self.value
    }

    pub(crate) fn sampler(&self) -> Sampler {
        Sampler::Constant(self.value)
    }
}

impl TryFrom<ConstantRaw> for Constant {
    type Error = Error;
    fn try_from(raw: ConstantRaw) -> Result<Self> {
        Self::new(raw.value)
    }
}

impl From<Constant> for ConstantRaw {
    fn from(c: Constant) -> Self {
        Self { value: c.value }
    }
}

/// Uniform on `[low, high]`.
///
/// # Formula
/// `w ~ U(low, high)`; mean `(low + high) / 2`, std `(high − low) / √12`.
///
/// # Parameters
/// - `low < high`, both finite.
///
/// # Equivalent to
#[doc = uniform_equivalent!(doc_list)]
///
/// Values never leave `[low, high]`, also after rounding to `bf16`/`f16`.
///
/// # Example
/// ```
/// use nninit::init::Uniform;
/// let u = Uniform::new(-0.1, 0.1)?;
/// assert!((u.std() - 0.2 / 12f64.sqrt()).abs() < 1e-15);
/// assert!(Uniform::new(1.0, -1.0).is_err());
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInterval`] unless `low < high`, both finite.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "UniformRaw", into = "UniformRaw")]
pub struct Uniform {
    low: f64,
    high: f64,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UniformRaw {
    #[serde(alias = "a")]
    low: f64,
    #[serde(alias = "b")]
    high: f64,
}

impl Uniform {
    /// Validates the interval.
    ///
    /// # Errors
    /// [`Error::InvalidInterval`] unless `low < high`, both finite.
    pub fn new(low: f64, high: f64) -> Result<Self> {
        let (low, high) = error::interval("uniform", low, high)?;
        if !(high - low).is_finite() {
            return Err(Error::InvalidInterval { what: "uniform (width overflows)", low, high });
        }
        Ok(Self { low, high })
    }

    /// The lower end.
    pub fn low(&self) -> f64 {
        self.low
    }

    /// The upper end.
    pub fn high(&self) -> f64 {
        self.high
    }

    /// The standard deviation `(high − low) / √12`.
    pub fn std(&self) -> f64 {
        (self.high - self.low) / 12f64.sqrt()
    }

    pub(crate) fn sampler(&self) -> Sampler {
        Sampler::Uniform { low: self.low, high: self.high }
    }
}

impl TryFrom<UniformRaw> for Uniform {
    type Error = Error;
    fn try_from(raw: UniformRaw) -> Result<Self> {
        Self::new(raw.low, raw.high)
    }
}

impl From<Uniform> for UniformRaw {
    fn from(u: Uniform) -> Self {
        Self { low: u.low, high: u.high }
    }
}

/// Normal (Gaussian) with given mean and standard deviation.
///
/// # Formula
/// `w ~ N(mean, std²)`
///
/// # Parameters
/// - `mean`: finite; `std`: finite and `>= 0` (0 gives the constant `mean`).
///
/// # Equivalent to
#[doc = normal_equivalent!(doc_list)]
///
/// The 32-bit
/// stream's Box–Muller draws `|z| ≤ 5.9` and the 64-bit stream's `|z| ≤ 8.6`
/// (probability mass beyond: 4·10⁻⁹ and 10⁻¹⁷); PyTorch's float kernel has the
/// same 24-bit limit.
///
/// # Example
/// ```
/// use nninit::init::Normal;
/// let gpt2 = Normal::new(0.0, 0.02)?;
/// assert_eq!(gpt2.std(), 0.02);
/// assert!(Normal::new(0.0, -1.0).is_err());
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-finite mean or a negative or non-finite std.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NormalRaw", into = "NormalRaw")]
pub struct Normal {
    mean: f64,
    std: f64,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalRaw {
    #[serde(default)]
    mean: f64,
    #[serde(default = "one", alias = "stddev")]
    std: f64,
}

fn one() -> f64 {
    1.0
}

impl Normal {
    /// Validates the parameters.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-finite mean or a negative or
    /// non-finite std.
    pub fn new(mean: f64, std: f64) -> Result<Self> {
        let mean = error::finite("mean", mean)?;
        let std = error::finite_spread("std", mean, error::non_negative("std", std)?)?;
        Ok(Self { mean, std })
    }

    /// The mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The standard deviation.
    pub fn std(&self) -> f64 {
        self.std
    }

    pub(crate) fn sampler(&self) -> Sampler {
        Sampler::Normal { mean: self.mean, std: self.std }
    }
}

impl TryFrom<NormalRaw> for Normal {
    type Error = Error;
    fn try_from(raw: NormalRaw) -> Result<Self> {
        Self::new(raw.mean, raw.std)
    }
}

impl From<Normal> for NormalRaw {
    fn from(n: Normal) -> Self {
        Self { mean: n.mean, std: n.std }
    }
}

/// Where a truncated normal is cut, in one of the two conventions in use.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Truncation {
    /// Absolute bounds `[low, high]`, whatever the std: PyTorch's
    /// `trunc_normal_(w, mean, std, a, b)`. With its defaults `a = −2, b = 2`
    /// and `std = 0.02` nothing is truncated (timm issue #1286).
    Absolute {
        /// The lower bound.
        low: f64,
        /// The upper bound.
        high: f64,
    },
    /// Bounds at `mean + lower·σ` and `mean + upper·σ`, in units of the
    /// underlying normal's σ: JAX's `truncated_normal(stddev, lower, upper)`
    /// and Keras's `TruncatedNormal` (±2).
    Std {
        /// Lower bound in units of σ.
        lower: f64,
        /// Upper bound in units of σ.
        upper: f64,
        /// Whether σ is enlarged so the truncated distribution has the
        /// requested std.
        correction: Correction,
    },
}

/// Whether a truncated normal's σ is corrected for the truncation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// `std` is the std of the normal before truncation (PyTorch, JAX's
    /// `truncated_normal`, Keras's `TruncatedNormal`, TF-BERT): the samples'
    /// std is smaller, `0.8796·std` at ±2σ.
    #[default]
    None,
    /// σ = std / σ₀ where σ₀ is the std of a unit normal truncated to the same
    /// bounds (0.87962566103423978 at ±2σ), so the samples have std `std`:
    /// JAX/Keras `variance_scaling(..., "truncated_normal")`, timm's
    /// `lecun_normal_`.
    PreserveStd,
}

impl Correction {
    /// Parses `none` or `preserve-std` (also `preserve_std`), case-insensitively.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the known values.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "none" => Ok(Self::None),
            "preserve_std" => Ok(Self::PreserveStd),
            _ => {
                Err(Error::InvalidConfig { reason: format!("unknown correction `{text}` (known: none, preserve-std)") })
            }
        }
    }
}

/// Normal truncated to an interval, sampled by the inverse CDF, so no value
/// ever falls outside the bounds (PyTorch had 1000σ outliers: pytorch #155588).
///
/// # Formula
/// With `α = (low − μ)/σ`, `β = (high − μ)/σ` and `u ~ U(0, 1)`:
/// `w = μ + σ · Φ⁻¹(Φ(α) + u · (Φ(β) − Φ(α)))`, evaluated in the upper tail
/// through the survival function when `α ≥ 0` so that far tails keep full
/// precision. The samples have
/// `std² = σ² · [1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²]`, `Z = Φ(β) − Φ(α)`.
///
/// # Parameters
/// - `mean` finite, `std > 0` finite;
/// - [`Truncation::Absolute`] `low < high`, or [`Truncation::Std`]
///   `lower < upper` (in σ) with a [`Correction`];
/// - the interval must hold a representable probability mass (it fails
///   beyond about 38σ from the mean).
///
/// # Equivalent to
#[doc = truncated_normal_equivalent!(doc_list)]
///
/// In nninit's terms:
/// - `torch.nn.init.trunc_normal_(w, mean, std, a, b)`:
///   `TruncatedNormal::new(mean, std, Truncation::Absolute { low: a, high: b })`.
/// - `jax.nn.initializers.truncated_normal(stddev, lower, upper)` and Keras
///   `TruncatedNormal(stddev=s)`: `Truncation::Std { lower, upper, correction: Correction::None }`.
/// - JAX/Keras `variance_scaling(..., "truncated_normal")` and timm
///   `lecun_normal_`: `Correction::PreserveStd` at ±2.
///
/// # Example
/// ```
/// use nninit::init::{Correction, TruncatedNormal, Truncation};
/// // BERT's TF initializer: N(0, 0.02²) cut at ±2σ, std not corrected
/// let bert = TruncatedNormal::new(0.0, 0.02, Truncation::Std { lower: -2.0, upper: 2.0, correction: Correction::None })?;
/// assert!((bert.sample_std() - 0.02 * 0.879_625_661_034_239_8).abs() < 1e-15);
/// assert_eq!(bert.bounds(), (-0.04, 0.04));
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad mean or std, [`Error::InvalidInterval`]
/// for bad bounds or an interval with no representable mass.
///
/// # References
/// Standard inverse-transform sampling; Φ⁻¹ by Wichura (1988), *Algorithm
/// AS 241: The Percentage Points of the Normal Distribution*, Applied
/// Statistics 37(3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TruncatedNormalRaw", into = "TruncatedNormalRaw")]
pub struct TruncatedNormal {
    mean: f64,
    std: f64,
    truncation: Truncation,
    sampler: TruncatedSampler,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TruncatedNormalRaw {
    #[serde(default)]
    mean: f64,
    #[serde(default = "one", alias = "stddev")]
    std: f64,
    #[serde(default = "default_truncation")]
    truncation: Truncation,
}

fn default_truncation() -> Truncation {
    Truncation::Std { lower: -2.0, upper: 2.0, correction: Correction::None }
}

impl TruncatedNormal {
    /// Validates the parameters.
    ///
    /// # Errors
    /// See the type's documentation.
    pub fn new(mean: f64, std: f64, truncation: Truncation) -> Result<Self> {
        let mean = error::finite("mean", mean)?;
        let std = error::positive("std", std)?;
        let (sigma, low, high) = match truncation {
            Truncation::Absolute { low, high } => {
                let (low, high) = error::interval("truncation bounds", low, high)?;
                (std, low, high)
            }
            Truncation::Std { lower, upper, correction } => {
                let (lower, upper) = error::interval("truncation bounds (in std)", lower, upper)?;
                let sigma = match correction {
                    Correction::None => std,
                    Correction::PreserveStd => {
                        let unit = TruncatedSampler::new(0.0, 1.0, lower, upper)?;
                        std / unit.std()
                    }
                };
                (sigma, mean + lower * sigma, mean + upper * sigma)
            }
        };
        let sampler = TruncatedSampler::new(mean, sigma, low, high)?;
        Ok(Self { mean, std, truncation, sampler })
    }

    /// The mean of the underlying normal.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The `std` parameter as given.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// The truncation convention.
    pub fn truncation(&self) -> Truncation {
        self.truncation
    }

    /// σ of the underlying normal (differs from `std` under
    /// [`Correction::PreserveStd`]).
    pub fn sigma(&self) -> f64 {
        self.sampler.sigma()
    }

    /// The absolute bounds `(low, high)`.
    pub fn bounds(&self) -> (f64, f64) {
        self.sampler.bounds()
    }

    /// The standard deviation of the samples (closed form).
    pub fn sample_std(&self) -> f64 {
        self.sampler.std()
    }

    /// The mean of the samples (closed form).
    pub fn sample_mean(&self) -> f64 {
        self.sampler.mean()
    }

    /// The distribution's CDF at `x` (for tests and diagnostics).
    pub fn cdf(&self, x: f64) -> f64 {
        self.sampler.cdf(x)
    }

    pub(crate) fn sampler(&self) -> Sampler {
        Sampler::Truncated(self.sampler)
    }
}

impl TryFrom<TruncatedNormalRaw> for TruncatedNormal {
    type Error = Error;
    fn try_from(raw: TruncatedNormalRaw) -> Result<Self> {
        Self::new(raw.mean, raw.std, raw.truncation)
    }
}

impl From<TruncatedNormal> for TruncatedNormalRaw {
    fn from(t: TruncatedNormal) -> Self {
        Self { mean: t.mean, std: t.std, truncation: t.truncation }
    }
}

/// The distribution a [`VarianceScaling`] rule draws from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// `N(0, std²)`.
    #[default]
    Normal,
    /// `U(−√3·std, √3·std)`, which has std `std`.
    Uniform,
    /// Normal truncated at ±2σ with σ = std / 0.87962566103423978, which has std `std`.
    TruncatedNormal,
}

impl Distribution {
    /// Parses `normal`, `uniform`, `truncated_normal` (also `untruncated_normal`, `truncated-normal`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "normal" | "untruncated_normal" | "gaussian" => Ok(Self::Normal),
            "uniform" => Ok(Self::Uniform),
            "truncated_normal" | "truncated" => Ok(Self::TruncatedNormal),
            _ => Err(Error::InvalidConfig {
                reason: format!("unknown distribution `{text}` (known: normal, uniform, truncated_normal)"),
            }),
        }
    }
}

/// Variance scaling: the std follows from a fan, so the variance of signals
/// (or gradients) is preserved through a layer. Xavier/Glorot, Kaiming/He and
/// LeCun are its presets.
///
/// # Formula
/// ```text
/// std = gain / √fan_in                       mode fan_in
/// std = gain / √fan_out                      mode fan_out
/// std = gain · √(2 / (fan_in + fan_out))     mode fan_avg
/// normal:           w ~ N(0, std²)
/// uniform:          w ~ U(−bound, bound),  bound = √3 · std
/// truncated normal: w ~ N(0, σ²) cut at ±2σ, σ = std / 0.87962566103423978
/// ```
/// with `gain = √scale` in JAX's terms. The expressions are evaluated in
/// double precision exactly as `torch.nn.init` writes them.
///
/// # Parameters
/// - `gain > 0` finite (or `scale = gain² > 0`); a [`FanMode`]; a [`Distribution`].
///
/// # Equivalent to
#[doc = variance_scaling_equivalent!(doc_list)]
///
/// The presets are labelled values of this type ([`Preset`]); each states its
/// own counterparts ([`Initializer::equivalent`]; the table in
/// [`Init`](super::Init) lists them all).
///
/// JAX's and Keras's `*_normal` presets are **truncated** normals with
/// corrected σ; PyTorch's are plain normals. A gain for an activation comes
/// from [`Activation::kaiming_gain`].
///
/// # Example
/// ```
/// use nninit::activation::Activation;
/// use nninit::fan::{Fan, FanMode};
/// use nninit::init::VarianceScaling;
/// let he = VarianceScaling::kaiming_normal(FanMode::FanIn, Activation::Relu)?;
/// let fan = Fan::new(512, 256)?;
/// assert!((he.std(fan) - (2.0f64 / 512.0).sqrt()).abs() < 1e-15);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a gain or scale that is not finite and > 0.
///
/// # References
/// - Glorot & Bengio (2010), *Understanding the difficulty of training deep
///   feedforward neural networks*, AISTATS, eq. 16.
/// - He, Zhang, Ren & Sun (2015), *Delving Deep into Rectifiers*, ICCV,
///   eqs. 10 and 14. <https://arxiv.org/abs/1502.01852>
/// - LeCun, Bottou, Orr & Müller (1998), *Efficient BackProp*.
/// - Klambauer et al. (2017), *Self-Normalizing Neural Networks* (LeCun normal for SELU).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VarianceScalingRaw", into = "VarianceScalingRaw")]
pub struct VarianceScaling {
    gain: f64,
    mode: FanMode,
    distribution: Distribution,
    preset: Option<Preset>,
}

/// Which named preset a [`VarianceScaling`] value is, so that it keeps its name
/// (in [`Init`](super::Init)'s JSON, in explanations) and its PyTorch
/// counterpart (PyTorch's generator reproduces the `xavier_*` and `kaiming_*`
/// presets, not the general rule).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Preset {
    /// [`VarianceScaling::xavier_uniform`].
    XavierUniform,
    /// [`VarianceScaling::xavier_normal`].
    XavierNormal,
    /// [`VarianceScaling::glorot_normal`].
    GlorotNormal,
    /// [`VarianceScaling::kaiming_uniform`] for an activation.
    KaimingUniform {
        /// The activation the gain is for.
        nonlinearity: Activation,
    },
    /// [`VarianceScaling::kaiming_normal`] for an activation.
    KaimingNormal {
        /// The activation the gain is for.
        nonlinearity: Activation,
    },
    /// [`VarianceScaling::he_normal`].
    HeNormal,
    /// [`VarianceScaling::lecun_uniform`].
    LecunUniform,
    /// [`VarianceScaling::lecun_normal`].
    LecunNormal,
}

impl Preset {
    /// The preset's canonical name (`xavier_uniform`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::XavierUniform => "xavier_uniform",
            Self::XavierNormal => "xavier_normal",
            Self::GlorotNormal => "glorot_normal",
            Self::KaimingUniform { .. } => "kaiming_uniform",
            Self::KaimingNormal { .. } => "kaiming_normal",
            Self::HeNormal => "he_normal",
            Self::LecunUniform => "lecun_uniform",
            Self::LecunNormal => "lecun_normal",
        }
    }

    /// The preset's counterparts in PyTorch, JAX and Keras.
    pub fn equivalent(&self) -> Equivalent {
        match self {
            Self::XavierUniform => xavier_uniform_equivalent!(equivalent),
            Self::XavierNormal => xavier_normal_equivalent!(equivalent),
            Self::GlorotNormal => glorot_normal_equivalent!(equivalent),
            Self::KaimingUniform { .. } => kaiming_uniform_equivalent!(equivalent),
            Self::KaimingNormal { .. } => kaiming_normal_equivalent!(equivalent),
            Self::HeNormal => he_normal_equivalent!(equivalent),
            Self::LecunUniform => lecun_uniform_equivalent!(equivalent),
            Self::LecunNormal => lecun_normal_equivalent!(equivalent),
        }
    }
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VarianceScalingRaw {
    #[serde(default = "one")]
    scale: f64,
    #[serde(default)]
    mode: FanMode,
    #[serde(default)]
    distribution: Distribution,
}

/// The std of a unit normal truncated to ±2: `0.87962566103423978`.
pub const TRUNCATED_2SIGMA_STD: f64 = 0.879_625_661_034_239_8;

impl VarianceScaling {
    /// From a gain.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `gain` is finite and > 0.
    pub fn with_gain(gain: f64, mode: FanMode, distribution: Distribution) -> Result<Self> {
        let gain = error::finite_spread("gain", 0.0, error::positive("gain", gain)?)?;
        Ok(Self { gain, mode, distribution, preset: None })
    }

    /// From JAX's `scale` (`gain = √scale`): `jax.nn.initializers.variance_scaling(scale, mode, distribution)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `scale` is finite and > 0.
    pub fn new(scale: f64, mode: FanMode, distribution: Distribution) -> Result<Self> {
        Self::with_gain(error::positive("scale", scale)?.sqrt(), mode, distribution)
    }

    /// A preset from validated parameters.
    const fn named(gain: f64, mode: FanMode, distribution: Distribution, preset: Preset) -> Self {
        Self { gain, mode, distribution, preset: Some(preset) }
    }

    /// A preset from a gain to validate.
    fn labelled(gain: f64, mode: FanMode, distribution: Distribution, preset: Preset) -> Result<Self> {
        Ok(Self { preset: Some(preset), ..Self::with_gain(gain, mode, distribution)? })
    }

    /// Glorot/Xavier uniform: `bound = gain · √(6 / (fan_in + fan_out))`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `gain` is finite and > 0 (and small
    /// enough that `bound` stays finite).
    #[doc(alias = "glorot_uniform")]
    pub fn xavier_uniform(gain: f64) -> Result<Self> {
        Self::labelled(gain, FanMode::FanAvg, Distribution::Uniform, Preset::XavierUniform)
    }

    /// Glorot/Xavier normal as PyTorch: `std = gain · √(2 / (fan_in + fan_out))`, untruncated.
    ///
    /// # Errors
    /// As [`xavier_uniform`](Self::xavier_uniform).
    pub fn xavier_normal(gain: f64) -> Result<Self> {
        Self::labelled(gain, FanMode::FanAvg, Distribution::Normal, Preset::XavierNormal)
    }

    /// Glorot normal as JAX and Keras: truncated at ±2σ, std `√(2 / (fan_in + fan_out))`.
    pub const fn glorot_normal() -> Self {
        Self::named(1.0, FanMode::FanAvg, Distribution::TruncatedNormal, Preset::GlorotNormal)
    }

    /// Kaiming/He uniform as PyTorch: `bound = √3 · gain / √fan`, with the gain
    /// of [`Activation::kaiming_gain`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] when the activation's gain is not finite and
    /// > 0 (a leaky ReLU with a slope of 1e200 has a gain that underflows).
    #[doc(alias = "he_uniform")]
    pub fn kaiming_uniform(mode: FanMode, activation: Activation) -> Result<Self> {
        let preset = Preset::KaimingUniform { nonlinearity: activation };
        Self::labelled(activation.kaiming_gain(), mode, Distribution::Uniform, preset)
    }

    /// Kaiming/He normal as PyTorch: `std = gain / √fan`, untruncated, with the
    /// gain of [`Activation::kaiming_gain`].
    ///
    /// # Errors
    /// As [`kaiming_uniform`](Self::kaiming_uniform).
    pub fn kaiming_normal(mode: FanMode, activation: Activation) -> Result<Self> {
        let preset = Preset::KaimingNormal { nonlinearity: activation };
        Self::labelled(activation.kaiming_gain(), mode, Distribution::Normal, preset)
    }

    /// He normal as JAX and Keras: truncated at ±2σ, std `√(2 / fan_in)`.
    pub const fn he_normal() -> Self {
        Self::named(std::f64::consts::SQRT_2, FanMode::FanIn, Distribution::TruncatedNormal, Preset::HeNormal)
    }

    /// LeCun uniform: `bound = √(3 / fan_in)`.
    pub const fn lecun_uniform() -> Self {
        Self::named(1.0, FanMode::FanIn, Distribution::Uniform, Preset::LecunUniform)
    }

    /// LeCun normal as JAX, Keras and timm: truncated at ±2σ, std `1 / √fan_in`.
    pub const fn lecun_normal() -> Self {
        Self::named(1.0, FanMode::FanIn, Distribution::TruncatedNormal, Preset::LecunNormal)
    }

    /// The preset this value was built as, if any.
    pub fn preset_label(&self) -> Option<Preset> {
        self.preset
    }

    /// The gain.
    pub fn gain(&self) -> f64 {
        self.gain
    }

    /// JAX's scale, `gain²`.
    pub fn scale(&self) -> f64 {
        self.gain * self.gain
    }

    /// The fan mode.
    pub fn mode(&self) -> FanMode {
        self.mode
    }

    /// The distribution.
    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// The std of the samples for `fan`, evaluated as `torch.nn.init` does.
    pub fn std(&self, fan: Fan) -> f64 {
        fan.variance_scaling_std(self.mode, self.gain)
    }

    /// The bound: `√3 · std` for uniform, `2σ` for truncated normal, `None` for normal.
    pub fn bound(&self, fan: Fan) -> Option<f64> {
        let std = self.std(fan);
        match self.distribution {
            Distribution::Normal => None,
            Distribution::Uniform => Some(3f64.sqrt() * std),
            Distribution::TruncatedNormal => Some(2.0 * std / TRUNCATED_2SIGMA_STD),
        }
    }

    pub(crate) fn fan_sampler(&self, fan: Fan) -> Result<Sampler> {
        let std = self.std(fan);
        Ok(match self.distribution {
            Distribution::Normal => Sampler::Normal { mean: 0.0, std },
            Distribution::Uniform => {
                let bound = 3f64.sqrt() * std;
                Sampler::Uniform { low: -bound, high: bound }
            }
            Distribution::TruncatedNormal => {
                let sigma = std / TRUNCATED_2SIGMA_STD;
                Sampler::Truncated(TruncatedSampler::new(0.0, sigma, -2.0 * sigma, 2.0 * sigma)?)
            }
        })
    }
}

impl TryFrom<VarianceScalingRaw> for VarianceScaling {
    type Error = Error;
    fn try_from(raw: VarianceScalingRaw) -> Result<Self> {
        Self::new(raw.scale, raw.mode, raw.distribution)
    }
}

impl From<VarianceScaling> for VarianceScalingRaw {
    fn from(v: VarianceScaling) -> Self {
        Self { scale: v.scale(), mode: v.mode, distribution: v.distribution }
    }
}

impl Initializer for Constant {
    fn name(&self) -> &'static str {
        "constant"
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
        x.formula = format!("w = {}", self.value);
        (x.mean, x.std, x.bound) = (Some(self.value), Some(0.0), Some(self.value.abs()));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        constant_equivalent!(equivalent)
    }
}

impl Elementwise for Constant {
    fn sampler(&self, _: &TensorSpec) -> Result<Sampler> {
        Ok(self.sampler())
    }
}

impl TorchCall for Constant {
    fn call<T: TorchFloat>(&self, _: &mut TorchGenerator, _: &TensorSpec, out: &mut [T]) -> Result<()> {
        nn::constant_(out, self.value);
        Ok(())
    }
}

impl Initializer for Uniform {
    fn name(&self) -> &'static str {
        "uniform"
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
        x.formula = format!("w ~ U({}, {}); std = (b − a) / √12", self.low, self.high);
        x.mean = Some((self.low + self.high) / 2.0);
        x.std = Some(self.std());
        x.bound = Some(self.low.abs().max(self.high.abs()));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        uniform_equivalent!(equivalent)
    }
}

impl Elementwise for Uniform {
    fn sampler(&self, _: &TensorSpec) -> Result<Sampler> {
        Ok(self.sampler())
    }
}

impl TorchCall for Uniform {
    fn call<T: TorchFloat>(&self, g: &mut TorchGenerator, _: &TensorSpec, out: &mut [T]) -> Result<()> {
        nn::uniform_(g, out, self.low, self.high)
    }
}

impl Initializer for Normal {
    fn name(&self) -> &'static str {
        "normal"
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
        x.formula = format!("w ~ N({}, {}²)", self.mean, self.std);
        (x.mean, x.std) = (Some(self.mean), Some(self.std));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        normal_equivalent!(equivalent)
    }
}

impl Elementwise for Normal {
    fn sampler(&self, _: &TensorSpec) -> Result<Sampler> {
        Ok(self.sampler())
    }
}

impl TorchCall for Normal {
    fn call<T: TorchFloat>(&self, g: &mut TorchGenerator, _: &TensorSpec, out: &mut [T]) -> Result<()> {
        nn::normal_(g, out, self.mean, self.std)
    }
}

impl Initializer for TruncatedNormal {
    fn name(&self) -> &'static str {
        "truncated_normal"
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
        let (low, high) = self.bounds();
        let convention = match self.truncation {
            Truncation::Absolute { .. } => "absolute bounds (PyTorch's a, b)".to_string(),
            Truncation::Std { lower, upper, correction } => {
                format!("bounds at μ + [{lower}, {upper}]·σ, correction {correction:?}")
            }
        };
        x.formula = format!(
            "w ~ N({}, σ²) truncated to [{low}, {high}], σ = {}; {convention}; sample std = {}",
            self.mean,
            self.sigma(),
            self.sample_std()
        );
        x.mean = Some(self.sample_mean());
        x.std = Some(self.sample_std());
        x.bound = Some(low.abs().max(high.abs()));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        truncated_normal_equivalent!(equivalent)
    }
}

impl Elementwise for TruncatedNormal {
    fn sampler(&self, _: &TensorSpec) -> Result<Sampler> {
        Ok(self.sampler())
    }
}

impl TorchCall for TruncatedNormal {
    fn call<T: TorchFloat>(&self, g: &mut TorchGenerator, _: &TensorSpec, out: &mut [T]) -> Result<()> {
        let (low, high) = self.bounds();
        nn::trunc_normal_(g, out, self.mean, self.sigma(), low, high)
    }
}

impl Initializer for VarianceScaling {
    fn name(&self) -> &'static str {
        self.preset.map_or("variance_scaling", |p| p.name())
    }
    fn needs_fan(&self) -> bool {
        true
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
        let (mut x, fan) = Explanation::start(self, spec)?;
        let fan = match fan {
            Some(fan) => fan,
            None => spec.fan()?,
        };
        let std = self.std(fan);
        let gain_note = match self.preset {
            Some(Preset::KaimingUniform { nonlinearity } | Preset::KaimingNormal { nonlinearity }) => {
                match nonlinearity.torch_gain() {
                    Some(_) => format!(" (PyTorch's calculate_gain('{}'))", nonlinearity.name()),
                    None => format!(" (second-moment gain of {}: PyTorch has none)", nonlinearity.name()),
                }
            }
            _ => String::new(),
        };
        let std_formula = format!("std = {} = {std}", mode_formula(self.mode));
        x.formula = match self.distribution {
            Distribution::Normal => format!("w ~ N(0, std²), {std_formula}; gain = {}{gain_note}", self.gain),
            Distribution::Uniform => format!(
                "w ~ U(−bound, bound), bound = √3 · std = {}, {std_formula}; gain = {}{gain_note}",
                self.bound(fan).unwrap_or_default(),
                self.gain
            ),
            Distribution::TruncatedNormal => format!(
                "w ~ N(0, σ²) truncated at ±2σ, σ = std / 0.87962566103423978 = {}, {std_formula}; gain = {}",
                std / TRUNCATED_2SIGMA_STD,
                self.gain
            ),
        };
        (x.gain, x.std, x.bound) = (Some(self.gain), Some(std), self.bound(fan));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        self.preset.map_or(variance_scaling_equivalent!(equivalent), |p| p.equivalent())
    }
}

impl Elementwise for VarianceScaling {
    fn sampler(&self, spec: &TensorSpec) -> Result<Sampler> {
        self.fan_sampler(spec.fan()?)
    }
}

impl TorchCall for VarianceScaling {
    fn call<T: TorchFloat>(&self, g: &mut TorchGenerator, spec: &TensorSpec, out: &mut [T]) -> Result<()> {
        let shape = spec.shape();
        match self.preset {
            Some(Preset::XavierUniform) => nn::xavier_uniform_(g, out, shape, self.gain),
            Some(Preset::XavierNormal) => nn::xavier_normal_(g, out, shape, self.gain),
            Some(Preset::KaimingUniform { nonlinearity }) => {
                nn::kaiming_uniform_(g, out, shape, self.mode, &nonlinearity)
            }
            Some(Preset::KaimingNormal { nonlinearity }) => {
                nn::kaiming_normal_(g, out, shape, self.mode, &nonlinearity)
            }
            _ => Err(no_torch(self)),
        }
    }
}

/// The std of a unit normal truncated to `[lower, upper]` (in σ).
///
/// # Errors
/// [`Error::InvalidInterval`] as [`TruncatedNormal::new`].
pub fn truncated_unit_std(lower: f64, upper: f64) -> Result<f64> {
    Ok(TruncatedSampler::new(0.0, 1.0, lower, upper)?.std())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_validate() {
        assert!(Constant::new(f64::INFINITY).is_err());
        assert!(matches!(Uniform::new(1.0, 1.0), Err(Error::InvalidInterval { .. })));
        assert!(matches!(Uniform::new(f64::NAN, 1.0), Err(Error::InvalidInterval { .. })));
        assert!(matches!(Uniform::new(-f64::MAX, f64::MAX), Err(Error::InvalidInterval { .. })));
        assert!(matches!(Normal::new(0.0, f64::NAN), Err(Error::InvalidParameter { name: "std", .. })));
        assert!(matches!(Normal::new(f64::NAN, 1.0), Err(Error::InvalidParameter { name: "mean", .. })));
        assert!(Normal::new(0.0, 0.0).is_ok());
        assert!(matches!(Normal::new(0.0, 1e308), Err(Error::InvalidParameter { name: "std", .. })));
        assert!(matches!(VarianceScaling::xavier_uniform(1e308), Err(Error::InvalidParameter { name: "gain", .. })));
        let abs = |low, high| Truncation::Absolute { low, high };
        assert!(matches!(TruncatedNormal::new(0.0, 1.0, abs(2.0, -2.0)), Err(Error::InvalidInterval { .. })));
        assert!(matches!(TruncatedNormal::new(0.0, 0.0, abs(-2.0, 2.0)), Err(Error::InvalidParameter { .. })));
        // No representable mass 60σ out.
        assert!(matches!(TruncatedNormal::new(0.0, 1.0, abs(60.0, 61.0)), Err(Error::InvalidInterval { .. })));
        assert!(TruncatedNormal::new(0.0, 1.0, abs(30.0, 31.0)).is_ok());
        assert!(matches!(
            VarianceScaling::new(-1.0, FanMode::FanIn, Distribution::Normal),
            Err(Error::InvalidParameter { name: "scale", .. })
        ));
        assert!(matches!(VarianceScaling::xavier_uniform(0.0), Err(Error::InvalidParameter { name: "gain", .. })));
    }

    #[test]
    fn truncation_constant_matches_jax() {
        // jax/_src/nn/initializers.py: stddev / .87962566103423978
        let c = truncated_unit_std(-2.0, 2.0).unwrap();
        assert!((c - TRUNCATED_2SIGMA_STD).abs() < 1e-15, "{c}");
    }

    #[test]
    fn corrected_truncation_has_requested_std() {
        let t = TruncatedNormal::new(
            0.0,
            0.5,
            Truncation::Std { lower: -2.0, upper: 2.0, correction: Correction::PreserveStd },
        )
        .unwrap();
        assert!((t.sample_std() - 0.5).abs() < 1e-14);
        assert!((t.sigma() - 0.5 / TRUNCATED_2SIGMA_STD).abs() < 1e-14);
    }

    #[test]
    fn pytorch_closed_forms() {
        let fan = Fan::new(32, 64).unwrap();
        // xavier_uniform_(gain=1) on [64, 32]: bound = sqrt(3) * sqrt(2 / 96)
        let x = VarianceScaling::xavier_uniform(1.0).unwrap();
        assert_eq!(x.bound(fan).unwrap(), 3f64.sqrt() * (2.0f64 / 96.0).sqrt());
        // kaiming_uniform_(a=0, fan_in, leaky_relu): bound = sqrt(3) * (sqrt(2) / sqrt(32)) = 0.4330...
        let k =
            VarianceScaling::kaiming_uniform(FanMode::FanIn, Activation::LeakyRelu { negative_slope: 0.0 }).unwrap();
        assert_eq!(k.bound(fan).unwrap(), 3f64.sqrt() * (2f64.sqrt() / 32f64.sqrt()));
        // kaiming_normal_(fan_out, relu): std = sqrt(2)/sqrt(64) = 0.17677...
        let k = VarianceScaling::kaiming_normal(FanMode::FanOut, Activation::Relu).unwrap();
        assert!((k.std(fan) - 0.176_776_695_296_636_9).abs() < 1e-16);
        // lecun_normal: std 1/sqrt(32), bound 2 sigma = 2/sqrt(32)/0.8796
        let l = VarianceScaling::lecun_normal();
        assert!((l.bound(fan).unwrap() - 2.0 / 32f64.sqrt() / TRUNCATED_2SIGMA_STD).abs() < 1e-15);
        // JAX scale form: variance_scaling(2, fan_in, uniform) == he_uniform
        let j = VarianceScaling::new(2.0, FanMode::FanIn, Distribution::Uniform).unwrap();
        assert!((j.bound(fan).unwrap() - (6.0f64 / 32.0).sqrt()).abs() < 1e-15);
        // tanh gain 5/3 from PyTorch's table
        let t = VarianceScaling::kaiming_normal(FanMode::FanIn, Activation::Tanh).unwrap();
        assert_eq!(t.gain(), 5.0 / 3.0);
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<Uniform>(r#"{"low": 1, "high": 0}"#).is_err());
        assert!(serde_json::from_str::<Normal>(r#"{"std": -1}"#).is_err());
        assert!(serde_json::from_str::<Normal>(r#"{"sdt": 1}"#).is_err());
        let n: Normal = serde_json::from_str(r#"{"stddev": 0.02}"#).unwrap();
        assert_eq!((n.mean(), n.std()), (0.0, 0.02));
        let t: TruncatedNormal = serde_json::from_str(r#"{"std": 0.02}"#).unwrap();
        assert_eq!(t.bounds(), (-0.04, 0.04));
    }
}
