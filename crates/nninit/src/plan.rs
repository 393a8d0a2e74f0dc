//! Plans: the ordered list of named tensors a model is made of, with the rule
//! each one gets and why.
//!
//! A [`Plan`] is the one currency between the parts of nninit: an
//! architecture ([`crate::arch`]) lists the tensors with their roles, a
//! scheme ([`crate::scheme`]) gives each a rule and records why, sinks
//! ([`crate::io::materialize()`]) write them, and `nninit explain` prints them.
//!
//! Tensor names are the exact state-dict keys of the reference framework
//! (Hugging Face `transformers` for the built-in architectures), and the
//! order is the framework's state-dict order, which is also the order in
//! which tensors are assigned to shards.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fan::{Fan, Layout};
use crate::init::Init;
use crate::spec::TensorSpec;
use crate::stream::Philox;
use crate::tensor::{DType, Element, Shape};

/// What a tensor does in the model; schemes map roles to rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Token embedding table `[vocab, hidden]`.
    Embedding,
    /// Learned absolute position embedding.
    PositionEmbedding,
    /// BERT's token-type (segment) embedding.
    TokenTypeEmbedding,
    /// ViT's patch embedding convolution `[hidden, channels, p, p]`.
    PatchEmbedding,
    /// ViT's class token `[1, 1, hidden]`.
    ClsToken,
    /// Attention query projection.
    AttentionQuery,
    /// Attention key projection.
    AttentionKey,
    /// Attention value projection.
    AttentionValue,
    /// Fused query/key/value projection (GPT-2's `c_attn`, Phi-3's `qkv_proj`).
    AttentionQkv,
    /// Attention output projection: the last layer of the attention residual branch.
    AttentionOut,
    /// MLP up projection (first layer; `c_fc`, `up_proj`, `intermediate.dense`).
    MlpUp,
    /// MLP gate projection of a gated MLP (SwiGLU's `gate_proj`).
    MlpGate,
    /// Gate and up projections of a gated MLP fused in one matrix (Phi-3's
    /// `gate_up_proj`, `[2I, d]`: its parts are [`Role::MlpGate`] and [`Role::MlpUp`]).
    MlpGateUp,
    /// MLP down projection: the last layer of the MLP residual branch.
    MlpDown,
    /// Weight (scale) of a LayerNorm or RMSNorm.
    NormWeight,
    /// Bias (shift) of a LayerNorm.
    NormBias,
    /// A hidden Linear outside the residual stack (BERT's prediction-head
    /// transform, ViT's pooler).
    Dense,
    /// Output head (LM head, classifier).
    Head,
    /// The router of a mixture-of-experts MLP: the Linear `[experts, hidden]`
    /// that scores the experts for each token (Mixtral's `block_sparse_moe.gate`).
    Router,
    /// A state-space mixer's input projection (Mamba's `in_proj`, `[2I, d]`:
    /// x and the gate z fused along the output axis).
    MixerIn,
    /// A state-space mixer's output projection: the last layer of its
    /// residual branch (Mamba's `out_proj`).
    MixerOut,
    /// The projection to the input-dependent Δ, B and C (Mamba's `x_proj`).
    SsmProjection,
    /// The time-step projection Δ (Mamba's `dt_proj`, weight and bias).
    SsmTimeStep,
    /// The depthwise causal convolution of a state-space mixer (Mamba's `conv1d`).
    SsmConv,
    /// The log of the diagonal state matrix's negation (Mamba's `A_log`).
    SsmStateLog,
    /// The skip connection D of a state-space mixer (Mamba's `D`).
    SsmSkip,
}

