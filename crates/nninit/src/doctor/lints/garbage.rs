//! Values a draw does not give: NaN and ∞ (always wrong), subnormals and
//! exact zeros beyond what the tensor's distribution gives by chance.
//!
//! **Density bound.** The rules schemes draw from (normal, uniform,
//! truncated normal at ±2σ or wider) have a density at most 1/σ everywhere
//! (0.399/σ for the normal, 0.289/σ for the uniform, 0.37/σ truncated at
//! ±2σ). A value is subnormal when |x| is below the storage type's smallest
//! normal v: probability ≤ 2v/σ. It is stored as exactly 0 when |x| is below
//! half the smallest subnormal h, probability ≤ h/σ, or when the sampler's
//! own uniform hits the one value that maps to 0 (≤ 2⁻²⁴ per value for
//! 24-bit uniforms; [`GENERATOR_ZERO`] allows twice that). With n values the
//! count K of such values has mean λ ≤ n·p (σ: the smallest of the
//! measured std and the stds the schemes' rules give the tensor), and the count is a finding when
//! `P(K ≥ k) < P_LIMIT` by [`rare_count_tail_bound`] (for an f32 tensor of
//! 10⁶ values: 6 exact zeros; for f16 at σ = 0.02, where 6·10⁻³ of a draw is
//! subnormal, thousands more than the expected 6000). The padding row of an
//! embedding table (`pad_token_id`), which transformers sets to 0, is left out.

use super::super::stats::{min_normal, min_subnormal, stats};
use super::super::{P_LIMIT, rules};
use super::Context;
use crate::doctor::report::{Finding, Severity, TensorReport};
use crate::init::sample::Sampler;
use crate::plan::Role;
use crate::stats::rare_count_tail_bound;

/// The largest chance per value that a sampler returns exactly 0 from its
/// uniform input (2⁻²³: twice that of a 24-bit uniform).
pub(super) const GENERATOR_ZERO: f64 = 1.0 / 8_388_608.0;

pub(super) fn lint(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for t in ctx.tensors {
        let Some(s) = t.stats else { continue };
        let Some(stored) = ctx.stored(&t.name) else { continue };
        let n = s.count + s.nan + s.inf;
        if s.nan + s.inf > 0 {
            out.push(non_finite(t, n));
        }
        if ctx.trained() {
            continue;
        }
        // The scale of the density bound: the smallest of the finite values' std and the stds the
        // schemes' rules give (a smaller σ allows more rare values: garbage that inflates the
        // measured std cannot loosen the bound).
        let sigma = std::iter::once(s.std)
            .chain(t.tests.iter().map(|x| x.expected_std))
            .filter(|x| x.is_finite() && *x > 0.0)
            .reduce(f64::min);
        if let (Some(sigma), true) = (sigma, s.subnormal > 0) {
            let v = f64::from(min_normal(stored.dtype));
            if let Some((lambda, p)) = improbable(n, 2.0 * v / sigma, s.subnormal) {
                out.push(Finding {
                    severity: Severity::Error,
                    kind: "subnormal",
                    tensor: Some(t.name.clone()),
                    message: format!(
                        "{} of {n} values are subnormal in {} (|x| < {v:.3e}; first at index {}); a draw at std \
                         {sigma:.3e} gives ≤ {lambda:.2e} (P ≤ {p:.1e}): bit patterns of memory that was never \
                         written",
                        s.subnormal,
                        t.dtype,
                        s.first_subnormal.unwrap_or(0)
                    ),
                    fix: "initialize every element: the tensor (or a shard of it) was allocated and never filled \
                          (torch.empty, to_empty() without init, a rank that skipped its part)"
                        .into(),
                });
            }
        }
        zeros(ctx, t, n, sigma, stored.dtype, out);
    }
}

/// The expected count λ = n·p and the tail bound P(K ≥ k), when `k` rare
/// values out of `n`, each with probability at most `p`, are improbable (P < [`P_LIMIT`]).
fn improbable(n: u64, p: f64, k: u64) -> Option<(f64, f64)> {
    let lambda = n as f64 * p.min(1.0);
    let tail = rare_count_tail_bound(lambda, k);
    (tail < P_LIMIT).then_some((lambda, tail))
}

