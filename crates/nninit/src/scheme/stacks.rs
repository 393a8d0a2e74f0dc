//! The schemes of today's training stacks and of the depth- and
//! spectrum-aware parametrizations: torchtitan, OLMo-core, nanoGPT,
//! the spectral condition, depth-μP and CompleteP.
//!
//! Each function follows one reference file, named in its reason strings and
//! in `docs/schemes.md`.

use super::{Rule, normal, trunc_normal_torch, trunc3, zero_bias};
use crate::arch::{Family, Model};
use crate::error::{Error, Result};
use crate::init::{Init, TruncatedNormal, Truncation};
use crate::plan::{Module, Part, PlannedTensor, Role};

/// How a depth-scaled output std depends on depth: torchtitan's `depth_init`
/// and OLMo-core's `llama_depth` use the layer index, the others the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Depth {
    /// std / √(2·(layer_id + 1)).
    PerLayer,
    /// std / √(2·n_layers).
    Total,
}

impl Depth {
    /// The divisor √(2·(i+1)) or √(2·L) of the tensor's block, with the numbers it used.
    fn divisor(self, model: &Model, t: &PlannedTensor) -> (f64, &'static str, f64) {
        match self {
            Self::PerLayer => {
                let i = t.layer.unwrap_or(0) as f64;
                ((2.0 * (i + 1.0)).sqrt(), "layer_id", i)
            }
            Self::Total => {
                let l = model.dims().layers as f64;
                ((2.0 * l).sqrt(), "n_layers", l)
            }
        }
    }

    fn formula(self) -> &'static str {
        match self {
            Self::PerLayer => "/√(2·(layer_id+1))",
            Self::Total => "/√(2·n_layers)",
        }
    }
}

/// Schemes written for the Llama layout (q/k/v/o and a gated w1/w2/w3 MLP)
/// refuse other families rather than guess which of their tensors is which.
fn llama_only(scheme: &'static str, model: &Model, t: &PlannedTensor) -> Result<()> {
    if model.family() == Family::Llama {
        return Ok(());
    }
    Err(Error::UnsupportedScheme {
        scheme,
        tensor: t.name.clone(),
        reason: format!(
            "its reference code initializes the Llama layout (wq, wk, wv, wo, a gated w1/w2/w3 MLP); `{}` is not a \
             Llama-family model",
            model.model_type()
        ),
    })
}

/// torchtitan's Llama 3 init (`torchtitan/models/llama3/model/model.py`,
/// `Transformer.init_weights`, `TransformerBlock`, `Attention.init_weights`,
/// `FeedForward.init_weights`; MoE: `torchtitan/models/moe/moe.py`).
pub(super) fn torchtitan(depth: Depth, model: &Model, t: &PlannedTensor) -> Result<Rule> {
    let name = match depth {
        Depth::PerLayer => "torchtitan",
        Depth::Total => "torchtitan-no-depth",
    };
    llama_only(name, model, t)?;
    if t.part == Part::Bias {
        let mut r = super::torch_default(t)?;
        r.reason = format!("torchtitan's init_weights leaves Linear biases at their default: {}", r.reason);
        return Ok(r);
    }
    let base = 0.02;
    let (div, what, v) = depth.divisor(model, t);
    let init_std = base / div;
    let depth_rule = |role: &str| -> Result<Rule> {
        Ok(Rule::new(
            trunc_normal_torch(init_std)?,
            format!(
                "torchtitan {role}: trunc_normal_(std=0.02{}) with PyTorch's absolute bounds ±2 (untruncated at this \
                 std)",
                depth.formula()
            ),
        )
        .num(what, v)
        .num("std", init_std))
    };
    let fixed = |role: &str| -> Result<Rule> {
        Ok(Rule::new(
            trunc_normal_torch(base)?,
            format!("torchtitan {role}: trunc_normal_(std=0.02), absolute bounds ±2 (untruncated)"),
        )
        .num("std", base))
    };
    match t.role {
        Role::Embedding => {
            Ok(Rule::new(normal(1.0)?, "torchtitan Transformer.init_weights: tok_embeddings normal_(0, 1)"))
        }
        Role::AttentionQuery | Role::AttentionKey | Role::AttentionValue | Role::AttentionQkv => {
            fixed("Attention.init_weights wq, wk, wv")
        }
        Role::MlpGate => fixed("FeedForward.init_weights w1"),
        Role::AttentionOut => depth_rule("Attention.init_weights wo"),
        Role::MlpUp | Role::MlpDown => depth_rule("FeedForward.init_weights w2, w3"),
        Role::Router => depth_rule("TokenChoiceTopKRouter.init_weights gate"),
        Role::Head => {
            let std = (model.dims().hidden as f64).powf(-0.5);
            let trunc = Truncation::Absolute { low: -3.0 * std, high: 3.0 * std };
            Ok(Rule::new(
                Init::TruncatedNormal(TruncatedNormal::new(0.0, std, trunc)?),
                "torchtitan Transformer.init_weights: output trunc_normal_(std=dim^−½, a=−3σ, b=3σ)",
            )
            .num("std", std))
        }
        _ => Err(Error::UnsupportedScheme {
            scheme: name,
            tensor: t.name.clone(),
            reason: format!("torchtitan's Llama 3 has no `{}` tensor", t.role.name()),
        }),
    }
}