impl Role {
    /// The snake_case name used in manifests and tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Embedding => "embedding",
            Self::PositionEmbedding => "position_embedding",
            Self::TokenTypeEmbedding => "token_type_embedding",
            Self::PatchEmbedding => "patch_embedding",
            Self::ClsToken => "cls_token",
            Self::AttentionQuery => "attention_query",
            Self::AttentionKey => "attention_key",
            Self::AttentionValue => "attention_value",
            Self::AttentionQkv => "attention_qkv",
            Self::AttentionOut => "attention_out",
            Self::MlpUp => "mlp_up",
            Self::MlpGate => "mlp_gate",
            Self::MlpGateUp => "mlp_gate_up",
            Self::MlpDown => "mlp_down",
            Self::NormWeight => "norm_weight",
            Self::NormBias => "norm_bias",
            Self::Dense => "dense",
            Self::Head => "head",
            Self::Router => "router",
            Self::MixerIn => "mixer_in",
            Self::MixerOut => "mixer_out",
            Self::SsmProjection => "ssm_projection",
            Self::SsmTimeStep => "ssm_time_step",
            Self::SsmConv => "ssm_conv",
            Self::SsmStateLog => "ssm_state_log",
            Self::SsmSkip => "ssm_skip",
        }
    }

    /// Whether the tensor is the last layer of a residual branch (the one
    /// depth-scaled schemes shrink).
    pub fn is_residual_output(self) -> bool {
        matches!(self, Self::AttentionOut | Self::MlpDown | Self::MixerOut)
    }

    /// Whether the role is a hidden matrix of the network: an attention projection, an MLP
    /// matrix or a plain dense layer (muP's "hidden" class; the doctor's layer-growth check).
    pub fn is_hidden_matrix(self) -> bool {
        matches!(
            self,
            Self::AttentionQuery
                | Self::AttentionKey
                | Self::AttentionValue
                | Self::AttentionQkv
                | Self::AttentionOut
                | Self::MlpUp
                | Self::MlpGate
                | Self::MlpGateUp
                | Self::MlpDown
                | Self::Dense
                | Self::MixerIn
                | Self::MixerOut
                | Self::SsmProjection
        )
    }

    /// Whether the role is an embedding-like table or token (indexed, not multiplied).
    pub fn is_embedding(self) -> bool {
        matches!(self, Self::Embedding | Self::PositionEmbedding | Self::TokenTypeEmbedding | Self::ClsToken)
    }
}

/// Whether a tensor is a module's weight or its bias (a bias takes the
/// weight's fans and, in most schemes, is zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The weight (or the only parameter).
    Weight,
    /// The additive bias of a Linear/Conv (norm biases use [`Role::NormBias`]).
    Bias,
}

/// The module type that owns a tensor, where it changes the defaults
/// (PyTorch's `reset_parameters` differs per module type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    /// `torch.nn.Linear` (`[out, in]`).
    Linear,
    /// `transformers.pytorch_utils.Conv1D` (GPT-2; `[in, out]`, own init N(0, 0.02), bias 0).
    Conv1D,
    /// `torch.nn.Conv2d`.
    Conv2d,
    /// `torch.nn.Conv1d` with one group per channel (`[channels, 1, k]`; Mamba's `conv1d`).
    DepthwiseConv1d,
    /// `torch.nn.Embedding`.
    Embedding,
    /// `torch.nn.LayerNorm`.
    LayerNorm,
    /// An RMSNorm (`LlamaRMSNorm`: weight ones).
    RmsNorm,
    /// An RMSNorm that scales by `1 + w` (`Gemma2RMSNorm`), so its weight
    /// starts at 0 for a unit scale.
    OffsetRmsNorm,
    /// A bare `nn.Parameter` created by the model (ViT's cls token and
    /// position embeddings, `torch.randn`; BERT's prediction bias, zeros).
    Parameter,
}

/// Why a tensor got its rule: the scheme, a sentence, and the numbers used.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Provenance {
    /// The scheme's name (`hf`, `torch-default`, ...).
    pub scheme: String,
    /// Why this rule, in one sentence, naming the reference code.
    pub reason: String,
    /// The numbers that went into the rule (`initializer_range`, `n_layer`, `beta`, ...).
    pub numbers: BTreeMap<String, f64>,
    /// The learning-rate multiplier the scheme prescribes (muP), where it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_multiplier: Option<f64>,
}

