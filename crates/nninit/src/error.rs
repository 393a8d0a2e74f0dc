//! The library's error type.
//!
//! Every fallible function in nninit returns [`Error`]. Variants carry the
//! offending values in named fields, and their messages are lowercase without a
//! trailing period, so the CLI can print them as `nninit: <message>`.

use std::path::PathBuf;

/// Everything that can go wrong in nninit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A numeric parameter is outside its valid range (NaN, infinite, negative, ...).
    #[error("invalid {name} = {value}: must be {expected}")]
    InvalidParameter {
        /// The parameter's name as the user wrote it (`std`, `gain`, `sparsity`, ...).
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// What the value must be, e.g. `finite and > 0`.
        expected: &'static str,
    },
    /// A rule whose values can exceed what the element type holds (they would be infinite).
    #[error(
        "{init} can draw values up to {magnitude:e}, beyond the largest finite {dtype} ({max:e}): use a wider type or a smaller scale"
    )]
    Unrepresentable {
        /// The rule's name.
        init: &'static str,
        /// The largest magnitude the rule can draw: its bound, or |mean| + 9·std where unbounded.
        magnitude: f64,
        /// The element type asked for.
        dtype: crate::tensor::DType,
        /// The largest finite value of that type.
        max: f64,
    },
    /// An interval whose lower end is not below its upper end.
    #[error("invalid interval [{low}, {high}]: {what} needs low < high, both finite")]
    InvalidInterval {
        /// Which interval (`uniform`, `truncation bounds`, `hardtanh`).
        what: &'static str,
        /// The lower end.
        low: f64,
        /// The upper end.
        high: f64,
    },
    /// An activation name nninit does not know.
    #[error("unknown activation `{name}` (known: {known})")]
    UnknownActivation {
        /// The name given.
        name: String,
        /// A comma-separated list of the known names.
        known: &'static str,
    },
    /// An activation was given a parameter it does not take.
    #[error("activation `{name}` takes no parameter, got {value}")]
    UnexpectedParameter {
        /// The activation's name.
        name: &'static str,
        /// The parameter given.
        value: f64,
    },
    /// An initializer name nninit does not know.
    #[error("unknown initializer `{name}` (known: {known})")]
    UnknownInit {
        /// The name given.
        name: String,
        /// A comma-separated list of the known names.
        known: &'static str,
    },
    /// A shape with a zero-sized dimension.
    #[error("shape {shape:?} has a zero dimension; every dimension must be at least 1")]
    ZeroDimension {
        /// The shape.
        shape: Vec<usize>,
    },
    /// A shape whose element count overflows.
    #[error("shape {shape:?} has more elements than fit in 64 bits")]
    ShapeOverflow {
        /// The shape.
        shape: Vec<usize>,
    },
    /// Fans cannot be computed from a tensor of this rank without explicit fans.
    #[error(
        "cannot compute fans of a rank-{rank} tensor (shape {shape:?}): give the fans explicitly (a bias takes its weight's fans)"
    )]
    RankTooSmall {
        /// The tensor's rank.
        rank: usize,
        /// The tensor's shape.
        shape: Vec<usize>,
    },
    /// A layout names an axis the tensor does not have, or names one axis twice.
    #[error("layout axis {axis} is invalid for a rank-{rank} tensor: {reason}")]
    InvalidAxis {
        /// The axis.
        axis: usize,
        /// The tensor's rank.
        rank: usize,
        /// Why the axis is invalid.
        reason: &'static str,
    },
    /// The number of groups does not divide a channel dimension.
    #[error("groups = {groups} does not divide the {what} dimension of size {size}")]
    GroupsMismatch {
        /// The number of groups.
        groups: usize,
        /// Which dimension (`output channels`, `input channels`).
        what: &'static str,
        /// That dimension's size.
        size: usize,
    },
    /// An initializer that works only on certain shapes was given another.
    #[error("{init} cannot initialize shape {shape:?}: {reason}")]
    UnsupportedShape {
        /// The initializer's name.
        init: &'static str,
        /// The shape given.
        shape: Vec<usize>,
        /// What the initializer needs.
        reason: String,
    },
    /// A buffer's length does not match the tensor it should hold.
    #[error("buffer holds {got} elements, expected {expected}")]
    LengthMismatch {
        /// The expected number of elements.
        expected: u64,
        /// The buffer's length.
        got: u64,
    },
    /// A slice range outside the tensor or reversed.
    #[error("slice {start}:{end} is invalid for a tensor of {len} elements")]
    InvalidSlice {
        /// First element of the slice.
        start: u64,
        /// One past the last element.
        end: u64,
        /// The tensor's number of elements.
        len: u64,
    },
    /// A part of a tensor asked of a sequential stream (PyTorch's generator),
    /// which gives PyTorch's values only for whole tensors filled in order.
    #[error("{stream} is sequential: it fills whole tensors, not elements {start}..{end} of {len}")]
    SequentialStream {
        /// The stream.
        stream: &'static str,
        /// First element asked for.
        start: u64,
        /// One past the last element asked for.
        end: u64,
        /// The tensor's number of elements.
        len: u64,
    },
    /// An element type a stream does not reproduce (PyTorch's generator: only
    /// `f32` and `f64`).
    #[error("{stream} reproduces f32 and f64 tensors only, not {dtype}")]
    StreamDType {
        /// The stream.
        stream: &'static str,
        /// The element type asked for.
        dtype: &'static str,
    },
    /// A stream used while it is already drawing (a rule that fills from
    /// inside its own draw on a sequential stream).
    #[error("{stream} is already drawing: fill one tensor at a time")]
    StreamBusy {
        /// The stream.
        stream: &'static str,
    },
    /// A file format or extension nninit cannot write or read.
    #[error("unsupported file `{path}`: {reason}")]
    UnsupportedFile {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An I/O error on a path.
    #[error("{action} `{path}`")]
    Io {
        /// What was being done (`cannot write`, `cannot rename`, ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error inside a file or another input, named by `what` (a config file's path in
    /// backquotes, `the config.json beside the weights`).
    #[error("in {what}")]
    InFile {
        /// Where the error is.
        what: String,
        /// The error.
        source: Box<Error>,
    },
    /// A configuration (JSON) that does not describe a valid initializer.
    #[error("invalid initializer config: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A plan that cannot be materialized (duplicate names, a tie to a
    /// missing tensor, a tensor without a rule).
    #[error("invalid plan: {reason}")]
    InvalidPlan {
        /// What is wrong.
        reason: String,
    },
    /// A model configuration (`config.json`) nninit cannot build a model from.
    #[error("invalid model config: {reason}")]
    InvalidModelConfig {
        /// What is wrong.
        reason: String,
    },
    /// A name (preset, scheme, architecture) nninit does not know.
    #[error("unknown {what} `{name}` (known: {known})")]
    UnknownName {
        /// What kind of name (`preset`, `scheme`, `model_type`).
        what: &'static str,
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A scheme that cannot be applied to an architecture as it is built.
    #[error("scheme `{scheme}` cannot initialize `{tensor}`: {reason}")]
    UnsupportedScheme {
        /// The scheme.
        scheme: &'static str,
        /// The tensor.
        tensor: String,
        /// Why.
        reason: String,
    },
    /// A checkpoint file (`.safetensors` or its index) that is damaged or
    /// does not describe its own contents truthfully.
    #[error("damaged checkpoint `{path}`: {damage}")]
    DamagedFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        damage: Damage,
    },
    // Limits on user-controlled counts and sizes (doctor, materialize, architectures).
    /// A count or size a user controls (a shape's element count, a shard size, a layer count,
    /// doctor iterations, ...) outside its documented range.
    #[error("{what} = {value} is out of range: must be between {min} and {max}")]
    OutOfRange {
        /// What the number is (`num_hidden_layers`, `--iterations`, `elements of shape [..]`).
        what: String,
        /// The rejected value (wide enough for negative and overflowing values).
        value: i128,
        /// The smallest valid value.
        min: u64,
        /// The largest valid value.
        max: u64,
    },
    // Adapter init (PiSSA, OLoRA) from a base checkpoint.
    /// A tensor that must be factored holds NaN or infinite values.
    #[error("tensor `{tensor}` holds {count} non-finite values (NaN or ±inf): it cannot be factored")]
    NonFiniteTensor {
        /// The tensor's name.
        tensor: String,
        /// How many of its values are not finite.
        count: u64,
    },
    /// An iterative factorization that did not converge.
    #[error("the {what} of `{tensor}` did not converge")]
    NoConvergence {
        /// The factorization (`SVD`).
        what: &'static str,
        /// The tensor's name.
        tensor: String,
    },
}

/// What is wrong with a damaged `.safetensors` file or index
/// ([`Error::DamagedFile`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// Shorter than the 8-byte header length.
    #[error("{len} bytes is too short for a safetensors file (at least 8)")]
    TooShort {
        /// The file's length.
        len: u64,
    },
    /// A header length above the cap (a corrupt length or a hostile file).
    #[error("header of {header_len} bytes is larger than the {max}-byte limit")]
    HeaderTooLarge {
        /// The header length the file states.
        header_len: u64,
        /// The limit.
        max: u64,
    },
    /// A header that runs past the end of the file (a truncated file).
    #[error("header of {header_len} bytes runs past the end of the {file_len}-byte file (truncated?)")]
    HeaderPastEnd {
        /// The header length the file states.
        header_len: u64,
        /// The file's length.
        file_len: u64,
    },
    /// A header (or index) that is not the JSON it should be.
    #[error("invalid JSON header: {reason}")]
    InvalidJson {
        /// The parser's message or what is missing.
        reason: String,
    },
    /// A tensor entry without a valid `dtype`, `shape` or `data_offsets`.
    #[error("tensor `{tensor}`: {reason}")]
    InvalidEntry {
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// A dtype the safetensors format does not define.
    #[error("tensor `{tensor}` has unknown dtype `{dtype}`")]
    UnknownDtype {
        /// The tensor's name.
        tensor: String,
        /// The dtype string.
        dtype: String,
    },
    /// Data offsets outside the data section (or reversed).
    #[error("tensor `{tensor}` data_offsets [{begin}, {end}] lie outside the {data_len}-byte data section")]
    OffsetsOutOfRange {
        /// The tensor's name.
        tensor: String,
        /// First byte (relative to the data section).
        begin: u64,
        /// One past the last byte.
        end: u64,
        /// The data section's length.
        data_len: u64,
    },
    /// A byte range whose length is not the shape's element count times the dtype's size.
    #[error("tensor `{tensor}` holds {got} bytes but its shape and dtype need {expected}")]
    SizeMismatch {
        /// The tensor's name.
        tensor: String,
        /// numel · dtype size.
        expected: u64,
        /// end − begin.
        got: u64,
    },
    /// Two tensors whose byte ranges overlap.
    #[error("tensors `{first}` and `{second}` overlap in the data section")]
    Overlap {
        /// The tensor that starts first.
        first: String,
        /// The tensor that starts inside it.
        second: String,
    },
    /// An index (`model.safetensors.index.json`) that does not match its shards.
    #[error("{reason}")]
    InvalidIndex {
        /// What is wrong.
        reason: String,
    },
}

/// Shorthand for `Result<T, nninit::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter { name, value, expected: "finite and > 0" })
    }
}

/// Checks that `value` is finite and not negative.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter { name, value, expected: "finite and >= 0" })
    }
}

/// Checks that `mean ± 9·spread` stays finite, so every sample a
/// distribution can draw (the streams never exceed 9σ) is a finite `f64`.
pub(crate) fn finite_spread(name: &'static str, mean: f64, spread: f64) -> Result<f64> {
    if (mean.abs() + 9.0 * spread).is_finite() {
        Ok(spread)
    } else {
        Err(Error::InvalidParameter { name, value: spread, expected: "small enough that mean ± 9·std is finite" })
    }
}

/// Checks that `value` is finite.
pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() { Ok(value) } else { Err(Error::InvalidParameter { name, value, expected: "finite" }) }
}

/// Checks that `low < high` with both finite.
pub(crate) fn interval(what: &'static str, low: f64, high: f64) -> Result<(f64, f64)> {
    if low.is_finite() && high.is_finite() && low < high {
        Ok((low, high))
    } else {
        Err(Error::InvalidInterval { what, low, high })
    }
}
