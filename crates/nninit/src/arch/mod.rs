//! Architectures: from a Hugging Face `config.json` (or a built-in preset)
//! to the [`Plan`] of tensors `transformers` would save.
//!
//! Names, shapes, order and tying are those of `transformers`' state dicts,
//! so `from_pretrained` on a materialized folder finds no missing or
//! unexpected keys:
//!
//! | `model_type` | classes (`architectures[0]`) | notes |
//! |---|---|---|
//! | `gpt2` | `GPT2LMHeadModel` (default), `GPT2Model` | `Conv1D` weights are `[in, out]`; `c_attn.weight` is q, k, v fused along the output axis (parts, see [`crate::plan::TensorPart`]); `lm_head.weight` is tied to `transformer.wte.weight` and not saved |
//! | `llama`, `mistral`, `qwen2`, `qwen3`, `gemma2`, `mixtral` | `*ForCausalLM` (default), `*Model` | grouped-query attention via `num_key_value_heads`; `lm_head.weight` saved unless `tie_word_embeddings`; Qwen2 has q/k/v biases, Qwen3 per-head q/k RMSNorms, Gemma 2 `1 + w` norms (initialized 0) before and after each MLP and √d-scaled embeddings, Mixtral a router and per-expert SwiGLU MLPs (see [`MAX_EXPERTS`], [`MAX_EXPERT_LAYERS`]) |
//! | `phi3` | `Phi3ForCausalLM` (default), `Phi3Model` | the Llama layout with q, k, v fused in `self_attn.qkv_proj` and gate, up in `mlp.gate_up_proj` (parts, see [`crate::plan::TensorPart`]); no biases; `lm_head.weight` saved unless `tie_word_embeddings` |
//! | `bert` | `BertForMaskedLM` (default), `BertForPreTraining`, `BertModel` | the decoder of the MLM head is tied to the word embeddings, its bias to `cls.predictions.bias` |
//! | `vit` | `ViTModel` (default, with pooler), `ViTForImageClassification` | the patch embedding is a `Conv2d` `[hidden, channels, p, p]` |
//! | `mamba` | `MambaForCausalLM` (default), `MambaModel` | `backbone.` prefix; per block `norm` and `mixer.{A_log, D, conv1d, in_proj, x_proj, dt_proj, out_proj}`; `lm_head.weight` tied to `backbone.embeddings.weight` |
//!
//! BERT defaults to `BertForMaskedLM` names (`bert.` prefix, `cls.predictions.*`):
//! that is what `bert-base-uncased`-style checkpoints hold, and
//! `BertModel.from_pretrained` loads such a folder too (it strips the
//! `bert.` prefix and ignores the head; the pooler, which `BertForMaskedLM`
//! lacks, is then newly initialized). `"architectures": ["BertForPreTraining"]`
//! gives a folder with both the pooler and the MLM head, as `bert-base-uncased` has.
//!
//! **Valid sizes.** Every size in a config must be a JSON integer (a
//! negative, fractional or non-numeric value is an
//! [`Error::InvalidModelConfig`]); a missing key takes the default of the
//! `transformers` config class. Layer counts must be 1 to [`MAX_LAYERS`],
//! every other size 1 to [`MAX_WIDTH`] ([`Error::OutOfRange`] otherwise,
//! checked before any tensor is listed); heads must divide the hidden size
//! (key/value heads the heads); and the whole model must be at most
//! [`crate::plan::MAX_PLAN_BYTES`] in the chosen dtype
//! ([`crate::plan::Plan::validate`]).
//!
//! ```
//! use nninit::arch::Model;
//! let gpt2 = Model::preset("gpt2")?;
//! let plan = gpt2.plan(nninit::DType::F32)?;
//! assert_eq!(plan.parameters(), 124_439_808);
//! assert_eq!(plan.tensors[0].name, "transformer.wte.weight");
//! # Ok::<(), nninit::Error>(())
//! ```

