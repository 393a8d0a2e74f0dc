//! `torch.nn.init` on flat, contiguous, row-major buffers, drawing from a
//! [`TorchGenerator`] exactly as PyTorch 2.15 draws from its CPU generator.

use crate::activation::Activation;
use crate::error::{self, Error, Result};
use crate::fan::{Fan, FanMode, Layout};
use crate::tensor::Shape;

use super::generator::TorchGenerator;
use super::kernels;

mod sealed {
    /// The element types PyTorch's kernels are reproduced for.
    pub trait Sealed: Copy + PartialOrd + Default + std::fmt::Debug + Send + Sync + 'static {
        /// `torch.dtype` name.
        const NAME: &'static str;
        /// The largest finite value, as `f64`.
        const MAX: f64;
        fn from_f64(v: f64) -> Self;
        fn to_f64(self) -> f64;
        fn uniform(g: &mut super::TorchGenerator, out: &mut [Self], from: f64, to: f64);
        fn normal(g: &mut super::TorchGenerator, out: &mut [Self], mean: f64, std: f64);
        fn orthonormalize(rows: usize, cols: usize, data: &mut [Self]);
        fn square(self) -> Self;
        fn mul(self, other: Self) -> Self;
        fn sub(self, other: Self) -> Self;
        fn div(self, other: Self) -> Self;
        fn ln(self) -> Self;
    }
}

/// An element type whose PyTorch CPU kernels nninit reproduces: `f32`
/// (`torch.float32`) and `f64` (`torch.float64`). Sealed.
pub trait TorchFloat: sealed::Sealed {}

impl TorchFloat for f32 {}
impl TorchFloat for f64 {}

impl sealed::Sealed for f32 {
    const NAME: &'static str = "float32";
    const MAX: f64 = f32::MAX as f64;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn uniform(g: &mut TorchGenerator, out: &mut [Self], from: f64, to: f64) {
        kernels::uniform_f32(g, out, from, to);
    }
    fn normal(g: &mut TorchGenerator, out: &mut [Self], mean: f64, std: f64) {
        kernels::normal_f32(g, out, mean, std);
    }
    fn orthonormalize(rows: usize, cols: usize, data: &mut [Self]) {
        crate::linalg::orthonormalize_f32(rows, cols, data);
    }
    fn square(self) -> Self {
        self * self
    }
    fn mul(self, other: Self) -> Self {
        self * other
    }
    fn sub(self, other: Self) -> Self {
        self - other
    }
    fn div(self, other: Self) -> Self {
        self / other
    }
    fn ln(self) -> Self {
        f32::ln(self)
    }
}

