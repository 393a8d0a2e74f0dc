//! Llama and the decoders that share its layout: Mistral, Qwen2, Qwen3,
//! Gemma 2, Mixtral and Phi-3 (`transformers.LlamaForCausalLM`,
//! `MistralForCausalLM`, `Qwen2ForCausalLM`, `Qwen3ForCausalLM`,
//! `Gemma2ForCausalLM`, `MixtralForCausalLM`, `Phi3ForCausalLM` and their
//! `*Model` backbones).
//!
//! What differs between them, as `transformers` 5.24 builds them:
//!
//! | `model_type` | attention biases | extra norms | MLP |
//! |---|---|---|---|
//! | `llama` | `attention_bias` (q, k, v, o), `mlp_bias` | | SwiGLU |
//! | `mistral` | none | | SwiGLU |
//! | `qwen2` | q, k, v always, o never | | SwiGLU |
//! | `qwen3` | `attention_bias` (q, k, v, o) | `self_attn.q_norm`, `k_norm` (RMSNorm over `head_dim`) | SwiGLU |
//! | `gemma2` | `attention_bias` (q, k, v, o) | `pre_feedforward_layernorm`, `post_feedforward_layernorm`; every norm computes `x·(1 + w)`, so `w` starts at 0 | GeGLU |
//! | `mixtral` | none | | router `block_sparse_moe.gate` `[E, d]`; per expert `j`, `block_sparse_moe.experts.j.w1` (gate), `w3` (up) `[I, d]` and `w2` (down) `[d, I]` |
//! | `phi3` | none; q, k, v fused in `self_attn.qkv_proj` `[(H + 2·H_kv)·head_dim, d]` (q rows first, then k, then v) | | SwiGLU with gate and up fused in `mlp.gate_up_proj` `[2I, d]` (gate rows first: `chunk(2, dim=-1)`) |
//!
//! Phi-3's fused projections are declared with their parts
//! ([`crate::plan::TensorPart`]: `q`, `k`, `v` and `gate`, `up` along the
//! output axis 0), so every scheme rules each part with its own role and
//! fans. Its attention registers `o_proj` before `qkv_proj`, and the state
//! dict (so the plan) keeps that order.
//!
//! Mixtral's names are those `save_pretrained` writes: transformers 5.24
//! holds the experts fused in memory (`mlp.experts.gate_up_proj`
//! `[E, 2I, d]`, `mlp.experts.down_proj` `[E, d, I]`, router `mlp.gate`)
//! and converts them back to the per-expert checkpoint names on saving and
//! from them on loading (`conversion_mapping.py`, `"mixtral"`), so the
//! folder nninit writes is what a 5.24 checkpoint holds.
//!
//! Gemma 2 multiplies its embeddings by √hidden_size in the forward pass
//! (`Gemma2Model.forward`, `normalizer`); [`Config::embedding_multiplier`]
//! reports it so schemes can record it.

use serde::Deserialize;

use super::{Builder, Dims, depth, divide, pick_class, positive};
use crate::error::{Error, Result};
use crate::plan::{Module, PlannedTensor, Role};

/// The most experts per layer a config may give (`num_local_experts`): 4096,
/// sixteen times the largest published router (256 routed experts).
pub const MAX_EXPERTS: usize = 4096;

/// The most expert MLPs a whole model may have (layers × experts): 2¹⁶, four
/// times DeepSeek-V3's 61 × 256. Checked before any tensor is listed.
pub const MAX_EXPERT_LAYERS: usize = 1 << 16;

/// The fields that shape the weights; unset ones take the defaults of the
/// `model_type`'s config class.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
struct Raw {
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    initializer_range: Option<f64>,
    tie_word_embeddings: Option<bool>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    num_local_experts: Option<usize>,
    num_experts_per_tok: Option<usize>,
}

