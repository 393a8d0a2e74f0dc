//! Everything the theory says at the fixed point a network reaches.

use serde::Serialize;

use super::fixed_point::{FixedPoint, Stability};
use super::mean_field::MeanField;
use super::phase::{Phase, TRAINABLE_DEPTH_PER_XI, depth_scale, depth_scale_decay};
use super::roots::chaotic_c_star;
use crate::activation::Activation;
use crate::error::{self, Result};

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
    /// q⁰, the input length the iteration started from (1: unit-variance inputs).
    pub q0: f64,
    /// What the length iteration from q⁰ does: the fixed point the network reaches.
    pub fixed_point: FixedPoint,
    /// The stability of that fixed point, from the length map's slope there (`None` when
    /// the length diverges). [`Stability::Unstable`] only where q⁰ is itself an unstable
    /// fixed point, which a finite network leaves.
    pub stability: Option<Stability>,
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
    /// The full analysis at the fixed point reached from q⁰ = 1 (unit-variance inputs):
    /// q*, χ₁, c*, ξ_q, ξ_c, the phase and the trainable depth. See the
    /// [module docs](crate::theory) for the degenerate cases. Never panics and never
    /// returns NaN.
    pub fn analyze(&self) -> Analysis {
        self.analyze_reached(1.0)
    }

    /// [`MeanField::analyze`] at the fixed point reached from the input length q⁰: where
    /// the length map has several stable fixed points, which one a network sits at depends
    /// on where it starts.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) naming `q0` for a
    /// negative or non-finite q⁰.
    pub fn analyze_from(&self, q0: f64) -> Result<Analysis> {
        Ok(self.analyze_reached(error::non_negative("q0", q0)?))
    }

    pub(super) fn analyze_reached(&self, q0: f64) -> Analysis {
        let fixed_point = self.fixed_point_from(q0);
        let maps = Maps {
            chi1: |q| self.chi1(q),
            slope: |q| self.length_map_slope(q),
            cmap: |q, c| self.correlation_map(q, c),
            cslope: |q, c| self.correlation_slope(q, c),
        };
        self.analyze_with(q0, fixed_point, &maps)
    }

    /// The analysis at `fixed_point`, reached from `q0`, with the maps evaluated by `maps`.
    pub(super) fn analyze_with<A, B, C, D>(&self, q0: f64, fixed_point: FixedPoint, maps: &Maps<A, B, C, D>) -> Analysis
    where
        A: Fn(f64) -> f64,
        B: Fn(f64) -> f64,
        C: Fn(f64, f64) -> f64,
        D: Fn(f64, f64) -> f64,
    {
        let base = |q_star, stability, chi1: f64, c_star, xi_q, xi_c, trainable_depth| Analysis {
            activation: self.activation,
            sigma_w2: self.sigma_w2,
            sigma_b2: self.sigma_b2,
            q0,
            fixed_point,
            stability,
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
                return base(None, None, chi1, None, None, None, depth);
            }
        };
        let chi1 = (maps.chi1)(q);
        let length_slope = (maps.slope)(q);
        let xi_q = depth_scale_decay(length_slope);
        let stability = Some(Stability::from_slope(length_slope));
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
        base(Some(q), stability, chi1, Some(c_star), Some(xi_q), Some(xi_c), TRAINABLE_DEPTH_PER_XI * xi_c)
    }
}

/// The four maps an analysis needs: χ₁(q), V′(q), C(q, c) and C′(q, c).
pub(super) struct Maps<A, B, C, D> {
    pub(super) chi1: A,
    pub(super) slope: B,
    pub(super) cmap: C,
    pub(super) cslope: D,
}
