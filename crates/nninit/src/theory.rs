//! Mean-field signal propagation: how a signal and its gradient travel through a deep,
//! randomly initialized network, from first principles.
//!
//! A fully connected network with activation φ, weights W ~ N(0, σ_w²/N) (fan-in N) and
//! biases b ~ N(0, σ_b²) has, in the limit of infinite width, pre-activations that are
//! Gaussian in every layer. Their statistics follow deterministic maps (Poole et al. 2016;
//! Schoenholz et al. 2017). With Dz the standard normal measure:
//!
//! - **Length map.** q^l = V(q^(l−1)) = σ_w² ∫Dz φ(√q z)² + σ_b², with fixed point q*
//!   ([`MeanField::length_map`], [`MeanField::fixed_point`]).
//! - **Gradient growth.** χ₁ = σ_w² ∫Dz φ′(√q* z)². Back-propagated gradients grow by χ₁
//!   per layer: E‖∂ℓ/∂x^l‖² ∝ χ₁^(L−l), and the mean squared singular value of the
//!   input–output Jacobian is χ₁^L (Pennington et al. 2017).
//! - **Correlation map.** For two inputs, c^l = C(c^(l−1)) = [σ_w² ∫Dz₁Dz₂ φ(u₁)φ(u₂) +
//!   σ_b²]/q* with u₁ = √q* z₁, u₂ = √q* (c z₁ + √(1 − c²) z₂)
//!   ([`MeanField::correlation_map`]). C(1) = 1 and C′(1) = χ₁: c* = 1 is stable when
//!   χ₁ < 1 (**ordered** phase: inputs collapse onto one another), unstable when χ₁ > 1
//!   (**chaotic** phase: a stable c* < 1 appears and nearby inputs decorrelate). χ₁ = 1 is
//!   the **edge of chaos** ([`MeanField::edge_of_chaos`]).
//! - **Depth scales.** Near the fixed points the deviations decay like e^(−l/ξ):
//!   - ξ_q⁻¹ = −log V′(q*), V′(q*) = χ₁ + σ_w² ∫Dz φ″(√q* z) φ(√q* z);
//!   - ξ_c⁻¹ = −log[σ_w² ∫Dz₁Dz₂ φ′(u₁)φ′(u₂)] at c = c*, which is −log χ₁ in the ordered
//!     phase (c* = 1).
//!
//!   Schoenholz et al. found networks trainable up to depth L ≈ 6 ξ_c
//!   ([`TRAINABLE_DEPTH_PER_XI`]); at the edge of chaos ξ_c diverges.
//!
//! # Kinks
//!
//! For φ with a kink at k (ReLU family at 0, hardtanh at its ends), φ″ holds a delta
//! function of weight J = φ′(k⁺) − φ′(k⁻), and ∫Dz φ″φ gains the term
//! φ(k)·J·ϕ(k/√q)/√q (ϕ the standard normal density). V′(q) = dV/dq is computed with it,
//! by Gaussian integration by parts (d/dq E\[g(√q z)\] = ½ E\[g″(√q z)\] with g = φ²). For
//! the ReLU family φ(k) = 0 and the term vanishes (V′ = χ₁ = σ_w²(1 + a²)/2); for hardtanh
//! on \[−1, 1\] it is −2ϕ(1/√q)/√q · σ_w². The tests check V′ against a finite difference
//! of V. The jump J is found from φ′ on both sides of k with a Richardson step, accurate to
//! about 10⁻¹⁰.
//!
//! # Degenerate cases
//!
//! - **q\* = 0.** With σ_b² = 0 and φ(0) = 0 the length can decay to 0 (tanh with
//!   σ_w² ≤ 1, ReLU with σ_w² < 2). Then q* = 0 is reported and χ₁, ξ_q, ξ_c are their
//!   limits as q → 0⁺ (for tanh χ₁ = σ_w², for ReLU χ₁ = σ_w²/2).
//! - **No fixed point.** Unbounded activations with a large σ_w² (ReLU with σ_w² > 2,
//!   or σ_w² = 2 with σ_b² > 0: q^l = q⁰ + l σ_b²) have none: the length grows without
//!   bound. This is the typed outcome [`FixedPoint::Diverges`]; χ₁ is then its limit as
//!   q → ∞ (the gradient growth per layer), there is no c*, ξ_q or ξ_c, and the trainable
//!   depth is 6/|log χ₁|, the gradients' depth scale.
//! - **Where the iteration starts.** q* is the fixed point the iteration reaches from
//!   q⁰ = 1 (inputs of unit second moment per coordinate), or from the q⁰ given to
//!   [`MeanField::fixed_point_from`]. V is increasing for every activation nninit knows, so
//!   the iteration is monotone and never jumps over a fixed point; it is accelerated by
//!   safeguarded Newton steps (at most a factor 4 in q per step).
//!
//! # Phase
//!
//! [`Phase`] is decided by χ₁ with the tolerance [`CRITICAL_TOLERANCE`] = 10⁻⁶ on |log χ₁|:
//! critical when ξ_c ≥ 10⁶ layers, more than any network anyone trains.
//!
//! # Accuracy
//!
//! - Integrals come from [`gaussian::expect`] and [`gaussian::expect2`] (adaptive
//!   Gauss–Kronrod, about 10⁻¹³ and 10⁻¹² relative), with the kinks of φ passed as
//!   breakpoints, so kinked activations integrate as accurately as smooth ones. The tests
//!   hold the length map, χ₁, the ReLU arc-cosine kernel and its derivative to 10⁻¹⁰
//!   relative against closed forms, for smooth and kinked φ alike.
//! - q* is found to 10⁻¹¹ relative, c* to 10⁻¹⁰ absolute, the edge of chaos to 10⁻¹⁰
//!   relative, except where the problem is ill-conditioned: c* within 10⁻⁴ of 1 (just
//!   chaotic) is known to about 10⁻⁶ only, because C(c) − c is then of order 10⁻⁸.
//! - Near a kink of φ the smooth-integrand error bounds hold because panels start at the
//!   kinks; the one place a kink costs accuracy is the jump J above (10⁻¹⁰). The tests
//!   hold ReLU and leaky ReLU to 10⁻¹² against closed forms, hardtanh's V′ (with its delta
//!   terms) to 10⁻¹⁰, and V′ of every kinked activation (ELU, SELU too) to 10⁻⁷ against a
//!   finite difference of V (the finite difference's own error).
//! - sin at a huge q (σ_w² ~ 10⁶) oscillates ~10³ times over the Gaussian: the results stay
//!   finite and correct, but the two-dimensional integrals then take minutes.
//! - [`phase_diagram`] trades accuracy for speed: a fixed composite Gauss–Legendre rule
//!   (split at the kinks) and the Mehler (Hermite) expansion of the correlation map,
//!   C(c) ∝ Σ_k b_k² c^k with b_k = E\[φ(√q z) h_k(z)\] (h_k the normalized Hermite
//!   polynomials), truncated at k = 80 with the known remainder E\[φ²\] − Σ b_k² added at
//!   c^80. Its ξ_c agrees with [`MeanField::analyze`] to 10⁻⁶ relative for smooth φ
//!   (tanh, GELU, sigmoid) and 10⁻⁴ for kinked φ (hardtanh, SELU) in the tests; enough for
//!   a plot, not for a table.
//!
//! # Worked answers
//!
//! - **tanh with PyTorch's gain 5/3 and no bias** (σ_w² = 25/9 ≈ 2.78, σ_b² = 0):
//!   q* = 1.17848, χ₁ = 1.20983 > 1 — **chaotic**, with c* = 0 and ξ_c = 12.118 layers
//!   (trainable to about 6 ξ_c ≈ 73 layers). Gradients grow about 1.21× per layer, 1.9 · 10⁸
//!   over 100 layers. (The test `tanh_gain_five_thirds_is_chaotic` pins these values.)
//! - **tanh edge of chaos**: σ_w² = 1 at σ_b² = 0 (q* = 0); at σ_b² = 0.05,
//!   σ_w² = 1.760955 (q* = 0.5700); Schoenholz et al. 2017 (Figure 1) and Poole et al.
//!   2016 (Figure 2) show the critical line passing through σ_w² ≈ 1.76 there.
//! - **ReLU**: χ₁ = σ_w²/2 for every σ_b²; the edge is σ_w² = 2 (He et al. 2015), where
//!   q is preserved exactly with σ_b² = 0. ReLU networks are never chaotic: for σ_w² < 2
//!   they are ordered, for σ_w² > 2 the length diverges.
//!
//! # Example
//!
//! ```
//! use nninit::activation::Activation;
//! use nninit::theory::{MeanField, Phase};
//!
//! let tanh = MeanField::new(Activation::Tanh, 25.0 / 9.0, 0.0)?;
//! let a = tanh.analyze();
//! assert_eq!(a.phase, Phase::Chaotic);
//! assert!((a.chi1 - 1.2098).abs() < 1e-4);
//!
//! let he = MeanField::new(Activation::Relu, 2.0, 0.0)?.analyze();
//! assert_eq!(he.phase, Phase::Critical);
//! # Ok::<(), nninit::Error>(())
//! ```
//!
//! # References
//!
//! - B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli (2016), *Exponential
//!   expressivity in deep neural networks through transient chaos*, NeurIPS,
//!   <https://arxiv.org/abs/1606.05340>, eqs. 3, 5, 7 and 8.
//! - S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein (2017), *Deep Information
//!   Propagation*, ICLR, <https://arxiv.org/abs/1611.01232>, eqs. 4, 9, 15 and Figure 5
//!   (L ≈ 6 ξ_c).
//! - J. Pennington, S. S. Schoenholz, S. Ganguli (2017), *Resurrecting the sigmoid in deep
//!   learning through dynamical isometry: theory and practice*, NeurIPS,
//!   <https://arxiv.org/abs/1711.04735> (mean squared Jacobian singular value χ₁^L).
//! - K. He, X. Zhang, S. Ren, J. Sun (2015), *Delving Deep into Rectifiers*, ICCV,
//!   <https://arxiv.org/abs/1502.01852> (σ_w² = 2 for ReLU).