impl sealed::Sealed for f64 {
    const NAME: &'static str = "float64";
    const MAX: f64 = f64::MAX;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn uniform(g: &mut TorchGenerator, out: &mut [Self], from: f64, to: f64) {
        kernels::uniform_f64(g, out, from, to);
    }
    fn normal(g: &mut TorchGenerator, out: &mut [Self], mean: f64, std: f64) {
        kernels::normal_f64(g, out, mean, std);
    }
    fn orthonormalize(rows: usize, cols: usize, data: &mut [Self]) {
        crate::linalg::orthonormalize_f64(rows, cols, data);
    }
    fn square(self) -> Self {
        self * self
    }
    fn mul(self, other: Self) -> Self {
        self * other
    }
    fn sub(self, other: Self) -> Self {
        self - other
    }
    fn div(self, other: Self) -> Self {
        self / other
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
}

/// CPython's `x ** 2` for a float: the C library's `pow(x, 2.0)`. The exponent
/// goes through `black_box` so that the compiler cannot turn the call into
/// `x * x`.
pub(crate) fn py_square(x: f64) -> f64 {
    x.powf(std::hint::black_box(2.0))
}

// ------------------------------------------------------------- adapters to the core

/// PyTorch's `_calculate_fan_in_and_fan_out`: `(size(1)·∏size[2:], size(0)·∏size[2:])`,
/// which is [`Layout::Torch`] with one group whatever the module. The one call into
/// [`crate::fan`] for the `Torch` stream.
pub(crate) fn torch_fan(shape: &Shape) -> Result<Fan> {
    Fan::from_shape(shape, &Layout::Torch, 1)
}

/// The bound of the default bias init of `nn.Linear` and `nn.Conv*`, `U(±bound)` with
/// `bound = 1/√fan_in` and `fan_in` that of the layer's weight (`reset_parameters`). The
/// one definition of that rule: the [`modules`](super::modules) replay and the
/// `torch-default` scheme both call it. A [`Fan`] is never 0, so PyTorch's
/// `if fan_in > 0 else 0` never applies.
///
/// # Example
///
/// ```
/// use nninit::{Fan, Layout, Shape};
/// // nn.Conv2d(3, 16, 3): the bias bound from the weight [16, 3, 3, 3], fan_in 27
/// let weight = Fan::from_shape(&Shape::new(vec![16, 3, 3, 3])?, &Layout::Torch, 1)?;
/// assert_eq!(nninit::torch::linear_bias_bound(weight), 1.0 / 27f64.sqrt());
/// # Ok::<(), nninit::Error>(())
/// ```
pub fn linear_bias_bound(weight: Fan) -> f64 {
    1.0 / (weight.fan_in() as f64).sqrt()
}

/// PyTorch's `calculate_gain`, the one call into [`crate::activation`]
/// ([`Activation::torch_gain`] squares leaky_relu's slope with the C library's
/// `pow`, as CPython does).
fn torch_gain(nonlinearity: &Activation) -> Result<f64> {
    let unknown = || Error::InvalidConfig {
        reason: format!(
            "PyTorch's calculate_gain does not know `{}` (it knows linear, conv*, sigmoid, tanh, relu, leaky_relu, selu)",
            nonlinearity.name()
        ),
    };
    nonlinearity.torch_gain().ok_or_else(unknown)
}

// ------------------------------------------------------------- checks

fn check_len<T>(shape: &Shape, out: &[T]) -> Result<()> {
    if out.len() as u64 == shape.numel() {
        Ok(())
    } else {
        Err(Error::LengthMismatch { expected: shape.numel(), got: out.len() as u64 })
    }
}

fn unsupported(init: &'static str, shape: &Shape, reason: &str) -> Error {
    Error::UnsupportedShape { init, shape: shape.dims().to_vec(), reason: reason.to_owned() }
}

fn check_uniform<T: TorchFloat>(a: f64, b: f64) -> Result<()> {
    if a.is_finite() && b.is_finite() && a <= b && b - a <= T::MAX {
        Ok(())
    } else {
        Err(Error::InvalidInterval { what: "uniform_", low: a, high: b })
    }
}

fn check_normal(mean: f64, std: f64) -> Result<()> {
    error::finite("mean", mean)?;
    error::non_negative("std", std)?;
    Ok(())
}

// ------------------------------------------------------------- the kernels

/// Fills `out` from U(a, b), as `torch.nn.init.uniform_(t, a, b)` (and
/// `Tensor.uniform_`).
///
/// # Formula
///
/// Per element one 32-bit word (`f32`: its low 24 bits) or one 64-bit draw
/// (`f64`: 53 bits) `x` in \[0, 1), then `a + x·(b − a)` in the element type,
/// fused in the AVX2 flavour, and `b` (possible after rounding) replaced by `a`.
///
/// # Parameters
///
/// `a ≤ b`, both finite, `b − a` finite in the element type.
///
/// # Equivalent to
///
/// `torch.nn.init.uniform_(t, a, b)` on a CPU tensor of `out.len()` elements.
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, uniform_};
///
/// let mut g = TorchGenerator::new(0);
/// let mut w = [0.0f32; 3];
/// uniform_(&mut g, &mut w, 0.0, 1.0)?; // torch.manual_seed(0); torch.empty(3).uniform_()
/// assert_eq!(w, [0.49625659, 0.76822180, 0.08847743]);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidInterval`] for bounds outside the ranges above.
pub fn uniform_<T: TorchFloat>(g: &mut TorchGenerator, out: &mut [T], a: f64, b: f64) -> Result<()> {
    check_uniform::<T>(a, b)?;
    T::uniform(g, out, a, b);
    Ok(())
}

/// Fills `out` from N(mean, std²), as `torch.nn.init.normal_(t, mean, std)`
/// (and `Tensor.normal_`) on a contiguous tensor.
///
/// # Formula
///
/// 16 or more elements: PyTorch's vectorised Box–Muller on blocks of 16
/// uniforms, the last 16 elements redrawn when the length is not a multiple of
/// 16. Fewer: the scalar path, double-precision Box–Muller pairs whose second
/// value is cached in the generator for the next scalar-path draw.
///
/// # Parameters
///
/// `mean` finite, `std` finite and ≥ 0.
///
/// # Equivalent to
///
/// `torch.nn.init.normal_(t, mean, std)` on a contiguous CPU tensor. A
/// non-contiguous tensor (a transposed view, channels-last) always takes the
/// scalar path: fill a buffer of fewer than 16 elements at a time to mimic it.
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, normal_};
///
/// let mut g = TorchGenerator::new(42);
/// let mut w = vec![0.0f32; 100];
/// normal_(&mut g, &mut w, 0.0, 1.0)?; // torch.manual_seed(42); torch.empty(100).normal_()
/// assert_eq!(w[..3], [1.9269153, 1.4872841, 0.9007172]);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for a non-finite `mean` or a negative or
/// non-finite `std`.
pub fn normal_<T: TorchFloat>(g: &mut TorchGenerator, out: &mut [T], mean: f64, std: f64) -> Result<()> {
    check_normal(mean, std)?;
    T::normal(g, out, mean, std);
    Ok(())
}

