//! `results.jsonl`: every measured row, one JSON object per line, tagged with `"kind"`.
//!
//! Non-finite numbers (the NaN losses of diverged runs) are written as `null`, as JSON has no NaN.

use serde::Serialize;

use crate::record::{ExperimentResults, LayerStats, RunConfig, RunStatus, Verdict};

use super::ReportError;

/// Where a `layer` row was measured.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
enum LayerSource {
    /// The probe at initialization.
    Probe,
    /// An evaluation during training.
    Eval,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Row<'a> {
    Run {
        experiment: &'a str,
        label: &'a str,
        seed: u64,
        config: &'a RunConfig,
        /// `finished` or `diverged`.
        status: &'static str,
        /// The step at which a diverged run stopped.
        diverged_at: Option<usize>,
        seconds: f64,
        steps_to_criterion: Option<usize>,
        init_iterations: Option<&'a [usize]>,
        verdict: Option<&'a Verdict>,
    },
    Step {
        label: &'a str,
        seed: u64,
        step: usize,
        loss: f64,
    },
    Eval {
        label: &'a str,
        seed: u64,
        step: usize,
        test_loss: f64,
        test_accuracy: Option<f64>,
        grad_norms: &'a [f64],
    },
    Layer {
        label: &'a str,
        seed: u64,
        source: LayerSource,
        /// The evaluation's step; `null` for the probe.
        step: Option<usize>,
        #[serde(flatten)]
        stats: &'a LayerStats,
    },
    Jacobian {
        label: &'a str,
        seed: u64,
        singular_values: &'a [f64],
        mean_squared: f64,
        theory_mean_squared: Option<f64>,
    },
}

/// Appends one JSON line.
fn push(out: &mut String, row: &Row<'_>) -> Result<(), ReportError> {
    let line =
        serde_json::to_string(row).map_err(|source| ReportError::Json { what: "results.jsonl".to_string(), source })?;
    out.push_str(&line);
    out.push('\n');
    Ok(())
}

/// Every row of the experiment: per run, its `run` row, then `step`, `eval`, `layer` (probe, then evaluations)
/// and `jacobian` rows.
pub(super) fn jsonl(results: &ExperimentResults) -> Result<String, ReportError> {
    let mut out = String::new();
    for run in &results.runs {
        let (label, seed) = (run.config.label.as_str(), run.seed);
        let (status, diverged_at) = match run.status {
            RunStatus::Finished => ("finished", None),
            RunStatus::Diverged { step } => ("diverged", Some(step)),
        };
        push(
            &mut out,
            &Row::Run {
                experiment: &run.experiment,
                label,
                seed,
                config: &run.config,
                status,
                diverged_at,
                seconds: run.seconds,
                steps_to_criterion: run.steps_to_criterion,
                init_iterations: run.init_iterations.as_deref(),
                verdict: run.probe.as_ref().map(|p| &p.verdict),
            },
        )?;
        for s in &run.steps {
            push(&mut out, &Row::Step { label, seed, step: s.step, loss: s.loss })?;
        }
        for e in &run.evals {
            let row = Row::Eval {
                label,
                seed,
                step: e.step,
                test_loss: e.test_loss,
                test_accuracy: e.test_accuracy,
                grad_norms: &e.grad_norms,
            };
            push(&mut out, &row)?;
        }
        if let Some(probe) = &run.probe {
            for stats in &probe.layers {
                push(&mut out, &Row::Layer { label, seed, source: LayerSource::Probe, step: None, stats })?;
            }
        }
        for e in &run.evals {
            for stats in e.layers.iter().flatten() {
                push(&mut out, &Row::Layer { label, seed, source: LayerSource::Eval, step: Some(e.step), stats })?;
            }
        }
        if let Some(j) = run.probe.as_ref().and_then(|p| p.jacobian.as_ref()) {
            let row = Row::Jacobian {
                label,
                seed,
                singular_values: &j.singular_values,
                mean_squared: j.mean_squared,
                theory_mean_squared: j.theory_mean_squared,
            };
            push(&mut out, &row)?;
        }
    }
    Ok(out)
}
