//! (a') Validation bits per character against step, one figure per group (the GPT's depth): the mean over
//! seeds with a min–max band, and where diverged runs stopped.

use std::collections::BTreeMap;

use crate::report::summary::{ConfigRuns, is_diverged, short};

use super::loss::{LossPlot, LossSeries, YScale};
use super::shared::{Figure, Notes, Palette, slug};

pub(super) fn validation_figure(group: &str, cs: &[&ConfigRuns<'_>], palette: &Palette) -> Option<Figure<LossPlot>> {
    // Per configuration, per run: (step, bits) of every finite measurement.
    let points: Vec<Vec<Vec<(usize, f64)>>> = cs
        .iter()
        .map(|c| {
            c.runs
                .iter()
                .map(|r| {
                    r.evals
                        .iter()
                        .filter_map(|e| e.validation_bits.filter(|b| b.is_finite()).map(|b| (e.step, b)))
                        .collect()
                })
                .collect()
        })
        .collect();
    let all = || points.iter().flatten().flatten();
    let (lo, hi) = all().fold(None, |acc: Option<(f64, f64)>, &(_, b)| match acc {
        None => Some((b, b)),
        Some((lo, hi)) => Some((lo.min(b), hi.max(b))),
    })?;
    let x_max = all().map(|&(s, _)| s).max().unwrap_or(0).max(1) as f64;
    // The axis ends at the larger of the median start and the highest later value: one initialization
    // that starts far above the others (torch-default's unit-variance tied embeddings) must not squash
    // the curves that matter; its points above the axis are drawn at its top and counted in the caption.
    let mut starts: Vec<f64> = all().filter(|p| p.0 == 0).map(|p| p.1).collect();
    starts.sort_by(f64::total_cmp);
    let later = all().filter(|p| p.0 > 0).map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let cap = match starts.get(starts.len() / 2) {
        Some(&median) if later.is_finite() => median.max(later),
        _ => hi,
    };
    let mut clipped = 0;
    let mut clip = |v: f64| {
        if v > cap {
            clipped += 1;
            cap
        } else {
            v
        }
    };
    let nonfinite = cs
        .iter()
        .flat_map(|c| &c.runs)
        .flat_map(|r| &r.evals)
        .filter(|e| e.validation_bits.is_some_and(|b| !b.is_finite()))
        .count();
    let mut series = Vec::new();
    for ((c, runs), key) in cs.iter().zip(&points).zip(palette.keys(cs)) {
        let mut at: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for &(step, bits) in runs.iter().flatten() {
            at.entry(step).or_default().push(bits);
        }
        let mut s = LossSeries { key, mean: Vec::new(), band: Vec::new(), stops: Vec::new() };
        let mut banded = false;
        for (&step, vals) in &at {
            let x = step as f64;
            s.mean.push((x, clip(vals.iter().sum::<f64>() / vals.len() as f64)));
            if vals.len() > 1 {
                let (mn, mx) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                if !banded {
                    s.band.push(Vec::new());
                }
                if let Some(chunk) = s.band.last_mut() {
                    chunk.push((x, mn.min(cap), mx.min(cap)));
                }
            }
            banded = vals.len() > 1;
        }
        for (run, pts) in c.runs.iter().zip(runs) {
            if is_diverged(run)
                && let Some(&(step, bits)) = pts.last()
            {
                s.stops.push((step as f64, bits.min(cap)));
            }
        }
        let diverged = c.runs.iter().filter(|r| is_diverged(r)).count();
        if diverged > 0 {
            s.key.name = format!("{} ({diverged}/{} diverged)", s.key.name, c.runs.len());
        }
        series.push(s);
    }
    let pad = ((cap - lo) * 0.05).max(0.05);
    let mut caption = String::from(
        "Validation cross-entropy in bits per character against step (the same validation windows at every \
         point). Line: mean over seeds; band: min–max over seeds; × marks the last measurement of a run that \
         diverged. Look for: which initializations learn at once, which stall near the initial bits, which blow \
         up, and how that changes with depth.",
    );
    let mut notes = Notes::default();
    notes.add(nonfinite, ("non-finite measurement", "non-finite measurements"), " (NaN or ∞)");
    notes.add(clipped, ("mean", "means"), &format!(" above {} bits drawn at the top of the axis", short(cap)));
    notes.append_to(&mut caption);
    Some(Figure {
        stem: format!("validation-{}", slug(group)),
        title: format!("Validation bits per character — {group}"),
        caption,
        size: (1000, 500),
        plot: LossPlot {
            series,
            x_max,
            y: ((lo - pad).max(0.0), cap + pad),
            criterion: None,
            y_scale: YScale::Linear,
            y_desc: "validation bits per character",
        },
    })
}