/// The smallest acceptance rate [`trunc_normal_`]'s uniform-proposal branch accepts: one draw
/// in 10⁴. Below it the loop would run for hours (or forever, at a subnormal σ).
const MIN_ACCEPTANCE: f64 = 1e-4;

/// The most redrawing rounds [`trunc_normal_`] makes: at an acceptance of 10⁻⁴ a billion
/// elements need about 2·10⁵; more means the bounds collapsed in the element type's rounding.
const MAX_ROUNDS: u64 = 10_000_000;

fn endless(mean: f64, std: f64, a: f64, b: f64) -> Error {
    Error::InvalidConfig {
        reason: format!(
            "trunc_normal_(mean = {mean}, std = {std}, a = {a}, b = {b}): PyTorch's rejection sampler found no \
             value inside the bounds in {MAX_ROUNDS} rounds (the bounds vanish in the element type's precision)"
        ),
    }
}

/// Fills `out` from N(mean, std²) truncated to \[a, b\], as PyTorch 2.12+'s
/// `torch.nn.init.trunc_normal_`.
///
/// # Formula
///
/// `p = Φ((b − mean)/std) − Φ((a − mean)/std)`.
/// - `p > 0.3`: `normal_(mean, std)` on the whole tensor, then, while any
///   value lies outside \[a, b\] (compared in the element type), a full-size
///   `normal_` whose values replace the ones outside.
/// - `p ≤ 0.3`: rejection from a uniform proposal: `uniform_(a, b)` candidates
///   and `uniform_()` acceptance draws for the whole tensor per round, a
///   candidate kept when `ln U ≤ −½((x − mean)/std)² − log_peak`, rejected
///   elements redrawn the next round.
///
/// # Parameters
///
/// `mean` finite, `std` finite and > 0, `a < b` finite.
///
/// # Equivalent to
///
/// `torch.nn.init.trunc_normal_(t, mean, std, a, b)` in torch 2.12 to 2.15.
/// Torch ≤ 2.11 used an inverse-CDF method (`erfinv_`) with other values. In
/// the `p ≤ 0.3` branch PyTorch's vectorised `log_` is not glibc's `logf`,
/// which nninit uses: an acceptance decision can differ when `ln U` lies
/// within about an ulp of the bound (never observed in the goldens).
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, trunc_normal_};
///
/// let mut g = TorchGenerator::new(0);
/// let mut w = vec![0.0f32; 1000];
/// trunc_normal_(&mut g, &mut w, 0.0, 0.02, -0.04, 0.04)?;
/// assert!(w.iter().all(|x| x.abs() <= 0.04));
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] or [`Error::InvalidInterval`] for parameters
/// outside the ranges above.
pub fn trunc_normal_<T: TorchFloat>(
    g: &mut TorchGenerator,
    out: &mut [T],
    mean: f64,
    std: f64,
    a: f64,
    b: f64,
) -> Result<()> {
    error::finite("mean", mean)?;
    error::positive("std", std)?;
    error::interval("truncation bounds", a, b)?;
    let norm_cdf = |x: f64| (1.0 + libm::erf(x / 2f64.sqrt())) / 2.0;
    let p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std);
    let n = out.len();
    if p > 0.3 {
        let (lo, hi) = (T::from_f64(a), T::from_f64(b));
        T::normal(g, out, mean, std);
        let outside = |x: T| x < lo || x > hi;
        let mut fresh = vec![T::default(); n];
        let mut rounds = 0u64;
        while out.iter().any(|&x| outside(x)) {
            rounds += 1;
            if rounds > MAX_ROUNDS {
                return Err(endless(mean, std, a, b));
            }
            T::normal(g, &mut fresh, mean, std);
            for (x, &f) in out.iter_mut().zip(&fresh) {
                if outside(*x) {
                    *x = f;
                }
            }
        }
    } else {
        // Python: mode = max(a, min(mean, b)); log_peak = -0.5 * ((mode - mean) / std) ** 2
        let low_mode = if b < mean { b } else { mean };
        let mode = if low_mode > a { low_mode } else { a };
        let log_peak = -0.5 * py_square((mode - mean) / std);
        // Each candidate is accepted with probability σ·√(2π)·p / ((b − a)·e^log_peak). PyTorch
        // loops until every element is accepted; where that is hopeless (an interval far wider
        // than σ, far in a tail, or a subnormal σ) it never returns, so refuse instead.
        let acceptance = std * (2.0 * std::f64::consts::PI).sqrt() * p / ((b - a) * log_peak.exp());
        if acceptance.is_nan() || acceptance < MIN_ACCEPTANCE {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "trunc_normal_(mean = {mean}, std = {std}, a = {a}, b = {b}): PyTorch's rejection sampler \
                     would accept about one draw in {:.1e} and not finish; narrow [a, b] to a few std, or use \
                     the Philox stream (inverse CDF, no rejection)",
                    1.0 / acceptance
                ),
            });
        }
        let (m, s, lp, half) = (T::from_f64(mean), T::from_f64(std), T::from_f64(log_peak), T::from_f64(-0.5));
        // candidates.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak), in the element type
        let log_ratio = |x: T| x.sub(m).div(s).square().mul(half).sub(lp);
        let mut cand = vec![T::default(); n];
        let mut accept = vec![T::default(); n];
        T::uniform(g, out, a, b);
        T::uniform(g, &mut accept, 0.0, 1.0);
        let mut pending: Vec<bool> = out.iter().zip(&accept).map(|(&x, &u)| u.ln() > log_ratio(x)).collect();
        let mut rounds = 0u64;
        while pending.iter().any(|&p| p) {
            rounds += 1;
            if rounds > MAX_ROUNDS {
                return Err(endless(mean, std, a, b));
            }
            T::uniform(g, &mut cand, a, b);
            T::uniform(g, &mut accept, 0.0, 1.0);
            for i in 0..n {
                if pending[i] {
                    out[i] = cand[i];
                    pending[i] = accept[i].ln() > log_ratio(cand[i]);
                }
            }
        }
    }
    Ok(())
}

