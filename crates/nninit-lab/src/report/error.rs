//! What can go wrong while writing or reading a report.

use std::path::PathBuf;

/// What went wrong while writing a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A file or folder could not be created, written or renamed.
    #[error("cannot write `{}`", path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file could not be written, synced or renamed into place.
    #[error(transparent)]
    File(#[from] nninit::Error),
    /// A figure could not be drawn or encoded.
    #[error("cannot draw figure `{figure}`: {reason}")]
    Plot {
        /// The figure's file stem.
        figure: String,
        /// What plotters reported.
        reason: String,
    },
    /// Rows could not be serialized.
    #[error("cannot serialize {what}")]
    Json {
        /// What was being serialized.
        what: String,
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// The bundled font could not be loaded.
    #[error("the bundled font is invalid")]
    Font,
    /// A results file could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A line of a results file is not a row the lab writes.
    #[error("`{}` line {line}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}