use rayon::prelude::*;
use serde::Serialize;

use crate::activation::Activation;
use crate::error::{self, Result};
use crate::fan::FanMode;
use crate::gaussian;
use crate::init::{Distribution, Init, Normal, VarianceScaling};

/// Networks are trainable up to about this many correlation depth scales: L ≈ 6 ξ_c
/// (Schoenholz et al. 2017, Figure 5).
pub const TRAINABLE_DEPTH_PER_XI: f64 = 6.0;

/// [`Phase::Critical`] when |log χ₁| is at most this, i.e. ξ_c ≥ 10⁶ layers.
pub const CRITICAL_TOLERANCE: f64 = 1e-6;

/// Relative accuracy to which [`MeanField::fixed_point`] finds q*.
const Q_TOL: f64 = 1e-11;

/// With σ_b² = 0 and φ(0) = 0, a length that falls below this fraction of q⁰ is taken
/// to have reached the fixed point q* = 0.
const Q_ZERO: f64 = 1e-10;

/// A length above this multiple of max(1, q⁰, σ_w², σ_b²) is taken to diverge.
const Q_MAX: f64 = 1e12;

/// The q at which the q → 0⁺ limits are evaluated when q* = 0.
const Q_TINY: f64 = 1e-280;

/// The relative accuracy of V(q) (the integrals'), below which V(q) − q is noise.
const NOISE: f64 = 1e-13;

/// Most steps the fixed-point iteration takes.
const MAX_STEPS: usize = 1000;

/// The statistics of one infinitely wide random network: activation, σ_w² and σ_b².
///
/// # Example
///
/// ```
/// use nninit::activation::Activation;
/// use nninit::theory::{FixedPoint, MeanField};
///
/// // ReLU with σ_w² = 1, σ_b² = 0.5: V(q) = q/2 + 1/2, so q* = 1.
/// let relu = MeanField::new(Activation::Relu, 1.0, 0.5)?;
/// let FixedPoint::Converged { q_star, .. } = relu.fixed_point() else { unreachable!() };
/// assert!((q_star - 1.0).abs() < 1e-10);
/// assert!((relu.chi1(q_star) - 0.5).abs() < 1e-12);
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanField {
    activation: Activation,
    sigma_w2: f64,
    sigma_b2: f64,
}

/// Where the length map's iteration q^l = V(q^(l−1)) goes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FixedPoint {
    /// It converges to q* (possibly 0, see the [module docs](self)).
    Converged {
        /// The fixed point q*.
        q_star: f64,
        /// Solver steps taken (not network layers).
        steps: usize,
    },
    /// It grows without bound: there is no fixed point above q⁰.
    Diverges {
        /// The last length computed, above 10¹² · max(1, q⁰, σ_w², σ_b²).
        q_last: f64,
        /// V(q)/q there: the growth of the length per layer, deep in the network.
        growth: f64,
    },
    /// Neither: the map is marginal, V(q) = q to the accuracy of the integrals (V′ ≈ 1)
    /// after the length has drifted far (10⁶×) from its start, as for softplus at
    /// σ_w² = 2 (q^l grows like l^(2/3)) or ReLU at σ_w² = 2 with σ_b² > 0 (q^l grows
    /// like l σ_b²); or the solver ran out of steps.
    NotConverged {
        /// The last length computed.
        q_last: f64,
    },
}

/// The phase of a network, decided by χ₁ (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// χ₁ < 1: inputs' correlations converge to 1 and gradients vanish.
    Ordered,
    /// χ₁ = 1 within [`CRITICAL_TOLERANCE`]: the edge of chaos.
    Critical,
    /// χ₁ > 1: nearby inputs decorrelate and gradients explode.
    Chaotic,
}

impl Phase {
    /// The phase for a gradient growth χ₁.
    pub fn from_chi1(chi1: f64) -> Self {
        let log = chi1.ln();
        if log.abs() <= CRITICAL_TOLERANCE {
            Phase::Critical
        } else if log < 0.0 {
            Phase::Ordered
        } else {
            Phase::Chaotic
        }
    }

    /// `ordered`, `critical` or `chaotic`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Ordered => "ordered",
            Phase::Critical => "critical",
            Phase::Chaotic => "chaotic",
        }
    }
}

/// Everything the theory says about one (activation, σ_w², σ_b²): see
/// [`MeanField::analyze`].
///
/// Infinite depth scales (at the edge of chaos) serialize as JSON `null`, as do the
/// fields that are `None` when the length diverges.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// The activation.
    pub activation: Activation,
    /// σ_w², the weight variance times fan-in.
    pub sigma_w2: f64,
    /// σ_b², the bias variance.
    pub sigma_b2: f64,
    /// What the length iteration does.
    pub fixed_point: FixedPoint,
    /// q*, or `None` when the length diverges (or the solver did not converge).
    pub q_star: Option<f64>,
    /// χ₁ = σ_w² E\[φ′(√q* z)²\], the gradient growth per layer (at q → ∞ when the
    /// length diverges).
    pub chi1: f64,
    /// The stable fixed point c* of the correlation map (1 unless chaotic).
    pub c_star: Option<f64>,
    /// ξ_q, the depth scale of the length's convergence to q* (∞ at V′(q*) = 1).
    pub xi_q: Option<f64>,
    /// ξ_c, the depth scale of the correlations' convergence to c* (∞ at the edge).
    pub xi_c: Option<f64>,
    /// Ordered, critical or chaotic.
    pub phase: Phase,
    /// The factor by which gradients grow per layer going backwards (χ₁).
    pub gradient_growth: f64,
    /// 6 ξ_c; where the length diverges, 6/|log χ₁|. ∞ at the edge.
    pub trainable_depth: f64,
}

impl MeanField {
    /// Validates σ_w² (finite and > 0) and σ_b² (finite and ≥ 0).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) naming `sigma_w2` or
    /// `sigma_b2`.
    pub fn new(activation: Activation, sigma_w2: f64, sigma_b2: f64) -> Result<Self> {
        let sigma_w2 = error::positive("sigma_w2", sigma_w2)?;
        let sigma_b2 = error::non_negative("sigma_b2", sigma_b2)?;
        Ok(Self { activation, sigma_w2, sigma_b2 })
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// σ_w².
    pub fn sigma_w2(&self) -> f64 {
        self.sigma_w2
    }

    /// σ_b².
    pub fn sigma_b2(&self) -> f64 {
        self.sigma_b2
    }

    /// E\[g(√q z)\] with the kinks of φ as breakpoints.
    fn expect_at(&self, q: f64, g: impl Fn(f64) -> f64) -> f64 {
        let s = q.max(Q_TINY).sqrt();
        let breaks: Vec<f64> = self.activation.kinks().iter().map(|k| k / s).collect();
        gaussian::expect(|z| g(s * z), &breaks)
    }

    /// E\[g(u₁, u₂)\] for u₁, u₂ of variance q and correlation c, with kinks as breakpoints.
    fn expect2_at(&self, q: f64, c: f64, g: impl Fn(f64, f64) -> f64) -> f64 {
        let s = q.max(Q_TINY).sqrt();
        let breaks: Vec<f64> = self.activation.kinks().iter().map(|k| k / s).collect();
        gaussian::expect2(|u, v| g(s * u, s * v), c.clamp(-1.0, 1.0), &breaks)
    }

    /// The length map V(q) = σ_w² E\[φ(√q z)²\] + σ_b².
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    /// use nninit::theory::MeanField;
    ///
    /// let relu = MeanField::new(Activation::Relu, 2.0, 0.1)?;
    /// assert!((relu.length_map(3.0) - 3.1).abs() < 1e-12);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn length_map(&self, q: f64) -> f64 {
        let phi = self.activation;
        self.sigma_w2 * self.expect_at(q, |x| phi.eval(x).powi(2)) + self.sigma_b2
    }

