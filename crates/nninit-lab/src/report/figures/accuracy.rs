//! (c) Final test accuracy per configuration: the seeds as dots, their mean as a bar.

use std::collections::BTreeSet;

use crate::report::summary::{ConfigRuns, final_accuracy, is_diverged};

use super::shared::{Figure, Key, Notes, Palette};

#[derive(Debug)]
pub(in crate::report) struct AccuracyRow {
    pub label: String,
    pub color: usize,
    pub dots: Vec<f64>,
    pub mean: Option<f64>,
    pub diverged: usize,
}

#[derive(Debug)]
pub(in crate::report) struct AccuracyPlot {
    pub rows: Vec<AccuracyRow>,
    pub x: (f64, f64),
    pub chance: Option<f64>,
}

/// Chance accuracy of the datasets the lab knows (all have 10 classes).
fn chance(dataset: &str) -> Option<f64> {
    matches!(dataset, "digits" | "mnist" | "fashion-mnist").then_some(0.1)
}

pub(super) fn accuracy_figure(configs: &[ConfigRuns<'_>], palette: &Palette) -> Option<Figure<AccuracyPlot>> {
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
        plot: AccuracyPlot { rows, x: (lo, 1.0), chance },
    })
}
