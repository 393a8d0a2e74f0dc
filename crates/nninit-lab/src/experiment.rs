//! Experiments declared in TOML: which dataset, which models, which initializations, how to
//! train, how many seeds. `nninit lab run FILE.toml` runs a user's own file; the built-in
//! ones (under `experiments/` in the repository, embedded in the binary) reproduce classic
//! results.
//!
//! ```toml
//! name = "my-experiment"
//! description = "What it shows."
//! expectation = "What the literature reports."   # optional
//! dataset = "digits"                             # digits | mnist | fashion-mnist
//! seeds = 3
//!
//! [model]
//! kind = "mlp"                 # mlp | cnn
//! depth = [10, 20]             # one number or a list
//! width = 64
//! activation = ["relu", "tanh"]
//! bias = "on"                  # on | off
//! residual = "off"             # on | off (MLP only)
//!
//! [train]
//! optimizer = "sgd"            # sgd | adam
//! momentum = 0.9               # sgd only
//! lr = 0.01
//! steps = 300
//! batch = 64
//! eval_every = 50
//! loss = "cross-entropy"       # cross-entropy | mse
//! loss_criterion = 0.5         # optional: record steps until the smoothed loss is below it
//! eval_layers = false          # per-layer statistics at every evaluation
//! probe_batch = 256            # examples in the probe's (and LSUV's) batch
//! lr_scaling = "none"          # none | inverse-depth (lr / depth)
//!
//! [[init]]
//! name = "He"
//! rule = "kaiming_normal"      # any nninit rule; other keys are its parameters
//!                              # (nonlinearity defaults to the model's activation)
//! [[init]]
//! name = "N(0,1)"
//! rule = "normal"
//! std = 1.0
//! [[init]]
//! name = "LSUV"
//! rule = "lsuv"                # also: weight-norm; mean-field (sigma_w2 = [..], sigma_b2 = x)
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::Device;
use nninit::activation::Activation;
use nninit::init::{Distribution, VarianceScaling};
use nninit::stream::Philox;
use nninit::theory::MeanField;
use nninit::{FanMode, Init, InitParams};
use rayon::prelude::*;
use serde::Deserialize;

use crate::backend::Backend;
use crate::data::{self, Dataset, DatasetName};
use crate::error::{LabError, Result};
use crate::model::{Bias, ModelSpec, Network, Residual};
use crate::record::{ExperimentResults, ModelKind, RunConfig, RunRecord, TheoryOverlay};
use crate::rules::{BiasRule, DataDependent, InitChoice, InitMethod, initial_weights};
use crate::train::{LossKind, Optimizer, TrainConfig, permutation, train};

/// The experiments that ship with nninit: `(name, TOML source)`.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("quick", include_str!("../../../experiments/quick.toml")),
    ("he2015", include_str!("../../../experiments/he2015.toml")),
    ("glorot2010", include_str!("../../../experiments/glorot2010.toml")),
    ("saxe2013", include_str!("../../../experiments/saxe2013.toml")),
    ("cnn-depth", include_str!("../../../experiments/cnn-depth.toml")),
    ("edge-of-chaos", include_str!("../../../experiments/edge-of-chaos.toml")),
    ("jacobian", include_str!("../../../experiments/jacobian.toml")),
    ("smoke", include_str!("../../../experiments/smoke.toml")),
];

