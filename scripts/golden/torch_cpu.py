#!/usr/bin/env python3
"""Golden fixtures for nninit's `torch` module, from real PyTorch on the CPU.

Writes crates/nninit/tests/fixtures/torch/<flavour>.json, where <flavour> is the
kernel PyTorch dispatched to (`avx2` or `default`). Run it twice:

    python3 scripts/golden/torch_cpu.py
    ATEN_CPU_CAPABILITY=default python3 scripts/golden/torch_cpu.py

Each case reseeds the global generator, runs a sequence of operations and
records every output tensor: small ones (<= INLINE elements) as exact bit
patterns (hex u32 for float32, u64 for float64), larger ones as the SHA-256 of
their little-endian bytes plus a few sampled values. A final `after` tensor
(4 float32 uniforms) checks how many draws the sequence consumed.
"""

import hashlib
import json
import math
import os
import platform
import sys

import numpy as np
import torch

assert torch.__version__.startswith("2.15"), f"pinned to torch 2.15, found {torch.__version__}"

torch.set_num_threads(1)
INLINE = 128
SEEDS = [0, 42, 2**40 + 3]
SIZES = [1, 7, 15, 16, 17, 100, 1000, 4096, 1_100_003]
DTYPES = {"float32": torch.float32, "float64": torch.float64}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT_DIR = os.path.join(ROOT, "crates", "nninit", "tests", "fixtures", "torch")