mod bert;
mod gpt2;
mod llama;
mod mamba;
mod presets;
mod vit;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::fan::{Fan, Layout};
use crate::plan::{Module, Plan, PlannedTensor, Role};
use crate::tensor::DType;

pub use llama::{MAX_EXPERT_LAYERS, MAX_EXPERTS};
pub use mamba::TimeStep;
pub use presets::{PRESETS, names as preset_names};

/// The architecture families nninit builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Family {
    /// GPT-2.
    Gpt2,
    /// Llama and the models sharing its layout (Mistral, Qwen2, Qwen3, Gemma 2, Mixtral, Phi-3).
    Llama,
    /// BERT.
    Bert,
    /// Vision Transformer.
    Vit,
    /// Mamba: selective state-space mixers instead of attention and MLPs.
    Mamba,
}

/// Whether the residual stack is a causal decoder or a bidirectional encoder
/// (DeepNorm's and T-Fixup's constants differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stack {
    /// Decoder-only (GPT-2, Llama).
    Decoder,
    /// Encoder-only (BERT, ViT).
    Encoder,
}

/// The sizes schemes need.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Dims {
    /// Model width d.
    pub hidden: usize,
    /// Number of residual blocks (transformer layers).
    pub layers: usize,
    /// MLP inner width.
    pub intermediate: usize,
    /// Attention heads.
    pub heads: usize,
    /// `initializer_range` of the config (the std of the `hf` scheme).
    pub initializer_range: f64,
}

/// A model: its family, sizes, class and the config it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    family: Family,
    stack: Stack,
    dims: Dims,
    model_type: String,
    model_class: String,
    config: serde_json::Value,
    kind: Kind,
}

/// The parsed config of each family.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Gpt2(gpt2::Config),
    Llama(llama::Config),
    Bert(bert::Config),
    Vit(vit::Config),
    Mamba(mamba::Config),
}

/// The `model_type` values nninit reads.
pub const MODEL_TYPES: &str = "gpt2, llama, mistral, qwen2, qwen3, gemma2, mixtral, phi3, bert, vit, mamba";

