//! How an experiment's named initializations become layer values, through nninit's rules
//! and streams.

#[cfg(feature = "burn")]
use burn::tensor::Device;
use nninit::Init;
use nninit::init::{Normal, Orthogonal};
use nninit::scheme::residual::ResidualScheme;
#[cfg(feature = "burn")]
use nninit::scheme::residual::{ResidualDepth, ResidualRole};
#[cfg(feature = "burn")]
use nninit_burn::{Kind, Rules};

use crate::error::{LabError, Result};
#[cfg(feature = "burn")]
use crate::model::{LAYERS_PER_BRANCH, LayerRole, LayerWeights, Network};
use crate::model::{ModelSpec, Residual};

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
    /// A residual-network scheme (Fixup, SkipInit, ReZero) of nninit's
    /// [`nninit::scheme::residual`], for the block forms with learned scalars: its rules by
    /// where each parameter sits (stem, branch layers, classifier, multiplier, scalar biases).
    Residual(ResidualScheme),
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
    /// Checks that this initialization fits the model's block form: Fixup needs
    /// [`Residual::Fixup`], SkipInit and ReZero [`Residual::Scaled`] (the multiplier they start
    /// at 0), and the data-dependent schemes, which walk the network layer by layer, a plain
    /// stack or the one-layer residual form.
    ///
    /// # Errors
    /// [`LabError::InitForModel`] naming the init and both block forms.
    pub fn check(&self, spec: &ModelSpec) -> Result<()> {
        let (init, needs): (&str, &[Residual]) = match self {
            Self::Residual(ResidualScheme::Fixup) => ("fixup", &[Residual::Fixup]),
            Self::Residual(s) => (s.name(), &[Residual::Scaled]),
            Self::DataDependent(DataDependent::Lsuv { .. }) => ("lsuv", &[Residual::Off, Residual::On]),
            Self::DataDependent(DataDependent::WeightNorm) => ("weight-norm", &[Residual::Off, Residual::On]),
            Self::Rule { .. } => return Ok(()),
        };
        if needs.contains(&spec.residual) {
            return Ok(());
        }
        Err(LabError::InitForModel {
            init: init.to_string(),
            residual: spec.residual.name(),
            needs: needs.iter().map(|r| format!("\"{}\"", r.name())).collect::<Vec<_>>().join(" or "),
        })
    }

    /// The data-free rule this method starts from (a residual scheme has one rule per role,
    /// not one rule: see [`rules`]).
    ///
    /// # Errors
    /// [`LabError::Model`] for a residual scheme.
    pub fn pre_init(&self) -> Result<(Init, BiasRule)> {
        Ok(match self {
            Self::Residual(s) => {
                return Err(LabError::Model { reason: format!("`{}` has no single rule; see rules::rules", s.name()) });
            }
            Self::Rule { weight, bias } => (*weight, *bias),
            Self::DataDependent(DataDependent::Lsuv { .. }) => {
                (Init::Orthogonal(Orthogonal::new(1.0)?), BiasRule::Zero)
            }
            Self::DataDependent(DataDependent::WeightNorm) => (Init::Normal(Normal::new(0.0, 0.05)?), BiasRule::Zero),
        })
    }
}

/// The nninit-burn rules of `method`'s data-free rule for the network `spec`: one rule per
/// layer weight by its burn path (`hidden.3.weight`, `conv.0.weight`, `head.weight`), and the
/// bias rule for every `*.bias`.
///
/// Delta-orthogonal is defined for convolution kernels; dense layers (the CNN's classifier)
/// take its dense counterpart, an orthogonal matrix of the same gain, as Xiao et al. 2018 do.
///
/// The block forms' extra parameters take their neutral values under a single rule
/// (multiplier 1, Fixup's scalar biases 0, BatchNorm γ = 1, β = 0), so the rule alone decides
/// the layers; a residual scheme ([`InitMethod::Residual`]) sets them by role instead.
///
/// # Errors
/// As [`ModelSpec::layers`] and [`InitMethod::check`]; an invalid bias std.
#[cfg(feature = "burn")]
pub fn rules(spec: &ModelSpec, method: &InitMethod) -> Result<Rules> {
    method.check(spec)?;
    if let InitMethod::Residual(scheme) = method {
        return residual_rules(spec, *scheme);
    }
    let (rule, bias_rule) = method.pre_init()?;
    let mut rules = block_defaults(Rules::new());
    for layer in spec.layers()? {
        let layer_rule = match (&rule, layer.weight_dims.len()) {
            (Init::DeltaOrthogonal(d), 2) => Init::Orthogonal(Orthogonal::new(d.gain())?),
            _ => rule,
        };
        rules = rules.path(&format!("{}.weight", layer.name), layer_rule);
    }
    let bias = match bias_rule {
        BiasRule::Zero => Init::Zeros,
        BiasRule::Normal { std } => Init::Normal(Normal::new(0.0, std)?),
    };
    Ok(rules.path("*.bias", bias))
}

