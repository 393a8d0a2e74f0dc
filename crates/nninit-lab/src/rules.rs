//! How an experiment's named initializations become layer values, through nninit's rules
//! and streams.

use nninit::init::{Normal, Orthogonal};
use nninit::stream::Philox;
use nninit::{Init, TensorSpec};

use crate::error::Result;
use crate::model::{Bias, LayerWeights, ModelSpec};

/// How biases start.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum BiasRule {
    /// Zeros (every modern recipe).
    #[default]
    Zero,
    /// N(0, std²), e.g. the mean-field papers' σ_b² > 0.
    Normal {
        /// The standard deviation, √σ_b².
        std: f64,
    },
}

/// What a data-dependent initialization does after its data-free pre-init.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DataDependent {
    /// Layer-sequential unit variance (Mishkin & Matas 2016): orthogonal pre-init, then each
    /// layer's weight is divided by the std of its output on one batch until the variance is
    /// within `tolerance` of 1, at most `max_iterations` times.
    Lsuv {
        /// |Var − 1| at which a layer is done (the paper's 0.1).
        tolerance: f64,
        /// Iterations per layer at most (the paper's 10).
        max_iterations: usize,
    },
    /// Weight normalization's data-dependent init (Salimans & Kingma 2016, §3): N(0, 0.05²)
    /// pre-init, then layer by layer each unit's weights are scaled by 1/σ and its bias set
    /// to −μ/σ, where μ and σ are the mean and std of the unit's output on one batch.
    WeightNorm,
}

/// How one configuration's weights start.
#[derive(Clone, Debug, PartialEq)]
pub enum InitMethod {
    /// One nninit rule for every weight, fans from each weight's own geometry.
    Rule {
        /// The weight rule.
        weight: Init,
        /// The bias rule.
        bias: BiasRule,
    },
    /// A data-dependent scheme; see [`crate::lsuv`].
    DataDependent(DataDependent),
}

/// A named initialization, as experiments list them.
#[derive(Clone, Debug, PartialEq)]
pub struct InitChoice {
    /// Display name, e.g. `He`, `N(0,1)`, `LSUV`.
    pub name: String,
    /// What it does.
    pub method: InitMethod,
}

impl InitMethod {
    /// The data-free rule this method starts from.
    pub fn pre_init(&self) -> Result<(Init, BiasRule)> {
        Ok(match self {
            Self::Rule { weight, bias } => (*weight, *bias),
            Self::DataDependent(DataDependent::Lsuv { .. }) => {
                (Init::Orthogonal(Orthogonal::new(1.0)?), BiasRule::Zero)
            }
            Self::DataDependent(DataDependent::WeightNorm) => (Init::Normal(Normal::new(0.0, 0.05)?), BiasRule::Zero),
        })
    }
}

/// The initial values of every layer of `spec` under `method`'s data-free rule and `seed`.
///
/// Each weight is drawn from nninit's stream of `(seed, "<layer>.weight")`, so two
/// configurations that differ only in their rule's scale share the same underlying draws
/// (common random numbers make comparisons between inits less noisy).
///
/// # Errors
/// The rule's own errors (for example a delta-orthogonal rule on a dense layer).
pub fn initial_weights(spec: &ModelSpec, method: &InitMethod, seed: u64) -> Result<Vec<LayerWeights>> {
    let (rule, bias_rule) = method.pre_init()?;
    spec.layers()?
        .iter()
        .map(|layer| {
            let mut weight = vec![0f32; layer.weight_dims.iter().product()];
            rule.fill(&layer.spec, &Philox::new(seed, &format!("{}.weight", layer.name)), &mut weight)?;
            let bias = match (spec.bias, bias_rule) {
                (Bias::Off, _) => None,
                (Bias::On, BiasRule::Zero) => Some(vec![0f32; layer.units]),
                (Bias::On, BiasRule::Normal { std }) => {
                    let mut b = vec![0f32; layer.units];
                    let spec = TensorSpec::new(nninit::Shape::new(vec![layer.units])?);
                    Init::Normal(Normal::new(0.0, std)?).fill(
                        &spec,
                        &Philox::new(seed, &format!("{}.bias", layer.name)),
                        &mut b,
                    )?;
                    Some(b)
                }
            };
            Ok(LayerWeights { weight, bias })
        })
        .collect()
}
