//! Draws prepared figures with plotters, on any backend (SVG for the HTML, PNG for papers and slides).

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figures::{
    AccuracyPlot, CriterionPlot, DepthAxis, Figure, HeatmapPlot, JacobianPlot, LayerPlot, LossPlot, Plot, Stroke,
    YScale,
};
use super::summary::fmt_num;

/// A colorblind-aware qualitative palette (Tableau 10); series colors follow the initialization.
const PALETTE: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];
const INK: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(108, 117, 125);
const GRID: RGBColor = RGBColor(236, 238, 240);
const GRID_BOLD: RGBColor = RGBColor(218, 222, 226);
const FONT: &str = "sans-serif";
/// Width of the legend column on the right of a figure.
const LEGEND_WIDTH: u32 = 290;

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

type Area<DB> = DrawingArea<DB, Shift>;

fn fail(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn font(size: u32, c: RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(&c)
}

/// Tick labels of a log axis: decades only, plain where short, `1e-7` style beyond.
fn log_tick(v: f64) -> String {
    let l = v.log10();
    if !l.is_finite() || (l - l.round()).abs() > 1e-6 {
        return String::new();
    }
    let e = l.round() as i32;
    match e {
        0..=4 => format!("{}", 10u32.pow(e as u32)),
        -3..=-1 => format!("0.{}1", "0".repeat((-e - 1) as usize)),
        _ => format!("1e{e}"),
    }
}

/// Tick labels of a linear axis: integers without decimals, others in up to 4 significant digits.
fn lin_tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 * v.abs().max(1.0) {
        return format!("{v:.0}");
    }
    let s = fmt_num(v);
    if s.contains('.') && !s.contains('e') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// Styles a mesh the same way in every figure.
macro_rules! mesh {
    ($chart:expr, $x:expr, $y:expr) => {
        $chart
            .configure_mesh()
            .x_desc($x)
            .y_desc($y)
            .axis_desc_style(font(20, INK))
            .label_style(font(17, MUTED))
            .axis_style(MUTED)
            .bold_line_style(GRID_BOLD)
            .light_line_style(GRID)
            .max_light_lines(4)
    };
}

/// One legend line: a swatch and a text.
enum Swatch {
    Line(RGBColor),
    Dashed(RGBColor),
    Cross(RGBColor),
    Triangle(RGBColor),
    Dot(RGBColor),
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

/// Draws the legend entries top-down in the right-hand column.
fn legend<DB: DrawingBackend>(area: &Area<DB>, entries: &[(Swatch, String)]) -> Result<(), String> {
    for (i, (swatch, text)) in entries.iter().enumerate() {
        let y = 48 + 30 * i as i32;
        let (x0, x1) = (10, 40);
        match *swatch {
            Swatch::Line(c) => area.draw(&PathElement::new(vec![(x0, y), (x1, y)], c.stroke_width(3))),
            Swatch::Dashed(c) => {
                area.draw(&PathElement::new(vec![(x0, y), (x0 + 11, y)], c.stroke_width(2))).map_err(fail)?;
                area.draw(&PathElement::new(vec![(x1 - 11, y), (x1, y)], c.stroke_width(2)))
            }
            Swatch::Cross(c) => area.draw(&Cross::new((25, y), 5, c.stroke_width(2))),
            Swatch::Triangle(c) => area.draw(&TriangleMarker::new((25, y), 6, c.stroke_width(2))),
            Swatch::Dot(c) => area.draw(&Circle::new((25, y), 4, c.filled())),
        }
        .map_err(fail)?;
        let style = font(19, INK).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(truncate(text, 27), (x1 + 10, y), style)).map_err(fail)?;
    }
    Ok(())
}

/// Draws `fig` on `root`: a white page, the title, the plot.
pub(super) fn draw<DB: DrawingBackend>(fig: &Figure<Plot>, root: &Area<DB>) -> Result<(), String> {
    root.fill(&WHITE).map_err(fail)?;
    let body = root.titled(&fig.title, font(26, INK)).map_err(fail)?;
    match &fig.plot {
        Plot::Loss(p) => loss(&body, p),
        Plot::Layers(p) => layers(&body, p),
        Plot::Accuracy(p) => accuracy(root, &body, p),
        Plot::Jacobian(p) => jacobian(&body, p),
        Plot::Criterion(p) => criterion(&body, p),
        Plot::Heatmap(p) => heatmap(&body, p),
    }
}

fn split_legend<DB: DrawingBackend>(body: &Area<DB>) -> (Area<DB>, Area<DB>) {
    let w = body.dim_in_pixel().0;
    body.split_horizontally(w.saturating_sub(LEGEND_WIDTH))
}

fn loss<DB: DrawingBackend>(body: &Area<DB>, p: &LossPlot) -> Result<(), String> {
    let (plot, side) = split_legend(body);
    let mut builder = ChartBuilder::on(&plot);
    builder.margin(12).x_label_area_size(60).y_label_area_size(80);
    let entries = match p.y_scale {
        YScale::Log => {
            let mut chart = builder.build_cartesian_2d(0.0..p.x_max, (p.y.0..p.y.1).log_scale()).map_err(fail)?;
            mesh!(chart, "step", p.y_desc)
                .x_label_formatter(&|v| lin_tick(*v))
                .y_label_formatter(&|v| log_tick(*v))
                .draw()
                .map_err(fail)?;
            curves(&mut chart, p)?
        }
        YScale::Linear => {
            let mut chart = builder.build_cartesian_2d(0.0..p.x_max, p.y.0..p.y.1).map_err(fail)?;
            mesh!(chart, "step", p.y_desc)
                .x_label_formatter(&|v| lin_tick(*v))
                .y_label_formatter(&|v| lin_tick(*v))
                .draw()
                .map_err(fail)?;
            curves(&mut chart, p)?
        }
    };
    legend(&side, &entries)
}

/// The bands, the criterion, the mean lines and the divergence marks of `p` on `chart`, whatever
/// its vertical scale; returns the legend entries.
fn curves<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    p: &LossPlot,
) -> Result<Vec<(Swatch, String)>, String> {
    let mut entries = Vec::new();
    for s in &p.series {
        let c = color(s.key.color);
        for chunk in &s.band {
            let mut poly: Vec<(f64, f64)> = chunk.iter().map(|b| (b.0, b.2)).collect();
            poly.extend(chunk.iter().rev().map(|b| (b.0, b.1)));
            chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.14).filled()))).map_err(fail)?;
        }
    }
    if let Some(crit) = p.criterion {
        let line = DashedLineSeries::new(vec![(0.0, crit), (p.x_max, crit)], 8, 5, MUTED.stroke_width(1));
        chart.draw_series(line).map_err(fail)?;
    }
    let mut any_stop = false;
    for s in &p.series {
        let c = color(s.key.color);
        chart.draw_series(LineSeries::new(s.mean.iter().copied(), c.stroke_width(2))).map_err(fail)?;
        if s.mean.len() == 1 {
            chart.draw_series(s.mean.iter().map(|&q| Circle::new(q, 3, c.filled()))).map_err(fail)?;
        }
        chart.draw_series(s.stops.iter().map(|&q| Cross::new(q, 6, c.stroke_width(2)))).map_err(fail)?;
        any_stop |= !s.stops.is_empty();
        entries.push((Swatch::Line(c), s.key.name.clone()));
    }
    if any_stop {
        entries.push((Swatch::Cross(INK), "run diverged here".to_string()));
    }
    if p.criterion.is_some() {
        entries.push((Swatch::Dashed(MUTED), "loss criterion".to_string()));
    }
    Ok(entries)
}

