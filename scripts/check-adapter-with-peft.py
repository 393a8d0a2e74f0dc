#!/usr/bin/env python3
"""Load adapters written by `nninit adapter` with `peft` and check them against PEFT's own init.

Setup: a small Llama (2 layers, hidden 64, grouped-query attention, untied head) made with
`nninit materialize --config ... --scheme hf --dtype f32`, in several shards (so the residual is
streamed shard by shard). Then, for each method (lora, rslora, pissa with the randomized and the
exact SVD, olora), `nninit adapter --base BASE --method M --rank 8 --alpha 16 --target <all seven
projections> --seed 0 --out OUT/M`, and:

  1. load: the base (BASE, or OUT/M/residual for pissa and olora) with transformers'
     `from_pretrained(output_loading_info=True)`: no missing, unexpected or mismatched keys; then
     `PeftModel.from_pretrained(base, OUT/M)`, and `load_adapter` a second time to read PEFT's
     load result: no unexpected keys and no missing LoRA keys; every lora_A/lora_B PEFT holds equals
     the file's bit for bit; PEFT's scaling is alpha/r (alpha/sqrt(r) for rslora);
  2. outputs: logits of base(+residual) + adapter against the base model's own logits on random
     tokens: equal to float rounding (LoRA and rsLoRA: B = 0; PiSSA and OLoRA: the residual and the
     adapter add up to the base), and merge_and_unload() gives back the base weights;
  3. against PEFT's own init of the same base (get_peft_model on a fresh copy):
     - lora, rslora: A's distribution (PEFT: kaiming_uniform_(a=sqrt(5)), U(-1/sqrt(in), 1/sqrt(in)))
       per module: every |A| within the bound; mean and std within z standard errors of PEFT's
       (two independent samples: |dmean| <= z*sigma*sqrt(2/n), |dstd| <= z*sigma*sqrt(2(kappa-1)/(4n)),
       kappa the pooled kurtosis); B = 0 in both;
     - pissa --svd exact vs init_lora_weights="pissa", olora vs "olora": A, B (up to the sign of each
       rank-one pair: row i of A with column i of B) and the residual weights equal the same init
       computed in float64 from torch.linalg.svd / qr of W in double (the exact answer), to 2e-5
       relative to the largest entry; and they equal PEFT's own (float32) init to within 2e-5 or,
       where PEFT's float32 SVD is itself further than that from the exact answer (close singular
       values), to within PEFT's distance from it plus nninit's;
     - pissa randomized (default: oversample 8, 4 power iterations): the share of ||W||_F^2 its
       adapter holds against the exact PiSSA's (the optimum, Eckart-Young) and against PEFT's
       randomized "pissa_niter_4" on the same base: at least 99% of the optimum.

Pinned: torch==2.15.0, transformers==5.24.0, peft==0.21.2, safetensors==0.8.0, numpy==2.4.6 (the
script prints the versions it ran with). Run from the repository root after building nninit:

  python3 scripts/check-adapter-with-peft.py [--nninit target/debug/nninit] [--z 5] [--json out.json]

Exit status 0 when every check passes, 1 when any fails, 2 on a usage or setup error.
"""
import argparse
import json
import math
import pathlib
import platform
import subprocess
import sys
import tempfile

import numpy
import peft
import safetensors
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent

SMALL_LLAMA = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 176, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "vocab_size": 128, "max_position_embeddings": 64, "initializer_range": 0.02, "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False, "hidden_act": "silu",
}
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
RANK, ALPHA = 8, 16.0

FAILURES = []


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what)
    if not ok:
        FAILURES.append(what)
    return ok


def load_base(folder):
    model, info = transformers.AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=torch.float32, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    check(not bad, f"transformers loads {folder.name}/ with no missing/unexpected/mismatched keys {bad or ''}")
    return model.eval()


def logits(model, tokens):
    with torch.no_grad():
        return model(input_ids=tokens).logits.float()


