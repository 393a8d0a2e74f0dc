#!/usr/bin/env python3
"""Dump the parameter names and shapes `transformers` saves for nninit's presets.

Writes crates/nninit/src/arch/fixtures/transformers-keys.json, which
crates/nninit/src/arch/tests.rs compares nninit's plans against (names, order,
shapes, tying). Models are built on the meta device (no memory, no init).
The saved keys are `named_parameters()` (which drops tied duplicates and keeps
the first name, as `save_pretrained` keeps it) plus persistent buffers. Models
under 200 M parameters are also really saved and the file's keys used: transformers 5
renames some modules internally (ViT) and converts back to checkpoint names on save.

Pinned: transformers==5.24.0, torch==2.15.0 (pip install transformers==5.24.0).
Run from the repository root: python3 scripts/dump-transformers-keys.py
"""
import json
import pathlib
import sys
import tempfile

import torch
import transformers

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRESETS = ROOT / "crates/nninit/src/arch/presets"
OUT = ROOT / "crates/nninit/src/arch/fixtures/transformers-keys.json"

# Small configs for the variants the presets do not cover.
EXTRA = {
    "mistral-tiny": {"model_type": "mistral", "architectures": ["MistralForCausalLM"], "hidden_size": 64,
                     "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 8,
                     "num_key_value_heads": 2, "vocab_size": 100},
    "qwen2-tiny-tied": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 64,
                        "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": True},
    "llama-tiny-bias-headdim": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
                                "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                                "num_key_value_heads": 1, "head_dim": 32, "vocab_size": 100,
                                "attention_bias": True, "mlp_bias": True, "tie_word_embeddings": True},
    "llama-tiny-model": {"model_type": "llama", "architectures": ["LlamaModel"], "hidden_size": 64,
                         "intermediate_size": 96, "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 100},
    "gpt2-tiny-untied": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 32, "n_head": 4,
                         "n_layer": 2, "n_positions": 16, "vocab_size": 100, "n_inner": 48,
                         "tie_word_embeddings": False},
    "gpt2-tiny-model": {"model_type": "gpt2", "architectures": ["GPT2Model"], "n_embd": 32, "n_head": 4,
                        "n_layer": 1, "n_positions": 16, "vocab_size": 100},
    "bert-tiny-model": {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 32,
                        "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 48, "vocab_size": 100},
    "bert-tiny-pretraining": {"model_type": "bert", "architectures": ["BertForPreTraining"], "hidden_size": 32,
                              "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 48,
                              "vocab_size": 100},
    "qwen3-tiny-bias-model": {"model_type": "qwen3", "architectures": ["Qwen3Model"], "hidden_size": 64,
                              "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                              "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 100, "attention_bias": True},
    "qwen3-tiny-untied": {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "hidden_size": 64,
                          "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                          "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100, "tie_word_embeddings": False},
    "gemma2-tiny": {"model_type": "gemma2", "architectures": ["Gemma2ForCausalLM"], "hidden_size": 64,
                    "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                    "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100},
    "mixtral-tiny": {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": 64,
                     "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "num_key_value_heads": 2, "vocab_size": 100, "num_local_experts": 3, "num_experts_per_tok": 2},
    "mixtral-tiny-model": {"model_type": "mixtral", "architectures": ["MixtralModel"], "hidden_size": 32,
                           "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 4,
                           "num_key_value_heads": 4, "vocab_size": 100, "num_local_experts": 2,
                           "num_experts_per_tok": 1},
    "phi3-tiny-gqa-tied": {"model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "hidden_size": 64,
                           "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 8,
                           "num_key_value_heads": 2, "vocab_size": 100, "pad_token_id": 99,
                           "tie_word_embeddings": True},
    "phi3-tiny-model": {"model_type": "phi3", "architectures": ["Phi3Model"], "hidden_size": 32,
                        "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 4, "head_dim": 16,
                        "vocab_size": 100, "pad_token_id": 0},
    "vit-tiny-classifier": {"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": 32,
                            "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 48,
                            "image_size": 32, "patch_size": 8, "id2label": {"0": "a", "1": "b", "2": "c"},
                            "label2id": {"a": 0, "b": 1, "c": 2}},
    "mamba-tiny-untied": {"model_type": "mamba", "architectures": ["MambaForCausalLM"], "hidden_size": 40,
                          "num_hidden_layers": 2, "vocab_size": 100, "state_size": 8, "expand": 3,
                          "conv_kernel": 3, "tie_word_embeddings": False},
    "mamba-tiny-model": {"model_type": "mamba", "architectures": ["MambaModel"], "hidden_size": 32,
                         "num_hidden_layers": 1, "vocab_size": 100, "state_size": 4, "time_step_rank": 5,
                         "use_bias": True, "use_conv_bias": False},
}


def build(config_dict, device="meta"):
    config = transformers.AutoConfig.for_model(**config_dict)
    cls = getattr(transformers, config_dict["architectures"][0])
    with torch.device(device):
        return cls(config)


def saved_keys(model):
    keys = [(n, list(p.shape)) for n, p in model.named_parameters()]
    names = {n for n, _ in keys}
    persistent = [(n, list(b.shape)) for n, b in model.state_dict().items() if n not in names
                  and any(n == bn for bn, _ in model.named_buffers())]
    return keys + persistent


def file_keys(config):
    """(name, shape) as save_pretrained writes them (transformers 5 may rename modules
    internally and convert back to the checkpoint names on save: ViT does)."""
    from safetensors import safe_open
    real = build(config, device="cpu")
    with tempfile.TemporaryDirectory() as d:
        real.save_pretrained(d, max_shard_size="100GB")
        with safe_open(f"{d}/model.safetensors", "pt") as f:
            return {k: list(f.get_slice(k).get_shape()) for k in f.keys()}


def main():
    cases = {p.stem: json.loads(p.read_text()) for p in sorted(PRESETS.glob("*.json"))}
    cases.update(EXTRA)
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}
    for name, config in cases.items():
        model = build(config)
        keys = saved_keys(model)
        small = sum(p.numel() for p in model.parameters()) < 200_000_000
        source = "named_parameters"
        if small:
            saved = file_keys(config)
            if sorted(saved) == sorted(k for k, _ in keys):
                source = "save_pretrained (state-dict order)"
            else:
                # Renamed on save: keep the file's names, sorted.
                keys = sorted([k, s] for k, s in saved.items())
                source = "save_pretrained (renamed on save; sorted)"
        else:
            # Too large to save here: apply the conversion save_pretrained applies (transformers 5 fuses
            # some weights in memory, Mixtral's experts, and writes the checkpoint names back), on the
            # meta tensors.
            from transformers.core_model_loading import revert_weight_conversion
            state = {n: p for n, p in model.named_parameters()}
            saved = {k: list(v.shape) for k, v in revert_weight_conversion(model, state).items()}
            if sorted(saved) != sorted(k for k, _ in keys):
                keys = sorted([k, s] for k, s in saved.items())
                source = "named_parameters, save_pretrained's conversion (renamed on save; sorted)"
        print(f"{name}: {len(keys)} keys from {source}", file=sys.stderr)
        out["models"][name] = {"config": config, "source": source, "keys": keys}
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