impl Model {
    /// Reads a Hugging Face `config.json`.
    ///
    /// # Errors
    /// [`Error::InvalidModelConfig`] for JSON that is not such a config or
    /// has invalid sizes, [`Error::UnknownName`] for a `model_type` nninit
    /// does not build.
    pub fn from_config_json(json: &str) -> Result<Self> {
        let config: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::InvalidModelConfig { reason: format!("not valid JSON: {e}") })?;
        Self::from_config(config)
    }

    /// Reads a Hugging Face `config.json` file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; the errors of
    /// [`Model::from_config_json`] inside an [`Error::InFile`] naming the file.
    pub fn from_config_file(path: &std::path::Path) -> Result<Self> {
        let json = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "cannot read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_config_json(&json)
            .map_err(|e| Error::InFile { what: format!("`{}`", path.display()), source: Box::new(e) })
    }

    /// Builds the model from a parsed `config.json`.
    ///
    /// # Errors
    /// As [`Model::from_config_json`].
    pub fn from_config(config: serde_json::Value) -> Result<Self> {
        let model_type = config
            .get("model_type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Error::InvalidModelConfig { reason: "no `model_type` string".into() })?
            .to_string();
        let class = match config.get("architectures") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Array(list)) => match list.first() {
                None => None,
                Some(serde_json::Value::String(c)) => Some(c.clone()),
                Some(other) => {
                    return Err(Error::InvalidModelConfig {
                        reason: format!("`architectures` must list class names (strings), not {other}"),
                    });
                }
            },
            Some(other) => {
                return Err(Error::InvalidModelConfig {
                    reason: format!("`architectures` must be a list of class names, not {other}"),
                });
            }
        };
        let (family, stack, dims, model_class, kind) = match model_type.as_str() {
            "gpt2" => {
                let c: gpt2::Config = parse(&config)?;
                let (dims, class) = c.dims_and_class(class)?;
                (Family::Gpt2, Stack::Decoder, dims, class, Kind::Gpt2(c))
            }
            "llama" | "mistral" | "qwen2" | "qwen3" | "gemma2" | "mixtral" | "phi3" => {
                let c = llama::Config::from_value(&model_type, &config)?;
                let (dims, class) = c.dims_and_class(class)?;
                (Family::Llama, Stack::Decoder, dims, class, Kind::Llama(c))
            }
            "bert" => {
                let c: bert::Config = parse(&config)?;
                let (dims, class) = c.dims_and_class(class)?;
                (Family::Bert, Stack::Encoder, dims, class, Kind::Bert(c))
            }
            "vit" => {
                let c: vit::Config = parse(&config)?;
                let (dims, class) = c.dims_and_class(class)?;
                (Family::Vit, Stack::Encoder, dims, class, Kind::Vit(c))
            }
            "mamba" => {
                let c: mamba::Config = parse(&config)?;
                let (dims, class) = c.dims_and_class(class)?;
                (Family::Mamba, Stack::Decoder, dims, class, Kind::Mamba(c))
            }
            other => {
                return Err(Error::UnknownName {
                    what: "model_type",
                    name: other.to_string(),
                    known: MODEL_TYPES.to_string(),
                });
            }
        };
        if !(dims.initializer_range.is_finite() && dims.initializer_range > 0.0) {
            return Err(Error::InvalidModelConfig {
                reason: format!("initializer_range = {} must be finite and > 0", dims.initializer_range),
            });
        }
        Ok(Self { family, stack, dims, model_type, model_class, config, kind })
    }

    /// A built-in preset (no download): see [`PRESETS`].
    ///
    /// # Errors
    /// [`Error::UnknownName`] for an unknown preset.
    pub fn preset(name: &str) -> Result<Self> {
        let json = presets::config(name)?;
        Self::from_config_json(json)
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Decoder or encoder stack.
    pub fn stack(&self) -> Stack {
        self.stack
    }

    /// The sizes.
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// The config's `model_type`.
    pub fn model_type(&self) -> &str {
        &self.model_type
    }

    /// The model class whose state-dict names the plan uses.
    pub fn model_class(&self) -> &str {
        &self.model_class
    }

    /// The factor the forward pass multiplies the token embeddings by, where
    /// the architecture has one (Gemma 2: √hidden_size): not part of the
    /// weights, recorded in each scheme's provenance of the embedding.
    pub fn embedding_multiplier(&self) -> Option<f64> {
        match &self.kind {
            Kind::Llama(c) => c.embedding_multiplier(),
            _ => None,
        }
    }

    /// The routed experts per layer of a mixture-of-experts model (Mixtral's
    /// `num_local_experts`), `None` for dense models.
    pub fn experts(&self) -> Option<usize> {
        match &self.kind {
            Kind::Llama(c) => c.expert_count(),
            _ => None,
        }
    }

    /// Mamba's time-step settings (`time_step_*` of `MambaConfig`), `None` for
    /// other families.
    pub fn time_step(&self) -> Option<TimeStep> {
        match &self.kind {
            Kind::Mamba(c) => c.time_step().ok(),
            _ => None,
        }
    }

    /// Whether transformers' `_init_weights` divides Mamba's `out_proj` by
    /// √num_hidden_layers (`rescale_prenorm_residual`, default false); `None`
    /// for other families.
    pub fn rescale_prenorm_residual(&self) -> Option<bool> {
        match &self.kind {
            Kind::Mamba(c) => Some(c.rescale_prenorm_residual()),
            _ => None,
        }
    }

    /// The config as read (a preset's full config), for writing beside the weights.
    pub fn config(&self) -> &serde_json::Value {
        &self.config
    }

    /// The tensors, in state-dict order, without rules (apply a
    /// [`crate::scheme::Scheme`] to give them rules).
    ///
    /// # Errors
    /// [`Error::InvalidModelConfig`] for sizes that do not fit together
    /// (heads not dividing the width, ...).
    pub fn plan(&self, dtype: DType) -> Result<Plan> {
        let tensors = match &self.kind {
            Kind::Gpt2(c) => c.tensors(&self.model_class)?,
            Kind::Llama(c) => c.tensors(&self.model_class)?,
            Kind::Bert(c) => c.tensors(&self.model_class)?,
            Kind::Vit(c) => c.tensors(&self.model_class)?,
            Kind::Mamba(c) => c.tensors(&self.model_class)?,
        };
        Ok(Plan {
            architecture: self.model_type.clone(),
            model_class: self.model_class.clone(),
            dtype,
            scheme: None,
            tensors,
        })
    }
}

