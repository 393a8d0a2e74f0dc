//! GPT-2 (`transformers.GPT2LMHeadModel`, `GPT2Model`).

use serde::Deserialize;

use super::{Builder, Dims, depth, divide, pick_class, positive};
use crate::error::Result;
use crate::plan::{PlannedTensor, Role};

/// The fields of `GPT2Config` that shape the weights (transformers' defaults).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub(super) struct Config {
    #[serde(default = "vocab")]
    vocab_size: usize,
    #[serde(default = "positions")]
    n_positions: usize,
    #[serde(default = "embd")]
    n_embd: usize,
    #[serde(default = "layers")]
    n_layer: usize,
    #[serde(default = "heads")]
    n_head: usize,
    #[serde(default)]
    n_inner: Option<usize>,
    #[serde(default = "range")]
    initializer_range: f64,
    #[serde(default = "yes")]
    tie_word_embeddings: bool,
}

fn vocab() -> usize {
    50257
}
fn positions() -> usize {
    1024
}
fn embd() -> usize {
    768
}
fn layers() -> usize {
    12
}
fn heads() -> usize {
    12
}
fn range() -> f64 {
    0.02
}
fn yes() -> bool {
    true
}

const CLASSES: &[&str] = &["GPT2LMHeadModel", "GPT2Model"];

impl Config {
    fn inner(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    pub(super) fn dims_and_class(&self, class: Option<String>) -> Result<(Dims, String)> {
        let class = pick_class(class, CLASSES, "gpt2")?;
        for (n, v) in [("vocab_size", self.vocab_size), ("n_positions", self.n_positions)] {
            positive(n, v)?;
        }
        depth("n_layer", self.n_layer)?;
        divide("n_embd / n_head", positive("n_embd", self.n_embd)?, positive("n_head", self.n_head)?)?;
        positive("n_inner", self.inner())?;
        let dims = Dims {
            hidden: self.n_embd,
            layers: self.n_layer,
            intermediate: self.inner(),
            heads: self.n_head,
            initializer_range: self.initializer_range,
        };
        Ok((dims, class))
    }

    pub(super) fn tensors(&self, class: &str) -> Result<Vec<PlannedTensor>> {
        let lm = class == "GPT2LMHeadModel";
        let p = if lm { "transformer." } else { "" };
        let (d, inner) = (self.n_embd, self.inner());
        let mut b = Builder::default();
        b.embedding(&format!("{p}wte"), self.vocab_size, d, Role::Embedding)?;
        b.embedding(&format!("{p}wpe"), self.n_positions, d, Role::PositionEmbedding)?;
        for i in 0..self.n_layer {
            b.layer = Some(i);
            let h = format!("{p}h.{i}");
            b.layer_norm(&format!("{h}.ln_1"), d)?;
            b.conv1d(&format!("{h}.attn.c_attn"), d, 3 * d, Role::AttentionQkv)?;
            let qkv = [("q", d, Role::AttentionQuery), ("k", d, Role::AttentionKey), ("v", d, Role::AttentionValue)];
            b.fuse(&format!("{h}.attn.c_attn.weight"), 1, &qkv)?;
            b.conv1d(&format!("{h}.attn.c_proj"), d, d, Role::AttentionOut)?;
            b.layer_norm(&format!("{h}.ln_2"), d)?;
            b.conv1d(&format!("{h}.mlp.c_fc"), d, inner, Role::MlpUp)?;
            b.conv1d(&format!("{h}.mlp.c_proj"), inner, d, Role::MlpDown)?;
        }
        b.layer = None;
        b.layer_norm(&format!("{p}ln_f"), d)?;
        if lm {
            if self.tie_word_embeddings {
                b.tied("lm_head.weight", "transformer.wte.weight")?;
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
