//! The serializable reports of the `nninit` commands, built in one place so the command
//! line's `--json` and the Python package's dictionaries are the same.
//!
//! Each report is a plain struct with a builder that does the work the command does; its
//! serde form (field names and order) is what `nninit <command> --json` prints:
//!
//! | command | report |
//! |---|---|
//! | `nninit gain A` | [`GainReport`] |
//! | `nninit explain RULE --shape ...` | [`ExplainReport`] |
//! | `nninit explain --config/--preset ... --scheme S` | [`PlanReport`] |
//! | `nninit theory A` | [`TheoryReport`] |
//! | `nninit theory A --recommend` | [`RecommendReport`] |
//! | `nninit theory A --edge` | [`EdgeReport`] |
//! | `nninit materialize --config/--preset ...` | [`MaterializeReport`] |
//! | `nninit doctor PATH` | [`DoctorReport`] |
//!
//! ```
//! use nninit::activation::Activation;
//! use nninit::report::GainReport;
//! let report = GainReport::new(&Activation::parse("relu", None)?);
//! let json = serde_json::to_value(&report).unwrap();
//! assert_eq!(json["activation"], "relu");
//! assert_eq!(json["torch"], std::f64::consts::SQRT_2);
//! # Ok::<(), nninit::Error>(())
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::activation::{Activation, Gains};
use crate::arch::Model;
use crate::doctor::{self, Options};
use crate::error::{Result, non_negative, positive};
use crate::init::Explanation;
use crate::io::Checkpoint;
use crate::plan::Plan;
use crate::scheme::Scheme;
use crate::theory::{Analysis, FixedPoint, LengthFixedPoint, MeanField, Phase, Recommendation, Stability};
use crate::{DType, Error, Init, Layout, TensorSpec};

/// `nninit gain --json`: PyTorch's gain for an activation and the gains computed from
/// Gaussian integrals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GainReport {
    /// The activation as nninit names it (`leaky_relu(0.2)`).
    pub activation: String,
    /// Its gains.
    #[serde(flatten)]
    pub gains: Gains,
}

impl GainReport {
    /// The gains of `activation`.
    pub fn new(activation: &Activation) -> Self {
        Self { activation: activation.to_string(), gains: activation.gains() }
    }
}

/// `nninit explain RULE --shape ... --json`: what a rule does to one tensor.
#[derive(Clone, Debug, Serialize)]
pub struct ExplainReport {
    /// The tensor's shape.
    pub shape: Vec<usize>,
    /// Its layout.
    pub layout: Layout,
    /// Its groups.
    pub groups: usize,
    /// Formula, fans, gain, std, bound, equivalents.
    #[serde(flatten)]
    pub explanation: Explanation,
    /// The rule, as a config would give it.
    pub rule: Init,
}

impl ExplainReport {
    /// Explains `init` on `spec`.
    ///
    /// # Errors
    /// Those of [`Init::explain`].
    pub fn new(init: &Init, spec: &TensorSpec) -> Result<Self> {
        Ok(Self {
            shape: spec.shape().dims().to_vec(),
            layout: spec.layout().clone(),
            groups: spec.groups(),
            explanation: init.explain(spec)?,
            rule: *init,
        })
    }
}

/// One row of a [`PlanReport`].
#[derive(Clone, Debug, Serialize)]
pub struct PlanRow {
    /// The tensor's name, or `tensor#part` for a part of a fused tensor with a rule of its own.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its role (`embedding`, `attention_out`, ...).
    pub role: &'static str,
    /// The tensor it is tied to, if any (it has no rule of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tied_to: Option<String>,
    /// Its rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Init>,
    /// The rule's standard deviation on this tensor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// The rule's bound on this tensor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    /// Why the scheme gives it this rule.
    pub why: String,
    /// The numbers behind the rule (`initializer_range`, `num_layers`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbers: Option<BTreeMap<String, f64>>,
    /// The learning-rate multiplier the scheme prescribes (µP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_multiplier: Option<f64>,
}

