//! Mamba (`transformers.MambaForCausalLM`, `MambaModel`; model_type `mamba`).
//!
//! Each of the `num_hidden_layers` blocks is an RMSNorm `layers.i.norm` and a
//! selective state-space mixer `layers.i.mixer`, in the state-dict order
//! `transformers` 5.24 saves (a module's own parameters before its children's):
//!
//! | tensor | shape | what |
//! |---|---|---|
//! | `A_log` | `[I, N]` | S4D-Real state matrix, A = −exp(A_log) |
//! | `D` | `[I]` | skip connection |
//! | `conv1d.weight`, `.bias` | `[I, 1, K]`, `[I]` | depthwise causal convolution (bias if `use_conv_bias`) |
//! | `in_proj.weight` | `[2I, d]` | x and the gate z, fused along the output axis (parts `x`, `z`) |
//! | `x_proj.weight` | `[R + 2N, I]` | the input-dependent Δ (rank R), B and C |
//! | `dt_proj.weight`, `.bias` | `[I, R]`, `[I]` | Δ's projection up to I channels |
//! | `out_proj.weight` | `[d, I]` | the residual branch's output |
//!
//! with d = `hidden_size`, I = `intermediate_size` (`expand`·d), N =
//! `state_size`, K = `conv_kernel`, R = `time_step_rank` (`"auto"`: ⌈d/16⌉);
//! `use_bias` adds biases to `in_proj` and `out_proj`. `lm_head.weight` is tied
//! to `backbone.embeddings.weight` unless `tie_word_embeddings` is false.

use serde::Deserialize;

use super::{Builder, Dims, depth, pick_class, positive};
use crate::error::{Error, Result};
use crate::fan::Layout;
use crate::plan::{Module, PlannedTensor, Role};

/// The time-step settings of `MambaConfig` (`time_step_*`), which the Mamba
/// init of `dt_proj` follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeStep {
    /// Δ's rank R (`time_step_rank`).
    pub rank: usize,
    /// `time_step_scale` (the reference's `dt_scale`).
    pub scale: f64,
    /// `time_step_min` (`dt_min`).
    pub min: f64,
    /// `time_step_max` (`dt_max`).
    pub max: f64,
    /// `time_step_floor` (`dt_init_floor`).
    pub floor: f64,
    /// `time_step_init_scheme`: `"random"` (uniform weights) or `"constant"`.
    pub constant: bool,
}

/// The fields of `MambaConfig` that shape or set the weights (transformers' defaults).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub(super) struct Config {
    #[serde(default = "vocab")]
    vocab_size: usize,
    #[serde(default = "hidden")]
    hidden_size: usize,
    #[serde(default = "state")]
    state_size: usize,
    #[serde(default = "layers")]
    num_hidden_layers: usize,
    #[serde(default = "two")]
    expand: usize,
    #[serde(default)]
    intermediate_size: Option<usize>,
    #[serde(default = "kernel")]
    conv_kernel: usize,
    #[serde(default)]
    use_bias: bool,
    #[serde(default = "yes")]
    use_conv_bias: bool,
    #[serde(default = "range")]
    initializer_range: f64,
    #[serde(default)]
    time_step_rank: Option<Rank>,
    #[serde(default = "one")]
    time_step_scale: f64,
    #[serde(default = "dt_min")]
    time_step_min: f64,
    #[serde(default = "dt_max")]
    time_step_max: f64,
    #[serde(default = "dt_floor")]
    time_step_floor: f64,
    #[serde(default = "random")]
    time_step_init_scheme: String,
    #[serde(default)]
    rescale_prenorm_residual: bool,
    #[serde(default = "yes")]
    tie_word_embeddings: bool,
}

/// `time_step_rank`: `"auto"` or an integer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Rank {
    Given(usize),
    Text(String),
}

fn vocab() -> usize {
    50280
}
fn hidden() -> usize {
    768
}
fn state() -> usize {
    16
}
fn layers() -> usize {
    32
}
fn two() -> usize {
    2
}
fn kernel() -> usize {
    4
}
fn range() -> f64 {
    0.1
}
fn one() -> f64 {
    1.0
}
fn dt_min() -> f64 {
    0.001
}
fn dt_max() -> f64 {
    0.1
}
fn dt_floor() -> f64 {
    1e-4
}
fn random() -> String {
    "random".into()
}
fn yes() -> bool {
    true
}

const CLASSES: &[&str] = &["MambaForCausalLM", "MambaModel"];

impl Config {
    /// I: `intermediate_size`, else `expand · hidden_size` (MambaConfig).
    fn inner(&self) -> usize {
        self.intermediate_size.unwrap_or(self.expand.saturating_mul(self.hidden_size))
    }