def lora_modules(model):
    """{module path in the base model: LoRA layer} of a PeftModel."""
    out = {}
    for name, mod in model.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            out[name.removeprefix("base_model.model.")] = mod
    return out


def close_up_to_sign(ours_a, ours_b, theirs_a, theirs_b, tol):
    """A [r, in], B [out, r]: equal up to the sign of each pair (row i of A, column i of B)."""
    worst = 0.0
    for i in range(ours_a.shape[0]):
        s = 1.0 if torch.dot(ours_a[i], theirs_a[i]) >= 0 else -1.0
        scale = max(theirs_a[i].abs().max().item(), 1e-30)
        worst = max(worst, (s * ours_a[i] - theirs_a[i]).abs().max().item() / scale)
        scale = max(theirs_b[:, i].abs().max().item(), 1e-30)
        worst = max(worst, (s * ours_b[:, i] - theirs_b[:, i]).abs().max().item() / scale)
    return worst <= tol, worst


def kurtosis(x):
    x = x.double().flatten()
    c = x - x.mean()
    return (c.pow(4).mean() / c.pow(2).mean().pow(2)).item()


def run(args):
    results = {"versions": {
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "peft": peft.__version__, "safetensors": safetensors.__version__, "numpy": numpy.__version__}}
    print("versions:", json.dumps(results["versions"]))
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="nninit-peft-"))
    config = tmp / "config.json"
    config.write_text(json.dumps(SMALL_LLAMA))
    base = tmp / "base"
    subprocess.run([args.nninit, "materialize", "--config", str(config), "--scheme", "hf", "--dtype", "f32",
                    "--seed", "0", "--max-shard-size", "200KB", "--out", str(base)], check=True,
                   stdout=subprocess.DEVNULL)
    shards = sorted(base.glob("*.safetensors"))
    print(f"base: {base} ({len(shards)} shards)")
    torch.manual_seed(0)
    tokens = torch.randint(0, SMALL_LLAMA["vocab_size"], (2, 16))
    reference = load_base(base)
    ref_logits = logits(reference, tokens)
    ref_weights = {k: v.clone() for k, v in reference.state_dict().items()}

    variants = [
        ("lora", ["--method", "lora"]),
        ("rslora", ["--method", "rslora"]),
        ("pissa", ["--method", "pissa"]),
        ("pissa-exact", ["--method", "pissa", "--svd", "exact"]),
        ("olora", ["--method", "olora"]),
    ]
    peft_inits = {}

    def peft_init(kind):
        if kind not in peft_inits:
            torch.manual_seed(args.seed)
            model = load_base(base)
            cfg = LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS, init_lora_weights=True if kind in ("lora", "rslora") else kind,
                             use_rslora=kind == "rslora")
            peft_inits[kind] = get_peft_model(model, cfg)
        return peft_inits[kind]

    for label, method_args in variants:
        print(f"\n== {label}")
        out = tmp / label
        cmd = [args.nninit, "adapter", "--base", str(base), *method_args, "--rank", str(RANK), "--alpha", str(ALPHA),
               "--target", ",".join(TARGETS), "--seed", str(args.seed), "--out", str(out), "--json"]
        report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["adapter"]
        residual = label.startswith("pissa") or label == "olora"
        check((out / "residual").is_dir() == residual, f"residual/ written: {residual}")
        check(len(report["modules"]) == 7 * SMALL_LLAMA["num_hidden_layers"], f"{len(report['modules'])} modules adapted")
        file = load_file(str(out / "adapter_model.safetensors"))
        model = load_base(out / "residual" if residual else base)
        pm = PeftModel.from_pretrained(model, str(out))
        layers = lora_modules(pm)
        check(len(layers) == len(report["modules"]), f"PEFT made {len(layers)} LoRA layers")
        result = pm.load_adapter(str(out), adapter_name="again")
        missing = [k for k in result.missing_keys if "lora_" in k and ".again." in k]
        check(not result.unexpected_keys and not missing,
              f"load_adapter: unexpected {len(result.unexpected_keys)}, missing LoRA keys {len(missing)}")
        pm.delete_adapter("again")
        pm.set_adapter("default")
        same, scale_ok = True, True
        want_scaling = ALPHA / math.sqrt(RANK) if label == "rslora" else ALPHA / RANK
        for path, layer in layers.items():
            for f in ("A", "B"):
                key = f"base_model.model.{path}.lora_{f}.weight"
                held = getattr(layer, f"lora_{f}")["default"].weight.detach()
                same &= key in file and torch.equal(held, file[key])
            scale_ok &= abs(layer.scaling["default"] - want_scaling) < 1e-12
        check(same, "every lora_A/lora_B PEFT holds equals the file's, bit for bit")
        check(scale_ok, f"PEFT's scaling is {want_scaling:.6g}")
        pm.eval()
        diff = (logits(pm, tokens) - ref_logits).abs().max().item()
        tol = 1e-4 * ref_logits.abs().max().item()
        check(diff <= tol, f"base{'+residual' if residual else ''} + adapter logits = base logits (max |diff| {diff:.3g} <= {tol:.3g})")
        merged = pm.merge_and_unload().state_dict()
        wdiff = max((merged[k] - ref_weights[k]).abs().max().item() for k in ref_weights)
        check(wdiff <= 1e-5, f"merge_and_unload() gives back the base weights (max |diff| {wdiff:.3g})")
        entry = {"modules": len(layers), "logit_diff": diff, "merged_weight_diff": wdiff}

        # Against PEFT's own init of the same base.
        file_a = {p: file[f"base_model.model.{p}.lora_A.weight"] for p in layers}
        file_b = {p: file[f"base_model.model.{p}.lora_B.weight"] for p in layers}
        if label in ("lora", "rslora"):
            theirs = lora_modules(peft_init(label))
            ok_all, worst_z = True, 0.0
            for p in layers:
                a, b = file_a[p], theirs[p].lora_A["default"].weight.detach()
                n, fan_in = a.numel(), a.shape[1]
                bound = 1 / math.sqrt(fan_in)
                sigma = (a.std().item() + b.std().item()) / 2
                kap = kurtosis(torch.cat([a.flatten(), b.flatten()]))
                z_mean = abs(a.mean().item() - b.mean().item()) / (sigma * math.sqrt(2 / n))
                z_std = abs(a.std().item() - b.std().item()) / (sigma * math.sqrt(2 * (kap - 1) / (4 * n)))
                worst_z = max(worst_z, z_mean, z_std)
                ok_all &= a.abs().max().item() <= bound * (1 + 1e-6) and z_mean <= args.z and z_std <= args.z
                ok_all &= bool((file_b[p] == 0).all()) and bool((theirs[p].lora_B["default"].weight == 0).all())
            check(ok_all, f"A ~ PEFT's kaiming_uniform_(a=sqrt 5) per module (worst z {worst_z:.2f} <= {args.z}), B = 0")
            entry["worst_z"] = worst_z
        elif label in ("pissa-exact", "olora"):
            theirs_model = peft_init("pissa" if label == "pissa-exact" else "olora")
            theirs = lora_modules(theirs_model)
            res = {}
            for f in sorted((out / "residual").glob("*.safetensors")):
                res.update(load_file(str(f)))
            worst = {"ours-peft": 0.0, "ours-f64": 0.0, "peft-f64": 0.0}
            wres = dict(worst)
            scale = ALPHA / RANK
            for p in layers:
                w = ref_weights[p + ".weight"]
                ta = theirs[p].lora_A["default"].weight.detach()
                tb = theirs[p].lora_B["default"].weight.detach()
                tw = theirs[p].base_layer.weight.detach()
                ours = (file_a[p], file_b[p], res[p + ".weight"])
                peft_ = (ta, tb, tw)
                # The same init in float64 (torch.linalg.svd / qr of W in double): the exact answer.
                w64 = w.double()
                if label == "pissa-exact":
                    u, s, vh = torch.linalg.svd(w64, full_matrices=False)
                    root = (s[:RANK] / scale).sqrt()
                    a64, b64 = root[:, None] * vh[:RANK], u[:, :RANK] * root[None, :]
                else:
                    q, r = torch.linalg.qr(w64)
                    a64, b64 = r[:RANK], q[:, :RANK]
                exact = (a64, b64, w64 - scale * b64 @ a64)
                for key, (x, y) in {"ours-peft": (ours, peft_), "ours-f64": (ours, exact), "peft-f64": (peft_, exact)}.items():
                    _, d = close_up_to_sign(x[0].double(), x[1].double(), y[0].double(), y[1].double(), 0)
                    worst[key] = max(worst[key], d)
                    wres[key] = max(wres[key], ((x[2].double() - y[2].double()).abs().max() / y[2].abs().max()).item())
            tol = 2e-5
            name = label.split("-")[0]
            check(worst["ours-f64"] <= tol and wres["ours-f64"] <= tol,
                  f"A, B and residual = the exact (float64) {name} init, up to sign "
                  f"(worst relative diff {worst['ours-f64']:.3g}, residual {wres['ours-f64']:.3g} <= {tol})")
            # PEFT factors in float32: where singular values lie close, its vectors are off by more than
            # rounding. Its difference from nninit must be explained by its own distance from the exact answer.
            check(worst["ours-peft"] <= max(tol, worst["peft-f64"] + worst["ours-f64"])
                  and wres["ours-peft"] <= max(tol, wres["peft-f64"] + wres["ours-f64"]),
                  f"A, B and residual = PEFT's {name} init up to sign, to PEFT's own float32 error "
                  f"(nninit vs PEFT {worst['ours-peft']:.3g} / residual {wres['ours-peft']:.3g}; "
                  f"PEFT vs float64 {worst['peft-f64']:.3g} / {wres['peft-f64']:.3g})")
            entry.update(factor_diff=worst, residual_diff=wres)
        if label.startswith("pissa"):
            entry["captured"] = sum(m["captured"] for m in report["modules"]) / len(report["modules"])
        results[label] = entry

    # Randomized PiSSA against the optimum (exact) and PEFT's pissa_niter_4.
    ours, exact = results["pissa"]["captured"], results["pissa-exact"]["captured"]
    niter = lora_modules(peft_init("pissa_niter_4"))
    shares = []
    for path, layer in niter.items():
        w = ref_weights[path + ".weight"]
        delta = layer.scaling["default"] * layer.lora_B["default"].weight.detach() @ layer.lora_A["default"].weight.detach()
        shares.append((delta.pow(2).sum() / w.pow(2).sum()).item())
    theirs = sum(shares) / len(shares)
    print(f"\n== randomized PiSSA: share of ||W||^2 in the adapter: nninit {ours:.5f}, exact {exact:.5f}, "
          f"PEFT pissa_niter_4 {theirs:.5f}")
    check(ours >= 0.99 * exact, f"nninit's randomized PiSSA holds {100 * ours / exact:.2f}% of the optimum (>= 99%)")
    results["pissa_randomized"] = {"nninit": ours, "exact": exact, "peft_pissa_niter_4": theirs}
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nninit", default=str(ROOT / "target/debug/nninit"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--z", type=float, default=5.0)
    ap.add_argument("--json", type=pathlib.Path)
    args = ap.parse_args()
    if not pathlib.Path(args.nninit).is_file():
        print(f"check-adapter-with-peft: no binary at {args.nninit} (cargo build -p nninit-cli)")
        return 2
    results = run(args)
    results["failures"] = FAILURES
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"\n{'all checks passed' if not FAILURES else f'{len(FAILURES)} check(s) failed'}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
