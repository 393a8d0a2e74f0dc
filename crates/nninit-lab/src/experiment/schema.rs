//! The experiment file: its TOML schema, validated into [`Experiment`]s of runnable
//! configurations.

use std::path::Path;
use std::str::FromStr;

use nninit::activation::Activation;
use nninit::init::{Distribution, VarianceScaling};
use nninit::{FanMode, Init, InitParams};
use serde::Deserialize;

use nninit::scheme::Scheme;

use crate::data::{DatasetName, Fetchable, TextSpec};
use crate::error::{LabError, Result};
use crate::limits;
use crate::loss::LossKind;
use crate::model::{Bias, BlockForm, GptSpec, HeadTying, ModelSpec, Residual};
use crate::record::{Architecture, GptRecord, ModelKind, RunConfig};
use crate::rules::{BiasRule, DataDependent, InitChoice, InitMethod};
use crate::train::{EvalLayers, Optimizer, TrainConfig};
use nninit::scheme::residual::ResidualScheme;

/// The experiments that ship with nninit: `(name, TOML source)`.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("quick", include_str!("../../../../experiments/quick.toml")),
    ("he2015", include_str!("../../../../experiments/he2015.toml")),
    ("glorot2010", include_str!("../../../../experiments/glorot2010.toml")),
    ("saxe2013", include_str!("../../../../experiments/saxe2013.toml")),
    ("cnn-depth", include_str!("../../../../experiments/cnn-depth.toml")),
    ("edge-of-chaos", include_str!("../../../../experiments/edge-of-chaos.toml")),
    ("jacobian", include_str!("../../../../experiments/jacobian.toml")),
    ("gelu-depth", include_str!("../../../../experiments/gelu-depth.toml")),
    ("resnet-depth", include_str!("../../../../experiments/resnet-depth.toml")),
    ("smoke", include_str!("../../../../experiments/smoke.toml")),
    ("transformer-depth", include_str!("../../../../experiments/transformer-depth.toml")),
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

/// `[model]`: the classifiers' keys (`activation`, `bias`, `residual`) and the GPT's
/// (`heads`, `context`, `mlp_width`, `head`), each refused for the other kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelToml {
    kind: Architecture,
    depth: OneOrMany<usize>,
    width: usize,
    activation: Option<OneOrMany<String>>,
    bias: Option<Bias>,
    residual: Option<Residual>,
    heads: Option<usize>,
    context: Option<usize>,
    mlp_width: Option<usize>,
    head: Option<HeadTying>,
}

const DEFAULT_MOMENTUM: f64 = 0.9;
const DEFAULT_PROBE_BATCH: usize = 256;
/// Validation windows per measurement of a GPT run when the file does not say.
const DEFAULT_VALIDATION_WINDOWS: usize = 64;
fn default_batch() -> usize {
    64
}
fn default_eval_every() -> usize {
    50
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainToml {
    optimizer: String,
    momentum: Option<f64>,
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
    probe_batch: Option<usize>,
    #[serde(default)]
    lr_scaling: LrScaling,
    validation_windows: Option<usize>,
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
    /// The dataset: an image set for the classifiers, a text for the GPT.
    pub dataset: Fetchable,
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
    /// The network and how it starts.
    pub setup: Setup,
    /// The training (for the GPT: Adam, cross-entropy, no per-layer statistics).
    pub train: TrainConfig,
}

/// What a configuration trains, and how it is initialized.
#[derive(Clone, Debug)]
pub enum Setup {
    /// A classifier (MLP or CNN) under one initialization.
    Classifier {
        /// The network.
        model: ModelSpec,
        /// The initialization.
        init: InitChoice,
    },
    /// The character-level GPT under one nninit scheme.
    Gpt {
        /// The network, its block form included.
        spec: GptSpec,
        /// The scheme every parameter is drawn from (through the plan of the spec's GPT-2 config).
        scheme: Scheme,
        /// Validation windows read at each measurement (from the start of the validation split).
        validation_windows: usize,
    },
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
    /// [`LabError::Experiment`] naming what is wrong (with the line and column for TOML that
    /// does not match the schema: a wrong type, an unknown or a missing key),
    /// [`LabError::OutOfRange`] for a count or size outside its range in [`crate::limits`].
    pub fn parse(src: &str, source_name: &str) -> Result<Self> {
        let bad = |reason: String| LabError::Experiment { source_name: source_name.into(), reason };
        let t: ExperimentToml = toml::from_str(src).map_err(|e| bad(toml_error(src, &e)))?;
        let dataset = Fetchable::from_str(&t.dataset).map_err(|e| bad(e.to_string()))?;
        limits::SEEDS.check_usize(source_name, t.seeds)?;
        let built = match t.model.kind {
            Architecture::Mlp => classifier_configs(&t, ModelKind::Mlp, dataset, source_name)?,
            Architecture::Cnn => classifier_configs(&t, ModelKind::Cnn, dataset, source_name)?,
            Architecture::Gpt => gpt_configs(&t, dataset, source_name)?,
        };
        Ok(Self {
            name: t.name,
            description: t.description,
            expectation: t.expectation,
            dataset,
            seeds: t.seeds,
            configs: built.configs,
            probe_batch: t.train.probe_batch.unwrap_or(DEFAULT_PROBE_BATCH),
            theory_sigma_b2: built.theory_sigma_b2,
            theory_activation: built.theory_activation,
        })
    }
}

/// What one kind's half of [`Experiment::parse`] builds.
struct Built {
    configs: Vec<Configuration>,
    theory_sigma_b2: Option<f64>,
    theory_activation: Option<Activation>,
}

/// The kind's name as the file writes it.
fn kind_name(kind: Architecture) -> &'static str {
    match kind {
        Architecture::Mlp => "mlp",
        Architecture::Cnn => "cnn",
        Architecture::Gpt => "gpt",
    }
}

