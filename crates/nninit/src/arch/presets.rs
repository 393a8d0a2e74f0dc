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
];

/// The names of the presets, comma-separated.
pub(super) fn names() -> String {
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
