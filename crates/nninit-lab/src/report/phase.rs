//! The mean-field phase diagram (`nninit theory ACTIVATION --plot FILE`): the correlation depth ξ_c over
//! (σ_w², σ_b²) as colored cells, with the edge of chaos χ₁ = 1 as a black line.

use nninit::theory::PhaseDiagram;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::ramp;
use super::render::Drawable;

/// log₁₀ ξ_c is colored from 10⁻¹ (dark) to 10³ (bright); diverging points are grey.
const LOG_XI_RANGE: (f64, f64) = (-1.0, 3.0);

/// A phase diagram ready to draw.
#[derive(Debug)]
pub(super) struct PhaseFigure<'a> {
    /// ξ_c at every grid point.
    pub diagram: &'a PhaseDiagram,
    /// The edge of chaos: (σ_b², critical σ_w² where there is one).
    pub edge: &'a [(f64, Option<f64>)],
    /// The largest σ_w² drawn.
    pub sigma_w2_max: f64,
    /// The largest σ_b² drawn.
    pub sigma_b2_max: f64,
}

/// The cell color of ξ_c: the report's ramp over log₁₀ ξ_c, grey where the length diverges.
fn color(xi: Option<f64>) -> RGBColor {
    let Some(xi) = xi else { return RGBColor(170, 170, 170) };
    let t = if xi.is_infinite() { 1.0 } else { (xi.log10() - LOG_XI_RANGE.0) / (LOG_XI_RANGE.1 - LOG_XI_RANGE.0) };
    ramp(t)
}

impl Drawable for PhaseFigure<'_> {
    fn name(&self) -> &str {
        "phase diagram"
    }

    fn size(&self) -> (u32, u32) {
        (900, 700)
    }

    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (d, edge) = (self.diagram, self.edge);
        let err = |e: &dyn std::fmt::Display| format!("cannot draw: {e}");
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (w_max, b_max) = (self.sigma_w2_max, self.sigma_b2_max.max(1e-12));
        let caption =
            format!("{}: ξ_c (log color, 0.1 dark … 1000 bright; grey: length diverges); black: χ₁ = 1", d.activation);
        let mut chart = ChartBuilder::on(root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..w_max, 0.0..b_max)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc("σ_w²").y_desc("σ_b²").disable_mesh().draw().map_err(|e| err(&e))?;
        let (nw, nb) = (d.sigma_w2.len(), d.sigma_b2.len());
        let dw = w_max / nw as f64;
        let db = if nb > 1 { d.sigma_b2[1] - d.sigma_b2[0] } else { b_max };
        chart
            .draw_series((0..nb).flat_map(|i| {
                (0..nw).map(move |j| {
                    let (w, b) = (d.sigma_w2[j], d.sigma_b2[i]);
                    Rectangle::new(
                        [((w - dw).max(0.0), (b - db / 2.0).max(0.0)), (w, (b + db / 2.0).min(b_max))],
                        color(d.xi_c_at(i, j)).filled(),
                    )
                })
            }))
            .map_err(|e| err(&e))?;
        let line: Vec<(f64, f64)> =
            edge.iter().filter_map(|&(b, w)| w.filter(|&w| w <= w_max).map(|w| (w, b))).collect();
        chart.draw_series(LineSeries::new(line, BLACK.stroke_width(3))).map_err(|e| err(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_run_from_dark_to_bright_with_grey_for_divergence() {
        assert_eq!(color(None), RGBColor(170, 170, 170));
        assert_eq!(color(Some(0.1)), RGBColor(68, 1, 84));
        assert_eq!(color(Some(0.01)), RGBColor(68, 1, 84), "clamped below");
        assert_eq!(color(Some(1000.0)), RGBColor(253, 231, 37));
        assert_eq!(color(Some(f64::INFINITY)), RGBColor(253, 231, 37));
        assert_eq!(color(Some(10.0)), RGBColor(33, 145, 140), "the middle stop");
    }
}
