//! Norm weights (LayerNorm/RMSNorm scales) not at their init value.
//!
//! The init value is the one the model's plan gives the tensor under every
//! scheme: 1 for a norm that multiplies by `w`, 0 for one that multiplies by
//! `1 + w` (Gemma's), so the architecture decides it, not this lint.

use super::super::rules;
use super::Context;
use crate::doctor::report::{Finding, Severity, TensorReport};
use crate::init::sample::Sampler;
use crate::plan::Role;

pub(super) fn lint(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.trained() {
        return; // norms move in training
    }
    for t in ctx.tensors {
        let Some(p) = ctx.planned(&t.name) else { continue };
        if p.role != Role::NormWeight {
            continue;
        }
        let Some(s) = t.stats.filter(|s| s.nan + s.inf == 0) else { continue };
        let Some(value) = init_value(ctx, t) else { continue };
        if t.tests.iter().any(|x| x.consistent) {
            continue;
        }
        let effect = if value == 0.0 {
            format!("this norm multiplies by (1 + w), so it scales by {:.3} instead of 1", 1.0 + s.mean)
        } else if s.mean.abs() < 0.1 * value.abs() {
            "a norm scale near 0 all but erases its branch's input at the start".to_string()
        } else {
            format!("the normalized signal starts scaled by {:.3} instead of {value}", s.mean / value)
        };
        let fix = if value == 0.0 {
            "set these weights to 0 (the norm computes x·(1 + w)); a loop drawing every parameter must skip norms"
                .to_string()
        } else {
            format!(
                "set the norm weights to {value} (nn.init.ones_, or the norm's reset_parameters()); a loop that \
                 draws every parameter (for p in model.parameters(): normal_(p)) must skip norms (1-D parameters)"
            )
        };
        out.push(Finding {
            severity: Severity::Error,
            kind: "norm_not_at_init",
            tensor: Some(t.name.clone()),
            message: format!(
                "norm weight at mean {:.4}, std {:.4} (in [{:.4}, {:.4}]), where every scheme starts it at exactly \
                 {value}: {effect}",
                s.mean, s.std, s.min, s.max
            ),
            fix,
        });
    }
}

/// The constant every scheme gives the tensor, when they agree on one.
pub(super) fn init_value(ctx: &Context<'_>, t: &TensorReport) -> Option<f64> {
    let mut value = None;
    for r in ctx.rules(t) {
        let Some(Sampler::Constant(c)) = rules::sampler(r.init, &r.planned.spec) else { return None };
        match value {
            None => value = Some(c),
            Some(v) if v == c => {}
            Some(_) => return None,
        }
    }
    value
}
