//! What the lab measures, as plain data: the rows every experiment writes and every report reads.
//!
//! Nothing here depends on burn, so the report, the CLI and external tools can read
//! `results.jsonl` without a training backend.

use serde::{Deserialize, Serialize};

use crate::error::LabError;

/// Reading back what `serde_json` writes for non-finite numbers: it writes NaN and ±∞ as
/// `null`, so a diverged run's losses are `null` in `results.jsonl`. These read `null` as
/// NaN, so that every row the lab writes can be read again (an infinity comes back as NaN;
/// an optional number that was non-finite comes back as `None`).
pub(crate) mod nan_null {
    use serde::{Deserialize, Deserializer};

    /// A number, or `null` as NaN.
    pub(crate) fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    /// A list of numbers, each `null` as NaN.
    pub(crate) fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }

    /// A list of pairs of numbers, each `null` as NaN.
    pub(crate) fn pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
        let pairs = Vec::<(Option<f64>, Option<f64>)>::deserialize(d)?;
        Ok(pairs.into_iter().map(|(a, b)| (a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN))).collect())
    }
}

/// Which kind of network a configuration trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// A multilayer perceptron: `depth` hidden layers of `width` units.
    Mlp,
    /// A plain convolutional network without normalization: `depth` 3x3 convolutions of `width` channels.
    Cnn,
}

/// Which kind of network a record describes: one of the classifiers of [`ModelKind`], or the
/// character-level GPT (`crate::model::GptSpec`), which is not a [`ModelKind`] because it has
/// no classifier's spec. Serialized as the same names (`mlp`, `cnn`, `gpt`), so records
/// written before the GPT existed read back unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// A multilayer perceptron ([`ModelKind::Mlp`]).
    Mlp,
    /// A plain convolutional network ([`ModelKind::Cnn`]).
    Cnn,
    /// The decoder-only character-level GPT.
    Gpt,
}

impl From<ModelKind> for Architecture {
    fn from(kind: ModelKind) -> Self {
        match kind {
            ModelKind::Mlp => Self::Mlp,
            ModelKind::Cnn => Self::Cnn,
        }
    }
}

/// What a GPT configuration adds to its [`RunConfig`]: the block form and the nninit scheme
/// it was initialized with, and the sizes [`RunConfig`] has no field for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GptRecord {
    /// The block form's name: `pre-ln`, `post-ln`, `deepnorm`, `no-norm`.
    pub form: String,
    /// The nninit scheme's name, as `nninit materialize --scheme` takes it (`hf`, `t-fixup`, ...).
    pub scheme: String,
    /// Attention heads per block.
    pub heads: usize,
    /// Positions of the context window.
    pub context: usize,
    /// The MLP's inner width.
    pub mlp_width: usize,
    /// Whether the output projection is the token embedding (`true`, GPT-2's tying).
    pub tied_head: bool,
}

/// One configuration of an experiment: everything but the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Short unique label within the experiment, e.g. `relu-d20/he_normal`.
    pub label: String,
    /// The group this configuration is plotted in (configurations of one group share a figure), e.g. `relu-d20`.
    pub group: String,
    /// The initialization's display name, e.g. `he_normal`, `N(0,1)`, `lsuv`.
    pub init: String,
    /// The model kind.
    pub model: Architecture,
    /// Number of hidden layers (MLP) or convolutions (CNN).
    pub depth: usize,
    /// Hidden width (MLP) or channels (CNN).
    pub width: usize,
    /// Activation name as nninit spells it (`relu`, `tanh`, ...).
    pub activation: String,
    /// Weight variance times fan-in (σ_w²), where the configuration sets it explicitly.
    pub sigma_w2: Option<f64>,
    /// Bias variance (σ_b²), where the configuration sets it explicitly.
    pub sigma_b2: Option<f64>,
    /// Optimizer name (`sgd`, `adam`).
    pub optimizer: String,
    /// Learning rate.
    #[serde(deserialize_with = "nan_null::f64")]
    pub lr: f64,
    /// Dataset name (`digits`, `mnist`, `fashion-mnist`, `shakespeare`).
    pub dataset: String,
    /// The GPT's form, scheme and sizes, for GPT configurations (absent from classifier
    /// records, and from records written before the GPT existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpt: Option<GptRecord>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RunStatus {
    /// Every step ran with finite loss.
    Finished,
    /// The loss or a gradient became NaN or infinite at `step`; the run was stopped there.
    Diverged {
        /// The first step whose loss or gradients were not finite.
        step: usize,
    },
}

