//! The catalogue of initializers.
//!
//! Each initializer is a small validated type (its constructor checks every
//! parameter, after which filling cannot fail on parameters) that implements
//! [`Initializer`]: it fills any [`Element`] type from any [`Stream`] ([`Philox`](crate::stream::Philox),
//! or PyTorch's generator through [`TorchStream`](crate::stream::TorchStream)),
//! whole or by slice, and says what it will do before doing it
//! ([`Initializer::explain`]) and what it corresponds to elsewhere
//! ([`Initializer::equivalent`]).
//!
//! ```
//! use nninit::init::{Initializer, Normal};
//! use nninit::stream::Philox;
//! use nninit::{Shape, TensorSpec};
//! let spec = TensorSpec::new(Shape::new(vec![768, 768])?);
//! let mut w = vec![0.0f32; 768 * 768];
//! Normal::new(0.0, 0.02)?.fill(&spec, &Philox::new(0, "h.0.attn.c_proj.weight"), &mut w)?;
//! # Ok::<(), nninit::Error>(())
//! ```
//!
//! [`Init`] names every rule for configs, JSON and the CLI, and delegates to the
//! rule types; its documentation has the table of equivalents.

mod elementwise;
mod explain;
mod rule;
pub(crate) mod sample;
mod ssm;
pub(crate) mod structured;

use serde::{Deserialize, Serialize};

pub use elementwise::{
    Constant, Correction, Distribution, Normal, Preset, TRUNCATED_2SIGMA_STD, TruncatedNormal, Truncation, Uniform,
    VarianceScaling, truncated_unit_std,
};
pub use explain::Explanation;
pub use rule::{Equivalent, Initializer};
pub use ssm::{InverseSoftplusLogUniform, S4dRealLog};
pub use structured::{DeltaOrthogonal, Dirac, Eye, Orthogonal, Sparse, ZerO};

use crate::activation::Activation;
use crate::error::{self, Error, Result};
use crate::fan::{Fan, FanMode};
use crate::spec::TensorSpec;
use crate::stream::Stream;
use crate::tensor::Element;
use rule::table_row;
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