impl PlanRow {
    fn new(
        name: Cow<'_, str>,
        spec: &TensorSpec,
        role: &'static str,
        tied_to: Option<&str>,
        init: Option<&Init>,
        provenance: Option<&crate::plan::Provenance>,
    ) -> Result<Self> {
        let x = init.map(|i| i.explain(spec)).transpose()?;
        Ok(Self {
            name: name.into_owned(),
            shape: spec.shape().dims().to_vec(),
            role,
            tied_to: tied_to.map(str::to_string),
            rule: init.copied(),
            std: x.as_ref().and_then(|x| x.std),
            bound: x.as_ref().and_then(|x| x.bound),
            why: provenance.map_or_else(String::new, |p| p.reason.clone()),
            numbers: provenance.map(|p| p.numbers.clone()).filter(|n| !n.is_empty()),
            lr_multiplier: provenance.and_then(|p| p.lr_multiplier),
        })
    }
}

/// `nninit explain --config/--preset ... --scheme S --json`: a model's plan.
#[derive(Clone, Debug, Serialize)]
pub struct PlanReport {
    /// The architecture (`gpt2`, `llama`, ...).
    pub architecture: String,
    /// The model class (`GPT2LMHeadModel`, ...).
    pub model_class: String,
    /// The scheme's label.
    pub scheme: String,
    /// The element type sizes are counted in.
    pub dtype: DType,
    /// Distinct parameters.
    pub parameters: u64,
    /// Bytes of the stored tensors.
    pub total_size: u64,
    /// One row per tensor, and one per part of a fused tensor drawn part by part.
    pub tensors: Vec<PlanRow>,
}

impl PlanReport {
    /// The report of `plan`, made under `scheme`.
    ///
    /// # Errors
    /// Those of [`Init::explain`] on a planned tensor.
    pub fn new(plan: &Plan, scheme: &Scheme) -> Result<Self> {
        let mut rows = Vec::with_capacity(plan.tensors.len());
        for t in &plan.tensors {
            let p = t.provenance.as_ref();
            rows.push(PlanRow::new(
                t.name.as_str().into(),
                &t.spec,
                t.role.name(),
                t.tied_to.as_deref(),
                t.init.as_ref(),
                p,
            )?);
            // The parts of a fused tensor drawn part by part, each on its own row.
            for part in t.parts.iter().filter(|_| t.has_part_rules()) {
                rows.push(PlanRow::new(
                    part.stream_key(&t.name).into(),
                    &part.spec,
                    part.role.name(),
                    None,
                    part.init.as_ref(),
                    part.provenance.as_ref(),
                )?);
            }
        }
        Ok(Self {
            architecture: plan.architecture.clone(),
            model_class: plan.model_class.clone(),
            scheme: scheme.label(),
            dtype: plan.dtype,
            parameters: plan.parameters(),
            total_size: plan.bytes(),
            tensors: rows,
        })
    }
}

/// Reads a model: a `config.json` file or a built-in preset (exactly one of them).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, [`Error::InFile`] around the errors of
/// [`Model::from_config_json`], [`Error::UnknownName`] for an unknown preset,
/// [`Error::InvalidConfig`] when neither or both are given.
pub fn model(config: Option<&Path>, preset: Option<&str>) -> Result<Model> {
    match (config, preset) {
        (Some(path), None) => Model::from_config_file(path),
        (None, Some(name)) => Model::preset(name),
        (None, None) => Err(Error::InvalidConfig { reason: "give a config file or a preset".into() }),
        (Some(_), Some(_)) => Err(Error::InvalidConfig { reason: "give a config file or a preset, not both".into() }),
    }
}

/// `nninit theory A --json`: mean-field theory at one point, reached from q⁰.
#[derive(Clone, Debug, Serialize)]
pub struct TheoryReport {
    /// The activation.
    pub activation: String,
    /// σ_w².
    pub sigma_w2: f64,
    /// σ_b².
    pub sigma_b2: f64,
    /// The fixed point of the length map reached from q⁰.
    pub q_star: Option<f64>,
    /// χ₁: gradient growth per layer.
    pub chi1: f64,
    /// The fixed point of the correlation map.
    pub c_star: Option<f64>,
    /// The length's depth scale.
    pub xi_q: Option<f64>,
    /// The correlation's depth scale.
    pub xi_c: Option<f64>,
    /// Ordered, critical or chaotic.
    pub phase: Phase,
    /// Gradient growth per layer.
    pub gradient_growth: f64,
    /// ≈ 6 ξ_c.
    pub trainable_depth: f64,
    /// The network's depth.
    pub depth: usize,
    /// χ₁^depth: how much gradients change over the whole network.
    pub gradient_factor_at_depth: f64,
    /// The input length the network starts from.
    pub q0: f64,
    /// What the length does from q⁰: the fixed point used for everything above.
    pub fixed_point: FixedPoint,
    /// That fixed point's stability.
    pub stability: Option<Stability>,
    /// Every fixed point of the length map, the one used among them.
    pub fixed_points: Vec<LengthFixedPoint>,
    /// The critical σ_w² at this σ_b²: χ₁ = 1 at a stable fixed point reached from q⁰.
    pub edge_sigma_w2: Option<f64>,
    /// One sentence a practitioner can act on.
    pub verdict: String,
}

