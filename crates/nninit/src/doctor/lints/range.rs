//! A std that ignores the config's `initializer_range`: every tensor the
//! `hf` scheme tests follows hf's rules at another range than the config's
//! (transformers' default 0.02 where the config says 0.01, or the reverse).
//!
//! The other range is read off the weights: ρ̂² = Σ nₜ·(sₜ/σₜ)² / Σ nₜ over
//! the tensors hf draws (σₜ the rule's std at the config's range, sₜ the
//! measured std), so σ_range' = ρ̂·σ_range; 0.02, the default of every
//! transformers config class nninit reads, is tried first. The finding holds
//! only when hf's plan for the changed config explains every tensor by the
//! same statistical tests as the scheme fits (|z| ≤ Z_LIMIT).

use super::super::fits::SchemePlan;
use super::super::rules;
use super::{Context, RANGE_KIND};
use crate::arch::Model;
use crate::doctor::report::{Finding, Severity, Verdict};
use crate::scheme::Scheme;
use crate::tensor::DType;

/// `initializer_range`'s default in transformers' config classes.
pub(super) const TRANSFORMERS_DEFAULT_RANGE: f64 = 0.02;

pub(super) fn lint(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(model) = ctx.model else { return };
    if matches!(ctx.verdict, Verdict::Init { .. } | Verdict::Trained { .. }) {
        return;
    }
    let range = model.dims().initializer_range;
    let hf = Scheme::Hf.label();
    let (mut num, mut den) = (0.0, 0.0);
    for t in ctx.tensors {
        let (Some(test), Some(s)) = (t.tests.iter().find(|x| x.scheme == hf), t.stats) else { continue };
        if test.z_std.is_some() && test.expected_std > 0.0 && s.std.is_finite() {
            num += s.count as f64 * (s.std / test.expected_std).powi(2);
            den += s.count as f64;
        }
    }
    if den == 0.0 {
        return;
    }
    let estimate = (num / den).sqrt() * range;
    let mut candidates = vec![TRANSFORMERS_DEFAULT_RANGE];
    if (estimate / TRANSFORMERS_DEFAULT_RANGE - 1.0).abs() > 1e-3 {
        candidates.push(estimate);
    }
    for other in candidates {
        if (other / range - 1.0).abs() < 1e-6 || !explains(ctx, model, other) {
            continue;
        }
        let default = if other == TRANSFORMERS_DEFAULT_RANGE {
            " (0.02 is transformers' default: the model was initialized from a default config)"
        } else {
            ""
        };
        out.push(Finding {
            severity: Severity::Error,
            kind: RANGE_KIND,
            tensor: None,
            message: format!(
                "every tensor follows hf with initializer_range = {other:.4}{default}, but the config says \
                 {range}: the init ignored the config's initializer_range (its N(0, σ) weights are ×{:.2} the \
                 config's σ)",
                other / range
            ),
            fix: format!(
                "initialize from the config that is saved: set initializer_range before the model is built \
                 (from_config(config)), or call model.init_weights() after changing it; if these weights are the \
                 intended ones, write \"initializer_range\": {other:.4} into config.json"
            ),
        });
        return;
    }
}

/// Whether hf's plan at initializer_range `other` explains every tensor hf tests.
fn explains(ctx: &Context<'_>, model: &Model, other: f64) -> bool {
    let mut config = model.config().clone();
    let Some(map) = config.as_object_mut() else { return false };
    map.insert("initializer_range".into(), serde_json::json!(other));
    let Ok(changed) = Model::from_config(config) else { return false };
    let plan = changed.plan(DType::F32).and_then(|mut p| Scheme::Hf.apply(&changed, &mut p).map(|()| p));
    let sp = SchemePlan { scheme: Scheme::Hf, plan };
    let mut drawn = 0;
    for t in ctx.tensors {
        let (Some(p), Some(s), Some(stored)) = (sp.get(&t.name), t.stats, ctx.stored(&t.name)) else { continue };
        let Some(init) = &p.init else { continue };
        if p.spec.shape().dims() != t.shape.as_slice() {
            continue;
        }
        match rules::test(&sp.scheme.label(), init, &p.spec, stored.dtype, &s) {
            Ok(test) if test.consistent => drawn += usize::from(test.z_std.is_some()),
            _ => return false,
        }
    }
    drawn > 0
}