/// One number or a list of them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    fn to_vec(&self) -> Vec<T> {
        match self {
            Self::One(v) => vec![v.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelToml {
    kind: ModelKind,
    depth: OneOrMany<usize>,
    width: usize,
    activation: OneOrMany<String>,
    #[serde(default)]
    bias: Bias,
    #[serde(default)]
    residual: Residual,
}

fn default_momentum() -> f64 {
    0.9
}
fn default_batch() -> usize {
    64
}
fn default_eval_every() -> usize {
    50
}
fn default_probe_batch() -> usize {
    256
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainToml {
    optimizer: String,
    #[serde(default = "default_momentum")]
    momentum: f64,
    lr: f64,
    steps: usize,
    #[serde(default = "default_batch")]
    batch: usize,
    #[serde(default = "default_eval_every")]
    eval_every: usize,
    #[serde(default)]
    loss: LossKind,
    loss_criterion: Option<f64>,
    #[serde(default)]
    eval_layers: bool,
    #[serde(default = "default_probe_batch")]
    probe_batch: usize,
    #[serde(default)]
    lr_scaling: LrScaling,
}

/// How the learning rate depends on depth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrScaling {
    /// The same learning rate at every depth.
    #[default]
    None,
    /// `lr / depth`: the stable step size of a deep linear network shrinks with its depth, so
    /// depths are compared at the same effective rate (Saxe et al. 2013).
    InverseDepth,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentToml {
    name: String,
    description: String,
    expectation: Option<String>,
    dataset: String,
    seeds: usize,
    model: ModelToml,
    train: TrainToml,
    init: Vec<toml::Table>,
    #[serde(default)]
    theory: bool,
}

/// A parsed, validated experiment.
#[derive(Clone, Debug)]
pub struct Experiment {
    /// Its name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// What the literature reports.
    pub expectation: Option<String>,
    /// The dataset.
    pub dataset: DatasetName,
    /// Seeds per configuration.
    pub seeds: usize,
    /// Every configuration: model, init, training.
    pub configs: Vec<Configuration>,
    /// Examples in the probe's batch.
    pub probe_batch: usize,
    /// σ_b² of the mean-field overlay, when the experiment draws it.
    pub theory_sigma_b2: Option<f64>,
    /// The activation the overlay is computed for.
    pub theory_activation: Option<Activation>,
}

/// One configuration of an experiment.
#[derive(Clone, Debug)]
pub struct Configuration {
    /// What the records say about it.
    pub record: RunConfig,
    /// The network.
    pub model: ModelSpec,
    /// The initialization.
    pub init: InitChoice,
    /// The training.
    pub train: TrainConfig,
}

impl Experiment {
    /// A built-in experiment by name, or a TOML file by path.
    ///
    /// # Errors
    /// [`LabError::Experiment`] for an unknown name or an invalid file, [`LabError::Io`] for an
    /// unreadable one.
    pub fn load(name_or_path: &str) -> Result<Self> {
        if let Some((_, src)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(src, name_or_path);
        }
        let path = Path::new(name_or_path);
        if path.extension().is_some_and(|e| e == "toml") || path.exists() {
            let src =
                std::fs::read_to_string(path).map_err(|source| LabError::Io { path: path.to_path_buf(), source })?;
            return Self::parse(&src, name_or_path);
        }
        let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
        Err(LabError::Experiment {
            source_name: name_or_path.into(),
            reason: format!("no such experiment (built in: {}; or give a path to a .toml file)", known.join(", ")),
        })
    }

    /// Parses and validates TOML; `source_name` names it in errors.
    ///
    /// # Errors
    /// [`LabError::Experiment`] naming what is wrong.
    pub fn parse(src: &str, source_name: &str) -> Result<Self> {
        let bad = |reason: String| LabError::Experiment { source_name: source_name.into(), reason };
        let t: ExperimentToml = toml::from_str(src).map_err(|e| bad(e.message().to_string()))?;
        let dataset = DatasetName::from_str(&t.dataset).map_err(|e| bad(e.to_string()))?;
        if t.seeds == 0 {
            return Err(bad("seeds must be at least 1".into()));
        }
        let optimizer = match t.train.optimizer.as_str() {
            "sgd" => {
                if !(0.0..1.0).contains(&t.train.momentum) {
                    return Err(bad(format!("momentum must be in [0, 1), got {}", t.train.momentum)));
                }
                Optimizer::Sgd { momentum: t.train.momentum }
            }
            "adam" => Optimizer::Adam,
            other => return Err(bad(format!("unknown optimizer `{other}` (known: sgd, adam)"))),
        };
        if !(t.train.lr.is_finite() && t.train.lr > 0.0) {
            return Err(bad(format!("lr must be finite and > 0, got {}", t.train.lr)));
        }
        if t.train.steps == 0 || t.train.batch == 0 || t.train.probe_batch == 0 {
            return Err(bad("steps, batch and probe_batch must be at least 1".into()));
        }
        if t.init.is_empty() {
            return Err(bad("list at least one [[init]]".into()));
        }
        let (features, image) = (dataset.features(), dataset.image());
        let train = TrainConfig {
            steps: t.train.steps,
            batch: t.train.batch,
            lr: t.train.lr,
            optimizer,
            loss: t.train.loss,
            eval_every: Some(t.train.eval_every),
            eval_layers: t.train.eval_layers,
            loss_criterion: t.train.loss_criterion,
        };
        let activations: Vec<Activation> = t
            .model
            .activation
            .to_vec()
            .iter()
            .map(|a| a.parse::<Activation>().map_err(|e| bad(e.to_string())))
            .collect::<Result<_>>()?;
        let mut configs = Vec::new();
        let mut theory_sigma_b2 = None;
        for &activation in &activations {
            for depth in t.model.depth.to_vec() {
                let model = ModelSpec {
                    kind: t.model.kind,
                    depth,
                    width: t.model.width,
                    activation,
                    bias: t.model.bias,
                    residual: t.model.residual,
                    features,
                    image,
                    classes: 10,
                };
                model.validate().map_err(|e| bad(e.to_string()))?;
                let train = match t.train.lr_scaling {
                    LrScaling::None => train.clone(),
                    LrScaling::InverseDepth => TrainConfig { lr: train.lr / depth as f64, ..train.clone() },
                };
                let group = format!("{}-d{depth}", activation.name());
                for entry in &t.init {
                    for (init, sigma) in init_choices(entry, activation).map_err(bad)? {
                        if let Some((_, b2)) = sigma {
                            theory_sigma_b2 = Some(b2);
                        }
                        configs.push(Configuration {
                            record: RunConfig {
                                label: format!("{group}/{}", init.name),
                                group: group.clone(),
                                init: init.name.clone(),
                                model: model.kind,
                                depth,
                                width: model.width,
                                activation: activation.name().to_string(),
                                sigma_w2: sigma.map(|s| s.0),
                                sigma_b2: sigma.map(|s| s.1),
                                optimizer: optimizer.name().into(),
                                lr: train.lr,
                                dataset: dataset.to_string(),
                            },
                            model: model.clone(),
                            init,
                            train: train.clone(),
                        });
                    }
                }
            }
        }
        let theory_activation = (t.theory && activations.len() == 1).then(|| activations[0]);
        if t.theory && theory_activation.is_none() {
            return Err(bad("theory = true needs exactly one activation".into()));
        }
        Ok(Self {
            name: t.name,
            description: t.description,
            expectation: t.expectation,
            dataset,
            seeds: t.seeds,
            configs,
            probe_batch: t.train.probe_batch,
            theory_sigma_b2: theory_sigma_b2.filter(|_| t.theory),
            theory_activation,
        })
    }
}

/// One initialization from a rule name and `key=value` parameters, as the command line gives
/// them (`nninit probe --init kaiming_normal --param mode=fan_out`). The rule is any nninit
/// rule, `lsuv`, `weight-norm` or `mean-field` (with `sigma_w2` and `sigma_b2`).
///
/// # Errors
/// [`LabError::Experiment`] naming the bad parameter.
pub fn init_choice(rule: &str, params: &[(String, String)], activation: Activation) -> Result<InitChoice> {
    let mut entry = toml::Table::new();
    entry.insert("rule".into(), toml::Value::String(rule.into()));
    for (k, v) in params {
        let value = match v.trim().parse::<f64>() {
            Ok(f) => toml::Value::Float(f),
            Err(_) => toml::Value::String(v.clone()),
        };
        entry.insert(k.clone(), value);
    }
    let bad = |reason: String| LabError::Experiment { source_name: format!("--init {rule}"), reason };
    let mut choices = init_choices(&entry, activation).map_err(bad)?;
    match choices.len() {
        1 => Ok(choices.remove(0).0),
        n => Err(bad(format!("expected one initialization, got {n}"))),
    }
}

/// Reads a TOML value as the text `InitParams::set` parses.
fn value_text(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(entry: &toml::Table, key: &str) -> std::result::Result<Option<f64>, String> {
    match entry.get(key) {
        None => Ok(None),
        Some(toml::Value::Float(f)) => Ok(Some(*f)),
        Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
        Some(other) => Err(format!("`{key}` must be a number, not {other}")),
    }
}

/// An initialization with its (σ_w², σ_b²), where the entry sets them.
type ChoiceWithSigmas = (InitChoice, Option<(f64, f64)>);

/// The initializations one `[[init]]` entry stands for (several for a `mean-field` grid),
/// with (σ_w², σ_b²) where the entry sets them.
fn init_choices(entry: &toml::Table, activation: Activation) -> std::result::Result<Vec<ChoiceWithSigmas>, String> {
    let text = |key: &str| entry.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let rule = text("rule").ok_or("every [[init]] needs `rule`")?;
    let name = text("name").unwrap_or_else(|| rule.clone());
    let bias = match number(entry, "bias_std")? {
        Some(std) => BiasRule::Normal { std },
        None => BiasRule::Zero,
    };
    let allow = |keys: &[&str]| -> std::result::Result<(), String> {
        match entry.keys().find(|k| !["name", "rule"].contains(&k.as_str()) && !keys.contains(&k.as_str())) {
            Some(k) => Err(format!("init `{name}`: `{rule}` does not take `{k}`")),
            None => Ok(()),
        }
    };
    let one = |method| Ok(vec![(InitChoice { name: name.clone(), method }, None)]);
    match rule.as_str() {
        "lsuv" => {
            allow(&["tolerance", "max_iterations"])?;
            let tolerance = number(entry, "tolerance")?.unwrap_or(0.1);
            let max_iterations = number(entry, "max_iterations")?.unwrap_or(10.0) as usize;
            if !(tolerance > 0.0 && tolerance < 1.0) {
                return Err(format!("init `{name}`: tolerance must be in (0, 1)"));
            }
            one(InitMethod::DataDependent(DataDependent::Lsuv { tolerance, max_iterations }))
        }
        "weight-norm" => {
            allow(&[])?;
            one(InitMethod::DataDependent(DataDependent::WeightNorm))
        }
        "mean-field" => {
            allow(&["sigma_w2", "sigma_b2"])?;
            let sigma_b2 = number(entry, "sigma_b2")?.unwrap_or(0.0);
            let grid: Vec<f64> = match entry.get("sigma_w2") {
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                    .collect::<Option<_>>()
                    .ok_or("sigma_w2 must be numbers")?,
                Some(v) => {
                    vec![v.as_float().or_else(|| v.as_integer().map(|i| i as f64)).ok_or("sigma_w2 must be a number")?]
                }
                None => return Err(format!("init `{name}`: mean-field needs sigma_w2")),
            };
            let named = entry.contains_key("name") && grid.len() == 1;
            grid.into_iter()
                .map(|sw2| {
                    let weight = Init::VarianceScaling(
                        VarianceScaling::new(sw2, FanMode::FanIn, Distribution::Normal).map_err(|e| e.to_string())?,
                    );
                    let bias = if sigma_b2 > 0.0 { BiasRule::Normal { std: sigma_b2.sqrt() } } else { BiasRule::Zero };
                    Ok((
                        InitChoice {
                            name: if named { name.clone() } else { format!("σw²={sw2}") },
                            method: InitMethod::Rule { weight, bias },
                        },
                        Some((sw2, sigma_b2)),
                    ))
                })
                .collect()
        }
        _ => {
            let mut params = InitParams::default();
            for (key, value) in entry {
                if ["name", "rule", "bias_std"].contains(&key.as_str()) {
                    continue;
                }
                let v =
                    value_text(value).ok_or_else(|| format!("init `{name}`: `{key}` must be a string or number"))?;
                params.set(key, &v).map_err(|e| format!("init `{name}`: {e}"))?;
            }
            let takes_nonlinearity = matches!(rule.as_str(), "kaiming_normal" | "kaiming_uniform" | "he_uniform");
            if takes_nonlinearity && params.nonlinearity.is_none() {
                params.nonlinearity = Some(activation);
            }
            let weight = Init::parse(&rule, &params).map_err(|e| format!("init `{name}`: {e}"))?;
            one(InitMethod::Rule { weight, bias })
        }
    }
}

/// Overrides and places for one run of an experiment.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Seeds per configuration instead of the file's.
    pub seeds: Option<usize>,
    /// Training steps instead of the file's.
    pub steps: Option<usize>,
    /// Where fetched datasets are (default: [`data::default_data_dir`]).
    pub data_dir: Option<PathBuf>,
    /// The backend.
    pub backend: Backend,
    /// Runs in parallel (default: the machine's cores; burn's own kernels also use them).
    pub jobs: Option<usize>,
}

/// What the runner reports as it goes.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// The experiment has this many runs.
    Planned {
        /// Runs in total.
        runs: usize,
        /// Steps per run.
        steps: usize,
    },
    /// One training step of some run is done.
    Step,
    /// A run finished.
    RunDone(&'a RunRecord),
}

/// Runs every configuration under every seed; `on_event` hears about progress.
///
/// # Errors
/// Dataset, model and init errors (before any training starts where possible).
pub fn run(exp: &Experiment, opts: &RunOptions, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Result<ExperimentResults> {
    let started = Instant::now();
    let data = data::load(exp.dataset, opts.data_dir.as_deref())?;
    let device = opts.backend.device()?;
    let seeds = opts.seeds.unwrap_or(exp.seeds).max(1);
    let mut configs = exp.configs.clone();
    if let Some(steps) = opts.steps {
        for c in &mut configs {
            c.train.steps = steps.max(1);
            c.train.eval_every = c.train.eval_every.map(|e| e.min(steps.max(1)));
        }
    }
    // Fail fast: every init must build for every model before anything trains.
    for c in &configs {
        initial_weights(&c.model, &c.init.method, 0)?;
    }
    let jobs: Vec<(usize, u64)> = (0..configs.len()).flat_map(|c| (0..seeds as u64).map(move |s| (c, s))).collect();
    on_event(Event::Planned { runs: jobs.len(), steps: configs.first().map_or(0, |c| c.train.steps) });
    let threads = opts.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| LabError::Backend {
        name: opts.backend.to_string(),
        reason: format!("cannot start worker threads: {e}"),
    })?;
    let results: Mutex<Vec<Option<RunRecord>>> = Mutex::new(vec![None; jobs.len()]);
    let first_error: Mutex<Option<LabError>> = Mutex::new(None);
    pool.install(|| {
        jobs.par_iter().enumerate().for_each(|(i, &(c, seed))| {
            match run_one(&exp.name, &configs[c], seed, &data, exp.probe_batch, &device, on_event) {
                Ok(record) => {
                    on_event(Event::RunDone(&record));
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(record);
                    }
                }
                Err(e) => {
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(e);
                    }
                }
            }
        });
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let runs: Vec<RunRecord> = results.into_inner().unwrap_or_default().into_iter().flatten().collect();
    let theory = match (exp.theory_activation, exp.theory_sigma_b2) {
        (Some(activation), Some(sigma_b2)) => Some(theory_overlay(activation, sigma_b2, &configs)?),
        _ => None,
    };
    Ok(ExperimentResults {
        name: exp.name.clone(),
        description: exp.description.clone(),
        expectation: exp.expectation.clone(),
        loss_criterion: configs.first().and_then(|c| c.train.loss_criterion),
        runs,
        theory,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// 6·ξ_c over a fine σ_w² grid spanning the experiment's.
fn theory_overlay(activation: Activation, sigma_b2: f64, configs: &[Configuration]) -> Result<TheoryOverlay> {
    let sw: Vec<f64> = configs.iter().filter_map(|c| c.record.sigma_w2).collect();
    let (lo, hi) = sw.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let points = 200;
    let mut trainable_depth = Vec::with_capacity(points + 1);
    for i in 0..=points {
        let s = lo + (hi - lo) * i as f64 / points as f64;
        let a = MeanField::new(activation, s, sigma_b2)?.analyze();
        trainable_depth.push((s, a.trainable_depth));
    }
    Ok(TheoryOverlay { sigma_b2, trainable_depth })
}

/// The probe batch: the first `n` examples of a fixed permutation of the training set.
pub fn probe_batch(data: &Dataset, seed: u64, n: usize) -> (Vec<f32>, Vec<u8>) {
    let order = permutation(&Philox::new(seed, "lab.probe-batch"), 0, data.train.n);
    data.train.batch(&order[..n.min(order.len())], data.features)
}

/// One configuration under one seed: init (data-dependent where asked), probe, train.
///
/// # Errors
/// Model and init errors.
pub fn run_one(
    experiment: &str,
    config: &Configuration,
    seed: u64,
    data: &Dataset,
    probe_examples: usize,
    device: &Device,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<RunRecord> {
    let started = Instant::now();
    let spec = &config.model;
    let mut weights = initial_weights(spec, &config.init.method, seed)?;
    let (x, y) = probe_batch(data, seed, probe_examples);
    let init_iterations = match &config.init.method {
        InitMethod::DataDependent(method) => {
            Some(crate::lsuv::apply(spec, &mut weights, *method, &x, y.len(), &device.clone().inner())?)
        }
        InitMethod::Rule { .. } => None,
    };
    let net = Network::new(spec, &weights, device)?;
    let loss = config.train.loss;
    let probe = crate::probe::probe(spec, &net, &x, &y, loss, device)?;
    let outcome = train(spec, net, data, &config.train, seed, device, &mut |_| on_event(Event::Step));
    Ok(RunRecord {
        experiment: experiment.to_string(),
        config: config.record.clone(),
        seed,
        status: outcome.status,
        steps: outcome.steps,
        evals: outcome.evals,
        probe: Some(probe),
        init_iterations,
        steps_to_criterion: outcome.steps_to_criterion,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_experiment_parses() {
        for (name, src) in BUILT_IN {
            let exp = Experiment::parse(src, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&exp.name, name);
            assert!(!exp.configs.is_empty());
        }
    }

    #[test]
    fn every_built_in_init_builds_every_built_in_model() {
        // What `run` checks before training, for every shipped experiment (cnn-depth's
        // delta-orthogonal rule meets a dense classifier, for one).
        for (name, src) in BUILT_IN {
            for c in Experiment::parse(src, name).unwrap().configs {
                if let InitMethod::Rule { .. } = c.init.method {
                    initial_weights(&c.model, &c.init.method, 0)
                        .unwrap_or_else(|e| panic!("{name} {}: {e}", c.record.label));
                }
            }
        }
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let base = BUILT_IN[0].1;
        let cases = [
            (base.replace("optimizer = \"sgd\"", "optimizer = \"lbfgs\""), "unknown optimizer"),
            (base.replace("dataset = \"digits\"", "dataset = \"cifar\""), "cifar"),
            (format!("{base}\n[[init]]\nname = \"x\"\nrule = \"normal\"\nstdd = 1.0\n"), "stdd"),
            (format!("{base}\n[[init]]\nname = \"x\"\nrule = \"lsuv\"\nstd = 1.0\n"), "does not take `std`"),
            ("name = 3".to_string(), "invalid type"),
        ];
        for (src, needle) in cases {
            let err = Experiment::parse(&src, "t").expect_err(needle).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn kaiming_takes_the_models_activation() {
        let src = BUILT_IN[0].1.replace("nonlinearity = \"relu\"\n", "");
        let exp = Experiment::parse(&src, "quick-without-nonlinearity").unwrap();
        let he = exp.configs.iter().find(|c| c.record.activation == "tanh" && c.init.name == "He").unwrap();
        match &he.init.method {
            InitMethod::Rule { weight, .. } => assert!(format!("{weight:?}").contains("Tanh"), "{weight:?}"),
            other => panic!("{other:?}"),
        }
    }
}
