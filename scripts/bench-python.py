#!/usr/bin/env python3
"""nninit from Python beside PyTorch and transformers, in one run, interleaved.

Usage: python3 scripts/bench-python.py [--repeats 3] [--preset llama-1b]

Needs the package (`pip install ./crates/nninit-py`), torch and transformers. Each repeat times,
one after the other so that a change in the machine's speed reaches both sides alike:
  - `nninit.sample("normal", (2**26,), out=buf)` and the Rust fill it wraps (the
    benches/src/bin/throughput.rs probe, release build, rebuilt first, at as many threads);
  - `nninit.torch.normal_` and `torch.Tensor.normal_` on an 8192x8192 float32 tensor;
  - `nninit.torch.apply_(model, "hf", seed=0)` and transformers' own `_init_weights`
    (`model.apply(model._init_weights)`: `init_weights()` skips modules it has initialized once)
    on the preset's Llama (crates/nninit/src/arch/presets/), built on the meta device and
    materialized on the CPU with `to_empty`.
PyTorch runs at torch's default thread count (all cores); nninit's fills use rayon's pool
(all cores). Best of the repeats, in seconds.
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np

import torch
import transformers

import nninit
import nninit.torch as nt


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--preset", default="llama-1b")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "crates/nninit/src/arch/presets", args.preset + ".json")) as f:
        config = json.load(f)
    cfg = transformers.AutoConfig.for_model(**config)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(cfg)
    model.to_empty(device="cpu")
    params = sum(p.numel() for p in model.parameters())
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "nninit-benches", "--bin", "throughput"], cwd=root, check=True)
    exe = os.path.join(root, "target", "release", "throughput")
    threads = os.cpu_count()
    n = 1 << 26
    buf = np.empty(n, dtype=np.float32)
    nninit.sample("normal", (n,), seed=0, name="w", out=buf)
    rates = {}
    x = torch.empty(8192, 8192)
    probe = next(p for n, p in model.named_parameters() if n.endswith("mlp.down_proj.weight"))
    best = {}
    for _ in range(args.repeats):
        out = json.loads(subprocess.run([exe, str(threads), "1"], check=True, capture_output=True, text=True).stdout)
        rates["Rust normal fill"] = max(rates.get("Rust normal fill", 0.0), out["msamples_per_s"]["normal"])
        t = timed(lambda: nninit.sample("normal", (n,), seed=0, name="w", out=buf))
        rates["nninit.sample normal out="] = max(rates.get("nninit.sample normal out=", 0.0), n / t / 1e6)
        runs = {
            "nninit.torch.normal_ 8192x8192": lambda: nt.normal_(x, 0.0, 0.02, seed=0, name="w"),
            "torch normal_ 8192x8192": lambda: x.normal_(0.0, 0.02),
            f"nninit.torch.apply_ {args.preset}": lambda: nt.apply_(model, "hf", seed=0),
            f"transformers _init_weights {args.preset}": lambda: model.apply(model._init_weights),
        }
        for key, fn in runs.items():
            with torch.no_grad():
                probe.zero_()
            best[key] = min(best.get(key, float("inf")), timed(fn))
            # Each timed init must really have written the weights (none may skip work).
            assert "8192" in key or probe.std().item() > 0, f"{key} left the weights untouched"
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, nninit {nninit.__version__ if hasattr(nninit, '__version__') else '?'}, "
          f"torch threads {torch.get_num_threads()}, {args.preset} {params / 1e6:.0f} M parameters, load {os.getloadavg()[0]:.1f}")
    for key, rate in rates.items():
        print(f"{key} 2^26 f32, {threads} threads: {rate:.0f} M/s")
    for key, seconds in best.items():
        print(f"{key}: {seconds:.3f} s")


if __name__ == "__main__":
    main()