fn layers<DB: DrawingBackend>(body: &Area<DB>, p: &LayerPlot) -> Result<(), String> {
    let (plot, side) = split_legend(body);
    let panels = plot.split_evenly((1, p.panels.len()));
    let markers = p.max_layer <= 40.0;
    for (area, &(q, y)) in panels.iter().zip(&p.panels) {
        let i = super::figures::LayerQuantity::ALL.iter().position(|x| *x == q).unwrap_or(0);
        let mut chart = ChartBuilder::on(area)
            .caption(q.title(), font(20, INK))
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(72)
            .build_cartesian_2d(0.5..p.max_layer + 0.5, (y.0..y.1).log_scale())
            .map_err(fail)?;
        mesh!(chart, "layer", "")
            .x_labels(p.max_layer.min(10.0) as usize + 1)
            .x_label_formatter(&|v| if (v - v.round()).abs() < 1e-9 { format!("{v:.0}") } else { String::new() })
            .y_label_formatter(&|v| log_tick(*v))
            .draw()
            .map_err(fail)?;
        for s in &p.series {
            let c = color(s.key.color);
            let pts = s.points[i].clone();
            if s.stroke == Stroke::Dashed {
                chart.draw_series(DashedLineSeries::new(pts.clone(), 7, 5, c.stroke_width(2))).map_err(fail)?;
            } else {
                chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(2))).map_err(fail)?;
            }
            if markers || pts.len() == 1 {
                let style = if s.stroke == Stroke::Dashed { c.stroke_width(1) } else { c.filled() };
                chart.draw_series(pts.iter().map(|&q| Circle::new(q, 3, style))).map_err(fail)?;
            }
        }
    }
    let entries: Vec<(Swatch, String)> = p
        .series
        .iter()
        .map(|s| {
            let c = color(s.key.color);
            (if s.stroke == Stroke::Dashed { Swatch::Dashed(c) } else { Swatch::Line(c) }, s.key.name.clone())
        })
        .collect();
    legend(&side, &entries)
}

