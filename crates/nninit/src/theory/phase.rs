//! The phase of a network and its depth scales, from χ₁.

use serde::Serialize;

/// Networks are trainable up to about this many correlation depth scales: L ≈ 6 ξ_c
/// (Schoenholz et al. 2017, Figure 5).
pub const TRAINABLE_DEPTH_PER_XI: f64 = 6.0;

/// [`Phase::Critical`] when |log χ₁| is at most this, i.e. ξ_c ≥ 10⁶ layers.
pub const CRITICAL_TOLERANCE: f64 = 1e-6;

/// The phase of a network, decided by χ₁ (see the [module docs](crate::theory)).
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

/// −1/log s for a per-layer contraction s ∈ (0, 1); ∞ when s ≥ 1 − tolerance.
pub(super) fn depth_scale_decay(s: f64) -> f64 {
    let log = s.ln();
    if log < -CRITICAL_TOLERANCE { -1.0 / log } else { f64::INFINITY }
}

/// 1/|log χ| (∞ at χ = 1 within the tolerance): the depth over which χ^L changes by e.
pub(super) fn depth_scale(chi: f64) -> f64 {
    let log = chi.ln().abs();
    if log > CRITICAL_TOLERANCE { 1.0 / log } else { f64::INFINITY }
}