/// The checks `nninit theory` makes on its arguments (the same messages everywhere).
///
/// # Errors
/// [`Error::InvalidParameter`] for a depth of 0, a negative or non-finite `sigma_b2_max`, or
/// a `sigma_w2_max` that is not finite and positive.
pub fn check_theory_args(depth: usize, sigma_w2_max: f64, sigma_b2_max: f64) -> Result<()> {
    if depth == 0 {
        return Err(Error::InvalidParameter { name: "depth", value: 0.0, expected: "at least 1" });
    }
    non_negative("sigma_b2_max", sigma_b2_max)?;
    positive("sigma_w2_max", sigma_w2_max)?;
    Ok(())
}

/// The default σ_w² of `nninit theory`: Kaiming's gain squared ([`Activation::kaiming_gain`]).
pub fn default_sigma_w2(activation: &Activation) -> f64 {
    activation.kaiming_gain().powi(2)
}

impl TheoryReport {
    /// The theory at (σ_w², σ_b²) from q⁰, for a network of `depth` layers.
    ///
    /// # Errors
    /// Those of [`MeanField::new`], [`MeanField::analyze_from`] and
    /// [`MeanField::edge_of_chaos_from`].
    pub fn at(activation: Activation, sigma_w2: f64, sigma_b2: f64, q0: f64, depth: usize) -> Result<Self> {
        let mf = MeanField::new(activation, sigma_w2, sigma_b2)?;
        let a = mf.analyze_from(q0)?;
        let edge = MeanField::edge_of_chaos_from(activation, sigma_b2, q0)?;
        let fixed_points = mf.fixed_points();
        Ok(Self {
            activation: activation.to_string(),
            sigma_w2,
            sigma_b2,
            q_star: a.q_star,
            chi1: a.chi1,
            c_star: a.c_star,
            xi_q: a.xi_q,
            xi_c: a.xi_c,
            phase: a.phase,
            gradient_growth: a.gradient_growth,
            trainable_depth: a.trainable_depth,
            depth,
            gradient_factor_at_depth: a.chi1.powf(depth as f64),
            q0,
            fixed_point: a.fixed_point,
            stability: a.stability,
            verdict: verdict(&a, depth, edge, &fixed_points),
            fixed_points,
            edge_sigma_w2: edge,
        })
    }
}

/// A number as the theory's text prints it: six decimals, `∞` for infinity.
pub fn number(x: f64) -> String {
    if x.is_infinite() { "∞".into() } else { format!("{x:.6}") }
}

/// A factor such as 1.2e9 or 3.4e-5, readable.
fn factor(x: f64) -> String {
    if x.is_infinite() || x > 1e300 {
        "more than 1e300".into()
    } else if (1e-3..1e4).contains(&x) {
        format!("{x:.3}")
    } else {
        format!("{x:.2e}")
    }
}