/// The training loss at one step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Optimizer step, counted from 1.
    pub step: usize,
    /// Mini-batch training loss before this step's update.
    #[serde(deserialize_with = "nan_null::f64")]
    pub loss: f64,
}

/// Per-layer statistics of a forward and backward pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// Layer index from the input, starting at 1.
    pub layer: usize,
    /// Layer name, e.g. `hidden.3` or `conv.7`.
    pub name: String,
    /// Mean of the layer's post-activation output over the batch.
    #[serde(deserialize_with = "nan_null::f64")]
    pub act_mean: f64,
    /// Standard deviation of the layer's post-activation output over the batch.
    #[serde(deserialize_with = "nan_null::f64")]
    pub act_std: f64,
    /// Standard deviation of the pre-activation.
    #[serde(deserialize_with = "nan_null::f64")]
    pub preact_std: f64,
    /// Fraction of units whose activation derivative is zero for every example of the batch (dead ReLUs).
    #[serde(deserialize_with = "nan_null::f64")]
    pub dead_fraction: f64,
    /// Fraction of outputs whose activation is saturated (|derivative| < 0.01); 0 for activations that do not saturate.
    #[serde(deserialize_with = "nan_null::f64")]
    pub saturated_fraction: f64,
    /// Standard deviation of the loss gradient with respect to this layer's weight.
    #[serde(deserialize_with = "nan_null::f64")]
    pub grad_std: f64,
    /// Standard deviation of the loss gradient with respect to this layer's pre-activation.
    #[serde(deserialize_with = "nan_null::f64")]
    pub backprop_std: f64,
}

/// Singular values of the network's input–output Jacobian at one input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spectrum {
    /// Singular values, largest first.
    #[serde(deserialize_with = "nan_null::vec")]
    pub singular_values: Vec<f64>,
    /// Mean squared singular value (the mean of the Jacobian's squared Frobenius norm per dimension).
    #[serde(deserialize_with = "nan_null::f64")]
    pub mean_squared: f64,
    /// Mean-field theory's prediction of the mean squared singular value (∏ χ₁(q^l) along the input's length
    /// trajectory; χ₁^(L−1) at the fixed point), where it applies.
    pub theory_mean_squared: Option<f64>,
}

/// What the probe concludes about signal propagation, graded by what the whole depth does (see
/// [`crate::probe::verdict`]): vanishing and exploding mean "will not train as it is".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignalKind {
    /// Activations and gradients keep their scale over the whole network (within a factor of 2 from
    /// the first hidden layer to the last).
    Healthy,
    /// A mild drift: the activations or gradients change by more than a factor of 2 over the network
    /// but less than what stopped the lab's recorded runs from training; the sentence gives the number.
    Drifting,
    /// The forward signal or the gradient shrinks over the network past what trains (or the depth is
    /// beyond mean-field theory's trainable depth in the ordered phase).
    Vanishing,
    /// The forward signal or the gradient grows over the network past what trains, overflows, or the
    /// depth is beyond mean-field theory's trainable depth in the chaotic phase.
    Exploding,
}