    /// V′(q) = dV/dq = χ₁(q) + σ_w² E\[φ″(√q z) φ(√q z)\], kinks included (see the
    /// [module docs](self#kinks)). At q = q*, ξ_q = −1/log V′(q*).
    pub fn length_map_slope(&self, q: f64) -> f64 {
        let phi = self.activation;
        let smooth = self.expect_at(q, |x| phi.derivative(x).powi(2) + phi.eval(x) * phi.second_derivative(x));
        let s = q.max(Q_TINY).sqrt();
        let deltas: f64 =
            phi.kinks().iter().map(|&k| phi.eval(k) * derivative_jump(&phi, k) * gaussian::pdf(k / s) / s).sum();
        self.sigma_w2 * (smooth + deltas)
    }

    /// χ₁(q) = σ_w² E\[φ′(√q z)²\]; at q = q* the gradient growth per layer.
    pub fn chi1(&self, q: f64) -> f64 {
        let phi = self.activation;
        self.sigma_w2 * self.expect_at(q, |x| phi.derivative(x).powi(2))
    }

    /// The correlation map C(c) = \[σ_w² E\[φ(u₁)φ(u₂)\] + σ_b²\]/V(q) for pre-activations of
    /// second moment q and correlation c. At q = q*, V(q*) = q* and this is the map of
    /// Poole et al.; dividing by V(q) keeps C(1) = 1 everywhere (and gives the right
    /// limit as q* → 0).
    ///
    /// # Example
    ///
    /// For ReLU with σ_b² = 0 this is the normalized arc-cosine kernel:
    ///
    /// ```
    /// use nninit::activation::Activation;
    /// use nninit::theory::MeanField;
    /// use std::f64::consts::PI;
    ///
    /// let relu = MeanField::new(Activation::Relu, 2.0, 0.0)?;
    /// let c: f64 = 0.3;
    /// let kernel = ((1.0 - c * c).sqrt() + (PI - c.acos()) * c) / PI;
    /// assert!((relu.correlation_map(1.0, c) - kernel).abs() < 1e-11);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn correlation_map(&self, q: f64, c: f64) -> f64 {
        let phi = self.activation;
        let cross = self.expect2_at(q, c, |u, v| phi.eval(u) * phi.eval(v));
        (self.sigma_w2 * cross + self.sigma_b2) / self.length_map(q)
    }

    /// σ_w² E\[φ′(u₁)φ′(u₂)\] for pre-activations of second moment q and correlation c: at
    /// q = q* the slope C′(c), whose value at c* gives ξ_c = −1/log C′(c*).
    pub fn correlation_slope(&self, q: f64, c: f64) -> f64 {
        let phi = self.activation;
        self.sigma_w2 * self.expect2_at(q, c, |u, v| phi.derivative(u) * phi.derivative(v))
    }

    /// [`MeanField::correlation_map`] by the fast Mehler expansion of
    /// [`phase_diagram`] (see the [module docs](self#accuracy)): about 10⁻⁹ for smooth φ,
    /// 10⁻³ for kinked φ near c = 1, and 50 µs instead of milliseconds. For many
    /// correlations at one q, as in simulations.
    pub fn correlation_map_fast(&self, q: f64, c: f64) -> f64 {
        let (b2, tail) = fast::mehler(self, q);
        (self.sigma_w2 * fast::series(&b2, tail, c.clamp(-1.0, 1.0)) + self.sigma_b2) / fast::length(self, q).0
    }

    /// The fixed point of the length map reached from q⁰ = 1.
    pub fn fixed_point(&self) -> FixedPoint {
        self.fixed_point_from(1.0)
    }

    /// The fixed point of the length map reached from q⁰ (a non-finite or negative q⁰ is
    /// taken as 1).
    pub fn fixed_point_from(&self, q0: f64) -> FixedPoint {
        let zero_possible = self.sigma_b2 == 0.0 && self.activation.eval(0.0) == 0.0;
        let q0 = if q0.is_finite() && q0 >= 0.0 { q0 } else { 1.0 };
        let limits = Limits {
            zero: if zero_possible { Q_ZERO * q0.max(f64::MIN_POSITIVE) } else { -1.0 },
            max: Q_MAX * q0.max(1.0).max(self.sigma_w2).max(self.sigma_b2),
            tol: Q_TOL,
            scale: q0.max(1.0).max(self.sigma_b2),
        };
        solve_length(q0, limits, |q| (self.length_map(q), self.length_map_slope(q)))
    }

    /// The stable fixed point c* of the correlation map at length q: 1 unless χ₁(q) > 1,
    /// else the root of C(c) = c in \[0, 1), found by Brent's method.
    pub fn correlation_fixed_point(&self, q: f64) -> f64 {
        let chi1 = self.chi1(q) * q.max(Q_TINY) / self.length_map(q).max(f64::MIN_POSITIVE);
        if Phase::from_chi1(chi1) != Phase::Chaotic {
            return 1.0;
        }
        chaotic_c_star(|c| self.correlation_map(q, c) - c).unwrap_or(1.0)
    }

    /// The full analysis at the fixed point reached from q⁰ = 1: q*, χ₁, c*, ξ_q, ξ_c,
    /// the phase and the trainable depth. See the [module docs](self) for the
    /// degenerate cases. Never panics and never returns NaN.
    pub fn analyze(&self) -> Analysis {
        let fixed_point = self.fixed_point();
        let maps = Maps {
            chi1: |q| self.chi1(q),
            slope: |q| self.length_map_slope(q),
            cmap: |q, c| self.correlation_map(q, c),
            cslope: |q, c| self.correlation_slope(q, c),
        };
        self.analyze_with(fixed_point, &maps)
    }

    /// The analysis at `fixed_point`, with the maps evaluated by `maps`.
    fn analyze_with<A, B, C, D>(&self, fixed_point: FixedPoint, maps: &Maps<A, B, C, D>) -> Analysis
    where
        A: Fn(f64) -> f64,
        B: Fn(f64) -> f64,
        C: Fn(f64, f64) -> f64,
        D: Fn(f64, f64) -> f64,
    {
        let base = |q_star, chi1: f64, c_star, xi_q, xi_c, trainable_depth| Analysis {
            activation: self.activation,
            sigma_w2: self.sigma_w2,
            sigma_b2: self.sigma_b2,
            fixed_point,
            q_star,
            chi1,
            c_star,
            xi_q,
            xi_c,
            phase: Phase::from_chi1(chi1),
            gradient_growth: chi1,
            trainable_depth,
        };
        let q = match fixed_point {
            FixedPoint::Converged { q_star, .. } => q_star,
            FixedPoint::Diverges { q_last, .. } | FixedPoint::NotConverged { q_last } => {
                let chi1 = (maps.chi1)(q_last);
                let depth = TRAINABLE_DEPTH_PER_XI * depth_scale(chi1);
                return base(None, chi1, None, None, None, depth);
            }
        };
        let chi1 = (maps.chi1)(q);
        let xi_q = depth_scale_decay((maps.slope)(q));
        let (c_star, slope) = if Phase::from_chi1(chi1) == Phase::Chaotic {
            match chaotic_c_star(|c| (maps.cmap)(q, c) - c) {
                Some(c_star) => (c_star, (maps.cslope)(q, c_star)),
                // C(c) − c too small to resolve: χ₁ barely above 1, C′(c*) ≈ 2 − χ₁.
                None => (1.0, 2.0 - chi1),
            }
        } else {
            (1.0, chi1)
        };
        let xi_c = depth_scale_decay(slope);
        base(Some(q), chi1, Some(c_star), Some(xi_q), Some(xi_c), TRAINABLE_DEPTH_PER_XI * xi_c)
    }

    /// The edge of chaos at σ_b²: the σ_w² with χ₁(q*) = 1, or `None` if χ₁ does not
    /// cross 1 for σ_w² in (0, 10⁴\] (σ_w² is searched on a doubling grid from 1/64, then
    /// refined by Brent's method to 10⁻¹² relative). The length iteration starts at q⁰ = 1;
    /// where it diverges χ₁ is taken at q → ∞, so for ReLU the edge is σ_w² = 2 for every
    /// σ_b².
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for a negative or
    /// non-finite σ_b².
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    /// use nninit::theory::MeanField;
    ///
    /// let edge = MeanField::edge_of_chaos(Activation::Tanh, 0.05)?.unwrap();
    /// assert!((edge - 1.760_955).abs() < 1e-6);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn edge_of_chaos(activation: Activation, sigma_b2: f64) -> Result<Option<f64>> {
        let sigma_b2 = error::non_negative("sigma_b2", sigma_b2)?;
        let log_chi = |w: f64| -> f64 {
            let mf = MeanField { activation, sigma_w2: w, sigma_b2 };
            let q = match mf.fixed_point() {
                FixedPoint::Converged { q_star, .. } => q_star,
                FixedPoint::Diverges { q_last, .. } | FixedPoint::NotConverged { q_last } => q_last,
            };
            mf.chi1(q).ln()
        };
        Ok(find_edge(log_chi))
    }

    /// The edge of chaos for each σ_b² (see [`MeanField::edge_of_chaos`]), in parallel.
    ///
    /// # Errors
    ///
    /// As [`MeanField::edge_of_chaos`].
    pub fn edge_of_chaos_curve(activation: Activation, sigma_b2: &[f64]) -> Result<Vec<(f64, Option<f64>)>> {
        for &b in sigma_b2 {
            error::non_negative("sigma_b2", b)?;
        }
        Ok(sigma_b2.par_iter().map(|&b| (b, Self::edge_of_chaos(activation, b).ok().flatten())).collect())
    }
}

