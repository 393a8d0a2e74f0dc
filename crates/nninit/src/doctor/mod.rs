//! The doctor: what a checkpoint's weights say, and what is wrong with them.
//!
//! [`examine`] reads every floating-point tensor of a [`Checkpoint`]
//! (memory-mapped, in parallel) and reports:
//!
//! - **statistics** ([`Stats`]): dtype, shape, mean, std, min, max, NaN/∞
//!   counts, the fraction beyond 6 std, excess kurtosis, and std·√fan_in
//!   (fans from the [`fan`](crate::fan) module, through the plan's layout);
//! - **spectra** ([`Spectral`]) of matrices (rank ≥ 2, viewed as
//!   `shape[0] × rest`): the spectral norm by [`SPECTRAL_ITERATIONS`] passes
//!   of power iteration on WᵀW, and the distance from orthogonality;
//! - **schemes**: with a model (`config.json`), nninit builds its own
//!   [`crate::plan::Plan`] under every scheme ([`crate::scheme`]) and
//!   tests each tensor against the rule that scheme gives it ([`RuleTest`]:
//!   mean, variance and kurtosis against their sampling distributions, see
//!   [`rules`](self::RuleTest));
//! - a **verdict** ([`Verdict`]) and **findings** ranked by severity.
//!
//! # Spectral accuracy
//! Power iteration gives a lower bound `‖A v_k‖^(1/2) ≤ σ_max` (A = WᵀW, v_k
//! unit). Matrices of i.i.d. entries are the hard case (no gap at the top of
//! the Marchenko–Pastur spectrum); after [`SPECTRAL_ITERATIONS`] passes the
//! estimate is within [`SPECTRAL_ACCURACY`] of σ_max on them (measured against
//! an exact SVD in the tests), and much closer when a few directions
//! dominate (trained weights). Matrices of more than [`SPECTRAL_MAX_ELEMENTS`]
//! elements (embedding tables and vocabulary heads) are skipped, and the
//! report says so.
//!
//! The distance from orthogonality is `‖W Wᵀ/c − I‖_F/√m` over the smaller
//! side m with `c = ‖W‖_F²/m`, which equals `√(m·Σσᵢ⁴/(Σσᵢ²)² − 1)`; Σσᵢ² is
//! exact and Σσᵢ⁴/Σσᵢ² is estimated by `‖A z‖²/(zᵀ A z)` for the Gaussian
//! start z of the power iteration, which is exact for scaled orthogonal
//! matrices (distance 0) and within a few percent for i.i.d. ones (distance
//! √(m/n)) at the sizes of real layers.

mod rules;
mod stats;

use std::collections::HashMap;

use serde::Serialize;

pub use rules::RuleTest;
pub use stats::{Spectral, Stats};

use crate::arch::Model;
use crate::error::{Error, Result};
use crate::fan::Layout;
use crate::io::{Checkpoint, StoredTensor};
use crate::plan::{Part, Plan, PlannedTensor, Role};
use crate::scheme::{MUP_DEFAULT_BASE_WIDTH, Scheme};
use crate::spec::TensorSpec;
use crate::tensor::{DType, Shape};

/// A statistic further than this many standard errors from the rule's value
/// rejects the rule (two-sided p = 5.7·10⁻⁷ per statistic, so a model with
/// a thousand tensors tested on three statistics wrongly rejects its own
/// scheme with probability below 0.2%).
pub const Z_LIMIT: f64 = 5.0;

/// The kurtosis is tested only from this many values on (below, the sample
/// kurtosis is too skewed for a normal approximation at [`Z_LIMIT`]).
pub const SHAPE_MIN_COUNT: u64 = 20_000;

/// Power-iteration passes per matrix.
pub const SPECTRAL_ITERATIONS: usize = 8;

/// The relative accuracy of the spectral norm on i.i.d. matrices after
/// [`SPECTRAL_ITERATIONS`] passes (the estimate is low by at most this).
pub const SPECTRAL_ACCURACY: f64 = 0.10;

