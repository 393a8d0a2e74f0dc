//! BERT (`transformers.BertForMaskedLM`, `BertForPreTraining`, `BertModel`).

use serde::Deserialize;

use super::{Builder, Dims, depth, divide, pick_class, positive};
use crate::error::Result;
use crate::plan::{Module, PlannedTensor, Role};

/// The fields of `BertConfig` that shape the weights (transformers' defaults).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub(super) struct Config {
    #[serde(default = "vocab")]
    vocab_size: usize,
    #[serde(default = "hidden")]
    hidden_size: usize,
    #[serde(default = "layers")]
    num_hidden_layers: usize,
    #[serde(default = "heads")]
    num_attention_heads: usize,
    #[serde(default = "intermediate")]
    intermediate_size: usize,
    #[serde(default = "positions")]
    max_position_embeddings: usize,
    #[serde(default = "types")]
    type_vocab_size: usize,
    #[serde(default = "range")]
    initializer_range: f64,
}

fn vocab() -> usize {
    30522
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
fn positions() -> usize {
    512
}
fn types() -> usize {
    2
}
fn range() -> f64 {
    0.02
}

const CLASSES: &[&str] = &["BertForMaskedLM", "BertForPreTraining", "BertModel"];

impl Config {
    pub(super) fn dims_and_class(&self, class: Option<String>) -> Result<(Dims, String)> {
        let class = pick_class(class, CLASSES, "bert")?;
        positive("vocab_size", self.vocab_size)?;
        positive("max_position_embeddings", self.max_position_embeddings)?;
        positive("type_vocab_size", self.type_vocab_size)?;
        depth("num_hidden_layers", self.num_hidden_layers)?;
        positive("intermediate_size", self.intermediate_size)?;
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
        let backbone_only = class == "BertModel";
        let p = if backbone_only { "" } else { "bert." };
        let (d, ff) = (self.hidden_size, self.intermediate_size);
        let mut b = Builder::default();
        b.embedding(&format!("{p}embeddings.word_embeddings"), self.vocab_size, d, Role::Embedding)?;
        b.embedding(
            &format!("{p}embeddings.position_embeddings"),
            self.max_position_embeddings,
            d,
            Role::PositionEmbedding,
        )?;
        b.embedding(
            &format!("{p}embeddings.token_type_embeddings"),
            self.type_vocab_size,
            d,
            Role::TokenTypeEmbedding,
        )?;
        b.layer_norm(&format!("{p}embeddings.LayerNorm"), d)?;
        for i in 0..self.num_hidden_layers {
            b.layer = Some(i);
            let l = format!("{p}encoder.layer.{i}");
            b.linear(&format!("{l}.attention.self.query"), d, d, true, Role::AttentionQuery)?;
            b.linear(&format!("{l}.attention.self.key"), d, d, true, Role::AttentionKey)?;
            b.linear(&format!("{l}.attention.self.value"), d, d, true, Role::AttentionValue)?;
            b.linear(&format!("{l}.attention.output.dense"), d, d, true, Role::AttentionOut)?;
            b.layer_norm(&format!("{l}.attention.output.LayerNorm"), d)?;
            b.linear(&format!("{l}.intermediate.dense"), ff, d, true, Role::MlpUp)?;
            b.linear(&format!("{l}.output.dense"), d, ff, true, Role::MlpDown)?;
            b.layer_norm(&format!("{l}.output.LayerNorm"), d)?;
        }
        b.layer = None;
        // BertForMaskedLM has no pooler (add_pooling_layer=False); the others do.
        if class != "BertForMaskedLM" {
            b.linear(&format!("{p}pooler.dense"), d, d, true, Role::Dense)?;
        }
        if !backbone_only {
            // BertLMPredictionHead: its own `bias` parameter comes first in the state dict.
            let bias = PlannedTensor::new(
                "cls.predictions.bias",
                vec![self.vocab_size],
                Default::default(),
                Role::Head,
                Module::Parameter,
            )?;
            let fan = crate::fan::Fan::new(d as u64, self.vocab_size as u64)?;
            b.push(bias.bias_of(fan));
            b.linear("cls.predictions.transform.dense", d, d, true, Role::Dense)?;
            b.layer_norm("cls.predictions.transform.LayerNorm", d)?;
            b.tied("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight")?;
            if let Some(head) = b.tensors.last_mut() {
                head.role = Role::Head;
            }
            b.tied("cls.predictions.decoder.bias", "cls.predictions.bias")?;
            if class == "BertForPreTraining" {
                b.linear("cls.seq_relationship", 2, d, true, Role::Head)?;
            }
        }
        Ok(b.tensors)
    }
}
