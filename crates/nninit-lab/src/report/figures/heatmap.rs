//! (f) Final test accuracy over (σ_w², depth), one heatmap per σ_b², with the theory's trainable depth 6·ξ_c.

use crate::record::{ExperimentResults, RunRecord};
use crate::report::summary::{final_accuracy, is_diverged, short};

use super::shared::{Figure, plural, slug};

#[derive(Debug)]
pub(in crate::report) struct HeatCell {
    /// Cell bounds in data coordinates: (x0, x1, y0, y1).
    pub bounds: (f64, f64, f64, f64),
    /// Mean final test accuracy, `None` when no run finished.
    pub value: Option<f64>,
}

#[derive(Debug)]
pub(in crate::report) struct HeatmapPlot {
    pub cells: Vec<HeatCell>,
    pub x: (f64, f64),
    pub y: (f64, f64),
    /// The theory curve, clipped to the plot, as separate segments.
    pub theory: Vec<Vec<(f64, f64)>>,
}

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

pub(super) fn heatmap_figures(results: &ExperimentResults) -> Vec<Figure<HeatmapPlot>> {
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
            plot: HeatmapPlot { cells, x, y, theory: curve },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
