//! Activation functions and their gains: the only place nninit knows a gain.
//!
//! A *gain* g scales an initializer's standard deviation, `std = g / √fan`. nninit gives
//! two kinds for every [`Activation`]:
//!
//! - **PyTorch's table** ([`Activation::torch_gain`]): `torch.nn.init.calculate_gain`,
//!   bit for bit, for the activations PyTorch knows.
//! - **Computed gains**, from Gaussian integrals over z ~ N(0, 1) (see
//!   [`crate::gaussian::expect`]), each accurate to about 10⁻¹²:
//!
//!   | gain | formula | keeps fixed through a layer, at unit pre-activation variance |
//!   |---|---|---|
//!   | [second-moment](Activation::second_moment_gain) | 1/√E\[φ(z)²\] | the second moment E\[x²\] of the pre-activations (He et al.) |
//!   | [variance](Activation::variance_gain) | 1/√Var\[φ(z)\] | the variance of the post-activations |
//!   | [derivative](Activation::derivative_gain) | 1/√E\[φ′(z)²\] | the variance of back-propagated gradients (χ₁ = 1) |
//!   | [slope](Activation::slope_gain) | 1/\|φ′(0)\| | the linear response near 0 (Kumar 2017) |
//!
//! # The table
//!
//! Parameters at their defaults (leaky slope 0.01, ELU α = 1, softplus β = 1, hardtanh
//! ±1); "—" where a gain does not exist. Every computed value is checked against an
//! independent 30-digit evaluation (mpmath) in the tests.
//!
//! | activation | PyTorch | second-moment | variance | derivative | slope |
//! |---|---|---|---|---|---|
//! | `linear`     | 1      | 1        | 1        | 1        | 1 |
//! | `sigmoid`    | 1      | 1.846229 | 4.801313 | 4.722646 | 4 |
//! | `tanh`       | 5/3    | 1.592537 | 1.592537 | 1.467414 | 1 |
//! | `relu`       | √2     | √2       | 1.712859 | √2       | — |
//! | `leaky_relu` | 1.414143 | 1.414143 | 1.704832 | 1.414143 | — |
//! | `elu`        | —      | 1.245198 | 1.270843 | 1.223429 | 1 |
//! | `selu`       | 3/4    | 1        | 1        | 0.966026 | — |
//! | `gelu`       | —      | 1.533530 | 1.700926 | 1.481114 | 2 |
//! | `gelu_tanh`  | —      | 1.533581 | 1.700917 | 1.481168 | 2 |
//! | `silu`       | —      | 1.676532 | 1.787187 | 1.623320 | 2 |
//! | `mish`       | —      | 1.486848 | 1.592025 | 1.444755 | 5/3 |
//! | `softplus`   | —      | 1.041867 | 1.919126 | 1.846229 | 2 |
//! | `hardtanh`   | —      | 1.392036 | 1.392036 | 1.210287 | 1 |
//! | `sin`        | —      | 1.520867 | 1.520867 | 1.327251 | 1 |
//!
//! # Which definition reproduces which PyTorch entry
//!
//! - **linear, relu, leaky_relu**: PyTorch's values are the second-moment gain, in closed
//!   form (E\[relu(z)²\] = ½, E\[leaky(z)²\] = (1 + a²)/2), and also the derivative gain;
//!   the quadrature reproduces them to 10⁻¹⁵.
//! - **tanh**: PyTorch's 5/3 ≈ 1.667 is an empirical choice with no derivation in PyTorch's
//!   source or docs. It is larger than every computed gain (second-moment 1.593,
//!   derivative 1.467).
//! - **selu**: PyTorch's 3/4 is empirical, added in PR #50664 from a forum post, and
//!   PyTorch's own docs advise `linear` (gain 1) for self-normalizing networks. The
//!   second-moment and variance gains are 1: SELU's constants are chosen so that
//!   E\[selu(z)\] = 0 and E\[selu(z)²\] = 1. With the constants rounded to `f64`,
//!   E\[selu(z)²\] = 1 − 1.3 · 10⁻¹⁶, within an ulp of 1.
//! - **sigmoid**: PyTorch's 1 is arbitrary. Sigmoid has mean ½, so the second-moment gain
//!   (1.846) and the variance gain (4.801) differ a lot. The slope gain is 4; Kumar's
//!   paper treats sigmoid, whose σ(0) = ½ ≠ 0, apart and recommends about 3.6.
//!
//! # Conventions
//!
//! - Formulas are PyTorch's: `gelu` is x·Φ(x) (`approximate="none"`), `gelu_tanh` is the
//!   tanh approximation (`approximate="tanh"`, Hugging Face's `gelu_new`), `softplus` is
//!   log(1 + e^(βx))/β computed stably, without PyTorch's switch to x above βx = 20 (a
//!   difference below 2.1 · 10⁻⁹/β).
//! - At a kink, [`Activation::derivative`] returns the value PyTorch's autograd uses:
//!   relu′(0) = 0, leaky′(0) = slope, elu′(0) = α, selu′(0) = λα, and hardtanh′ = 0 at
//!   its ends.
//! - Transcendental functions come from [`libm`], so every value is the same on every
//!   platform.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};
use crate::gaussian;

/// SELU's α, `1.6732632423543772848170429916717` (Klambauer et al. 2017, as PyTorch has it).
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;

/// SELU's scale λ, `1.0507009873554804934193349852946`.
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// √(2/π), the constant inside the tanh approximation of GELU.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;

/// The cubic coefficient of the tanh approximation of GELU.
const GELU_TANH_CUBIC: f64 = 0.044_715;

