//! Llama and the models that share its layout: Mistral, Qwen2
//! (`transformers.LlamaForCausalLM`, `MistralForCausalLM`, `Qwen2ForCausalLM`
//! and their `*Model` backbones).

use serde::Deserialize;

use super::{Builder, Dims, depth, divide, pick_class, positive};
use crate::error::{Error, Result};
use crate::plan::{PlannedTensor, Role};

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
}

/// A resolved Llama-family config.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Config {
    model_type: String,
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
}

impl Config {
    pub(super) fn from_value(model_type: &str, value: &serde_json::Value) -> Result<Self> {
        let raw: Raw = super::parse(value)?;
        // (vocab, hidden, intermediate, layers, heads, kv heads or heads, tie) of LlamaConfig,
        // MistralConfig and Qwen2Config.
        let (vocab, hidden, intermediate, layers, heads, kv, tie) = match model_type {
            "mistral" => (32000, 4096, 14336, 32, 32, Some(8), false),
            "qwen2" => (151_936, 4096, 22016, 32, 32, Some(32), false),
            _ => (32000, 4096, 11008, 32, 32, None, false),
        };
        let hidden = positive("hidden_size", raw.hidden_size.unwrap_or(hidden))?;
        let heads = positive("num_attention_heads", raw.num_attention_heads.unwrap_or(heads))?;
        let kv_heads = positive("num_key_value_heads", raw.num_key_value_heads.or(kv).unwrap_or(heads))?;
        let head_dim = match raw.head_dim {
            Some(h) => positive("head_dim", h)?,
            None => divide("hidden_size / num_attention_heads", hidden, heads)?,
        };
        divide("num_attention_heads / num_key_value_heads", heads, kv_heads)?;
        let attention_bias = raw.attention_bias.unwrap_or(false);
        // Qwen2Attention always has q/k/v biases and no o_proj bias.
        let qwen = model_type == "qwen2";
        let config = Self {
            model_type: model_type.to_string(),
            vocab: positive("vocab_size", raw.vocab_size.unwrap_or(vocab))?,
            hidden,
            intermediate: positive("intermediate_size", raw.intermediate_size.unwrap_or(intermediate))?,
            layers: depth("num_hidden_layers", raw.num_hidden_layers.unwrap_or(layers))?,
            heads,
            kv_heads,
            head_dim,
            initializer_range: raw.initializer_range.unwrap_or(0.02),
            tie: raw.tie_word_embeddings.unwrap_or(tie),
            qkv_bias: qwen || (model_type == "llama" && attention_bias),
            o_bias: model_type == "llama" && attention_bias,
            mlp_bias: model_type == "llama" && raw.mlp_bias.unwrap_or(false),
        };
        if config.model_type == "mistral" && attention_bias {
            return Err(Error::InvalidModelConfig { reason: "Mistral has no attention biases".into() });
        }
        Ok(config)
    }

    fn classes(&self) -> [String; 2] {
        let stem = match self.model_type.as_str() {
            "mistral" => "Mistral",
            "qwen2" => "Qwen2",
            _ => "Llama",
        };
        [format!("{stem}ForCausalLM"), format!("{stem}Model")]
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

    pub(super) fn tensors(&self, class: &str) -> Result<Vec<PlannedTensor>> {
        let causal = class.ends_with("ForCausalLM");
        let p = if causal { "model." } else { "" };
        let (d, q, kv, ff) =
            (self.hidden, self.heads * self.head_dim, self.kv_heads * self.head_dim, self.intermediate);
        let mut b = Builder::default();
        b.embedding(&format!("{p}embed_tokens"), self.vocab, d, Role::Embedding)?;
        for i in 0..self.layers {
            b.layer = Some(i);
            let l = format!("{p}layers.{i}");
            b.linear(&format!("{l}.self_attn.q_proj"), q, d, self.qkv_bias, Role::AttentionQuery)?;
            b.linear(&format!("{l}.self_attn.k_proj"), kv, d, self.qkv_bias, Role::AttentionKey)?;
            b.linear(&format!("{l}.self_attn.v_proj"), kv, d, self.qkv_bias, Role::AttentionValue)?;
            b.linear(&format!("{l}.self_attn.o_proj"), d, q, self.o_bias, Role::AttentionOut)?;
            b.linear(&format!("{l}.mlp.gate_proj"), ff, d, self.mlp_bias, Role::MlpGate)?;
            b.linear(&format!("{l}.mlp.up_proj"), ff, d, self.mlp_bias, Role::MlpUp)?;
            b.linear(&format!("{l}.mlp.down_proj"), d, ff, self.mlp_bias, Role::MlpDown)?;
            b.rms_norm(&format!("{l}.input_layernorm"), d)?;
            b.rms_norm(&format!("{l}.post_attention_layernorm"), d)?;
        }
        b.layer = None;
        b.rms_norm(&format!("{p}norm"), d)?;
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