/// Every initializer nninit knows, as a serializable value: a name for each
/// rule type, delegating to it ([`Initializer`]).
///
/// JSON form: `{"init": "kaiming_normal", "mode": "fan_out", "nonlinearity": {"name": "relu"}}`,
/// `{"init": "truncated_normal", "std": 0.02, "truncation": {"kind": "absolute", "low": -0.04, "high": 0.04}}`.
/// Every value is validated when it is built, parsed ([`Init::parse`]) or
/// deserialized, presets included: `{"init": "xavier_uniform", "gain": 1e308}`
/// is an error there, not later.
///
/// The presets (Xavier/Glorot, Kaiming/He, LeCun) are [`VarianceScaling`]
/// values that remember which preset they are ([`Preset`]), so they keep their
/// names and JSON forms.
///
/// | [`Init`] (name) | rule type | PyTorch `torch.nn.init` | JAX `jax.nn.initializers` | Keras `keras.initializers` |
/// |---|---|---|---|---|
#[doc = concat!(
    elementwise::constant_equivalent!(table_row, "`constant`, `zeros`, `ones` | [`Constant`]"),
    elementwise::uniform_equivalent!(table_row, "`uniform` | [`Uniform`]"),
    elementwise::normal_equivalent!(table_row, "`normal` | [`Normal`]"),
    elementwise::truncated_normal_equivalent!(table_row, "`truncated_normal` | [`TruncatedNormal`]"),
    elementwise::variance_scaling_equivalent!(table_row, "`variance_scaling` | [`VarianceScaling::new`]"),
    elementwise::xavier_uniform_equivalent!(table_row, "`xavier_uniform` | [`VarianceScaling::xavier_uniform`]"),
    elementwise::xavier_normal_equivalent!(table_row, "`xavier_normal` | [`VarianceScaling::xavier_normal`]"),
    elementwise::glorot_normal_equivalent!(table_row, "`glorot_normal` | [`VarianceScaling::glorot_normal`]"),
    elementwise::kaiming_uniform_equivalent!(table_row, "`kaiming_uniform` | [`VarianceScaling::kaiming_uniform`]"),
    elementwise::kaiming_normal_equivalent!(table_row, "`kaiming_normal` | [`VarianceScaling::kaiming_normal`]"),
    elementwise::he_normal_equivalent!(table_row, "`he_normal` | [`VarianceScaling::he_normal`]"),
    elementwise::lecun_uniform_equivalent!(table_row, "`lecun_uniform` | [`VarianceScaling::lecun_uniform`]"),
    elementwise::lecun_normal_equivalent!(table_row, "`lecun_normal` | [`VarianceScaling::lecun_normal`]"),
    structured::orthogonal_equivalent!(table_row, "`orthogonal` | [`Orthogonal`]"),
    structured::eye_equivalent!(table_row, "`eye` | [`Eye`]"),
    structured::dirac_equivalent!(table_row, "`dirac` | [`Dirac`]"),
    structured::delta_orthogonal_equivalent!(table_row, "`delta_orthogonal` | [`DeltaOrthogonal`]"),
    structured::sparse_equivalent!(table_row, "`sparse` | [`Sparse`]"),
    structured::zero_equivalent!(table_row, "`zero` | [`ZerO`]"),
    ssm::s4d_real_log_equivalent!(table_row, "`s4d_real_log` | [`S4dRealLog`]"),
    ssm::inverse_softplus_log_uniform_equivalent!(table_row,
        "`inverse_softplus_log_uniform` | [`InverseSoftplusLogUniform`]"),
)]
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
/// assert!(serde_json::from_str::<Init>(r#"{"init": "xavier_uniform", "gain": 1e308}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "InitRepr", into = "InitRepr")]
#[non_exhaustive]
pub enum Init {
    /// A constant ([`Constant`]).
    Constant(Constant),
    /// All zeros ([`Constant::ZEROS`]).
    Zeros,
    /// All ones ([`Constant::ONES`]).
    Ones,
    /// Uniform on an interval ([`Uniform`]).
    Uniform(Uniform),
    /// Normal ([`Normal`]).
    Normal(Normal),
    /// Truncated normal in either convention ([`TruncatedNormal`]).
    TruncatedNormal(TruncatedNormal),
    /// Variance scaling, general or one of its presets ([`VarianceScaling`],
    /// [`Preset`]): `xavier_*`, `glorot_normal`, `kaiming_*`, `he_normal`,
    /// `lecun_*`.
    VarianceScaling(VarianceScaling),
    /// Haar-orthogonal ([`Orthogonal`]).
    Orthogonal(Orthogonal),
    /// Identity matrix ([`Eye`]): `w[o, i] = 1 if o == i else 0`, 2-D only;
    /// PyTorch `torch.nn.init.eye_`, Keras `Identity()`; the identity
    /// recurrent weights of Le, Jaitly & Hinton (2015).
    Eye,
    /// Dirac delta kernel ([`Dirac`]).
    Dirac(Dirac),
    /// Delta-orthogonal kernel ([`DeltaOrthogonal`]).
    DeltaOrthogonal(DeltaOrthogonal),
    /// Sparse normal ([`Sparse`]).
    Sparse(Sparse),
    /// ZerO ([`ZerO`]): partial identities, or Hadamard matrices scaled by
    /// `2^(−c/2)` when a layer widens; deterministic, no PyTorch/JAX/Keras
    /// counterpart (Zhao, Schäfer & Anandkumar 2022, *ZerO Initialization*).
    Zero,
    /// S4D-Real's state matrix stored as Mamba's `A_log` ([`S4dRealLog`]):
    /// `w[..., n] = ln(n + 1)`, deterministic.
    S4dRealLog,
    /// The inverse softplus of a log-uniform time step ([`InverseSoftplusLogUniform`]):
    /// Mamba's `dt_proj.bias`.
    InverseSoftplusLogUniform(InverseSoftplusLogUniform),
}

