//! Rendering any figure to SVG or PNG with the bundled font, turning a panic inside plotters into an error,
//! and writing a single figure file atomically.

use std::path::Path;

use nninit::io::AtomicFile;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::error::ReportError;

/// The bundled font, so figures need no system font (DejaVu Sans, which covers σ, ², ξ, ±). It is the only
/// copy in the binary: every figure nninit draws, the lab's and `nninit theory --plot`'s, registers it here.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font under `sans-serif`; registering again is harmless.
pub(super) fn register_font() -> Result<(), ReportError> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| ReportError::Font)
}

/// Something that draws itself on any plotters backend.
pub(super) trait Drawable {
    /// The file stem or name errors call it by.
    fn name(&self) -> &str;
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws on `root`; the error is what plotters reported.
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// A figure file's format, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FigureFormat {
    /// Scalable vector graphics (`.svg`).
    Svg,
    /// A bitmap (`.png`).
    Png,
}

impl FigureFormat {
    /// The format of `path` by its extension (either case), if it is `.svg` or `.png`.
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Some(Self::Svg),
            Some("png") => Some(Self::Png),
            _ => None,
        }
    }
}

/// Runs a drawing step, turning a panic inside plotters into an error: a report must never take the lab down.
fn guarded<T>(figure: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, ReportError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(reason)) => Err(ReportError::Plot { figure: figure.to_string(), reason }),
        Err(_) => Err(ReportError::Plot { figure: figure.to_string(), reason: "the plotting library panicked".into() }),
    }
}

/// The figure as an SVG document.
pub(super) fn render_svg(fig: &impl Drawable) -> Result<String, ReportError> {
    register_font()?;
    guarded(fig.name(), || {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, fig.size()).into_drawing_area();
            fig.draw_on(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    })
}

/// The figure as a PNG file at `path` (the encoder is chosen by its extension).
pub(super) fn render_png(fig: &impl Drawable, path: &Path) -> Result<(), ReportError> {
    register_font()?;
    guarded(fig.name(), || {
        let root = BitMapBackend::new(path, fig.size()).into_drawing_area();
        fig.draw_on(&root)?;
        root.present().map_err(|e| e.to_string())
    })
}

/// Writes `fig` into `path` as SVG or PNG by its extension, under a temporary name renamed at the end.
///
/// # Errors
///
/// [`ReportError::Plot`] for an extension other than `.svg`/`.png` or a figure that cannot be drawn,
/// [`ReportError::File`] when the file cannot be written.
pub(super) fn write_figure(fig: &impl Drawable, path: &Path) -> Result<(), ReportError> {
    match FigureFormat::of(path) {
        Some(FigureFormat::Svg) => {
            let svg = render_svg(fig)?;
            Ok(AtomicFile::write(path, svg.as_bytes())?)
        }
        Some(FigureFormat::Png) => {
            let file = AtomicFile::create_for_path_writer(path)?;
            render_png(fig, file.temporary_path())?;
            Ok(file.commit()?)
        }
        None => Err(ReportError::Plot {
            figure: path.display().to_string(),
            reason: "give a .svg or .png file".to_string(),
        }),
    }
}
