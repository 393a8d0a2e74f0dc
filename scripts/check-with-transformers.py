#!/usr/bin/env python3
"""Load folders written by `nninit materialize --scheme hf` with `transformers` and check them.

For each model (presets gpt2, bert-base, vit-base, mamba-130m, and small Llama, Qwen2, Qwen3, Mistral, Gemma 2,
Mixtral, Phi-3 and Mamba configs given with --config):
  1. `nninit materialize ... --scheme hf --seed S --out DIR` (f32, sharded when --max-shard-size is given);
  2. `from_pretrained(DIR, output_loading_info=True)`: no missing, unexpected or mismatched keys and no
     error messages, and every tensor in the files reaches the model unchanged (bit for bit; tensors
     transformers renames internally are compared after `save_pretrained`, which names them back);
  3. a forward pass on a small input (eval mode, no grad): finite outputs;
  4. each parameter's mean and std against transformers' own init (`from_config` after
     `torch.manual_seed(S)`, the same class), with a tolerance from the sampling distribution of the
     estimators (below), z = 5 by default.

Tolerance. For n independent draws with variance sigma^2 and kurtosis kappa, the sample mean has
standard deviation sigma/sqrt(n) and the sample standard deviation about sigma*sqrt((kappa-1)/(4n))
(delta method on Var(s^2) = sigma^4 (kappa-1)/n). Two independent tensors differ by sqrt(2) times that:
  |mean_a - mean_b| <= z * sigma * sqrt(2/n)
  |std_a  - std_b | <= z * sigma * sqrt(2 (kappa-1) / (4n))
with sigma the mean of the two stds and kappa the sample kurtosis of the two tensors pooled (3 for a
normal, 1.8 for a uniform; estimated, so truncated normals are handled too). Constant tensors (norm
weights 1, biases 0, both stds 0) must agree exactly. Known deviation: transformers zeroes BERT's
padding row of the word embeddings and nninit draws it; one row in 30522 moves the std by ~3e-5
relative, far inside the tolerance. Phi-3 the same (its config sets pad_token_id, 32000 of 32064 in
Phi-3-mini, 999 of 1000 here: 5e-4 relative, z ~ 0.25). Known transformers behaviour: with rescale_prenorm_residual=True,
Mamba's from_pretrained divides the loaded out_proj.weight by sqrt(num_hidden_layers) again (the
division in _init_weights is not skipped for loaded weights); the script checks that the loaded tensor is
exactly the file's divided once more and compares the file's values (load_rescaled).

Pinned: torch==2.15.0, transformers==5.24.0, safetensors==0.8.0, numpy==2.4.6 (the script prints the
versions it ran with). Run from the repository root after `cargo build --release -p nninit-cli`:

  python3 scripts/check-with-transformers.py [--seed 0] [--z 5] [--nninit target/release/nninit]
                                            [--max-shard-size 200MB] [--json results.json]

Exit status 0 when every check passes, 1 when any fails, 2 on a usage or setup error.
"""
import argparse
import datetime
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

import numpy
import safetensors
import torch
import transformers
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Small configs given to nninit with --config: every decoder family nninit builds, each with grouped-query
# attention and its own features (Qwen2's q/k/v biases, Qwen3's q/k norms, Gemma 2's 1 + w norms and scaled
# embeddings, Mixtral's router and experts), small enough to load and run on a CPU.
_DECODER = {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 8,
            "num_key_value_heads": 4, "vocab_size": 1000, "max_position_embeddings": 256, "initializer_range": 0.02,
            "rms_norm_eps": 1e-5, "hidden_act": "silu"}
