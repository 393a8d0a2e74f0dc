#!/usr/bin/env python3
"""Write checkpoints with `transformers` itself, for checking `nninit doctor` by hand.

For each config below: `AutoModelForX.from_config(config)` (transformers' own
`_init_weights`) then `save_pretrained` (safetensors) into OUT/NAME. The gpt2
config is the real GPT-2 small; bert, llama and phi3 are small to keep it fast.

Pinned: transformers==5.24.0, torch==2.15.0. Not run in CI (no torch there).
Usage: python3 scripts/doctor-hf-checkpoints.py OUT
"""
import pathlib
import sys

import torch
import transformers

OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/doctor-hf")
CONFIGS = {
    "gpt2": (transformers.GPT2Config(), transformers.GPT2LMHeadModel),
    "bert": (transformers.BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                     intermediate_size=1024), transformers.BertForMaskedLM),
    "llama": (transformers.LlamaConfig(hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
                                       num_attention_heads=8, num_key_value_heads=8, vocab_size=32000),
              transformers.LlamaForCausalLM),
    # Phi-3 with fused qkv_proj and gate_up_proj, grouped-query (k, v parts smaller than q).
    "phi3": (transformers.Phi3Config(hidden_size=512, intermediate_size=1376, num_hidden_layers=4,
                                     num_attention_heads=8, num_key_value_heads=2, vocab_size=32064),
             transformers.Phi3ForCausalLM),
}

torch.manual_seed(0)
for name, (config, cls) in CONFIGS.items():
    model = cls(config)
    model.save_pretrained(OUT / name)
    print(name, cls.__name__, sum(p.numel() for p in model.parameters()), "parameters ->", OUT / name)
print("transformers", transformers.__version__, "torch", torch.__version__)