/// The four maps an analysis needs: χ₁(q), V′(q), C(q, c) and C′(q, c).
struct Maps<A, B, C, D> {
    chi1: A,
    slope: B,
    cmap: C,
    cslope: D,
}

/// The jump φ′(k⁺) − φ′(k⁻) of φ′ at a kink k, by a Richardson step (error O(h²)).
fn derivative_jump(phi: &Activation, k: f64) -> f64 {
    let h = 1e-5 * k.abs().max(1.0);
    let plain = phi.derivative(k + h) - phi.derivative(k - h);
    plain - h * (phi.second_derivative(k + h) + phi.second_derivative(k - h))
}

/// −1/log s for a per-layer contraction s ∈ (0, 1); ∞ when s ≥ 1 − tolerance.
fn depth_scale_decay(s: f64) -> f64 {
    let log = s.ln();
    if log < -CRITICAL_TOLERANCE { -1.0 / log } else { f64::INFINITY }
}

/// 1/|log χ| (∞ at χ = 1 within the tolerance): the depth over which χ^L changes by e.
fn depth_scale(chi: f64) -> f64 {
    let log = chi.ln().abs();
    if log > CRITICAL_TOLERANCE { 1.0 / log } else { f64::INFINITY }
}

/// The bounds of the length iteration.
#[derive(Clone, Copy, Debug)]
struct Limits {
    /// Below this the length is taken to be 0 (negative where 0 is no fixed point).
    zero: f64,
    /// Above this it diverges.
    max: f64,
    /// Relative accuracy wanted for q*.
    tol: f64,
    /// The scale of the problem, max(1, q⁰, σ_b²).
    scale: f64,
}

/// Iterates q ← V(q) from q0 with safeguarded Newton acceleration; `eval(q)` = (V, V′).
///
/// V is increasing, so the plain step V(q) stays on the same side of the nearest fixed
/// point. A Newton step q + g/(1 − V′) (g = V(q) − q) beyond it is taken only if it moves
/// at most a factor 4 and g keeps its sign there; if the sign flips, the fixed point is
/// bracketed and Brent's method finishes. Without local contraction (V′ ≥ 1) and with g > 0
/// the step is a factor 4 up, which finds divergence in about 20 steps.
fn solve_length(q0: f64, limits: Limits, eval: impl Fn(f64) -> (f64, f64)) -> FixedPoint {
    let mut q = q0;
    for steps in 1..=MAX_STEPS {
        let (v, dv) = eval(q);
        if !v.is_finite() || v > limits.max {
            let growth = if q > 0.0 && v.is_finite() { v / q } else { f64::INFINITY };
            return FixedPoint::Diverges { q_last: q, growth };
        }
        if v <= limits.zero {
            return FixedPoint::Converged { q_star: 0.0, steps };
        }
        let g = v - q;
        if g == 0.0 || g.abs() <= limits.tol * v * (1.0 - dv).max(0.0) {
            return FixedPoint::Converged { q_star: v, steps };
        }
        if g.abs() <= NOISE * v {
            // V(q) = q to the accuracy of the integrals.
            // Converged, unless the map is marginal (V′ ≈ 1) and the length has already
            // drifted far from where it started (slow, sub-geometric growth).
            let drifted = v > 1e6 * limits.scale;
            return if dv <= 1.0 - 1e-6 || !drifted {
                FixedPoint::Converged { q_star: v, steps }
            } else {
                FixedPoint::NotConverged { q_last: v }
            };
        }
        let up = g > 0.0;
        let proposal = if dv < 1.0 {
            q + g / (1.0 - dv)
        } else if up {
            16.0 * v
        } else {
            v
        };
        // Without contraction (V′ ≥ 1) the length is heading for divergence: bigger steps.
        let cap = if dv < 1.0 { 4.0 } else { 16.0 };
        let proposal = if up { proposal.min(cap * v) } else { proposal.max(0.25 * v) };
        let beyond = if up { proposal > v } else { proposal < v };
        if !beyond {
            q = v;
            continue;
        }
        let (vp, _) = eval(proposal);
        if !vp.is_finite() || vp > limits.max {
            q = proposal;
            continue;
        }
        let gp = vp - proposal;
        if gp == 0.0 {
            return FixedPoint::Converged { q_star: proposal, steps };
        }
        if (gp > 0.0) == up {
            q = proposal;
            continue;
        }
        // Bracketed between q and the proposal.
        let root = brent(|x| eval(x).0 - x, q, proposal, g, gp, 0.01 * limits.tol * proposal, 1e-4 * limits.tol * v);
        return FixedPoint::Converged { q_star: root, steps };
    }
    FixedPoint::NotConverged { q_last: q }
}

/// The stable fixed point c* ∈ \[0, 1) of a correlation map in the chaotic phase, from
/// h(c) = C(c) − c: h(0) ≥ 0 and h < 0 just below 1. `None` if no sign change is found
/// within 10⁻⁸ of 1.
fn chaotic_c_star(h: impl Fn(f64) -> f64) -> Option<f64> {
    let h0 = h(0.0);
    if h0 <= 0.0 {
        return Some(0.0);
    }
    let mut delta = 0.5;
    while delta >= 1e-8 {
        let hi = 1.0 - delta;
        let hh = h(hi);
        if hh < 0.0 {
            // Narrow the bracket from below with the last point that had h ≥ 0.
            let lo = if delta < 0.5 { 1.0 - 10.0 * delta } else { 0.0 };
            let hl = if lo == 0.0 { h0 } else { h(lo) };
            let (lo, hl) = if hl >= 0.0 { (lo, hl) } else { (0.0, h0) };
            return Some(brent(&h, lo, hi, hl, hh, 1e-13, 1e-16));
        }
        delta = if delta == 0.5 { 0.1 } else { delta / 10.0 };
    }
    None
}

/// The σ_w² where `log_chi(σ_w²)` crosses 0, on a doubling grid from 1/64 to 10⁴, then
/// refined by Brent's method.
fn find_edge(log_chi: impl Fn(f64) -> f64) -> Option<f64> {
    let mut lo = 1.0 / 64.0;
    let mut f_lo = log_chi(lo);
    if f_lo.abs() <= 1e-14 {
        return Some(lo);
    }
    while lo < 1e4 {
        let hi = 2.0 * lo;
        let f_hi = log_chi(hi);
        if f_hi == 0.0 {
            return Some(hi);
        }
        if (f_lo < 0.0) != (f_hi < 0.0) {
            return Some(brent(&log_chi, lo, hi, f_lo, f_hi, 1e-13 * hi, 1e-15));
        }
        lo = hi;
        f_lo = f_hi;
    }
    None
}

/// Brent's root finder on \[a, b\] with f(a)·f(b) < 0 given (Brent 1973, as in
/// Numerical Recipes' `zbrent`): stops when the bracket is below `xtol` or |f| ≤ `ftol`.
#[allow(clippy::too_many_arguments)]
fn brent(f: impl Fn(f64) -> f64, a: f64, b: f64, fa: f64, fb: f64, xtol: f64, ftol: f64) -> f64 {
    let (mut a, mut b, mut fa, mut fb) = (a, b, fa, fb);
    let (mut c, mut fc) = (b, fb);
    let (mut d, mut e) = (b - a, b - a);
    for _ in 0..200 {
        if (fb > 0.0) == (fc > 0.0) {
            (c, fc) = (a, fa);
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            (a, fa) = (b, fb);
            (b, fb) = (c, fc);
            (c, fc) = (a, fa);
        }
        let tol = 2.0 * f64::EPSILON * b.abs() + 0.5 * xtol;
        let m = 0.5 * (c - b);
        if m.abs() <= tol || fb.abs() <= ftol {
            return b;
        }
        if e.abs() >= tol && fa.abs() > fb.abs() {
            let s = fb / fa;
            let (mut p, mut q) = if a == c {
                (2.0 * m * s, 1.0 - s)
            } else {
                let (qa, r) = (fa / fc, fb / fc);
                (s * (2.0 * m * qa * (qa - r) - (b - a) * (r - 1.0)), (qa - 1.0) * (r - 1.0) * (s - 1.0))
            };
            if p > 0.0 {
                q = -q;
            }
            p = p.abs();
            if 2.0 * p < (3.0 * m * q - (tol * q).abs()).min((e * q).abs()) {
                e = d;
                d = p / q;
            } else {
                d = m;
                e = d;
            }
        } else {
            d = m;
            e = d;
        }
        (a, fa) = (b, fb);
        b += if d.abs() > tol { d } else { tol.copysign(m) };
        fb = f(b);
        if !fb.is_finite() {
            return a;
        }
    }
    b
}

