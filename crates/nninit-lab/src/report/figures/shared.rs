//! What every figure shares: the figure's frame, series colors and names, axis ranges, file names and the
//! notes on values left out.

use std::collections::BTreeSet;

use crate::record::ExperimentResults;
use crate::report::summary::ConfigRuns;

/// One figure: file stem, HTML heading and caption, pixel size, and the data to draw.
#[derive(Debug)]
pub(in crate::report) struct Figure<P> {
    /// File stem, unique within the report (`loss-relu-d20`).
    pub stem: String,
    /// The heading above it in the HTML and the title drawn in the image.
    pub title: String,
    /// What the figure shows and what to look for, plus notes on values left out.
    pub caption: String,
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// The data.
    pub plot: P,
}

impl<P> Figure<P> {
    /// The same figure with its data wrapped (into [`super::Plot`]).
    pub(super) fn map<Q>(self, wrap: impl FnOnce(P) -> Q) -> Figure<Q> {
        Figure { stem: self.stem, title: self.title, caption: self.caption, size: self.size, plot: wrap(self.plot) }
    }
}

/// A series' legend text and palette index.
#[derive(Clone, Debug)]
pub(in crate::report) struct Key {
    pub name: String,
    pub color: usize,
}

/// Colors follow the initialization across all figures; names are the init, or the label where a group has
/// several configurations with the same init.
pub(super) struct Palette {
    /// Every init, in order of first appearance: its index is its color.
    pub(super) inits: Vec<String>,
}

impl Palette {
    pub(super) fn new(results: &ExperimentResults) -> Self {
        let mut inits: Vec<String> = Vec::new();
        for r in &results.runs {
            if !inits.contains(&r.config.init) {
                inits.push(r.config.init.clone());
            }
        }
        Self { inits }
    }

    pub(super) fn keys(&self, configs: &[&ConfigRuns<'_>]) -> Vec<Key> {
        let unique = configs.iter().map(|c| &c.config.init).collect::<BTreeSet<_>>().len() == configs.len();
        configs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if unique {
                    let color = self.inits.iter().position(|x| *x == c.config.init).unwrap_or(i);
                    Key { name: c.config.init.clone(), color }
                } else {
                    Key { name: c.config.label.clone(), color: i }
                }
            })
            .collect()
    }
}

/// Lowercase ASCII letters, digits and dashes, for file names.
pub(super) fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches(['-', '.']).to_string();
    if out.is_empty() { "x".to_string() } else { out }
}

/// Widens a positive range outward to whole decades, for a log axis with readable ticks.
pub(super) fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let lo = 10f64.powf(lo.log10().floor());
    let mut hi = 10f64.powf(hi.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    // A hair wider, so the end decades get their tick labels despite rounding.
    (lo * 0.999, hi * 1.001)
}

pub(super) fn positive_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().filter(|v| v.is_finite() && *v > 0.0).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Notes on what was left out or clamped, appended to a caption.
#[derive(Default)]
pub(super) struct Notes(Vec<String>);

impl Notes {
    /// Adds `n one` or `n many`, then `rest`.
    pub(super) fn add(&mut self, n: usize, (one, many): (&str, &str), rest: &str) {
        if n > 0 {
            self.0.push(format!("{}{rest}", plural(n, one, many)));
        }
    }

    pub(super) fn append_to(self, caption: &mut String) {
        if !self.0.is_empty() {
            caption.push_str(&format!(" Not shown: {}.", self.0.join("; ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_makes_file_names() {
        assert_eq!(slug("relu-d20/He Normal"), "relu-d20-he-normal");
        assert_eq!(slug("N(0,1)"), "n-0-1");
        assert_eq!(slug("///"), "x");
    }

    #[test]
    fn decades_round_outward() {
        let close = |a: (f64, f64), b: (f64, f64)| (a.0 / b.0 - 1.0).abs() < 0.01 && (a.1 / b.1 - 1.0).abs() < 0.01;
        assert!(close(decades(0.05, 2.4), (0.01, 10.0)));
        assert!(close(decades(1.0, 1.0), (1.0, 10.0)));
    }
}
