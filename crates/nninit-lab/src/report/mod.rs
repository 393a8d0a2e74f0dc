//! The lab's report: tables, figures and a self-contained HTML page from an experiment's results.
//!
//! [`write_report`] writes into one folder:
//!
//! | file | content |
//! |---|---|
//! | `results.jsonl` | every measured row, one JSON object per line, tagged `"kind"`: `experiment` (first), `run`, `step`, `eval`, `layer`, `jacobian`; [`read_results`] reads it back |
//! | `summary.csv` | one row per configuration ([`SummaryRow`]) |
//! | `<figure>.svg`, `<figure>.png` | each figure, as vector and bitmap |
//! | `report.html` | the page: description, expectation, summary, figures with captions, run times |
//!
//! Figures are drawn only where there is data: training loss per group, validation bits per character per group
//! (GPT runs), final test accuracy, the accuracy heatmap
//! over (σ_w², depth) with the theory's trainable depth, steps to criterion against depth, per-layer statistics at
//! initialization and after training, and Jacobian spectra. Non-finite values (the NaN losses of diverged runs)
//! and, on log axes, values ≤ 0 are left out, and each caption says how many.
//!
//! Every file is written under a hidden temporary name in the same folder and renamed into place at the end, with
//! `report.html` last, so a crash never leaves a file that looks complete.

mod draw;
mod error;
mod figures;
mod html;
mod phase;
mod render;
mod rows;
mod stage;
mod summary;

use std::path::{Path, PathBuf};

use nninit::theory::PhaseDiagram;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::record::{Architecture, ExperimentResults, Probe, RunConfig, RunRecord, RunStatus};

pub use error::ReportError;
pub use render::FigureFormat;
pub use summary::{FINAL_LOSS_WINDOW, MeanSd, SummaryRow, summarize, summary_table};

/// The files [`write_report`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    /// Every measured row, one JSON object per line.
    pub results_jsonl: PathBuf,
    /// One row per configuration.
    pub summary_csv: PathBuf,
    /// The self-contained HTML page.
    pub html: PathBuf,
    /// Each figure's SVG and PNG, in report order.
    pub figures: Vec<PathBuf>,
}

impl render::Drawable for figures::Figure<figures::Plot> {
    fn name(&self) -> &str {
        &self.stem
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw::draw(self, root)
    }
}

/// Checks, before any training, that a report can go into `out_dir`: it is an existing folder, or
/// nothing yet (it is created when the report is written). Creates nothing.
///
/// # Errors
///
/// [`ReportError::Io`] when `out_dir`, or the nearest of its parents that exists, is not a folder.
pub fn check_out_dir(out_dir: &Path) -> Result<(), ReportError> {
    let not_a_folder = |path: &Path| ReportError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
    };
    let mut at = Some(out_dir);
    while let Some(path) = at {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => return Err(not_a_folder(path)),
            Err(_) => at = path.parent().filter(|p| !p.as_os_str().is_empty()),
        }
    }
    Ok(())
}

/// Writes the report of `results` into `out_dir` (created if missing): `results.jsonl`, `summary.csv`, every
/// figure as SVG and PNG, and `report.html`.
///
/// Figures without data are skipped. Files are written under temporary names and renamed into place once all
/// are written; on error, the temporary files are removed and files from an earlier report are left as they were.
///
/// # Errors
///
/// [`ReportError::Io`] when a file cannot be written or renamed, [`ReportError::Plot`] when a figure cannot be
/// drawn, [`ReportError::Json`] when rows cannot be serialized, [`ReportError::Font`] if the bundled font fails
/// to load.
pub fn write_report(results: &ExperimentResults, out_dir: &Path) -> Result<ReportFiles, ReportError> {
    let mut stage = stage::Staging::new(out_dir)?;
    let results_jsonl = stage.write("results.jsonl", rows::jsonl(results)?.as_bytes())?;
    let summary_rows = summarize(results);
    let summary_csv = stage.write("summary.csv", summary::csv(&summary_rows).as_bytes())?;
    let (figs, skipped) = figures::figures(results);
    let mut rendered = Vec::with_capacity(figs.len());
    let mut paths = Vec::with_capacity(2 * figs.len());
    for fig in &figs {
        let svg = render::render_svg(fig)?;
        paths.push(stage.write(&format!("{}.svg", fig.stem), svg.as_bytes())?);
        paths.push(stage.stage_with(&format!("{}.png", fig.stem), |tmp| render::render_png(fig, tmp))?);
        rendered.push((fig, svg));
    }
    let html = stage.write("report.html", html::page(results, &summary_rows, &rendered, &skipped).as_bytes())?;
    stage.commit()?;
    Ok(ReportFiles { results_jsonl, summary_csv, html, figures: paths })
}