/// The block forms' extra parameters at their neutral values: multiplier 1, scalar biases 0,
/// BatchNorm γ = 1, β = 0 and running statistics (0, 1). Paths no other model has, so the
/// other models' rules are unchanged.
#[cfg(feature = "burn")]
fn block_defaults(rules: Rules) -> Rules {
    rules
        .path("block.*.multiplier", Init::Ones)
        .path("block.*.bias1a", Init::Zeros)
        .path("block.*.bias1b", Init::Zeros)
        .path("block.*.bias2a", Init::Zeros)
        .path("block.*.bias2b", Init::Zeros)
        .module(Kind::BatchNorm, "gamma", Init::Ones)
        .module(Kind::BatchNorm, "beta", Init::Zeros)
        .module(Kind::BatchNorm, "running_mean", Init::Zeros)
        .module(Kind::BatchNorm, "running_var", Init::Ones)
}

/// The rules of a residual scheme: each layer's weight by its [`ResidualRole`] (the stem,
/// a branch's inner or last layer, the classifier), with `L` = the model's blocks and
/// [`LAYERS_PER_BRANCH`] layers per branch; the multipliers and Fixup's scalar biases by theirs;
/// vector biases 0.
#[cfg(feature = "burn")]
fn residual_rules(spec: &ModelSpec, scheme: ResidualScheme) -> Result<Rules> {
    let depth = ResidualDepth::new(spec.blocks(), LAYERS_PER_BRANCH)?;
    let rule = |role| scheme.rule(depth, role, spec.activation);
    let mut rules = Rules::new().path("block.*.multiplier", rule(ResidualRole::Multiplier)?);
    if scheme.has_scalar_biases() {
        rules = rules.path("block.*.bias*", rule(ResidualRole::ScalarBias)?);
    }
    for layer in spec.layers()? {
        let role = match layer.role {
            LayerRole::Hidden => ResidualRole::Stem,
            LayerRole::Branch { last: false, .. } => ResidualRole::BranchInner,
            LayerRole::Branch { last: true, .. } => ResidualRole::BranchLast,
            LayerRole::Head => ResidualRole::Head,
        };
        rules = rules.path(&format!("{}.weight", layer.name), rule(role)?);
    }
    Ok(rules.path("*.bias", rule(ResidualRole::Bias)?))
}

/// The initial values of every layer of `spec` under `method`'s data-free rule and `seed`, on
/// the host (for data-dependent inits, which adjust them before [`Network::new`]).
///
/// The network is initialized by [`Network::init`] (nninit-burn): each weight is drawn from
/// nninit's stream of `(seed, "<layer>.weight")`, so two configurations that differ only in
/// their rule's scale share the same underlying draws (common random numbers make comparisons
/// between inits less noisy).
///
/// # Errors
/// The rule's own errors (for example a rule that refuses a layer's shape).
#[cfg(feature = "burn")]
pub fn initial_weights(spec: &ModelSpec, method: &InitMethod, seed: u64) -> Result<Vec<LayerWeights>> {
    Ok(Network::init(spec, method, seed, &Device::flex())?.weights())
}

#[cfg(all(test, feature = "burn"))]
mod tests {
    use super::*;
    use nninit::activation::Activation;

    fn wide(width: usize) -> ModelSpec {
        ModelSpec::digits_mlp(2, width, Activation::Relu)
    }

    /// Sample std of `values` relative to `expected`, against a bound of z = 5 standard errors of the
    /// std estimator of a normal sample (relative SE = 1/√(2n)).
    fn std_within(values: &[f32], expected: f64) -> bool {
        let (_, std) = crate::probe::mean_std(values);
        let n = values.len() as f64;
        ((std / expected) - 1.0).abs() < 5.0 / (2.0 * n).sqrt()
    }

    #[test]
    fn burns_in_out_layout_takes_fan_in_from_the_first_axis() {
        // hidden.1 is burn's [1024, 1024]... make fan_in ≠ fan_out: hidden.0 is [64, 1024].
        let spec = wide(1024);
        let he =
            InitMethod::Rule { weight: Init::from(nninit::init::VarianceScaling::he_normal()), bias: BiasRule::Zero };
        let w = initial_weights(&spec, &he, 7).unwrap();
        // hidden.0: fan_in 64 → std √(2/64); 65,536 values: 5 SE = 1.4 %.
        assert!(std_within(&w[0].weight, (2.0f64 / 64.0).sqrt()));
        // hidden.1: 1,048,576 values, 5 SE = 0.35 %: a 1 % error in the std would fail.
        assert!(std_within(&w[1].weight, (2.0f64 / 1024.0).sqrt()));
        assert!(!std_within(&w[1].weight, 1.01 * (2.0f64 / 1024.0).sqrt()), "the twin must fail at 1 %");
        assert!(!std_within(&w[1].weight, 0.99 * (2.0f64 / 1024.0).sqrt()), "the twin must fail at 1 %");
        // The head [1024, 10]: fan_in 1024, not 10.
        assert!(std_within(&w[2].weight, (2.0f64 / 1024.0).sqrt()));
        assert!(w.iter().all(|l| l.bias.as_ref().is_some_and(|b| b.iter().all(|&v| v == 0.0))));
    }