/// OLMo-core's `InitMethod` (`src/olmo_core/nn/transformer/init.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OlmoCore {
    /// `InitMethod.llama`: outputs std/√(2·n_blocks).
    Llama,
    /// `InitMethod.llama_depth`: outputs std/√(2·(block_idx+1)).
    LlamaDepth,
    /// `InitMethod.normalized` (nGPT): std d^(−½), w_out and w2 /√(2·n_blocks).
    Normalized,
}

impl OlmoCore {
    fn scheme(self) -> &'static str {
        match self {
            Self::Llama => "olmo-core-llama",
            Self::LlamaDepth => "olmo-core-llama-depth",
            Self::Normalized => "olmo-core-normalized",
        }
    }
}

pub(super) fn olmo_core(method: OlmoCore, model: &Model, t: &PlannedTensor) -> Result<Rule> {
    let scheme = method.scheme();
    llama_only(scheme, model, t)?;
    if t.part == Part::Bias {
        return Ok(zero_bias("OLMo-core _init_linear: zeros_(bias)"));
    }
    let dims = model.dims();
    let sigma = dims.initializer_range;
    let d_inv = (dims.hidden as f64).powf(-0.5);
    let rule = |std: f64, reason: String| -> Result<Rule> {
        Ok(Rule::new(trunc3(std)?, format!("OLMo-core {reason}; trunc_normal_ at ±3σ")).num("std", std))
    };
    // The std before the output scaling: init_std for llama*, d^−½ for normalized.
    let std = match method {
        OlmoCore::Normalized => d_inv,
        OlmoCore::Llama | OlmoCore::LlamaDepth => sigma,
    };
    // OLMo-core's own names for the layer index and count.
    let scaled = |depth: Depth| {
        let (div, _, v) = depth.divisor(model, t);
        let what = match depth {
            Depth::PerLayer => "block_idx",
            Depth::Total => "num_blocks",
        };
        (std / div, what, v)
    };
    let (out_std, what, v) = match method {
        OlmoCore::LlamaDepth => scaled(Depth::PerLayer),
        OlmoCore::Llama | OlmoCore::Normalized => scaled(Depth::Total),
    };
    let depth_name = match method {
        OlmoCore::LlamaDepth => "/√(2·(block_idx+1))",
        _ => "/√(2·num_blocks)",
    };
    let base_name = match method {
        OlmoCore::Normalized => "d_model^−½",
        _ => "init_std",
    };
    let is_expert = t.expert.is_some() || t.role == Role::Router;
    Ok(match t.role {
        Role::Embedding => match method {
            OlmoCore::Normalized => {
                Rule::new(normal(d_inv)?, "OLMo-core init_embeddings (normalized): normal_(std=d_model^−½)")
                    .num("std", d_inv)
            }
            _ => Rule::new(normal(1.0)?, "OLMo-core init_embeddings (llama): normal_(0, 1)"),
        },
        Role::Head => rule(d_inv, "init_final_w_out: std d_model^−½".into())?,
        // init_feed_forward_moe: router and every expert matrix share one std, depth-scaled under
        // llama/llama_depth, the plain init_std under normalized.
        _ if is_expert => match method {
            OlmoCore::Normalized => {
                rule(sigma, "init_feed_forward_moe (normalized): router and experts std init_std".into())?
                    .num("init_std", sigma)
            }
            _ => rule(out_std, format!("init_feed_forward_moe: router and experts std init_std{depth_name}"))?
                .num(what, v)
                .num("init_std", sigma),
        },
        Role::AttentionQuery | Role::AttentionKey | Role::AttentionValue | Role::AttentionQkv => {
            rule(std, format!("init_attention: w_q, w_k, w_v std {base_name}"))?
        }
        Role::AttentionOut => rule(out_std, format!("init_attention: w_out std {base_name}{depth_name}"))?.num(what, v),
        Role::MlpGate => rule(std, format!("init_feed_forward: w1 std {base_name}"))?,
        Role::MlpUp => match method {
            OlmoCore::Normalized => rule(std, "init_feed_forward: w3 std d_model^−½".into())?,
            _ => rule(out_std, format!("init_feed_forward: w3 std init_std{depth_name}"))?.num(what, v),
        },
        Role::MlpDown => rule(out_std, format!("init_feed_forward: w2 std {base_name}{depth_name}"))?.num(what, v),
        _ => {
            return Err(Error::UnsupportedScheme {
                scheme,
                tensor: t.name.clone(),
                reason: format!("OLMo-core's transformer has no `{}` tensor", t.role.name()),
            });
        }
    })
}