/// Matrices above this many elements get no spectral analysis.
pub const SPECTRAL_MAX_ELEMENTS: u64 = 1 << 25;

/// Above this std·√fan_in a hidden layer multiplies the RMS of its input by
/// more than 2 (Kaiming's √2 compensates ReLU's halving; 2 has no such reason).
pub const GROWTH_LIMIT: f64 = 2.0;

/// Options of [`examine`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The scheme the checkpoint must follow (`--expect`).
    pub expect: Option<Scheme>,
    /// Power-iteration passes per matrix (0 skips spectra).
    pub iterations: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { expect: None, iterations: SPECTRAL_ITERATIONS }
    }
}

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Probably unintended.
    Warning,
    /// Wrong: the weights will not train as intended.
    Error,
}

/// One thing the doctor found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// A stable snake_case kind (`non_finite`, `depth_scaling_missing`, ...).
    pub kind: &'static str,
    /// The tensor, where the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
    /// What was found, with the numbers.
    pub message: String,
}

/// How well one scheme explains the checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchemeFit {
    /// The scheme (`hf`, `mup:256`, ...).
    pub scheme: String,
    /// Why the scheme cannot build this architecture, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
    /// Tensors tested against the scheme's rules.
    pub tested: usize,
    /// Of those, the consistent ones.
    pub consistent: usize,
    /// The fraction of tested parameters in consistent tensors.
    pub parameter_fraction: f64,
    /// The names of the tensors that are not consistent (at most 20).
    pub deviating: Vec<String>,
    /// Of the inconsistent tensors, the residual outputs that follow the
    /// scheme's unscaled rule: the scheme with its depth scaling never applied.
    pub depth_scaling_missing: usize,
}

/// What the checkpoint is, overall.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// Every tested tensor is consistent with `scheme` (and with the others in `also`).
    Init {
        /// The first consistent scheme.
        scheme: String,
        /// Other schemes that give the same rules here.
        also: Vec<String>,
    },
    /// Most parameters follow `scheme`, some tensors do not.
    InitWithDeviations {
        /// The scheme that explains the most parameters.
        scheme: String,
        /// The fraction of parameters it explains.
        parameter_fraction: f64,
        /// The number of tensors that deviate.
        deviating: usize,
    },
    /// Weights far from any initialization: trained.
    Trained {
        /// The evidence, one sentence each.
        evidence: Vec<String>,
    },
    /// Neither recognisably initialized nor recognisably trained.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// Everything known about one tensor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorReport {
    /// The state-dict key.
    pub name: String,
    /// Stored element type.
    pub dtype: &'static str,
    /// Shape.
    pub shape: Vec<usize>,
    /// Role in the model's plan, where the plan has the tensor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Statistics (floating-point tensors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Inputs per output unit (from the fan module and the plan's layout; PyTorch's layout without a plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fan_in: Option<u64>,
    /// std·√fan_in: the factor by which the layer scales the RMS of i.i.d. unit inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_sqrt_fan_in: Option<f64>,
    /// Spectral norm and distance from orthogonality (matrices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spectral: Option<Spectral>,
    /// Why there is no spectral analysis of a matrix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spectral_skipped: Option<String>,
    /// The schemes whose rule the tensor is consistent with.
    pub consistent_with: Vec<String>,
    /// The test against each applicable scheme's rule.
    pub tests: Vec<RuleTest>,
}

/// The doctor's report on a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The checkpoint's path.
    pub path: String,
    /// The model (`model_type` / class) the schemes were built for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Number of tensors.
    pub tensor_count: usize,
    /// Number of elements over all tensors.
    pub parameters: u64,
    /// Bytes of tensor data.
    pub bytes: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// Every candidate scheme's fit, best first.
    pub schemes: Vec<SchemeFit>,
    /// The findings, most severe first.
    pub findings: Vec<Finding>,
    /// Whether the checkpoint follows the `--expect` scheme (`None` without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_followed: Option<bool>,
    /// How the numbers were computed and what was limited.
    pub notes: Vec<String>,
    /// Per tensor, in file order.
    pub tensors: Vec<TensorReport>,
}