/// The probe's verdict: the kind and the per-layer rates behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Healthy, vanishing or exploding.
    pub kind: SignalKind,
    /// Geometric-mean ratio of activation std from one layer to the next.
    #[serde(deserialize_with = "nan_null::f64")]
    pub forward_rate: f64,
    /// Geometric-mean ratio of backpropagated gradient std from one layer to the previous one (input side over output side).
    #[serde(deserialize_with = "nan_null::f64")]
    pub backward_rate: f64,
    /// Mean-field theory's trainable depth 6 ξ_c at the network's measured σ_w² and σ_b² (MLPs without
    /// residual connections); `None` where the theory does not apply or the depth is unbounded (at the
    /// edge of chaos). Absent from records written before it existed.
    #[serde(default)]
    pub trainable_depth: Option<f64>,
    /// One sentence a practitioner can act on.
    pub sentence: String,
}

/// Everything the probe measures on a model at initialization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// One entry per hidden layer, from the input.
    pub layers: Vec<LayerStats>,
    /// The input–output Jacobian's spectrum (MLPs up to width 1024).
    pub jacobian: Option<Spectrum>,
    /// The verdict.
    pub verdict: Verdict,
}

/// One evaluation on the test set during training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    /// Optimizer steps done before this evaluation.
    pub step: usize,
    /// Mean loss over the test set.
    #[serde(deserialize_with = "nan_null::f64")]
    pub test_loss: f64,
    /// Accuracy over the test set (classification), in [0, 1]; `None` for regression and for
    /// the GPT.
    pub test_accuracy: Option<f64>,
    /// L2 norm of each layer's weight gradient on the last training batch, from the input
    /// (empty for the GPT, which does not measure them).
    #[serde(deserialize_with = "nan_null::vec")]
    pub grad_norms: Vec<f64>,
    /// Per-layer activation and gradient statistics at this point, where the experiment asks for them.
    pub layers: Option<Vec<LayerStats>>,
    /// Validation cross-entropy in bits per character (GPT runs, whose `test_loss` is the same
    /// in nats); absent for classifiers and from records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_bits: Option<f64>,
}

/// One training run: one configuration under one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The experiment's name.
    pub experiment: String,
    /// The configuration.
    pub config: RunConfig,
    /// The seed of the initialization and the data order.
    pub seed: u64,
    /// Finished or diverged.
    pub status: RunStatus,
    /// Training loss at every step.
    pub steps: Vec<StepRow>,
    /// Test-set evaluations.
    pub evals: Vec<EvalRow>,
    /// The probe at initialization (after any data-dependent init).
    pub probe: Option<Probe>,
    /// For data-dependent inits (LSUV), the iterations each layer took.
    pub init_iterations: Option<Vec<usize>>,
    /// The first step at which the training loss (smoothed over 10 steps) fell below the experiment's criterion.
    pub steps_to_criterion: Option<usize>,
    /// Wall-clock seconds the run took.
    #[serde(deserialize_with = "nan_null::f64")]
    pub seconds: f64,
}

/// An experiment's results: its runs plus what the report needs to say about them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResults {
    /// The experiment's name.
    pub name: String,
    /// What the experiment shows, in one paragraph (from its TOML file).
    pub description: String,
    /// What the literature reports, to compare with (from its TOML file).
    pub expectation: Option<String>,
    /// The loss criterion for steps-to-criterion, if the experiment sets one.
    pub loss_criterion: Option<f64>,
    /// Every run, in the order they ran.
    pub runs: Vec<RunRecord>,
    /// Mean-field theory overlays, for experiments that draw them (edge of chaos).
    pub theory: Option<TheoryOverlay>,
    /// Seconds the whole experiment took (for results joined from shards, the sum of the
    /// shards' seconds).
    #[serde(deserialize_with = "nan_null::f64")]
    pub seconds: f64,
    /// For one shard of an experiment split across machines, which one; `None` for a whole
    /// experiment, run on one machine or joined from its shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardOf>,
}

