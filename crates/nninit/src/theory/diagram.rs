//! ξ_c and χ₁ over a grid of (σ_w², σ_b²), by the fast path.

use rayon::prelude::*;
use serde::Serialize;

use super::fast;
use super::mean_field::MeanField;
use crate::activation::Activation;
use crate::error::{self, Result};

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
/// Uses the fast, fixed-rule evaluation described in the [module docs](crate::theory#accuracy):
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