impl Report {
    /// The findings of at least `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity >= severity).count()
    }
}

/// The candidate schemes, in the order ties are reported.
fn candidates() -> Vec<Scheme> {
    vec![
        Scheme::Hf,
        Scheme::TorchDefault,
        Scheme::Megatron,
        Scheme::OlmoMitchell,
        Scheme::SmallInit,
        Scheme::TFixup,
        Scheme::DeepNorm,
        Scheme::Mup { base_width: MUP_DEFAULT_BASE_WIDTH },
        Scheme::Zero,
    ]
}

/// A scheme's plan, indexed by tensor name (tied tensors resolved to their source).
struct SchemePlan {
    scheme: Scheme,
    plan: Result<Plan>,
}

impl SchemePlan {
    fn get(&self, name: &str) -> Option<&PlannedTensor> {
        let plan = self.plan.as_ref().ok()?;
        let t = plan.get(name)?;
        match &t.tied_to {
            Some(source) => plan.get(source),
            None => Some(t),
        }
    }
}

/// Examines a checkpoint. With `model` (from its `config.json` or given),
/// tests every tensor against every scheme nninit knows; with
/// `options.expect`, records whether the checkpoint follows that scheme.
///
/// # Errors
/// [`Error::InvalidConfig`] when `options.expect` is given without a model.
pub fn examine(checkpoint: &Checkpoint, model: Option<&Model>, options: &Options) -> Result<Report> {
    if options.expect.is_some() && model.is_none() {
        return Err(Error::InvalidConfig {
            reason: "--expect needs the model's config.json (beside the weights, or --config FILE)".into(),
        });
    }
    let mut schemes: Vec<Scheme> = candidates();
    if let Some(e) = options.expect
        && !schemes.contains(&e)
    {
        schemes.push(e);
    }
    let plans: Vec<SchemePlan> = match model {
        Some(m) => schemes
            .iter()
            .map(|&scheme| {
                let plan = m.plan(DType::F32).and_then(|mut p| scheme.apply(m, &mut p).map(|()| p));
                SchemePlan { scheme, plan }
            })
            .collect(),
        None => Vec::new(),
    };
    let base_plan = plans.first().and_then(|p| p.plan.as_ref().ok());
    let mut notes = vec![format!(
        "tests: mean, variance and (n ≥ {SHAPE_MIN_COUNT}) kurtosis against each rule's sampling distribution, \
         rejected beyond |z| = {Z_LIMIT}"
    )];
    if options.iterations > 0 {
        notes.push(format!(
            "spectral norm: {} power-iteration passes on WᵀW, a lower bound within {:.0}% on i.i.d. matrices; \
             matrices over {SPECTRAL_MAX_ELEMENTS} elements skipped",
            options.iterations,
            SPECTRAL_ACCURACY * 100.0
        ));
    }
    if model.is_none() {
        notes.push("no config.json: no scheme tests; fans assume PyTorch's [out, in, ...] layout".into());
    }

    let mut tensors = Vec::with_capacity(checkpoint.tensors().len());
    for stored in checkpoint.tensors() {
        tensors.push(tensor_report(checkpoint, stored, base_plan, &plans, options));
    }

    let fits = fits(&plans, &tensors, checkpoint);
    let verdict = verdict(&fits, &tensors, base_plan, model.is_some());
    let mut findings = findings(&tensors, &verdict, base_plan, &plans, model);
    let expected_followed = options.expect.map(|e| {
        let fit = fits.iter().find(|f| f.scheme == e.label());
        let ok = fit.is_some_and(|f| f.not_applicable.is_none() && f.tested > 0 && f.consistent == f.tested);
        if !ok {
            expect_findings(e, fit, &tensors, &mut findings);
        }
        ok
    });
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut fits = fits;
    fits.sort_by(|a, b| b.parameter_fraction.total_cmp(&a.parameter_fraction));
    Ok(Report {
        path: checkpoint.root().display().to_string(),
        model: model.map(|m| format!("{} ({})", m.model_type(), m.model_class())),
        tensor_count: tensors.len(),
        parameters: checkpoint.tensors().iter().map(StoredTensor::numel).sum(),
        bytes: checkpoint.data_bytes(),
        verdict,
        schemes: fits,
        findings,
        expected_followed,
        notes,
        tensors,
    })
}

