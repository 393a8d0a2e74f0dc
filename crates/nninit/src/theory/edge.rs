//! The edge of chaos: the σ_w² where χ₁ = 1 at the reached fixed point.

use rayon::prelude::*;

use super::fixed_point::FixedPoint;
use super::mean_field::MeanField;
use super::roots::find_edge;
use crate::activation::Activation;
use crate::error::{self, Result};

impl MeanField {
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
