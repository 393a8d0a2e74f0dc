#!/usr/bin/env python3
"""Write the checkpoints `crates/nninit-cli/tests/doctor_lints.rs` runs `nninit doctor` on.

Each folder under OUT (default crates/nninit-cli/tests/fixtures/doctor) is a
`config.json` and a `model.safetensors` that transformers and torch wrote, with
one init bug each, plus a clean twin. All use one tiny Llama (hidden 64, one
layer, vocabulary 64: 45 k parameters, 180 kB in f32) so the whole set stays
near 2 MB. The bugs are made the way users make them:

| folder | what was done |
|---|---|
| clean | `LlamaForCausalLM(config)` (transformers' own `_init_weights`), `save_pretrained` |
| clean-bert | `BertForMaskedLM(config)` (hidden 64, one layer): its padding row (`pad_token_id` 0) is zero by design |
| tied-head-differs | `tie_word_embeddings: true`, and a separately drawn `lm_head.weight` saved beside the embedding |
| head-left-at-default | untied head reset by `nn.Linear.reset_parameters()` (never re-initialized by `_init_weights`) |
| norms-drawn | `for p in model.parameters(): nn.init.normal_(p, std=0.02)`: the norm weights drawn too |
| range-ignored-0.02 | initialized with `initializer_range` 0.02, then the config changed to 0.01 and saved |
| range-ignored-0.01 | the reverse: initialized at 0.01, saved with a config that says 0.02 |
| garbage | half of `down_proj`'s rows replaced by bit patterns of memory never written (NaN, ∞, subnormals) |
| zeros | `q_proj` left at zeros (`to_empty` then never initialized), the embedding's last 16 rows zero (tokens added, rows never drawn) |
| untruncated | OLMo's mitchell stds (1/√d, outputs 1/√(2·fan·(i+1))) drawn with `nn.init.trunc_normal_(std=σ)`: its default bounds ±2 are absolute, not ±3σ |
| normal-1 | every matrix drawn by `nn.init.normal_(p)` (N(0, 1)), norms left at 1 |
| tiny-std | the block's projections drawn from N(0, 10⁻³) (embedding, head and norms as transformers left them) |

Pinned: torch==2.15.0, transformers==5.24.0, safetensors==0.8.0 (the script
prints the versions it ran with). Not run in CI: the fixtures are committed.
Usage: python3 scripts/doctor-lint-fixtures.py [OUT]
"""
import json
import math
import pathlib
import shutil
import sys

import safetensors
import torch
import transformers
from safetensors.torch import save_file

OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "crates/nninit-cli/tests/fixtures/doctor")
BASE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=64, max_position_embeddings=128, tie_word_embeddings=False,
            initializer_range=0.02)


def fresh(seed, **over):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(**{**BASE, **over})
    return transformers.LlamaForCausalLM(config)


def save(model, name, state=None):
    out = OUT / name
    if out.exists():
        shutil.rmtree(out)
    if state is None:
        model.save_pretrained(out)
    else:
        out.mkdir(parents=True)
        model.config.to_json_file(out / "config.json")
        save_file({k: v.contiguous().clone() for k, v in state.items()}, out / "model.safetensors",
                  metadata={"format": "pt"})
    # The generation config is not a checkpoint's business here.
    (out / "generation_config.json").unlink(missing_ok=True)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"{name:22} {size:8} bytes -> {out}")


def matrices(model):
    return [(n, p) for n, p in model.named_parameters() if p.dim() == 2]


OUT.mkdir(parents=True, exist_ok=True)
with torch.no_grad():
    save(fresh(1), "clean")

    torch.manual_seed(12)
    bert = transformers.BertConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=128,
                                   vocab_size=64, max_position_embeddings=32, pad_token_id=0)
    save(transformers.BertForMaskedLM(bert), "clean-bert")

    m = fresh(2, tie_word_embeddings=True)
    state = dict(m.state_dict())
    state["lm_head.weight"] = torch.randn(64, 64) * 0.02
    save(m, "tied-head-differs", state)

    m = fresh(3)
    m.lm_head.reset_parameters()
    save(m, "head-left-at-default")

    m = fresh(4)
    for p in m.parameters():
        torch.nn.init.normal_(p, std=0.02)
    save(m, "norms-drawn")

    m = fresh(5, initializer_range=0.02)
    m.config.initializer_range = 0.01
    save(m, "range-ignored-0.02")

    m = fresh(6, initializer_range=0.01)
    m.config.initializer_range = 0.02
    save(m, "range-ignored-0.01")

    m = fresh(7)
    w = m.model.layers[0].mlp.down_proj.weight  # [64, 128]
    bits = torch.randint(-(2**31), 2**31 - 1, (32, 128), dtype=torch.int32, generator=torch.Generator().manual_seed(7))
    w[32:] = bits.view(torch.float32)
    save(m, "garbage")

    m = fresh(8)
    m.model.layers[0].self_attn.q_proj.weight.zero_()
    m.model.embed_tokens.weight[48:].zero_()  # rows for 16 new tokens, added and never initialized
    save(m, "zeros")

    m = fresh(9)
    d, ff = 64, 128
    for n, p in matrices(m):
        if n.endswith("o_proj.weight"):
            std = 1 / math.sqrt(2 * d * 1)
        elif n.endswith("down_proj.weight"):
            std = 1 / math.sqrt(2 * ff * 1)
        else:
            std = 1 / math.sqrt(d)
        torch.nn.init.trunc_normal_(p, std=std)  # a=-2, b=2: absolute bounds, 16σ and more here
    save(m, "untruncated")

    m = fresh(10)
    for _, p in matrices(m):
        torch.nn.init.normal_(p)
    save(m, "normal-1")

    m = fresh(11)
    for n, p in matrices(m):
        if ".layers." in n:
            torch.nn.init.normal_(p, std=1e-3)
    save(m, "tiny-std")

total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
print(f"total {total} bytes")
print("torch", torch.__version__, "transformers", transformers.__version__, "safetensors", safetensors.__version__)
