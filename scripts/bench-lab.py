#!/usr/bin/env python3
"""One MNIST training epoch: the lab (burn flex) beside PyTorch, interleaved, in one run.

Usage: python3 scripts/bench-lab.py [--repeats 3] [--threads 1,2] [--torch-passive] [--exe PATH]

The network is 784-256-256-10 with ReLU and biases, He-initialized (kaiming_normal_, fan-in,
zero biases), trained with cross-entropy by plain SGD (lr 0.01, no momentum) for 469 steps of
128 examples, one pass over MNIST's 60,000 training images, the loss read back every step.

  nninit:  crates/nninit-lab/examples/epoch.rs (the lab's own `train::train`), release build,
           with RAYON_NUM_THREADS=t;
  PyTorch: the same loop on the same data, torch.set_num_threads(t) (and OMP/MKL_NUM_THREADS=t).

Both read ~/.cache/nninit/data/mnist (or $NNINIT_DATA/mnist): pixels / 255, then standardized
with the training set's mean 0.13066 and std 0.30811. Every measurement is a fresh process
that times the epoch alone (not start-up, data loading or weight drawing). For each repetition
the script runs every (threads, framework) pair once, alternating frameworks, so both see the
same load; it prints the min and median over repetitions and the ratio nninit / PyTorch, of the
wall time and, on one thread, of the CPU time (user + system, all threads; what the run costs
without the time spent waiting for a core on a loaded machine).
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

MEAN, STD = 0.13066, 0.30811
BATCH, LR = 128, 0.01


def data_dir():
    d = os.environ.get("NNINIT_DATA")
    if d:
        return d
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "nninit", "data")
    return os.path.join(os.path.expanduser("~"), ".cache", "nninit", "data")


def read_idx(path, header):
    with open(path, "rb") as f:
        return f.read()[header:]


def torch_epoch(threads):
    """Runs in a child process: one epoch in PyTorch, prints the same JSON as the Rust example."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    root = os.path.join(data_dir(), "mnist")
    px = np.frombuffer(read_idx(os.path.join(root, "train-images-idx3-ubyte"), 16), dtype=np.uint8)
    y = np.frombuffer(read_idx(os.path.join(root, "train-labels-idx1-ubyte"), 8), dtype=np.uint8)
    x = torch.from_numpy(((px.astype(np.float32) / 255.0 - MEAN) / STD).reshape(-1, 784).copy())
    y = torch.from_numpy(y.astype(np.int64))
    n = x.shape[0]
    steps = -(-n // BATCH)

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    started, cpu_started = time.perf_counter(), time.process_time()
    # Full batches only, as the lab draws them: a fresh permutation when one runs out (the lab
    # draws its permutations inside the timed `train` too).
    order = torch.cat([torch.randperm(n), torch.randperm(n)])
    losses = []
    for s in range(steps):
        idx = order[s * BATCH:(s + 1) * BATCH]
        xb, yb = x[idx], y[idx]
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "steps": steps, "threads": torch.get_num_threads(),
                      "mean_loss": sum(losses) / len(losses), "torch": torch.__version__}))


def child_env(threads, extra):
    env = dict(os.environ)
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.update(extra)
    return env


def run_json(cmd, threads, extra):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=child_env(threads, extra)).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary(xs):
    return min(xs), statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--exe", help="the built example (default: $CARGO_TARGET_DIR or target/release/examples/epoch)")
    ap.add_argument("--torch-passive", action="store_true",
                    help="also time PyTorch with OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep instead of "
                         "spinning at barriers, which matters when other processes load the machine)")
    ap.add_argument("--torch-worker", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker is not None:
        torch_epoch(args.torch_worker)
        return

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    exe = args.exe or os.path.join(target, "release", "examples", "epoch")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "-p", "nninit-lab", "--example", "epoch"], cwd=root, check=True)
    threads = [int(t) for t in args.threads.split(",")]
    torch_cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker"]
    # name -> (command for t threads, extra environment)
    series = {
        "nninit": (lambda t: [exe], {}),
        "torch": (lambda t: torch_cmd + [str(t)], {}),
    }
    if args.torch_passive:
        series["torch-passive"] = (lambda t: torch_cmd + [str(t)], {"OMP_WAIT_POLICY": "PASSIVE"})

    def load():
        return os.getloadavg()[0]

    print(f"# {datetime.datetime.now().isoformat(timespec='seconds')}  exe={exe}", flush=True)
    print(f"# load average at start: {load():.2f}", flush=True)
    times = {(name, t): [] for name in series for t in threads}
    cpu = {(name, t): [] for name in series for t in threads}
    torch_version = None
    names = list(series)
    for rep in range(args.repeats):
        for t in threads:
            # Rotate which series goes first, so none always follows another.
            k = (rep + t) % len(names)
            for name in names[k:] + names[:k]:
                cmd, extra = series[name]
                r = run_json(cmd(t), t, extra)
                if r["threads"] != t:
                    sys.exit(f"{name} ran with {r['threads']} threads, not {t}")
                times[(name, t)].append(r["seconds"])
                if r.get("cpu_seconds") is not None:
                    cpu[(name, t)].append(r["cpu_seconds"])
                torch_version = r.get("torch", torch_version)
                print(f"rep {rep + 1} threads {t} {name:13} {r['seconds']:7.3f} s  cpu {r.get('cpu_seconds') or 0:7.3f} s  "
                      f"(mean loss {r['mean_loss']:.4f}, load {load():.2f})", flush=True)
    print(f"# load average at end: {load():.2f}; torch {torch_version}")
    print()
    print("| threads | PyTorch setting | nninit min / median | PyTorch min / median | nninit/PyTorch min | median |")
    print("|---|---|---|---|---|---|")
    for t in threads:
        a_min, a_med = summary(times[("nninit", t)])
        for name in names[1:]:
            b_min, b_med = summary(times[(name, t)])
            setting = "OMP_WAIT_POLICY=PASSIVE" if name == "torch-passive" else "default"
            print(f"| {t} | {setting} | {a_min:.2f} / {a_med:.2f} s | {b_min:.2f} / {b_med:.2f} s | "
                  f"{a_min / b_min:.2f} | {a_med / b_med:.2f} |")
    # On one thread, CPU time is the run's cost without the time spent waiting for a core.
    if 1 in threads and cpu[("nninit", 1)] and cpu[("torch", 1)]:
        print()
        print("| threads | CPU time | nninit min / median | PyTorch min / median | nninit/PyTorch min | median |")
        print("|---|---|---|---|---|---|")
        a_min, a_med = summary(cpu[("nninit", 1)])
        b_min, b_med = summary(cpu[("torch", 1)])
        print(f"| 1 | user + system | {a_min:.2f} / {a_med:.2f} s | {b_min:.2f} / {b_med:.2f} s | "
              f"{a_min / b_min:.2f} | {a_med / b_med:.2f} |")


if __name__ == "__main__":
    main()
