//! (d) The input–output Jacobian's squared singular values at initialization, with mean-field theory's mean.

use crate::report::summary::ConfigRuns;

use super::shared::{Figure, Key, Notes, Palette, decades, positive_range, slug};

#[derive(Debug)]
pub(in crate::report) struct SpectrumSeries {
    pub key: Key,
    /// Per seed: (i / (n − 1), σᵢ²), largest first.
    pub curves: Vec<Vec<(f64, f64)>>,
    pub theory: Option<f64>,
}

#[derive(Debug)]
pub(in crate::report) struct JacobianPlot {
    pub series: Vec<SpectrumSeries>,
    pub y: (f64, f64),
}

pub(super) fn jacobian_figure(group: &str, cs: &[&ConfigRuns<'_>], palette: &Palette) -> Option<Figure<JacobianPlot>> {
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
        plot: JacobianPlot { series, y: decades(lo, hi) },
    })
}
