//! Lints: the init bugs users report, each a [`Finding`] with its severity,
//! its numbers and the fix. One module per bug family:
//!
//! - [`garbage`]: NaN, ∞, subnormal values and exact zeros that a draw does
//!   not give (memory never written, rows never filled);
//! - [`heads`]: a tied head stored with other values than its embedding, an
//!   untied head at a scale the checkpoint's scheme never gives;
//! - [`norms`]: norm weights not at their init value;
//! - [`range`]: weights that follow the `hf` scheme at another
//!   `initializer_range` than the config's;
//! - [`truncation`]: a truncated rule whose bounds were never applied;
//! - [`signal`]: layers that make the signal explode or vanish.
//!
//! Thresholds that are statistical are tail probabilities under the rule's
//! sampling distribution, at [`P_LIMIT`](super::P_LIMIT) (the two-sided
//! normal tail beyond [`Z_LIMIT`](super::Z_LIMIT)); see docs/doctor.md.

mod garbage;
mod heads;
mod norms;
mod range;
mod signal;
mod truncation;

use super::fits::SchemePlan;
use super::report::{Finding, TensorReport, Verdict};
use crate::arch::Model;
use crate::init::Init;
use crate::io::{Checkpoint, StoredTensor};
use crate::plan::{Plan, PlannedTensor};
use crate::scheme::Scheme;

/// The kind of the finding that explains every tensor the `hf` scheme tests
/// (the per-tensor `rule_mismatch` warnings it explains are dropped).
pub(super) const RANGE_KIND: &str = "initializer_range_ignored";

/// What the lints read: the checkpoint, the per-tensor reports, the verdict
/// and every candidate scheme's plan.
pub(super) struct Context<'a> {
    pub(super) checkpoint: &'a Checkpoint,
    pub(super) tensors: &'a [TensorReport],
    pub(super) verdict: &'a Verdict,
    pub(super) plans: &'a [SchemePlan],
    pub(super) model: Option<&'a Model>,
    pub(super) expect: Option<Scheme>,
}

/// One scheme's rule for one tensor (shapes agreeing).
pub(super) struct SchemeRule<'a> {
    pub(super) scheme: String,
    pub(super) planned: &'a PlannedTensor,
    pub(super) init: &'a Init,
}

impl<'a> Context<'a> {
    /// The plan that gives roles (the first scheme's; roles do not depend on the scheme).
    fn base(&self) -> Option<&'a Plan> {
        self.plans.first().and_then(|p| p.plan.as_ref().ok())
    }

    /// The tensor in the base plan.
    fn planned(&self, name: &str) -> Option<&'a PlannedTensor> {
        self.base()?.get(name)
    }

    /// The stored tensor of that name.
    fn stored(&self, name: &str) -> Option<&'a StoredTensor> {
        self.checkpoint.tensors().iter().find(|t| t.name == name)
    }

    /// Whether the verdict is "trained": weights that moved are no init bug.
    fn trained(&self) -> bool {
        matches!(self.verdict, Verdict::Trained { .. })
    }

    /// The scheme the checkpoint is held to: `--expect`, else the scheme of
    /// an `init_with_deviations` verdict.
    fn scheme(&self) -> Option<String> {
        match (self.expect, self.verdict) {
            (Some(e), _) => Some(e.label()),
            (None, Verdict::InitWithDeviations { scheme, .. }) => Some(scheme.clone()),
            _ => None,
        }
    }

    /// Every scheme's rule for the tensor, where its plan has it at the stored shape.
    fn rules(&self, t: &TensorReport) -> Vec<SchemeRule<'a>> {
        self.plans
            .iter()
            .filter_map(|sp| {
                let planned = sp.get(&t.name)?;
                let init = planned.init.as_ref()?;
                (planned.spec.shape().dims() == t.shape.as_slice()).then(|| SchemeRule {
                    scheme: sp.scheme.label(),
                    planned,
                    init,
                })
            })
            .collect()
    }
}

/// Runs every lint. When the whole model follows `hf` at another
/// `initializer_range`, that one finding explains the head's scale too (the
/// head lint is not run); the signal lint still says what the scale does.
pub(super) fn lints(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    range::lint(ctx, &mut out);
    let explained = !out.is_empty();
    garbage::lint(ctx, &mut out);
    heads::tied(ctx, &mut out);
    norms::lint(ctx, &mut out);
    truncation::lint(ctx, &mut out);
    if !explained {
        heads::untied(ctx, &mut out);
    }
    signal::lint(ctx, &mut out);
    out
}
