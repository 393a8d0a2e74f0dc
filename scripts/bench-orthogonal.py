#!/usr/bin/env python3
"""Orthogonal initialization: nninit beside faer's QR and PyTorch's orthogonal_, in one run.

Usage: python3 scripts/bench-orthogonal.py [--repeats 3] [--n 4096]

For 1 and 2 threads it times, on an n x n float32 matrix:
  nninit:  Init::Orthogonal (Gaussian draw, QR with faer, Q formed in place, sign fix), and
           faer's own `Mat::qr` + `compute_thin_Q` of the same Gaussians already in a faer
           matrix (benches/src/bin/orthogonal.rs, release build, rebuilt first);
  PyTorch: torch.nn.init.orthogonal_ on an [n, n] tensor with torch.set_num_threads(t)
           (its Gaussian draw, torch.linalg.qr, sign fix and copy).
Each figure is the best of --repeats, in seconds. The three are interleaved: each repeat runs
the probe once (nninit, then faer) and then PyTorch once, so a change in the machine's speed
reaches all of them alike.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time


def build_probe(root):
    # Always: a binary left from an older checkout would time the old code.
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "nninit-benches", "--bin", "orthogonal"], cwd=root, check=True)
    return os.path.join(root, "target", "release", "orthogonal")


def probe_secs(exe, threads, n):
    out = subprocess.run([exe, str(threads), "1", str(n)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["seconds"]


def torch_secs(threads, n):
    try:
        import torch
    except ImportError:
        return None, None
    torch.set_num_threads(threads)
    mat = torch.empty(n, n)
    torch.nn.init.orthogonal_(mat)  # warm: first call loads LAPACK
    t = time.perf_counter()
    torch.nn.init.orthogonal_(mat)
    return time.perf_counter() - t, torch.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=4096)
    args = parser.parse_args()
    if args.repeats < 1 or not 1 <= args.n <= 16384:
        parser.error("--repeats must be at least 1 and --n within 1..16384")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    exe = build_probe(root)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.n}x{args.n} float32, best of {args.repeats}, seconds")
    rows, version = [], None
    for threads in (1, 2):
        best = {"nninit": float("inf"), "faer_qr_thin_q": float("inf"), "torch": float("inf")}
        for _ in range(args.repeats):
            for name, secs in probe_secs(exe, threads, args.n).items():
                best[name] = min(best[name], secs)
            secs, version = torch_secs(threads, args.n)
            if secs is not None:
                best["torch"] = min(best["torch"], secs)
        rows.append((threads, best))
    print(f"# torch {version or 'not installed'}")
    print(f"{'threads':>7} {'nninit':>8} {'faer':>8} {'torch':>8} {'nninit/faer':>11} {'nninit/torch':>12}")
    for threads, b in rows:
        torch_s = b["torch"] if b["torch"] != float("inf") else None
        fmt_t = f"{torch_s:8.3f}" if torch_s else f"{'—':>8}"
        ratio_t = f"{b['nninit'] / torch_s:12.2f}" if torch_s else f"{'—':>12}"
        print(f"{threads:>7} {b['nninit']:8.3f} {b['faer_qr_thin_q']:8.3f} {fmt_t} {b['nninit'] / b['faer_qr_thin_q']:11.2f} {ratio_t}")


if __name__ == "__main__":
    sys.exit(main())