/// One part of a fused tensor: a range along one axis (GPT-2's `c_attn` holds
/// q, k and v side by side along its output axis), with its own role, its own
/// shape (so its own fans) and, once a scheme gives the parts different rules,
/// its own rule.
///
/// **Stream.** A part with its own rule is drawn from the stream keyed by
/// `"{tensor}#{part}"` ([`TensorPart::stream_key`]): element `j` of the part
/// (row-major in the part's own shape) depends only on (seed, that key, j), so
/// any slice of the fused tensor is generated alone and the same on every
/// machine. A tensor whose parts all get one rule is drawn whole, from the
/// stream keyed by its name, as an unfused tensor is.
///
/// ```
/// use nninit::fan::Layout;
/// use nninit::plan::{Module, PlannedTensor, Role};
/// // GPT-2's c_attn: Conv1D [in, 3·out], q, k, v along the output axis (1).
/// let t = PlannedTensor::new("c_attn.weight", vec![4, 12], Layout::Jax, Role::AttentionQkv, Module::Conv1D)?
///     .fused(1, &[("q", 4, Role::AttentionQuery), ("k", 4, Role::AttentionKey), ("v", 4, Role::AttentionValue)])?;
/// let v = &t.parts[2];
/// assert_eq!((v.start, v.len), (8, 4));
/// assert_eq!(v.spec.fan()?.fan_out(), 4); // the part's own fans, not 12
/// assert_eq!(v.stream_key(&t.name), "c_attn.weight#v");
/// // Element runs of the part inside the tensor: (tensor offset, part offset, length).
/// assert_eq!(v.runs(t.spec.shape().dims()).next(), Some((8, 0, 4)));
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TensorPart {
    /// The part's name (`q`, `k`, `v`, `gate`, `up`, ...).
    pub name: &'static str,
    /// The axis the tensor is fused along.
    pub axis: usize,
    /// Where the part starts along that axis.
    pub start: usize,
    /// Its length along that axis.
    pub len: usize,
    /// What the part does.
    pub role: Role,
    /// The part's own shape (the tensor's, with `len` on `axis`) and layout: its fans.
    pub spec: TensorSpec,
    /// The part's rule, when the scheme gives the parts different rules.
    pub init: Option<Init>,
    /// Why the part got its rule.
    pub provenance: Option<Provenance>,
}

impl TensorPart {
    /// The stream key of the part's values: `"{tensor}#{name}"`.
    pub fn stream_key(&self, tensor: &str) -> String {
        format!("{tensor}#{}", self.name)
    }

    /// The part's contiguous runs inside a tensor of shape `dims`, in order:
    /// `(offset in the tensor, offset in the part, length)`, in elements.
    pub fn runs(&self, dims: &[usize]) -> impl Iterator<Item = (u64, u64, u64)> + use<> {
        let outer: u64 = dims[..self.axis].iter().map(|&d| d as u64).product();
        let inner: u64 = dims[self.axis + 1..].iter().map(|&d| d as u64).product();
        let size = dims[self.axis] as u64;
        let (start, len) = (self.start as u64 * inner, self.len as u64 * inner);
        (0..outer).map(move |a| (a * size * inner + start, a * len, len))
    }
}

/// One named tensor of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedTensor {
    /// The state-dict key (exactly as the reference framework names it).
    pub name: String,
    /// Shape, layout and (for biases) the weight's fans.
    pub spec: TensorSpec,
    /// What the tensor does.
    pub role: Role,
    /// Weight or bias.
    pub part: Part,
    /// The owning module type.
    pub module: Module,
    /// The residual block the tensor belongs to (0-based), if any.
    pub layer: Option<usize>,
    /// The expert of a mixture-of-experts MLP the tensor belongs to (0-based), if any.
    pub expert: Option<usize>,
    /// The tensor whose values this one shares; a tied tensor is not written
    /// (as `transformers` saves tied weights: once, under the source's name).
    pub tied_to: Option<String>,
    /// The rule, once a scheme has been applied (`None` for tied tensors).
    pub init: Option<Init>,
    /// Why the rule was chosen.
    pub provenance: Option<Provenance>,
    /// The parts of a fused tensor (empty for an unfused one), in order along
    /// their axis. When they have rules, the tensor has none ([`Self::init`] is
    /// `None`) and each part is drawn with its own ([`TensorPart`]).
    pub parts: Vec<TensorPart>,
}