/// Which of the family's models a config is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Llama,
    Mistral,
    Qwen2,
    Qwen3,
    Gemma2,
    Mixtral,
    Phi3,
}

impl Variant {
    fn of(model_type: &str) -> Self {
        match model_type {
            "mistral" => Self::Mistral,
            "qwen2" => Self::Qwen2,
            "qwen3" => Self::Qwen3,
            "gemma2" => Self::Gemma2,
            "mixtral" => Self::Mixtral,
            "phi3" => Self::Phi3,
            _ => Self::Llama,
        }
    }

    fn stem(self) -> &'static str {
        match self {
            Self::Llama => "Llama",
            Self::Mistral => "Mistral",
            Self::Qwen2 => "Qwen2",
            Self::Qwen3 => "Qwen3",
            Self::Gemma2 => "Gemma2",
            Self::Mixtral => "Mixtral",
            Self::Phi3 => "Phi3",
        }
    }

    /// (vocab, hidden, intermediate, layers, heads, kv heads, head_dim, tie) of the config class.
    #[allow(clippy::type_complexity)]
    fn defaults(self) -> (usize, usize, usize, usize, usize, Option<usize>, Option<usize>, bool) {
        match self {
            Self::Llama => (32000, 4096, 11008, 32, 32, None, None, false),
            Self::Mistral => (32000, 4096, 14336, 32, 32, Some(8), None, false),
            Self::Qwen2 => (151_936, 4096, 22016, 32, 32, Some(32), None, false),
            Self::Qwen3 => (151_936, 4096, 22016, 32, 32, Some(32), Some(128), false),
            Self::Gemma2 => (256_000, 2304, 9216, 26, 8, Some(4), Some(256), true),
            Self::Mixtral => (32000, 4096, 14336, 32, 32, Some(8), None, false),
            Self::Phi3 => (32064, 3072, 8192, 32, 32, None, None, false),
        }
    }
}

/// A mixture-of-experts MLP's sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Experts {
    count: usize,
}

/// A resolved Llama-family config.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Config {
    model_type: String,
    variant: Variant,
    vocab: usize,
    hidden: usize,
    intermediate: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    initializer_range: f64,
    tie: bool,
    qkv_bias: bool,
    o_bias: bool,
    mlp_bias: bool,
    experts: Option<Experts>,
}

impl Config {
    pub(super) fn from_value(model_type: &str, value: &serde_json::Value) -> Result<Self> {
        let raw: Raw = super::parse(value)?;
        let variant = Variant::of(model_type);
        let (vocab, hidden, intermediate, layers, heads, kv, head_dim, tie) = variant.defaults();
        let hidden = positive("hidden_size", raw.hidden_size.unwrap_or(hidden))?;
        let heads = positive("num_attention_heads", raw.num_attention_heads.unwrap_or(heads))?;
        let kv_heads = positive("num_key_value_heads", raw.num_key_value_heads.or(kv).unwrap_or(heads))?;
        let head_dim = match raw.head_dim.or(head_dim) {
            Some(h) => positive("head_dim", h)?,
            None => divide("hidden_size / num_attention_heads", hidden, heads)?,
        };
        divide("num_attention_heads / num_key_value_heads", heads, kv_heads)?;
        let layers = depth("num_hidden_layers", raw.num_hidden_layers.unwrap_or(layers))?;
        let attention_bias = raw.attention_bias.unwrap_or(false);
        let experts = match variant {
            Variant::Mixtral => Some(Self::experts(&raw, layers)?),
            _ => None,
        };
        // Qwen2Attention always has q/k/v biases and no o_proj bias; Mistral, Mixtral and Phi-3 have
        // none; Llama, Qwen3 and Gemma 2 put `attention_bias` on all four projections.
        let (qkv_bias, o_bias) = match variant {
            Variant::Qwen2 => (true, false),
            Variant::Mistral | Variant::Mixtral | Variant::Phi3 => (false, false),
            Variant::Llama | Variant::Qwen3 | Variant::Gemma2 => (attention_bias, attention_bias),
        };
        if matches!(variant, Variant::Mistral | Variant::Mixtral | Variant::Phi3) && attention_bias {
            return Err(Error::InvalidModelConfig { reason: format!("{} has no attention biases", variant.stem()) });
        }
        Ok(Self {
            model_type: model_type.to_string(),
            variant,
            vocab: positive("vocab_size", raw.vocab_size.unwrap_or(vocab))?,
            hidden,
            intermediate: positive("intermediate_size", raw.intermediate_size.unwrap_or(intermediate))?,
            layers,
            heads,
            kv_heads,
            head_dim,
            initializer_range: raw.initializer_range.unwrap_or(0.02),
            tie: raw.tie_word_embeddings.unwrap_or(tie),
            qkv_bias,
            o_bias,
            mlp_bias: variant == Variant::Llama && raw.mlp_bias.unwrap_or(false),
            experts,
        })
    }

