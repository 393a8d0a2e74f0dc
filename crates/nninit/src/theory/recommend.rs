//! What to initialize with for an activation and a depth.

use serde::Serialize;

use super::analysis::Analysis;
use super::mean_field::MeanField;
use super::phase::TRAINABLE_DEPTH_PER_XI;
use crate::activation::Activation;
use crate::error::Result;
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
