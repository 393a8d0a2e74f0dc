//! What can go wrong when candle asks nninit for a tensor.

/// An error of the [`PlanBackend`](crate::PlanBackend) or [`save_safetensors`](crate::save_safetensors).
/// Every variant that is about one tensor names it by its `VarBuilder` path
/// (`model.layers.0.self_attn.q_proj.weight`).
///
/// Inside candle (a model's `load` calling `VarBuilder::get`) these arrive as a
/// [`candle_core::Error`] whose message is this error's ([`From`] below); the backend also
/// lists them in [`PlanBackend::refused`](crate::PlanBackend::refused), since some candle
/// models try one path, catch the error and try another.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// candle asked for a tensor the plan does not have: the model is another architecture
    /// (or another class: `BertModel` against a `BertForMaskedLM` plan) than the config the
    /// plan was built from, or names its tensors differently.
    #[error("nninit: the {model_class} plan has no tensor `{name}`")]
    UnknownTensor {
        /// The path candle asked for.
        name: String,
        /// The plan's model class (`LlamaForCausalLM`, ...).
        model_class: String,
    },
    /// candle asked for a tensor in another shape than the plan's (the candle config and the
    /// nninit config disagree).
    #[error("nninit: candle asks for `{name}` as {requested:?}, but the plan gives {planned:?}")]
    Shape {
        /// The tensor's path.
        name: String,
        /// The shape candle asked for.
        requested: Vec<usize>,
        /// The shape the plan gives it (transposed for a `Conv1D` weight served as
        /// [`Conv1dLayout::OutIn`](crate::Conv1dLayout::OutIn)).
        planned: Vec<usize>,
    },
    /// candle asked for an element type nninit does not draw (it fills f32, f64, bf16, f16).
    #[error("nninit: `{name}` is asked for as {dtype:?}; nninit fills f32, f64, bf16 and f16")]
    DType {
        /// The tensor's path (or the tensor being saved).
        name: String,
        /// The element type asked for.
        dtype: candle_core::DType,
    },
    /// nninit refused: a bad config or scheme, a plan that does not validate, a tensor too large
    /// to build in memory, a rule that refuses its tensor.
    #[error("nninit: {what}: {source}")]
    Nninit {
        /// What was being done (`tensor model.embed_tokens.weight`, `the config`, ...).
        what: String,
        /// nninit's error (boxed: it is large).
        source: Box<nninit::Error>,
    },
    /// The memory for a tensor could not be allocated.
    #[error("nninit: cannot allocate {bytes} bytes for `{name}`")]
    Alloc {
        /// The tensor's path.
        name: String,
        /// The bytes asked for.
        bytes: u64,
    },
    /// candle refused (placing the filled buffer on a device, reading a tensor to save it).
    #[error("nninit: candle refused `{name}`: {source}")]
    Candle {
        /// The tensor's path.
        name: String,
        /// candle's error.
        source: candle_core::Error,
    },
}

impl Error {
    /// An [`Error::Nninit`] about `what`.
    pub(crate) fn nninit(what: impl Into<String>, source: nninit::Error) -> Self {
        Self::Nninit { what: what.into(), source: Box::new(source) }
    }
}

/// candle's error carrying this one's message, so `Llama::load(vb, &cfg)?` reports it.
impl From<Error> for candle_core::Error {
    fn from(e: Error) -> Self {
        candle_core::Error::wrap(e)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
