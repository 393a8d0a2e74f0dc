//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no external links) that reads top-down:
//! what the experiment shows, what the literature expects, the result at a glance, the table, the figures, and
//! the run times.

use std::fmt::Write;

use crate::record::{ExperimentResults, SignalKind};

use super::figures::{Figure, Plot};
use super::summary::{Columns, FINAL_LOSS_WINDOW, SummaryRow, cells, columns, fmt_num, short, verdict_name};

const CSS: &str = r#"
:root { --ink: #1f2328; --muted: #59636e; --rule: #d8dee4; --soft: #f6f8fa; --accent: #4e79a7; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 17px/1.6 Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, "DejaVu Serif", serif; }
main { max-width: 1080px; margin: 0 auto; padding: 48px 40px 72px; }
h1, h2, .kicker, .meta, table, figcaption, .glance, footer, .note {
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
.kicker { font-size: 13px; letter-spacing: .08em; text-transform: uppercase; color: var(--muted); }
h1 { font-size: 32px; line-height: 1.2; margin: 6px 0 8px; font-weight: 650; }
.meta { color: var(--muted); font-size: 14px; margin: 0 0 28px; }
h2 { font-size: 20px; font-weight: 650; margin: 44px 0 14px; padding-bottom: 6px; border-bottom: 1px solid var(--rule); }
p { margin: 0 0 14px; max-width: 75ch; }
.expect { border-left: 3px solid var(--accent); background: var(--soft); padding: 12px 18px; margin: 18px 0 0; max-width: 80ch; }
.expect .label, .glance .label { font: 600 12px system-ui, sans-serif; text-transform: uppercase; letter-spacing: .07em;
  color: var(--accent); display: block; margin-bottom: 4px; }
.expect p { margin: 0; }
.glance { list-style: none; padding: 0; margin: 0; font-size: 15px; }
.glance li { padding: 7px 0; border-bottom: 1px solid #eef1f4; }
.glance li:last-child { border-bottom: 0; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 600; padding: 8px 10px; border-bottom: 2px solid var(--ink); white-space: nowrap; }
td { padding: 7px 10px; border-bottom: 1px solid var(--rule); vertical-align: middle; }
th.num, td.num { text-align: right; }
tbody tr:hover { background: var(--soft); }
td.label { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 8px; vertical-align: 0; }
.bad { color: var(--bad); font-weight: 600; }
.dim { color: var(--muted); }
.bar { height: 4px; background: #e9edf1; border-radius: 2px; margin-top: 4px; min-width: 80px; }
.bar > span { display: block; height: 4px; border-radius: 2px; }
.tag { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.tag.healthy { background: #e6f4ea; color: #1e6b34; }
.tag.vanishing { background: #e7eef8; color: #2c4f7c; }
.tag.exploding { background: #fbe9e7; color: #a1281a; }
.tag.drifting { background: #f6f1e1; color: #6b5512; }
.note { font-size: 13px; color: var(--muted); margin-top: 10px; max-width: none; }
figure { margin: 30px 0 40px; }
figure svg { display: block; width: 100%; height: auto; border: 1px solid #eef1f4; }
figcaption { font-size: 14px; line-height: 1.55; color: #3d444d; margin-top: 10px; max-width: 95ch; }
figcaption b { color: var(--ink); }
.files { display: block; color: var(--muted); font-size: 12px; margin-top: 4px;
  font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; }
footer { margin-top: 56px; padding-top: 14px; border-top: 1px solid var(--rule); color: var(--muted); font-size: 13px; }
code { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .9em; }
"#;

/// The palette of the figures, so table swatches match the lines.
const SWATCHES: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// Escapes text for HTML content and attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds as `4.2 s`, `3 min 12 s` or `1 h 05 min`.
pub(super) fn duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "—".to_string();
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let t = s.round() as u64;
    if t < 3600 {
        format!("{} min {:02} s", t / 60, t % 60)
    } else {
        format!("{} h {:02} min", t / 3600, (t % 3600) / 60)
    }
}

fn init_color(results: &ExperimentResults, init: &str) -> &'static str {
    let mut seen: Vec<&str> = Vec::new();
    for r in &results.runs {
        if !seen.contains(&r.config.init.as_str()) {
            seen.push(&r.config.init);
        }
    }
    SWATCHES[seen.iter().position(|x| *x == init).unwrap_or(0) % SWATCHES.len()]
}

fn pct(m: f64) -> String {
    format!("{:.1} %", m * 100.0)
}

/// The few sentences a reader should take away, computed from the summary.
fn glance(rows: &[SummaryRow]) -> Vec<String> {
    let mut out = Vec::new();
    let code = |s: &str| format!("<code>{}</code>", escape(s));
    let with_acc: Vec<(&SummaryRow, f64)> =
        rows.iter().filter_map(|r| r.final_test_accuracy.map(|m| (r, m.mean))).collect();
    let best = with_acc.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
    let worst = with_acc.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some(b), Some(w)) = (best, worst) {
        let mut s = format!("Highest final test accuracy: {} at <b>{}</b>", code(&b.0.label), pct(b.1));
        if with_acc.len() > 1 {
            let _ = write!(s, "; lowest: {} at <b>{}</b>.", code(&w.0.label), pct(w.1));
        } else {
            s.push('.');
        }
        out.push(s);
    } else {
        let with_loss: Vec<(&SummaryRow, f64)> =
            rows.iter().filter_map(|r| r.final_train_loss.map(|m| (r, m.mean))).collect();
        let best = with_loss.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
        let worst = with_loss.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(b), Some(w)) = (best, worst) {
            let mut s = format!("Lowest final training loss: {} at <b>{}</b>", code(&b.0.label), fmt_num(b.1));
            if with_loss.len() > 1 {
                let _ = write!(s, "; highest: {} at <b>{}</b>.", code(&w.0.label), fmt_num(w.1));
            } else {
                s.push('.');
            }
            out.push(s);
        }
    }
    let reached: Vec<(&SummaryRow, f64)> =
        rows.iter().filter_map(|r| r.steps_to_criterion_median.map(|m| (r, m))).collect();
    if let Some((r, m)) = reached.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)) {
        out.push(format!("Fastest to the loss criterion: {} in a median of <b>{m:.0}</b> steps.", code(&r.label)));
    }
    let never: Vec<String> = rows
        .iter()
        .filter(|r| r.reached_criterion == 0 && r.steps_to_criterion_median.is_none())
        .map(|r| code(&r.label))
        .collect();
    if !reached.is_empty() && !never.is_empty() {
        out.push(format!("Never reached the criterion: {}.", never.join(", ")));
    }
    let diverged: Vec<String> = rows
        .iter()
        .filter(|r| r.diverged > 0)
        .map(|r| format!("{} (<span class=\"bad\">{} of {}</span> seeds)", code(&r.label), r.diverged, r.seeds))
        .collect();
    if diverged.is_empty() {
        if !rows.is_empty() {
            out.push("No run diverged.".to_string());
        }
    } else {
        out.push(format!("Diverged: {}.", diverged.join(", ")));
    }
    let probed: Vec<&SummaryRow> = rows.iter().filter(|r| r.verdict.is_some()).collect();
    let unhealthy: Vec<String> = probed
        .iter()
        .filter(|r| r.verdict != Some(SignalKind::Healthy))
        .map(|r| {
            let kind = r.verdict.map_or("", verdict_name);
            // The rate that decided the verdict, as the probe's own sentence names it: the one further from 1.
            let rate = match (r.verdict, r.forward_rate, r.backward_rate) {
                (Some(SignalKind::Drifting | SignalKind::Vanishing | SignalKind::Exploding), Some(f), b) => {
                    match b.filter(|b| b.ln().abs() > f.ln().abs()) {
                        Some(b) => format!(" (back-propagated gradient std ×{} per layer)", short(b)),
                        None => format!(" (activation std ×{} per layer)", short(f)),
                    }
                }
                _ => String::new(),
            };
            format!("{} <span class=\"tag {kind}\">{kind}</span>{rate}", code(&r.label))
        })
        .collect();
    if !probed.is_empty() {
        if unhealthy.is_empty() {
            out.push("Probe at initialization: signal propagation is healthy in every configuration.".to_string());
        } else {
            out.push(format!("Probe at initialization: {}.", unhealthy.join("; ")));
        }
    }
    out
}

fn summary_table(results: &ExperimentResults, rows: &[SummaryRow], cols: &Columns, out: &mut String) {
    out.push_str("<table>\n<thead><tr><th>configuration</th><th>init</th><th class=\"num\">seeds</th>");
    out.push_str("<th class=\"num\">diverged</th><th class=\"num\">final train loss</th>");
    if cols.accuracy {
        out.push_str("<th>final test accuracy</th>");
    }
    if cols.validation {
        out.push_str("<th class=\"num\">final validation bits/char</th>");
    }
    if cols.criterion {
        out.push_str("<th class=\"num\">steps to criterion</th>");
    }
    if cols.verdict {
        out.push_str("<th>probe at init</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        let c = cells(r);
        let swatch = init_color(results, &r.init);
        let _ = write!(
            out,
            "<tr><td class=\"label\">{}</td><td><span class=\"swatch\" style=\"background:{swatch}\"></span>{}</td>\
             <td class=\"num\">{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td>",
            escape(&r.label),
            escape(&r.init),
            r.seeds,
            if r.diverged > 0 { " bad" } else { "" },
            r.diverged,
            escape(&c.train_loss),
        );
        if cols.accuracy {
            let bar = r.final_test_accuracy.map_or_else(String::new, |m| {
                format!(
                    "<div class=\"bar\"><span style=\"width:{:.1}%;background:{swatch}\"></span></div>",
                    (m.mean * 100.0).clamp(0.0, 100.0)
                )
            });
            let _ = write!(out, "<td>{}{bar}</td>", escape(&c.accuracy));
        }
        if cols.validation {
            let _ = write!(out, "<td class=\"num\">{}</td>", escape(&c.validation));
        }
        if cols.criterion {
            let _ = write!(out, "<td class=\"num\">{}</td>", escape(&c.criterion));
        }
        if cols.verdict {
            match r.verdict {
                Some(k) => {
                    let name = verdict_name(k);
                    let rest = c.verdict.strip_prefix(name).unwrap_or("");
                    let _ = write!(out, "<td><span class=\"tag {name}\">{name}</span>{}</td>", escape(rest));
                }
                None => out.push_str("<td class=\"dim\">—</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn run_times(rows: &[SummaryRow], out: &mut String) {
    out.push_str("<table>\n<thead><tr><th>configuration</th><th class=\"num\">runs</th>");
    out.push_str("<th class=\"num\">per run (mean)</th><th class=\"num\">total</th></tr></thead>\n<tbody>\n");
    for r in rows {
        let per = if r.seeds > 0 { r.seconds / r.seeds as f64 } else { f64::NAN };
        let _ = writeln!(
            out,
            "<tr><td class=\"label\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&r.label),
            r.seeds,
            duration(per),
            duration(r.seconds)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Above this many configurations the summary table follows the figures.
const LONG_TABLE: usize = 15;

fn summary_section(results: &ExperimentResults, rows: &[SummaryRow], out: &mut String) {
    let cols = columns(results, rows);
    out.push_str("<h2>Summary</h2>\n");
    summary_table(results, rows, &cols, out);
    let mut note = format!(
        "Mean ± sample standard deviation over seeds. Final train loss: each run's mean over its last \
             {FINAL_LOSS_WINDOW} steps. Diverged runs are counted, and left out of the means."
    );
    if let Some(c) = results.loss_criterion {
        let _ = write!(note, " Loss criterion: {}.", short(c));
    }
    if cols.verdict {
        note.push_str(" Probe: signal propagation at initialization, by the majority of seeds.");
    }
    let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(&note));
}

/// The whole page. `figures` pairs each figure with its SVG text; `skipped` says which were left out and why.
pub(super) fn page(
    results: &ExperimentResults,
    rows: &[SummaryRow],
    figures: &[(&Figure<Plot>, String)],
    skipped: &[String],
) -> String {
    let mut out = String::with_capacity(64 * 1024 + figures.iter().map(|f| f.1.len()).sum::<usize>());
    let name = escape(&results.name);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{name} — nninit lab report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <header>\n<div class=\"kicker\">nninit lab · experiment report</div>\n<h1>{name}</h1>\n"
    );
    let seeds: std::collections::BTreeSet<u64> = results.runs.iter().map(|r| r.seed).collect();
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} runs · {} configurations · {} seeds · {} in all</p>\n</header>",
        results.runs.len(),
        rows.len(),
        seeds.len(),
        duration(results.seconds)
    );
    out.push_str("<section>\n");
    for para in results.description.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let _ = writeln!(out, "<p>{}</p>", escape(para));
    }
    if let Some(e) = results.expectation.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        let _ = writeln!(
            out,
            "<div class=\"expect\"><span class=\"label\">What the literature reports</span><p>{}</p></div>",
            escape(e)
        );
    }
    out.push_str("</section>\n");
    if results.runs.is_empty() {
        out.push_str("<h2>Results</h2>\n<p>No runs were recorded, so there is nothing to summarize or plot.</p>\n");
    } else {
        let g = glance(rows);
        if !g.is_empty() {
            out.push_str("<h2>At a glance</h2>\n<ul class=\"glance\">\n");
            for line in g {
                let _ = writeln!(out, "<li>{line}</li>");
            }
            out.push_str("</ul>\n");
        }
        // A long table would push the figures out of sight: then the figures come first.
        let table_first = rows.len() <= LONG_TABLE;
        if table_first {
            summary_section(results, rows, &mut out);
        }
        if !figures.is_empty() || !skipped.is_empty() {
            out.push_str("<h2>Figures</h2>\n");
        }
        for note in skipped {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
        }
        for (i, (fig, svg)) in figures.iter().enumerate() {
            let _ = write!(
                out,
                "<figure id=\"{stem}\">\n{svg}\n<figcaption><b>Figure {n}.</b> {caption}\
                 <span class=\"files\">{stem}.svg · {stem}.png</span></figcaption>\n</figure>\n",
                stem = escape(&fig.stem),
                n = i + 1,
                caption = escape(&fig.caption),
            );
        }
        if !table_first {
            summary_section(results, rows, &mut out);
        }
        out.push_str("<h2>Run times</h2>\n");
        run_times(rows, &mut out);
    }
    let _ = write!(
        out,
        "<footer>Written by nninit-lab. Every measured row is in <code>results.jsonl</code> (one JSON object per \
         line, tagged by <code>kind</code>; non-finite numbers as <code>null</code>); one row per configuration \
         in <code>summary.csv</code>.</footer>\n</main>\n</body>\n</html>\n"
    );
    out
}