/// An activation function φ.
///
/// Build one from a name with [`Activation::parse`] (PyTorch's names and a few more), or
/// from a parameter with the validating constructors ([`Activation::leaky_relu`],
/// [`Activation::elu`], [`Activation::softplus`], [`Activation::hardtanh`]). The variants
/// with parameters are `#[non_exhaustive]`, so they cannot be built around those checks,
/// and every `Activation` holds valid parameters.
///
/// It serializes as a JSON object tagged by `name`, e.g.
/// `{"name": "leaky_relu", "negative_slope": 0.2}`. Deserializing validates the parameters
/// and fills missing ones with the defaults of [`Activation::parse`].
///
/// # Example
///
/// ```
/// use nninit::activation::Activation;
///
/// let relu = Activation::parse("relu", None)?;
/// assert_eq!(relu.torch_gain(), Some(2f64.sqrt()));
///
/// let leaky = Activation::leaky_relu(0.2)?;
/// assert_eq!(leaky, Activation::parse("leaky_relu", Some(0.2))?);
/// assert_eq!(leaky.to_string(), "leaky_relu(negative_slope=0.2)");
/// if let Activation::LeakyRelu { negative_slope, .. } = leaky {
///     assert_eq!(negative_slope, 0.2);
/// }
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// A parameter cannot bypass the checks:
///
/// ```compile_fail
/// use nninit::activation::Activation;
///
/// let elu = Activation::Elu { alpha: -1.0 }; // error: the variant is `#[non_exhaustive]`
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", try_from = "Spec")]
#[non_exhaustive]
pub enum Activation {
    /// The identity, φ(x) = x (PyTorch's `linear` and `conv*`).
    Linear,
    /// The logistic sigmoid, φ(x) = 1/(1 + e⁻ˣ).
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// φ(x) = max(x, 0).
    Relu,
    /// φ(x) = x for x > 0, `negative_slope`·x otherwise.
    #[non_exhaustive]
    LeakyRelu {
        /// The slope for x < 0: any finite number.
        negative_slope: f64,
    },
    /// φ(x) = x for x > 0, α·(eˣ − 1) otherwise (Clevert et al. 2016).
    #[non_exhaustive]
    Elu {
        /// α: finite and > 0.
        alpha: f64,
    },
    /// λ·elu_α(x) with [`SELU_ALPHA`] and [`SELU_SCALE`] (Klambauer et al. 2017).
    Selu,
    /// φ(x) = x·Φ(x), Φ the standard normal CDF (Hendrycks & Gimpel 2016).
    Gelu,
    /// GELU's tanh approximation, φ(x) = x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³))).
    GeluTanh,
    /// φ(x) = x·sigmoid(x), also called swish.
    Silu,
    /// φ(x) = x·tanh(softplus(x)) (Misra 2019).
    Mish,
    /// φ(x) = log(1 + e^(βx))/β.
    #[non_exhaustive]
    Softplus {
        /// β: finite and > 0.
        beta: f64,
    },
    /// φ(x) = x clamped to \[`min_val`, `max_val`\].
    #[non_exhaustive]
    Hardtanh {
        /// The lower end: finite and below `max_val`.
        min_val: f64,
        /// The upper end: finite and above `min_val`.
        max_val: f64,
    },
    /// φ(x) = sin(x), as in SIREN.
    Sin,
}

/// The computed gains of one activation, and PyTorch's; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Gains {
    /// PyTorch's `calculate_gain`, where PyTorch knows the activation.
    pub torch: Option<f64>,
    /// 1/√E\[φ(z)²\].
    pub second_moment: f64,
    /// 1/√Var\[φ(z)\].
    pub variance: f64,
    /// 1/√E\[φ′(z)²\].
    pub derivative: f64,
    /// 1/\|φ′(0)\|, where φ is differentiable at 0 with φ′(0) ≠ 0.
    pub slope: Option<f64>,
}

impl Activation {
    /// Every name [`Activation::parse`] accepts, comma-separated.
    pub const NAMES: &'static str = "linear, identity, conv1d, conv2d, conv3d, \
        conv_transpose1d, conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, \
        leaky_relu, elu, selu, gelu, gelu_tanh, gelu_new, gelu_pytorch_tanh, silu, swish, \
        mish, softplus, hardtanh, sin";

    /// The default negative slope of `leaky_relu`, as in PyTorch.
    pub const DEFAULT_NEGATIVE_SLOPE: f64 = 0.01;

    /// The default α of `elu`, as in PyTorch.
    pub const DEFAULT_ELU_ALPHA: f64 = 1.0;

    /// The default β of `softplus`, as in PyTorch.
    pub const DEFAULT_SOFTPLUS_BETA: f64 = 1.0;

    /// The default `max_val` of `hardtanh` (with `min_val = -max_val`), as in PyTorch.
    pub const DEFAULT_HARDTANH_MAX: f64 = 1.0;

    /// Parses an activation from its name and optional parameter.
    ///
    /// # Parameters
    ///
    /// - `name`: one of [`Activation::NAMES`], exactly (case matters). These are the names
    ///   of PyTorch's `calculate_gain` (`linear`, `conv1d` … `conv_transpose3d`,
    ///   `sigmoid`, `tanh`, `relu`, `leaky_relu`, `selu`), where the `conv*` names mean
    ///   [`Activation::Linear`], plus `identity`, `elu`, `gelu`, `gelu_tanh` (alias
    ///   `gelu_new`, `gelu_pytorch_tanh`), `silu` (alias `swish`), `mish`, `softplus`,
    ///   `hardtanh` and `sin`.
    /// - `param`: the parameter of the activations that take one.
    ///   - `leaky_relu`: the negative slope, finite; default 0.01.
    ///   - `elu`: α, finite and > 0; default 1.
    ///   - `softplus`: β, finite and > 0; default 1.
    ///   - `hardtanh`: `max_val`, finite and > 0, with `min_val = -max_val`; default 1.
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    ///
    /// assert_eq!(Activation::parse("conv2d", None)?, Activation::Linear);
    /// assert_eq!(Activation::parse("swish", None)?, Activation::Silu);
    /// assert_eq!(Activation::parse("hardtanh", Some(2.0))?, Activation::hardtanh(-2.0, 2.0)?);
    /// assert!(Activation::parse("tanh", Some(1.0)).is_err());
    /// # Ok::<(), nninit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::UnknownActivation`] for a name not in [`Activation::NAMES`];
    /// - [`Error::UnexpectedParameter`] for a parameter given to an activation without one;
    /// - [`Error::InvalidParameter`] for a parameter outside its range (NaN included).
    pub fn parse(name: &str, param: Option<f64>) -> Result<Self> {
        let unknown = || Error::UnknownActivation { name: name.to_owned(), known: Self::NAMES };
        // The matching name, borrowed from `NAMES` so that errors can hold it.
        let name = Self::NAMES.split(", ").find(|&known| known == name).ok_or_else(unknown)?;
        let plain = |activation| match param {
            None => Ok(activation),
            Some(value) => Err(Error::UnexpectedParameter { name, value }),
        };
        match name {
            "linear" | "identity" | "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d" | "conv_transpose2d"
            | "conv_transpose3d" => plain(Self::Linear),
            "sigmoid" => plain(Self::Sigmoid),
            "tanh" => plain(Self::Tanh),
            "relu" => plain(Self::Relu),
            "leaky_relu" => Self::leaky_relu(param.unwrap_or(Self::DEFAULT_NEGATIVE_SLOPE)),
            "elu" => Self::elu(param.unwrap_or(Self::DEFAULT_ELU_ALPHA)),
            "selu" => plain(Self::Selu),
            "gelu" => plain(Self::Gelu),
            "gelu_tanh" | "gelu_new" | "gelu_pytorch_tanh" => plain(Self::GeluTanh),
            "silu" | "swish" => plain(Self::Silu),
            "mish" => plain(Self::Mish),
            "softplus" => Self::softplus(param.unwrap_or(Self::DEFAULT_SOFTPLUS_BETA)),
            "hardtanh" => {
                let max_val = error::positive("max_val", param.unwrap_or(Self::DEFAULT_HARDTANH_MAX))?;
                Self::hardtanh(-max_val, max_val)
            }
            "sin" => plain(Self::Sin),
            _ => Err(unknown()),
        }
    }