    /// The values the lab drew before it used nninit-burn, computed here the old way: each
    /// layer's rule filled on the host from `Philox(seed, "<layer>.weight")` with the layout
    /// written by hand (burn's Linear `[in, out]` as JAX's, Conv2d `[out, in, kh, kw]` as
    /// PyTorch's), biases from `Philox(seed, "<layer>.bias")`. nninit-burn must give the same
    /// bits for MLPs and CNNs, with and without biases, under every kind of rule.
    #[test]
    fn initial_weights_are_the_draws_the_lab_always_made() {
        use nninit::stream::Philox;
        use nninit::{Layout, Shape, TensorSpec};
        let old = |spec: &ModelSpec, method: &InitMethod, seed: u64| -> Vec<LayerWeights> {
            let (rule, bias_rule) = method.pre_init().unwrap();
            spec.layers()
                .unwrap()
                .iter()
                .map(|layer| {
                    let dims = layer.weight_dims.clone();
                    let layout = if dims.len() == 2 { Layout::Jax } else { Layout::Torch };
                    let wspec = TensorSpec::new(Shape::new(dims.clone()).unwrap()).with_layout(layout);
                    let rule = match (&rule, dims.len()) {
                        (Init::DeltaOrthogonal(d), 2) => Init::Orthogonal(Orthogonal::new(d.gain()).unwrap()),
                        _ => rule,
                    };
                    let mut weight = vec![0f32; dims.iter().product()];
                    rule.fill(&wspec, &Philox::new(seed, &format!("{}.weight", layer.name)), &mut weight).unwrap();
                    let bias = match (spec.bias, bias_rule) {
                        (crate::model::Bias::Off, _) => None,
                        (_, BiasRule::Zero) => Some(vec![0f32; layer.units]),
                        (_, BiasRule::Normal { std }) => {
                            let mut b = vec![0f32; layer.units];
                            let bspec = TensorSpec::new(Shape::new(vec![layer.units]).unwrap());
                            Init::Normal(Normal::new(0.0, std).unwrap())
                                .fill(&bspec, &Philox::new(seed, &format!("{}.bias", layer.name)), &mut b)
                                .unwrap();
                            Some(b)
                        }
                    };
                    LayerWeights { weight, bias }
                })
                .collect()
        };
        let bits = |w: &[LayerWeights]| -> Vec<Vec<u32>> {
            w.iter()
                .flat_map(|l| [l.weight.clone(), l.bias.clone().unwrap_or_default()])
                .map(|v| v.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        let methods = [
            InitMethod::Rule {
                weight: Init::from(nninit::init::VarianceScaling::he_normal()),
                bias: BiasRule::Normal { std: 0.05 },
            },
            InitMethod::Rule {
                weight: Init::from(nninit::init::VarianceScaling::lecun_normal()),
                bias: BiasRule::Zero,
            },
            InitMethod::Rule {
                weight: Init::DeltaOrthogonal(nninit::init::DeltaOrthogonal::new(1.0).unwrap()),
                bias: BiasRule::Zero,
            },
            InitMethod::DataDependent(DataDependent::Lsuv { tolerance: 0.1, max_iterations: 10 }),
            InitMethod::DataDependent(DataDependent::WeightNorm),
        ];
        for kind in [crate::record::ModelKind::Mlp, crate::record::ModelKind::Cnn] {
            for bias in [crate::model::Bias::On, crate::model::Bias::Off] {
                let spec = ModelSpec { kind, bias, ..ModelSpec::digits_mlp(3, 8, Activation::Tanh) };
                for method in &methods {
                    for seed in [0, 12_345] {
                        assert_eq!(
                            bits(&initial_weights(&spec, method, seed).unwrap()),
                            bits(&old(&spec, method, seed)),
                            "{kind:?} {bias:?} {method:?} {seed}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn weights_depend_only_on_seed_and_layer_name() {
        let spec = wide(32);
        let he = InitMethod::Rule {
            weight: Init::from(nninit::init::VarianceScaling::he_normal()),
            bias: BiasRule::Normal { std: 0.1 },
        };
        assert_eq!(initial_weights(&spec, &he, 1).unwrap(), initial_weights(&spec, &he, 1).unwrap());
        assert_ne!(initial_weights(&spec, &he, 1).unwrap(), initial_weights(&spec, &he, 2).unwrap());
        // Common random numbers: LeCun's weights are He's divided by √2, draw for draw.
        let lecun = InitMethod::Rule {
            weight: Init::from(nninit::init::VarianceScaling::lecun_normal()),
            bias: BiasRule::Zero,
        };
        let (a, b) = (initial_weights(&spec, &he, 1).unwrap(), initial_weights(&spec, &lecun, 1).unwrap());
        for (x, y) in a[1].weight.iter().zip(&b[1].weight) {
            assert!((x / 2f32.sqrt() - y).abs() <= 1e-6 * x.abs().max(1e-3), "{x} {y}");
        }
    }
}
