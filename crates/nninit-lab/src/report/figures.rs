//! What each figure shows, as plain data: the series to draw, their ranges, and a caption that says what to look
//! for. Drawing is in `draw.rs`; everything here is pure and never sees a non-finite value past its filters.

use std::collections::BTreeSet;

use crate::record::{ExperimentResults, LayerStats, RunRecord};

use super::summary::{ConfigRuns, configs, final_accuracy, is_diverged, short};

/// At most this many points per loss curve: longer runs are averaged over windows of steps.
const MAX_CURVE_POINTS: usize = 300;
/// Loss curves are clipped this many times above the largest initial loss (diverging runs blow up).
const LOSS_CLIP_FACTOR: f64 = 1e3;

/// One figure: file stem, HTML heading and caption, pixel size, and the data to draw.
#[derive(Debug)]
pub(super) struct Figure {
    /// File stem, unique within the report (`loss-relu-d20`).
    pub stem: String,
    /// The heading above it in the HTML and the title drawn in the image.
    pub title: String,
    /// What the figure shows and what to look for, plus notes on values left out.
    pub caption: String,
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// The data.
    pub plot: Plot,
}

/// The prepared data of a figure.
#[derive(Debug)]
pub(super) enum Plot {
    Loss(LossPlot),
    Layers(LayerPlot),
    Accuracy(AccuracyPlot),
    Jacobian(JacobianPlot),
    Criterion(CriterionPlot),
    Heatmap(HeatmapPlot),
}

/// A series' legend text and palette index.
#[derive(Clone, Debug)]
pub(super) struct Key {
    pub name: String,
    pub color: usize,
}

#[derive(Debug)]
pub(super) struct LossSeries {
    pub key: Key,
    /// (step, mean loss over the seeds with a value there).
    pub mean: Vec<(f64, f64)>,
    /// Contiguous stretches of (step, min, max) over seeds, where at least two seeds have a value.
    pub band: Vec<Vec<(f64, f64, f64)>>,
    /// Where each diverged run stopped: its last finite point.
    pub stops: Vec<(f64, f64)>,
}

#[derive(Debug)]
pub(super) struct LossPlot {
    pub series: Vec<LossSeries>,
    pub x_max: f64,
    pub y: (f64, f64),
    pub criterion: Option<f64>,
}

/// One of up to three panels of a per-layer figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LayerQuantity {
    Activation,
    Backprop,
    WeightGrad,
}

impl LayerQuantity {
    pub(super) const ALL: [Self; 3] = [Self::Activation, Self::Backprop, Self::WeightGrad];

    fn of(self, s: &LayerStats) -> f64 {
        match self {
            Self::Activation => s.act_std,
            Self::Backprop => s.backprop_std,
            Self::WeightGrad => s.grad_std,
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Self::Activation => "activation std",
            Self::Backprop => "back-prop gradient std (∂L/∂pre-act.)",
            Self::WeightGrad => "weight-gradient std",
        }
    }
}

#[derive(Debug)]
pub(super) struct LayerSeries {
    pub key: Key,
    /// Drawn dashed (the state at init, when compared with a later one).
    pub dashed: bool,
    /// Per panel in [`LayerQuantity::ALL`] order: (layer, geometric mean over seeds).
    pub points: [Vec<(f64, f64)>; 3],
}

#[derive(Debug)]
pub(super) struct LayerPlot {
    /// The panels that have data, each with its y range.
    pub panels: Vec<(LayerQuantity, (f64, f64))>,
    pub series: Vec<LayerSeries>,
    pub max_layer: f64,
}

#[derive(Debug)]
pub(super) struct AccuracyRow {
    pub label: String,
    pub color: usize,
    pub dots: Vec<f64>,
    pub mean: Option<f64>,
    pub diverged: usize,
}

#[derive(Debug)]
pub(super) struct AccuracyPlot {
    pub rows: Vec<AccuracyRow>,
    pub x: (f64, f64),
    pub chance: Option<f64>,
}

#[derive(Debug)]
pub(super) struct SpectrumSeries {
    pub key: Key,
    /// Per seed: (i / (n − 1), σᵢ²), largest first.
    pub curves: Vec<Vec<(f64, f64)>>,
    pub theory: Option<f64>,
}

#[derive(Debug)]
pub(super) struct JacobianPlot {
    pub series: Vec<SpectrumSeries>,
    pub y: (f64, f64),
}

#[derive(Debug)]
pub(super) struct CriterionSeries {
    pub key: Key,
    /// (x, median steps) where more than half the seeds reached the criterion; x is the depth, or log₂ of it
    /// when [`CriterionPlot::x_log2`].
    pub median: Vec<(f64, f64)>,
    /// (depth, steps) of each run that reached it.
    pub reached: Vec<(f64, f64)>,
    /// (depth, steps run) of each run that never reached it: a lower bound.
    pub missed: Vec<(f64, f64)>,
}