/// What to initialize with for an activation and a depth: see
/// [`Recommendation::for_depth`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// The activation.
    pub activation: Activation,
    /// The depth asked for.
    pub depth: usize,
    /// σ_w², the weight variance times fan-in.
    pub sigma_w2: f64,
    /// σ_b², the bias variance.
    pub sigma_b2: f64,
    /// The weight rule: variance scaling with scale σ_w², fan_in, normal.
    pub weight_init: Init,
    /// The bias rule: N(0, σ_b²), or zeros when σ_b² = 0.
    pub bias_init: Init,
    /// The theory at the recommended point.
    pub analysis: Analysis,
    /// The smallest ξ_c over σ_w² · (1 ± 1%): how much depth survives a 1% error in the
    /// weight variance (finite width, sampling error, a rounded constant).
    pub robust_xi_c: f64,
    /// Why this point, in one sentence.
    pub reason: &'static str,
}

/// The σ_b² candidates [`Recommendation::for_depth`] tries, largest first.
const BIAS_CANDIDATES: [f64; 8] = [0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 5e-4, 1e-4];

/// The relative error in σ_w² a recommendation must tolerate.
const ROBUSTNESS: f64 = 0.01;

impl Recommendation {
    /// The (σ_w², σ_b²) and nninit init rules for a network of `depth` layers.
    ///
    /// - **ReLU family and linear** (positively homogeneous φ): the He point
    ///   σ_w² = 2/(1 + a²) (1 for linear), σ_b² = 0, where χ₁ = 1 and q is preserved
    ///   exactly.
    /// - **Every other activation**: a point on the edge of chaos (χ₁ = 1, so ξ_c = ∞). Of
    ///   the σ_b² in {0.05, 0.02, 0.01, …, 10⁻⁴}, the largest for which σ_w² off by ±1%
    ///   still gives ξ_c ≥ `depth` is chosen: a larger σ_b² keeps q* away from 0 (the
    ///   network stays nonlinear), a smaller one widens the critical window. If none
    ///   qualifies (very deep networks), the smallest, 10⁻⁴, is used, and
    ///   [`robust_xi_c`](Self::robust_xi_c) says how much depth a 1% error leaves.
    /// - If there is no edge (never for activations nninit knows), the second-moment gain
    ///   with σ_b² = 0.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for `depth` = 0.
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    /// use nninit::theory::Recommendation;
    ///
    /// let he = Recommendation::for_depth(Activation::Relu, 50)?;
    /// assert_eq!((he.sigma_w2, he.sigma_b2), (2.0, 0.0));
    ///
    /// let tanh = Recommendation::for_depth(Activation::Tanh, 50)?;
    /// assert!(tanh.sigma_b2 > 0.0 && tanh.robust_xi_c >= 50.0);
    /// assert!((tanh.analysis.chi1 - 1.0).abs() < 1e-9);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn for_depth(activation: Activation, depth: usize) -> Result<Self> {
        if depth == 0 {
            return Err(crate::Error::InvalidParameter { name: "depth", value: 0.0, expected: "at least 1" });
        }
        let homogeneous = match activation {
            Activation::Linear => Some(1.0),
            Activation::Relu => Some(2.0),
            Activation::LeakyRelu { negative_slope, .. } => Some(2.0 / (1.0 + negative_slope * negative_slope)),
            _ => None,
        };
        if let Some(sigma_w2) = homogeneous {
            let reason = "positively homogeneous activation: the He point, χ₁ = 1 and the length is preserved exactly";
            return Self::build(activation, depth, sigma_w2, 0.0, reason);
        }
        let mut fallback = None;
        for (i, &b) in BIAS_CANDIDATES.iter().enumerate() {
            let Some(w) = MeanField::edge_of_chaos(activation, b)? else { continue };
            let robust = robust_xi_c(activation, w, b);
            if robust >= depth as f64 {
                let reason =
                    "edge of chaos (χ₁ = 1) with the largest σ_b² whose ξ_c stays ≥ depth when σ_w² is off by 1%";
                return Self::build(activation, depth, w, b, reason);
            }
            if i == BIAS_CANDIDATES.len() - 1 {
                fallback = Some((w, b));
            }
        }
        if let Some((w, b)) = fallback {
            let reason =
                "edge of chaos (χ₁ = 1) with σ_b² = 1e-4; deeper than a 1% error in σ_w² allows, so set σ_w² precisely";
            return Self::build(activation, depth, w, b, reason);
        }
        let w = activation.second_moment_gain().powi(2);
        Self::build(activation, depth, w, 0.0, "no edge of chaos found: the second-moment gain, σ_b² = 0")
    }

    fn build(activation: Activation, depth: usize, sigma_w2: f64, sigma_b2: f64, reason: &'static str) -> Result<Self> {
        let analysis = MeanField::new(activation, sigma_w2, sigma_b2)?.analyze();
        let weight_init = Init::VarianceScaling(VarianceScaling::new(sigma_w2, FanMode::FanIn, Distribution::Normal)?);
        let bias_init = if sigma_b2 == 0.0 { Init::Zeros } else { Init::Normal(Normal::new(0.0, sigma_b2.sqrt())?) };
        let robust_xi_c = robust_xi_c(activation, sigma_w2, sigma_b2);
        Ok(Self { activation, depth, sigma_w2, sigma_b2, weight_init, bias_init, analysis, robust_xi_c, reason })
    }
}

/// The smaller ξ_c (the gradient depth scale where the length diverges) at σ_w²·(1 ± 1%).
fn robust_xi_c(activation: Activation, sigma_w2: f64, sigma_b2: f64) -> f64 {
    [1.0 - ROBUSTNESS, 1.0 + ROBUSTNESS]
        .iter()
        .map(|f| {
            let a = MeanField { activation, sigma_w2: sigma_w2 * f, sigma_b2 }.analyze();
            a.xi_c.unwrap_or(a.trainable_depth / TRAINABLE_DEPTH_PER_XI)
        })
        .fold(f64::INFINITY, f64::min)
}

/// ξ_c over a grid of (σ_w², σ_b²): see [`phase_diagram`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PhaseDiagram {
    /// The activation.
    pub activation: Activation,
    /// The σ_w² of the columns, increasing.
    pub sigma_w2: Vec<f64>,
    /// The σ_b² of the rows, increasing.
    pub sigma_b2: Vec<f64>,
    /// ξ_c at (row i, column j) in element `i * sigma_w2.len() + j`: `None` where the
    /// length diverges, ∞ at the edge.
    pub xi_c: Vec<Option<f64>>,
    /// χ₁ at each point, same order.
    pub chi1: Vec<f64>,
}

impl PhaseDiagram {
    /// ξ_c at row `i` (σ_b²) and column `j` (σ_w²).
    ///
    /// # Panics
    ///
    /// If `i` or `j` is out of range.
    pub fn xi_c_at(&self, i: usize, j: usize) -> Option<f64> {
        assert!(j < self.sigma_w2.len(), "column {j} out of range");
        self.xi_c[i * self.sigma_w2.len() + j]
    }
}