impl PlannedTensor {
    /// A tensor with a role and no rule yet.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] or [`Error::ShapeOverflow`] for an invalid shape.
    pub fn new(name: impl Into<String>, dims: Vec<usize>, layout: Layout, role: Role, module: Module) -> Result<Self> {
        let spec = TensorSpec::new(Shape::new(dims)?).with_layout(layout);
        Ok(Self {
            name: name.into(),
            spec,
            role,
            part: Part::Weight,
            module,
            layer: None,
            expert: None,
            tied_to: None,
            init: None,
            provenance: None,
            parts: Vec::new(),
        })
    }

    /// Declares the tensor fused along `axis` from `parts` (name, length, role),
    /// which must fill the axis exactly.
    ///
    /// # Errors
    /// [`Error::InvalidPlan`] for an axis outside the shape or lengths that do
    /// not add up to its size.
    pub fn fused(mut self, axis: usize, parts: &[(&'static str, usize, Role)]) -> Result<Self> {
        let dims = self.spec.shape().dims().to_vec();
        let total: usize = parts.iter().map(|p| p.1).sum();
        if axis >= dims.len() || total != dims[axis] || parts.iter().any(|p| p.1 == 0) {
            return Err(Error::InvalidPlan {
                reason: format!("`{}` {:?}: parts of lengths {:?} do not fill axis {axis}", self.name, dims, parts),
            });
        }
        let mut start = 0;
        for &(name, len, role) in parts {
            let mut d = dims.clone();
            d[axis] = len;
            let spec = TensorSpec::new(Shape::new(d)?).with_layout(self.spec.layout().clone());
            self.parts.push(TensorPart { name, axis, start, len, role, spec, init: None, provenance: None });
            start += len;
        }
        Ok(self)
    }

    /// Whether the tensor is drawn part by part (its parts have rules of their own).
    pub fn has_part_rules(&self) -> bool {
        !self.parts.is_empty() && self.parts.iter().all(|p| p.init.is_some())
    }

    /// Whether any slice of the tensor is generated alone (every rule involved is element-wise).
    pub fn is_elementwise(&self) -> bool {
        match &self.init {
            Some(init) => init.is_elementwise(),
            None => self.parts.iter().all(|p| p.init.is_some_and(|i| i.is_elementwise())),
        }
    }

    /// Fills `out` with the flattened elements `first..first + out.len()` of the
    /// tensor drawn with `seed`: its rule from the stream keyed by its name, or
    /// each part's rule from the part's stream ([`TensorPart`]).
    ///
    /// # Errors
    /// [`Error::InvalidPlan`] when the tensor has no rule; the rules' fill errors.
    pub fn fill_slice<E: Element>(&self, seed: u64, first: u64, out: &mut [E]) -> Result<()> {
        if let Some(init) = &self.init {
            return init.fill_slice(&self.spec, &Philox::new(seed, &self.name), first, out);
        }
        if !self.has_part_rules() {
            return Err(Error::InvalidPlan { reason: format!("`{}` has no rule", self.name) });
        }
        let end = first + out.len() as u64;
        let dims = self.spec.shape().dims();
        for p in &self.parts {
            let init = p.init.as_ref().expect("checked: every part has a rule");
            let stream = Philox::new(seed, &p.stream_key(&self.name));
            let mut whole: Option<Vec<E>> = None;
            for (at, from, len) in p.runs(dims) {
                let (lo, hi) = (at.max(first), (at + len).min(end));
                if at >= end {
                    break;
                }
                if lo >= hi {
                    continue;
                }
                let dst = &mut out[(lo - first) as usize..(hi - first) as usize];
                let part_first = from + (lo - at);
                if init.is_elementwise() {
                    init.fill_slice(&p.spec, &stream, part_first, dst)?;
                } else {
                    if whole.is_none() {
                        let mut w = vec![E::default(); p.spec.numel() as usize];
                        init.fill(&p.spec, &stream, &mut w)?;
                        whole = Some(w);
                    }
                    let w = whole.as_ref().expect("just filled");
                    dst.copy_from_slice(&w[part_first as usize..part_first as usize + dst.len()]);
                }
            }
        }
        Ok(())
    }

    /// Marks the tensor as the bias of a module whose weight has fans `fan`.
    #[must_use]
    pub fn bias_of(mut self, fan: Fan) -> Self {
        self.part = Part::Bias;
        self.spec = self.spec.with_fan(fan);
        self
    }

    /// Ties the tensor to `source` (it is not written).
    #[must_use]
    pub fn tied(mut self, source: impl Into<String>) -> Self {
        self.tied_to = Some(source.into());
        self
    }

    /// The number of elements.
    pub fn numel(&self) -> u64 {
        self.spec.numel()
    }

    /// The size in bytes in `dtype`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] if it exceeds [`MAX_PLAN_BYTES`].
    pub fn bytes(&self, dtype: DType) -> Result<u64> {
        self.numel().checked_mul(dtype.size() as u64).filter(|&b| b <= MAX_PLAN_BYTES).ok_or_else(|| {
            Error::OutOfRange {
                what: format!("the byte size of `{}` {} in {dtype}", self.name, self.spec.shape()),
                value: i128::from(self.numel()) * dtype.size() as i128,
                min: 1,
                max: MAX_PLAN_BYTES,
            }
        })
    }

    /// Whether the tensor is written to files (not tied to another).
    pub fn is_stored(&self) -> bool {
        self.tied_to.is_none()
    }
}

/// The serialized form of a [`PlannedTensor`].
#[derive(Serialize)]
struct TensorView<'a> {
    name: &'a str,
    shape: &'a [usize],
    layout: &'a Layout,
    #[serde(skip_serializing_if = "Option::is_none")]
    fan_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fan_out: Option<u64>,
    role: Role,
    part: Part,
    module: Module,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expert: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tied_to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<&'a Init>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<&'a Provenance>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parts: Vec<PartView<'a>>,
}

/// The serialized form of a [`TensorPart`].
#[derive(Serialize)]
pub(crate) struct PartView<'a> {
    name: &'static str,
    axis: usize,
    start: usize,
    len: usize,
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    fan_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fan_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<&'a Init>,
    #[serde(skip_serializing_if = "Option::is_none")]
    std: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<&'a Provenance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_key: Option<String>,
}