    /// Leaky ReLU with the given negative slope.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] if `negative_slope` is not finite.
    pub fn leaky_relu(negative_slope: f64) -> Result<Self> {
        Ok(Self::LeakyRelu { negative_slope: error::finite("negative_slope", negative_slope)? })
    }

    /// ELU with the given α.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] unless `alpha` is finite and > 0.
    pub fn elu(alpha: f64) -> Result<Self> {
        Ok(Self::Elu { alpha: error::positive("alpha", alpha)? })
    }

    /// Softplus with the given β.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] unless `beta` is finite and > 0.
    pub fn softplus(beta: f64) -> Result<Self> {
        Ok(Self::Softplus { beta: error::positive("beta", beta)? })
    }

    /// Hardtanh clamping to \[`min_val`, `max_val`\].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInterval`] unless both ends are finite and `min_val < max_val`.
    pub fn hardtanh(min_val: f64, max_val: f64) -> Result<Self> {
        let (min_val, max_val) = error::interval("hardtanh", min_val, max_val)?;
        Ok(Self::Hardtanh { min_val, max_val })
    }

    /// The canonical name, as [`Activation::parse`] accepts it (`"leaky_relu"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Sigmoid => "sigmoid",
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::LeakyRelu { .. } => "leaky_relu",
            Self::Elu { .. } => "elu",
            Self::Selu => "selu",
            Self::Gelu => "gelu",
            Self::GeluTanh => "gelu_tanh",
            Self::Silu => "silu",
            Self::Mish => "mish",
            Self::Softplus { .. } => "softplus",
            Self::Hardtanh { .. } => "hardtanh",
            Self::Sin => "sin",
        }
    }

    /// φ(x).
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    ///
    /// let elu = Activation::elu(1.0)?;
    /// assert_eq!(elu.eval(2.0), 2.0);
    /// assert!((elu.eval(-1.0) - (f64::exp(-1.0) - 1.0)).abs() < 1e-16);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Self::Linear => x,
            Self::Sigmoid => sigmoid(x),
            Self::Tanh => libm::tanh(x),
            Self::Relu => negative_part(x, 0.0),
            Self::LeakyRelu { negative_slope } => negative_part(x, negative_slope * x),
            Self::Elu { alpha } => negative_part(x, alpha * libm::expm1(x)),
            Self::Selu => SELU_SCALE * negative_part(x, SELU_ALPHA * libm::expm1(x)),
            Self::Gelu => x * gaussian::cdf(x),
            // ½(1 + tanh u) = sigmoid(2u), without the cancellation for u ≪ 0.
            Self::GeluTanh => x * sigmoid(2.0 * gelu_tanh_arg(x)),
            Self::Silu => x * sigmoid(x),
            Self::Mish => x * libm::tanh(softplus(x, 1.0)),
            Self::Softplus { beta } => softplus(x, beta),
            Self::Hardtanh { min_val, max_val } => {
                if x < min_val {
                    min_val
                } else if x > max_val {
                    max_val
                } else {
                    x
                }
            }
            Self::Sin => libm::sin(x),
        }
    }

    /// φ′(x); at a kink, the one-sided value PyTorch's autograd returns (see the
    /// [module docs](self#conventions)).
    pub fn derivative(&self, x: f64) -> f64 {
        match *self {
            Self::Linear => 1.0,
            Self::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Self::Tanh => 1.0 - libm::tanh(x).powi(2),
            Self::Relu => positive_part(x, 1.0, 0.0),
            Self::LeakyRelu { negative_slope } => positive_part(x, 1.0, negative_slope),
            Self::Elu { alpha } => positive_part(x, 1.0, alpha * libm::exp(x)),
            Self::Selu => SELU_SCALE * positive_part(x, 1.0, SELU_ALPHA * libm::exp(x)),
            Self::Gelu => gaussian::cdf(x) + x * gaussian::pdf(x),
            Self::GeluTanh => {
                let g = sigmoid(2.0 * gelu_tanh_arg(x));
                let w = 2.0 * g * (1.0 - g);
                // w = 0 where u′ may overflow (|x| > 1e102).
                if w == 0.0 { g } else { g + x * gelu_tanh_darg(x) * w }
            }
            Self::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Self::Mish => {
                let (t, s) = (libm::tanh(softplus(x, 1.0)), sigmoid(x));
                t + x * (1.0 - t * t) * s
            }
            Self::Softplus { beta } => sigmoid(beta * x),
            Self::Hardtanh { min_val, max_val } => {
                if min_val < x && x < max_val {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Sin => libm::cos(x),
        }
    }

    /// φ″(x), away from the [kinks](Activation::kinks) (at a kink, the value on the side
    /// [`Activation::derivative`] takes).
    pub fn second_derivative(&self, x: f64) -> f64 {
        match *self {
            Self::Linear | Self::Relu | Self::LeakyRelu { .. } | Self::Hardtanh { .. } => 0.0,
            Self::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s) * (1.0 - 2.0 * s)
            }
            Self::Tanh => {
                let t = libm::tanh(x);
                -2.0 * t * (1.0 - t * t)
            }
            Self::Elu { alpha } => positive_part(x, 0.0, alpha * libm::exp(x)),
            Self::Selu => SELU_SCALE * positive_part(x, 0.0, SELU_ALPHA * libm::exp(x)),
            Self::Gelu => {
                let density = gaussian::pdf(x);
                // density = 0 where x² may overflow.
                if density == 0.0 { 0.0 } else { density * (2.0 - x * x) }
            }
            Self::GeluTanh => {
                // With g = sigmoid(2u): φ = x·g, g′ = 2u′·g(1 − g),
                // g″ = 2g(1 − g)·(u″ + 2u′²(1 − 2g)), φ″ = 2g′ + x·g″.
                let g = sigmoid(2.0 * gelu_tanh_arg(x));
                let w = 2.0 * g * (1.0 - g);
                if w == 0.0 {
                    return 0.0;
                }
                let (du, d2u) = (gelu_tanh_darg(x), 6.0 * SQRT_2_OVER_PI * GELU_TANH_CUBIC * x);
                2.0 * du * w + x * w * (d2u + 2.0 * du * du * (1.0 - 2.0 * g))
            }
            Self::Silu => {
                let s = sigmoid(x);
                s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
            }
            Self::Mish => {
                let (t, s) = (libm::tanh(softplus(x, 1.0)), sigmoid(x));
                (1.0 - t * t) * s * (2.0 + x * (1.0 - s - 2.0 * t * s))
            }
            Self::Softplus { beta } => {
                let s = sigmoid(beta * x);
                beta * s * (1.0 - s)
            }
            Self::Sin => -libm::sin(x),
        }
    }

    /// The points where φ is not smooth (φ or one of its derivatives jumps), ascending:
    /// `[0]` for relu, leaky_relu, elu and selu, `[min_val, max_val]` for hardtanh, and
    /// none for the others. These are the breakpoints for [`gaussian::expect`].
    pub fn kinks(&self) -> Vec<f64> {
        match *self {
            Self::Relu | Self::LeakyRelu { .. } | Self::Elu { .. } | Self::Selu => vec![0.0],
            Self::Hardtanh { min_val, max_val } => vec![min_val, max_val],
            _ => Vec::new(),
        }
    }

    /// PyTorch's `torch.nn.init.calculate_gain`, or `None` where PyTorch does not know the
    /// activation.
    ///
    /// The values are PyTorch 2.x's, computed the same way in double precision:
    ///
    /// | activation | PyTorch's expression | value |
    /// |---|---|---|
    /// | linear, conv\*, sigmoid | `1` | 1 |
    /// | tanh | `5.0 / 3` | 1.6666666666666667 |
    /// | relu | `math.sqrt(2.0)` | 1.4142135623730951 |
    /// | leaky_relu | `math.sqrt(2.0 / (1 + negative_slope ** 2))` | 1.4141428569978354 at 0.01 |
    /// | selu | `3.0 / 4` | 0.75 |
    ///
    /// Only the relu and leaky_relu entries follow from a derivation (they are the
    /// [second-moment gain](Activation::second_moment_gain)); tanh's 5/3 and selu's 3/4
    /// (PyTorch PR #50664, from a forum post) are empirical, and sigmoid's 1 is arbitrary.
    ///
    /// For leaky_relu, CPython evaluates `negative_slope ** 2` with the C library's
    /// `pow`, and so does nninit (`f64::powf`, with the exponent hidden from the optimizer
    /// so it is not folded into `x * x`). glibc's `pow` is not always correctly rounded:
    /// for about 1 slope in 1,000 its square differs from `x * x`, and the gain then
    /// differs in its last bit for about 1 random slope in 5,000 (never for the slopes
    /// k/1000 and k/10,000 up to 10). Calling the same `pow` keeps nninit bit-exact with
    /// PyTorch on the same platform; on a platform whose C library rounds differently,
    /// both PyTorch and nninit follow that library. The
    /// slopes where `negative_slope ** 2` overflows, for which PyTorch raises
    /// `OverflowError`, give `None`.
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    ///
    /// assert_eq!(Activation::Tanh.torch_gain(), Some(5.0 / 3.0));
    /// assert_eq!(Activation::Gelu.torch_gain(), None);
    /// ```
    pub fn torch_gain(&self) -> Option<f64> {
        match *self {
            Self::Linear | Self::Sigmoid => Some(1.0),
            Self::Tanh => Some(5.0 / 3.0),
            Self::Relu => Some(libm::sqrt(2.0)),
            Self::LeakyRelu { negative_slope } => {
                // CPython's `**`: the C library's pow, not folded into `x * x`.
                let square = negative_slope.powf(std::hint::black_box(2.0));
                square.is_finite().then(|| libm::sqrt(2.0 / (1.0 + square)))
            }
            Self::Selu => Some(3.0 / 4.0),
            _ => None,
        }
    }

    /// The gain that keeps the second moment E\[x²\] of the pre-activations fixed through
    /// a layer: 1/√E\[φ(z)²\], z ~ N(0, 1).
    ///
    /// This is He et al.'s derivation for any φ. It reproduces PyTorch's linear, relu and
    /// leaky_relu entries exactly, but not tanh (1.5925 against 5/3), selu (1 against
    /// 3/4) or sigmoid (1.8462 against 1): see the [module docs](self).
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    ///
    /// let relu = Activation::parse("relu", None)?;
    /// assert!((relu.second_moment_gain() - 2f64.sqrt()).abs() < 1e-12);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn second_moment_gain(&self) -> f64 {
        1.0 / libm::sqrt(self.expect(|x| self.eval(x).powi(2)))
    }

    /// The gain Kaiming (He) initialization uses for this activation: PyTorch's
    /// [`calculate_gain`](Activation::torch_gain) where PyTorch defines one, so
    /// that nninit's `kaiming_*` match `torch.nn.init.kaiming_*_`, else the
    /// [second-moment gain](Activation::second_moment_gain), He et al.'s
    /// derivation for any φ.
    ///
    /// ```
    /// use nninit::activation::Activation;
    ///
    /// assert_eq!(Activation::Tanh.kaiming_gain(), 5.0 / 3.0); // PyTorch's table
    /// let gelu = Activation::Gelu;
    /// assert_eq!(gelu.kaiming_gain(), gelu.second_moment_gain()); // PyTorch has none
    /// ```
    pub fn kaiming_gain(&self) -> f64 {
        self.torch_gain().unwrap_or_else(|| self.second_moment_gain())
    }

    /// The gain that keeps the variance of the post-activations fixed: 1/√Var\[φ(z)\].
    ///
    /// Equal to the [second-moment gain](Activation::second_moment_gain) for φ with
    /// E\[φ(z)\] = 0 (linear, tanh, selu, hardtanh, sin), larger otherwise.
    pub fn variance_gain(&self) -> f64 {
        let mean = self.expect(|x| self.eval(x));
        1.0 / libm::sqrt(self.expect(|x| (self.eval(x) - mean).powi(2)))
    }

    /// The gain that keeps the variance of back-propagated gradients fixed:
    /// 1/√E\[φ′(z)²\], so that χ₁ = g²·E\[φ′(z)²\] = 1 at unit pre-activation variance.
    pub fn derivative_gain(&self) -> f64 {
        1.0 / libm::sqrt(self.expect(|x| self.derivative(x).powi(2)))
    }

    /// Kumar's gain 1/\|φ′(0)\|, from linearizing φ at 0[^1]; `None` where φ is not
    /// differentiable at 0 (relu, selu, leaky_relu and elu unless their parameter is 1,
    /// hardtanh with an end at 0) or φ′(0) = 0.
    ///
    /// Kumar's analysis assumes φ(0) = 0. For sigmoid (φ(0) = ½) this gives 4; the paper
    /// treats sigmoid apart and recommends about 3.6.
    ///
    /// [^1]: S. K. Kumar (2017), *On weight initialization in deep neural networks*,
    ///     <https://arxiv.org/abs/1704.08863>.
    pub fn slope_gain(&self) -> Option<f64> {
        let smooth_at_zero = match *self {
            Self::Relu | Self::Selu => false,
            Self::LeakyRelu { negative_slope } => negative_slope == 1.0,
            Self::Elu { alpha } => alpha == 1.0,
            Self::Hardtanh { min_val, max_val } => min_val != 0.0 && max_val != 0.0,
            _ => true,
        };
        let slope = self.derivative(0.0).abs();
        (smooth_at_zero && slope > 0.0).then(|| 1.0 / slope)
    }

    /// PyTorch's gain and all the computed ones.
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    ///
    /// let gains = Activation::parse("tanh", None)?.gains();
    /// assert_eq!(gains.torch, Some(5.0 / 3.0));
    /// assert!((gains.second_moment - 1.592_537).abs() < 1e-6);
    /// assert_eq!(gains.slope, Some(1.0));
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn gains(&self) -> Gains {
        Gains {
            torch: self.torch_gain(),
            second_moment: self.second_moment_gain(),
            variance: self.variance_gain(),
            derivative: self.derivative_gain(),
            slope: self.slope_gain(),
        }
    }

    /// E\[f(z)\], z ~ N(0, 1), with this activation's kinks as breakpoints.
    fn expect(&self, f: impl Fn(f64) -> f64) -> f64 {
        gaussian::expect(f, &self.kinks())
    }
}

