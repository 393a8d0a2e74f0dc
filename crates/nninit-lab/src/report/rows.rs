//! `results.jsonl`: every measured row, one JSON object per line, tagged with `"kind"`, written by
//! [`jsonl`] and read back into the experiment's results by [`parse`].
//!
//! The first line is the `experiment` row (name, description, expectation, loss criterion, theory
//! overlay, total seconds); then, per run, its `run` row and its `step`, `eval`, `layer` (probe,
//! then evaluations) and `jacobian` rows, each naming its run by `label` and `seed`. Non-finite
//! numbers (the NaN losses of diverged runs) are written as `null`, as JSON has no NaN, and read
//! back as NaN.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::record::{
    EvalRow, ExperimentResults, LayerStats, Probe, RunConfig, RunRecord, RunStatus, ShardOf, Spectrum, StepRow,
    TheoryOverlay, Verdict, nan_null,
};

use super::error::ReportError;

/// Where a `layer` row was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum LayerSource {
    /// The probe at initialization.
    Probe,
    /// An evaluation during training.
    Eval,
}

/// How a run ended, as the `run` row spells it (the step is a separate column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    Finished,
    Diverged,
}

/// One line of `results.jsonl`. Borrowed when written, owned when read.
#[derive(Serialize, Deserialize)]
#[allow(clippy::large_enum_variant, reason = "one row exists at a time; boxing would only add allocations")]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Row<'a> {
    Experiment {
        name: Cow<'a, str>,
        description: Cow<'a, str>,
        expectation: Option<Cow<'a, str>>,
        loss_criterion: Option<f64>,
        theory: Option<Cow<'a, TheoryOverlay>>,
        #[serde(deserialize_with = "nan_null::f64")]
        seconds: f64,
        /// Only in a shard's results (absent from a whole experiment's, as before shards existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shard: Option<ShardOf>,
    },
    Run {
        experiment: Cow<'a, str>,
        label: Cow<'a, str>,
        seed: u64,
        config: Cow<'a, RunConfig>,
        status: Status,
        /// The step at which a diverged run stopped.
        diverged_at: Option<usize>,
        #[serde(deserialize_with = "nan_null::f64")]
        seconds: f64,
        steps_to_criterion: Option<usize>,
        init_iterations: Option<Cow<'a, [usize]>>,
        verdict: Option<Cow<'a, Verdict>>,
    },
    Step {
        label: Cow<'a, str>,
        seed: u64,
        #[serde(flatten)]
        row: StepRow,
    },
    Eval {
        label: Cow<'a, str>,
        seed: u64,
        step: usize,
        #[serde(deserialize_with = "nan_null::f64")]
        test_loss: f64,
        test_accuracy: Option<f64>,
        #[serde(deserialize_with = "nan_null::vec")]
        grad_norms: Vec<f64>,
        /// GPT runs only; absent from older rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        validation_bits: Option<f64>,
    },
    Layer {
        label: Cow<'a, str>,
        seed: u64,
        source: LayerSource,
        /// The evaluation's step; `null` for the probe.
        step: Option<usize>,
        #[serde(flatten)]
        stats: Cow<'a, LayerStats>,
    },
    Jacobian {
        label: Cow<'a, str>,
        seed: u64,
        #[serde(flatten)]
        spectrum: Cow<'a, Spectrum>,
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

/// Every row of the experiment: the `experiment` row, then per run its `run` row, then `step`, `eval`,
/// `layer` (probe, then evaluations) and `jacobian` rows.
pub(super) fn jsonl(results: &ExperimentResults) -> Result<String, ReportError> {
    let mut out = String::new();
    push(
        &mut out,
        &Row::Experiment {
            name: Cow::Borrowed(&results.name),
            description: Cow::Borrowed(&results.description),
            expectation: results.expectation.as_deref().map(Cow::Borrowed),
            loss_criterion: results.loss_criterion,
            theory: results.theory.as_ref().map(Cow::Borrowed),
            seconds: results.seconds,
            shard: results.shard,
        },
    )?;
    for run in &results.runs {
        let (label, seed) = (Cow::Borrowed(run.config.label.as_str()), run.seed);
        let (status, diverged_at) = match run.status {
            RunStatus::Finished => (Status::Finished, None),
            RunStatus::Diverged { step } => (Status::Diverged, Some(step)),
        };
        push(
            &mut out,
            &Row::Run {
                experiment: Cow::Borrowed(&run.experiment),
                label: label.clone(),
                seed,
                config: Cow::Borrowed(&run.config),
                status,
                diverged_at,
                seconds: run.seconds,
                steps_to_criterion: run.steps_to_criterion,
                init_iterations: run.init_iterations.as_deref().map(Cow::Borrowed),
                verdict: run.probe.as_ref().map(|p| Cow::Borrowed(&p.verdict)),
            },
        )?;
        for &row in &run.steps {
            push(&mut out, &Row::Step { label: label.clone(), seed, row })?;
        }
        for e in &run.evals {
            let row = Row::Eval {
                label: label.clone(),
                seed,
                step: e.step,
                test_loss: e.test_loss,
                test_accuracy: e.test_accuracy,
                grad_norms: e.grad_norms.clone(),
                validation_bits: e.validation_bits,
            };
            push(&mut out, &row)?;
        }
        let layer = |source, step, stats| Row::Layer { label: label.clone(), seed, source, step, stats };
        if let Some(probe) = &run.probe {
            for stats in &probe.layers {
                push(&mut out, &layer(LayerSource::Probe, None, Cow::Borrowed(stats)))?;
            }
        }
        for e in &run.evals {
            for stats in e.layers.iter().flatten() {
                push(&mut out, &layer(LayerSource::Eval, Some(e.step), Cow::Borrowed(stats)))?;
            }
        }
        if let Some(j) = run.probe.as_ref().and_then(|p| p.jacobian.as_ref()) {
            push(&mut out, &Row::Jacobian { label: label.clone(), seed, spectrum: Cow::Borrowed(j) })?;
        }
    }
    Ok(out)
}

/// Why a file without the `experiment` row cannot be read.
const NO_HEADER: &str = "the first row must be the `experiment` row, which the lab writes first (files \
     from before it was added have none: run the experiment again)";

/// A run being rebuilt from its rows: the record, and the probe's parts until its end.
struct Partial {
    /// The line of its `run` row.
    line: usize,
    record: RunRecord,
    verdict: Option<Verdict>,
    probe_layers: Vec<LayerStats>,
    jacobian: Option<Spectrum>,
}

/// The results that [`jsonl`] wrote as `text`, read from `path` (named in errors).
///
/// Rows may be in any order after the `experiment` row, except that a run's `run` row comes before
/// the rest of its rows, and an evaluation's `eval` row before its `layer` rows.
pub(super) fn parse(text: &str, path: &Path) -> Result<ExperimentResults, ReportError> {
    let bad = |line: usize, reason: String| ReportError::Parse { path: path.to_path_buf(), line, reason };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let header = lines.next().map(|(n, l)| (n, serde_json::from_str::<Row<'_>>(l)));
    let mut results = match header {
        Some((_, Ok(Row::Experiment { name, description, expectation, loss_criterion, theory, seconds, shard }))) => {
            ExperimentResults {
                name: name.into_owned(),
                description: description.into_owned(),
                expectation: expectation.map(Cow::into_owned),
                loss_criterion,
                runs: Vec::new(),
                theory: theory.map(Cow::into_owned),
                seconds,
                shard,
            }
        }
        Some((n, Err(e))) => return Err(bad(n, e.to_string())),
        Some((n, Ok(_))) => return Err(bad(n, NO_HEADER.to_string())),
        None => return Err(bad(1, "the file is empty".to_string())),
    };
    let mut runs: Vec<Partial> = Vec::new();
    let mut index: HashMap<(String, u64), usize> = HashMap::new();
    for (n, line) in lines {
        let row: Row<'_> = serde_json::from_str(line).map_err(|e| bad(n, e.to_string()))?;
        let find = |label: &str, seed: u64| {
            index.get(&(label.to_string(), seed)).copied().ok_or_else(|| {
                bad(n, format!("a row of run `{label}` seed {seed} comes before that run's `run` row, or it has none"))
            })
        };
        match row {
            Row::Experiment { .. } => return Err(bad(n, "a second `experiment` row".to_string())),
            Row::Run {
                experiment,
                label,
                seed,
                config,
                status,
                diverged_at,
                seconds,
                steps_to_criterion,
                init_iterations,
                verdict,
            } => {
                let status = match (status, diverged_at) {
                    (Status::Finished, None) => RunStatus::Finished,
                    (Status::Diverged, Some(step)) => RunStatus::Diverged { step },
                    (Status::Finished, Some(_)) => return Err(bad(n, "a finished run with `diverged_at`".into())),
                    (Status::Diverged, None) => return Err(bad(n, "a diverged run without `diverged_at`".into())),
                };
                if label != config.label {
                    return Err(bad(n, format!("label `{label}` differs from the config's `{}`", config.label)));
                }
                if index.insert((label.into_owned(), seed), runs.len()).is_some() {
                    return Err(bad(n, format!("a second `run` row for `{}` seed {seed}", config.label)));
                }
                runs.push(Partial {
                    line: n,
                    record: RunRecord {
                        experiment: experiment.into_owned(),
                        config: config.into_owned(),
                        seed,
                        status,
                        steps: Vec::new(),
                        evals: Vec::new(),
                        probe: None,
                        init_iterations: init_iterations.map(Cow::into_owned),
                        steps_to_criterion,
                        seconds,
                    },
                    verdict: verdict.map(Cow::into_owned),
                    probe_layers: Vec::new(),
                    jacobian: None,
                });
            }
            Row::Step { label, seed, row } => runs[find(&label, seed)?].record.steps.push(row),
            Row::Eval { label, seed, step, test_loss, test_accuracy, grad_norms, validation_bits } => {
                let row = EvalRow { step, test_loss, test_accuracy, grad_norms, layers: None, validation_bits };
                runs[find(&label, seed)?].record.evals.push(row);
            }
            Row::Layer { label, seed, source, step, stats } => {
                let run = &mut runs[find(&label, seed)?];
                match (source, step) {
                    (LayerSource::Probe, None) => run.probe_layers.push(stats.into_owned()),
                    (LayerSource::Eval, Some(step)) => {
                        let eval = run.record.evals.iter_mut().find(|e| e.step == step).ok_or_else(|| {
                            bad(n, format!("a layer row of step {step}, which has no `eval` row before it"))
                        })?;
                        eval.layers.get_or_insert_with(Vec::new).push(stats.into_owned());
                    }
                    (LayerSource::Probe, Some(_)) => return Err(bad(n, "a probe layer row with a step".into())),
                    (LayerSource::Eval, None) => return Err(bad(n, "an eval layer row without a step".into())),
                }
            }
            Row::Jacobian { label, seed, spectrum } => {
                let run = &mut runs[find(&label, seed)?];
                if run.jacobian.replace(spectrum.into_owned()).is_some() {
                    return Err(bad(n, format!("a second `jacobian` row for `{label}` seed {seed}")));
                }
            }
        }
    }
    for run in runs {
        let Partial { line, mut record, verdict, probe_layers, jacobian } = run;
        record.probe = match verdict {
            Some(verdict) => Some(Probe { layers: probe_layers, jacobian, verdict }),
            None if probe_layers.is_empty() && jacobian.is_none() => None,
            None => {
                let reason =
                    format!("run `{}` seed {} has probe rows but no verdict", record.config.label, record.seed);
                return Err(bad(line, reason));
            }
        };
        results.runs.push(record);
    }
    Ok(results)
}