#[derive(Debug)]
pub(super) struct CriterionPlot {
    pub series: Vec<CriterionSeries>,
    pub x: (f64, f64),
    /// Whether x is log₂ of the depth (ticks labelled 2, 4, 8, ...).
    pub x_log2: bool,
    pub y: (f64, f64),
}

#[derive(Debug)]
pub(super) struct HeatCell {
    /// Cell bounds in data coordinates: (x0, x1, y0, y1).
    pub bounds: (f64, f64, f64, f64),
    /// Mean final test accuracy, `None` when no run finished.
    pub value: Option<f64>,
}

#[derive(Debug)]
pub(super) struct HeatmapPlot {
    pub cells: Vec<HeatCell>,
    pub x: (f64, f64),
    pub y: (f64, f64),
    /// The theory curve, clipped to the plot, as separate segments.
    pub theory: Vec<Vec<(f64, f64)>>,
}

/// Colors follow the initialization across all figures; names are the init, or the label where a group has
/// several configurations with the same init.
struct Palette {
    inits: Vec<String>,
}

impl Palette {
    fn new(results: &ExperimentResults) -> Self {
        let mut inits: Vec<String> = Vec::new();
        for r in &results.runs {
            if !inits.contains(&r.config.init) {
                inits.push(r.config.init.clone());
            }
        }
        Self { inits }
    }

    fn keys(&self, configs: &[&ConfigRuns<'_>]) -> Vec<Key> {
        let unique = configs.iter().map(|c| &c.config.init).collect::<BTreeSet<_>>().len() == configs.len();
        configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if unique {
                    let color = self.inits.iter().position(|x| *x == c.config.init).unwrap_or(i);
                    Key { name: c.config.init.clone(), color }
                } else {
                    Key { name: c.config.label.clone(), color: i }
                }
            })
            .collect()
    }
}

/// Lowercase ASCII letters, digits and dashes, for file names.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches(['-', '.']).to_string();
    if out.is_empty() { "x".to_string() } else { out }
}

/// Widens a positive range outward to whole decades, for a log axis with readable ticks.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = 10f64.powf(lo.log10().floor());
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    // A hair wider, so the end decades get their tick labels despite rounding.
    (lo * 0.999, hi * 1.001)
}

fn positive_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().filter(|v| v.is_finite() && *v > 0.0).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Notes on what was left out or clamped, appended to a caption.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    /// Adds `n one` or `n many`, then `rest`.
    fn add(&mut self, n: usize, (one, many): (&str, &str), rest: &str) {
        if n > 0 {
            self.0.push(format!("{}{rest}", plural(n, one, many)));
        }
    }

    fn append_to(self, caption: &mut String) {
        if !self.0.is_empty() {
            caption.push_str(&format!(" Not shown: {}.", self.0.join("; ")));
        }
    }
}