/// The `std` of [`kaiming_normal_`] and `bound / √3` of [`kaiming_uniform_`]:
/// `gain / √fan`, in PyTorch's double-precision steps.
fn kaiming_std(shape: &Shape, mode: FanMode, nonlinearity: &Activation) -> Result<f64> {
    let fan = torch_fan(shape)?;
    if mode == FanMode::FanAvg {
        return Err(Error::InvalidConfig {
            reason: format!("PyTorch's kaiming init takes mode fan_in or fan_out, not {}", mode.name()),
        });
    }
    Ok(fan.variance_scaling_std(mode, torch_gain(nonlinearity)?))
}

/// He (Kaiming) uniform init, as `torch.nn.init.kaiming_uniform_`.
///
/// # Formula
///
/// `std = gain / √fan`, `bound = √3 · std`, then [`uniform_`]`(−bound, bound)`.
/// `fan` is PyTorch's (`size(1)·∏size[2:]` for fan_in, `size(0)·∏size[2:]` for
/// fan_out, whatever the module) and `gain` is `calculate_gain`'s.
///
/// # Parameters
///
/// `shape` of rank ≥ 2 with `out.len()` elements; `mode` fan_in or fan_out;
/// `nonlinearity` one that `calculate_gain` knows. PyTorch's `a` is the
/// leaky_relu slope: `kaiming_uniform_(w, a=s)` is
/// `Activation::leaky_relu(s)`.
///
/// # Equivalent to
///
/// `torch.nn.init.kaiming_uniform_(t, a, mode, nonlinearity)`. The default
/// init of `nn.Linear` and `nn.Conv*` weights is
/// `mode = fan_in, nonlinearity = Activation::leaky_relu(√5)`.
///
/// # Example
///
/// ```
/// use nninit::activation::Activation;
/// use nninit::fan::FanMode;
/// use nninit::torch::{TorchGenerator, kaiming_uniform_};
/// use nninit::Shape;
///
/// // torch.manual_seed(0); nn.Linear(4, 3).weight
/// let mut g = TorchGenerator::new(0);
/// let mut w = vec![0.0f32; 12];
/// let linear = Activation::leaky_relu(5f64.sqrt())?;
/// kaiming_uniform_(&mut g, &mut w, &Shape::new(vec![3, 4])?, FanMode::FanIn, &linear)?;
/// assert_eq!(w[0], -0.003_743_410_1);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`], [`Error::RankTooSmall`], and
/// [`Error::InvalidConfig`] for fan_avg or an activation PyTorch has no gain for.
pub fn kaiming_uniform_<T: TorchFloat>(
    g: &mut TorchGenerator,
    out: &mut [T],
    shape: &Shape,
    mode: FanMode,
    nonlinearity: &Activation,
) -> Result<()> {
    check_len(shape, out)?;
    let bound = 3f64.sqrt() * kaiming_std(shape, mode, nonlinearity)?;
    uniform_(g, out, -bound, bound)
}

/// He (Kaiming) normal init, as `torch.nn.init.kaiming_normal_`.
///
/// # Formula
///
/// `std = gain / √fan`, then [`normal_`]`(0, std)`; see [`kaiming_uniform_`].
///
/// # Parameters
///
/// As [`kaiming_uniform_`].
///
/// # Equivalent to
///
/// `torch.nn.init.kaiming_normal_(t, a, mode, nonlinearity)`.
///
/// # Example
///
/// ```
/// use nninit::activation::Activation;
/// use nninit::fan::FanMode;
/// use nninit::torch::{TorchGenerator, kaiming_normal_};
/// use nninit::Shape;
///
/// let mut g = TorchGenerator::new(0);
/// let mut w = vec![0.0f32; 64 * 27];
/// kaiming_normal_(&mut g, &mut w, &Shape::new(vec![64, 3, 3, 3])?, FanMode::FanOut, &Activation::Relu)?;
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// As [`kaiming_uniform_`].
pub fn kaiming_normal_<T: TorchFloat>(
    g: &mut TorchGenerator,
    out: &mut [T],
    shape: &Shape,
    mode: FanMode,
    nonlinearity: &Activation,
) -> Result<()> {
    check_len(shape, out)?;
    let std = kaiming_std(shape, mode, nonlinearity)?;
    normal_(g, out, 0.0, std)
}

