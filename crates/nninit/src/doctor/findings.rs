//! What is wrong with a checkpoint: findings from the statistics, the verdict and the fits.

use super::fits::{SchemePlan, depth_scaling_missing};
use super::report::{Finding, SchemeFit, Severity, TensorReport, Verdict};
use crate::scheme::Scheme;

pub(super) fn findings(tensors: &[TensorReport], verdict: &Verdict, plans: &[SchemePlan]) -> Vec<Finding> {
    let mut out = Vec::new();
    let init_state = matches!(verdict, Verdict::Init { .. } | Verdict::InitWithDeviations { .. });
    for t in tensors {
        let Some(s) = t.stats else { continue };
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
                fix: "redraw the tensor with a sampler that keeps its values within the distribution's range \
                      (PyTorch ≥ 2.8's trunc_normal_, or nninit materialize)"
                    .into(),
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
            fix: format!("initialize this tensor as {scheme} does ({}), or check why it differs", test.rule),
        });
    }
    out
}

pub(super) fn expect_findings(
    expect: Scheme,
    fit: Option<&SchemeFit>,
    tensors: &[TensorReport],
    out: &mut Vec<Finding>,
) {
    let label = expect.label();
    if let Some(reason) = fit.and_then(|f| f.not_applicable.clone()) {
        out.push(Finding {
            severity: Severity::Error,
            kind: "expected_scheme",
            tensor: None,
            message: format!("expected {label}, which cannot build this model: {reason}"),
            fix: "expect a scheme that builds this architecture (the scheme table of `nninit doctor` lists them)"
                .into(),
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
            fix: format!("initialize this tensor as {label} does: {}", test.rule),
        });
    }
    if !any {
        out.push(Finding {
            severity: Severity::Error,
            kind: "expected_scheme",
            tensor: None,
            message: format!("expected {label}, but no tensor's name is in its plan for this model"),
            fix: "check that config.json describes these weights (model_type, architectures)".into(),
        });
    }
}
