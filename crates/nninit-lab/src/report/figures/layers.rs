//! (b) and (g): per-layer statistics through depth, at initialization (the probe) and before and after
//! training.

use std::collections::BTreeSet;

use crate::record::{LayerStats, RunRecord};
use crate::report::summary::ConfigRuns;

use super::shared::{Figure, Key, Notes, Palette, decades, positive_range, slug};

/// One of up to three panels of a per-layer figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::report) enum LayerQuantity {
    Activation,
    Backprop,
    WeightGrad,
}

impl LayerQuantity {
    pub(in crate::report) const ALL: [Self; 3] = [Self::Activation, Self::Backprop, Self::WeightGrad];

    fn of(self, s: &LayerStats) -> f64 {
        match self {
            Self::Activation => s.act_std,
            Self::Backprop => s.backprop_std,
            Self::WeightGrad => s.grad_std,
        }
    }

    pub(in crate::report) fn title(self) -> &'static str {
        match self {
            Self::Activation => "activation std",
            Self::Backprop => "back-prop gradient std (∂L/∂pre-act.)",
            Self::WeightGrad => "weight-gradient std",
        }
    }
}

/// How a series' line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::report) enum Stroke {
    /// A solid line with filled markers.
    Solid,
    /// A dashed line with hollow markers.
    Dashed,
}

#[derive(Debug)]
pub(in crate::report) struct LayerSeries {
    pub key: Key,
    /// Dashed for the state at init when compared with a later one, else solid.
    pub stroke: Stroke,
    /// Per panel in [`LayerQuantity::ALL`] order: (layer, geometric mean over seeds).
    pub points: [Vec<(f64, f64)>; 3],
}

#[derive(Debug)]
pub(in crate::report) struct LayerPlot {
    /// The panels that have data, each with its y range.
    pub panels: Vec<(LayerQuantity, (f64, f64))>,
    pub series: Vec<LayerSeries>,
    pub max_layer: f64,
}

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

pub(super) fn probe_layer_figure(group: &str, cs: &[&ConfigRuns<'_>], palette: &Palette) -> Option<Figure<LayerPlot>> {
    let mut dropped = 0;
    let mut series = Vec::new();
    for (c, key) in cs.iter().zip(palette.keys(cs)) {
        let per_run: Vec<&[LayerStats]> =
            c.runs.iter().filter_map(|r| r.probe.as_ref()).map(|p| &p.layers[..]).collect();
        if per_run.iter().all(|l| l.is_empty()) {
            continue;
        }
        series.push(LayerSeries { key, stroke: Stroke::Solid, points: layer_means(&per_run, &mut dropped) });
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
        plot,
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

pub(super) fn trained_layer_figure(
    group: &str,
    cs: &[&ConfigRuns<'_>],
    palette: &Palette,
) -> Option<Figure<LayerPlot>> {
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
            series.push(LayerSeries { key, stroke: Stroke::Dashed, points: layer_means(&inits, &mut dropped) });
        }
        let key = Key { name: format!("{} · trained", key.name), color: key.color };
        series.push(LayerSeries { key, stroke: Stroke::Solid, points: layer_means(&lasts, &mut dropped) });
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
        plot,
    })
}