/// Runs `$body` with `$rule` bound to the rule type an [`Init`] names: the one
/// place `Init` dispatches.
macro_rules! with_rule {
    ($init:expr, $rule:ident => $body:expr) => {
        match $init {
            Init::Constant($rule) => $body,
            Init::Zeros => {
                let $rule = &Constant::ZEROS;
                $body
            }
            Init::Ones => {
                let $rule = &Constant::ONES;
                $body
            }
            Init::Uniform($rule) => $body,
            Init::Normal($rule) => $body,
            Init::TruncatedNormal($rule) => $body,
            Init::VarianceScaling($rule) => $body,
            Init::Orthogonal($rule) => $body,
            Init::Eye => {
                let $rule = &Eye;
                $body
            }
            Init::Dirac($rule) => $body,
            Init::DeltaOrthogonal($rule) => $body,
            Init::Sparse($rule) => $body,
            Init::Zero => {
                let $rule = &ZerO;
                $body
            }
            Init::S4dRealLog => {
                let $rule = &S4dRealLog;
                $body
            }
            Init::InverseSoftplusLogUniform($rule) => $body,
        }
    };
}

/// The JSON form of [`Init`], one variant per name; [`Init`] (de)serializes
/// through it, and [`Init::parse`] builds it, so both validate in one place
/// ([`TryFrom<InitRepr>`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "init", rename_all = "snake_case")]
enum InitRepr {
    Constant(Constant),
    Zeros,
    Ones,
    Uniform(Uniform),
    Normal(Normal),
    #[serde(alias = "trunc_normal")]
    TruncatedNormal(TruncatedNormal),
    VarianceScaling(VarianceScaling),
    #[serde(alias = "glorot_uniform")]
    XavierUniform {
        #[serde(default)]
        gain: Gain,
    },
    XavierNormal {
        #[serde(default)]
        gain: Gain,
    },
    GlorotNormal,
    #[serde(alias = "he_uniform")]
    KaimingUniform {
        #[serde(default)]
        mode: FanMode,
        #[serde(default = "default_kaiming_activation")]
        nonlinearity: Activation,
    },
    KaimingNormal {
        #[serde(default)]
        mode: FanMode,
        #[serde(default = "default_kaiming_activation")]
        nonlinearity: Activation,
    },
    HeNormal,
    LecunUniform,
    LecunNormal,
    Orthogonal(Orthogonal),
    #[serde(alias = "identity")]
    Eye,
    Dirac(Dirac),
    DeltaOrthogonal(DeltaOrthogonal),
    Sparse(Sparse),
    #[serde(alias = "zer_o")]
    Zero,
    S4dRealLog,
    InverseSoftplusLogUniform(InverseSoftplusLogUniform),
}

impl TryFrom<InitRepr> for Init {
    type Error = Error;
    fn try_from(repr: InitRepr) -> Result<Self> {
        let vs = Self::VarianceScaling;
        Ok(match repr {
            InitRepr::Constant(c) => Self::Constant(c),
            InitRepr::Zeros => Self::Zeros,
            InitRepr::Ones => Self::Ones,
            InitRepr::Uniform(u) => Self::Uniform(u),
            InitRepr::Normal(n) => Self::Normal(n),
            InitRepr::TruncatedNormal(t) => Self::TruncatedNormal(t),
            InitRepr::VarianceScaling(v) => vs(v),
            InitRepr::XavierUniform { gain } => vs(VarianceScaling::xavier_uniform(gain.get())?),
            InitRepr::XavierNormal { gain } => vs(VarianceScaling::xavier_normal(gain.get())?),
            InitRepr::GlorotNormal => vs(VarianceScaling::glorot_normal()),
            InitRepr::KaimingUniform { mode, nonlinearity } => {
                vs(VarianceScaling::kaiming_uniform(mode, nonlinearity)?)
            }
            InitRepr::KaimingNormal { mode, nonlinearity } => vs(VarianceScaling::kaiming_normal(mode, nonlinearity)?),
            InitRepr::HeNormal => vs(VarianceScaling::he_normal()),
            InitRepr::LecunUniform => vs(VarianceScaling::lecun_uniform()),
            InitRepr::LecunNormal => vs(VarianceScaling::lecun_normal()),
            InitRepr::Orthogonal(o) => Self::Orthogonal(o),
            InitRepr::Eye => Self::Eye,
            InitRepr::Dirac(d) => Self::Dirac(d),
            InitRepr::DeltaOrthogonal(d) => Self::DeltaOrthogonal(d),
            InitRepr::Sparse(s) => Self::Sparse(s),
            InitRepr::Zero => Self::Zero,
            InitRepr::S4dRealLog => Self::S4dRealLog,
            InitRepr::InverseSoftplusLogUniform(r) => Self::InverseSoftplusLogUniform(r),
        })
    }
}