fn tensor_report(
    checkpoint: &Checkpoint,
    stored: &StoredTensor,
    base_plan: Option<&Plan>,
    plans: &[SchemePlan],
    options: &Options,
) -> TensorReport {
    let planned = base_plan.and_then(|p| p.get(&stored.name));
    let mut report = TensorReport {
        name: stored.name.clone(),
        dtype: stored.dtype.name(),
        shape: stored.shape.clone(),
        role: planned.map(|p| p.role),
        stats: None,
        fan_in: None,
        std_sqrt_fan_in: None,
        spectral: None,
        spectral_skipped: None,
        consistent_with: Vec::new(),
        tests: Vec::new(),
    };
    if stored.dtype.float().is_none() || stored.numel() == 0 {
        return report;
    }
    let bytes = checkpoint.data(stored);
    let s = stats::stats(stored.dtype, bytes);
    // The plan's spec (layout, a bias's weight fans) when the plan has the tensor
    // with this shape; else PyTorch's layout.
    let spec = planned
        .filter(|p| p.spec.shape().dims() == stored.shape.as_slice())
        .map(|p| p.spec.clone())
        .or_else(|| Shape::new(stored.shape.clone()).ok().map(|s| TensorSpec::new(s).with_layout(Layout::Torch)));
    if let Some(fan) = spec.as_ref().filter(|_| stored.shape.len() >= 2).and_then(|sp| sp.fan().ok()) {
        report.fan_in = Some(fan.fan_in());
        report.std_sqrt_fan_in = Some(s.std * (fan.fan_in() as f64).sqrt());
    }
    if stored.shape.len() >= 2 && options.iterations > 0 {
        let rows = stored.shape[0];
        let cols = (stored.numel() / rows.max(1) as u64) as usize;
        if stored.numel() > SPECTRAL_MAX_ELEMENTS {
            report.spectral_skipped = Some(format!(
                "{} elements > {SPECTRAL_MAX_ELEMENTS} (embedding/head-sized): {} passes would read {:.0} MB",
                stored.numel(),
                options.iterations,
                (bytes.len() * options.iterations) as f64 / 1e6
            ));
        } else if s.nan + s.inf > 0 {
            report.spectral_skipped = Some("non-finite values".into());
        } else {
            let sumsq = s.rms * s.rms * s.count as f64;
            report.spectral = stats::spectral(stored.dtype, bytes, rows, cols, sumsq, options.iterations, &stored.name);
        }
    }
    for sp in plans {
        let Some(planned) = sp.get(&stored.name) else { continue };
        let Some(init) = &planned.init else { continue };
        if planned.spec.shape().dims() != stored.shape.as_slice() {
            continue;
        }
        if let Ok(t) = rules::test(&sp.scheme.label(), init, &planned.spec, stored.dtype, &s) {
            if t.consistent {
                report.consistent_with.push(t.scheme.clone());
            }
            report.tests.push(t);
        }
    }
    report.stats = Some(s);
    report
}