/// Refuses each `(key, given)` that is given: those keys do not apply to the file's kind.
fn refuse_keys(source_name: &str, kind: Architecture, keys: &[(&str, bool)]) -> Result<()> {
    match keys.iter().find(|(_, given)| *given) {
        Some((key, _)) => Err(LabError::Experiment {
            source_name: source_name.into(),
            reason: format!("{key} does not apply to kind = \"{}\"", kind_name(kind)),
        }),
        None => Ok(()),
    }
}

/// The checks every kind shares: the training counts and the presence of depths and inits.
fn check_common(t: &ExperimentToml, source_name: &str) -> Result<()> {
    limits::LR.check(source_name, t.train.lr)?;
    limits::STEPS.check_usize(source_name, t.train.steps)?;
    limits::BATCH.check_usize(source_name, t.train.batch)?;
    limits::EVAL_EVERY.check_usize(source_name, t.train.eval_every)?;
    let bad = |reason: &str| LabError::Experiment { source_name: source_name.into(), reason: reason.into() };
    if t.init.is_empty() {
        return Err(bad("list at least one [[init]]"));
    }
    if t.model.depth.to_vec().is_empty() {
        return Err(bad("[model] needs at least one depth"));
    }
    Ok(())
}

/// The configurations of an MLP or CNN experiment.
fn classifier_configs(t: &ExperimentToml, kind: ModelKind, dataset: Fetchable, source_name: &str) -> Result<Built> {
    let bad = |reason: String| LabError::Experiment { source_name: source_name.into(), reason };
    let m = &t.model;
    refuse_keys(
        source_name,
        m.kind,
        &[
            ("[model] heads", m.heads.is_some()),
            ("[model] context", m.context.is_some()),
            ("[model] mlp_width", m.mlp_width.is_some()),
            ("[model] head", m.head.is_some()),
            ("[train] validation_windows", t.train.validation_windows.is_some()),
        ],
    )?;
    let Fetchable::Images(dataset) = dataset else {
        return Err(bad(format!(
            "kind = \"{}\" trains on an image dataset ({}), not `{dataset}`",
            kind_name(m.kind),
            DatasetName::ALL.map(DatasetName::as_str).join(", ")
        )));
    };
    let optimizer = match t.train.optimizer.as_str() {
        "sgd" => Optimizer::Sgd {
            momentum: limits::MOMENTUM.check(source_name, t.train.momentum.unwrap_or(DEFAULT_MOMENTUM))?,
        },
        "adam" => Optimizer::Adam,
        other => return Err(bad(format!("unknown optimizer `{other}` (known: sgd, adam)"))),
    };
    check_common(t, source_name)?;
    let probe_batch =
        limits::PROBE_BATCH.check_usize(source_name, t.train.probe_batch.unwrap_or(DEFAULT_PROBE_BATCH))?;
    if let Some(c) = t.train.loss_criterion {
        limits::LOSS_CRITERION.check(source_name, c)?;
    }
    let (features, image) = (dataset.features(), dataset.image());
    let train = TrainConfig {
        steps: t.train.steps,
        batch: t.train.batch,
        lr: t.train.lr,
        optimizer,
        loss: t.train.loss,
        eval_every: Some(t.train.eval_every),
        eval_layers: if t.train.eval_layers { EvalLayers::Record } else { EvalLayers::Skip },
        loss_criterion: t.train.loss_criterion,
    };
    let activations: Vec<Activation> = m
        .activation
        .as_ref()
        .map(OneOrMany::to_vec)
        .unwrap_or_default()
        .iter()
        .map(|a| a.parse::<Activation>().map_err(|e| bad(e.to_string())))
        .collect::<Result<_>>()?;
    if activations.is_empty() {
        return Err(bad("[model] needs at least one activation and one depth".into()));
    }
    // Every initialization once, to count the runs before any configuration is built.
    let per_model: usize = t
        .init
        .iter()
        .map(|entry| init_choices(entry, activations[0], source_name).map(|c| c.len()))
        .sum::<Result<usize>>()?;
    let depths = m.depth.to_vec();
    let runs = (activations.len() as u128) * (depths.len() as u128) * (per_model as u128) * (t.seeds as u128);
    limits::RUNS.check(source_name, runs)?;
    let mut configs = Vec::new();
    let mut theory_sigma_b2 = None;
    for &activation in &activations {
        for &depth in &depths {
            let model = ModelSpec {
                kind,
                depth,
                width: m.width,
                activation,
                bias: m.bias.unwrap_or_default(),
                residual: m.residual.unwrap_or_default(),
                features,
                image,
                classes: 10,
            };
            model.validate().map_err(|e| in_file(source_name, e))?;
            model.check_batch(source_name, t.train.batch.max(probe_batch))?;
            let train = match t.train.lr_scaling {
                LrScaling::None => train.clone(),
                LrScaling::InverseDepth => TrainConfig {
                    lr: limits::LR_PER_DEPTH.check(source_name, train.lr / depth as f64)?,
                    ..train.clone()
                },
            };
            let group = format!("{}-d{depth}", activation.name());
            for entry in &t.init {
                let model = match entry_residual(entry, source_name)? {
                    Some(residual) => {
                        let model = ModelSpec { residual, ..model.clone() };
                        model.validate().map_err(|e| in_file(source_name, e))?;
                        model.check_batch(source_name, t.train.batch.max(probe_batch))?;
                        model
                    }
                    None => model.clone(),
                };
                for (init, sigma) in init_choices(entry, activation, source_name)? {
                    init.method.check(&model).map_err(|e| in_file(source_name, e))?;
                    if let Some((_, b2)) = sigma {
                        theory_sigma_b2 = Some(b2);
                    }
                    configs.push(Configuration {
                        record: RunConfig {
                            // The two-layer block forms name theirs, as one experiment mixes them.
                            label: if model.residual.has_branches() {
                                format!("{group}/{} [{} block]", init.name, model.residual.name())
                            } else {
                                format!("{group}/{}", init.name)
                            },
                            group: group.clone(),
                            init: init.name.clone(),
                            model: model.kind.into(),
                            depth,
                            width: model.width,
                            activation: activation.name().to_string(),
                            sigma_w2: sigma.map(|s| s.0),
                            sigma_b2: sigma.map(|s| s.1),
                            optimizer: optimizer.name().into(),
                            lr: train.lr,
                            dataset: dataset.to_string(),
                            gpt: None,
                        },
                        setup: Setup::Classifier { model: model.clone(), init },
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
    Ok(Built { configs, theory_sigma_b2: theory_sigma_b2.filter(|_| t.theory), theory_activation })
}

/// One `[[init]]` of a GPT experiment: its name, block form and scheme.
struct GptInit {
    name: String,
    form: String,
    scheme: Scheme,
}

/// Reads a GPT `[[init]]`: `form` (one of [`BlockForm::NAMES`]), `scheme` (a name
/// `nninit materialize --scheme` takes), an optional `name` (default `"{form} {scheme}"`).
fn gpt_init(entry: &toml::Table, source_name: &str) -> Result<GptInit> {
    let bad = |reason: String| LabError::Experiment { source_name: source_name.into(), reason };
    if let Some(key) = entry.keys().find(|k| !["name", "form", "scheme"].contains(&k.as_str())) {
        return Err(bad(format!("a gpt [[init]] takes `form`, `scheme` and `name`, not `{key}`")));
    }
    let text = |key: &str| match entry.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(bad(format!("[[init]] `{key}` must be a string, not {other}"))),
    };
    let form = text("form")?.ok_or_else(|| bad("every gpt [[init]] needs `form`".into()))?;
    if !BlockForm::NAMES.contains(&form.as_str()) {
        return Err(bad(format!("unknown block form `{form}` (known: {})", BlockForm::NAMES.join(", "))));
    }
    let scheme_name = text("scheme")?.ok_or_else(|| bad("every gpt [[init]] needs `scheme`".into()))?;
    let scheme = Scheme::parse(&scheme_name).map_err(|e| bad(format!("[[init]] scheme: {e}")))?;
    let name = text("name")?.unwrap_or_else(|| format!("{form} {}", scheme.name()));
    Ok(GptInit { name, form, scheme })
}

/// The configurations of a char-GPT experiment: every depth under every `[[init]]`.
fn gpt_configs(t: &ExperimentToml, dataset: Fetchable, source_name: &str) -> Result<Built> {
    let bad = |reason: String| LabError::Experiment { source_name: source_name.into(), reason };
    let (m, tr) = (&t.model, &t.train);
    refuse_keys(
        source_name,
        m.kind,
        &[
            ("[model] activation (the GPT's MLP is GPT-2's tanh GELU)", m.activation.is_some()),
            ("[model] bias", m.bias.is_some()),
            ("[model] residual", m.residual.is_some()),
            ("[train] momentum", tr.momentum.is_some()),
            ("[train] loss_criterion", tr.loss_criterion.is_some()),
            ("[train] eval_layers", tr.eval_layers),
            ("[train] probe_batch", tr.probe_batch.is_some()),
            ("[train] lr_scaling", tr.lr_scaling != LrScaling::None),
            ("[train] loss = \"mse\"", tr.loss != LossKind::CrossEntropy),
            ("theory", t.theory),
        ],
    )?;
    let Fetchable::Text(text) = dataset else {
        let texts: Vec<&str> = crate::data::TEXTS.iter().map(|t| t.dir).collect();
        return Err(bad(format!("kind = \"gpt\" trains on a text ({}), not `{dataset}`", texts.join(", "))));
    };
    let text: &TextSpec = text;
    if tr.optimizer != "adam" {
        return Err(bad(format!("kind = \"gpt\" trains with optimizer = \"adam\", not `{}`", tr.optimizer)));
    }
    check_common(t, source_name)?;
    let heads = m.heads.ok_or_else(|| bad("kind = \"gpt\" needs [model] heads".into()))?;
    let context = m.context.ok_or_else(|| bad("kind = \"gpt\" needs [model] context".into()))?;
    let validation_windows = tr.validation_windows.unwrap_or(DEFAULT_VALIDATION_WINDOWS);
    limits::VALIDATION_WINDOWS.check_usize(source_name, validation_windows)?;
    let inits: Vec<GptInit> = t.init.iter().map(|e| gpt_init(e, source_name)).collect::<Result<_>>()?;
    let depths = m.depth.to_vec();
    limits::RUNS.check(source_name, depths.len() as u128 * inits.len() as u128 * t.seeds as u128)?;
    let train = TrainConfig {
        steps: tr.steps,
        batch: tr.batch,
        lr: tr.lr,
        optimizer: Optimizer::Adam,
        loss: LossKind::CrossEntropy,
        eval_every: Some(tr.eval_every),
        eval_layers: EvalLayers::Skip,
        loss_criterion: None,
    };
    let mut configs = Vec::with_capacity(depths.len() * inits.len());
    for &depth in &depths {
        // Every size is checked (limits) before anything is planned.
        let mut base = GptSpec::new(text.symbols, context, m.width, heads, depth, BlockForm::PreLn)
            .map_err(|e| in_file(source_name, e))?;
        if let Some(mlp_width) = m.mlp_width {
            base = base.with_mlp_width(mlp_width).map_err(|e| in_file(source_name, e))?;
        }
        base = base.with_head(m.head.unwrap_or_default()).map_err(|e| in_file(source_name, e))?;
        base.check_batch(source_name, tr.batch)?;
        let group = format!("d{depth}");
        for init in &inits {
            let spec = base.clone().with_form_named(&init.form).map_err(|e| in_file(source_name, e))?;
            // The scheme must initialize GPT-2 (`mamba` cannot): its plan is what trains.
            spec.plan(init.scheme).map_err(|e| bad(format!("init `{}`: {e}", init.name)))?;
            configs.push(Configuration {
                record: RunConfig {
                    label: format!("{group}/{}", init.name),
                    group: group.clone(),
                    init: init.name.clone(),
                    model: Architecture::Gpt,
                    depth,
                    width: spec.width(),
                    activation: Activation::GeluTanh.name().to_string(),
                    sigma_w2: None,
                    sigma_b2: None,
                    optimizer: Optimizer::Adam.name().into(),
                    lr: tr.lr,
                    dataset: text.dir.to_string(),
                    gpt: Some(GptRecord {
                        form: init.form.clone(),
                        scheme: init.scheme.name().to_string(),
                        heads,
                        context,
                        mlp_width: spec.mlp_width(),
                        tied_head: spec.head() == HeadTying::Tied,
                    }),
                },
                setup: Setup::Gpt { spec, scheme: init.scheme, validation_windows },
                train: train.clone(),
            });
        }
    }
    Ok(Built { configs, theory_sigma_b2: None, theory_activation: None })
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
    let what = format!("--init {rule}");
    let mut choices = init_choices(&entry, activation, &what)?;
    match choices.len() {
        1 => Ok(choices.remove(0).0),
        n => Err(LabError::Experiment { source_name: what, reason: format!("expected one initialization, got {n}") }),
    }
}

/// The keys every `[[init]]` entry may have: its name, its rule, and the residual block form
/// it trains (instead of `[model]`'s, so one experiment compares Fixup's block against
/// BatchNorm's).
const COMMON_KEYS: [&str; 3] = ["name", "rule", "residual"];

/// The block form an `[[init]]` entry sets with `residual`, if it sets one.
fn entry_residual(entry: &toml::Table, what: &str) -> Result<Option<Residual>> {
    let Some(value) = entry.get("residual") else { return Ok(None) };
    Residual::deserialize(value.clone()).map(Some).map_err(|_| LabError::Experiment {
        source_name: what.into(),
        reason: format!("`residual` must be one of off, on, plain, scaled, fixup, batch-norm (got {value})"),
    })
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
/// with (σ_w², σ_b²) where the entry sets them; `what` names the file or flag in errors.
fn init_choices(entry: &toml::Table, activation: Activation, what: &str) -> Result<Vec<ChoiceWithSigmas>> {
    let bad = |reason: String| LabError::Experiment { source_name: what.into(), reason };
    let number = |key: &str| number(entry, key).map_err(bad);
    let text = |key: &str| entry.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let rule = text("rule").ok_or_else(|| bad("every [[init]] needs `rule`".into()))?;
    let name = text("name").unwrap_or_else(|| rule.clone());
    let bias = match number("bias_std")? {
        Some(std) => BiasRule::Normal { std: limits::BIAS_STD.check(what, std)? },
        None => BiasRule::Zero,
    };
    let allow = |keys: &[&str]| -> Result<()> {
        match entry.keys().find(|k| !COMMON_KEYS.contains(&k.as_str()) && !keys.contains(&k.as_str())) {
            Some(k) => Err(bad(format!("init `{name}`: `{rule}` does not take `{k}`"))),
            None => Ok(()),
        }
    };
    let one = |method| Ok(vec![(InitChoice { name: name.clone(), method }, None)]);
    match rule.as_str() {
        "lsuv" => {
            allow(&["tolerance", "max_iterations"])?;
            let tolerance = limits::TOLERANCE.check(what, number("tolerance")?.unwrap_or(0.1))?;
            let max_iterations = limits::LSUV_ITERATIONS.check_real(what, number("max_iterations")?.unwrap_or(10.0))?;
            one(InitMethod::DataDependent(DataDependent::Lsuv { tolerance, max_iterations }))
        }
        "weight-norm" => {
            allow(&[])?;
            one(InitMethod::DataDependent(DataDependent::WeightNorm))
        }
        scheme if ResidualScheme::parse(scheme).is_some() => {
            allow(&[])?;
            one(InitMethod::Residual(ResidualScheme::parse(scheme).ok_or_else(|| bad(rule.clone()))?))
        }
        "mean-field" => {
            allow(&["sigma_w2", "sigma_b2"])?;
            let sigma_b2 = limits::SIGMA_B2.check(what, number("sigma_b2")?.unwrap_or(0.0))?;
            let as_number = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
            let grid: Vec<f64> = match entry.get("sigma_w2") {
                Some(toml::Value::Array(a)) => {
                    limits::GRID_POINTS.check_usize(what, a.len())?;
                    a.iter()
                        .map(as_number)
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad("sigma_w2 must be numbers".into()))?
                }
                Some(v) => vec![as_number(v).ok_or_else(|| bad("sigma_w2 must be a number".into()))?],
                None => return Err(bad(format!("init `{name}`: mean-field needs sigma_w2"))),
            };
            let named = entry.contains_key("name") && grid.len() == 1;
            grid.into_iter()
                .map(|sw2| {
                    limits::SIGMA_W2.check(what, sw2)?;
                    let weight = Init::VarianceScaling(
                        VarianceScaling::new(sw2, FanMode::FanIn, Distribution::Normal)
                            .map_err(|e| bad(e.to_string()))?,
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
                if COMMON_KEYS.contains(&key.as_str()) || key == "bias_std" {
                    continue;
                }
                let v = value_text(value)
                    .ok_or_else(|| bad(format!("init `{name}`: `{key}` must be a string or number")))?;
                params.set(key, &v).map_err(|e| bad(format!("init `{name}`: {e}")))?;
            }
            let takes_nonlinearity = matches!(rule.as_str(), "kaiming_normal" | "kaiming_uniform" | "he_uniform");
            if takes_nonlinearity && params.nonlinearity.is_none() {
                params.nonlinearity = Some(activation);
            }
            let weight = Init::parse(&rule, &params).map_err(|e| bad(format!("init `{name}`: {e}")))?;
            one(InitMethod::Rule { weight, bias })
        }
    }
}

/// A TOML error as one line: where, then what.
fn toml_error(src: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &src[..span.start.min(src.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// A model error from validating one of the file's configurations, said of the file.
fn in_file(source_name: &str, e: LabError) -> LabError {
    match e {
        LabError::OutOfRange { name, value, valid, .. } => {
            LabError::OutOfRange { what: source_name.to_string(), name, value, valid }
        }
        other => LabError::Experiment { source_name: source_name.into(), reason: other.to_string() },
    }
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

    #[cfg(feature = "burn")]
    #[test]
    fn every_built_in_init_builds_every_built_in_model() {
        use crate::rules::initial_weights;
        // What `run` checks before training, for every shipped experiment (cnn-depth's
        // delta-orthogonal rule meets a dense classifier, for one).
        for (name, src) in BUILT_IN {
            for c in Experiment::parse(src, name).unwrap().configs {
                if let Setup::Classifier { model, init: init @ InitChoice { method: InitMethod::Rule { .. }, .. } } =
                    &c.setup
                {
                    initial_weights(model, &init.method, 0)
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
    fn bad_toml_is_one_line_with_its_place() {
        let base = BUILT_IN[0].1;
        let cases = [
            (base.replace("seeds = 3", "seeds = \"three\""), "invalid type"),
            (base.replace("seeds = 3", "seeds = 3\ncolour = 1"), "unknown field `colour`"),
            (base.replace("seeds = 3\n", ""), "missing field `seeds`"),
            (base.replace("seeds = 3", "seeds = -1"), "invalid value"),
        ];
        for (src, needle) in cases {
            let err = Experiment::parse(&src, "t.toml").expect_err(needle).to_string();
            assert!(err.starts_with("experiment t.toml: line "), "{err}");
            assert!(err.contains(needle) && !err.contains('\n'), "{err} should mention {needle} on one line");
        }
    }

    #[test]
    fn every_count_out_of_range_is_named_before_anything_is_built() {
        let base = BUILT_IN[0].1;
        let cases = [
            (base.replace("depth = 20", "depth = 100000000").replace("width = 64", "width = 100000000"), "depth"),
            (base.replace("width = 64", "width = 100000000"), "width"),
            (base.replace("depth = 20", "depth = 1000").replace("width = 64", "width = 8192"), "parameters"),
            (base.replace("seeds = 3", "seeds = 0"), "seeds"),
            (base.replace("seeds = 3", "seeds = 100000"), "seeds"),
            (base.replace("steps = 300", "steps = 0"), "steps"),
            (base.replace("steps = 300", "steps = 1000000000"), "steps"),
            (base.replace("batch = 64", "batch = 0"), "batch"),
            (base.replace("probe_batch = 256", "probe_batch = 10000000"), "probe_batch"),
            (
                base.replace("probe_batch = 256", "probe_batch = 65536").replace("width = 64", "width = 1024"),
                "batch x hidden values",
            ),
            (base.replace("eval_every = 50", "eval_every = 0"), "eval_every"),
            (base.replace("lr = 0.01", "lr = -1.0"), "lr"),
            (base.replace("lr = 0.01", "lr = nan"), "lr"),
            (base.replace("lr = 0.01", "lr = 1e300"), "lr"),
            // 5e-324 is in range, but divided by the depth it rounds to 0.
            (base.replace("lr = 0.01", "lr = 5e-324\nlr_scaling = \"inverse-depth\""), "lr / depth"),
            (base.replace("momentum = 0.9", "momentum = 1.0"), "momentum"),
            (format!("{base}\n[[init]]\nrule = \"lsuv\"\nmax_iterations = 1e300\n"), "max_iterations"),
            (format!("{base}\n[[init]]\nrule = \"lsuv\"\nmax_iterations = 2.5\n"), "max_iterations"),
            (format!("{base}\n[[init]]\nrule = \"lsuv\"\ntolerance = 2\n"), "tolerance"),
            (format!("{base}\n[[init]]\nrule = \"mean-field\"\nsigma_w2 = -1\n"), "sigma_w2"),
            (format!("{base}\n[[init]]\nrule = \"mean-field\"\nsigma_w2 = 1\nsigma_b2 = 1e9\n"), "sigma_b2"),
            (format!("{base}\n[[init]]\nrule = \"normal\"\nbias_std = -1\n"), "bias_std"),
            (
                format!("{base}\n[[init]]\nrule = \"mean-field\"\nsigma_w2 = [{}]\n", vec!["1.0"; 1001].join(", ")),
                "sigma_w2 points",
            ),
        ];
        for (src, name) in cases {
            assert_ne!(src, base, "{name}: the case must change the file");
            let started = std::time::Instant::now();
            match Experiment::parse(&src, "t.toml") {
                Err(LabError::OutOfRange { what, name: got, .. }) => {
                    assert_eq!((what.as_str(), got), ("t.toml", name));
                }
                other => panic!("{name}: {other:?}"),
            }
            assert!(started.elapsed().as_secs() < 1, "{name} took {:?}", started.elapsed());
        }
        let mut many = base.replace("depth = 20", &format!("depth = [{}]", vec!["2"; 1000].join(", ")));
        many = many.replace("seeds = 3", "seeds = 1000");
        match Experiment::parse(&many, "t.toml") {
            Err(LabError::OutOfRange { name, .. }) => assert_eq!(name, "runs (configurations x seeds)"),
            other => panic!("{other:?}"),
        }
    }

    /// A small GPT experiment file, for the bad-input cases to edit.
    const GPT: &str = r#"name = "g"
description = "d"
dataset = "shakespeare"
seeds = 2

[model]
kind = "gpt"
depth = [1, 3]
width = 16
heads = 2
context = 8

[train]
optimizer = "adam"
lr = 0.001
steps = 10
batch = 4
eval_every = 5
validation_windows = 4

[[init]]
form = "post-ln"
scheme = "hf"

[[init]]
name = "DeepNorm"
form = "deepnorm"
scheme = "deepnorm"
"#;

    #[test]
    fn a_gpt_file_gives_every_depth_under_every_init() {
        let exp = Experiment::parse(GPT, "g.toml").unwrap();
        assert_eq!(exp.dataset.to_string(), "shakespeare");
        let labels: Vec<&str> = exp.configs.iter().map(|c| c.record.label.as_str()).collect();
        assert_eq!(labels, ["d1/post-ln hf", "d1/DeepNorm", "d3/post-ln hf", "d3/DeepNorm"]);
        for c in &exp.configs {
            let Setup::Gpt { spec, scheme, validation_windows } = &c.setup else { panic!("{:?}", c.setup) };
            assert_eq!((spec.vocab(), spec.width(), spec.heads(), spec.context()), (84, 16, 2, 8));
            assert_eq!((spec.depth(), spec.mlp_width(), spec.head()), (c.record.depth, 64, HeadTying::Tied));
            assert_eq!(*validation_windows, 4);
            let gpt = c.record.gpt.as_ref().unwrap();
            assert_eq!((gpt.form.as_str(), gpt.scheme.as_str()), (spec.form().name(), scheme.name()));
            assert_eq!((c.record.model, c.record.dataset.as_str()), (Architecture::Gpt, "shakespeare"));
            assert_eq!((c.train.optimizer, c.train.eval_every, c.train.steps), (Optimizer::Adam, Some(5), 10));
            if let BlockForm::DeepNorm { alpha } = spec.form() {
                // Wang et al. 2022, decoder-only: α = (2L)^(1/4) for L blocks.
                assert!((alpha - (2.0 * spec.depth() as f64).powf(0.25)).abs() < 1e-12, "{alpha}");
            }
        }
        let untied = GPT.replace("context = 8", "context = 8\nmlp_width = 24\nhead = \"untied\"");
        let exp = Experiment::parse(&untied, "g.toml").unwrap();
        let Setup::Gpt { spec, .. } = &exp.configs[0].setup else { panic!() };
        assert_eq!((spec.mlp_width(), spec.head()), (24, HeadTying::Untied));
        assert!(!exp.configs[0].record.gpt.as_ref().unwrap().tied_head);
        // The built-in one: seven inits at each depth, every one a GPT on Shakespeare.
        let td = Experiment::load("transformer-depth").unwrap();
        let depths = td.configs.iter().map(|c| c.record.depth).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(td.configs.len(), 7 * depths.len());
        assert!(depths.len() >= 3 && td.seeds >= 2, "{depths:?}");
        assert!(td.configs.iter().all(|c| matches!(c.setup, Setup::Gpt { .. })));
    }

    #[test]
    fn bad_gpt_files_name_the_file_and_the_key() {
        let mlp = BUILT_IN[0].1;
        let init = "[[init]]\nform = \"post-ln\"\nscheme = \"hf\"\n";
        let cases = [
            (GPT.replace("context = 8", "context = 8\nactivation = \"relu\""), "[model] activation"),
            (GPT.replace("context = 8", "context = 8\nbias = \"off\""), "[model] bias"),
            (GPT.replace("heads = 2\n", ""), "needs [model] heads"),
            (GPT.replace("context = 8\n", ""), "needs [model] context"),
            (GPT.replace("heads = 2", "heads = 3"), "divide"),
            (GPT.replace("dataset = \"shakespeare\"", "dataset = \"mnist\""), "trains on a text"),
            (GPT.replace("optimizer = \"adam\"", "optimizer = \"sgd\""), "optimizer = \"adam\""),
            (GPT.replace("lr = 0.001", "lr = 0.001\nmomentum = 0.9"), "[train] momentum"),
            (GPT.replace("lr = 0.001", "lr = 0.001\nloss_criterion = 1.0"), "[train] loss_criterion"),
            (GPT.replace("lr = 0.001", "lr = 0.001\nprobe_batch = 8"), "[train] probe_batch"),
            (GPT.replace("lr = 0.001", "lr = 0.001\nloss = \"mse\""), "mse"),
            (GPT.replace("seeds = 2", "seeds = 2\ntheory = true"), "theory"),
            (GPT.replace("form = \"post-ln\"", "form = \"sandwich\""), "unknown block form `sandwich`"),
            (GPT.replace("form = \"post-ln\"", "form = 3"), "`form` must be a string"),
            (GPT.replace("form = \"post-ln\"\n", ""), "needs `form`"),
            (GPT.replace("scheme = \"hf\"\n", ""), "needs `scheme`"),
            (GPT.replace("scheme = \"hf\"", "scheme = \"warp\""), "warp"),
            (GPT.replace("scheme = \"hf\"", "scheme = \"hf\"\nrule = \"normal\""), "not `rule`"),
            (GPT.replace("context = 8", "context = 8\nhead = \"sideways\""), "sideways"),
            (mlp.replace("width = 64", "width = 64\nheads = 4"), "[model] heads does not apply to kind = \"mlp\""),
            (mlp.replace("steps = 300", "steps = 300\nvalidation_windows = 4"), "[train] validation_windows"),
            (mlp.replace("dataset = \"digits\"", "dataset = \"shakespeare\""), "trains on an image dataset"),
            (format!("{mlp}\n{init}"), "needs `rule`"),
        ];
        for (src, needle) in cases {
            assert!(src != GPT && src != mlp, "{needle}: the case must change the file");
            let err = Experiment::parse(&src, "g.toml").expect_err(needle).to_string();
            assert!(err.starts_with("experiment g.toml: "), "{err}");
            assert!(err.contains(needle) && !err.contains('\n'), "{err} should mention {needle} on one line");
        }
    }

    #[test]
    fn every_gpt_size_out_of_range_is_named_before_anything_is_built() {
        let cases = [
            (GPT.replace("width = 16", "width = 100000000"), "width"),
            (GPT.replace("heads = 2", "heads = 0"), "heads"),
            (GPT.replace("context = 8", "context = 0"), "context"),
            (GPT.replace("context = 8", "context = 100000000"), "context"),
            (GPT.replace("depth = [1, 3]", "depth = [1, 1001]"), "depth"),
            (GPT.replace("context = 8", "context = 8\nmlp_width = 0"), "mlp_width"),
            (GPT.replace("width = 16", "width = 8192").replace("depth = [1, 3]", "depth = 1000"), "parameters"),
            (GPT.replace("batch = 4", "batch = 0"), "batch"),
            (
                GPT.replace("batch = 4", "batch = 60000").replace("context = 8", "context = 4096"),
                "batch x hidden values",
            ),
            (GPT.replace("validation_windows = 4", "validation_windows = 0"), "validation_windows"),
            (GPT.replace("eval_every = 5", "eval_every = 0"), "eval_every"),
            (GPT.replace("steps = 10", "steps = 0"), "steps"),
            (GPT.replace("lr = 0.001", "lr = 0.0"), "lr"),
            (GPT.replace("seeds = 2", "seeds = 0"), "seeds"),
        ];
        for (src, name) in cases {
            assert_ne!(src, GPT, "{name}: the case must change the file");
            let started = std::time::Instant::now();
            match Experiment::parse(&src, "g.toml") {
                Err(LabError::OutOfRange { what, name: got, .. }) => assert_eq!((what.as_str(), got), ("g.toml", name)),
                other => panic!("{name}: {other:?}"),
            }
            assert!(started.elapsed().as_secs() < 1, "{name} took {:?}", started.elapsed());
        }
        let many = GPT
            .replace("depth = [1, 3]", &format!("depth = [{}]", vec!["1"; 1000].join(", ")))
            .replace("seeds = 2", "seeds = 1000");
        match Experiment::parse(&many, "g.toml") {
            Err(LabError::OutOfRange { name, .. }) => assert_eq!(name, "runs (configurations x seeds)"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kaiming_takes_the_models_activation() {
        let src = BUILT_IN[0].1.replace("nonlinearity = \"relu\"\n", "");
        let exp = Experiment::parse(&src, "quick-without-nonlinearity").unwrap();
        let he = exp.configs.iter().find(|c| c.record.activation == "tanh" && c.record.init == "He").unwrap();
        let Setup::Classifier { init, .. } = &he.setup else { panic!("{:?}", he.setup) };
        match &init.method {
            InitMethod::Rule { weight, .. } => assert!(format!("{weight:?}").contains("Tanh"), "{weight:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn residual_schemes_need_their_block_form() {
        let base = BUILT_IN.iter().find(|(n, _)| *n == "resnet-depth").unwrap().1;
        let exp = Experiment::parse(base, "resnet-depth").unwrap();
        // Three depths × five inits, each with its own block form.
        assert_eq!(exp.configs.len(), 15);
        let form = |name: &str| {
            exp.configs
                .iter()
                .find_map(|c| match &c.setup {
                    Setup::Classifier { model, init } if init.name == name => Some(model.residual),
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!(
            ["He", "Fixup", "SkipInit", "ReZero", "He + BatchNorm"].map(form),
            [Residual::Plain, Residual::Fixup, Residual::Scaled, Residual::Scaled, Residual::BatchNorm]
        );
        let cases = [
            // Fixup without its block: the model's plain block.
            (
                base.replace("rule = \"fixup\"\nresidual = \"fixup\"", "rule = \"fixup\""),
                "init `fixup` needs residual = \"fixup\", not residual = \"plain\"",
            ),
            (
                base.replace("rule = \"skipinit\"\nresidual = \"scaled\"", "rule = \"skipinit\"\nresidual = \"fixup\""),
                "init `skipinit` needs residual = \"scaled\"",
            ),
            (format!("{base}\n[[init]]\nrule = \"lsuv\"\n"), "init `lsuv` needs residual = \"off\" or \"on\""),
            (base.replace("residual = \"batch-norm\"", "residual = \"layer-norm\""), "`residual` must be one of"),
            (
                format!("{base}\n[[init]]\nrule = \"rezero\"\nresidual = \"scaled\"\nalpha = 1\n"),
                "does not take `alpha`",
            ),
            (base.replace("kind = \"mlp\"", "kind = \"cnn\""), "residual connections are for MLPs"),
        ];
        for (src, needle) in cases {
            assert_ne!(src, base, "{needle}: the case must change the file");
            let err = Experiment::parse(&src, "t.toml").expect_err(needle).to_string();
            assert!(err.starts_with("experiment t.toml: ") && err.contains(needle), "{err} should mention {needle}");
        }
    }
}