impl From<Init> for InitRepr {
    fn from(init: Init) -> Self {
        match init {
            Init::Constant(c) => Self::Constant(c),
            Init::Zeros => Self::Zeros,
            Init::Ones => Self::Ones,
            Init::Uniform(u) => Self::Uniform(u),
            Init::Normal(n) => Self::Normal(n),
            Init::TruncatedNormal(t) => Self::TruncatedNormal(t),
            Init::VarianceScaling(v) => match v.preset_label() {
                None => Self::VarianceScaling(v),
                // The gain was validated when `v` was built.
                Some(Preset::XavierUniform) => Self::XavierUniform { gain: Gain(v.gain()) },
                Some(Preset::XavierNormal) => Self::XavierNormal { gain: Gain(v.gain()) },
                Some(Preset::GlorotNormal) => Self::GlorotNormal,
                Some(Preset::KaimingUniform { nonlinearity }) => Self::KaimingUniform { mode: v.mode(), nonlinearity },
                Some(Preset::KaimingNormal { nonlinearity }) => Self::KaimingNormal { mode: v.mode(), nonlinearity },
                Some(Preset::HeNormal) => Self::HeNormal,
                Some(Preset::LecunUniform) => Self::LecunUniform,
                Some(Preset::LecunNormal) => Self::LecunNormal,
            },
            Init::Orthogonal(o) => Self::Orthogonal(o),
            Init::Eye => Self::Eye,
            Init::Dirac(d) => Self::Dirac(d),
            Init::DeltaOrthogonal(d) => Self::DeltaOrthogonal(d),
            Init::Sparse(s) => Self::Sparse(s),
            Init::Zero => Self::Zero,
            Init::S4dRealLog => Self::S4dRealLog,
            Init::InverseSoftplusLogUniform(r) => Self::InverseSoftplusLogUniform(r),
        }
    }
}

impl From<Constant> for Init {
    fn from(rule: Constant) -> Self {
        Self::Constant(rule)
    }
}

impl From<Uniform> for Init {
    fn from(rule: Uniform) -> Self {
        Self::Uniform(rule)
    }
}

impl From<Normal> for Init {
    fn from(rule: Normal) -> Self {
        Self::Normal(rule)
    }
}

impl From<TruncatedNormal> for Init {
    fn from(rule: TruncatedNormal) -> Self {
        Self::TruncatedNormal(rule)
    }
}

impl From<VarianceScaling> for Init {
    fn from(rule: VarianceScaling) -> Self {
        Self::VarianceScaling(rule)
    }
}

impl From<Orthogonal> for Init {
    fn from(rule: Orthogonal) -> Self {
        Self::Orthogonal(rule)
    }
}

impl From<Eye> for Init {
    fn from(_: Eye) -> Self {
        Self::Eye
    }
}

impl From<Dirac> for Init {
    fn from(rule: Dirac) -> Self {
        Self::Dirac(rule)
    }
}

impl From<DeltaOrthogonal> for Init {
    fn from(rule: DeltaOrthogonal) -> Self {
        Self::DeltaOrthogonal(rule)
    }
}

impl From<Sparse> for Init {
    fn from(rule: Sparse) -> Self {
        Self::Sparse(rule)
    }
}