/// ξ_c (and χ₁) over every (σ_w², σ_b²) of the grid `sigma_w2` × `sigma_b2`, in parallel
/// over rows with rayon.
///
/// Uses the fast, fixed-rule evaluation described in the [module docs](self#accuracy):
/// about 10⁻⁶ relative for smooth activations, 10⁻³ for kinked ones. A 100 × 100 grid for
/// tanh takes well under a second in a release build.
///
/// # Errors
///
/// [`Error::InvalidParameter`](crate::Error::InvalidParameter) if a σ_w² is not finite and
/// > 0, or a σ_b² is negative or not finite.
///
/// # Example
///
/// ```
/// use nninit::activation::Activation;
/// use nninit::theory::phase_diagram;
///
/// let d = phase_diagram(Activation::Tanh, &[0.5, 1.5, 3.0], &[0.0, 0.05])?;
/// assert!(d.xi_c_at(0, 0).unwrap() < 2.0); // deep in the ordered phase
/// assert!(d.chi1[2] > 1.0); // σ_w² = 3, σ_b² = 0: chaotic
/// # Ok::<(), nninit::Error>(())
/// ```
pub fn phase_diagram(activation: Activation, sigma_w2: &[f64], sigma_b2: &[f64]) -> Result<PhaseDiagram> {
    for &w in sigma_w2 {
        error::positive("sigma_w2", w)?;
    }
    for &b in sigma_b2 {
        error::non_negative("sigma_b2", b)?;
    }
    let rows: Vec<Vec<(Option<f64>, f64)>> = sigma_b2
        .par_iter()
        .map(|&b| {
            sigma_w2
                .iter()
                .map(|&w| {
                    let a = fast::analyze(&MeanField { activation, sigma_w2: w, sigma_b2: b });
                    (a.xi_c, a.chi1)
                })
                .collect()
        })
        .collect();
    let (xi_c, chi1) = rows.into_iter().flatten().unzip();
    Ok(PhaseDiagram { activation, sigma_w2: sigma_w2.to_vec(), sigma_b2: sigma_b2.to_vec(), xi_c, chi1 })
}

/// The fixed-rule evaluation behind [`phase_diagram`].
mod fast {
    use super::*;

    /// Gauss–Legendre nodes and weights on \[−1, 1\], 12 points.
    #[allow(clippy::excessive_precision)]
    const GL_NODES: [f64; 6] = [
        0.125_233_408_511_468_915_472_441_369_464,
        0.367_831_498_998_180_193_752_691_536_644,
        0.587_317_954_286_617_447_296_702_418_941,
        0.769_902_674_194_304_687_036_893_833_213,
        0.904_117_256_370_474_856_678_465_866_119,
        0.981_560_634_246_719_250_690_549_090_149,
    ];
    #[allow(clippy::excessive_precision)]
    const GL_WEIGHTS: [f64; 6] = [
        0.249_147_045_813_402_785_000_562_436_043,
        0.233_492_536_538_354_808_760_849_898_925,
        0.203_167_426_723_065_921_749_064_455_810,
        0.160_078_328_543_346_226_334_652_529_543,
        0.106_939_325_995_318_430_960_254_718_194,
        0.047_175_336_386_511_827_194_615_961_485,
    ];

    /// Half-width of the domain; ϕ(9) ≈ 1.0 · 10⁻¹⁸.
    const HALF_WIDTH: f64 = 9.0;
    /// Hermite terms kept in the Mehler expansion.
    pub(super) const TERMS: usize = 80;

    /// A fixed rule for E\[g(z)\]: nodes z and weights (with the density ϕ folded in).
    #[derive(Clone, Debug)]
    pub(super) struct Rule {
        pub(super) z: Vec<f64>,
        pub(super) w: Vec<f64>,
    }

    impl Rule {
        /// Composite 12-point Gauss–Legendre on \[−9, 9\] in panels of width `panel`, with
        /// panel ends also at the breakpoints.
        pub(super) fn new(breakpoints: &[f64], panel: f64) -> Self {
            let n = (2.0 * HALF_WIDTH / panel).round() as usize;
            let mut ends: Vec<f64> = (0..=n).map(|i| -HALF_WIDTH + panel * i as f64).collect();
            ends.extend(breakpoints.iter().copied().filter(|b| b.abs() < HALF_WIDTH));
            ends.sort_by(f64::total_cmp);
            ends.dedup();
            let mut z = Vec::with_capacity(12 * ends.len());
            let mut w = Vec::with_capacity(12 * ends.len());
            for pair in ends.windows(2) {
                let (mid, half) = (0.5 * (pair[0] + pair[1]), 0.5 * (pair[1] - pair[0]));
                for (x, wt) in GL_NODES.iter().zip(GL_WEIGHTS) {
                    for s in [-1.0, 1.0] {
                        let node = mid + s * half * x;
                        z.push(node);
                        w.push(half * wt * gaussian::pdf(node));
                    }
                }
            }
            Self { z, w }
        }

        /// E\[g(z)\].
        pub(super) fn expect(&self, g: impl Fn(f64) -> f64) -> f64 {
            self.z.iter().zip(&self.w).map(|(&z, &w)| w * g(z)).sum()
        }
    }

    use std::borrow::Cow;
    use std::sync::OnceLock;

    /// Relative accuracy of q* in the fast path.
    const FAST_TOL: f64 = 1e-8;

    /// The rule for φ at length q: panels of width 1, ½ or ¼ so that a feature of φ of
    /// width 1 (φ(√q z) varies on the scale 1/√q in z) spans at least about 1.5 panels,
    /// with breakpoints at the kinks of φ(√q z). Rules without extra breakpoints are
    /// shared.
    pub(super) fn rule(mf: &MeanField, q: f64) -> Cow<'static, Rule> {
        static SHARED: [OnceLock<Rule>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let level = if q <= 2.25 {
            0
        } else if q <= 9.0 {
            1
        } else {
            2
        };
        let panel = [1.0, 0.5, 0.25][level];
        let s = q.max(Q_TINY).sqrt();
        let breaks: Vec<f64> = mf
            .activation
            .kinks()
            .iter()
            .map(|k| k / s)
            .filter(|b| b.abs() < HALF_WIDTH && (b / panel).fract() != 0.0)
            .collect();
        if breaks.is_empty() {
            return Cow::Borrowed(SHARED[level].get_or_init(|| Rule::new(&[], panel)));
        }
        Cow::Owned(Rule::new(&breaks, panel))
    }

    /// (φ, φ′, φ″) at x, with one `tanh` for tanh.
    fn triple(phi: &Activation, x: f64) -> (f64, f64, f64) {
        if let Activation::Tanh = phi {
            let t = libm::tanh(x);
            let d = 1.0 - t * t;
            return (t, d, -2.0 * t * d);
        }
        (phi.eval(x), phi.derivative(x), phi.second_derivative(x))
    }

    /// (V(q), V′(q)) by the fixed rule.
    pub(super) fn length(mf: &MeanField, q: f64) -> (f64, f64) {
        let phi = mf.activation;
        let s = q.max(Q_TINY).sqrt();
        let r = rule(mf, q);
        let (mut v, mut dv) = (0.0, 0.0);
        for (&z, &w) in r.z.iter().zip(&r.w) {
            let x = s * z;
            let (f, d, d2) = triple(&phi, x);
            v += w * f * f;
            dv += w * (d * d + f * d2);
        }
        let deltas: f64 =
            phi.kinks().iter().map(|&k| phi.eval(k) * derivative_jump(&phi, k) * gaussian::pdf(k / s) / s).sum();
        (mf.sigma_w2 * v + mf.sigma_b2, mf.sigma_w2 * (dv + deltas))
    }

    /// Σ_k b_k² c^k plus the tail beyond [`TERMS`] (known in total at c = 1) times c^TERMS.
    pub(super) fn series(b2: &[f64; TERMS], tail: f64, c: f64) -> f64 {
        let head = b2.iter().rev().fold(0.0, |acc, &b| acc * c + b);
        head + tail * c.powi(TERMS as i32)
    }

    /// The Mehler coefficients b_k² = E\[φ(√q z) h_k(z)\]², k < [`TERMS`], and the tail
    /// E\[φ(√q z)²\] − Σ b_k² (≥ 0).
    pub(super) fn mehler(mf: &MeanField, q: f64) -> ([f64; TERMS], f64) {
        let phi = mf.activation;
        let s = q.max(Q_TINY).sqrt();
        let r = rule(mf, q);
        let mut b = [0.0; TERMS];
        let mut second = 0.0;
        let sqrt: [f64; TERMS] = std::array::from_fn(|k| (k as f64).sqrt());
        for (&z, &w) in r.z.iter().zip(&r.w) {
            let f = phi.eval(s * z) * w;
            second += f * phi.eval(s * z);
            let (mut h0, mut h1) = (1.0, z);
            b[0] += f;
            b[1] += f * z;
            for k in 1..TERMS - 1 {
                let h2 = (z * h1 - sqrt[k] * h0) / sqrt[k + 1];
                b[k + 1] += f * h2;
                h0 = h1;
                h1 = h2;
            }
        }
        let b2 = b.map(|x| x * x);
        let tail = (second - b2.iter().sum::<f64>()).max(0.0);
        (b2, tail)
    }