    /// The experts per layer, checked (alone, against the routed count, and
    /// times the layers) before anything is allocated.
    fn experts(raw: &Raw, layers: usize) -> Result<Experts> {
        let count = super::in_range("num_local_experts", raw.num_local_experts.unwrap_or(8), MAX_EXPERTS)?;
        let top_k = positive("num_experts_per_tok", raw.num_experts_per_tok.unwrap_or(2))?;
        if top_k > count {
            return Err(Error::InvalidModelConfig {
                reason: format!("num_experts_per_tok = {top_k} is more than num_local_experts = {count}"),
            });
        }
        let total = layers.saturating_mul(count);
        if total > MAX_EXPERT_LAYERS {
            return Err(Error::OutOfRange {
                what: "config `num_hidden_layers × num_local_experts`".into(),
                value: total as i128,
                min: 1,
                max: MAX_EXPERT_LAYERS as u64,
            });
        }
        Ok(Experts { count })
    }

    fn classes(&self) -> [String; 2] {
        let stem = self.variant.stem();
        [format!("{stem}ForCausalLM"), format!("{stem}Model")]
    }

    /// The factor the forward pass multiplies the token embeddings by
    /// (Gemma 2: √hidden_size, in the activations' dtype), if any.
    pub(super) fn embedding_multiplier(&self) -> Option<f64> {
        (self.variant == Variant::Gemma2).then(|| (self.hidden as f64).sqrt())
    }

    /// The number of routed experts per layer, for mixture-of-experts models.
    pub(super) fn expert_count(&self) -> Option<usize> {
        self.experts.map(|e| e.count)
    }

    pub(super) fn dims_and_class(&self, class: Option<String>) -> Result<(Dims, String)> {
        let classes = self.classes();
        let known = [classes[0].as_str(), classes[1].as_str()];
        let class = pick_class(class, &known, &self.model_type)?;
        let dims = Dims {
            hidden: self.hidden,
            layers: self.layers,
            intermediate: self.intermediate,
            heads: self.heads,
            initializer_range: self.initializer_range,
        };
        Ok((dims, class))
    }

    /// The module type of every RMSNorm of the model.
    fn norm_module(&self) -> Module {
        match self.variant {
            Variant::Gemma2 => Module::OffsetRmsNorm,
            _ => Module::RmsNorm,
        }
    }

