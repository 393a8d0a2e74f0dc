//! Built-in model configs, so no download is needed.

use crate::error::{Error, Result};

/// The built-in presets: name, the model they follow, and its `config.json`.
pub const PRESETS: &[(&str, &str, &str)] = &[
    ("gpt2", "GPT-2 small (124 M), the `gpt2` checkpoint's config", include_str!("presets/gpt2.json")),
    ("gpt2-medium", "GPT-2 medium (355 M)", include_str!("presets/gpt2-medium.json")),
    ("bert-base", "BERT base uncased (`BertForMaskedLM`)", include_str!("presets/bert-base.json")),
    ("vit-base", "ViT-B/16 at 224 px (`ViTModel`)", include_str!("presets/vit-base.json")),
    (
        "llama-1b",
        "Llama, hidden 2048, 16 layers, intermediate 5632, 32 heads, vocab 32000 (953 M)",
        include_str!("presets/llama-1b.json"),
    ),
    (
        "llama-8b",
        "Llama-3-8B's shape: 32 layers, 8 KV heads, vocab 128256, untied",
        include_str!("presets/llama-8b.json"),
    ),
    (
        "qwen2-0.5b",
        "Qwen2-0.5B: hidden 896, 24 layers, 14 heads, 2 KV heads, q/k/v biases, tied (494 M)",
        include_str!("presets/qwen2-0.5b.json"),
    ),
    (
        "qwen3-0.6b",
        "Qwen3-0.6B: hidden 1024, 28 layers, 16 heads of 128, 8 KV heads, q/k norms, tied (596 M)",
        include_str!("presets/qwen3-0.6b.json"),
    ),
    (
        "mistral-7b",
        "Mistral-7B-v0.1: hidden 4096, 32 layers, 8 KV heads, intermediate 14336, untied (7.24 B)",
        include_str!("presets/mistral-7b.json"),
    ),
    (
        "gemma2-2b",
        "Gemma-2-2B: hidden 2304, 26 layers, heads of 256, vocab 256000, 1 + w norms, tied (2.61 B)",
        include_str!("presets/gemma2-2b.json"),
    ),
    (
        "mixtral-8x7b",
        "Mixtral-8x7B-v0.1: 32 layers, 8 experts per layer (2 routed per token), untied (46.7 B)",
        include_str!("presets/mixtral-8x7b.json"),
    ),
    (
        "phi3-mini",
        "Phi-3-mini-4k-instruct: hidden 3072, 32 layers, 32 heads (32 KV), fused qkv_proj and gate_up_proj, vocab 32064, untied (3.82 B)",
        include_str!("presets/phi3-mini.json"),
    ),
    (
        "mamba-130m",
        "Mamba-130M (state-spaces/mamba-130m-hf): hidden 768, 24 layers, d_state 16, d_inner 1536, dt rank 48, tied (129 M)",
        include_str!("presets/mamba-130m.json"),
    ),
];

/// The names of the presets, comma-separated (for help texts and errors).
pub fn names() -> String {
    PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
}

/// The `config.json` text of a preset.
pub(super) fn config(name: &str) -> Result<&'static str> {
    PRESETS.iter().find(|p| p.0.eq_ignore_ascii_case(name)).map(|p| p.2).ok_or_else(|| Error::UnknownName {
        what: "preset",
        name: name.to_string(),
        known: names(),
    })
}