SMALL = {
    "llama-small": {"architectures": ["LlamaForCausalLM"], "model_type": "llama", **_DECODER,
                    "tie_word_embeddings": False},
    "qwen2-small": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", **_DECODER,
                    "tie_word_embeddings": True},
    "qwen3-small": {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", **_DECODER, "head_dim": 64,
                    "tie_word_embeddings": False},
    "mistral-small": {"architectures": ["MistralForCausalLM"], "model_type": "mistral", **_DECODER,
                      "sliding_window": 64, "tie_word_embeddings": False},
    "gemma2-small": {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2",
                     **{k: v for k, v in _DECODER.items() if k != "hidden_act"}, "head_dim": 32,
                     "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 32, "sliding_window": 64,
                     "tie_word_embeddings": True},
    "mixtral-small": {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", **_DECODER,
                      "intermediate_size": 128, "num_local_experts": 4, "num_experts_per_tok": 2,
                      "tie_word_embeddings": False},
    # Phi-3: q, k, v fused in qkv_proj (grouped-query, so k and v are the smaller parts), gate and up in
    # gate_up_proj; pad_token_id inside the small vocabulary (the class default 32000 is not).
    "phi3-small": {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", **_DECODER, "pad_token_id": 999,
                   "eos_token_id": 999, "tie_word_embeddings": False},
    # Mamba with the options the 130m preset leaves off: Linear biases, untied head, out_proj / sqrt(L).
    "mamba-small": {"architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": 256,
                    "num_hidden_layers": 4, "vocab_size": 1000, "state_size": 16, "use_bias": True,
                    "rescale_prenorm_residual": True, "tie_word_embeddings": False},
}

MODELS = [
    # (label, nninit arguments, Auto class for from_config, input kind)
    ("gpt2", ["--preset", "gpt2"], "AutoModelForCausalLM", "tokens"),
    ("bert-base", ["--preset", "bert-base"], "AutoModelForMaskedLM", "tokens"),
    ("vit-base", ["--preset", "vit-base"], "AutoModel", "pixels"),
    ("mamba-130m", ["--preset", "mamba-130m"], "AutoModelForCausalLM", "tokens"),
] + [(label, ["--config", None], "AutoModelForCausalLM", "tokens") for label in SMALL]


def materialize(exe, args, seed, out, max_shard_size):
    cmd = [exe, "materialize", *args, "--scheme", "hf", "--seed", str(seed), "--dtype", "f32", "--out", str(out)]
    if max_shard_size:
        cmd += ["--max-shard-size", max_shard_size]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return cmd


def file_tensors(folder):
    tensors = {}
    for f in sorted(pathlib.Path(folder).glob("*.safetensors")):
        tensors.update(load_file(str(f)))
    return tensors


def stats(t):
    x = t.detach().to(torch.float64).reshape(-1)
    n = x.numel()
    mean = x.mean().item()
    d = x - mean
    m2 = (d * d).mean().item()
    m4 = ((d * d) ** 2).mean().item()
    std = math.sqrt(m2 * n / (n - 1)) if n > 1 else 0.0
    return n, mean, std, m2, m4


def compare(name, a, b, z):
    """One row: nninit tensor a against transformers' tensor b."""
    n, ma, sa, m2a, m4a = stats(a)
    _, mb, sb, m2b, m4b = stats(b)
    row = {"name": name, "numel": n, "nninit_mean": ma, "nninit_std": sa, "hf_mean": mb, "hf_std": sb}
    if sa == 0.0 or sb == 0.0:
        ok = sa == sb and abs(ma - mb) <= 1e-7 * max(1.0, abs(mb))
        row.update(kind="constant", z_mean=None, z_std=None, ok=ok)
        return row
    sigma = 0.5 * (sa + sb)
    kappa = (m4a + m4b) / (m2a * m2a + m2b * m2b)  # pooled sample kurtosis
    se_mean = sigma * math.sqrt(2.0 / n)
    se_std = sigma * math.sqrt(2.0 * max(kappa - 1.0, 1e-12) / (4.0 * n))
    z_mean, z_std = abs(ma - mb) / se_mean, abs(sa - sb) / se_std
    row.update(kind="random", kurtosis=kappa, z_mean=z_mean, z_std=z_std, ok=z_mean <= z and z_std <= z)
    return row