/// `gain · √(2 / (fan_in + fan_out))`, PyTorch's Glorot std.
fn xavier_std(shape: &Shape, gain: f64) -> Result<f64> {
    error::finite("gain", gain)?;
    Ok(torch_fan(shape)?.variance_scaling_std(FanMode::FanAvg, gain))
}

/// Glorot (Xavier) uniform init, as `torch.nn.init.xavier_uniform_`.
///
/// # Formula
///
/// `std = gain · √(2 / (fan_in + fan_out))`, `a = √3 · std`, then
/// [`uniform_`]`(−a, a)`, with PyTorch's fans.
///
/// # Parameters
///
/// `shape` of rank ≥ 2 with `out.len()` elements, `gain` finite.
///
/// # Equivalent to
///
/// `torch.nn.init.xavier_uniform_(t, gain)`.
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, xavier_uniform_};
/// use nninit::Shape;
///
/// let mut g = TorchGenerator::new(0);
/// let mut w = vec![0.0f64; 48 * 16];
/// xavier_uniform_(&mut g, &mut w, &Shape::new(vec![48, 16])?, 1.0)?;
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`], [`Error::RankTooSmall`], and
/// [`Error::InvalidParameter`] for a non-finite gain.
pub fn xavier_uniform_<T: TorchFloat>(g: &mut TorchGenerator, out: &mut [T], shape: &Shape, gain: f64) -> Result<()> {
    check_len(shape, out)?;
    let a = 3f64.sqrt() * xavier_std(shape, gain)?;
    uniform_(g, out, -a, a)
}

/// Glorot (Xavier) normal init, as `torch.nn.init.xavier_normal_`.
///
/// # Formula
///
/// `std = gain · √(2 / (fan_in + fan_out))`, then [`normal_`]`(0, std)`.
///
/// # Parameters
///
/// As [`xavier_uniform_`].
///
/// # Equivalent to
///
/// `torch.nn.init.xavier_normal_(t, gain)`.
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, xavier_normal_};
/// use nninit::Shape;
///
/// let mut g = TorchGenerator::new(0);
/// let mut w = vec![0.0f32; 1 * 1 * 16];
/// xavier_normal_(&mut g, &mut w, &Shape::new(vec![1, 1, 16])?, 1.0)?;
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// As [`xavier_uniform_`].
pub fn xavier_normal_<T: TorchFloat>(g: &mut TorchGenerator, out: &mut [T], shape: &Shape, gain: f64) -> Result<()> {
    check_len(shape, out)?;
    let std = xavier_std(shape, gain)?;
    normal_(g, out, 0.0, std)
}

/// (Semi-)orthogonal init, as `torch.nn.init.orthogonal_`: the same Gaussians,
/// orthonormalized to within rounding.
///
/// # Formula
///
/// `rows = shape[0]`, `cols = numel / rows`; [`normal_`]`(0, 1)` on the
/// `rows × cols` matrix; QR of it (of its transpose if `rows < cols`);
/// `Q · diag(sign(diag R))`, transposed back; times `gain` in the element type.
///
/// # Parameters
///
/// `shape` of rank ≥ 2 with `out.len()` elements, `gain` finite.
///
/// # Equivalent to
///
/// `torch.nn.init.orthogonal_(t, gain)`. The Gaussians are bit-exact and the
/// generator ends in PyTorch's state, but the QR is faer's, not LAPACK's: the
/// values agree to about 1e-6 (`f32`), not bit for bit (PyTorch's own result
/// changes with its thread count).
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, orthogonal_};
/// use nninit::Shape;
///
/// let mut g = TorchGenerator::new(0);
/// let mut w = vec![0.0f64; 3 * 5];
/// orthogonal_(&mut g, &mut w, &Shape::new(vec![3, 5])?, 1.0)?;
/// let dot: f64 = (0..5).map(|k| w[k] * w[5 + k]).sum();
/// assert!(dot.abs() < 1e-12);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`], [`Error::UnsupportedShape`] below rank 2,
/// [`Error::InvalidParameter`] for a non-finite gain.
pub fn orthogonal_<T: TorchFloat>(g: &mut TorchGenerator, out: &mut [T], shape: &Shape, gain: f64) -> Result<()> {
    check_len(shape, out)?;
    error::finite("gain", gain)?;
    if shape.rank() < 2 {
        return Err(unsupported("orthogonal_", shape, "needs rank >= 2"));
    }
    let rows = shape.dims()[0];
    let cols = out.len() / rows;
    T::normal(g, out, 0.0, 1.0);
    T::orthonormalize(rows, cols, out);
    let gain = T::from_f64(gain);
    for x in out.iter_mut() {
        *x = x.mul(gain);
    }
    Ok(())
}