fn accuracy<DB: DrawingBackend>(root: &Area<DB>, body: &Area<DB>, p: &AccuracyPlot) -> Result<(), String> {
    let n = p.rows.len();
    let label = |r: &super::figures::AccuracyRow| {
        if r.diverged > 0 {
            format!("{} ({}/{} diverged)", r.label, r.diverged, r.diverged + r.dots.len())
        } else {
            r.label.clone()
        }
    };
    let longest = p.rows.iter().map(|r| label(r).chars().count()).max().unwrap_or(0);
    let label_width = (20 + 10 * longest as u32).clamp(80, 460);
    let mut chart = ChartBuilder::on(body)
        .margin(12)
        .margin_right(40)
        .x_label_area_size(60)
        .y_label_area_size(label_width)
        .build_cartesian_2d(p.x.0..p.x.1, -0.5..n as f64 - 0.5)
        .map_err(fail)?;
    mesh!(chart, "final test accuracy", "")
        .disable_y_mesh()
        .y_labels(0)
        .x_label_formatter(&|v| format!("{:.0} %", v * 100.0))
        .draw()
        .map_err(fail)?;
    // Row i from the top.
    let y = |i: usize| (n - 1 - i) as f64;
    if let Some(ch) = p.chance.filter(|c| *c >= p.x.0) {
        let line = DashedLineSeries::new(vec![(ch, -0.5), (ch, n as f64 - 0.5)], 6, 4, MUTED.stroke_width(1));
        chart.draw_series(line).map_err(fail)?;
    }
    for (i, r) in p.rows.iter().enumerate() {
        let c = color(r.color);
        if let Some(m) = r.mean {
            let bar = Rectangle::new([(p.x.0, y(i) - 0.22), (m.max(p.x.0), y(i) + 0.22)], c.mix(0.28).filled());
            chart.draw_series(std::iter::once(bar)).map_err(fail)?;
            let right = r.dots.iter().copied().fold(m, f64::max);
            let text = EmptyElement::at((right, y(i)))
                + Text::new(
                    format!("{:.1} %", m * 100.0),
                    (10, 0),
                    font(17, INK).pos(Pos::new(HPos::Left, VPos::Center)),
                );
            chart.draw_series(std::iter::once(text)).map_err(fail)?;
        }
        let dots = r.dots.iter().map(|&a| Circle::new((a.max(p.x.0), y(i)), 4, c.filled()));
        chart.draw_series(dots).map_err(fail)?;
        let (px, py) = chart.backend_coord(&(p.x.0, y(i)));
        let style = font(18, INK).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(label(r), (px - 10, py), style)).map_err(fail)?;
    }
    Ok(())
}

fn jacobian<DB: DrawingBackend>(body: &Area<DB>, p: &JacobianPlot) -> Result<(), String> {
    let (plot, side) = split_legend(body);
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..1.0, (p.y.0..p.y.1).log_scale())
        .map_err(fail)?;
    mesh!(chart, "rank i / (n − 1), largest first", "σᵢ²")
        .x_label_formatter(&|v| lin_tick(*v))
        .y_label_formatter(&|v| log_tick(*v))
        .draw()
        .map_err(fail)?;
    let mut entries = Vec::new();
    for s in &p.series {
        let c = color(s.key.color);
        for curve in &s.curves {
            chart.draw_series(LineSeries::new(curve.iter().copied(), c.mix(0.85).stroke_width(2))).map_err(fail)?;
            if curve.len() == 1 {
                chart.draw_series(curve.iter().map(|&q| Circle::new(q, 3, c.filled()))).map_err(fail)?;
            }
        }
        if let Some(t) = s.theory {
            chart
                .draw_series(DashedLineSeries::new(vec![(0.0, t), (1.0, t)], 8, 5, c.stroke_width(2)))
                .map_err(fail)?;
        }
        entries.push((Swatch::Line(c), s.key.name.clone()));
    }
    if p.series.iter().any(|s| s.theory.is_some()) {
        entries.push((Swatch::Dashed(MUTED), "theory: mean σ²".to_string()));
    }
    legend(&side, &entries)
}