fn parse<T: DeserializeOwned>(config: &serde_json::Value) -> Result<T> {
    T::deserialize(config).map_err(|e| Error::InvalidModelConfig { reason: e.to_string() })
}

/// The largest width a config may give: hidden, intermediate and head sizes,
/// head counts, vocabularies, positions, channels, image and patch sizes
/// (2²⁴ = 16,777,216; the largest published models use under 2¹⁸).
pub const MAX_WIDTH: usize = 1 << 24;

/// The most layers a config may give (`num_hidden_layers`, `n_layer`):
/// 4096, four times the deepest published transformer (DeepNet's 1000).
pub const MAX_LAYERS: usize = 4096;

fn in_range(name: &str, v: usize, max: usize) -> Result<usize> {
    if v == 0 {
        Err(Error::InvalidModelConfig { reason: format!("{name} must be at least 1") })
    } else if v <= max {
        Ok(v)
    } else {
        Err(Error::OutOfRange { what: format!("config `{name}`"), value: v as i128, min: 1, max: max as u64 })
    }
}

/// Checks that a width is between 1 and [`MAX_WIDTH`].
fn positive(name: &str, v: usize) -> Result<usize> {
    in_range(name, v, MAX_WIDTH)
}

/// Checks that a layer count is between 1 and [`MAX_LAYERS`].
fn depth(name: &str, v: usize) -> Result<usize> {
    in_range(name, v, MAX_LAYERS)
}

/// Picks the class from `architectures[0]`, or the default when absent.
fn pick_class(given: Option<String>, known: &[&str], model_type: &str) -> Result<String> {
    match given {
        None => Ok(known[0].to_string()),
        Some(c) if known.contains(&c.as_str()) => Ok(c),
        Some(c) => Err(Error::InvalidModelConfig {
            reason: format!("nninit builds {model_type} as {}, not `{c}`", known.join(", ")),
        }),
    }
}

/// Appends tensors in state-dict order.
#[derive(Debug, Default)]
struct Builder {
    tensors: Vec<PlannedTensor>,
    layer: Option<usize>,
    expert: Option<usize>,
}

impl Builder {
    fn push(&mut self, mut t: PlannedTensor) {
        t.layer = self.layer;
        t.expert = self.expert;
        self.tensors.push(t);
    }

    /// `nn.Linear(inp, out, bias)`: weight `[out, in]`.
    fn linear(&mut self, name: &str, out: usize, inp: usize, bias: bool, role: Role) -> Result<()> {
        let w = PlannedTensor::new(format!("{name}.weight"), vec![out, inp], Layout::Torch, role, Module::Linear)?;
        let fan = Fan::new(inp as u64, out as u64)?;
        self.push(w);
        if bias {
            let b = PlannedTensor::new(format!("{name}.bias"), vec![out], Layout::Torch, role, Module::Linear)?;
            self.push(b.bias_of(fan));
        }
        Ok(())
    }