impl<'a> PartView<'a> {
    /// The view of `p`, a part of the tensor `tensor`.
    pub(crate) fn of(tensor: &str, p: &'a TensorPart) -> Self {
        let fan = p.spec.fan().ok();
        Self {
            name: p.name,
            axis: p.axis,
            start: p.start,
            len: p.len,
            role: p.role,
            fan_in: fan.map(|f| f.fan_in()),
            fan_out: fan.map(|f| f.fan_out()),
            init: p.init.as_ref(),
            std: p.init.as_ref().and_then(|i| i.explain(&p.spec).ok()).and_then(|x| x.std),
            provenance: p.provenance.as_ref(),
            stream_key: p.init.is_some().then(|| p.stream_key(tensor)),
        }
    }
}

impl Serialize for PlannedTensor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let fan = self.spec.fan().ok();
        TensorView {
            name: &self.name,
            shape: self.spec.shape().dims(),
            layout: self.spec.layout(),
            fan_in: fan.map(|f| f.fan_in()),
            fan_out: fan.map(|f| f.fan_out()),
            role: self.role,
            part: self.part,
            module: self.module,
            layer: self.layer,
            expert: self.expert,
            tied_to: self.tied_to.as_deref(),
            init: self.init.as_ref(),
            provenance: self.provenance.as_ref(),
            // Parts are listed where they carry rules of their own (a tensor drawn whole serializes as before).
            parts: if self.has_part_rules() {
                self.parts.iter().map(|p| PartView::of(&self.name, p)).collect()
            } else {
                Vec::new()
            },
        }
        .serialize(serializer)
    }
}

/// The largest plan, in bytes (2⁵⁰ = 1 PiB, a thousand times a 405 B-parameter
/// model in bf16): larger plans are refused by [`Plan::validate`], so every
/// byte offset into a plan's files fits a `u64` with room to spare.
pub const MAX_PLAN_BYTES: u64 = 1 << 50;

