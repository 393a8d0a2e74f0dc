//! The one error type of the data module.

use std::path::PathBuf;

/// What can go wrong while finding, fetching, reading or checking a dataset.
///
/// Every variant names the file (or tool) involved and the offending values, so that the
/// message alone says what to fix. Readers return these errors; they never panic on input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A dataset file is not where it should be.
    #[error("{path}: not found; {hint}")]
    Missing {
        /// The file that was looked for (without the optional `.gz`).
        path: PathBuf,
        /// How to get it, e.g. "run `nninit data fetch mnist` or scripts/fetch-data.sh".
        hint: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `.gz` file is not valid gzip data.
    #[error("{path}: not valid gzip data")]
    BadGzip {
        /// The compressed file.
        path: PathBuf,
        /// What the decompressor said.
        source: std::io::Error,
    },
    /// A file ends before its header says it should.
    #[error("{path}: truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The (decompressed) file.
        path: PathBuf,
        /// Bytes the header promises (or the header's own length).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A file holds more bytes than its header accounts for.
    #[error("{path}: {found} bytes, but the header accounts for {expected}")]
    TrailingData {
        /// The (decompressed) file.
        path: PathBuf,
        /// Bytes the header accounts for.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// An IDX file starts with the wrong magic number.
    #[error("{path}: bad IDX magic {found:#010x}, expected {expected:#010x}")]
    BadMagic {
        /// The (decompressed) file.
        path: PathBuf,
        /// `0x00000803` for images, `0x00000801` for labels.
        expected: u32,
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// Images have a size other than the dataset's.
    #[error("{path}: images are {found_rows}x{found_cols}, expected {expected_rows}x{expected_cols}")]
    BadShape {
        /// The image file.
        path: PathBuf,
        /// Expected rows per image.
        expected_rows: usize,
        /// Expected columns per image.
        expected_cols: usize,
        /// Rows per image in the file.
        found_rows: usize,
        /// Columns per image in the file.
        found_cols: usize,
    },
    /// An image file and its label file disagree on the number of examples.
    #[error("{images} holds {images_n} images but {labels} holds {labels_n} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Images in it.
        images_n: usize,
        /// The label file.
        labels: PathBuf,
        /// Labels in it.
        labels_n: usize,
    },
    /// A file's content does not have the pinned sha256 (computed on the decompressed bytes).
    #[error("{path}: sha256 {found} does not match the pinned {expected}; delete it and fetch again")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The pinned hash, lowercase hex.
        expected: String,
        /// The hash of what was read, lowercase hex.
        found: String,
    },
    /// A CSV line does not have the digits format (64 pixels 0-16, then the label).
    #[error("{path}:{line}: {reason}")]
    BadCsv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// A label is not below the number of classes.
    #[error("{path}: label {label} of example {index} is out of range (classes: {classes})")]
    LabelOutOfRange {
        /// The label (or CSV) file.
        path: PathBuf,
        /// 0-based example index.
        index: usize,
        /// The label found.
        label: u64,
        /// The number of classes.
        classes: usize,
    },
    /// A dataset name that is not `digits`, `mnist` or `fashion-mnist`.
    #[error("unknown dataset `{name}` (expected one of: digits, mnist, fashion-mnist)")]
    UnknownDataset {
        /// The name given.
        name: String,
    },
    /// A name that `nninit data fetch` does not know ([`Fetchable`](super::Fetchable)).
    #[error("unknown dataset `{name}` (expected one of: {expected})")]
    UnknownFetchable {
        /// The name given.
        name: String,
        /// The names that can be fetched, comma-separated.
        expected: String,
    },
    /// An unpacked package holds a different number of the files a corpus is made of.
    #[error("{dir}: {found} files ending in `{suffix}`, expected {expected}")]
    FileCount {
        /// The folder searched.
        dir: PathBuf,
        /// The ending of the file names counted.
        suffix: String,
        /// Files pinned.
        expected: usize,
        /// Files found.
        found: usize,
    },
    /// An external tool that fetching needs is not installed.
    #[error("`{tool}` not found on PATH; {hint}")]
    ToolMissing {
        /// The program, e.g. `npm`.
        tool: String,
        /// What to do instead.
        hint: String,
    },
    /// An external tool ran but failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    ToolFailed {
        /// The command line that was run.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines of its standard error.
        stderr: String,
    },
    /// Writing a file through nninit's atomic writer failed.
    #[error("{path}: {source}")]
    Write {
        /// The destination.
        path: PathBuf,
        /// What the writer said.
        source: nninit::Error,
    },
    /// A text is unusable as a character-level corpus, or a symbol or id is outside its vocabulary.
    #[error("text: {reason}")]
    BadText {
        /// What is wrong.
        reason: String,
    },
    /// A window request that a text split cannot serve.
    #[error("text windows of batch {batch} x context {context}: {reason}")]
    BadWindow {
        /// Windows requested.
        batch: usize,
        /// Symbols per window requested.
        context: usize,
        /// What is wrong.
        reason: String,
    },
}
