//! The one-layer maps of an infinitely wide random network: length, gradient and correlation.

use serde::Serialize;

use super::fixed_point::{
    FixedPoint, LengthFixedPoint, Limits, Q_MAX, Q_TINY, Q_TOL, Q_ZERO, Stability, scan, solve_length,
};
use crate::activation::Activation;
use crate::error::{self, Result};
use crate::gaussian;

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
    pub(super) activation: Activation,
    pub(super) sigma_w2: f64,
    pub(super) sigma_b2: f64,
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
    /// [module docs](crate::theory#kinks)). At q = q*, ξ_q = −1/log V′(q*).
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

    /// Every fixed point of the length map, in increasing order, with the map's slope there
    /// and its [`Stability`]; see the [module docs](crate::theory#fixed-points). The one a
    /// network reaches is [`MeanField::fixed_point_from`]'s.
    ///
    /// - q* = 0 is listed where σ_b² = 0 and φ(0) = 0, with the slope's limit V′(0⁺).
    /// - For positively homogeneous φ (linear, ReLU, leaky ReLU) V is linear,
    ///   V(q) = σ_w² m q + σ_b², and the list is exact; where V(q) = q for every q (the He
    ///   point without bias) only q = 0 is listed.
    /// - Otherwise the positive fixed points are the sign changes of V(q) − q on a
    ///   logarithmic grid of 8 points per decade over \[σ_b², 10⁸ · max(1, σ_w², σ_b²)\]
    ///   (from 10⁻¹⁰ when σ_b² = 0), refined by Brent's method to 10⁻¹² relative. Two fixed
    ///   points within a factor 1.33 of each other can be missed as a pair (a tangency).
    ///
    /// # Example
    ///
    /// GELU at σ_w² = 3, σ_b² = 0 acts like x/2 near 0 (V′(0) = 3/4: 0 attracts) and like
    /// ReLU for large inputs (V′ → 3/2): between the two lies an unstable fixed point, the
    /// boundary between the lengths that die out and those that grow without bound.
    ///
    /// ```
    /// use nninit::activation::Activation;
    /// use nninit::theory::{MeanField, Stability};
    ///
    /// let gelu = MeanField::new(Activation::Gelu, 3.0, 0.0)?;
    /// let points = gelu.fixed_points();
    /// let kinds: Vec<Stability> = points.iter().map(|p| p.stability).collect();
    /// assert_eq!(kinds, [Stability::Stable, Stability::Unstable]);
    /// assert_eq!(points[0].q_star, 0.0);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn fixed_points(&self) -> Vec<LengthFixedPoint> {
        let point =
            |q_star: f64, slope: f64| LengthFixedPoint { q_star, slope, stability: Stability::from_slope(slope) };
        let mut points = Vec::new();
        if self.sigma_b2 == 0.0 && self.activation.eval(0.0) == 0.0 {
            points.push(point(0.0, self.length_map_slope(Q_TINY)));
        }
        if let Some(m) = homogeneous_second_moment(&self.activation) {
            let slope = self.sigma_w2 * m;
            if self.sigma_b2 > 0.0 && Stability::from_slope(slope) == Stability::Stable {
                points.push(point(self.sigma_b2 / (1.0 - slope), slope));
            }
            return points;
        }
        let lo = if self.sigma_b2 > 0.0 { self.sigma_b2 } else { 1e-10 };
        let hi = 1e8 * self.sigma_w2.max(self.sigma_b2).max(1.0);
        points.extend(scan(lo, hi, |q| (self.length_map(q), self.length_map_slope(q))));
        points
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
}

/// The jump φ′(k⁺) − φ′(k⁻) of φ′ at a kink k, by a Richardson step (error O(h²)).
pub(super) fn derivative_jump(phi: &Activation, k: f64) -> f64 {
    let h = 1e-5 * k.abs().max(1.0);
    let plain = phi.derivative(k + h) - phi.derivative(k - h);
    plain - h * (phi.second_derivative(k + h) + phi.second_derivative(k - h))
}

/// m with E\[φ(√q z)²\] = m q for every q, for the positively homogeneous activations:
/// 1 for linear, ½ for ReLU, (1 + a²)/2 for leaky ReLU with negative slope a.
pub(super) fn homogeneous_second_moment(activation: &Activation) -> Option<f64> {
    match *activation {
        Activation::Linear => Some(1.0),
        Activation::Relu => Some(0.5),
        Activation::LeakyRelu { negative_slope, .. } => Some(0.5 * (1.0 + negative_slope * negative_slope)),
        _ => None,
    }
}
