//! Training: SGD with momentum or Adam on real data, with the loss at every step, test
//! accuracy and per-layer gradient norms at every evaluation, and divergence detection.
//!
//! How to train ([`TrainConfig`]) needs no backend; the training loop ([`train`], in `run.rs`)
//! comes with the `burn` feature.

use serde::{Deserialize, Serialize};

use crate::loss::LossKind;

#[cfg(feature = "burn")]
mod run;
#[cfg(feature = "burn")]
pub(crate) use run::optimizer;
#[cfg(feature = "burn")]
pub use run::{TrainOutcome, permutation, train};

/// The optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Optimizer {
    /// SGD with heavy-ball momentum (PyTorch's `SGD(momentum=m)`, no dampening).
    Sgd {
        /// Momentum coefficient in [0, 1).
        momentum: f64,
    },
    /// Adam (β₁ = 0.9, β₂ = 0.999, ε = 1e-8, PyTorch's defaults).
    Adam,
}

impl Optimizer {
    /// The display name (`sgd` or `adam`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sgd { .. } => "sgd",
            Self::Adam => "adam",
        }
    }
}

/// How to train one run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Optimizer steps.
    pub steps: usize,
    /// Examples per step.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// The loss.
    pub loss: LossKind,
    /// Evaluate on the test set every this many steps (and after the last step); `None`
    /// never evaluates, so the run has no [`EvalRow`](crate::record::EvalRow)s and divergence is detected from the
    /// training loss alone (for timing the training loop, as `examples/epoch.rs` does).
    pub eval_every: Option<usize>,
    /// Whether every evaluation also records per-layer activation and gradient statistics.
    pub eval_layers: EvalLayers,
    /// Record the first step at which the 10-step mean training loss falls below this.
    pub loss_criterion: Option<f64>,
}

/// Whether evaluations record per-layer statistics (a probe of a training batch) beside the
/// test loss and accuracy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EvalLayers {
    /// Test loss, accuracy and gradient norms only.
    #[default]
    Skip,
    /// Also the per-layer statistics of the step's batch.
    Record,
}