/// The configurations of each group, groups in order of first appearance.
fn groups<'a, 'b>(configs: &'b [ConfigRuns<'a>]) -> Vec<(&'a str, Vec<&'b ConfigRuns<'a>>)> {
    let mut out: Vec<(&'a str, Vec<&'b ConfigRuns<'a>>)> = Vec::new();
    for c in configs {
        match out.iter_mut().find(|(g, _)| *g == c.config.group) {
            Some((_, v)) => v.push(c),
            None => out.push((&c.config.group, vec![c])),
        }
    }
    out
}

/// A group with more configurations than this gets no loss figure: its lines could not be told apart.
const MAX_LINES: usize = 12;
/// With a heatmap, the per-configuration accuracy chart is left out above this many configurations.
const MAX_ACCURACY_ROWS_WITH_HEATMAP: usize = 40;

/// Every figure the experiment has data for, in report order (the experiment's own result first), and a note
/// for each figure left out on purpose.
pub(super) fn figures(results: &ExperimentResults) -> (Vec<Figure>, Vec<String>) {
    let configs = configs(results);
    let groups = groups(&configs);
    let palette = Palette::new(results);
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut stems = BTreeSet::new();
    let mut push = |mut fig: Figure, out: &mut Vec<Figure>| {
        let base = fig.stem.clone();
        let mut n = 2;
        while !stems.insert(fig.stem.clone()) {
            fig.stem = format!("{base}-{n}");
            n += 1;
        }
        out.push(fig);
    };
    let heatmaps = heatmap_figures(results);
    let has_heatmap = !heatmaps.is_empty();
    for f in heatmaps {
        push(f, &mut out);
    }
    if let Some(f) = criterion_figure(results, &palette) {
        push(f, &mut out);
    }
    if has_heatmap && configs.len() > MAX_ACCURACY_ROWS_WITH_HEATMAP {
        skipped.push(format!(
            "The per-configuration accuracy chart is left out: {} configurations are shown by the heatmap and the table.",
            configs.len()
        ));
    } else if let Some(f) = accuracy_figure(&configs, &palette) {
        push(f, &mut out);
    }
    for (group, cs) in &groups {
        if cs.len() > MAX_LINES {
            skipped.push(format!(
                "No loss figure for group `{group}`: its {} configurations are more lines than can be told apart \
                 (at most {MAX_LINES}); their losses are in results.jsonl.",
                cs.len()
            ));
        } else if let Some(f) = loss_figure(results, group, cs, &palette) {
            push(f, &mut out);
        }
    }
    for (group, cs) in &groups {
        if cs.len() <= MAX_LINES
            && let Some(f) = probe_layer_figure(group, cs, &palette)
        {
            push(f, &mut out);
        }
    }
    for (group, cs) in &groups {
        if cs.len() <= MAX_LINES
            && let Some(f) = trained_layer_figure(group, cs, &palette)
        {
            push(f, &mut out);
        }
    }
    for (group, cs) in &groups {
        if cs.len() <= MAX_LINES
            && let Some(f) = jacobian_figure(group, cs, &palette)
        {
            push(f, &mut out);
        }
    }
    (out, skipped)
}

// (a) Training loss.

fn loss_figure(results: &ExperimentResults, group: &str, cs: &[&ConfigRuns<'_>], palette: &Palette) -> Option<Figure> {
    let max_step = cs.iter().flat_map(|c| &c.runs).flat_map(|r| r.steps.iter().map(|s| s.step)).max()?;
    let window = max_step.div_ceil(MAX_CURVE_POINTS).max(1);
    let bins = max_step.div_ceil(window) + 1;
    let center = |b: usize| (b * window) as f64 + (window as f64 + 1.0) / 2.0;
    let mut notes = Notes::default();
    let (mut nonfinite, mut nonpositive, mut never_finite) = (0, 0, 0);

    // Per configuration, per run: the mean finite positive loss of each window of steps.
    let binned: Vec<Vec<Vec<Option<f64>>>> = cs
        .iter()
        .map(|c| {
            c.runs
                .iter()
                .map(|r| {
                    let mut sum = vec![(0.0, 0usize); bins];
                    for s in &r.steps {
                        if !s.loss.is_finite() {
                            nonfinite += 1;
                        } else if s.loss <= 0.0 {
                            nonpositive += 1;
                        } else {
                            let b = s.step.saturating_sub(1) / window;
                            sum[b].0 += s.loss;
                            sum[b].1 += 1;
                        }
                    }
                    let v: Vec<Option<f64>> =
                        sum.iter().map(|&(s, n)| (n > 0).then(|| s / n as f64).filter(|v| v.is_finite())).collect();
                    if v.iter().all(Option::is_none) && !r.steps.is_empty() {
                        never_finite += 1;
                    }
                    v
                })
                .collect()
        })
        .collect();

    let (lo, hi) = positive_range(binned.iter().flatten().flatten().flatten().copied())?;
    // Clip diverging runs: at most LOSS_CLIP_FACTOR times the largest initial loss.
    let first = binned.iter().flatten().filter_map(|r| r.iter().flatten().next().copied()).fold(0.0, f64::max);
    let cap = if first > 0.0 { hi.min(first * LOSS_CLIP_FACTOR) } else { hi };
    let mut clipped = 0;
    let mut clip = |v: f64| {
        if v > cap {
            clipped += 1;
            cap
        } else {
            v
        }
    };
    let keys = palette.keys(cs);
    let mut series = Vec::new();
    for ((c, runs), key) in cs.iter().zip(&binned).zip(keys) {
        let mut s = LossSeries { key, mean: Vec::new(), band: Vec::new(), stops: Vec::new() };
        let mut last_band_bin: Option<usize> = None;
        for b in 0..bins {
            let vals: Vec<f64> = runs.iter().filter_map(|r| r[b]).collect();
            if vals.is_empty() {
                continue;
            }
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            s.mean.push((center(b), clip(mean)));
            if vals.len() > 1 {
                let (mn, mx) = vals.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
                if last_band_bin.is_none_or(|l| l + 1 != b) {
                    s.band.push(Vec::new());
                }
                last_band_bin = Some(b);
                if let Some(chunk) = s.band.last_mut() {
                    chunk.push((center(b), clip(mn), clip(mx)));
                }
            }
        }
        for (run, bins) in c.runs.iter().zip(runs) {
            if is_diverged(run)
                && let Some((b, v)) = bins.iter().enumerate().rev().find_map(|(b, v)| v.map(|v| (b, v)))
            {
                s.stops.push((center(b), clip(v)));
            }
        }
        let diverged = c.runs.iter().filter(|r| is_diverged(r)).count();
        if diverged > 0 {
            s.key.name = format!("{} ({diverged}/{} diverged)", s.key.name, c.runs.len());
        }
        series.push(s);
    }
    let criterion = results.loss_criterion.filter(|c| c.is_finite() && *c > 0.0);
    let y = decades(lo.min(criterion.unwrap_or(lo)), cap.max(lo));
    notes.add(nonfinite, ("non-finite loss", "non-finite losses"), " (NaN or ∞; the steps where runs diverged)");
    notes.add(nonpositive, ("loss", "losses"), " ≤ 0 (log scale)");
    notes.add(never_finite, ("run", "runs"), " with no finite loss at all");
    notes.add(clipped, ("point", "points"), &format!(" above {} clipped to it", short(cap)));
    let mut caption = String::from(
        "Training loss against step, log scale. Line: mean over seeds; band: min–max over seeds; × marks where a \
         diverged run stopped. Look for: which initializations start learning at once, which stay flat (stalled \
         at the initial loss), and which blow up.",
    );
    if window > 1 {
        caption.push_str(&format!(" Each point averages a window of {window} steps."));
    }
    if criterion.is_some() {
        caption.push_str(" Dashed grey: the loss criterion.");
    }
    notes.append_to(&mut caption);
    Some(Figure {
        stem: format!("loss-{}", slug(group)),
        title: format!("Training loss — {group}"),
        caption,
        size: (1000, 500),
        plot: Plot::Loss(LossPlot { series, x_max: (max_step as f64).max(1.0), y, criterion }),
    })
}

// (b) and (g): per-layer statistics.

/// Geometric mean over runs of each layer's quantities; counts values left out.
fn layer_means(per_run: &[&[LayerStats]], dropped: &mut usize) -> [Vec<(f64, f64)>; 3] {
    LayerQuantity::ALL.map(|q| {
        let layers: BTreeSet<usize> = per_run.iter().flat_map(|r| r.iter().map(|s| s.layer)).collect();
        layers
            .into_iter()
            .filter_map(|layer| {
                let vals: Vec<f64> =
                    per_run.iter().flat_map(|r| r.iter()).filter(|s| s.layer == layer).map(|s| q.of(s)).collect();
                let ok: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
                *dropped += vals.len() - ok.len();
                (!ok.is_empty())
                    .then(|| (layer as f64, (ok.iter().map(|v| v.ln()).sum::<f64>() / ok.len() as f64).exp()))
            })
            .collect()
    })
}

fn layer_plot(series: Vec<LayerSeries>) -> Option<LayerPlot> {
    let panels: Vec<(LayerQuantity, (f64, f64))> = LayerQuantity::ALL
        .iter()
        .enumerate()
        .filter_map(|(i, &q)| {
            let (lo, hi) = positive_range(series.iter().flat_map(|s| s.points[i].iter().map(|p| p.1)))?;
            Some((q, decades(lo, hi)))
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    let max_layer = series.iter().flat_map(|s| s.points.iter().flatten().map(|p| p.0)).fold(1.0, f64::max);
    Some(LayerPlot { panels, series, max_layer })
}

fn probe_layer_figure(group: &str, cs: &[&ConfigRuns<'_>], palette: &Palette) -> Option<Figure> {
    let mut dropped = 0;
    let mut series = Vec::new();
    for (c, key) in cs.iter().zip(palette.keys(cs)) {
        let per_run: Vec<&[LayerStats]> =
            c.runs.iter().filter_map(|r| r.probe.as_ref()).map(|p| &p.layers[..]).collect();
        if per_run.iter().all(|l| l.is_empty()) {
            continue;
        }
        series.push(LayerSeries { key, dashed: false, points: layer_means(&per_run, &mut dropped) });
    }
    let plot = layer_plot(series)?;
    let mut caption = String::from(
        "Per-layer statistics at initialization (the probe, before training), log scale, geometric mean over seeds. \
         Look for: flat lines mean the signal keeps its scale through depth; lines that fall or rise steadily mean \
         vanishing or exploding activations (forward) or gradients (backward).",
    );
    let mut notes = Notes::default();
    notes.add(dropped, ("zero or non-finite value", "zero or non-finite values"), " (log scale)");
    notes.append_to(&mut caption);
    Some(Figure {
        stem: format!("layers-init-{}", slug(group)),
        title: format!("Signal through depth at initialization — {group}"),
        caption,
        size: (1200, 430),
        plot: Plot::Layers(plot),
    })
}

/// A run's per-layer stats at init (if known), at its last evaluation, and that evaluation's step.
type InitAndLast<'a> = (Option<&'a [LayerStats]>, &'a [LayerStats], usize);

/// The per-layer stats at init and at the last evaluation of a run, where its evaluations carry them.
fn init_and_last(run: &RunRecord) -> Option<InitAndLast<'_>> {
    let with: Vec<_> = run.evals.iter().filter_map(|e| e.layers.as_deref().map(|l| (e.step, l))).collect();
    let &(last_step, last) = with.last()?;
    let init = match with.first() {
        Some(&(0, l)) if last_step > 0 => Some(l),
        _ => run.probe.as_ref().map(|p| &p.layers[..]).filter(|l| !l.is_empty()),
    };
    Some((init, last, last_step))
}

fn trained_layer_figure(group: &str, cs: &[&ConfigRuns<'_>], palette: &Palette) -> Option<Figure> {
    let mut dropped = 0;
    let mut series = Vec::new();
    let mut steps = BTreeSet::new();
    for (c, key) in cs.iter().zip(palette.keys(cs)) {
        let found: Vec<_> = c.runs.iter().filter_map(|r| init_and_last(r)).collect();
        if found.is_empty() {
            continue;
        }
        let inits: Vec<&[LayerStats]> = found.iter().filter_map(|f| f.0).collect();
        let lasts: Vec<&[LayerStats]> = found.iter().map(|f| f.1).collect();
        steps.extend(found.iter().map(|f| f.2));
        if !inits.is_empty() {
            let key = Key { name: format!("{} · init", key.name), color: key.color };
            series.push(LayerSeries { key, dashed: true, points: layer_means(&inits, &mut dropped) });
        }
        let key = Key { name: format!("{} · trained", key.name), color: key.color };
        series.push(LayerSeries { key, dashed: false, points: layer_means(&lasts, &mut dropped) });
    }
    let plot = layer_plot(series)?;
    let steps: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    let mut caption = format!(
        "Per-layer statistics at initialization (dashed) and at the last evaluation (solid, step {}), log scale, \
         geometric mean over seeds. Look for: whether activation and gradient scales shrink layer by layer under one \
         initialization and stay level under another, and how training changes them.",
        steps.join(", ")
    );
    let mut notes = Notes::default();
    notes.add(dropped, ("zero or non-finite value", "zero or non-finite values"), " (log scale)");
    notes.append_to(&mut caption);
    Some(Figure {
        stem: format!("layers-trained-{}", slug(group)),
        title: format!("Signal through depth, before and after training — {group}"),
        caption,
        size: (1200, 430),
        plot: Plot::Layers(plot),
    })
}

// (c) Final test accuracy.

/// Chance accuracy of the datasets the lab knows (all have 10 classes).
fn chance(dataset: &str) -> Option<f64> {
    matches!(dataset, "digits" | "mnist" | "fashion-mnist").then_some(0.1)
}

fn accuracy_figure(configs: &[ConfigRuns<'_>], palette: &Palette) -> Option<Figure> {
    let mut missing = 0;
    let rows: Vec<AccuracyRow> = configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // Colored by init, as in the summary table, whatever the group.
            let key = Key {
                name: c.config.init.clone(),
                color: palette.inits.iter().position(|x| *x == c.config.init).unwrap_or(i),
            };
            let dots: Vec<f64> = c.runs.iter().filter_map(|r| final_accuracy(r)).collect();
            let diverged = c.runs.iter().filter(|r| is_diverged(r)).count();
            missing += c.runs.len() - dots.len() - diverged;
            let mean = (!dots.is_empty()).then(|| dots.iter().sum::<f64>() / dots.len() as f64);
            AccuracyRow { label: c.config.label.clone(), color: key.color, dots, mean, diverged }
        })
        .collect();
    let min = rows.iter().flat_map(|r| r.dots.iter().copied()).reduce(f64::min)?;
    let mut datasets = configs.iter().map(|c| c.config.dataset.as_str()).collect::<BTreeSet<_>>().into_iter();
    let chance = match (datasets.next(), datasets.next()) {
        (Some(d), None) => chance(d),
        _ => None,
    };
    let lo = ((min.min(chance.unwrap_or(1.0)) - 0.02) * 10.0).floor().max(0.0) / 10.0;
    let diverged: usize = rows.iter().map(|r| r.diverged).sum();
    let mut caption = String::from(
        "Test accuracy at the end of training, per configuration. Dots: seeds; bar: their mean. Look for: the gap \
         between initializations, and whether the seeds of one configuration agree.",
    );
    if chance.is_some() {
        caption.push_str(" Dashed grey: chance (10 classes).");
    }
    if lo > 0.0 {
        caption.push_str(&format!(" The axis starts at {:.0} %.", lo * 100.0));
    }
    let mut notes = Notes::default();
    notes.add(diverged, ("diverged run", "diverged runs"), " (no meaningful accuracy; counted beside the label)");
    notes.add(missing, ("run", "runs"), " without a test accuracy");
    notes.append_to(&mut caption);
    let height = (140 + 36 * rows.len()).min(3000) as u32;
    Some(Figure {
        stem: "accuracy".to_string(),
        title: "Final test accuracy".to_string(),
        caption,
        size: (1000, height),
        plot: Plot::Accuracy(AccuracyPlot { rows, x: (lo, 1.0), chance }),
    })
}

// (d) Jacobian spectra.

fn jacobian_figure(group: &str, cs: &[&ConfigRuns<'_>], palette: &Palette) -> Option<Figure> {
    let mut dropped = 0;
    let mut series = Vec::new();
    for (c, key) in cs.iter().zip(palette.keys(cs)) {
        let spectra: Vec<_> = c.runs.iter().filter_map(|r| r.probe.as_ref()?.jacobian.as_ref()).collect();
        let curves: Vec<Vec<(f64, f64)>> = spectra
            .iter()
            .map(|s| {
                let mut sq: Vec<f64> = s.singular_values.iter().map(|v| v * v).collect();
                let n = sq.len();
                sq.retain(|v| v.is_finite() && *v > 0.0);
                dropped += n - sq.len();
                sq.sort_by(|a, b| b.total_cmp(a));
                let m = sq.len();
                sq.iter()
                    .enumerate()
                    .map(|(i, &v)| (if m > 1 { i as f64 / (m - 1) as f64 } else { 0.5 }, v))
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .collect();
        if curves.is_empty() {
            continue;
        }
        let theory = spectra.iter().find_map(|s| s.theory_mean_squared).filter(|t| t.is_finite() && *t > 0.0);
        series.push(SpectrumSeries { key, curves, theory });
    }
    let values = series.iter().flat_map(|s| s.curves.iter().flatten().map(|p| p.1).chain(s.theory));
    let (lo, hi) = positive_range(values)?;
    let has_theory = series.iter().any(|s| s.theory.is_some());
    let mut caption = String::from(
        "Squared singular values σᵢ² of the input–output Jacobian at initialization, sorted largest first (x: rank \
         as a fraction of the count), log scale; one line per seed. Look for: a flat spectrum near 1 (dynamical \
         isometry, every direction passes through) versus a spread over many decades (a few directions dominate).",
    );
    if has_theory {
        caption.push_str(" Dashed: mean-field theory's mean σ² (χ₁ to the power of the depth).");
    }
    let mut notes = Notes::default();
    notes.add(dropped, ("zero or non-finite singular value", "zero or non-finite singular values"), " (log scale)");
    notes.append_to(&mut caption);
    Some(Figure {
        stem: format!("jacobian-{}", slug(group)),
        title: format!("Jacobian spectrum at initialization — {group}"),
        caption,
        size: (1000, 480),
        plot: Plot::Jacobian(JacobianPlot { series, y: decades(lo, hi) }),
    })
}

// (e) Steps to criterion against depth.

fn criterion_figure(results: &ExperimentResults, palette: &Palette) -> Option<Figure> {
    if !results.runs.iter().any(|r| r.steps_to_criterion.is_some()) {
        return None;
    }
    let mut inits: Vec<&str> = Vec::new();
    for r in &results.runs {
        if !inits.contains(&r.config.init.as_str()) {
            inits.push(&r.config.init);
        }
    }
    let mut series = Vec::new();
    for init in inits {
        let runs: Vec<&RunRecord> = results.runs.iter().filter(|r| r.config.init == init).collect();
        let depths: BTreeSet<usize> = runs.iter().map(|r| r.config.depth).collect();
        let color = palette.inits.iter().position(|x| x == init).unwrap_or(0);
        let mut s = CriterionSeries {
            key: Key { name: init.to_string(), color },
            median: Vec::new(),
            reached: Vec::new(),
            missed: Vec::new(),
        };
        for d in depths {
            // Runs that never reached the criterion count as infinitely slow for the median.
            let mut v: Vec<f64> = runs
                .iter()
                .filter(|r| r.config.depth == d)
                .map(|r| r.steps_to_criterion.map_or(f64::INFINITY, |s| s as f64))
                .collect();
            v.sort_by(f64::total_cmp);
            let med = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
            if med.is_finite() && med > 0.0 {
                s.median.push((d as f64, med));
            }
            for r in runs.iter().filter(|r| r.config.depth == d) {
                match r.steps_to_criterion {
                    Some(n) if n > 0 => s.reached.push((d as f64, n as f64)),
                    Some(_) => {}
                    None => {
                        let ran = r.steps.iter().map(|s| s.step).max().unwrap_or(0);
                        if ran > 0 {
                            s.missed.push((d as f64, ran as f64));
                        }
                    }
                }
            }
        }
        if !s.reached.is_empty() || !s.missed.is_empty() {
            series.push(s);
        }
    }
    let (lo, hi) = positive_range(series.iter().flat_map(|s| s.reached.iter().chain(&s.missed).map(|p| p.1)))?;
    let (dlo, dhi) = series
        .iter()
        .flat_map(|s| s.reached.iter().chain(&s.missed).map(|p| p.0))
        .fold((f64::INFINITY, 0.0f64), |a, d| (a.0.min(d), a.1.max(d)));
    let x_log2 = dlo >= 1.0 && dhi / dlo >= 4.0;
    let x = if x_log2 {
        for s in &mut series {
            for p in s.median.iter_mut().chain(&mut s.reached).chain(&mut s.missed) {
                p.0 = p.0.log2();
            }
        }
        (dlo.log2() - 0.3, dhi.log2() + 0.3)
    } else {
        (dlo - 1.0, dhi + 1.0)
    };
    let missed: usize = series.iter().map(|s| s.missed.len()).sum();
    let mut caption = String::from(
        "Optimizer steps until the smoothed training loss first fell below the criterion, against depth, both on \
         log scales. \
         Line: median over seeds; dots: seeds. Look for: a flat line means training time does not grow with depth \
         (the orthogonal result of Saxe et al. 2013); a rising line means deeper nets train slower.",
    );
    if missed > 0 {
        caption.push_str(&format!(
            " △ ({}) marks a run that never reached the criterion, drawn at the steps it ran (a lower bound); a \
             median is drawn only where most seeds reached it.",
            plural(missed, "run", "runs")
        ));
    }
    Some(Figure {
        stem: "steps-to-criterion".to_string(),
        title: "Steps to criterion against depth".to_string(),
        caption,
        size: (1000, 480),
        plot: Plot::Criterion(CriterionPlot { series, x, x_log2, y: decades(lo, hi) }),
    })
}

// (f) Accuracy heatmap over (σ_w², depth) with the theory's trainable depth.

/// Cell edges around sorted distinct values: midpoints between neighbours, half a gap beyond the ends.
fn edges(values: &[f64]) -> Vec<(f64, f64)> {
    let n = values.len();
    (0..n)
        .map(|i| {
            let left = if i > 0 { (values[i] - values[i - 1]) / 2.0 } else { f64::NAN };
            let right = if i + 1 < n { (values[i + 1] - values[i]) / 2.0 } else { f64::NAN };
            let (l, r) = match (left.is_nan(), right.is_nan()) {
                (true, true) => (0.5, 0.5),
                (true, false) => (right, right),
                (false, true) => (left, left),
                (false, false) => (left, right),
            };
            (values[i] - l, values[i] + r)
        })
        .collect()
}

/// Clips the polyline to the box, splitting it where it leaves; non-finite y (ξ_c is infinite at the critical
/// point) is drawn as leaving through the top.
fn clip_polyline(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let top = y.1 + 10.0 * (y.1 - y.0).abs().max(1.0);
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.0.is_finite() && !p.1.is_nan())
        .map(|&(a, b)| (a, if b.is_finite() { b.min(top) } else { top }))
        .collect();
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for w in pts.windows(2) {
        let (p, q) = (w[0], w[1]);
        // Liang–Barsky.
        let (dx, dy) = (q.0 - p.0, q.1 - p.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut visible = true;
        for (pk, qk) in [(-dx, p.0 - x.0), (dx, x.1 - p.0), (-dy, p.1 - y.0), (dy, y.1 - p.1)] {
            if pk == 0.0 {
                if qk < 0.0 {
                    visible = false;
                }
            } else {
                let t = qk / pk;
                if pk < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        if !visible || t0 > t1 {
            if cur.len() > 1 {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        let a = if t0 == 0.0 { p } else { (p.0 + t0 * dx, p.1 + t0 * dy) };
        let b = if t1 == 1.0 { q } else { (p.0 + t1 * dx, p.1 + t1 * dy) };
        if cur.last() != Some(&a) {
            if cur.len() > 1 {
                out.push(std::mem::take(&mut cur));
            }
            cur = vec![a];
        }
        cur.push(b);
        if t1 < 1.0 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if cur.len() > 1 {
        out.push(cur);
    }
    out
}

fn heatmap_figures(results: &ExperimentResults) -> Vec<Figure> {
    let Some(theory) = &results.theory else { return Vec::new() };
    // One heatmap per bias variance: the grid points of a sweep are separate inits (`σw²=1.4`, …) that
    // share σ_b², and σ_b² is what fixes the theory curve. Compared by bits, as they were parsed.
    let mut groups: Vec<Option<f64>> = Vec::new();
    for r in results.runs.iter().filter(|r| r.config.sigma_w2.is_some()) {
        if !groups.iter().any(|g| g.map(f64::to_bits) == r.config.sigma_b2.map(f64::to_bits)) {
            groups.push(r.config.sigma_b2);
        }
    }
    let several = groups.len() > 1;
    let mut out = Vec::new();
    for group in groups {
        let runs: Vec<&RunRecord> = results
            .runs
            .iter()
            .filter(|r| {
                r.config.sigma_b2.map(f64::to_bits) == group.map(f64::to_bits)
                    && r.config.sigma_w2.is_some_and(f64::is_finite)
            })
            .collect();
        let mut xs: Vec<f64> = runs.iter().filter_map(|r| r.config.sigma_w2).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let mut ys: Vec<f64> = runs.iter().map(|r| r.config.depth as f64).collect();
        ys.sort_by(f64::total_cmp);
        ys.dedup();
        let (xe, ye) = (edges(&xs), edges(&ys));
        let mut cells = Vec::new();
        let (mut empty, mut diverged) = (0, 0);
        for (i, &x) in xs.iter().enumerate() {
            for (j, &y) in ys.iter().enumerate() {
                let here: Vec<&&RunRecord> =
                    runs.iter().filter(|r| r.config.sigma_w2 == Some(x) && r.config.depth as f64 == y).collect();
                if here.is_empty() {
                    continue;
                }
                diverged += here.iter().filter(|r| is_diverged(r)).count();
                let acc: Vec<f64> = here.iter().filter_map(|r| final_accuracy(r)).collect();
                let value = (!acc.is_empty()).then(|| acc.iter().sum::<f64>() / acc.len() as f64);
                if value.is_none() {
                    empty += 1;
                }
                cells.push(HeatCell { bounds: (xe[i].0, xe[i].1, ye[j].0, ye[j].1), value });
            }
        }
        if cells.iter().all(|c| c.value.is_none()) {
            continue;
        }
        let x = (xe[0].0, xe[xe.len() - 1].1);
        let y = (ye[0].0.max(0.0), ye[ye.len() - 1].1);
        // The theory curve belongs to one σ_b²; a heatmap at another gets none.
        let theory_applies = group.unwrap_or(0.0).to_bits() == theory.sigma_b2.to_bits();
        let curve = if theory_applies { clip_polyline(&theory.trainable_depth, x, y) } else { Vec::new() };
        let sigma_b2 = theory.sigma_b2.is_finite().then_some(theory.sigma_b2);
        let mut caption = String::from(
            "Final test accuracy (mean over seeds, in % in each cell) for each weight variance σ_w² and depth. White line: mean-field \
             theory's maximum trainable depth 6·ξ_c. Look for: trainable (bright) cells below the line and \
             untrainable (dark) ones above it, with the deepest trainable nets at the edge of chaos, where ξ_c \
             diverges.",
        );
        if empty > 0 {
            caption.push_str(&format!(" Grey: {} where no run finished.", plural(empty, "cell", "cells")));
        }
        if diverged > 0 {
            caption.push_str(&format!(" {} diverged and are left out of the means.", plural(diverged, "run", "runs")));
        }
        if let Some(b) = sigma_b2 {
            caption.push_str(&format!(" Theory at σ_b² = {}.", short(b)));
        }
        if !theory_applies {
            caption.push_str(" No theory curve: it was computed for another σ_b².");
        } else if curve.is_empty() {
            caption.push_str(" The theory curve lies outside the plotted range.");
        }
        let sigma_b2_text = short(group.unwrap_or(0.0));
        let title = if several {
            format!("Trainable depth against σ_w² — σ_b² = {sigma_b2_text}")
        } else {
            "Trainable depth against σ_w²".to_string()
        };
        out.push(Figure {
            stem: if several { format!("heatmap-b-{}", slug(&sigma_b2_text)) } else { "heatmap".to_string() },
            title,
            caption,
            size: (1000, 600),
            plot: Plot::Heatmap(HeatmapPlot { cells, x, y, theory: curve }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_makes_file_names() {
        assert_eq!(slug("relu-d20/He Normal"), "relu-d20-he-normal");
        assert_eq!(slug("N(0,1)"), "n-0-1");
        assert_eq!(slug("///"), "x");
    }

    #[test]
    fn decades_round_outward() {
        let close = |a: (f64, f64), b: (f64, f64)| (a.0 / b.0 - 1.0).abs() < 0.01 && (a.1 / b.1 - 1.0).abs() < 0.01;
        assert!(close(decades(0.05, 2.4), (0.01, 10.0)));
        assert!(close(decades(1.0, 1.0), (1.0, 10.0)));
    }

    #[test]
    fn edges_split_between_values() {
        assert_eq!(edges(&[1.0, 2.0, 4.0]), vec![(0.5, 1.5), (1.5, 3.0), (3.0, 5.0)]);
        assert_eq!(edges(&[3.0]), vec![(2.5, 3.5)]);
    }

    #[test]
    fn clipping_splits_and_handles_infinity() {
        let pts = [(1.0, 5.0), (2.0, 50.0), (3.0, f64::INFINITY), (4.0, 50.0), (5.0, 5.0)];
        let segs = clip_polyline(&pts, (0.0, 6.0), (0.0, 100.0));
        assert_eq!(segs.len(), 2);
        for s in &segs {
            assert!(s.iter().all(|p| p.1 <= 100.0 + 1e-9 && p.1 >= 0.0));
        }
        assert!(clip_polyline(&[(1.0, 500.0), (2.0, 600.0)], (0.0, 6.0), (0.0, 100.0)).is_empty());
        assert_eq!(clip_polyline(&[(1.0, 5.0), (2.0, 6.0), (3.0, 7.0)], (0.0, 6.0), (0.0, 100.0)).len(), 1);
    }
}