def encode(t):
    """A tensor as {shape, dtype, bits | sha256+samples}."""
    t = t.detach().contiguous().cpu()
    shape = list(t.shape)
    if t.dtype == torch.int64:
        return {"shape": shape, "dtype": "int64", "ints": [int(x) for x in t.reshape(-1).tolist()]}
    arr = t.numpy().reshape(-1)
    view = arr.view(np.uint32 if arr.dtype == np.float32 else np.uint64)
    dtype = "float32" if arr.dtype == np.float32 else "float64"
    width = 8 if dtype == "float32" else 16
    fmt = lambda v: format(int(v), f"0{width}x")
    if arr.size <= INLINE:
        return {"shape": shape, "dtype": dtype, "bits": [fmt(v) for v in view]}
    n = arr.size
    picks = sorted({0, 1, 2, n // 3, n // 2, n - 17, n - 16, n - 2, n - 1})
    return {
        "shape": shape,
        "dtype": dtype,
        "sha256": hashlib.sha256(arr.astype(arr.dtype.newbyteorder("<")).tobytes()).hexdigest(),
        "samples": [[i, fmt(view[i])] for i in picks],
    }


def encode_approx(t):
    """orthogonal_: values as decimal floats (compared to 1e-5)."""
    t = t.detach().contiguous()
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
            "values": [float(x) for x in t.reshape(-1).tolist()]}


def nonlinearity(op):
    return op.get("nonlinearity", "leaky_relu"), op.get("a", 0.0)


def run_op(op, dtype):
    """Runs one operation on the global generator; returns its encoded outputs."""
    fn = op["fn"]
    if fn == "modules":
        return run_modules(op["modules"], dtype)
    shape = op.get("shape")
    t = torch.empty(shape, dtype=dtype) if shape is not None else None
    init = torch.nn.init
    if fn == "uniform_":
        init.uniform_(t, op.get("a", 0.0), op.get("b", 1.0))
    elif fn == "normal_":
        init.normal_(t, op.get("mean", 0.0), op.get("std", 1.0))
    elif fn == "normal_strided":
        # a transposed view is not contiguous: the scalar path, in memory order
        base = torch.empty(shape[::-1], dtype=dtype)
        base.t().normal_(op.get("mean", 0.0), op.get("std", 1.0))
        t = base
    elif fn == "trunc_normal_":
        init.trunc_normal_(t, op["mean"], op["std"], op["a"], op["b"])
    elif fn == "kaiming_uniform_":
        name, a = nonlinearity(op)
        init.kaiming_uniform_(t, a=a, mode=op.get("mode", "fan_in"), nonlinearity=name)
    elif fn == "kaiming_normal_":
        name, a = nonlinearity(op)
        init.kaiming_normal_(t, a=a, mode=op.get("mode", "fan_in"), nonlinearity=name)
    elif fn == "xavier_uniform_":
        init.xavier_uniform_(t, gain=op.get("gain", 1.0))
    elif fn == "xavier_normal_":
        init.xavier_normal_(t, gain=op.get("gain", 1.0))
    elif fn == "orthogonal_":
        init.orthogonal_(t, gain=op.get("gain", 1.0))
        return [encode_approx(t)]
    elif fn == "sparse_":
        init.sparse_(t, op["sparsity"], op.get("std", 0.01))
    elif fn == "sparse_generator_":
        g = torch.Generator().manual_seed(op["generator_seed"])
        init.sparse_(t, op["sparsity"], op.get("std", 0.01), generator=g)
    elif fn == "randperm":
        return [encode(torch.randperm(op["n"]))]
    elif fn == "constant_":
        init.constant_(t, op["val"])
    elif fn == "eye_":
        init.eye_(t)
    elif fn == "dirac_":
        init.dirac_(t, op.get("groups", 1))
    else:
        raise ValueError(fn)
    return [encode(t)]


def listify(v):
    return list(v) if isinstance(v, (list, tuple)) else v


def build_module(spec):
    kind = spec["type"]
    kw = {k: listify(v) for k, v in spec.items() if k not in ("type", "name")}
    return getattr(torch.nn, kind)(**kw)


def run_modules(specs, dtype):
    torch.set_default_dtype(dtype)
    try:
        out = []
        for spec in specs:
            m = build_module(spec)
            for key, value in m.state_dict().items():
                name = f"{spec['name']}.{key}" if spec.get("name") else key
                entry = encode(value)
                entry["key"] = name
                out.append(entry)
        return out
    finally:
        torch.set_default_dtype(torch.float32)


def case(cid, seed, dtype_name, ops):
    torch.manual_seed(seed)
    outputs = []
    for op in ops:
        outputs.append(run_op(op, DTYPES[dtype_name]))
    after = torch.empty(4).uniform_()
    return {"id": cid, "seed": seed, "dtype": dtype_name, "ops": ops, "outputs": outputs,
            "after": encode(after)}


SEQUENTIAL_S3 = [
    {"type": "Conv2d", "name": "0", "in_channels": 3, "out_channels": 16, "kernel_size": 3},
    {"type": "Linear", "name": "3", "in_features": 14400, "out_features": 64},
    {"type": "LayerNorm", "name": "4", "normalized_shape": 64},
    {"type": "Linear", "name": "5", "in_features": 64, "out_features": 10, "bias": False},
    {"type": "Embedding", "name": "6", "num_embeddings": 100, "embedding_dim": 8},
    {"type": "Linear", "name": "7", "in_features": 8, "out_features": 3},
    {"type": "Bilinear", "name": "8", "in1_features": 4, "in2_features": 5, "out_features": 6},
]
MODULE_LISTS = {
    "sequential_s3": SEQUENTIAL_S3,
    "lstm": [{"type": "LSTM", "name": "lstm", "input_size": 10, "hidden_size": 20, "num_layers": 2}],
    "lstm_proj": [{"type": "LSTM", "name": "lstm", "input_size": 6, "hidden_size": 8, "num_layers": 1,
                   "bidirectional": True, "proj_size": 4}],
    "gru": [{"type": "GRU", "name": "gru", "input_size": 7, "hidden_size": 9, "num_layers": 1, "bias": False}],
    "rnn_bi2": [{"type": "RNN", "name": "rnn", "input_size": 5, "hidden_size": 6, "num_layers": 2,
                 "bidirectional": True}],
    "mha": [{"type": "MultiheadAttention", "name": "attn", "embed_dim": 16, "num_heads": 4}],
    "mha_kv": [{"type": "MultiheadAttention", "name": "attn", "embed_dim": 8, "num_heads": 2,
                "kdim": 5, "vdim": 3, "add_bias_kv": True}],
    "convs": [
        {"type": "Conv1d", "name": "c1", "in_channels": 4, "out_channels": 6, "kernel_size": 5},
        {"type": "Conv3d", "name": "c3", "in_channels": 2, "out_channels": 4, "kernel_size": [1, 2, 3],
         "bias": False},
        {"type": "ConvTranspose1d", "name": "t1", "in_channels": 3, "out_channels": 5, "kernel_size": 2},
        {"type": "ConvTranspose2d", "name": "t2", "in_channels": 4, "out_channels": 6, "kernel_size": 3,
         "groups": 2},
        {"type": "ConvTranspose3d", "name": "t3", "in_channels": 2, "out_channels": 2, "kernel_size": 2},
        {"type": "Conv2d", "name": "g", "in_channels": 8, "out_channels": 4, "kernel_size": [3, 1],
         "groups": 4, "stride": 2, "padding": 1},
    ],
    "norms_embeddings": [
        {"type": "Embedding", "name": "emb", "num_embeddings": 10, "embedding_dim": 3, "padding_idx": 2},
        {"type": "Embedding", "name": "emb2", "num_embeddings": 5, "embedding_dim": 2, "padding_idx": -1},
        {"type": "BatchNorm1d", "name": "bn1", "num_features": 3},
        {"type": "BatchNorm2d", "name": "bn2", "num_features": 4, "affine": False},
        {"type": "BatchNorm3d", "name": "bn3", "num_features": 2, "track_running_stats": False},
        {"type": "LayerNorm", "name": "ln", "normalized_shape": [2, 3], "bias": False},
        {"type": "Linear", "name": "", "in_features": 3, "out_features": 2},
    ],
}


def cases():
    out = []
    for seed in SEEDS:
        for dname in DTYPES:
            for n in SIZES:
                out.append(case(f"uniform_{n}", seed, dname, [{"fn": "uniform_", "shape": [n], "a": -0.5, "b": 2.0}]))
                out.append(case(f"normal_{n}", seed, dname, [{"fn": "normal_", "shape": [n], "mean": 0.25, "std": 1.5}]))
            out.append(case("uniform_default", seed, dname, [{"fn": "uniform_", "shape": [33]}]))
            out.append(case("normal_cache", seed, dname, [
                {"fn": "normal_", "shape": [7]}, {"fn": "normal_", "shape": [5]},
                {"fn": "normal_", "shape": [100]}, {"fn": "normal_", "shape": [3]},
                {"fn": "normal_", "shape": [1], "mean": -1.0, "std": 3.0},
                {"fn": "normal_strided", "shape": [4, 5]}, {"fn": "normal_", "shape": [2]},
            ]))
            out.append(case("trunc_normal", seed, dname, [
                {"fn": "trunc_normal_", "shape": [1000], "mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.04},
                {"fn": "trunc_normal_", "shape": [17], "mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
                {"fn": "trunc_normal_", "shape": [9], "mean": 0.0, "std": 1.0, "a": -1.0, "b": 1.0},
                {"fn": "trunc_normal_", "shape": [300], "mean": 0.5, "std": 1.0, "a": 1.0, "b": 1.5},
                {"fn": "trunc_normal_", "shape": [8], "mean": 0.0, "std": 1.0, "a": 2.0, "b": 3.0},
                {"fn": "trunc_normal_", "shape": [4096], "mean": 1.0, "std": 0.5, "a": -1.0, "b": 0.0},
            ]))
            out.append(case("kaiming_xavier", seed, dname, [
                {"fn": "kaiming_uniform_", "shape": [64, 3, 3, 3], "a": math.sqrt(5)},
                {"fn": "kaiming_uniform_", "shape": [10, 7], "mode": "fan_out", "nonlinearity": "relu"},
                {"fn": "kaiming_normal_", "shape": [32, 16, 5], "nonlinearity": "relu"},
                {"fn": "kaiming_normal_", "shape": [3, 4], "a": 0.2, "mode": "fan_out"},
                {"fn": "kaiming_uniform_", "shape": [5, 3], "a": 0.1234567, "nonlinearity": "leaky_relu"},
                {"fn": "kaiming_normal_", "shape": [40, 30], "nonlinearity": "tanh"},
                {"fn": "kaiming_uniform_", "shape": [8, 2, 3], "nonlinearity": "selu"},
                {"fn": "xavier_uniform_", "shape": [48, 16]},
                {"fn": "xavier_uniform_", "shape": [4, 3], "gain": 5.0 / 3.0},
                {"fn": "xavier_normal_", "shape": [1, 1, 16]},
                {"fn": "xavier_normal_", "shape": [100, 20, 3], "gain": math.sqrt(2.0)},
            ]))
            out.append(case("sparse", seed, dname, [
                {"fn": "sparse_", "shape": [10, 4], "sparsity": 0.3},
                {"fn": "sparse_", "shape": [50, 3], "sparsity": 0.1, "std": 1.0},
                {"fn": "sparse_generator_", "shape": [6, 5], "sparsity": 0.5, "generator_seed": 7},
                {"fn": "randperm", "n": 20},
            ]))
            out.append(case("orthogonal", seed, dname, [
                {"fn": "orthogonal_", "shape": [6, 10]},
                {"fn": "orthogonal_", "shape": [12, 3, 2], "gain": 2.0},
                {"fn": "orthogonal_", "shape": [5, 5]},
                {"fn": "normal_", "shape": [3]},
            ]))
            out.append(case("deterministic", seed, dname, [
                {"fn": "constant_", "shape": [5], "val": 0.1},
                {"fn": "eye_", "shape": [3, 4]},
                {"fn": "dirac_", "shape": [4, 2, 3, 3], "groups": 2},
                {"fn": "dirac_", "shape": [2, 3, 1, 2, 3]},
            ]))
            for name, mods in MODULE_LISTS.items():
                out.append(case(f"modules_{name}", seed, dname, [{"fn": "modules", "modules": mods}]))
    return out


def main():
    flavour = torch.backends.cpu.get_cpu_capability().lower()
    kernel = "default" if flavour == "default" else "avx2"
    doc = {
        "generator": "scripts/golden/torch_cpu.py",
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernel": kernel,
        "machine": platform.machine(),
        "inline_max": INLINE,
        "cases": cases(),
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, f"{kernel}.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(doc['cases'])} cases)", file=sys.stderr)


if __name__ == "__main__":
    main()
