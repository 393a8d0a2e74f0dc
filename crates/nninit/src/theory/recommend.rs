//! What to initialize with for an activation and a depth.

use serde::Serialize;

use super::analysis::Analysis;
use super::mean_field::{MeanField, homogeneous_second_moment};
use super::phase::TRAINABLE_DEPTH_PER_XI;
use crate::activation::Activation;
use crate::error::{self, Result};
use crate::fan::FanMode;
use crate::init::{Distribution, Init, Normal, VarianceScaling};

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
    /// The theory at the recommended point, at the fixed point reached from the input
    /// length q⁰ (`analysis.q0`).
    pub analysis: Analysis,
    /// The smallest ξ_c over σ_w² · (1 ± 1%): how much depth survives a 1% error in the
    /// weight variance (finite width, sampling error, a rounded constant).
    pub robust_xi_c: f64,
    /// Why this point, in one sentence.
    pub reason: &'static str,
    /// What a practitioner must know before using it, where the point is impractical.
    pub caveat: Option<&'static str>,
}

/// The σ_b² candidates [`Recommendation::for_depth`] tries first, largest first.
const BIAS_CANDIDATES: [f64; 8] = [0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 5e-4, 1e-4];

/// The σ_b² tried next, smallest first, where no candidate above has a stable critical
/// point that holds over the depth (the smooth ReLU-like activations at great depth).
const LARGER_BIASES: [f64; 6] = [0.1, 0.2, 0.3, 0.5, 1.0, 2.0];

/// The σ_w² tried, without bias, where there is no critical point at all.
const ORDERED_RANGE: (f64, f64) = (1.0, 1.99);
/// Steps over [`ORDERED_RANGE`].
const ORDERED_STEPS: usize = 99;

/// The relative error in σ_w² a recommendation must tolerate.
const ROBUSTNESS: f64 = 0.01;

/// Above this σ_w² (16, four times the standard deviation of LeCun's 1/fan_in) the point
/// is flagged as impractical.
const PRACTICAL_SIGMA_W2: f64 = 16.0;

/// The caveat where the activation has no critical point at all (softplus).
const NO_EDGE: &str = "no point keeps inputs apart over depth: the activation is positive (softplus(0) = log 2), so its mean acts as a bias that is already too large; wherever the length has a fixed point (σ_w² < 2) χ₁ < 1, the ordered phase, and beyond it (σ_w² ≥ 2) the length grows without bound; from unit-variance inputs, two inputs at correlation 0.5 are within 10⁻⁴ of one direction after 20 layers at this point (the theory's 1 − c is 6.5·10⁻⁵; the simulation tests measure it); for deep networks use a centred activation: SiLU or GELU, which have a stable edge of chaos, or the shifted softplus softplus(x) − log 2";

const SATURATED: &str = "impractical: the edge of chaos needs weights far larger than any standard init, and the pre-activations (std √q*) sit where the activation saturates, a near step function whose one-bit outputs carry little; use tanh instead (sigmoid(x) = (1 + tanh(x/2))/2, tanh's edge is at σ_w² ≈ 1.76 with σ_b² = 0.05), or keep this activation for shallow networks and gates";