/// `torch.randperm(n)` on the CPU: a permutation of `0..n` drawn from `g`.
///
/// # Formula
///
/// For `n < 2³²/20`, a forward Fisher–Yates shuffle:
/// `z = random() % (n − i)`, swap elements `i` and `i + z`, for `i` in
/// `0..n−1`. Larger `n`: PyTorch's inside-out shuffle with `random64()`
/// (implemented as in PyTorch's source, not checked against torch).
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, randperm};
///
/// let mut g = TorchGenerator::new(0);
/// let p = randperm(&mut g, 5);
/// let mut sorted = p.clone();
/// sorted.sort();
/// assert_eq!(sorted, [0, 1, 2, 3, 4]);
/// ```
pub fn randperm(g: &mut TorchGenerator, n: usize) -> Vec<usize> {
    if (n as u64) < u64::from(u32::MAX / 20) {
        let mut r: Vec<usize> = (0..n).collect();
        for i in 0..n.saturating_sub(1) {
            let z = (u64::from(g.random()) % (n - i) as u64) as usize;
            r.swap(i, i + z);
        }
        r
    } else {
        let mut r = vec![0usize; n];
        for i in 0..n {
            let z = (g.random64() % (i as u64 + 1)) as usize;
            r[i] = r[z];
            r[z] = i;
        }
        r
    }
}

/// Sparse init, as `torch.nn.init.sparse_(t, sparsity, std)` with PyTorch's
/// global generator: all draws come from `g`.
///
/// # Formula
///
/// [`normal_`]`(0, std)` on the `rows × cols` matrix, then for each column a
/// [`randperm`]`(rows)` whose first `⌈sparsity · rows⌉` entries are the rows
/// set to zero.
///
/// # Parameters
///
/// `shape` of rank 2 with `out.len()` elements, `sparsity` in \[0, 1\], `std`
/// finite and ≥ 0.
///
/// # Equivalent to
///
/// `torch.nn.init.sparse_(t, sparsity, std)` (no `generator=`). With an
/// explicit generator PyTorch still draws the permutations from the global one:
/// see [`sparse_with_generator_`].
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, sparse_};
/// use nninit::Shape;
///
/// let mut g = TorchGenerator::new(0);
/// let mut w = vec![0.0f32; 10 * 4];
/// sparse_(&mut g, &mut w, &Shape::new(vec![10, 4])?, 0.3, 0.01)?;
/// assert_eq!(w.iter().filter(|&&x| x == 0.0).count(), 12);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`], [`Error::UnsupportedShape`] unless rank 2,
/// [`Error::InvalidParameter`] for `sparsity` or `std` out of range.
pub fn sparse_<T: TorchFloat>(
    g: &mut TorchGenerator,
    out: &mut [T],
    shape: &Shape,
    sparsity: f64,
    std: f64,
) -> Result<()> {
    let (rows, cols, zeros) = sparse_setup(out, shape, sparsity, std)?;
    T::normal(g, out, 0.0, std);
    sparse_zero(g, out, rows, cols, zeros);
    Ok(())
}

/// Sparse init with an explicit generator, as
/// `torch.nn.init.sparse_(t, sparsity, std, generator=g)`: the normals come
/// from `g`, the permutations from `global` (PyTorch's `randperm` inside
/// `sparse_` ignores the `generator` argument).
///
/// # Formula, parameters
///
/// As [`sparse_`].
///
/// # Equivalent to
///
/// `torch.nn.init.sparse_(t, sparsity, std, generator=g)`, where `global` is
/// `torch.default_generator`.
///
/// # Example
///
/// ```
/// use nninit::torch::{TorchGenerator, sparse_with_generator_};
/// use nninit::Shape;
///
/// let mut g = TorchGenerator::new(7);
/// let mut global = TorchGenerator::new(0);
/// let mut w = vec![0.0f64; 6 * 3];
/// sparse_with_generator_(&mut g, &mut global, &mut w, &Shape::new(vec![6, 3])?, 0.5, 1.0)?;
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// As [`sparse_`].
pub fn sparse_with_generator_<T: TorchFloat>(
    g: &mut TorchGenerator,
    global: &mut TorchGenerator,
    out: &mut [T],
    shape: &Shape,
    sparsity: f64,
    std: f64,
) -> Result<()> {
    let (rows, cols, zeros) = sparse_setup(out, shape, sparsity, std)?;
    T::normal(g, out, 0.0, std);
    sparse_zero(global, out, rows, cols, zeros);
    Ok(())
}