fn criterion<DB: DrawingBackend>(body: &Area<DB>, p: &CriterionPlot) -> Result<(), String> {
    let (plot, side) = split_legend(body);
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(p.x.0..p.x.1, (p.y.0..p.y.1).log_scale())
        .map_err(fail)?;
    let log2 = p.depth_axis == DepthAxis::Log2;
    let x_tick = move |v: &f64| {
        if (v - v.round()).abs() > 1e-9 {
            String::new()
        } else if log2 {
            format!("{}", 2f64.powi(v.round() as i32))
        } else {
            format!("{v:.0}")
        }
    };
    mesh!(chart, "depth", "steps to criterion")
        .x_label_formatter(&x_tick)
        .y_label_formatter(&|v| log_tick(*v))
        .draw()
        .map_err(fail)?;
    for s in &p.series {
        let c = color(s.key.color);
        chart.draw_series(LineSeries::new(s.median.iter().copied(), c.stroke_width(2))).map_err(fail)?;
        chart.draw_series(s.reached.iter().map(|&q| Circle::new(q, 4, c.mix(0.7).filled()))).map_err(fail)?;
        chart.draw_series(s.missed.iter().map(|&q| TriangleMarker::new(q, 6, c.stroke_width(2)))).map_err(fail)?;
    }
    let mut entries: Vec<(Swatch, String)> =
        p.series.iter().map(|s| (Swatch::Line(color(s.key.color)), s.key.name.clone())).collect();
    entries.push((Swatch::Dot(MUTED), "one seed".to_string()));
    if p.series.iter().any(|s| !s.missed.is_empty()) {
        entries.push((Swatch::Triangle(MUTED), "never reached (steps run)".to_string()));
    }
    legend(&side, &entries)
}

/// A viridis-like ramp over [0, 1]: dark blue, teal, green, yellow.
pub(super) fn ramp(t: f64) -> RGBColor {
    let stops =
        [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    RGBColor(mix(stops[i].0, stops[i + 1].0), mix(stops[i].1, stops[i + 1].1), mix(stops[i].2, stops[i + 1].2))
}

fn heatmap<DB: DrawingBackend>(body: &Area<DB>, p: &HeatmapPlot) -> Result<(), String> {
    let w = body.dim_in_pixel().0;
    let (plot, side) = body.split_horizontally(w.saturating_sub(150));
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(p.x.0..p.x.1, p.y.0..p.y.1)
        .map_err(fail)?;
    mesh!(chart, "σ_w² (weight variance × fan-in)", "depth (hidden layers)")
        .x_label_formatter(&|v| lin_tick(*v))
        .y_label_formatter(&|v| lin_tick(*v))
        .disable_mesh()
        .draw()
        .map_err(fail)?;
    let grey = RGBColor(200, 200, 200);
    chart
        .draw_series(p.cells.iter().map(|c| {
            let (x0, x1, y0, y1) = c.bounds;
            Rectangle::new([(x0, y0), (x1, y1)], c.value.map_or(grey, ramp).filled())
        }))
        .map_err(fail)?;
    if p.cells.len() <= 150 {
        for c in p.cells.iter().filter(|c| c.value.is_some()) {
            let v = c.value.unwrap_or(0.0);
            let ink = if v > 0.6 { INK } else { WHITE };
            let (x0, x1, y0, y1) = c.bounds;
            let style = font(15, ink).pos(Pos::new(HPos::Center, VPos::Center));
            let text = Text::new(format!("{:.0}", v * 100.0), ((x0 + x1) / 2.0, (y0 + y1) / 2.0), style);
            chart.draw_series(std::iter::once(text)).map_err(fail)?;
        }
    }
    for seg in &p.theory {
        chart.draw_series(LineSeries::new(seg.iter().copied(), INK.stroke_width(5))).map_err(fail)?;
        chart.draw_series(LineSeries::new(seg.iter().copied(), WHITE.stroke_width(3))).map_err(fail)?;
    }
    // The color bar.
    let mut bar = ChartBuilder::on(&side)
        .margin_top(12)
        .margin_bottom(60)
        .margin_left(8)
        .margin_right(20)
        .y_label_area_size(64)
        .caption("accuracy", font(18, INK))
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(fail)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|v| format!("{:.0} %", v * 100.0))
        .label_style(font(17, MUTED))
        .axis_style(MUTED)
        .draw()
        .map_err(fail)?;
    bar.draw_series((0..100).map(|i| {
        let (a, b) = (i as f64 / 100.0, (i + 1) as f64 / 100.0);
        // Overlapping a little, so no seams show between the bands.
        Rectangle::new([(0.0, a), (1.0, (b + 0.005).min(1.0))], ramp((a + b) / 2.0).filled())
    }))
    .map_err(fail)?;
    Ok(())
}
