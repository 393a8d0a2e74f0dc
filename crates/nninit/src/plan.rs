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
use crate::tensor::{DType, Shape};

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
    /// Fused query/key/value projection (GPT-2's `c_attn`).
    AttentionQkv,
    /// Attention output projection: the last layer of the attention residual branch.
    AttentionOut,
    /// MLP up projection (first layer; `c_fc`, `up_proj`, `intermediate.dense`).
    MlpUp,
    /// MLP gate projection of a gated MLP (SwiGLU's `gate_proj`).
    MlpGate,
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
        })
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
