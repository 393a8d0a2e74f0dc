//! The fixed points of the length map, and the iteration that finds the one a network reaches.

use serde::Serialize;

use super::roots::brent;

/// Relative accuracy to which [`MeanField::fixed_point`] finds q*.
pub(super) const Q_TOL: f64 = 1e-11;

/// With σ_b² = 0 and φ(0) = 0, a length that falls below this fraction of q⁰ is taken
/// to have reached the fixed point q* = 0.
pub(super) const Q_ZERO: f64 = 1e-10;

/// A length above this multiple of max(1, q⁰, σ_w², σ_b²) is taken to diverge.
pub(super) const Q_MAX: f64 = 1e12;

/// The q at which the q → 0⁺ limits are evaluated when q* = 0.
pub(super) const Q_TINY: f64 = 1e-280;

/// The relative accuracy of V(q) (the integrals'), below which V(q) − q is noise.
const NOISE: f64 = 1e-13;

/// Most steps the fixed-point iteration takes.
const MAX_STEPS: usize = 1000;

/// Where the length map's iteration q^l = V(q^(l−1)) goes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FixedPoint {
    /// It converges to q* (possibly 0, see the [module docs](crate::theory)).
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

/// The bounds of the length iteration.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// Below this the length is taken to be 0 (negative where 0 is no fixed point).
    pub(super) zero: f64,
    /// Above this it diverges.
    pub(super) max: f64,
    /// Relative accuracy wanted for q*.
    pub(super) tol: f64,
    /// The scale of the problem, max(1, q⁰, σ_b²).
    pub(super) scale: f64,
}

/// Iterates q ← V(q) from q0 with safeguarded Newton acceleration; `eval(q)` = (V, V′).
///
/// V is increasing, so the plain step V(q) stays on the same side of the nearest fixed
/// point. A Newton step q + g/(1 − V′) (g = V(q) − q) beyond it is taken only if it moves
/// at most a factor 4 and g keeps its sign there; if the sign flips, the fixed point is
/// bracketed and Brent's method finishes. Without local contraction (V′ ≥ 1) and with g > 0
/// the step is a factor 4 up, which finds divergence in about 20 steps.
pub(super) fn solve_length(q0: f64, limits: Limits, eval: impl Fn(f64) -> (f64, f64)) -> FixedPoint {
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
