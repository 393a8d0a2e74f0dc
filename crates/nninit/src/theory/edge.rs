//! The edge of chaos: where χ₁ = 1 at a fixed point of the length map, and which of those
//! points a network reaches and keeps.

use rayon::prelude::*;
use serde::Serialize;

use super::fixed_point::{FixedPoint, Q_TINY, Stability};
use super::mean_field::{MeanField, homogeneous_second_moment};
use super::roots::brent;
use crate::activation::Activation;
use crate::error::{self, Result};

/// Grid points per decade of q on which [`MeanField::critical_points`] searches the
/// critical line.
const PER_DECADE: f64 = 8.0;

/// The critical line is searched for q* up to this multiple of max(1, σ_b²).
const Q_SEARCH: f64 = 1e6;

/// A point of the critical line at one σ_b²: σ_w² and a fixed point q* of its length map
/// with χ₁(q*) = 1. See [`MeanField::critical_points`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CriticalPoint {
    /// σ_w² = 1/E\[φ′(√q* z)²\].
    pub sigma_w2: f64,
    /// The fixed point q*, 0 for the degenerate point.
    pub q_star: f64,
    /// V′(q*), the length map's slope there (1 at the degenerate point).
    pub slope: f64,
    /// Stable, marginal or unstable; for the degenerate point, how the length behaves just
    /// above 0 (stable: it decays to 0, like 1/l; unstable: it grows away).
    pub stability: Stability,
    /// Whether the length iteration from the given q⁰ ends at this point.
    pub reached: bool,
    /// q* = 0, the end of the critical line at σ_b² = 0: the pre-activations shrink to 0
    /// and every layer acts like its linearization φ′(0)·x, so the network computes close
    /// to a linear function of its input however deep it is.
    pub degenerate: bool,
}

