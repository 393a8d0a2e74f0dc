#!/usr/bin/env python3
"""Fill throughput of nninit beside NumPy and (where installed) PyTorch, in one run.

Usage: python3 scripts/bench-peers.py [--repeats 5]

For 1 and 2 threads it times, on 2**26 float32 elements in a preallocated buffer:
  nninit:  normal, uniform, truncated_normal, kaiming_normal and a plain memory
           write of the same buffer (benches/src/bin/throughput.rs, release build,
           rebuilt first), and torch_mode_normal: PyTorch's generator and normal_
           replayed bit for bit. A memory write is timed before every timed fill,
           and each fill's "% of write" is against the best of the writes timed
           beside it (see throughput.rs); the memory_write row is the run's best;
  PyTorch: torch.empty(n).normal_(), .uniform_(), nn.init.trunc_normal_(std=0.02),
           nn.init.kaiming_normal_ on an [8192, 8192] tensor, with torch.set_num_threads(t);
  NumPy:   Generator(PCG64).standard_normal / random (dtype float32, out=...), one thread.
Each figure is the best of --repeats runs, in millions of samples per second. The peers
are interleaved: each repeat runs nninit's probe once (one timed fill of each kind) and then
PyTorch's and NumPy's fills once, so that a change in the machine's speed during the run
reaches both sides alike. The probe also times the truncated normal in each convention and,
in f64, the normal and truncated normals (rows `*_f64`); `trunc/normal` is each truncated
normal against nninit's own normal fill of the same width and thread count, in the same run,
and `normal_bf16`/`normal_f16` (the normal fill into half-precision buffers: f32 kernel and
rounding) against the f32 normal fill.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

N = 1 << 26


def best_rate(fn, repeats):
    fn()
    best = min(_timed(fn) for _ in range(repeats))
    return N / best / 1e6


def merge_best(best, new):
    """Keeps the larger rate per key."""
    for key, value in new.items():
        best[key] = max(best.get(key, 0.0), value)


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def build_probe(root):
    # Always: a binary left from an older checkout would time the old kernels.
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "nninit-benches", "--bin", "throughput"], cwd=root, check=True)
    return os.path.join(root, "target", "release", "throughput")


def nninit_rates(exe, threads):
    """One repeat of every nninit fill (the probe warms each fill once before timing it)."""
    out = json.loads(subprocess.run([exe, str(threads), "1"], check=True, capture_output=True, text=True).stdout)
    return out["msamples_per_s"], out["memory_write_beside"]


def torch_rates(threads, repeats):
    try:
        import torch
    except ImportError:
        return None, None
    torch.set_num_threads(threads)
    buf = torch.empty(N)
    mat = buf.view(8192, 8192)
    rates = {
        "normal": best_rate(lambda: buf.normal_(), repeats),
        "uniform": best_rate(lambda: buf.uniform_(), repeats),
        "truncated_normal": best_rate(lambda: torch.nn.init.trunc_normal_(mat, std=0.02, a=-0.04, b=0.04), repeats),
        "kaiming_normal": best_rate(lambda: torch.nn.init.kaiming_normal_(mat, nonlinearity="relu"), repeats),
    }
    return rates, torch.__version__


def numpy_rates(repeats):
    try:
        import numpy as np
    except ImportError:
        return None, None
    rng = np.random.default_rng(0)
    out = np.empty(N, dtype=np.float32)
    return {
        "normal": best_rate(lambda: rng.standard_normal(dtype=np.float32, out=out), repeats),
        "uniform": best_rate(lambda: rng.random(dtype=np.float32, out=out), repeats),
    }, np.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 2^26 float32, best of {args.repeats}, M samples/s")
    exe = build_probe(root)
    rows, trunc_rows = [], []
    np_rates, np_version, torch_version = {}, None, None
    for threads in (1, 2):
        nn, beside, tr = {}, {}, {}
        for _ in range(args.repeats):
            rates, writes = nninit_rates(exe, threads)
            merge_best(nn, rates)
            merge_best(beside, writes)
            peer, torch_version = torch_rates(threads, 1)
            merge_best(tr, peer or {})
            if threads == 1:
                npy, np_version = numpy_rates(1)
                merge_best(np_rates, npy or {})
        for name in sorted(k for k in nn if k.startswith("truncated_normal")):
            base = "normal_f64" if name.endswith("_f64") else "normal"
            trunc_rows.append((threads, name, nn[name], nn[base]))
        for name in ("normal_bf16", "normal_f16"):
            trunc_rows.append((threads, name, nn[name], nn["normal"]))
        for name in ("normal", "uniform", "truncated_normal", "kaiming_normal"):
            peer = tr.get(name) if tr else None
            rows.append((threads, name, nn[name], peer, np_rates.get(name) if threads == 1 else None, beside[name]))
        if threads == 1:
            # nninit replaying PyTorch's own generator and normal_ kernel, bit for bit.
            rows.append((threads, "torch_mode_normal", nn["torch_mode_normal"], tr.get("normal") if tr else None, None, beside["torch_mode_normal"]))
        rows.append((threads, "memory_write", nn["memory_write"], None, None, None))
    print(f"# torch {torch_version or 'not installed'}, numpy {np_version or 'not installed'}")
    print(f"{'threads':>7}  {'fill':<17} {'nninit':>9} {'torch':>9} {'numpy':>9} {'nninit/torch':>12} {'% of write':>10}")
    for threads, name, nn, peer, npy, write in rows:
        fmt = lambda v: f"{v:9.0f}" if v else f"{'—':>9}"
        ratio = f"{nn / peer:12.2f}" if peer else f"{'—':>12}"
        share = f"{100 * nn / write:9.1f}%" if write else f"{'':>10}"
        print(f"{threads:>7}  {name:<17} {nn:9.0f} {fmt(peer)} {fmt(npy)} {ratio} {share}")
    print()
    print(f"{'threads':>7}  {'against the normal fill':<34} {'nninit':>9} {'normal':>9} {'ratio':>12}")
    for threads, name, rate, normal in trunc_rows:
        print(f"{threads:>7}  {name:<34} {rate:9.0f} {normal:9.0f} {rate / normal:12.2f}")


if __name__ == "__main__":
    sys.exit(main())