impl From<ZerO> for Init {
    fn from(_: ZerO) -> Self {
        Self::Zero
    }
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
    /// Value (constant), or the time-step floor of `inverse_softplus_log_uniform`
    /// (whose `low`/`high` are the time step's min and max).
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
sparse, zero (zer_o), s4d_real_log, inverse_softplus_log_uniform";

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
        "inverse_softplus_log_uniform" => &["low", "high", "value"],
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
    /// each constructor's errors (a preset's too: `xavier_uniform` with gain
    /// 1e308, `kaiming_normal` for a leaky ReLU whose gain underflows).
    pub fn parse(name: &str, p: &InitParams) -> Result<Self> {
        let init = Self::try_from(Self::parse_repr(name, p)?)?;
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

    fn parse_repr(name: &str, p: &InitParams) -> Result<InitRepr> {
        let gain = || p.gain.map_or(Ok(Gain::default()), Gain::new);
        let kaiming = |p: &InitParams| -> (FanMode, Activation) {
            (p.mode.unwrap_or_default(), p.nonlinearity.unwrap_or_else(default_kaiming_activation))
        };
        let required = |value: Option<f64>, what: &str| {
            value.ok_or_else(|| Error::InvalidConfig { reason: format!("`{name}` needs --{what}") })
        };
        let key = name.to_ascii_lowercase().replace('-', "_");
        Ok(match key.as_str() {
            "constant" => InitRepr::Constant(Constant::new(required(p.value, "value")?)?),
            "zeros" => InitRepr::Zeros,
            "ones" => InitRepr::Ones,
            "uniform" => InitRepr::Uniform(Uniform::new(p.low.unwrap_or(0.0), p.high.unwrap_or(1.0))?),
            "normal" => InitRepr::Normal(Normal::new(p.mean.unwrap_or(0.0), p.std.unwrap_or(1.0))?),
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
                InitRepr::TruncatedNormal(TruncatedNormal::new(
                    p.mean.unwrap_or(0.0),
                    p.std.unwrap_or(1.0),
                    truncation,
                )?)
            }
            "variance_scaling" => InitRepr::VarianceScaling(VarianceScaling::new(
                p.scale.unwrap_or(1.0),
                p.mode.unwrap_or_default(),
                p.distribution.unwrap_or(Distribution::TruncatedNormal),
            )?),
            "xavier_uniform" | "glorot_uniform" => InitRepr::XavierUniform { gain: gain()? },
            "xavier_normal" => InitRepr::XavierNormal { gain: gain()? },
            "glorot_normal" => InitRepr::GlorotNormal,
            "kaiming_uniform" | "he_uniform" => {
                let (mode, nonlinearity) = kaiming(p);
                InitRepr::KaimingUniform { mode, nonlinearity }
            }
            "kaiming_normal" => {
                let (mode, nonlinearity) = kaiming(p);
                InitRepr::KaimingNormal { mode, nonlinearity }
            }
            "he_normal" => InitRepr::HeNormal,
            "lecun_uniform" => InitRepr::LecunUniform,
            "lecun_normal" => InitRepr::LecunNormal,
            "orthogonal" => InitRepr::Orthogonal(Orthogonal::new(gain()?.get())?),
            "eye" | "identity" => InitRepr::Eye,
            "dirac" => InitRepr::Dirac(Dirac::new(p.groups.unwrap_or(1))?),
            "delta_orthogonal" => InitRepr::DeltaOrthogonal(DeltaOrthogonal::new(gain()?.get())?),
            "sparse" => InitRepr::Sparse(Sparse::new(required(p.sparsity, "sparsity")?, p.std.unwrap_or(0.01))?),
            "zero" | "zer_o" => InitRepr::Zero,
            "s4d_real_log" => InitRepr::S4dRealLog,
            "inverse_softplus_log_uniform" => InitRepr::InverseSoftplusLogUniform(InverseSoftplusLogUniform::new(
                p.low.unwrap_or(0.001),
                p.high.unwrap_or(0.1),
                p.value.unwrap_or(1e-4),
            )?),
            _ => return Err(Error::UnknownInit { name: name.to_string(), known: INIT_NAMES }),
        })
    }

