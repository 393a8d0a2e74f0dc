//! The lab's typed errors.

use std::path::PathBuf;

/// Everything that can go wrong in the lab, with the details a user needs to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// nninit rejected a rule or a parameter.
    #[error(transparent)]
    Init(#[from] nninit::Error),
    /// A dataset could not be loaded.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// The report could not be written.
    #[cfg(feature = "report")]
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// An experiment file is not valid.
    #[error("experiment {source_name}: {reason}")]
    Experiment {
        /// The experiment's name or file.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// A count or size outside its documented range (see [`crate::limits`]).
    #[error("{what}: {name} = {value} is out of range (valid: {valid})")]
    OutOfRange {
        /// Where the value came from: the experiment or the command.
        what: String,
        /// The value's name.
        name: &'static str,
        /// The value given.
        value: String,
        /// The valid range.
        valid: String,
    },
    /// A model configuration the lab cannot build.
    #[error("model: {reason}")]
    Model {
        /// What is wrong.
        reason: String,
    },
    /// An initialization that does not fit the model's residual block form (for example
    /// `fixup` on a plain stack).
    #[error("init `{init}` needs residual = {needs}, not residual = \"{residual}\"")]
    InitForModel {
        /// The initialization's rule name.
        init: String,
        /// The model's block form.
        residual: &'static str,
        /// The block forms it fits.
        needs: String,
    },
    /// Shards of an experiment that cannot be joined, or a shard that cannot be run.
    #[error("shards: {reason}")]
    Shard {
        /// What is wrong.
        reason: String,
    },
    /// The backend asked for is not compiled in or not available.
    #[error("backend `{name}`: {reason}")]
    Backend {
        /// The backend's name.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// nninit-burn refused to initialize the network (a rule that refuses a layer's shape).
    #[cfg(feature = "burn")]
    #[error(transparent)]
    Burn(#[from] nninit_burn::Error),
}

/// The lab's result type.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