    pub(super) fn tensors(&self, class: &str) -> Result<Vec<PlannedTensor>> {
        let causal = class.ends_with("ForCausalLM");
        let p = if causal { "model." } else { "" };
        let (d, q, kv, ff) =
            (self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.intermediate);
        let norm = self.norm_module();
        let mut b = Builder::default();
        b.embedding(&format!("{p}embed_tokens"), self.vocab, d, Role::Embedding)?;
        for i in 0..self.layers {
            b.layer = Some(i);
            let l = format!("{p}layers.{i}");
            if self.variant == Variant::Phi3 {
                // Phi3Attention registers o_proj first; qkv_proj holds q, k, v along its rows.
                b.linear(&format!("{l}.self_attn.o_proj"), d, q, false, Role::AttentionOut)?;
                let qkv = format!("{l}.self_attn.qkv_proj");
                b.linear(&qkv, q + 2 * kv, d, false, Role::AttentionQkv)?;
                let parts =
                    [("q", q, Role::AttentionQuery), ("k", kv, Role::AttentionKey), ("v", kv, Role::AttentionValue)];
                b.fuse(&format!("{qkv}.weight"), 0, &parts)?;
            } else {
                b.linear(&format!("{l}.self_attn.q_proj"), q, d, self.qkv_bias, Role::AttentionQuery)?;
                b.linear(&format!("{l}.self_attn.k_proj"), kv, d, self.qkv_bias, Role::AttentionKey)?;
                b.linear(&format!("{l}.self_attn.v_proj"), kv, d, self.qkv_bias, Role::AttentionValue)?;
                b.linear(&format!("{l}.self_attn.o_proj"), d, q, self.o_bias, Role::AttentionOut)?;
            }
            if self.variant == Variant::Qwen3 {
                b.norm(&format!("{l}.self_attn.q_norm"), self.head_dim, norm)?;
                b.norm(&format!("{l}.self_attn.k_norm"), self.head_dim, norm)?;
            }
            match self.experts {
                None if self.variant == Variant::Phi3 => {
                    // Phi3MLP: gate_up_proj(x).chunk(2, dim=-1) gives gate, then up.
                    let gate_up = format!("{l}.mlp.gate_up_proj");
                    b.linear(&gate_up, 2 * ff, d, false, Role::MlpGateUp)?;
                    b.fuse(&format!("{gate_up}.weight"), 0, &[("gate", ff, Role::MlpGate), ("up", ff, Role::MlpUp)])?;
                    b.linear(&format!("{l}.mlp.down_proj"), d, ff, false, Role::MlpDown)?;
                }
                None => {
                    b.linear(&format!("{l}.mlp.gate_proj"), ff, d, self.mlp_bias, Role::MlpGate)?;
                    b.linear(&format!("{l}.mlp.up_proj"), ff, d, self.mlp_bias, Role::MlpUp)?;
                    b.linear(&format!("{l}.mlp.down_proj"), d, ff, self.mlp_bias, Role::MlpDown)?;
                }
                Some(e) => {
                    let moe = format!("{l}.block_sparse_moe");
                    b.linear(&format!("{moe}.gate"), e.count, d, false, Role::Router)?;
                    for j in 0..e.count {
                        b.expert = Some(j);
                        b.linear(&format!("{moe}.experts.{j}.w1"), ff, d, false, Role::MlpGate)?;
                        b.linear(&format!("{moe}.experts.{j}.w2"), d, ff, false, Role::MlpDown)?;
                        b.linear(&format!("{moe}.experts.{j}.w3"), ff, d, false, Role::MlpUp)?;
                    }
                    b.expert = None;
                }
            }
            b.norm(&format!("{l}.input_layernorm"), d, norm)?;
            b.norm(&format!("{l}.post_attention_layernorm"), d, norm)?;
            if self.variant == Variant::Gemma2 {
                b.norm(&format!("{l}.pre_feedforward_layernorm"), d, norm)?;
                b.norm(&format!("{l}.post_feedforward_layernorm"), d, norm)?;
            }
        }
        b.layer = None;
        b.norm(&format!("{p}norm"), d, norm)?;
        if causal {
            if self.tie {
                b.tied("lm_head.weight", "model.embed_tokens.weight")?;
                if let Some(head) = b.tensors.last_mut() {
                    head.role = Role::Head;
                }
            } else {
                b.linear("lm_head", self.vocab, d, false, Role::Head)?;
            }
        }
        Ok(b.tensors)
    }
}