impl Recommendation {
    /// The (σ_w², σ_b²) and nninit init rules for a network of `depth` layers fed
    /// unit-variance inputs (q⁰ = 1).
    ///
    /// - **ReLU family and linear** (positively homogeneous φ): the He point
    ///   σ_w² = 2/(1 + a²) (1 for linear), σ_b² = 0, where χ₁ = 1 and q is preserved
    ///   exactly.
    /// - **Every other activation**: a point on the edge of chaos (χ₁ = 1, so ξ_c = ∞) at
    ///   a **stable** fixed point that a unit-variance input reaches
    ///   ([`MeanField::edge_of_chaos`]); never an unstable one, which a network leaves.
    ///   Of the σ_b² in {0.05, 0.02, 0.01, …, 10⁻⁴}, the largest for which σ_w² off by
    ///   ±1% still leaves ξ_c ≥ `depth` (and a stable fixed point) is chosen: a larger
    ///   σ_b² keeps q* away from 0 (the network stays nonlinear), a smaller one widens the
    ///   critical window. The smooth ReLU-like activations (GELU, SiLU, Mish, ELU,
    ///   softplus) have no stable critical point at small σ_b² (see the
    ///   [module docs](crate::theory#smooth-relu-like-activations)); where none of those
    ///   holds, σ_b² in {0.1, 0.2, 0.3, 0.5, 1, 2} is tried, smallest first. If still
    ///   none qualifies (very deep networks), the candidate with the largest
    ///   [`robust_xi_c`](Self::robust_xi_c) is used, and that field says how much depth a
    ///   1% error leaves.
    /// - If there is no critical point at any σ_b² ≥ 0 (softplus), the ordered phase
    ///   without bias: the smallest σ_w² in \[1, 1.99\] whose ξ_c stays ≥ `depth` with σ_w²
    ///   off by ±1%, else the one with the largest; the reason says so, and
    ///   [`caveat`](Self::caveat) says that no point keeps inputs apart and what to use
    ///   instead.
    /// - Where the point needs σ_w² > 16 (sigmoid), [`caveat`](Self::caveat) says it is
    ///   impractical and what to use instead.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for `depth` = 0.
    ///
    /// # Example
    ///
    /// ```
    /// use nninit::activation::Activation;
    /// use nninit::theory::{Recommendation, Stability};
    ///
    /// let he = Recommendation::for_depth(Activation::Relu, 50)?;
    /// assert_eq!((he.sigma_w2, he.sigma_b2), (2.0, 0.0));
    ///
    /// let tanh = Recommendation::for_depth(Activation::Tanh, 50)?;
    /// assert!(tanh.sigma_b2 > 0.0 && tanh.robust_xi_c >= 50.0);
    /// assert!((tanh.analysis.chi1 - 1.0).abs() < 1e-9);
    ///
    /// let gelu = Recommendation::for_depth(Activation::Gelu, 100)?;
    /// assert_eq!(gelu.analysis.stability, Some(Stability::Stable));
    /// assert!((gelu.analysis.chi1 - 1.0).abs() < 1e-9);
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn for_depth(activation: Activation, depth: usize) -> Result<Self> {
        Self::for_depth_from(activation, depth, 1.0)
    }