fn fits(plans: &[SchemePlan], tensors: &[TensorReport], checkpoint: &Checkpoint) -> Vec<SchemeFit> {
    let numel: HashMap<&str, u64> = checkpoint.tensors().iter().map(|t| (t.name.as_str(), t.numel())).collect();
    plans
        .iter()
        .map(|sp| {
            let label = sp.scheme.label();
            let mut fit = SchemeFit {
                scheme: label.clone(),
                not_applicable: sp.plan.as_ref().err().map(ToString::to_string),
                tested: 0,
                consistent: 0,
                parameter_fraction: 0.0,
                deviating: Vec::new(),
                depth_scaling_missing: 0,
            };
            let (mut total, mut good) = (0u64, 0u64);
            for t in tensors {
                let Some(test) = t.tests.iter().find(|x| x.scheme == label) else { continue };
                let n = numel.get(t.name.as_str()).copied().unwrap_or(0);
                fit.tested += 1;
                total += n;
                if test.consistent {
                    fit.consistent += 1;
                    good += n;
                } else {
                    let plan = sp.plan.as_ref().ok();
                    let missing =
                        sp.get(&t.name).zip(plan).and_then(|(p, plan)| depth_scaling_missing(t, p, plan, &label));
                    fit.depth_scaling_missing += usize::from(missing.is_some());
                    if fit.deviating.len() < 20 {
                        fit.deviating.push(t.name.clone());
                    }
                }
            }
            fit.parameter_fraction = if total > 0 { good as f64 / total as f64 } else { 0.0 };
            fit
        })
        .collect()
}

/// Whether a planned tensor is a hidden layer (a Linear/Conv weight inside the network).
fn is_hidden_weight(p: &PlannedTensor) -> bool {
    p.part == Part::Weight && p.role.is_hidden_matrix()
}

/// Evidence of training: what initialization never produces.
fn training_evidence(tensors: &[TensorReport], plan: Option<&Plan>) -> Vec<String> {
    let mut evidence = Vec::new();
    let matrices: Vec<&TensorReport> =
        tensors.iter().filter(|t| t.shape.len() >= 2 && t.stats.is_some_and(|s| s.count >= SHAPE_MIN_COUNT)).collect();
    let heavy = matrices
        .iter()
        .filter(|t| {
            t.stats.is_some_and(|s| {
                let z = s.excess_kurtosis / (24.0 / s.count as f64).sqrt();
                s.excess_kurtosis > 0.5 && z > Z_LIMIT
            })
        })
        .count();
    if !matrices.is_empty() && heavy * 2 >= matrices.len() {
        evidence.push(format!(
            "{heavy} of {} matrices are heavy-tailed (excess kurtosis > 0.5, beyond any normal or uniform draw)",
            matrices.len()
        ));
    }
    let spectral: Vec<&Spectral> = tensors.iter().filter_map(|t| t.spectral.as_ref()).collect();
    let spiked = spectral.iter().filter(|s| s.edge_ratio > 1.5).count();
    if !spectral.is_empty() && spiked * 2 >= spectral.len() {
        evidence.push(format!(
            "{spiked} of {} matrices have a spectral norm over 1.5× the i.i.d. edge rms·(√m+√n) (learned directions)",
            spectral.len()
        ));
    }
    if let Some(plan) = plan {
        let role_of = |t: &TensorReport| plan.get(&t.name).map(|p| (p.role, p.part));
        let norms: Vec<&TensorReport> =
            tensors.iter().filter(|t| role_of(t).is_some_and(|(r, _)| r == Role::NormWeight)).collect();
        let moved = norms.iter().filter(|t| t.stats.is_some_and(|s| s.std > 0.0 || s.mean != 1.0)).count();
        if !norms.is_empty() && moved * 2 >= norms.len() {
            evidence.push(format!("{moved} of {} norm weights moved away from 1", norms.len()));
        }
        let biases: Vec<&TensorReport> = tensors
            .iter()
            .filter(|t| role_of(t).is_some_and(|(r, p)| p == Part::Bias || r == Role::NormBias))
            .collect();
        let nonzero = biases.iter().filter(|t| t.stats.is_some_and(|s| s.rms > 0.0)).count();
        if !biases.is_empty() && nonzero * 2 >= biases.len() {
            evidence.push(format!("{nonzero} of {} biases are non-zero", biases.len()));
        }
    }
    evidence
}

