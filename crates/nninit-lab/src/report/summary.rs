//! One row per configuration: what the seeds of a configuration agree on, as a struct, a terminal table and CSV.

use serde::Serialize;

use crate::record::{ExperimentResults, RunConfig, RunRecord, RunStatus, SignalKind};

/// How many of a finished run's last training losses are averaged into its final training loss: single
/// mini-batch losses are noisy.
pub const FINAL_LOSS_WINDOW: usize = 10;

/// Mean and sample standard deviation of a quantity over the seeds that measured it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanSd {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); 0 when only one seed measured it.
    pub sd: f64,
    /// How many seeds measured it.
    pub n: usize,
}

impl MeanSd {
    /// Mean and standard deviation of the finite values; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Self> {
        let m = nninit::stats::Moments::from_values(values.into_iter().filter(|x| x.is_finite()));
        let n = usize::try_from(m.count()).ok().filter(|&n| n > 0)?;
        Some(Self { mean: m.mean(), sd: m.sample_std(), n })
    }
}

/// The summary of one configuration (one `label`) over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The configuration's label.
    pub label: String,
    /// The configuration's plot group.
    pub group: String,
    /// The initialization's display name.
    pub init: String,
    /// Runs (seeds) of this configuration.
    pub seeds: usize,
    /// Runs that diverged (non-finite loss or gradients).
    pub diverged: usize,
    /// Final training loss of the finished runs: each run's mean over its last [`FINAL_LOSS_WINDOW`] steps.
    /// Diverged runs are left out (they are counted in `diverged`).
    pub final_train_loss: Option<MeanSd>,
    /// Test accuracy at the last evaluation of the finished runs, in [0, 1]; diverged runs are left out.
    pub final_test_accuracy: Option<MeanSd>,
    /// Validation bits per character at the last measurement of the finished runs (GPT runs); diverged
    /// runs are left out.
    pub final_validation_bits: Option<MeanSd>,
    /// Median steps to the loss criterion over the runs that reached it.
    pub steps_to_criterion_median: Option<f64>,
    /// Runs that reached the loss criterion.
    pub reached_criterion: usize,
    /// The probe verdict most runs agree on (ties go to the worse kind: exploding, vanishing, then drifting).
    pub verdict: Option<SignalKind>,
    /// Runs whose probe gave `verdict`, out of those probed (`probed`).
    pub verdict_agreement: usize,
    /// Runs with a probe.
    pub probed: usize,
    /// Geometric mean over the probed runs of the per-layer activation std ratio.
    pub forward_rate: Option<f64>,
    /// Geometric mean over the probed runs of the per-layer back-propagated gradient std ratio.
    pub backward_rate: Option<f64>,
    /// Wall-clock seconds of all runs of this configuration together.
    pub seconds: f64,
}

/// The runs of one configuration, in run order; configurations in order of first appearance.
#[derive(Debug)]
pub(super) struct ConfigRuns<'a> {
    pub config: &'a RunConfig,
    pub runs: Vec<&'a RunRecord>,
}

pub(super) fn configs(results: &ExperimentResults) -> Vec<ConfigRuns<'_>> {
    let mut out: Vec<ConfigRuns<'_>> = Vec::new();
    for run in &results.runs {
        match out.iter_mut().find(|c| c.config.label == run.config.label) {
            Some(c) => c.runs.push(run),
            None => out.push(ConfigRuns { config: &run.config, runs: vec![run] }),
        }
    }
    out
}

pub(super) fn is_diverged(run: &RunRecord) -> bool {
    matches!(run.status, RunStatus::Diverged { .. })
}

/// A finished run's mean loss over its last [`FINAL_LOSS_WINDOW`] steps.
pub(super) fn final_train_loss(run: &RunRecord) -> Option<f64> {
    if is_diverged(run) || run.steps.is_empty() {
        return None;
    }
    let tail = &run.steps[run.steps.len().saturating_sub(FINAL_LOSS_WINDOW)..];
    let v = tail.iter().map(|s| s.loss).sum::<f64>() / tail.len() as f64;
    v.is_finite().then_some(v)
}

/// A finished run's validation bits per character at its last measurement (GPT runs).
pub(super) fn final_validation_bits(run: &RunRecord) -> Option<f64> {
    if is_diverged(run) {
        return None;
    }
    run.evals.iter().rev().find_map(|e| e.validation_bits).filter(|b| b.is_finite())
}