fn non_finite(t: &TensorReport, n: u64) -> Finding {
    let s = t.stats.expect("checked by the caller");
    let at = |first: Option<u64>| first.map_or(String::new(), |i| format!(" (first at index {i})"));
    Finding {
        severity: Severity::Error,
        kind: "non_finite",
        tensor: Some(t.name.clone()),
        message: format!("{} NaN{} and {} infinite{} of {n} values", s.nan, at(s.first_nan), s.inf, at(s.first_inf)),
        fix: "re-initialize the tensor: NaN and ∞ come from memory never written (torch.empty, a shard a rank \
              skipped) or from an overflow in the init (a std or gain that is infinite in this dtype)"
            .into(),
    }
}

/// Exact zeros where every scheme draws the tensor: all of it (never
/// initialized), or more zeros than the draw gives (part never written).
fn zeros(
    ctx: &Context<'_>,
    t: &TensorReport,
    n: u64,
    sigma: Option<f64>,
    dtype: crate::io::StoredDType,
    out: &mut Vec<Finding>,
) {
    let Some(s) = t.stats else { return };
    if s.zeros == 0 || ctx.model.is_none() {
        return;
    }
    let rules = ctx.rules(t);
    if rules.is_empty() {
        return;
    }
    let samplers: Vec<Option<Sampler>> = rules.iter().map(|r| rules::sampler(r.init, &r.planned.spec)).collect();
    // A scheme that gives this tensor a constant (zeros) or a structured rule (identity, ZerO) explains zeros.
    if samplers.iter().any(|x| matches!(x, Some(Sampler::Constant(_)))) {
        return;
    }
    let schemes: Vec<String> = rules.iter().map(|r| r.scheme.clone()).collect();
    if s.zeros == n {
        out.push(Finding {
            severity: Severity::Error,
            kind: "all_zero",
            tensor: Some(t.name.clone()),
            message: format!(
                "all {n} values are exactly 0, where every known scheme draws this tensor ({}): it was never \
                 initialized",
                schemes.join(", ")
            ),
            fix: "run the init on this tensor: a model built on the meta device and materialized with to_empty() \
                  needs init_weights()/reset_parameters() afterwards, and a key missing from a checkpoint must \
                  not be filled with zeros"
                .into(),
        });
        return;
    }
    if samplers.iter().any(Option::is_none) {
        return; // structured rules (identity-like) hold exact zeros by design
    }
    let Some(sigma) = sigma else { return };
    // transformers zeroes an embedding's padding row (nn.Embedding(padding_idx = pad_token_id)).
    let (padding, width) = padding_zeros(ctx, t, dtype);
    let (zeros, n) = (s.zeros - padding, n - width);
    if let Some((lambda, p)) = improbable(n, GENERATOR_ZERO + min_subnormal(dtype) / sigma, zeros) {
        out.push(Finding {
            severity: Severity::Error,
            kind: "zero_values",
            tensor: Some(t.name.clone()),
            message: format!(
                "{zeros} of {n} values{} are exactly 0 (first at index {}); a draw at std {sigma:.3e} in {} gives \
                 ≤ {lambda:.2e} zeros (P ≤ {p:.1e}): part of the tensor was never initialized",
                if width > 0 { " outside the padding row" } else { "" },
                s.first_zero.unwrap_or(0),
                t.dtype
            ),
            fix: "initialize the zero part like the rest (rows added by resize_token_embeddings, a shard a rank \
                  never wrote, a slice copied from an empty buffer)"
                .into(),
        });
    }
}

/// The zeros in an embedding table's padding row (`pad_token_id` of the
/// config, which transformers' `_init_weights` sets to 0) and that row's
/// width; (0, 0) where there is none.
fn padding_zeros(ctx: &Context<'_>, t: &TensorReport, dtype: crate::io::StoredDType) -> (u64, u64) {
    let none = (0, 0);
    let Some(model) = ctx.model else { return none };
    let is_table = ctx.planned(&t.name).is_some_and(|p| p.role == Role::Embedding);
    let Some(pad) = model.config().get("pad_token_id").and_then(serde_json::Value::as_u64) else { return none };
    let (Some(stored), true, [rows, width]) = (ctx.stored(&t.name), is_table, t.shape.as_slice()) else {
        return none;
    };
    let Ok(pad) = usize::try_from(pad) else { return none };
    if pad >= *rows {
        return none;
    }
    let row = width * dtype.size();
    let bytes = &ctx.checkpoint.data(stored)[pad * row..(pad + 1) * row];
    (stats(dtype, bytes).zeros, *width as u64)
}
