//! Truncation bounds that do not truncate: a tensor whose scheme draws it
//! from a normal truncated at a few σ, holding values beyond the bounds that
//! follow the untruncated normal of the same σ.
//!
//! Under the truncated rule a value beyond the bounds has probability 0 (up
//! to the storage type's rounding of the bound), so one such value rejects
//! the rule; the untruncated normal is then tested by the scheme fits' own
//! statistics. The usual cause is PyTorch's `trunc_normal_(w, std=σ)`, whose
//! bounds `a = −2, b = 2` are absolute, not in units of σ: at σ = 0.02 they
//! sit at ±100σ and cut nothing.

use super::super::rules;
use super::Context;
use crate::doctor::report::{Finding, Severity, Verdict};
use crate::gaussian;
use crate::init::sample::Sampler;
use crate::init::{Init, Normal};

pub(super) fn lint(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    // A checkpoint that a scheme explains tensor for tensor has no missing truncation, though another
    // candidate truncates the same normal (hf's N(0, σ) is OLMo-core's llama rule untruncated); with
    // --expect, a tensor that follows the expected scheme has none either.
    if ctx.expect.is_none() && matches!(ctx.verdict, Verdict::Init { .. }) {
        return;
    }
    let held = ctx.expect.map(|e| e.label());
    for t in ctx.tensors {
        if held.as_ref().is_some_and(|h| t.consistent_with.contains(h)) {
            continue;
        }
        let Some(s) = t.stats.filter(|s| s.nan + s.inf == 0 && s.count > 0) else { continue };
        let Some(stored) = ctx.stored(&t.name) else { continue };
        for r in ctx.rules(t) {
            let Some(Sampler::Truncated(ts)) = rules::sampler(r.init, &r.planned.spec) else { continue };
            let (low, high) = ts.bounds();
            let (a, b) = ts.standardized_bounds();
            let sigma = ts.sigma();
            let tol = low.abs().max(high.abs()) * rules::rounding(stored.dtype);
            if s.min >= low - tol && s.max <= high + tol {
                continue;
            }
            let mu = low - a * sigma;
            let Ok(normal) = Normal::new(mu, sigma) else { continue };
            let Ok(test) = rules::test(&r.scheme, &Init::Normal(normal), &r.planned.spec, stored.dtype, &s) else {
                continue;
            };
            if !test.consistent {
                continue;
            }
            let reach = ((s.max - mu) / sigma).max((mu - s.min) / sigma);
            let outside = s.count as f64 * (gaussian::cdf(a) + 1.0 - gaussian::cdf(b));
            out.push(Finding {
                severity: Severity::Error,
                kind: "truncation_missing",
                tensor: Some(t.name.clone()),
                message: format!(
                    "values reach {reach:.1}σ (in [{:.4}, {:.4}], σ = {sigma:.4}), where {} truncates at \
                     [{a:.1}σ, {b:.1}σ] = [{low:.4}, {high:.4}]; they follow the untruncated N({mu:.3}, {sigma:.4}²) \
                     (≈ {outside:.0} of {} values beyond the bounds): the truncation was never applied (PyTorch's \
                     trunc_normal_(std=σ) cuts at a = −2, b = 2 absolute, {:.0}σ here)",
                    s.min,
                    s.max,
                    r.scheme,
                    s.count,
                    2.0 / sigma
                ),
                fix: format!(
                    "give trunc_normal_ its bounds in absolute units: trunc_normal_(w, std={sigma:.4}, \
                     a={low:.4}, b={high:.4}) (a and b are not multiples of std)"
                ),
            });
            break;
        }
    }
}
