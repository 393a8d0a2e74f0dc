//! What each figure shows, as plain data: the series to draw, their ranges, and a caption that says what to look
//! for; one file per figure, and what they share in `shared.rs`. Drawing is in `draw.rs`; everything here is
//! pure and never sees a non-finite value past its filters.

mod accuracy;
mod criterion;
mod heatmap;
mod jacobian;
mod layers;
mod loss;
mod shared;
mod validation;

use std::collections::BTreeSet;

use crate::record::ExperimentResults;
use crate::report::summary::{ConfigRuns, configs};

pub(super) use accuracy::{AccuracyPlot, AccuracyRow};
pub(super) use criterion::{CriterionPlot, DepthAxis};
pub(super) use heatmap::HeatmapPlot;
pub(super) use jacobian::JacobianPlot;
pub(super) use layers::{LayerPlot, LayerQuantity, Stroke};
pub(super) use loss::{LossPlot, YScale};
pub(super) use shared::Figure;
use shared::Palette;

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
pub(super) fn figures(results: &ExperimentResults) -> (Vec<Figure<Plot>>, Vec<String>) {
    let configs = configs(results);
    let groups = groups(&configs);
    let palette = Palette::new(results);
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut stems = BTreeSet::new();
    let mut push = |mut fig: Figure<Plot>, out: &mut Vec<Figure<Plot>>| {
        let base = fig.stem.clone();
        let mut n = 2;
        while !stems.insert(fig.stem.clone()) {
            fig.stem = format!("{base}-{n}");
            n += 1;
        }
        out.push(fig);
    };
    let heatmaps = heatmap::heatmap_figures(results);
    let has_heatmap = !heatmaps.is_empty();
    for f in heatmaps {
        push(f.map(Plot::Heatmap), &mut out);
    }
    if let Some(f) = criterion::criterion_figure(results, &palette) {
        push(f.map(Plot::Criterion), &mut out);
    }
    if has_heatmap && configs.len() > MAX_ACCURACY_ROWS_WITH_HEATMAP {
        skipped.push(format!(
            "The per-configuration accuracy chart is left out: {} configurations are shown by the heatmap and the table.",
            configs.len()
        ));
    } else if let Some(f) = accuracy::accuracy_figure(&configs, &palette) {
        push(f.map(Plot::Accuracy), &mut out);
    }
    for (group, cs) in &groups {
        if cs.len() <= MAX_LINES
            && let Some(f) = validation::validation_figure(group, cs, &palette)
        {
            push(f.map(Plot::Loss), &mut out);
        }
    }
    for (group, cs) in &groups {
        if cs.len() > MAX_LINES {
            skipped.push(format!(
                "No loss figure for group `{group}`: its {} configurations are more lines than can be told apart \
                 (at most {MAX_LINES}); their losses are in results.jsonl.",
                cs.len()
            ));
        } else if let Some(f) = loss::loss_figure(results, group, cs, &palette) {
            push(f.map(Plot::Loss), &mut out);
        }
    }
    for (group, cs) in &groups {
        if cs.len() <= MAX_LINES
            && let Some(f) = layers::probe_layer_figure(group, cs, &palette)
        {
            push(f.map(Plot::Layers), &mut out);
        }
    }
    for (group, cs) in &groups {
        if cs.len() <= MAX_LINES
            && let Some(f) = layers::trained_layer_figure(group, cs, &palette)
        {
            push(f.map(Plot::Layers), &mut out);
        }
    }
    for (group, cs) in &groups {
        if cs.len() <= MAX_LINES
            && let Some(f) = jacobian::jacobian_figure(group, cs, &palette)
        {
            push(f.map(Plot::Jacobian), &mut out);
        }
    }
    (out, skipped)
}
