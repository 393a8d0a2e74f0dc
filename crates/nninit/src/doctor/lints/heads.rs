//! Output heads: a tied head stored with values of its own, and an untied
//! head at a scale the checkpoint's scheme never gives it.

use super::Context;
use crate::doctor::report::{Finding, Severity};
use crate::doctor::stats::differences;
use crate::plan::{Part, Role};

/// An untied head further than this factor from its scheme's std is an
/// error (its logits start more than 2× off), nearer a warning.
const HEAD_FACTOR: f64 = 2.0;

/// A tensor the config ties to another (`tie_word_embeddings`), stored
/// beside it with other values: loading re-ties it and silently drops them.
pub(super) fn tied(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(plan) = ctx.base() else { return };
    for p in &plan.tensors {
        let Some(source) = &p.tied_to else { continue };
        let (Some(head), Some(src)) = (ctx.stored(&p.name), ctx.stored(source)) else { continue };
        if head.dtype.float().is_none() || src.dtype.float().is_none() {
            continue;
        }
        let message = if head.shape != src.shape {
            format!("stored with shape {:?}, but the config ties it to `{source}` of shape {:?}", head.shape, src.shape)
        } else {
            let d = differences(head.dtype, ctx.checkpoint.data(head), src.dtype, ctx.checkpoint.data(src));
            if d.differing == 0 {
                continue;
            }
            format!(
                "differs from `{source}`, to which the config ties it, in {} of {} values (first at index {}, \
                 max |Δ| = {:.3e}): loading ties the two and drops these values",
                d.differing,
                head.numel(),
                d.first.unwrap_or(0),
                d.max_abs
            )
        };
        out.push(Finding {
            severity: Severity::Error,
            kind: "tied_head_differs",
            tensor: Some(p.name.clone()),
            message,
            fix: format!(
                "if the head is meant to be its own, set \"tie_word_embeddings\": false in config.json; else save \
                 `{source}`'s values as `{}` (or drop it, as save_pretrained does for tied weights)",
                p.name
            ),
        });
    }
}

/// An untied head that does not follow the scheme the rest of the
/// checkpoint follows: left at its module's default, or drawn at another scale.
pub(super) fn untied(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(scheme) = ctx.scheme() else { return };
    for t in ctx.tensors {
        let Some(p) = ctx.planned(&t.name) else { continue };
        if p.role != Role::Head || p.part != Part::Weight || p.tied_to.is_some() {
            continue;
        }
        let Some(s) = t.stats.filter(|s| s.nan + s.inf == 0 && s.std > 0.0) else { continue };
        let Some(test) = t.tests.iter().find(|x| x.scheme == scheme && !x.consistent) else { continue };
        if test.expected_std <= 0.0 {
            continue;
        }
        let ratio = s.std / test.expected_std;
        let severity =
            if !(1.0 / HEAD_FACTOR..=HEAD_FACTOR).contains(&ratio) { Severity::Error } else { Severity::Warning };
        let other = t
            .tests
            .iter()
            .find(|x| x.consistent)
            .map(|x| format!("; its values follow {}'s rule instead ({})", x.scheme, x.rule))
            .unwrap_or_default();
        out.push(Finding {
            severity,
            kind: "head_scale",
            tensor: Some(t.name.clone()),
            message: format!(
                "untied head at std {:.4e}, ×{ratio:.2} the {:.4e} of {scheme}'s rule ({}), which the rest of the \
                 checkpoint follows{other}: its logits start ×{ratio:.2} off",
                s.std, test.expected_std, test.rule
            ),
            fix: format!(
                "initialize the head as {scheme} does ({}): a head created or replaced after post_init() keeps \
                 nn.Linear's default unless _init_weights is run on it; or tie it to the embedding",
                test.rule
            ),
        });
    }
}