fn sparse_setup<T>(out: &[T], shape: &Shape, sparsity: f64, std: f64) -> Result<(usize, usize, usize)> {
    check_len(shape, out)?;
    if shape.rank() != 2 {
        return Err(unsupported("sparse_", shape, "needs rank 2"));
    }
    if !(0.0..=1.0).contains(&sparsity) {
        return Err(Error::InvalidParameter { name: "sparsity", value: sparsity, expected: "in [0, 1]" });
    }
    error::non_negative("std", std)?;
    let (rows, cols) = (shape.dims()[0], shape.dims()[1]);
    let zeros = ((sparsity * rows as f64).ceil() as usize).min(rows);
    Ok((rows, cols, zeros))
}

fn sparse_zero<T: TorchFloat>(g: &mut TorchGenerator, out: &mut [T], rows: usize, cols: usize, zeros: usize) {
    for col in 0..cols {
        for &row in &randperm(g, rows)[..zeros] {
            out[row * cols + col] = T::default();
        }
    }
}

/// Fills `out` with `val` (cast to the element type), as `torch.nn.init.constant_`.
///
/// # Example
///
/// ```
/// let mut b = [1.0f32; 4];
/// nninit::torch::constant_(&mut b, 0.5);
/// assert_eq!(b, [0.5; 4]);
/// ```
pub fn constant_<T: TorchFloat>(out: &mut [T], val: f64) {
    out.fill(T::from_f64(val));
}

/// Fills `out` with zeros, as `torch.nn.init.zeros_`.
///
/// # Example
///
/// ```
/// let mut b = [1.0f64; 2];
/// nninit::torch::zeros_(&mut b);
/// assert_eq!(b, [0.0; 2]);
/// ```
pub fn zeros_<T: TorchFloat>(out: &mut [T]) {
    constant_(out, 0.0);
}

/// Fills `out` with ones, as `torch.nn.init.ones_`.
///
/// # Example
///
/// ```
/// let mut b = [0.0f32; 2];
/// nninit::torch::ones_(&mut b);
/// assert_eq!(b, [1.0; 2]);
/// ```
pub fn ones_<T: TorchFloat>(out: &mut [T]) {
    constant_(out, 1.0);
}

/// The identity matrix, as `torch.nn.init.eye_` (no random draws).
///
/// # Example
///
/// ```
/// use nninit::Shape;
/// let mut w = [9.0f32; 6];
/// nninit::torch::eye_(&mut w, &Shape::new(vec![2, 3])?)?;
/// assert_eq!(w, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`], and [`Error::UnsupportedShape`] unless rank 2.
pub fn eye_<T: TorchFloat>(out: &mut [T], shape: &Shape) -> Result<()> {
    check_len(shape, out)?;
    if shape.rank() != 2 {
        return Err(unsupported("eye_", shape, "needs rank 2"));
    }
    let (rows, cols) = (shape.dims()[0], shape.dims()[1]);
    zeros_(out);
    for i in 0..rows.min(cols) {
        out[i * cols + i] = T::from_f64(1.0);
    }
    Ok(())
}