/// nanoGPT (`karpathy/nanoGPT` `model.py`, `GPT._init_weights` and the
/// `c_proj.weight` loop in `GPT.__init__`).
pub(super) fn nanogpt(model: &Model, t: &PlannedTensor) -> Result<Rule> {
    if t.part == Part::Bias || t.role == Role::Head && t.module == Module::Parameter {
        return Ok(zero_bias("nanoGPT _init_weights: zeros_(bias)"));
    }
    let l = model.dims().layers as f64;
    if t.role.is_residual_output() {
        let std = 0.02 / (2.0 * l).sqrt();
        return Ok(Rule::new(normal(std)?, "nanoGPT: c_proj.weight normal_(std=0.02/√(2·n_layer))")
            .num("n_layer", l)
            .num("std", std));
    }
    Ok(Rule::new(normal(0.02)?, "nanoGPT _init_weights: Linear and Embedding normal_(std=0.02)").num("std", 0.02))
}

/// The spectral condition (Yang, Simon & Bernstein 2023, *A Spectral
/// Condition for Feature Learning*, arXiv 2310.17813, Parametrization 1):
/// σ = (1/√fan_in)·min(1, √(fan_out/fan_in)).
pub(super) fn spectral(t: &PlannedTensor) -> Result<Rule> {
    if t.part == Part::Bias || t.role == Role::Head && t.module == Module::Parameter {
        return Ok(zero_bias("spectral condition: biases 0"));
    }
    if t.role.is_embedding() {
        return Ok(Rule::new(
            normal(1.0)?,
            "spectral condition for one-hot inputs: ‖W e_i‖₂ = Θ(√d) needs entries of Θ(1): normal_(0, 1)",
        ));
    }
    let fan = t.spec.fan()?;
    let (fi, fo) = (fan.fan_in() as f64, fan.fan_out() as f64);
    let std = fi.powf(-0.5) * (fo / fi).sqrt().min(1.0);
    Ok(Rule::new(normal(std)?, "spectral condition (arXiv 2310.17813): std (1/√fan_in)·min(1, √(fan_out/fan_in))")
        .num("fan_in", fi)
        .num("fan_out", fo)
        .num("std", std))
}

/// Depth-μP (α = ½; Yang et al. 2023, *Tensor Programs VI*, arXiv 2310.02244)
/// and CompleteP (α = 1; Dey et al. 2025, arXiv 2505.01618): muP in width,
/// and each residual branch multiplied by L^(−α).
pub(super) fn depth_mup(model: &Model, t: &PlannedTensor, base_width: usize, alpha: f64) -> Result<Rule> {
    let mut r = super::mup(model, t, base_width)?;
    let l = model.dims().layers as f64;
    let branch = l.powf(-alpha);
    if t.role.is_hidden_matrix() && t.part == Part::Weight {
        // Adam: hidden weights' learning rate × L^(α−1) on top of muP's 1/width_mult.
        let lr = r.lr.map(|lr| lr * l.powf(alpha - 1.0));
        r = Rule { lr, ..r };
        r = r.num("num_layers", l).num("alpha", alpha).num("depth_lr_multiplier", l.powf(alpha - 1.0));
    }
    if t.role.is_residual_output() && t.part == Part::Weight {
        let std = r.init.explain(&t.spec)?.std.unwrap_or(0.0) * branch;
        r = Rule {
            init: normal(std)?,
            reason: format!(
                "{}; the residual branch multiplier L^(−α) is folded into this last layer of the branch (the same \
                 function at init; to follow the paper exactly, keep the muP std and multiply the branch output in \
                 the forward)",
                r.reason
            ),
            ..r
        };
        r = r.num("branch_multiplier", branch).num("std", std);
    }
    Ok(r)
}