fn verdict(fits: &[SchemeFit], tensors: &[TensorReport], plan: Option<&Plan>, has_model: bool) -> Verdict {
    let full: Vec<&SchemeFit> =
        fits.iter().filter(|f| f.not_applicable.is_none() && f.tested > 0 && f.consistent == f.tested).collect();
    if let Some(first) = full.first() {
        return Verdict::Init {
            scheme: first.scheme.clone(),
            also: full[1..].iter().map(|f| f.scheme.clone()).collect(),
        };
    }
    // A scheme that explains every tensor once its depth scaling is taken as
    // never applied is a more specific explanation than the closest count
    // (GPT-2 with unscaled c_proj is also torch-default's Conv1D everywhere but
    // the embeddings).
    let bug = fits.iter().find(|f| {
        f.not_applicable.is_none() && f.depth_scaling_missing > 0 && f.consistent + f.depth_scaling_missing == f.tested
    });
    if let Some(f) = bug {
        return Verdict::InitWithDeviations {
            scheme: f.scheme.clone(),
            parameter_fraction: f.parameter_fraction,
            deviating: f.tested - f.consistent,
        };
    }
    let best =
        fits.iter().filter(|f| f.tested > 0).max_by(|a, b| a.parameter_fraction.total_cmp(&b.parameter_fraction));
    if let Some(best) = best.filter(|b| b.parameter_fraction >= 0.5) {
        return Verdict::InitWithDeviations {
            scheme: best.scheme.clone(),
            parameter_fraction: best.parameter_fraction,
            deviating: best.tested - best.consistent,
        };
    }
    let evidence = training_evidence(tensors, plan);
    if !evidence.is_empty() {
        let mut evidence = evidence;
        if let Some(best) = best {
            evidence.push(format!(
                "no init scheme explains it: the closest, {}, explains {:.0}% of the parameters",
                best.scheme,
                best.parameter_fraction * 100.0
            ));
        }
        return Verdict::Trained { evidence };
    }
    Verdict::Unknown {
        reason: if has_model {
            "no scheme nninit knows explains the weights, and they show no sign of training".into()
        } else {
            "no config.json to test schemes against (give --config), and no sign of training".into()
        },
    }
}

fn findings(
    tensors: &[TensorReport],
    verdict: &Verdict,
    plan: Option<&Plan>,
    plans: &[SchemePlan],
    model: Option<&Model>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let init_state = matches!(verdict, Verdict::Init { .. } | Verdict::InitWithDeviations { .. });
    for t in tensors {
        let Some(s) = t.stats else { continue };
        if s.nan + s.inf > 0 {
            out.push(Finding {
                severity: Severity::Error,
                kind: "non_finite",
                tensor: Some(t.name.clone()),
                message: format!("{} NaN and {} infinite values", s.nan, s.inf),
            });
        }
        let beyond = (s.beyond_6_std * s.count as f64).round();
        // An untruncated normal puts 2·10⁻⁹ of its mass beyond 6σ.
        if init_state && beyond >= 1.0 && s.count as f64 * 2e-9 < 0.01 {
            out.push(Finding {
                severity: Severity::Error,
                kind: "outliers",
                tensor: Some(t.name.clone()),
                message: format!(
                    "{beyond} values beyond 6 std (max |x| = {:.3e}, std {:.3e}); a normal draw of {} values has \
                     ≈ {:.1e}: a broken sampler (e.g. pytorch#155588, trunc_normal_ with a small std)",
                    s.min.abs().max(s.max.abs()),
                    s.std,
                    s.count,
                    s.count as f64 * 2e-9
                ),
            });
        }
        let hidden = plan.and_then(|p| p.get(&t.name)).is_some_and(is_hidden_weight);
        if let (true, true, Some(g)) = (init_state, hidden, t.std_sqrt_fan_in)
            && g > GROWTH_LIMIT
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "activation_growth",
                tensor: Some(t.name.clone()),
                message: format!(
                    "std·√fan_in = {g:.2}: the layer multiplies the RMS of i.i.d. unit inputs by {g:.2} \
                     (×{:.3e} through {} such layers in sequence)",
                    g.powi(model.map_or(1, |m| m.dims().layers) as i32),
                    model.map_or(1, |m| m.dims().layers)
                ),
            });
        }
    }
    let scheme = match verdict {
        Verdict::Init { .. } | Verdict::Trained { .. } | Verdict::Unknown { .. } => return out,
        Verdict::InitWithDeviations { scheme, .. } => scheme.clone(),
    };
    let Some(sp) = plans.iter().find(|p| p.scheme.label() == scheme) else { return out };
    let Some(plan) = sp.plan.as_ref().ok() else { return out };
    for t in tensors {
        let Some(test) = t.tests.iter().find(|x| x.scheme == scheme && !x.consistent) else { continue };
        let Some(p) = sp.get(&t.name) else { continue };
        if let Some(f) = depth_scaling_missing(t, p, plan, &scheme) {
            out.push(f);
            continue;
        }
        out.push(Finding {
            severity: Severity::Warning,
            kind: "rule_mismatch",
            tensor: Some(t.name.clone()),
            message: format!(
                "does not follow {scheme} ({}): {}",
                test.rule,
                test.why_not.as_deref().unwrap_or("inconsistent")
            ),
        });
    }
    out
}