impl fmt::Display for Activation {
    /// The name, with the parameters where there are any: `leaky_relu(negative_slope=0.2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::LeakyRelu { negative_slope } => {
                write!(f, "leaky_relu(negative_slope={negative_slope})")
            }
            Self::Elu { alpha } => write!(f, "elu(alpha={alpha})"),
            Self::Softplus { beta } => write!(f, "softplus(beta={beta})"),
            Self::Hardtanh { min_val, max_val } => {
                write!(f, "hardtanh(min_val={min_val}, max_val={max_val})")
            }
            _ => f.write_str(self.name()),
        }
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// [`Activation::parse`] with the default parameter.
    fn from_str(name: &str) -> Result<Self> {
        Self::parse(name, None)
    }
}

/// The serialized form of [`Activation`], checked by `TryFrom` on the way in. The
/// variants without parameters are empty structs so that `deny_unknown_fields` applies to
/// them too (serde ignores extra fields of an internally tagged unit variant).
#[derive(Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
enum Spec {
    Linear {},
    Sigmoid {},
    Tanh {},
    Relu {},
    LeakyRelu {
        #[serde(default = "default_negative_slope")]
        negative_slope: f64,
    },
    Elu {
        #[serde(default = "default_elu_alpha")]
        alpha: f64,
    },
    Selu {},
    Gelu {},
    GeluTanh {},
    Silu {},
    Mish {},
    Softplus {
        #[serde(default = "default_softplus_beta")]
        beta: f64,
    },
    Hardtanh {
        #[serde(default = "default_hardtanh_min")]
        min_val: f64,
        #[serde(default = "default_hardtanh_max")]
        max_val: f64,
    },
    Sin {},
}