/// One sentence a practitioner can act on.
fn verdict(a: &Analysis, depth: usize, edge: Option<f64>, points: &[LengthFixedPoint]) -> String {
    let total = a.chi1.powf(depth as f64);
    if a.stability == Some(Stability::Unstable) {
        return format!(
            "unstable: q⁰ = {} is itself an unstable fixed point (V′ > 1); a finite network leaves it at once, for the next stable fixed point or for divergence, so nothing here describes a real network; start from another q⁰ or move σ_w²",
            a.q0
        );
    }
    let others = points
        .iter()
        .filter(|p| p.stability == Stability::Unstable && a.q_star.is_some_and(|q| p.q_star > q))
        .map(|p| p.q_star)
        .fold(f64::INFINITY, f64::min);
    let basin = if others.is_finite() {
        format!("; inputs of length above {} (an unstable fixed point) leave this fixed point", number(others))
    } else {
        String::new()
    };
    let toward = edge.map_or_else(String::new, |w| format!("; the edge of chaos at this σ_b² is σ_w² = {w:.4}"));
    let trainable = if a.trainable_depth >= depth as f64 {
        format!("depth {depth} is within the trainable depth ≈ {}", number(a.trainable_depth))
    } else {
        format!("depth {depth} is beyond the trainable depth ≈ {:.1}", a.trainable_depth)
    };
    if let FixedPoint::Diverges { growth, .. } = a.fixed_point {
        return format!(
            "exploding: pre-activations grow {growth:.3}x per layer with no fixed point, and gradients change {:.3}x per layer (x{} at depth {depth}); lower sigma_w2{toward}",
            a.chi1,
            factor(total)
        );
    }
    if a.q_star == Some(0.0) && a.phase == Phase::Critical {
        return format!(
            "critical but degenerate: the length decays to q* = 0, where every layer acts like its linearization φ′(0)·x, so the network computes close to a linear function of its input and depth adds no expressivity (gradients keep their scale, χ₁ = {:.6}); add a bias (σ_b² > 0) to sit at a nonzero q*{toward}",
            a.chi1
        );
    }
    let verdict = match a.phase {
        Phase::Critical => format!(
            "critical (edge of chaos): gradients keep their scale (χ₁ = {:.6}, x{} at depth {depth}) and signals propagate through any depth; {trainable}",
            a.chi1,
            factor(total)
        ),
        Phase::Ordered => format!(
            "ordered: gradients shrink {:.4}x per layer; at depth {depth} that is x{}, and inputs become indistinguishable over ξ_c = {:.1} layers; {trainable}{}",
            a.chi1,
            factor(total),
            a.xi_c.unwrap_or(f64::INFINITY),
            match (a.trainable_depth >= depth as f64, edge) {
                (true, _) => String::new(),
                (false, Some(_)) => format!(": raise sigma_w2{toward}"),
                // Raising σ_w² would not reach χ₁ = 1 here: the length loses its fixed point first.
                (false, None) =>
                    "; no σ_w² reaches χ₁ = 1 at a stable fixed point at this σ_b², and past the largest σ_w² with a fixed point the length grows without bound".to_owned(),
            }
        ),
        Phase::Chaotic => format!(
            "chaotic: gradients grow {:.4}x per layer; at depth {depth} that is x{}, and nearby inputs decorrelate over ξ_c = {:.1} layers; {trainable}{}",
            a.chi1,
            factor(total),
            a.xi_c.unwrap_or(f64::INFINITY),
            if a.trainable_depth >= depth as f64 { String::new() } else { format!(": lower sigma_w2{toward}") }
        ),
    };
    format!("{verdict}{basin}")
}

/// `nninit theory A --recommend --json`: the recommendation and the same report as
/// `nninit theory A --sigma-w2 X --sigma-b2 Y --q0 Q` at its point.
#[derive(Clone, Debug, Serialize)]
pub struct RecommendReport {
    /// The recommendation.
    #[serde(flatten)]
    pub recommendation: Recommendation,
    /// The theory at the recommended point.
    pub point: TheoryReport,
}

impl RecommendReport {
    /// The recommendation for `activation` at `depth`, from inputs of length `q0`.
    ///
    /// # Errors
    /// Those of [`Recommendation::for_depth_from`] and [`TheoryReport::at`].
    pub fn new(activation: Activation, depth: usize, q0: f64) -> Result<Self> {
        let r = Recommendation::for_depth_from(activation, depth, q0)?;
        let point = TheoryReport::at(activation, r.sigma_w2, r.sigma_b2, q0, r.depth)?;
        Ok(Self { recommendation: r, point })
    }
}

/// One row of an [`EdgeReport`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EdgeRow {
    /// σ_b².
    pub sigma_b2: f64,
    /// The critical σ_w² there, if there is one.
    pub sigma_w2: Option<f64>,
}

/// `nninit theory A --edge --json`: the edge of chaos for σ_b² in [0, max].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EdgeReport {
    /// The activation.
    pub activation: String,
    /// Thirteen rows, σ_b² = 0, max/12, ..., max.
    pub edge: Vec<EdgeRow>,
}