/// One of `count` parts of an experiment's runs, for running them on several machines
/// (`nninit lab run NAME --shard INDEX/COUNT`, a Slurm job array's task): shard `index` takes
/// the runs whose position in the experiment's order (configurations in file order, each under
/// seeds 0, 1, ...) is `index` modulo `count`, so every shard gets a share of each depth and
/// init, and joining the shards ([`crate::experiment::merge`]) puts every run back in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Shard `index` of `count`, counted from 0 as ranks and Slurm's `--array=0-N` are.
    ///
    /// # Errors
    /// [`LabError::OutOfRange`] for `count` outside [`crate::limits::SHARDS`] or `index ≥ count`.
    pub fn new(index: usize, count: usize) -> Result<Self, LabError> {
        const WHAT: &str = "shard";
        crate::limits::SHARDS.check_usize(WHAT, count)?;
        if index >= count {
            return Err(LabError::OutOfRange {
                what: WHAT.into(),
                name: "index",
                value: index.to_string(),
                valid: format!("0 to {} for {count} shards", count - 1),
            });
        }
        Ok(Self { index, count })
    }

    /// This shard's index, from 0.
    pub fn index(self) -> usize {
        self.index
    }

    /// How many shards the experiment is split into.
    pub fn count(self) -> usize {
        self.count
    }

    /// Whether the run at `position` in the experiment's order is this shard's.
    pub fn takes(self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// How many of `total` runs are this shard's.
    pub fn runs_of(self, total: usize) -> usize {
        (total + self.count - 1 - self.index) / self.count
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = LabError;

    /// `INDEX/COUNT`, for example `0/4` … `3/4`.
    fn from_str(text: &str) -> Result<Self, LabError> {
        let bad = || LabError::OutOfRange {
            what: "shard".into(),
            name: "INDEX/COUNT",
            value: format!("{text:?}"),
            valid: "two whole numbers such as 0/4, the index from 0".into(),
        };
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let number = |t: &str| t.trim().parse::<usize>().map_err(|_| bad());
        Self::new(number(index)?, number(count)?)
    }
}

/// The shard a part of an experiment's results is, and how many runs the whole has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOf {
    /// Which shard.
    #[serde(flatten)]
    pub shard: Shard,
    /// Runs of the whole experiment (every shard's together).
    pub total_runs: usize,
}

/// The mean-field theory's prediction drawn over an experiment's heatmap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TheoryOverlay {
    /// σ_b² the curve was computed at.
    #[serde(deserialize_with = "nan_null::f64")]
    pub sigma_b2: f64,
    /// Points (σ_w², 6·ξ_c), the predicted maximum trainable depth.
    #[serde(deserialize_with = "nan_null::pairs")]
    pub trainable_depth: Vec<(f64, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_runs() {
        for total in 1..40 {
            for count in 1..=total {
                let shards: Vec<Shard> = (0..count).map(|i| Shard::new(i, count).unwrap()).collect();
                for position in 0..total {
                    assert_eq!(shards.iter().filter(|s| s.takes(position)).count(), 1, "{position} of {total}");
                }
                for s in &shards {
                    assert_eq!(s.runs_of(total), (0..total).filter(|&p| s.takes(p)).count(), "{s} of {total}");
                }
            }
        }
    }

    #[test]
    fn shards_parse_and_refuse_what_is_not_one() {
        let s: Shard = "2/5".parse().unwrap();
        assert_eq!((s.index(), s.count(), s.to_string()), (2, 5, "2/5".to_string()));
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap(), Shard::new(0, 1).unwrap());
        for text in ["5/5", "6/5", "0/0", "1", "a/2", "-1/2", "1/2/3", "", "0/100001"] {
            match text.parse::<Shard>() {
                Err(LabError::OutOfRange { what, .. }) => assert_eq!(what, "shard", "{text}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let msg = "5/5".parse::<Shard>().unwrap_err().to_string();
        assert!(msg.contains("0 to 4 for 5 shards"), "{msg}");
    }
}