    /// transformers' `Conv1D(nf=out, nx=inp)`: weight `[in, out]`, bias always.
    fn conv1d(&mut self, name: &str, inp: usize, out: usize, role: Role) -> Result<()> {
        let w = PlannedTensor::new(format!("{name}.weight"), vec![inp, out], Layout::Jax, role, Module::Conv1D)?;
        let b = PlannedTensor::new(format!("{name}.bias"), vec![out], Layout::Torch, role, Module::Conv1D)?;
        self.push(w);
        self.push(b.bias_of(Fan::new(inp as u64, out as u64)?));
        Ok(())
    }

    /// `nn.Conv1d(c, c, kernel_size=k, groups=c, bias)`: weight `[c, 1, k]`
    /// (fans from [`crate::fan`]: fan_in = k), Mamba's `conv1d`.
    fn conv1d_depthwise(&mut self, name: &str, channels: usize, k: usize, bias: bool) -> Result<()> {
        let (role, module) = (Role::SsmConv, Module::DepthwiseConv1d);
        let w = PlannedTensor::new(format!("{name}.weight"), vec![channels, 1, k], Layout::Torch, role, module)?;
        let fan = w.spec.fan()?;
        self.push(w);
        if bias {
            let b = PlannedTensor::new(format!("{name}.bias"), vec![channels], Layout::Torch, role, module)?;
            self.push(b.bias_of(fan));
        }
        Ok(())
    }

    /// `nn.Embedding(n, d)`: weight `[n, d]`.
    fn embedding(&mut self, name: &str, n: usize, d: usize, role: Role) -> Result<()> {
        let w = PlannedTensor::new(format!("{name}.weight"), vec![n, d], Layout::Torch, role, Module::Embedding)?;
        self.push(w);
        Ok(())
    }

    /// `nn.LayerNorm(d)`: weight and bias.
    fn layer_norm(&mut self, name: &str, d: usize) -> Result<()> {
        let module = Module::LayerNorm;
        self.push(PlannedTensor::new(format!("{name}.weight"), vec![d], Layout::Torch, Role::NormWeight, module)?);
        self.push(PlannedTensor::new(format!("{name}.bias"), vec![d], Layout::Torch, Role::NormBias, module)?);
        Ok(())
    }

    /// A weight-only norm of the given module type (`RmsNorm`, `OffsetRmsNorm`).
    fn norm(&mut self, name: &str, d: usize, module: Module) -> Result<()> {
        self.push(PlannedTensor::new(format!("{name}.weight"), vec![d], Layout::Torch, Role::NormWeight, module)?);
        Ok(())
    }

    /// Declares the listed tensor `name` fused along `axis` ([`PlannedTensor::fused`]).
    fn fuse(&mut self, name: &str, axis: usize, parts: &[(&'static str, usize, Role)]) -> Result<()> {
        let i = self
            .tensors
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| Error::InvalidPlan { reason: format!("`{name}` is fused before it is listed") })?;
        let t = self.tensors[i].clone();
        self.tensors[i] = t.fused(axis, parts)?;
        Ok(())
    }

    /// A tensor tied to `source` (not written).
    fn tied(&mut self, name: &str, source: &str) -> Result<()> {
        let s = self.tensors.iter().find(|t| t.name == source).ok_or_else(|| Error::InvalidPlan {
            reason: format!("`{name}` is tied to `{source}`, which comes later or not at all"),
        })?;
        let mut t = s.clone();
        t.name = name.to_string();
        t.tied_to = Some(source.to_string());
        t.layer = None;
        t.expert = None;
        self.tensors.push(t);
        Ok(())
    }
}

/// `a / b` when `b` divides `a`.
fn divide(what: &str, a: usize, b: usize) -> Result<usize> {
    if b == 0 || !a.is_multiple_of(b) {
        return Err(Error::InvalidModelConfig { reason: format!("{what}: {a} is not divisible by {b}") });
    }
    Ok(a / b)
}

#[cfg(test)]
mod tests;
