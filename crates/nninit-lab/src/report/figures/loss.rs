//! (a) Training loss against step, one figure per group: the mean over seeds with a min–max band, and where
//! diverged runs stopped.

use crate::record::ExperimentResults;
use crate::report::summary::{ConfigRuns, is_diverged, short};

use super::shared::{Figure, Key, Notes, Palette, decades, positive_range, slug};

/// At most this many points per loss curve: longer runs are averaged over windows of steps.
const MAX_CURVE_POINTS: usize = 300;
/// Loss curves are clipped this many times above the largest initial loss (diverging runs blow up).
const LOSS_CLIP_FACTOR: f64 = 1e3;

#[derive(Debug)]
pub(in crate::report) struct LossSeries {
    pub key: Key,
    /// (step, mean loss over the seeds with a value there).
    pub mean: Vec<(f64, f64)>,
    /// Contiguous stretches of (step, min, max) over seeds, where at least two seeds have a value.
    pub band: Vec<Vec<(f64, f64, f64)>>,
    /// Where each diverged run stopped: its last finite point.
    pub stops: Vec<(f64, f64)>,
}

/// How a curve figure's vertical axis is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::report) enum YScale {
    /// Logarithmic: losses that span decades, and blow-ups.
    Log,
    /// Linear: bits per character, which stay within a few units.
    Linear,
}

/// Curves against step (training loss, validation bits): per series a mean line, a band, and stops.
#[derive(Debug)]
pub(in crate::report) struct LossPlot {
    pub series: Vec<LossSeries>,
    pub x_max: f64,
    pub y: (f64, f64),
    pub criterion: Option<f64>,
    pub y_scale: YScale,
    /// The vertical axis' label.
    pub y_desc: &'static str,
}

pub(super) fn loss_figure(
    results: &ExperimentResults,
    group: &str,
    cs: &[&ConfigRuns<'_>],
    palette: &Palette,
) -> Option<Figure<LossPlot>> {
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
        plot: LossPlot {
            series,
            x_max: (max_step as f64).max(1.0),
            y,
            criterion,
            y_scale: YScale::Log,
            y_desc: "training loss",
        },
    })
}