fn default_negative_slope() -> f64 {
    Activation::DEFAULT_NEGATIVE_SLOPE
}
fn default_elu_alpha() -> f64 {
    Activation::DEFAULT_ELU_ALPHA
}
fn default_softplus_beta() -> f64 {
    Activation::DEFAULT_SOFTPLUS_BETA
}
fn default_hardtanh_min() -> f64 {
    -Activation::DEFAULT_HARDTANH_MAX
}
fn default_hardtanh_max() -> f64 {
    Activation::DEFAULT_HARDTANH_MAX
}

impl TryFrom<Spec> for Activation {
    type Error = Error;

    fn try_from(spec: Spec) -> Result<Self> {
        Ok(match spec {
            Spec::Linear {} => Self::Linear,
            Spec::Sigmoid {} => Self::Sigmoid,
            Spec::Tanh {} => Self::Tanh,
            Spec::Relu {} => Self::Relu,
            Spec::LeakyRelu { negative_slope } => Self::leaky_relu(negative_slope)?,
            Spec::Elu { alpha } => Self::elu(alpha)?,
            Spec::Selu {} => Self::Selu,
            Spec::Gelu {} => Self::Gelu,
            Spec::GeluTanh {} => Self::GeluTanh,
            Spec::Silu {} => Self::Silu,
            Spec::Mish {} => Self::Mish,
            Spec::Softplus { beta } => Self::softplus(beta)?,
            Spec::Hardtanh { min_val, max_val } => Self::hardtanh(min_val, max_val)?,
            Spec::Sin {} => Self::Sin,
        })
    }
}

/// `x` for x > 0 (and NaN), `negative` otherwise.
fn negative_part(x: f64, negative: f64) -> f64 {
    if x <= 0.0 { negative } else { x }
}

/// `positive` for x > 0, `otherwise` for x ≤ 0 (and NaN).
fn positive_part(x: f64, positive: f64, otherwise: f64) -> f64 {
    if x > 0.0 { positive } else { otherwise }
}

/// The logistic sigmoid, accurate in both tails.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// log(1 + e^(βx))/β = max(x, 0) + log1p(e^(−|βx|))/β, without overflow.
fn softplus(x: f64, beta: f64) -> f64 {
    negative_part(x, 0.0) + libm::log1p(libm::exp(-(beta * x).abs())) / beta
}

/// u(x) = √(2/π)·(x + 0.044715·x³), the argument of tanh in GELU's approximation.
fn gelu_tanh_arg(x: f64) -> f64 {
    SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x)
}