def load_rescaled(config):
    """Tensors transformers changes when it loads them, with the factor it divides them by.

    transformers 5.24 MambaPreTrainedModel._init_weights, with rescale_prenorm_residual=True, divides
    out_proj.weight by sqrt(num_hidden_layers) in place; init.* calls skip weights loaded from a checkpoint
    but the division does not, so every from_pretrained divides the stored out_proj once more (a
    save/load round trip halves it at 4 layers). nninit writes the from_config value."""
    if getattr(config, "model_type", None) != "mamba" or not config.rescale_prenorm_residual:
        return {}
    prefix = "backbone." if config.architectures[0] == "MambaForCausalLM" else ""
    factor = math.sqrt(config.num_hidden_layers)
    return {f"{prefix}layers.{i}.mixer.out_proj.weight": factor for i in range(config.num_hidden_layers)}


def model_input(kind, config):
    g = torch.Generator().manual_seed(1)
    if kind == "pixels":
        size = config.image_size
        return {"pixel_values": torch.randn(2, config.num_channels, size, size, generator=g)}
    return {"input_ids": torch.randint(0, config.vocab_size, (2, 16), generator=g)}


def check_model(label, nninit_args, auto, kind, args, work):
    out = work / label
    nninit_args = [a if a is not None else str(work / f"{label}.json") for a in nninit_args]
    cmd = materialize(args.nninit, nninit_args, args.seed, out, args.max_shard_size)
    failures = []
    config = transformers.AutoConfig.from_pretrained(out)
    cls = getattr(transformers, config.architectures[0])
    model, info = cls.from_pretrained(out, output_loading_info=True)
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(key):
            failures.append(f"{key}: {sorted(info[key])[:5]}")
    # Every tensor in the files reaches the model unchanged. transformers 5 renames some modules
    # internally (ViT: attention.attention.query -> attention.q_proj) and back on saving, so tensors
    # the model names differently are compared after a save_pretrained round trip.
    on_disk = file_tensors(out)
    state = model.state_dict()
    rescaled = load_rescaled(config)
    unchanged = sum(1 for k, v in on_disk.items() if k in state and torch.equal(state[k], v))
    # Known transformers behaviour: the loaded tensor is the file's divided once more (see load_rescaled).
    unchanged += sum(1 for k, (v, f) in ((k, (v, rescaled[k])) for k, v in on_disk.items() if k in rescaled)
                     if k in state and not torch.equal(state[k], v) and torch.equal(state[k], v / f))
    renamed = [k for k in on_disk if k not in state]
    if renamed:
        with tempfile.TemporaryDirectory(dir=work) as again:
            model.save_pretrained(again)
            saved = file_tensors(again)
        unchanged += sum(1 for k in renamed if k in saved and torch.equal(saved[k], on_disk[k]))
    if unchanged != len(on_disk):
        failures.append(f"{len(on_disk) - unchanged} of {len(on_disk)} tensors differ after loading")
    model.eval()
    with torch.no_grad():
        outputs = model(**model_input(kind, config))
    main = outputs.logits if hasattr(outputs, "logits") else outputs.last_hidden_state
    finite = bool(torch.isfinite(main).all())
    if not finite:
        failures.append("forward pass gave non-finite outputs")
    # transformers' own init of the same class.
    torch.manual_seed(args.seed)
    reference = getattr(transformers, auto).from_config(config)
    if type(reference) is not type(model):
        failures.append(f"from_config built {type(reference).__name__}, not {type(model).__name__}")
    ref_params = dict(reference.named_parameters())
    rows = []
    for name, p in model.named_parameters():
        if name not in ref_params:
            failures.append(f"{name} not in transformers' model")
            continue
        # Tensors transformers rescales on loading are compared as written (transformers' own init is
        # the from_config value, divided once).
        rows.append(compare(name, on_disk.get(name, p) if name in rescaled else p, ref_params[name], args.z))
        if name in rescaled:
            rows[-1]["note"] = f"compared as written: from_pretrained divides it by {rescaled[name]:.4g} again"
    bad = [r for r in rows if not r["ok"]]
    failures += [f"{r['name']}: z_mean {r['z_mean']}, z_std {r['z_std']} ({r['kind']})" for r in bad]
    return {
        "model": label, "class": type(model).__name__, "command": " ".join(cmd[1:]),
        "files": sorted(p.name for p in out.iterdir()), "tensors_in_files": len(on_disk),
        "unchanged_on_load": unchanged, "renamed_on_load": len(renamed), "loading_info": {k: list(v) for k, v in info.items()},
        "forward_finite": finite, "output_shape": list(main.shape), "rows": rows, "failures": failures,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nninit", default=str(ROOT / "target" / "release" / "nninit"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--z", type=float, default=5.0)
    p.add_argument("--max-shard-size", default="200MB", help="passed to nninit (forces several shards); '' for one")
    p.add_argument("--only", nargs="*", help="labels to run (default: all)")
    p.add_argument("--rows", action="store_true", help="print every tensor's row, not only the summary")
    p.add_argument("--json", help="write the full results here")
    args = p.parse_args()
    if not os.path.exists(args.nninit):
        print(f"check-with-transformers: no binary at {args.nninit} (cargo build --release -p nninit-cli)")
        return 2
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    transformers.utils.logging.disable_progress_bar()
    versions = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
                "safetensors": safetensors.__version__, "numpy": numpy.__version__,
                "nninit": subprocess.run([args.nninit, "--version"], capture_output=True, text=True).stdout.strip()}
    started = datetime.datetime.now(datetime.timezone.utc)
    print(f"date {started.isoformat(timespec='seconds')}  seed {args.seed}  z {args.z}  max-shard-size "
          f"{args.max_shard_size or 'none'}")
    print("versions " + "  ".join(f"{k} {v}" for k, v in versions.items()))
    results = []
    with tempfile.TemporaryDirectory(prefix="nninit-hfcheck-") as tmp:
        work = pathlib.Path(tmp)
        for label, config in SMALL.items():
            (work / f"{label}.json").write_text(json.dumps(config))
        for label, nargs, auto, kind in MODELS:
            if args.only and label not in args.only:
                continue
            r = check_model(label, nargs, auto, kind, args, work)
            results.append(r)
            if args.rows:
                print(f"\n{label}:")
                print(f"  {'tensor':<55} {'numel':>9} {'nninit std':>11} {'hf std':>11} {'z mean':>7} {'z std':>7}")
                for row in r["rows"]:
                    zm = "-" if row["z_mean"] is None else f"{row['z_mean']:.2f}"
                    zs = "-" if row["z_std"] is None else f"{row['z_std']:.2f}"
                    print(f"  {row['name']:<55} {row['numel']:>9} {row['nninit_std']:>11.6f} {row['hf_std']:>11.6f}"
                          f" {zm:>7} {zs:>7}{'' if row['ok'] else '  FAIL'}")
    print()
    header = ("model", "class", "shards", "keys ok", "loaded =", "forward", "tensors", "random", "const",
              "max z mean", "max z std", "result")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    failed = False
    for r in results:
        random_rows = [x for x in r["rows"] if x["kind"] == "random"]
        info = r["loading_info"]
        keys_ok = not any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"))
        shards = sum(1 for f in r["files"] if f.endswith(".safetensors"))
        cells = (
            r["model"], r["class"], str(shards), "yes" if keys_ok else "NO",
            f"{r['unchanged_on_load']}/{r['tensors_in_files']}" + (f" ({r['renamed_on_load']} via save_pretrained)" if r["renamed_on_load"] else ""),
            "finite" if r["forward_finite"] else "NON-FINITE", str(len(r["rows"])), str(len(random_rows)),
            str(len(r["rows"]) - len(random_rows)),
            f"{max((x['z_mean'] for x in random_rows), default=0):.2f}",
            f"{max((x['z_std'] for x in random_rows), default=0):.2f}",
            "ok" if not r["failures"] else f"FAIL ({len(r['failures'])})",
        )
        print("| " + " | ".join(cells) + " |")
        failed |= bool(r["failures"])
    for r in results:
        for f in r["failures"][:20]:
            print(f"{r['model']}: {f}")
    print(f"\n{'FAILED' if failed else 'all checks passed'} ({len(results)} models)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"date": started.isoformat(), "versions": versions,
                                                       "seed": args.seed, "z": args.z, "results": results}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