    /// [`MeanField::analyze`] with the fixed rule and the Mehler expansion.
    pub(super) fn analyze(mf: &MeanField) -> Analysis {
        let zero_possible = mf.sigma_b2 == 0.0 && mf.activation.eval(0.0) == 0.0;
        let limits = Limits {
            zero: if zero_possible { Q_ZERO } else { -1.0 },
            max: Q_MAX * mf.sigma_w2.max(mf.sigma_b2).max(1.0),
            tol: FAST_TOL,
            scale: mf.sigma_b2.max(1.0),
        };
        let fixed_point = solve_length(1.0, limits, |q| length(mf, q));
        let chi1 = |q: f64| {
            let s = q.max(Q_TINY).sqrt();
            mf.sigma_w2 * rule(mf, q).expect(|z| mf.activation.derivative(s * z).powi(2))
        };
        let q = match fixed_point {
            FixedPoint::Converged { q_star, .. } => q_star,
            _ => {
                let maps = Maps { chi1, slope: |_| 0.0, cmap: |_, _| 0.0, cslope: |_, _| 0.0 };
                return mf.analyze_with(fixed_point, &maps);
            }
        };
        let (b2, tail) = mehler(mf, q);
        let v = length(mf, q).0;
        let cmap = move |_: f64, c: f64| (mf.sigma_w2 * series(&b2, tail, c) + mf.sigma_b2) / v;
        // σ_w² E[φ′(u₁)φ′(u₂)] = σ_w²/q Σ (k+1) b_{k+1}² c^k.
        let qq = q.max(Q_TINY);
        let cslope = move |_: f64, c: f64| {
            let series = (0..TERMS - 1).rev().fold(0.0, |acc, k| acc * c + (k + 1) as f64 * b2[k + 1]);
            mf.sigma_w2 * series / qq
        };
        let maps = Maps { chi1, slope: |q| length(mf, q).1, cmap, cslope };
        mf.analyze_with(fixed_point, &maps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn act(name: &str) -> Activation {
        Activation::parse(name, None).unwrap()
    }

    fn mf(name: &str, w: f64, b: f64) -> MeanField {
        MeanField::new(act(name), w, b).unwrap()
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    /// The normalized arc-cosine kernel E[relu(u)relu(v)]/E[relu²] at correlation c.
    fn arccos(c: f64) -> f64 {
        ((1.0 - c * c).sqrt() + (PI - c.acos()) * c) / PI
    }

    #[test]
    fn invalid_parameters() {
        for (w, b, name) in [
            (0.0, 0.0, "sigma_w2"),
            (-1.0, 0.0, "sigma_w2"),
            (f64::NAN, 0.0, "sigma_w2"),
            (1.0, -0.1, "sigma_b2"),
            (1.0, f64::INFINITY, "sigma_b2"),
        ] {
            match MeanField::new(Activation::Tanh, w, b) {
                Err(crate::Error::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
                other => panic!("({w}, {b}): {other:?}"),
            }
        }
        assert!(MeanField::edge_of_chaos(Activation::Tanh, -1.0).is_err());
        assert!(phase_diagram(Activation::Tanh, &[f64::NAN], &[0.0]).is_err());
        assert!(Recommendation::for_depth(Activation::Tanh, 0).is_err());
    }

    #[test]
    fn relu_closed_forms() {
        // V(q) = σ_w² q/2 + σ_b², χ₁ = σ_w²/2 for every q; V′ = χ₁ (the kink term vanishes).
        let m = mf("relu", 1.3, 0.2);
        for q in [1e-3, 0.5, 1.0, 7.0] {
            assert!(close(m.length_map(q), 0.65 * q + 0.2, 1e-12));
            assert!(close(m.chi1(q), 0.65, 1e-12));
            assert!(close(m.length_map_slope(q), 0.65, 1e-12));
        }
        // q* = σ_b²/(1 − σ_w²/2).
        let FixedPoint::Converged { q_star, .. } = m.fixed_point() else { panic!() };
        assert!(close(q_star, 0.2 / 0.35, 1e-11));
        // σ_b = 0: q* = 0 below the He point, q preserved at it, divergence above.
        assert_eq!(
            mf("relu", 1.5, 0.0).fixed_point().clone(),
            match mf("relu", 1.5, 0.0).fixed_point() {
                FixedPoint::Converged { q_star: 0.0, steps } => FixedPoint::Converged { q_star: 0.0, steps },
                other => panic!("{other:?}"),
            }
        );
        let FixedPoint::Converged { q_star, .. } = mf("relu", 2.0, 0.0).fixed_point_from(3.0) else { panic!() };
        assert!(close(q_star, 3.0, 1e-12));
        let FixedPoint::Diverges { growth, .. } = mf("relu", 2.5, 0.0).fixed_point() else { panic!() };
        assert!(close(growth, 1.25, 1e-9));
        assert!(matches!(
            mf("relu", 2.0, 0.1).fixed_point(),
            FixedPoint::Diverges { .. } | FixedPoint::NotConverged { .. }
        ));
        // Softplus at σ_w² = 2: q grows like l^(2/3), V(q) − q → 0: marginal.
        assert!(matches!(mf("softplus", 2.0, 0.0).fixed_point(), FixedPoint::NotConverged { .. }));
    }

    #[test]
    fn relu_correlation_map_is_the_arccos_kernel() {
        let m = mf("relu", 2.0, 0.0);
        for c in [-0.9, -0.3, 0.0, 0.4, 0.9, 0.999, 1.0] {
            assert!((m.correlation_map(1.0, c) - arccos(c)).abs() < 1e-11, "{c}");
            // C′(c) = σ_w² E[relu′ relu′] = (π − arccos c)/π at σ_w² = 2.
            assert!((m.correlation_slope(1.0, c) - (PI - c.acos()) / PI).abs() < 1e-11, "{c}");
            assert!((m.correlation_map_fast(1.0, c) - arccos(c)).abs() < 2e-3, "{c}");
        }
        // With a bias: (σ_w² q κ(c)/2 + σ_b²)/q*, q* = 1 at σ_w² = 1, σ_b² = 0.5.
        let m = mf("relu", 1.0, 0.5);
        let c = 0.3;
        assert!((m.correlation_map(1.0, c) - (0.5 * arccos(c) + 0.5)).abs() < 1e-11);
    }

    #[test]
    fn leaky_relu_closed_forms() {
        let a = 0.2;
        let m = MeanField::new(Activation::leaky_relu(a).unwrap(), 1.0, 0.0).unwrap();
        assert!(close(m.chi1(0.7), (1.0 + a * a) / 2.0, 1e-12));
        assert!(close(m.length_map(0.7), 0.7 * (1.0 + a * a) / 2.0, 1e-12));
        let rec = Recommendation::for_depth(Activation::leaky_relu(a).unwrap(), 10).unwrap();
        assert!(close(rec.sigma_w2, 2.0 / (1.0 + a * a), 1e-15));
        assert_eq!(rec.analysis.phase, Phase::Critical);
    }

    #[test]
    fn slope_of_the_length_map_matches_finite_differences() {
        // Kinked (delta terms) and smooth activations alike.
        for name in
            ["tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "hardtanh", "sin", "sigmoid", "softplus"]
        {
            let m = mf(name, 1.7, 0.1);
            for q in [0.3, 1.0, 2.5] {
                let h = 1e-4 * q;
                let fd = (m.length_map(q + h) - m.length_map(q - h)) / (2.0 * h);
                let slope = m.length_map_slope(q);
                assert!((slope - fd).abs() < 1e-7 * (1.0 + slope.abs()), "{name} q = {q}: {slope} vs {fd}");
            }
        }
        // Hardtanh: the delta terms are −2ϕ(1/√q)/√q · σ_w²; without them V′ would be χ₁.
        let m = mf("hardtanh", 1.0, 0.0);
        let q: f64 = 2.0;
        let want = m.chi1(q) - 2.0 * gaussian::pdf(1.0 / q.sqrt()) / q.sqrt();
        assert!(close(m.length_map_slope(q), want, 1e-10));
    }

    #[test]
    fn smooth_integrals_against_closed_forms() {
        // sin: E[sin²(√q z)] = (1 − e^(−2q))/2, E[cos²] = (1 + e^(−2q))/2.
        let m = mf("sin", 1.5, 0.1);
        for q in [0.2, 1.0, 3.0] {
            assert!(close(m.length_map(q), 1.5 * (1.0 - (-2.0 * q).exp()) / 2.0 + 0.1, 1e-12));
            assert!(close(m.chi1(q), 1.5 * (1.0 + (-2.0 * q).exp()) / 2.0, 1e-12));
        }
        // Linear: C(c) = (σ_w² q c + σ_b²)/(σ_w² q + σ_b²).
        let m = mf("linear", 0.8, 0.3);
        for c in [-0.5, 0.2, 0.95] {
            assert!(close(m.correlation_map(1.2, c), (0.96 * c + 0.3) / 1.26, 1e-11));
        }
    }

    #[test]
    fn tanh_gain_five_thirds_is_chaotic() {
        let a = mf("tanh", 25.0 / 9.0, 0.0).analyze();
        assert_eq!(a.phase, Phase::Chaotic);
        assert!(close(a.q_star.unwrap(), 1.178_480_490_385_9, 1e-9), "{a:?}");
        assert!(close(a.chi1, 1.209_831_320_382_8, 1e-9));
        assert_eq!(a.c_star, Some(0.0));
        assert!(close(a.xi_c.unwrap(), 12.117_896_554_588, 1e-7));
    }

    #[test]
    fn tanh_edge_of_chaos() {
        // σ_b² = 0: σ_w² = 1 with q* = 0 (the linear regime of tanh).
        let edge = MeanField::edge_of_chaos(Activation::Tanh, 0.0).unwrap().unwrap();
        assert!(close(edge, 1.0, 1e-9), "{edge}");
        // σ_b² = 0.05: ≈ 1.76 (Schoenholz et al. 2017, Figure 1); χ₁ = 1 there to 10⁻¹⁰.
        let edge = MeanField::edge_of_chaos(Activation::Tanh, 0.05).unwrap().unwrap();
        assert!(close(edge, 1.760_954_639_612, 1e-9), "{edge}");
        let a = mf("tanh", edge, 0.05).analyze();
        assert!((a.chi1 - 1.0).abs() < 1e-10);
        assert_eq!(a.phase, Phase::Critical);
        assert_eq!(a.trainable_depth, f64::INFINITY);
        // Either side of the edge.
        assert_eq!(mf("tanh", 1.7, 0.05).analyze().phase, Phase::Ordered);
        assert_eq!(mf("tanh", 1.8, 0.05).analyze().phase, Phase::Chaotic);
        // ReLU: 2 for every σ_b².
        for b in [0.0, 0.1] {
            assert!(close(MeanField::edge_of_chaos(Activation::Relu, b).unwrap().unwrap(), 2.0, 1e-9));
        }
    }

    #[test]
    fn ordered_phase_depth_scales() {
        // tanh, σ_w² < 1, σ_b² = 0: q* = 0, χ₁ = σ_w², ξ_c = ξ_q = −1/log σ_w².
        let a = mf("tanh", 0.5, 0.0).analyze();
        assert_eq!(a.q_star, Some(0.0));
        assert!(close(a.chi1, 0.5, 1e-12));
        assert!(close(a.xi_c.unwrap(), 1.0 / 2f64.ln(), 1e-12));
        assert!(close(a.xi_q.unwrap(), 1.0 / 2f64.ln(), 1e-9));
        assert!(close(a.trainable_depth, 6.0 / 2f64.ln(), 1e-12));
        // With a bias, c* = 1 and ξ_c = −1/log χ₁.
        let a = mf("tanh", 1.2, 0.1).analyze();
        assert_eq!((a.phase, a.c_star), (Phase::Ordered, Some(1.0)));
        assert!(close(a.xi_c.unwrap(), -1.0 / a.chi1.ln(), 1e-12));
    }

    #[test]
    fn chaotic_c_star_is_a_stable_fixed_point() {
        for (name, w, b) in [("tanh", 4.0, 0.05), ("hardtanh", 3.0, 0.05), ("selu", 1.0, 0.0), ("tanh", 2.0, 0.02)] {
            let m = mf(name, w, b);
            let a = m.analyze();
            assert_eq!(a.phase, Phase::Chaotic, "{name}");
            let (q, c) = (a.q_star.unwrap(), a.c_star.unwrap());
            assert!((m.correlation_map(q, c) - c).abs() < 1e-10, "{name}: C(c*) ≠ c*");
            let slope = m.correlation_slope(q, c);
            assert!(slope < 1.0, "{name}: unstable c*");
            assert!(close(a.xi_c.unwrap(), -1.0 / slope.ln(), 1e-9));
        }
    }

    #[test]
    fn selu_is_slightly_chaotic() {
        // Self-normalizing: q* = 1 at σ_w² = 1, σ_b² = 0; χ₁ = E[selu′²] = 1/0.966² ≈ 1.0716.
        let a = mf("selu", 1.0, 0.0).analyze();
        assert!(close(a.q_star.unwrap(), 1.0, 1e-10));
        assert!(close(a.chi1, 1.0 / 0.966_025_776_973_901_2f64.powi(2), 1e-10));
        assert_eq!(a.phase, Phase::Chaotic);
    }

    #[test]
    fn fast_path_accuracy() {
        // Smooth: 1e-6 relative on ξ_c and χ₁; kinked: 1e-4.
        let cases = [
            ("tanh", 25.0 / 9.0, 0.0, 1e-6),
            ("tanh", 4.0, 0.05, 1e-6),
            ("tanh", 1.5, 0.05, 1e-6),
            ("tanh", 9.0, 0.3, 1e-6),
            ("gelu", 2.1, 0.05, 1e-6),
            ("sigmoid", 4.0, 0.0, 1e-6),
            ("hardtanh", 3.0, 0.05, 1e-4),
            ("selu", 1.0, 0.0, 1e-4),
            ("relu", 1.5, 0.2, 1e-6),
        ];
        for (name, w, b, tol) in cases {
            let exact = mf(name, w, b).analyze();
            let d = phase_diagram(act(name), &[w], &[b]).unwrap();
            assert!(close(d.chi1[0], exact.chi1, tol), "{name} ({w}, {b}): χ₁ {} vs {}", d.chi1[0], exact.chi1);
            let (fast, want) = (d.xi_c[0].unwrap(), exact.xi_c.unwrap());
            assert!(close(fast, want, tol), "{name} ({w}, {b}): ξ_c {fast} vs {want}");
        }
        // The Mehler correlation map against expect2, smooth φ.
        let m = mf("tanh", 2.5, 0.1);
        for c in [-0.7, 0.0, 0.5, 0.9, 0.999] {
            assert!((m.correlation_map_fast(1.3, c) - m.correlation_map(1.3, c)).abs() < 1e-9, "{c}");
        }
    }

    #[test]
    fn phase_diagram_layout_and_divergence() {
        let w = [0.5, 1.5, 3.0];
        let b = [0.0, 0.1];
        let d = phase_diagram(Activation::Relu, &w, &b).unwrap();
        assert_eq!((d.xi_c.len(), d.chi1.len()), (6, 6));
        // ReLU: σ_w² = 3 diverges (None); σ_w² = 0.5 is ordered with ξ_c = −1/log(1/4).
        assert_eq!(d.xi_c_at(0, 2), None);
        assert!(close(d.xi_c_at(1, 0).unwrap(), 1.0 / 4f64.ln(), 1e-9));
        assert!(close(d.chi1[4], 0.75, 1e-9));
    }

    #[test]
    fn never_nan_or_panic_on_a_wide_grid() {
        let names = [
            "linear",
            "sigmoid",
            "tanh",
            "relu",
            "leaky_relu",
            "elu",
            "selu",
            "gelu",
            "gelu_tanh",
            "silu",
            "mish",
            "softplus",
            "hardtanh",
            "sin",
        ];
        for name in names {
            for (w, b) in [(1e-6, 0.0), (0.3, 1e-8), (1.0, 0.0), (2.0, 0.0), (5.0, 2.0), (50.0, 0.0), (1e6, 1e6)] {
                if name == "sin" && w > 100.0 {
                    // sin(√q z) with q ~ 10⁶ oscillates ~10³ times over the Gaussian: correct
                    // but slow (minutes) in the two-dimensional integrals.
                    continue;
                }
                let a = mf(name, w, b).analyze();
                let values = [Some(a.chi1), a.q_star, a.c_star, a.xi_q, a.xi_c, Some(a.trainable_depth)];
                assert!(values.iter().flatten().all(|v| !v.is_nan()), "{name} ({w}, {b}): {a:?}");
            }
        }
    }

    #[test]
    fn recommendations() {
        let he = Recommendation::for_depth(Activation::Relu, 30).unwrap();
        assert_eq!((he.sigma_w2, he.sigma_b2), (2.0, 0.0));
        assert_eq!(he.bias_init, Init::Zeros);
        let json = serde_json::to_value(he.weight_init).unwrap();
        assert_eq!(json["init"], "variance_scaling");
        assert!(close(json["scale"].as_f64().unwrap(), 2.0, 1e-12));
        assert_eq!(json["mode"], "fan_in");
        // tanh: on the edge, σ_b² shrinks as depth grows.
        let shallow = Recommendation::for_depth(Activation::Tanh, 20).unwrap();
        let deep = Recommendation::for_depth(Activation::Tanh, 2000).unwrap();
        assert!(shallow.sigma_b2 >= deep.sigma_b2);
        for r in [&shallow, &deep] {
            assert!((r.analysis.chi1 - 1.0).abs() < 1e-9);
            assert_eq!(r.analysis.phase, Phase::Critical);
        }
        assert!(shallow.robust_xi_c >= 20.0);
        let Init::Normal(normal) = shallow.bias_init else { panic!("{:?}", shallow.bias_init) };
        assert!(close(normal.std(), shallow.sigma_b2.sqrt(), 1e-15));
    }
}
