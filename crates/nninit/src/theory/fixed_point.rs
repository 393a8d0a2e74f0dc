//! The fixed points of the length map, and the iteration that finds the one a network reaches.

use serde::Serialize;

use super::phase::CRITICAL_TOLERANCE;
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

/// Grid points per decade of q in [`scan`]: fixed points closer than a factor
/// 10^(1/8) ≈ 1.33 apart can be missed as a pair.
const PER_DECADE: f64 = 8.0;

/// Whether the length iteration returns to a fixed point after a small push: decided by
/// the slope V′(q*) of the length map there (V is increasing, so V′ ≥ 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stability {
    /// V′(q*) < 1: deviations shrink by V′ per layer, so a network's length returns to q*
    /// after the fluctuations of a finite width.
    Stable,
    /// V′(q*) = 1 within [`CRITICAL_TOLERANCE`]: deviations neither shrink nor grow to
    /// first order; the second order decides (the ReLU family at the He point, where every
    /// q is a fixed point; tanh at σ_w² = 1, σ_b² = 0, where q^l → 0 like 1/l).
    Marginal,
    /// V′(q*) > 1: deviations grow by V′ per layer. A network is never found there: the
    /// length leaves it for the next stable fixed point or grows without bound.
    Unstable,
}

impl Stability {
    /// The stability of a fixed point where the length map has slope V′ = `slope`.
    pub fn from_slope(slope: f64) -> Self {
        let log = slope.ln();
        if log.abs() <= CRITICAL_TOLERANCE {
            Stability::Marginal
        } else if log < 0.0 {
            Stability::Stable
        } else {
            Stability::Unstable
        }
    }

    /// `stable`, `marginal` or `unstable`.
    pub fn name(self) -> &'static str {
        match self {
            Stability::Stable => "stable",
            Stability::Marginal => "marginal",
            Stability::Unstable => "unstable",
        }
    }
}

/// One fixed point q* = V(q*) of the length map: see [`MeanField::fixed_points`](super::MeanField::fixed_points).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LengthFixedPoint {
    /// q*.
    pub q_star: f64,
    /// V′(q*), the slope of the length map there.
    pub slope: f64,
    /// Stable, marginal or unstable, from the slope.
    pub stability: Stability,
}

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

/// Every root of V(q) = q with q in \[`lo`, `hi`\] (0 < lo < hi), in increasing order: the
/// sign changes of V(q) − q on a logarithmic grid of [`PER_DECADE`] points per decade,
/// each refined by Brent's method to 10⁻¹² relative. `eval(q)` = (V, V′). Where V(q) − q
/// is below the integrals' noise at a grid point, that point is a root.
pub(super) fn scan(lo: f64, hi: f64, eval: impl Fn(f64) -> (f64, f64)) -> Vec<LengthFixedPoint> {
    let n = ((hi / lo).log10() * PER_DECADE).ceil().max(1.0) as usize;
    let ratio = (hi / lo).powf(1.0 / n as f64);
    let gap = |q: f64| {
        let v = eval(q).0;
        let g = v - q;
        if g.abs() <= NOISE * v.abs().max(q) { 0.0 } else { g }
    };
    let point = |q: f64| {
        let slope = eval(q).1;
        LengthFixedPoint { q_star: q, slope, stability: Stability::from_slope(slope) }
    };
    let mut roots: Vec<LengthFixedPoint> = Vec::new();
    let mut push = |p: LengthFixedPoint| {
        if roots.last().is_none_or(|last| p.q_star > last.q_star * (1.0 + 1e-9)) {
            roots.push(p);
        }
    };
    let (mut a, mut ga) = (lo, gap(lo));
    if ga == 0.0 {
        push(point(a));
    }
    for i in 1..=n {
        let b = if i == n { hi } else { lo * ratio.powi(i as i32) };
        let gb = gap(b);
        if gb == 0.0 {
            push(point(b));
        } else if ga != 0.0 && (ga > 0.0) != (gb > 0.0) {
            let root = brent(|q| eval(q).0 - q, a, b, ga, gb, 1e-12 * b, 0.0);
            push(point(root));
        }
        (a, ga) = (b, gb);
    }
    roots
}