impl EdgeReport {
    /// The edge of chaos of `activation` at 13 σ_b² from 0 to `sigma_b2_max`.
    ///
    /// # Errors
    /// Those of [`MeanField::edge_of_chaos_curve`].
    pub fn new(activation: Activation, sigma_b2_max: f64) -> Result<Self> {
        let steps = 12;
        let b: Vec<f64> = (0..=steps).map(|i| sigma_b2_max * i as f64 / steps as f64).collect();
        let curve = MeanField::edge_of_chaos_curve(activation, &b)?;
        let edge = curve.into_iter().map(|(sigma_b2, sigma_w2)| EdgeRow { sigma_b2, sigma_w2 }).collect();
        Ok(Self { activation: activation.to_string(), edge })
    }
}

/// `nninit materialize --config/--preset ... --json`: what one process wrote.
#[derive(Clone, Debug, Serialize)]
pub struct MaterializeReport {
    /// The output folder.
    pub out: PathBuf,
    /// `preset NAME` or the config file's path.
    pub preset_or_config: String,
    /// The model class.
    pub model_class: String,
    /// The scheme's label.
    pub scheme: String,
    /// The seed.
    pub seed: u64,
    /// The element type.
    pub dtype: DType,
    /// Distinct parameters.
    pub parameters: u64,
    /// Data bytes of the whole model.
    pub total_size: u64,
    /// Shards of the whole model.
    pub shards: usize,
    /// This process's rank.
    pub rank: usize,
    /// The number of processes.
    pub world_size: usize,
    /// Every file this process wrote.
    pub files: Vec<PathBuf>,
    /// Shards an earlier run finished, kept.
    pub kept: Vec<PathBuf>,
    /// Kept-looking shards written again (their digest did not match).
    pub rewritten: Vec<PathBuf>,
    /// Temporaries of earlier runs removed.
    pub removed_temporaries: Vec<PathBuf>,
    /// Data bytes this process wrote.
    pub bytes_written: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl MaterializeReport {
    /// The report of a run that wrote `written` from `plan` into `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        out: &Path,
        preset_or_config: String,
        plan: &Plan,
        scheme: &Scheme,
        opts: &crate::io::Options,
        written: crate::io::materialize::Written,
        seconds: f64,
    ) -> Self {
        Self {
            out: out.to_path_buf(),
            preset_or_config,
            model_class: plan.model_class.clone(),
            scheme: scheme.label(),
            seed: opts.seed,
            dtype: plan.dtype,
            parameters: plan.parameters(),
            total_size: written.total_size,
            shards: written.shards,
            rank: opts.ranks.rank(),
            world_size: opts.ranks.world_size(),
            files: written.files,
            kept: written.kept,
            rewritten: written.rewritten,
            removed_temporaries: written.removed,
            bytes_written: written.bytes,
            seconds,
        }
    }
}

/// `nninit doctor PATH --json`: the doctor's report and the seconds it took.
#[derive(Clone, Debug, Serialize)]
pub struct DoctorReport {
    /// The report.
    pub report: doctor::Report,
    /// Seconds taken (opening and examining).
    pub seconds: f64,
}

impl DoctorReport {
    /// Examines the checkpoint at `path` (a `.safetensors` file, a sharded folder, a Hugging
    /// Face folder), with the model of `config` or else of the `config.json` beside the
    /// weights, if any.
    ///
    /// # Errors
    /// Those of [`Options::check`], [`Checkpoint::open`], [`Model::from_config_file`] (and
    /// [`Error::InFile`] around a bad `config.json` beside the weights) and
    /// [`doctor::examine`].
    pub fn examine(path: &Path, config: Option<&Path>, options: &Options) -> Result<Self> {
        options.check()?;
        let started = std::time::Instant::now();
        let checkpoint = Checkpoint::open(path)?;
        let model = match (config, checkpoint.config_json()) {
            (Some(path), _) => Some(Model::from_config_file(path)?),
            (None, Some(json)) => Some(Model::from_config_json(json).map_err(|e| Error::InFile {
                what: "the config.json beside the weights".into(),
                source: Box::new(e),
            })?),
            (None, None) => None,
        };
        let report = doctor::examine(&checkpoint, model.as_ref(), options)?;
        Ok(Self { report, seconds: started.elapsed().as_secs_f64() })
    }
}
