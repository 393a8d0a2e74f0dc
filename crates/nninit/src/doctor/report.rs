//! The doctor's report: what it says about a checkpoint, as types.

use serde::Serialize;

use super::rules::RuleTest;
use super::stats::{Spectral, Stats};
use crate::plan::Role;

/// How bad a finding is (ordered: `Info < Warning < Error`).
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
    /// What to do about it.
    pub fix: String,
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

impl Severity {
    /// The lowercase name (`error`, `warning`, `info`), as in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl Report {
    /// The findings of at least `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity >= severity).count()
    }
}