/// u′(x).
fn gelu_tanh_darg(x: f64) -> f64 {
    SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::{PI, SQRT_2};

    /// Every activation, parameters at their defaults, and a few with other parameters.
    fn all() -> Vec<Activation> {
        let mut all: Vec<Activation> =
            Activation::NAMES.split(", ").map(|n| Activation::parse(n, None).unwrap()).collect();
        all.dedup();
        all.extend([
            Activation::leaky_relu(0.2).unwrap(),
            Activation::leaky_relu(-0.5).unwrap(),
            Activation::elu(0.5).unwrap(),
            Activation::softplus(3.0).unwrap(),
            Activation::hardtanh(-0.5, 2.0).unwrap(),
        ]);
        all
    }

    macro_rules! assert_close {
        ($got:expr, $want:expr, $tol:expr) => {{
            let (got, want): (f64, f64) = ($got, $want);
            assert!((got - want).abs() <= $tol * want.abs(), "got {got:?}, want {want:?}");
        }};
    }

    #[test]
    fn parse_every_name_and_alias() {
        let table = [
            ("linear", Activation::Linear),
            ("identity", Activation::Linear),
            ("conv1d", Activation::Linear),
            ("conv2d", Activation::Linear),
            ("conv3d", Activation::Linear),
            ("conv_transpose1d", Activation::Linear),
            ("conv_transpose2d", Activation::Linear),
            ("conv_transpose3d", Activation::Linear),
            ("sigmoid", Activation::Sigmoid),
            ("tanh", Activation::Tanh),
            ("relu", Activation::Relu),
            ("leaky_relu", Activation::LeakyRelu { negative_slope: 0.01 }),
            ("elu", Activation::Elu { alpha: 1.0 }),
            ("selu", Activation::Selu),
            ("gelu", Activation::Gelu),
            ("gelu_tanh", Activation::GeluTanh),
            ("gelu_new", Activation::GeluTanh),
            ("gelu_pytorch_tanh", Activation::GeluTanh),
            ("silu", Activation::Silu),
            ("swish", Activation::Silu),
            ("mish", Activation::Mish),
            ("softplus", Activation::Softplus { beta: 1.0 }),
            ("hardtanh", Activation::Hardtanh { min_val: -1.0, max_val: 1.0 }),
            ("sin", Activation::Sin),
        ];
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.join(", "), Activation::NAMES);
        for (name, want) in table {
            assert_eq!(Activation::parse(name, None).unwrap(), want, "{name}");
            assert_eq!(name.parse::<Activation>().unwrap(), want, "{name}");
        }
    }

    #[test]
    fn parse_parameters() {
        let parse = |name, p| Activation::parse(name, Some(p)).unwrap();
        assert_eq!(parse("leaky_relu", 0.2), Activation::LeakyRelu { negative_slope: 0.2 });
        assert_eq!(parse("leaky_relu", -3.0), Activation::LeakyRelu { negative_slope: -3.0 });
        assert_eq!(parse("leaky_relu", 0.0), Activation::LeakyRelu { negative_slope: 0.0 });
        assert_eq!(parse("elu", 0.5), Activation::Elu { alpha: 0.5 });
        assert_eq!(parse("softplus", 2.0), Activation::Softplus { beta: 2.0 });
        assert_eq!(parse("hardtanh", 3.0), Activation::Hardtanh { min_val: -3.0, max_val: 3.0 });
    }

    #[test]
    fn unknown_activation() {
        for name in ["Relu", "leaky-relu", "", " relu", "gelu_erf"] {
            match Activation::parse(name, None) {
                Err(Error::UnknownActivation { name: got, known }) => {
                    assert_eq!(got, name);
                    assert_eq!(known, Activation::NAMES);
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
        let message = Activation::parse("foo", None).unwrap_err().to_string();
        assert!(message.starts_with("unknown activation `foo` (known: linear, identity, conv1d"));
    }

    #[test]
    fn unexpected_parameter() {
        for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu", "gelu_new", "swish", "sin"] {
            match Activation::parse(name, Some(0.5)) {
                Err(Error::UnexpectedParameter { name: got, value }) => {
                    assert_eq!((got, value), (name, 0.5));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let message = Activation::parse("conv2d", Some(0.5)).unwrap_err().to_string();
        assert_eq!(message, "activation `conv2d` takes no parameter, got 0.5");
    }

    #[test]
    fn invalid_parameter() {
        let cases = [
            ("leaky_relu", f64::NAN, "negative_slope"),
            ("leaky_relu", f64::INFINITY, "negative_slope"),
            ("elu", 0.0, "alpha"),
            ("elu", -1.0, "alpha"),
            ("elu", f64::NAN, "alpha"),
            ("softplus", 0.0, "beta"),
            ("softplus", f64::INFINITY, "beta"),
            ("hardtanh", 0.0, "max_val"),
            ("hardtanh", -1.0, "max_val"),
            ("hardtanh", f64::NAN, "max_val"),
        ];
        for (name, param, want) in cases {
            match Activation::parse(name, Some(param)) {
                Err(Error::InvalidParameter { name: got, .. }) => assert_eq!(got, want),
                other => panic!("{name}({param}): {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_interval() {
        for (low, high) in [(1.0, 1.0), (2.0, -2.0), (f64::NAN, 1.0), (-1.0, f64::INFINITY)] {
            match Activation::hardtanh(low, high) {
                Err(Error::InvalidInterval { what: "hardtanh", .. }) => {}
                other => panic!("[{low}, {high}]: {other:?}"),
            }
        }
        assert!(Activation::hardtanh(0.5, 2.0).is_ok());
    }

    #[test]
    fn name_and_display() {
        for activation in all() {
            assert_eq!(Activation::parse(activation.name(), None).unwrap().name(), activation.name());
        }
        assert_eq!(Activation::GeluTanh.to_string(), "gelu_tanh");
        assert_eq!(Activation::leaky_relu(0.01).unwrap().to_string(), "leaky_relu(negative_slope=0.01)");
        assert_eq!(Activation::elu(1.5).unwrap().to_string(), "elu(alpha=1.5)");
        assert_eq!(Activation::softplus(2.0).unwrap().to_string(), "softplus(beta=2)");
        let hardtanh = Activation::hardtanh(-1.0, 2.5).unwrap();
        assert_eq!(hardtanh.to_string(), "hardtanh(min_val=-1, max_val=2.5)");
    }

    #[test]
    fn serde_round_trip() {
        for activation in all() {
            let json = serde_json::to_string(&activation).unwrap();
            let back: Activation = serde_json::from_str(&json).unwrap();
            assert_eq!(back, activation, "{json}");
        }
        let json = serde_json::to_string(&Activation::leaky_relu(0.2).unwrap()).unwrap();
        assert_eq!(json, r#"{"name":"leaky_relu","negative_slope":0.2}"#);
        assert_eq!(serde_json::to_string(&Activation::GeluTanh).unwrap(), r#"{"name":"gelu_tanh"}"#);
    }

    #[test]
    fn serde_defaults_and_validation() {
        let parse = |json: &str| serde_json::from_str::<Activation>(json);
        assert_eq!(parse(r#"{"name":"leaky_relu"}"#).unwrap(), Activation::parse("leaky_relu", None).unwrap());
        assert_eq!(parse(r#"{"name":"hardtanh","max_val":2}"#).unwrap(), Activation::hardtanh(-1.0, 2.0).unwrap());
        for bad in [
            r#"{"name":"elu","alpha":-1}"#,
            r#"{"name":"softplus","beta":0}"#,
            r#"{"name":"hardtanh","min_val":1,"max_val":-1}"#,
            r#"{"name":"relu","negative_slope":0.2}"#,
            r#"{"name":"conv2d"}"#,
            r#"{"alpha":1}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let message = parse(r#"{"name":"elu","alpha":-1}"#).unwrap_err().to_string();
        assert!(message.contains("invalid alpha = -1: must be finite and > 0"), "{message}");
    }

    #[test]
    fn torch_gain_table_bitwise() {
        // Python: torch.nn.init.calculate_gain(name, param) with torch 2.15.0, CPython
        // 3.11, glibc; `float.hex` of the results.
        let hex = |s: &str| {
            let (mantissa, exp) = s.split_once('p').unwrap();
            let (int, frac) = mantissa.trim_start_matches("0x").split_once('.').unwrap();
            let bits = u64::from_str_radix(&format!("{int}{frac}"), 16).unwrap();
            bits as f64 / 2f64.powi(4 * frac.len() as i32) * 2f64.powi(exp.parse().unwrap())
        };
        let get = |name, param| Activation::parse(name, param).unwrap().torch_gain().unwrap();
        assert_eq!(get("linear", None), 1.0);
        assert_eq!(get("conv_transpose3d", None), 1.0);
        assert_eq!(get("sigmoid", None), 1.0);
        assert_eq!(get("tanh", None), 5.0 / 3.0);
        assert_eq!(get("tanh", None), 1.666_666_666_666_666_7);
        assert_eq!(get("relu", None), SQRT_2);
        assert_eq!(get("selu", None), 0.75);
        assert_eq!(get("leaky_relu", None), (2.0f64 / (1.0 + 0.01f64.powi(2))).sqrt());
        let leaky = [
            (0.01, "0x1.6a05442aad7e4p+0"),
            (0.1, "0x1.683deff853335p+0"),
            (0.2, "0x1.63021484ae2bbp+0"),
            (0.3, "0x1.5ac528f636b3ap+0"),
            (1.0 / 3.0, "0x1.5775c544ff263p+0"),
            (0.5, "0x1.43d136248490fp+0"),
            (5f64.sqrt(), "0x1.279a74590331cp-1"),
            (1e-3, "0x1.6a09da8af4315p+0"),
            (-0.2, "0x1.63021484ae2bbp+0"),
            (0.25, "0x1.5f3aa673fa911p+0"),
            (0.02, "0x1.69f75e84121b7p+0"),
            (0.05, "0x1.699643b10c6c4p+0"),
            (0.15, "0x1.6608800c36058p+0"),
            (0.9, "0x1.0d19e9eb90573p+0"),
            (0.0, "0x1.6a09e667f3bcdp+0"),
            (1.0, "0x1.0000000000000p+0"),
            (3.0, "0x1.c9f25c5bfedd9p-2"),
            (100.0, "0x1.cf62e69d07080p-7"),
            (1e-200, "0x1.6a09e667f3bcdp+0"),
        ];
        for (slope, want) in leaky {
            assert_eq!(get("leaky_relu", Some(slope)), hex(want), "slope {slope}");
        }
        for name in ["elu", "gelu", "gelu_tanh", "silu", "mish", "softplus", "hardtanh", "sin"] {
            assert_eq!(Activation::parse(name, None).unwrap().torch_gain(), None, "{name}");
        }
        // PyTorch raises OverflowError where the square overflows.
        assert_eq!(Activation::leaky_relu(1e200).unwrap().torch_gain(), None);
        assert!(Activation::leaky_relu(1.3e154).unwrap().torch_gain().is_some());
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn torch_gain_pow_subtlety() {
        // glibc's pow, which CPython's `**` calls, is not always correctly rounded: for
        // this slope `s ** 2` is 0.8549162075997525 but `s * s` is 0.8549162075997524,
        // and PyTorch 2.15 (CPython 3.11, glibc 2.36) gives the gain 1.0383717157662096,
        // one ulp below what `x * x` would give. nninit follows the C library.
        let s = 0.924_616_789_594_344_6;
        assert_eq!(s * s, 0.854_916_207_599_752_4);
        let ours = Activation::leaky_relu(s).unwrap().torch_gain().unwrap();
        assert_eq!(ours, 1.038_371_715_766_209_6);
    }

    /// 30-digit values (mpmath 1.3 `quad` over breakpoints, see the module docs table) of
    /// (second-moment, variance, derivative) gains, parameters at their defaults.
    const MPMATH_GAINS: [(&str, f64, f64, f64); 14] = [
        ("linear", 1.0, 1.0, 1.0),
        ("sigmoid", 1.846_228_545_338_605_4, 4.801_313_372_039_962, 4.722_646_085_937_974),
        ("tanh", 1.592_537_419_722_831_4, 1.592_537_419_722_831_4, 1.467_413_591_630_795),
        ("relu", SQRT_2, 1.712_858_550_449_662_7, SQRT_2),
        ("leaky_relu", 1.414_142_856_997_835_3, 1.704_831_627_177_336_7, 1.414_142_856_997_835_3),
        ("elu", 1.245_198_300_700_706_6, 1.270_843_417_850_196_5, 1.223_428_557_552_621),
        ("selu", 1.0, 1.0, 0.966_025_776_973_901_2),
        ("gelu", 1.533_530_441_195_535_2, 1.700_926_243_363_333_1, 1.481_114_412_708_348_2),
        ("gelu_tanh", 1.533_580_521_666_147, 1.700_916_561_695_450_4, 1.481_168_058_093_350_6),
        ("silu", 1.676_532_470_331_091, 1.787_187_222_100_442, 1.623_320_257_952_497_3),
        ("mish", 1.486_847_581_273_208, 1.592_025_381_099_446_2, 1.444_755_232_547_319_5),
        ("softplus", 1.041_866_835_535_301_7, 1.919_125_980_107_656_4, 1.846_228_545_338_605_4),
        ("hardtanh", 1.392_036_140_448_309_8, 1.392_036_140_448_309_8, 1.210_287_062_432_522_3),
        ("sin", 1.520_866_623_178_814_9, 1.520_866_623_178_814_9, 1.327_250_600_284_575_1),
    ];

    #[test]
    fn computed_gains_against_mpmath() {
        for (name, second_moment, variance, derivative) in MPMATH_GAINS {
            let gains = Activation::parse(name, None).unwrap().gains();
            assert_close!(gains.second_moment, second_moment, 1e-12);
            assert_close!(gains.variance, variance, 1e-12);
            assert_close!(gains.derivative, derivative, 1e-12);
        }
    }

    #[test]
    fn computed_gains_closed_forms() {
        let gain = |name, param| Activation::parse(name, param).unwrap();
        for a in [None, Some(0.0), Some(0.2), Some(-0.5), Some(3.0)] {
            let leaky = gain("leaky_relu", a);
            let want = (2.0 / (1.0 + a.unwrap_or(0.01).powi(2))).sqrt();
            assert_close!(leaky.second_moment_gain(), want, 1e-12);
            assert_close!(leaky.derivative_gain(), want, 1e-12);
            // Agreement with PyTorch's table (to rounding).
            assert_close!(leaky.second_moment_gain(), leaky.torch_gain().unwrap(), 1e-12);
        }
        assert_close!(gain("relu", None).second_moment_gain(), SQRT_2, 1e-12);
        assert_close!(gain("relu", None).second_moment_gain(), SQRT_2, 1e-12);
        // Var[relu(z)] = ½ − 1/(2π).
        assert_close!(gain("relu", None).variance_gain(), 1.0 / (0.5 - 0.5 / PI).sqrt(), 1e-12);
        assert_close!(gain("linear", None).second_moment_gain(), 1.0, 1e-12);
        assert_close!(gain("linear", None).derivative_gain(), 1.0, 1e-12);
        // SELU: E[selu(z)²] = 1 by construction; the f64 constants are off by 1.3e-16.
        assert_close!(gain("selu", None).second_moment_gain(), 1.0, 1e-12);
        assert_close!(gain("selu", None).variance_gain(), 1.0, 1e-12);
        // E[sin² z] = (1 − e⁻²)/2, E[cos² z] = (1 + e⁻²)/2.
        let sin = gain("sin", None);
        assert_close!(sin.second_moment_gain(), (0.5 * (1.0 - (-2f64).exp())).sqrt().recip(), 1e-12);
        assert_close!(sin.derivative_gain(), (0.5 * (1.0 + (-2f64).exp())).sqrt().recip(), 1e-12);
        // Hardtanh[−c, c]: E[φ′²] = P(|z| < c) = 1 − 2Φ(−c).
        let hardtanh = gain("hardtanh", Some(2.0));
        let inside = 1.0 - 2.0 * gaussian::cdf(-2.0);
        assert_close!(hardtanh.derivative_gain(), inside.sqrt().recip(), 1e-12);
        // Softplus(β) = softplus(βx)/β, and E[sigmoid(z)²] is also softplus's E[φ′²].
        assert_close!(gain("softplus", None).derivative_gain(), gain("sigmoid", None).second_moment_gain(), 1e-12);
    }

    #[test]
    fn slope_gains() {
        let slope = |name, param| Activation::parse(name, param).unwrap().slope_gain();
        assert_eq!(slope("linear", None), Some(1.0));
        assert_eq!(slope("sigmoid", None), Some(4.0));
        assert_eq!(slope("tanh", None), Some(1.0));
        assert_eq!(slope("relu", None), None);
        assert_eq!(slope("leaky_relu", None), None);
        assert_eq!(slope("leaky_relu", Some(1.0)), Some(1.0));
        assert_eq!(slope("elu", None), Some(1.0));
        assert_eq!(slope("elu", Some(2.0)), None);
        assert_eq!(slope("selu", None), None);
        assert_eq!(slope("gelu", None), Some(2.0));
        assert_eq!(slope("gelu_tanh", None), Some(2.0));
        assert_eq!(slope("silu", None), Some(2.0));
        assert_close!(slope("mish", None).unwrap(), 5.0 / 3.0, 1e-15);
        assert_eq!(slope("softplus", Some(4.0)), Some(2.0));
        assert_eq!(slope("hardtanh", None), Some(1.0));
        assert_eq!(slope("sin", None), Some(1.0));
        assert_eq!(Activation::hardtanh(0.0, 1.0).unwrap().slope_gain(), None);
        assert_eq!(Activation::hardtanh(0.5, 1.0).unwrap().slope_gain(), None);
    }

    #[test]
    fn derivatives_against_finite_differences() {
        let points = [-3.7, -1.3, -0.6, -0.2, 0.3, 0.9, 1.7, 4.1];
        for activation in all() {
            for x in points {
                let h = 1e-5;
                let central = |f: &dyn Fn(f64) -> f64| (f(x + h) - f(x - h)) / (2.0 * h);
                let d = central(&|x| activation.eval(x));
                let d2 = central(&|x| activation.derivative(x));
                let tol = |v: f64| 1e-8 * (1.0 + v.abs());
                assert!((activation.derivative(x) - d).abs() < tol(d), "{activation} φ′({x})");
                assert!((activation.second_derivative(x) - d2).abs() < tol(d2), "{activation} φ″({x})");
            }
        }
    }

    #[test]
    fn kink_conventions_match_pytorch_autograd() {
        // torch.autograd.grad of F.relu, F.leaky_relu(0.2), F.elu(2), F.selu, F.hardtanh.
        assert_eq!(Activation::Relu.derivative(0.0), 0.0);
        assert_eq!(Activation::leaky_relu(0.2).unwrap().derivative(0.0), 0.2);
        assert_eq!(Activation::elu(2.0).unwrap().derivative(0.0), 2.0);
        assert_eq!(Activation::Selu.derivative(0.0), 1.758_099_340_847_376_6);
        let hardtanh = Activation::parse("hardtanh", None).unwrap();
        assert_eq!((hardtanh.derivative(-1.0), hardtanh.derivative(1.0)), (0.0, 0.0));
        assert_eq!(hardtanh.kinks(), vec![-1.0, 1.0]);
        assert_eq!(Activation::Relu.kinks(), vec![0.0]);
        assert!(Activation::Gelu.kinks().is_empty());
    }

    #[test]
    fn eval_known_values_and_tails() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * b.abs().max(1e-300);
        // Reference values: mpmath 1.3, 30 digits.
        assert!(close(Activation::Gelu.eval(1.0), 0.841_344_746_068_542_9));
        assert!(close(Activation::Gelu.eval(-10.0), -7.619_853_024_160_526e-23));
        assert!(close(Activation::Silu.eval(-40.0), -40.0 * (-40f64).exp() / (1.0 + (-40f64).exp())));
        assert!(close(Activation::Sigmoid.eval(-800.0), 0.0));
        assert!(close(Activation::softplus(1.0).unwrap().eval(-50.0), 1.928_749_847_963_917_8e-22));
        assert!(close(Activation::softplus(2.0).unwrap().eval(1e3), 1e3));
        assert!(close(Activation::Mish.eval(1.0), 0.865_098_388_267_310_3));
        assert!(close(Activation::GeluTanh.eval(1.0), 0.841_191_990_608_276_7));
        assert!(close(Activation::Selu.eval(-1.0), SELU_SCALE * SELU_ALPHA * (-1f64).exp_m1()));
        for activation in all() {
            assert!(activation.eval(f64::NAN).is_nan(), "{activation}");
            for x in [-1e300, -745.0, -30.0, 30.0, 745.0, 1e300] {
                assert!(!activation.eval(x).is_nan(), "{activation}({x})");
                assert!(!activation.derivative(x).is_nan(), "{activation}′({x})");
                assert!(!activation.second_derivative(x).is_nan(), "{activation}″({x})");
            }
        }
    }
}
