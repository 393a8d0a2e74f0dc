//! How well each scheme explains a checkpoint, and the verdict drawn from it.

use std::collections::HashMap;

use super::report::{Finding, SchemeFit, Severity, TensorReport, Verdict};
use super::rules;
use super::stats::Spectral;
use super::{SHAPE_MIN_COUNT, Z_LIMIT};
use crate::error::Result;
use crate::io::Checkpoint;
use crate::plan::{Part, Plan, PlannedTensor, Role};
use crate::scheme::{MUP_DEFAULT_BASE_WIDTH, Scheme};

/// The candidate schemes, in the order ties are reported.
pub(super) fn candidates() -> Vec<Scheme> {
    Scheme::all(MUP_DEFAULT_BASE_WIDTH)
}

/// A scheme's plan, indexed by tensor name (tied tensors resolved to their source).
pub(super) struct SchemePlan {
    pub(super) scheme: Scheme,
    pub(super) plan: Result<Plan>,
}

impl SchemePlan {
    pub(super) fn get(&self, name: &str) -> Option<&PlannedTensor> {
        let plan = self.plan.as_ref().ok()?;
        let t = plan.get(name)?;
        match &t.tied_to {
            Some(source) => plan.get(source),
            None => Some(t),
        }
    }
}

pub(super) fn fits(plans: &[SchemePlan], tensors: &[TensorReport], checkpoint: &Checkpoint) -> Vec<SchemeFit> {
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

pub(super) fn verdict(fits: &[SchemeFit], tensors: &[TensorReport], plan: Option<&Plan>, has_model: bool) -> Verdict {
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

/// A residual-branch output whose values follow the rule the same scheme
/// gives the branch's input layers: the depth scaling was never applied
/// (transformers#47458: GPT-2's c_proj at σ instead of σ/√(2·n_layer)).
pub(super) fn depth_scaling_missing(t: &TensorReport, p: &PlannedTensor, plan: &Plan, scheme: &str) -> Option<Finding> {
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
        fix: format!(
            "scale the residual-branch outputs by the scheme's depth factor ({}): in transformers, \
             _init_weights must apply it to every such projection",
            test.rule
        ),
    })
}
