#!/usr/bin/env python3
"""PiSSA init speed: `nninit adapter --method pissa` against PEFT's own PiSSA init, same run.

The base: `nninit materialize --preset llama-1b --scheme hf --dtype bf16` (16 layers, hidden 2048,
intermediate 5632; 1.1 B parameters). Adapted: every attention and MLP projection (q, k, v, o,
gate, up, down: 112 matrices), rank 16, alpha 16.

Timed, interleaved in one run (order: nninit, PEFT "pissa_niter_16", PEFT "pissa", nninit; repeated
--rounds times):
  - nninit: the whole `nninit adapter` command (release build): open the base, factor every matrix
    (randomized SVD, oversample 8, 4 power iterations, the default), write the residual base
    (2.2 GB of shards) and the adapter. Wall time of the process.
  - PEFT: `get_peft_model(model, LoraConfig(init_lora_weights=...))` on the model already loaded
    (loading and saving are not counted, so PEFT's time is its init alone): "pissa" is
    torch.linalg.svd per matrix, "pissa_niter_16" is torch.svd_lowrank(W, q=16, niter=16).
    torch uses every core (torch.get_num_threads() is printed).

Also printed: the share of ||W||_F^2 each adapter holds (the exact SVD's is the optimum).

Pinned: torch==2.15.0, transformers==5.24.0, peft==0.21.2 (printed). Run from the repository root
after `cargo build --release -p nninit-cli`:

  python3 scripts/bench-adapter.py [--nninit target/release/nninit] [--rounds 1] [--json out.json]
"""
import argparse
import gc
import json
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
RANK, ALPHA = 16, 16


def run_nninit(exe, base, out):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [exe, "adapter", "--base", str(base), "--method", "pissa", "--rank", str(RANK), "--alpha", str(ALPHA),
           "--target", ",".join(TARGETS), "--seed", "0", "--out", str(out), "--json"]
    t = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    report = json.loads(done.stdout)["adapter"]
    captured = sum(m["captured"] for m in report["modules"]) / len(report["modules"])
    return seconds, captured, len(report["modules"]), " ".join(cmd)


def run_peft(base, init):
    model = transformers.AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.bfloat16)
    weights = {n: p.detach().float().pow(2).sum().item() for n, p in model.named_parameters()
               if any(n.endswith(f"{t}.weight") for t in TARGETS)}
    cfg = LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS, init_lora_weights=init)
    t = time.perf_counter()
    pm = get_peft_model(model, cfg)
    seconds = time.perf_counter() - t
    shares = []
    for name, mod in pm.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            key = name.removeprefix("base_model.model.") + ".weight"
            ba = mod.scaling["default"] * mod.lora_B["default"].weight.float() @ mod.lora_A["default"].weight.float()
            shares.append(ba.pow(2).sum().item() / weights[key])
    del pm, model
    gc.collect()
    return seconds, sum(shares) / len(shares), len(shares)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nninit", default=str(ROOT / "target/release/nninit"))
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--workdir", type=pathlib.Path, default=None)
    ap.add_argument("--json", type=pathlib.Path)
    args = ap.parse_args()
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "peft": peft.__version__,
                "torch_threads": torch.get_num_threads()}
    print("versions:", json.dumps(versions), flush=True)
    work = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="nninit-bench-adapter-"))
    base = work / "llama-1b"
    if not (base / "config.json").is_file():
        subprocess.run([args.nninit, "materialize", "--preset", "llama-1b", "--scheme", "hf", "--dtype", "bf16",
                        "--seed", "0", "--out", str(base)], check=True, stdout=subprocess.DEVNULL)
    times = {"nninit": [], "peft pissa_niter_16": [], "peft pissa": []}
    shares = {}
    command = ""
    for r in range(args.rounds):
        for label in ["nninit", "peft pissa_niter_16", "peft pissa", "nninit"]:
            if label == "nninit":
                s, share, n, command = run_nninit(args.nninit, base, work / "adapter")
            else:
                s, share, n = run_peft(base, label.split()[1])
            times[label].append(s)
            shares[label] = share
            print(f"round {r}: {label:<20} {s:8.2f} s  ({n} matrices, adapter holds {100 * share:.4f}% of ||W||^2)",
                  flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("\nmedian seconds:", json.dumps(med))
    for k in ("peft pissa", "peft pissa_niter_16"):
        print(f"nninit is {med[k] / med['nninit']:.1f}x faster than {k}")
    print("command:", command)
    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "times": times, "median": med, "shares": shares,
                                         "command": command}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