/// Reads the results of an experiment back from the `results.jsonl` that [`write_report`] wrote, so that
/// the report can be drawn again (`nninit lab report DIR`) or the rows analysed elsewhere.
///
/// Writing the results read from a report's `results.jsonl` gives the same `results.jsonl`, `summary.csv`
/// and figures again. Non-finite numbers, which JSON writes as `null`, come back as NaN (or as `None`
/// where the number is optional).
///
/// # Errors
///
/// [`ReportError::Read`] when the file cannot be read, [`ReportError::Parse`] when a line is not a row the
/// lab writes, the first row is not the `experiment` row, or a row names a run that has no `run` row before it.
pub fn read_results(path: &Path) -> Result<ExperimentResults, ReportError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ReportError::Read { path: path.to_path_buf(), source })?;
    rows::parse(&text, path)
}

/// Draws one probe's per-layer activation and gradient std (log scale) into `path`, SVG or PNG by its
/// extension (`nninit probe --plot FILE`). The file is written under a temporary name and renamed at the end.
///
/// # Errors
///
/// [`ReportError::Plot`] for an extension other than `.svg`/`.png` or a probe with no finite value to draw,
/// [`ReportError::File`] when the file cannot be written.
pub fn probe_figure(probe: &Probe, title: &str, path: &Path) -> Result<(), ReportError> {
    let bad = |reason: &str| ReportError::Plot { figure: path.display().to_string(), reason: reason.to_string() };
    if FigureFormat::of(path).is_none() {
        return Err(bad("give a .svg or .png file"));
    }
    let run = RunRecord {
        experiment: "probe".into(),
        config: RunConfig {
            label: title.into(),
            group: "probe".into(),
            init: title.into(),
            model: Architecture::Mlp,
            depth: probe.layers.len(),
            width: 0,
            activation: String::new(),
            sigma_w2: None,
            sigma_b2: None,
            optimizer: String::new(),
            lr: 0.0,
            dataset: String::new(),
            gpt: None,
        },
        seed: 0,
        status: RunStatus::Finished,
        steps: Vec::new(),
        evals: Vec::new(),
        probe: Some(probe.clone()),
        init_iterations: None,
        steps_to_criterion: None,
        seconds: 0.0,
    };
    let results = ExperimentResults {
        name: "probe".into(),
        description: String::new(),
        expectation: None,
        loss_criterion: None,
        runs: vec![run],
        theory: None,
        seconds: 0.0,
        shard: None,
    };
    let mut fig = figures::figures(&results)
        .0
        .into_iter()
        .find(|f| f.stem.starts_with("layers-init"))
        .ok_or_else(|| bad("no finite per-layer value to draw"))?;
    fig.title = format!("Signal through depth at initialization — {title}");
    render::write_figure(&fig, path)
}

/// Draws the mean-field phase diagram of `nninit theory ACTIVATION --plot FILE` into `path`, SVG or PNG by its
/// extension: ξ_c over σ_w² in (0, `sigma_w2_max`] and σ_b² in [0, `sigma_b2_max`] as colored cells (the
/// report's color ramp over log₁₀ ξ_c from 0.1 to 1000, grey where the length diverges), and `edge`, the
/// critical σ_w² at each σ_b², as a black line. The file is written under a temporary name and renamed at the
/// end.
///
/// # Errors
///
/// [`ReportError::Plot`] for an extension other than `.svg`/`.png` or a diagram that cannot be drawn,
/// [`ReportError::File`] when the file cannot be written.
pub fn phase_figure(
    diagram: &PhaseDiagram,
    edge: &[(f64, Option<f64>)],
    sigma_w2_max: f64,
    sigma_b2_max: f64,
    path: &Path,
) -> Result<(), ReportError> {
    render::write_figure(&phase::PhaseFigure { diagram, edge, sigma_w2_max, sigma_b2_max }, path)
}

#[cfg(test)]
mod tests;