    /// [`Recommendation::for_depth`] for inputs of length q⁰ (the mean square of an input
    /// coordinate).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for `depth` = 0 or a
    /// negative or non-finite q⁰.
    pub fn for_depth_from(activation: Activation, depth: usize, q0: f64) -> Result<Self> {
        if depth == 0 {
            return Err(crate::Error::InvalidParameter { name: "depth", value: 0.0, expected: "at least 1" });
        }
        let q0 = error::non_negative("q0", q0)?;
        if let Some(m) = homogeneous_second_moment(&activation) {
            let reason = "positively homogeneous activation: the He point, χ₁ = 1 and the length is preserved exactly";
            return Self::build(activation, depth, q0, 1.0 / m, 0.0, reason);
        }
        let mut best: Option<(f64, f64, f64)> = None;
        for (smaller, biases) in [(true, &BIAS_CANDIDATES[..]), (false, &LARGER_BIASES[..])] {
            for &b in biases {
                let Some(w) = MeanField::edge_of_chaos_from(activation, b, q0)? else { continue };
                let robust = robust_xi_c(activation, w, b, q0);
                if robust >= depth as f64 {
                    let reason = if smaller {
                        "edge of chaos (χ₁ = 1 at a stable fixed point) with the largest σ_b² whose ξ_c stays ≥ depth when σ_w² is off by 1%"
                    } else {
                        "edge of chaos (χ₁ = 1 at a stable fixed point): no σ_b² ≤ 0.05 has one that holds over this depth, so the smallest larger σ_b² whose ξ_c stays ≥ depth when σ_w² is off by 1%"
                    };
                    return Self::build(activation, depth, q0, w, b, reason);
                }
                if best.is_none_or(|(_, _, r)| robust > r) {
                    best = Some((w, b, robust));
                }
            }
        }
        if let Some((w, b, _)) = best {
            let reason = "edge of chaos (χ₁ = 1 at a stable fixed point) with the σ_b² that best tolerates a 1% error in σ_w²; deeper than that error allows, so set σ_w² precisely";
            return Self::build(activation, depth, q0, w, b, reason);
        }
        // No critical point at all (softplus: φ > 0, whose mean acts as a bias already too
        // large, so χ₁ = 1 would need σ_b² < 0): the ordered phase, σ_b² = 0, with the
        // smallest σ_w² whose ξ_c survives a 1% error over the depth, else the most robust.
        let mut best = (activation.second_moment_gain().powi(2), 0.0);
        for i in 0..=ORDERED_STEPS {
            let w = ORDERED_RANGE.0 + (ORDERED_RANGE.1 - ORDERED_RANGE.0) * i as f64 / ORDERED_STEPS as f64;
            let robust = robust_xi_c(activation, w, 0.0, q0);
            if robust >= depth as f64 {
                let reason = "no critical point at any σ_b² ≥ 0: the ordered phase without bias, with the smallest σ_w² whose ξ_c stays ≥ depth when σ_w² is off by 1%";
                return Self::build(activation, depth, q0, w, 0.0, reason).map(Self::without_edge);
            }
            if robust > best.1 {
                best = (w, robust);
            }
        }
        let reason = "no critical point at any σ_b² ≥ 0: the ordered phase without bias, with the σ_w² of the largest ξ_c (below the depth)";
        Self::build(activation, depth, q0, best.0, 0.0, reason).map(Self::without_edge)
    }

    /// Marks a recommendation made where the activation has no critical point.
    fn without_edge(self) -> Self {
        Self { caveat: Some(NO_EDGE), ..self }
    }

    fn build(
        activation: Activation,
        depth: usize,
        q0: f64,
        sigma_w2: f64,
        sigma_b2: f64,
        reason: &'static str,
    ) -> Result<Self> {
        let analysis = MeanField::new(activation, sigma_w2, sigma_b2)?.analyze_from(q0)?;
        let weight_init = Init::VarianceScaling(VarianceScaling::new(sigma_w2, FanMode::FanIn, Distribution::Normal)?);
        let bias_init = if sigma_b2 == 0.0 { Init::Zeros } else { Init::Normal(Normal::new(0.0, sigma_b2.sqrt())?) };
        let robust_xi_c = robust_xi_c(activation, sigma_w2, sigma_b2, q0);
        let caveat = (sigma_w2 > PRACTICAL_SIGMA_W2).then_some(SATURATED);
        Ok(Self {
            activation,
            depth,
            sigma_w2,
            sigma_b2,
            weight_init,
            bias_init,
            analysis,
            robust_xi_c,
            reason,
            caveat,
        })
    }
}

/// The smaller ξ_c (the gradient depth scale where the length diverges) at σ_w²·(1 ± 1%),
/// from q⁰.
fn robust_xi_c(activation: Activation, sigma_w2: f64, sigma_b2: f64, q0: f64) -> f64 {
    [1.0 - ROBUSTNESS, 1.0 + ROBUSTNESS]
        .iter()
        .map(|f| {
            let a = MeanField { activation, sigma_w2: sigma_w2 * f, sigma_b2 }.analyze_reached(q0);
            a.xi_c.unwrap_or(a.trainable_depth / TRAINABLE_DEPTH_PER_XI)
        })
        .fold(f64::INFINITY, f64::min)
}