/// A finished run's accuracy at its last evaluation that measured one.
pub(super) fn final_accuracy(run: &RunRecord) -> Option<f64> {
    if is_diverged(run) {
        return None;
    }
    run.evals.iter().rev().find_map(|e| e.test_accuracy).filter(|a| a.is_finite())
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn geometric_mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let logs: Vec<f64> = values.into_iter().filter(|x| x.is_finite() && *x > 0.0).map(f64::ln).collect();
    (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
}

/// Summarizes every configuration (one row per `label`, in order of first appearance).
pub fn summarize(results: &ExperimentResults) -> Vec<SummaryRow> {
    configs(results).iter().map(summarize_config).collect()
}

fn summarize_config(c: &ConfigRuns<'_>) -> SummaryRow {
    let runs = &c.runs;
    let probes: Vec<_> = runs.iter().filter_map(|r| r.probe.as_ref()).collect();
    let count = |k: SignalKind| probes.iter().filter(|p| p.verdict.kind == k).count();
    // Worse kinds first, so `max_by_key` (which keeps the last maximum) is reversed by `rev`.
    let verdict = [SignalKind::Exploding, SignalKind::Vanishing, SignalKind::Drifting, SignalKind::Healthy]
        .into_iter()
        .rev()
        .max_by_key(|&k| count(k))
        .filter(|_| !probes.is_empty());
    let criterion: Vec<f64> = runs.iter().filter_map(|r| r.steps_to_criterion).map(|s| s as f64).collect();
    SummaryRow {
        label: c.config.label.clone(),
        group: c.config.group.clone(),
        init: c.config.init.clone(),
        seeds: runs.len(),
        diverged: runs.iter().filter(|r| is_diverged(r)).count(),
        final_train_loss: MeanSd::of(runs.iter().filter_map(|r| final_train_loss(r))),
        final_test_accuracy: MeanSd::of(runs.iter().filter_map(|r| final_accuracy(r))),
        final_validation_bits: MeanSd::of(runs.iter().filter_map(|r| final_validation_bits(r))),
        reached_criterion: criterion.len(),
        steps_to_criterion_median: median(criterion),
        verdict,
        verdict_agreement: verdict.map_or(0, count),
        probed: probes.len(),
        forward_rate: geometric_mean(probes.iter().map(|p| p.verdict.forward_rate)),
        backward_rate: geometric_mean(probes.iter().map(|p| p.verdict.backward_rate)),
        seconds: runs.iter().map(|r| r.seconds).filter(|s| s.is_finite()).sum(),
    }
}

/// The name the report uses for a verdict.
pub(super) fn verdict_name(kind: SignalKind) -> &'static str {
    match kind {
        SignalKind::Healthy => "healthy",
        SignalKind::Drifting => "drifting",
        SignalKind::Vanishing => "vanishing",
        SignalKind::Exploding => "exploding",
    }
}

/// A number in at most 4 significant digits, scientific when very large or small.
pub(super) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        return format!("{v:.2e}");
    }
    let digits = if a == 0.0 { 0 } else { (3 - a.log10().floor() as i32).clamp(0, 6) as usize };
    format!("{v:.digits$}")
}

/// Three significant digits without trailing zeros.
pub(super) fn short(v: f64) -> String {
    let s = fmt_num(v);
    let s = if s.contains('.') && !s.contains('e') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    let digits = s.chars().filter(char::is_ascii_digit).skip_while(|c| *c == '0').count();
    if digits > 3 && !s.contains('e') {
        let decimals = s.split_once('.').map_or(0, |(_, d)| d.len()).saturating_sub(digits - 3);
        return format!("{v:.decimals$}");
    }
    s.to_string()
}

/// `mean ± sd`, the standard deviation to the mean's decimal places (scientific for both when the mean is).
pub(super) fn fmt_mean_sd(m: MeanSd) -> String {
    let mean = fmt_num(m.mean);
    if m.n < 2 {
        return mean;
    }
    if mean.contains('e') || !m.sd.is_finite() {
        return format!("{mean} ± {:.1e}", m.sd);
    }
    let decimals = mean.split_once('.').map_or(0, |(_, d)| d.len());
    format!("{mean} ± {:.decimals$}", m.sd)
}

/// The cells of the summary, as text, shared by the terminal table and the HTML table.
pub(super) struct Cells {
    pub train_loss: String,
    pub accuracy: String,
    pub validation: String,
    pub criterion: String,
    pub verdict: String,
}