/// The Dirac delta (identity convolution), as `torch.nn.init.dirac_(t, groups)`
/// (no random draws).
///
/// # Formula
///
/// Zero everywhere except `t[g·(out/groups) + d, d, centre…] = 1` for each
/// group `g` and `d < min(out/groups, in)`, the centre being `k // 2` on every
/// spatial axis.
///
/// # Example
///
/// ```
/// use nninit::Shape;
/// let mut w = [9.0f32; 2 * 2 * 3];
/// nninit::torch::dirac_(&mut w, &Shape::new(vec![2, 2, 3])?, 1)?;
/// assert_eq!(w, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::LengthMismatch`], [`Error::UnsupportedShape`] unless rank 3 to 5,
/// [`Error::GroupsMismatch`] when `groups` is 0 or does not divide `shape[0]`.
pub fn dirac_<T: TorchFloat>(out: &mut [T], shape: &Shape, groups: usize) -> Result<()> {
    check_len(shape, out)?;
    let dims = shape.dims();
    if !(3..=5).contains(&dims.len()) {
        return Err(unsupported("dirac_", shape, "needs rank 3, 4 or 5"));
    }
    if groups == 0 || !dims[0].is_multiple_of(groups) {
        return Err(Error::GroupsMismatch { groups, what: "output channels", size: dims[0] });
    }
    let per_group = dims[0] / groups;
    let strides = shape.strides();
    let centre: usize = (2..dims.len()).map(|ax| dims[ax] / 2 * strides[ax]).sum();
    zeros_(out);
    for grp in 0..groups {
        for d in 0..per_group.min(dims[1]) {
            out[(grp * per_group + d) * strides[0] + d * strides[1] + centre] = T::from_f64(1.0);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::torch::TorchKernel;

    fn shape(d: &[usize]) -> Shape {
        Shape::new(d.to_vec()).unwrap()
    }

    #[test]
    fn parameter_errors() {
        let mut g = TorchGenerator::new(0);
        let mut v = [0.0f32; 4];
        assert!(matches!(uniform_(&mut g, &mut v, 1.0, 0.0), Err(Error::InvalidInterval { .. })));
        assert!(uniform_(&mut g, &mut v, f64::NAN, 0.0).is_err());
        assert!(uniform_(&mut g, &mut v, -f64::MAX, f64::MAX).is_err());
        assert!(matches!(normal_(&mut g, &mut v, 0.0, -1.0), Err(Error::InvalidParameter { name: "std", .. })));
        assert!(normal_(&mut g, &mut v, f64::INFINITY, 1.0).is_err());
        assert!(trunc_normal_(&mut g, &mut v, 0.0, 0.0, -1.0, 1.0).is_err());
        assert!(trunc_normal_(&mut g, &mut v, 0.0, 1.0, 1.0, -1.0).is_err());
        let s = shape(&[2, 3]);
        assert!(matches!(xavier_uniform_(&mut g, &mut v, &s, 1.0), Err(Error::LengthMismatch { expected: 6, got: 4 })));
        assert!(matches!(
            kaiming_normal_(&mut g, &mut v, &shape(&[4]), FanMode::FanIn, &Activation::Relu),
            Err(Error::RankTooSmall { .. })
        ));
        assert!(kaiming_normal_(&mut g, &mut v, &shape(&[2, 2]), FanMode::FanAvg, &Activation::Relu).is_err());
        assert!(kaiming_normal_(&mut g, &mut v, &shape(&[2, 2]), FanMode::FanIn, &Activation::Gelu).is_err());
        assert!(matches!(orthogonal_(&mut g, &mut v, &shape(&[4]), 1.0), Err(Error::UnsupportedShape { .. })));
        assert!(sparse_(&mut g, &mut v, &shape(&[1, 2, 2]), 0.5, 1.0).is_err());
        assert!(sparse_(&mut g, &mut v, &shape(&[2, 2]), 1.5, 1.0).is_err());
        assert!(eye_(&mut v, &shape(&[4])).is_err());
        assert!(matches!(dirac_(&mut v, &shape(&[2, 2, 2]), 1), Err(Error::LengthMismatch { .. })));
        let mut d = [0.0f32; 12];
        assert!(matches!(dirac_(&mut d, &shape(&[3, 2, 2]), 2), Err(Error::GroupsMismatch { .. })));
        assert!(dirac_(&mut d, &shape(&[3, 2, 2]), 0).is_err());
    }

    #[test]
    fn edge_sizes_do_not_panic() {
        for kernel in [TorchKernel::Avx2, TorchKernel::Default] {
            let mut g = TorchGenerator::new(5).with_kernel(kernel);
            let mut empty: [f32; 0] = [];
            normal_(&mut g, &mut empty, 0.0, 1.0).unwrap();
            uniform_(&mut g, &mut empty, 0.0, 1.0).unwrap();
            for n in [1, 15, 16, 17, 31, 32, 33] {
                let mut a = vec![0.0f32; n];
                let mut b = vec![0.0f64; n];
                normal_(&mut g, &mut a, 0.0, 0.0).unwrap();
                normal_(&mut g, &mut b, 1.0, 2.0).unwrap();
                uniform_(&mut g, &mut a, 2.0, 2.0).unwrap();
                assert!(a.iter().all(|&x| x == 2.0));
                trunc_normal_(&mut g, &mut b, 0.0, 1.0, 5.0, 6.0).unwrap();
                assert!(b.iter().all(|&x| (5.0..=6.0).contains(&x)));
            }
        }
        let mut g = TorchGenerator::new(1);
        assert!(randperm(&mut g, 0).is_empty());
        assert_eq!(randperm(&mut g, 1), [0]);
    }

    #[test]
    fn scalar_cache_persists_and_vector_path_ignores_it() {
        let mut g = TorchGenerator::new(3);
        let mut a = [0.0f64; 3];
        normal_(&mut g, &mut a, 0.0, 1.0).unwrap();
        let cached = g.cached_normal().unwrap();
        let mut big = [0.0f64; 16];
        normal_(&mut g, &mut big, 0.0, 1.0).unwrap();
        assert_eq!(g.cached_normal(), Some(cached));
        let mut one = [0.0f64; 1];
        normal_(&mut g, &mut one, 0.0, 1.0).unwrap();
        assert_eq!(one[0], cached);
        assert_eq!(g.cached_normal(), None);
    }

    #[test]
    fn python_square_is_pow() {
        assert_eq!(py_square(5f64.sqrt()), 5.000000000000001);
        assert_eq!(py_square(3.0), 9.0);
    }
}