    /// The canonical snake_case name (a preset's own: `kaiming_normal`, not
    /// `variance_scaling`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Zeros => "zeros",
            Self::Ones => "ones",
            _ => with_rule!(self, rule => rule.name()),
        }
    }

    /// The [`VarianceScaling`] value of a variance-scaling rule or preset.
    pub fn variance_scaling(&self) -> Option<VarianceScaling> {
        match self {
            Self::VarianceScaling(v) => Some(*v),
            _ => None,
        }
    }

    /// Whether the rule draws each element independently (so any slice is
    /// generated alone, in time proportional to its length).
    pub fn is_elementwise(&self) -> bool {
        with_rule!(self, rule => rule.is_elementwise())
    }

    /// The element-wise distribution, given the fans where the rule needs them
    /// (`None` for structured rules).
    pub(crate) fn elementwise_sampler(&self, fan: Option<Fan>) -> Option<Result<Sampler>> {
        Some(Ok(match self {
            Self::Constant(c) => c.sampler(),
            Self::Zeros => Constant::ZEROS.sampler(),
            Self::Ones => Constant::ONES.sampler(),
            Self::Uniform(u) => u.sampler(),
            Self::Normal(n) => n.sampler(),
            Self::TruncatedNormal(t) => t.sampler(),
            Self::InverseSoftplusLogUniform(r) => Sampler::InverseSoftplusLogUniform(*r),
            Self::VarianceScaling(v) => {
                return Some(match fan {
                    Some(fan) => v.fan_sampler(fan),
                    None => Ok(Sampler::Constant(0.0)),
                });
            }
            _ => return None,
        }))
    }

    /// Whether the rule needs fans (so a rank < 2 tensor needs explicit ones).
    pub fn needs_fan(&self) -> bool {
        with_rule!(self, rule => rule.needs_fan())
    }

    /// Checks that the rule can initialize `spec`, without drawing anything.
    ///
    /// # Errors
    /// What [`Init::fill`] would return for this tensor.
    pub fn check(&self, spec: &TensorSpec) -> Result<()> {
        self.explain(spec).map(|_| ())
    }

    /// Fills `out` (the whole tensor, row-major) from `stream`
    /// ([`Initializer::fill`]).
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `out` does not hold `spec.numel()`
    /// elements; the shape errors of [`Init::check`].
    pub fn fill<E: Element, S: Stream + ?Sized>(&self, spec: &TensorSpec, stream: &S, out: &mut [E]) -> Result<()> {
        with_rule!(self, rule => rule.fill(spec, stream, out))
    }

    /// Fills `out` with the flattened elements `start..start + out.len()` of
    /// the tensor, identical to the same elements of [`Init::fill`]
    /// ([`Initializer::fill_slice`]). Element-wise rules generate only the
    /// slice; structured ones (orthogonal, sparse, ...) compute the whole
    /// tensor and copy the slice.
    ///
    /// # Errors
    /// [`Error::InvalidSlice`] if the range is outside the tensor,
    /// [`Error::SequentialStream`] for a part of a tensor from PyTorch's
    /// generator; the shape errors of [`Init::check`].
    pub fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        with_rule!(self, rule => rule.fill_slice(spec, stream, start, out))
    }

    /// What the rule will do to `spec`: formula, fans, gain, std and bound.
    ///
    /// # Errors
    /// [`Error::RankTooSmall`] when the rule needs fans and `spec` has rank
    /// < 2 without explicit ones; [`Error::UnsupportedShape`] for a shape the
    /// rule cannot fill.
    pub fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let mut x = with_rule!(self, rule => rule.explain(spec))?;
        x.init = self.name();
        Ok(x)
    }

    /// The rule's counterparts in PyTorch, JAX and Keras.
    pub fn equivalent(&self) -> Equivalent {
        with_rule!(self, rule => rule.equivalent())
    }
}

#[cfg(test)]
mod tests;