impl MeanField {
    /// Every point of the critical line at σ_b², in increasing q*: the σ_w² and the fixed
    /// point q* with V(q*) = q* and χ₁(q*) = 1, its stability, and whether the length
    /// iteration from q⁰ reaches it.
    ///
    /// The critical line is parametrized by q* (Hayou, Doucet and Rousseau 2019):
    /// σ_w²(q) = 1/E\[φ′(√q z)²\] and σ_b²(q) = q − σ_w²(q) E\[φ(√q z)²\]; the points at
    /// σ_b² are the roots of σ_b²(q) = σ_b², found as sign changes on a logarithmic grid of
    /// q (8 points per decade over \[10⁻¹⁰, 10⁶ · max(1, σ_b²)\]) and refined by Brent's
    /// method. At σ_b² = 0 and φ(0) = 0, φ′(0) ≠ 0 (tanh, GELU, SiLU, ...), the line ends in
    /// the degenerate point q* = 0, σ_w² = 1/φ′(0)².
    ///
    /// For the positively homogeneous activations (linear, ReLU, leaky ReLU) χ₁ does not
    /// depend on q and the list is empty: see [`MeanField::edge_of_chaos`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for a negative or
    /// non-finite σ_b² or q⁰.
    ///
    /// # Example
    ///
    /// GELU meets the critical line once at each σ_b²: at σ_b² = 0.05 (q* ≈ 0.6) the length
    /// map is steeper than 1 there, so the point is unstable and there is no edge of chaos;
    /// at σ_b² = 0.5 (q* ≈ 22) it is stable and a unit-variance input reaches it.
    ///
    /// ```
    /// use nninit::activation::Activation;
    /// use nninit::theory::{MeanField, Stability};
    ///
    /// let low = MeanField::critical_points(Activation::Gelu, 0.05, 1.0)?;
    /// assert_eq!(low.len(), 1);
    /// assert_eq!(low[0].stability, Stability::Unstable);
    /// assert_eq!(MeanField::edge_of_chaos(Activation::Gelu, 0.05)?, None);
    ///
    /// let high = MeanField::critical_points(Activation::Gelu, 0.5, 1.0)?;
    /// assert_eq!((high[0].stability, high[0].reached), (Stability::Stable, true));
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn critical_points(activation: Activation, sigma_b2: f64, q0: f64) -> Result<Vec<CriticalPoint>> {
        let sigma_b2 = error::non_negative("sigma_b2", sigma_b2)?;
        let q0 = error::non_negative("q0", q0)?;
        if homogeneous_second_moment(&activation).is_some() {
            return Ok(Vec::new());
        }
        let unit = MeanField { activation, sigma_w2: 1.0, sigma_b2: 0.0 };
        // σ_b²(q) − σ_b² along the critical line.
        let offset = |q: f64| q - unit.length_map(q) / unit.chi1(q) - sigma_b2;
        let mut points = Vec::new();
        let slope_at_zero = activation.derivative(0.0);
        if sigma_b2 == 0.0 && activation.eval(0.0) == 0.0 && slope_at_zero != 0.0 {
            let sigma_w2 = 1.0 / (slope_at_zero * slope_at_zero);
            let mf = MeanField { activation, sigma_w2, sigma_b2 };
            // V′(0) = 1: the second order decides, seen in V(q) − q just above 0.
            let q = 1e-4;
            let stability = if mf.length_map(q) < q { Stability::Stable } else { Stability::Unstable };
            let reached = matches!(mf.fixed_point_from(q0), FixedPoint::Converged { q_star, .. } if q_star == 0.0);
            points.push(CriticalPoint { sigma_w2, q_star: 0.0, slope: 1.0, stability, reached, degenerate: true });
        }
        let (lo, hi) = (1e-10, Q_SEARCH * sigma_b2.max(1.0));
        let n = ((hi / lo).log10() * PER_DECADE).ceil() as usize;
        let ratio = (hi / lo).powf(1.0 / n as f64);
        let (mut a, mut fa) = (lo, offset(lo));
        for i in 1..=n {
            let b = lo * ratio.powi(i as i32);
            let fb = offset(b);
            if fa.is_finite() && fb.is_finite() && (fa > 0.0) != (fb > 0.0) && fa != 0.0 {
                let q_star = brent(offset, a, b, fa, fb, 1e-13 * b, 0.0);
                let sigma_w2 = 1.0 / unit.chi1(q_star);
                let mf = MeanField { activation, sigma_w2, sigma_b2 };
                let slope = mf.length_map_slope(q_star.max(Q_TINY));
                let reached = match mf.fixed_point_from(q0) {
                    FixedPoint::Converged { q_star: q, .. } => (q - q_star).abs() <= 1e-6 * q_star,
                    _ => false,
                };
                let stability = Stability::from_slope(slope);
                points.push(CriticalPoint { sigma_w2, q_star, slope, stability, reached, degenerate: false });
            }
            (a, fa) = (b, fb);
        }
        Ok(points)
    }

    /// The edge of chaos at σ_b² for unit-variance inputs: the σ_w² of the critical point
    /// (χ₁(q*) = 1, see [`MeanField::critical_points`]) that is stable and reached from
    /// q⁰ = 1, or `None` where there is none: then every critical point at this σ_b² is
    /// unstable (a network leaves it) or out of reach from q⁰ = 1, and no σ_w² puts a
    /// network at the edge of chaos with this bias. At σ_b² = 0 the degenerate point
    /// q* = 0 counts where the length decays to it (tanh: σ_w² = 1).
    ///
    /// For the positively homogeneous activations χ₁ = σ_w² m does not depend on q, and
    /// the edge is σ_w² = 1/m for every σ_b² (2 for ReLU, He et al. 2015): without bias
    /// every q is a (marginal) fixed point; with one the length grows like q⁰ + l σ_b²,
    /// gradients still keeping their scale.
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
        Self::edge_of_chaos_from(activation, sigma_b2, 1.0)
    }

    /// [`MeanField::edge_of_chaos`] for inputs of length q⁰.
    ///
    /// # Errors
    ///
    /// As [`MeanField::critical_points`].
    pub fn edge_of_chaos_from(activation: Activation, sigma_b2: f64, q0: f64) -> Result<Option<f64>> {
        if let Some(m) = homogeneous_second_moment(&activation) {
            error::non_negative("sigma_b2", sigma_b2)?;
            error::non_negative("q0", q0)?;
            return Ok(Some(1.0 / m));
        }
        let points = Self::critical_points(activation, sigma_b2, q0)?;
        Ok(points.iter().find(|p| p.reached && p.stability == Stability::Stable).map(|p| p.sigma_w2))
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