pub(super) fn cells(row: &SummaryRow) -> Cells {
    let dash = || "—".to_string();
    let train_loss = row.final_train_loss.map_or_else(dash, fmt_mean_sd);
    let accuracy = row.final_test_accuracy.map_or_else(dash, |m| {
        if m.n > 1 {
            format!("{:.1} ± {:.1} %", 100.0 * m.mean, 100.0 * m.sd)
        } else {
            format!("{:.1} %", 100.0 * m.mean)
        }
    });
    let validation = row.final_validation_bits.map_or_else(dash, fmt_mean_sd);
    let criterion = match row.steps_to_criterion_median {
        Some(m) if row.reached_criterion == row.seeds => format!("{m:.0}"),
        Some(m) => format!("{m:.0} ({}/{} reached)", row.reached_criterion, row.seeds),
        None => "never".to_string(),
    };
    let verdict = match row.verdict {
        None => dash(),
        Some(k) if row.verdict_agreement == row.probed => verdict_name(k).to_string(),
        Some(k) => format!("{} ({}/{})", verdict_name(k), row.verdict_agreement, row.probed),
    };
    Cells { train_loss, accuracy, validation, criterion, verdict }
}

/// Which optional columns an experiment has data for.
pub(super) struct Columns {
    pub accuracy: bool,
    pub validation: bool,
    pub criterion: bool,
    pub verdict: bool,
}

pub(super) fn columns(results: &ExperimentResults, rows: &[SummaryRow]) -> Columns {
    Columns {
        accuracy: results.runs.iter().any(|r| r.evals.iter().any(|e| e.test_accuracy.is_some())),
        validation: results.runs.iter().any(|r| r.evals.iter().any(|e| e.validation_bits.is_some())),
        criterion: results.loss_criterion.is_some() || rows.iter().any(|r| r.reached_criterion > 0),
        verdict: rows.iter().any(|r| r.probed > 0),
    }
}

/// The summary as an aligned plain-text table, one line per configuration, for the terminal.
///
/// Columns without data in this experiment (accuracy, steps to criterion, probe verdict) are left out.
pub fn summary_table(results: &ExperimentResults) -> String {
    let rows = summarize(results);
    if rows.is_empty() {
        return format!("{}: no runs\n", results.name);
    }
    let cols = columns(results, &rows);
    let mut header = vec!["configuration", "init", "seeds", "diverged", "final train loss"];
    if cols.accuracy {
        header.push("test accuracy");
    }
    if cols.validation {
        header.push("validation bits/char");
    }
    if cols.criterion {
        header.push("steps to criterion");
    }
    if cols.verdict {
        header.push("probe at init");
    }
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for row in &rows {
        let c = cells(row);
        let mut line =
            vec![row.label.clone(), row.init.clone(), row.seeds.to_string(), row.diverged.to_string(), c.train_loss];
        if cols.accuracy {
            line.push(c.accuracy);
        }
        if cols.validation {
            line.push(c.validation);
        }
        if cols.criterion {
            line.push(c.criterion);
        }
        if cols.verdict {
            line.push(c.verdict);
        }
        table.push(line);
    }
    let width = |i: usize| table.iter().map(|l| l[i].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..table[0].len()).map(width).collect();
    let numeric = |i: usize| i == 2 || i == 3;
    let mut out = String::new();
    for (n, line) in table.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = " ".repeat(widths[i] - cell.chars().count());
                if numeric(i) && n > 0 { format!("{pad}{cell}") } else { format!("{cell}{pad}") }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|&w| "─".repeat(w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The header of `summary.csv`.
pub(super) const CSV_HEADER: &str = "label,group,init,seeds,diverged,final_train_loss_mean,final_train_loss_sd,\
final_test_accuracy_mean,final_test_accuracy_sd,steps_to_criterion_median,reached_criterion,verdict,\
forward_rate,backward_rate,seconds,final_validation_bits_mean,final_validation_bits_sd";

/// `summary.csv`: a header and one line per configuration; empty fields where there is no value.
pub(super) fn csv(rows: &[SummaryRow]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for r in rows {
        let fields = [
            csv_field(&r.label),
            csv_field(&r.group),
            csv_field(&r.init),
            r.seeds.to_string(),
            r.diverged.to_string(),
            opt(r.final_train_loss.map(|m| m.mean)),
            opt(r.final_train_loss.map(|m| m.sd)),
            opt(r.final_test_accuracy.map(|m| m.mean)),
            opt(r.final_test_accuracy.map(|m| m.sd)),
            opt(r.steps_to_criterion_median),
            r.reached_criterion.to_string(),
            opt(r.verdict.map(verdict_name)),
            opt(r.forward_rate),
            opt(r.backward_rate),
            r.seconds.to_string(),
            opt(r.final_validation_bits.map(|m| m.mean)),
            opt(r.final_validation_bits.map(|m| m.sd)),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}
