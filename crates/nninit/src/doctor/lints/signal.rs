//! Scales that make the signal explode or vanish: a hidden matrix or head
//! whose std·√fan_in (the factor by which it scales the RMS of i.i.d. unit
//! inputs) is more than [`SIGNAL_FACTOR`] outside the range every known
//! scheme gives that tensor.
//!
//! All-zero tensors are the zero lints' business, not this one's.
//!
//! The factor 2 is the [`GROWTH_LIMIT`] reasoning: Kaiming's √2 compensates
//! ReLU's halving, a factor 2 beyond every scheme compensates nothing, and
//! compounds as 2^L through L layers. The measured std·√fan_in has the
//! relative standard error √((κ − 1)/(4n)) of a sample std (κ = 3 for a
//! normal: 1.1% at n = 4096), so a tensor is flagged only when it lies
//! beyond the factor by more than [`Z_LIMIT`](crate::doctor::Z_LIMIT) such
//! errors: a checkpoint drawn at exactly half a scheme's std (hf at
//! `initializer_range` 0.01 against 0.02) is not called vanishing by chance.

use super::Context;
use crate::doctor::report::{Finding, Severity};
use crate::doctor::{GROWTH_LIMIT, Z_LIMIT};
use crate::plan::{Part, Role};

/// How far outside the schemes' range of std·√fan_in a tensor must be.
pub(super) const SIGNAL_FACTOR: f64 = 2.0;

pub(super) fn lint(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if ctx.trained() {
        return;
    }
    let layers = ctx.model.map_or(1, |m| m.dims().layers);
    for t in ctx.tensors {
        let Some(p) = ctx.planned(&t.name) else { continue };
        if p.part != Part::Weight || !(p.role.is_hidden_matrix() || p.role == Role::Head) {
            continue;
        }
        let (Some(s), Some(g), Some(fan_in)) = (t.stats, t.std_sqrt_fan_in, t.fan_in) else { continue };
        if s.nan + s.inf > 0 || s.std == 0.0 || !g.is_finite() || t.tests.iter().any(|x| x.consistent) {
            continue;
        }
        let root = (fan_in as f64).sqrt();
        let known: Vec<f64> = t.tests.iter().map(|x| x.expected_std * root).filter(|&x| x > 0.0).collect();
        let (Some(lo), Some(hi)) = (known.iter().copied().reduce(f64::min), known.iter().copied().reduce(f64::max))
        else {
            continue;
        };
        let scale = format!(
            "std·√fan_in = {g:.3} (std {:.4e}, fan_in {fan_in}): the layer scales the RMS of its input by {g:.3}",
            s.std
        );
        let fix_std = format!(
            "draw it at a scheme's scale: std ≈ 1/√fan_in = {:.4} (torch-default, Kaiming-type) or the \
             config's initializer_range{}",
            1.0 / root,
            ctx.model.map(|m| format!(" ({})", m.dims().initializer_range)).unwrap_or_default()
        );
        // The sample std's relative standard error, from the tensor's own kurtosis.
        let kappa = (s.excess_kurtosis + 3.0).max(1.0);
        let margin = 1.0 + Z_LIMIT * ((kappa - 1.0) / (4.0 * s.count as f64)).sqrt();
        if g > SIGNAL_FACTOR * hi * margin {
            let through = if p.role == Role::Head {
                format!("the logits start ×{:.1} larger than under any scheme", g / hi)
            } else if matches!(p.role, Role::AttentionQuery | Role::AttentionKey | Role::AttentionQkv) {
                format!("attention logits q·k grow with the square, ×{:.0} at this scale", g * g)
            } else {
                format!("×{:.2e} through {layers} such layer(s) in sequence", g.powi(layers as i32))
            };
            out.push(Finding {
                severity: if g > GROWTH_LIMIT { Severity::Error } else { Severity::Warning },
                kind: "signal_explosion",
                tensor: Some(t.name.clone()),
                message: format!(
                    "{scale}, ×{:.1} above the largest any known scheme gives here ({lo:.3}–{hi:.3}); {through}",
                    g / hi
                ),
                fix: format!("{fix_std}: nn.init.normal_(w) without std= draws N(0, 1)"),
            });
        } else if g * SIGNAL_FACTOR * margin < lo {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "signal_vanishing",
                tensor: Some(t.name.clone()),
                message: format!(
                    "{scale}, ×{:.1} below the smallest any known scheme gives here ({lo:.3}–{hi:.3}): the signal \
                     and its gradients shrink ×{:.2e} through {layers} such layer(s)",
                    lo / g,
                    g.powi(layers as i32)
                ),
                fix: format!(
                    "{fix_std}; a std this small is often a variance passed as a std, or a scale applied twice"
                ),
            });
        }
    }
}