/// A model's tensors in state-dict order, with the dtype they are written in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// The architecture's name (`gpt2`, `llama`, `bert`, `vit`, ...).
    pub architecture: String,
    /// The `architectures` entry of the config (`GPT2LMHeadModel`, ...).
    pub model_class: String,
    /// The element type every tensor is written in.
    pub dtype: DType,
    /// The scheme applied, once one has been.
    pub scheme: Option<String>,
    /// The tensors, in state-dict order.
    pub tensors: Vec<PlannedTensor>,
}

impl Plan {
    /// The tensors that are written (not tied), in order.
    pub fn stored(&self) -> impl Iterator<Item = &PlannedTensor> {
        self.tensors.iter().filter(|t| t.is_stored())
    }

    /// The number of distinct parameters (tied tensors counted once;
    /// saturating, exact for every plan [`Plan::validate`] accepts).
    pub fn parameters(&self) -> u64 {
        self.stored().fold(0u64, |n, t| n.saturating_add(t.numel()))
    }

    /// The size in bytes of the stored tensors in [`Plan::dtype`]
    /// (saturating, exact for every plan [`Plan::validate`] accepts).
    pub fn bytes(&self) -> u64 {
        self.parameters().saturating_mul(self.dtype.size() as u64)
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&PlannedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Checks the plan: unique names, tied tensors point at stored tensors
    /// of the same shape, every stored tensor has a rule that accepts it,
    /// and the stored tensors' bytes add up to at most [`MAX_PLAN_BYTES`].
    ///
    /// # Errors
    /// [`Error::InvalidPlan`] for the first problem found; the rule's own
    /// shape errors; [`Error::OutOfRange`] for a plan larger than
    /// [`MAX_PLAN_BYTES`].
    pub fn validate(&self) -> Result<()> {
        let mut total = 0u64;
        for t in self.stored() {
            total = total.saturating_add(t.bytes(self.dtype)?);
        }
        if total > MAX_PLAN_BYTES {
            return Err(Error::OutOfRange {
                what: format!("the byte size of plan `{}`", self.architecture),
                value: i128::from(total),
                min: 1,
                max: MAX_PLAN_BYTES,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.tensors {
            if !seen.insert(t.name.as_str()) {
                return Err(Error::InvalidPlan { reason: format!("tensor `{}` appears twice", t.name) });
            }
        }
        for t in &self.tensors {
            match (&t.tied_to, &t.init) {
                (Some(source), _) => {
                    let s = self.get(source).filter(|s| s.is_stored()).ok_or_else(|| Error::InvalidPlan {
                        reason: format!("`{}` is tied to `{source}`, which is not a stored tensor", t.name),
                    })?;
                    if s.spec.shape() != t.spec.shape() {
                        return Err(Error::InvalidPlan {
                            reason: format!(
                                "`{}` {} is tied to `{source}` of another shape {}",
                                t.name,
                                t.spec.shape(),
                                s.spec.shape()
                            ),
                        });
                    }
                }
                (None, Some(init)) => init.check(&t.spec)?,
                (None, None) if t.has_part_rules() => {
                    for p in &t.parts {
                        p.init.as_ref().map_or(Ok(()), |i| i.check(&p.spec))?;
                    }
                }
                (None, None) => {
                    return Err(Error::InvalidPlan { reason: format!("`{}` has no rule: apply a scheme", t.name) });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::{Normal, Orthogonal, Uniform};

    /// A fused tensor with a rule per part: every slice equals the same elements of
    /// the whole, and each part equals its rule drawn alone on the part's shape from
    /// the stream `name#part`, whatever the axis (rows of a Torch `[2I, d]` gate/up
    /// projection, columns of a Conv1D `[d, 3d]`) and whether the rule is
    /// element-wise or structured.
    #[test]
    fn parts_draw_their_own_rules_from_their_own_streams_in_any_slice() {
        let gate_up =
            PlannedTensor::new("mlp.gate_up_proj.weight", vec![6, 4], Layout::Torch, Role::MlpUp, Module::Linear)
                .unwrap()
                .fused(0, &[("gate", 2, Role::MlpGate), ("up", 4, Role::MlpUp)])
                .unwrap();
        let qkv = PlannedTensor::new("attn.c_attn.weight", vec![4, 9], Layout::Jax, Role::AttentionQkv, Module::Conv1D)
            .unwrap()
            .fused(1, &[("q", 3, Role::AttentionQuery), ("k", 3, Role::AttentionKey), ("v", 3, Role::AttentionValue)])
            .unwrap();
        let rules = [
            Init::Normal(Normal::new(0.0, 1.0).unwrap()),
            Init::Uniform(Uniform::new(5.0, 6.0).unwrap()),
            Init::Orthogonal(Orthogonal::new(1.0).unwrap()),
        ];
        for mut t in [gate_up, qkv] {
            assert!(!t.has_part_rules());
            assert!(t.fill_slice(1, 0, &mut vec![0.0f32; t.numel() as usize]).is_err(), "no rule yet");
            for (p, r) in t.parts.iter_mut().zip(rules.iter().cycle()) {
                p.init = Some(*r);
            }
            assert!(t.has_part_rules());
            let n = t.numel() as usize;
            let mut whole = vec![0.0f64; n];
            t.fill_slice(42, 0, &mut whole).unwrap();
            for start in 0..n {
                for len in [1, 3, n - start] {
                    let len = len.min(n - start);
                    let mut part = vec![0.0f64; len];
                    t.fill_slice(42, start as u64, &mut part).unwrap();
                    assert_eq!(part, whole[start..start + len], "{} {start}+{len}", t.name);
                }
            }
            let dims = t.spec.shape().dims().to_vec();
            for p in &t.parts {
                let mut alone = vec![0.0f64; p.spec.numel() as usize];
                p.init.unwrap().fill(&p.spec, &Philox::new(42, &p.stream_key(&t.name)), &mut alone).unwrap();
                let mut gathered = Vec::new();
                for (at, from, len) in p.runs(&dims) {
                    assert_eq!(from as usize, gathered.len());
                    gathered.extend_from_slice(&whole[at as usize..(at + len) as usize]);
                }
                assert_eq!(gathered, alone, "{} part {}", t.name, p.name);
            }
        }
    }

    #[test]
    fn parts_must_fill_their_axis() {
        let t = PlannedTensor::new("w", vec![6, 4], Layout::Torch, Role::MlpUp, Module::Linear).unwrap();
        assert!(t.clone().fused(0, &[("a", 2, Role::MlpGate), ("b", 3, Role::MlpUp)]).is_err());
        assert!(t.clone().fused(2, &[("a", 6, Role::MlpGate)]).is_err());
        assert!(t.clone().fused(0, &[("a", 6, Role::MlpGate), ("b", 0, Role::MlpUp)]).is_err());
        assert_eq!(
            t.fused(1, &[("a", 1, Role::MlpGate), ("b", 3, Role::MlpUp)]).unwrap().parts[1]
                .spec
                .fan()
                .unwrap()
                .fan_in(),
            3
        );
    }

    #[test]
    fn validate_reports_missing_rules_duplicates_and_bad_ties() {
        let w = PlannedTensor::new("w", vec![4, 3], Layout::Torch, Role::Dense, Module::Linear).unwrap();
        let mut plan = Plan {
            architecture: "test".into(),
            model_class: "Test".into(),
            dtype: DType::F32,
            scheme: None,
            tensors: vec![w.clone()],
        };
        assert!(matches!(plan.validate(), Err(Error::InvalidPlan { .. })));
        plan.tensors[0].init = Some(Init::Zeros);
        plan.validate().unwrap();
        plan.tensors.push(w.clone().tied("nope"));
        assert!(plan.validate().unwrap_err().to_string().contains("appears twice"));
        plan.tensors[1].name = "head".into();
        assert!(plan.validate().unwrap_err().to_string().contains("not a stored tensor"));
        plan.tensors[1].tied_to = Some("w".into());
        plan.validate().unwrap();
        assert_eq!(plan.parameters(), 12);
        assert_eq!(plan.bytes(), 48);
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["tensors"][0]["fan_in"], 3);
        assert_eq!(json["tensors"][1]["tied_to"], "w");
    }
}