/// A residual-branch output whose values follow the rule the same scheme
/// gives the branch's input layers: the depth scaling was never applied
/// (transformers#47458: GPT-2's c_proj at σ instead of σ/√(2·n_layer)).
fn depth_scaling_missing(t: &TensorReport, p: &PlannedTensor, plan: &Plan, scheme: &str) -> Option<Finding> {
    if !(p.role.is_residual_output() && p.part == Part::Weight) {
        return None;
    }
    let test = t.tests.iter().find(|x| x.scheme == scheme)?;
    let s = t.stats?;
    let sibling = plan.tensors.iter().find(|q| {
        q.layer == p.layer
            && q.part == Part::Weight
            && matches!(q.role, Role::AttentionQuery | Role::AttentionQkv | Role::MlpUp)
            && q.init.is_some()
    })?;
    let unscaled = rules::test(scheme, sibling.init.as_ref()?, &p.spec, crate::io::StoredDType::F32, &s).ok()?;
    if !unscaled.consistent || unscaled.expected_std <= test.expected_std * 1.05 {
        return None;
    }
    Some(Finding {
        severity: Severity::Error,
        kind: "depth_scaling_missing",
        tensor: Some(t.name.clone()),
        message: format!(
            "residual output std {:.5} = the unscaled {:.5} of the branch inputs; {scheme} gives {:.5} \
             ({}): the depth scaling was never applied (cf. transformers#47458)",
            s.std, unscaled.expected_std, test.expected_std, test.rule
        ),
    })
}

fn expect_findings(expect: Scheme, fit: Option<&SchemeFit>, tensors: &[TensorReport], out: &mut Vec<Finding>) {
    let label = expect.label();
    if let Some(reason) = fit.and_then(|f| f.not_applicable.clone()) {
        out.push(Finding {
            severity: Severity::Error,
            kind: "expected_scheme",
            tensor: None,
            message: format!("expected {label}, which cannot build this model: {reason}"),
        });
        return;
    }
    let mut any = false;
    for t in tensors {
        let Some(test) = t.tests.iter().find(|x| x.scheme == label) else { continue };
        any = true;
        if test.consistent || out.iter().any(|f| f.tensor.as_deref() == Some(&t.name) && f.severity == Severity::Error)
        {
            continue;
        }
        out.retain(|f| f.tensor.as_deref() != Some(&t.name) || f.kind != "rule_mismatch");
        out.push(Finding {
            severity: Severity::Error,
            kind: "expected_scheme",
            tensor: Some(t.name.clone()),
            message: format!(
                "does not follow the expected {label} ({}): {}",
                test.rule,
                test.why_not.as_deref().unwrap_or("inconsistent")
            ),
        });
    }
    if !any {
        out.push(Finding {
            severity: Severity::Error,
            kind: "expected_scheme",
            tensor: None,
            message: format!("expected {label}, but no tensor's name is in its plan for this model"),
        });
    }
}

#[cfg(test)]
mod tests;
