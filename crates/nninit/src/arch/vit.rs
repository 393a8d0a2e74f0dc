//! Vision Transformer (`transformers.ViTModel`, `ViTForImageClassification`).

use serde::Deserialize;

use super::{Builder, Dims, depth, divide, pick_class, positive};
use crate::error::{Error, Result};
use crate::fan::Layout;
use crate::plan::{Module, PlannedTensor, Role};

/// The fields of `ViTConfig` that shape the weights (transformers' defaults).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub(super) struct Config {
    #[serde(default = "hidden")]
    hidden_size: usize,
    #[serde(default = "layers")]
    num_hidden_layers: usize,
    #[serde(default = "heads")]
    num_attention_heads: usize,
    #[serde(default = "intermediate")]
    intermediate_size: usize,
    #[serde(default = "image")]
    image_size: usize,
    #[serde(default = "patch")]
    patch_size: usize,
    #[serde(default = "channels")]
    num_channels: usize,
    #[serde(default = "yes")]
    qkv_bias: bool,
    #[serde(default = "range")]
    initializer_range: f64,
    #[serde(default)]
    id2label: Option<serde_json::Map<String, serde_json::Value>>,
}

fn hidden() -> usize {
    768
}
fn layers() -> usize {
    12
}
fn heads() -> usize {
    12
}
fn intermediate() -> usize {
    3072
}
fn image() -> usize {
    224
}
fn patch() -> usize {
    16
}
fn channels() -> usize {
    3
}
fn yes() -> bool {
    true
}
fn range() -> f64 {
    0.02
}

const CLASSES: &[&str] = &["ViTModel", "ViTForImageClassification"];

impl Config {
    pub(super) fn dims_and_class(&self, class: Option<String>) -> Result<(Dims, String)> {
        let class = pick_class(class, CLASSES, "vit")?;
        depth("num_hidden_layers", self.num_hidden_layers)?;
        positive("intermediate_size", self.intermediate_size)?;
        positive("num_channels", self.num_channels)?;
        positive("image_size", self.image_size)?;
        positive("patch_size", self.patch_size)?;
        if self.patch_size > self.image_size {
            return Err(Error::InvalidModelConfig {
                reason: format!("patch_size {} is larger than image_size {}", self.patch_size, self.image_size),
            });
        }
        let (h, n) =
            (positive("hidden_size", self.hidden_size)?, positive("num_attention_heads", self.num_attention_heads)?);
        divide("hidden_size / num_attention_heads", h, n)?;
        let dims = Dims {
            hidden: h,
            layers: self.num_hidden_layers,
            intermediate: self.intermediate_size,
            heads: n,
            initializer_range: self.initializer_range,
        };
        Ok((dims, class))
    }

    pub(super) fn tensors(&self, class: &str) -> Result<Vec<PlannedTensor>> {
        let classifier = class == "ViTForImageClassification";
        let p = if classifier { "vit." } else { "" };
        let (d, ff, ps, c) = (self.hidden_size, self.intermediate_size, self.patch_size, self.num_channels);
        let side = self.image_size / ps;
        let patches = side * side;
        let mut b = Builder::default();
        // ViTEmbeddings: its own parameters first (cls_token, position_embeddings), then the patch conv.
        let param = |name: &str, dims: Vec<usize>, role| {
            PlannedTensor::new(format!("{p}embeddings.{name}"), dims, Layout::Torch, role, Module::Parameter)
        };
        b.push(param("cls_token", vec![1, 1, d], Role::ClsToken)?);
        b.push(param("position_embeddings", vec![1, patches.max(1) + 1, d], Role::PositionEmbedding)?);
        let conv = format!("{p}embeddings.patch_embeddings.projection");
        let w = PlannedTensor::new(
            format!("{conv}.weight"),
            vec![d, c, ps, ps],
            Layout::Torch,
            Role::PatchEmbedding,
            Module::Conv2d,
        )?;
        let fan = w.spec.fan()?;
        b.push(w);
        let bias =
            PlannedTensor::new(format!("{conv}.bias"), vec![d], Layout::Torch, Role::PatchEmbedding, Module::Conv2d)?;
        b.push(bias.bias_of(fan));
        for i in 0..self.num_hidden_layers {
            b.layer = Some(i);
            let l = format!("{p}encoder.layer.{i}");
            b.linear(&format!("{l}.attention.attention.query"), d, d, self.qkv_bias, Role::AttentionQuery)?;
            b.linear(&format!("{l}.attention.attention.key"), d, d, self.qkv_bias, Role::AttentionKey)?;
            b.linear(&format!("{l}.attention.attention.value"), d, d, self.qkv_bias, Role::AttentionValue)?;
            b.linear(&format!("{l}.attention.output.dense"), d, d, true, Role::AttentionOut)?;
            b.linear(&format!("{l}.intermediate.dense"), ff, d, true, Role::MlpUp)?;
            b.linear(&format!("{l}.output.dense"), d, ff, true, Role::MlpDown)?;
            b.layer_norm(&format!("{l}.layernorm_before"), d)?;
            b.layer_norm(&format!("{l}.layernorm_after"), d)?;
        }
        b.layer = None;
        b.layer_norm(&format!("{p}layernorm"), d)?;
        if classifier {
            let labels = self.id2label.as_ref().map_or(2, |m| m.len().max(1));
            b.linear("classifier", labels, d, true, Role::Head)?;
        } else {
            b.linear("pooler.dense", d, d, true, Role::Dense)?;
        }
        Ok(b.tensors)
    }
}