    fn rank(&self) -> Result<usize> {
        match &self.time_step_rank {
            None => Ok(self.hidden_size.div_ceil(16)),
            Some(Rank::Given(r)) => positive("time_step_rank", *r),
            Some(Rank::Text(t)) if t == "auto" => Ok(self.hidden_size.div_ceil(16)),
            Some(Rank::Text(t)) => Err(Error::InvalidModelConfig {
                reason: format!("time_step_rank must be \"auto\" or an integer, not \"{t}\""),
            }),
        }
    }

    /// The time-step settings, checked.
    pub(super) fn time_step(&self) -> Result<TimeStep> {
        let constant = match self.time_step_init_scheme.as_str() {
            "random" => false,
            "constant" => true,
            other => {
                return Err(Error::InvalidModelConfig {
                    reason: format!("time_step_init_scheme must be \"random\" or \"constant\", not \"{other}\""),
                });
            }
        };
        let ts = TimeStep {
            rank: self.rank()?,
            scale: self.time_step_scale,
            min: self.time_step_min,
            max: self.time_step_max,
            floor: self.time_step_floor,
            constant,
        };
        if !(ts.scale.is_finite() && ts.scale > 0.0) {
            return Err(Error::InvalidModelConfig { reason: format!("time_step_scale = {} must be > 0", ts.scale) });
        }
        crate::init::InverseSoftplusLogUniform::new(ts.min, ts.max, ts.floor)
            .map_err(|e| Error::InvalidModelConfig { reason: format!("time_step_min/max/floor: {e}") })?;
        Ok(ts)
    }

    /// Whether `_init_weights` divides `out_proj` by √num_hidden_layers (`rescale_prenorm_residual`).
    pub(super) fn rescale_prenorm_residual(&self) -> bool {
        self.rescale_prenorm_residual
    }

    pub(super) fn dims_and_class(&self, class: Option<String>) -> Result<(Dims, String)> {
        let class = pick_class(class, CLASSES, "mamba")?;
        for (n, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("state_size", self.state_size),
            ("expand", self.expand),
            ("conv_kernel", self.conv_kernel),
        ] {
            positive(n, v)?;
        }
        positive("intermediate_size", self.inner())?;
        depth("num_hidden_layers", self.num_hidden_layers)?;
        self.time_step()?;
        let dims = Dims {
            hidden: self.hidden_size,
            layers: self.num_hidden_layers,
            intermediate: self.inner(),
            heads: 1,
            initializer_range: self.initializer_range,
        };
        Ok((dims, class))
    }

    pub(super) fn tensors(&self, class: &str) -> Result<Vec<PlannedTensor>> {
        let lm = class == "MambaForCausalLM";
        let p = if lm { "backbone." } else { "" };
        let (d, inner, n, k, r) = (self.hidden_size, self.inner(), self.state_size, self.conv_kernel, self.rank()?);
        let mut b = Builder::default();
        b.embedding(&format!("{p}embeddings"), self.vocab_size, d, Role::Embedding)?;
        for i in 0..self.num_hidden_layers {
            b.layer = Some(i);
            let l = format!("{p}layers.{i}");
            b.norm(&format!("{l}.norm"), d, Module::RmsNorm)?;
            let m = format!("{l}.mixer");
            let param = |name: &str, dims: Vec<usize>, role| {
                PlannedTensor::new(format!("{m}.{name}"), dims, Layout::Torch, role, Module::Parameter)
            };
            b.push(param("A_log", vec![inner, n], Role::SsmStateLog)?);
            b.push(param("D", vec![inner], Role::SsmSkip)?);
            b.conv1d_depthwise(&format!("{m}.conv1d"), inner, k, self.use_conv_bias)?;
            b.linear(&format!("{m}.in_proj"), 2 * inner, d, self.use_bias, Role::MixerIn)?;
            b.fuse(&format!("{m}.in_proj.weight"), 0, &[("x", inner, Role::MixerIn), ("z", inner, Role::MlpGate)])?;
            b.linear(&format!("{m}.x_proj"), r + 2 * n, inner, false, Role::SsmProjection)?;
            b.linear(&format!("{m}.dt_proj"), inner, r, true, Role::SsmTimeStep)?;
            b.linear(&format!("{m}.out_proj"), d, inner, self.use_bias, Role::MixerOut)?;
        }
        b.layer = None;
        b.norm(&format!("{p}norm_f"), d, Module::RmsNorm)?;
        if lm {
            if self.tie_word_embeddings {
                b.tied("lm_head.weight", "backbone.embeddings.weight")?;
                if let Some(head) = b.tensors.last_mut() {
                    head.role = Role::Head;
                }
            } else {
                b.linear("lm_head", self.vocab_size, d, false, Role::Head)?;
            }
        }
        Ok(b.tensors)
    }
}
