//! (e) Steps until the smoothed training loss falls below the criterion, against depth.

use std::collections::BTreeSet;

use crate::record::{ExperimentResults, RunRecord};

use super::shared::{Figure, Key, Palette, decades, plural, positive_range};

#[derive(Debug)]
pub(in crate::report) struct CriterionSeries {
    pub key: Key,
    /// (x, median steps) where more than half the seeds reached the criterion; x is the depth, or log₂ of it
    /// when [`CriterionPlot::depth_axis`] is [`DepthAxis::Log2`].
    pub median: Vec<(f64, f64)>,
    /// (depth, steps) of each run that reached it.
    pub reached: Vec<(f64, f64)>,
    /// (depth, steps run) of each run that never reached it: a lower bound.
    pub missed: Vec<(f64, f64)>,
}

/// How depth is laid out on the x axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::report) enum DepthAxis {
    /// The depth itself.
    Linear,
    /// log₂ of the depth, ticks labelled 2, 4, 8, ... (for depths spanning a factor of 4 or more).
    Log2,
}

#[derive(Debug)]
pub(in crate::report) struct CriterionPlot {
    pub series: Vec<CriterionSeries>,
    pub x: (f64, f64),
    /// Whether x is log₂ of the depth (ticks labelled 2, 4, 8, ...).
    pub depth_axis: DepthAxis,
    pub y: (f64, f64),
}

pub(super) fn criterion_figure(results: &ExperimentResults, palette: &Palette) -> Option<Figure<CriterionPlot>> {
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
    let depth_axis = if dlo >= 1.0 && dhi / dlo >= 4.0 { DepthAxis::Log2 } else { DepthAxis::Linear };
    let x = if depth_axis == DepthAxis::Log2 {
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
        plot: CriterionPlot { series, x, depth_axis, y: decades(lo, hi) },
    })
}
